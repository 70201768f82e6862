from __future__ import annotations

from turbosec.core.dedupe import deduplicate
from turbosec.core.finding import Category, Finding, Location
from turbosec.core.fingerprint import assign_fingerprints
from turbosec.core.severity import Severity


def _f(tool: str, sev: Severity, cwe: tuple[int, ...], line: int = 21, rule: str = "r") -> Finding:
    return Finding(
        tool=tool,
        rule_id=rule,
        title=f"{tool} {rule}",
        message="m",
        severity=sev,
        category=Category.SAST,
        location=Location(path="app.py", start_line=line),
        cwe=cwe,
        references=(f"https://{tool}.example/{rule}",),
    )


def test_same_cwe_same_location_from_two_tools_is_one_finding() -> None:
    semgrep = _f("semgrep", Severity.CRITICAL, (89,), rule="sql")
    bandit = _f("bandit", Severity.MEDIUM, (89,), rule="B608")
    out = deduplicate(assign_fingerprints([bandit, semgrep], None))
    assert len(out) == 1
    assert out[0].tool == "semgrep"
    assert out[0].also_reported_by == ("bandit",)
    assert set(out[0].references) == {"https://semgrep.example/sql", "https://bandit.example/B608"}


def test_different_cwe_or_line_or_same_tool_is_kept() -> None:
    a = _f("semgrep", Severity.HIGH, (89,))
    b = _f("bandit", Severity.HIGH, (78,))
    c = _f("bandit", Severity.HIGH, (89,), line=22)
    d = _f("semgrep", Severity.HIGH, (89,), rule="other")
    out = deduplicate(assign_fingerprints([a, b, c, d], None))
    assert len(out) == 4
