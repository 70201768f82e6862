"""Request and response bodies of the hub API (pydantic v2: the OpenAPI schema comes from
these, so every field is described and typed)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from turbosec.hub.models import Role, Status, TokenScope
from turbosec.hub.service import SLUG_PATTERN, USERNAME_PATTERN

SeverityName = Literal["critical", "high", "medium", "low", "info"]
CategoryName = Literal["sast", "secret", "dependency", "iac", "pipeline", "threat"]
# Text a database can store: no NUL character (and, as pydantic checks patterns on real
# Unicode, no lone surrogate either).
TEXT = r"^[^\x00]*$"
SEVERITY_NAMES: tuple[SeverityName, ...] = ("info", "low", "medium", "high", "critical")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    """Every 4xx and 5xx answer."""

    error: str = Field(description="short machine-readable code", examples=["not_found"])
    detail: str = Field(description="what went wrong, for humans")
    problems: list[str] | None = Field(
        default=None, description="individual problems (e.g. JSON paths of schema violations)"
    )


# -- projects ---------------------------------------------------------------------------


class SlaDaysIn(_In):
    """Days to fix a finding, per severity (null: no SLA; absent: the hub's default)."""

    critical: int | None = Field(default=None, ge=1, le=3650)
    high: int | None = Field(default=None, ge=1, le=3650)
    medium: int | None = Field(default=None, ge=1, le=3650)
    low: int | None = Field(default=None, ge=1, le=3650)
    info: int | None = Field(default=None, ge=1, le=3650)


class ProjectIn(_In):
    slug: str = Field(
        pattern=SLUG_PATTERN,
        description="URL name: lowercase letters, digits, '.', '_', '-'",
        examples=["payments-api"],
    )
    name: str | None = Field(default=None, min_length=1, max_length=200, pattern=TEXT)
    default_branch: str | None = Field(default=None, min_length=1, max_length=255, pattern=TEXT)
    sla_days: SlaDaysIn | None = Field(
        default=None,
        description="SLA days per severity overriding the hub defaults",
        examples=[{"critical": 3, "high": 14}],
    )


class ProjectOut(_Out):
    id: int
    slug: str
    name: str
    default_branch: str | None
    sla_days: dict[str, int | None] | None
    created_at: dt.datetime


# -- scans ------------------------------------------------------------------------------


class ToolOut(BaseModel):
    name: str
    version: str | None = None
    status: str = Field(description="ok, failed, skipped or imported")


class ScanOut(_Out):
    id: int
    created_at: dt.datetime = Field(description="when the hub received the upload")
    branch: str | None
    commit: str | None
    build_id: str | None
    full: bool = Field(description="a full scan may fix findings; a partial one never does")
    format: Literal["turbosec", "sarif"]
    tools: list[ToolOut]
    report_sha256: str
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    scan_duration_s: float | None
    ingest_duration_s: float | None
    findings_total: int
    new: int
    unchanged: int
    fixed: int
    reopened: int
    uploaded_by: str


class ScanCreated(ScanOut):
    expired_acceptances: int = Field(description="risk acceptances that expired and reopened")
    duplicates: int = Field(description="findings repeating a fingerprint of the upload")
    warnings: list[str]


class ScanPage(BaseModel):
    items: list[ScanOut]
    next_cursor: str | None = Field(description="pass as cursor for the next page")


# -- findings ---------------------------------------------------------------------------


class FindingOut(_Out):
    id: int
    fingerprint: str
    status: Status
    severity: SeverityName
    tool: str
    rule_id: str
    title: str
    message: str
    category: str
    confidence: str | None
    path: str | None
    line: int | None
    cwe: list[str]
    advisories: list[str]
    package: dict[str, Any] | None
    fix_hint: str | None
    details: dict[str, Any] = Field(description="snippet, references, suppression…")
    branch: str | None = Field(description="branch of the last sighting")
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime
    first_scan_id: int | None
    last_scan_id: int | None
    status_changed_at: dt.datetime
    fixed_at: dt.datetime | None
    accepted_reason: str | None
    accepted_by: str | None
    accepted_until: dt.date | None = Field(description="last day the risk acceptance holds")
    assignee: str | None


class FindingPage(BaseModel):
    items: list[FindingOut]
    next_cursor: str | None = Field(description="pass as cursor for the next page")


class StatusChangeOut(_Out):
    id: int
    at: dt.datetime
    from_status: Status | None = Field(description="null: the finding was created")
    to_status: Status
    actor: str = Field(description="scan:<id>, user:<name> or system")
    reason: str
    scan_id: int | None


class CommentOut(_Out):
    id: int
    at: dt.datetime
    author: str
    body: str


class FindingDetail(FindingOut):
    history: list[StatusChangeOut]
    comments: list[CommentOut]


# A reason with something in it besides blanks (and no NUL).
REASON = r"^[^\x00]*[^\x00\s][^\x00]*$"


class AcceptIn(_In):
    """Accept the risk: why, and optionally until when."""

    status: Literal["accepted"]
    reason: str = Field(min_length=1, max_length=2000, pattern=REASON)
    expires: dt.date | None = Field(
        default=None, description="the last day the acceptance holds (after today, UTC)"
    )


class FalsePositiveIn(_In):
    status: Literal["false_positive"]
    reason: str = Field(min_length=1, max_length=2000, pattern=REASON)


class ReopenIn(_In):
    """Back to work: ``reopened`` (from fixed, accepted, false positive) or ``open`` (undo
    a triage decision)."""

    status: Literal["reopened", "open"]
    reason: str = Field(default="", max_length=2000, pattern=TEXT)


StatusIn = Annotated[AcceptIn | FalsePositiveIn | ReopenIn, Field(discriminator="status")]


class CommentIn(_In):
    body: str = Field(min_length=1, max_length=10_000, pattern=TEXT)


class AssignIn(_In):
    assignee: str | None = Field(
        max_length=200, pattern=TEXT, description="who works on it (null: nobody)"
    )


# -- alerts (turbosec watch) -------------------------------------------------------------


class AlertOut(BaseModel):
    """An alert as ``turbosec watch`` raised it, and when the hub received it."""

    alert_id: str = Field(description="stable id: rule, group and first event time")
    rule_id: str
    title: str
    severity: SeverityName
    group: dict[str, str | None] = Field(
        description='the group-by key, e.g. {"source_ip": "203.0.113.9"}'
    )
    first_seen: dt.datetime = Field(description="time of the first event counted")
    last_seen: dt.datetime = Field(description="time of the last event counted")
    count: int = Field(description="events counted")
    tags: list[str] = Field(description="e.g. attack.credential_access, attack.t1110.001")
    description: str
    samples: list[dict[str, Any]] = Field(description="at most 10 of the events counted")
    received_at: dt.datetime = Field(description="when the hub first received it")
    received_by: str = Field(description="token:<name> or user:<name>")


class AlertPage(BaseModel):
    items: list[AlertOut]
    next_cursor: str | None = Field(description="pass as cursor for the next page")


class AlertsStored(BaseModel):
    """What a POST of alerts did (alerts already known are not stored again)."""

    received: int = Field(description="alerts in the request")
    new: int = Field(description="alerts stored now")
    known: int = Field(description="alerts the project already had (or repeated in the request)")
    alert_ids: list[str] = Field(description="the alerts' ids, in request order")


# -- users, tokens, login ---------------------------------------------------------------


class UserIn(_In):
    username: str = Field(pattern=USERNAME_PATTERN)
    password: str = Field(
        min_length=12,
        max_length=1024,
        pattern=TEXT,
        description="at least 12 characters (a hub may be configured to ask for more)",
    )
    role: Role


class UserOut(_Out):
    id: int
    username: str
    role: Role
    created_at: dt.datetime
    disabled: bool
    last_login_at: dt.datetime | None
    locked_until: dt.datetime | None


class TokenIn(_In):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f]+$")
    scope: TokenScope
    expires_days: int | None = Field(default=None, ge=1, le=3650)


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str = Field(description="the token's first characters, to recognise it")
    kind: Literal["project", "user"]
    project: str | None
    username: str | None
    scope: TokenScope | None
    created_at: dt.datetime
    created_by: str
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="the token itself: shown this once, store it now")


class LoginIn(_In):
    username: str = Field(min_length=1, max_length=100, pattern=TEXT)
    password: str = Field(min_length=1, max_length=1024, pattern=TEXT)


class LoginOut(BaseModel):
    token: str = Field(description="a bearer token acting as the user")
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type
    expires_at: dt.datetime
    username: str
    role: Role


class HealthOut(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]
    version: str
