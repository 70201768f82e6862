"""poetry.lock: Poetry 2 groups, Poetry 1.1 categories, sources, malformed files."""

from __future__ import annotations

import pytest

from turbosec.scan.deps.lockfiles import LockfileError, parse_file
from turbosec.scan.deps.lockfiles.poetry import parse

from .support import fixture, rows


def test_poetry_2_lock_with_groups_and_sources() -> None:
    parsed = parse_file("app/poetry.lock", fixture("poetry/poetry-2/poetry.lock"))
    assert parsed.format == "poetry.lock"
    assert rows(parsed) == [
        ("certifi", "2024.8.30", 4, "pinned", "", False, None),
        # in both groups: installed in production too
        ("colorama", "0.4.6", 16, "pinned", "", False, None),
        ("iniconfig", "2.0.0", 29, "pinned", "", True, None),
        # a private index ("legacy" source) is still a registry release
        ("internal-auth", "1.4.2", 41, "pinned", "", False, None),
        ("packaging", "24.1", 57, "pinned", "", True, None),
        ("pluggy", "1.5.0", 69, "pinned", "", True, None),
        ("pytest", "8.3.3", 85, "pinned", "", True, None),
        (
            "report-kit",
            None,
            106,
            "unauditable",
            "editable local directory: ../report-kit",
            False,
            None,
        ),
        (
            "tenacity",
            None,
            123,
            "unauditable",
            "git source: https://github.com/jd/tenacity.git",
            False,
            None,
        ),
        (
            "vendored-pdf",
            None,
            142,
            "unauditable",
            "local file: vendor/vendored_pdf-2.1.0-py3-none-any.whl",
            False,
            None,
        ),
    ]
    assert all(d.path == "app/poetry.lock" and d.ecosystem == "PyPI" for d in parsed.dependencies)


def test_poetry_1_1_lock_with_categories() -> None:
    parsed = parse("poetry.lock", fixture("poetry/poetry-1.1/poetry.lock"))
    assert rows(parsed) == [
        ("atomicwrites", "1.4.0", 2, "pinned", "", True, None),
        ("click", "8.0.1", 10, "pinned", "", False, None),
        ("Flask", "2.0.1", 21, "pinned", "", False, None),
    ]


def test_url_source_is_unauditable() -> None:
    text = (
        "[[package]]\n"
        'name = "pdfkit"\n'
        'version = "1.0.0"\n'
        'description = ""\n'
        "optional = false\n"
        'python-versions = "*"\n'
        "files = []\n"
        "\n"
        "[package.source]\n"
        'type = "url"\n'
        'url = "https://files.example.com/pdfkit-1.0.0.tar.gz"\n'
    )
    assert rows(parse("poetry.lock", text)) == [
        (
            "pdfkit",
            None,
            2,
            "unauditable",
            "direct URL: https://files.example.com/pdfkit-1.0.0.tar.gz",
            False,
            None,
        )
    ]


def test_empty_lock_has_no_dependencies() -> None:
    parsed = parse("poetry.lock", '[metadata]\nlock-version = "2.0"\n')
    assert parsed.dependencies == ()


def test_bad_toml_reports_the_parser_line() -> None:
    text = '[[package]]\nname = "a"\nversion = "1"\n\n[[package]]\nname = "b"\nversion = 1.0 2\n'
    with pytest.raises(LockfileError) as info:
        parse("sub/poetry.lock", text)
    err = info.value
    assert (err.path, err.line) == ("sub/poetry.lock", 7)
    assert err.message == "not valid TOML: Expected newline or end of document after a statement"
    assert err.hint == "regenerate it with `poetry lock` and commit the result"


def test_package_without_version() -> None:
    text = '[[package]]\nname = "a"\nversion = "1"\n\n[[package]]\n\nname = "b"\noptional = false\n'
    with pytest.raises(LockfileError) as info:
        parse("poetry.lock", text)
    assert (info.value.path, info.value.line) == ("poetry.lock", 7)
    assert info.value.message == 'package "b" has no "version"'


def test_package_without_name_points_at_its_header() -> None:
    text = '[[package]]\nname = "a"\nversion = "1"\n\n[[package]]\nversion = "2"\n'
    with pytest.raises(LockfileError) as info:
        parse("poetry.lock", text)
    assert info.value.line == 5
    assert info.value.message == '[[package]] number 2 has no "name"'


def test_unknown_lock_version() -> None:
    text = '[[package]]\nname = "a"\nversion = "1"\n\n[metadata]\nlock-version = "3.0"\n'
    with pytest.raises(LockfileError) as info:
        parse("poetry.lock", text)
    assert info.value.line == 6
    assert (
        info.value.message == "unknown poetry.lock lock-version '3.0' (turbosec reads 1.x and 2.x)"
    )


def test_wrong_types() -> None:
    with pytest.raises(LockfileError) as info:
        parse("poetry.lock", 'package = "requests"\n')
    assert info.value.line is None
    assert info.value.message == '"package" is a string, expected [[package]] tables'
    with pytest.raises(LockfileError) as info:
        parse("poetry.lock", '[[package]]\nname = "a"\nversion = "1"\nsource = "git"\n')
    assert info.value.line == 2
    assert info.value.message == 'package "a" source is a string, expected a table of keys'
