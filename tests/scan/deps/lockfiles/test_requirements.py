"""pip requirements files: pins, specifiers, options, includes, continuations, errors."""

from __future__ import annotations

import pytest

from turbosec.scan.deps.lockfiles import LockfileError, parse_file
from turbosec.scan.deps.lockfiles.requirements import parse

from .support import fixture, rows


def test_pip_compile_output_with_hashes_and_markers() -> None:
    parsed = parse_file("requirements.txt", fixture("requirements/requirements.txt"))
    assert parsed.format == "requirements"
    assert parsed.path == "requirements.txt"
    assert rows(parsed) == [
        ("certifi", "2024.2.2", 9, "pinned", "", False, None),
        ("charset-normalizer", "3.3.2", 13, "pinned", "", False, None),
        ("Django", "4.2.11", 17, "pinned", "", False, None),
        ("idna", "3.6", 21, "pinned", "", False, None),
        ("requests", "2.31.0", 25, "pinned", "", False, None),
        ("tomli", "2.0.1", 29, "pinned", "", False, None),
        ("urllib3", "2.2.1", 33, "pinned", "", False, None),
    ]
    assert parsed.includes == ()
    assert all(d.ecosystem == "PyPI" and d.path == "requirements.txt" for d in parsed.dependencies)


def test_dev_file_options_includes_unpinned_and_unauditable() -> None:
    parsed = parse("requirements/dev.txt", fixture("requirements/requirements/dev.txt"))
    # -r / -c are resolved against the including file's directory, never read here
    assert parsed.includes == ("requirements.txt", "constraints.txt")
    assert rows(parsed) == [
        ("pytest", "8.1.1", 8, "pinned", "", False, None),
        ("pytest-cov", None, 9, "unpinned", ">=4.1", False, None),
        ("mypy", None, 10, "unpinned", "~=1.9.0", False, None),
        ("ruff", None, 11, "unpinned", "no version specifier", False, None),
        ("black", None, 12, "unpinned", "==24.*", False, None),
        ("coverage", "7.4.4", 13, "pinned", "", False, None),
        ("typing-extensions", "4.10.0", 14, "pinned", "", False, None),
        (".", None, 17, "unauditable", "editable install: .", False, None),
        (
            "fixtures-helper",
            None,
            18,
            "unauditable",
            "editable install: git+https://github.com/example-org/fixtures-helper.git@v0.4.2"
            "#egg=fixtures-helper",
            False,
            None,
        ),
        (
            "./tools/lint-rules",
            None,
            19,
            "unauditable",
            "editable install: ./tools/lint-rules",
            False,
            None,
        ),
        (
            "shop-sdk",
            None,
            20,
            "unauditable",
            "VCS source: git+https://github.com/example-org/shop-sdk.git@2c1f9a7e",
            False,
            None,
        ),
        (
            "wheelhouse-client",
            None,
            21,
            "unauditable",
            "direct URL: https://files.example.com/wheelhouse_client-1.2.0-py3-none-any.whl",
            False,
            None,
        ),
        (
            "legacy_auth",
            None,
            22,
            "unauditable",
            "local archive: ./vendor/legacy_auth-0.9.1.tar.gz",
            False,
            None,
        ),
        (
            "pdfgen",
            None,
            23,
            "unauditable",
            "local archive: vendor/pdfgen-2.1.0-py3-none-any.whl",
            False,
            None,
        ),
        (
            "internal_metrics",
            None,
            24,
            "unauditable",
            "local path: file:///opt/wheels/internal_metrics-3.0.0-py3-none-any.whl",
            False,
            None,
        ),
    ]


def test_continuation_line_is_where_the_requirement_starts() -> None:
    text = (
        "# header\n"
        "flask==3.0.3 \\\n"
        "    --hash=sha256:aaaa \\\n"
        "    --hash=sha256:bbbb\n"
        "jinja2 \\\n"
        "  ==3.1.4\n"
        "werkzeug==3.0.3 \\\n"
        "# a comment line ends the continuation\n"
        "itsdangerous==2.2.0\n"
    )
    parsed = parse("requirements.txt", text)
    assert [(d.name, d.version, d.line) for d in parsed.dependencies] == [
        ("flask", "3.0.3", 2),
        ("jinja2", "3.1.4", 5),
        ("werkzeug", "3.0.3", 7),
        ("itsdangerous", "2.2.0", 9),
    ]


def test_comments_crlf_bom_and_hash_fragments() -> None:
    text = (
        "\ufeff# comment\r\n"
        "   # indented comment\r\n"
        "six==1.16.0 # trailing comment\r\n"
        "pkg @ https://example.com/pkg-1.0.tar.gz#sha256=abcd\r\n"
    )
    parsed = parse("requirements.txt", text)
    assert rows(parsed) == [
        ("six", "1.16.0", 3, "pinned", "", False, None),
        (
            "pkg",
            None,
            4,
            "unauditable",
            "direct URL: https://example.com/pkg-1.0.tar.gz#sha256=abcd",
            False,
            None,
        ),
    ]


