"""Does an OSV advisory affect one package version?  OSV range semantics, offline.

* ``ECOSYSTEM`` ranges on PyPI are ordered with PEP 440 (:class:`packaging.version.Version`);
  a version PEP 440 cannot parse is never matched by ranges, only by an explicit ``versions``
  entry.
* ``SEMVER`` ranges (npm) use the small Semantic Versioning 2.0 comparator below.
* ``introduced: "0"`` means "since the beginning"; ``fixed`` and ``limit`` are exclusive
  upper bounds, ``last_affected`` an inclusive one.  ``GIT`` ranges are ignored (they name
  commits, not releases).  Withdrawn advisories never match.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache, total_ordering
from typing import Any, Protocol

from packaging.version import InvalidVersion, Version

from turbosec.scan.deps.osv import Advisory, Range, canonical_name


class Lookup(Protocol):
    """Anything that finds the advisories of a package (an index or a database)."""

    def lookup(self, ecosystem: str, name: str) -> tuple[Advisory, ...]: ...


_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)


@total_ordering
@dataclass(frozen=True, slots=True)
class SemVer:
    """A Semantic Versioning 2.0 version; build metadata is parsed and ignored in ordering."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[int | str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> SemVer:
        m = _SEMVER.match(text.strip())
        if not m:
            raise ValueError(f"not a semantic version: {text!r}")
        pre = (
            tuple(int(p) if p.isdigit() else p for p in m.group(4).split(".")) if m.group(4) else ()
        )
        return cls(int(m.group(1)), int(m.group(2)), int(m.group(3)), pre)

    def _key(self) -> tuple[Any, ...]:
        # A release sorts after all of its prereleases; numeric identifiers sort before
        # alphanumeric ones; a shorter identifier list sorts first when it is a prefix.
        pre = tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, 0 if pre else 1, pre)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return self._key() < other._key()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


def _sort_key(ecosystem: str, range_type: str) -> Callable[[str], Any] | None:
    """The parser that orders versions of this range, or None when we cannot order them."""
    eco = ecosystem.strip().lower()
    if range_type == "SEMVER":
        return SemVer.parse
    if range_type == "ECOSYSTEM" and eco == "pypi":
        return Version
    if range_type == "ECOSYSTEM" and eco == "npm":
        return SemVer.parse
    return None


@lru_cache(maxsize=65536)
def _parse(parse: Callable[[str], Any], text: str) -> Any:
    try:
        return parse(text)
    except (InvalidVersion, ValueError):
        return None


def range_affects(rng: Range, ecosystem: str, version: str) -> bool:
    """Whether ``version`` lies inside one OSV range (GIT and unorderable ranges: False)."""
    parse = _sort_key(ecosystem, rng.type)
    if parse is None:
        return False
    v = _parse(parse, version)
    if v is None:
        return False
    affected = False
    limits: list[Any] = []
    bounds: list[tuple[Any, int, str]] = []
    for ev in rng.events:
        if ev.kind == "introduced" and ev.value == "0":
            bounds.append((None, 0, "introduced"))
            continue
        pv = _parse(parse, ev.value)
        if pv is None:
            return False  # an event we cannot order makes the whole range undecidable
        if ev.kind == "limit":
            limits.append(pv)
        else:
            bounds.append((pv, 0 if ev.kind == "introduced" else 1, ev.kind))
    # Walk the events in version order ("0" first); at equal versions introduced goes first.
    bounds.sort(key=lambda b: (b[0] is not None, b[0] if b[0] is not None else 0, b[1]))
    for bound, _, kind in bounds:
        if kind == "introduced":
            if bound is None or v >= bound:
                affected = True
        elif kind == "fixed":
            if v >= bound:
                affected = False
        elif kind == "last_affected" and v > bound:
            affected = False
    if affected and limits and not any(v < lim for lim in limits):
        affected = False
    return affected


def affected(
    advisory: Advisory,
    ecosystem: str,
    name: str,
    version: str,
    *,
    use_versions: bool = True,
) -> bool:
    """Whether ``advisory`` affects ``name==version`` in ``ecosystem`` (OSV semantics).

    ``use_versions=False`` consults the ranges alone (used to cross-check data sets).
    """
    if advisory.withdrawn:
        return False
    eco = ecosystem.strip().lower()
    want = canonical_name(ecosystem, name)
    for aff in advisory.affected:
        if aff.ecosystem.strip().lower() != eco or canonical_name(aff.ecosystem, aff.name) != want:
            continue
        if use_versions and version in aff.versions:
            return True
        if any(range_affects(r, ecosystem, version) for r in aff.ranges):
            return True
    return False


