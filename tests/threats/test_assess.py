"""Assessment: triage matching, evidence and expiry decide each threat's status."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from turbosec.core.severity import Severity
from turbosec.threats.assess import analyze, assess, pattern_regex
from turbosec.threats.model import (
    AssessedThreat,
    Component,
    ComponentKind,
    Control,
    ControlEvidence,
    EvidenceReport,
    SourceRef,
    Stride,
    Threat,
    ThreatModel,
    ThreatStatus,
    TriageEntry,
)
from turbosec.threats.model import TestEvidence as Evid
from turbosec.threats.model import TestOutcome as Outcome

TODAY = dt.date(2026, 11, 28)
LOCKOUT_TEST = "tests/test_login.py::test_lockout"
MFA_TEST = "tests/test_login.py::test_mfa"


def ref(line: int) -> SourceRef:
    return SourceRef("threatmodel.yaml", line)


def make_model(*triage: TriageEntry) -> ThreatModel:
    controls = {
        "ctl-lockout": Control("ctl-lockout", "account_lockout", ref(30), tests=(LOCKOUT_TEST,)),
        "ctl-mfa": Control("ctl-mfa", "mfa", ref(34), tests=(MFA_TEST,)),
        "ctl-ticket": Control("ctl-ticket", "monitoring", ref(38), tickets=("SEC-1",)),
    }
    web = Component(
        "web",
        "Web",
        ComponentKind.PROCESS,
        ref(12),
        controls=("ctl-lockout", "ctl-mfa"),
    )
    return ThreatModel(
        name="Shop",
        owner="team",
        path="threatmodel.yaml",
        files=("threatmodel.yaml",),
        data={},
        boundaries={},
        components={"web": web},
        flows={},
        controls=controls,
        triage=tuple(triage),
    )


def make_threat(
    rule: str = "TM-AUTH-001", element: str = "web", candidates: Sequence[str] = ()
) -> Threat:
    return Threat(
        id=f"{rule}@{element}",
        rule_id=rule,
        title="Brute force on login",
        element_kind="component",
        element_id=element,
        component_id=element,
        stride=(Stride.SPOOFING,),
        severity=Severity.HIGH,
        explanation=f"Component {element} authenticates users without lockout",
        ref=ref(12),
        candidate_controls=tuple(candidates),
    )


def entry(pattern: str, status: ThreatStatus, line: int = 50, **kwargs: object) -> TriageEntry:
    return TriageEntry(pattern, status, ref(line), **kwargs)  # type: ignore[arg-type]


def evidence(outcomes: Mapping[str, Outcome], detail: str = "") -> EvidenceReport:
    """Evidence where each listed test has the given outcome."""
    by_test = {LOCKOUT_TEST: "ctl-lockout", MFA_TEST: "ctl-mfa"}
    controls: dict[str, ControlEvidence] = {"ctl-ticket": ControlEvidence("ctl-ticket", ())}
    for test, control in by_test.items():
        result = outcomes.get(test, Outcome.PASSED)
        controls[control] = ControlEvidence(control, (Evid(test, result, detail),))
    return EvidenceReport(controls=controls, collected=True)


ALL_PASS = evidence({})


def one(
    model: ThreatModel, threat: Threat, report: EvidenceReport | None, today: dt.date = TODAY
) -> AssessedThreat:
    analysis = assess(model, [threat], report, today=today)
    assert len(analysis.threats) == 1
    return analysis.threats[0]


# --------------------------------------------------------------------------- mitigation


def test_declared_mitigation_with_passing_evidence_is_mitigated() -> None:
    model = make_model(
        entry("TM-AUTH-001@web", ThreatStatus.MITIGATED, mitigated_by=("ctl-lockout",))
    )
    result = one(model, make_threat(), ALL_PASS)
    assert result.status is ThreatStatus.MITIGATED
    assert result.declared_status is ThreatStatus.MITIGATED
    assert result.triage is model.triage[0]
    assert [c.control_id for c in result.controls] == ["ctl-lockout"]
    assert not result.is_open


@pytest.mark.parametrize(
    ("outcome", "detail", "phrase"),
    [
        (Outcome.MISSING, "file not found", f"test {LOCKOUT_TEST} is missing (file not found)"),
        (Outcome.FAILED, "assert 4 >= 5", f"test {LOCKOUT_TEST} failed: assert 4 >= 5"),
        (Outcome.SKIPPED, "needs redis", f"test {LOCKOUT_TEST} was skipped (needs redis)"),
        (Outcome.NOT_RUN, "", f"test {LOCKOUT_TEST} has no result"),
        (Outcome.UNKNOWN, "", f"test {LOCKOUT_TEST} was not checked"),
    ],
)
def test_unproven_evidence_reopens_the_threat_naming_threat_control_and_test(
    outcome: Outcome, detail: str, phrase: str
) -> None:
    model = make_model(
        entry("TM-AUTH-001@web", ThreatStatus.MITIGATED, mitigated_by=("ctl-lockout",))
    )
    result = one(model, make_threat(), evidence({LOCKOUT_TEST: outcome}, detail))
    assert result.status is ThreatStatus.OPEN
    assert result.declared_status is ThreatStatus.MITIGATED
    assert result.is_open
    assert result.reason == (
        f"TM-AUTH-001@web is open: mitigation by control ctl-lockout not proven: {phrase}"
    )


def test_every_relied_on_control_must_be_proven() -> None:
    model = make_model(
        entry("TM-AUTH-001@web", ThreatStatus.MITIGATED, mitigated_by=("ctl-lockout", "ctl-mfa"))
    )
    report = evidence({MFA_TEST: Outcome.FAILED}, "boom")
    result = one(model, make_threat(), report)
    assert result.status is ThreatStatus.OPEN
    assert result.reason == (
        f"TM-AUTH-001@web is open: mitigation by control ctl-mfa not proven: "
        f"test {MFA_TEST} failed: boom"
    )
    assert [c.control_id for c in result.controls] == ["ctl-lockout", "ctl-mfa"]


def test_a_control_without_tests_proves_nothing() -> None:
    model = make_model(
        entry("TM-AUTH-001@web", ThreatStatus.MITIGATED, mitigated_by=("ctl-ticket",))
    )
    result = one(model, make_threat(), ALL_PASS)
    assert result.status is ThreatStatus.OPEN
    assert result.reason == (
        "TM-AUTH-001@web is open: mitigation by control ctl-ticket not proven: "
        "it lists no evidence tests"
    )


def test_without_evidence_a_mitigation_stays_open() -> None:
    model = make_model(
        entry("TM-AUTH-001@web", ThreatStatus.MITIGATED, mitigated_by=("ctl-lockout",))
    )
    result = one(model, make_threat(), None)
    assert result.status is ThreatStatus.OPEN
    assert result.reason.startswith("TM-AUTH-001@web is open: mitigation by control ctl-lockout")
    assert result.reason.endswith("evidence not checked")
    # the tests relied on are still listed, as unchecked
    assert result.controls[0].tests == (
        Evid(LOCKOUT_TEST, Outcome.UNKNOWN, "evidence not checked"),
    )


def test_candidate_controls_mitigate_implicitly_when_proven() -> None:
    model = make_model()
    threat = make_threat(candidates=("ctl-lockout", "ctl-mfa"))
    assert one(model, threat, ALL_PASS).status is ThreatStatus.MITIGATED
    failing = one(model, threat, evidence({LOCKOUT_TEST: Outcome.MISSING}, "file not found"))
    assert failing.status is ThreatStatus.OPEN
    assert failing.declared_status is None
    assert f"control ctl-lockout not proven: test {LOCKOUT_TEST} is missing" in failing.reason
    assert one(model, threat, None).status is ThreatStatus.OPEN


def test_no_entry_and_no_candidate_is_open() -> None:
    result = one(make_model(), make_threat(), ALL_PASS)
    assert result.status is ThreatStatus.OPEN
    assert result.declared_status is None
    assert result.reason == (
        "TM-AUTH-001@web is open: no triage entry, and component web has no control "
        "that mitigates it"
    )


def test_triaged_mitigated_without_controls_is_open() -> None:
    result = one(
        make_model(entry("TM-AUTH-001@web", ThreatStatus.MITIGATED)), make_threat(), ALL_PASS
    )
    assert result.status is ThreatStatus.OPEN
    assert "names no control" in result.reason


def test_triage_replaces_candidate_controls() -> None:
    # the entry relies on ctl-mfa only: ctl-lockout's failing test does not matter
    model = make_model(entry("TM-AUTH-001@web", ThreatStatus.MITIGATED, mitigated_by=("ctl-mfa",)))
    threat = make_threat(candidates=("ctl-lockout",))
    result = one(model, threat, evidence({LOCKOUT_TEST: Outcome.FAILED}))
    assert result.status is ThreatStatus.MITIGATED


# --------------------------------------------------------------------------- decisions


@pytest.mark.parametrize(
    "status", [ThreatStatus.ACCEPTED, ThreatStatus.TRANSFERRED, ThreatStatus.FALSE_POSITIVE]
)
def test_decisions_hold_until_they_expire(status: ThreatStatus) -> None:
    model = make_model(
        entry("TM-AUTH-001@web", status, justification="low value", expires=dt.date(2026, 12, 31))
    )
    held = one(model, make_threat(), None, today=dt.date(2026, 12, 31))
    assert held.status is status
    assert not held.is_open
    assert "low value" in held.reason
    assert "until 2026-12-31" in held.reason
    lapsed = one(model, make_threat(), None, today=dt.date(2027, 1, 1))
    assert lapsed.status is ThreatStatus.OPEN
    assert lapsed.declared_status is status
    assert "expired on 2026-12-31" in lapsed.reason
    assert lapsed.reason.startswith("TM-AUTH-001@web is open:")


def test_acceptance_wording() -> None:
    model = make_model(
        entry("TM-AUTH-001@web", ThreatStatus.ACCEPTED, line=61, expires=dt.date(2026, 1, 1))
    )
    result = one(model, make_threat(), None)
    assert result.reason == (
        "TM-AUTH-001@web is open: acceptance expired on 2026-01-01 "
        "(triage entry threatmodel.yaml:61)"
    )


def test_an_expired_mitigation_claim_reopens() -> None:
    model = make_model(
        entry(
            "TM-AUTH-001@web",
            ThreatStatus.MITIGATED,
            mitigated_by=("ctl-lockout",),
            expires=dt.date(2026, 6, 1),
        )
    )
    result = one(model, make_threat(), ALL_PASS)
    assert result.status is ThreatStatus.OPEN
    assert "mitigation claim expired on 2026-06-01" in result.reason


def test_in_progress_counts_as_open() -> None:
    model = make_model(entry("TM-AUTH-001@web", ThreatStatus.IN_PROGRESS, ticket="SEC-9"))
    result = one(model, make_threat(), ALL_PASS)
    assert result.status is ThreatStatus.IN_PROGRESS
    assert result.is_open
    assert "SEC-9" in result.reason


def test_triaged_open_stays_open_even_with_proven_candidates() -> None:
    model = make_model(entry("TM-AUTH-001@web", ThreatStatus.OPEN))
    result = one(model, make_threat(candidates=("ctl-lockout",)), ALL_PASS)
    assert result.status is ThreatStatus.OPEN
    assert result.declared_status is ThreatStatus.OPEN


# --------------------------------------------------------------------------- matching


def test_exact_id_beats_an_earlier_wildcard_and_first_wildcard_wins() -> None:
    model = make_model(
        entry("TM-AUTH-*", ThreatStatus.ACCEPTED, line=50, justification="first"),
        entry("*@web", ThreatStatus.TRANSFERRED, line=54, justification="second"),
        entry("TM-AUTH-001@web", ThreatStatus.FALSE_POSITIVE, line=58, justification="exact"),
    )
    threats = [make_threat(), make_threat(rule="TM-AUTH-002"), make_threat(rule="TM-DOS-001")]
    analysis = assess(model, threats, None, today=TODAY)
    by_id = {a.threat.id: a for a in analysis.threats}
    assert by_id["TM-AUTH-001@web"].status is ThreatStatus.FALSE_POSITIVE
    assert by_id["TM-AUTH-002@web"].status is ThreatStatus.ACCEPTED
    assert by_id["TM-DOS-001@web"].status is ThreatStatus.TRANSFERRED
    assert analysis.stale_triage == ()


def test_stale_entries_are_reported() -> None:
    model = make_model(
        entry("TM-AUTH-001@web", ThreatStatus.ACCEPTED, line=50),
        entry("TM-AUTH-001@gone", ThreatStatus.ACCEPTED, line=54),
        entry("TM-XSS-*", ThreatStatus.ACCEPTED, line=58),
    )
    analysis = assess(model, [make_threat()], None, today=TODAY)
    assert [e.ref.line for e in analysis.stale_triage] == [54, 58]


def test_threats_come_out_sorted_and_rules_count_is_left_to_the_caller() -> None:
    threats = [make_threat(rule="TM-Z-001"), make_threat(rule="TM-A-001")]
    analysis = assess(make_model(), threats, ALL_PASS, today=TODAY)
    assert [a.threat.id for a in analysis.threats] == ["TM-A-001@web", "TM-Z-001@web"]
    assert analysis.evidence is ALL_PASS
    assert analysis.rules_count == 0


@pytest.mark.parametrize(
    ("pattern", "threat_id", "matches"),
    [
        ("TM-AUTH-001@web", "TM-AUTH-001@web", True),
        ("TM-AUTH-*", "TM-AUTH-001@web", True),
        ("*@web", "TM-AUTH-001@webapp", False),
        ("TM-AUTH-00?@web", "TM-AUTH-001@web", True),
        ("TM-AUTH-00?@web", "TM-AUTH-0011@web", False),
        ("TM-[A]*", "TM-A-1@web", False),  # brackets are literal, not a character class
        ("tm-auth-*", "TM-AUTH-001@web", False),  # case-sensitive
        ("TM.AUTH*", "TM-AUTH-001@web", False),  # a dot is literal
    ],
)
def test_pattern_matching(pattern: str, threat_id: str, matches: bool) -> None:
    assert (pattern_regex(pattern).fullmatch(threat_id) is not None) is matches


# --------------------------------------------------------------------------- analyze


ANALYZE_RULES = """\
version: 1
rules:
  - id: TM-TEST-001
    title: Login without lockout
    applies_to: component
    stride: [spoofing]
    severity: {base: high}
    when: {attr: component.authenticates_users, eq: true}
    unless_controls: [account_lockout]
    threat_id: "{rule}@{component}"
    explanation: "{component} checks passwords."
