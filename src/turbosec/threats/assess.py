"""Assessment: what each derived threat's effective status is, and why.

A threat counts as mitigated only when a triage entry (or, without one, the rule's candidate
controls on the element) relies on controls whose evidence exists and passed; any missing,
failing, skipped or unchecked test turns it back into an open threat whose reason names the
threat, the control and the test.  Accepted, transferred and false-positive decisions hold
until their ``expires`` date; a mitigation claim with an ``expires`` date lapses the same way.

Triage matching: an entry whose pattern is exactly the threat id wins over wildcard entries;
otherwise the first matching entry in file order wins.  ``*`` and ``?`` are the only
wildcards.  Entries that match no threat are reported as stale.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Sequence
from pathlib import Path

from turbosec.threats.model import (
    Analysis,
    AssessedThreat,
    ControlEvidence,
    EvidenceReport,
    TestEvidence,
    TestOutcome,
    Threat,
    ThreatModel,
    ThreatStatus,
    TriageEntry,
)

_HONOURED = (ThreatStatus.ACCEPTED, ThreatStatus.TRANSFERRED, ThreatStatus.FALSE_POSITIVE)
_DECISION_WORD = {
    ThreatStatus.ACCEPTED: "acceptance",
    ThreatStatus.TRANSFERRED: "transfer",
    ThreatStatus.FALSE_POSITIVE: "false-positive decision",
    ThreatStatus.MITIGATED: "mitigation claim",
}


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """A triage pattern as a regular expression: ``*`` any run, ``?`` one character."""
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL)


def _is_wildcard(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern


class _Triage:
    """The model's triage entries, matched against threat ids."""

    def __init__(self, entries: Sequence[TriageEntry]) -> None:
        self.entries = tuple(entries)
        self.exact: dict[str, list[TriageEntry]] = {}
        self.wildcards: list[tuple[TriageEntry, re.Pattern[str]]] = []
        for entry in self.entries:
            if _is_wildcard(entry.pattern):
                self.wildcards.append((entry, pattern_regex(entry.pattern)))
            else:
                self.exact.setdefault(entry.pattern, []).append(entry)
        self.used: set[int] = set()  # ids of entries that matched some threat

    def match(self, threat_id: str) -> TriageEntry | None:
        exact = self.exact.get(threat_id, [])
        self.used.update(id(e) for e in exact)
        chosen = exact[0] if exact else None
        for entry, regex in self.wildcards:
            if regex.fullmatch(threat_id):
                self.used.add(id(entry))
                if chosen is None:
                    chosen = entry
        return chosen

    def stale(self) -> tuple[TriageEntry, ...]:
        return tuple(e for e in self.entries if id(e) not in self.used)


# --------------------------------------------------------------------------- evidence words


def _test_problem(test: TestEvidence) -> str:
    outcome = test.outcome
    detail = f" ({test.detail})" if test.detail else ""
    if outcome is TestOutcome.MISSING:
        return f"test {test.node_id} is missing{detail}"
    if outcome is TestOutcome.FAILED:
        return f"test {test.node_id} failed" + (f": {test.detail}" if test.detail else "")
    if outcome is TestOutcome.SKIPPED:
        return f"test {test.node_id} was skipped{detail}"
    if outcome is TestOutcome.NOT_RUN:
        return f"test {test.node_id} has no result{detail}"
    return f"test {test.node_id} was not checked{detail}"


def control_problems(evidence: ControlEvidence) -> list[str]:
    """Why a control is not proven, one phrase per failing test (empty when proven)."""
    if not evidence.tests:
        return ["it lists no evidence tests"]
    return [_test_problem(t) for t in evidence.tests if t.outcome is not TestOutcome.PASSED]


def _unchecked(model: ThreatModel, control_id: str) -> ControlEvidence:
    control = model.controls.get(control_id)
    tests = control.tests if control is not None else ()
    return ControlEvidence(
        control_id,
        tuple(TestEvidence(t, TestOutcome.UNKNOWN, "evidence not checked") for t in tests),
    )


def _mitigation(
    model: ThreatModel,
    threat: Threat,
    control_ids: Sequence[str],
    evidence: EvidenceReport | None,
    *,
    how: str,
) -> tuple[ThreatStatus, str, tuple[ControlEvidence, ...]]:
    """Status, reason and control evidence of a mitigation relying on ``control_ids``."""
    ids = tuple(dict.fromkeys(control_ids))
    names = ", ".join(ids)
    plural = "controls" if len(ids) > 1 else "control"
    if evidence is None:
        controls = tuple(_unchecked(model, c) for c in ids)
        return (
            ThreatStatus.OPEN,
            f"{threat.id} is open: mitigation by {plural} {names} ({how}) not proven: "
            "evidence not checked",
            controls,
        )
    controls = tuple(evidence.controls.get(c) or ControlEvidence(c, ()) for c in ids)
    problems: list[str] = []
    for control in controls:
        for phrase in control_problems(control):
            problems.append(f"mitigation by control {control.control_id} not proven: {phrase}")
    if problems:
        return ThreatStatus.OPEN, f"{threat.id} is open: " + "; ".join(problems), controls
    return (
        ThreatStatus.MITIGATED,
        f"mitigated by {plural} {names} ({how}): every evidence test passed",
        controls,
    )


