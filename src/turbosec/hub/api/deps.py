"""FastAPI dependencies: settings, the database session, the caller, and project access.

Routers declare what they need::

    def endpoint(project: Annotated[Project, Depends(project_reader)],
                 session: Annotated[Session, Depends(get_session)]) -> ...

* :func:`get_session` — one SQLAlchemy session per request (closed afterwards).
* :func:`get_principal` — the authenticated caller, or 401 with ``WWW-Authenticate``.
* ``project_reader`` / ``project_uploader`` / ``project_commenter`` / ``project_triager``
  / ``project_admin`` — the ``{project}`` path parameter resolved to a
  :class:`~turbosec.hub.models.Project` the caller may read / upload to / comment in /
  triage / administer; 404 when it does not exist *or* belongs to another project's token,
  403 when the caller may see it but not do this.
* :func:`any_user_reader` — any user (hub-wide reads); project tokens get 403.
* :func:`admin_user` — admins only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from turbosec.hub.api.schemas import ErrorBody
from turbosec.hub.auth import (
    Action,
    Decision,
    Passwords,
    Principal,
    authenticate,
    bearer_value,
    decide,
    deny,
)
from turbosec.hub.db import is_sqlite
from turbosec.hub.errors import NotFound, Unauthorized
from turbosec.hub.events import RequestInfo
from turbosec.hub.models import ApiToken, Project, utcnow
from turbosec.hub.service import SLUG_PATTERN
from turbosec.hub.settings import HubSettings

TOUCH_SECONDS = 60  # a token's last_used_at is updated at most this often


def get_settings(request: Request) -> HubSettings:
    settings: HubSettings = request.app.state.settings
    return settings


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_passwords(request: Request) -> Passwords:
    passwords: Passwords = request.app.state.passwords
    return passwords


def get_session(request: Request) -> Iterator[Session]:
    factory: sessionmaker[Session] = request.app.state.sessions
    session = factory()
    try:
        yield session
    finally:
        session.close()


def request_info(request: Request) -> RequestInfo:
    query = request.url.query
    return RequestInfo(
        source_ip=request.client.host if request.client else None,
        useragent=request.headers.get("user-agent"),
        request_uri=request.url.path + (f"?{query}" if query else ""),
        request_method=request.method,
    )


SettingsDep = Annotated[HubSettings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
InfoDep = Annotated[RequestInfo, Depends(request_info)]


def touch(engine: Engine, token_id: int) -> None:
    """Record a token's use, best effort: never waits long for a busy database."""
    now = utcnow()
    stale = now - dt.timedelta(seconds=TOUCH_SECONDS)
    try:
        with engine.connect() as conn:
            if is_sqlite(conn):
                conn.exec_driver_sql("PRAGMA busy_timeout=50")
                # the PRAGMA began SQLAlchemy's implicit transaction: end it, or begin() fails
                conn.commit()
            try:
                with conn.begin():
                    conn.execute(
                        update(ApiToken)
                        .where(ApiToken.id == token_id)
                        .where(ApiToken.last_used_at.is_(None) | (ApiToken.last_used_at < stale))
                        .values(last_used_at=now)
                    )
            finally:
                if is_sqlite(conn):
                    conn.exec_driver_sql("PRAGMA busy_timeout=30000")
                    conn.commit()
    except SQLAlchemyError:
        pass  # a busy database: the next request records it


def get_principal(request: Request, session: SessionDep, info: InfoDep) -> Principal:
    """The caller; 401 without a valid bearer token."""
    value = bearer_value(request.headers.get("authorization"))
    if value is None:
        raise Unauthorized("authentication required: send 'Authorization: Bearer <token>'")
    principal = authenticate(session, value, info)
    token = session.get(ApiToken, principal.token_id)
    session.commit()  # end the read transaction before the (separate) write
    if token is not None and (
        token.last_used_at is None
        or (utcnow() - token.last_used_at).total_seconds() > TOUCH_SECONDS
    ):
        touch(get_engine(request), principal.token_id)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]

ProjectSlug = Annotated[
    str,
    Path(description="the project's slug", pattern=SLUG_PATTERN, max_length=100),
]

_WHAT = {
    Action.READ: "read this project",
    Action.UPLOAD: "upload scans (an upload token of the project or an admin is needed)",
    Action.COMMENT: "comment (a user is needed)",
    Action.TRIAGE: "change findings (the security or admin role is needed)",
    Action.ADMIN: "administer the hub (the admin role is needed)",
}


def _project_access(action: Action) -> Callable[..., Project]:
    def dependency(
        project: ProjectSlug, principal: PrincipalDep, session: SessionDep, info: InfoDep
    ) -> Project:
        row = session.execute(select(Project).where(Project.slug == project)).scalar_one_or_none()
        missing = f"no project {project!r}"
        if row is None:
            raise NotFound(missing)
        decision = decide(principal, action, row.id)
        if decision is Decision.HIDE:
            deny(principal, f"project/{project}", info, not_found=missing)
        if decision is Decision.DENY:
            deny(
                principal,
                f"project/{project}/{action.value}",
                info,
                detail=f"{principal.actor} may not {_WHAT[action]}",
            )
        return row

    dependency.__name__ = f"project_{action.value}"
    return dependency


project_reader = _project_access(Action.READ)
project_uploader = _project_access(Action.UPLOAD)
project_commenter = _project_access(Action.COMMENT)
project_triager = _project_access(Action.TRIAGE)
project_admin = _project_access(Action.ADMIN)


def any_user_reader(principal: PrincipalDep, info: InfoDep) -> Principal:
    """Any user (hub-wide data); project tokens are limited to their project."""
    if not principal.is_user:
        deny(
            principal,
            info.request_uri or "hub",
            info,
            detail="a project token may only read its own project",
        )
    return principal


def admin_user(principal: PrincipalDep, info: InfoDep) -> Principal:
    if decide(principal, Action.ADMIN, None) is not Decision.ALLOW:
        deny(principal, info.request_uri or "admin", info, detail=_denied_admin(principal))
    return principal


def _denied_admin(principal: Principal) -> str:
    return f"{principal.actor} may not {_WHAT[Action.ADMIN]}"


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries (all with the ErrorBody schema) for ``statuses``."""
    descriptions = {
        400: "the request or the uploaded report is invalid",
        401: "no valid bearer token (see WWW-Authenticate)",
        403: "authenticated, but not allowed to do this",
        404: "no such project or resource (or not visible to this token)",
        409: "conflicts with the current state",
        413: "the upload is too large, or holds too many findings",
        415: "unsupported Content-Type or Content-Encoding",
        422: "a parameter or the JSON body does not validate",
        500: "internal error (logged by the hub)",
        503: "the database is unavailable",
    }
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": ErrorBody, "description": descriptions[status]}
        if status == 401:
            entry["headers"] = {
                "WWW-Authenticate": {
                    "description": "the Bearer challenge",
                    "schema": {"type": "string"},
                }
            }
        out[status] = entry
    return out


# The answers any endpoint may give (authentication, validation, server trouble).
COMMON = (401, 422, 500, 503)
