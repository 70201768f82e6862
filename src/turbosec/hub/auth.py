"""Who is calling, and what they may do.

* **Passwords**: argon2id (argon2-cffi), verified in constant time; an unknown user name
  costs the same as a wrong password (a dummy hash is verified), so timing does not tell
  which user names exist.  Consecutive failures lock the account: ``max_failed_logins``
  failures lock it for ``lock_minutes``, each further round of failures doubles the lock.
* **Tokens**: ``tsh_`` + 43 URL-safe characters (256 random bits).  The hub stores only
  their SHA-256 and the first characters (to recognise a token in a listing); the value
  is shown once.  A *project token* acts within one project with its scope (``read``, or
  ``upload`` = read + upload scans); a *user token* acts with its user's current role.
* **Rules** (:func:`allowed`):

  ===========  ======  ======  =======  ======  =====
  principal    read    upload  comment  triage  admin
  ===========  ======  ======  =======  ======  =====
  read token   own     -       -        -       -
  upload tok.  own     own     -        -       -
  developer    all     -       all      -       -
  security     all     -       all      all     -
  admin        all     all     all      all     all
  ===========  ======  ======  =======  ======  =====

  A project token asking for any other project gets the same 404 as a project that does
  not exist: it cannot even learn which projects exist.  Every denial is logged as
  ``authz_fail``.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import secrets
from dataclasses import dataclass
from typing import NoReturn

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from turbosec.hub.db import begin_write
from turbosec.hub.errors import BadRequest, Forbidden, NotFound, Unauthorized
from turbosec.hub.events import RequestInfo, log_event
from turbosec.hub.models import ApiToken, Role, TokenScope, User, utcnow
from turbosec.hub.settings import HubSettings

TOKEN_PREFIX = "tsh_"  # noqa: S105 - the prefix every hub token starts with
_TOKEN_BYTES = 32
_DISPLAY_CHARS = len(TOKEN_PREFIX) + 8
_MAX_TOKEN_CHARS = 200
LOGIN_FAILED = "invalid user name or password, or the account is locked after repeated failures"


class Action(enum.StrEnum):
    READ = "read"  # GET endpoints of a project
    UPLOAD = "upload"  # POST scans
    COMMENT = "comment"  # comments on findings
    TRIAGE = "triage"  # status changes, assignment
    ADMIN = "admin"  # projects, users, tokens


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of one request."""

    kind: str  # "user" | "project"
    name: str  # the user name, or the project token's name
    token_id: int
    role: Role | None = None  # users
    user_id: int | None = None
    project_id: int | None = None  # project tokens
    scope: TokenScope | None = None

    @property
    def actor(self) -> str:
        """How the audit trail names the caller: ``user:alice`` or ``token:ci``."""
        return f"user:{self.name}" if self.kind == "user" else f"token:{self.name}"

    @property
    def is_user(self) -> bool:
        return self.kind == "user"


class Decision(enum.Enum):
    ALLOW = "allow"
    DENY = "deny"  # 403
    HIDE = "hide"  # 404: the caller may not know the project exists


def decide(principal: Principal, action: Action, project_id: int | None) -> Decision:
    """What ``principal`` may do; ``project_id`` None means hub-wide (users, tokens…)."""
    if principal.kind == "project":
        if project_id is None:
            return Decision.DENY
        if project_id != principal.project_id:
            return Decision.HIDE
        if action is Action.READ:
            return Decision.ALLOW
        if action is Action.UPLOAD and principal.scope is TokenScope.UPLOAD:
            return Decision.ALLOW
        return Decision.DENY
    role = principal.role
    if role is Role.ADMIN:
        return Decision.ALLOW
    if action in (Action.READ, Action.COMMENT):
        return Decision.ALLOW
    if action is Action.TRIAGE and role is Role.SECURITY:
        return Decision.ALLOW
    return Decision.DENY


def allowed(principal: Principal, action: Action, project_id: int | None) -> bool:
    return decide(principal, action, project_id) is Decision.ALLOW


