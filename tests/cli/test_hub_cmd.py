"""``turbosec hub``: migrate, projects, users and tokens from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from turbosec.cli.main import run
from turbosec.hub.auth import authenticate
from turbosec.hub.db import make_engine
from turbosec.hub.models import Role, TokenScope


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TURBOSEC_HUB_DB", "TURBOSEC_HUB_PASSWORD", "TURBOSEC_HUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(["--no-color", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_migrate_and_projects(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "hub.db")
    code, out, _ = _run(capsys, "hub", "migrate", "--db", db)
    assert code == 0 and "schema at revision 0002_alerts" in out
    assert _run(capsys, "hub", "migrate", "--db", db)[0] == 0
    code, out, _ = _run(
        capsys,
        "hub",
        "project",
        "create",
        "shop",
        "--name",
        "Shop",
        "--default-branch",
        "main",
        "--sla",
        "critical=3",
        "--sla",
        "info=none",
        "--db",
        db,
    )
    assert code == 0 and "project shop created" in out
    code, _, err = _run(capsys, "hub", "project", "create", "shop", "--db", db)
    assert code == 2 and "a project 'shop' exists already" in err
    code, _, err = _run(capsys, "hub", "project", "create", "Not A Slug", "--db", db)
    assert code == 2 and "not valid" in err
    code, _, err = _run(capsys, "hub", "project", "create", "x", "--sla", "urgent=3", "--db", db)
    assert code == 2 and "sla_days" in err
    code, out, _ = _run(capsys, "hub", "project", "list", "--db", db)
    assert "shop" in out and "Shop" in out and "main" in out


def test_database_from_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TURBOSEC_HUB_DB", str(tmp_path / "env.db"))
    assert _run(capsys, "hub", "project", "create", "shop")[0] == 0
    assert (tmp_path / "env.db").is_file()


def test_bad_databases(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "hub", "migrate", "--db", "mysql://localhost/hub")
    assert code == 2 and "unsupported database" in err
    code, _, err = _run(
        capsys, "hub", "migrate", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/none"
    )
    assert code == 2 and "cannot open the hub database" in err and "Traceback" not in err
    code, _, err = _run(capsys, "hub", "migrate", "--db", str(tmp_path / "missing" / "x.db"))
    assert code == 2 and "cannot open the hub database" in err


def test_users(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = str(tmp_path / "hub.db")
    monkeypatch.setenv("TURBOSEC_HUB_PASSWORD", "correct horse battery")
    code, out, _ = _run(capsys, "hub", "user", "add", "alice", "--role", "security", "--db", db)
    assert code == 0 and "user alice added with role security" in out
    code, _, err = _run(capsys, "hub", "user", "add", "alice", "--role", "admin", "--db", db)
    assert code == 2 and "exists already" in err
    code, _, err = _run(capsys, "hub", "user", "add", "bob", "--role", "boss", "--db", db)
    assert code == 2 and "boss" in err
    monkeypatch.setenv("TURBOSEC_HUB_PASSWORD", "elevenchars")
    code, _, err = _run(capsys, "hub", "user", "add", "bob", "--role", "developer", "--db", db)
    assert code == 2 and "at least 12 characters" in err
    monkeypatch.delenv("TURBOSEC_HUB_PASSWORD")
    code, _, err = _run(capsys, "hub", "user", "add", "bob", "--role", "developer", "--db", db)
    assert code == 2 and "TURBOSEC_HUB_PASSWORD" in err  # no terminal to prompt on
    code, out, _ = _run(capsys, "hub", "user", "list", "--db", db)
    assert "alice" in out and "security" in out and "bob" not in out
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT password_hash FROM hub_user").scalar_one()
    engine.dispose()
    assert stored.startswith("$argon2id$") and "horse" not in stored


def test_tokens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = str(tmp_path / "hub.db")
    assert _run(capsys, "hub", "project", "create", "shop", "--db", db)[0] == 0
    monkeypatch.setenv("TURBOSEC_HUB_PASSWORD", "correct horse battery")
    assert _run(capsys, "hub", "user", "add", "ci-admin", "--role", "admin", "--db", db)[0] == 0

    code, out, err = _run(
        capsys,
        "hub",
        "token",
        "create",
        "--project",
        "shop",
        "--scope",
        "upload",
        "--expires-days",
        "30",
        "--name",
        "github",
        "--db",
        db,
    )
    assert code == 0, err
    token = out.strip()
    assert token.startswith("tsh_") and "\n" not in token
    assert "shown only now" in err and token not in err
    code, out, _ = _run(capsys, "hub", "token", "create", "--user", "ci-admin", "--db", db)
    user_token = out.strip()
    assert code == 0 and user_token.startswith("tsh_")

    engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as session:
        project_principal = authenticate(session, token)
        user_principal = authenticate(session, user_token)
    assert (project_principal.scope, project_principal.name) == (TokenScope.UPLOAD, "github")
    assert (user_principal.role, user_principal.name) == (Role.ADMIN, "ci-admin")

    code, out, _ = _run(capsys, "hub", "token", "list", "--db", db)
    assert token not in out and token[:12] in out and "project shop" in out
    assert "user ci-admin" in out
    code, out, _ = _run(capsys, "hub", "token", "revoke", "1", "--db", db)
    assert code == 0 and "revoked" in out
    code, out, _ = _run(capsys, "hub", "token", "list", "--project", "shop", "--db", db)
    assert "revoked" in out and "ci-admin" not in out
    with Session(engine) as session, pytest.raises(Exception, match="revoked"):
        authenticate(session, token)
    engine.dispose()

    for args, message in (
        (("--project", "shop"), "--scope"),
        (("--user", "ci-admin", "--scope", "read"), "--scope is for project tokens"),
        ((), "either --project"),
        (("--project", "nope", "--scope", "read"), "no project 'nope'"),
        (("--user", "nobody"), "no user 'nobody'"),
    ):
        code, _, err = _run(capsys, "hub", "token", "create", *args, "--db", db)
        assert code == 2 and message in err, (args, err)
    code, _, err = _run(capsys, "hub", "token", "revoke", "99", "--db", db)
    assert code == 2 and "no token 99" in err
