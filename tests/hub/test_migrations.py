"""The Alembic migrations build exactly the models' schema, idempotently, without races."""

from __future__ import annotations

import subprocess
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from tests.hub.server import TURBOSEC, clean_env
from turbosec.hub.db import make_engine
from turbosec.hub.migrations import current_revision, head_revision, upgrade
from turbosec.hub.models import Base


def _differences(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def test_upgrade_builds_exactly_the_models(engine: Engine) -> None:
    """``engine`` was made by the migrations: autogenerate finds nothing to change."""
    assert _differences(engine) == []
    assert current_revision(engine) == head_revision() == "0002_alerts"
    assert set(inspect(engine).get_table_names()) == {
        *Base.metadata.tables,
        "alembic_version",
    }


def test_upgrade_is_idempotent(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO project (slug, name, created_at) VALUES ('p', 'P', :t)"),
            {"t": "2026-01-01 00:00:00"},
        )
    upgrade(engine)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert _differences(engine) == []
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM project")).scalar_one() == 1
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1


def test_concurrent_processes_migrate_once(db_url: str, tmp_path: Path) -> None:
    """Three ``turbosec hub migrate`` processes started at once on an empty database."""
    procs = [
        subprocess.Popen(
            [TURBOSEC, "hub", "migrate", "--db", db_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=clean_env(),
        )
        for _ in range(3)
    ]
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else b"") for p in procs]
    for p in procs:
        for stream in (p.stdout, p.stderr):
            if stream is not None:
                stream.close()
    assert [code for code, _ in results] == [0, 0, 0], results
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) == head_revision()
        assert _differences(engine) == []
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    finally:
        engine.dispose()
