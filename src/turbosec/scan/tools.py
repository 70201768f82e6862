"""Scanner tool environments: each scanner pinned, in its own virtual environment.

Scanner programs bring their own dependencies, and those conflict: checkov pulls in
``bc-detect-secrets``, whose ``detect_secrets`` package overwrites the files of Yelp's
``detect-secrets`` when both share an environment.  So, like pre-commit, turbosec can install
every scanner at a pinned version into an environment of its own::

    <tools home>/<scanner>-<version>/        a venv (stdlib ``venv``), filled by its own pip
    <tools home>/<scanner>-<version>/bin/<program>
    <tools home>/<scanner>-<version>/turbosec-tool.json   marker: version, python, time

The tools home is ``$TURBOSEC_HOME/tools``, else ``$XDG_CACHE_HOME/turbosec/tools``, else
``~/.cache/turbosec/tools``.

An install is atomic: the environment is built in a temporary directory next to its final
place and renamed into place only once pip succeeded and the marker is written, so a failed
or interrupted install never leaves a half environment behind.  A venv is not relocatable
(pip writes the interpreter's absolute path into every script), so the temporary directory's
name has the same length as the final one and those paths are rewritten before the rename.

``locate`` decides which program a scan runs, following ``Config.tools``:
``managed`` only the managed environment, ``path`` only PATH (and the directory of the
Python running turbosec), ``auto`` the managed environment when installed, else PATH.  A
configured ``scanners.<name>.executable`` always wins.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import venv
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Literal

from turbosec import __version__
from turbosec.core.config import Config
from turbosec.core.errors import ScannerError, UsageError
from turbosec.scan import adapters
from turbosec.scan.base import InProcessScanner, Scanner

ToolsMode = Literal["auto", "managed", "path"]
Source = Literal["configured", "managed", "path", "missing", "builtin"]

MARKER = "turbosec-tool.json"
PIP_TIMEOUT_S = 1800.0  # semgrep and checkov are large; a slow mirror needs minutes
VENV_TIMEOUT_S = 300.0
VERSION_TIMEOUT_S = 60.0
PROBE_TIMEOUT_S = 30.0
STALE_TEMP_S = 24 * 3600.0
TAIL_LINES = 15

_TEMP_RE = re.compile(r"\.t[0-9a-f]{8,}")
_TRASH_RE = re.compile(r"\.old-[0-9a-f]{8,}")
# Environment variables that would send pip's installation somewhere else than the new venv,
# or leak other packages into the tool's interpreter.
_DROPPED_ENV = (
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONUSERBASE",
    "PIP_USER",
    "PIP_TARGET",
    "PIP_PREFIX",
    "PIP_ROOT",
    "PIP_REQUIRE_VIRTUALENV",
    "VIRTUAL_ENV",
    "__PYVENV_LAUNCHER__",
)
# What every version probe needs: semgrep hangs ~90 s offline without these.
_VERSION_ENV = {
    "SEMGREP_ENABLE_VERSION_CHECK": "0",
    "SEMGREP_SEND_METRICS": "off",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
}


@dataclass(frozen=True)
class ToolSpec:
    """One scanner as turbosec installs it: a pip package at a pinned version."""

    name: str  # scanner name, as in the adapters registry and the configuration
    package: str  # distribution name on the package index
    version: str  # the pin
    program: str  # console script the package installs
    module: str | None = None  # its Python import package (None for a native program)

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    @property
    def env_name(self) -> str:
        return f"{self.name}-{self.version}"


# The versions turbosec's adapters are tested against; bump together with the fixtures.
PINS: dict[str, ToolSpec] = {
    spec.name: spec
    for spec in (
        ToolSpec("semgrep", "semgrep", "1.185.0", "semgrep", "semgrep"),
        ToolSpec("bandit", "bandit", "1.9.4", "bandit", "bandit"),
        ToolSpec("detect-secrets", "detect-secrets", "1.5.0", "detect-secrets", "detect_secrets"),
        ToolSpec("checkov", "checkov", "3.3.30", "checkov", "checkov"),
        ToolSpec("zizmor", "zizmor", "1.32.0", "zizmor", None),
        ToolSpec("pip-audit", "pip-audit", "2.10.1", "pip-audit", "pip_audit"),
    )
}


def spec_for(name: str) -> ToolSpec:
    spec = PINS.get(name)
    if spec is None:
        raise UsageError(
            f"unknown scanner '{name}'",
            hint="turbosec manages these scanners: " + ", ".join(PINS),
        )
    return spec


def _spec(tool: str | ToolSpec) -> ToolSpec:
    return tool if isinstance(tool, ToolSpec) else spec_for(tool)


def tools_home(environ: Mapping[str, str] | None = None) -> Path:
    """``$TURBOSEC_HOME/tools``, else ``$XDG_CACHE_HOME/turbosec/tools``, else ``~/.cache/...``."""
    env = os.environ if environ is None else environ
    if env.get("TURBOSEC_HOME"):
        return Path(env["TURBOSEC_HOME"]).expanduser() / "tools"
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]).expanduser() / "turbosec" / "tools"
    return Path.home() / ".cache" / "turbosec" / "tools"


def env_dir(tool: str | ToolSpec, home: Path | None = None) -> Path:
    return (home or tools_home()) / _spec(tool).env_name


def _bin(env: Path) -> Path:
    return env / ("Scripts" if os.name == "nt" else "bin")


def _python(env: Path) -> Path:
    return _bin(env) / ("python.exe" if os.name == "nt" else "python")


# -- marker -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Marker:
    """What ``turbosec-tool.json`` records about one environment."""

    scanner: str
    package: str
    version: str
    program: str
    python: str
    installed_at: str
    turbosec: str
    pip_args: tuple[str, ...] = ()


def read_marker(env: Path) -> Marker | None:
    try:
        data = json.loads((env / MARKER).read_text(encoding="utf-8"))
        return Marker(
            scanner=str(data["scanner"]),
            package=str(data["package"]),
            version=str(data["version"]),
            program=str(data["program"]),
            python=str(data["python"]),
            installed_at=str(data["installed_at"]),
            turbosec=str(data.get("turbosec", "")),
            pip_args=tuple(str(a) for a in data.get("pip_args", ())),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_marker(env: Path, spec: ToolSpec, pip_args: Sequence[str]) -> None:
    data = {
        "scanner": spec.name,
        "package": spec.package,
        "version": spec.version,
        "program": spec.program,
        "python": platform.python_version(),
        "installed_at": datetime.datetime.now(UTC).isoformat(timespec="seconds"),
        "turbosec": __version__,
        "pip_args": list(pip_args),
    }
    (env / MARKER).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


# -- state ------------------------------------------------------------------------------


def _is_exe(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def installed(tool: str | ToolSpec, home: Path | None = None) -> bool:
    """True when the pinned version's environment is complete and its interpreter exists."""
    spec = _spec(tool)
    env = env_dir(spec, home)
    marker = read_marker(env)
    return (
        marker is not None
        and marker.version == spec.version
        and marker.package == spec.package
        and _is_exe(_bin(env) / spec.program)
        and _is_exe(_python(env))  # a removed or upgraded base Python breaks the venv
    )


