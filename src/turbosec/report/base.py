"""The output-format seam: a formatter renders a :class:`ScanReport` to text."""

from __future__ import annotations

import abc
from typing import ClassVar

from turbosec.core.report import ScanReport


class Formatter(abc.ABC):
    name: ClassVar[str]
    extensions: ClassVar[tuple[str, ...]]  # file suffixes that select this format
    description: ClassVar[str] = ""

    @abc.abstractmethod
    def render(self, report: ScanReport) -> str:
        """The complete document as text."""
