"""yarn.lock, both formats.

*Classic* (yarn 1, ``# yarn lockfile v1``) is its own indented format and is read by
hand: an unindented header line lists the requested descriptors
(``"@scope/a@^1.0.0", a@~1.2:``), the indented lines below it hold ``version "1.2.3"``.
*Berry* (yarn 2+, a YAML document with ``__metadata``) keys each entry by its
descriptors (``"a@npm:^1.0.0"``) and records ``version`` and ``resolution``.

Entries resolved from the registry are pinned (an alias ``x@npm:real@^1`` is reported
under the real name; a ``patch:`` of a registry package keeps the underlying version).
``workspace:``, ``link:`` and ``portal:`` entries are the project's own code and skipped;
git, file, tarball URL and other sources are unauditable.  yarn.lock does not say which
packages are for development only: ``dev`` is always False and ``direct`` unknown.
"""

from __future__ import annotations

import json
import re
from urllib.parse import unquote

from turbosec.scan.deps.lockfiles import (
    Collector,
    LockfileError,
    ParsedLockfile,
    excerpt,
    load_yaml,
    mapping,
    require_str,
    show,
    strip_bom,
    yaml_key_lines,
)
from turbosec.scan.deps.lockfiles.npm import non_registry_reason

FORMAT = "yarn.lock"
HINT = "regenerate it with `yarn install` and commit the result"
_BERRY_VERSIONS = range(4, 9)
_SKIPPED_PROTOCOLS = ("workspace:", "link:", "portal:")
_HEADER_ITEM = re.compile(r'[ \t]*(?:"((?:[^"\\]|\\.)*)"|([^",]+?))[ \t]*(?:,|$)')
_CLASSIC_VERSION = re.compile(r"^#\s*yarn lockfile v(\d+)\s*$", re.M)
_BERRY_MARKER = re.compile(r"^\"?__metadata\"?\s*:", re.M)


def parse(path: str, text: str) -> ParsedLockfile:
    text = strip_bom(text)
    collector = Collector(path, "npm")
    if _BERRY_MARKER.search(text):
        _parse_berry(collector, text)
    else:
        _parse_classic(collector, text)
    return collector.result(FORMAT)


def _split_descriptor(descriptor: str) -> tuple[str, str]:
    """``"@scope/a@^1"`` → ``("@scope/a", "^1")``; an ``npm:`` alias resolves to the real
    package: ``"b@npm:@scope/a@^1"`` → ``("@scope/a", "^1")``."""
    at = descriptor.find("@", 1)
    if at < 0:
        return descriptor, ""
    name, spec = descriptor[:at], descriptor[at + 1 :]
    if spec.startswith("npm:") and spec.find("@", 5) > 0:
        return _split_descriptor(spec[4:])
    return name, spec


def _source_reason(spec: str) -> str:
    """Why a range / reference is not a registry release ("" if it is)."""
    if ":" not in spec and "/" not in spec:
        return ""
    shown = spec.split("::", 1)[0]  # Berry appends "::locator=...&hash=..." parameters
    if shown.startswith("file:"):
        shown = shown.split("#", 1)[0]
    if "#commit=" in shown or ".git#" in shown or shown.endswith(".git"):
        return f"git source: {show(shown)}"
    return non_registry_reason(shown) or f"not from the npm registry: {show(shown)}"


# --- classic ------------------------------------------------------------------------


class _ClassicEntry:
    def __init__(self, line: int, descriptors: list[str]) -> None:
        self.line = line
        self.descriptors = descriptors
        self.fields: dict[str, str] = {}


def _parse_classic(collector: Collector, text: str) -> None:
    path = collector.path
    if (m := _CLASSIC_VERSION.search(text)) and m.group(1) != "1":
        raise LockfileError(
            path,
            text.count("\n", 0, m.start()) + 1,
            f"unknown yarn lockfile version v{m.group(1)} (turbosec reads v1 and yarn 2+ files)",
            hint="regenerate it with yarn, or update turbosec",
        )
    entry: _ClassicEntry | None = None
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        if indent == 0:
            if entry is not None:
                _add_classic(collector, entry)
            if not line.endswith(":"):
                raise LockfileError(
                    path,
                    number,
                    f"expected an entry header ending in ':', found {excerpt(line)!r}",
                    hint=HINT,
                )
            entry = _ClassicEntry(number, _header_descriptors(path, number, line[:-1]))
        elif entry is None:
            raise LockfileError(
                path, number, f"indented line before any entry: {excerpt(line)!r}", hint=HINT
            )
        elif indent == 2 and not stripped.endswith(":"):
            key, value = _classic_field(path, number, stripped)
            entry.fields.setdefault(key, value)
    if entry is not None:
        _add_classic(collector, entry)


