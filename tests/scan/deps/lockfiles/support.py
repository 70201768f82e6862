"""Helpers shared by the lockfile parser tests."""

from __future__ import annotations

from pathlib import Path

from turbosec.scan.deps.lockfiles import ParsedLockfile

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "lockfiles"

Row = tuple[str, str | None, int, str, str, bool, bool | None]


def fixture(relative: str) -> str:
    return (FIXTURES / relative).read_text(encoding="utf-8")


def rows(parsed: ParsedLockfile) -> list[Row]:
    """(name, version, line, status, reason, dev, direct) for each dependency, in order."""
    return [
        (d.name, d.version, d.line, d.status, d.reason, d.dev, d.direct)
        for d in parsed.dependencies
    ]
