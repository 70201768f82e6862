"""Helpers shared by the adapter tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from turbosec.scan.base import Parsed


def write_tree(root: Path, files: dict[str, str]) -> None:
    """Create ``files`` (relative path -> text) below ``root``."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def span_rows(parsed: Parsed, *, cwe: bool = False) -> list[Any]:
    """(rule, path, start line/col, end line/col, severity, confidence[, cwe]) per finding."""
    out: list[Any] = []
    for f in parsed.findings:
        loc = f.location
        assert loc is not None
        row: tuple[Any, ...] = (
            f.rule_id,
            loc.path,
            loc.start_line,
            loc.start_column,
            loc.end_line,
            loc.end_column,
            f.severity.label,
            f.confidence.value,
        )
        out.append((*row, f.cwe) if cwe else row)
    return out
