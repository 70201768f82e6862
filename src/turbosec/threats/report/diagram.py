"""Data-flow diagrams: Mermaid (renders in GitHub and GitLab Markdown) and Graphviz DOT.

Trust boundaries become nested ``subgraph`` blocks (Mermaid) or ``cluster`` subgraphs (DOT);
components take a shape by kind; flows are labelled ``protocol · authentication``.

Node ids are derived from model ids by a reversible encoding (letters and digits kept,
every other character spelled out), so they are safe in both languages, never collide
with keywords (a ``c_`` or ``b_`` prefix), and do not depend on positions: renaming one
component changes only the lines that mention it.  Model text is attacker-controlled in a
pull request, so every label is escaped: Mermaid entity codes (``#quot;`` and friends,
``%`` too so a name cannot smuggle in an ``%%{init}%%`` directive) and DOT string escapes.
"""

from __future__ import annotations

from collections.abc import Iterator

from turbosec.threats.model import Component, ComponentKind, Flow, ThreatModel
from turbosec.threats.report._common import clean

_LABEL_LIMIT = 80

# Mermaid flowchart shapes: (opening, closing) around a quoted label.
_MERMAID_SHAPES: dict[str, tuple[str, str]] = {
    ComponentKind.EXTERNAL_ENTITY.value: ("[", "]"),  # rectangle
    ComponentKind.PROCESS.value: ("(", ")"),  # rounded rectangle
    ComponentKind.DATASTORE.value: ("[(", ")]"),  # cylinder
    ComponentKind.QUEUE.value: ("[[", "]]"),  # subroutine
}
_DOT_SHAPES: dict[str, str] = {
    ComponentKind.EXTERNAL_ENTITY.value: "box",
    ComponentKind.PROCESS.value: "ellipse",
    ComponentKind.DATASTORE.value: "cylinder",
    ComponentKind.QUEUE.value: "parallelogram",
}

_MERMAID_ENTITIES = {
    "&": "#amp;",
    '"': "#quot;",
    "<": "#lt;",
    ">": "#gt;",
    "#": "#35;",
    "%": "#37;",
    "|": "#124;",
    "`": "#96;",
    "\\": "#92;",
}
_MERMAID_TABLE = str.maketrans(_MERMAID_ENTITIES)


def node_id(prefix: str, model_id: str) -> str:
    """A diagram-safe, injective id: ``[A-Za-z0-9]`` kept, ``_`` doubled, ``-`` → ``_h``,
    ``.`` → ``_d``, anything else → ``_u<hex>_``."""
    out = [prefix, "_"]
    for ch in model_id:
        if ch.isascii() and ch.isalnum():
            out.append(ch)
        elif ch == "_":
            out.append("__")
        elif ch == "-":
            out.append("_h")
        elif ch == ".":
            out.append("_d")
        else:
            out.append(f"_u{ord(ch):x}_")
    return "".join(out)


def mermaid_text(text: object) -> str:
    """Text for a double-quoted Mermaid label."""
    return clean(text, limit=_LABEL_LIMIT).translate(_MERMAID_TABLE)


def dot_text(text: object) -> str:
    """Text for a double-quoted DOT string (no escString sequence survives)."""
    return clean(text, limit=_LABEL_LIMIT).replace("\\", "\\\\").replace('"', '\\"')


def _component_label(component: Component) -> str:
    name = clean(component.name or component.id)
    tech = clean(component.technology)
    return f"{name} ({tech})" if tech else name


def _flow_label(flow: Flow) -> str:
    return f"{clean(flow.protocol)} · {clean(flow.authentication or 'none')}"


