"""The threat analysis as JSON (``"version": 1``): model summary, every assessed threat with
all its fields and the evidence of each control it relies on, stale triage entries.

Keys are sorted and lists ordered by id, so the same analysis gives the same bytes.
"""

from __future__ import annotations

from typing import Any

import orjson

from turbosec.threats.model import (
    Analysis,
    AssessedThreat,
    ControlEvidence,
    EvidenceReport,
    SourceRef,
    ThreatModel,
    TriageEntry,
)
from turbosec.threats.report._common import (
    SEVERITY_ORDER,
    STATUS_ORDER,
    count,
    stride_labels,
)

SCHEMA_VERSION = 1


def _ref(ref: SourceRef) -> dict[str, Any]:
    return {"file": ref.file, "line": ref.line}


def _triage(entry: TriageEntry) -> dict[str, Any]:
    return {
        "pattern": entry.pattern,
        "status": entry.status.value,
        "ref": _ref(entry.ref),
        "mitigated_by": list(entry.mitigated_by),
        "justification": entry.justification,
        "ticket": entry.ticket,
        "expires": entry.expires.isoformat() if entry.expires is not None else None,
        "external_id": entry.external_id,
    }


def _control_evidence(evidence: ControlEvidence) -> dict[str, Any]:
    return {
        "control_id": evidence.control_id,
        "proven": evidence.proven,
        "tests": [
            {"node_id": t.node_id, "outcome": t.outcome.value, "detail": t.detail}
            for t in sorted(evidence.tests, key=lambda t: (t.node_id, t.outcome.value))
        ],
    }


def _threat(item: AssessedThreat) -> dict[str, Any]:
    threat = item.threat
    return {
        "id": threat.id,
        "rule_id": threat.rule_id,
        "title": threat.title,
        "element_kind": threat.element_kind,
        "element_id": threat.element_id,
        "component_id": threat.component_id,
        "stride": stride_labels(threat.stride),
        "severity": threat.severity.label,
        "explanation": threat.explanation,
        "ref": _ref(threat.ref),
        "cwe": sorted(set(threat.cwe)),
        "capec": sorted(set(threat.capec)),
        "description": threat.description,
        "mitigation": threat.mitigation,
        "candidate_controls": list(threat.candidate_controls),
        "references": list(threat.references),
        "status": item.status.value,
        "declared_status": item.declared_status.value if item.declared_status else None,
        "open": item.is_open,
        "reason": item.reason,
        "triage": _triage(item.triage) if item.triage is not None else None,
        "controls": [
            _control_evidence(e) for e in sorted(item.controls, key=lambda e: e.control_id)
        ],
    }


def _model(model: ThreatModel) -> dict[str, Any]:
    components = model.components
    return {
        "name": model.name,
        "owner": model.owner,
        "description": model.description,
        "path": model.path,
        "files": list(model.files),
        "counts": {
            "boundaries": len(model.boundaries),
            "components": len(components),
            "controls": len(model.controls),
            "data": len(model.data),
            "flows": len(model.flows),
            "triage": len(model.triage),
        },
        "components": [
            {
                "id": c.id,
                "name": c.name,
                "kind": c.kind.value,
                "boundary": c.boundary,
                "ref": _ref(c.ref),
            }
            for c in (components[k] for k in sorted(components))
        ],
        "flows": [
            {
                "id": f.id,
                "source": f.source,
                "target": f.target,
                "protocol": f.protocol,
                "authentication": f.authentication,
                "ref": _ref(f.ref),
            }
            for f in (model.flows[k] for k in sorted(model.flows))
        ],
    }


def _evidence(evidence: EvidenceReport | None) -> dict[str, Any] | None:
    if evidence is None:
        return None
    return {
        "collected": evidence.collected,
        "junit_files": sorted(evidence.junit_files),
        "warnings": list(evidence.warnings),
        "controls": {
            cid: _control_evidence(evidence.controls[cid]) for cid in sorted(evidence.controls)
        },
    }


def analysis_document(analysis: Analysis) -> dict[str, Any]:
    """The JSON document as a dict (what :func:`render_json` serialises)."""
    counts = count(analysis.threats)
    summary = {
        "threats": counts.total,
        "open": counts.open,
        "by_status": {s.value: counts.by_status(s) for s in STATUS_ORDER},
        "by_severity": {s.label: counts.by_severity(s) for s in SEVERITY_ORDER},
        "open_by_severity": {s.label: counts.open_by_severity(s) for s in SEVERITY_ORDER},
        "by_status_and_severity": {
            status.value: {sev.label: counts.get(status, sev) for sev in SEVERITY_ORDER}
            for status in STATUS_ORDER
        },
    }
    return {
        "version": SCHEMA_VERSION,
        "model": _model(analysis.model),
        "rules_count": analysis.rules_count,
        "summary": summary,
        "threats": [_threat(t) for t in sorted(analysis.threats, key=lambda t: t.threat.id)],
        "evidence": _evidence(analysis.evidence),
        "stale_triage": [
            _triage(e) for e in sorted(analysis.stale_triage, key=lambda e: (e.ref, e.pattern))
        ],
        "warnings": list(analysis.warnings),
    }


def render_json(analysis: Analysis) -> bytes:
    """The analysis as UTF-8 JSON, keys sorted, two-space indent, final newline."""
    return orjson.dumps(
        analysis_document(analysis),
        option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE,
    )
