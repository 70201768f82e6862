"""pnpm-lock.yaml: lockfileVersion 5.4, 6.0 and 9.0; keys, peers, dev flags, errors."""

from __future__ import annotations

import pytest

from turbosec.scan.deps.lockfiles import LockfileError, parse_file
from turbosec.scan.deps.lockfiles.pnpm import parse

from .support import fixture, rows


def test_v5() -> None:
    parsed = parse_file("pnpm-lock.yaml", fixture("pnpm/v5/pnpm-lock.yaml"))
    assert parsed.format == "pnpm-lock.yaml"
    assert rows(parsed) == [
        ("@types/node", "18.19.31", 23, "pinned", "", True, True),
        ("debug", "4.3.4", 29, "pinned", "", False, True),
        ("js-tokens", "4.0.0", 41, "pinned", "", False, False),
        ("loose-envify", "1.4.0", 45, "pinned", "", False, False),
        ("ms", "2.1.2", 52, "pinned", "", False, False),
        ("react-dom", "18.2.0", 56, "pinned", "", False, True),  # peer suffix _react@18.2.0
        ("react", "18.2.0", 66, "pinned", "", False, True),
        ("scheduler", "0.23.0", 73, "pinned", "", False, False),
        ("typescript", "5.0.4", 79, "pinned", "", True, True),
        ("undici-types", "5.26.5", 85, "pinned", "", True, False),
        (
            "tiny-router",
            None,
            89,
            "unauditable",
            "git source: github.com/example-org/tiny-router/"
            "6850904a67bd515ae8e38e9c0c4680c46dbd09a7",
            False,
            True,
        ),
    ]


def test_v6() -> None:
    parsed = parse("frontend/pnpm-lock.yaml", fixture("pnpm/v6/pnpm-lock.yaml"))
    assert rows(parsed) == [
        ("debug", "4.3.4", 31, "pinned", "", False, True),
        ("js-tokens", "4.0.0", 43, "pinned", "", False, False),
        ("lodash", "3.10.1", 47, "pinned", "", False, True),  # alias legacy-lodash
        ("loose-envify", "1.4.0", 51, "pinned", "", False, False),
        ("ms", "2.1.2", 58, "pinned", "", False, False),
        ("react-dom", "18.2.0", 62, "pinned", "", False, True),  # peers (react@18.2.0)
        ("react", "18.2.0", 72, "pinned", "", False, False),
        ("scheduler", "0.23.0", 79, "pinned", "", False, False),
        ("typescript", "5.4.5", 85, "pinned", "", True, True),
        (
            "left-pad",
            None,
            91,
            "unauditable",
            "local path: vendor/left-pad-1.3.0.tgz",
            False,
            True,
        ),
    ]
    assert all(d.path == "frontend/pnpm-lock.yaml" for d in parsed.dependencies)


def test_v9_dev_flags_from_importers_and_snapshots() -> None:
    parsed = parse("pnpm-lock.yaml", fixture("pnpm/v9/pnpm-lock.yaml"))
    assert rows(parsed) == [
        ("@types/prop-types", "15.7.12", 43, "pinned", "", True, False),
        ("@types/react", "18.3.3", 46, "pinned", "", True, True),
        ("clsx", "2.1.1", 49, "pinned", "", False, True),  # packages/ui needs it
        ("csstype", "3.1.3", 53, "pinned", "", True, False),
        ("js-tokens", "4.0.0", 56, "pinned", "", False, False),
        ("loose-envify", "1.4.0", 59, "pinned", "", False, False),
        ("react-dom", "18.3.1", 63, "pinned", "", False, True),
        # a devDependency of packages/ui, but a dependency of the root project
        ("react", "18.3.1", 68, "pinned", "", False, True),
        ("scheduler", "0.23.2", 72, "pinned", "", False, False),
        (
            "tiny-router",
            None,
            75,
            "unauditable",
            "git source: https://codeload.github.com/example-org/tiny-router/tar.gz/"
            "d6507a1349e9efd5f605638b71f5732e4cca6461",
            False,
            True,
        ),
        ("typescript", "5.4.5", 79, "pinned", "", True, True),
    ]


