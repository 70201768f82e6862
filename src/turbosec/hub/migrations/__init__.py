"""The hub's Alembic migrations, shipped inside the package and run programmatically.

``turbosec hub migrate`` and ``turbosec hub serve`` call :func:`upgrade`; no
``alembic.ini`` is needed.  Hub processes starting together on one PostgreSQL database
take a PostgreSQL advisory lock around the upgrade, so exactly one of them migrates and
the others find the schema up to date; on SQLite the upgrade runs in one
``BEGIN IMMEDIATE`` transaction, which serialises them the same way.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from turbosec.hub.db import write_options

SCRIPT_LOCATION = "turbosec.hub:migrations"
# pg_advisory_lock key: "turbosec" hub migrations (any constant agreed by every process).
ADVISORY_LOCK_KEY = 0x7475726273656301


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """An Alembic configuration for the hub's migrations (no ini file)."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (idempotent; safe for concurrent processes)."""
    postgres = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        if postgres:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
            conn.commit()
        try:
            conn.execution_options(**write_options())
            command.upgrade(alembic_config(conn), revision)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            if postgres:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
                conn.commit()
