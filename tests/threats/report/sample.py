"""Analyses built directly from the domain types, for the report tests.

``make_analysis`` gives a small shop: a browser outside, a web app in a DMZ nested in the
corporate network, a database and a queue inside, one included file; threats in every
status, controls with passing, failing and missing tests, a stale triage entry and a
warning.  ``hostile=True`` puts markup, pipes, quotes, backticks, newlines and terminal
escapes into every piece of free text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import replace
from typing import TypeVar

from turbosec.core.severity import Severity
from turbosec.threats.model import (
    Analysis,
    AssessedThreat,
    Boundary,
    Component,
    ComponentKind,
    Control,
    ControlEvidence,
    EvidenceReport,
    Flow,
    SourceRef,
    Stride,
    TestEvidence,
    TestOutcome,
    Threat,
    ThreatModel,
    ThreatStatus,
    TriageEntry,
)

HOSTILE = (
    'Evil </script><script>alert(1)</script> | pipe `tick` "quote" \\back\n'
    "# heading [link](javascript:alert(1)) <img src=x onerror=alert(1)> "
    '%%{init: {"securityLevel": "loose"}}%% & @everyone \x1b[31mred\x1b[0m'
)
MAIN = "threatmodel.yaml"
INCLUDED = "services/billing.yaml"

T = TypeVar("T")


def _ref(line: int, file: str = MAIN) -> SourceRef:
    return SourceRef(file, line)


def _reverse(mapping: Mapping[str, T]) -> dict[str, T]:
    return dict(reversed(list(mapping.items())))


def make_model(*, hostile: bool = False, names: Mapping[str, str] | None = None) -> ThreatModel:
    """The shop model; ``names`` overrides component names by id."""
    text = HOSTILE if hostile else ""
    names = dict(names or {})

    def name(cid: str, default: str) -> str:
        return names.get(cid, (default + " " + text) if hostile else default)

    boundaries = {
        "corp": Boundary("corp", "Corporate network" + (" " + text if hostile else ""), _ref(3)),
        "dmz": Boundary("dmz", "DMZ", _ref(5), parent="corp"),
        "internet": Boundary("internet", "Internet", _ref(7)),
        "empty": Boundary("empty", "Nothing inside", _ref(9)),
    }
    components = {
        "browser": Component(
            "browser",
            name("browser", "Customer browser"),
            ComponentKind.EXTERNAL_ENTITY,
            _ref(12),
            boundary="internet",
        ),
        "web": Component(
            "web",
            name("web", "Web shop"),
            ComponentKind.PROCESS,
            _ref(16),
            boundary="dmz",
            technology="django" + (" " + text if hostile else ""),
            properties=frozenset({"internet_facing", "authenticates_users"}),
            controls=("ctl-lockout", "ctl-csrf"),
        ),
        "db": Component(
            "db", name("db", "Orders DB"), ComponentKind.DATASTORE, _ref(24), boundary="corp"
        ),
        "jobs": Component(
            "jobs", name("jobs", "Job queue"), ComponentKind.QUEUE, _ref(3, INCLUDED), "corp"
        ),
        "billing": Component(
            "billing", name("billing", "Billing worker"), ComponentKind.PROCESS, _ref(8, INCLUDED)
        ),
    }
    flows = {
        "browser-to-web": Flow(
            "browser-to-web",
            "browser",
            "web",
            "https",
            _ref(30),
            authentication="session",
            controls=("ctl-csrf",),
        ),
        "web-to-db": Flow("web-to-db", "web", "db", "sql", _ref(36), authentication="password"),
        "web-to-jobs": Flow("web-to-jobs", "web", "jobs", "amqp", _ref(40)),
        "jobs-to-billing": Flow("jobs-to-billing", "jobs", "billing", "amqps", _ref(12, INCLUDED)),
    }
    controls = {
        "ctl-lockout": Control(
            "ctl-lockout",
            "account_lockout",
            _ref(50),
            tests=("tests/test_login.py::test_lockout",),
        ),
        "ctl-csrf": Control(
            "ctl-csrf", "csrf_protection", _ref(54), tests=("tests/test_csrf.py::test_token",)
        ),
        "ctl-tls": Control("ctl-tls", "encryption_in_transit", _ref(58), tickets=("SEC-9",)),
    }
    triage = _triage(text)
    return ThreatModel(
        name="Demo shop" + (" " + text if hostile else ""),
        owner="team-payments" + (" " + text if hostile else ""),
        path=MAIN,
        files=(MAIN, INCLUDED),
        data={},
        boundaries=boundaries,
        components=components,
        flows=flows,
        controls=controls,
        triage=triage,
        description=("A small shop. " + text) if hostile else "A small shop.",
    )


def _triage(text: str) -> tuple[TriageEntry, ...]:
    return (
        TriageEntry(
            "TM-AUTH-001@web",
            ThreatStatus.MITIGATED,
            _ref(70),
            mitigated_by=("ctl-lockout",),
            ticket="SEC-42",
        ),
        TriageEntry(
            "TM-CSRF-001@*",
            ThreatStatus.MITIGATED,
            _ref(74),
            mitigated_by=("ctl-csrf",),
        ),
        TriageEntry(
            "TM-DOS-001@*",
            ThreatStatus.ACCEPTED,
            _ref(78),
            justification="Rate limits at the CDN. " + text,
            ticket="SEC-77",
            expires=dt.date(2027, 6, 30),
        ),
        TriageEntry(
            "TM-OLD-999@gone",
            ThreatStatus.FALSE_POSITIVE,
            _ref(84),
            justification="Removed service " + text,
        ),
    )


def _threat(
    rule: str,
    element: str,
    *,
    kind: str = "component",
    component: str | None = None,
    severity: Severity = Severity.MEDIUM,
    stride: tuple[Stride, ...] = (Stride.SPOOFING,),
    cwe: tuple[int, ...] = (),
    capec: tuple[int, ...] = (),
    ref: SourceRef | None = None,
    text: str = "",
    candidates: tuple[str, ...] = (),
) -> Threat:
    return Threat(
        id=f"{rule}@{element}",
        rule_id=rule,
        title=f"Title of {rule}" + (" " + text if text else ""),
        element_kind=kind,
        element_id=element,
        component_id=component or element,
        stride=stride,
        severity=severity,
        explanation=f"{rule} fired on {element}." + (" " + text if text else ""),
        ref=ref or _ref(16),
        cwe=cwe,
        capec=capec,
        description=f"Description of {rule}." + (" " + text if text else ""),
        mitigation=f"Fix {rule}." + (" " + text if text else ""),
        candidate_controls=candidates,
        references=(f"https://example.org/{rule}",),
    )


def _evidence() -> dict[str, ControlEvidence]:
    return {
        "ctl-lockout": ControlEvidence(
            "ctl-lockout",
            (TestEvidence("tests/test_login.py::test_lockout", TestOutcome.PASSED),),
        ),
        "ctl-csrf": ControlEvidence(
            "ctl-csrf",
            (
                TestEvidence(
                    "tests/test_csrf.py::test_token",
                    TestOutcome.MISSING,
                    "node id not found by pytest --collect-only",
                ),
            ),
        ),
        "ctl-tls": ControlEvidence("ctl-tls", ()),
    }


def make_analysis(
    *,
    hostile: bool = False,
    names: Mapping[str, str] | None = None,
    shuffled: bool = False,
    with_evidence: bool = True,
) -> Analysis:
    """The assessed shop.  ``shuffled`` builds the same analysis with every mapping and
    tuple in reverse order (a report must not depend on it)."""
    text = HOSTILE if hostile else ""
    model = make_model(hostile=hostile, names=names)
    triage = {t.pattern: t for t in model.triage}
    evidence = _evidence()
    threats = [
        AssessedThreat(
            _threat(
                "TM-AUTH-001",
                "web",
                severity=Severity.HIGH,
                cwe=(307,),
                capec=(49,),
                text=text,
                candidates=("ctl-lockout",),
            ),
            ThreatStatus.MITIGATED,
            ThreatStatus.MITIGATED,
            "mitigated by ctl-lockout: tests/test_login.py::test_lockout passed",
            triage=triage["TM-AUTH-001@web"],
            controls=(evidence["ctl-lockout"],),
        ),
        AssessedThreat(
            _threat(
                "TM-CSRF-001",
                "browser-to-web",
                kind="flow",
                component="web",
                severity=Severity.MEDIUM,
                stride=(Stride.TAMPERING, Stride.SPOOFING),
                cwe=(352,),
                ref=_ref(30),
                text=text,
            ),
            ThreatStatus.OPEN,
            ThreatStatus.MITIGATED,
            "threat TM-CSRF-001@browser-to-web relies on control ctl-csrf but its test "
            "tests/test_csrf.py::test_token is missing" + (" " + text if text else ""),
            triage=triage["TM-CSRF-001@*"],
            controls=(evidence["ctl-csrf"],),
        ),
        AssessedThreat(
            _threat(
                "TM-FLOW-001",
                "web-to-db",
                kind="flow",
                component="db",
                severity=Severity.CRITICAL,
                stride=(Stride.INFORMATION_DISCLOSURE, Stride.TAMPERING),
                cwe=(319, 311),
                ref=_ref(36),
                text=text,
            ),
            ThreatStatus.OPEN,
            None,
            "no triage entry",
        ),
        AssessedThreat(
            _threat("TM-DOS-001", "web", severity=Severity.LOW, stride=(Stride.DENIAL_OF_SERVICE,)),
            ThreatStatus.ACCEPTED,
            ThreatStatus.ACCEPTED,
            "accepted until 2027-06-30",
            triage=triage["TM-DOS-001@*"],
        ),
        AssessedThreat(
            _threat(
                "TM-DOS-001",
                "jobs",
                severity=Severity.LOW,
                stride=(Stride.DENIAL_OF_SERVICE,),
                ref=_ref(3, INCLUDED),
            ),
            ThreatStatus.ACCEPTED,
            ThreatStatus.ACCEPTED,
            "accepted until 2027-06-30",
            triage=triage["TM-DOS-001@*"],
        ),
        AssessedThreat(
            _threat(
                "TM-LOG-001",
                "billing",
                severity=Severity.INFO,
                stride=(Stride.REPUDIATION,),
                ref=_ref(8, INCLUDED),
            ),
            ThreatStatus.IN_PROGRESS,
            ThreatStatus.IN_PROGRESS,
            "in progress",
        ),
    ]
    report: EvidenceReport | None = EvidenceReport(
        controls=evidence,
        collected=True,
        junit_files=("build/junit.xml",),
        warnings=("JUnit report build/junit.xml has no result for 1 test",),
    )
    if not with_evidence:
        report = None
    stale = (triage["TM-OLD-999@gone"],)
    warnings: tuple[str, ...] = ("rule pack team.yml overrides nothing " + text,)
    if shuffled:
        model = replace(
            model,
            boundaries=_reverse(model.boundaries),
            components=_reverse(model.components),
            flows=_reverse(model.flows),
            controls=_reverse(model.controls),
        )
        threats.reverse()
        if report is not None:
            report = replace(report, controls=_reverse(report.controls))
    return Analysis(
        model=model,
        threats=tuple(threats),
        rules_count=42,
        evidence=report,
        stale_triage=stale,
        warnings=warnings,
    )


def big_analysis(components: int = 50, flows: int = 120, per_component: int = 10) -> Analysis:
    """A generated model of the benchmark's size with ``components * per_component`` threats."""
    kinds = list(ComponentKind)
    boundaries = {
        f"zone-{i}": Boundary(
            f"zone-{i}", f"Zone {i}", _ref(1 + i), parent=f"zone-{i - 1}" if i % 3 else None
        )
        for i in range(8)
    }
    comps = {
        f"svc-{i:03d}": Component(
            f"svc-{i:03d}",
            f"Service {i}",
            kinds[i % len(kinds)],
            _ref(100 + i),
            boundary=f"zone-{i % 8}",
        )
        for i in range(components)
    }
    ids = sorted(comps)
    flow_map = {
        f"f-{i:03d}": Flow(
            f"f-{i:03d}",
            ids[i % components],
            ids[(i * 7 + 3) % components],
            "https" if i % 2 else "http",
            _ref(300 + i),
        )
        for i in range(flows)
    }
    model = ThreatModel(
        name="Big",
        owner="owner",
        path=MAIN,
        files=(MAIN,),
        data={},
        boundaries=boundaries,
        components=comps,
        flows=flow_map,
        controls={},
    )
    statuses = list(ThreatStatus)
    threats = []
    for n, cid in enumerate(ids):
        for r in range(per_component):
            threat = _threat(
                f"TM-R-{r:03d}",
                cid,
                severity=Severity(r % 5),
                cwe=(r + 20,),
                ref=comps[cid].ref,
            )
            status = statuses[(n + r) % len(statuses)]
            threats.append(AssessedThreat(threat, status, None, f"reason {n} {r}"))
    threats.sort(key=lambda t: t.threat.id)
    return Analysis(model=model, threats=tuple(threats), rules_count=40)
