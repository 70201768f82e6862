"""pylock.toml (PEP 751): packages, dependency-group markers, source-tree entries."""

from __future__ import annotations

import json

import pytest

from turbosec.scan.deps.lockfiles import LockfileError, parse_file
from turbosec.scan.deps.lockfiles.pylock import parse

from .support import fixture, rows


def test_pylock_with_groups_and_sources() -> None:
    parsed = parse_file("pylock.toml", fixture("pylock/pylock.toml"))
    assert parsed.format == "pylock.toml"
    assert rows(parsed) == [
        ("anyio", "4.6.2", 10, "pinned", "", False, None),
        ("click", "8.1.7", 20, "pinned", "", False, None),  # an extra, not a group
        ("colorama", "0.4.6", 30, "pinned", "", False, None),
        ("iniconfig", "2.0.0", 39, "pinned", "", True, None),
        (
            "invoice-core",
            None,
            48,
            "unauditable",
            "editable install: packages/invoice-core",
            False,
            None,
        ),
        ("packaging", "24.1", 52, "pinned", "", True, None),  # dev or docs: both non-default
        ("pluggy", "1.5.0", 61, "pinned", "", True, None),  # dev and a python_version
        ("pytest", "8.3.3", 70, "pinned", "", True, None),
        (
            "reportlab-ext",
            None,
            79,
            "unauditable",
            "archive: https://files.example.com/reportlab_ext-1.0.0.tar.gz",
            False,
            None,
        ),
        (
            "shop-sdk",
            None,
            84,
            "unauditable",
            "VCS source: https://github.com/example-org/shop-sdk.git",
            False,
            None,
        ),
    ]


def test_named_lock_file_is_detected() -> None:
    parsed = parse_file("deploy/pylock.prod.toml", 'lock-version = "1.0"\n')
    assert parsed.format == "pylock.toml"
    assert parsed.dependencies == ()


@pytest.mark.parametrize(
    ("marker", "dev"),
    [
        ("'dev' in dependency_groups", True),
        ('"dev" in dependency_groups', True),
        ("'default' in dependency_groups", False),  # a default group
        ("'dev' in dependency_groups or 'default' in dependency_groups", False),
        ("'dev' in dependency_groups or python_version < '3.12'", False),
        ("python_version >= '3.9' and 'dev' in dependency_groups", True),
        ("('dev' in dependency_groups)", False),  # not analysed: conservative
        ("'dev' not in dependency_groups", False),
    ],
)
def test_dev_from_markers(marker: str, dev: bool) -> None:
    text = (
        'lock-version = "1.0"\n'
        'dependency-groups = ["dev"]\n'
        'default-groups = ["default"]\n'
        "\n"
        "[[packages]]\n"
        'name = "six"\n'
        'version = "1.16.0"\n'
        f"marker = {json.dumps(marker)}\n"
    )
    (dep,) = parse("pylock.toml", text).dependencies
    assert dep.dev is dev


def test_index_package_without_version_is_unauditable() -> None:
    text = (
        'lock-version = "1.0"\n\n[[packages]]\nname = "six"\n'
        'wheels = [{ name = "six-1.16.0-py2.py3-none-any.whl", '
        'url = "https://files.example.com/six-1.16.0-py2.py3-none-any.whl", '
        'hashes = { sha256 = "00" } }]\n'
    )
    assert rows(parse("pylock.toml", text)) == [
        ("six", None, 4, "unauditable", "no version recorded", False, None)
    ]


def test_unknown_lock_version() -> None:
    with pytest.raises(LockfileError) as info:
        parse("pylock.toml", 'created-by = "x"\nlock-version = "2.0"\n')
    assert (info.value.path, info.value.line) == ("pylock.toml", 2)
    assert info.value.message == (
        "unknown pylock.toml format: lock-version '2.0' (turbosec reads PEP 751 lock-version 1.x)"
    )


def test_missing_lock_version() -> None:
    with pytest.raises(LockfileError) as info:
        parse("pylock.toml", '[[packages]]\nname = "six"\nversion = "1.16.0"\n')
    assert info.value.line is None
    assert info.value.message.startswith("unknown pylock.toml format: no lock-version")


def test_wrong_version_type() -> None:
    text = 'lock-version = "1.0"\n\n[[packages]]\nname = "six"\nversion = 1.16\n'
    with pytest.raises(LockfileError) as info:
        parse("pylock.toml", text)
    assert (info.value.path, info.value.line) == ("pylock.toml", 4)
    assert (
        info.value.message == 'package "six" has a number as "version", expected a non-empty string'
    )


def test_bad_toml() -> None:
    with pytest.raises(LockfileError) as info:
        parse("pylock.toml", 'lock-version = "1.0"\n[[packages]]\nname = six\n')
    assert (info.value.path, info.value.line) == ("pylock.toml", 3)
    assert info.value.message == "not valid TOML: Invalid value"
