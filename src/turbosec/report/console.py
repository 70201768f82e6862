"""The terminal summary of a scan: counts, the top findings, scanner status, the verdict.

It reads the same with and without colour (severity and status are always words), fits 80
columns, and never lets a finding's text reach the terminal as markup, escape sequences
or GitHub workflow commands: every scanner-provided string is a :class:`rich.text.Text`
built from :func:`safe_text`.
"""

from __future__ import annotations

import re
from collections import Counter

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from turbosec.core.finding import BaselineState, Category, Finding
from turbosec.core.report import ScanReport, ToolRun, ToolStatus
from turbosec.core.severity import Severity

SEVERITY_STYLES: dict[Severity, str] = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}
STATUS_STYLES: dict[ToolStatus, str] = {
    ToolStatus.OK: "green",
    ToolStatus.IMPORTED: "green",
    ToolStatus.FAILED: "bold red",
    ToolStatus.SKIPPED: "dim",
}
_SEVERITIES = sorted(Severity, reverse=True)
_FIELD_LIMIT = 300
_ERROR_LIMIT = 500

# Terminal escape sequences (CSI and OSC), dropped whole so no "[31m" remains.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")
# Any other C0/C1 control (a lone ESC), DEL and the Unicode bidi controls.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def safe_text(value: str, *, limit: int = _FIELD_LIMIT) -> str:
    """Untrusted text as one printable line.

    Control characters become spaces and whitespace collapses; ``::`` gets a zero-width
    space so a wrapped line cannot start with a GitHub Actions workflow command (the runner
    honours ``::command::`` after leading spaces in any line of the log).
    """
    text = " ".join(_CONTROL.sub(" ", _ANSI.sub("", value)).split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text.replace("::", ":\u200b:")


def _sort_key(finding: Finding) -> tuple[int, int, str, int, int, str, str]:
    loc = finding.location
    return (
        -int(finding.severity),
        -["low", "medium", "high"].index(finding.confidence.value),
        loc.path if loc else "\uffff",
        (loc.start_line or 0) if loc else 0,
        (loc.start_column or 0) if loc else 0,
        finding.rule_id,
        finding.fingerprint,
    )


def _count_cell(count: int, severity: Severity | None = None) -> Text:
    if count == 0:
        return Text("0", style="dim")
    return Text(str(count), style=SEVERITY_STYLES[severity] if severity is not None else "bold")


def _counts_table(title: str, label: str, rows: list[tuple[str, Counter[Severity]]]) -> Table:
    table = Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        show_footer=len(rows) > 1,
        pad_edge=False,
    )
    totals: Counter[Severity] = Counter()
    for _, counts in rows:
        totals.update(counts)
    table.add_column(label, footer="Total", overflow="fold", min_width=8)
    for severity in _SEVERITIES:
        table.add_column(
            severity.label.capitalize(),
            footer=_count_cell(totals[severity], severity),
            justify="right",
            no_wrap=True,
        )
    table.add_column("Total", footer=_count_cell(totals.total()), justify="right", no_wrap=True)
    for name, counts in rows:
        table.add_row(
            Text(safe_text(name, limit=60)),
            *(_count_cell(counts[s], s) for s in _SEVERITIES),
            _count_cell(counts.total()),
        )
    return table


def _existing(finding: Finding) -> bool:
    return finding.baseline_state is BaselineState.UNCHANGED


def _tool_rows(report: ScanReport, findings: list[Finding]) -> list[tuple[str, Counter[Severity]]]:
    by_tool: dict[str, Counter[Severity]] = {}
    for tool in report.tools:
        if tool.status is not ToolStatus.SKIPPED:
            by_tool.setdefault(tool.name, Counter())
    for finding in findings:
        by_tool.setdefault(finding.tool, Counter())[finding.severity] += 1
    return list(by_tool.items())


def _category_rows(findings: list[Finding]) -> list[tuple[str, Counter[Severity]]]:
    by_category: dict[Category, Counter[Severity]] = {}
    for finding in findings:
        by_category.setdefault(finding.category, Counter())[finding.severity] += 1
    return [(c.value, by_category[c]) for c in Category if c in by_category]


def _findings_grid(findings: list[Finding], *, suppressed: bool = False) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True, min_width=8)
    grid.add_column(overflow="fold", ratio=1)
    for finding in findings:
        body = Text()
        where = finding.location.display() if finding.location else "(no location)"
        body.append(safe_text(where), style="bold")
        body.append("  ")
        body.append(safe_text(finding.rule_id), style="cyan")
        if _existing(finding) and not suppressed:
            body.append("  ")
            body.append("existing", style="dim")
        body.append("  ")
        body.append(safe_text(finding.title or finding.message))
        if suppressed and finding.suppression is not None:
            sup = finding.suppression
            body.append("\n")
            body.append("suppressed: ", style="magenta")
            body.append(safe_text(sup.reason or "no reason given"))
            where_from = sup.source or sup.kind
            extra = [safe_text(where_from, limit=120)]
            if sup.expires:
                extra.append(f"expires {safe_text(sup.expires, limit=30)}")
            if sup.owner:
                extra.append(f"owner {safe_text(sup.owner, limit=60)}")
            body.append(" (" + ", ".join(extra) + ")", style="dim")
        elif finding.fix_hint:
            body.append("\n")
            body.append("fix: ", style="green")
            body.append(safe_text(finding.fix_hint))
        label = Text(finding.severity.label.upper(), style=SEVERITY_STYLES[finding.severity])
        grid.add_row(label, body)
    return grid


