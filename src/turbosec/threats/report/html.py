"""The threat analysis as one self-contained HTML page.

Inline CSS, no script, no external resource (a Content-Security-Policy meta tag forbids
everything but inline styles); the only links go to cwe.mitre.org and capec.mitre.org.
Every piece of model text is escaped with :func:`html.escape`.  Severity and status are
written as words, so colour is never the only signal; tables have header cells and
captions; the page has one ``h1`` and a language.  The data flows are a table, with the
Graphviz source in a collapsed block for those who want to draw it.
"""

from __future__ import annotations

import functools
import html

from turbosec.threats.model import (
    ENCRYPTED_PROTOCOLS as _ENCRYPTED,
)
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
from turbosec.threats.report.diagram import render_dot

_NAME_LIMIT = 200
_TEXT_LIMIT = 4_000

_CSS = """
:root{color-scheme:light;--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--bg:#fff}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
background:var(--bg);margin:0 auto;max-width:1100px;padding:1rem 1.5rem}
h1{font-size:1.7rem;margin:.5rem 0}h2{border-bottom:1px solid var(--line);margin-top:2rem}
h3{margin-top:1.8rem}h4{margin:1rem 0 .3rem;font-size:1rem}
table{border-collapse:collapse;margin:.5rem 0}caption{text-align:left;font-weight:600}
th,td{border:1px solid var(--line);padding:.25rem .5rem;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
code{font:13px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere}
pre{background:#f6f8fa;padding:.75rem;overflow:auto;font-size:12px}
.meta{color:var(--muted)}
article.threat{border:1px solid var(--line);border-left-width:6px;border-radius:4px;
padding:.5rem .9rem;margin:.8rem 0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .8rem;margin:.4rem 0}
dt{font-weight:600}dd{margin:0}
.badge{display:inline-block;border:1px solid currentColor;border-radius:3px;
padding:0 .35rem;font-size:.8rem;font-weight:600;text-transform:uppercase}
.sev-critical{color:#8b0000}.sev-high{color:#b42318}.sev-medium{color:#9a6700}
.sev-low{color:#0b5cad}.sev-info{color:#57606a}
article.sev-critical{border-left-color:#8b0000}article.sev-high{border-left-color:#b42318}
article.sev-medium{border-left-color:#bf8700}article.sev-low{border-left-color:#0969da}
article.sev-info{border-left-color:#8c959f}
.st-open,.st-in_progress{color:#b42318}.st-mitigated{color:#1a7f37}
.st-accepted,.st-transferred,.st-false_positive{color:#57606a}
ul.tests{margin:.2rem 0;padding-left:1.2rem}
""".strip()


def esc(text: object, *, limit: int | None = _TEXT_LIMIT) -> str:
    """Model text as escaped HTML on one line."""
    return _esc(str(text), limit)


@functools.lru_cache(maxsize=16_384)
def _esc(text: str, limit: int | None) -> str:
    # Cached: rule titles, advice and ids repeat across hundreds of threats.
    return html.escape(clean(text, limit=limit), quote=True)


def _code(text: object) -> str:
    return f"<code>{esc(text, limit=_NAME_LIMIT)}</code>"


def _badge(kind: str, value: str, label: str) -> str:
    return f'<span class="badge {kind}-{value}">{html.escape(label)}</span>'


def _summary(analysis: Analysis) -> list[str]:
    counts = count(analysis.threats)
    out = [
        "<table>",
        "<caption>Threats by status and severity</caption>",
        '<thead><tr><th scope="col">Status</th>',
    ]
    out += [f'<th scope="col">{sev.label.capitalize()}</th>' for sev in SEVERITY_ORDER]
    out.append('<th scope="col">Total</th></tr></thead><tbody>')
    for status in STATUS_ORDER:
        cells = "".join(f'<td class="n">{counts.get(status, sev)}</td>' for sev in SEVERITY_ORDER)
        out.append(
            f'<tr><th scope="row">{STATUS_LABELS[status]}</th>{cells}'
            f'<td class="n">{counts.by_status(status)}</td></tr>'
        )
    totals = "".join(f'<td class="n">{counts.by_severity(sev)}</td>' for sev in SEVERITY_ORDER)
    out.append(
        f'</tbody><tfoot><tr><th scope="row">Total</th>{totals}'
        f'<td class="n">{counts.total}</td></tr></tfoot></table>'
    )
    return out


def _evidence_text(analysis: Analysis) -> str:
    evidence = analysis.evidence
    if evidence is None:
        return "not checked (a declared mitigation stays open until its tests are checked)"
    parts = ["test ids collected with pytest" if evidence.collected else "test ids not collected"]
    if evidence.junit_files:
        parts.append("results from " + ", ".join(_code(f) for f in sorted(evidence.junit_files)))
    else:
        parts.append("no JUnit results given")
    return "; ".join(parts)


