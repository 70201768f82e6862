"""SARIF 2.1.0 output: schema-valid, shaped for GitHub code scanning, deterministic."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
from jsonschema import Draft4Validator

from tests.report.sample import make_report
from turbosec.core.finding import (
    BaselineState,
    Category,
    Confidence,
    Finding,
    Location,
    Suppression,
)
from turbosec.core.report import RepoInfo, ScanReport, ToolRun, ToolStatus
from turbosec.core.severity import Severity
from turbosec.report.sarif import SarifFormatter, sarif_log


def _render(report: ScanReport) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SarifFormatter().render(report))
    return data


def _assert_valid(document: dict[str, Any], schema: dict[str, Any]) -> None:
    errors = sorted(Draft4Validator(schema).iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def _run(document: dict[str, Any], tool: str) -> dict[str, Any]:
    runs = [r for r in document["runs"] if r["tool"]["driver"]["name"] == tool]
    assert len(runs) == 1, f"expected one run for {tool}"
    run: dict[str, Any] = runs[0]
    return run


def _result(run: dict[str, Any], rule_id: str, line: int | None = None) -> dict[str, Any]:
    for result in run["results"]:
        region = (result.get("locations") or [{}])[0].get("physicalLocation", {}).get("region")
        if result["ruleId"] == rule_id and (
            line is None or (region or {}).get("startLine") == line
        ):
            found: dict[str, Any] = result
            return found
    raise AssertionError(f"no result {rule_id} at line {line}")


def _finding(**changes: Any) -> Finding:
    base: dict[str, Any] = {
        "tool": "semgrep",
        "rule_id": "rule-a",
        "title": "A title",
        "message": "A message",
        "severity": Severity.MEDIUM,
        "category": Category.SAST,
        "location": Location(path="app.py", start_line=3),
        "fingerprint": "0" * 32,
    }
    base.update(changes)
    return Finding(**base)


def test_full_report_is_valid_sarif(full_report: ScanReport, sarif_schema: dict[str, Any]) -> None:
    document = _render(full_report)
    _assert_valid(document, sarif_schema)
    assert document["version"] == "2.1.0"
    assert document["$schema"].endswith("sarif-schema-2.1.0.json")
    # The schema's "format": "uri" is not checked by jsonschema: check the URI fields here.
    uris = [document["$schema"]]
    for run in document["runs"]:
        driver = run["tool"]["driver"]
        uris += [driver["informationUri"]] + [
            r["helpUri"] for r in driver["rules"] if "helpUri" in r
        ]
    for uri in uris:
        parts = urlsplit(uri)
        assert parts.scheme == "https" and parts.netloc, uri
        assert not any(c.isspace() or c in '<>"' for c in uri), uri


def test_clean_and_empty_reports_are_valid(
    clean_report: ScanReport, sarif_schema: dict[str, Any]
) -> None:
    clean = _render(clean_report)
    _assert_valid(clean, sarif_schema)
    # A scanner that ran and found nothing says so with an empty result list: GitHub then
    # closes the alerts that were fixed.
    assert [r["results"] for r in clean["runs"]] == [[], []]
    empty = _render(make_report(findings=[], tools=()))
    _assert_valid(empty, sarif_schema)
    assert empty["runs"] == []


def test_one_run_per_tool_that_ran_or_reported(full_report: ScanReport) -> None:
    document = _render(full_report)
    names = [r["tool"]["driver"]["name"] for r in document["runs"]]
    # gitleaks was skipped: it neither ran nor reported anything.
    assert names == [
        "bandit",
        "semgrep",
        "detect-secrets",
        "pip-audit",
        "checkov",
        "zizmor",
        "trivy",
    ]
    bandit = _run(document, "bandit")["tool"]["driver"]
    assert bandit["version"] == "1.7.9"
    assert bandit["informationUri"] == "https://github.com/PyCQA/bandit"
    converter = _run(document, "bandit")["conversion"]["tool"]["driver"]
    assert converter == {
        "name": "turbosec",
        "version": "0.1.0",
        "informationUri": "https://github.com/turbosec/turbosec",
    }


def test_a_tool_seen_only_in_findings_gets_a_run(sarif_schema: dict[str, Any]) -> None:
    report = make_report(findings=[_finding(tool="sarif:CodeQL")], tools=())
    document = _render(report)
    _assert_valid(document, sarif_schema)
    (run,) = document["runs"]
    assert run["tool"]["driver"] == {
        "name": "sarif:CodeQL",
        "rules": run["tool"]["driver"]["rules"],
    }
    assert "invocations" not in run
    assert len(run["results"]) == 1


def test_rules_and_rule_indexes(full_report: ScanReport) -> None:
    for run in _render(full_report)["runs"]:
        rules = run["tool"]["driver"]["rules"]
        ids = [r["id"] for r in rules]
        assert ids == sorted(ids)
        assert len(set(ids)) == len(ids)
        for result in run.get("results", []):
            assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_rule_metadata_for_a_sast_rule(full_report: ScanReport) -> None:
    rule = _run(_render(full_report), "bandit")["tool"]["driver"]["rules"][1]
    assert rule["id"] == "B602"
    assert rule["name"] == "B602"
    assert rule["shortDescription"] == {
        "text": "subprocess call with shell=True identified, security issue."
    }
    assert rule["fullDescription"] == rule["shortDescription"]
    # The rule takes the most severe of its results (high and medium here).
    assert rule["defaultConfiguration"] == {"level": "error"}
    assert rule["properties"] == {
        "tags": ["security", "sast", "external/cwe/cwe-78"],
        "security-severity": "8.0",
        "precision": "high",
    }
    assert rule["helpUri"].startswith("https://bandit.readthedocs.io/")
    assert rule["help"]["text"] == (
        "subprocess call with shell=True identified, security issue.\n\n"
        "Fix: Pass the command as a list and drop shell=True.\n\n"
        "CWE: CWE-78\n\n"
        "References:\n"
        "- https://bandit.readthedocs.io/en/1.7.9/plugins/"
        "b602_subprocess_popen_with_shell_equals_true.html"
    )
    markdown = rule["help"]["markdown"]
    assert "**Fix:** Pass the command as a list and drop shell=True." in markdown
    assert "[CWE-78](https://cwe.mitre.org/data/definitions/78.html)" in markdown


def test_rule_help_markdown_is_escaped(full_report: ScanReport) -> None:
    semgrep = _run(_render(full_report), "semgrep")
    rule = next(
        r for r in semgrep["tool"]["driver"]["rules"] if r["id"].endswith("sql-injection-using-raw")
    )
    markdown = rule["help"]["markdown"]
    assert "<script>" not in markdown
    assert "&lt;script&gt;" in markdown
    assert "[click](https://evil.example)" not in markdown
    assert "\\[click\\](https://evil.example)" in markdown
    assert "<b>" not in markdown
    assert "- not a url &lt;b&gt;bold&lt;/b&gt;" in markdown
    assert (
        "- [https://owasp.org/Top10/A03\\_2021-Injection](https://owasp.org/Top10/A03_2021-Injection)"
        in markdown
    )
    # The plain-text help keeps the text as the tool wrote it.
    assert "<script>alert('x')</script>" in rule["help"]["text"]
    assert rule["helpUri"] == "https://owasp.org/Top10/A03_2021-Injection"
    assert "external/cwe/cwe-89" in rule["properties"]["tags"]


@pytest.mark.parametrize(
    ("severity", "score", "level"),
    [
        (Severity.CRITICAL, "9.5", "error"),
        (Severity.HIGH, "8.0", "error"),
        (Severity.MEDIUM, "5.5", "warning"),
        (Severity.LOW, "3.0", "note"),
        (Severity.INFO, "0.0", "note"),
    ],
)
def test_severity_score_and_level(severity: Severity, score: str, level: str) -> None:
    document = _render(make_report(findings=[_finding(severity=severity)], tools=()))
    run = document["runs"][0]
    rule = run["tool"]["driver"]["rules"][0]
    assert rule["properties"]["security-severity"] == score
    assert rule["defaultConfiguration"]["level"] == level
    assert run["results"][0]["level"] == level
    # GitHub's bands: over 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, under 4.0 low.
    value = float(score)
    github = (
        "critical"
        if value > 9.0
        else "high"
        if value >= 7.0
        else "medium"
        if value >= 4.0
        else "low"
    )
    expected = "low" if severity is Severity.INFO else severity.label  # GitHub has no "info"
    assert github == expected


def test_result_with_full_location(full_report: ScanReport) -> None:
    semgrep = _run(_render(full_report), "semgrep")
    result = _result(semgrep, "python.django.security.injection.sql.sql-injection-using-raw")
    finding = full_report.findings[0]
    assert finding.location is not None
    assert result["level"] == "error"
    assert result["message"]["text"] == finding.message
    assert result["locations"] == [
        {
            "physicalLocation": {
                "artifactLocation": {"uri": "app/views.py", "uriBaseId": "%SRCROOT%"},
                "region": {
                    "startLine": 42,
                    "startColumn": 9,
                    "endLine": 43,
                    "endColumn": 31,
                    "snippet": {"text": finding.location.snippet},
                },
            }
        }
    ]
    assert result["partialFingerprints"] == {"turbosec/v1": finding.fingerprint}
    assert result["properties"] == {
        "severity": "critical",
        "category": "sast",
        "confidence": "high",
        "cwe": ["CWE-89"],
        "fixHint": finding.fix_hint,
        "alsoReportedBy": ["bandit"],
    }
    assert "suppressions" not in result  # not suppressed: absent, not an empty claim
    assert "baselineState" not in result  # no baseline to compare with


def test_region_holds_only_the_fields_present(full_report: ScanReport) -> None:
    bandit = _run(_render(full_report), "bandit")
    region = _result(bandit, "B602", 30)["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 30, "startColumn": 5}
    trivy = _run(_render(full_report), "trivy")
    region = _result(trivy, "DS002")["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 1, "endLine": 12}


def test_dependency_finding_points_at_its_manifest(full_report: ScanReport) -> None:
    run = _run(_render(full_report), "pip-audit")
    result = _result(run, "PYSEC-2019-217")
    assert result["locations"] == [
        {
            "physicalLocation": {
                "artifactLocation": {"uri": "requirements.txt", "uriBaseId": "%SRCROOT%"}
            }
        }
    ]
    assert result["properties"]["advisories"] == [
        "PYSEC-2019-217",
        "CVE-2019-10906",
        "GHSA-462w-v97r-4m45",
    ]
    assert result["properties"]["package"] == {
        "ecosystem": "PyPI",
        "name": "jinja2",
        "version": "2.10",
        "fixed_versions": ["2.10.1"],
    }
    rule = run["tool"]["driver"]["rules"][0]
    assert rule["properties"]["tags"] == ["security", "dependency"]
    # No reference: the GitHub advisory page is the most useful help link.
    assert rule["helpUri"] == "https://github.com/advisories/GHSA-462w-v97r-4m45"
    assert (
        "[GHSA-462w-v97r-4m45](https://github.com/advisories/GHSA-462w-v97r-4m45)"
        in (rule["help"]["markdown"])
    )


def test_finding_without_location_has_no_locations(
    full_report: ScanReport, sarif_schema: dict[str, Any]
) -> None:
    document = _render(full_report)
    result = _result(_run(document, "trivy"), "CVE-2023-5363")
    assert "locations" not in result
    assert result["message"]["text"].startswith("Issue summary:")
    assert result["partialFingerprints"]["turbosec/v1"]
    _assert_valid(document, sarif_schema)


def test_failed_scanner_is_an_unsuccessful_invocation(full_report: ScanReport) -> None:
    checkov = _run(_render(full_report), "checkov")
    (invocation,) = checkov["invocations"]
    assert invocation["executionSuccessful"] is False
    (notification,) = invocation["toolExecutionNotifications"]
    assert notification["level"] == "error"
    assert notification["message"]["text"].startswith("checkov exited with code 1:\nTraceback")
    assert notification["descriptor"] == {"id": "turbosec/scanner-failed"}
    assert invocation["properties"] == {"status": "failed", "durationSeconds": 12.5}
    # No "results": SARIF's way to say the tool produced none, never "nothing found".
    assert "results" not in checkov
    zizmor = _run(_render(full_report), "zizmor")
    assert zizmor["invocations"][0]["executionSuccessful"] is True
    assert zizmor["results"] == []


def test_failed_scanner_keeps_partial_results_and_optional_is_a_warning(
    sarif_schema: dict[str, Any],
) -> None:
    tools = (
        ToolRun("semgrep", "1.85.0", ToolStatus.FAILED, 1.0, 1, error="timeout", optional=True),
    )
    document = _render(make_report(findings=[_finding()], tools=tools))
    _assert_valid(document, sarif_schema)
    (run,) = document["runs"]
    assert len(run["results"]) == 1
    (notification,) = run["invocations"][0]["toolExecutionNotifications"]
    assert notification["level"] == "warning"
    assert notification["message"]["text"] == "timeout"


def test_uri_base_and_version_control(full_report: ScanReport) -> None:
    text = SarifFormatter().render(full_report)
    run = json.loads(text)["runs"][0]
    assert run["originalUriBaseIds"] == {
        "%SRCROOT%": {"description": {"text": "The root of the repository acme/shop."}}
    }
    assert run["versionControlProvenance"] == [
        {
            "repositoryUri": "https://github.com/acme/shop.git",
            "revisionId": "3f2c9a1b7e4d5c6a8b9f0e1d2c3b4a5968776655",
            "branch": "feature/checkout",
            "mappedTo": {"uriBaseId": "%SRCROOT%"},
        }
    ]
    # The credentials in the remote URL never reach the file.
    assert "ghp_secrettoken" not in text
    assert "ci-bot" not in text


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        ("git@github.com:acme/shop.git", "ssh://github.com/acme/shop.git"),
        ("ssh://git@gitlab.example:2222/acme/shop.git", "ssh://gitlab.example:2222/acme/shop.git"),
        ("https://gitlab-ci-token:abc@gitlab.com/a/b", "https://gitlab.com/a/b"),
        ("/srv/git/shop.git", None),
        ("", None),
    ],
)
def test_remote_urls(remote: str, expected: str | None) -> None:
    report = make_report(findings=[_finding()], tools=())
    report = ScanReport(
        repo=RepoInfo(name="shop", remote=remote),
        started_at=report.started_at,
        finished_at=report.finished_at,
        duration_s=1.0,
        tools=(),
        findings=report.findings,
    )
    run = sarif_log(report)["runs"][0]
    if expected is None:
        assert "versionControlProvenance" not in run
    else:
        assert run["versionControlProvenance"] == [
            {"repositoryUri": expected, "mappedTo": {"uriBaseId": "%SRCROOT%"}}
        ]


def test_paths_become_uri_references(full_report: ScanReport, sarif_schema: dict[str, Any]) -> None:
    bandit = _run(_render(full_report), "bandit")
    location = _result(bandit, "B105")["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "app/settings%20dev/config%20%231.py", "uriBaseId": "%SRCROOT%"}

    findings = [
        _finding(location=Location(path="./src/ünï.py", start_line=1)),
        _finding(location=Location(path="/abs/path/x.py", start_line=1), rule_id="r2"),
        _finding(location=Location(path="C:\\work\\x.py", start_line=1), rule_id="r3"),
        _finding(location=Location(path="", start_line=1), rule_id="r4"),
    ]
    document = _render(make_report(findings=findings, tools=()))
    _assert_valid(document, sarif_schema)
    results = document["runs"][0]["results"]
    artifacts = [
        r.get("locations", [{}])[0].get("physicalLocation", {}).get("artifactLocation")
        for r in results
    ]
    assert artifacts == [
        {"uri": "src/%C3%BCn%C3%AF.py", "uriBaseId": "%SRCROOT%"},
        {"uri": "file:///abs/path/x.py"},
        {"uri": "file:///C:/work/x.py"},
        None,
    ]


@pytest.mark.parametrize(
    ("location", "region"),
    [
        (Location("a.py"), None),
        (Location("a.py", start_line=0, start_column=3), None),
        (Location("a.py", start_column=3, end_column=9), None),
        (Location("a.py", start_line=5, end_line=2), {"startLine": 5}),
        (
            Location("a.py", start_line=5, start_column=9, end_column=4),
            {"startLine": 5, "startColumn": 9},
        ),
        (
            Location("a.py", start_line=5, start_column=9, end_line=6, end_column=4),
            {"startLine": 5, "startColumn": 9, "endLine": 6, "endColumn": 4},
        ),
        (Location("a.py", start_line=7, snippet=""), {"startLine": 7}),
    ],
)
def test_regions_are_always_valid(
    location: Location, region: dict[str, int] | None, sarif_schema: dict[str, Any]
) -> None:
    document = _render(make_report(findings=[_finding(location=location)], tools=()))
    _assert_valid(document, sarif_schema)
    physical = document["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert physical.get("region") == region


def test_result_without_fingerprint_or_message(sarif_schema: dict[str, Any]) -> None:
    finding = _finding(fingerprint="", message="", confidence=Confidence.LOW)
    document = _render(make_report(findings=[finding], tools=()))
    _assert_valid(document, sarif_schema)
    result = document["runs"][0]["results"][0]
    assert "partialFingerprints" not in result
    assert result["message"] == {"text": "A title"}
    assert document["runs"][0]["tool"]["driver"]["rules"][0]["properties"]["precision"] == "low"


def test_rule_description_is_the_shared_message_or_the_title() -> None:
    same = [_finding(message="same text"), _finding(message="same text", fingerprint="1" * 32)]
    rule = sarif_log(make_report(findings=same, tools=()))["runs"][0]["tool"]["driver"]["rules"][0]
    assert rule["fullDescription"] == {"text": "same text"}
    varied = [
        _finding(message="key AKIA***1"),
        _finding(message="key AKIA***2", fingerprint="1" * 32),
    ]
    rule = sarif_log(make_report(findings=varied, tools=()))["runs"][0]["tool"]["driver"]["rules"][
        0
    ]
    assert rule["fullDescription"] == {"text": "A title"}


def test_output_is_deterministic(full_report: ScanReport) -> None:
    first = SarifFormatter().render(full_report)
    assert first == SarifFormatter().render(full_report)
    # The same report read back from its JSON document renders to the same bytes.
    again = ScanReport.from_dict(orjson.loads(full_report.to_json()))
    assert SarifFormatter().render(again).encode() == first.encode()
    assert first.endswith("}\n")


def test_suppressed_findings_keep_their_results(sarif_schema: dict[str, Any]) -> None:
    inline = _finding(
        rule_id="B602",
        tool="bandit",
        suppression=Suppression("inline", "input is a constant", "app.py:3: nosec B602"),
    )
    config = _finding(
        rule_id="B608",
        tool="bandit",
        location=Location(path="app.py", start_line=9),
        suppression=Suppression(
            "config",
            "tracked in SEC-1",
            "[[suppress]] #1 (rule = B608)",
            expires="2027-03-31",
            owner="appsec@example.com",
        ),
        baseline_state=BaselineState.UNCHANGED,
    )
    bare = _finding(
        rule_id="B101",
        tool="bandit",
        location=Location(path="app.py", start_line=12),
        suppression=Suppression("inline", None, "app.py:12: nosec"),
        baseline_state=BaselineState.NEW,
    )
    open_one = _finding(
        rule_id="B102",
        tool="bandit",
        location=Location(path="app.py", start_line=20),
        baseline_state=BaselineState.NEW,
    )
    document = _render(make_report(findings=[inline, config, bare, open_one], tools=()))
    _assert_valid(document, sarif_schema)
    bandit = _run(document, "bandit")
    assert len(bandit["results"]) == 4
    assert _result(bandit, "B602")["suppressions"] == [
        {
            "kind": "inSource",
            "status": "accepted",
            "justification": "input is a constant",
            "properties": {"source": "app.py:3: nosec B602"},
        }
    ]
    assert _result(bandit, "B608")["suppressions"] == [
        {
            "kind": "external",
            "status": "accepted",
            "justification": "tracked in SEC-1",
            "properties": {
                "source": "[[suppress]] #1 (rule = B608)",
                "expires": "2027-03-31",
                "owner": "appsec@example.com",
            },
        }
    ]
    # no reason: no justification (never an empty string)
    assert _result(bandit, "B101")["suppressions"] == [
        {"kind": "inSource", "status": "accepted", "properties": {"source": "app.py:12: nosec"}}
    ]
    assert "suppressions" not in _result(bandit, "B102")
    assert [r.get("baselineState") for r in bandit["results"]] == [
        None,
        "unchanged",
        "new",
        "new",
    ]
