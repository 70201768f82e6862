"""Matching against the real OSV PyPI data set (an oracle) and small hand-made records."""

from __future__ import annotations

import itertools
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.version import InvalidVersion, Version

from tests.conftest import OSV_PYPI
from turbosec.scan.deps.match import (
    Match,
    SemVer,
    affected,
    range_affects,
    smallest_fix,
    vulnerabilities,
)
from turbosec.scan.deps.osv import Advisory, AdvisoryIndex, Range, load_records, parse_advisory

DATA = OSV_PYPI

# Advisories whose explicit `versions` list genuinely disagrees with their own ranges
# (checked by hand against the record); each entry names the exact versions concerned.
DATA_QUIRKS: dict[str, tuple[str, frozenset[str]]] = {
    "PYSEC-2023-61": (
        "django: range starts at the final 3.2 / 4.2, versions also lists their a1/b1/rc1",
        frozenset({"3.2a1", "3.2b1", "3.2rc1", "4.2a1", "4.2b1", "4.2rc1"}),
    ),
    "PYSEC-2023-177": (
        "gevent: versions lists 23.9.0 and 23.9.0.post1 although the range says fixed: 23.9.0",
        frozenset({"23.9.0", "23.9.0.post1"}),
    ),
    "PYSEC-2024-1": (
        "gratient: the record has a versions list and no ranges at all",
        frozenset({"0.5"}),
    ),
    "PYSEC-2022-236": (
        "pyspark: overlapping intervals in one range (fixed 3.1.1 then introduced 3.1.1 again)",
        frozenset({"3.1.1", "3.1.2"}),
    ),
    "PYSEC-2023-72": (
        "pyspark: overlapping intervals in one range (fixed 3.1.1 then introduced 3.1.1 again)",
        frozenset({"3.1.1", "3.1.2", "3.1.3"}),
    ),
    "PYSEC-2021-114": (
        "wagtail: overlapping intervals [0, 2.11.6) and [2.11, 2.11.7) in one range",
        frozenset({"2.11.6"}),
    ),
}


@cache
def _records() -> tuple[Advisory, ...]:
    if not DATA.is_dir():
        pytest.fail(f"OSV PyPI data set missing: expected YAML advisories under {DATA}")
    return tuple(load_records(DATA))


@pytest.fixture(scope="module")
def records() -> tuple[Advisory, ...]:
    return _records()


@pytest.fixture(scope="module")
def index(records: tuple[Advisory, ...]) -> AdvisoryIndex:
    return AdvisoryIndex(records)


def _pep440(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


def test_oracle_listed_versions_match_by_ranges_alone(records: tuple[Advisory, ...]) -> None:
    assert len(records) == 2661
    checked = invalid = 0
    disagree: dict[str, set[str]] = {}
    for adv in records:
        for aff in adv.affected:
            for version in aff.versions:
                if not _pep440(version):
                    invalid += 1  # by design: only an explicit versions entry matches these
                    continue
                checked += 1
                if not any(range_affects(r, aff.ecosystem, version) for r in aff.ranges):
                    disagree.setdefault(adv.id, set()).add(version)
    unexpected = {
        i: sorted(v)
        for i, v in disagree.items()
        if i not in DATA_QUIRKS or not v <= DATA_QUIRKS[i][1]
    }
    assert not unexpected, f"listed versions not matched by the ranges: {unexpected}"
    stale = {i for i in DATA_QUIRKS if disagree.get(i) != set(DATA_QUIRKS[i][1])}
    assert not stale, f"allow-list entries no longer (fully) needed: {sorted(stale)}"
    assert checked > 140_000
    assert invalid < 200


def test_listed_invalid_versions_still_match_through_versions_list(
    records: tuple[Advisory, ...],
) -> None:
    adv = next(a for a in records if a.id == "PYSEC-2008-8")
    assert affected(adv, "PyPI", "paramiko", "0.9-eevee")
    assert not affected(adv, "PyPI", "paramiko", "0.9-eevee", use_versions=False)
    assert not affected(adv, "PyPI", "paramiko", "0.9-unlisted")


def test_withdrawn_advisories_never_match(records: tuple[Advisory, ...]) -> None:
    withdrawn = [a for a in records if a.withdrawn]
    assert withdrawn
    for adv in withdrawn:
        for aff in adv.affected:
            for version in aff.versions[:5]:
                assert not affected(adv, aff.ecosystem, aff.name, version)


# ----------------------------------------------------------- property: outside → no match


def _simple_intervals(rng: Range) -> list[tuple[Version | None, Version | None]] | None:
    """[(introduced, fixed)] when the range is an ordered, non-overlapping interval list."""
    if rng.type != "ECOSYSTEM":
        return None
    events = rng.events
    if not events or any(e.kind not in ("introduced", "fixed") for e in events):
        return None
    out: list[tuple[Version | None, Version | None]] = []
    prev: Version | None = None
    for i, ev in enumerate(events):
        if (ev.kind == "introduced") != (i % 2 == 0):
            return None
        if not _pep440(ev.value):
            return None
        v = None if ev.value == "0" else Version(ev.value)
        if v is not None and prev is not None and v <= prev:
            return None
        if v is None and i != 0:
            return None
        prev = v if v is not None else prev
        if ev.kind == "introduced":
            out.append((v, None))
        else:
            out[-1] = (out[-1][0], v)
    return out


@cache
def _simple_cases() -> list[tuple[Range, list[tuple[Version | None, Version | None]]]]:
    cases = []
    for adv in _records():
        for aff in adv.affected:
            for rng in aff.ranges:
                iv = _simple_intervals(rng)
                if iv and any(b is not None for pair in iv for b in pair):
                    cases.append((rng, iv))
    return cases


def _outside(v: Version, intervals: list[tuple[Version | None, Version | None]]) -> bool:
    return not any((lo is None or v >= lo) and (hi is None or v < hi) for lo, hi in intervals)


@st.composite
def _outside_probe(draw: st.DrawFn) -> tuple[Range, str]:
    rng, intervals = draw(st.sampled_from(_simple_cases()))
    bounds = [b for pair in intervals for b in pair if b is not None]
    base = draw(st.sampled_from(bounds))
    release = list(base.release)
    kind = draw(st.sampled_from(["itself", "dev0", "bump-down", "bump-up"]))
    if kind == "itself":
        text = str(base)
    elif kind == "dev0":
        text = f"{base}.dev0" if not base.is_devrelease else str(base)
    else:
        pos = draw(st.integers(0, len(release) - 1))
        release[pos] = max(0, release[pos] + (-1 if kind == "bump-down" else 1))
        text = ".".join(map(str, release))
    return rng, text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_outside_probe())
