from __future__ import annotations

import pytest

from turbosec.core.severity import Severity


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (10.0, "critical"),
        (9.0, "critical"),
        (8.9, "high"),
        (7.0, "high"),
        (6.9, "medium"),
        (4.0, "medium"),
        (3.9, "low"),
        (0.1, "low"),
        (0.0, "info"),
    ],
)
def test_cvss_ratings(score: float, expected: str) -> None:
    assert Severity.from_cvss(score).label == expected


def test_cvss_out_of_range() -> None:
    with pytest.raises(ValueError, match="out of range"):
        Severity.from_cvss(11)


@pytest.mark.parametrize(
    ("tool", "word", "expected"),
    [
        ("bandit", "HIGH", Severity.HIGH),
        ("semgrep", "ERROR", Severity.HIGH),
        ("semgrep", "WARNING", Severity.MEDIUM),
        ("semgrep", "INFO", Severity.LOW),
        ("semgrep", "CRITICAL", Severity.CRITICAL),
        ("sarif", "note", Severity.LOW),
        ("zizmor", "Informational", Severity.INFO),
        ("trivy", "UNKNOWN", Severity.MEDIUM),
        ("osv", "MODERATE", Severity.MEDIUM),
        ("checkov", None, Severity.MEDIUM),
        ("unknown-tool", "weird", Severity.MEDIUM),
    ],
)
def test_tool_vocabularies(tool: str, word: str | None, expected: Severity) -> None:
    assert Severity.from_tool(tool, word) is expected


def test_order_and_parse() -> None:
    assert Severity.CRITICAL > Severity.HIGH > Severity.MEDIUM > Severity.LOW > Severity.INFO
    assert Severity.parse("High") is Severity.HIGH
    with pytest.raises(ValueError, match="unknown severity"):
        Severity.parse("urgent")
