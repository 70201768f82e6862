"""The pull-request comment: verdict, counts, findings, escaping, bounded length."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import orjson
import pytest

from tests.report.sample import make_report
from turbosec.core.finding import (
    BaselineState,
    Category,
    Finding,
    Location,
    Package,
    Suppression,
)
from turbosec.core.report import FixedFinding, ScanReport, ToolRun, ToolStatus, Verdict
from turbosec.core.severity import Severity
from turbosec.report.markdown import (
    DEFAULT_MAX_CHARS,
    GITHUB_COMMENT_LIMIT,
    MARKER,
    MarkdownFormatter,
    escape_markdown,
)

EVIL = (
    "<img src=x onerror=alert(1)> | `code` [link](https://evil.example) "
    "![track](https://evil.example/p.png) @org/team *em* _u_ ~~s~~ $\\sqrt{x}$ &amp;\n"
    "## not a heading \\ <details>"
)


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


def _section(text: str, start: str, end: str) -> str:
    return text[text.index(start) : text.index(end, text.index(start))]


def test_full_report(full_report: ScanReport) -> None:
    text = MarkdownFormatter().render(full_report)
    assert text.startswith(MARKER + "\n\n## turbosec security gate: FAILED\n\n")
    assert (
        "The gate failed (fails on: **critical**):\n\n"
        "- 1 critical finding at or above 'critical'\n"
        "- scanner checkov failed: checkov exited with code 1\n" in text
    )
    assert (
        "| Severity | Findings |\n| --- | ---: |\n| Critical | 1 |\n| High | 5 |\n"
        "| Medium | 2 |\n| Low | 1 |\n| Info | 1 |\n| **Total** | **10** |\n" in text
    )
    urgent = _section(text, "### Critical and high findings (6)", "<details>")
    lines = [line for line in urgent.splitlines() if line.startswith("- ")]
    assert [line.split()[1] for line in lines] == ["**CRITICAL**"] + ["**HIGH**"] * 5
    assert lines[0] == (
        "- **CRITICAL** <code>app/views.py:42</code> · "
        "<code>python.django.security.injection.sql.sql-injection-using-raw</code> (semgrep): "
        "SQL injection: user input in a raw query"
    )
    assert (
        "  - Fix: Use parameterised queries: cursor.execute(sql, \\[value\\]) — never \\`%\\`."
        in (urgent)
    )
    assert (
        "- **HIGH** <code>requirements.txt</code> · <code>PYSEC-2019-217</code> (pip-audit): "
        "jinja2 2.10: sandbox escape via str.format · package <code>jinja2 2.10</code>\n"
        "  - Fix: Upgrade jinja2 to 2.10.1 or later.\n" in urgent
    )
    rest = _section(text, "<details>", "</details>")
    assert "<summary>4 more findings (medium, low, info)</summary>\n\n" in rest
    assert "- **MEDIUM** (no location) · <code>CVE-2023-5363</code> (trivy)" in rest
    assert "- **INFO** <code>app/util.py:5</code>" in rest
    assert "**HIGH**" not in rest
    problems = _section(text, "### Scanner problems", "<sub>")
    assert "- **checkov 3.2.255** failed: checkov exited with code 1: Traceback" in problems
    assert "\x1b" not in text
    assert "Skipped: gitleaks." in text
    assert text.endswith(
        "<sub>turbosec 0.1.0 · acme/shop @ 3f2c9a1b7e4d (feature/checkout) · scanners: "
        "bandit 1.7.9, semgrep 1.85.0, detect-secrets 1.5.0, pip-audit 2.7.3, checkov 3.2.255, "
        "zizmor 1.1.1, trivy 0.52.0</sub>\n"
    )


def test_heading_has_no_emoji(full_report: ScanReport, clean_report: ScanReport) -> None:
    for report in (full_report, clean_report, make_report(findings=[], tools=())):
        heading = next(
            line
            for line in MarkdownFormatter().render(report).splitlines()
            if line.startswith("## ")
        )
        assert heading.isascii()


def test_passed_and_no_verdict(clean_report: ScanReport) -> None:
    text = MarkdownFormatter().render(clean_report)
    assert "## turbosec security gate: PASSED\n\nThe gate passed (fails on: **high**).\n" in text
    assert "| **Total** | **0** |" in text
    assert "<details>" not in text
    assert "###" not in text
    no_verdict = MarkdownFormatter().render(make_report(findings=[], tools=()))
    assert "## turbosec security report\n\nNo gate verdict: report only.\n" in no_verdict


def test_untrusted_text_cannot_inject_markup() -> None:
    finding = _finding(
        title=EVIL,
        rule_id="rule`|<b>",
        tool="tool<i>",
        fix_hint=EVIL,
        location=Location(path="dir|x/<a>.py", start_line=1),
        package=Package("PyPI", "pkg<x>", "1.0|2"),
    )
    tools = (ToolRun("semgrep", "1<b>", ToolStatus.FAILED, 0.0, 0, error=EVIL),)
    report = make_report(
        findings=[finding, _finding(severity=Severity.LOW, title=EVIL)],
        tools=tools,
        verdict=Verdict(passed=False, reasons=(EVIL,), fail_on="high"),
        errors=(EVIL,),
    )
    text = MarkdownFormatter().render(report)
    # The only HTML is turbosec's own.
    tags = set(re.findall(r"</?([a-zA-Z]+)", text))
    assert tags <= {"code", "details", "summary", "sub"}
    assert text.count("<details>") == text.count("</details>") == 1
    assert "](" not in text.replace("\\](", "")  # no link or image syntax left intact
    assert "@org" not in text and "@&#8203;org/team" in text
    for line in text.splitlines():
        if not line.startswith("|"):
            # Every pipe, backtick, dollar and emphasis mark from the input is escaped.
            assert not re.search(r"(?<!\\)[|`$*_~\[\]]", line.replace("**", "")), line
        assert not line.startswith("## not a heading")
    item = next(line for line in text.splitlines() if line.startswith("- **HIGH**"))
    assert item == (
        "- **HIGH** <code>dir\\|x/&lt;a&gt;.py:1</code> · <code>rule\\`\\|&lt;b&gt;</code> "
        "(tool&lt;i&gt;): &lt;img src=x onerror=alert(1)&gt; \\| \\`code\\` "
        "\\[link\\](https://evil.example) !\\[track\\](https://evil.example/p.png) "
        "@&#8203;org/team \\*em\\* \\_u\\_ \\~\\~s\\~\\~ \\$\\\\sqrt{x}\\$ &amp;amp; "
        "## not a heading \\\\ &lt;details&gt; · package <code>pkg&lt;x&gt; 1.0\\|2</code>"
    )


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain text", "plain text"),
        ("a|b", "a\\|b"),
        ("`x`", "\\`x\\`"),
        ("<script>", "&lt;script&gt;"),
        ("&lt;", "&amp;lt;"),
        ("line1\nline2\r\n\tline3", "line1 line2 line3"),
        ("\x1b[31mred\x1b[0m", "red"),
        ("rtl\u202eevil", "rtl evil"),
        ("mail@example.com", "mail@&#8203;example.com"),
        ("back\\slash", "back\\\\slash"),
        ("ünïcødé 🐍", "ünïcødé 🐍"),
    ],
)
def test_escape_markdown(raw: str, escaped: str) -> None:
    assert escape_markdown(raw) == escaped


def test_escape_markdown_limits_before_escaping() -> None:
    assert escape_markdown("<" * 10, limit=4) == "&lt;&lt;&lt;…"
    assert len(escape_markdown("x" * 1000)) == 400


def _many(count: int) -> list[Finding]:
    return [
        _finding(
            rule_id=f"rule-{i:05d}",
            title="A long title " + "x" * 150,
            fix_hint="A long fix hint " + "y" * 150,
            severity=Severity.HIGH if i % 3 else Severity.MEDIUM,
            location=Location(path=f"src/module_{i:05d}.py", start_line=i + 1),
        )
        for i in range(count)
    ]


def test_long_reports_are_truncated_with_a_note() -> None:
    report = make_report(findings=_many(2_000), tools=())
    text = MarkdownFormatter().render(report)
    assert len(text) <= DEFAULT_MAX_CHARS < GITHUB_COMMENT_LIMIT
    shown = sum(1 for line in text.splitlines() if line.startswith("- **"))
    note = re.search(r"_(\d+) findings not shown: this comment is limited to 65,536", text)
    assert note is not None
    assert shown + int(note.group(1)) == 2_000
    assert shown > 100
    # High findings first: no lower severity is shown while a high one is left out.
    assert "<details>" not in text
    assert text.rstrip().endswith("</sub>")


@pytest.mark.parametrize("max_chars", [1_000, 3_000, 10_000])
def test_small_limits_are_respected(max_chars: int) -> None:
    findings = _many(60)
    report = make_report(findings=findings, tools=())
    text = MarkdownFormatter(max_chars=max_chars).render(report)
    assert len(text) <= max_chars
    assert text.count("<details>") == text.count("</details>")
    assert "not shown" in text


def test_lower_severities_fit_after_all_urgent_ones() -> None:
    findings = [_finding(severity=Severity.CRITICAL)] + [
        _finding(severity=Severity.LOW, rule_id=f"low-{i}", title="t" * 300) for i in range(40)
    ]
    text = MarkdownFormatter(max_chars=6_000).render(make_report(findings=findings, tools=()))
    assert len(text) <= 6_000
    details = _section(text, "<details>", "</details>")
    shown_low = details.count("- **LOW**")
    assert 0 < shown_low < 40
    assert f"_{40 - shown_low} findings not shown" in text


def test_huge_fixed_parts_are_still_bounded() -> None:
    report = make_report(
        findings=_many(5),
        tools=(),
        verdict=Verdict(passed=False, reasons=tuple(f"reason {i} " + "z" * 390 for i in range(50))),
    )
    text = MarkdownFormatter(max_chars=5_000).render(report)
    assert len(text) <= 5_000
    assert "5 findings not shown" in text


def test_max_chars_must_be_sensible() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        MarkdownFormatter(max_chars=10)


def test_output_is_deterministic(full_report: ScanReport) -> None:
    first = MarkdownFormatter().render(full_report)
    again = ScanReport.from_dict(orjson.loads(full_report.to_json()))
    assert MarkdownFormatter().render(again).encode() == first.encode()


def _gate_report() -> ScanReport:
    findings = [
        _finding(rule_id="new-high", baseline_state=BaselineState.NEW),
        _finding(
            rule_id="new-low",
            severity=Severity.LOW,
            location=Location(path="app.py", start_line=4),
            baseline_state=BaselineState.NEW,
        ),
        _finding(
            rule_id="old-critical",
            severity=Severity.CRITICAL,
            location=Location(path="old.py", start_line=7),
            baseline_state=BaselineState.UNCHANGED,
        ),
        _finding(
            rule_id="accepted",
            severity=Severity.CRITICAL,
            location=Location(path="app.py", start_line=9),
            baseline_state=BaselineState.NEW,
            suppression=Suppression(
                "config", "tracked in SEC-1 <b>", "[[suppress]] #1", "2027-01-31", "appsec"
            ),
        ),
    ]
    report = make_report(findings=findings, tools=(), verdict=Verdict(passed=False))
    return replace(
        report,
        baseline=".turbosec/baseline.json",
        fixed=(FixedFinding("fp", "semgrep", "gone", "x.py", "high", "Gone"),) * 3,
        notices=("suppression #2 (old | module) in the configuration matches no finding",),
    )


def test_only_new_critical_and_high_findings_are_in_the_main_list() -> None:
    text = MarkdownFormatter().render(_gate_report())
    assert (
        "| Severity | New | Existing |\n| --- | ---: | ---: |\n| Critical | 0 | 1 |\n"
        "| High | 1 | 0 |\n| Medium | 0 | 0 |\n| Low | 1 | 0 |\n| Info | 0 | 0 |\n"
        "| **Total** | **2** | **1** |\n\n"
        "1 suppressed finding (not counted above); fixed since the baseline: 3.\n" in text
    )
    urgent = _section(text, "### New critical and high findings (1)", "<details>")
    assert [line for line in urgent.splitlines() if line.startswith("- ")] == [
        "- **HIGH** <code>app.py:3</code> · <code>new-high</code> (semgrep): A title"
    ]
    assert "old-critical" not in urgent and "accepted" not in urgent
    summaries = re.findall(r"<summary>(.*)</summary>", text)
    assert summaries == [
        "1 more new finding (low)",
        "1 existing finding (in the baseline)",
        "1 suppressed finding (accepted)",
    ]
    suppressed = text[text.index("1 suppressed finding (accepted)") :]
    assert (
        "- **CRITICAL** <code>app.py:9</code> · <code>accepted</code> (semgrep): A title\n"
        "  - Suppressed: tracked in SEC-1 &lt;b&gt; (\\[\\[suppress\\]\\] #1), "
        "expires 2027-01-31, owner appsec\n" in suppressed
    )
    notices = _section(text, "### Notices", "<sub>")
    assert "- suppression #2 (old \\| module) in the configuration matches no finding" in notices


def test_suppressed_without_a_baseline() -> None:
    findings = [
        _finding(),
        _finding(
            rule_id="marked",
            severity=Severity.CRITICAL,
            suppression=Suppression("inline", None, "app.py:3: nosec"),
        ),
    ]
    text = MarkdownFormatter().render(make_report(findings=findings, tools=()))
    assert "| Critical | 0 |" in text and "| **Total** | **1** |" in text
    assert "1 suppressed finding (not counted above).\n" in text
    assert "### Critical and high findings (1)" in text
    assert "  - Suppressed: no reason given (app.py:3: nosec)" in text
    assert "fixed since" not in text