def _assess_one(
    model: ThreatModel,
    threat: Threat,
    entry: TriageEntry | None,
    evidence: EvidenceReport | None,
    today: dt.date,
) -> AssessedThreat:
    where = f"triage entry {entry.ref}" if entry is not None else ""
    if entry is None:
        if threat.candidate_controls:
            status, reason, controls = _mitigation(
                model,
                threat,
                threat.candidate_controls,
                evidence,
                how=f"on {threat.element_kind} {threat.element_id}",
            )
            return AssessedThreat(threat, status, None, reason, None, controls)
        return AssessedThreat(
            threat,
            ThreatStatus.OPEN,
            None,
            f"{threat.id} is open: no triage entry, and {threat.element_kind} "
            f"{threat.element_id} has no control that mitigates it",
        )
    declared = entry.status
    expired = entry.expires is not None and today > entry.expires
    if (declared in _HONOURED or declared is ThreatStatus.MITIGATED) and expired:
        assert entry.expires is not None
        word = _DECISION_WORD[declared]
        return AssessedThreat(
            threat,
            ThreatStatus.OPEN,
            declared,
            f"{threat.id} is open: {word} expired on {entry.expires.isoformat()} ({where})",
            entry,
        )
    if declared is ThreatStatus.MITIGATED:
        if not entry.mitigated_by:
            return AssessedThreat(
                threat,
                ThreatStatus.OPEN,
                declared,
                f"{threat.id} is open: {where} says mitigated but names no control (mitigated_by)",
                entry,
            )
        status, reason, controls = _mitigation(
            model, threat, entry.mitigated_by, evidence, how=where
        )
        return AssessedThreat(threat, status, declared, reason, entry, controls)
    if declared in _HONOURED:
        text = declared.value.replace("_", " ")
        reason = f"{text} ({where})"
        if entry.justification:
            reason += f": {entry.justification.strip()}"
        if entry.expires is not None:
            reason += f" (until {entry.expires.isoformat()})"
        return AssessedThreat(threat, declared, declared, reason, entry)
    if declared is ThreatStatus.IN_PROGRESS:
        reason = f"{threat.id} is in progress ({where})"
        if entry.ticket:
            reason += f", ticket {entry.ticket}"
        return AssessedThreat(threat, ThreatStatus.IN_PROGRESS, declared, reason, entry)
    return AssessedThreat(
        threat, ThreatStatus.OPEN, declared, f"{threat.id} is open ({where})", entry
    )


def assess(
    model: ThreatModel,
    threats: Sequence[Threat],
    evidence: EvidenceReport | None,
    *,
    today: dt.date,
) -> Analysis:
    """Apply triage, evidence and expiry to ``threats``; ``rules_count`` is left at 0 (the
    caller that loaded the rules sets it, as :func:`analyze` does)."""
    triage = _Triage(model.triage)
    assessed = [
        _assess_one(model, threat, triage.match(threat.id), evidence, today)
        for threat in sorted(threats, key=lambda t: t.id)
    ]
    return Analysis(
        model=model,
        threats=tuple(assessed),
        rules_count=0,
        evidence=evidence,
        stale_triage=triage.stale(),
    )


def analyze_model(
    model: ThreatModel,
    *,
    rule_paths: Sequence[Path] = (),
    builtin_rules: bool = True,
    junit: Sequence[Path] = (),
    collect: bool = True,
    root: Path | None = None,
    check_evidence: bool = True,
    today: dt.date | None = None,
    python: str | None = None,
) -> Analysis:
    """Derive, gather evidence and assess an already loaded model."""
    from turbosec.threats.evidence import collect_evidence
    from turbosec.threats.rules import derive_threats, load_rules

    rules = load_rules(list(rule_paths), builtin=builtin_rules)
    threats = derive_threats(model, rules)
    evidence = None
    if check_evidence:
        evidence = collect_evidence(
            model, root=root or Path.cwd(), junit=junit, collect=collect, python=python
        )
    analysis = assess(model, threats, evidence, today=today or dt.date.today())
    return dataclasses.replace(analysis, rules_count=len(rules))


def analyze(
    model_path: Path,
    *,
    rule_paths: Sequence[Path] = (),
    builtin_rules: bool = True,
    junit: Sequence[Path] = (),
    collect: bool = True,
    root: Path | None = None,
    check_evidence: bool = True,
    today: dt.date | None = None,
    display_name: str | None = None,
) -> Analysis:
    """Load the model at ``model_path``, derive its threats, check evidence, assess.

    ``display_name`` is how messages and source references call the model file.

    ``root`` is where pytest runs and node ids are relative to (default: the current
    directory).  Raises ModelError, RuleError or EvidenceError.
    """
    from turbosec.threats.loader import load_model

    model = load_model(Path(model_path), name=display_name)
    return analyze_model(
        model,
        rule_paths=rule_paths,
        builtin_rules=builtin_rules,
        junit=junit,
        collect=collect,
        root=root,
        check_evidence=check_evidence,
        today=today,
    )
