"""The terminal summary: readable at 80 columns, with and without colour, and inert text."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from typing import Any

import pytest
from rich.cells import cell_len
from rich.console import Console

from tests.report.sample import make_report
from turbosec.core.finding import BaselineState, Category, Finding, Location, Suppression
from turbosec.core.report import FixedFinding, ScanReport, ToolRun, ToolStatus, Verdict
from turbosec.core.severity import Severity
from turbosec.report.console import render_summary, safe_text

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _plain(report: ScanReport, *, width: int = 80, top: int = 10) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, no_color=True, force_terminal=False)
    render_summary(report, console, top=top)
    return out.getvalue()


def _colour(report: ScanReport, *, width: int = 80) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=True, color_system="truecolor")
    render_summary(report, console)
    return out.getvalue()


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


def _finding(**changes: Any) -> Finding:
    base: dict[str, Any] = {
        "tool": "semgrep",
        "rule_id": "rule-a",
        "title": "A title",
        "message": "A message",
        "severity": Severity.HIGH,
        "category": Category.SAST,
        "location": Location(path="app.py", start_line=3),
    }
    base.update(changes)
    return Finding(**base)


def test_plain_output_at_80_columns(full_report: ScanReport) -> None:
    text = _plain(full_report)
    assert "\x1b" not in text
    assert all(cell_len(line) <= 80 for line in text.splitlines())
    lines = _lines(text)
    text = "\n".join(lines)
    assert "Findings by tool" in lines
    assert "Findings by category" in lines
    assert re.search(r"^ Tool\s+Critical\s+High\s+Medium\s+Low\s+Info\s+Total$", text, re.M)
    assert re.search(r"^ bandit\s+0\s+1\s+1\s+1\s+0\s+3$", text, re.M)
    assert re.search(r"^ checkov\s+0\s+0\s+0\s+0\s+0\s+0$", text, re.M)
    assert re.search(r"^ Total\s+1\s+5\s+2\s+1\s+1\s+10$", text, re.M)
    assert re.search(r"^ dependency\s+0\s+1\s+1\s+0\s+0\s+2$", text, re.M)
    assert not re.search(r"^ gitleaks", text, re.M)  # skipped: only in the status lines


def test_top_findings_most_severe_first(full_report: ScanReport) -> None:
    lines = _lines(_plain(full_report))
    labels = [
        line.split()[0] for line in lines if re.match(r"^(CRITICAL|HIGH|MEDIUM|LOW|INFO) ", line)
    ]
    assert labels == ["CRITICAL"] + ["HIGH"] * 5 + ["MEDIUM"] * 2 + ["LOW", "INFO"]
    assert "HIGH      app/tasks.py:17  B602  subprocess call with shell=True identified," in lines
    index = lines.index(
        "HIGH      app/tasks.py:17  B602  subprocess call with shell=True identified,"
    )
    assert lines[index + 1] == "          security issue."
    assert lines[index + 2] == "          fix: Pass the command as a list and drop shell=True."
    assert "HIGH      requirements.txt  PYSEC-2019-217  jinja2 2.10: sandbox escape via" in lines
    assert any(line.startswith("MEDIUM    (no location)  CVE-2023-5363  openssl") for line in lines)


def test_scanner_status_and_verdict(full_report: ScanReport) -> None:
    lines = _lines(_plain(full_report))
    assert "ok        bandit 1.7.9          3 findings in 0.8 s" in lines
    assert "imported  trivy 0.52.0          2 findings imported" in lines
    assert "skipped   gitleaks              not enabled" in lines
    failed = next(i for i, line in enumerate(lines) if line.startswith("failed "))
    assert lines[failed].startswith("failed    checkov 3.2.255       checkov exited with code 1:")
    error_text = " ".join(line.strip() for line in lines[failed : failed + 3])
    # The traceback's terminal colours are dropped, its text kept.
    assert 'line 198 ValueError: bad <input> & "quote"' in error_text
    assert lines[-3:] == [
        "FAILED  security gate (fails on critical)",
        "  - 1 critical finding at or above 'critical'",
        "  - scanner checkov failed: checkov exited with code 1",
    ]


def test_clean_report(clean_report: ScanReport) -> None:
    lines = _lines(_plain(clean_report))
    assert "No findings." in lines
    assert "Findings by category" not in lines
    assert lines[-1] == "PASSED  security gate (fails on high)"
    no_verdict = _lines(_plain(make_report(findings=[], tools=())))
    assert no_verdict[-1] == "No verdict: report only."


def test_colour_output_has_the_same_text(full_report: ScanReport) -> None:
    coloured = _colour(full_report)
    assert "\x1b[" in coloured
    stripped = _ANSI.sub("", coloured)
    assert _lines(stripped) == _lines(_plain(full_report))
    # Severity is a word, not only a colour.
    assert re.search(r"\x1b\[[0-9;]*mCRITICAL\x1b\[0m", coloured)


def test_top_limits_the_list(full_report: ScanReport) -> None:
    text = _plain(full_report, top=3)
    assert "Top findings (3 of 10, most severe first)" in text
    labels = re.findall(r"^(CRITICAL|HIGH|MEDIUM|LOW|INFO) ", text, re.M)
    assert labels == ["CRITICAL", "HIGH", "HIGH"]
    none = _plain(full_report, top=0)
    assert "Top findings" not in none
    assert "FAILED" in none


def test_untrusted_text_stays_inert() -> None:
    evil = (
        "[bold red]markup[/] :warning: \x1b[2J\x1b]8;;https://evil\x07link\x1b]8;;\x07 "
        "\u202eevil\nline two\n::error::injected ::add-mask::x"
    )
    finding = _finding(title=evil, rule_id="[red]r[/]", fix_hint=evil)
    tools = (ToolRun("semgrep", "[b]1[/b]", ToolStatus.FAILED, 0.0, 1, error=evil),)
    report = make_report(
        findings=[finding],
        tools=tools,
        verdict=Verdict(passed=False, reasons=(evil,)),
        errors=(evil,),
    )
    for text in (_plain(report), _ANSI.sub("", _colour(report))):
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
        assert "[bold red]markup[/]" in text
        assert "[red]r[/]" in text
        assert ":warning:" in text  # no emoji substitution
        # A terminal hyperlink (OSC 8) is dropped whole: its text stays, its target goes.
        assert "link" in text and "https://evil" not in text
        # No line can be read as a GitHub Actions workflow command.
        assert not any(line.lstrip().startswith("::") for line in text.splitlines())
        assert "::error" not in text and ":\u200b:error" in text
        assert all(cell_len(line) <= 80 for line in text.splitlines())


@pytest.mark.parametrize("width", [60, 80, 120])
def test_long_names_fit_the_width(width: int) -> None:
    finding = _finding(
        tool="sarif:Some Very Long Imported Analyzer Name",
        rule_id="a.very.long.rule.identifier." * 4,
        location=Location(path="deeply/nested/" * 6 + "file.py", start_line=12345),
        fix_hint="x" * 300,
    )
    text = _plain(make_report(findings=[finding], tools=()), width=width)
    assert all(cell_len(line) <= width for line in text.splitlines())
    assert "HIGH" in text


def test_safe_text() -> None:
    assert safe_text("a\n b\t\x1b[31mc\x1b[0m") == "a b c"
    assert safe_text("x" * 10, limit=5) == "xxxx…"
    assert safe_text("std::vector") == "std:\u200b:vector"
    assert safe_text("ünïcødé 🐍") == "ünïcødé 🐍"


def _gate_report(**changes: Any) -> ScanReport:
    findings = [
        _finding(rule_id="new-high", baseline_state=BaselineState.NEW),
        _finding(
            rule_id="old-high",
            location=Location(path="old.py", start_line=7),
            baseline_state=BaselineState.UNCHANGED,
        ),
        _finding(
            rule_id="accepted",
            severity=Severity.CRITICAL,
            location=Location(path="app.py", start_line=9),
            baseline_state=BaselineState.NEW,
            suppression=Suppression(
                "config", "tracked in SEC-1", "[[suppress]] #1", "2027-01-31", "appsec"
            ),
        ),
    ]
    report = make_report(
        findings=findings,
        tools=(ToolRun("semgrep", "1.85.0", ToolStatus.OK, 1.0, 3),),
        verdict=Verdict(passed=False, reasons=("1 finding(s) at or above the fail threshold",)),
    )
    return replace(
        report,
        baseline=".turbosec/baseline.json",
        fixed=(FixedFinding("fp", "semgrep", "gone", "x.py", "high", "Gone"),) * 2,
        notices=("suppression #2 (old module) in the configuration matches no finding: remove it",),
        **changes,
    )


def test_new_existing_and_suppressed_are_told_apart() -> None:
    lines = _lines(_plain(_gate_report()))
    text = "\n".join(lines)
    # the counts are about findings that are not suppressed
    assert re.search(r"^ semgrep\s+0\s+2\s+0\s+0\s+0\s+2$", text, re.M)
    assert "1 new, 1 existing (in the baseline), 1 suppressed (do not fail the gate)" in lines
    assert "fixed since baseline: 2" in lines
    top = lines.index("Top findings")
    # new first, then existing ones, marked as such
    assert lines[top + 1].startswith("HIGH      app.py:3  new-high  A title")
    assert lines[top + 2].startswith("HIGH      old.py:7  old-high  existing  A title")
    suppressed = lines.index("Suppressed findings")
    assert lines[suppressed + 1] == "CRITICAL  app.py:9  accepted  A title"
    detail = " ".join(line.strip() for line in lines[suppressed + 2 : suppressed + 4])
    assert detail == (
        "suppressed: tracked in SEC-1 ([[suppress]] #1, expires 2027-01-31, owner appsec)"
    )
    notices = lines.index("Notices")
    assert lines[notices + 1].startswith("  - suppression #2 (old module) in the configuration")
    assert notices < lines.index("Scanners")


def test_suppressed_only_without_a_baseline() -> None:
    finding = _finding(suppression=Suppression("inline", None, "app.py:3: nosec"))
    report = make_report(findings=[finding], tools=(), verdict=Verdict(passed=True))
    lines = _lines(_plain(report))
    assert "0 not suppressed, 1 suppressed (do not fail the gate)" in lines
    assert "No findings apart from suppressed ones." in lines
    assert "Top findings" not in lines
    assert "          suppressed: no reason given (app.py:3: nosec)" in lines
    assert not any("fixed since baseline" in line for line in lines)


def test_plain_report_has_no_status_line(full_report: ScanReport) -> None:
    text = _plain(full_report)
    assert "suppressed" not in text and "existing" not in text and "Notices" not in text
