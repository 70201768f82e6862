"""``turbosec hub demo``: a hub seeded with the demo app's real findings over simulated weeks."""

from __future__ import annotations

import datetime as dt
import html
import os
import re
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import jsonschema
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import DEMO_APP
from turbosec.cli.hub_demo import DemoError, demo_report, hub_state, seed_demo
from turbosec.cli.main import run
from turbosec.core.report import report_schema
from turbosec.core.severity import Severity
from turbosec.hub import metrics, service
from turbosec.hub.auth import Passwords, login
from turbosec.hub.db import make_engine
from turbosec.hub.migrations import upgrade
from turbosec.hub.models import Comment, Finding, Role, Scan, StatusChange
from turbosec.hub.settings import HubSettings

TURBOSEC = str(Path(sys.executable).parent / "turbosec")
NOW = dt.datetime(2026, 11, 20, 15, 30, tzinfo=dt.UTC)


def _cheap(url: str) -> HubSettings:
    return HubSettings(
        database_url=url, argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1
    )


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TURBOSEC_HUB_DB", "TURBOSEC_HUB_PASSWORD", "TURBOSEC_HUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def test_the_demo_report_is_a_real_scan_of_the_demo_app() -> None:
    report = demo_report()
    jsonschema.Draft202012Validator(report_schema()).validate(report)
    assert len(report["findings"]) >= 40
    tools = {f["tool"] for f in report["findings"]}
    assert {"semgrep", "bandit", "detect-secrets", "checkov", "zizmor", "deps"} <= tools
    for finding in report["findings"]:
        location = finding["location"]
        path = DEMO_APP / location["path"]
        assert path.is_file(), location["path"]
        snippet = location.get("snippet")
        if snippet and finding["category"] != "secret" and "*" not in snippet:
            line = path.read_text().splitlines()[location["start_line"] - 1]
            first = snippet.splitlines()[0]
            assert first.strip() == line.strip(), (finding["rule_id"], snippet, line)
        assert "raw" not in finding
    assert all(t["command"] == [] for t in report["tools"])


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, object]:
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    hub = seed_demo(url, weeks=8, now=NOW, settings=_cheap(url))
    return url, hub


def test_seeding_tells_a_lifecycle_story(seeded: tuple[str, object]) -> None:
    url, _hub = seeded
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            projects = {p.slug: p for p in service.list_projects(session)}
            assert set(projects) == {"demo-app", "demo-infra"}
            demo = projects["demo-app"]
            scans = session.execute(select(Scan).order_by(Scan.created_at)).scalars().all()
            assert len(scans) >= 30
            assert scans[0].created_at < NOW - dt.timedelta(weeks=7)
            assert scans[-1].created_at < NOW
            assert all(s.uploaded_by == "token:ci" and s.branch == "main" for s in scans)
            statuses = Counter(
                session.execute(
                    select(Finding.status).where(Finding.project_id == demo.id)
                ).scalars()
            )
            assert set(statuses) == {"open", "fixed", "reopened", "accepted", "false_positive"}
            # every finding is one of the real report's
            fingerprints = {f["fingerprint"] for f in demo_report()["findings"]}
            stored = set(session.execute(select(Finding.fingerprint)).scalars())
            assert stored <= fingerprints
            changes = session.execute(select(StatusChange)).scalars().all()
            actors = Counter(c.actor.split(":")[0] for c in changes)
            assert actors["scan"] > 40 and actors["user"] >= 8
            # an acceptance that ran out during the period was reopened by the next upload
            assert any(c.actor == "system" and c.to_status == "reopened" for c in changes)
            # a fixed finding came back
            assert any(c.from_status == "fixed" and c.to_status == "reopened" for c in changes)
            comments = session.execute(select(Comment)).scalars().all()
            assert len(comments) >= 4
            assert all(c.at < NOW - dt.timedelta(days=1) for c in comments)
            assigned = session.execute(
                select(Finding.assignee).where(Finding.assignee.is_not(None))
            ).scalars()
            assert set(assigned) <= {"admin", "security", "developer"}

            # the dashboard's numbers are alive
            trend = metrics.weekly_trend(session, demo.id, weeks=10, now=NOW)
            assert sum(w.new for w in trend.weeks) > 40
            assert sum(w.fixed for w in trend.weeks) >= 8
            assert sum(1 for w in trend.weeks if w.new or w.fixed) >= 4
            mttr = metrics.mttr(session, demo.id, now=NOW)
            assert mttr.by_severity[Severity.HIGH].count >= 3
            breaches = metrics.sla_breach_counts(session, demo.id, now=NOW)
            assert breaches[Severity.CRITICAL] >= 1
            expiring = metrics.acceptances(session, None, expiring_within_days=14, now=NOW)
            assert len(expiring.expiring) >= 1
            assert metrics.gate(session, demo.id, now=NOW).passed is False
    finally:
        engine.dispose()


