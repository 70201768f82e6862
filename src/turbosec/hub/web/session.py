"""Web sessions: the signed-in user of a page, the session cookie, and CSRF protection.

A web session *is* a user token.  Signing in calls :func:`turbosec.hub.auth.login` (argon2,
lockout and back-off, OWASP events all live there) and the token it hands out goes into the
``turbosec_session`` cookie.  Every request resolves the cookie with
:func:`turbosec.hub.auth.authenticate`, exactly as the API resolves a bearer token, so:

* the session ends when the token expires (the cookie's max-age is the token's lifetime),
  when it is revoked (signing out revokes it on the server, an admin can revoke it on the
  tokens page), or when the user is disabled;
* the role is read from the database on every request: a role change applies at once;
* only *user* tokens are sessions; a project token put into the cookie is refused.

Cookie: ``HttpOnly`` (no script can read the token), ``SameSite=Lax`` (not sent on
cross-site POSTs), ``Path=/``, ``Secure`` when the request itself came over https.  The
``X-Forwarded-Proto`` header is deliberately ignored: ``turbosec hub serve`` runs uvicorn
without proxy headers, and a header anyone can send must not decide a cookie flag.

CSRF: the token of a session is derived from its secret (first 32 hex characters of
HMAC-SHA256 keyed with the token value over ``turbosec-csrf``), so nothing is stored and
every hub process computes the same value.  Every POST sends it as the form field
``csrf_token`` or, from htmx, the ``X-CSRF-Token`` header (``base.html`` sets it).  The login
form, which has no session yet, uses a double-submit cookie instead
(``turbosec_login_csrf``: a random value in a short-lived ``SameSite=Strict`` cookie,
echoed in the form).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session

from turbosec.hub.api.deps import TOUCH_SECONDS, SessionDep, get_engine, request_info
from turbosec.hub.api.deps import touch as touch_token
from turbosec.hub.auth import Action, Principal, allowed, authenticate
from turbosec.hub.errors import Forbidden, Unauthorized
from turbosec.hub.events import log_event
from turbosec.hub.models import ApiToken, Role, utcnow

SESSION_COOKIE = "turbosec_session"
LOGIN_CSRF_COOKIE = "turbosec_login_csrf"
LOGIN_CSRF_SECONDS = 30 * 60  # the login form must be sent within half an hour
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FAILED = "the form has expired or was not sent by this hub; reload the page and try again"
_CSRF_MESSAGE = b"turbosec-csrf"
_MAX_NEXT = 2000


class LoginRequired(Exception):
    """No valid session: the page handler answers with a redirect to the login page.

    ``next_path`` is where to go after signing in (a same-site path), or None.
    """

    def __init__(self, next_path: str | None, *, stale_cookie: bool = False) -> None:
        super().__init__("sign-in required")
        self.next_path = next_path
        self.stale_cookie = stale_cookie  # a cookie was sent but is no longer a session


class CsrfError(Forbidden):
    """A POST without the right CSRF token (403, answered with the error page)."""

    code = "csrf_failed"

    def __init__(self) -> None:
        super().__init__(CSRF_FAILED)


def csrf_token_for(token_value: str) -> str:
    """The CSRF token of the session whose user token is ``token_value``."""
    digest = hmac.new(token_value.encode("utf-8"), _CSRF_MESSAGE, hashlib.sha256).hexdigest()
    return digest[:32]


def tokens_match(sent: str | None, expected: str) -> bool:
    if not sent or not expected:
        return False
    return hmac.compare_digest(sent.encode("utf-8"), expected.encode("utf-8"))


@dataclass(frozen=True)
class WebUser:
    """The signed-in user of one request."""

    user_id: int
    username: str
    role: Role
    principal: Principal  # kind "user", for auth.decide() / auth.allowed()
    csrf_token: str

    def can(self, action: Action, project_id: int | None) -> bool:
        return allowed(self.principal, action, project_id)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def is_https(request: Request) -> bool:
    """Whether this request itself came over TLS (never what a header claims)."""
    return request.url.scheme == "https"


def safe_next(value: str | None) -> str:
    """``value`` if it is a path on this site (``/...``, not ``//host``), else ``/``.

    Refuses anything a browser could read as another origin: a scheme, a host, a leading
    ``//`` or ``/\\``, backslashes and control characters anywhere.
    """
    if not value or len(value) > _MAX_NEXT:
        return "/"
    if not value.startswith("/") or value.startswith("//"):
        return "/"
    if "\\" in value or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    if parts.path.startswith(("/login", "/logout")):
        return "/"
    return value


def login_url(next_path: str | None) -> str:
    target = safe_next(next_path)
    return "/login" if target == "/" else f"/login?next={quote(target, safe='/')}"


def _request_path(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def resolve(request: Request, session: SessionDep) -> WebUser | None:
    """The session of ``request``, or None (no cookie, or not a valid user session)."""
    value = request.cookies.get(SESSION_COOKIE)
    if not value:
        return None
    info = request_info(request)
    try:
        principal = authenticate(session, value, info)
    except Unauthorized:
        return None
    finally:
        session.commit()  # end the read transaction (authenticate may have logged)
    if not principal.is_user or principal.user_id is None or principal.role is None:
        log_event(
            "authz_fail",
            f"token-{principal.token_id}",
            "web-session",
            level="WARN",
            description=f"{principal.actor} was sent as a web session cookie: refused "
            "(only user sessions can sign in to the pages)",
            request=info,
        )
        return None
    _record_use(request, session, principal.token_id)
    return WebUser(
        user_id=principal.user_id,
        username=principal.name,
        role=principal.role,
        principal=principal,
        csrf_token=csrf_token_for(value),
    )


def _record_use(request: Request, session: Session, token_id: int) -> None:
    """Keep the token's ``last_used_at`` current (at most once a minute), as the API does."""
    token = session.get(ApiToken, token_id)
    session.commit()
    if token is not None and (
        token.last_used_at is None
        or (utcnow() - token.last_used_at).total_seconds() > TOUCH_SECONDS
    ):
        touch_token(get_engine(request), token_id)


def current_user(request: Request, session: SessionDep) -> WebUser:
    """FastAPI dependency: the signed-in user, else :class:`LoginRequired`.

    The app's handler turns :class:`LoginRequired` into ``303 /login?next=<path>`` (GET),
    ``303 /login`` (other methods), or ``401`` with ``HX-Redirect: /login`` for htmx.
    """
    user = resolve(request, session)
    if user is None:
        next_path = _request_path(request) if request.method in ("GET", "HEAD") else None
        raise LoginRequired(next_path, stale_cookie=SESSION_COOKIE in request.cookies)
    return user


async def sent_csrf_token(request: Request) -> str | None:
    """The CSRF token a POST carries: the ``X-CSRF-Token`` header or the form field."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return None
    form = await request.form()  # cached: the endpoint's Form() fields read the same form
    value = form.get(CSRF_FIELD)
    return value if isinstance(value, str) else None


async def require_csrf(request: Request, user: WebUser = Depends(current_user)) -> WebUser:
    """FastAPI dependency for every POST: the signed-in user, with a valid CSRF token."""
    if not tokens_match(await sent_csrf_token(request), user.csrf_token):
        log_event(
            "authz_fail",
            user.username,
            "csrf",
            level="WARN",
            description=f"{user.principal.actor}: {request.method} {request.url.path} "
            "without a valid CSRF token",
            request=request_info(request),
        )
        raise CsrfError()
    return user


WebUserDep = Annotated[WebUser, Depends(current_user)]
CsrfUserDep = Annotated[WebUser, Depends(require_csrf)]


# -- cookies ------------------------------------------------------------------------------


def set_session_cookie(
    response: Response, request: Request, token_value: str, max_age: int
) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token_value,
        max_age=max(0, max_age),
        path="/",
        secure=is_https(request),
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=is_https(request), httponly=True, samesite="lax"
    )


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def set_login_csrf_cookie(response: Response, request: Request, value: str) -> None:
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        value,
        max_age=LOGIN_CSRF_SECONDS,
        path="/login",
        secure=is_https(request),
        httponly=True,
        samesite="strict",
    )


def clear_login_csrf_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        LOGIN_CSRF_COOKIE, path="/login", secure=is_https(request), httponly=True, samesite="strict"
    )
