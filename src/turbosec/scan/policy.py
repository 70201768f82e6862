"""The gate's decision: which findings fail the build.

Two rules, both from ``turbosec.toml``:

* thresholds: a finding fails the gate when its severity reaches the threshold of its
  category (``fail_on_category``) or, without one, the global ``fail_on``;
* maximum counts (``[max]``, as the OWASP AppSec Pipeline's max-critical / max-high gates):
  the gate fails when there are more findings of a severity than allowed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from turbosec.core.config import Config
from turbosec.core.finding import Finding
from turbosec.core.report import Verdict
from turbosec.core.severity import Severity


def fails_gate(finding: Finding, config: Config) -> bool:
    """Suppressed findings and findings already in the baseline never fail the gate."""
    if not finding.gating:
        return False
    threshold = config.threshold_for(finding.category)
    return threshold is not None and finding.severity >= threshold


def evaluate(findings: Sequence[Finding], config: Config) -> Verdict:
    reasons: list[str] = []
    failing = [f for f in findings if fails_gate(f, config)]
    if failing:
        by_sev = Counter(f.severity for f in failing)
        parts = ", ".join(f"{by_sev[s]} {s.label}" for s in sorted(by_sev, reverse=True))
        reasons.append(f"{len(failing)} finding(s) at or above the fail threshold ({parts})")
    counts = Counter(f.severity for f in findings if f.gating)
    for severity in sorted(Severity, reverse=True):
        limit = getattr(config.max, severity.label)
        if limit is not None and counts[severity] > limit:
            reasons.append(
                f"{counts[severity]} {severity.label} finding(s), "
                f"more than max.{severity.label} = {limit}"
            )
    return Verdict(passed=not reasons, reasons=tuple(reasons), fail_on=config.fail_on)
