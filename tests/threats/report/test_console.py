"""The console summary: counts, open threats most severe first, no terminal escapes."""

from __future__ import annotations

from tests.threats.report.sample import make_analysis
from turbosec.threats.report import render_console


def test_counts_and_open_threats() -> None:
    text = render_console(make_analysis())
    lines = text.splitlines()
    assert lines[0] == "Threat model: Demo shop (threatmodel.yaml)"
    assert lines[1] == "5 components, 4 flows, 42 rules: 6 threats, 3 open"
    assert "  Status          critical  high  medium  low  info  total" in lines
    assert "  open                   1     0       1    0     0      2" in lines
    assert "  total                  1     1       1    2     1      6" in lines
    start = lines.index("Open threats (3):")
    listed = [
        line.split()[1] for line in lines[start + 1 :] if line.startswith("  ") and line[2] != " "
    ]
    assert listed[:3] == [
        "TM-FLOW-001@web-to-db:",
        "TM-CSRF-001@browser-to-web:",
        "TM-LOG-001@billing",
    ]
    assert "TM-AUTH-001@web" not in text  # mitigated: not listed
    assert "  TM-OLD-999@gone at threatmodel.yaml:84" in lines
    assert "  - JUnit report build/junit.xml has no result for 1 test" in lines


def test_no_evidence_note() -> None:
    assert "Evidence: not checked" in render_console(make_analysis(with_evidence=False))
    assert "Evidence: not checked" not in render_console(make_analysis())


def test_hostile_text_has_no_control_characters() -> None:
    text = render_console(make_analysis(hostile=True))
    assert "\x1b" not in text
    assert all(ch == "\n" or ch >= " " for ch in text)
    assert render_console(make_analysis(shuffled=True)) == render_console(make_analysis())
