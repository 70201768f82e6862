"""GitHub Actions annotations: levels, escaping, the cap and the summary line.

No ``from __future__ import annotations`` here: it would shadow the function under test.
"""

import re
from typing import Any

import orjson
import pytest

from tests.report.sample import make_report
from turbosec.core.finding import Category, Finding, Location
from turbosec.core.report import ScanReport, ToolRun, ToolStatus, Verdict
from turbosec.core.severity import Severity
from turbosec.report.github import annotations, command, escape_data, escape_property

_COMMAND = re.compile(r"^::(error|warning|notice)( [^:]*)?::[^\r\n]*$")


def _finding(**changes: Any) -> Finding:
    base: dict[str, Any] = {
        "tool": "bandit",
        "rule_id": "B602",
        "title": "shell=True",
        "message": "subprocess call with shell=True",
        "severity": Severity.HIGH,
        "category": Category.SAST,
        "location": Location(path="app.py", start_line=3),
    }
    base.update(changes)
    return Finding(**base)


def _unescape(value: str) -> str:
    for code, char in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        value = value.replace(code, char)
    return value


def test_escaping_rules() -> None:
    assert escape_data("100% a:b,c\r\nd") == "100%25 a:b,c%0D%0Ad"
    assert escape_property("100% a:b,c\r\nd") == "100%25 a%3Ab%2Cc%0D%0Ad"
    # % goes first, so an input that looks escaped stays what it was.
    assert escape_data("%0A") == "%250A"
    assert _unescape(escape_property("%0A:,")) == "%0A:,"
    assert command("notice", "hi") == "::notice::hi"
    assert (
        command("error", "m", file="a,b.py", line=3, col=None) == "::error file=a%2Cb.py,line=3::m"
    )


def test_full_report(full_report: ScanReport) -> None:
    lines = annotations(full_report)
    assert all(_COMMAND.match(line) for line in lines), lines
    assert lines[0] == (
        "::error title=turbosec%3A scanner checkov failed::checkov exited with code 1:%0A"
        'Traceback (most recent call last):%0A  File "<frozen runpy>", line 198%0A'
        'ValueError: bad <input> & "quote"'
    )
    levels = [line.split(" ", 1)[0].split("::")[1] for line in lines]
    assert levels == ["error"] * 7 + ["warning"] * 2 + ["notice"] * 3
    assert lines[1] == (
        "::error file=app/views.py,line=42,endLine=43,col=9,endColumn=31,"
        "title=[CRITICAL] SQL injection%3A user input in a raw query::"
        "User input flows into `cursor.execute()` | <script>alert('x')</script> & "
        "[click](https://evil.example) ![img](https://evil.example/t.png) @octocat $x^2$ "
        "**bold** ~~gone~~ 100%25 done,%0Asecond line:: with ::error::injected%0D%0A"
        "::set-output name=x::y [bold red]rich markup[/] red unicode: Ünïcødé ✓ 🐍  evil%0A"
        "Fix: Use parameterised queries: cursor.execute(sql, [value]) — never `%25`.%0A"
        "Rule: semgrep python.django.security.injection.sql.sql-injection-using-raw"
    )
    assert (
        "::error file=requirements.txt,title=[HIGH] jinja2 2.10%3A sandbox escape via str.format::"
        "In Pallets Jinja before 2.10.1, str.format_map allows a sandbox escape.%0A"
        "Package: jinja2 2.10 (fixed in 2.10.1)%0AFix: Upgrade jinja2 to 2.10.1 or later.%0A"
        "Rule: pip-audit PYSEC-2019-217"
    ) in lines
    unlocated = next(line for line in lines if "CVE-2023-5363" in line)
    assert unlocated.startswith("::warning title=[MEDIUM] openssl%3A incorrect cipher")
    assert lines[-1] == (
        "::notice title=turbosec::turbosec: 10 findings (1 critical, 5 high, 2 medium, 1 low, "
        "1 info); scanners failed: checkov; gate FAILED: 1 critical finding at or above "
        "'critical'; scanner checkov failed: checkov exited with code 1."
    )


@pytest.mark.parametrize(
    ("severity", "level"),
    [
        (Severity.CRITICAL, "error"),
        (Severity.HIGH, "error"),
        (Severity.MEDIUM, "warning"),
        (Severity.LOW, "notice"),
        (Severity.INFO, "notice"),
    ],
)
def test_levels(severity: Severity, level: str) -> None:
    (line, _) = annotations(make_report(findings=[_finding(severity=severity)], tools=()))
    assert line == (
        f"::{level} file=app.py,line=3,title=[{severity.label.upper()}] shell=True::"
        "subprocess call with shell=True%0ARule: bandit B602"
    )


