"""Hub tests run the same suite against SQLite and the machine's real PostgreSQL.

Each PostgreSQL test gets its own schema in database ``test`` (dropped afterwards), so
tests are isolated and may run in any order.  Databases are created by the hub's Alembic
migrations, as ``turbosec hub serve`` does.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from turbosec.hub import service
from turbosec.hub.api.app import create_app
from turbosec.hub.auth import Passwords
from turbosec.hub.db import make_engine
from turbosec.hub.migrations import upgrade
from turbosec.hub.models import Project, Role, TokenScope
from turbosec.hub.settings import HubSettings

PG_URL = os.environ.get("TURBOSEC_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_engine(schema: str) -> Engine:
    return make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})


@contextmanager
def empty_database(kind: str, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database (no tables): a SQLite file, or a fresh PostgreSQL
    schema dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL of an empty database (no tables), one per test."""
    with empty_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a database with the hub's tables (made by the migrations)."""
    eng = make_engine(db_url)
    upgrade(eng)
    try:
        yield eng
    finally:
        eng.dispose()


def cheap_settings(db_url: str, **changes: Any) -> HubSettings:
    """Hub settings for tests: argon2 at its cheapest (hashing is not under test here)."""
    base = HubSettings(
        database_url=db_url, argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1
    )
    return base.with_changes(**changes) if changes else base


@pytest.fixture
def settings(db_url: str) -> HubSettings:
    return cheap_settings(db_url)


@dataclass
class Hub:
    """A hub on a test database with two projects and a caller of every kind.

    ``tokens`` maps a principal name to its bearer token: ``read`` and ``upload`` are
    project tokens of ``alpha``; ``other`` is an upload token of ``beta``; ``developer``,
    ``security`` and ``admin`` are user tokens.
    """

    client: TestClient
    engine: Engine
    settings: HubSettings
    tokens: dict[str, str] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)

    def headers(self, who: str | None) -> dict[str, str]:
        return {} if who is None else {"Authorization": f"Bearer {self.tokens[who]}"}

    def upload(
        self,
        body: bytes,
        *,
        who: str = "upload",
        project: str = "alpha",
        headers: dict[str, str] | None = None,
        **params: Any,
    ) -> Any:
        return self.client.post(
            f"/api/v1/projects/{project}/scans",
            content=body,
            params={k: v for k, v in params.items() if v is not None},
            headers={"Content-Type": "application/json", **self.headers(who), **(headers or {})},
        )

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def project_id(self, slug: str = "alpha") -> int:
        with self.session() as s:
            return service.get_project(s, slug).id


def populate(engine: Engine, settings: HubSettings) -> tuple[dict[str, str], dict[str, str]]:
    """Projects alpha and beta, a user per role, a token per kind of caller."""
    tokens: dict[str, str] = {}
    passwords: dict[str, str] = {}
    pw = Passwords(settings)
    with Session(engine, expire_on_commit=False) as session:
        alpha: Project = service.create_project(
            session, "alpha", name="Alpha", default_branch="main"
        )
        beta = service.create_project(session, "beta", name="Beta")
        for name, project, scope in (
            ("read", alpha, TokenScope.READ),
            ("upload", alpha, TokenScope.UPLOAD),
            ("other", beta, TokenScope.UPLOAD),
        ):
            _view, tokens[name] = service.create_project_token(
                session, project, name=f"{name}-token", scope=scope, created_by="test"
            )
        for role in (Role.DEVELOPER, Role.SECURITY, Role.ADMIN):
            passwords[role.value] = f"pw-{uuid.uuid4().hex}"
            user = service.create_user(session, pw, role.value, passwords[role.value], role)
            _view, tokens[role.value] = service.create_user_token(
                session, user, name="test", created_by="test"
            )
    return tokens, passwords


@pytest.fixture
def hub(engine: Engine, settings: HubSettings) -> Iterator[Hub]:
    app = create_app(settings, engine=engine)
    tokens, passwords = populate(engine, settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Hub(
            client=client, engine=engine, settings=settings, tokens=tokens, passwords=passwords
        )
