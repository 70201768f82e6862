"""``turbosec hub``: run the findings hub and administer it (projects, users, tokens).

Every command takes ``--db`` (a SQLite file path or a ``postgresql+psycopg://`` URL;
default ``turbosec-hub.db`` in the working directory, or ``$TURBOSEC_HUB_DB``) and brings
the database's schema up to date first.
"""

from __future__ import annotations

import datetime as dt
import enum
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from turbosec.cli.state import AppState
from turbosec.core.errors import TurbosecError, UsageError

if TYPE_CHECKING:
    from turbosec.hub.errors import HubError
    from turbosec.hub.settings import HubSettings

# The hub's modules (SQLAlchemy, FastAPI…) are imported inside the commands: the rest of
# the CLI works without the hub extra installed, and starts faster.
ENV_DB = "TURBOSEC_HUB_DB"
ENV_MAX_UPLOAD_MB = "TURBOSEC_HUB_MAX_UPLOAD_MB"
ENV_MAX_FINDINGS = "TURBOSEC_HUB_MAX_FINDINGS"


class RoleName(enum.StrEnum):
    ADMIN = "admin"
    SECURITY = "security"
    DEVELOPER = "developer"


class ScopeName(enum.StrEnum):
    UPLOAD = "upload"
    READ = "read"


app = typer.Typer(
    help="The findings hub: serve its API, migrate its database, manage projects, users "
    "and tokens.",
    no_args_is_help=True,
)
project_app = typer.Typer(help="Create and list projects.", no_args_is_help=True)
user_app = typer.Typer(help="Add and list users.", no_args_is_help=True)
token_app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)
app.add_typer(project_app, name="project")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")

PASSWORD_ENV = "TURBOSEC_HUB_PASSWORD"  # noqa: S105 - the variable's name

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar=ENV_DB,
        help="SQLite file or postgresql+psycopg://user@host/db URL "
        "(default: turbosec-hub.db here).",
        show_default=False,
    ),
]


def _error(exc: HubError) -> TurbosecError:
    return UsageError(exc.detail)


def _url(db: str | None) -> str:
    try:
        from turbosec.hub.db import database_url
    except ImportError as exc:
        raise UsageError(
            f"the findings hub is not installed ({exc.name} is missing)",
            hint="pip install 'turbosec[hub]'",
        ) from None
    return database_url(db)


@contextmanager
def _database(db: str | None) -> Iterator[Any]:
    """A session on the migrated database; hub errors become CLI errors (exit 2)."""
    url = _url(db)
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session

    from turbosec.hub.db import make_engine
    from turbosec.hub.errors import HubError
    from turbosec.hub.migrations import upgrade

    engine = make_engine(url)
    try:
        try:
            upgrade(engine)
        except OperationalError as exc:
            raise TurbosecError(
                f"cannot open the hub database: {exc.orig}",
                where=_shown(url),
                hint="check --db (a SQLite file path, or a reachable PostgreSQL URL)",
            ) from None
        with Session(engine, expire_on_commit=False) as session:
            try:
                yield session
            except HubError as exc:
                raise _error(exc) from None
    finally:
        engine.dispose()


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _settings(url: str) -> HubSettings:
    from turbosec.hub.settings import HubSettings

    return HubSettings(database_url=url)


# -- serve and migrate ------------------------------------------------------------------


def _log_config(security_log: Path | None, level: str) -> dict[str, Any]:
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = {
        **LOGGING_CONFIG,
        "formatters": dict(LOGGING_CONFIG["formatters"]),
        "handlers": dict(LOGGING_CONFIG["handlers"]),
        "loggers": dict(LOGGING_CONFIG["loggers"]),
    }
    config["formatters"]["security"] = {"()": "turbosec.hub.events.JsonLineFormatter"}
    config["formatters"]["hub"] = {"format": "%(levelname)s %(name)s: %(message)s"}
    if security_log is None:
        config["handlers"]["security"] = {
            "class": "logging.StreamHandler",
            "formatter": "security",
            "stream": "ext://sys.stderr",
        }
    else:
        config["handlers"]["security"] = {
            "class": "logging.FileHandler",
            "formatter": "security",
            "filename": str(security_log),
            "encoding": "utf-8",
        }
    config["handlers"]["hub"] = {
        "class": "logging.StreamHandler",
        "formatter": "hub",
        "stream": "ext://sys.stderr",
    }
    config["loggers"]["turbosec.hub.security"] = {
        "handlers": ["security"],
        "level": "INFO",
        "propagate": False,
    }
    config["loggers"]["turbosec.hub"] = {
        "handlers": ["hub"],
        "level": level.upper(),
        "propagate": False,
    }
    return config