# -- passwords ------------------------------------------------------------------------


class Passwords:
    """argon2id hashing with the settings' cost, and a dummy hash for unknown users."""

    def __init__(self, settings: HubSettings) -> None:
        self.hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        self.min_length = settings.min_password_length
        self._dummy = self.hasher.hash(secrets.token_urlsafe(16))

    def check_policy(self, password: str) -> None:
        if len(password) < self.min_length:
            raise BadRequest(
                f"the password is too short: at least {self.min_length} characters are needed",
                code="weak_password",
            )
        if len(password) > 1024:
            raise BadRequest("the password is longer than 1024 characters", code="weak_password")

    def hash(self, password: str) -> str:
        self.check_policy(password)
        return self.hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """Constant-time check; ``stored`` None (no such user) verifies a dummy hash."""
        try:
            self.hasher.verify(stored or self._dummy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return stored is not None

    def needs_rehash(self, stored: str) -> bool:
        try:
            return self.hasher.check_needs_rehash(stored)
        except (InvalidHashError, ValueError):
            return True


# -- tokens -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewToken:
    value: str  # shown once, never stored
    prefix: str
    sha256: str


def token_digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def generate_token() -> NewToken:
    value = TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)
    return NewToken(value=value, prefix=value[:_DISPLAY_CHARS], sha256=token_digest(value))


