"""uv.lock: every ``[[package]]`` uv resolved, with its exact version and source.

The project itself (``source = { editable = "." }`` or ``{ virtual = "." }``) is skipped.
Other editable, virtual, directory, path, git and URL sources are unauditable.  The root
packages' (the project and the ``[manifest]`` workspace members) dependency lists give
``direct``; a package reachable only through their ``dev-dependencies`` groups is
``dev``.
"""

from __future__ import annotations

from collections import deque
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

FORMAT = "uv.lock"
HINT = "regenerate it with `uv lock` and commit the result"
_SUPPORTED_VERSIONS = (1,)
_SOURCE_REASONS = {
    "editable": "editable install",
    "virtual": "virtual project",
    "directory": "local directory",
    "path": "local path",
    "git": "git source",
    "url": "direct URL",
}


def parse(path: str, text: str) -> ParsedLockfile:
    data = load_toml(path, text, hint=HINT)
    version = data.get("version")
    if version not in _SUPPORTED_VERSIONS or isinstance(version, bool):
        found = "no top-level version" if version is None else f"version {excerpt(repr(version))}"
        raise LockfileError(
            path,
            toml_key_line(text, "version", top_level=True),
            f"unknown uv.lock format: {found} (turbosec reads version 1)",
            hint="regenerate it with a current uv, or update turbosec",
        )
    raw_packages = data.get("package", [])
    if not isinstance(raw_packages, list):
        raise LockfileError(
            path,
            None,
            f'"package" is {type_name(raw_packages)}, expected [[package]] tables',
            hint=HINT,
        )
    lines = toml_table_lines(text, "package")
    if len(lines) != len(raw_packages):  # written as inline tables: positions unknown
        lines = [0] * len(raw_packages)

    packages: list[_Package] = []
    for number, (entry, line) in enumerate(zip(raw_packages, lines, strict=True), start=1):
        what = f"[[package]] number {number}"
        table = mapping(path, entry, what, line or None, hint=HINT)
        name = require_str(path, table, "name", what, line, hint=HINT)
        packages.append(_Package(path, table, name, line))

    members = _manifest_members(data)
    roots = [p for p in packages if p.is_project or (p.local_kind and p.name in members)]
    graph = _Graph(packages)
    prod = graph.reachable([ref for root in roots for ref in root.refs(runtime=True)])
    dev_only = graph.reachable([ref for root in roots for ref in root.dev_refs()]) - prod
    direct_names = {
        _normalise(str(ref["name"]))
        for root in roots
        for ref in [*root.refs(runtime=True), *root.dev_refs()]
    }

    collector = Collector(path, "PyPI")
    for index, package in enumerate(packages):
        if package.is_project:
            continue
        direct = (_normalise(package.name) in direct_names) if roots else None
        dev = index in dev_only
        if package.local_kind:
            collector.add(
                package.name,
                package.line,
                status="unauditable",
                reason=package.reason(),
                dev=dev,
                direct=direct,
            )
            continue
        version = require_str(
            path,
            package.table,
            "version",
            f'package "{excerpt(package.name)}"',
            package.line,
            hint=HINT,
        )
        collector.add(package.name, package.line, version=version, dev=dev, direct=direct)
    return collector.result(FORMAT)


class _Package:
    def __init__(self, path: str, table: dict[str, Any], name: str, line: int) -> None:
        self.table = table
        self.name = name
        self.line = line
        source = table.get("source", {})
        what = f'package "{excerpt(name)}" source'
        self.source = mapping(path, source, what, line or None, hint=HINT)
        self.local_kind = next((k for k in _SOURCE_REASONS if k in self.source), "")
        self.is_project = self.local_kind in ("editable", "virtual") and self.source.get(
            self.local_kind
        ) in (".", "./")

    def reason(self) -> str:
        where = self.source.get(self.local_kind)
        label = _SOURCE_REASONS[self.local_kind]
        return f"{label}: {show(where)}" if isinstance(where, str) and where else label

    def refs(self, *, runtime: bool) -> list[dict[str, Any]]:
        """Its dependency references, including those of all its extras."""
        found = _refs(self.table.get("dependencies"))
        optional = self.table.get("optional-dependencies")
        if runtime and isinstance(optional, dict):
            for group in optional.values():
                found.extend(_refs(group))
        return found

    def dev_refs(self) -> list[dict[str, Any]]:
        groups = self.table.get("dev-dependencies")
        if not isinstance(groups, dict):
            return []
        return [ref for group in groups.values() for ref in _refs(group)]


def _refs(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [ref for ref in value if isinstance(ref, dict) and isinstance(ref.get("name"), str)]


def _manifest_members(data: dict[str, Any]) -> set[str]:
    manifest = data.get("manifest")
    if not isinstance(manifest, dict):
        return set()
    members = manifest.get("members")
    return {m for m in members if isinstance(m, str)} if isinstance(members, list) else set()


class _Graph:
    """Package indices reachable from dependency references (by name, and by version
    when a reference names one because the lock holds several versions)."""

    def __init__(self, packages: list[_Package]) -> None:
        self.packages = packages
        self.by_name: dict[str, list[int]] = {}
        for index, package in enumerate(packages):
            self.by_name.setdefault(_normalise(package.name), []).append(index)

    def targets(self, ref: dict[str, Any]) -> list[int]:
        candidates = self.by_name.get(_normalise(str(ref["name"])), [])
        version = ref.get("version")
        if isinstance(version, str):
            exact = [i for i in candidates if self.packages[i].table.get("version") == version]
            return exact or candidates
        return candidates

    def reachable(self, seeds: list[dict[str, Any]]) -> set[int]:
        seen: set[int] = set()
        queue = deque(i for ref in seeds for i in self.targets(ref))
        while queue:
            index = queue.popleft()
            if index in seen:
                continue
            seen.add(index)
            for ref in self.packages[index].refs(runtime=True):
                queue.extend(self.targets(ref))
        return seen


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")
