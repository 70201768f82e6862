"""The ``turbosec.report/v1`` JSON document (schema: ``turbosec/schemas/report-v1.schema.json``)."""

from __future__ import annotations

from turbosec.core.report import ScanReport
from turbosec.report.base import Formatter


class JsonFormatter(Formatter):
    name = "json"
    extensions = (".json",)
    description = "the turbosec.report/v1 JSON document (what `turbosec push` and the hub read)"

    def render(self, report: ScanReport) -> str:
        return report.to_json().decode("utf-8")