@pytest.mark.parametrize(
    ("version", "key", "expected"),
    [
        ("5.4", "/@babel/core/7.24.0", ("@babel/core", "7.24.0")),
        (
            "5.4",
            "/@testing-library/react/14.0.0_@types+react@18.2.0",
            ("@testing-library/react", "14.0.0"),
        ),
        ("'6.0'", "/@babel/core@7.24.0", ("@babel/core", "7.24.0")),
        ("'6.0'", "/react-dom@18.2.0(react@18.2.0)", ("react-dom", "18.2.0")),
        ("'9.0'", "'@babel/core@7.24.0'", ("@babel/core", "7.24.0")),
        (
            "'9.0'",
            "'@testing-library/react@14.0.0(react-dom@18.2.0(react@18.2.0))(react@18.2.0)'",
            ("@testing-library/react", "14.0.0"),
        ),
        ("'9.0'", "esbuild@0.20.2", ("esbuild", "0.20.2")),
        ("'9.0'", "pkg@1.0.0-beta.1", ("pkg", "1.0.0-beta.1")),
    ],
)
def test_keys(version: str, key: str, expected: tuple[str, str]) -> None:
    text = (
        f"lockfileVersion: {version}\n\npackages:\n\n  {key}:\n    resolution: {{integrity: x}}\n"
    )
    (dep,) = parse("pnpm-lock.yaml", text).dependencies
    assert (dep.name, dep.version, dep.line, dep.status) == (*expected, 5, "pinned")


def test_directory_and_git_resolutions_are_unauditable() -> None:
    text = (
        "lockfileVersion: '6.0'\n"
        "\n"
        "packages:\n"
        "\n"
        "  file:../shared:\n"
        "    resolution: {directory: ../shared, type: directory}\n"
        "    name: shared\n"
        "    version: 0.0.1\n"
        "    dev: false\n"
        "\n"
        "  github.com/org/repo/abc123:\n"
        "    resolution: {commit: abc123, repo: https://github.com/org/repo.git, type: git}\n"
        "    name: repo\n"
        "    version: 1.0.0\n"
        "    dev: true\n"
    )
    assert rows(parse("pnpm-lock.yaml", text)) == [
        ("shared", None, 5, "unauditable", "local directory: ../shared", False, None),
        (
            "repo",
            None,
            11,
            "unauditable",
            "git source: https://github.com/org/repo.git",
            True,
            None,
        ),
    ]


def test_no_packages() -> None:
    parsed = parse("pnpm-lock.yaml", "lockfileVersion: '9.0'\n\nimporters:\n\n  .: {}\n")
    assert parsed.dependencies == ()


def test_unknown_or_missing_lockfile_version() -> None:
    with pytest.raises(LockfileError) as info:
        parse("pnpm-lock.yaml", "# comment\nlockfileVersion: 4.0\n")
    err = info.value
    assert (err.path, err.line) == ("pnpm-lock.yaml", 2)
    assert (
        err.message
        == "unknown pnpm-lock format: lockfileVersion '4.0' (turbosec reads 5.x, 6.x and 9.x)"
    )
    with pytest.raises(LockfileError) as info:
        parse("pnpm-lock.yaml", "packages:\n  /a/1.0.0: {}\n")
    assert info.value.line is None
    assert info.value.message.startswith("unknown pnpm-lock format: no lockfileVersion")


def test_bad_yaml() -> None:
    text = "lockfileVersion: '9.0'\n\npackages:\n\n  a@1.0.0: [\n"
    with pytest.raises(LockfileError) as info:
        parse("app/pnpm-lock.yaml", text)
    assert (info.value.path, info.value.line) == ("app/pnpm-lock.yaml", 6)
    assert info.value.message == "not valid YAML: did not find expected node content"
    assert (
        info.value.hint == "regenerate it with `pnpm install --lockfile-only` and commit the result"
    )


def test_wrong_types() -> None:
    with pytest.raises(LockfileError) as info:
        parse("pnpm-lock.yaml", "- lockfileVersion\n")
    assert info.value.message == "the file is a list, expected a table of keys"
    with pytest.raises(LockfileError) as info:
        parse("pnpm-lock.yaml", "lockfileVersion: '9.0'\npackages:\n  - a@1.0.0\n")
    assert info.value.line == 2
    assert info.value.message == '"packages" is a list, expected a table of keys'
    with pytest.raises(LockfileError) as info:
        parse("pnpm-lock.yaml", "lockfileVersion: '9.0'\npackages:\n  a@1.0.0: [1, 2]\n")
    assert info.value.line == 3
    assert info.value.message == 'package "a@1.0.0" is a list, expected a table of keys'


def test_loader_is_safe() -> None:
    text = "lockfileVersion: '9.0'\npackages: !!python/object/apply:os.system ['true']\n"
    with pytest.raises(LockfileError) as info:
        parse("pnpm-lock.yaml", text)
    assert info.value.line == 2
    assert "could not determine a constructor" in info.value.message
