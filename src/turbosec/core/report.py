"""The versioned scan report document ``turbosec.report/v1``.

Its JSON Schema ships in the package (``turbosec/schemas/report-v1.schema.json``); the
hub and other consumers accept exactly this document.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import orjson

from turbosec.core.finding import Finding

SCHEMA_ID = "turbosec.report/v1"


class ToolStatus(enum.StrEnum):
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"
    IMPORTED = "imported"


@dataclass(frozen=True, slots=True)
class ToolRun:
    """What one scanner (or one imported report) contributed to a scan."""

    name: str
    version: str | None
    status: ToolStatus
    duration_s: float = 0.0
    findings: int = 0
    error: str | None = None
    optional: bool = False
    command: tuple[str, ...] = ()  # empty when every result came from the cache
    # Incremental cache (None: the cache was not used): files whose results came from the
    # cache, and files the scanner was run on (for a whole-project scanner: its inputs).
    cached_files: int | None = None
    scanned_files: int | None = None

    @property
    def cached(self) -> bool:
        """Every result came from the cache: no scanner process was started."""
        return self.cached_files is not None and not self.scanned_files

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "status": self.status.value,
            "duration_s": round(self.duration_s, 3),
            "findings": self.findings,
            "error": self.error,
            "optional": self.optional,
            "command": list(self.command),
            "cached_files": self.cached_files,
            "scanned_files": self.scanned_files,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ToolRun:
        return cls(
            name=str(data["name"]),
            version=data.get("version"),
            status=ToolStatus(data["status"]),
            duration_s=float(data.get("duration_s") or 0.0),
            findings=int(data.get("findings") or 0),
            error=data.get("error"),
            optional=bool(data.get("optional", False)),
            command=tuple(data.get("command") or ()),
            cached_files=_optional_int(data.get("cached_files")),
            scanned_files=_optional_int(data.get("scanned_files")),
        )


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True, slots=True)
class RepoInfo:
    name: str
    commit: str | None = None
    branch: str | None = None
    remote: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "commit": self.commit,
            "branch": self.branch,
            "remote": self.remote,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RepoInfo:
        return cls(
            name=str(data["name"]),
            commit=data.get("commit"),
            branch=data.get("branch"),
            remote=data.get("remote"),
        )


@dataclass(frozen=True, slots=True)
class Verdict:
    passed: bool
    reasons: tuple[str, ...] = ()
    fail_on: str = "critical"

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "reasons": list(self.reasons), "fail_on": self.fail_on}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verdict:
        return cls(
            passed=bool(data["passed"]),
            reasons=tuple(data.get("reasons") or ()),
            fail_on=str(data.get("fail_on") or "critical"),
        )


@dataclass(frozen=True, slots=True)
class FixedFinding:
    """A baseline finding that the scan no longer sees."""

    fingerprint: str
    tool: str
    rule_id: str
    path: str | None
    severity: str
    title: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "tool": self.tool,
            "rule_id": self.rule_id,
            "path": self.path,
            "severity": self.severity,
            "title": self.title,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FixedFinding:
        return cls(
            fingerprint=str(data["fingerprint"]),
            tool=str(data.get("tool") or ""),
            rule_id=str(data.get("rule_id") or ""),
            path=data.get("path"),
            severity=str(data.get("severity") or "info"),
            title=str(data.get("title") or ""),
        )


@dataclass(frozen=True, slots=True)
class ScanReport:
    repo: RepoInfo
    started_at: str
    finished_at: str
    duration_s: float
    tools: tuple[ToolRun, ...]
    findings: tuple[Finding, ...]
    verdict: Verdict | None = None
    turbosec_version: str = ""
    errors: tuple[str, ...] = field(default=())
    # What the findings were compared with (".turbosec/baseline.json", "origin/main"), if anything.
    baseline: str | None = None
    fixed: tuple[FixedFinding, ...] = ()
    # Things the user should know that are not errors: expired or stale suppressions...
    notices: tuple[str, ...] = ()

    def to_dict(self, *, include_raw: bool = True) -> dict[str, Any]:
        return {
            "schema": SCHEMA_ID,
            "turbosec_version": self.turbosec_version,
            "repo": self.repo.to_dict(),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_s": round(self.duration_s, 3),
            "tools": [t.to_dict() for t in self.tools],
            "errors": list(self.errors),
            "verdict": self.verdict.to_dict() if self.verdict else None,
            "baseline": self.baseline,
            "fixed": [f.to_dict() for f in self.fixed],
            "notices": list(self.notices),
            "findings": [f.to_dict(include_raw=include_raw) for f in self.findings],
        }

    def to_json(self, *, include_raw: bool = True) -> bytes:
        return orjson.dumps(self.to_dict(include_raw=include_raw), option=orjson.OPT_INDENT_2)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScanReport:
        if data.get("schema") != SCHEMA_ID:
            raise ValueError(f"not a {SCHEMA_ID} document (schema is {data.get('schema')!r})")
        verdict = data.get("verdict")
        return cls(
            repo=RepoInfo.from_dict(data["repo"]),
            started_at=str(data["started_at"]),
            finished_at=str(data["finished_at"]),
            duration_s=float(data.get("duration_s") or 0.0),
            tools=tuple(ToolRun.from_dict(t) for t in data.get("tools") or ()),
            findings=tuple(Finding.from_dict(f) for f in data.get("findings") or ()),
            verdict=Verdict.from_dict(verdict) if verdict else None,
            turbosec_version=str(data.get("turbosec_version") or ""),
            errors=tuple(data.get("errors") or ()),
            baseline=data.get("baseline"),
            fixed=tuple(FixedFinding.from_dict(f) for f in data.get("fixed") or ()),
            notices=tuple(data.get("notices") or ()),
        )


def report_schema() -> dict[str, Any]:
    """The JSON Schema of ``turbosec.report/v1`` shipped in the package."""
    text = resources.files("turbosec.schemas").joinpath("report-v1.schema.json").read_bytes()
    schema: dict[str, Any] = orjson.loads(text)
    return schema
