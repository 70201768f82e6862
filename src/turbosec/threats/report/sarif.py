"""The threat analysis as SARIF 2.1.0, so threats flow into code scanning, the gate and the hub.

* One run, tool ``turbosec-threats``; its rules are the rules that produced a threat, with
  STRIDE and ``CWE-n`` tags and a ``security-severity`` (the highest among their threats).
* Every threat is a result pointing at the model line that declared its element
  (``uriBaseId`` ``%SRCROOT%``); ``partialFingerprints["turbosecThreatId/v1"]`` is the
  threat id, which never depends on positions.
* A threat that is not open (mitigated with proven evidence, accepted, transferred, false
  positive) keeps its result with an ``external`` / ``accepted`` suppression whose
  justification is the triage justification or the assessment reason.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any
from urllib.parse import quote

import orjson

from turbosec import __version__
from turbosec.core.severity import Severity
from turbosec.report.sarif import (
    LEVELS,
    SARIF_SCHEMA_URI,
    SARIF_VERSION,
    SECURITY_SEVERITY,
    SRCROOT,
    TURBOSEC_URI,
)
from turbosec.threats.model import Analysis, AssessedThreat, ThreatModel
from turbosec.threats.report._common import clean, cwe_url, stride_labels

TOOL_NAME = "turbosec-threats"
FINGERPRINT_KEY = "turbosecThreatId/v1"
_WINDOWS_PATH = re.compile(r"^[A-Za-z]:/")


def artifact_location(model: ThreatModel, file: str) -> dict[str, Any]:
    """Where a model file is, as a SARIF artifact location.

    The main model is referred to as given; an included file's reference is relative to
    the main model's directory, so it is joined to that directory.  Relative paths are URI
    references against ``%SRCROOT%``; absolute paths become ``file:`` URIs.
    """
    path = file.replace("\\", "/")
    main = model.path.replace("\\", "/")
    if path != main and not path.startswith("/") and not _WINDOWS_PATH.match(path):
        path = posixpath.join(posixpath.dirname(main), path)
    path = posixpath.normpath(path) if path else path
    if path.startswith("/"):
        return {"uri": "file://" + quote(path, safe="/")}
    if _WINDOWS_PATH.match(path):
        return {"uri": "file:///" + quote(path, safe="/:")}
    return {"uri": quote(path, safe="/"), "uriBaseId": SRCROOT}


def _pascal(title: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", title)
    return "".join(w[:1].upper() + w[1:] for w in words)


def _rule(rule_id: str, threats: list[AssessedThreat]) -> dict[str, Any]:
    first = threats[0].threat
    severity = max(t.threat.severity for t in threats)
    titles = {t.threat.title for t in threats}
    title = clean(first.title) or rule_id
    name = _pascal(title) if len(titles) == 1 and _pascal(title) else rule_id
    cwes = sorted({c for t in threats for c in t.threat.cwe})
    capecs = sorted({c for t in threats for c in t.threat.capec})
    stride = stride_labels([s for t in threats for s in t.threat.stride])
    description = clean(first.description) or title
    mitigation = clean(first.mitigation)

    text = [title, "", description]
    if mitigation:
        text += ["", f"Mitigation: {mitigation}"]
    if stride:
        text += ["", "STRIDE: " + ", ".join(stride)]
    if cwes:
        text += ["", "CWE: " + ", ".join(f"CWE-{c}" for c in cwes)]
    if capecs:
        text += ["", "CAPEC: " + ", ".join(f"CAPEC-{c}" for c in capecs)]
    rule: dict[str, Any] = {
        "id": rule_id,
        "name": name,
        "shortDescription": {"text": title},
        "fullDescription": {"text": description},
        "defaultConfiguration": {"level": LEVELS[severity]},
        "help": {"text": "\n".join(text)},
    }
    if cwes:
        rule["helpUri"] = cwe_url(cwes[0])
    tags = ["security", "threat-model", *stride, *(f"CWE-{c}" for c in cwes)]
    tags += [f"external/cwe/cwe-{c}" for c in cwes]
    rule["properties"] = {
        "tags": list(dict.fromkeys(tags)),
        "security-severity": SECURITY_SEVERITY[severity],
        "severity": severity.label,
    }
    return rule


def _message(item: AssessedThreat) -> str:
    threat = item.threat
    parts = [clean(threat.title) or threat.rule_id]
    if threat.explanation:
        parts.append(clean(threat.explanation))
    status = f"Status: {item.status.value}"
    if item.reason:
        status += f" ({clean(item.reason)})"
    parts.append(status)
    return ". ".join(p.rstrip(".") for p in parts) + "."


def _result(model: ThreatModel, item: AssessedThreat, rule_index: int) -> dict[str, Any]:
    threat = item.threat
    physical: dict[str, Any] = {"artifactLocation": artifact_location(model, threat.ref.file)}
    if threat.ref.line >= 1:
        physical["region"] = {"startLine": threat.ref.line}
    result: dict[str, Any] = {
        "ruleId": threat.rule_id,
        "ruleIndex": rule_index,
        "level": LEVELS[threat.severity],
        "message": {"text": _message(item)},
        "locations": [
            {
                "physicalLocation": physical,
                "logicalLocations": [
                    {"name": threat.element_id, "kind": threat.element_kind or "element"}
                ],
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: threat.id},
    }
    if not item.is_open:
        entry: dict[str, Any] = {"kind": "external", "status": "accepted"}
        justification = ""
        if item.triage is not None and item.triage.justification:
            justification = clean(item.triage.justification)
        justification = justification or clean(item.reason) or item.status.value
        entry["justification"] = justification
        if item.triage is not None:
            props: dict[str, Any] = {"source": str(item.triage.ref)}
            if item.triage.expires is not None:
                props["expires"] = item.triage.expires.isoformat()
            if item.triage.ticket:
                props["ticket"] = item.triage.ticket
            entry["properties"] = props
        result["suppressions"] = [entry]
    properties: dict[str, Any] = {
        "threatId": threat.id,
        "status": item.status.value,
        "severity": threat.severity.label,
        "stride": stride_labels(threat.stride),
        "elementKind": threat.element_kind,
        "elementId": threat.element_id,
        "componentId": threat.component_id,
    }
    if item.declared_status is not None:
        properties["declaredStatus"] = item.declared_status.value
    if threat.cwe:
        properties["cwe"] = [f"CWE-{c}" for c in sorted(set(threat.cwe))]
    if item.controls:
        properties["controls"] = [
            {
                "id": e.control_id,
                "proven": e.proven,
                "tests": [
                    {"nodeId": t.node_id, "outcome": t.outcome.value}
                    for t in sorted(e.tests, key=lambda t: t.node_id)
                ],
            }
            for e in sorted(item.controls, key=lambda e: e.control_id)
        ]
    result["properties"] = properties
    return result


def sarif_log(analysis: Analysis) -> dict[str, Any]:
    """The SARIF log as a JSON-ready dict (what :func:`render_sarif` serialises)."""
    threats = sorted(analysis.threats, key=lambda t: t.threat.id)
    by_rule: dict[str, list[AssessedThreat]] = {}
    for item in threats:
        by_rule.setdefault(item.threat.rule_id, []).append(item)
    rule_ids = sorted(by_rule)
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    driver: dict[str, Any] = {
        "name": TOOL_NAME,
        "version": __version__,
        "informationUri": TURBOSEC_URI,
        "rules": [_rule(rule_id, by_rule[rule_id]) for rule_id in rule_ids],
    }
    model = analysis.model
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "originalUriBaseIds": {
            SRCROOT: {"description": {"text": "The root of the repository holding the model."}}
        },
        "results": [_result(model, item, index[item.threat.rule_id]) for item in threats],
        "properties": {
            "model": clean(model.name),
            "modelPath": model.path,
            "rulesEvaluated": analysis.rules_count,
            "openThreats": sum(1 for t in threats if t.is_open),
            "openBySeverity": {
                s.label: sum(1 for t in threats if t.is_open and t.threat.severity is s)
                for s in sorted(Severity, reverse=True)
            },
        },
    }
    return {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}


def render_sarif(analysis: Analysis) -> bytes:
    """SARIF 2.1.0 as UTF-8 JSON (two-space indent, final newline)."""
    return orjson.dumps(
        sarif_log(analysis),
        option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE,
    )
