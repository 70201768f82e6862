"""The HTML report: self-contained, no script, escaped, accessible, deterministic."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from tests.threats.report.sample import HOSTILE, big_analysis, make_analysis
from turbosec.threats.report.html import render_html

_ALLOWED_LINKS = ("https://cwe.mitre.org/", "https://capec.mitre.org/")


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self._stack: list[str] = []
        self.h1_text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in ("meta", "br"):
            self._stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self._stack and self._stack[-1] == tag, (tag, self._stack[-5:])
        self._stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._stack and self._stack[-1] == "h1":
            self.h1_text += data

    def names(self) -> list[str]:
        return [tag for tag, _ in self.tags]


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    assert not page._stack, page._stack
    return page


def test_page_is_self_contained_and_well_formed() -> None:
    text = render_html(make_analysis())
    assert text.startswith("<!DOCTYPE html>\n")
    page = _parse(text)
    names = page.names()
    assert "script" not in names and "link" not in names and "img" not in names
    assert "iframe" not in names and "object" not in names
    for tag, attrs in page.tags:
        assert "src" not in attrs, tag
        assert not any(k.startswith("on") for k in attrs), tag
        if tag == "a":
            assert (attrs.get("href") or "").startswith(_ALLOWED_LINKS), attrs
    metas = [a for t, a in page.tags if t == "meta"]
    assert {
        "http-equiv": "Content-Security-Policy",
        "content": "default-src 'none'; style-src 'unsafe-inline'",
    } in metas
    assert "url(" not in text and "@import" not in text


def test_accessibility_basics() -> None:
    page = _parse(render_html(make_analysis()))
    html_tag = next(attrs for tag, attrs in page.tags if tag == "html")
    assert html_tag.get("lang") == "en"
    assert page.names().count("h1") == 1
    assert page.h1_text == "Threat model: Demo shop"
    assert page.names().count("table") == 3  # summary, flows, stale triage
    assert page.names().count("caption") == 3
    scopes = [a.get("scope") for t, a in page.tags if t == "th"]
    assert scopes and all(s in ("col", "row") for s in scopes)
    # Severity and status are words, not only colours.
    text = "".join(page.text)
    assert "critical" in text and "Open" in text and "Mitigated" in text


def test_content_summary_threats_evidence_flows() -> None:
    text = render_html(make_analysis())
    assert (
        '<tr><th scope="row">Open</th><td class="n">1</td><td class="n">0</td>'
        '<td class="n">1</td><td class="n">0</td><td class="n">0</td><td class="n">2</td></tr>'
    ) in text
    assert '<article class="threat sev-critical">' in text
    assert '<a href="https://cwe.mitre.org/data/definitions/319.html">CWE-319</a>' in text
    assert '<a href="https://capec.mitre.org/data/definitions/49.html">CAPEC-49</a>' in text
    assert (
        "<li><code>tests/test_csrf.py::test_token</code> — missing: node id not found by "
        "pytest --collect-only</li>"
    ) in text
    assert "<dt>Status</dt><dd>open (triage says: mitigated)</dd>" in text
    assert "justification: Rate limits at the CDN." in text and "expires: 2027-06-30" in text
    # Flow table row: encryption and boundary crossing computed.
    assert (
        "<tr><td><code>web-to-db</code></td><td>Web shop</td><td>Orders DB</td><td>sql</td>"
        "<td>password</td><td>no</td><td>yes</td><td>—</td></tr>"
    ) in text
    assert "<tr><td><code>jobs-to-billing</code></td>" in text
    assert "Graphviz DOT source" in text and "digraph threatmodel {" in text
    assert '<h2 id="stale">Stale triage entries</h2>' in text
    assert "<li>JUnit report build/junit.xml has no result for 1 test</li>" in text
    groups = re.findall(r"<h3>(.*?)</h3>", text)
    assert groups == [
        "Billing worker (process)",
        "Orders DB (data store)",
        "Job queue (queue)",
        "Web shop (process)",
    ]


def test_hostile_text_is_escaped() -> None:
    text = render_html(make_analysis(hostile=True))
    page = _parse(text)
    names = set(page.names())
    assert "script" not in names and "img" not in names
    assert names <= {
        "html", "head", "meta", "title", "style", "body", "header", "h1", "dl", "dt", "dd",
        "code", "p", "main", "section", "h2", "table", "caption", "thead", "tr", "th",
        "tbody", "tfoot", "td", "strong", "h3", "article", "h4", "span", "a", "ul", "li",
        "details", "summary", "pre",
    }  # fmt: skip
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "\x1b" not in text
    # The hostile name arrives as text, intact apart from the dropped escapes and newline.
    visible = "".join(page.text)
    assert "Evil </script><script>alert(1)</script> | pipe" in visible
    assert page.h1_text.startswith("Threat model: Demo shop Evil </script>")
    assert "\n" not in page.h1_text
    assert HOSTILE.split("\n")[0][:20] in visible


def test_render_twice_is_byte_identical_and_order_independent() -> None:
    first = render_html(make_analysis())
    assert render_html(make_analysis()) == first
    assert render_html(make_analysis(shuffled=True)) == first


def test_renaming_a_component_changes_only_its_lines() -> None:
    before = render_html(make_analysis()).splitlines()
    after = render_html(make_analysis(names={"db": "Orders database"})).splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed, "the rename must show"
    for old, new in changed:
        assert "Orders DB" in old and "Orders database" in new
        assert old.replace("Orders DB", "Orders database") == new


def test_big_model_renders_every_threat() -> None:
    analysis = big_analysis()
    text = render_html(analysis)
    assert text.count('<article class="threat') == 500
    assert text.count("<h3>") == 50
    _parse(text)
