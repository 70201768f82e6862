"""package-lock.json and npm-shrinkwrap.json.

lockfileVersion 2 and 3 are read from their ``packages`` map, keyed by install path
(``node_modules/a``, ``node_modules/a/node_modules/b``); the package name is the last
``node_modules/`` segment, or the entry's ``name`` for an alias.  The root ``""`` entry and
workspace folders (keys outside ``node_modules``) are the project's own code and skipped.
lockfileVersion 1 (npm 5 and 6) is read from its nested ``dependencies`` tree.

A linked local package (``link: true``), and one resolved from a local file, git or
another non-registry source, is unauditable.  ``dev: true`` marks a development-only
package; ``direct`` says whether a top-level package is declared by the project or one
of its workspaces (unknown for lockfileVersion 1).
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

FORMAT = "package-lock.json"
HINT = "regenerate it with `npm install --package-lock-only` and commit the result"
_DECLARED = ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies")
_NON_REGISTRY = {  # prefix → (label, whether the prefix is shown)
    "file:": ("local path", False),
    "link:": ("linked local package", False),
    "git+": ("git source", True),
    "git:": ("git source", True),
    "github:": ("git source", True),
    "gitlab:": ("git source", True),
    "bitbucket:": ("git source", True),
}


def parse(path: str, text: str) -> ParsedLockfile:
    text = strip_bom(text)
    data = mapping(path, load_json(path, text, hint=HINT), "the file", None, hint=HINT)
    version = data.get("lockfileVersion")
    collector = Collector(path, "npm")
    if version in (2, 3) and not isinstance(version, bool):
        _parse_packages(collector, text, data)
    elif version == 1 and not isinstance(version, bool):
        _parse_v1(collector, text, data)
    else:
        found = (
            "no lockfileVersion" if version is None else f"lockfileVersion {excerpt(repr(version))}"
        )
        raise LockfileError(
            path,
            json_key_line(text, "lockfileVersion"),
            f"unknown package-lock format: {found} (turbosec reads 1, 2 and 3)",
            hint="regenerate it with npm 7 or later (`npm install --package-lock-only`), "
            "or update turbosec",
        )
    return collector.result(FORMAT)


def _parse_packages(collector: Collector, text: str, data: dict[str, Any]) -> None:
    path = collector.path
    finder = JsonKeyFinder(text)
    packages_line = finder.find("packages")
    packages = mapping(path, data.get("packages"), '"packages"', packages_line or None, hint=HINT)
    declared = _declared_names(packages)
    for key, entry in packages.items():
        line = finder.find(key)
        what = f'package entry "{excerpt(key)}"'
        table = mapping(path, entry, what, line or None, hint=HINT)
        installed = _installed_names(key)
        if not installed or not installed[-1]:
            continue  # the root project, or a workspace / local folder of the project
        segment = installed[-1]
        written = table.get("name")
        name = written if isinstance(written, str) and written else segment
        direct = len(installed) == 1 and segment in declared
        dev = table.get("dev") is True
        resolved = table.get("resolved")
        if table.get("link") is True:
            where = f": {show(resolved)}" if isinstance(resolved, str) else ""
            reason = f"linked local package{where}"
        else:
            reason = non_registry_reason(resolved) if isinstance(resolved, str) else ""
        if reason:
            collector.add(name, line, status="unauditable", reason=reason, dev=dev, direct=direct)
            continue
        version = require_str(path, table, "version", what, line, hint=HINT)
        collector.add(name, line, version=version, dev=dev, direct=direct)


def _installed_names(key: str) -> list[str]:
    """The package names along an install path: ``node_modules/a/node_modules/@s/b`` →
    ``["a", "@s/b"]``; ``[]`` for a path outside ``node_modules`` (the project, a workspace)."""
    return ("/" + key).split("/node_modules/")[1:]


def _declared_names(packages: dict[str, Any]) -> set[str]:
    """Names the project (the ``""`` entry) and its workspace folders declare."""
    names: set[str] = set()
    for key, entry in packages.items():
        if _installed_names(key) or not isinstance(entry, dict):
            continue
        for field in _DECLARED:
            declared = entry.get(field)
            if isinstance(declared, dict):
                names.update(n for n in declared if isinstance(n, str))
    return names


def _parse_v1(collector: Collector, text: str, data: dict[str, Any]) -> None:
    finder = JsonKeyFinder(text)
    finder.find("dependencies")
    dependencies = data.get("dependencies", {})
    _walk_v1(collector, finder, dependencies, '"dependencies"')


def _walk_v1(collector: Collector, finder: JsonKeyFinder, tree: Any, where: str) -> None:
    """Depth-first in document order, so each key is found after the previous one."""
    path = collector.path
    tree = mapping(path, tree, where, None, hint=HINT)
    for key, entry in tree.items():
        line = finder.find(key)
        what = f'dependency "{excerpt(key)}"'
        table = mapping(path, entry, what, line or None, hint=HINT)
        spec = require_str(path, table, "version", what, line, hint=HINT)
        dev = table.get("dev") is True
        name, version = key, spec
        if spec.startswith("npm:"):  # an alias: "npm:real-name@1.2.3"
            name, _sep, version = spec[4:].rpartition("@")
            if not name:
                name, version = key, spec
        resolved = table.get("resolved")
        reason = non_registry_reason(version) or (
            non_registry_reason(resolved) if isinstance(resolved, str) else ""
        )
        if reason:
            collector.add(name, line, status="unauditable", reason=reason, dev=dev)
        else:
            collector.add(name, line, version=version, dev=dev)
        if "dependencies" in table:
            _walk_v1(collector, finder, table["dependencies"], f"{what} dependencies")


def non_registry_reason(spec: str) -> str:
    """Why a ``resolved`` URL or a version spec is not a registry release ("" if it is;
    an http(s) URL counts as a registry tarball).  Shared with the yarn and pnpm parsers."""
    lowered = spec.lower()
    for prefix, (label, shown) in _NON_REGISTRY.items():
        if lowered.startswith(prefix):
            return f"{label}: {show(spec if shown else spec[len(prefix) :])}"
    if lowered.startswith(("http:", "https:")):
        return ""  # a registry tarball URL
    if ":" in spec or "/" in spec:
        return f"not from the npm registry: {show(spec)}"
    return ""
