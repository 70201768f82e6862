"""The importer seam: report files produced elsewhere, read into findings.

``turbosec scan --import FILE`` detects the format from the document's content;
``--import trivy:FILE`` forces it.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, ClassVar

from turbosec.core.finding import Finding
from turbosec.scan.target import Target


@dataclass(frozen=True)
class Imported:
    """What one report file contributed: findings and the producing tool(s)."""

    findings: list[Finding]
    tool: str
    version: str | None
    # Secret values found in the report: used only to redact them from every finding.
    secrets: list[str] = field(default_factory=list, repr=False)


class Importer(abc.ABC):
    name: ClassVar[str]
    description: ClassVar[str] = ""

    @abc.abstractmethod
    def detect(self, document: Any) -> bool:
        """True when the parsed JSON document is in this importer's format."""

    @abc.abstractmethod
    def parse(self, document: Any, source: str, target: Target) -> Imported:
        """Read the document; raise ParseError naming ``source`` when it does not fit."""
