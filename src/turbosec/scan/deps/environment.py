"""The packages installed in a Python environment, read through its own interpreter.

The interpreter is asked (isolated mode, no site customisation of ours) to list its
distributions with :mod:`importlib.metadata`; nothing is imported from the environment
into turbosec.  The answer is bounded in size and time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess  # nosec B404 - runs a user-named interpreter with a fixed argument list
from pathlib import Path

from turbosec.core.errors import TurbosecError
from turbosec.scan.deps.lockfiles import Dependency

TIMEOUT_S = 60.0
MAX_OUTPUT_BYTES = 32 * 1024 * 1024

# Runs inside the audited interpreter: prints [[name, version, metadata path], ...].
_LIST_SCRIPT = """
import json, sys
try:
    from importlib import metadata
except ImportError:
    sys.exit(3)
out = []
for dist in metadata.distributions():
    name = dist.metadata.get("Name")
    if not name:
        continue
    where = getattr(dist, "_path", None)
    out.append([name, dist.version, str(where) if where is not None else ""])
json.dump(out, sys.stdout)
"""


class InterpreterError(TurbosecError):
    """The interpreter could not be run or did not list its packages."""


def installed_packages(python: str, *, timeout: float = TIMEOUT_S) -> list[Dependency]:
    """Every distribution installed for interpreter ``python`` (path or name on PATH)."""
    found = shutil.which(python) if "/" not in python else None
    exe = Path(found) if found else Path(python).expanduser()
    if not exe.exists():
        raise InterpreterError(
            "no such Python interpreter",
            where=python,
            hint="pass the interpreter of the environment to audit, e.g. .venv/bin/python",
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    try:
        done = subprocess.run(  # nosec B603 - argument list, no shell
            [str(exe), "-I", "-c", _LIST_SCRIPT],
            capture_output=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise InterpreterError(
            f"did not list its packages within {timeout:g} s", where=python
        ) from exc
    except OSError as exc:
        raise InterpreterError(
            f"cannot run it: {exc.strerror or exc}",
            where=python,
            hint="check that the path names a Python interpreter and that it is executable",
        ) from exc
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise InterpreterError(
            f"exited with code {done.returncode} while listing its packages"
            + (f": {' / '.join(tail)}" if tail else ""),
            where=python,
            hint="the interpreter must be Python 3.8 or newer",
        )
    if len(done.stdout) > MAX_OUTPUT_BYTES:
        raise InterpreterError("listed more package data than turbosec reads", where=python)
    try:
        rows = json.loads(done.stdout)
    except ValueError as exc:
        raise InterpreterError(f"printed no package list ({exc})", where=python) from exc
    deps: list[Dependency] = []
    seen: set[tuple[str, str]] = set()
    for row in rows if isinstance(rows, list) else []:
        if not (isinstance(row, list) and len(row) == 3 and all(isinstance(x, str) for x in row)):
            raise InterpreterError("printed a malformed package list", where=python)
        name, version, where = row
        key = (name.lower(), version)
        if key in seen:  # the same distribution on two sys.path entries
            continue
        seen.add(key)
        metadata = str(Path(where) / "METADATA") if where else python
        deps.append(Dependency("PyPI", name, version, metadata, 0, direct=None))
    deps.sort(key=lambda d: (d.name.lower(), d.version or ""))
    return deps
