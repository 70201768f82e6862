"""Output formats for scan reports, one module each."""

from __future__ import annotations

from turbosec.report.base import Formatter


def registry() -> dict[str, type[Formatter]]:
    from turbosec.report.json import JsonFormatter
    from turbosec.report.junit import JunitFormatter
    from turbosec.report.markdown import MarkdownFormatter
    from turbosec.report.sarif import SarifFormatter

    formatters: list[type[Formatter]] = [
        SarifFormatter,
        JunitFormatter,
        JsonFormatter,
        MarkdownFormatter,
    ]
    return {f.name: f for f in formatters}
