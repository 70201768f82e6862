"""poetry.lock: every ``[[package]]`` Poetry resolved, with its exact version.

A package from a git repository, a local directory or file, or a plain URL is
unauditable (its code need not be the index release of that version); one from a
private index (``source.type = "legacy"``) is pinned like any other.  Development-only
packages are recognised from ``category = "dev"`` (Poetry < 1.2) or from ``groups``
without ``"main"`` (Poetry 2); Poetry 1.2 to 1.8 lockfiles do not record it.
"""

from __future__ import annotations

from typing import Any

from turbosec.scan.deps.lockfiles import (
    Collector,
    LockfileError,
    ParsedLockfile,
    excerpt,
    load_toml,
    mapping,
    require_str,
    show,
    toml_key_line,
    toml_table_lines,
    type_name,
)

FORMAT = "poetry.lock"
HINT = "regenerate it with `poetry lock` and commit the result"
_SUPPORTED_MAJOR = ("1", "2")
_UNAUDITABLE_SOURCES = {
    "git": "git source",
    "directory": "local directory",
    "file": "local file",
    "url": "direct URL",
}


def parse(path: str, text: str) -> ParsedLockfile:
    data = load_toml(path, text, hint=HINT)
    _check_version(path, text, data)
    packages = data.get("package", [])
    if not isinstance(packages, list):
        raise LockfileError(
            path,
            None,
            f'"package" is {type_name(packages)}, expected [[package]] tables',
            hint=HINT,
        )
    lines = toml_table_lines(text, "package")
    if len(lines) != len(packages):  # written as inline tables: positions unknown
        lines = [0] * len(packages)
    collector = Collector(path, "PyPI")
    for number, (entry, line) in enumerate(zip(packages, lines, strict=True), start=1):
        table = mapping(path, entry, f"[[package]] number {number}", line or None, hint=HINT)
        what = f"[[package]] number {number}"
        name = require_str(path, table, "name", what, line, hint=HINT)
        what = f'package "{excerpt(name)}"'
        version = require_str(path, table, "version", what, line, hint=HINT)
        reason = _unauditable_reason(path, table, what, line)
        dev = _is_dev(table)
        if reason:
            collector.add(name, line, status="unauditable", reason=reason, dev=dev)
        else:
            collector.add(name, line, version=version, dev=dev)
    return collector.result(FORMAT)


def _check_version(path: str, text: str, data: dict[str, Any]) -> None:
    metadata = data.get("metadata", {})
    if not isinstance(metadata, dict):
        raise LockfileError(
            path, None, f'"metadata" is {type_name(metadata)}, expected a table', hint=HINT
        )
    lock_version = metadata.get("lock-version")
    if lock_version is None:  # Poetry 1.0 wrote none
        return
    if not isinstance(lock_version, str) or lock_version.split(".")[0] not in _SUPPORTED_MAJOR:
        raise LockfileError(
            path,
            toml_key_line(text, "lock-version"),
            f"unknown poetry.lock lock-version {excerpt(str(lock_version))!r} "
            "(turbosec reads 1.x and 2.x)",
            hint="regenerate it with a current Poetry, or update turbosec",
        )


def _unauditable_reason(path: str, table: dict[str, Any], what: str, line: int) -> str:
    source = table.get("source")
    if source is None:
        return ""
    source = mapping(path, source, f"{what} source", line or None, hint=HINT)
    kind = source.get("type")
    if kind not in _UNAUDITABLE_SOURCES:
        return ""
    url = source.get("url")
    where = f": {show(url)}" if isinstance(url, str) and url else ""
    label = _UNAUDITABLE_SOURCES[str(kind)]
    if kind == "directory" and table.get("develop") is True:
        label = "editable local directory"
    return f"{label}{where}"


def _is_dev(table: dict[str, Any]) -> bool:
    if table.get("category") == "dev":
        return True
    groups = table.get("groups")
    return isinstance(groups, list) and bool(groups) and "main" not in groups
