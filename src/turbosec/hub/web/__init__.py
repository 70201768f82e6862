"""The hub's web pages: server-rendered Jinja2, enhanced by htmx, no front-end build step.

:func:`install` adds them to the API application (``create_app`` calls it last):

* ``/static/`` — the stylesheet, htmx (vendored from the ``htmx.org`` npm package, with its
  license), the favicon;
* the routers of :mod:`.pages_auth` (sign in/out), :mod:`.pages_overview` (overview,
  risk acceptances), :mod:`.pages_admin` (users, tokens) and :mod:`.pages_findings`
  (projects and findings), all left out of the OpenAPI document;
* error pages: the app's exception handlers are wrapped so that paths under ``/api/``
  keep their JSON error bodies exactly as before, and every other path gets an HTML page
  (``error.html``) with the same status; a missing session becomes a redirect to
  ``/login`` (:class:`~turbosec.hub.web.session.LoginRequired`);
* a small ASGI middleware for the non-API paths: the security headers on every answer
  (static files and redirects included), and a bound on form bodies.

Pages work without JavaScript; htmx only enhances (partial updates, confirmations).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from turbosec.hub.errors import HubError
from turbosec.hub.web import pages_admin, pages_auth, pages_findings, pages_overview
from turbosec.hub.web.render import (
    SECURITY_HEADERS,
    STATIC_DIR,
    apply_security_headers,
    is_htmx,
    render,
)
from turbosec.hub.web.session import (
    LoginRequired,
    WebUser,
    clear_session_cookie,
    login_url,
    resolve,
)

logger = logging.getLogger("turbosec.hub")

API_PREFIX = "/api/"
MAX_FORM_BYTES = 512 * 1024  # a form body (comments included) is far smaller

Handler = Callable[[Request, Exception], Awaitable[Response]]

_TITLES = {
    400: "Bad request",
    401: "Sign-in required",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Too large",
    422: "Invalid input",
    500: "Something went wrong",
    503: "Database unavailable",
}


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIX) or path == API_PREFIX.rstrip("/")


def install(app: FastAPI) -> None:
    """Add the web pages, their static files and HTML error pages to the hub ``app``."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    routers = (
        pages_auth.router,
        pages_overview.router,
        pages_admin.router,
        pages_findings.router,
        _extras,
    )
    for router in routers:
        app.include_router(router, include_in_schema=False)
    _install_error_pages(app)
    app.add_middleware(_WebMiddleware)


_extras = APIRouter()


@_extras.get("/favicon.ico")
def favicon() -> RedirectResponse:
    return RedirectResponse("/static/favicon.svg", status_code=301)


# -- error pages ------------------------------------------------------------------------


def _optional_user(request: Request) -> WebUser | None:
    """The signed-in user for an error page's header, if it can be found cheaply."""
    factory: sessionmaker[Session] | None = getattr(request.app.state, "sessions", None)
    if factory is None:
        return None
    try:
        with factory() as session:
            return resolve(request, session)
    except Exception:  # an error page must render whatever the database does
        return None


def error_page(
    request: Request,
    status: int,
    message: str,
    *,
    problems: list[str] | None = None,
    reference: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The HTML error page (for htmx: the ``#main`` content, retargeted there)."""
    user = _optional_user(request) if status < 500 else None
    extra = dict(headers or {})
    fragment = is_htmx(request)
    if fragment:
        extra.update({"HX-Retarget": "#main", "HX-Reswap": "innerHTML"})
    return render(
        request,
        "error.html",
        {
            "status": status,
            "title": _TITLES.get(status, "Error"),
            "message": message,
            "problems": problems or [],
            "reference": reference,
        },
        user=user,
        status=status,
        fragment=fragment,
        headers=extra,
    )


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    response: Response
    if is_htmx(request):
        response = Response(status_code=401, headers={"HX-Redirect": login_url(None)})
    else:
        response = RedirectResponse(login_url(exc.next_path), status_code=303)
    apply_security_headers(response)
    if exc.stale_cookie:
        clear_session_cookie(response, request)
    return response


async def _web_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HubError):
        return error_page(request, exc.status, exc.detail, problems=exc.problems)
    if isinstance(exc, StarletteHTTPException):
        if exc.status_code == 404:
            message = "there is no page at this address"
        elif exc.status_code == 405:
            message = f"this page does not accept {request.method} requests"
        else:
            message = (
                exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "error")
            )
        return error_page(request, exc.status_code, message)
    if isinstance(exc, RequestValidationError):
        problems = []
        for error in exc.errors()[:10]:
            where = ".".join(str(p) for p in error.get("loc", ())[1:]) or "request"
            problems.append(f"{where}: {error.get('msg', 'invalid')}")
        return error_page(request, 422, "some of the values sent are not valid", problems=problems)
    if isinstance(exc, OperationalError):
        logger.error("database error: %s", exc)
        return error_page(request, 503, "the hub's database is unavailable; try again later")
    reference = uuid.uuid4().hex[:12]
    logger.error(
        "internal error %s on %s %s", reference, request.method, request.url.path, exc_info=exc
    )
    return error_page(
        request,
        500,
        f"internal error (reference {reference}); the hub logged it",
        reference=reference,
    )


def _install_error_pages(app: FastAPI) -> None:
    """HTML error pages for the web paths; the API's JSON handlers stay as they were."""

    def wrap(api: Handler | None) -> Handler:
        async def handler(request: Request, exc: Exception) -> Response:
            if api is not None and is_api_path(request.url.path):
                return await api(request, exc)
            return await _web_error(request, exc)

        return handler

    for exc_class in (
        HubError,
        StarletteHTTPException,
        RequestValidationError,
        OperationalError,
        Exception,
    ):
        api_handler: Any = app.exception_handlers.get(exc_class)
        app.add_exception_handler(exc_class, wrap(api_handler))
    app.add_exception_handler(LoginRequired, _login_required)


# -- middleware -------------------------------------------------------------------------


class _WebMiddleware:
    """For the non-API paths: security headers on every answer, bounded form bodies.

    A POST must declare its length (browsers always do for forms) and stay under
    :data:`MAX_FORM_BYTES`; otherwise it is answered 411/413 before anything reads it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_api_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            problem = self._body_problem(scope)
            if problem is not None:
                await self._refuse(problem, send)
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)

    @staticmethod
    def _body_problem(scope: Scope) -> tuple[int, str] | None:
        length = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    return 400, "the Content-Length header is not a number"
        if length is None:
            has_body = any(name == b"transfer-encoding" for name, _ in scope.get("headers", ()))
            return (411, "send the form with a Content-Length") if has_body else None
        if length > MAX_FORM_BYTES:
            return 413, f"the form is larger than {MAX_FORM_BYTES // 1024} KiB"
        return None

    @staticmethod
    async def _refuse(problem: tuple[int, str], send: Send) -> None:
        status, text = problem
        body = f"<!doctype html><title>{status}</title><p>{text}</p>".encode()
        headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            *((k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
