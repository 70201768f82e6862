"""The threat analysis as a Markdown document (a report file or a pull-request comment).

A model is attacker-controlled in a pull request, so every piece of model text passes
through :func:`turbosec.report.markdown.escape_markdown` (one inert line: no HTML, links,
table cells, code spans or mentions) or, for ids, becomes a code span only when it holds
nothing a code span cannot carry.  The data-flow diagram is embedded as a Mermaid block
whose labels are entity-escaped (see :mod:`turbosec.threats.report.diagram`).
"""

from __future__ import annotations

import functools
import re

from turbosec.threats.model import (
    Analysis,
    AssessedThreat,
    ControlEvidence,
    ThreatModel,
    TriageEntry,
)
from turbosec.threats.report._common import (
    KIND_LABELS,
    SEVERITY_ORDER,
    STATUS_LABELS,
    STATUS_ORDER,
    ComponentGroup,
    boundary_label,
    capec_url,
    clean,
    control_kind,
    count,
    cwe_url,
    evidence_summary,
    group_by_component,
    stride_labels,
)
from turbosec.threats.report.diagram import render_mermaid

_NAME_LIMIT = 200
_TEXT_LIMIT = 2_000
# Markdown punctuation (emphasis, code, links, tables, strikethrough, math) gets a
# backslash, and "& < >" become entities: no HTML survives.
_MD_TABLE = str.maketrans(
    {**{c: "\\" + c for c in "\\`*_[]|~$"}, "&": "&amp;", "<": "&lt;", ">": "&gt;"}
)
_MENTION = re.compile(r"(?<![A-Za-z0-9])@")
# Printable ASCII without space, backslash, backtick and pipe: safe inside a code span,
# also inside a table cell.
_CODE_SAFE = re.compile(r"[\x21-\x5b\x5d-\x5f\x61-\x7b\x7d\x7e]{1,200}")


def md(text: object, *, limit: int | None = _TEXT_LIMIT) -> str:
    """Untrusted text as one inert Markdown line (the same escaping as
    :func:`turbosec.report.markdown.escape_markdown`, in one pass).

    ``@`` right after a letter or digit cannot start a mention (``TM-X@web``, an e-mail
    address), so it stays readable there; everywhere else it is broken up.
    """
    return _md(str(text), limit)


@functools.lru_cache(maxsize=16_384)
def _md(text: str, limit: int | None) -> str:
    # Cached: rule titles, advice and ids repeat across hundreds of threats.
    value = clean(text, limit=limit).translate(_MD_TABLE)
    if "@" in value:
        value = _MENTION.sub("@&#8203;", value)
    return value


def code(text: object) -> str:
    """An id or a path in monospace, escaped when a code span could not hold it."""
    value = str(text)
    if _CODE_SAFE.fullmatch(value):
        return f"`{value}`"
    return f"<code>{md(value, limit=_NAME_LIMIT)}</code>"


def _summary_table(analysis: Analysis) -> list[str]:
    counts = count(analysis.threats)
    head = "| Status | " + " | ".join(s.label.capitalize() for s in SEVERITY_ORDER) + " | Total |"
    rule = "| --- |" + " ---: |" * (len(SEVERITY_ORDER) + 1)
    out = [head, rule]
    for status in STATUS_ORDER:
        cells = " | ".join(str(counts.get(status, sev)) for sev in SEVERITY_ORDER)
        out.append(f"| {STATUS_LABELS[status]} | {cells} | {counts.by_status(status)} |")
    totals = " | ".join(f"**{counts.by_severity(sev)}**" for sev in SEVERITY_ORDER)
    out.append(f"| **Total** | {totals} | **{counts.total}** |")
    return out


def _head(analysis: Analysis) -> list[str]:
    model = analysis.model
    counts = count(analysis.threats)
    out = [f"# Threat model: {md(model.name, limit=_NAME_LIMIT)}", ""]
    out.append(f"- **Owner:** {md(model.owner, limit=_NAME_LIMIT)}")
    includes = len(model.files) - 1 if model.files else 0
    extra = f" (and {includes} included file{'s' if includes != 1 else ''})" if includes > 0 else ""
    out.append(f"- **Model:** {code(model.path)}{extra}")
    out.append(
        f"- **Elements:** {len(model.components)} components, {len(model.flows)} flows, "
        f"{len(model.boundaries)} trust boundaries, {len(model.data)} data assets, "
        f"{len(model.controls)} controls"
    )
    out.append(f"- **Rules evaluated:** {analysis.rules_count}")
    out.append(f"- **Threats:** {counts.total}, of which **{counts.open} open**")
    out.append(f"- **Evidence:** {_evidence_line(analysis)}")
    if model.description:
        # A list item, never a bare line: model text must not start a Markdown block.
        out.append(f"- **Description:** {md(model.description)}")
    return out


def _evidence_line(analysis: Analysis) -> str:
    evidence = analysis.evidence
    if evidence is None:
        return "not checked (a declared mitigation stays open until its tests are checked)"
    parts = ["test ids collected with pytest" if evidence.collected else "test ids not collected"]
    if evidence.junit_files:
        parts.append("results from " + ", ".join(code(f) for f in sorted(evidence.junit_files)))
    else:
        parts.append("no JUnit results given")
    return "; ".join(parts)


