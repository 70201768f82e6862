"""Which parser reads a log: by name (``--format``) or guessed from its first lines."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from turbosec.events.parsers.access_log import AccessLogParser
from turbosec.events.parsers.base import Parser
from turbosec.events.parsers.owasp_json import OwaspJsonParser
from turbosec.events.parsers.sshd import SshdParser

#: Every parser by its ``--format`` name.
PARSERS: Mapping[str, type[Parser]] = MappingProxyType(
    {cls.name: cls for cls in (OwaspJsonParser, SshdParser, AccessLogParser)}
)
#: How many lines :func:`detect_format` looks at.
SAMPLE_LINES = 50
#: Below this confidence no format is chosen.
MIN_CONFIDENCE = 0.5


@dataclass(frozen=True, slots=True)
class Detection:
    """The outcome of :func:`detect_format`: the chosen format (or ``None``) and every score."""

    format: str | None
    confidence: float
    scores: Mapping[str, float]

    def explain(self) -> str:
        """One line for a human: what was chosen and how the formats scored."""
        ranked = ", ".join(
            f"{name} {score:.0%}"
            for name, score in sorted(self.scores.items(), key=lambda item: -item[1])
        )
        if self.format is None:
            return (
                f"no log format recognised (scores: {ranked}); choose one with --format "
                f"({', '.join(PARSERS)})"
            )
        return f"format {self.format} ({self.confidence:.0%}; scores: {ranked})"


def get_parser(name: str, **options: object) -> Parser:
    """A new parser for a ``--format`` name; ``ValueError`` listing the names otherwise."""
    cls = PARSERS.get(name.strip().lower().replace("_", "-"))
    if cls is None:
        raise ValueError(f"unknown log format {name!r}; expected one of {', '.join(PARSERS)}")
    factory: Callable[..., Parser] = cls
    return factory(**options)


def detect_format(
    sample_lines: Sequence[str], *, min_confidence: float = MIN_CONFIDENCE
) -> Detection:
    """Score every parser on the first :data:`SAMPLE_LINES` non-empty lines; pick the best.

    Ties go to the parser listed first in :data:`PARSERS`.  Nothing is chosen below
    ``min_confidence``: a source then needs ``--format``.
    """
    sample = [line.rstrip("\r\n") for line in sample_lines if line.strip()][:SAMPLE_LINES]
    scores: dict[str, float] = {}
    for name, cls in PARSERS.items():
        scores[name] = round(cls().detect(sample), 4)
    best = max(scores, key=lambda name: scores[name]) if scores else None
    confidence = scores[best] if best is not None else 0.0
    if best is None or confidence < min_confidence:
        return Detection(None, confidence, MappingProxyType(scores))
    return Detection(best, confidence, MappingProxyType(scores))


__all__ = ["MIN_CONFIDENCE", "PARSERS", "SAMPLE_LINES", "Detection", "detect_format", "get_parser"]
