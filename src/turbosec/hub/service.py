"""The hub's operations on its database, shared by the API and the ``turbosec hub`` CLI.

Every function takes a SQLAlchemy :class:`~sqlalchemy.orm.Session`; those that write
commit on success.  Problems a caller can cause raise :class:`~turbosec.hub.errors.HubError`
subclasses (4xx), never database errors.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from turbosec.hub.auth import Passwords, issue_token
from turbosec.hub.db import begin_write
from turbosec.hub.errors import BadRequest, Conflict, HubError, NotFound
from turbosec.hub.ingest import lock_project
from turbosec.hub.models import (
    ApiToken,
    Comment,
    Finding,
    Project,
    Role,
    Scan,
    Status,
    StatusChange,
    TokenScope,
    User,
    utcnow,
)

SLUG_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,99}$"
USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$"
SEVERITY_VALUES = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
SEVERITY_LABELS = {v: k for k, v in SEVERITY_VALUES.items()}
MAX_ID = 2**63 - 1  # findings and their history: 64-bit ids
MAX_ID32 = 2**31 - 1  # projects, scans, users, tokens, comments: 32-bit ids


class InvalidInput(HubError):
    status = 422
    code = "invalid_request"


# -- projects ---------------------------------------------------------------------------


def _sla_days(value: dict[str, Any] | None) -> dict[str, int | None] | None:
    if value is None:
        return None
    from turbosec.hub.metrics import SlaConfigError, validate_sla_days

    try:
        return validate_sla_days(value) or None
    except SlaConfigError as exc:
        raise InvalidInput(f"sla_days: {exc}") from None


def create_project(
    session: Session,
    slug: str,
    *,
    name: str | None = None,
    default_branch: str | None = None,
    sla_days: dict[str, Any] | None = None,
) -> Project:
    if not re.match(SLUG_PATTERN, slug):
        raise InvalidInput(
            f"project slug {slug!r} is not valid: use 1-100 lowercase letters, digits, "
            "'.', '_' or '-', starting with a letter or digit"
        )
    begin_write(session)
    project = Project(
        slug=slug,
        name=name or slug,
        default_branch=default_branch,
        sla_days=_sla_days(sla_days),
        created_at=utcnow(),
    )
    _add_unique(session, project, f"a project {slug!r} exists already")
    return project


def _add_unique(session: Session, row: object, conflict: str) -> None:
    """Insert ``row`` and commit; a unique-key clash is a 409 with ``conflict``."""
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(conflict) from None


def get_project(session: Session, slug: str) -> Project:
    project = session.execute(select(Project).where(Project.slug == slug)).scalar_one_or_none()
    if project is None:
        raise NotFound(f"no project {slug!r}")
    return project


def list_projects(session: Session, only_id: int | None = None) -> Sequence[Project]:
    stmt = select(Project).order_by(Project.slug)
    if only_id is not None:
        stmt = stmt.where(Project.id == only_id)
    return session.execute(stmt).scalars().all()


# -- users ------------------------------------------------------------------------------


def create_user(
    session: Session, passwords: Passwords, username: str, password: str, role: Role
) -> User:
    if not re.match(USERNAME_PATTERN, username):
        raise InvalidInput(
            f"user name {username!r} is not valid: 1-100 letters, digits, '.', '_', '@' "
            "or '-', starting with a letter or digit"
        )
    hashed = passwords.hash(password)  # checks the password policy
    begin_write(session)
    user = User(
        username=username,
        password_hash=hashed,
        role=Role(role).value,
        created_at=utcnow(),
        disabled=False,
        failed_logins=0,
    )
    _add_unique(session, user, f"a user {username!r} exists already")
    return user


def get_user(session: Session, username: str) -> User:
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def list_users(session: Session) -> Sequence[User]:
    return session.execute(select(User).order_by(User.username)).scalars().all()


# -- tokens -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenView:
    """A token as listed: never its value."""

    id: int
    name: str
    prefix: str
    kind: str  # "project" | "user"
    project: str | None
    username: str | None
    scope: TokenScope | None
    created_at: dt.datetime
    created_by: str
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def _view(token: ApiToken, project: str | None, username: str | None) -> TokenView:
    return TokenView(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        kind="user" if token.user_id is not None else "project",
        project=project,
        username=username,
        scope=TokenScope(token.scope) if token.scope else None,
        created_at=token.created_at,
        created_by=token.created_by,
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
        last_used_at=token.last_used_at,
    )


def _expiry(days: float | None, now: dt.datetime) -> dt.datetime | None:
    if days is None:
        return None
    if days <= 0 or days > 3650:
        raise InvalidInput("a token's expiry must be between 1 and 3650 days")
    return now + dt.timedelta(days=days)


def create_project_token(
    session: Session,
    project: Project,
    *,
    name: str,
    scope: TokenScope,
    created_by: str,
    expires_days: float | None = None,
) -> tuple[TokenView, str]:
    """A new project token; returns its listing view and its value (shown once)."""
    now = utcnow()
    expires = _expiry(expires_days, now)
    begin_write(session)
    token, value = issue_token(
        session,
        name=name,
        created_by=created_by,
        project_id=project.id,
        scope=TokenScope(scope),
        expires_at=expires,
    )
    session.commit()
    return _view(token, project.slug, None), value


def create_user_token(
    session: Session,
    user: User,
    *,
    name: str,
    created_by: str,
    expires_days: float | None = None,
) -> tuple[TokenView, str]:
    now = utcnow()
    expires = _expiry(expires_days, now)
    begin_write(session)
    token, value = issue_token(
        session, name=name, created_by=created_by, user_id=user.id, expires_at=expires
    )
    session.commit()
    return _view(token, None, user.username), value


def list_tokens(session: Session, project_id: int | None = None) -> list[TokenView]:
    stmt = (
        select(ApiToken, Project.slug, User.username)
        .outerjoin(Project, Project.id == ApiToken.project_id)
        .outerjoin(User, User.id == ApiToken.user_id)
        .order_by(ApiToken.id)
    )
    if project_id is not None:
        stmt = stmt.where(ApiToken.project_id == project_id)
    return [_view(t, slug, username) for t, slug, username in session.execute(stmt).all()]


def revoke_token(session: Session, token_id: int) -> TokenView:
    if not 1 <= token_id <= MAX_ID32:
        raise NotFound(f"no token {token_id}")
    begin_write(session)
    token = session.get(ApiToken, token_id)
    if token is None:
        session.rollback()
        raise NotFound(f"no token {token_id}")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    session.commit()
    project = session.get(Project, token.project_id) if token.project_id else None
    user = session.get(User, token.user_id) if token.user_id else None
    return _view(token, project.slug if project else None, user.username if user else None)


# -- scans ------------------------------------------------------------------------------


def _encode_cursor(payload: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode("ascii").rstrip("=")


def _decode_cursor(cursor: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = orjson.loads(raw)
    except (binascii.Error, ValueError):
        raise BadRequest("the cursor is not valid: pass next_cursor unchanged") from None
    if not isinstance(value, list):
        raise BadRequest("the cursor is not valid: pass next_cursor unchanged")
    return value


def _cursor_id(value: Any, limit: int = MAX_ID) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= limit:
        raise BadRequest("the cursor is not valid: pass next_cursor unchanged")
    return value


def list_scans(
    session: Session, project_id: int, *, limit: int, cursor: str | None
) -> tuple[Sequence[Scan], str | None]:
    stmt = select(Scan).where(Scan.project_id == project_id)
    if cursor:
        parts = _decode_cursor(cursor)
        if len(parts) != 2 or parts[0] != "scan":
            raise BadRequest("the cursor is not valid: pass next_cursor unchanged")
        stmt = stmt.where(Scan.id < _cursor_id(parts[1], MAX_ID32))
    rows = session.execute(stmt.order_by(Scan.id.desc()).limit(limit + 1)).scalars().all()
    next_cursor = _encode_cursor(["scan", rows[limit - 1].id]) if len(rows) > limit else None
    return rows[:limit], next_cursor


# -- findings ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FindingFilter:
    status: Sequence[str] = ()
    severity: Sequence[str] = ()
    min_severity: str | None = None
    category: Sequence[str] = ()
    tool: str | None = None
    path: str | None = None  # prefix
    q: str | None = None  # case-insensitive text in title, message, rule, path
    branch: str | None = None
    assignee: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if self.status:
            out.append(Finding.status.in_([Status(s).value for s in self.status]))
        if self.severity:
            out.append(Finding.severity.in_([SEVERITY_VALUES[s] for s in self.severity]))
        if self.min_severity is not None:
            out.append(Finding.severity >= SEVERITY_VALUES[self.min_severity])
        if self.category:
            out.append(Finding.category.in_(list(self.category)))
        if self.tool:
            out.append(Finding.tool == self.tool)
        if self.path:
            out.append(Finding.path.startswith(self.path, autoescape=True))
        if self.q:
            out.append(
                or_(
                    Finding.title.icontains(self.q, autoescape=True),
                    Finding.message.icontains(self.q, autoescape=True),
                    Finding.rule_id.icontains(self.q, autoescape=True),
                    Finding.path.icontains(self.q, autoescape=True),
                )
            )
        if self.branch:
            out.append(Finding.branch == self.branch)
        if self.assignee:
            out.append(Finding.assignee == self.assignee)
        return out


SORTS = {
    "severity": Finding.severity,
    "last_seen": Finding.last_seen_at,
    "first_seen": Finding.first_seen_at,
    "id": Finding.id,
}


def _sort_value(finding: Finding, key: str) -> Any:
    if key == "severity":
        return finding.severity
    if key == "last_seen":
        return finding.last_seen_at.isoformat()
    if key == "first_seen":
        return finding.first_seen_at.isoformat()
    return finding.id


def _parse_sort_value(key: str, value: Any) -> Any:
    if key in ("last_seen", "first_seen"):
        if not isinstance(value, str):
            raise BadRequest("the cursor is not valid: pass next_cursor unchanged")
        try:
            when = dt.datetime.fromisoformat(value)
        except ValueError:
            raise BadRequest("the cursor is not valid: pass next_cursor unchanged") from None
        if when.tzinfo is None:
            raise BadRequest("the cursor is not valid: pass next_cursor unchanged")
        return when
    if key == "severity":
        if value not in SEVERITY_LABELS:
            raise BadRequest("the cursor is not valid: pass next_cursor unchanged")
        return value
    return _cursor_id(value)


def list_findings(
    session: Session,
    project_id: int,
    filters: FindingFilter,
    *,
    sort: str = "-severity",
    limit: int = 100,
    cursor: str | None = None,
) -> tuple[Sequence[Finding], str | None]:
    """One page of the project's findings (keyset pagination on (sort key, id))."""
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    column = SORTS[key]
    stmt = select(Finding).where(Finding.project_id == project_id, *filters.conditions())
    if cursor:
        parts = _decode_cursor(cursor)
        if len(parts) != 3 or parts[0] != sort:
            raise BadRequest("the cursor belongs to another sort order or is not valid")
        value = _parse_sort_value(key, parts[1])
        last_id = _cursor_id(parts[2])
        if key == "id":
            stmt = stmt.where(Finding.id < last_id if descending else Finding.id > last_id)
        elif descending:
            stmt = stmt.where(or_(column < value, and_(column == value, Finding.id < last_id)))
        else:
            stmt = stmt.where(or_(column > value, and_(column == value, Finding.id > last_id)))
    order: list[Any]
    if key == "id":
        order = [Finding.id.desc() if descending else Finding.id.asc()]
    elif descending:
        order = [column.desc(), Finding.id.desc()]
    else:
        order = [column.asc(), Finding.id.asc()]
    rows = session.execute(stmt.order_by(*order).limit(limit + 1)).scalars().all()
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = _encode_cursor([sort, _sort_value(last, key), last.id])
    return rows[:limit], next_cursor


