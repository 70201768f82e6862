"""The hub's FastAPI application: :func:`create_app` wires settings, database and routers.

Every error answer is JSON ``{"error": "<code>", "detail": "<text>"}``: the handlers
below translate the hub's own errors, FastAPI's and Starlette's HTTP errors, request
validation errors (422) and — logged, never expected — anything else (500).  A database
that cannot be reached answers 503.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from turbosec import __version__
from turbosec.hub.api import admin, alerts, findings, projects, scans
from turbosec.hub.api.deps import COMMON, SessionDep, error_responses
from turbosec.hub.api.schemas import HealthOut
from turbosec.hub.auth import Passwords
from turbosec.hub.db import make_engine, session_factory
from turbosec.hub.errors import HubError, code_for
from turbosec.hub.settings import HubSettings

API_PREFIX = "/api/v1"
logger = logging.getLogger("turbosec.hub")


def _body(code: str, detail: str, problems: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": code, "detail": detail}
    if problems:
        body["problems"] = problems
    return body


async def _hub_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HubError)
    return JSONResponse(
        _body(exc.code, exc.detail, exc.problems), status_code=exc.status, headers=exc.headers
    )


def _allowed_methods(request: Request) -> str | None:
    """The documented methods of the request's path (Starlette names only one route's)."""
    table: list[tuple[re.Pattern[str], str]] | None = getattr(request.app.state, "allow", None)
    if table is None:
        table = []
        for path, operations in request.app.openapi().get("paths", {}).items():
            pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path))
            methods = ", ".join(sorted(m.upper() for m in operations))
            table.append((re.compile(f"^{pattern}$"), methods))
        request.app.state.allow = table
    path = request.url.path
    return next((methods for pattern, methods in table if pattern.match(path)), None)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        allow = _allowed_methods(request)
        if allow:
            headers["Allow"] = allow
    return JSONResponse(
        _body(code_for(exc.status_code), detail), status_code=exc.status_code, headers=headers
    )


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("query", "path", "header", "body", "cookie"):
        where, rest = parts[0], parts[1:]
        return f"{where} {'.'.join(rest)}" if rest else where
    return ".".join(parts) or "request"


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors()[:20]:
        problems.append(f"{_location(error.get('loc', ()))}: {error.get('msg', 'invalid')}")
    detail = "; ".join(problems[:3]) or "the request is not valid"
    if len(problems) > 3:
        detail += f" (and {len(problems) - 3} more)"
    return JSONResponse(_body("invalid_request", detail, problems), status_code=422)


async def _database_down(_request: Request, exc: Exception) -> JSONResponse:
    logger.error("database error: %s", exc)
    return JSONResponse(
        _body("unavailable", "the hub's database is unavailable; try again later"),
        status_code=503,
    )


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    reference = uuid.uuid4().hex[:12]
    logger.error(
        "internal error %s on %s %s", reference, request.method, request.url.path, exc_info=exc
    )
    return JSONResponse(
        _body("internal_error", f"internal error (reference {reference}); the hub logged it"),
        status_code=500,
    )


def create_app(settings: HubSettings, *, engine: Engine | None = None) -> FastAPI:
    """The hub application.  The database must be migrated (``turbosec hub migrate``).

    ``engine``: use this engine (tests); otherwise one is made from the settings and
    disposed of at shutdown.
    """
    owned = engine is None
    db = engine if engine is not None else make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if owned:
                db.dispose()

    app = FastAPI(
        title="turbosec hub",
        version=__version__,
        summary="Every finding from every repository and build, tracked from first seen to fixed.",
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = db
    app.state.sessions = session_factory(db)
    app.state.passwords = Passwords(settings)
    app.state.upload_slots = anyio.Semaphore(settings.max_concurrent_uploads)

    app.add_exception_handler(HubError, _hub_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(OperationalError, _database_down)
    app.add_exception_handler(Exception, _internal_error)

    for router in (projects.router, scans.router, findings.router, alerts.router, admin.router):
        app.include_router(router, prefix=API_PREFIX)

    # SLA, MTTR, weekly trends and the gate (turbosec.hub.api.metrics): its routes carry
    # their full /api/v1/... paths.
    from turbosec.hub.api import metrics

    app.include_router(metrics.router, responses=error_responses(*COMMON, 404))

    @app.get(
        f"{API_PREFIX}/health",
        response_model=HealthOut,
        responses=error_responses(500, 503),
        tags=["health"],
        openapi_extra={"security": []},
        summary="Liveness and database check (no authentication)",
    )
    def health(session: SessionDep) -> HealthOut:
        session.execute(text("SELECT 1"))
        return HealthOut(status="ok", database="ok", version=__version__)

    _install_openapi(app)
    from turbosec.hub import web  # the HTML pages; last: they wrap the error handlers

    web.install(app)
    return app


def _install_openapi(app: FastAPI) -> None:
    """The generated OpenAPI document plus the upload body's component schemas."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                routes=app.routes,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(scans.upload_components())
            schemes = schema["components"].setdefault("securitySchemes", {})
            schemes["bearer"] = {
                "type": "http",
                "scheme": "bearer",
                "description": "a project token or a user token (tsh_…)",
            }
            schema["security"] = [{"bearer": []}]
            # A body that is not JSON at all (FastAPI: "error parsing the body") is a 400.
            bad_body = error_responses(400)[400]
            for operations in schema["paths"].values():
                for operation in operations.values():
                    if "requestBody" in operation and "400" not in operation["responses"]:
                        operation["responses"]["400"] = {
                            "description": bad_body["description"],
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/ErrorBody"}
                                }
                            },
                        }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (what ``turbosec hub serve`` runs in each worker)."""
    return create_app(HubSettings.from_env())