def _head(analysis: Analysis) -> list[str]:
    model = analysis.model
    counts = count(analysis.threats)
    title = esc(model.name, limit=_NAME_LIMIT)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>Threat model: {title}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>Threat model: {title}</h1>",
        "<dl>",
        f"<dt>Owner</dt><dd>{esc(model.owner, limit=_NAME_LIMIT)}</dd>",
        f"<dt>Model</dt><dd>{_code(model.path)}",
    ]
    if len(model.files) > 1:
        out.append(" (includes " + ", ".join(_code(f) for f in model.files[1:]) + ")")
    out += [
        "</dd>",
        f"<dt>Elements</dt><dd>{len(model.components)} components, {len(model.flows)} flows, "
        f"{len(model.boundaries)} trust boundaries, {len(model.data)} data assets, "
        f"{len(model.controls)} controls</dd>",
        f"<dt>Rules evaluated</dt><dd>{analysis.rules_count}</dd>",
        f"<dt>Threats</dt><dd>{counts.total}, of which <strong>{counts.open} open</strong></dd>",
        f"<dt>Evidence</dt><dd>{_evidence_text(analysis)}</dd>",
        "</dl>",
    ]
    if model.description:
        out.append(f"<p>{esc(model.description)}</p>")
    out.append("</header>")
    return out


def _flows(model: ThreatModel) -> list[str]:
    out = [
        "<section>",
        '<h2 id="flows">Data flows</h2>',
        "<table>",
        "<caption>Flows between components</caption>",
        "<thead><tr>"
        + "".join(
            f'<th scope="col">{h}</th>'
            for h in (
                "Flow",
                "From",
                "To",
                "Protocol",
                "Authentication",
                "Encrypted",
                "Crosses boundary",
                "Data",
            )
        )
        + "</tr></thead>",
        "<tbody>",
    ]
    components = model.components
    for fid in sorted(model.flows):
        flow = model.flows[fid]
        src, dst = components.get(flow.source), components.get(flow.target)
        src_name = esc(src.name if src else flow.source, limit=_NAME_LIMIT)
        dst_name = esc(dst.name if dst else flow.target, limit=_NAME_LIMIT)
        encrypted = flow.protocol in _ENCRYPTED or any(
            control_kind(model, c) == "encryption_in_transit" for c in flow.controls
        )
        crosses = (src.boundary if src else None) != (dst.boundary if dst else None)
        data = ", ".join(_code(d) for d in sorted(set(flow.data))) or "—"
        out.append(
            f"<tr><td>{_code(flow.id)}</td><td>{src_name}</td><td>{dst_name}</td>"
            f"<td>{esc(flow.protocol, limit=_NAME_LIMIT)}</td>"
            f"<td>{esc(flow.authentication, limit=_NAME_LIMIT)}</td>"
            f"<td>{'yes' if encrypted else 'no'}</td><td>{'yes' if crosses else 'no'}</td>"
            f"<td>{data}</td></tr>"
        )
    out += [
        "</tbody></table>",
        "<details><summary>Graphviz DOT source of the data-flow diagram</summary>",
        f"<pre>{html.escape(render_dot(model), quote=False)}</pre>",
        "</details>",
        "</section>",
    ]
    return out


def _control(model: ThreatModel, evidence: ControlEvidence) -> str:
    kind = control_kind(model, evidence.control_id)
    kind_text = f" ({esc(kind, limit=_NAME_LIMIT)})" if kind else ""
    parts = [f"<li>{_code(evidence.control_id)}{kind_text}: {evidence_summary(evidence)}"]
    if evidence.tests:
        parts.append('<ul class="tests">')
        for test in sorted(evidence.tests, key=lambda t: t.node_id):
            detail = f": {esc(test.detail, limit=400)}" if test.detail else ""
            parts.append(f"<li>{_code(test.node_id)} — {test.outcome.value}{detail}</li>")
        parts.append("</ul>")
    parts.append("</li>")
    return "".join(parts)


def _triage(entry: TriageEntry) -> str:
    parts = [f"{html.escape(entry.status.value)} by {_code(entry.pattern)} at {_code(entry.ref)}"]
    if entry.justification:
        parts.append(f"justification: {esc(entry.justification)}")
    if entry.ticket:
        parts.append(f"ticket: {esc(entry.ticket, limit=_NAME_LIMIT)}")
    if entry.expires is not None:
        parts.append(f"expires: {entry.expires.isoformat()}")
    if entry.mitigated_by:
        parts.append("mitigated by: " + ", ".join(_code(c) for c in entry.mitigated_by))
    if entry.external_id:
        parts.append(f"external id: {_code(entry.external_id)}")
    return " · ".join(parts)


