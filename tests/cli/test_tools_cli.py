"""``turbosec tools install|list|doctor|uninstall``: output and exit codes.

No network: the "scanners" are tiny wheels written by the test and installed with
``--pip-arg=--no-index --pip-arg=--find-links=DIR`` under a temporary TURBOSEC_HOME.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.scan.test_tools import build_wheel
from turbosec.cli.main import run
from turbosec.scan import tools

ALL_BUT_BANDIT = "".join(
    f'[scanners."{name}"]\nenabled = false\n'
    for name in (*tools.PINS, "deps", "threats")
    if name != "bandit"
)


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private tools home, a wide console, and a pip that sees only the test's wheels."""
    home = tmp_path / "turbosec-home"
    monkeypatch.setenv("TURBOSEC_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    for var in list(os.environ):
        if var.startswith("PIP_") and var != "PIP_CONFIG_FILE":
            monkeypatch.delenv(var)
    return home / "tools"


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "turbosec.toml"
    path.write_text(text)
    return path


def test_install_list_doctor_uninstall(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tools.tools_home()
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "bandit", "1.9.4")
    offline = ["--pip-arg=--no-index", f"--pip-arg=--find-links={wheels}"]

    code, out, err = _cli(capsys, "tools", "install", "bandit", *offline)
    assert code == 0, err
    exe = home / "bandit-1.9.4" / "bin" / "bandit"
    assert f"bandit 1.9.4 installed: {exe}" in out
    assert "installing bandit==1.9.4" in err

    code, out, _ = _cli(capsys, "tools", "install", "bandit", *offline)
    assert code == 0 and "already installed" in out

    code, out, _ = _cli(capsys, "tools", "list")
    assert code == 0
    assert f"tools home: {home}" in out
    lines = {line.split()[0]: line.split() for line in out.splitlines()[3:] if line.strip()}
    assert lines["bandit"][:4] == ["bandit", "1.9.4", "yes", str(exe)]
    assert lines["semgrep"][:4] == ["semgrep", "1.185.0", "no", "-"]

    code, out, _ = _cli(capsys, "tools", "list", "--json")
    data = json.loads(out)
    [bandit] = [t for t in data["tools"] if t["scanner"] == "bandit"]
    assert bandit["installed"] is True and bandit["path"] == str(exe)

    config = _config(tmp_path, 'tools = "managed"\n' + ALL_BUT_BANDIT)
    code, out, err = _cli(capsys, "--config", str(config), "tools", "doctor", str(tmp_path))
    assert code == 0, out + err
    assert 'tools = "managed"' in out
    assert "bandit: ok" in out
    assert f"program  {exe}" in out
    assert "source   managed: environment bandit-1.9.4" in out
    assert "version  1.9.4 (pinned 1.9.4, matches)" in out
    assert "all 1 enabled scanners are usable" in out

    code, out, _ = _cli(capsys, "tools", "uninstall", "bandit")
    assert code == 0 and "bandit: removed 1 environment(s)" in out
    assert not (home / "bandit-1.9.4").exists()
    code, out, _ = _cli(capsys, "--config", str(config), "tools", "doctor", str(tmp_path))
    assert code == 2
    assert "bandit: NOT USABLE" in out
    assert "hint     run: turbosec tools install bandit" in out
    assert "not usable: bandit" in out


def test_failed_install_exits_2_with_pips_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "no-wheels"
    empty.mkdir()
    code, _, err = _cli(
        capsys,
        "tools",
        "install",
        "zizmor",
        "--pip-arg=--no-index",
        f"--pip-arg=--find-links={empty}",
    )
    assert code == 2
    assert "scanner zizmor: pip could not install zizmor==1.32.0" in err
    assert "last lines of its error output" in err
    assert "not installed: zizmor" in err
    assert "Traceback" not in err
    home = tools.tools_home()
    assert not home.exists() or list(home.iterdir()) == []


def test_install_unknown_scanner_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(capsys, "tools", "install", "bandit", "nope")
    assert code == 2
    assert "unknown scanner 'nope'" in err
    assert not tools.tools_home().exists()  # nothing started


def test_uninstall_needs_names_or_all(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(capsys, "tools", "uninstall")
    assert code == 2 and "--all" in err


def test_doctor_names_a_broken_executable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken-bandit"
    broken.write_text("#!/bin/sh\necho 'ModuleNotFoundError: bandit' >&2\nexit 1\n")
    broken.chmod(0o755)
    config = _config(tmp_path, ALL_BUT_BANDIT + f'[scanners.bandit]\nexecutable = "{broken}"\n')
    code, out, _ = _cli(capsys, "--config", str(config), "tools", "doctor", str(tmp_path))
    assert code == 2
    assert "bandit: NOT USABLE" in out
    assert "source   configured: scanners.bandit.executable" in out
    assert "exited with code 1: ModuleNotFoundError: bandit" in out
    assert "not usable: bandit" in out


def test_doctor_path_mode_ignores_managed_environments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "bandit"
    fake.write_text("#!/bin/sh\necho 'bandit 1.7.0'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir))
    config = _config(tmp_path, 'tools = "path"\n' + ALL_BUT_BANDIT)
    code, out, _ = _cli(capsys, "--config", str(config), "tools", "doctor", str(tmp_path))
    assert code == 0
    assert "bandit: usable, with warnings" in out
    assert f"program  {fake}" in out
    assert "source   PATH: on PATH" in out
    assert "version  1.7.0 (pinned 1.9.4, differs)" in out
    assert "warning  version 1.7.0 differs from the pinned 1.9.4" in out
