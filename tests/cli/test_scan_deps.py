"""`turbosec scan` with the offline dependency audit, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import DEMO_APP, OSV_PYPI

TURBOSEC = str(Path(sys.executable).parent / "turbosec")
DATA = OSV_PYPI
DEMO = DEMO_APP


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "TURBOSEC_DB_DIR": "/nonexistent/turbosec-db"}
    env.pop("GITHUB_ACTIONS", None)
    return subprocess.run(
        [TURBOSEC, *args], capture_output=True, text=True, env=env, timeout=120, cwd=cwd,
        check=False,
    )  # fmt: skip


def test_demo_app_offline_reports_ids_severity_and_fix(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    proc = _run("scan", str(DEMO), "--scanner", "deps", "--no-cache", "--output", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr  # medium findings pass "critical"
    report = json.loads(out.read_text())
    deps = [f for f in report["findings"] if f["tool"] == "deps"]
    assert {f["package"]["name"] for f in deps} == {"flask", "pyyaml", "requests", "jinja2"}
    pyyaml = {f["rule_id"]: f for f in deps if f["package"]["name"] == "pyyaml"}
    assert set(pyyaml) == {"PYSEC-2020-96", "PYSEC-2021-142"}
    finding = pyyaml["PYSEC-2021-142"]
    assert "CVE-2020-14343" in finding["advisories"]
    assert finding["severity"] == "medium"
    assert finding["location"]["path"] == "requirements.txt"
    assert finding["fix_hint"].startswith("upgrade pyyaml to 5.4")
    assert "PYSEC-2021-142" in proc.stdout and "upgrade pyyaml to 5.4" in proc.stdout


def test_malformed_lockfile_exits_2_naming_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "poetry.lock").write_text('[[package]]\nname = "flask"\nversion = \n')
    proc = _run("scan", str(tmp_path), "--scanner", "deps", "--no-cache", "--db", str(DATA))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "poetry.lock:3" in proc.stdout + proc.stderr


def test_missing_database_exits_2_with_the_way_out(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("flask==0.12.2\n")
    proc = _run("scan", str(tmp_path), "--scanner", "deps", "--no-cache")
    assert proc.returncode == 2
    assert "turbosec db update" in proc.stdout + proc.stderr


def test_db_option_gates_on_a_high_advisory(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("werkzeug==2.3.7\n")
    proc = _run(
        "scan", str(tmp_path), "--scanner", "deps", "--no-cache", "--db", str(DATA),
        "--fail-on", "high",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "PYSEC-2023-221" in proc.stdout