def test_option_spellings_and_include_resolution() -> None:
    text = (
        "-rbase.txt\n"
        "--requirement=../shared/common.txt\n"
        "-c constraints/pins.txt\n"
        "--constraint https://example.com/constraints.txt\n"
        "-r /etc/requirements.txt\n"
        "-r ../../outside.txt\n"
        "-i https://pypi.org/simple\n"
        "--index-url=https://pypi.org/simple\n"
        "-f ./wheels\n"
        "--no-index\n"
        "--prefer-binary\n"
        "--only-binary :all:\n"
        "--no-binary=lxml\n"
        "--require-hashes\n"
        "--use-feature=truststore\n"
        "attrs==23.2.0 --config-settings=editable_mode=compat\n"
    )
    parsed = parse("services/api/requirements.txt", text)
    assert parsed.includes == (
        "services/api/base.txt",
        "services/shared/common.txt",
        "services/api/constraints/pins.txt",
        "outside.txt",
    )
    assert parsed.warnings == (
        "services/api/requirements.txt:4: --constraint https://example.com/constraints.txt "
        "is not a file in the repository; not followed",
        "services/api/requirements.txt:5: --requirement /etc/requirements.txt is not a file "
        "in the repository; not followed",
    )
    assert [(d.name, d.version, d.line) for d in parsed.dependencies] == [("attrs", "23.2.0", 16)]


def test_include_escaping_the_repository_is_a_warning() -> None:
    parsed = parse("requirements.txt", "-r ../other-repo/requirements.txt\n")
    assert parsed.includes == ()
    assert parsed.warnings == (
        "requirements.txt:1: --requirement ../other-repo/requirements.txt is outside the "
        "repository; not followed",
    )


def test_duplicate_includes_are_listed_once() -> None:
    parsed = parse("requirements.txt", "-r base.txt\n-r ./base.txt\n")
    assert parsed.includes == ("base.txt",)


@pytest.mark.parametrize(
    ("line", "status", "version", "reason"),
    [
        ("name==1.2", "pinned", "1.2", ""),
        ("name===1.2-custom", "pinned", "1.2-custom", ""),
        ("name == 1.2.0+cpu", "pinned", "1.2.0+cpu", ""),
        ("name[a,b]==1", "pinned", "1", ""),
        ("name>=1.0,==1.5", "pinned", "1.5", ""),
        ("name==1.5,!=1.5", "unpinned", None, "==1.5,!=1.5"),
        ("name>=1.0", "unpinned", None, ">=1.0"),
        ("name>=1.0, <2", "unpinned", None, ">=1.0,<2"),
        ("name (>=1.0)", "unpinned", None, ">=1.0"),
        ("name~=1.0", "unpinned", None, "~=1.0"),
        ("name==1.*", "unpinned", None, "==1.*"),
        ("name", "unpinned", None, "no version specifier"),
        ('name; python_version < "3.8"', "unpinned", None, "no version specifier"),
    ],
)
def test_specifier_statuses(line: str, status: str, version: str | None, reason: str) -> None:
    (dep,) = parse("requirements.txt", line + "\n").dependencies
    assert (dep.name, dep.status, dep.version, dep.reason) == ("name", status, version, reason)


def test_credentials_in_urls_are_not_repeated() -> None:
    text = "-e git+https://deploy:ghp_token123@github.com/org/private.git#egg=private\n"
    (dep,) = parse("requirements.txt", text).dependencies
    assert dep.name == "private"
    assert "ghp_token123" not in dep.reason
    assert dep.reason == "editable install: git+https://***@github.com/org/private.git#egg=private"


def test_invalid_requirement_is_an_error_quoting_the_text() -> None:
    text = "requests==2.31.0\n\nflask=>2.0\n"
    with pytest.raises(LockfileError) as info:
        parse("requirements/base.txt", text)
    err = info.value
    assert (err.path, err.line) == ("requirements/base.txt", 3)
    assert err.message == "not a valid requirement: 'flask=>2.0'"
    assert err.where == "requirements/base.txt:3"
    assert err.hint is not None and "name==1.2.3" in err.hint


def test_invalid_requirement_text_is_bounded() -> None:
    text = "ok==1\n" + "bad requirement " * 20 + "\n"
    with pytest.raises(LockfileError) as info:
        parse("requirements.txt", text)
    assert info.value.line == 2
    quoted = info.value.message.removeprefix("not a valid requirement: ")
    assert len(quoted) <= 82  # 80 characters plus the quotes
    assert quoted.endswith("…'")


def test_unknown_option_is_an_error() -> None:
    with pytest.raises(LockfileError) as info:
        parse("requirements.txt", "six==1.16.0\n--frobnicate=yes\n")
    assert (info.value.path, info.value.line) == ("requirements.txt", 2)
    assert info.value.message == "unknown pip option '--frobnicate'"


def test_option_missing_its_value_is_an_error() -> None:
    with pytest.raises(LockfileError) as info:
        parse("requirements.txt", "\n\n-r\n")
    assert info.value.line == 3
    assert info.value.message == "option --requirement needs a value"


def test_include_after_a_requirement_is_an_error() -> None:
    with pytest.raises(LockfileError) as info:
        parse("requirements.txt", "six==1.16.0 -r other.txt\n")
    assert info.value.line == 1
    assert (
        info.value.message
        == "option --requirement must be on its own line, not after a requirement"
    )


def test_too_many_dependencies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("turbosec.scan.deps.lockfiles.MAX_DEPENDENCIES", 2)
    with pytest.raises(LockfileError) as info:
        parse("requirements.txt", "a==1\nb==1\nc==1\n")
    assert info.value.line == 3
    assert info.value.message == "more than 2 dependencies in one file"