@dataclass(frozen=True, slots=True)
class Match:
    """One vulnerability of one package version: advisories that are aliases of each other."""

    ecosystem: str
    name: str
    version: str
    advisories: tuple[Advisory, ...]
    fixed_versions: tuple[str, ...]  # ``fixed`` events of this package, ascending

    @property
    def id(self) -> str:
        """The preferred id: PYSEC/GHSA/other before CVE (stable, source-specific)."""
        return self.ids[0]

    @property
    def ids(self) -> tuple[str, ...]:
        """Every id and alias of the merged advisories, primary ids first, no duplicates."""
        primary = [a.id for a in self.advisories]
        aliases = [x for a in self.advisories for x in a.aliases]
        return tuple(dict.fromkeys([*primary, *aliases]))


def _version_key(ecosystem: str) -> Callable[[str], Any]:
    parse = _sort_key(ecosystem, "ECOSYSTEM") or SemVer.parse
    return parse


def _sorted_versions(ecosystem: str, values: Iterable[str]) -> tuple[str, ...]:
    parse = _version_key(ecosystem)
    good = [(p, v) for v in set(values) if (p := _parse(parse, v)) is not None]
    return tuple(v for _, v in sorted(good, key=lambda pv: pv[0]))


def _fixed_events(adv: Advisory, ecosystem: str, name: str) -> list[str]:
    eco = ecosystem.strip().lower()
    want = canonical_name(ecosystem, name)
    return [
        ev.value
        for aff in adv.affected
        if aff.ecosystem.strip().lower() == eco and canonical_name(aff.ecosystem, aff.name) == want
        for rng in aff.ranges
        if rng.type != "GIT"
        for ev in rng.events
        if ev.kind == "fixed"
    ]


def vulnerabilities(index: Lookup, ecosystem: str, name: str, version: str) -> list[Match]:
    """Every vulnerability of ``name==version``; aliases of one another become one Match."""
    hits = [a for a in index.lookup(ecosystem, name) if affected(a, ecosystem, name, version)]
    # Union-find over shared ids (id or alias), so CVE/GHSA/PYSEC duplicates merge.
    parent = list(range(len(hits)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, adv in enumerate(hits):
        for ident in adv.ids:
            if ident in owner:
                parent[find(i)] = find(owner[ident])
            else:
                owner[ident] = i
    groups: dict[int, list[Advisory]] = {}
    for i, adv in enumerate(hits):
        groups.setdefault(find(i), []).append(adv)
    out = []
    for members in groups.values():
        members.sort(key=lambda a: (a.id.startswith("CVE-"), a.id))
        fixes = [f for a in members for f in _fixed_events(a, ecosystem, name)]
        out.append(
            Match(ecosystem, name, version, tuple(members), _sorted_versions(ecosystem, fixes))
        )
    out.sort(key=lambda m: m.id)
    return out


def smallest_fix(matches: Sequence[Match]) -> str | None:
    """The smallest version newer than the installed one that no matched advisory affects.

    Candidates are the ``fixed`` versions the advisories name; None when some advisory has
    no fix (or no candidate escapes every advisory).  All matches must be of one package.
    """
    if not matches:
        return None
    first = matches[0]
    if any(
        (m.ecosystem, canonical_name(m.ecosystem, m.name))
        != (first.ecosystem, canonical_name(first.ecosystem, first.name))
        for m in matches
    ):
        raise ValueError("smallest_fix() takes the matches of one package")
    parse = _version_key(first.ecosystem)
    current = _parse(parse, first.version)
    candidates = _sorted_versions(first.ecosystem, (f for m in matches for f in m.fixed_versions))
    advisories = [a for m in matches for a in m.advisories]
    for cand in candidates:
        if current is not None and _parse(parse, cand) <= current:
            continue
        if not any(affected(a, first.ecosystem, first.name, cand) for a in advisories):
            return cand
    return None
