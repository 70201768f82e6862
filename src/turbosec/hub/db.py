"""Database engines and sessions for the hub: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from turbosec.core.errors import UsageError

DEFAULT_DB_FILE = "turbosec-hub.db"
SQLITE_BEGIN = "turbosec_sqlite_begin"  # execution option: "DEFERRED" or "IMMEDIATE"


def database_url(value: str | None) -> str:
    """A SQLAlchemy URL from ``--db``: a URL, or a path to a SQLite file."""
    if not value:
        value = DEFAULT_DB_FILE
    if "://" in value:
        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise UsageError(f"not a database URL: {value!r} ({exc})") from exc
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise UsageError(
                f"unsupported database {url.get_backend_name()!r}",
                hint="use a SQLite file path or postgresql+psycopg://user@host/db",
            )
        if url.get_backend_name() == "postgresql" and url.drivername != "postgresql+psycopg":
            url = url.set(drivername="postgresql+psycopg")
        return url.render_as_string(hide_password=False)
    return f"sqlite:///{Path(value).expanduser().absolute()}"


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode("utf-8")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling is off: _sqlite_begin emits BEGIN, so that a
    # writer can ask for BEGIN IMMEDIATE (see begin_write) and DDL is transactional.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
    finally:
        cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {'IMMEDIATE' if mode == 'IMMEDIATE' else 'DEFERRED'}")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` (from :func:`database_url`) with the hub's settings."""
    kwargs.setdefault("json_serializer", _json_dumps)
    kwargs.setdefault("json_deserializer", orjson.loads)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def is_sqlite(bind: Engine | Connection | Session) -> bool:
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    return engine.dialect.name == "sqlite"


def write_options() -> dict[str, Any]:
    """Execution options of a connection that is going to write (SQLite: BEGIN IMMEDIATE).

    A deferred SQLite transaction that has read and then wants to write fails at once
    (SQLITE_BUSY) when another connection committed in between; an immediate one takes
    the write lock first and waits for it (busy_timeout).
    """
    return {SQLITE_BEGIN: "IMMEDIATE"}


def begin_write(session: Session) -> None:
    """End the session's read transaction, if any, and start a write transaction."""
    if session.in_transaction():
        session.commit()
    session.connection(execution_options=write_options())


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