def get_finding(session: Session, project_id: int, finding_id: int) -> Finding:
    finding = session.get(Finding, finding_id) if 0 < finding_id <= MAX_ID else None
    if finding is None or finding.project_id != project_id:
        raise NotFound(f"no finding {finding_id} in this project")
    return finding


def finding_history(session: Session, finding_id: int) -> Sequence[StatusChange]:
    return (
        session.execute(
            select(StatusChange)
            .where(StatusChange.finding_id == finding_id)
            .order_by(StatusChange.id)
        )
        .scalars()
        .all()
    )


def finding_comments(session: Session, finding_id: int) -> Sequence[Comment]:
    return (
        session.execute(
            select(Comment).where(Comment.finding_id == finding_id).order_by(Comment.id)
        )
        .scalars()
        .all()
    )


_TARGETS = {
    Status.ACCEPTED: "accept the risk of",
    Status.FALSE_POSITIVE: "mark as a false positive",
    Status.REOPENED: "reopen",
    Status.OPEN: "set back to open",
}


def change_status(
    session: Session,
    project: Project,
    finding_id: int,
    *,
    status: Status,
    actor: str,
    reason: str = "",
    expires: dt.date | None = None,
    now: dt.datetime | None = None,
) -> Finding:
    """Triage: accept a risk, mark a false positive, reopen, or set back to open.

    * ``accepted`` needs a reason; ``expires`` (optional) is the last day it holds and must
      be after today (UTC).  An accepted finding can be accepted again (new reason/expiry).
    * ``false_positive`` needs a reason.
    * ``reopened`` from fixed, accepted or false_positive; ``open`` from accepted or
      false_positive (undoing a triage decision).
    """
    now = now or utcnow()
    reason = reason.strip()
    today = now.astimezone(dt.UTC).date()
    if status in (Status.ACCEPTED, Status.FALSE_POSITIVE) and not reason:
        raise InvalidInput(f"a reason is required to {_TARGETS[status]} a finding")
    if expires is not None and status is not Status.ACCEPTED:
        raise InvalidInput("expires only applies to accepted risks")
    if expires is not None and expires <= today:
        raise InvalidInput(
            f"expires must be after today ({today.isoformat()}): it is the last day the "
            "acceptance holds"
        )
    begin_write(session)
    lock_project(session.connection(), project.id)
    finding = get_finding(session, project.id, finding_id)
    current = Status(finding.status)
    allowed_from = {
        Status.ACCEPTED: {Status.OPEN, Status.REOPENED, Status.ACCEPTED, Status.FALSE_POSITIVE},
        Status.FALSE_POSITIVE: {Status.OPEN, Status.REOPENED, Status.ACCEPTED, Status.FIXED},
        Status.REOPENED: {Status.FIXED, Status.ACCEPTED, Status.FALSE_POSITIVE},
        Status.OPEN: {Status.ACCEPTED, Status.FALSE_POSITIVE},
    }[status]
    if current not in allowed_from:
        session.rollback()
        raise Conflict(f"cannot {_TARGETS[status]} a finding that is {current.value}")
    finding.status = status.value
    finding.status_changed_at = now
    if status is Status.ACCEPTED:
        finding.accepted_reason = reason
        finding.accepted_by = actor
        finding.accepted_until = expires
    else:
        finding.accepted_reason = None
        finding.accepted_by = None
        finding.accepted_until = None
    if current is Status.FIXED:
        finding.fixed_at = None
    session.add(
        StatusChange(
            finding_id=finding.id,
            project_id=project.id,
            at=now,
            from_status=current.value,
            to_status=status.value,
            actor=actor,
            reason=reason
            + (f" (until {expires.isoformat()})" if expires is not None and reason else ""),
            scan_id=None,
        )
    )
    session.commit()
    return finding


def add_comment(
    session: Session, project: Project, finding_id: int, *, author: str, body: str
) -> Comment:
    if not body.strip():
        raise InvalidInput("the comment is empty")
    begin_write(session)
    finding = get_finding(session, project.id, finding_id)
    comment = Comment(finding_id=finding.id, at=utcnow(), author=author, body=body)
    session.add(comment)
    session.commit()
    return comment


def assign(session: Session, project: Project, finding_id: int, assignee: str | None) -> Finding:
    begin_write(session)
    finding = get_finding(session, project.id, finding_id)
    finding.assignee = assignee.strip() or None if assignee is not None else None
    session.commit()
    return finding