class _Layout:
    """Boundaries as a tree (dangling parents and cycles flattened to the top level) and the
    components inside each, everything in id order."""

    def __init__(self, model: ThreatModel) -> None:
        boundaries = model.boundaries
        self.children: dict[str | None, list[str]] = {}
        for bid in sorted(boundaries):
            self.children.setdefault(self._parent(model, bid), []).append(bid)
        self.members: dict[str | None, list[Component]] = {}
        for cid in sorted(model.components):
            component = model.components[cid]
            where = component.boundary if component.boundary in boundaries else None
            self.members.setdefault(where, []).append(component)
        self._nonempty: dict[str, bool] = {}

    @staticmethod
    def _parent(model: ThreatModel, bid: str) -> str | None:
        parent = model.boundaries[bid].parent
        if parent is None or parent not in model.boundaries:
            return None
        seen = {bid}
        current: str | None = parent
        while current is not None:
            if current in seen:
                return None  # a cycle: draw it flat rather than not at all
            seen.add(current)
            nxt = model.boundaries[current].parent
            current = nxt if nxt in model.boundaries else None
        return parent

    def nonempty(self, bid: str) -> bool:
        """Whether the boundary holds a component, directly or in a nested boundary."""
        if bid not in self._nonempty:
            self._nonempty[bid] = False  # guard against re-entry
            self._nonempty[bid] = bool(self.members.get(bid)) or any(
                self.nonempty(child) for child in self.children.get(bid, [])
            )
        return self._nonempty[bid]


def render_mermaid(model: ThreatModel) -> str:
    """The model's data-flow diagram as a Mermaid ``flowchart LR``."""
    layout = _Layout(model)
    lines = ["flowchart LR"]

    def walk(parent: str | None, depth: int) -> Iterator[str]:
        pad = "  " * depth
        for bid in layout.children.get(parent, []):
            if not layout.nonempty(bid):
                continue
            boundary = model.boundaries[bid]
            title = mermaid_text(boundary.name or boundary.id)
            yield f'{pad}subgraph {node_id("b", bid)} ["{title}"]'
            yield from walk(bid, depth + 1)
            yield f"{pad}end"
        for component in layout.members.get(parent, []):
            opening, closing = _MERMAID_SHAPES.get(component.kind.value, ("[", "]"))
            label = mermaid_text(_component_label(component))
            yield f'{pad}{node_id("c", component.id)}{opening}"{label}"{closing}'

    lines.extend(walk(None, 1))
    for fid in sorted(model.flows):
        flow = model.flows[fid]
        label = mermaid_text(_flow_label(flow))
        source, target = node_id("c", flow.source), node_id("c", flow.target)
        lines.append(f'  {source} -->|"{label}"| {target}')
    return "\n".join(lines) + "\n"


def render_dot(model: ThreatModel) -> str:
    """The model's data-flow diagram as a Graphviz ``digraph`` (boundaries as clusters)."""
    layout = _Layout(model)
    lines = [
        "digraph threatmodel {",
        # newrank: the default ranking fails ("trouble in init_rank") on edges between
        # nested clusters.
        '  graph [rankdir=LR, newrank=true, fontname="Helvetica", labelloc=t, '
        f'label="{dot_text(model.name)}"];',
        '  node [fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=10];',
    ]

    def walk(parent: str | None, depth: int) -> Iterator[str]:
        pad = "  " * depth
        for bid in layout.children.get(parent, []):
            if not layout.nonempty(bid):
                continue
            boundary = model.boundaries[bid]
            yield f'{pad}subgraph "cluster_{node_id("b", bid)}" {{'
            yield f'{pad}  label="{dot_text(boundary.name or boundary.id)}";'
            yield f"{pad}  style=dashed;"
            yield from walk(bid, depth + 1)
            yield f"{pad}}}"
        for component in layout.members.get(parent, []):
            shape = _DOT_SHAPES.get(component.kind.value, "box")
            label = dot_text(_component_label(component))
            yield f'{pad}"{node_id("c", component.id)}" [label="{label}", shape={shape}];'

    lines.extend(walk(None, 1))
    for fid in sorted(model.flows):
        flow = model.flows[fid]
        source, target = node_id("c", flow.source), node_id("c", flow.target)
        lines.append(f'  "{source}" -> "{target}" [label="{dot_text(_flow_label(flow))}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"
