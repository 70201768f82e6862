"""Mermaid and DOT data-flow diagrams: shapes, nesting, labels, escaping, stable ids."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from tests.threats.report.sample import big_analysis, make_model
from turbosec.threats.model import Boundary, SourceRef
from turbosec.threats.report.diagram import node_id, render_dot, render_mermaid

_MERMAID_ID = re.compile(r"^[A-Za-z0-9_]+$")
# A quoted Mermaid label holds no quote, no markup and no directive characters.
_QUOTED = re.compile(r'"([^"]*)"')


def _block(lines: list[str], opening: str) -> list[str]:
    """The lines from ``opening`` to its matching ``end``."""
    start = lines.index(opening)
    depth = 0
    for i in range(start, len(lines)):
        stripped = lines[i].strip()
        if stripped.startswith("subgraph "):
            depth += 1
        elif stripped == "end":
            depth -= 1
            if depth == 0:
                return lines[start : i + 1]
    raise AssertionError(f"no end for {opening!r}")


def test_mermaid_is_a_flowchart_with_shapes_by_kind() -> None:
    text = render_mermaid(make_model())
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    assert '    c_browser["Customer browser"]' in lines  # external entity: rectangle
    assert '      c_web("Web shop (django)")' in lines  # process: rounded
    assert '    c_db[("Orders DB")]' in lines  # datastore: cylinder
    assert '    c_jobs[["Job queue"]]' in lines  # queue: subroutine
    assert '  c_billing("Billing worker")' in lines  # no boundary: top level
    assert text.endswith("\n")


def test_mermaid_nests_boundaries_and_leaves_out_empty_ones() -> None:
    lines = render_mermaid(make_model()).splitlines()
    corp = _block(lines, '  subgraph b_corp ["Corporate network"]')
    assert '    subgraph b_dmz ["DMZ"]' in corp
    assert '      c_web("Web shop (django)")' in corp
    assert '    c_db[("Orders DB")]' in corp
    internet = _block(lines, '  subgraph b_internet ["Internet"]')
    assert internet == [
        '  subgraph b_internet ["Internet"]',
        '    c_browser["Customer browser"]',
        "  end",
    ]
    assert not any("b_empty" in line for line in lines)


def test_mermaid_flows_are_labelled_protocol_and_authentication() -> None:
    lines = render_mermaid(make_model()).splitlines()
    assert '  c_browser -->|"https · session"| c_web' in lines
    assert '  c_web -->|"amqp · none"| c_jobs' in lines
    edges = [line for line in lines if "-->" in line]
    assert len(edges) == 4
    # In flow id order: browser-to-web, jobs-to-billing, web-to-db, web-to-jobs.
    assert [e.split()[0] + ">" + e.split()[-1] for e in edges] == [
        "c_browser>c_web",
        "c_jobs>c_billing",
        "c_web>c_db",
        "c_web>c_jobs",
    ]


def test_mermaid_escapes_hostile_text() -> None:
    model = make_model(names={"web": 'x" ]) --> evil\nclick c_web "javascript:alert(1)"'})
    boundary = Boundary("dmz", '%%{init: {"securityLevel":"loose"}}%% <b>|`#&\\', SourceRef("m", 1))
    model = replace(model, boundaries={**model.boundaries, "dmz": boundary})
    text = render_mermaid(model)
    body = text.split("\n", 1)[1]
    assert "%%" not in text
    assert "<" not in body and ">" not in body.replace("-->", "")
    assert "`" not in text and "\\" not in text
    for line in text.splitlines()[1:]:
        stripped = line.strip()
        # Exactly one quoted label per node/subgraph/edge line, nothing after it but a shape end.
        if stripped == "end":
            continue
        assert len(_QUOTED.findall(line)) == 1, line
        first = stripped.split()[0].split("[")[0].split("(")[0]
        if stripped.startswith("subgraph "):
            first = stripped.split()[1]
        assert _MERMAID_ID.match(first), line
    assert 'c_web("x#quot; ]) --#gt; evil click c_web #quot;javascript:alert(1)#quot;' in text
    assert '["#37;#37;{init: {#quot;securityLevel#quot;:#quot;loose#quot;}}#37;#37; ' in text
    assert "#lt;b#gt;#124;#96;#35;#amp;#92;" in text


def test_node_ids_are_safe_injective_and_prefixed() -> None:
    ids = ["a-b", "a_hb", "a.b", "a_db", "a_b", "a__b", "end", "x y", "é", "a-", "a_h"]
    encoded = [node_id("c", i) for i in ids]
    assert len(set(encoded)) == len(ids)
    assert all(_MERMAID_ID.match(e) and e.startswith("c_") for e in encoded)
    assert node_id("c", "end") == "c_end"
    assert node_id("b", "web") != node_id("c", "web")


def test_renaming_a_component_changes_only_its_line() -> None:
    before = render_mermaid(make_model()).splitlines()
    after = render_mermaid(make_model(names={"db": "Orders database"})).splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed == [('    c_db[("Orders DB")]', '    c_db[("Orders database")]')]
    dot_before = render_dot(make_model()).splitlines()
    dot_after = render_dot(make_model(names={"db": "Orders database"})).splitlines()
    dot_changed = [b for a, b in zip(dot_before, dot_after, strict=True) if a != b]
    assert dot_changed == ['    "c_db" [label="Orders database", shape=cylinder];']


def test_diagrams_do_not_depend_on_mapping_order() -> None:
    model = make_model()
    reordered = replace(
        model,
        boundaries=dict(reversed(list(model.boundaries.items()))),
        components=dict(reversed(list(model.components.items()))),
        flows=dict(reversed(list(model.flows.items()))),
    )
    assert render_mermaid(model) == render_mermaid(reordered)
    assert render_dot(model) == render_dot(reordered)


def test_boundary_cycles_and_dangling_parents_are_drawn_flat() -> None:
    model = make_model()
    ref = SourceRef("m", 1)
    boundaries = {
        **model.boundaries,
        "corp": Boundary("corp", "Corp", ref, parent="dmz"),  # corp <-> dmz cycle
        "internet": Boundary("internet", "Internet", ref, parent="nowhere"),
    }
    text = render_mermaid(replace(model, boundaries=boundaries))
    assert '  subgraph b_corp ["Corp"]' in text.splitlines()
    assert '  subgraph b_dmz ["DMZ"]' in text.splitlines()
    assert '  subgraph b_internet ["Internet"]' in text.splitlines()
    assert text.count("subgraph") == text.count("\n  end\n") + text.count("\n    end\n")


def test_dot_has_nested_clusters_shapes_and_labels() -> None:
    text = render_dot(make_model())
    lines = text.splitlines()
    assert lines[0] == "digraph threatmodel {"
    assert lines[-1] == "}"
    corp = lines.index('  subgraph "cluster_b_corp" {')
    dmz = lines.index('    subgraph "cluster_b_dmz" {')
    assert corp < dmz
    assert '      "c_web" [label="Web shop (django)", shape=ellipse];' in lines
    assert '    "c_db" [label="Orders DB", shape=cylinder];' in lines
    assert '    "c_jobs" [label="Job queue", shape=parallelogram];' in lines
    assert '    "c_browser" [label="Customer browser", shape=box];' in lines
    assert '  "c_browser" -> "c_web" [label="https · session"];' in lines
    assert "cluster_b_empty" not in text
    assert text.count("{") == text.count("}")


def test_dot_escapes_quotes_and_backslashes() -> None:
    model = make_model(names={"web": 'a"b\\n\\"c\nd'})
    text = render_dot(model)
    assert '"c_web" [label="a\\"b\\\\n\\\\\\"c d (django)", shape=ellipse];' in text


def _graphviz(tmp_path: Path, text: str) -> str:
    source = tmp_path / "model.dot"
    source.write_text(text, encoding="utf-8")
    result = subprocess.run(
        ["dot", "-Tsvg", str(source)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Error" not in result.stderr, result.stderr[-2000:]
    return result.stdout


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
@pytest.mark.parametrize("hostile", [False, True])
def test_graphviz_draws_the_dot(tmp_path: Path, hostile: bool) -> None:
    svg = _graphviz(tmp_path, render_dot(make_model(hostile=hostile)))
    assert svg.count('class="cluster"') == 3
    assert "<script" not in svg


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_graphviz_draws_the_generated_benchmark_model(tmp_path: Path) -> None:
    """Edges between nested clusters break dot's default ranking ("trouble in init_rank")
    on the benchmark's model unless the graph asks for the newer ranking."""
    from turbosec.threats.generate import generate_model
    from turbosec.threats.loader import load_model_text

    model = load_model_text(generate_model(50, 120, seed=1))
    svg = _graphviz(tmp_path, render_dot(model))
    assert svg.count('class="edge"') == 120
    svg = _graphviz(tmp_path, render_dot(big_analysis().model))
    assert svg.count('class="edge"') == 120


def test_big_model_diagrams() -> None:
    model = big_analysis().model
    mermaid = render_mermaid(model)
    assert mermaid.count("-->") == 120
    dot = render_dot(model)
    assert dot.count(" -> ") == 120
    assert len(re.findall(r'^\s*"c_svc_h\d+" \[', dot, flags=re.M)) == 50
