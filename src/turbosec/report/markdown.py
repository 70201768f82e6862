"""Markdown for a pull-request comment: the verdict, counts, and the findings that matter.

Everything that comes from a scanner (messages, paths, rule ids, error text) is untrusted:
it passes through :func:`escape_markdown`, so a finding cannot inject HTML, links, images,
math, table cells or @-mentions into the comment.  The comment stays under GitHub's size
limit: findings that do not fit are counted in a note instead of being cut mid-way.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from turbosec.core.finding import Finding
from turbosec.core.report import ScanReport, ToolRun, ToolStatus
from turbosec.core.severity import Severity
from turbosec.report.base import Formatter

GITHUB_COMMENT_LIMIT = 65_536
# Headroom under GitHub's limit for whatever a CI action wraps around the comment.
DEFAULT_MAX_CHARS = GITHUB_COMMENT_LIMIT - 536
# A hidden marker so a CI job can find and update its previous comment instead of adding one.
MARKER = "<!-- turbosec:report -->"

_FIELD_LIMIT = 400  # characters of one untrusted text field shown in a comment
_ERROR_LIMIT = 600

# Terminal escape sequences (CSI and OSC) in scanner output, dropped whole.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")
# C0/C1 controls, DEL, and the Unicode bidi controls ("Trojan Source").
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# ASCII punctuation with meaning inside a GitHub Markdown line: emphasis, code, links,
# images, tables, strikethrough, math.  CommonMark allows a backslash before any of them.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~$])")


def escape_markdown(text: str, *, limit: int | None = _FIELD_LIMIT) -> str:
    """Untrusted text as one inert line of GitHub-flavoured Markdown.

    Whitespace (newlines included) collapses to single spaces, control characters are
    dropped, the text is cut to ``limit`` characters, Markdown punctuation is
    backslash-escaped, ``& < >`` become entities, and ``@`` gets a zero-width space so a
    message cannot mention users or teams.
    """
    text = _CONTROL.sub(" ", _ANSI.sub("", text))
    text = " ".join(text.split())
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)].rstrip() + "…"
    text = _MD_SPECIAL.sub(r"\\\1", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("@", "@&#8203;")


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


def _code(text: str) -> str:
    """Monospace without a Markdown code span (whose content cannot be escaped)."""
    return f"<code>{escape_markdown(text)}</code>"


def _location(finding: Finding) -> str:
    loc = finding.location
    if loc is None:
        return "(no location)"
    return _code(loc.display())


def _compared(report: ScanReport) -> bool:
    """Whether the findings were compared with a baseline (new / existing)."""
    return report.baseline is not None or any(f.baseline_state for f in report.findings)


def _finding_item(finding: Finding) -> str:
    label = finding.severity.label.upper()
    parts = [f"- **{label}** {_location(finding)}"]
    parts.append(f" · {_code(finding.rule_id)} ({escape_markdown(finding.tool)})")
    parts.append(f": {escape_markdown(finding.title)}")
    if finding.package is not None:
        pkg = finding.package
        name = f"{pkg.name} {pkg.version}" if pkg.version else pkg.name
        parts.append(f" · package {_code(name)}")
    lines = ["".join(parts)]
    suppression = finding.suppression
    if suppression is not None:
        reason = escape_markdown(suppression.reason or "no reason given")
        where = f" ({escape_markdown(suppression.source)})" if suppression.source else ""
        extra = ""
        if suppression.expires:
            extra += f", expires {escape_markdown(suppression.expires)}"
        if suppression.owner:
            extra += f", owner {escape_markdown(suppression.owner)}"
        lines.append(f"  - Suppressed: {reason}{where}{extra}")
    elif finding.fix_hint:
        lines.append(f"  - Fix: {escape_markdown(finding.fix_hint)}")
    return "\n".join(lines) + "\n"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _tool_label(tool: ToolRun) -> str:
    name = escape_markdown(tool.name)
    return f"{name} {escape_markdown(tool.version)}" if tool.version else name


class MarkdownFormatter(Formatter):
    name = "markdown"
    extensions = (".md",)
    description = "Markdown for a pull-request comment (bounded to GitHub's comment size)"

    def __init__(self, *, max_chars: int = DEFAULT_MAX_CHARS) -> None:
        if max_chars < 1_000:
            raise ValueError(f"max_chars must be at least 1000, got {max_chars}")
        self.max_chars = max_chars

    def render(self, report: ScanReport) -> str:
        head = self._head(report)
        tail = self._tail(report)
        ordered = sorted(report.findings, key=_sort_key)
        compared = _compared(report)
        gating = [f for f in ordered if f.gating]
        urgent = [f for f in gating if f.severity >= Severity.HIGH]
        rest = [f for f in gating if f.severity < Severity.HIGH]
        existing = [f for f in ordered if f.suppression is None and not f.gating]
        suppressed = [f for f in ordered if f.suppression is not None]

        # The note is sized for the largest count it could carry.
        note_reserve = len(self._truncation_note(len(report.findings))) + 2
        budget = self.max_chars - len(head) - len(tail) - note_reserve
        body: list[str] = []
        shown = 0
        complete = True  # a later section is shown only once every earlier one is whole

        if urgent:
            new = "New critical" if compared else "Critical"
            section = f"### {new} and high findings ({len(urgent)})\n\n"
            items = self._fit(urgent, budget - len(section) - 1)
            if items:
                text = section + "".join(items) + "\n"
                body.append(text)
                budget -= len(text)
                shown += len(items)
            complete = len(items) == len(urgent)
        collapsed: list[tuple[list[Finding], str]] = []
        if rest:
            levels = ", ".join(s.label for s in sorted({f.severity for f in rest}, reverse=True))
            noun = "more new finding" if compared else "more finding"
            collapsed.append((rest, f"{_plural(len(rest), noun)} ({levels})"))
        if existing:
            collapsed.append(
                (existing, f"{_plural(len(existing), 'existing finding')} (in the baseline)")
            )
        if suppressed:
            collapsed.append(
                (suppressed, f"{_plural(len(suppressed), 'suppressed finding')} (accepted)")
            )
        for findings, summary in collapsed:
            if not complete:
                break
            opening = f"<details>\n<summary>{summary}</summary>\n\n"
            closing = "\n</details>\n\n"
            items = self._fit(findings, budget - len(opening) - len(closing))
            if items:
                text = opening + "".join(items) + closing
                body.append(text)
                budget -= len(text)
                shown += len(items)
            complete = len(items) == len(findings)

        omitted = len(report.findings) - shown
        if omitted:
            body.append(self._truncation_note(omitted) + "\n\n")
        document = head + "".join(body) + tail
        if len(document) > self.max_chars:
            # Only when the fixed parts alone are too long (thousands of reasons or errors).
            note = "\n\n" + self._truncation_note(len(report.findings))
            document = document[: self.max_chars - len(note) - 1].rstrip() + note + "\n"
        return document

    @staticmethod
    def _fit(findings: Iterable[Finding], budget: int) -> list[str]:
        items: list[str] = []
        used = 0
        for finding in findings:
            item = _finding_item(finding)
            if used + len(item) > budget:
                break
            items.append(item)
            used += len(item)
        return items

    @staticmethod
    def _truncation_note(omitted: int) -> str:
        return (
            f"_{_plural(omitted, 'finding')} not shown: this comment is limited to "
            f"{GITHUB_COMMENT_LIMIT:,} characters. The SARIF, JSON or JUnit report has every "
            "finding._"
        )

    @staticmethod
    def _head(report: ScanReport) -> str:
        verdict = report.verdict
        out = [MARKER, ""]
        if verdict is None:
            out += ["## turbosec security report", "", "No gate verdict: report only.", ""]
        else:
            status = "PASSED" if verdict.passed else "FAILED"
            out += [f"## turbosec security gate: {status}", ""]
            fail_on = escape_markdown(verdict.fail_on)
            if verdict.passed:
                out.append(f"The gate passed (fails on: **{fail_on}**).")
            else:
                out.append(f"The gate failed (fails on: **{fail_on}**):")
            out.append("")
            for reason in verdict.reasons[:50]:
                out.append(f"- {escape_markdown(reason)}")
            if len(verdict.reasons) > 50:
                out.append(f"- … and {len(verdict.reasons) - 50} more reasons")
            if verdict.reasons:
                out.append("")

        active = [f for f in report.findings if f.suppression is None]
        suppressed = len(report.findings) - len(active)
        compared = _compared(report)
        if compared:
            new = Counter(f.severity for f in active if f.gating)
            old = Counter(f.severity for f in active if not f.gating)
            out += ["| Severity | New | Existing |", "| --- | ---: | ---: |"]
            for severity in sorted(Severity, reverse=True):
                label = severity.label.capitalize()
                out.append(f"| {label} | {new.get(severity, 0)} | {old.get(severity, 0)} |")
            out.append(f"| **Total** | **{new.total()}** | **{old.total()}** |")
        else:
            counts = Counter(f.severity for f in active)
            out += ["| Severity | Findings |", "| --- | ---: |"]
            for severity in sorted(Severity, reverse=True):
                out.append(f"| {severity.label.capitalize()} | {counts.get(severity, 0)} |")
            out.append(f"| **Total** | **{len(active)}** |")
        out.append("")
        notes: list[str] = []
        if suppressed:
            notes.append(f"{_plural(suppressed, 'suppressed finding')} (not counted above)")
        if compared:
            notes.append(f"fixed since the baseline: {len(report.fixed)}")
        if notes:
            line = "; ".join(notes)
            out += [line[:1].upper() + line[1:] + ".", ""]
        out.append("")
        return "\n".join(out)

    @staticmethod
    def _tail(report: ScanReport) -> str:
        out: list[str] = []
        notices = list(dict.fromkeys(report.notices))
        if notices:
            out += ["### Notices", ""]
            for notice in notices[:20]:
                out.append(f"- {escape_markdown(notice, limit=_ERROR_LIMIT)}")
            if len(notices) > 20:
                out.append(f"- … and {len(notices) - 20} more notices")
            out.append("")
        failed = [t for t in report.tools if t.status is ToolStatus.FAILED]
        skipped = [t for t in report.tools if t.status is ToolStatus.SKIPPED]
        if failed or report.errors:
            out += ["### Scanner problems", ""]
            for tool in failed:
                kind = "optional scanner failed" if tool.optional else "failed"
                error = escape_markdown(tool.error or "no error message", limit=_ERROR_LIMIT)
                out.append(f"- **{_tool_label(tool)}** {kind}: {error}")
            for error in report.errors[:20]:
                out.append(f"- {escape_markdown(error, limit=_ERROR_LIMIT)}")
            if len(report.errors) > 20:
                out.append(f"- … and {len(report.errors) - 20} more errors")
            out.append("")
        if skipped:
            names = ", ".join(escape_markdown(t.name) for t in skipped)
            out += [f"Skipped: {names}.", ""]

        ran = [t for t in report.tools if t.status is not ToolStatus.SKIPPED]
        footer = [f"turbosec {escape_markdown(report.turbosec_version or 'unknown version')}"]
        repo = escape_markdown(report.repo.name)
        if report.repo.commit:
            repo += f" @ {escape_markdown(report.repo.commit[:12])}"
        if report.repo.branch:
            repo += f" ({escape_markdown(report.repo.branch)})"
        footer.append(repo)
        if ran:
            footer.append("scanners: " + ", ".join(_tool_label(t) for t in ran))
        out.append("<sub>" + " · ".join(footer) + "</sub>")
        return "\n".join(out) + "\n"
