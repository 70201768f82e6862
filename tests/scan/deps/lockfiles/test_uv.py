"""uv.lock: the project skipped, sources, dev and direct from the dependency graph."""

from __future__ import annotations

import pytest

from turbosec.scan.deps.lockfiles import LockfileError, parse_file
from turbosec.scan.deps.lockfiles.uv import parse

from .support import fixture, rows


def test_uv_lock_with_project_dev_group_and_local_sources() -> None:
    parsed = parse_file("uv.lock", fixture("uv/uv.lock"))
    assert parsed.format == "uv.lock"
    assert rows(parsed) == [
        ("anyio", "4.6.2", 6, "pinned", "", False, False),
        ("certifi", "2024.8.30", 19, "pinned", "", False, False),
        ("click", "8.1.7", 28, "pinned", "", False, True),  # an extra of the project
        ("colorama", "0.4.6", 40, "pinned", "", False, False),  # click needs it too
        ("h11", "0.14.0", 49, "pinned", "", False, False),
        ("httpcore", "1.0.6", 58, "pinned", "", False, False),
        ("httpx", "0.27.2", 71, "pinned", "", False, True),
        ("idna", "3.10", 87, "pinned", "", False, False),
        ("iniconfig", "2.0.0", 96, "pinned", "", True, False),
        (
            "invoice-core",
            None,
            105,
            "unauditable",
            "editable install: packages/invoice-core",
            False,
            True,
        ),
        (
            "legacy-client",
            None,
            116,
            "unauditable",
            "local path: vendor/legacy_client-2.0.0-py3-none-any.whl",
            False,
            True,
        ),
        ("packaging", "24.1", 124, "pinned", "", True, False),
        ("pluggy", "1.5.0", 133, "pinned", "", True, False),
        ("pytest", "8.3.3", 142, "pinned", "", True, True),
        # shop-api (line 157) is the project itself: skipped
        ("sniffio", "1.3.1", 189, "pinned", "", False, False),
        (
            "tenacity",
            None,
            198,
            "unauditable",
            "git source: https://github.com/jd/tenacity?rev=9.0.0"
            "#30161e8d9daaf354df4348bc22bbac491995ec4d",
            False,
            False,
        ),
    ]


def test_virtual_workspace_root_and_members() -> None:
    text = (
        "version = 1\n"
        'requires-python = ">=3.12"\n'
        "\n"
        "[manifest]\n"
        'members = ["billing", "workspace-root"]\n'
        "\n"
        "[[package]]\n"
        'name = "billing"\n'
        'version = "0.1.0"\n'
        'source = { editable = "services/billing" }\n'
        "dependencies = [\n"
        '    { name = "six" },\n'
        "]\n"
        "\n"
        "[[package]]\n"
        'name = "six"\n'
        'version = "1.16.0"\n'
        'source = { registry = "https://pypi.org/simple" }\n'
        "\n"
        "[[package]]\n"
        'name = "workspace-root"\n'
        'version = "0.0.0"\n'
        'source = { virtual = "." }\n'
    )
    assert rows(parse("uv.lock", text)) == [
        ("billing", None, 8, "unauditable", "editable install: services/billing", False, False),
        ("six", "1.16.0", 16, "pinned", "", False, True),
    ]


def test_script_lock_without_a_project_has_unknown_direct() -> None:
    text = (
        "version = 1\n"
        'requires-python = ">=3.12"\n'
        "\n"
        "[manifest]\n"
        'requirements = [{ name = "six" }]\n'
        "\n"
        "[[package]]\n"
        'name = "six"\n'
        'version = "1.16.0"\n'
        'source = { registry = "https://pypi.org/simple" }\n'
    )
    assert rows(parse("uv.lock", text)) == [("six", "1.16.0", 8, "pinned", "", False, None)]


def test_unknown_version() -> None:
    with pytest.raises(LockfileError) as info:
        parse("uv.lock", 'version = 2\nrequires-python = ">=3.12"\n')
    assert (info.value.path, info.value.line) == ("uv.lock", 1)
    assert info.value.message == "unknown uv.lock format: version 2 (turbosec reads version 1)"
    with pytest.raises(LockfileError) as info:
        parse("uv.lock", '[[package]]\nname = "a"\nversion = "1"\n')
    assert info.value.line is None
    assert info.value.message == (
        "unknown uv.lock format: no top-level version (turbosec reads version 1)"
    )


def test_registry_package_without_version() -> None:
    text = (
        "version = 1\n\n[[package]]\n"
        'name = "anyio"\n'
        'source = { registry = "https://pypi.org/simple" }\n'
    )
    with pytest.raises(LockfileError) as info:
        parse("uv.lock", text)
    assert (info.value.path, info.value.line) == ("uv.lock", 4)
    assert info.value.message == 'package "anyio" has no "version"'


def test_bad_toml() -> None:
    with pytest.raises(LockfileError) as info:
        parse("uv.lock", 'version = 1\n\n[[package]\nname = "a"\n')
    assert info.value.line == 3
    assert info.value.message.startswith("not valid TOML: ")
    assert info.value.hint == "regenerate it with `uv lock` and commit the result"
