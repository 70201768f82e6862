"""A real ``turbosec hub serve`` process for tests (a plain module, shared with tests/cli)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TURBOSEC = str(Path(sys.executable).parent / "turbosec")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TURBOSEC_HUB_")}
    env.update(extra)
    return env


@contextmanager
def running_hub(
    db_url: str, tmp_path: Path, *args: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``turbosec hub serve`` on a free port; yields its base URL and process."""
    port = free_port()
    err = (tmp_path / f"hub-{port}.err").open("wb")
    proc = subprocess.Popen(
        [TURBOSEC, "hub", "serve", "--db", db_url, "--port", str(port), *args],
        stdout=subprocess.DEVNULL,
        stderr=err,
        env=clean_env(),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/v1/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    "the hub did not start:\n" + (tmp_path / f"hub-{port}.err").read_text()
                )
            time.sleep(0.1)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)
        err.close()


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TURBOSEC, *args],
        capture_output=True,
        text=True,
        env=env or clean_env(),
        timeout=120,
        check=False,
    )
