"""Managed scanner environments: isolated, pinned, atomic; and how a scan picks its program.

No network: the packages are tiny wheels written by hand here and installed with
``--no-index --find-links`` into environments under a temporary TURBOSEC_HOME.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import stat
import subprocess
import zipfile
from pathlib import Path

import pytest

from turbosec.core.config import Config, ScannerConfig, ScannersConfig
from turbosec.core.errors import ScannerError
from turbosec.scan import adapters, tools
from turbosec.scan.base import InProcessScanner
from turbosec.scan.process import resolve_executable

FAKE = tools.ToolSpec("fakescanner", "fakescanner", "0.1.0", "fakescanner", "fakescanner")


def build_wheel(
    wheelhouse: Path,
    name: str,
    version: str,
    *,
    program: str | None = None,
    module: str | None = None,
    main: str | None = None,
) -> Path:
    """Write a minimal pure-Python wheel: one package, one console script printing its version."""
    module = module or name.replace("-", "_")
    dist = f"{name.replace('-', '_')}-{version}"
    body = main or f"def main():\n    print({name + ' ' + version!r})\n"
    files: dict[str, bytes] = {
        f"{module}/__init__.py": f"__version__ = {version!r}\n\n{body}".encode(),
        f"{dist}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        ).encode(),
        f"{dist}.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: turbosec-tests\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
        f"{dist}.dist-info/entry_points.txt": (
            f"[console_scripts]\n{program or name} = {module}:main\n"
        ).encode(),
        f"{dist}.dist-info/top_level.txt": f"{module}\n".encode(),
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist}.dist-info/RECORD,,")
    files[f"{dist}.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    wheelhouse.mkdir(parents=True, exist_ok=True)
    wheel = wheelhouse / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return wheel


def offline(wheelhouse: Path) -> tuple[str, ...]:
    return ("--no-index", "--find-links", str(wheelhouse))


@pytest.fixture(autouse=True)
def _isolated_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    """pip sees only the wheels a test hands it: no config file, no index, no find-links."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    for var in list(os.environ):
        if var.startswith("PIP_") and var != "PIP_CONFIG_FILE":
            monkeypatch.delenv(var)


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    house = tmp_path_factory.mktemp("wheels")
    build_wheel(house, "fakescanner", "0.1.0")
    build_wheel(house, "bandit", tools.PINS["bandit"].version)
    return house


