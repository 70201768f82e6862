"""pylock.toml and pylock.<name>.toml (PEP 751): every ``[[packages]]`` entry.

A package installed from a VCS checkout, a local directory or an archive URL / file is
unauditable (its code need not be the index release, and PEP 751 usually records no
version for it); an index package without a version is unauditable too.  A package
whose ``marker`` limits it to dependency groups outside ``default-groups`` is ``dev``
(markers with parentheses are not analysed and count as not dev).
"""

from __future__ import annotations

import re
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

FORMAT = "pylock.toml"
HINT = "regenerate it with the tool that wrote it (see its created-by key) and commit it"
_SUPPORTED_MAJOR = "1"
_GROUP_CLAUSE = re.compile(r"""^\s*(['"])([^'"]+)\1\s+in\s+dependency_groups\s*$""")


def parse(path: str, text: str) -> ParsedLockfile:
    data = load_toml(path, text, hint=HINT)
    lock_version = data.get("lock-version")
    if not isinstance(lock_version, str) or lock_version.split(".")[0] != _SUPPORTED_MAJOR:
        found = (
            "no lock-version"
            if lock_version is None
            else f"lock-version {excerpt(repr(lock_version))}"
        )
        raise LockfileError(
            path,
            toml_key_line(text, "lock-version", top_level=True),
            f"unknown pylock.toml format: {found} (turbosec reads PEP 751 lock-version 1.x)",
            hint="check that this is a PEP 751 lock file; regenerate it or update turbosec",
        )
    default_groups = _strings(data.get("default-groups"))
    packages = data.get("packages", [])
    if not isinstance(packages, list):
        raise LockfileError(
            path,
            None,
            f'"packages" is {type_name(packages)}, expected [[packages]] tables',
            hint=HINT,
        )
    lines = toml_table_lines(text, "packages")
    if len(lines) != len(packages):  # written as inline tables: positions unknown
        lines = [0] * len(packages)
    collector = Collector(path, "PyPI")
    for number, (entry, line) in enumerate(zip(packages, lines, strict=True), start=1):
        what = f"[[packages]] number {number}"
        table = mapping(path, entry, what, line or None, hint=HINT)
        name = require_str(path, table, "name", what, line, hint=HINT)
        what = f'package "{excerpt(name)}"'
        dev = _dev_only(table.get("marker"), default_groups)
        reason = _source_reason(path, table, what, line)
        version = table.get("version")
        if reason:
            collector.add(name, line, status="unauditable", reason=reason, dev=dev)
        elif version is None:
            collector.add(name, line, status="unauditable", reason="no version recorded", dev=dev)
        else:
            version = require_str(path, table, "version", what, line, hint=HINT)
            collector.add(name, line, version=version, dev=dev)
    return collector.result(FORMAT)


def _source_reason(path: str, table: dict[str, Any], what: str, line: int) -> str:
    for key in ("vcs", "directory", "archive"):
        if key not in table:
            continue
        source = mapping(path, table[key], f"{what} {key}", line or None, hint=HINT)
        where = source.get("url") or source.get("path")
        shown = f": {show(where)}" if isinstance(where, str) and where else ""
        if key == "vcs":
            return f"VCS source{shown}"
        if key == "directory":
            label = "editable install" if source.get("editable") is True else "local directory"
            return f"{label}{shown}"
        return f"archive{shown}"
    return ""


def _dev_only(marker: Any, default_groups: set[str]) -> bool:
    """Whether ``marker`` installs the package only for non-default dependency groups:
    every ``or`` branch requires (``and``) membership of such a group."""
    if not isinstance(marker, str) or "dependency_groups" not in marker:
        return False
    if "(" in marker:
        return False
    for branch in re.split(r"\s+or\s+", marker):
        groups = [
            m.group(2)
            for clause in re.split(r"\s+and\s+", branch)
            if (m := _GROUP_CLAUSE.match(clause))
        ]
        if not any(group not in default_groups for group in groups):
            return False
    return True


def _strings(value: Any) -> set[str]:
    return {v for v in value if isinstance(v, str)} if isinstance(value, list) else set()
