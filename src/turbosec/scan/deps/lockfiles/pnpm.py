"""pnpm-lock.yaml, lockfileVersion 5.x, 6.x and 9.x.

Each key of ``packages`` names one resolved package: ``/name/1.2.3`` (v5),
``/name@1.2.3`` (v6), ``name@1.2.3`` (v9), scoped ``@scope/name``; a peer-dependency
suffix (``_react@18.0.0`` in v5, ``(react@18.0.0)`` since v6) is not part of the version.
A key that is not a registry release (git, a tarball file, a local directory) is
unauditable, as is a package whose ``resolution`` is a git repository or a directory.

``dev`` comes from ``dev: true`` (v5, v6) or, in v9, from the ``importers`` and
``snapshots`` graph: reachable from some project's ``devDependencies`` and from none of
its ``dependencies`` / ``optionalDependencies``.  ``direct`` says whether a project (an
importer, or the root of a v5 / v6 single-project lockfile) declares the package.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from turbosec.scan.deps.lockfiles import (
    Collector,
    LockfileError,
    ParsedLockfile,
    excerpt,
    load_yaml,
    mapping,
    show,
    yaml_key_lines,
)
from turbosec.scan.deps.lockfiles.npm import non_registry_reason

FORMAT = "pnpm-lock.yaml"
HINT = "regenerate it with `pnpm install --lockfile-only` and commit the result"
_SUPPORTED_MAJOR = ("5", "6", "9")
_PROD_FIELDS = ("dependencies", "optionalDependencies")
_DEV_FIELD = "devDependencies"


def parse(path: str, text: str) -> ParsedLockfile:
    data, node = load_yaml(path, text, hint=HINT)
    document = mapping(path, data, "the file", None, hint=HINT)
    top_lines = yaml_key_lines(node)
    raw_version = document.get("lockfileVersion")
    version = "" if raw_version is None else str(raw_version)
    major = version.split(".")[0]
    if major not in _SUPPORTED_MAJOR:
        raise LockfileError(
            path,
            top_lines.get("lockfileVersion"),
            "unknown pnpm-lock format: "
            + (f"lockfileVersion {excerpt(version)!r}" if version else "no lockfileVersion")
            + " (turbosec reads 5.x, 6.x and 9.x)",
            hint="regenerate it with pnpm 7 or later, or update turbosec",
        )
    raw_packages = document.get("packages")
    packages = mapping(
        path,
        {} if raw_packages is None else raw_packages,
        '"packages"',
        top_lines.get("packages"),
        hint=HINT,
    )
    key_lines = yaml_key_lines(node, "packages")
    projects = _projects(document)
    direct = {pair for project in projects for pair in _declared(major, project)}
    dev_keys = _v9_dev_only(document, projects) if major == "9" else set()

    collector = Collector(path, "npm")
    for key, entry in packages.items():
        key = str(key)
        line = key_lines.get(key, 0)
        what = f'package "{excerpt(key)}"'
        table = mapping(path, {} if entry is None else entry, what, line or None, hint=HINT)
        dev = key in dev_keys if major == "9" else table.get("dev") is True
        parsed = _parse_key(major, key)
        reason = _resolution_reason(table.get("resolution"))
        if parsed is None or reason:
            written = table.get("name")
            key_name, source = _split_source_key(major, key)
            if parsed is not None:
                key_name = parsed[0]
            name = written if isinstance(written, str) and written else key_name or key
            reason = reason or _source_reason(source)
            collector.add(
                name,
                line,
                status="unauditable",
                reason=reason,
                dev=dev,
                direct=(name, None) in direct if projects else None,
            )
            continue
        name, pinned = parsed
        collector.add(
            name,
            line,
            version=pinned,
            dev=dev,
            direct=(name, pinned) in direct if projects else None,
        )
    return collector.result(FORMAT)


def _strip_peers(version: str) -> str:
    """``18.2.0(react@18.2.0)`` / ``18.2.0_react@18.2.0`` → ``18.2.0``."""
    return version.split("(", 1)[0].split("_", 1)[0]


def _parse_key(major: str, key: str) -> tuple[str, str] | None:
    """(name, version) of a registry package key, or None for any other source."""
    if major in ("5", "6"):
        if not key.startswith("/"):
            return None
        body = key[1:]
    else:
        body = key
    if major == "5":
        parts = body.split("/")
        cut = 2 if body.startswith("@") else 1
        name, version = "/".join(parts[:cut]), "/".join(parts[cut:])
    else:
        at = body.find("@", 1)
        if at < 0:
            return None
        name, version = body[:at], body[at + 1 :]
    version = _strip_peers(version)
    if not name or not version[:1].isdigit() or ":" in version or "/" in version:
        return None
    return name, version


def _split_source_key(major: str, key: str) -> tuple[str, str]:
    """(package name or "", source) of a non-registry key: ``tiny-router@https://...`` (v9).
    v5 keys (``github.com/org/repo/sha``) and ``file:`` keys carry no name, only the source."""
    body = key[1:] if key.startswith("/") else key
    at = body.find("@", 1)
    if major == "5" or at < 0 or ":" in body[:at]:
        return "", body
    return body[:at], body[at + 1 :]


def _source_reason(source: str) -> str:
    lowered = source.lower()
    if "codeload.github.com/" in lowered or lowered.startswith(("github.com/", "gitlab.com/")):
        return f"git source: {show(source)}"
    return non_registry_reason(source) or f"not from the npm registry: {show(source)}"


def _resolution_reason(resolution: Any) -> str:
    if not isinstance(resolution, dict):
        return ""
    kind = resolution.get("type")
    if kind == "git":
        return f"git source: {show(str(resolution.get('repo', '')))}".rstrip(": ")
    if kind == "directory":
        return f"local directory: {show(str(resolution.get('directory', '')))}".rstrip(": ")
    tarball = resolution.get("tarball")
    if isinstance(tarball, str):
        return non_registry_reason(tarball)
    return ""


def _projects(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The projects the lockfile installs: its importers, or (v5 / v6 without importers)
    the document itself."""
    importers = document.get("importers")
    if isinstance(importers, dict):
        return [p for p in importers.values() if isinstance(p, dict)]
    if any(isinstance(document.get(f), dict) for f in (*_PROD_FIELDS, _DEV_FIELD)):
        return [document]
    return []