@app.command("serve")
def serve(
    ctx: typer.Context,
    db: DbOpt = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port.", min=1, max=65535)] = 8400,
    workers: Annotated[
        int, typer.Option("--workers", help="Worker processes (uvicorn).", min=1, max=64)
    ] = 1,
    max_upload_mb: Annotated[
        float | None,
        typer.Option(
            "--max-upload-mb", help="Largest upload, compressed or not (default 100).", min=1
        ),
    ] = None,
    max_findings: Annotated[
        int | None,
        typer.Option("--max-findings", help="Most findings per upload (default 200000).", min=1),
    ] = None,
    security_log: Annotated[
        Path | None,
        typer.Option(
            "--security-log",
            help="Append the security events (JSON lines) to this file instead of stderr.",
            dir_okay=False,
        ),
    ] = None,
    log_level: Annotated[
        str, typer.Option("--log-level", help="debug, info, warning or error.")
    ] = "info",
) -> int:
    """Run the hub's HTTP API (migrating the database first).

    Several processes, on one machine or many, may serve the same PostgreSQL database.
    """
    import uvicorn

    state: AppState = ctx.obj
    if log_level.lower() not in ("debug", "info", "warning", "error"):
        raise UsageError(f"unknown --log-level {log_level!r}", hint="debug, info, warning, error")
    url = _url(db)
    with _database(url):
        pass  # migrated
    from turbosec.hub.settings import HubSettings

    os.environ[ENV_DB] = url
    if max_upload_mb is not None:
        os.environ[ENV_MAX_UPLOAD_MB] = str(max_upload_mb)
    if max_findings is not None:
        os.environ[ENV_MAX_FINDINGS] = str(max_findings)
    HubSettings.from_env()  # fail here, not in every worker
    state.console(stderr=True).print(
        f"turbosec hub: http://{host}:{port}/api/v1 (database {_shown(url)})", markup=False
    )
    uvicorn.run(
        "turbosec.hub.api.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=_log_config(security_log, log_level),
        log_level=log_level.lower(),
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=30,
    )
    return 0


@app.command("demo")
def demo(
    ctx: typer.Context,
    db: Annotated[
        str, typer.Option("--db", help="SQLite file (or database URL) to seed and serve.")
    ] = "turbosec-demo.db",
    weeks: Annotated[
        int, typer.Option("--weeks", help="Simulated weeks of scans.", min=2, max=52)
    ] = 8,
    serve_it: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the hub once seeded.")
    ] = True,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port.", min=1, max=65535)] = 8000,
) -> int:
    """Seed a demo hub with the demo app's scans over simulated weeks, then serve it.

    Users admin, security and developer get passwords printed once.  An existing demo
    database is served as it is; a hub with data of its own is never touched.
    """
    from turbosec.cli.hub_demo import run_demo

    return run_demo(ctx, db=db, weeks=weeks, serve=serve_it, host=host, port=port)


@app.command("migrate")
def migrate(ctx: typer.Context, db: DbOpt = None) -> int:
    """Create or upgrade the hub's database schema (safe to run again, and concurrently)."""
    from turbosec.hub.migrations import current_revision, head_revision

    state: AppState = ctx.obj
    url = _url(db)
    with _database(url) as session:
        revision = current_revision(session.get_bind())
    assert revision == head_revision()
    state.console().print(
        f"{_shown(url)}: schema at revision {revision}", markup=False, soft_wrap=True
    )
    return 0


