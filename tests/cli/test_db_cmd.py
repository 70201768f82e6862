"""``turbosec db update|status``: output and exit codes, over a real local HTTP server."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.scan.deps.test_db import npm_zip, pypi_zip, serve
from turbosec.cli.main import run


@pytest.fixture(autouse=True)
def default_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private default database location, a wide plain console, no repository config."""
    db_dir = tmp_path / "default-db"
    monkeypatch.setenv("TURBOSEC_DB_DIR", str(db_dir))
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.chdir(tmp_path)
    return db_dir


@pytest.fixture
def archives(tmp_path: Path) -> dict[str, Path]:
    """9 PyPI advisories (pyyaml, jinja2) and 3 npm ones, laid out as OSV exports."""
    return {
        "PyPI": pypi_zip(tmp_path / "served" / "PyPI" / "all.zip", ["pyyaml", "jinja2"]),
        "npm": npm_zip(tmp_path / "served" / "npm" / "all.zip"),
    }


@pytest.fixture
def base_url(tmp_path: Path, archives: dict[str, Path]) -> Iterator[str]:
    with serve(tmp_path / "served") as url:
        yield url


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "turbosec.toml"
    path.write_text(text)
    return path


def test_update_from_config_over_http_then_status(
    tmp_path: Path, base_url: str, default_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _config(
        tmp_path,
        f'[deps]\nurl = "{base_url}/{{ecosystem}}/all.zip"\necosystems = ["PyPI", "npm"]\n',
    )
    code, out, err = _cli(capsys, "db", "update")
    assert code == 0, err
    assert f"PyPI: downloading {base_url}/PyPI/all.zip" in err
    lines = out.splitlines()
    assert lines[0].startswith(f"PyPI: 9 advisories from {base_url}/PyPI/all.zip (0.0 MB, ")
    assert lines[1].startswith(f"npm: 3 advisories from {base_url}/npm/all.zip (0.0 MB, ")
    assert lines[2].startswith(f"database updated: {default_db} (version ")

    code, out, err = _cli(capsys, "db", "status")
    assert code == 0, err
    assert f"advisory database: {default_db}" in out
    assert "days ago; fresh)" in out
    assert f"PyPI     9 advisories from {base_url}/PyPI/all.zip" in out
    assert f"npm      3 advisories from {base_url}/npm/all.zip" in out

    code, out, _ = _cli(capsys, "db", "status", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["exists"] is True
    assert data["stale"] is False
    assert data["max_age_days"] == 7.0
    assert [(e["ecosystem"], e["records"]) for e in data["ecosystems"]] == [
        ("PyPI", 9),
        ("npm", 3),
    ]


def test_offline_import_stale_and_options(
    tmp_path: Path, archives: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    old = (datetime.now(UTC) - timedelta(days=3)).timestamp()
    os.utime(archives["PyPI"], (old, old))
    target = tmp_path / "elsewhere"
    config = _config(tmp_path, "[deps]\nmax_age_days = 2\n")
    code, out, err = _cli(
        capsys, "-c", str(config), "db", "update", "--from", f"pypi={archives['PyPI']}",
        "--db-dir", str(target),
    )  # fmt: skip
    assert code == 0, err
    assert f"PyPI: importing {archives['PyPI']}" in err
    assert f"PyPI: 9 advisories from {archives['PyPI']}" in out
    assert "npm" not in out  # --from alone: only the imported ecosystems

    code, out, err = _cli(capsys, "-c", str(config), "db", "status", "--db-dir", str(target))
    assert code == 0, err
    assert "(3.0 days ago; stale: older than deps.max_age_days = 2; run 'turbosec db update')" in (
        out
    )
    code, out, _ = _cli(
        capsys, "-c", str(config), "db", "status", "--db-dir", str(target), "--json"
    )
    assert json.loads(out)["stale"] is True


def test_status_without_database(default_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(capsys, "db", "status")
    assert code == 2
    assert out == ""
    assert f"error: {default_db}: there is no advisory database here yet" in err
    assert "Hint: run 'turbosec db update'" in err
    code, out, _ = _cli(capsys, "db", "status", "--json")
    assert code == 2
    assert json.loads(out)["exists"] is False


def test_failed_update_exits_2_and_keeps_the_database(
    base_url: str, archives: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _cli(capsys, "db", "update", "--from", f"npm={archives['npm']}")
    assert code == 0, err
    code, out, err = _cli(
        capsys, "db", "update", "-e", "PyPI", "--url", base_url + "/missing/{ecosystem}.zip"
    )
    assert code == 2
    assert f"error: {base_url}/missing/PyPI.zip: download failed: HTTP 404" in err
    code, out, _ = _cli(capsys, "db", "status")
    assert code == 0
    assert "npm      3 advisories" in out


def test_usage_errors(
    tmp_path: Path, archives: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _cli(capsys, "db", "update", "-e", "cargo")
    assert code == 2
    assert "unknown ecosystem 'cargo'" in err
    code, _, err = _cli(capsys, "db", "update", "--from", str(archives["npm"]))
    assert code == 2
    assert "is not ECOSYSTEM=PATH" in err
    code, _, err = _cli(capsys, "db", "update", "--from", f"npm={tmp_path / 'nope.zip'}")
    assert code == 2
    assert "npm: archive not found" in err
    config = _config(tmp_path, '[deps]\ndb = "records.zip"\n')
    code, _, err = _cli(capsys, "-c", str(config), "db", "status")
    assert code == 2
    assert "deps.db names OSV records" in err


def test_concurrent_update_is_refused(
    default_db: Path, archives: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    default_db.mkdir()
    fd = os.open(default_db / ".lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        code, _, err = _cli(capsys, "db", "update", "--from", f"npm={archives['npm']}")
    finally:
        os.close(fd)
    assert code == 2
    assert "another update is running" in err
