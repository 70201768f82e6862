"""Fixtures for the web pages: a migrated hub database, the app behind a TestClient, a
user of every role (real argon2 hashes, generated passwords) and signing in through the
real login form, as a browser does.

``db_url`` is SQLite unless a test asks for PostgreSQL too with
``@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)``: the page
logic is the same on both, the metrics underneath are tested on both in tests/hub.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.hub.conftest import cheap_settings, empty_database
from turbosec.hub import service
from turbosec.hub.api.app import create_app
from turbosec.hub.auth import Passwords
from turbosec.hub.models import Role
from turbosec.hub.settings import HubSettings

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]*)"')


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: SQLite, or PostgreSQL (a fresh schema) when parametrised so."""
    with empty_database(getattr(request, "param", "sqlite"), tmp_path) as url:
        yield url


def csrf_from(page: str) -> str:
    """The CSRF token of the first form of ``page``."""
    match = CSRF_INPUT.search(page)
    assert match, "no csrf_token field in the page"
    return html.unescape(match.group(1))


@dataclass
class Web:
    """A hub application with a user of each role (``users``: role name → password)."""

    app: FastAPI
    engine: Engine
    settings: HubSettings
    users: dict[str, str] = field(default_factory=dict)

    def client(self, *, https: bool = False) -> TestClient:
        base = "https://testserver" if https else "http://testserver"
        return TestClient(
            self.app, base_url=base, raise_server_exceptions=False, follow_redirects=False
        )

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def login(
        self,
        client: TestClient,
        username: str,
        password: str | None = None,
        *,
        next: str | None = None,
    ) -> httpx.Response:
        """Sign in through the form (GET /login, then POST it back with its CSRF token)."""
        page = client.get("/login", params={"next": next} if next else None)
        assert page.status_code == 200, page.text
        form: dict[str, Any] = {
            "username": username,
            "password": self.users[username] if password is None else password,
            "csrf_token": csrf_from(page.text),
            "next": next or "/",
        }
        return client.post("/login", data=form)

    def signed_in(self, username: str, *, https: bool = False) -> TestClient:
        client = self.client(https=https)
        response = self.login(client, username)
        assert response.status_code == 303, response.text
        return client

    def csrf(self, client: TestClient, path: str = "/") -> str:
        """The CSRF token of ``client``'s session, read from a page as a browser would."""
        page = client.get(path)
        assert page.status_code == 200, page.text
        return csrf_from(page.text)


def add_users(engine: Engine, settings: HubSettings) -> dict[str, str]:
    """One user per role, named after it, with a generated password."""
    passwords = Passwords(settings)
    users: dict[str, str] = {}
    with Session(engine, expire_on_commit=False) as session:
        for role in Role:
            users[role.value] = f"pw-{secrets.token_urlsafe(12)}"
            service.create_user(session, passwords, role.value, users[role.value], role)
    return users


@pytest.fixture
def web_settings(db_url: str) -> HubSettings:
    return cheap_settings(db_url)


@pytest.fixture
def web(engine: Engine, web_settings: HubSettings) -> Web:
    app = create_app(web_settings, engine=engine)
    users = add_users(engine, web_settings)
    return Web(app=app, engine=engine, settings=web_settings, users=users)


class _Table(HTMLParser):
    """Rows of the table with a given id: each a dict of the row's ``data-*`` attributes
    and its cells' text (keyed by the cell's ``data-col``, else by position)."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id = table_id
        self.depth = 0  # nesting inside the wanted table
        self.rows: list[dict[str, str]] = []
        self._row: dict[str, str] | None = None
        self._cell: str | None = None
        self._text: list[str] = []
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "table":
            if self.depth or values.get("id") == self.table_id:
                self.depth += 1
            return
        if not self.depth:
            return
        if tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self._row = {k: v for k, v in values.items() if k.startswith("data-")}
            self._row["_cells"] = "0"
        elif tag in ("td", "th") and self._row is not None:
            index = int(self._row["_cells"])
            self._row["_cells"] = str(index + 1)
            self._cell = values.get("data-col") or str(index)
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if not self.depth:
            return
        if tag == "table":
            self.depth -= 1
        elif tag == "tbody":
            self._in_body = False
        elif tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row[self._cell] = " ".join("".join(self._text).split())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            del self._row["_cells"]
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._text.append(data)


def table_rows(page: str, table_id: str) -> list[dict[str, str]]:
    """The body rows of ``<table id=table_id>`` in ``page`` (see :class:`_Table`)."""
    assert f'id="{table_id}"' in page, f"no table {table_id!r} in the page"
    parser = _Table(table_id)
    parser.feed(page)
    return parser.rows