def _group_heading(model: ThreatModel, group: ComponentGroup) -> list[str]:
    component = group.component
    if component is None:
        return [
            f"### {code(group.component_id)}",
            "",
            "_This component is not declared in the model._",
        ]
    name = md(component.name or component.id, limit=_NAME_LIMIT)
    kind = KIND_LABELS.get(component.kind.value, component.kind.value)
    facts = [
        f"Component {code(component.id)}",
        f"kind: {kind}",
        f"boundary: {md(boundary_label(model, component.boundary), limit=_NAME_LIMIT)}",
    ]
    if component.technology:
        facts.append(f"technology: {md(component.technology, limit=_NAME_LIMIT)}")
    facts.append(f"declared at {code(component.ref)}")
    return [f"### {name} ({kind})", "", " · ".join(facts)]


def _control_lines(model: ThreatModel, evidence: ControlEvidence) -> list[str]:
    kind = control_kind(model, evidence.control_id)
    kind_text = f" ({md(kind, limit=_NAME_LIMIT)})" if kind else ""
    lines = [f"  - {code(evidence.control_id)}{kind_text}: {evidence_summary(evidence)}"]
    for test in sorted(evidence.tests, key=lambda t: t.node_id):
        detail = f": {md(test.detail, limit=400)}" if test.detail else ""
        lines.append(f"    - {code(test.node_id)} — {test.outcome.value}{detail}")
    return lines


def _triage_line(entry: TriageEntry) -> str:
    parts = [f"{entry.status.value} by {code(entry.pattern)} at {code(entry.ref)}"]
    if entry.justification:
        parts.append(f"justification: {md(entry.justification)}")
    if entry.ticket:
        parts.append(f"ticket: {md(entry.ticket, limit=_NAME_LIMIT)}")
    if entry.expires is not None:
        parts.append(f"expires: {entry.expires.isoformat()}")
    if entry.mitigated_by:
        parts.append("mitigated by: " + ", ".join(code(c) for c in entry.mitigated_by))
    if entry.external_id:
        parts.append(f"external id: {code(entry.external_id)}")
    return " · ".join(parts)


def _threat_block(model: ThreatModel, item: AssessedThreat) -> list[str]:
    threat = item.threat
    severity = threat.severity.label
    status = STATUS_LABELS.get(item.status, item.status.value)
    out = [
        f"#### {code(threat.id)} · {severity.capitalize()} · {status} — "
        f"{md(threat.title, limit=_NAME_LIMIT)}",
        "",
    ]
    declared = ""
    if item.declared_status is not None and item.declared_status is not item.status:
        declared = f" (triage says: {item.declared_status.value})"
    out.append(
        f"- **Severity:** {severity} · **Status:** {item.status.value}{declared} · "
        f"**Rule:** {code(threat.rule_id)}"
    )
    stride = stride_labels(threat.stride)
    if stride:
        out.append("- **STRIDE:** " + ", ".join(s.replace("_", " ") for s in stride))
    refs = [f"[CWE-{int(c)}]({cwe_url(c)})" for c in sorted(set(threat.cwe))]
    refs += [f"[CAPEC-{int(c)}]({capec_url(c)})" for c in sorted(set(threat.capec))]
    if refs:
        out.append("- **References:** " + ", ".join(refs))
    element = f"{md(threat.element_kind, limit=40)} {code(threat.element_id)}"
    out.append(f"- **Element:** {element} at {code(threat.ref)}")
    if threat.explanation:
        out.append(f"- **Why:** {md(threat.explanation)}")
    if item.reason:
        out.append(f"- **Status reason:** {md(item.reason)}")
    if item.controls:
        out.append("- **Controls:**")
        for evidence in sorted(item.controls, key=lambda e: e.control_id):
            out.extend(_control_lines(model, evidence))
    elif threat.candidate_controls:
        ids = ", ".join(code(c) for c in sorted(set(threat.candidate_controls)))
        out.append(f"- **Candidate controls:** {ids}")
    if item.triage is not None:
        out.append(f"- **Triage:** {_triage_line(item.triage)}")
    if threat.mitigation:
        out.append(f"- **Mitigation:** {md(threat.mitigation)}")
    return out


def _stale(analysis: Analysis) -> list[str]:
    entries = sorted(analysis.stale_triage, key=lambda e: (e.ref, e.pattern))
    if not entries:
        return []
    out = [
        "## Stale triage entries",
        "",
        "These entries match no threat: remove them or fix their pattern.",
        "",
        "| Pattern | Status | Declared at | Justification |",
        "| --- | --- | --- | --- |",
    ]
    for entry in entries:
        out.append(
            f"| {code(entry.pattern)} | {entry.status.value} | {code(entry.ref)} | "
            f"{md(entry.justification, limit=400) or '—'} |"
        )
    return [*out, ""]


def _warnings(analysis: Analysis) -> list[str]:
    warnings = list(analysis.warnings)
    if analysis.evidence is not None:
        warnings += analysis.evidence.warnings
    unique = sorted(set(warnings))
    if not unique:
        return []
    return ["## Warnings", "", *(f"- {md(w)}" for w in unique), ""]


def render_markdown(analysis: Analysis) -> str:
    """The full report: header, status and severity table, diagram, threats by component,
    stale triage entries and warnings."""
    model = analysis.model
    out = _head(analysis)
    out += ["", "## Summary", "", *_summary_table(analysis), ""]
    out += ["## Data-flow diagram", "", "```mermaid", render_mermaid(model).rstrip("\n"), "```", ""]
    out += ["## Threats by component", ""]
    groups = group_by_component(analysis)
    if not groups:
        out += ["No rule found a threat in this model.", ""]
    for group in groups:
        out += _group_heading(model, group)
        out.append("")
        for item in group.threats:
            out += _threat_block(model, item)
            out.append("")
    out += _stale(analysis)
    out += _warnings(analysis)
    return "\n".join(out).rstrip("\n") + "\n"
