"""The Markdown report: content, grouping, escaping of hostile model text, determinism."""

from __future__ import annotations

import difflib
import re
from dataclasses import replace

from markdown_it import MarkdownIt

from tests.threats.report.sample import big_analysis, make_analysis
from turbosec.report.markdown import escape_markdown
from turbosec.threats.report.diagram import render_mermaid
from turbosec.threats.report.html import render_html
from turbosec.threats.report.markdown import code, md, render_markdown

_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def _section(text: str, heading: str) -> str:
    start = text.index(heading + "\n")
    rest = text[start + len(heading) + 1 :]
    end = re.search(r"^## ", rest, flags=re.M)
    return rest[: end.start()] if end else rest


def test_summary_counts_by_status_and_severity() -> None:
    text = render_markdown(make_analysis())
    summary = _section(text, "## Summary")
    assert "| Status | Critical | High | Medium | Low | Info | Total |" in summary
    assert "| Open | 1 | 0 | 1 | 0 | 0 | 2 |" in summary
    assert "| In progress | 0 | 0 | 0 | 0 | 1 | 1 |" in summary
    assert "| Mitigated | 0 | 1 | 0 | 0 | 0 | 1 |" in summary
    assert "| Accepted | 0 | 0 | 0 | 2 | 0 | 2 |" in summary
    assert "| **Total** | **1** | **1** | **1** | **2** | **1** | **6** |" in summary
    assert "- **Threats:** 6, of which **3 open**" in text


def test_threats_are_grouped_by_component_with_kind_and_boundary() -> None:
    text = render_markdown(make_analysis())
    groups = re.findall(r"^### (.+)$", text, flags=re.M)
    assert groups == [
        "Billing worker (process)",
        "Orders DB (data store)",
        "Job queue (queue)",
        "Web shop (process)",
    ]
    web = text[text.index("### Web shop (process)") :]
    assert "boundary: Corporate network &gt; DMZ" in web
    assert "technology: django" in web
    headings = re.findall(r"^#### (.+)$", web, flags=re.M)
    # Most severe first within a component.
    assert [h.split(" · ")[0] for h in headings] == [
        "`TM-AUTH-001@web`",
        "`TM-CSRF-001@browser-to-web`",
        "`TM-DOS-001@web`",
    ]
    assert headings[1] == "`TM-CSRF-001@browser-to-web` · Medium · Open — Title of TM-CSRF-001"


def test_threat_details_evidence_and_triage() -> None:
    text = render_markdown(make_analysis())
    csrf = text[text.index("#### `TM-CSRF-001@browser-to-web`") :]
    csrf = csrf[: csrf.index("\n#### ")]
    assert "**Status:** open (triage says: mitigated)" in csrf
    assert "- **STRIDE:** spoofing, tampering" in csrf
    assert "[CWE-352](https://cwe.mitre.org/data/definitions/352.html)" in csrf
    assert "- **Element:** flow `browser-to-web` at `threatmodel.yaml:30`" in csrf
    assert "relies on control ctl-csrf" in csrf
    assert "  - `ctl-csrf` (csrf\\_protection): not proven: missing" in csrf
    assert (
        "    - `tests/test_csrf.py::test_token` — missing: node id not found by pytest "
        "--collect-only"
    ) in csrf
    auth = text[text.index("#### `TM-AUTH-001@web`") :]
    assert "    - `tests/test_login.py::test_lockout` — passed" in auth
    assert "[CAPEC-49](https://capec.mitre.org/data/definitions/49.html)" in auth
    accepted = text[text.index("#### `TM-DOS-001@web`") :]
    assert (
        "- **Triage:** accepted by `TM-DOS-001@*` at `threatmodel.yaml:78` · justification: "
        "Rate limits at the CDN. · ticket: SEC-77 · expires: 2027-06-30"
    ) in accepted


def test_stale_triage_warnings_and_diagram_sections() -> None:
    analysis = make_analysis()
    text = render_markdown(analysis)
    stale = _section(text, "## Stale triage entries")
    assert "| `TM-OLD-999@gone` | false\\_positive | `threatmodel.yaml:84` |" not in stale
    assert "| `TM-OLD-999@gone` | false_positive | `threatmodel.yaml:84` | Removed service |" in (
        stale
    )
    warnings = _section(text, "## Warnings")
    assert "- JUnit report build/junit.xml has no result for 1 test" in warnings
    diagram = _section(text, "## Data-flow diagram")
    assert diagram.strip() == "```mermaid\n" + render_mermaid(analysis.model) + "```"


def test_without_evidence_the_header_says_so() -> None:
    text = render_markdown(make_analysis(with_evidence=False))
    assert "- **Evidence:** not checked" in text