# -- projects ---------------------------------------------------------------------------


def _sla(values: list[str] | None) -> dict[str, Any] | None:
    if not values:
        return None
    out: dict[str, Any] = {}
    for item in values:
        key, sep, days = item.partition("=")
        if not sep:
            raise UsageError(f"--sla {item!r} is not SEVERITY=DAYS", hint="e.g. --sla critical=3")
        out[key.strip()] = None if days.strip().lower() in ("", "none") else _int(days, "--sla")
    return out


def _int(text: str, option: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"{option}: {text!r} is not a whole number") from None


@project_app.command("create")
def project_create(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(help="URL name: lowercase letters, digits, . _ -")],
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    default_branch: Annotated[
        str | None, typer.Option("--default-branch", help="e.g. main")
    ] = None,
    sla: Annotated[
        list[str] | None,
        typer.Option("--sla", help="SLA override SEVERITY=DAYS (or =none). Repeatable."),
    ] = None,
    db: DbOpt = None,
) -> int:
    """Create a project (a repository or service)."""
    from turbosec.hub import service

    state: AppState = ctx.obj
    with _database(db) as session:
        project = service.create_project(
            session, slug, name=name, default_branch=default_branch, sla_days=_sla(sla)
        )
    state.console().print(f"project {project.slug} created (id {project.id})", markup=False)
    return 0


@project_app.command("list")
def project_list(ctx: typer.Context, db: DbOpt = None) -> int:
    """List the projects."""
    from turbosec.hub import service

    state: AppState = ctx.obj
    with _database(db) as session:
        projects = service.list_projects(session)
    table = Table("slug", "name", "default branch", "SLA override", box=None)
    for p in projects:
        table.add_row(p.slug, p.name, p.default_branch or "", str(p.sla_days or ""))
    state.console().print(table)
    return 0


# -- users ------------------------------------------------------------------------------


def _password() -> str:
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env is not None:
        return from_env
    if not sys.stdin.isatty():
        raise UsageError(
            "no password: standard input is not a terminal",
            hint=f"set {PASSWORD_ENV} for non-interactive use",
        )
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="The user's login name.")],
    role: Annotated[
        RoleName,
        typer.Option("--role", help="admin, security or developer.", case_sensitive=False),
    ],
    db: DbOpt = None,
) -> int:
    """Add a user; the password is prompted for (twice) or read from $TURBOSEC_HUB_PASSWORD.

    Passwords need at least 12 characters; they are stored as argon2id hashes.
    """
    url = _url(db)
    from turbosec.hub import service
    from turbosec.hub.auth import Passwords
    from turbosec.hub.errors import HubError
    from turbosec.hub.events import log_event
    from turbosec.hub.models import Role

    state: AppState = ctx.obj
    passwords = Passwords(_settings(url))
    password = _password()
    try:
        passwords.check_policy(password)
    except HubError as exc:
        raise _error(exc) from None
    with _database(url) as session:
        user = service.create_user(session, passwords, username, password, Role(role.value))
    log_event(
        "user_created",
        "cli",
        user.username,
        user.role,
        description=f"user {user.username} created with role {user.role} (command line)",
    )
    state.console().print(f"user {user.username} added with role {user.role}", markup=False)
    return 0


@user_app.command("list")
def user_list(ctx: typer.Context, db: DbOpt = None) -> int:
    """List the users."""
    from turbosec.hub import service

    state: AppState = ctx.obj
    with _database(db) as session:
        users = service.list_users(session)
    table = Table("user", "role", "created", "last login", "state", box=None)
    for u in users:
        status = "disabled" if u.disabled else ("locked" if u.locked_until else "active")
        table.add_row(
            u.username,
            u.role,
            f"{u.created_at:%Y-%m-%d}",
            f"{u.last_login_at:%Y-%m-%d %H:%M}" if u.last_login_at else "",
            status,
        )
    state.console().print(table)
    return 0


