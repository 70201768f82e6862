"""JUnit XML: one suite per scanner, one test per finding, well-formed and escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET  # only for the Element type; parsing uses defusedxml
from typing import Any

import orjson
import pytest
from defusedxml.ElementTree import fromstring

from tests.report.sample import NASTY_MESSAGE, make_report
from turbosec.core.finding import BaselineState, Category, Finding, Location, Suppression
from turbosec.core.report import ScanReport, ToolRun, ToolStatus
from turbosec.core.severity import Severity
from turbosec.report.junit import JunitFormatter, xml_safe


def _parse(report: ScanReport) -> ET.Element:
    text = JunitFormatter().render(report)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites ')
    root: ET.Element = fromstring(text.encode("utf-8"))
    return root


def _suite(root: ET.Element, name: str) -> ET.Element:
    suites = [s for s in root.findall("testsuite") if s.get("name") == name]
    assert len(suites) == 1, f"expected one suite {name}"
    return suites[0]


def _finding(**changes: Any) -> Finding:
    base: dict[str, Any] = {
        "tool": "semgrep",
        "rule_id": "rule-a",
        "title": "A title",
        "message": "A message",
        "severity": Severity.MEDIUM,
        "category": Category.SAST,
        "location": Location(path="app.py", start_line=3),
    }
    base.update(changes)
    return Finding(**base)


def test_one_suite_per_tool_in_report_order(full_report: ScanReport) -> None:
    root = _parse(full_report)
    assert root.tag == "testsuites"
    assert [s.get("name") for s in root.findall("testsuite")] == [
        "bandit",
        "semgrep",
        "detect-secrets",
        "pip-audit",
        "checkov",
        "zizmor",
        "trivy",
        "gitleaks",
    ]


def test_counts_are_consistent(full_report: ScanReport) -> None:
    root = _parse(full_report)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in root.findall("testsuite"):
        cases = suite.findall("testcase")
        expected = {
            "tests": len(cases),
            "failures": sum(c.find("failure") is not None for c in cases),
            "errors": sum(c.find("error") is not None for c in cases),
            "skipped": sum(c.find("skipped") is not None for c in cases),
        }
        for key, value in expected.items():
            assert suite.get(key) == str(value), (suite.get("name"), key)
            totals[key] += value
    for key, value in totals.items():
        assert root.get(key) == str(value)
    # 10 findings, 1 failed scanner, 1 scanner without findings, 1 skipped scanner.
    assert totals == {"tests": 13, "failures": 10, "errors": 1, "skipped": 1}
    assert root.get("time") == "14.500"


def test_finding_testcase(full_report: ScanReport) -> None:
    bandit = _suite(_parse(full_report), "bandit")
    assert bandit.get("time") == "0.840"
    assert bandit.get("timestamp") == "2025-11-27T10:15:00+00:00"
    props = {p.get("name"): p.get("value") for p in bandit.iter("property")}
    assert props == {"version": "1.7.9", "status": "ok"}
    case = bandit.findall("testcase")[0]
    assert case.attrib == {
        "name": "B602 @ app/tasks.py:17",
        "classname": "turbosec.bandit.sast",
        "file": "app/tasks.py",
        "line": "17",
    }
    failure = case.find("failure")
    assert failure is not None
    assert failure.attrib == {
        "type": "high",
        "message": "subprocess call with shell=True identified, security issue.",
    }
    finding = full_report.findings[1]
    assert failure.text == (
        "Severity:    high\n"
        "Confidence:  high\n"
        "Category:    sast\n"
        "Tool:        bandit\n"
        "Rule:        B602\n"
        "Location:    app/tasks.py:17:5\n"
        "CWE:         CWE-78\n"
        f"Fingerprint: {finding.fingerprint}\n"
        "\n"
        "Fix: Pass the command as a list and drop shell=True.\n"
        "\n"
        "References:\n"
        "  - https://bandit.readthedocs.io/en/1.7.9/plugins/"
        "b602_subprocess_popen_with_shell_equals_true.html"
    )


def test_special_characters_survive_the_round_trip(full_report: ScanReport) -> None:
    semgrep = _suite(_parse(full_report), "semgrep")
    case = semgrep.findall("testcase")[0]
    assert case.get("name") == (
        "python.django.security.injection.sql.sql-injection-using-raw @ app/views.py:42"
    )
    failure = case.find("failure")
    assert failure is not None and failure.text is not None
    # XML cannot carry ESC: it is written visibly; CRLF becomes LF; the rest is exact.
    expected = NASTY_MESSAGE.replace("\r\n", "\n").replace("\x1b", "\\x1b")
    assert failure.text.startswith(expected + "\n\n")
    assert "Tool:        semgrep (also reported by bandit)" in failure.text
    assert "Location:    app/views.py:42:9 (to line 43)" in failure.text
    assert "Fix: Use parameterised queries: cursor.execute(sql, [value]) — never `%`." in (
        failure.text
    )
    assert "  - not a url <b>bold</b>" in failure.text


def test_dependency_and_unlocated_findings(full_report: ScanReport) -> None:
    root = _parse(full_report)
    case = _suite(root, "pip-audit").findall("testcase")[0]
    assert case.attrib == {
        "name": "PYSEC-2019-217 @ requirements.txt",
        "classname": "turbosec.pip-audit.dependency",
        "file": "requirements.txt",
    }
    failure = case.find("failure")
    assert failure is not None and failure.text is not None
    assert "Package:     jinja2 2.10 (PyPI), fixed in 2.10.1" in failure.text
    assert "Advisories:  PYSEC-2019-217, CVE-2019-10906, GHSA-462w-v97r-4m45" in failure.text
    trivy = _suite(root, "trivy").findall("testcase")
    assert [c.attrib for c in trivy] == [
        {
            "name": "DS002 @ Dockerfile:1",
            "classname": "turbosec.trivy.iac",
            "file": "Dockerfile",
            "line": "1",
        },
        {"name": "CVE-2023-5363 @ (no location)", "classname": "turbosec.trivy.dependency"},
    ]


def test_failed_scanner_is_an_error(full_report: ScanReport) -> None:
    checkov = _suite(_parse(full_report), "checkov")
    (case,) = checkov.findall("testcase")
    assert case.attrib == {"name": "scanner run", "classname": "turbosec.checkov"}
    error = case.find("error")
    assert error is not None
    assert error.get("type") == "scanner-failed"
    assert error.get("message") == (
        'checkov exited with code 1: Traceback (most recent call last): File "<frozen runpy>",'
        ' line 198 \\x1b[31mValueError\\x1b[0m: bad <input> & "quote"'
    )
    assert error.text is not None
    assert error.text.endswith('bad <input> & "quote"\n\nCommand: checkov -d . -o json')


def test_scanner_without_findings_passes_and_skipped_is_skipped(full_report: ScanReport) -> None:
    root = _parse(full_report)
    (case,) = _suite(root, "zizmor").findall("testcase")
    assert case.attrib == {"name": "no findings", "classname": "turbosec.zizmor"}
    assert list(case) == []
    (case,) = _suite(root, "gitleaks").findall("testcase")
    skipped = case.find("skipped")
    assert skipped is not None and skipped.get("message") == "not enabled"


def test_clean_report(clean_report: ScanReport) -> None:
    root = _parse(clean_report)
    assert root.attrib == {
        "name": "turbosec",
        "tests": "2",
        "failures": "0",
        "errors": "0",
        "skipped": "0",
        "time": "14.500",
    }


def test_optional_failure_and_scan_errors() -> None:
    tools = (ToolRun("semgrep", None, ToolStatus.FAILED, 2.0, 1, error="timed out", optional=True),)
    report = make_report(findings=[_finding()], tools=tools, errors=("bad config", "bad config"))
    root = _parse(report)
    semgrep = _suite(root, "semgrep")
    cases = semgrep.findall("testcase")
    assert [c.get("name") for c in cases] == ["scanner run", "rule-a @ app.py:3"]
    error = cases[0].find("error")
    assert error is not None
    assert error.get("message") == "optional scanner (does not fail the gate): timed out"
    assert [p.get("name") for p in semgrep.iter("property")] == ["status"]
    turbosec = _suite(root, "turbosec")
    (case,) = turbosec.findall("testcase")
    assert case.get("name") == "scan"
    assert turbosec.get("errors") == "1"
    assert root.get("errors") == "2"


def test_repeated_names_are_numbered() -> None:
    findings = [_finding(), _finding(), _finding(location=None), _finding(location=None)]
    suite = _suite(_parse(make_report(findings=findings, tools=())), "semgrep")
    assert [c.get("name") for c in suite.findall("testcase")] == [
        "rule-a @ app.py:3",
        "rule-a @ app.py:3 (2)",
        "rule-a @ (no location)",
        "rule-a @ (no location) (2)",
    ]


@pytest.mark.parametrize(
    "text",
    ["\x00nul", "bell\x07", "esc\x1b[0m", "lone surrogate \ud800", "\ufffe", "del\x7f ok", "a\rb"],
)
def test_text_xml_cannot_carry_is_made_visible(text: str) -> None:
    finding = _finding(title=text, message=text, tool=f"tool{text}", rule_id=text)
    report = make_report(
        findings=[finding],
        tools=(ToolRun(f"x{text}", text, ToolStatus.FAILED, 0.0, 0, error=text),),
    )
    rendered = JunitFormatter().render(report)
    root: ET.Element = fromstring(rendered.encode("utf-8"))
    assert len(root.findall("testsuite")) == 2


def test_xml_safe() -> None:
    assert xml_safe("a\x1bb\x00c\ud800d\r\ne\rf\tg") == "a\\x1bb\\x00c\\ud800d\ne\nf\tg"
    assert xml_safe("ok <&> ü 🐍") == "ok <&> ü 🐍"


def test_output_is_deterministic(full_report: ScanReport) -> None:
    first = JunitFormatter().render(full_report)
    again = ScanReport.from_dict(orjson.loads(full_report.to_json()))
    assert JunitFormatter().render(again).encode() == first.encode()


def test_findings_that_do_not_gate_are_skipped_not_failed() -> None:
    findings = [
        _finding(rule_id="new-one", baseline_state=BaselineState.NEW),
        _finding(
            rule_id="accepted",
            location=Location(path="app.py", start_line=5),
            suppression=Suppression(
                "config", "tracked in SEC-1", "[[suppress]] #1 (rule = accepted)", "2027-01-31"
            ),
        ),
        _finding(
            rule_id="marked",
            location=Location(path="app.py", start_line=7),
            suppression=Suppression("inline", None, "app.py:7: nosemgrep"),
        ),
        _finding(
            rule_id="old-debt",
            location=Location(path="app.py", start_line=9),
            baseline_state=BaselineState.UNCHANGED,
        ),
    ]
    tools = (ToolRun("semgrep", "1.85.0", ToolStatus.OK, 1.0, 4),)
    suite = _suite(_parse(make_report(findings=findings, tools=tools)), "semgrep")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "1", "3")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert cases["new-one @ app.py:3"].find("failure") is not None
    accepted = cases["accepted @ app.py:5"]
    assert accepted.find("failure") is None
    skipped = accepted.find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "suppressed: tracked in SEC-1"
    assert skipped.text is not None
    assert (
        "Suppressed: config, tracked in SEC-1 ([[suppress]] #1 (rule = accepted)), "
        "expires 2027-01-31" in skipped.text
    )
    marked = cases["marked @ app.py:7"].find("skipped")
    assert marked is not None and marked.get("message") == "suppressed: no reason given"
    debt = cases["old-debt @ app.py:9"].find("skipped")
    assert debt is not None and debt.get("message") == "existing: in the baseline"
    assert debt.text is not None and "Baseline:   unchanged" in debt.text