def test_versions_outside_every_interval_do_not_match(probe: tuple[Range, str]) -> None:
    rng, text = probe
    intervals = _simple_intervals(rng)
    assert intervals
    outside = _outside(Version(text), intervals)
    assert range_affects(rng, "PyPI", text) is (not outside), (text, rng)


def test_fixed_versions_and_below_introduced_do_not_match() -> None:
    fixed_checked = below_checked = 0
    for rng, intervals in _simple_cases():
        for _lo, hi in intervals:
            if hi is not None:
                assert not range_affects(rng, "PyPI", str(hi)), (hi, rng)
                fixed_checked += 1
        first = intervals[0][0]
        if first is not None and first.release != (0,) and not first.is_prerelease:
            below = f"{first}.dev0" if not first.is_devrelease else None
            if below:
                assert not range_affects(rng, "PyPI", below), (below, rng)
                below_checked += 1
    assert fixed_checked > 2000
    assert below_checked > 50


# ----------------------------------------------------------- hand-made records


def _adv(
    ranges: list[dict[str, object]], versions: list[str] | None = None, **extra: object
) -> Advisory:
    return parse_advisory(
        {
            "id": extra.pop("id", "TEST-1"),
            "modified": "2024-01-01T00:00:00Z",
            "aliases": extra.pop("aliases", []),
            "affected": [
                {
                    "package": {"ecosystem": extra.pop("ecosystem", "PyPI"), "name": "Some_Pkg"},
                    "ranges": ranges,
                    "versions": versions or [],
                }
            ],
            **extra,
        }
    )


def test_event_semantics_pypi() -> None:
    adv = _adv(
        [
            {"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}, {"fixed": "1.5"}]},
            {"type": "ECOSYSTEM", "events": [{"introduced": "2.0"}, {"last_affected": "2.3"}]},
            {"type": "ECOSYSTEM", "events": [{"introduced": "3.0"}, {"limit": "3.2"}]},
            {"type": "GIT", "repo": "https://x", "events": [{"introduced": "0"}]},
        ]
    )
    cases = {
        "0.9": False, "1.0": True, "1.4.9": True, "1.5": False, "1.5.0": False,
        "2.0": True, "2.3": True, "2.3.0": True, "2.3.1": False,
        "3.0": True, "3.1.9": True, "3.2": False, "9": False, "not a version": False,
    }  # fmt: skip
    for version, expected in cases.items():
        assert affected(adv, "PyPI", "some-pkg", version) is expected, version
    assert affected(adv, "pypi", "SOME.PKG", "1.2")  # PEP 503 name, ecosystem case
    assert not affected(adv, "npm", "some_pkg", "1.2")


def test_introduced_zero_and_explicit_versions() -> None:
    adv = _adv(
        [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "0.3"}]}], ["weird-1"]
    )
    assert affected(adv, "PyPI", "some_pkg", "0.0.1.dev0")
    assert affected(adv, "PyPI", "some_pkg", "weird-1")
    assert not affected(adv, "PyPI", "some_pkg", "weird-2")
    assert not affected(adv, "PyPI", "some_pkg", "0.3")


def test_semver_ordering_per_spec() -> None:
    chain = [
        "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
        "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0",
    ]  # fmt: skip
    parsed = [SemVer.parse(v) for v in chain]
    assert parsed == sorted(parsed)
    assert all(a < b for a, b in itertools.pairwise(parsed))
    assert SemVer.parse("1.0.0+build.5") == SemVer.parse("1.0.0")
    for bad in ("1.0", "01.0.0", "1.0.0-", "1.0.0-01", "v1.0.0", "1.0.0+"):
        with pytest.raises(ValueError):
            SemVer.parse(bad)


