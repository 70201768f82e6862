"""Pipfile.lock (pipenv): the ``default`` and ``develop`` sections, and any custom
package categories, in file order.  ``develop`` entries are ``dev``.

``"version": "==1.2.3"`` is pinned to ``1.2.3``; an entry installed from git / hg / svn /
bzr, a local path, a file or URL, or in editable mode is unauditable.
"""

from __future__ import annotations

from typing import Any

from turbosec.scan.deps.lockfiles import (
    Collector,
    JsonKeyFinder,
    LockfileError,
    ParsedLockfile,
    excerpt,
    json_key_line,
    load_json,
    mapping,
    require_str,
    show,
    strip_bom,
)

FORMAT = "Pipfile.lock"
HINT = "regenerate it with `pipenv lock` and commit the result"
_MAX_SPEC = 6
_VCS = ("git", "hg", "svn", "bzr")


def parse(path: str, text: str) -> ParsedLockfile:
    text = strip_bom(text)
    data = mapping(path, load_json(path, text, hint=HINT), "the file", None, hint=HINT)
    _check_spec(path, text, data)
    finder = JsonKeyFinder(text)
    collector = Collector(path, "PyPI")
    for section, entries in data.items():
        if section == "_meta":
            continue
        section_line = finder.find(section)
        packages = mapping(
            path, entries, f'section "{excerpt(section)}"', section_line or None, hint=HINT
        )
        for name, entry in packages.items():
            line = finder.find(name)
            what = f'package "{excerpt(name)}" in "{excerpt(section)}"'
            table = mapping(path, entry, what, line or None, hint=HINT)
            _add(collector, name, table, what, line, dev=section == "develop")
    return collector.result(FORMAT)


def _check_spec(path: str, text: str, data: dict[str, Any]) -> None:
    meta = data.get("_meta", {})
    meta = mapping(path, meta, '"_meta"', None, hint=HINT)
    spec = meta.get("pipfile-spec")
    if spec is None:
        return
    if isinstance(spec, bool) or not isinstance(spec, int) or not 1 <= spec <= _MAX_SPEC:
        raise LockfileError(
            path,
            json_key_line(text, "pipfile-spec"),
            f"unknown pipfile-spec {excerpt(repr(spec))} (turbosec reads 1 to {_MAX_SPEC})",
            hint="regenerate it with a current pipenv, or update turbosec",
        )


def _add(
    collector: Collector, name: str, table: dict[str, Any], what: str, line: int, *, dev: bool
) -> None:
    reason = _unauditable_reason(table)
    if reason:
        collector.add(name, line, status="unauditable", reason=reason, dev=dev)
        return
    spec = require_str(collector.path, table, "version", what, line, hint=HINT).strip()
    for operator in ("===", "=="):
        if spec.startswith(operator) and "*" not in spec:
            collector.add(name, line, version=spec[len(operator) :].strip(), dev=dev)
            return
    collector.add(name, line, status="unpinned", reason=show(spec), dev=dev)


def _unauditable_reason(table: dict[str, Any]) -> str:
    editable = table.get("editable") is True
    for key, label in (
        *((v, f"{v} source") for v in _VCS),
        ("path", "local path"),
        ("file", "file or URL"),
    ):
        where = table.get(key)
        if isinstance(where, str) and where:
            prefix = "editable install, " if editable else ""
            return f"{prefix}{label}: {show(where)}"
    return "editable install" if editable else ""