def _header_descriptors(path: str, number: int, header: str) -> list[str]:
    descriptors: list[str] = []
    at = 0
    while at < len(header):
        m = _HEADER_ITEM.match(header, at)
        if not m or m.end() == at:
            raise LockfileError(
                path, number, f"cannot read entry header {excerpt(header)!r}", hint=HINT
            )
        quoted, bare = m.group(1), m.group(2)
        descriptors.append(_unquote(path, number, quoted) if quoted is not None else bare)
        at = m.end()
    if not descriptors or not all(descriptors):
        raise LockfileError(path, number, f"empty entry header {excerpt(header)!r}", hint=HINT)
    return descriptors


def _classic_field(path: str, number: int, stripped: str) -> tuple[str, str]:
    key, _sep, value = stripped.partition(" ")
    value = value.strip()
    if key.startswith('"'):
        key = _unquote(path, number, key.strip('"'))
    if value.startswith('"'):
        if len(value) < 2 or not value.endswith('"'):
            raise LockfileError(
                path, number, f"unterminated string in {excerpt(stripped)!r}", hint=HINT
            )
        value = _unquote(path, number, value[1:-1])
    return key, value


def _unquote(path: str, number: int, inner: str) -> str:
    try:
        value = json.loads(f'"{inner}"')
    except ValueError:
        raise LockfileError(path, number, f"bad string {excerpt(inner)!r}", hint=HINT) from None
    return str(value)


def _add_classic(collector: Collector, entry: _ClassicEntry) -> None:
    name, spec = _split_descriptor(entry.descriptors[0])
    if spec.startswith(_SKIPPED_PROTOCOLS):
        return
    what = f'entry "{excerpt(", ".join(entry.descriptors))}"'
    version = require_str(
        collector.path, dict(entry.fields), "version", what, entry.line, hint=HINT
    )
    resolved = entry.fields.get("resolved", "")
    reason = _source_reason(spec) or (non_registry_reason(resolved) if resolved else "")
    if reason:
        collector.add(name, entry.line, status="unauditable", reason=reason)
    else:
        collector.add(name, entry.line, version=version)


# --- berry --------------------------------------------------------------------------


def _parse_berry(collector: Collector, text: str) -> None:
    path = collector.path
    data, node = load_yaml(path, text, hint=HINT)
    document = mapping(path, data, "the file", None, hint=HINT)
    lines = yaml_key_lines(node)
    metadata = mapping(
        path, document.get("__metadata"), '"__metadata"', lines.get("__metadata"), hint=HINT
    )
    version = str(metadata.get("version", ""))
    if not version.isdigit() or int(version) not in _BERRY_VERSIONS:
        raise LockfileError(
            path,
            yaml_key_lines(node, "__metadata").get("version") or lines.get("__metadata"),
            f"unknown yarn lockfile __metadata version {excerpt(version)!r} "
            f"(turbosec reads {_BERRY_VERSIONS.start} to {_BERRY_VERSIONS.stop - 1})",
            hint="regenerate it with a current yarn, or update turbosec",
        )
    for key, entry in document.items():
        if key == "__metadata":
            continue
        line = lines.get(str(key), 0)
        what = f'entry "{excerpt(str(key))}"'
        table = mapping(path, entry, what, line or None, hint=HINT)
        resolution = table.get("resolution")
        if not isinstance(resolution, str) or not resolution:
            resolution = str(key).split(",")[0].strip()
        name, reference = _split_locator(resolution)
        outcome, reason = _classify_reference(reference)
        if outcome == "skip":
            continue
        if outcome == "unauditable":
            collector.add(name, line, status="unauditable", reason=reason)
            continue
        version = require_str(path, table, "version", what, line, hint=HINT)
        collector.add(name, line, version=version)


def _split_locator(locator: str) -> tuple[str, str]:
    at = locator.find("@", 1)
    return (locator, "") if at < 0 else (locator[:at], locator[at + 1 :])


def _classify_reference(reference: str) -> tuple[str, str]:
    """("pinned" | "skip" | "unauditable", reason) for a Berry locator reference."""
    if reference.startswith("npm:"):
        return "pinned", ""
    if reference.startswith(_SKIPPED_PROTOCOLS):
        return "skip", ""
    if reference.startswith("patch:"):
        # patch:<url-encoded locator of the patched package>#<patch file>[::params]
        patched = unquote(reference[len("patch:") :].split("#", 1)[0])
        return _classify_reference(_split_locator(patched)[1])
    reason = _source_reason(reference) or f"not from the npm registry: {show(reference)}"
    return "unauditable", reason
