"""OSV advisory records: typed, frozen, loaded safely from a directory or a zip archive.

Loading never extracts anything to disk: zip members are read in memory with a size cap,
member names that are absolute or contain ``..`` are rejected, and YAML is parsed with
``yaml.safe_load`` only.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from turbosec.core.errors import TurbosecError

_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_TOTAL_BYTES = 512 * 1024 * 1024
SUFFIXES = (".json", ".yaml", ".yml")
RANGE_TYPES = ("ECOSYSTEM", "SEMVER", "GIT")
EVENT_KEYS = ("introduced", "fixed", "last_affected", "limit")


class AdvisoryError(TurbosecError):
    """An advisory source is unsafe, too large, or holds a malformed record."""


@dataclass(frozen=True, slots=True)
class Event:
    kind: str  # introduced / fixed / last_affected / limit
    value: str


@dataclass(frozen=True, slots=True)
class Range:
    type: str  # ECOSYSTEM / SEMVER / GIT
    events: tuple[Event, ...]
    repo: str | None = None


@dataclass(frozen=True, slots=True)
class Severity:
    type: str  # CVSS_V2 / CVSS_V3 / CVSS_V4 / ...
    score: str


@dataclass(frozen=True, slots=True)
class Reference:
    type: str
    url: str


@dataclass(frozen=True, slots=True)
class Affected:
    ecosystem: str
    name: str
    ranges: tuple[Range, ...] = ()
    versions: tuple[str, ...] = ()
    database_specific: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    ecosystem_specific: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class Advisory:
    id: str
    modified: str
    aliases: tuple[str, ...] = ()
    summary: str = ""
    details: str = ""
    published: str | None = None
    withdrawn: str | None = None
    severity: tuple[Severity, ...] = ()
    affected: tuple[Affected, ...] = ()
    references: tuple[Reference, ...] = ()
    database_specific: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    source: str = field(default="", compare=False)

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.id, *self.aliases)


def canonical_name(ecosystem: str, name: str) -> str:
    """PEP 503 normalisation for PyPI, lowercase for npm, unchanged otherwise."""
    eco = ecosystem.strip().lower()
    if eco == "pypi":
        return re.sub(r"[-_.]+", "-", name).lower()
    if eco == "npm":
        return name.lower()
    return name


def _key(ecosystem: str, name: str) -> tuple[str, str]:
    return (ecosystem.strip().lower(), canonical_name(ecosystem, name))


# ---------------------------------------------------------------- parsing


def _text(value: object, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        # An unquoted YAML number (``1.10`` read as 1.1) cannot be trusted as a version.
        raise ValueError(f"{what} must be a string, got the number {value!r}; quote it")
    if value is None:
        raise ValueError(f"{what} is missing")
    return str(value)  # e.g. a YAML timestamp


def _list(value: object, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{what} must be a list")
    return value


def _map(value: object, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a mapping")
    return value


def _texts(value: object, what: str) -> tuple[str, ...]:
    """A list of strings as a tuple; the common all-strings case is checked in one pass."""
    items = _list(value, what)
    if all(type(v) is str for v in items):
        return tuple(items)
    return tuple(_text(v, f"{what}[{k}]") for k, v in enumerate(items))


def _range(data: object, where: str) -> Range:
    d = _map(data, where)
    rtype = _text(d.get("type"), f"{where}.type")
    if rtype not in RANGE_TYPES:
        raise ValueError(f"{where}.type {rtype!r} is not one of {', '.join(RANGE_TYPES)}")
    events: list[Event] = []
    for j, ev in enumerate(_list(d.get("events"), f"{where}.events")):
        e = _map(ev, f"{where}.events[{j}]")
        if len(e) != 1 or next(iter(e)) not in EVENT_KEYS:
            raise ValueError(
                f"{where}.events[{j}] must have exactly one of {', '.join(EVENT_KEYS)}"
            )
        kind, value = next(iter(e.items()))
        events.append(Event(kind, _text(value, f"{where}.events[{j}].{kind}")))
    repo = d.get("repo")
    return Range(rtype, tuple(events), str(repo) if repo is not None else None)


def parse_advisory(data: object, *, source: str = "") -> Advisory:
    """Build an :class:`Advisory` from a decoded OSV record (raises ``ValueError``)."""
    d = _map(data, "record")
    if not d:
        raise ValueError("record is empty")
    affected: list[Affected] = []
    for i, a in enumerate(_list(d.get("affected"), "affected")):
        am = _map(a, f"affected[{i}]")
        pkg = _map(am.get("package"), f"affected[{i}].package")
        affected.append(
            Affected(
                ecosystem=_text(pkg.get("ecosystem"), f"affected[{i}].package.ecosystem"),
                name=_text(pkg.get("name"), f"affected[{i}].package.name"),
                ranges=tuple(
                    _range(r, f"affected[{i}].ranges[{k}]")
                    for k, r in enumerate(_list(am.get("ranges"), f"affected[{i}].ranges"))
                ),
                versions=_texts(am.get("versions"), f"affected[{i}].versions"),
                database_specific=_map(am.get("database_specific"), "database_specific"),
                ecosystem_specific=_map(am.get("ecosystem_specific"), "ecosystem_specific"),
            )
        )
    severity = []
    for i, s in enumerate(_list(d.get("severity"), "severity")):
        sm = _map(s, f"severity[{i}]")
        severity.append(
            Severity(_text(sm.get("type"), f"severity[{i}].type"), _text(sm.get("score"), "score"))
        )
    references = []
    for i, r in enumerate(_list(d.get("references"), "references")):
        rm = _map(r, f"references[{i}]")
        references.append(Reference(str(rm.get("type") or ""), _text(rm.get("url"), "url")))
    published = d.get("published")
    withdrawn = d.get("withdrawn")
    return Advisory(
        id=_text(d.get("id"), "id"),
        modified=_text(d.get("modified"), "modified"),
        aliases=_texts(d.get("aliases"), "aliases"),
        summary=str(d.get("summary") or ""),
        details=str(d.get("details") or ""),
        published=_text(published, "published") if published is not None else None,
        withdrawn=_text(withdrawn, "withdrawn") if withdrawn is not None else None,
        severity=tuple(severity),
        affected=tuple(affected),
        references=tuple(references),
        database_specific=_map(d.get("database_specific"), "database_specific"),
        source=source,
    )


def _decode(raw: bytes, name: str, where: str) -> Advisory:
    try:
        text = raw.decode("utf-8")
        if name.lower().endswith(".json"):
            data = json.loads(text)
        else:
            # The safe loader only (its C build when present): no Python object tags.
            data = yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a SafeLoader
        return parse_advisory(data, source=where)
    except (UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError, ValueError) as exc:
        raise AdvisoryError(
            f"malformed OSV record: {exc}",
            where=where,
            hint="fix or remove this file; an OSV record is one JSON/YAML mapping (see osv-schema)",
        ) from exc


# ---------------------------------------------------------------- loading


class _Budget:
    def __init__(self, max_file: int, max_total: int) -> None:
        self.max_file = max_file
        self.max_total = max_total
        self.used = 0

    def take(self, size: int, where: str) -> None:
        if size > self.max_file:
            raise AdvisoryError(
                f"file is larger than the {self.max_file}-byte limit for one advisory",
                where=where,
                hint="an OSV record is a few kilobytes; check the source is what you expect",
            )
        self.used += size
        if self.used > self.max_total:
            raise AdvisoryError(
                f"advisories exceed the {self.max_total}-byte total limit",
                where=where,
                hint="point turbosec at a smaller database or raise the limit",
            )


def _read_capped(stream: Any, cap: int, where: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(min(65536, cap + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            raise AdvisoryError(
                f"content is larger than the {cap}-byte limit for one advisory",
                where=where,
                hint="the archive may be a zip bomb; do not use it",
            )
    return b"".join(chunks)


def _iter_dir(root: Path, budget: _Budget) -> Iterator[Advisory]:
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in SUFFIXES or not path.is_file():
            continue
        where = str(path)
        budget.take(path.stat().st_size, where)
        with path.open("rb") as fh:
            raw = _read_capped(fh, budget.max_file, where)
        yield _decode(raw, path.name, where)


def _safe_member(name: str, archive: Path) -> None:
    posix = PurePosixPath(name.replace("\\", "/"))
    if posix.is_absolute() or re.match(r"^[A-Za-z]:", name) or ".." in posix.parts:
        raise AdvisoryError(
            f"unsafe member name {name!r} (absolute or containing '..')",
            where=f"{archive}!{name}",
            hint="this archive tries to escape its folder; do not use it",
        )


def _iter_zip(archive: Path, budget: _Budget) -> Iterator[Advisory]:
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise AdvisoryError(f"not a readable zip archive: {exc}", where=str(archive)) from exc
    with zf:
        for info in zf.infolist():
            _safe_member(info.filename, archive)
            if info.is_dir() or not info.filename.lower().endswith(SUFFIXES):
                continue
            where = f"{archive}!{info.filename}"
            budget.take(info.file_size, where)  # declared size
            try:
                with zf.open(info) as fh:
                    raw = _read_capped(fh, budget.max_file, where)  # actual size
            except (zipfile.BadZipFile, OSError, NotImplementedError) as exc:
                raise AdvisoryError(f"cannot read member: {exc}", where=where) from exc
            yield _decode(raw, info.filename, where)


def load_records(
    path: str | Path,
    *,
    max_file_bytes: int = MAX_FILE_BYTES,
    max_total_bytes: int = MAX_TOTAL_BYTES,
) -> list[Advisory]:
    """Load every OSV record under a directory (recursively) or inside a ``.zip``."""
    p = Path(path)
    budget = _Budget(max_file_bytes, max_total_bytes)
    if p.is_dir():
        return list(_iter_dir(p, budget))
    if p.is_file() and p.suffix.lower() == ".zip":
        return list(_iter_zip(p, budget))
    raise AdvisoryError(
        "not a directory or a .zip of OSV records",
        where=str(p),
        hint="download an OSV database export (e.g. PyPI/all.zip) and pass its path",
    )


class AdvisoryIndex:
    """In-memory index: (ecosystem, canonical package name) → advisories affecting it."""

    def __init__(self, advisories: Iterable[Advisory]) -> None:
        self._by_pkg: dict[tuple[str, str], list[Advisory]] = {}
        self.advisories: tuple[Advisory, ...] = tuple(advisories)
        for adv in self.advisories:
            seen: set[tuple[str, str]] = set()
            for aff in adv.affected:
                key = _key(aff.ecosystem, aff.name)
                if key not in seen:
                    seen.add(key)
                    self._by_pkg.setdefault(key, []).append(adv)

    def __len__(self) -> int:
        return len(self.advisories)

    def lookup(self, ecosystem: str, name: str) -> tuple[Advisory, ...]:
        return tuple(self._by_pkg.get(_key(ecosystem, name), ()))
