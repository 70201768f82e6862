"""The baseline: findings a team has already seen, so the gate judges only new ones.

``.turbosec/baseline.json`` holds one entry per finding fingerprint with minimal
context (tool, rule, path, severity, title: never a snippet or a secret), sorted so that
it diffs cleanly in review.  Fingerprints already carry an occurrence index, so a second
copy of an old problem has a fingerprint of its own and counts as new.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from turbosec.core.errors import TurbosecError
from turbosec.core.finding import BaselineState, Finding
from turbosec.core.report import FixedFinding

SCHEMA = "turbosec.baseline/v1"
DEFAULT_PATH = Path(".turbosec") / "baseline.json"
_MAX_BYTES = 256 * 1024 * 1024


class BaselineError(TurbosecError):
    pass


@dataclass(frozen=True)
class Baseline:
    entries: tuple[FixedFinding, ...]
    source: str
    created_at: str | None = None

    @property
    def fingerprints(self) -> frozenset[str]:
        return frozenset(e.fingerprint for e in self.entries)

    @classmethod
    def from_findings(cls, findings: Iterable[Finding], source: str) -> Baseline:
        entries = {
            f.fingerprint: FixedFinding(
                fingerprint=f.fingerprint,
                tool=f.tool,
                rule_id=f.rule_id,
                path=f.location.path if f.location else None,
                severity=f.severity.label,
                title=f.title,
            )
            for f in findings
            if f.suppression is None
        }
        ordered = sorted(
            entries.values(), key=lambda e: (e.path or "", e.tool, e.rule_id, e.fingerprint)
        )
        return cls(
            entries=tuple(ordered),
            source=source,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    def compare(self, findings: Sequence[Finding]) -> tuple[list[Finding], list[FixedFinding]]:
        """Mark each finding new or unchanged; list baseline entries no longer seen (fixed)."""
        known = self.fingerprints
        marked = [
            replace(
                f,
                baseline_state=BaselineState.UNCHANGED
                if f.fingerprint in known
                else BaselineState.NEW,
            )
            for f in findings
        ]
        seen = {f.fingerprint for f in findings}
        fixed = [e for e in self.entries if e.fingerprint not in seen]
        return marked, fixed

    def to_json(self) -> bytes:
        doc: dict[str, Any] = {
            "schema": SCHEMA,
            "created_at": self.created_at,
            "count": len(self.entries),
            "findings": [e.to_dict() for e in self.entries],
        }
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(self.to_json())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def load_baseline(path: Path) -> Baseline:
    """Read a baseline file; any problem is a clear error (the gate never guesses)."""
    hint = "recreate it with `turbosec baseline create`, or drop --baseline"
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise BaselineError(
            "baseline file not found",
            where=str(path),
            hint="create one with `turbosec baseline create`",
        ) from None
    except OSError as exc:
        raise BaselineError(f"cannot read: {exc.strerror}", where=str(path), hint=hint) from exc
    if size > _MAX_BYTES:
        raise BaselineError(
            f"baseline file is too large ({size} bytes)", where=str(path), hint=hint
        )
    try:
        doc = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise BaselineError(f"not valid JSON: {exc}", where=str(path), hint=hint) from exc
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise BaselineError(f"not a {SCHEMA} document", where=str(path), hint=hint)
    items = doc.get("findings")
    if not isinstance(items, list):
        raise BaselineError("'findings' must be a list", where=str(path), hint=hint)
    entries = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("fingerprint"), str):
            raise BaselineError(f"findings[{index}] has no fingerprint", where=str(path), hint=hint)
        entries.append(FixedFinding.from_dict(item))
    created = doc.get("created_at")
    return Baseline(
        entries=tuple(entries),
        source=str(path),
        created_at=created if isinstance(created, str) else None,
    )