def executable(tool: str | ToolSpec, home: Path | None = None) -> Path | None:
    """The program in the scanner's managed environment, or None when not installed."""
    spec = _spec(tool)
    if not installed(spec, home):
        return None
    return _bin(env_dir(spec, home)) / spec.program


def other_versions(tool: str | ToolSpec, home: Path | None = None) -> list[str]:
    """Versions of this scanner installed besides the pin (left by an older turbosec)."""
    spec = _spec(tool)
    root = home or tools_home()
    found: list[str] = []
    if not root.is_dir():
        return found
    for entry in sorted(root.iterdir()):
        marker = read_marker(entry)
        if marker is not None and marker.scanner == spec.name and marker.version != spec.version:
            found.append(marker.version)
    return found


def uninstall(tool: str | ToolSpec, home: Path | None = None, *, all_versions: bool = False) -> int:
    """Remove the scanner's environment (every version with ``all_versions``); count removed."""
    spec = _spec(tool)
    root = home or tools_home()
    targets = [env_dir(spec, root)]
    if all_versions and root.is_dir():
        targets += [
            entry
            for entry in root.iterdir()
            if (m := read_marker(entry)) is not None and m.scanner == spec.name
        ]
    removed = 0
    for target in dict.fromkeys(targets):
        if not (target.exists() or target.is_symlink()):
            continue
        # Rename first, so a concurrent scan sees either the whole environment or none.
        trash = root / f".old-{secrets.token_hex(6)}"
        try:
            target.rename(trash)
        except OSError as exc:
            raise ScannerError(
                spec.name,
                f"cannot remove the environment: {exc.strerror or exc}",
                where=str(target),
                hint="check the permissions of the tools directory",
            ) from exc
        shutil.rmtree(trash, ignore_errors=True)
        removed += 1
    return removed


