"""Open threats become core findings for the gate."""

from __future__ import annotations

import hashlib
from pathlib import Path

from turbosec.core.finding import Category, Finding
from turbosec.core.severity import Severity
from turbosec.threats.findings import model_file_path, threat_fingerprint, to_findings
from turbosec.threats.model import (
    Analysis,
    AssessedThreat,
    SourceRef,
    Stride,
    Threat,
    ThreatModel,
    ThreatStatus,
)


def make_model(path: str = "threatmodel.yaml") -> ThreatModel:
    return ThreatModel(
        name="Shop",
        owner="team",
        path=path,
        files=(path, "services/billing.yaml"),
        data={},
        boundaries={},
        components={},
        flows={},
        controls={},
    )


def make_threat(
    tid: str, severity: Severity = Severity.HIGH, ref: SourceRef | None = None
) -> Threat:
    rule, _, element = tid.partition("@")
    return Threat(
        id=tid,
        rule_id=rule,
        title=f"Title of {rule}",
        element_kind="component",
        element_id=element,
        component_id=element,
        stride=(Stride.SPOOFING,),
        severity=severity,
        explanation=f"{element} checks passwords",
        ref=ref or SourceRef("threatmodel.yaml", 7),
        cwe=(307,),
        mitigation="Lock accounts after five failures.",
        references=("https://cwe.mitre.org/data/definitions/307.html",),
    )


def assessed(threat: Threat, status: ThreatStatus, reason: str = "why") -> AssessedThreat:
    return AssessedThreat(threat, status, None, reason)


def analysis_of(*items: AssessedThreat, model: ThreatModel | None = None) -> Analysis:
    return Analysis(
        model=model or make_model(),
        threats=tuple(sorted(items, key=lambda a: a.threat.id)),
        rules_count=3,
    )


def test_open_threats_become_findings() -> None:
    analysis = analysis_of(
        assessed(make_threat("TM-B-001@web"), ThreatStatus.OPEN, "TM-B-001@web is open: x"),
        assessed(make_threat("TM-A-001@web"), ThreatStatus.IN_PROGRESS, "in progress"),
        assessed(make_threat("TM-C-001@web"), ThreatStatus.MITIGATED),
        assessed(make_threat("TM-D-001@web"), ThreatStatus.ACCEPTED),
        assessed(make_threat("TM-E-001@web"), ThreatStatus.FALSE_POSITIVE),
        assessed(make_threat("TM-F-001@web"), ThreatStatus.TRANSFERRED),
    )
    findings = to_findings(analysis)
    assert [f.rule_id for f in findings] == ["TM-A-001", "TM-B-001"]
    finding = findings[1]
    assert finding.tool == "threats"
    assert finding.category is Category.THREAT
    assert finding.severity is Severity.HIGH
    assert finding.title == "Title of TM-B-001"
    assert finding.message == "web checks passwords. TM-B-001@web is open: x"
    assert finding.location is not None
    assert (finding.location.path, finding.location.start_line) == ("threatmodel.yaml", 7)
    assert finding.cwe == (307,)
    assert finding.fix_hint == "Lock accounts after five failures."
    assert finding.references == ("https://cwe.mitre.org/data/definitions/307.html",)
    assert finding.raw is not None and finding.raw["threat_id"] == "TM-B-001@web"
    assert finding.gating
    # a finding survives the report round trip the gate and the hub use
    assert Finding.from_dict(finding.to_dict()) == finding


def test_min_severity_filters() -> None:
    analysis = analysis_of(
        assessed(make_threat("TM-A-001@web", Severity.LOW), ThreatStatus.OPEN),
        assessed(make_threat("TM-B-001@web", Severity.MEDIUM), ThreatStatus.OPEN),
        assessed(make_threat("TM-C-001@web", Severity.CRITICAL), ThreatStatus.OPEN),
    )
    findings = to_findings(analysis, min_severity=Severity.MEDIUM)
    assert [f.rule_id for f in findings] == ["TM-B-001", "TM-C-001"]


def test_fingerprint_depends_on_the_threat_id_only() -> None:
    one = make_threat("TM-A-001@web", ref=SourceRef("threatmodel.yaml", 7))
    moved = make_threat("TM-A-001@web", ref=SourceRef("threatmodel.yaml", 70))
    other = make_threat("TM-A-001@api")
    prints = [
        to_findings(analysis_of(assessed(t, ThreatStatus.OPEN)))[0].fingerprint
        for t in (one, moved, other)
    ]
    assert prints[0] == prints[1] != prints[2]
    expected = hashlib.sha256(b"v1\x00threats\x00TM-A-001@web\x00").hexdigest()[:32]
    assert prints[0] == threat_fingerprint("TM-A-001@web") == expected


def test_include_paths_are_relative_to_the_repository() -> None:
    model = make_model("examples/shop/threatmodel.yaml")
    threat = make_threat("TM-A-001@billing", ref=SourceRef("services/billing.yaml", 12))
    main = make_threat("TM-A-001@web", ref=SourceRef("examples/shop/threatmodel.yaml", 3))
    analysis = analysis_of(
        assessed(threat, ThreatStatus.OPEN), assessed(main, ThreatStatus.OPEN), model=model
    )
    paths = [f.location.display() for f in to_findings(analysis) if f.location]
    assert paths == [
        "examples/shop/services/billing.yaml:12",
        "examples/shop/threatmodel.yaml:3",
    ]


def test_absolute_model_paths_are_made_relative_to_root(tmp_path: Path) -> None:
    model_file = tmp_path / "sub" / "threatmodel.yaml"
    model = make_model(str(model_file))
    analysis = analysis_of(model=model)
    assert model_file_path(analysis, SourceRef(str(model_file), 1), tmp_path) == (
        "sub/threatmodel.yaml"
    )
    assert model_file_path(analysis, SourceRef("inc/x.yaml", 1), tmp_path) == "sub/inc/x.yaml"
    dotted = analysis_of(model=make_model("./threatmodel.yaml"))
    assert model_file_path(dotted, SourceRef("./threatmodel.yaml", 1)) == "threatmodel.yaml"
    assert model_file_path(dotted, SourceRef("inc/x.yaml", 1)) == "inc/x.yaml"


def test_order_is_deterministic() -> None:
    items = [assessed(make_threat(f"TM-X-{n:03d}@web"), ThreatStatus.OPEN) for n in (3, 1, 2)]
    first = to_findings(analysis_of(*items))
    second = to_findings(analysis_of(*reversed(items)))
    assert first == second
    assert [f.rule_id for f in first] == ["TM-X-001", "TM-X-002", "TM-X-003"]