def test_semver_ranges_npm() -> None:
    adv = _adv(
        [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "4.17.21"}]}],
        ecosystem="npm",
    )
    assert affected(adv, "npm", "Some_Pkg", "4.17.20")
    assert affected(adv, "npm", "some_pkg", "4.17.21-rc.1")
    assert not affected(adv, "npm", "some_pkg", "4.17.21")
    assert not affected(adv, "npm", "some_pkg", "4.17.21+build")
    assert not affected(adv, "npm", "some_pkg", "latest")


def test_withdrawn_never_matches() -> None:
    adv = _adv(
        [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
        ["1.0"],
        withdrawn="2024-02-02T00:00:00Z",
    )
    assert not affected(adv, "PyPI", "some_pkg", "1.0")


# ----------------------------------------------------------- real packages


def _ids(matches: list[Match]) -> list[set[str]]:
    return [set(m.ids) for m in matches]


def test_pyyaml_5_3(index: AdvisoryIndex) -> None:
    matches = vulnerabilities(index, "PyPI", "PyYAML", "5.3")
    assert _ids(matches) == [
        {"PYSEC-2020-96", "CVE-2020-1747", "GHSA-6757-jp84-gxfx"},
        {"PYSEC-2021-142", "CVE-2020-14343", "GHSA-8q59-q68h-6hv4"},
    ]
    assert [m.fixed_versions for m in matches] == [("5.3.1",), ("5.4",)]
    assert smallest_fix(matches) == "5.4"


def test_jinja2_2_10(index: AdvisoryIndex) -> None:
    matches = vulnerabilities(index, "PyPI", "jinja2", "2.10")
    assert [m.id for m in matches] == ["PYSEC-2019-217", "PYSEC-2021-66"]
    assert "GHSA-462w-v97r-4m45" in matches[0].ids
    assert smallest_fix(matches) == "2.11.3"


def test_requests_2_19_1(index: AdvisoryIndex) -> None:
    matches = vulnerabilities(index, "PyPI", "requests", "2.19.1")
    assert [m.id for m in matches] == ["PYSEC-2018-28", "PYSEC-2023-74"]
    assert "CVE-2018-18074" in matches[0].ids
    assert "CVE-2023-32681" in matches[1].ids
    assert smallest_fix(matches) == "2.31.0"


def test_flask_0_12_2(index: AdvisoryIndex) -> None:
    matches = vulnerabilities(index, "PyPI", "Flask", "0.12.2")
    assert [m.id for m in matches] == ["PYSEC-2018-66", "PYSEC-2019-179", "PYSEC-2023-62"]
    assert matches[2].fixed_versions == ("2.2.5", "2.3.2")
    assert smallest_fix(matches) == "2.2.5"


def test_not_affected_after_fix(index: AdvisoryIndex) -> None:
    assert vulnerabilities(index, "PyPI", "pyyaml", "6.0.1") == []
    assert vulnerabilities(index, "PyPI", "no-such-package", "1.0") == []


def test_alias_duplicates_merge_into_one_match_keeping_all_ids(
    index: AdvisoryIndex, records: tuple[Advisory, ...]
) -> None:
    real = next(a for a in records if a.id == "PYSEC-2020-96")
    dup = parse_advisory(
        {
            "id": "GHSA-6757-jp84-gxfx",
            "modified": "2024-01-01T00:00:00Z",
            "aliases": ["CVE-2020-1747"],
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": "PyYAML"},
                    "ranges": [
                        {
                            "type": "ECOSYSTEM",
                            "events": [{"introduced": "5.1b7"}, {"fixed": "5.3.1"}],
                        }
                    ],
                }
            ],
        }
    )
    chained = parse_advisory(  # an alias of the duplicate only: merges transitively
        {
            "id": "OSV-X-1",
            "modified": "2024-01-01T00:00:00Z",
            "aliases": ["GHSA-6757-jp84-gxfx"],
            "affected": [{"package": {"ecosystem": "PyPI", "name": "pyyaml"}, "versions": ["5.3"]}],
        }
    )
    idx = AdvisoryIndex([real, dup, chained])
    matches = vulnerabilities(idx, "PyPI", "pyyaml", "5.3")
    assert len(matches) == 1
    assert matches[0].id == "GHSA-6757-jp84-gxfx"
    assert set(matches[0].ids) == {
        "PYSEC-2020-96",
        "CVE-2020-1747",
        "GHSA-6757-jp84-gxfx",
        "OSV-X-1",
    }
    assert len(matches[0].advisories) == 3
    assert smallest_fix(matches) == "5.3.1"


def test_smallest_fix_none_when_some_advisory_has_no_fix() -> None:
    fixed = _adv([{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}])
    unfixed = _adv([{"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}]}], id="TEST-2")
    matches = vulnerabilities(AdvisoryIndex([fixed, unfixed]), "PyPI", "some-pkg", "1.5")
    assert len(matches) == 2
    assert smallest_fix(matches) is None
    assert smallest_fix([]) is None
