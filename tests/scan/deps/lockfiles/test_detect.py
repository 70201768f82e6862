"""Format detection, dispatch and the helpers every parser shares."""

from __future__ import annotations

import pytest

from turbosec.scan.deps.lockfiles import (
    FORMATS,
    MAX_LOCKFILE_BYTES,
    LineIndex,
    LockfileError,
    detect_format,
    excerpt,
    parse_file,
    parser_for,
    redact,
)

from .support import fixture


@pytest.mark.parametrize(
    ("path", "fmt"),
    [
        ("requirements.txt", "requirements"),
        ("requirements/dev.txt", "requirements"),
        ("services/api/requirements/base.txt", "requirements"),
        ("dev-requirements.txt", "requirements"),
        ("requirements-dev.txt", "requirements"),
        ("constraints.txt", "requirements"),
        ("docs/REQUIREMENTS.TXT", "requirements"),
        ("poetry.lock", "poetry.lock"),
        ("backend/uv.lock", "uv.lock"),
        ("Pipfile.lock", "Pipfile.lock"),
        ("pylock.toml", "pylock.toml"),
        ("pylock.dev.toml", "pylock.toml"),
        ("package-lock.json", "package-lock.json"),
        ("cli/npm-shrinkwrap.json", "package-lock.json"),
        ("yarn.lock", "yarn.lock"),
        ("web/pnpm-lock.yaml", "pnpm-lock.yaml"),
        # not lockfiles of the project
        ("node_modules/left-pad/package-lock.json", None),
        ("web/node_modules/@scope/pkg/yarn.lock", None),
        (".venv/lib/python3.11/site-packages/pkg/requirements.txt", None),
        (".tox/py311/requirements.txt", None),
        # not lockfiles at all
        ("package.json", None),
        ("Pipfile", None),
        ("pyproject.toml", None),
        ("requirements.in", None),
        ("requirements/nested/deeper.txt", None),
        # constraints files: at the root only (deeper, a -c line brings them in)
        ("services/api/constraints.txt", None),
        ("docs/ref/models/constraints.txt", None),
        ("pylock.toml.orig", None),
    ],
)
def test_detect_format(path: str, fmt: str | None) -> None:
    assert detect_format(path) == fmt


def test_every_format_has_a_parser() -> None:
    for fmt in FORMATS:
        assert callable(parser_for(fmt))


def test_parse_file_dispatches_by_name_or_explicit_format() -> None:
    parsed = parse_file("requirements/prod.txt", "six==1.16.0\n")
    assert (parsed.format, parsed.dependencies[0].name) == ("requirements", "six")
    parsed = parse_file("locks/app.lock", fixture("uv/uv.lock"), fmt="uv.lock")
    assert parsed.format == "uv.lock"
    assert parsed.dependencies[0].path == "locks/app.lock"


def test_parse_file_refuses_unknown_files() -> None:
    with pytest.raises(LockfileError) as info:
        parse_file("package.json", "{}")
    assert (info.value.path, info.value.line) == ("package.json", None)
    assert info.value.message == "not a lockfile or manifest turbosec knows"
    assert str(info.value).startswith("package.json: not a lockfile")


def test_error_diagnostics_name_file_line_and_hint() -> None:
    with pytest.raises(LockfileError) as info:
        parse_file("requirements.txt", "ok==1\nnot ok\n")
    assert str(info.value).splitlines() == [
        "requirements.txt:2: not a valid requirement: 'not ok'",
        "Hint: each line must be a requirement such as name==1.2.3 (PEP 508), a URL or path "
        "pip accepts, or a pip option such as -r other.txt; see `pip help install`",
    ]


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("poetry.lock", fixture("poetry/poetry-2/poetry.lock")),
        ("package-lock.json", fixture("npm/v3/package-lock.json")),
        ("pnpm-lock.yaml", fixture("pnpm/v9/pnpm-lock.yaml")),
        ("yarn.lock", fixture("yarn/classic/yarn.lock")),
    ],
)
def test_dependency_limit_applies_to_every_format(
    monkeypatch: pytest.MonkeyPatch, path: str, text: str
) -> None:
    monkeypatch.setattr("turbosec.scan.deps.lockfiles.MAX_DEPENDENCIES", 3)
    with pytest.raises(LockfileError) as info:
        parse_file(path, text)
    assert info.value.message == "more than 3 dependencies in one file"
    assert info.value.path == path


def test_size_limit_constant_is_what_callers_use() -> None:
    assert MAX_LOCKFILE_BYTES == 64 * 1024 * 1024


def test_redact_and_excerpt() -> None:
    assert redact("https://user:pa55@host/x and git+ssh://git@github.com/o/r") == (
        "https://***@host/x and git+ssh://git@github.com/o/r"
    )
    assert excerpt("a\n  b\tc") == "a b c"
    long = excerpt("x" * 200)
    assert len(long) == 80 and long.endswith("…")


def test_line_index() -> None:
    index = LineIndex("ab\ncd\n\nef")
    assert [index.line(i) for i in (0, 2, 3, 6, 7, 8)] == [1, 1, 2, 3, 4, 4]
