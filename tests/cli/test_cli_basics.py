"""The CLI's contract: version, help, exit codes, readable errors, colour control."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from turbosec import __version__
from turbosec.cli.main import run

TURBOSEC = str(Path(sys.executable).parent / "turbosec")


def _cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("GITHUB_ACTIONS", None)
    return subprocess.run(
        [TURBOSEC, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        timeout=timeout,
        check=False,
    )


def test_version() -> None:
    proc = _cli("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"turbosec {__version__}"


def test_help_lists_commands_and_exit_codes() -> None:
    proc = _cli("--help")
    assert proc.returncode == 0
    assert "scan" in proc.stdout and "config" in proc.stdout
    assert "2 usage or tool error" in proc.stdout


def test_unknown_option_is_usage_error() -> None:
    proc = _cli("scan", "--frobnicate")
    assert proc.returncode == 2
    assert "No such option: --frobnicate" in proc.stderr
    assert "internal error" not in proc.stderr


def test_bad_config_is_one_paragraph_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "turbosec.toml").write_text("[scanners.semgrep]\nrulez = []\n")
    proc = _cli("scan", str(tmp_path))
    assert proc.returncode == 2
    assert "unknown key 'scanners.semgrep.rulez'" in proc.stderr
    assert str(tmp_path / "turbosec.toml") in proc.stderr
    assert "Traceback" not in proc.stderr
    verbose = _cli("-v", "scan", str(tmp_path))
    assert verbose.returncode == 2
    assert "Traceback" in verbose.stderr


def test_scan_of_missing_directory(tmp_path: Path) -> None:
    proc = _cli("scan", str(tmp_path / "nope"))
    assert proc.returncode == 2
    assert "not a directory" in proc.stderr


def test_unknown_scanner_and_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["scan", str(tmp_path), "--scanner", "nosuch"]) == 2
    assert "unknown scanner 'nosuch'" in capsys.readouterr().err
    assert run(["scan", str(tmp_path), "--format", "pdf"]) == 2
    assert "unknown output format 'pdf'" in capsys.readouterr().err
    assert run(["scan", str(tmp_path), "--output", "report.docx"]) == 2
    assert "cannot tell the format" in capsys.readouterr().err


def test_config_show_prints_effective_config(tmp_path: Path) -> None:
    (tmp_path / "turbosec.toml").write_text('fail_on = "high"\n[max]\ncritical = 0\n')
    proc = _cli("config", "show", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert f"from {tmp_path / 'turbosec.toml'}" in proc.stdout
    assert 'fail_on = "high"' in proc.stdout
    assert "critical = 0" in proc.stdout
    assert '[scanners."detect-secrets"]' in proc.stdout
    import tomllib

    body = "\n".join(line for line in proc.stdout.splitlines() if not line.startswith("#"))
    assert tomllib.loads(body)["fail_on"] == "high"


def test_empty_directory_passes(tmp_path: Path) -> None:
    proc = _cli("scan", str(tmp_path), env={"NO_COLOR": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "PASSED" in proc.stdout
    assert "\x1b[" not in proc.stdout


def test_config_show_round_trips_suppressions(tmp_path: Path) -> None:
    (tmp_path / "turbosec.toml").write_text(
        '[[suppress]]\nrule = "B602"\nreason = "constant input"\nexpires = "2030-01-31"\n'
    )
    proc = _cli("config", "show", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    import tomllib

    body = "\n".join(line for line in proc.stdout.splitlines() if not line.startswith("#"))
    parsed = tomllib.loads(body)
    assert parsed["suppress"][0]["rule"] == "B602"
    assert parsed["suppress"][0]["expires"] == "2030-01-31"
