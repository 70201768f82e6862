"""Outputs of a threat analysis: Markdown, HTML, JSON, SARIF, console text and data-flow
diagrams (Mermaid, Graphviz DOT).  Every renderer is a pure function: the same analysis
gives byte-identical output."""

from __future__ import annotations

from turbosec.threats.report.console import render_console
from turbosec.threats.report.diagram import render_dot, render_mermaid
from turbosec.threats.report.html import render_html
from turbosec.threats.report.json import render_json
from turbosec.threats.report.markdown import render_markdown
from turbosec.threats.report.sarif import render_sarif

__all__ = [
    "render_console",
    "render_dot",
    "render_html",
    "render_json",
    "render_markdown",
    "render_mermaid",
    "render_sarif",
]