@pytest.fixture(scope="session")
def managed_bandit(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Path:
    """A tools home with a (fake) bandit at the pinned version, shared by read-only tests."""
    home = tmp_path_factory.mktemp("home") / "tools"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIP_CONFIG_FILE", os.devnull)
        for var in list(os.environ):
            if var.startswith("PIP_") and var != "PIP_CONFIG_FILE":
                mp.delenv(var)
        tools.install("bandit", pip_args=offline(wheelhouse), home=home)
    return home


def leftovers(home: Path) -> list[str]:
    return sorted(p.name for p in home.iterdir() if p.name.startswith("."))


# -- pins and home --------------------------------------------------------------------------


def test_every_scanner_is_pinned_with_its_program() -> None:
    registry = {
        name: cls
        for name, cls in adapters.registry().items()
        if not issubclass(cls, InProcessScanner)  # built in: nothing to install
    }
    assert set(tools.PINS) == set(registry)
    for name, spec in tools.PINS.items():
        assert spec.program == registry[name].program
        assert spec.requirement == f"{spec.package}=={spec.version}"
    assert {n: s.version for n, s in tools.PINS.items()} == {
        "bandit": "1.9.4",
        "semgrep": "1.185.0",
        "detect-secrets": "1.5.0",
        "pip-audit": "2.10.1",
        "checkov": "3.3.30",
        "zizmor": "1.32.0",
    }


def test_tools_home_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"TURBOSEC_HOME": str(tmp_path / "ts"), "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    assert tools.tools_home(env) == tmp_path / "ts" / "tools"
    del env["TURBOSEC_HOME"]
    assert tools.tools_home(env) == tmp_path / "xdg" / "turbosec" / "tools"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert tools.tools_home({}) == tmp_path / "home" / ".cache" / "turbosec" / "tools"
    monkeypatch.setenv("TURBOSEC_HOME", str(tmp_path / "env"))
    assert tools.tools_home() == tmp_path / "env" / "tools"
    assert tools.env_dir("bandit") == tmp_path / "env" / "tools" / "bandit-1.9.4"


def test_unknown_scanner_is_a_usage_error() -> None:
    with pytest.raises(Exception, match="unknown scanner 'nope'") as info:
        tools.spec_for("nope")
    assert "semgrep" in (getattr(info.value, "hint", "") or "")


# -- install ----------------------------------------------------------------------------


def test_install_builds_an_isolated_pinned_environment(tmp_path: Path, wheelhouse: Path) -> None:
    home = tmp_path / "tools"
    assert not tools.installed(FAKE, home)
    assert tools.executable(FAKE, home) is None

    result = tools.install(FAKE, pip_args=offline(wheelhouse), home=home)

    env = home / "fakescanner-0.1.0"
    assert result.env == env and not result.already
    assert (env / "pyvenv.cfg").is_file()
    assert tools.installed(FAKE, home)
    exe = tools.executable(FAKE, home)
    assert exe == env / "bin" / "fakescanner" == result.executable
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60, check=True)
    assert proc.stdout.strip() == "fakescanner 0.1.0"

    # Pinned: the marker records the version, the Python and the time.
    marker = json.loads((env / tools.MARKER).read_text())
    assert marker["version"] == "0.1.0" and marker["package"] == "fakescanner"
    assert marker["python"].count(".") == 2 and marker["installed_at"]
    assert list(marker["pip_args"]) == list(offline(wheelhouse))

    # Isolated: the package lives only in its own environment.
    assert importlib.util.find_spec("fakescanner") is None
    probe = subprocess.run(
        [str(env / "bin" / "python"), "-c", "import fakescanner, sys; print(fakescanner.__file__)"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert probe.stdout.strip().startswith(str(env))

    # Built elsewhere and renamed into place: scripts point at the final path, nothing left over.
    assert tools.script_interpreter(exe) == env / "bin" / "python"
    assert str(env) in (env / "pyvenv.cfg").read_text()
    assert leftovers(home) == []


def test_install_again_is_a_no_op_and_force_reinstalls(tmp_path: Path, wheelhouse: Path) -> None:
    home = tmp_path / "tools"
    first = tools.install(FAKE, pip_args=offline(wheelhouse), home=home)
    again = tools.install(FAKE, pip_args=offline(wheelhouse), home=home)
    assert again.already and again.executable == first.executable
    marker = tools.read_marker(first.env)
    assert marker is not None
    (first.env / "sentinel").write_text("old environment")

    forced = tools.install(FAKE, pip_args=offline(wheelhouse), home=home, force=True)

    assert not forced.already and tools.installed(FAKE, home)
    assert not (forced.env / "sentinel").exists()
    assert leftovers(home) == []
    assert tools.uninstall(FAKE, home) == 1
    assert not tools.installed(FAKE, home) and not first.env.exists()
    assert tools.uninstall(FAKE, home) == 0


def test_failed_install_says_why_and_leaves_nothing(tmp_path: Path, wheelhouse: Path) -> None:
    home = tmp_path / "tools"
    missing = tools.ToolSpec("ghost", "ghost-scanner", "9.9.9", "ghost")

    with pytest.raises(ScannerError) as info:
        tools.install(missing, pip_args=offline(wheelhouse), home=home)

    err = info.value
    assert err.scanner == "ghost"
    assert "pip could not install ghost-scanner==9.9.9" in err.message
    assert "--find-links" in (err.hint or "")
    assert "ghost-scanner" in (err.stderr_tail or "")  # pip's own words
    assert list(home.iterdir()) == []
    assert not tools.installed(missing, home)


def test_package_without_the_program_is_refused(tmp_path: Path, wheelhouse: Path) -> None:
    home = tmp_path / "tools"
    wrong = tools.ToolSpec("fakescanner", "fakescanner", "0.1.0", "not-the-program")
    with pytest.raises(ScannerError, match="provides no program 'not-the-program'"):
        tools.install(wrong, pip_args=offline(wheelhouse), home=home)
    assert list(home.iterdir()) == []


def test_environment_without_marker_is_not_installed(tmp_path: Path) -> None:
    home = tmp_path / "tools"
    half = home / "bandit-1.9.4" / "bin"
    half.mkdir(parents=True)
    (half / "bandit").write_text("#!/bin/sh\n")
    (half / "bandit").chmod(0o755)
    assert not tools.installed("bandit", home)
    assert tools.executable("bandit", home) is None


# -- resolution -------------------------------------------------------------------------


@pytest.fixture
def path_bandit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A bandit on PATH (and only that directory on PATH)."""
    bindir = tmp_path / "pathbin"
    bindir.mkdir()
    exe = bindir / "bandit"
    exe.write_text("#!/bin/sh\necho 'bandit 0.0.1'\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(bindir))
    return exe


def _resolve(mode: str, home: Path, configured: str | None = None) -> str:
    return resolve_executable("bandit", "bandit", configured, "pip install bandit", mode, home=home)  # type: ignore[arg-type]


def test_auto_and_managed_use_the_managed_environment(
    managed_bandit: Path, path_bandit: Path
) -> None:
    managed = str(managed_bandit / "bandit-1.9.4" / "bin" / "bandit")
    assert _resolve("auto", managed_bandit) == managed
    assert _resolve("managed", managed_bandit) == managed
    assert _resolve("path", managed_bandit) == str(path_bandit)
    located = tools.locate("bandit", "bandit", None, "x", "auto", home=managed_bandit)
    assert located.source == "managed" and "bandit-1.9.4" in located.reason


def test_auto_falls_back_to_path_and_managed_does_not(tmp_path: Path, path_bandit: Path) -> None:
    empty = tmp_path / "empty"
    assert _resolve("auto", empty) == str(path_bandit)
    with pytest.raises(ScannerError) as info:
        _resolve("managed", empty)
    assert "not installed" in info.value.message
    assert "turbosec tools install bandit" in (info.value.hint or "")


def test_configured_executable_wins(
    managed_bandit: Path, path_bandit: Path, tmp_path: Path
) -> None:
    own = tmp_path / "my-bandit"
    own.write_text("#!/bin/sh\n")
    own.chmod(0o755)
    for mode in ("auto", "managed", "path"):
        assert _resolve(mode, managed_bandit, configured=str(own)) == str(own)
    with pytest.raises(ScannerError, match="configured executable"):
        _resolve("managed", managed_bandit, configured=str(tmp_path / "absent"))


def test_path_mode_missing_program_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ScannerError) as info:
        resolve_executable("bandit", "turbosec-no-such-program", None, "pip install x", "path")
    assert "was not found on PATH" in info.value.message
    assert "pip install x" in (info.value.hint or "")


def test_scan_in_managed_mode_fails_closed_with_the_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from turbosec.scan.runner import ScanRequest, run_scan

    monkeypatch.setenv("TURBOSEC_HOME", str(tmp_path / "home"))
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "app.py").write_text("import os\n")
    outcome = run_scan(ScanRequest(root=repo, config=Config(tools="managed"), only=("bandit",)))
    assert outcome.exit_code == 2
    [failure] = outcome.failures
    assert failure.scanner == "bandit"
    assert "turbosec tools install bandit" in (failure.hint or "")


# -- doctor -----------------------------------------------------------------------------


def _only(name: str, **settings: object) -> Config:
    scanners = {
        n.replace("-", "_"): ScannerConfig(enabled=(n == name), **settings)  # type: ignore[arg-type]
        for n in tools.PINS
    }
    return Config(tools="managed", scanners=ScannersConfig(**scanners))


def test_doctor_reports_managed_version_and_pin(managed_bandit: Path) -> None:
    results = {d.scanner: d for d in tools.diagnose(_only("bandit"), home=managed_bandit)}
    bandit = results["bandit"]
    assert bandit.enabled and bandit.usable
    assert bandit.located.source == "managed"
    assert bandit.version == "1.9.4" and bandit.matches_pin is True
    assert bandit.errors == () and bandit.warnings == ()
    semgrep = results["semgrep"]
    assert not semgrep.enabled and not semgrep.usable  # managed mode, not installed


def test_doctor_flags_a_package_overwritten_by_another(tmp_path: Path) -> None:
    """detect-secrets next to bc-detect-secrets: both ship the detect_secrets package."""
    house = tmp_path / "wheels"
    build_wheel(house, "detect-secrets", "1.5.0")
    build_wheel(
        house,
        "bc-detect-secrets",
        "1.5.52",
        program="bc-detect-secrets",
        module="detect_secrets",
        main="def main():\n    print('1.5.52')\n",
    )
    home = tmp_path / "tools"
    # bc-detect-secrets installed second, as checkov's dependency would be.
    tools.install(
        "detect-secrets", pip_args=(*offline(house), "bc-detect-secrets==1.5.52"), home=home
    )
    [ds] = [
        d
        for d in tools.diagnose(_only("detect-secrets"), home=home)
        if d.scanner == "detect-secrets"
    ]
    assert ds.usable
    assert ds.version == "1.5.52" and ds.matches_pin is False
    text = "\n".join(ds.warnings)
    assert "differs from the pinned 1.5.0" in text
    assert "'detect_secrets' is also installed by bc-detect-secrets" in text
    assert any("--force detect-secrets" in h for h in ds.hints)


def test_doctor_names_a_broken_program(tmp_path: Path) -> None:
    broken = tmp_path / "bandit"
    broken.write_text("#!/bin/sh\necho 'ImportError: no module named bandit' >&2\nexit 3\n")
    broken.chmod(0o755)
    [bandit] = [
        d
        for d in tools.diagnose(_only("bandit", executable=str(broken)), home=tmp_path / "t")
        if d.scanner == "bandit"
    ]
    assert not bandit.usable
    assert bandit.located.source == "configured"
    assert "exited with code 3" in bandit.errors[0]
    assert "ImportError" in bandit.errors[0]
