"""SARIF 2.1.0: schema-valid, rules from threats, results at model lines, suppressions."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from jsonschema import Draft4Validator

from tests.threats.report.sample import big_analysis, make_analysis
from turbosec.threats.model import SourceRef
from turbosec.threats.report.sarif import artifact_location, render_sarif


def _doc(**kwargs: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(render_sarif(make_analysis(**kwargs)))
    return data


def _assert_valid(document: dict[str, Any], schema: dict[str, Any]) -> None:
    errors = sorted(Draft4Validator(schema).iter_errors(document), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def test_valid_against_the_sarif_schema(sarif_schema: dict[str, Any]) -> None:
    _assert_valid(_doc(), sarif_schema)
    _assert_valid(_doc(hostile=True), sarif_schema)
    _assert_valid(json.loads(render_sarif(big_analysis())), sarif_schema)
    empty = replace(make_analysis(), threats=())
    _assert_valid(json.loads(render_sarif(empty)), sarif_schema)


def test_driver_and_rules_come_from_threats() -> None:
    doc = _doc()
    assert doc["version"] == "2.1.0"
    (run,) = doc["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "turbosec-threats"
    rules = driver["rules"]
    assert [r["id"] for r in rules] == [
        "TM-AUTH-001",
        "TM-CSRF-001",
        "TM-DOS-001",
        "TM-FLOW-001",
        "TM-LOG-001",
    ]
    flow = rules[3]
    assert flow["name"] == "TitleOfTMFLOW001"
    assert flow["shortDescription"] == {"text": "Title of TM-FLOW-001"}
    assert flow["fullDescription"] == {"text": "Description of TM-FLOW-001."}
    assert "Mitigation: Fix TM-FLOW-001." in flow["help"]["text"]
    assert flow["helpUri"] == "https://cwe.mitre.org/data/definitions/311.html"
    tags = flow["properties"]["tags"]
    assert {"tampering", "information_disclosure", "CWE-311", "CWE-319"} <= set(tags)
    assert flow["properties"]["security-severity"] == "9.5"
    assert flow["defaultConfiguration"] == {"level": "error"}
    # Two threats of one rule give one rule entry.
    assert sum(1 for r in rules if r["id"] == "TM-DOS-001") == 1


def test_results_point_at_model_lines_with_fingerprints() -> None:
    run = _doc()["runs"][0]
    results = {r["partialFingerprints"]["turbosecThreatId/v1"]: r for r in run["results"]}
    assert len(results) == 6
    flow = results["TM-FLOW-001@web-to-db"]
    assert flow["ruleId"] == "TM-FLOW-001"
    assert run["tool"]["driver"]["rules"][flow["ruleIndex"]]["id"] == "TM-FLOW-001"
    assert flow["level"] == "error"
    assert flow["message"]["text"] == (
        "Title of TM-FLOW-001. TM-FLOW-001 fired on web-to-db. Status: open (no triage entry)."
    )
    physical = flow["locations"][0]["physicalLocation"]
    assert physical == {
        "artifactLocation": {"uri": "threatmodel.yaml", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 36},
    }
    assert "suppressions" not in flow
    assert results["TM-CSRF-001@browser-to-web"]["level"] == "warning"
    assert results["TM-LOG-001@billing"]["level"] == "note"
    assert "suppressions" not in results["TM-LOG-001@billing"]  # in progress counts as open
    billing = results["TM-LOG-001@billing"]["locations"][0]["physicalLocation"]
    assert billing["artifactLocation"]["uri"] == "services/billing.yaml"


def test_closed_threats_carry_suppressions() -> None:
    run = _doc()["runs"][0]
    results = {r["partialFingerprints"]["turbosecThreatId/v1"]: r for r in run["results"]}
    accepted = results["TM-DOS-001@web"]["suppressions"]
    assert accepted == [
        {
            "kind": "external",
            "status": "accepted",
            "justification": "Rate limits at the CDN.",
            "properties": {
                "source": "threatmodel.yaml:78",
                "expires": "2027-06-30",
                "ticket": "SEC-77",
            },
        }
    ]
    mitigated = results["TM-AUTH-001@web"]["suppressions"][0]
    assert mitigated["justification"] == (
        "mitigated by ctl-lockout: tests/test_login.py::test_lockout passed"
    )
    assert results["TM-AUTH-001@web"]["properties"]["controls"] == [
        {
            "id": "ctl-lockout",
            "proven": True,
            "tests": [{"nodeId": "tests/test_login.py::test_lockout", "outcome": "passed"}],
        }
    ]
    open_ids = sorted(k for k, r in results.items() if "suppressions" not in r)
    assert open_ids == [
        "TM-CSRF-001@browser-to-web",
        "TM-FLOW-001@web-to-db",
        "TM-LOG-001@billing",
    ]


def test_included_files_are_joined_to_the_model_directory() -> None:
    analysis = make_analysis()
    model = replace(analysis.model, path="deploy/threatmodel.yaml")
    assert artifact_location(model, "deploy/threatmodel.yaml") == {
        "uri": "deploy/threatmodel.yaml",
        "uriBaseId": "%SRCROOT%",
    }
    assert artifact_location(model, "services/billing.yaml")["uri"] == (
        "deploy/services/billing.yaml"
    )
    # An include's reference is always relative to the main model's directory.
    assert artifact_location(model, "deploy/b.yaml")["uri"] == "deploy/deploy/b.yaml"
    assert artifact_location(replace(model, path="./m.yaml"), "./m.yaml")["uri"] == "m.yaml"
    assert artifact_location(model, "/abs/model file.yaml") == {
        "uri": "file:///abs/model%20file.yaml"
    }
    moved = replace(analysis, model=model)
    doc = json.loads(render_sarif(moved))
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in doc["runs"][0]["results"]
    }
    assert uris == {"deploy/threatmodel.yaml", "deploy/services/billing.yaml"}


def test_line_zero_has_no_region() -> None:
    analysis = make_analysis()
    item = analysis.threats[0]
    threat = replace(item.threat, ref=SourceRef("threatmodel.yaml", 0))
    doc = json.loads(render_sarif(replace(analysis, threats=(replace(item, threat=threat),))))
    physical = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert "region" not in physical


def test_deterministic() -> None:
    raw = render_sarif(make_analysis())
    assert render_sarif(make_analysis()) == raw
    assert render_sarif(make_analysis(shuffled=True)) == raw
    assert raw.endswith(b"\n")
