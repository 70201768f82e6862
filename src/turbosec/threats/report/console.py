"""A plain-text summary for terminals: counts by status and severity, then the open threats.

No colours and no escape sequences: model text has its control characters removed, so a
name cannot move the cursor or rewrite the terminal.
"""

from __future__ import annotations

from turbosec.threats.model import Analysis, AssessedThreat
from turbosec.threats.report._common import (
    SEVERITY_ORDER,
    STATUS_LABELS,
    STATUS_ORDER,
    clean,
    count,
    threat_sort_key,
)

_LIMIT = 300


def _table(analysis: Analysis) -> list[str]:
    counts = count(analysis.threats)
    headers = ["Status", *(s.label for s in SEVERITY_ORDER), "total"]
    rows = [
        [
            STATUS_LABELS[status].lower(),
            *(str(counts.get(status, sev)) for sev in SEVERITY_ORDER),
            str(counts.by_status(status)),
        ]
        for status in STATUS_ORDER
    ]
    rows.append(
        ["total", *(str(counts.by_severity(sev)) for sev in SEVERITY_ORDER), str(counts.total)]
    )
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = "  ".join(cell.rjust(widths[i + 1]) for i, cell in enumerate(cells[1:]))
        return f"  {first}  {rest}".rstrip()

    return [line(headers), *(line(r) for r in rows)]


def _open_line(item: AssessedThreat) -> list[str]:
    threat = item.threat
    status = "" if item.status.value == "open" else f" [{item.status.value}]"
    out = [
        f"  {threat.severity.label.upper():<8} {clean(threat.id, limit=_LIMIT)}{status}: "
        f"{clean(threat.title, limit=_LIMIT)}"
    ]
    out.append(f"           at {clean(threat.ref, limit=_LIMIT)}")
    if item.reason:
        out.append(f"           {clean(item.reason, limit=_LIMIT)}")
    return out


def render_console(analysis: Analysis) -> str:
    """Counts by status and severity, the open threats (most severe first), stale triage
    entries and warnings."""
    model = analysis.model
    counts = count(analysis.threats)
    out = [
        f"Threat model: {clean(model.name, limit=_LIMIT)} ({clean(model.path, limit=_LIMIT)})",
        f"{len(model.components)} components, {len(model.flows)} flows, "
        f"{analysis.rules_count} rules: {counts.total} threats, {counts.open} open",
    ]
    if analysis.evidence is None:
        out.append("Evidence: not checked (declared mitigations stay open)")
    out += ["", *_table(analysis)]
    opened = sorted((t for t in analysis.threats if t.is_open), key=threat_sort_key)
    if opened:
        out += ["", f"Open threats ({len(opened)}):"]
        for item in opened:
            out += _open_line(item)
    stale = sorted(analysis.stale_triage, key=lambda e: (e.ref, e.pattern))
    if stale:
        out += ["", f"Stale triage entries ({len(stale)}, they match no threat):"]
        out += [
            f"  {clean(e.pattern, limit=_LIMIT)} at {clean(e.ref, limit=_LIMIT)}" for e in stale
        ]
    warnings = list(analysis.warnings)
    if analysis.evidence is not None:
        warnings += analysis.evidence.warnings
    if warnings:
        out += ["", "Warnings:"]
        out += [f"  - {clean(w, limit=_LIMIT)}" for w in sorted(set(warnings))]
    return "\n".join(out) + "\n"
