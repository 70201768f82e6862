"""Pipfile.lock: default / develop sections, VCS / path / file entries, malformed files."""

from __future__ import annotations

import pytest

from turbosec.scan.deps.lockfiles import LockfileError, parse_file
from turbosec.scan.deps.lockfiles.pipfile import parse

from .support import fixture, rows


def test_pipfile_lock_default_and_develop() -> None:
    parsed = parse_file("app/Pipfile.lock", fixture("pipfile/Pipfile.lock"))
    assert parsed.format == "Pipfile.lock"
    assert rows(parsed) == [
        ("blinker", "1.8.2", 19, "pinned", "", False, None),
        ("flask", "3.0.3", 27, "pinned", "", False, None),
        (
            "invoice-core",
            None,
            36,
            "unauditable",
            "editable install, local path: ./packages/invoice-core",
            False,
            None,
        ),
        ("jinja2", "3.1.4", 40, "pinned", "", False, None),
        (
            "shop-sdk",
            None,
            48,
            "unauditable",
            "git source: https://github.com/example-org/shop-sdk.git",
            False,
            None,
        ),
        ("werkzeug", "3.0.3", 52, "pinned", "", False, None),
        ("iniconfig", "2.0.0", 62, "pinned", "", True, None),
        (
            "pdf-fixtures",
            None,
            70,
            "unauditable",
            "file or URL: https://files.example.com/pdf_fixtures-0.3.0-py3-none-any.whl",
            True,
            None,
        ),
        ("pytest", "8.2.2", 73, "pinned", "", True, None),
    ]


def test_custom_category_unpinned_and_compact_json() -> None:
    text = (
        '{"_meta": {"pipfile-spec": 6}, "default": {"six": {"version": "==1.16.0"}},\n'
        ' "docs": {"sphinx": {"version": "*"}, "furo": {"version": "===2024.1.29"}}}\n'
    )
    assert rows(parse("Pipfile.lock", text)) == [
        ("six", "1.16.0", 1, "pinned", "", False, None),
        ("sphinx", None, 2, "unpinned", "*", False, None),
        ("furo", "2024.1.29", 2, "pinned", "", False, None),
    ]


def test_same_name_in_both_sections_gets_each_line() -> None:
    text = (
        "{\n"
        '  "default": {\n'
        '    "six": {"version": "==1.16.0"}\n'
        "  },\n"
        '  "develop": {\n'
        '    "six": {"version": "==1.15.0"}\n'
        "  }\n"
        "}\n"
    )
    assert [
        (d.name, d.version, d.line, d.dev) for d in parse("Pipfile.lock", text).dependencies
    ] == [
        ("six", "1.16.0", 3, False),
        ("six", "1.15.0", 6, True),
    ]


def test_bad_json_reports_the_line() -> None:
    text = '{\n  "default": {\n    "six": {"version": "==1.16.0"},\n  }\n}\n'
    with pytest.raises(LockfileError) as info:
        parse("app/Pipfile.lock", text)
    err = info.value
    assert (err.path, err.line) == ("app/Pipfile.lock", 3)
    assert err.message == "not valid JSON: trailing comma is not allowed"
    assert err.hint == "regenerate it with `pipenv lock` and commit the result"


def test_entry_without_version() -> None:
    text = '{\n  "default": {\n    "six": {\n      "hashes": []\n    }\n  }\n}\n'
    with pytest.raises(LockfileError) as info:
        parse("Pipfile.lock", text)
    assert (info.value.path, info.value.line) == ("Pipfile.lock", 3)
    assert info.value.message == 'package "six" in "default" has no "version"'


def test_wrong_top_level_and_section_types() -> None:
    with pytest.raises(LockfileError) as info:
        parse("Pipfile.lock", '["six==1.16.0"]\n')
    assert info.value.line is None
    assert info.value.message == "the file is a list, expected a table of keys"
    with pytest.raises(LockfileError) as info:
        parse("Pipfile.lock", '{\n  "default": []\n}\n')
    assert info.value.message == 'section "default" is a list, expected a table of keys'


def test_unknown_pipfile_spec() -> None:
    text = '{\n  "_meta": {\n    "pipfile-spec": 7\n  },\n  "default": {}\n}\n'
    with pytest.raises(LockfileError) as info:
        parse("Pipfile.lock", text)
    assert info.value.line == 3
    assert info.value.message == "unknown pipfile-spec 7 (turbosec reads 1 to 6)"
