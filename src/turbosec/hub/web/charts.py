"""Charts as inline SVG, drawn on the server: no script, no library, readable without CSS.

The pages are served under a Content-Security-Policy without ``unsafe-inline``, so the
markup carries no ``style`` attribute: every colour comes from a class
(``.bar-new``, ``.sev-fill-critical``…) styled in ``static/turbosec.css``.  Every piece of
text is HTML-escaped here (labels can come from the database); numbers are formatted by
Python.  Each chart is an ``<svg role="img">`` with an ``aria-label`` that says what it
shows, a ``<title>`` per bar (a tooltip for pointer users), and the page shows the same
numbers as a table for screen readers and copy-paste.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape


@dataclass(frozen=True)
class Series:
    """One series of a bar chart: its name (legend), values, and CSS class (colour)."""

    name: str
    values: Sequence[int]
    css_class: str  # e.g. "bar-new"; must be a plain class name
    unit: str = ""  # shown after the value in tooltips: "42 new"


@dataclass(frozen=True)
class Segment:
    """One part of a stacked bar: a label, a count and its CSS class."""

    label: str
    value: int
    css_class: str


def nice_ticks(maximum: float, count: int = 4) -> list[float]:
    """Round axis ticks from 0 covering ``maximum``: 0, 25, 50, 75, 100 rather than 0, 23…"""
    if maximum <= 0:
        return [0, 1]
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if step < 1:
        step = 1
    top = math.ceil(maximum / step) * step
    ticks = []
    value = 0.0
    while value <= top + step / 1000:
        ticks.append(value)
        value += step
    return ticks


def _num(value: float) -> str:
    """A coordinate: at most one decimal, no trailing zeros."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _tick_label(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:g}k"
    return f"{value:,.0f}" if value == int(value) else f"{value:g}"


def _class(name: str) -> str:
    if not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"not a CSS class name: {name!r}")
    return name


def grouped_bars(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    label: str,
    tooltips: Sequence[str] | None = None,
    width: int = 1100,
    height: int = 300,
    chart_id: str = "chart",
    css_class: str = "",
    max_labels: int = 13,
    max_bar: float = 26.0,
) -> Markup:
    """A bar chart with a group of bars (one per series) for each label.

    ``label``: the accessible description of the whole chart (``aria-label``);
    ``tooltips``: a longer name per group for the bar tooltips (default: ``labels``).
    Axes: a y axis with round ticks and light grid lines, the labels under the groups
    (at most ``max_labels``, always the latest), the legend above the plot.  The drawing
    is ``width`` by ``height`` units and scales to its box: draw it at about the size it
    is shown, or its text scales too (``css_class`` lets a page show one of two drawings).
    """
    if any(len(s.values) != len(labels) for s in series):
        raise ValueError("every series needs one value per label")
    names = tooltips if tooltips is not None else labels
    left, right, top, bottom = 52.0, 12.0, 44.0, 34.0
    plot_w, plot_h = width - left - right, height - top - bottom
    groups = max(1, len(labels))
    peak = max((v for s in series for v in s.values), default=0)
    ticks = nice_ticks(peak)
    scale = plot_h / ticks[-1]
    base = top + plot_h
    classes = f"chart {_class(css_class)}" if css_class else "chart"

    out: list[str] = [
        f'<svg class="{classes}" id="{escape(chart_id)}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(label)}" focusable="false" '
        'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(label)}</title>",
    ]
    # legend (top left, above the plot)
    x = left
    for s in series:
        cls = _class(s.css_class)
        out.append(
            f'<rect class="legend-swatch {cls}" x="{_num(x)}" y="12" width="12" height="12" '
            'rx="2"/>'
        )
        out.append(f'<text class="legend-label" x="{_num(x + 18)}" y="22">{escape(s.name)}</text>')
        x += 18 + 8.5 * len(s.name) + 22
    # grid lines and y axis labels
    for tick in ticks:
        y = base - tick * scale
        out.append(
            f'<line class="{"axis" if tick == 0 else "grid"}" x1="{_num(left)}" y1="{_num(y)}" '
            f'x2="{_num(left + plot_w)}" y2="{_num(y)}"/>'
        )
        out.append(
            f'<text class="tick-label" x="{_num(left - 8)}" y="{_num(y + 4)}" '
            f'text-anchor="end">{escape(_tick_label(tick))}</text>'
        )
    # bars
    group_w = plot_w / groups
    bar_w = min(max_bar, group_w * 0.7 / max(1, len(series)))
    gap = 2.0 if len(series) > 1 else 0.0
    cluster = bar_w * len(series) + gap * (len(series) - 1)
    every = max(1, math.ceil(groups / max(1, max_labels)))
    for i in range(len(labels)):
        gx = left + i * group_w + (group_w - cluster) / 2
        for j, s in enumerate(series):
            value = s.values[i]
            h = value * scale
            bx = gx + j * (bar_w + gap)
            tip = f"{names[i]}: {value:,}{' ' + s.unit if s.unit else ''}"
            out.append(
                f'<rect class="bar {_class(s.css_class)}" x="{_num(bx)}" y="{_num(base - h)}" '
                f'width="{_num(bar_w)}" height="{_num(h)}" rx="2">'
                f"<title>{escape(tip)}</title></rect>"
            )
        if (len(labels) - 1 - i) % every == 0:  # always label the latest group
            cx = left + (i + 0.5) * group_w
            out.append(
                f'<text class="tick-label" x="{_num(cx)}" y="{_num(base + 20)}" '
                f'text-anchor="middle">{escape(labels[i])}</text>'
            )
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every text above went through escape()


def stacked_bar(segments: Sequence[Segment], *, label: str, width: int = 300) -> Markup:
    """A thin horizontal bar split into ``segments`` in proportion to their values."""
    height = 10
    total = sum(max(0, s.value) for s in segments)
    out: list[str] = [
        f'<svg class="stacked" viewBox="0 0 {width} {height}" preserveAspectRatio="none" '
        f'role="img" aria-label="{escape(label)}" focusable="false" '
        'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(label)}</title>",
        f'<rect class="stacked-empty" x="0" y="0" width="{width}" height="{height}" rx="3"/>',
    ]
    x = 0.0
    for s in segments:
        if s.value <= 0 or total == 0:
            continue
        w = width * s.value / total
        out.append(
            f'<rect class="{_class(s.css_class)}" x="{_num(x)}" y="0" width="{_num(w)}" '
            f'height="{height}"><title>{escape(f"{s.label}: {s.value:,}")}</title></rect>'
        )
        x += w
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every text above went through escape()