# -- tokens -----------------------------------------------------------------------------


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    project: Annotated[
        str | None, typer.Option("--project", help="A project token for this project.")
    ] = None,
    scope: Annotated[
        ScopeName | None,
        typer.Option("--scope", help="upload or read (project tokens).", case_sensitive=False),
    ] = None,
    user: Annotated[
        str | None, typer.Option("--user", help="A user token acting as this user.")
    ] = None,
    expires_days: Annotated[
        float | None, typer.Option("--expires-days", help="Expire after N days.", min=0.001)
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="A name to recognise it.")] = None,
    db: DbOpt = None,
) -> int:
    """Create a token and print it (once) on standard output.

    Either --project with --scope, or --user.
    """
    state: AppState = ctx.obj
    if (project is None) == (user is None):
        raise UsageError("give either --project (with --scope) or --user")
    if project is not None and scope is None:
        raise UsageError("a project token needs --scope upload or --scope read")
    if user is not None and scope is not None:
        raise UsageError("--scope is for project tokens; a user token has the user's role")
    label = name or ("ci" if project else "cli")
    if not 1 <= len(label) <= 100:
        raise UsageError("--name must have 1 to 100 characters")
    url = _url(db)
    from turbosec.hub import service
    from turbosec.hub.events import log_event
    from turbosec.hub.models import TokenScope

    with _database(url) as session:
        if project is not None:
            assert scope is not None
            view, value = service.create_project_token(
                session,
                service.get_project(session, project),
                name=label,
                scope=TokenScope(scope.value),
                created_by="cli",
                expires_days=expires_days,
            )
            what = f"{scope.value} token for project {project}"
        else:
            assert user is not None
            view, value = service.create_user_token(
                session,
                service.get_user(session, user),
                name=label,
                created_by="cli",
                expires_days=expires_days,
            )
            what = f"user token for {user}"
    log_event(
        "authn_token_created",
        "cli",
        view.id,
        description=f"{what} {view.prefix}… (id {view.id}) created on the command line",
    )
    expiry = f", expires {view.expires_at:%Y-%m-%d %H:%M} UTC" if view.expires_at else ""
    state.console(stderr=True).print(
        f"{what} created (id {view.id}{expiry}); it is shown only now:", markup=False
    )
    typer.echo(value)
    return 0


@token_app.command("revoke")
def token_revoke(
    ctx: typer.Context,
    token_id: Annotated[int, typer.Argument(metavar="ID", help="The token's id (token list).")],
    db: DbOpt = None,
) -> int:
    """Revoke a token: it stops working at once."""
    from turbosec.hub import service
    from turbosec.hub.events import log_event

    state: AppState = ctx.obj
    with _database(db) as session:
        view = service.revoke_token(session, token_id)
    log_event(
        "authn_token_revoked",
        "cli",
        view.id,
        description=f"token {view.prefix}… (id {view.id}) revoked on the command line",
    )
    state.console().print(f"token {view.id} ({view.prefix}…) revoked", markup=False)
    return 0


@token_app.command("list")
def token_list(
    ctx: typer.Context,
    project: Annotated[str | None, typer.Option("--project", help="Only this project's.")] = None,
    db: DbOpt = None,
) -> int:
    """List tokens (never their values)."""
    from turbosec.hub import service

    state: AppState = ctx.obj
    with _database(db) as session:
        project_id = service.get_project(session, project).id if project else None
        views = service.list_tokens(session, project_id)
    now = dt.datetime.now(dt.UTC)
    table = Table("id", "prefix", "name", "for", "scope", "expires", "state", box=None)
    for v in views:
        owner = f"project {v.project}" if v.kind == "project" else f"user {v.username}"
        status = "active"
        if v.revoked_at:
            status = "revoked"
        elif v.expires_at and v.expires_at <= now:
            status = "expired"
        table.add_row(
            str(v.id),
            v.prefix + "…",
            v.name,
            owner,
            v.scope.value if v.scope else "(role)",
            f"{v.expires_at:%Y-%m-%d %H:%M}" if v.expires_at else "never",
            status,
        )
    state.console().print(table)
    return 0