def test_hostile_text_cannot_inject_markup() -> None:
    text = render_markdown(make_analysis(hostile=True))
    assert "<script" not in text and "</script" not in text
    assert "<img" not in text
    assert "\x1b" not in text
    assert not re.search(r"(?<!\\)\]\(javascript", text)
    assert "\\[link\\](javascript" in text
    # A newline in model text never starts a new Markdown block.
    assert not re.search(r"^# heading", text, flags=re.M)
    # Outside the mermaid block, every raw "<" opens one of our own <code> tags.
    outside = re.sub(r"```mermaid\n.*?```", "", text, flags=re.S)
    assert set(re.findall(r"</?([a-z]+)", outside)) <= {"code"}
    # Backticks only as code-span delimiters: an even number per line, none escaped inside.
    for line in outside.splitlines():
        unescaped = re.findall(r"(?<!\\)`", line)
        assert len(unescaped) % 2 == 0, line
    # Tables keep their shape.
    for line in text.splitlines():
        if line.startswith("| "):
            assert len(_UNESCAPED_PIPE.findall(line)) in (5, 8), line
    # Mentions are broken up, ids stay readable.
    assert "@everyone" not in text
    assert "TM-CSRF-001@browser-to-web relies" in text


def test_md_and_code_helpers() -> None:
    assert md("a|b `c` <d> [e](f) @team x@y") == (
        "a\\|b \\`c\\` &lt;d&gt; \\[e\\](f) @&#8203;team x@y"
    )
    assert md("line1\nline2\ttab") == "line1 line2 tab"
    assert code("TM-AUTH-001@web") == "`TM-AUTH-001@web`"
    assert code("a|b") == "<code>a\\|b</code>"
    assert code("a`b") == "<code>a\\`b</code>"
    assert code("x y") == "<code>x y</code>"


def test_render_twice_is_byte_identical_and_order_independent() -> None:
    first = render_markdown(make_analysis())
    assert render_markdown(make_analysis()) == first
    assert render_markdown(make_analysis(shuffled=True)) == first


def test_renaming_a_component_changes_only_its_lines() -> None:
    before = render_markdown(make_analysis()).splitlines()
    after = render_markdown(make_analysis(names={"db": "Orders database"})).splitlines()
    changed = [
        line
        for line in difflib.unified_diff(before, after, lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert changed == [
        '-    c_db[("Orders DB")]',
        '+    c_db[("Orders database")]',
        "-### Orders DB (data store)",
        "+### Orders database (data store)",
    ]


def test_big_model_renders_every_threat() -> None:
    analysis = big_analysis()
    text = render_markdown(analysis)
    assert len(re.findall(r"^#### ", text, flags=re.M)) == len(analysis.threats) == 500
    assert len(re.findall(r"^### ", text, flags=re.M)) == 50


def test_rendered_hostile_markdown_has_only_our_markup() -> None:
    """Render with a CommonMark parser that passes raw HTML through, as GitHub would keep it."""
    parser = MarkdownIt("commonmark").enable("table")
    rendered = parser.render(render_markdown(make_analysis(hostile=True)))
    tags = set(re.findall(r"<([a-z][a-z0-9]*)", rendered))
    assert tags <= {
        "h1", "h2", "h3", "h4", "p", "ul", "li", "strong", "em", "code", "a", "pre",
        "table", "thead", "tbody", "tr", "th", "td",
    }, tags  # fmt: skip
    hrefs = re.findall(r'href="([^"]*)"', rendered)
    assert hrefs and all(
        h.startswith(("https://cwe.mitre.org/", "https://capec.mitre.org/")) for h in hrefs
    )
    # Every table row keeps its column count.
    for row in re.findall(r"<tr>(.*?)</tr>", rendered, flags=re.S):
        cells = len(re.findall(r"<t[hd][ >]", row))
        assert cells in (4, 7), row
    assert rendered.count('<pre><code class="language-mermaid">') == 1


def test_model_text_never_starts_a_line() -> None:
    """Text at the start of a line could open a heading, a list or a quote."""
    analysis = make_analysis()
    hostile = "# Owned\n> quote\n1. item"
    model = replace(analysis.model, description=hostile, name="- x", owner="> y")
    text = render_markdown(replace(analysis, model=model))
    assert "- **Description:** # Owned &gt; quote 1. item" in text
    for line in text.splitlines():
        assert not line.startswith(("# Owned", "&gt; quote", "1. item", "- x", "&gt; y")), line


def test_md_escapes_like_the_scan_report() -> None:
    """One escaping rule for every Markdown turbosec writes (apart from "@" after a word)."""
    samples = [
        "plain",
        "a|b `c` <d> [e](f) *g* _h_ ~i~ $j$ \\k & l",
        "new\nline\ttab  spaces",
        "\x1b[31mred\x1b[0m \u202egnp.exe",
        "x" * 3000,
        "@team at start",
    ]
    for sample in samples:
        assert md(sample) == escape_markdown(sample, limit=2000), sample


def test_no_threats_and_unknown_component() -> None:
    analysis = make_analysis()
    empty = replace(analysis, threats=(), stale_triage=(), warnings=(), evidence=None)
    text = render_markdown(empty)
    assert "No rule found a threat in this model." in text
    assert "## Stale triage entries" not in text and "## Warnings" not in text
    assert "| **Total** | **0** | **0** | **0** | **0** | **0** | **0** |" in text
    assert "<p>No rule found a threat in this model.</p>" in render_html(empty)

    item = analysis.threats[0]
    orphan = replace(item, threat=replace(item.threat, component_id="ghost|`x`"))
    text = render_markdown(replace(analysis, threats=(orphan,)))
    assert "### <code>ghost\\|\\`x\\`</code>" in text
    assert "_This component is not declared in the model._" in text
    page = render_html(replace(analysis, threats=(orphan,)))
    assert "<h3><code>ghost|`x`</code></h3>" in page
