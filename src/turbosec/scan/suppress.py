"""Suppressions: inline markers in the code and ``[[suppress]]`` entries of the configuration.

A suppressed finding is never dropped: it keeps its place in every report with a
:class:`~turbosec.core.finding.Suppression` saying why, and it does not fail the gate.

Inline markers
    Each scanner's own marker applies only to that scanner's findings; turbosec's marker
    applies to any tool:

    =========================================  =============================================
    marker                                     applies to
    =========================================  =============================================
    ``# nosec`` / ``# nosec B602,B607``        bandit (all tests, or the tests named: ids
                                               such as ``B602`` or names such as
                                               ``hardcoded_password_string``)
    ``# nosemgrep`` / ``# nosemgrep: id``      semgrep (``nosem`` too; an id matches the
                                               rule id or its last dotted parts)
    ``#checkov:skip=CKV_ID:reason``            checkov, that check
    ``# zizmor: ignore[audit, other]``         zizmor, those audits
    ``# pragma: allowlist secret``             detect-secrets and every other secret finding
                                               (``pragma: allowlist nextline secret`` on the
                                               line above)
    ``# turbosec: ignore[rule, other] why``    any tool; rule ids are globs (``*``: all)
    =========================================  =============================================

    A marker counts on the flagged (first) line, or alone on the comment line just above
    it.  bandit, checkov and zizmor honour their own markers on any line of the flagged
    span, and so does turbosec for those tools (bandit: also on the line bandit reported
    inside the span).  A finding that several tools reported (merged by de-duplication,
    the others in ``also_reported_by``) is suppressed by tool markers only when each of
    those tools has its own marker there; ``# turbosec: ignore[...]`` covers every tool
    (it names the rule id of the finding as reported).  Comments start with ``#``
    (Python, YAML, TOML, HCL, Dockerfile, shell), ``//`` or ``/*`` (JavaScript,
    TypeScript, HCL), ``<!--``, ``--`` or ``;``.

    The text after a marker is its reason: ``# nosec B602 - input is a constant`` has the
    reason ``input is a constant``; a marker without text has none.  With ``strict`` a
    marker without a reason does not suppress, and a notice names where it is.

    Adapters may attach an inline suppression themselves when the tool's output says a
    finding was skipped (checkov's ``skipped_checks``, zizmor's ``ignored``): those are
    kept (and in strict mode dropped when they have no reason).

Configuration
    ``[[suppress]]`` entries select findings by ``rule`` (glob against the rule id),
    ``path`` (glob as in ``exclude``), ``fingerprint`` (exact) and ``tool`` (exact); every
    selector given must match, and the first matching entry wins.  An entry whose
    ``expires`` date is before ``today`` no longer suppresses and a notice says so (when it
    would have matched a finding); an entry that matches no finding is reported as stale.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase

from turbosec.core.config import Config, SuppressRule
from turbosec.core.finding import Category, Finding, Suppression
from turbosec.scan.target import Target, glob_to_regex

INLINE = "inline"
CONFIG = "config"

#: How many lines of a flagged span are searched for tool markers that may sit anywhere
#: in it (bandit, checkov, zizmor).
MAX_SPAN_LINES = 200

_COMMENT_START = r"(?:#|//|/\*|<!--|--|;)"
# A comment opener directly followed (after blanks) by a marker keyword.
_MARKER_START = re.compile(
    _COMMENT_START + r"[ \t]*(?=turbosec:|nosec\b|nosem(?:grep)?\b|checkov:skip=|zizmor:|pragma:)",
    re.IGNORECASE,
)
# A line holding only a comment (``*`` continues a ``/* ... */`` block, ``*args`` does not).
_COMMENT_ONLY = re.compile(r"^\s*(?:#|//|/\*|\*(?:\s|/|$)|<!--|--|;)")

_TURBOSEC = re.compile(r"turbosec:[ \t]*ignore[ \t]*\[(?P<ids>[^\]]*)\]", re.IGNORECASE)
_NOSEC = re.compile(r"nosec\b:?")  # bandit's marker is lower case
_BANDIT_TEST = re.compile(r"B\d+|[a-z][a-z0-9]*_[a-z0-9_]+", re.IGNORECASE)
_NOSEMGREP = re.compile(r"nosem(?:grep)?\b", re.IGNORECASE)
_SEMGREP_ID = re.compile(r"[\w.:/-]+")
_CHECKOV = re.compile(r"checkov:skip=(?P<id>[A-Za-z0-9_]+)(?::(?P<reason>.*))?")
_ZIZMOR = re.compile(r"zizmor:[ \t]*ignore\[(?P<ids>[^\]]*)\]")
_ALLOWLIST = re.compile(r"pragma:[ \t]*allowlist(?P<next>[ \t]+nextline)?[ \t]+secret\b")
# What is left around a reason: separators, closing comment marks.
_REASON_LEAD = re.compile("^[\\s\\-\u2013\u2014:;,#=]+")  # blanks, dashes, : ; , # =
_REASON_TAIL = re.compile(r"(?:\*/|-->)\s*$")


@dataclass(frozen=True)
class Marker:
    """One inline marker found in a comment."""

    kind: str  # turbosec | nosec | nosemgrep | checkov | zizmor | allowlist | allowlist-nextline
    ids: tuple[str, ...]  # the rules/tests/audits it names; empty: all of the tool's
    reason: str | None
    text: str  # the marker as written (for messages)


def _clean_reason(text: str) -> str | None:
    text = _REASON_TAIL.sub("", text.strip())
    text = _REASON_LEAD.sub("", text).strip()
    text = _REASON_TAIL.sub("", text).strip()
    return " ".join(text.split()) or None


def _split_ids(text: str) -> tuple[str, ...]:
    return tuple(part for part in re.split(r"[\s,]+", text.strip()) if part)


def _leading_ids(text: str, token: re.Pattern[str]) -> tuple[tuple[str, ...], str]:
    """Split ``B602, B607 - reason`` into ids and the remaining text.

    The first token is an id when it looks like one; further tokens are ids while they
    look like one and are separated by commas or blanks (bandit) from the previous id.
    """
    ids: list[str] = []
    pos = 0
    while True:
        sep = re.match(r"[ \t]*,?[ \t]*", text[pos:])
        start = pos + (sep.end() if sep else 0)
        match = token.match(text, start)
        if match is None or (match.end() < len(text) and not re.match(r"[\s,]", text[match.end()])):
            break
        ids.append(match.group(0))
        pos = match.end()
    return tuple(ids), text[pos:]


def _parse_one(kind_text: str) -> Marker | None:
    """Parse the marker at the start of ``kind_text`` (the text after the comment opener)."""
    m = _TURBOSEC.match(kind_text)
    if m:
        ids = _split_ids(m.group("ids"))
        return Marker("turbosec", ids, _clean_reason(kind_text[m.end() :]), m.group(0))
    m = _NOSEC.match(kind_text)
    if m:
        ids, rest = _leading_ids(kind_text[m.end() :], _BANDIT_TEST)
        text = ("nosec " + ", ".join(ids)).strip()
        return Marker("nosec", ids, _clean_reason(rest), text)
    m = _NOSEMGREP.match(kind_text)
    if m:
        rest = kind_text[m.end() :]
        named: tuple[str, ...] = ()
        colon = re.match(r"[ \t]*[:=][ \t]*", rest)
        if colon:
            rest = rest[colon.end() :]
            found: list[str] = []
            while True:
                idm = _SEMGREP_ID.match(rest)
                if idm is None:
                    break
                found.append(idm.group(0))
                rest = rest[idm.end() :]
                comma = re.match(r"[ \t]*,[ \t]*", rest)
                if comma is None:
                    break
                rest = rest[comma.end() :]
            named = tuple(found)
        text = m.group(0) + (": " + ", ".join(named) if named else "")
        return Marker("nosemgrep", named, _clean_reason(rest), text)
    m = _CHECKOV.match(kind_text)
    if m:
        reason = _clean_reason(m.group("reason") or "")
        return Marker("checkov", (m.group("id"),), reason, f"checkov:skip={m.group('id')}")
    m = _ZIZMOR.match(kind_text)
    if m:
        ids = _split_ids(m.group("ids"))
        return Marker("zizmor", ids, _clean_reason(kind_text[m.end() :]), m.group(0))
    m = _ALLOWLIST.match(kind_text)
    if m:
        kind = "allowlist-nextline" if m.group("next") else "allowlist"
        return Marker(kind, (), _clean_reason(kind_text[m.end() :]), m.group(0))
    return None


def parse_markers(line: str) -> list[Marker]:
    """Every inline marker in one source line, in order.

    A marker's reason is the text after it up to the next marker on the same line.
    """
    starts = [(m.start(), m.end()) for m in _MARKER_START.finditer(line)]
    markers: list[Marker] = []
    for index, (_, body) in enumerate(starts):
        end = starts[index + 1][0] if index + 1 < len(starts) else len(line)
        marker = _parse_one(line[body:end].rstrip())
        if marker is not None:
            markers.append(marker)
    return markers


# ------------------------------------------------------------------------- applicability
def _raw_str(raw: Mapping[str, object] | None, key: str) -> str | None:
    if raw is None:
        return None
    value = raw.get(key)
    return value if isinstance(value, str) and value else None


def _semgrep_id_matches(rule_id: str, wanted: str) -> bool:
    return rule_id == wanted or rule_id.endswith("." + wanted)


def _applies(marker: Marker, finding: Finding) -> bool:
    """Whether ``marker`` covers ``finding`` (its tool and its rule)."""
    family = finding.family
    rule = finding.rule_id
    if marker.kind == "turbosec":
        return any(fnmatchcase(rule, pattern) for pattern in marker.ids)
    if marker.kind == "nosec":
        if family != "bandit":
            return False
        if not marker.ids:
            return True
        test_name = _raw_str(finding.raw, "test_name")
        wanted = {i.upper() if i[:1] in "bB" and i[1:].isdigit() else i for i in marker.ids}
        return rule in wanted or (test_name is not None and test_name in wanted)
    if marker.kind == "nosemgrep":
        if not family.startswith("semgrep"):
            return False
        return not marker.ids or any(_semgrep_id_matches(rule, i) for i in marker.ids)
    if marker.kind == "checkov":
        return family == "checkov" and rule in marker.ids
    if marker.kind == "zizmor":
        return family == "zizmor" and rule in marker.ids
    if marker.kind in ("allowlist", "allowlist-nextline"):
        return finding.category is Category.SECRET or family == "detect-secrets"
    return False


# Where each marker kind may sit relative to the finding.
_ON_FIRST_LINE = frozenset({"turbosec", "nosec", "nosemgrep", "checkov", "zizmor", "allowlist"})
_ABOVE = frozenset({"turbosec", "nosec", "nosemgrep", "checkov", "zizmor", "allowlist-nextline"})
_IN_SPAN = frozenset({"nosec", "checkov", "zizmor"})


@dataclass(frozen=True)
class _Hit:
    marker: Marker
    line: int


class _MarkerIndex:
    """Markers by (path, line), parsed once per line."""

    def __init__(self, target: Target) -> None:
        self._target = target
        self._cache: dict[tuple[str, int], list[Marker]] = {}

    def lines(self, path: str) -> Sequence[str] | None:
        return self._target.lines(path)

    def at(self, path: str, line: int) -> list[Marker]:
        key = (path, line)
        if key not in self._cache:
            content = self._target.lines(path)
            text = content[line - 1] if content is not None and 1 <= line <= len(content) else ""
            # Cheap pre-check: most lines hold no marker at all.
            lowered = text.lower()
            if not any(
                k in lowered
                for k in ("turbosec:", "nosec", "nosem", "checkov:", "zizmor:", "pragma:")
            ):
                self._cache[key] = []
            else:
                self._cache[key] = parse_markers(text)
        return self._cache[key]


def _candidates(finding: Finding, index: _MarkerIndex) -> list[_Hit]:
    """Markers that may cover ``finding``, nearest first: first line, line above, span."""
    loc = finding.location
    if loc is None or not loc.start_line or loc.start_line < 1:
        return []
    content = index.lines(loc.path)
    if content is None:
        return []
    start = loc.start_line
    hits: list[_Hit] = [
        _Hit(m, start) for m in index.at(loc.path, start) if m.kind in _ON_FIRST_LINE
    ]
    if 1 < start <= len(content) + 1 and _COMMENT_ONLY.match(content[start - 2]):
        hits += [_Hit(m, start - 1) for m in index.at(loc.path, start - 1) if m.kind in _ABOVE]
    span: list[int] = []
    end = loc.end_line if loc.end_line and loc.end_line > start else start
    span.extend(range(start + 1, min(end, start + MAX_SPAN_LINES) + 1))
    reported = finding.raw.get("line_number") if finding.raw is not None else None
    if (
        finding.family == "bandit"
        and isinstance(reported, int)
        and not isinstance(reported, bool)
        and reported != start
        and reported not in span
    ):
        span.append(reported)
    for number in span:
        hits += [_Hit(m, number) for m in index.at(loc.path, number) if m.kind in _IN_SPAN]
    return hits


# Each tool's own marker kinds (for findings other tools also reported).
_TOOL_MARKERS: dict[str, frozenset[str]] = {
    "bandit": frozenset({"nosec"}),
    "semgrep": frozenset({"nosemgrep"}),
    "checkov": frozenset({"checkov"}),
    "zizmor": frozenset({"zizmor"}),
    "detect-secrets": frozenset({"allowlist", "allowlist-nextline"}),
}


def _covers_merged(finding: Finding, hits: Sequence[_Hit]) -> bool:
    """Whether the tools merged into ``finding`` (``also_reported_by``) have markers too.

    A tool's marker speaks for that tool only: ``# nosec`` must not silence semgrep's
    report of the same problem that de-duplication folded into bandit's finding.  So a
    tool marker suppresses a merged finding only when every other reporting tool has its
    own marker there as well (turbosec's marker speaks for all tools).
    """
    for other in finding.also_reported_by:
        family = other.split(":", 1)[0].lower()
        if family == finding.family:
            continue
        kinds = _TOOL_MARKERS.get(family)
        if kinds is None or not any(h.marker.kind in kinds for h in hits):
            return False
    return True


def _marker_label(marker: Marker) -> str:
    return marker.text.strip()


# ------------------------------------------------------------------------------ config
@dataclass(frozen=True)
class _Selector:
    """A ``[[suppress]]`` entry with its path glob compiled."""

    rule: SuppressRule
    path: re.Pattern[str] | None

    @classmethod
    def of(cls, rule: SuppressRule) -> _Selector:
        return cls(rule, glob_to_regex(rule.path) if rule.path is not None else None)

    def matches(self, finding: Finding) -> bool:
        """Every selector the entry gives matches ``finding``."""
        rule = self.rule
        if rule.rule is not None and not fnmatchcase(finding.rule_id, rule.rule):
            return False
        if self.path is not None and (
            finding.location is None or not self.path.match(finding.location.path)
        ):
            return False
        if rule.fingerprint is not None and finding.fingerprint != rule.fingerprint:
            return False
        return rule.tool is None or finding.tool == rule.tool


def _describe(values: Sequence[str], limit: int = 3) -> str:
    unique = list(dict.fromkeys(values))
    if len(unique) <= limit:
        return ", ".join(unique)
    return ", ".join(unique[:limit]) + f" and {len(unique) - limit} more"


def _config_source(number: int, rule: SuppressRule) -> str:
    selectors = [
        f"{name} = {value}"
        for name, value in (
            ("rule", rule.rule),
            ("path", rule.path),
            ("fingerprint", rule.fingerprint),
            ("tool", rule.tool),
        )
        if value is not None
    ]
    return f"[[suppress]] #{number} (" + ", ".join(selectors) + ")"


def _expired_notice(rule: SuppressRule, matched: Sequence[Finding]) -> str:
    rules = rule.rule or _describe([f.rule_id for f in matched])
    paths = rule.path or _describe(
        [f.location.path if f.location else "(no location)" for f in matched]
    )
    about = f"reason {rule.reason.strip()!r}"
    if rule.owner:
        about += f", owner {rule.owner}"
    count = f" {len(matched)} findings" if len(matched) > 1 else ""
    assert rule.expires is not None
    return (
        f"suppression of {rules} in {paths} ({about}) expired on "
        f"{rule.expires.isoformat()}: it no longer suppresses{count}"
    )


# --------------------------------------------------------------------------------- api
def apply_suppressions(
    findings: Sequence[Finding],
    target: Target,
    config: Config,
    *,
    strict: bool = False,
    today: datetime.date | None = None,
    ran: Collection[str] | None = None,
) -> tuple[list[Finding], list[str]]:
    """Mark suppressed findings and say what the user should know about suppressions.

    Returns the findings in the same order (suppressed ones with ``suppression`` set) and
    notices: expired configuration entries, stale ones, and (``strict``) markers without a
    reason that were not honoured.  ``ran`` names the tools of a partial run (``--scanner``,
    ``--skip``): an entry is then called stale only when it names one of those tools, since
    the others had no chance to match it.  ``None`` means every applicable tool ran.
    """
    today = today or datetime.date.today()
    index = _MarkerIndex(target)
    rules = list(config.suppress)
    selectors = [_Selector.of(rule) for rule in rules]
    matched: list[list[Finding]] = [[] for _ in rules]
    notices: list[str] = []
    strict_seen: set[tuple[str, int, str]] = set()
    out: list[Finding] = []

    for finding in findings:
        suppression = _inline(finding, index, strict, notices, strict_seen)
        for number, rule in enumerate(rules):
            if selectors[number].matches(finding):
                matched[number].append(finding)
                if suppression is None and not (rule.expires is not None and rule.expires < today):
                    suppression = Suppression(
                        kind=CONFIG,
                        reason=rule.reason.strip(),
                        source=_config_source(number + 1, rule),
                        expires=rule.expires.isoformat() if rule.expires else None,
                        owner=rule.owner,
                    )
        if suppression != finding.suppression:
            finding = replace(finding, suppression=suppression)
        out.append(finding)

    for number, rule in enumerate(rules):
        judged = ran is None or (rule.tool is not None and rule.tool in ran)
        if not matched[number] and judged:
            notices.append(
                f"suppression #{number + 1} ({rule.reason.strip()}) in the configuration "
                "matches no finding: remove it"
            )
        elif rule.expires is not None and rule.expires < today:
            notices.append(_expired_notice(rule, matched[number]))
    return out, notices


def _inline(
    finding: Finding,
    index: _MarkerIndex,
    strict: bool,
    notices: list[str],
    strict_seen: set[tuple[str, int, str]],
) -> Suppression | None:
    """The inline suppression of ``finding``, if any (adapter-provided or from a marker)."""
    existing = finding.suppression
    if existing is not None and existing.kind != INLINE:
        existing = None  # a configuration entry's: the configuration is judged afresh
    only_turbosec = False
    if existing is not None:
        if not strict or existing.reason:
            return existing
        # The tool skipped it on a marker without a reason: not honoured in strict mode.
        where = finding.location.display() if finding.location else finding.rule_id
        key = (where, 0, existing.source)
        if key not in strict_seen:
            strict_seen.add(key)
            notices.append(
                f"inline marker {existing.source} without a reason at {where} does not "
                "suppress (--strict-suppressions)"
            )
        only_turbosec = True  # the tool's own marker was just judged
    loc = finding.location
    hits = _candidates(finding, index)
    for hit in hits:
        if not _applies(hit.marker, finding):
            continue
        if only_turbosec and hit.marker.kind != "turbosec":
            continue
        if hit.marker.kind != "turbosec" and not _covers_merged(finding, hits):
            continue
        if strict and not hit.marker.reason:
            assert loc is not None
            key = (loc.path, hit.line, hit.marker.text)
            if key not in strict_seen:
                strict_seen.add(key)
                notices.append(
                    f"inline marker `{_marker_label(hit.marker)}` without a reason at "
                    f"{loc.path}:{hit.line} does not suppress (--strict-suppressions)"
                )
            continue
        assert loc is not None
        return Suppression(
            kind=INLINE,
            reason=hit.marker.reason,
            source=f"{loc.path}:{hit.line}: {_marker_label(hit.marker)}",
        )
    return None
