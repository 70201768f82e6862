"""The hub's storage model (SQLAlchemy 2, portable between SQLite and PostgreSQL).

Project → Scan (one upload) → Finding (one row per fingerprint per project) with a
StatusChange audit trail.  Users carry a role; API tokens are stored hashed and scoped to
a project (upload or read) or belong to a user (acting with the user's role).

Every timestamp is stored in UTC and read back timezone-aware (:class:`UTCDateTime`),
whatever the database keeps.  The schema is created and changed only by the Alembic
migrations in :mod:`turbosec.hub.migrations`; tests compare the two.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Stable constraint names, so migrations can refer to them on every database.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every database (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the hub database; use UTC-aware times")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Status(enum.StrEnum):
    OPEN = "open"
    FIXED = "fixed"
    REOPENED = "reopened"
    ACCEPTED = "accepted"  # risk accepted: reason, approver, optional expiry
    FALSE_POSITIVE = "false_positive"

    @property
    def active(self) -> bool:
        """Still needs work (counts for SLA and gate)."""
        return self in (Status.OPEN, Status.REOPENED)


class Role(enum.StrEnum):
    ADMIN = "admin"  # everything, including users and tokens
    SECURITY = "security"  # triage: accept risk, false positive, reopen
    DEVELOPER = "developer"  # read and comment


class TokenScope(enum.StrEnum):
    UPLOAD = "upload"  # upload scans to its project (and read it)
    READ = "read"  # read its project


class Project(Base):
    __tablename__ = "project"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)  # URL name: [a-z0-9._-]
    name: Mapped[str] = mapped_column(String(200))
    default_branch: Mapped[str | None] = mapped_column(String(255))
    # per-severity SLA days overriding the hub defaults, e.g. {"critical": 3}
    sla_days: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    scans: Mapped[list[Scan]] = relationship(back_populates="project", passive_deletes=True)


class Scan(Base):
    """One upload of a report."""

    __tablename__ = "scan"
    __table_args__ = (Index(None, "project_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)  # received by the hub
    branch: Mapped[str | None] = mapped_column(String(255))
    commit: Mapped[str | None] = mapped_column(String(64))
    build_id: Mapped[str | None] = mapped_column(String(255))
    # A full scan of its branch: findings of the tools that ran and are absent become fixed.
    # False for diff-aware or partial scans, which can only add and refresh.
    full: Mapped[bool] = mapped_column(Boolean, default=True)
    format: Mapped[str] = mapped_column(String(20))  # "turbosec" | "sarif"
    # [{"name", "version", "status"}] of the report's tools
    tools: Mapped[list[Any]] = mapped_column(JSON, default=list)
    report_sha256: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[dt.datetime | None] = mapped_column()  # from the report, if given
    finished_at: Mapped[dt.datetime | None] = mapped_column()
    scan_duration_s: Mapped[float | None] = mapped_column()
    ingest_duration_s: Mapped[float | None] = mapped_column()
    findings_total: Mapped[int] = mapped_column(Integer, default=0)
    new: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    fixed: Mapped[int] = mapped_column(Integer, default=0)
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    uploaded_by: Mapped[str] = mapped_column(String(200))  # "token:<name>" or "user:<name>"

    project: Mapped[Project] = relationship(back_populates="scans")


class Finding(Base):
    """One problem of one project, identified by its fingerprint, across all its scans."""

    __tablename__ = "finding"
    __table_args__ = (
        UniqueConstraint("project_id", "fingerprint"),
        Index(None, "project_id", "status", "severity"),
        # listing by severity (the default order) with keyset pagination on (severity, id)
        Index(None, "project_id", "severity", "id"),
        # No index may cover the columns every upload refreshes (last_seen_at,
        # last_scan_id, branch), and PostgreSQL pages keep room for new row versions: a
        # re-import then updates rows in place (HOT updates, no index writes).
        {"postgresql_with": {"fillfactor": 70}},
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(20), default=Status.OPEN.value)
    severity: Mapped[int] = mapped_column(SmallInteger)  # core.severity.Severity value
    tool: Mapped[str] = mapped_column(String(100))
    rule_id: Mapped[str] = mapped_column(String(300))
    title: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(20))  # core.finding.Category value
    confidence: Mapped[str | None] = mapped_column(String(20))
    path: Mapped[str | None] = mapped_column(String(1024))
    line: Mapped[int | None] = mapped_column(Integer)
    cwe: Mapped[list[Any]] = mapped_column(JSON, default=list)  # ["CWE-89"]
    advisories: Mapped[list[Any]] = mapped_column(JSON, default=list)
    package: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    fix_hint: Mapped[str | None] = mapped_column(Text)
    # the rest of the finding as uploaded (references, snippet, end line, …); never "raw"
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # digest of the uploaded content above (severity … details): a re-import rewrites a
    # finding's content only when it changed (see turbosec.hub.ingest)
    content_hash: Mapped[str | None] = mapped_column(String(32))
    branch: Mapped[str | None] = mapped_column(String(255))  # branch of the last sighting
    first_seen_at: Mapped[dt.datetime] = mapped_column()
    last_seen_at: Mapped[dt.datetime] = mapped_column()
    first_scan_id: Mapped[int | None] = mapped_column(ForeignKey("scan.id", ondelete="SET NULL"))
    last_scan_id: Mapped[int | None] = mapped_column(ForeignKey("scan.id", ondelete="SET NULL"))
    status_changed_at: Mapped[dt.datetime] = mapped_column()
    fixed_at: Mapped[dt.datetime | None] = mapped_column()
    # risk acceptance (status accepted)
    accepted_reason: Mapped[str | None] = mapped_column(Text)
    accepted_by: Mapped[str | None] = mapped_column(String(200))
    accepted_until: Mapped[dt.date | None] = mapped_column(Date)
    assignee: Mapped[str | None] = mapped_column(String(200))

    history: Mapped[list[StatusChange]] = relationship(
        back_populates="finding", order_by="StatusChange.id", passive_deletes=True
    )


class StatusChange(Base):
    """The audit trail: every status change of a finding, who made it, when and why."""

    __tablename__ = "status_change"
    __table_args__ = (Index(None, "project_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    finding_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("finding.id", ondelete="CASCADE"),
        index=True,  # a finding's history; cascading deletes
    )
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column()
    from_status: Mapped[str | None] = mapped_column(String(20))  # None: created
    to_status: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200))  # "scan:<id>", "user:<name>", "system"
    reason: Mapped[str] = mapped_column(Text, default="")
    scan_id: Mapped[int | None] = mapped_column(ForeignKey("scan.id", ondelete="SET NULL"))

    finding: Mapped[Finding] = relationship(back_populates="history")


class Comment(Base):
    __tablename__ = "comment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    finding_id: Mapped[int] = mapped_column(
        ForeignKey("finding.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    author: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)


class User(Base):
    __tablename__ = "hub_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))  # argon2id
    role: Mapped[str] = mapped_column(String(20))  # Role value
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column()
    last_login_at: Mapped[dt.datetime | None] = mapped_column()


class ApiToken(Base):
    """A bearer token, stored as the SHA-256 of its value (the value is shown once).

    Project tokens (``project_id`` set) act within one project with their scope; user
    tokens (``user_id`` set) act as the user, with the user's role.
    """

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))  # first characters, to recognise it
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("project.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("hub_user.id", ondelete="CASCADE"), index=True
    )
    scope: Mapped[str | None] = mapped_column(String(20))  # TokenScope value (project tokens)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    expires_at: Mapped[dt.datetime | None] = mapped_column()
    revoked_at: Mapped[dt.datetime | None] = mapped_column()
    last_used_at: Mapped[dt.datetime | None] = mapped_column()


class AlertRecord(Base):
    """One alert of ``turbosec watch`` (:class:`turbosec.core.event.Alert`) sent to a project.

    ``alert_id`` is the alert's stable id (rule, group, first event time): the same alert
    sent again is recognised and stored once per project.
    """

    __tablename__ = "alert"
    __table_args__ = (
        UniqueConstraint("project_id", "alert_id"),
        # newest first (keyset pagination on id), with or without a severity filter
        Index(None, "project_id", "id"),
        Index(None, "project_id", "severity", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    alert_id: Mapped[str] = mapped_column(String(64))
    rule_id: Mapped[str] = mapped_column(String(300))
    title: Mapped[str] = mapped_column(Text)
    severity: Mapped[int] = mapped_column(SmallInteger)  # core.severity.Severity value
    # the group-by key as a mapping, e.g. {"source_ip": "203.0.113.9"}
    group: Mapped[dict[str, Any]] = mapped_column(JSON)
    first_seen: Mapped[dt.datetime] = mapped_column()
    last_seen: Mapped[dt.datetime] = mapped_column()
    count: Mapped[int] = mapped_column(BigInteger)
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    description: Mapped[str] = mapped_column(Text, default="")
    # at most core.event.MAX_ALERT_SAMPLES events, as SecurityEvent.to_dict wrote them
    samples: Mapped[list[Any]] = mapped_column(JSON, default=list)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    received_by: Mapped[str] = mapped_column(String(200))  # "token:<name>" or "user:<name>"
