"""package-lock.json / npm-shrinkwrap.json: lockfileVersion 1, 2 and 3."""

from __future__ import annotations

import pytest

from turbosec.scan.deps.lockfiles import LockfileError, parse_file
from turbosec.scan.deps.lockfiles.npm import parse

from .support import fixture, rows


def test_lockfile_v3_nested_alias_link_and_sources() -> None:
    parsed = parse_file("web/package-lock.json", fixture("npm/v3/package-lock.json"))
    assert parsed.format == "package-lock.json"
    assert rows(parsed) == [
        # a workspace link: the project's own code
        (
            "@shop/utils",
            None,
            26,
            "unauditable",
            "linked local package: packages/utils",
            False,
            False,
        ),
        ("@types/node", "20.12.7", 30, "pinned", "", True, True),
        ("debug", "4.3.4", 39, "pinned", "", False, True),
        ("ms", "2.1.2", 56, "pinned", "", False, False),  # nested under debug
        (
            "left-pad",
            None,
            62,
            "unauditable",
            "local path: vendor/left-pad-1.3.0.tgz",
            False,
            True,
        ),
        ("lodash", "3.10.1", 68, "pinned", "", False, True),  # alias lodash-legacy
        ("ms", "2.1.3", 75, "pinned", "", False, True),
        (
            "tiny-router",
            None,
            81,
            "unauditable",
            "git source: git+ssh://git@github.com/example-org/tiny-router.git"
            "#734f8c50a60ae5b3822efc740649b72aedffb8f4",
            False,
            True,
        ),
        ("typescript", "5.4.5", 86, "pinned", "", True, True),
        ("undici-types", "5.26.5", 100, "pinned", "", True, False),
    ]
    assert all(d.ecosystem == "npm" for d in parsed.dependencies)


def test_shrinkwrap_v2_reads_packages_not_legacy_dependencies() -> None:
    parsed = parse_file("cli/npm-shrinkwrap.json", fixture("npm/v2/npm-shrinkwrap.json"))
    assert parsed.format == "package-lock.json"
    assert rows(parsed) == [
        ("minimist", "1.2.5", 20, "pinned", "", False, True),
        ("prettier", "2.3.2", 25, "pinned", "", True, True),
    ]


def test_lockfile_v1_nested_dependencies() -> None:
    parsed = parse("package-lock.json", fixture("npm/v1/package-lock.json"))
    assert rows(parsed) == [
        ("debug", "2.6.9", 7, "pinned", "", False, None),
        ("ms", "2.0.0", 15, "pinned", "", False, None),
        ("local-theme", None, 22, "unauditable", "local path: ../theme", False, None),
        ("mocha", "5.2.0", 25, "pinned", "", True, None),
        ("ms", "2.1.1", 31, "pinned", "", False, None),
        (
            "tiny-router",
            None,
            36,
            "unauditable",
            "git source: github:example-org/tiny-router#32350cfe3c57eb5d62cb83f79e79a482b7dcdaeb",
            False,
            None,
        ),
    ]


def test_workspace_nested_node_modules_are_direct_for_the_workspace() -> None:
    text = """{
  "lockfileVersion": 3,
  "packages": {
    "": {"name": "root", "workspaces": ["packages/a"]},
    "packages/a": {"name": "a", "version": "1.0.0", "dependencies": {"@scope/x": "^2.0.0"}},
    "packages/a/node_modules/@scope/x": {"version": "2.1.0"},
    "node_modules/@scope/x": {"version": "1.0.0"},
    "node_modules/a": {"resolved": "packages/a", "link": true}
  }
}
"""
    assert rows(parse("package-lock.json", text)) == [
        ("@scope/x", "2.1.0", 6, "pinned", "", False, True),
        ("@scope/x", "1.0.0", 7, "pinned", "", False, True),
        ("a", None, 8, "unauditable", "linked local package: packages/a", False, False),
    ]


def test_unknown_lockfile_version() -> None:
    text = '{\n  "name": "x",\n  "lockfileVersion": 4,\n  "packages": {}\n}\n'
    with pytest.raises(LockfileError) as info:
        parse("package-lock.json", text)
    err = info.value
    assert (err.path, err.line) == ("package-lock.json", 3)
    assert (
        err.message == "unknown package-lock format: lockfileVersion 4 (turbosec reads 1, 2 and 3)"
    )
    assert err.hint is not None and "npm 7 or later" in err.hint


def test_missing_lockfile_version() -> None:
    with pytest.raises(LockfileError) as info:
        parse("package-lock.json", '{"name": "x", "dependencies": {}}')
    assert info.value.line is None
    assert info.value.message.startswith("unknown package-lock format: no lockfileVersion")


def test_entry_without_version() -> None:
    text = (
        '{\n  "lockfileVersion": 3,\n  "packages": {\n    "": {},\n'
        '    "node_modules/ms": {\n      "resolved": "https://registry.npmjs.org/ms/-/ms-2.1.3.tgz"\n'
        "    }\n  }\n}\n"
    )
    with pytest.raises(LockfileError) as info:
        parse("web/package-lock.json", text)
    assert (info.value.path, info.value.line) == ("web/package-lock.json", 5)
    assert info.value.message == 'package entry "node_modules/ms" has no "version"'


def test_bad_json_and_wrong_types() -> None:
    with pytest.raises(LockfileError) as info:
        parse("package-lock.json", '{\n  "lockfileVersion": 3,\n  "packages": {\n    "": \n')
    assert info.value.line == 5
    assert info.value.message.startswith("not valid JSON: ")
    with pytest.raises(LockfileError) as info:
        parse("package-lock.json", '{\n  "lockfileVersion": 3,\n  "packages": []\n}\n')
    assert info.value.message == '"packages" is a list, expected a table of keys'
    with pytest.raises(LockfileError) as info:
        parse("package-lock.json", '{"lockfileVersion": 3, "packages": {\n"node_modules/a": 1}}')
    assert info.value.line is None  # "node_modules/a" is not followed by an object
    assert (
        info.value.message == 'package entry "node_modules/a" is a number, expected a table of keys'
    )