# -- subprocesses -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Done:
    returncode: int
    stdout: str
    stderr: str


def _tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _run(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> _Done:
    """Run an argument list; on timeout kill its whole process group and raise TimeoutExpired."""
    proc = subprocess.Popen(
        list(argv),
        cwd=str(cwd) if cwd else None,
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()
        proc.communicate()
        raise
    return _Done(proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # pyc files are compiled once, for the final path
    return env


# -- install ----------------------------------------------------------------------------


@dataclass(frozen=True)
class InstallResult:
    spec: ToolSpec
    env: Path
    executable: Path
    already: bool  # it was installed before; nothing done
    duration_s: float = 0.0


def install(
    tool: str | ToolSpec,
    *,
    pip_args: Sequence[str] = (),
    force: bool = False,
    home: Path | None = None,
    timeout: float = PIP_TIMEOUT_S,
) -> InstallResult:
    """Install the scanner at its pinned version into its own environment, atomically.

    ``pip_args`` go to ``pip install`` before the requirement, for example
    ``("--no-index", "--find-links", "/wheels")`` on an air-gapped machine.
    Raises :class:`ScannerError` (with pip's last lines) when the install fails; nothing
    is left behind then.
    """
    spec = _spec(tool)
    root = home or tools_home()
    target = env_dir(spec, root)
    if not force and installed(spec, root):
        return InstallResult(spec, target, _bin(target) / spec.program, already=True)
    started = time.monotonic()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ScannerError(
            spec.name,
            f"cannot create the tools directory: {exc.strerror}",
            where=str(root),
            hint="set TURBOSEC_HOME to a writable directory",
        ) from exc
    _sweep(root)
    tmp = _temp_dir(root, target.name)
    try:
        _create_venv(spec, tmp)
        _pip_install(spec, tmp, pip_args, timeout)
        if not _is_exe(_bin(tmp) / spec.program):
            raise ScannerError(
                spec.name,
                f"{spec.requirement} installed, but it provides no program '{spec.program}'",
                hint="the package on your index is not the expected scanner; check the index "
                "or the wheels passed with --pip-arg",
            )
        _write_marker(tmp, spec, pip_args)
        _relocate(tmp, target)
        _compile(tmp, target)
        already = _publish(spec, tmp, target, root, force=force)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return InstallResult(
        spec,
        target,
        _bin(target) / spec.program,
        already=already,
        duration_s=time.monotonic() - started,
    )


def _temp_dir(root: Path, final_name: str) -> Path:
    # Same length as the final name, so pip chooses the same script header for both paths
    # (it switches to a /bin/sh trampoline for long interpreter paths).
    width = max(8, len(final_name) - 2)
    for _ in range(100):
        candidate = root / (".t" + secrets.token_hex(width)[:width])
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise ScannerError("tools", "cannot create a temporary directory", where=str(root))


def _sweep(root: Path) -> None:
    """Remove temporary and trash directories left by installs that were killed long ago."""
    now = time.time()
    for entry in root.iterdir():
        if not (_TEMP_RE.fullmatch(entry.name) or _TRASH_RE.fullmatch(entry.name)):
            continue
        try:
            if now - entry.stat().st_mtime > STALE_TEMP_S:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            continue


def _create_venv(spec: ToolSpec, env: Path) -> None:
    try:
        venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt", clear=True).create(env)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ScannerError(
            spec.name,
            f"cannot create a virtual environment: {exc}",
            where=str(env),
            hint="check the disk space and permissions of the tools directory",
        ) from exc
    argv = [str(_python(env)), "-m", "ensurepip", "--upgrade", "--default-pip"]
    try:
        done = _run(argv, timeout=VENV_TIMEOUT_S, env=_clean_env())
    except subprocess.TimeoutExpired as exc:
        raise ScannerError(
            spec.name,
            f"setting up pip in the new environment timed out after {VENV_TIMEOUT_S:g} s",
            hint="check the machine's load and the disk",
        ) from exc
    if done.returncode != 0:
        raise ScannerError(
            spec.name,
            f"cannot set up pip in a new virtual environment (ensurepip exited {done.returncode})",
            hint="this Python lacks ensurepip; install it (on Debian/Ubuntu: apt install "
            'python3-venv) or use scanners from PATH with tools = "path"',
            stderr_tail=_tail(done.stderr or done.stdout),
        )


def _pip_install(spec: ToolSpec, env: Path, pip_args: Sequence[str], timeout: float) -> None:
    argv = [
        str(_python(env)),
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--no-warn-script-location",
        "--no-compile",
        *pip_args,
        spec.requirement,
    ]
    try:
        done = _run(argv, timeout=timeout, env=_clean_env())
    except subprocess.TimeoutExpired as exc:
        raise ScannerError(
            spec.name,
            f"pip install {spec.requirement} timed out after {timeout:g} s and was stopped",
            hint="check the network or the package index; on a slow mirror raise --timeout",
        ) from exc
    except OSError as exc:
        raise ScannerError(
            spec.name,
            f"cannot run pip of the new environment: {exc.strerror}",
            where=str(env),
        ) from exc
    if done.returncode != 0:
        raise ScannerError(
            spec.name,
            f"pip could not install {spec.requirement} (exit {done.returncode}); "
            "nothing was installed",
            hint="check the network and pip's configuration (index URL, proxy, certificates); "
            "offline, download the wheels elsewhere (pip download) and pass "
            "--pip-arg=--no-index --pip-arg=--find-links=DIR",
            stderr_tail=_tail(done.stderr or done.stdout),
        )


def _relocate(tmp: Path, target: Path) -> None:
    """Point the environment's scripts at its final path (a venv records absolute paths)."""
    old = os.fsencode(str(tmp))
    new = os.fsencode(str(target))
    files = [tmp / "pyvenv.cfg"]
    bindir = _bin(tmp)
    files += [p for p in bindir.iterdir() if p.is_file() and not p.is_symlink()]
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if old in data and b"\0" not in data:  # text only: native programs stay untouched
            path.write_bytes(data.replace(old, new))


def _compile(tmp: Path, target: Path) -> None:
    """Byte-compile the installed packages with their final paths (best effort)."""
    argv = [
        str(_python(tmp)),
        "-m",
        "compileall",
        "-q",
        "-j",
        "0",
        "-s",
        str(tmp),
        "-p",
        str(target),
        str(tmp / "lib"),
    ]
    with contextlib.suppress(subprocess.TimeoutExpired, OSError):  # else: on first import
        _run(argv, timeout=VENV_TIMEOUT_S, env=_clean_env())


def _publish(spec: ToolSpec, tmp: Path, target: Path, root: Path, *, force: bool) -> bool:
    """Rename the finished environment into place; True if another install won the race."""
    if not force and installed(spec, root):
        # A concurrent install finished first; a scan may already be using it: keep it.
        shutil.rmtree(tmp, ignore_errors=True)
        return True
    trash: Path | None = None
    try:
        if target.exists() or target.is_symlink():
            # An older or broken environment of the same version (or --force): set it aside,
            # so the final path holds either the old environment or the new one, whole.
            trash = root / f".old-{secrets.token_hex(6)}"
            target.rename(trash)
        tmp.rename(target)
    except OSError as exc:
        if installed(spec, root):  # a concurrent install finished first: keep that one
            shutil.rmtree(tmp, ignore_errors=True)
            if trash is not None:
                shutil.rmtree(trash, ignore_errors=True)
            return True
        if trash is not None and not target.exists():
            with contextlib.suppress(OSError):
                trash.rename(target)
        raise ScannerError(
            spec.name,
            f"cannot move the new environment into place: {exc.strerror or exc}",
            where=str(target),
            hint="check the permissions of the tools directory and retry",
        ) from exc
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)
    return False


# -- resolution -------------------------------------------------------------------------


@dataclass(frozen=True)
class Located:
    """Which program a scan would run for one scanner, and why."""

    scanner: str
    source: Source
    path: str | None
    reason: str
    error: ScannerError | None = None


def locate(
    scanner: str,
    program: str,
    configured: str | None,
    install_hint: str,
    mode: ToolsMode = "auto",
    *,
    home: Path | None = None,
) -> Located:
    """Find the program to run for ``scanner`` under the ``tools`` setting ``mode``."""
    if configured:
        found = shutil.which(configured)
        if found:
            return Located(scanner, "configured", found, f"scanners.{scanner}.executable")
        return Located(
            scanner,
            "missing",
            None,
            f"scanners.{scanner}.executable = {configured!r} is not an executable program",
            ScannerError(
                scanner,
                f"the configured executable {configured!r} was not found or is not executable",
                hint=f"fix scanners.{scanner}.executable in the configuration",
            ),
        )
    spec = PINS.get(scanner)
    if mode in ("managed", "auto") and spec is not None:
        managed = executable(spec, home)
        if managed is not None:
            return Located(scanner, "managed", str(managed), f"environment {spec.env_name}")
    if mode == "managed":
        if spec is None:
            return Located(
                scanner,
                "missing",
                None,
                "turbosec has no managed environment for it",
                ScannerError(
                    scanner,
                    'turbosec does not manage this scanner, and tools = "managed"',
                    hint=f'set scanners.{scanner}.executable, or tools = "auto"',
                ),
            )
        where = env_dir(spec, home)
        return Located(
            scanner,
            "missing",
            None,
            f'tools = "managed" and {spec.requirement} is not installed in {where}',
            ScannerError(
                scanner,
                f"its managed environment ({spec.requirement}) is not installed",
                where=str(where),
                hint=f'run: turbosec tools install {scanner}  (or set tools = "auto" to use '
                "PATH, or disable the scanner)",
            ),
        )
    auto = mode == "auto" and spec is not None
    found = shutil.which(program)
    if found:
        return Located(
            scanner, "path", found, "on PATH" + (" (no managed environment)" if auto else "")
        )
    sibling = Path(sys.executable).parent / program
    if _is_exe(sibling):
        return Located(
            scanner,
            "path",
            str(sibling),
            "next to the Python running turbosec" + (" (no managed environment)" if auto else ""),
        )
    missing = f"the program '{program}' was not found on PATH" + (
        " and no managed environment is installed" if auto else ""
    )
    return Located(
        scanner,
        "missing",
        None,
        missing,
        ScannerError(
            scanner,
            missing,
            hint=(f"run: turbosec tools install {scanner}; or " if auto else "")
            + f"install it ({install_hint}), disable the scanner with "
            f"scanners.{scanner}.enabled = false, or mark it optional",
        ),
    )


# -- doctor -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Diagnosis:
    """What ``turbosec tools doctor`` learnt about one scanner."""

    scanner: str
    enabled: bool
    optional: bool
    located: Located
    pinned: str | None
    version: str | None = None
    version_output: str | None = None
    errors: tuple[str, ...] = ()  # the scanner cannot run
    warnings: tuple[str, ...] = ()  # it runs, but not as pinned or not cleanly
    hints: tuple[str, ...] = ()

    @property
    def usable(self) -> bool:
        return self.located.path is not None and not self.errors

    @property
    def matches_pin(self) -> bool | None:
        if self.pinned is None or self.version is None:
            return None
        return self.version == self.pinned


def diagnose(
    config: Config,
    *,
    home: Path | None = None,
    cwd: Path | None = None,
    timeout: float = VERSION_TIMEOUT_S,
) -> list[Diagnosis]:
    """Check every scanner: which program, its real version, the pin, known conflicts."""
    known = adapters.registry()
    jobs: list[tuple[Scanner, bool, bool, Located]] = []
    for name, cls in known.items():
        cfg = config.scanners.for_scanner(name)
        enabled = cfg.enabled is True or (cfg.enabled is None and cls.enabled_by_default)
        if issubclass(cls, InProcessScanner):
            located = Located(name, "builtin", "(built in)", "runs inside turbosec")
            jobs.append((cls(), enabled, cfg.optional, located))
            continue
        located = locate(
            name, cls.program, cfg.executable, cls.install_hint, config.tools, home=home
        )
        jobs.append((cls(), enabled, cfg.optional, located))
    with ThreadPoolExecutor(max_workers=max(1, len(jobs)), thread_name_prefix="doctor") as pool:
        futures = [
            pool.submit(_diagnose_one, scanner, enabled, optional, located, cwd, timeout)
            for scanner, enabled, optional, located in jobs
        ]
        return [f.result() for f in futures]


def _diagnose_one(
    scanner: Scanner,
    enabled: bool,
    optional: bool,
    located: Located,
    cwd: Path | None,
    timeout: float,
) -> Diagnosis:
    spec = PINS.get(scanner.name)
    pinned = spec.version if spec else None
    errors: list[str] = []
    warnings: list[str] = []
    hints: list[str] = []
    if located.path is None:
        errors.append(located.error.message if located.error else located.reason)
        if located.error and located.error.hint:
            hints.append(located.error.hint)
        return Diagnosis(
            scanner.name, enabled, optional, located, pinned, None, None,
            tuple(errors), (), tuple(hints),
        )  # fmt: skip
    if not enabled:  # shown, not run: a disabled scanner cannot fail a scan
        return Diagnosis(scanner.name, enabled, optional, located, pinned)
    if isinstance(scanner, InProcessScanner):
        return Diagnosis(scanner.name, enabled, optional, located, None, scanner.version())
    version: str | None = None
    output: str | None = None
    argv = scanner.version_argv(located.path)
    env = {**os.environ, **_VERSION_ENV}
    try:
        done = _run(argv, timeout=timeout, env=env, cwd=cwd)
    except subprocess.TimeoutExpired:
        errors.append(f"'{' '.join(argv)}' did not answer within {timeout:g} s")
    except OSError as exc:
        errors.append(f"cannot start {located.path}: {exc.strerror or exc}")
        hints.append(_reinstall_hint(scanner.name, located))
    else:
        output = (done.stdout + done.stderr).strip()
        if done.returncode != 0:
            errors.append(
                f"'{' '.join(argv)}' exited with code {done.returncode}: "
                + (_tail(output, 3) or "no output")
            )
            hints.append(_reinstall_hint(scanner.name, located))
        else:
            version = scanner.parse_version(output)
            if version is None:
                warnings.append(f"cannot read a version in its output: {_tail(output, 2)!r}")
            elif pinned is not None and version != pinned:
                warnings.append(f"version {version} differs from the pinned {pinned}")
    if spec is not None and spec.module and not errors:
        owners = _module_owners(Path(located.path), spec.module)
        normal = {_normalise(o) for o in owners}
        expected = _normalise(spec.package)
        others = sorted(o for o in owners if _normalise(o) != expected)
        if others and expected in normal:
            warnings.append(
                f"its Python package '{spec.module}' is also installed by "
                f"{', '.join(others)}: whichever was installed last overwrote the other's "
                f"files, so this {scanner.name} may not be {spec.package} at all"
            )
        elif others:
            warnings.append(
                f"its Python package '{spec.module}' comes from {', '.join(others)}, "
                f"not from {spec.package}"
            )
    if warnings and located.source != "managed" and spec is not None:
        hints.append(
            f"run: turbosec tools install {scanner.name}  (an isolated, pinned environment; "
            'tools = "auto" or "managed" then uses it)'
        )
    elif warnings and located.source == "managed":
        hints.append(f"run: turbosec tools install --force {scanner.name}")
    return Diagnosis(
        scanner.name,
        enabled,
        optional,
        located,
        pinned,
        version,
        output,
        tuple(errors),
        tuple(warnings),
        tuple(dict.fromkeys(hints)),
    )


def _reinstall_hint(name: str, located: Located) -> str:
    if located.source == "managed":
        return f"run: turbosec tools install --force {name}"
    if located.source == "configured":
        return f"fix the program named in scanners.{name}.executable"
    return f"reinstall it, or run: turbosec tools install {name}"


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


_OWNERS_SNIPPET = (
    "import importlib.metadata as m, json, sys\n"
    "print(json.dumps(sorted(set(m.packages_distributions().get(sys.argv[1], [])))))\n"
)


def script_interpreter(program: Path) -> Path | None:
    """The Python a console script runs with, read from its header (None: not a script)."""
    try:
        with program.open("rb") as fh:
            head = fh.read(1024)
    except OSError:
        return None
    if not head.startswith(b"#!"):
        return None
    lines = head.decode("utf-8", "replace").splitlines()
    first = lines[0][2:].strip()
    if first in ("/bin/sh", "/usr/bin/env sh") and len(lines) > 1:
        # pip's trampoline for long paths: '''exec' "/path/to/python" "$0" "$@"
        match = re.match(r"""'''exec' (?:"([^"]+)"|(\S+))""", lines[1])
        if not match:
            return None
        first = match.group(1) or match.group(2)
    interpreter = first.split()[0] if first else ""
    if "python" not in Path(interpreter).name:
        return None
    return Path(interpreter)


def _module_owners(program: Path, module: str) -> list[str]:
    """Distributions that install ``module`` in the program's environment ([] if unknown)."""
    python = script_interpreter(program)
    if python is None or not _is_exe(python):
        return []
    try:
        done = _run(
            [str(python), "-I", "-c", _OWNERS_SNIPPET, module],
            timeout=PROBE_TIMEOUT_S,
            env=_clean_env(),
        )
        if done.returncode != 0:
            return []
        owners = json.loads(done.stdout)
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return []
    return [str(o) for o in owners] if isinstance(owners, list) else []
