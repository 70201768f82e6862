"""Cross-tool de-duplication.

* Two code findings from different tools that name a common CWE at the same location
  (path and start line) are one problem: the more severe is kept and the other tool is
  recorded in ``also_reported_by``.
* Findings sharing a fingerprint from different tools (one advisory reported by two
  dependency tools) are merged the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from turbosec.core.finding import Finding


def _merge(kept: Finding, other: Finding) -> Finding:
    also = tuple(dict.fromkeys((*kept.also_reported_by, other.tool, *other.also_reported_by)))
    also = tuple(t for t in also if t != kept.tool)
    return replace(
        kept,
        also_reported_by=also,
        cwe=tuple(dict.fromkeys((*kept.cwe, *other.cwe))),
        advisories=tuple(dict.fromkeys((*kept.advisories, *other.advisories))),
        references=tuple(dict.fromkeys((*kept.references, *other.references))),
        fix_hint=kept.fix_hint or other.fix_hint,
    )


def _better(a: Finding, b: Finding) -> bool:
    """True when ``a`` should be kept over ``b``."""
    return (a.severity, -len(a.tool)) > (b.severity, -len(b.tool))


def deduplicate(findings: Sequence[Finding]) -> list[Finding]:
    """Merge cross-tool duplicates; order of first appearance is kept."""
    out: list[Finding] = []
    by_fp: dict[str, int] = {}
    by_cwe_loc: dict[tuple[str, int, int], int] = {}
    for finding in findings:
        target: int | None = None
        if finding.fingerprint and finding.fingerprint in by_fp:
            idx = by_fp[finding.fingerprint]
            if out[idx].family != finding.family:
                target = idx
        loc = finding.location
        if target is None and loc is not None and loc.start_line:
            for cwe in finding.cwe:
                idx2 = by_cwe_loc.get((loc.path, loc.start_line, cwe))
                if idx2 is not None and out[idx2].family != finding.family:
                    target = idx2
                    break
        if target is None:
            out.append(finding)
            pos = len(out) - 1
        else:
            current = out[target]
            out[target] = (
                _merge(finding, current) if _better(finding, current) else _merge(current, finding)
            )
            pos = target
        kept = out[pos]
        if kept.fingerprint:
            by_fp[kept.fingerprint] = pos
        if finding.fingerprint:
            by_fp[finding.fingerprint] = pos
        if loc is not None and loc.start_line:
            for cwe in (*finding.cwe, *kept.cwe):
                by_cwe_loc.setdefault((loc.path, loc.start_line, cwe), pos)
    return out
