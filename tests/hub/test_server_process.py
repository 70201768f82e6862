"""The hub as a real process: ``turbosec hub serve`` + ``turbosec push``, and SIGKILL in the
middle of a 50,000-finding upload (the database holds all of that scan or none of it)."""

from __future__ import annotations

import functools
import json
import os
import signal
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from tests.hub.conftest import populate
from tests.hub.reports import big_report, dumps, findings, gz, report
from tests.hub.server import clean_env as _env
from tests.hub.server import cli as _cli
from tests.hub.server import running_hub
from turbosec.hub import service
from turbosec.hub.db import make_engine
from turbosec.hub.ingest import IngestOptions, ingest, read_upload
from turbosec.hub.migrations import upgrade
from turbosec.hub.models import Finding, Project, Scan, StatusChange, TokenScope
from turbosec.hub.settings import HubSettings

BIG = 50_000


def test_serve_and_push_end_to_end(tmp_path: Path) -> None:
    db = str(tmp_path / "hub.db")
    made = _cli("hub", "token", "create", "--project", "shop", "--scope", "upload", "--db", db)
    assert made.returncode == 2 and "no project 'shop'" in made.stderr
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    with Session(engine, expire_on_commit=False) as session:
        project = service.create_project(session, "shop")
        _, token = service.create_project_token(
            session, project, name="ci", scope=TokenScope.UPLOAD, created_by="test"
        )
    engine.dispose()
    report_file = tmp_path / "turbosec.json"
    report_file.write_bytes(dumps(report(findings(range(30)))))

    with running_hub(db, tmp_path, "--security-log", str(tmp_path / "security.log")) as (base, _):
        env = _env(TURBOSEC_HUB_TOKEN=token)
        first = _cli("push", str(report_file), "--hub", base, "--project", "shop", env=env)
        assert first.returncode == 0, first.stderr
        assert "30 new, 0 unchanged, 0 fixed, 0 reopened" in first.stdout
        second = _cli(
            "push",
            str(report_file),
            "--hub",
            base,
            "--project",
            "shop",
            "--build-id",
            "7",
            env=env,
        )
        assert "0 new, 30 unchanged, 0 fixed, 0 reopened" in second.stdout
        # a refusal: exit 2 with the hub's own explanation
        bad = tmp_path / "bad.json"
        bad.write_text('{"schema": "turbosec.report/v1", "findings": "nope"}')
        refused = _cli("push", str(bad), "--hub", base, "--project", "shop", env=env)
        assert refused.returncode == 2
        assert "HTTP 400" in refused.stderr and "schema_violation" in refused.stderr
        # a failed login is logged as an OWASP event by the real server
        login = urllib.request.Request(
            f"{base}/api/v1/auth/login",
            data=json.dumps({"username": "mallory", "password": "guess guess guess"}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with pytest.raises(urllib.error.HTTPError) as refused_login:
            urllib.request.urlopen(login, timeout=10)
        assert refused_login.value.code == 401
    events = [json.loads(line) for line in (tmp_path / "security.log").read_text().splitlines()]
    assert any(e["event"] == "authn_login_fail:mallory" for e in events)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM finding").fetchone() == (30,)
        assert conn.execute("SELECT build_id FROM scan ORDER BY id").fetchall() == [
            (None,),
            ("7",),
        ]


@functools.cache
def _big_upload() -> bytes:
    return gz(big_report(BIG))


def _writing(db_url: str) -> bool:
    """Whether an ingest transaction is writing (the scan row is inserted, not committed)."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        conn = sqlite3.connect(url.database or "", timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True  # database is locked: the hub holds the write lock
        finally:
            conn.close()
    import psycopg

    options = url.query["options"]
    assert isinstance(options, str)
    schema = options.split("search_path=", 1)[1].split()[0]
    plain = url.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
    with psycopg.connect(plain) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = 'scan' AND l.mode = 'RowExclusiveLock'",
            (schema,),
        ).fetchone()
        return bool(row and row[0])


def test_sigkill_during_a_large_upload_leaves_all_or_nothing(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    settings = HubSettings(database_url=db_url)
    tokens, _ = populate(engine, settings)
    body = _big_upload()
    outcome: dict[str, Any] = {}

    with running_hub(db_url, tmp_path) as (base, proc):

        def upload() -> None:
            request = urllib.request.Request(
                f"{base}/api/v1/projects/alpha/scans",
                data=body,
                headers={
                    "Authorization": f"Bearer {tokens['upload']}",
                    "Content-Type": "application/gzip",
                },
                method="POST",
            )
            try:
                with urllib.request.urlopen(request, timeout=120) as answer:
                    outcome["status"] = answer.status
            except (urllib.error.URLError, OSError) as exc:
                outcome["error"] = exc

        sender = threading.Thread(target=upload, daemon=True)
        sender.start()
        deadline = time.monotonic() + 60
        while not _writing(db_url):
            assert time.monotonic() < deadline, "the ingest never started writing"
            assert sender.is_alive(), f"the upload ended before it was killed: {outcome}"
            time.sleep(0.02)
        time.sleep(0.1)  # inside the transaction (it takes seconds for 50k findings)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        sender.join(timeout=30)
    assert "error" in outcome, f"the upload finished before the kill: {outcome}"

    with Session(engine) as s:
        scans = s.execute(select(Scan)).scalars().all()
        found = s.execute(select(func.count(Finding.id))).scalar_one()
        changes = s.execute(select(func.count(StatusChange.id))).scalar_one()
    assert len(scans) in (0, 1)
    if scans:  # all of it
        assert (scans[0].new, found, changes) == (BIG, BIG, BIG)
    else:  # none of it
        assert (found, changes) == (0, 0)
    # and the database is healthy: the next upload goes through
    upload = read_upload(dumps(report(findings(range(3)))), settings)
    result = ingest(engine, populated_project(engine), upload, IngestOptions(uploaded_by="t"))
    assert result.new == 3
    if make_url(db_url).get_backend_name() == "sqlite":
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"


def populated_project(engine: Engine) -> int:
    with Session(engine) as s:
        return s.execute(select(Project.id).where(Project.slug == "alpha")).scalar_one()