def _threat(model: ThreatModel, item: AssessedThreat) -> list[str]:
    threat = item.threat
    sev = threat.severity.label
    status = item.status.value
    out = [
        f'<article class="threat sev-{sev}">',
        f"<h4>{_code(threat.id)} {_badge('sev', sev, sev)} "
        f"{_badge('st', status, STATUS_LABELS.get(item.status, status))} "
        f"{esc(threat.title, limit=_NAME_LIMIT)}</h4>",
        "<dl>",
    ]
    declared = ""
    if item.declared_status is not None and item.declared_status is not item.status:
        declared = f" (triage says: {html.escape(item.declared_status.value)})"
    out.append(f"<dt>Status</dt><dd>{html.escape(status)}{declared}</dd>")
    out.append(f"<dt>Rule</dt><dd>{_code(threat.rule_id)}</dd>")
    stride = stride_labels(threat.stride)
    if stride:
        names = ", ".join(html.escape(s.replace("_", " ")) for s in stride)
        out.append(f"<dt>STRIDE</dt><dd>{names}</dd>")
    refs = [f'<a href="{cwe_url(c)}">CWE-{int(c)}</a>' for c in sorted(set(threat.cwe))]
    refs += [f'<a href="{capec_url(c)}">CAPEC-{int(c)}</a>' for c in sorted(set(threat.capec))]
    if refs:
        out.append(f"<dt>References</dt><dd>{', '.join(refs)}</dd>")
    out.append(
        f"<dt>Element</dt><dd>{html.escape(threat.element_kind)} {_code(threat.element_id)} "
        f"at {_code(threat.ref)}</dd>"
    )
    if threat.explanation:
        out.append(f"<dt>Why</dt><dd>{esc(threat.explanation)}</dd>")
    if item.reason:
        out.append(f"<dt>Status reason</dt><dd>{esc(item.reason)}</dd>")
    if item.controls:
        items = "".join(
            _control(model, e) for e in sorted(item.controls, key=lambda e: e.control_id)
        )
        out.append(f"<dt>Controls</dt><dd><ul>{items}</ul></dd>")
    elif threat.candidate_controls:
        ids = ", ".join(_code(c) for c in sorted(set(threat.candidate_controls)))
        out.append(f"<dt>Candidate controls</dt><dd>{ids}</dd>")
    if item.triage is not None:
        out.append(f"<dt>Triage</dt><dd>{_triage(item.triage)}</dd>")
    if threat.mitigation:
        out.append(f"<dt>Mitigation</dt><dd>{esc(threat.mitigation)}</dd>")
    out += ["</dl>", "</article>"]
    return out


def _group(model: ThreatModel, group: ComponentGroup) -> list[str]:
    component = group.component
    out = ["<section>"]
    if component is None:
        out += [
            f"<h3>{_code(group.component_id)}</h3>",
            '<p class="meta">This component is not declared in the model.</p>',
        ]
    else:
        kind = KIND_LABELS.get(component.kind.value, component.kind.value)
        out.append(f"<h3>{esc(component.name or component.id, limit=_NAME_LIMIT)} ({kind})</h3>")
        facts = [
            f"Component {_code(component.id)}",
            f"kind: {kind}",
            f"boundary: {esc(boundary_label(model, component.boundary), limit=_NAME_LIMIT)}",
        ]
        if component.technology:
            facts.append(f"technology: {esc(component.technology, limit=_NAME_LIMIT)}")
        facts.append(f"declared at {_code(component.ref)}")
        out.append(f'<p class="meta">{" · ".join(facts)}</p>')
    for item in group.threats:
        out += _threat(model, item)
    out.append("</section>")
    return out


def _stale(analysis: Analysis) -> list[str]:
    entries = sorted(analysis.stale_triage, key=lambda e: (e.ref, e.pattern))
    if not entries:
        return []
    out = [
        "<section>",
        '<h2 id="stale">Stale triage entries</h2>',
        "<p>These entries match no threat: remove them or fix their pattern.</p>",
        "<table><caption>Triage entries that match no threat</caption>",
        '<thead><tr><th scope="col">Pattern</th><th scope="col">Status</th>'
        '<th scope="col">Declared at</th><th scope="col">Justification</th></tr></thead><tbody>',
    ]
    for entry in entries:
        out.append(
            f"<tr><td>{_code(entry.pattern)}</td><td>{html.escape(entry.status.value)}</td>"
            f"<td>{_code(entry.ref)}</td><td>{esc(entry.justification) or '—'}</td></tr>"
        )
    out += ["</tbody></table>", "</section>"]
    return out


def _warnings(analysis: Analysis) -> list[str]:
    warnings = list(analysis.warnings)
    if analysis.evidence is not None:
        warnings += analysis.evidence.warnings
    unique = sorted(set(warnings))
    if not unique:
        return []
    items = "".join(f"<li>{esc(w)}</li>" for w in unique)
    return ["<section>", '<h2 id="warnings">Warnings</h2>', f"<ul>{items}</ul>", "</section>"]


def render_html(analysis: Analysis) -> str:
    """The report as one HTML page (no script, no external resource)."""
    model = analysis.model
    out = _head(analysis)
    out.append("<main>")
    out += ["<section>", '<h2 id="summary">Summary</h2>', *_summary(analysis), "</section>"]
    out += ["<section>", '<h2 id="threats">Threats by component</h2>']
    groups = group_by_component(analysis)
    if not groups:
        out.append("<p>No rule found a threat in this model.</p>")
    for group in groups:
        out += _group(model, group)
    out.append("</section>")
    out += _flows(model)
    out += _stale(analysis)
    out += _warnings(analysis)
    out += ["</main>", "</body>", "</html>"]
    return "\n".join(out) + "\n"