"""

ANALYZE_MODEL = """\
version: 1
system: {name: Shop, owner: team}
components:
  - id: web
    kind: process
    properties: [authenticates_users]
    controls: [ctl-lockout]
  - id: admin
    kind: process
    properties: [authenticates_users]
controls:
  - id: ctl-lockout
    kind: account_lockout
    evidence:
      tests: ["tests/test_login.py::test_lockout_after_five_failures"]
triage:
  - threat: "TM-TEST-001@admin"
    status: accepted
    justification: office only
    expires: 2027-01-31
  - threat: "TM-GONE-*"
    status: false_positive
    justification: rule removed
"""


def test_analyze_runs_the_whole_pipeline(evidence_run: tuple[Path, Path], tmp_path: Path) -> None:
    project, junit = evidence_run
    model_file = tmp_path / "threatmodel.yaml"
    model_file.write_text(ANALYZE_MODEL)
    rules_file = tmp_path / "rules.yml"
    rules_file.write_text(ANALYZE_RULES)
    analysis = analyze(
        model_file,
        rule_paths=[rules_file],
        builtin_rules=False,
        junit=[junit],
        root=project,
        today=dt.date(2027, 1, 31),
    )
    assert analysis.rules_count == 1
    assert analysis.evidence is not None and analysis.evidence.collected
    statuses = {a.threat.id: a.status for a in analysis.threats}
    assert statuses == {
        "TM-TEST-001@admin": ThreatStatus.ACCEPTED,
        "TM-TEST-001@web": ThreatStatus.MITIGATED,
    }
    assert [e.pattern for e in analysis.stale_triage] == ["TM-GONE-*"]

    later = analyze(
        model_file, rule_paths=[rules_file], builtin_rules=False, check_evidence=False,
        today=dt.date(2027, 2, 1),
    )  # fmt: skip
    assert later.evidence is None
    assert {a.threat.id: a.status for a in later.threats} == {
        "TM-TEST-001@admin": ThreatStatus.OPEN,
        "TM-TEST-001@web": ThreatStatus.OPEN,
    }
