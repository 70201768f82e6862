"""Fixtures: realistic scan reports (built in :mod:`tests.report.sample`)."""

from __future__ import annotations

import pytest

from tests.report.sample import make_report
from turbosec.core.report import ScanReport, ToolRun, ToolStatus, Verdict


@pytest.fixture
def full_report() -> ScanReport:
    """Eight tool runs (one failed, one skipped, one imported), every category, nasty text."""
    return make_report(
        verdict=Verdict(
            passed=False,
            reasons=(
                "1 critical finding at or above 'critical'",
                "scanner checkov failed: checkov exited with code 1",
            ),
            fail_on="critical",
        ),
    )


@pytest.fixture
def clean_report() -> ScanReport:
    """A passing run: scanners ran and found nothing."""
    return make_report(
        findings=[],
        tools=(
            ToolRun("bandit", "1.7.9", ToolStatus.OK, 0.5, 0),
            ToolRun("semgrep", "1.85.0", ToolStatus.OK, 4.0, 0),
        ),
        verdict=Verdict(passed=True, fail_on="high"),
    )
