"""The JSON document: version, summary, every threat with all fields, evidence, stale triage."""

from __future__ import annotations

import json
from typing import Any

import orjson

from tests.threats.report.sample import HOSTILE, big_analysis, make_analysis
from turbosec.threats.report.json import render_json


def _doc(**kwargs: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(render_json(make_analysis(**kwargs)))
    return data


def test_document_shape_and_summary() -> None:
    doc = _doc()
    assert doc["version"] == 1
    assert doc["rules_count"] == 42
    assert doc["model"]["name"] == "Demo shop"
    assert doc["model"]["files"] == ["threatmodel.yaml", "services/billing.yaml"]
    assert doc["model"]["counts"] == {
        "boundaries": 4,
        "components": 5,
        "controls": 3,
        "data": 0,
        "flows": 4,
        "triage": 4,
    }
    assert [c["id"] for c in doc["model"]["components"]] == [
        "billing",
        "browser",
        "db",
        "jobs",
        "web",
    ]
    summary = doc["summary"]
    assert summary["threats"] == 6 and summary["open"] == 3
    assert summary["by_status"] == {
        "open": 2,
        "in_progress": 1,
        "mitigated": 1,
        "accepted": 2,
        "transferred": 0,
        "false_positive": 0,
    }
    assert summary["open_by_severity"] == {
        "critical": 1,
        "high": 0,
        "medium": 1,
        "low": 0,
        "info": 1,
    }
    assert summary["by_status_and_severity"]["accepted"]["low"] == 2


def test_every_threat_with_all_fields_and_evidence() -> None:
    doc = _doc()
    ids = [t["id"] for t in doc["threats"]]
    assert ids == sorted(ids) and len(ids) == 6
    csrf = next(t for t in doc["threats"] if t["id"] == "TM-CSRF-001@browser-to-web")
    assert csrf == {
        "id": "TM-CSRF-001@browser-to-web",
        "rule_id": "TM-CSRF-001",
        "title": "Title of TM-CSRF-001",
        "element_kind": "flow",
        "element_id": "browser-to-web",
        "component_id": "web",
        "stride": ["spoofing", "tampering"],
        "severity": "medium",
        "explanation": "TM-CSRF-001 fired on browser-to-web.",
        "ref": {"file": "threatmodel.yaml", "line": 30},
        "cwe": [352],
        "capec": [],
        "description": "Description of TM-CSRF-001.",
        "mitigation": "Fix TM-CSRF-001.",
        "candidate_controls": [],
        "references": ["https://example.org/TM-CSRF-001"],
        "status": "open",
        "declared_status": "mitigated",
        "open": True,
        "reason": (
            "threat TM-CSRF-001@browser-to-web relies on control ctl-csrf but its test "
            "tests/test_csrf.py::test_token is missing"
        ),
        "triage": {
            "pattern": "TM-CSRF-001@*",
            "status": "mitigated",
            "ref": {"file": "threatmodel.yaml", "line": 74},
            "mitigated_by": ["ctl-csrf"],
            "justification": "",
            "ticket": "",
            "expires": None,
            "external_id": "",
        },
        "controls": [
            {
                "control_id": "ctl-csrf",
                "proven": False,
                "tests": [
                    {
                        "node_id": "tests/test_csrf.py::test_token",
                        "outcome": "missing",
                        "detail": "node id not found by pytest --collect-only",
                    }
                ],
            }
        ],
    }
    flow = next(t for t in doc["threats"] if t["id"] == "TM-FLOW-001@web-to-db")
    assert flow["cwe"] == [311, 319] and flow["triage"] is None and flow["declared_status"] is None
    accepted = next(t for t in doc["threats"] if t["id"] == "TM-DOS-001@web")
    assert accepted["triage"]["expires"] == "2027-06-30" and accepted["open"] is False


def test_evidence_and_stale_triage() -> None:
    doc = _doc()
    evidence = doc["evidence"]
    assert evidence["collected"] is True
    assert evidence["junit_files"] == ["build/junit.xml"]
    assert sorted(evidence["controls"]) == ["ctl-csrf", "ctl-lockout", "ctl-tls"]
    assert evidence["controls"]["ctl-lockout"]["proven"] is True
    assert evidence["controls"]["ctl-tls"] == {
        "control_id": "ctl-tls",
        "proven": False,
        "tests": [],
    }
    assert [e["pattern"] for e in doc["stale_triage"]] == ["TM-OLD-999@gone"]
    assert doc["stale_triage"][0]["status"] == "false_positive"
    assert _doc(with_evidence=False)["evidence"] is None


def test_keys_sorted_indented_and_deterministic() -> None:
    raw = render_json(make_analysis())
    assert raw.endswith(b"}\n")
    assert raw.startswith(b'{\n  "evidence": {')
    parsed = orjson.loads(raw)
    again = orjson.dumps(
        parsed, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE
    )
    assert again == raw
    assert render_json(make_analysis()) == raw
    assert render_json(make_analysis(shuffled=True)) == raw


def test_hostile_text_round_trips_as_data() -> None:
    doc = _doc(hostile=True)
    assert doc["model"]["description"] == "A small shop. " + HOSTILE
    assert doc["threats"][0]["title"].endswith(HOSTILE)


def test_big_model() -> None:
    doc = json.loads(render_json(big_analysis()))
    assert len(doc["threats"]) == 500
    assert sum(doc["summary"]["by_status"].values()) == 500