def _status_line(report: ScanReport, active: list[Finding], suppressed: int) -> Text | None:
    """``3 new, 18 existing (in the baseline), 2 suppressed`` -- when there is anything
    beyond plain findings to tell apart."""
    compared = report.baseline is not None or any(f.baseline_state for f in report.findings)
    if not compared and not suppressed:
        return None
    parts: list[str] = []
    if compared:
        existing = sum(1 for f in active if _existing(f))
        parts.append(f"{len(active) - existing} new")
        parts.append(f"{existing} existing (in the baseline)")
    else:
        parts.append(f"{len(active)} not suppressed")
    parts.append(f"{suppressed} suppressed (do not fail the gate)")
    text = Text(", ".join(parts))
    if compared:
        text.append(f"\nfixed since baseline: {len(report.fixed)}")
    return text


def _tool_line(tool: ToolRun) -> tuple[Text, Text, Text]:
    status = Text(tool.status.value, style=STATUS_STYLES[tool.status])
    name = Text(safe_text(tool.name, limit=60))
    if tool.version:
        name.append(" " + safe_text(tool.version, limit=30), style="dim")
    if tool.status is ToolStatus.FAILED:
        detail = Text(
            safe_text(tool.error or "failed without an error message", limit=_ERROR_LIMIT)
        )
        if tool.optional:
            detail.append("  (optional: does not fail the gate)", style="dim")
    elif tool.status is ToolStatus.SKIPPED:
        detail = Text(safe_text(tool.error or "not applicable"), style="dim")
    else:
        noun = "finding" if tool.findings == 1 else "findings"
        if tool.status is ToolStatus.IMPORTED:
            detail = Text(f"{tool.findings} {noun} imported")
        else:
            detail = Text(f"{tool.findings} {noun} in {tool.duration_s:.1f} s")
    return status, name, detail


def _scanners_grid(report: ScanReport) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold", max_width=28)
    grid.add_column(overflow="fold", ratio=1)
    for tool in report.tools:
        grid.add_row(*_tool_line(tool))
    for error in dict.fromkeys(report.errors):
        grid.add_row(
            Text("error", style="bold red"),
            Text("turbosec"),
            Text(safe_text(error, limit=_ERROR_LIMIT)),
        )
    return grid


def _verdict(report: ScanReport) -> Text:
    verdict = report.verdict
    if verdict is None:
        return Text("No verdict: report only.", style="bold")
    text = Text()
    if verdict.passed:
        text.append("PASSED", style="bold green")
    else:
        text.append("FAILED", style="bold red")
    text.append(f"  security gate (fails on {safe_text(verdict.fail_on, limit=30)})")
    for reason in verdict.reasons:
        text.append("\n  - ")
        text.append(safe_text(reason))
    return text


def render_summary(report: ScanReport, console: Console, *, top: int = 10) -> None:
    """Print the scan summary: counts, the ``top`` most severe findings, scanners, verdict.

    Counts and the top findings are about the findings that are not suppressed (new ones
    first when the scan was compared with a baseline); suppressed findings are counted
    and listed separately with their reasons, and notices (expired or stale suppressions)
    follow.
    """
    active = [f for f in report.findings if f.suppression is None]
    suppressed = [f for f in report.findings if f.suppression is not None]
    console.print(_counts_table("Findings by tool", "Tool", _tool_rows(report, active)))
    categories = _category_rows(active)
    if categories:
        console.print(_counts_table("Findings by category", "Category", categories))
    status = _status_line(report, active, len(suppressed))
    if status is not None:
        console.print(status)
        console.print()

    if active and top > 0:
        compared = any(_existing(f) for f in active)
        ordered = sorted(active, key=lambda f: (_existing(f), *_sort_key(f)))[:top]
        heading = Text("Top findings", style="bold")
        if len(active) > len(ordered):
            order = "new first, then most severe" if compared else "most severe first"
            heading.append(f" ({len(ordered)} of {len(active)}, {order})")
        console.print(heading)
        console.print(_findings_grid(ordered))
        console.print()
    elif not report.findings:
        console.print(Text("No findings.", style="green"))
        console.print()
    elif not active:
        console.print(Text("No findings apart from suppressed ones.", style="green"))
        console.print()

    if suppressed and top > 0:
        shown = sorted(suppressed, key=_sort_key)[:top]
        heading = Text("Suppressed findings", style="bold")
        if len(suppressed) > len(shown):
            heading.append(f" ({len(shown)} of {len(suppressed)}, most severe first)")
        console.print(heading)
        console.print(_findings_grid(shown, suppressed=True))
        console.print()

    if report.notices:
        console.print(Text("Notices", style="bold"))
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold", ratio=1)
        for notice in dict.fromkeys(report.notices):
            grid.add_row(Text("  -"), Text(safe_text(notice, limit=_ERROR_LIMIT)))
        console.print(grid)
        console.print()

    if report.tools or report.errors:
        console.print(Text("Scanners", style="bold"))
        console.print(_scanners_grid(report))
        console.print()
    console.print(_verdict(report))
