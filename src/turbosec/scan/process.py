"""Running a scanner program.

Argument lists only, a timeout, and the whole process group killed when it expires.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import time
from pathlib import Path

from turbosec.core.errors import ScannerError
from turbosec.scan import tools
from turbosec.scan.base import RunResult
from turbosec.scan.tools import ToolsMode

STDERR_TAIL_LINES = 15


def stderr_tail(stderr: bytes, lines: int = STDERR_TAIL_LINES) -> str:
    text = stderr.decode("utf-8", "replace").rstrip()
    return "\n".join(text.splitlines()[-lines:])


def resolve_executable(
    scanner: str,
    program: str,
    configured: str | None,
    install_hint: str,
    tools_mode: ToolsMode = "auto",
    *,
    home: Path | None = None,
) -> str:
    """Find the program to run, following the ``tools`` setting (see :func:`tools.locate`).

    The configured ``scanners.<name>.executable`` wins; then, by ``tools_mode``: ``managed``
    only turbosec's pinned environment, ``path`` only PATH (and the directory of this Python),
    ``auto`` the managed environment when installed, else PATH.
    """
    located = tools.locate(scanner, program, configured, install_hint, tools_mode, home=home)
    if located.path is None:
        raise located.error or ScannerError(scanner, located.reason)
    return located.path


def run_process(
    scanner: str, argv: tuple[str, ...], cwd: Path, extra_env: dict[str, str], timeout: float
) -> RunResult:
    env = dict(os.environ)
    env.update(extra_env)
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            list(argv),
            cwd=str(cwd),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise ScannerError(
            scanner,
            f"cannot start '{argv[0]}': not found",
            hint="check that the scanner is installed",
        ) from exc
    except PermissionError as exc:
        raise ScannerError(
            scanner,
            f"cannot start '{argv[0]}': permission denied",
            hint="make the program executable or point scanners.<name>.executable elsewhere",
        ) from exc
    except OSError as exc:
        what = "not a valid executable" if exc.errno == errno.ENOEXEC else exc.strerror
        raise ScannerError(
            scanner,
            f"cannot start '{argv[0]}': {what}",
            hint="the program on PATH is broken; reinstall it (pip install 'turbosec[scanners]')",
        ) from exc
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        _kill_group(proc)
        _, stderr = proc.communicate()
        raise ScannerError(
            scanner,
            f"timed out after {timeout:g} s and was stopped",
            hint=f"raise scanners.{scanner}.timeout, exclude generated or vendored paths, "
            "or mark the scanner optional",
            stderr_tail=stderr_tail(stderr or b""),
        ) from exc
    except BaseException:
        _kill_group(proc)
        proc.communicate()
        raise
    return RunResult(
        returncode=proc.returncode,
        stdout=stdout,
        stderr=stderr,
        duration_s=time.monotonic() - started,
    )


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