def _references(project: dict[str, Any], fields: tuple[str, ...]) -> list[tuple[str, str]]:
    """(dependency name, resolved version text) for each dependency a project or snapshot
    lists in ``fields``; v6+ write ``{specifier, version}``, v5 the version alone."""
    found: list[tuple[str, str]] = []
    for field in fields:
        declared = project.get(field)
        if not isinstance(declared, dict):
            continue
        for name, value in declared.items():
            resolved = value.get("version") if isinstance(value, dict) else value
            if isinstance(resolved, str) and resolved:
                found.append((str(name), resolved))
    return found


def _declared(major: str, project: dict[str, Any]) -> set[tuple[str, str | None]]:
    """(name, version) of the packages a project declares; (name, None) for non-registry
    ones, whose version is unknown."""
    pairs: set[tuple[str, str | None]] = set()
    for name, resolved in _references(project, (*_PROD_FIELDS, _DEV_FIELD)):
        if resolved.startswith("link:"):
            continue
        if resolved[:1].isdigit():
            pairs.add((name, _strip_peers(resolved)))
        elif (alias := _parse_key(major, resolved)) is not None:
            pairs.add(alias)
        else:
            pairs.add((name, None))
    return pairs


def _snapshot_key(name: str, resolved: str) -> str | None:
    """The v9 ``snapshots`` key a dependency reference points at."""
    if resolved.startswith("link:"):
        return None
    if resolved[:1].isdigit():
        return f"{name}@{resolved}"
    at = resolved.find("@", 1)
    if at > 0 and resolved[at + 1 : at + 2].isdigit():
        return resolved  # an alias: "real-name@1.2.3"
    return f"{name}@{resolved}"


def _package_key(snapshot_key: str) -> str:
    at = snapshot_key.find("@", 1)
    if at < 0:
        return snapshot_key
    return snapshot_key[: at + 1] + snapshot_key[at + 1 :].split("(", 1)[0]


def _v9_dev_only(document: dict[str, Any], projects: list[dict[str, Any]]) -> set[str]:
    """``packages`` keys reachable from devDependencies and not from production ones."""
    snapshots = document.get("snapshots")
    if not isinstance(snapshots, dict) or not projects:
        return set()

    def reach(fields: tuple[str, ...]) -> set[str]:
        queue = deque(
            key
            for project in projects
            for name, resolved in _references(project, fields)
            if (key := _snapshot_key(name, resolved)) is not None
        )
        seen: set[str] = set()
        while queue:
            key = queue.popleft()
            if key in seen:
                continue
            seen.add(key)
            snapshot = snapshots.get(key)
            if isinstance(snapshot, dict):
                for name, resolved in _references(snapshot, _PROD_FIELDS):
                    if (target := _snapshot_key(name, resolved)) is not None:
                        queue.append(target)
        return {_package_key(k) for k in seen}

    return reach((_DEV_FIELD,)) - reach(_PROD_FIELDS)
