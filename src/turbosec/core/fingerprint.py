"""Fingerprints that survive unrelated edits.

A code finding's fingerprint is derived from the tool family, the rule, the path and the
whitespace-free text of the flagged lines, plus its occurrence index among findings with
the same text in the same file.  Line numbers never enter it, so inserting lines above a
finding keeps the fingerprint, while editing the flagged line changes it.

A dependency finding's fingerprint is derived from ecosystem, package and advisory id, so
one advisory reported by two tools is one finding.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from turbosec.core.finding import Category, Finding

FINGERPRINT_VERSION = "v1"
_WS = re.compile(r"\s+")
_MAX_FLAGGED_LINES = 50
_ADVISORY_PREFERENCE = ("CVE-", "GHSA-", "PYSEC-", "OSV-")

LineReader = Callable[[str], Sequence[str] | None]


def normalise_text(text: str) -> str:
    """Drop every whitespace character: reformatting never changes a fingerprint."""
    return _WS.sub("", text)


def canonical_package_name(ecosystem: str, name: str) -> str:
    if ecosystem.lower() == "pypi":
        return re.sub(r"[-_.]+", "-", name).lower()
    return name.lower()


def primary_advisory(ids: Iterable[str]) -> str:
    """The advisory id used to identify a vulnerability across tools (CVE first, then GHSA...)."""
    ids = sorted({i.strip() for i in ids if i and i.strip()})
    for prefix in _ADVISORY_PREFERENCE:
        for advisory in ids:
            if advisory.upper().startswith(prefix):
                return advisory.upper()
    return ids[0].upper() if ids else ""


class FileLines:
    """Reads repository files once and serves their lines (for fingerprinting)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[str, list[str] | None] = {}

    def __call__(self, path: str) -> list[str] | None:
        if path not in self._cache:
            full = (self.root / path).resolve()
            try:
                full.relative_to(self.root.resolve())
                data = full.read_bytes() if full.is_file() else None
            except (OSError, ValueError):
                data = None
            self._cache[path] = (
                data.decode("utf-8", "replace").splitlines() if data is not None else None
            )
        return self._cache[path]


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


def flagged_text(finding: Finding, lines: LineReader | None) -> str:
    """The normalised text a code finding's fingerprint is made from."""
    loc = finding.location
    if loc is None:
        return normalise_text(finding.message)
    # Secrets: the file holds the secret itself, the snippet holds only its redacted form.
    if finding.category is Category.SECRET:
        return normalise_text(loc.snippet or finding.message)
    if loc.start_line and lines is not None:
        content = lines(loc.path)
        if content is not None and 0 < loc.start_line <= len(content):
            end = (
                loc.end_line if loc.end_line and loc.end_line >= loc.start_line else loc.start_line
            )
            end = min(end, len(content), loc.start_line + _MAX_FLAGGED_LINES - 1)
            text = normalise_text("\n".join(content[loc.start_line - 1 : end]))
            if text:
                return text
    if loc.snippet:
        return normalise_text(loc.snippet)
    return normalise_text(finding.message)


def base_key(finding: Finding, lines: LineReader | None) -> str:
    if finding.category is Category.DEPENDENCY and finding.package is not None:
        pkg = finding.package
        return _digest(
            FINGERPRINT_VERSION,
            "dependency",
            pkg.ecosystem.lower(),
            canonical_package_name(pkg.ecosystem, pkg.name),
            primary_advisory(finding.advisories) or finding.rule_id,
        )
    path = finding.location.path if finding.location else ""
    return _digest(
        FINGERPRINT_VERSION, finding.family, finding.rule_id, path, flagged_text(finding, lines)
    )


def assign_fingerprints(findings: Sequence[Finding], lines: LineReader | None) -> list[Finding]:
    """Return the findings with fingerprints, in the same order.

    Identical flagged text for the same rule in one file gets occurrence indexes 0, 1, 2...
    in line order, so each copy has its own stable fingerprint.
    """
    keys = [base_key(f, lines) for f in findings]
    groups: dict[str, list[int]] = defaultdict(list)
    for index, key in enumerate(keys):
        groups[key].append(index)
    result = list(findings)
    for key, members in groups.items():
        if findings[members[0]].category is Category.THREAT and all(
            findings[i].fingerprint for i in members
        ):
            continue  # a threat's fingerprint comes from its stable threat id, not its line
        if findings[members[0]].category is Category.DEPENDENCY and findings[members[0]].package:
            for i in members:
                result[i] = replace(findings[i], fingerprint=key[:32])
            continue
        members.sort(key=lambda i: _position(findings[i]))
        for occurrence, i in enumerate(members):
            result[i] = replace(findings[i], fingerprint=_digest(key, str(occurrence))[:32])
    return result


def _position(finding: Finding) -> tuple[int, int]:
    loc = finding.location
    if loc is None:
        return (0, 0)
    return (loc.start_line or 0, loc.start_column or 0)
