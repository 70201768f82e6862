"""The normalised finding every scanner and importer produces."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from turbosec.core.severity import Severity


class Category(enum.StrEnum):
    SAST = "sast"
    SECRET = "secret"  # noqa: S105 - a category name
    DEPENDENCY = "dependency"
    IAC = "iac"
    PIPELINE = "pipeline"
    THREAT = "threat"  # an open threat from the threat model


class Confidence(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @classmethod
    def parse(cls, value: str | None, default: Confidence | None = None) -> Confidence:
        if value is None:
            return default or cls.MEDIUM
        key = str(value).strip().lower()
        try:
            return cls(key)
        except ValueError:
            return default or cls.MEDIUM


@dataclass(frozen=True, slots=True)
class Location:
    """Where a finding is: a repository-relative POSIX path and a 1-based line/column span."""

    path: str
    start_line: int | None = None
    start_column: int | None = None
    end_line: int | None = None
    end_column: int | None = None
    snippet: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "start_line": self.start_line,
            "start_column": self.start_column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "snippet": self.snippet,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Location:
        return cls(
            path=str(data["path"]),
            start_line=data.get("start_line"),
            start_column=data.get("start_column"),
            end_line=data.get("end_line"),
            end_column=data.get("end_column"),
            snippet=data.get("snippet"),
        )

    def display(self) -> str:
        if self.start_line:
            return f"{self.path}:{self.start_line}"
        return self.path


@dataclass(frozen=True, slots=True)
class Package:
    """The vulnerable package of a dependency finding."""

    ecosystem: str
    name: str
    version: str | None = None
    fixed_versions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "ecosystem": self.ecosystem,
            "name": self.name,
            "version": self.version,
            "fixed_versions": list(self.fixed_versions),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Package:
        return cls(
            ecosystem=str(data["ecosystem"]),
            name=str(data["name"]),
            version=data.get("version"),
            fixed_versions=tuple(data.get("fixed_versions") or ()),
        )


class BaselineState(enum.StrEnum):
    """Whether a finding was already known (SARIF ``baselineState`` vocabulary)."""

    NEW = "new"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class Suppression:
    """Why a finding does not fail the gate although it is still reported.

    ``kind`` is ``inline`` (a marker comment in the code: ``# nosec``, ``# nosemgrep``,
    ``# turbosec: ignore[...]``…) or ``config`` (a ``[[suppress]]`` entry).
    """

    kind: str
    reason: str | None
    source: str
    expires: str | None = None
    owner: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "reason": self.reason,
            "source": self.source,
            "expires": self.expires,
            "owner": self.owner,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Suppression:
        return cls(
            kind=str(data["kind"]),
            reason=data.get("reason"),
            source=str(data.get("source") or ""),
            expires=data.get("expires"),
            owner=data.get("owner"),
        )


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem reported by one tool, in turbosec's vocabulary.

    ``fingerprint`` is empty until :func:`turbosec.core.fingerprint.assign_fingerprints`
    fills it; it never depends on line numbers.  Secret findings carry only a redacted
    form of the secret (in ``snippet`` and ``message``) and a salted hash.
    """

    tool: str
    rule_id: str
    title: str
    message: str
    severity: Severity
    category: Category
    confidence: Confidence = Confidence.MEDIUM
    location: Location | None = None
    cwe: tuple[int, ...] = ()
    advisories: tuple[str, ...] = ()
    package: Package | None = None
    references: tuple[str, ...] = ()
    fix_hint: str | None = None
    secret_hash: str | None = None
    also_reported_by: tuple[str, ...] = ()
    raw: Mapping[str, Any] | None = field(default=None, compare=False, hash=False, repr=False)
    fingerprint: str = ""
    suppression: Suppression | None = None
    baseline_state: BaselineState | None = None  # None: no baseline to compare with
    on_changed_line: bool | None = None  # diff-aware mode: flagged lines touched by the change

    @property
    def gating(self) -> bool:
        """Whether the policy may fail the gate on this finding (not suppressed, not old)."""
        return self.suppression is None and self.baseline_state is not BaselineState.UNCHANGED

    @property
    def family(self) -> str:
        """Tool family used in fingerprints (an imported SARIF run keeps its driver name)."""
        return self.tool.split(":", 1)[0].lower()

    def with_fingerprint(self, fingerprint: str) -> Finding:
        return replace(self, fingerprint=fingerprint)

    def to_dict(self, *, include_raw: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "fingerprint": self.fingerprint,
            "tool": self.tool,
            "rule_id": self.rule_id,
            "title": self.title,
            "message": self.message,
            "severity": self.severity.label,
            "confidence": self.confidence.value,
            "category": self.category.value,
            "location": self.location.to_dict() if self.location else None,
            "cwe": list(self.cwe),
            "advisories": list(self.advisories),
            "package": self.package.to_dict() if self.package else None,
            "references": list(self.references),
            "fix_hint": self.fix_hint,
            "secret_hash": self.secret_hash,
            "also_reported_by": list(self.also_reported_by),
            "suppression": self.suppression.to_dict() if self.suppression else None,
            "baseline_state": self.baseline_state.value if self.baseline_state else None,
            "on_changed_line": self.on_changed_line,
        }
        if include_raw:
            data["raw"] = dict(self.raw) if self.raw is not None else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        loc = data.get("location")
        pkg = data.get("package")
        return cls(
            tool=str(data["tool"]),
            rule_id=str(data["rule_id"]),
            title=str(data.get("title") or data["rule_id"]),
            message=str(data.get("message") or ""),
            severity=Severity.parse(data["severity"]),
            category=Category(data["category"]),
            confidence=Confidence.parse(data.get("confidence")),
            location=Location.from_dict(loc) if loc else None,
            cwe=tuple(int(c) for c in data.get("cwe") or ()),
            advisories=tuple(data.get("advisories") or ()),
            package=Package.from_dict(pkg) if pkg else None,
            references=tuple(data.get("references") or ()),
            fix_hint=data.get("fix_hint"),
            secret_hash=data.get("secret_hash"),
            also_reported_by=tuple(data.get("also_reported_by") or ()),
            raw=data.get("raw"),
            fingerprint=str(data.get("fingerprint") or ""),
            suppression=Suppression.from_dict(data["suppression"])
            if data.get("suppression")
            else None,
            baseline_state=BaselineState(data["baseline_state"])
            if data.get("baseline_state")
            else None,
            on_changed_line=data.get("on_changed_line"),
        )


def parse_cwe(value: object) -> tuple[int, ...]:
    """Extract CWE numbers from the many ways tools write them.

    Accepts ``"CWE-79"``, ``"CWE-79: Improper ..."``, ``79``, ``{"id": 79}`` and lists of those.
    """
    import re

    out: list[int] = []

    def visit(item: object) -> None:
        if item is None:
            return
        if isinstance(item, bool):
            return
        if isinstance(item, int):
            out.append(item)
        elif isinstance(item, str):
            m = re.search(r"CWE[-_ ]?(\d+)", item, re.IGNORECASE)
            if m:
                out.append(int(m.group(1)))
            elif item.strip().isdigit():
                out.append(int(item.strip()))
        elif isinstance(item, Mapping):
            visit(item.get("id"))
        elif isinstance(item, list | tuple):
            for sub in item:
                visit(sub)

    visit(value)
    return tuple(dict.fromkeys(out))