def test_properties_cannot_break_out() -> None:
    finding = _finding(
        title="a,b::c\nd",
        location=Location(path="dir,x/y::z.py", start_line=3, start_column=2, end_column=7),
        message="line\n::add-mask::secret\r\n%0A",
    )
    (line, _) = annotations(make_report(findings=[finding], tools=()))
    assert "\n" not in line and "\r" not in line
    head, message = line[2:].split("::", 1)
    level, props = head.split(" ", 1)
    assert level == "error"
    assert props == (
        "file=dir%2Cx/y%3A%3Az.py,line=3,col=2,endColumn=7,title=[HIGH] a%2Cb%3A%3Ac%0Ad"
    )
    assert _unescape(message) == "line\n::add-mask::secret\r\n%0A\nRule: bandit B602"


def test_cap_per_level_with_summary() -> None:
    findings = [_finding(rule_id=f"H{i:02d}") for i in range(25)]
    findings += [_finding(rule_id=f"L{i:02d}", severity=Severity.LOW) for i in range(15)]
    lines = annotations(make_report(findings=findings, tools=()))
    assert sum(line.startswith("::error ") for line in lines) == 10
    # One notice slot is kept for the summary: 9 findings + the summary.
    assert sum(line.startswith("::notice ") for line in lines) == 10
    assert lines[-1] == (
        "::notice title=turbosec::turbosec: 40 findings (25 high, 15 low). 21 findings not "
        "annotated (GitHub shows at most 10 annotations of each level per step): see the full "
        "report."
    )
    # Most severe first, then by path and line: the first ten high rules are shown.
    assert [re.search(r"Rule: bandit (\w+)", line).group(1) for line in lines[:10]] == [  # type: ignore[union-attr]
        f"H{i:02d}" for i in range(10)
    ]


def test_custom_cap_and_invalid_cap() -> None:
    findings = [_finding(rule_id=f"H{i}") for i in range(5)]
    lines = annotations(make_report(findings=findings, tools=()), max_per_level=2)
    assert len(lines) == 3
    assert "3 findings not annotated" in lines[-1]
    with pytest.raises(ValueError, match="max_per_level"):
        annotations(make_report(findings=findings, tools=()), max_per_level=0)


def test_clean_report_and_optional_failure(clean_report: ScanReport) -> None:
    assert annotations(clean_report) == [
        "::notice title=turbosec::turbosec: no findings; gate PASSED."
    ]
    tools = (ToolRun("zizmor", "1.1.1", ToolStatus.FAILED, 0.1, 0, error=None, optional=True),)
    report = make_report(
        findings=[], tools=tools, verdict=Verdict(passed=True), errors=("config: x",)
    )
    assert annotations(report) == [
        "::warning title=turbosec%3A scanner zizmor failed (optional)::"
        "zizmor failed without an error message",
        "::error title=turbosec%3A scan error::config: x",
        "::notice title=turbosec::turbosec: no findings; scanners failed: zizmor; gate PASSED.",
    ]


def test_long_text_is_bounded() -> None:
    finding = _finding(title="t" * 1_000, message="m" * 10_000)
    (line, _) = annotations(make_report(findings=[finding], tools=()))
    title = re.search(r"title=([^:]*)::", line)
    assert title is not None and len(title.group(1)) == 200
    assert len(line) < 4_400


def test_output_is_deterministic(full_report: ScanReport) -> None:
    again = ScanReport.from_dict(orjson.loads(full_report.to_json()))
    assert annotations(again) == annotations(full_report)


def test_suppressed_and_baseline_findings_are_not_annotated() -> None:
    from dataclasses import replace as _replace

    from turbosec.core.finding import BaselineState, Category, Finding, Location, Suppression
    from turbosec.core.report import RepoInfo, ScanReport
    from turbosec.core.severity import Severity
    from turbosec.report.github import annotations as _annotations

    base = Finding(
        tool="bandit",
        rule_id="B602",
        title="shell",
        message="shell=True",
        severity=Severity.HIGH,
        category=Category.SAST,
        location=Location(path="a.py", start_line=3),
        fingerprint="0" * 32,
    )
    old = _replace(base, fingerprint="1" * 32, baseline_state=BaselineState.UNCHANGED)
    hushed = _replace(
        base,
        fingerprint="2" * 32,
        suppression=Suppression(kind="inline", reason="constant", source="a.py:3"),
    )
    new = _replace(base, baseline_state=BaselineState.NEW)
    report = ScanReport(
        repo=RepoInfo(name="r"),
        started_at="2026-01-01T00:00:00+00:00",
        finished_at="2026-01-01T00:00:01+00:00",
        duration_s=1.0,
        tools=(),
        findings=(new, old, hushed),
    )
    lines = _annotations(report)
    assert sum(1 for line in lines if line.startswith("::error")) == 1
    assert "2 suppressed or already in the baseline" in lines[-1]
