"""Fail closed: a missing, crashing, hanging or babbling scanner is never a pass."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

TURBOSEC = str(Path(sys.executable).parent / "turbosec")


def _project(tmp_path: Path) -> Path:
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "app.py").write_text("import os\nos.system('ls ' + os.environ['X'])\n")
    return proj


def _fake(bin_dir: Path, name: str, body: str) -> Path:
    bin_dir.mkdir(exist_ok=True)
    exe = bin_dir / name
    exe.write_text(body)
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return exe


def _scan(
    proj: Path, bin_dir: Path | None, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("GITHUB_ACTIONS", None)
    env["NO_COLOR"] = "1"
    if bin_dir is not None:
        env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        [TURBOSEC, "scan", str(proj), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def test_crashing_scanner_exits_2_and_names_it(tmp_path: Path) -> None:
    proj = _project(tmp_path)
    bin_dir = tmp_path / "bin"
    _fake(bin_dir, "bandit", "#!/bin/sh\necho 'bandit: internal error: boom' >&2\nexit 3\n")
    proc = _scan(proj, bin_dir, "--scanner", "bandit")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "scanner bandit" in proc.stderr
    assert "exited with code 3" in proc.stderr
    assert "internal error: boom" in proc.stderr  # the stderr tail is shown
    assert "PASSED" not in proc.stdout


def test_broken_executable_exits_2(tmp_path: Path) -> None:
    proj = _project(tmp_path)
    bin_dir = tmp_path / "bin"
    exe = _fake(bin_dir, "bandit", "")
    exe.write_bytes(b"\x7fELF\x00garbage")
    proc = _scan(proj, bin_dir, "--scanner", "bandit")
    assert proc.returncode == 2
    assert "scanner bandit" in proc.stderr
    assert "not a valid executable" in proc.stderr


def test_unparsable_output_exits_2(tmp_path: Path) -> None:
    proj = _project(tmp_path)
    bin_dir = tmp_path / "bin"
    _fake(bin_dir, "bandit", "#!/bin/sh\necho 'this is not json'\nexit 0\n")
    proc = _scan(proj, bin_dir, "--scanner", "bandit")
    assert proc.returncode == 2
    assert "scanner bandit" in proc.stderr
    assert "cannot read" in proc.stderr


def test_hanging_scanner_is_stopped_at_its_timeout(tmp_path: Path) -> None:
    proj = _project(tmp_path)
    (proj / "turbosec.toml").write_text("[scanners.bandit]\ntimeout = 1\n")
    bin_dir = tmp_path / "bin"
    _fake(bin_dir, "bandit", '#!/bin/sh\ncase "$1" in --version) echo 1.0;; *) sleep 60;; esac\n')
    proc = _scan(proj, bin_dir, "--scanner", "bandit", timeout=50)
    assert proc.returncode == 2
    assert "timed out after 1 s" in proc.stderr


def test_missing_configured_executable_exits_2(tmp_path: Path) -> None:
    proj = _project(tmp_path)
    (proj / "turbosec.toml").write_text('[scanners.bandit]\nexecutable = "/nonexistent/bandit"\n')
    proc = _scan(proj, None, "--scanner", "bandit")
    assert proc.returncode == 2
    assert "scanner bandit" in proc.stderr
    assert "not found" in proc.stderr


def test_optional_scanner_failure_is_a_warning(tmp_path: Path) -> None:
    proj = _project(tmp_path)
    (proj / "turbosec.toml").write_text("[scanners.bandit]\noptional = true\n")
    bin_dir = tmp_path / "bin"
    _fake(bin_dir, "bandit", "#!/bin/sh\nexit 3\n")
    proc = _scan(proj, bin_dir, "--scanner", "bandit", "-f", "json", "-o", str(tmp_path / "r.json"))
    assert proc.returncode == 0, proc.stderr
    assert "warning: optional scanner bandit failed" in proc.stderr
    import json

    report = json.loads((tmp_path / "r.json").read_text())
    assert report["tools"][0]["status"] == "failed"


@pytest.mark.scanners
def test_failure_still_writes_reports(tmp_path: Path) -> None:
    proj = _project(tmp_path)
    bin_dir = tmp_path / "bin"
    _fake(bin_dir, "bandit", "#!/bin/sh\nexit 3\n")
    out = tmp_path / "out.sarif"
    proc = _scan(proj, bin_dir, "--scanner", "bandit", "--scanner", "semgrep", "-o", str(out))
    assert proc.returncode == 2
    import json

    sarif = json.loads(out.read_text())
    failed = [r for r in sarif["runs"] if r["tool"]["driver"]["name"] == "bandit"]
    assert failed and failed[0]["invocations"][0]["executionSuccessful"] is False