def test_the_printed_passwords_sign_in(seeded: tuple[str, object]) -> None:
    url, hub = seeded
    engine = make_engine(url)
    settings = _cheap(url)
    try:
        with Session(engine) as session:
            for account in hub.accounts:  # type: ignore[attr-defined]
                user, _token, _value = login(
                    session, Passwords(settings), settings, account.username, account.password
                )
                assert user.role == account.role
            assert {a.role for a in hub.accounts} == {r.value for r in Role}  # type: ignore[attr-defined]
    finally:
        engine.dispose()


def test_a_short_period_tells_the_same_story(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'short.db'}"
    hub = seed_demo(url, weeks=2, now=NOW, settings=_cheap(url))
    assert hub.scans >= 6
    assert hub.counts["accepted"] >= 1 and hub.counts["false_positive"] >= 1


def test_only_an_empty_hub_is_seeded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    engine = make_engine(url)
    upgrade(engine)
    try:
        with Session(engine) as session:
            service.create_project(session, "shop")
        assert hub_state(engine) == "other"
        with pytest.raises(DemoError, match="empty hub"):
            seed_demo(engine, now=NOW, settings=_cheap(url))
        with Session(engine) as session:
            assert [p.slug for p in service.list_projects(session)] == ["shop"]
    finally:
        engine.dispose()
    with pytest.raises(DemoError, match="--weeks"):
        seed_demo(url, weeks=1)


def test_cli_seeds_prints_the_logins_and_keeps_an_existing_demo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "demo.db")
    code = run(["--no-color", "hub", "demo", "--db", db, "--no-serve", "--weeks", "3"])
    out, err = capsys.readouterr()
    assert code == 0, err
    logins = dict(re.findall(r"^  (admin|security|developer)\s+(\S+)\s", out, re.M))
    assert set(logins) == {"admin", "security", "developer"}
    assert re.search(r"^  tsh_\S{43}$", out, re.M)
    assert "2 projects" in out
    # the passwords work (the hub's default argon2 settings made the hashes)
    engine = make_engine(f"sqlite:///{db}")
    try:
        settings = HubSettings(database_url="sqlite://")
        with Session(engine) as session:
            user, _t, _v = login(
                session, Passwords(settings), settings, "security", logins["security"]
            )
            assert user.role == "security"
    finally:
        engine.dispose()
    # a second run finds the demo there and leaves it alone
    code = run(["--no-color", "hub", "demo", "--db", db, "--no-serve"])
    out, _ = capsys.readouterr()
    assert code == 0 and "already holds the demo" in out
    assert "tsh_" not in out
    # a hub with data of its own is never touched
    other = str(tmp_path / "other.db")
    assert run(["--no-color", "hub", "project", "create", "shop", "--db", other]) == 0
    capsys.readouterr()
    code = run(["--no-color", "hub", "demo", "--db", other, "--no-serve"])
    _, err = capsys.readouterr()
    assert code == 2 and "only seeded into an empty hub" in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_one_command_serves_a_living_dashboard(tmp_path: Path) -> None:
    """``turbosec hub demo`` as a newcomer runs it: seed, serve, sign in, look around."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TURBOSEC_HUB")}
    env["NO_COLOR"] = "1"
    log = tmp_path / "demo.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [TURBOSEC, "hub", "demo", "--port", str(port), "--weeks", "4"],
            cwd=tmp_path,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        out = log.read_text()
        assert (tmp_path / "turbosec-demo.db").is_file()
        assert f"{base}/" in out
        password = re.search(r"^  security\s+(\S+)\s", out, re.M)
        assert password, out
        with httpx.Client(base_url=base, timeout=10, follow_redirects=True) as browser:
            form = browser.get("/login").text
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
            assert csrf, form
            answer = browser.post(
                "/login",
                data={
                    "username": "security",
                    "password": password.group(1),
                    "csrf_token": csrf.group(1),
                    "next": "/projects/demo-app",
                },
            )
            assert answer.status_code == 200 and str(answer.url).endswith("/projects/demo-app")
            page = answer.text
            assert 'id="findings"' in page and 'id="scans"' in page
            first = re.search(r'href="(/projects/demo-app/findings/\d+)"', page)
            assert first
            finding = browser.get(first.group(1))
            assert finding.status_code == 200
            assert '<ol id="history"' in finding.text
            overview = browser.get("/")
            assert "demo-infra" in html.unescape(overview.text)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
