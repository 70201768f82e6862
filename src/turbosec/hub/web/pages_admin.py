"""Administration pages (admins only): users and roles, project tokens.

* ``GET/POST /admin/users`` — list users, add one (with a password, or a generated one
  that is shown once on the answer page); ``POST /admin/users/{username}/role``.
* ``GET/POST /admin/tokens`` — list tokens (never their values), create a project token
  (its value is shown once, on the answer page: it is never stored, flashed or
  redirected); ``POST /admin/tokens/{id}/revoke``.

The work is :mod:`turbosec.hub.service`'s; the security events are those the API logs for
the same actions (``user_created``, ``authz_change``, ``authn_token_created``,
``authn_token_revoked``).  Other users get the 403 page, logged as ``authz_fail`` by
:func:`turbosec.hub.auth.deny`.  Every POST is CSRF-checked before anything else.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from turbosec.hub import service
from turbosec.hub.api.deps import SessionDep, get_passwords, request_info
from turbosec.hub.auth import Action, Passwords, deny
from turbosec.hub.db import begin_write
from turbosec.hub.errors import Conflict, HubError, NotFound
from turbosec.hub.events import log_event
from turbosec.hub.models import Role, TokenScope, User, utcnow
from turbosec.hub.service import MAX_ID32, USERNAME_PATTERN, InvalidInput
from turbosec.hub.web.render import flash, is_htmx, redirect_after_post, render
from turbosec.hub.web.session import WebUser, current_user, require_csrf

router = APIRouter()

ROLE_HELP = {
    Role.ADMIN: "everything, including users and tokens",
    Role.SECURITY: "read, comment and triage (accept risks, false positives)",
    Role.DEVELOPER: "read and comment",
}
SCOPE_HELP = {
    TokenScope.UPLOAD: "upload scans, read (CI)",
    TokenScope.READ: "read only (the gate, reports)",
}
GENERATED_PASSWORD_BYTES = 18  # 24 URL-safe characters
_MAX_TOKEN_NAME = 100


def _check_admin(request: Request, user: WebUser) -> WebUser:
    if not user.can(Action.ADMIN, None):
        deny(
            user.principal,
            request.url.path,
            request_info(request),
            detail="only admins can manage users and tokens; ask an admin of this hub",
        )
    return user


def admin_page(request: Request, user: WebUser = Depends(current_user)) -> WebUser:
    """An admin viewing a page (403 page otherwise)."""
    return _check_admin(request, user)


def admin_post(request: Request, user: WebUser = Depends(require_csrf)) -> WebUser:
    """An admin sending a form with a valid CSRF token."""
    return _check_admin(request, user)


AdminDep = Annotated[WebUser, Depends(admin_page)]
AdminPostDep = Annotated[WebUser, Depends(admin_post)]


# -- users --------------------------------------------------------------------------------


def set_role(session: Session, username: str, role: Role) -> tuple[User, Role]:
    """Give ``username`` the role ``role``; returns the user and the previous role.

    Refuses (409) to take the admin role from the last enabled admin: the hub would have
    no one left to manage it.  (Belongs in :mod:`turbosec.hub.service`, next to
    ``create_user``; kept here until it moves.)
    """
    begin_write(session)
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        session.rollback()
        raise NotFound(f"no user {username!r}")
    previous = Role(user.role)
    if previous is Role.ADMIN and role is not Role.ADMIN:
        admins = session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == Role.ADMIN.value, User.disabled.is_(False))
        )
        if (admins or 0) <= 1:
            session.rollback()
            raise Conflict(
                f"{username} is the hub's last admin: make another user admin first",
                code="last_admin",
            )
    user.role = Role(role).value
    session.commit()
    return user, previous


def _users_page(
    request: Request,
    admin: WebUser,
    session: Session,
    *,
    status: int = 200,
    error: str | None = None,
    form: dict[str, str] | None = None,
    created: User | None = None,
    generated_password: str | None = None,
) -> HTMLResponse:
    context: dict[str, Any] = {
        "users": service.list_users(session),
        "roles": list(Role),
        "role_help": ROLE_HELP,
        "role_options": [(r.value, f"{r.value} — {ROLE_HELP[r]}") for r in Role],
        "error": error,
        "form": form or {"username": "", "role": Role.DEVELOPER.value},
        "created": created,
        "generated_password": generated_password,
        "min_password_length": request.app.state.settings.min_password_length,
        "username_pattern": USERNAME_PATTERN,
    }
    return render(request, "admin_users.html", context, user=admin, status=status)


@router.get("/admin/users", response_class=HTMLResponse)
def users(request: Request, admin: AdminDep, session: SessionDep) -> HTMLResponse:
    return _users_page(request, admin, session)


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise InvalidInput(f"unknown role {value[:50]!r}: choose one of {names}") from None


@router.post("/admin/users", response_class=HTMLResponse)
def create_user(
    request: Request,
    admin: AdminPostDep,
    session: SessionDep,
    passwords: Annotated[Passwords, Depends(get_passwords)],
    username: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=50)] = "",
    password: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    """Add a user; with no password given, one is generated and shown once."""
    username = username.strip()
    form = {"username": username, "role": role}
    generated = None
    if not password:
        generated = password = secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)
    try:
        user = service.create_user(session, passwords, username, password, _role(role))
    except HubError as exc:
        return _users_page(request, admin, session, status=exc.status, error=exc.detail, form=form)
    log_event(
        "user_created",
        admin.username,
        user.username,
        user.role,
        description=f"{admin.principal.actor} created user {user.username} with role "
        f"{user.role} (web)",
        request=request_info(request),
    )
    if generated is None:
        response = redirect_after_post("/admin/users")
        flash(response, f"User {user.username} added with the role {user.role}.", request=request)
        return response
    return _users_page(request, admin, session, created=user, generated_password=generated)


@router.post("/admin/users/{username}/role")
def change_role(
    request: Request,
    admin: AdminPostDep,
    session: SessionDep,
    username: Annotated[str, Path(max_length=100)],
    role: Annotated[str, Form(max_length=50)] = "",
) -> Response:
    try:
        user, previous = set_role(session, username, _role(role))
    except HubError as exc:
        return _users_page(request, admin, session, status=exc.status, error=exc.detail)
    if previous.value != user.role:
        log_event(
            "authz_change",
            user.username,
            previous.value,
            user.role,
            description=f"{admin.principal.actor} changed the role of {user.username} from "
            f"{previous.value} to {user.role} (web)",
            request=request_info(request),
        )
    response = redirect_after_post("/admin/users")
    flash(response, f"{user.username} now has the role {user.role}.", request=request)
    return response


# -- tokens -------------------------------------------------------------------------------


def _split_tokens(
    tokens: Sequence[service.TokenView],
) -> tuple[list[service.TokenView], list[service.TokenView]]:
    """Project tokens (all), and the user tokens still valid (sessions, API tokens)."""
    now = utcnow()
    project = [t for t in tokens if t.kind == "project"]
    user = [
        t
        for t in tokens
        if t.kind == "user"
        and t.revoked_at is None
        and (t.expires_at is None or t.expires_at > now)
    ]
    return project, user


def _tokens_page(
    request: Request,
    admin: WebUser,
    session: Session,
    *,
    status: int = 200,
    error: str | None = None,
    form: dict[str, str] | None = None,
    created: service.TokenView | None = None,
    created_value: str | None = None,
) -> HTMLResponse:
    project_tokens, user_tokens = _split_tokens(service.list_tokens(session))
    projects = service.list_projects(session)
    context: dict[str, Any] = {
        "project_tokens": project_tokens,
        "user_tokens": user_tokens,
        "projects": projects,
        "project_options": [("", "Choose a project")] + [(p.slug, p.name) for p in projects],
        "scope_options": [(s.value, f"{s.value} — {SCOPE_HELP[s]}") for s in TokenScope],
        "error": error,
        "form": form
        or {"project": "", "name": "", "scope": TokenScope.UPLOAD.value, "expires_days": ""},
        "created": created,
        "created_value": created_value,
        "current_token_id": admin.principal.token_id,
    }
    return render(request, "admin_tokens.html", context, user=admin, status=status)


@router.get("/admin/tokens", response_class=HTMLResponse)
def tokens(request: Request, admin: AdminDep, session: SessionDep) -> HTMLResponse:
    return _tokens_page(request, admin, session)


def _expires_days(value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    try:
        days = int(value)
    except ValueError:
        raise InvalidInput(
            f"expires in days must be a whole number from 1 to 3650, not {value[:20]!r}"
        ) from None
    if not 1 <= days <= 3650:
        raise InvalidInput("expires in days must be a whole number from 1 to 3650")
    return days


def _token_name(value: str) -> str:
    name = value.strip()
    if not name or len(name) > _MAX_TOKEN_NAME or any(ord(ch) < 0x20 for ch in name):
        raise InvalidInput(
            f"the token's name must be 1-{_MAX_TOKEN_NAME} characters without control "
            "characters, e.g. 'ci' or 'github-actions'"
        )
    return name


def _scope(value: str) -> TokenScope:
    try:
        return TokenScope(value)
    except ValueError:
        raise InvalidInput("the scope must be upload or read") from None


@router.post("/admin/tokens", response_class=HTMLResponse)
def create_token(
    request: Request,
    admin: AdminPostDep,
    session: SessionDep,
    project: Annotated[str, Form(max_length=200)] = "",
    name: Annotated[str, Form(max_length=500)] = "",
    scope: Annotated[str, Form(max_length=50)] = "",
    expires_days: Annotated[str, Form(max_length=50)] = "",
) -> HTMLResponse:
    """Create a project token; the answer page shows its value, this once."""
    form = {"project": project, "name": name, "scope": scope, "expires_days": expires_days}
    try:
        if not project:
            raise InvalidInput("choose the project the token is for")
        target = service.get_project(session, project)
        view, value = service.create_project_token(
            session,
            target,
            name=_token_name(name),
            scope=_scope(scope),
            created_by=admin.principal.actor,
            expires_days=_expires_days(expires_days),
        )
    except HubError as exc:
        status = 422 if isinstance(exc, NotFound) else exc.status
        return _tokens_page(request, admin, session, status=status, error=exc.detail, form=form)
    log_event(
        "authn_token_created",
        admin.username,
        view.id,
        description=f"{admin.principal.actor} created {scope} token {view.prefix}… "
        f"(id {view.id}) for project {target.slug} (web)",
        request=request_info(request),
    )
    return _tokens_page(request, admin, session, created=view, created_value=value)


@router.post("/admin/tokens/{token_id}/revoke")
def revoke_token(
    request: Request,
    admin: AdminPostDep,
    session: SessionDep,
    token_id: Annotated[int, Path(ge=1, le=MAX_ID32)],
) -> Response:
    view = service.revoke_token(session, token_id)
    log_event(
        "authn_token_revoked",
        admin.username,
        view.id,
        description=f"{admin.principal.actor} revoked token {view.prefix}… (id {view.id}) (web)",
        request=request_info(request),
    )
    if is_htmx(request):
        return render(
            request,
            "_token_row.html",
            {"t": view, "current_token_id": admin.principal.token_id},
            user=admin,
        )
    response = redirect_after_post("/admin/tokens")
    flash(response, f"Token {view.name} ({view.prefix}…) revoked.", request=request)
    return response
