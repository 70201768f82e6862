"""GitHub Actions annotations: workflow commands that pin findings to the changed lines.

``::error file=app.py,line=3,endLine=4,col=5,title=...::message`` — the level follows the
severity (critical/high: error, medium: warning, low/info: notice).  Every value goes
through the workflow-command escaping rules, so a finding's text can neither end the
command early nor start a second one on a new line.

GitHub shows at most 10 annotations of each level per step, so turbosec emits at most
``max_per_level`` of each (most severe first; failed scanners before findings) and ends
with one summary notice that counts what was left out.
"""

# No ``from __future__ import annotations``: it would bind the name of the public function.
import re
from collections import Counter

from turbosec.core.finding import Finding
from turbosec.core.report import ScanReport, ToolStatus
from turbosec.core.severity import Severity

GITHUB_LEVEL_LIMIT = 10  # annotations of one level GitHub displays per step
_TITLE_LIMIT = 200
_MESSAGE_LIMIT = 4_000

LEVELS: dict[Severity, str] = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "notice",
    Severity.INFO: "notice",
}

# Terminal escape sequences (CSI and OSC) in scanner output, dropped whole.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")
# Controls other than newlines (ESC starts terminal sequences in the log viewer) and the
# Unicode bidi controls.
_CONTROL = re.compile(
    r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def escape_data(value: str) -> str:
    """Escape a workflow command's message: ``%``, CR and LF."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """Escape a workflow command property value: the data rules plus ``:`` and ``,``."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def _clean(text: str, limit: int) -> str:
    text = _CONTROL.sub(" ", _ANSI.sub("", text)).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def command(level: str, message: str, **properties: str | int | None) -> str:
    """One workflow command line; properties that are None are left out."""
    props = ",".join(
        f"{key}={escape_property(str(value))}"
        for key, value in properties.items()
        if value is not None and value != ""
    )
    head = f"::{level} {props}" if props else f"::{level}"
    return f"{head}::{escape_data(message)}"


def _sort_key(finding: Finding) -> tuple[int, str, int, int, str, str]:
    loc = finding.location
    return (
        -int(finding.severity),
        loc.path if loc else "\uffff",
        (loc.start_line or 0) if loc else 0,
        (loc.start_column or 0) if loc else 0,
        finding.rule_id,
        finding.fingerprint,
    )


def finding_annotation(finding: Finding) -> str:
    loc = finding.location
    props: dict[str, str | int | None] = {}
    if loc is not None and loc.path:
        props["file"] = _clean(loc.path, 1_000)
        if loc.start_line and loc.start_line >= 1:
            props["line"] = loc.start_line
            if loc.end_line and loc.end_line >= loc.start_line:
                props["endLine"] = loc.end_line
            if loc.start_column and loc.start_column >= 1:
                props["col"] = loc.start_column
                if loc.end_column and loc.end_column >= 1:
                    props["endColumn"] = loc.end_column
    label = finding.severity.label.upper()
    props["title"] = _clean(f"[{label}] {finding.title or finding.rule_id}", _TITLE_LIMIT)
    lines = [finding.message or finding.title]
    if finding.package is not None:
        pkg = finding.package
        fixed = f" (fixed in {', '.join(pkg.fixed_versions)})" if pkg.fixed_versions else ""
        lines.append(f"Package: {pkg.name} {pkg.version or ''}".rstrip() + fixed)
    if finding.fix_hint:
        lines.append(f"Fix: {finding.fix_hint}")
    lines.append(f"Rule: {finding.tool} {finding.rule_id}")
    return command(LEVELS[finding.severity], _clean("\n".join(lines), _MESSAGE_LIMIT), **props)


def annotations(report: ScanReport, *, max_per_level: int = GITHUB_LEVEL_LIMIT) -> list[str]:
    """Workflow commands for a scan, most important first, ending with a summary notice."""
    if max_per_level < 1:
        raise ValueError(f"max_per_level must be at least 1, got {max_per_level}")
    # One notice slot stays free for the summary.
    room = {"error": max_per_level, "warning": max_per_level, "notice": max_per_level - 1}
    lines: list[str] = []
    left_out = 0

    for tool in report.tools:
        if tool.status is not ToolStatus.FAILED:
            continue
        level = "warning" if tool.optional else "error"
        title = f"turbosec: scanner {tool.name} failed" + (" (optional)" if tool.optional else "")
        message = tool.error or f"{tool.name} failed without an error message"
        if room[level] > 0:
            room[level] -= 1
            lines.append(
                command(level, _clean(message, _MESSAGE_LIMIT), title=_clean(title, _TITLE_LIMIT))
            )
    for error in dict.fromkeys(report.errors):
        if room["error"] > 0:
            room["error"] -= 1
            lines.append(
                command("error", _clean(error, _MESSAGE_LIMIT), title="turbosec: scan error")
            )

    # Suppressed findings and findings already in the baseline are not annotated:
    # annotations are for what the change brings.
    for finding in sorted((f for f in report.findings if f.gating), key=_sort_key):
        level = LEVELS[finding.severity]
        if room[level] > 0:
            room[level] -= 1
            lines.append(finding_annotation(finding))
        else:
            left_out += 1

    lines.append(command("notice", _summary(report, left_out, max_per_level), title="turbosec"))
    return lines


def _summary(report: ScanReport, left_out: int, max_per_level: int) -> str:
    gating = [f for f in report.findings if f.gating]
    counts = Counter(f.severity for f in gating)
    total = len(gating)
    if total:
        parts = ", ".join(
            f"{counts[s]} {s.label}" for s in sorted(Severity, reverse=True) if counts[s]
        )
        text = f"turbosec: {total} finding{'s' if total != 1 else ''} ({parts})"
    else:
        text = "turbosec: no new findings" if report.findings else "turbosec: no findings"
    hidden = len(report.findings) - total
    if hidden:
        text += f"; {hidden} suppressed or already in the baseline"
    failed = [t.name for t in report.tools if t.status is ToolStatus.FAILED]
    if failed:
        text += f"; scanners failed: {', '.join(failed)}"
    verdict = report.verdict
    if verdict is not None:
        text += "; gate PASSED" if verdict.passed else "; gate FAILED"
        if verdict.reasons:
            text += ": " + "; ".join(verdict.reasons)
    text += "."
    if left_out:
        text += (
            f" {left_out} finding{'s' if left_out != 1 else ''} not annotated (GitHub shows at"
            f" most {max_per_level} annotations of each level per step): see the full report."
        )
    return _clean(text, _MESSAGE_LIMIT)