def bearer_value(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (None when absent)."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    return value.strip()


def authenticate(
    session: Session, value: str, request: RequestInfo | None = None, now: dt.datetime | None = None
) -> Principal:
    """The principal of a bearer token value; :class:`Unauthorized` when it is not valid."""
    now = now or utcnow()
    if len(value) > _MAX_TOKEN_CHARS or not value.startswith(TOKEN_PREFIX):
        raise Unauthorized("the bearer token is not a turbosec hub token", invalid_token=True)
    row = session.execute(
        select(ApiToken, User)
        .outerjoin(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == token_digest(value))
    ).first()
    if row is None:
        raise Unauthorized("unknown bearer token", invalid_token=True)
    token, user = row
    owner = user.username if user is not None else token.name
    if token.revoked_at is not None:
        log_event(
            "authn_token_reuse",
            owner,
            token.id,
            level="WARN",
            description=f"revoked token {token.prefix}… (id {token.id}) was used",
            request=request,
        )
        raise Unauthorized("the bearer token has been revoked", invalid_token=True)
    if token.expires_at is not None and token.expires_at <= now:
        log_event(
            "session_use_after_expire",
            owner,
            level="WARN",
            description=f"expired token {token.prefix}… (id {token.id}) was used",
            request=request,
        )
        raise Unauthorized("the bearer token has expired", invalid_token=True)
    if token.user_id is not None:
        if user is None or user.disabled:
            raise Unauthorized("the token's user is disabled", invalid_token=True)
        return Principal(
            kind="user",
            name=user.username,
            token_id=token.id,
            role=Role(user.role),
            user_id=user.id,
        )
    if token.project_id is None or token.scope is None:
        raise Unauthorized("the token belongs to no project and no user", invalid_token=True)
    return Principal(
        kind="project",
        name=token.name,
        token_id=token.id,
        project_id=token.project_id,
        scope=TokenScope(token.scope),
    )


def issue_token(
    session: Session,
    *,
    name: str,
    created_by: str,
    project_id: int | None = None,
    scope: TokenScope | None = None,
    user_id: int | None = None,
    expires_at: dt.datetime | None = None,
) -> tuple[ApiToken, str]:
    """Store a new token (flushed, not committed); returns the row and the value."""
    if (project_id is None) == (user_id is None):
        raise ValueError("a token belongs to exactly one project or one user")
    if project_id is not None and scope is None:
        raise ValueError("a project token needs a scope")
    new = generate_token()
    row = ApiToken(
        name=name,
        prefix=new.prefix,
        token_hash=new.sha256,
        project_id=project_id,
        user_id=user_id,
        scope=scope.value if scope is not None else None,
        created_by=created_by,
        created_at=utcnow(),
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row, new.value


# -- login --------------------------------------------------------------------------------


def lock_duration(failures: int, settings: HubSettings) -> dt.timedelta | None:
    """How long ``failures`` consecutive failures lock an account (None: not locked)."""
    per_round = settings.max_failed_logins
    if failures < per_round or failures % per_round:
        return None
    rounds = failures // per_round
    minutes = min(settings.lock_minutes * 2 ** (rounds - 1), settings.max_lock_minutes)
    return dt.timedelta(minutes=minutes)


def login(
    session: Session,
    passwords: Passwords,
    settings: HubSettings,
    username: str,
    password: str,
    request: RequestInfo | None = None,
    now: dt.datetime | None = None,
) -> tuple[User, ApiToken, str]:
    """Check a password and hand out a user token (committed); :class:`Unauthorized` if not.

    Failed attempts are counted and committed even though the request fails.
    """
    now = now or utcnow()
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    session.commit()  # no transaction (and no SQLite lock) while argon2 works
    if user is None or user.disabled:
        passwords.verify(None, password)  # the same cost as a real check
        log_event(
            "authn_login_fail",
            username,
            level="WARN",
            description="login failed: unknown or disabled user",
            request=request,
        )
        raise Unauthorized(LOGIN_FAILED)
    if user.locked_until is not None and user.locked_until > now:
        passwords.verify(None, password)
        log_event(
            "authn_login_fail",
            username,
            level="WARN",
            description=f"login refused: account locked until {user.locked_until.isoformat()}",
            request=request,
        )
        raise Unauthorized(LOGIN_FAILED)
    if not passwords.verify(user.password_hash, password):
        begin_write(session)
        failures = session.execute(
            update(User)
            .where(User.id == user.id)
            .values(failed_logins=User.failed_logins + 1)
            .returning(User.failed_logins)
        ).scalar_one()
        log_event(
            "authn_login_fail",
            username,
            level="WARN",
            description=f"login failed: wrong password ({failures} consecutive failures)",
            request=request,
        )
        lock = lock_duration(failures, settings)
        if lock is not None:
            session.execute(update(User).where(User.id == user.id).values(locked_until=now + lock))
            log_event(
                "authn_login_lock",
                username,
                level="WARN",
                description=f"account locked for {lock.total_seconds() / 60:g} minutes "
                f"after {failures} consecutive failed logins",
                request=request,
            )
        session.commit()
        raise Unauthorized(LOGIN_FAILED)

    previous_failures = user.failed_logins
    values: dict[str, object] = {"failed_logins": 0, "locked_until": None, "last_login_at": now}
    if passwords.needs_rehash(user.password_hash):
        values["password_hash"] = passwords.hasher.hash(password)
    begin_write(session)
    session.execute(update(User).where(User.id == user.id).values(**values))
    token, value = issue_token(
        session,
        name="login",
        created_by=f"user:{user.username}",
        user_id=user.id,
        expires_at=now + dt.timedelta(hours=settings.user_token_hours),
    )
    session.commit()
    if previous_failures:
        log_event(
            "authn_login_successafterfail",
            username,
            previous_failures,
            description=f"user {username} logged in after {previous_failures} failed attempts",
            request=request,
        )
    else:
        log_event(
            "authn_login_success",
            username,
            description=f"user {username} logged in",
            request=request,
        )
    return user, token, value


def deny(
    principal: Principal,
    resource: str,
    request: RequestInfo | None,
    *,
    detail: str | None = None,
    not_found: str | None = None,
) -> NoReturn:
    """Log ``authz_fail`` and raise 403, or 404 with ``not_found`` (a hidden project)."""
    log_event(
        "authz_fail",
        principal.name if principal.is_user else f"token-{principal.token_id}",
        resource,
        level="WARN",
        description=f"{principal.actor} may not access {resource}",
        request=request,
    )
    if not_found is not None:
        raise NotFound(not_found)
    raise Forbidden(detail or f"{principal.actor} may not do this")
