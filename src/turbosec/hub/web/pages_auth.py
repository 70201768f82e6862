"""Signing in and out: ``GET/POST /login``, ``POST /logout``.

The password check, the lockout after repeated failures and the OWASP events
(``authn_login_fail``, ``authn_login_lock``, ``authn_login_success``…) are
:func:`turbosec.hub.auth.login`'s: this module only adds the form, the login CSRF
(double-submit cookie) and the session cookie (see :mod:`turbosec.hub.web.session`).
Every failure answers the same ``401`` page with :data:`turbosec.hub.auth.LOGIN_FAILED`,
whether the user exists, the password is wrong or the account is locked.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from turbosec.hub import service
from turbosec.hub.api.deps import SessionDep, SettingsDep, get_passwords, request_info
from turbosec.hub.auth import LOGIN_FAILED, Passwords, login
from turbosec.hub.errors import Unauthorized
from turbosec.hub.events import log_event
from turbosec.hub.models import utcnow
from turbosec.hub.web.render import apply_security_headers, flash, redirect_after_post, render
from turbosec.hub.web.session import (
    CSRF_FAILED,
    LOGIN_CSRF_COOKIE,
    CsrfUserDep,
    clear_login_csrf_cookie,
    clear_session_cookie,
    new_login_csrf,
    resolve,
    safe_next,
    set_login_csrf_cookie,
    set_session_cookie,
    tokens_match,
)

router = APIRouter()
_MAX_USERNAME = 100
_MAX_PASSWORD = 1024


def _login_page(
    request: Request,
    *,
    next_path: str,
    username: str = "",
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    value = request.cookies.get(LOGIN_CSRF_COOKIE) or new_login_csrf()
    response = render(
        request,
        "login.html",
        {"next": next_path, "username": username, "error": error, "login_csrf": value},
        user=None,
        status=status,
    )
    set_login_csrf_cookie(response, request, value)  # (re)starts its lifetime
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, session: SessionDep, next: str | None = None) -> Response:
    """The sign-in form; an already signed-in user goes straight on to ``next``."""
    target = safe_next(next)
    if resolve(request, session) is not None:
        return redirect_after_post(target)
    return _login_page(request, next_path=target)


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    passwords: Annotated[Passwords, Depends(get_passwords)],
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    target = safe_next(next)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not tokens_match(csrf_token, expected):
        # the form again (with a fresh token), answered 403 as every CSRF failure is
        return _login_page(request, next_path=target, error=CSRF_FAILED, status=403)
    username = username.strip()
    if not username or not password:
        return _login_page(
            request,
            next_path=target,
            username=username[:_MAX_USERNAME],
            error="enter your user name and password",
            status=422,
        )
    if len(username) > _MAX_USERNAME or len(password) > _MAX_PASSWORD:
        # no such user can exist; still counted as a failed login, at the same cost
        username, password = username[:_MAX_USERNAME], password[:_MAX_PASSWORD]
    try:
        _user, token, value = login(
            session, passwords, settings, username, password, request_info(request)
        )
    except Unauthorized:
        return _login_page(
            request, next_path=target, username=username, error=LOGIN_FAILED, status=401
        )
    assert token.expires_at is not None  # login tokens always expire
    response = RedirectResponse(target, status_code=303)
    apply_security_headers(response)
    lifetime = int((token.expires_at - utcnow()).total_seconds())
    set_session_cookie(response, request, value, lifetime)
    clear_login_csrf_cookie(response, request)
    return response


@router.post("/logout")
def logout(request: Request, user: CsrfUserDep, session: SessionDep) -> Response:
    """Revoke the session's token on the server and forget the cookie."""
    service.revoke_token(session, user.principal.token_id)
    log_event(
        "session_expired",
        user.username,
        "logout",
        description=f"user {user.username} signed out (token id {user.principal.token_id} revoked)",
        request=request_info(request),
    )
    response = redirect_after_post("/login")
    clear_session_cookie(response, request)
    flash(response, "You have signed out.", request=request)
    return response
