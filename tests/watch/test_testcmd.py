"""``watch test`` without the CLI framework: the same answers as the full CLI, or none."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from turbosec.watch import generate as gen
from turbosec.watch.testcmd import _read_args, quick_main

TURBOSEC = str(Path(sys.executable).parent / "turbosec")
JAIL = str(Path(__file__).resolve().parents[2] / "src/turbosec/watch/rules/pack/sshd_jail.yml")
QUICK = (
    "import sys; from turbosec.watch.testcmd import quick_main; sys.exit(quick_main(sys.argv[1:]))"
)


def _env() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}


def _run(argv: list[str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(argv, capture_output=True, timeout=120, check=False, env=_env())


def _without_times(document: dict[str, Any]) -> dict[str, Any]:
    stats = dict(document["stats"])
    for key in ("seconds", "lines_per_second", "events_per_second"):
        stats.pop(key)
    return {**document, "stats": stats}


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["watch", "test", "r.yml", "a.log", "--json"],
            {"rules": "r.yml", "events": ["a.log"], "as_json": True},
        ),
        (
            ["-q", "watch", "test", "--format", "sshd", "r.yml", "a.log", "b.log"],
            {"rules": "r.yml", "events": ["a.log", "b.log"], "quiet": True, "fmt": "sshd"},
        ),
        (
            ["--no-color", "watch", "test", "builtin", "-f", "sshd", "a.log", "--with-builtin"],
            {"rules": "builtin", "events": ["a.log"], "fmt": "sshd", "with_builtin": True},
        ),
        (["watch", "test", "--format=owasp-json", "r", "a"], {"rules": "r", "events": ["a"],
                                                             "fmt": "owasp-json"}),
    ],
)  # fmt: skip
def test_the_usual_command_lines_are_read(argv: list[str], expected: dict[str, Any]) -> None:
    defaults = {"fmt": None, "with_builtin": False, "as_json": False, "quiet": False}
    assert _read_args(argv) == {**defaults, **expected}


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["watch"],
        ["watch", "test"],
        ["watch", "test", "r.yml"],  # no log: the CLI's usage error
        ["watch", "test", "r.yml", "-"],  # stdin is read once, by the CLI
        ["watch", "test", "r.yml", "a.log", "--help"],
        ["watch", "test", "r.yml", "a.log", "--", "b.log"],
        ["watch", "test", "r.yml", "a.log", "--format"],
        ["watch", "test", "r.yml", "a.log", "-f", "sshd", "-f", "sshd"],
        ["watch", "test", "r.yml", "a.log", "--jsn"],
        ["-v", "watch", "test", "r.yml", "a.log"],
        ["--config", "x.toml", "watch", "test", "r.yml", "a.log"],
        ["watch", "run", "a.log"],
        ["scan", "."],
    ],
)
def test_anything_else_is_left_to_the_cli(argv: list[str]) -> None:
    assert _read_args(argv) is None
    assert quick_main(argv) is None


def test_errors_are_left_to_the_cli(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text("Nov 27 10:00:01 host sshd[7]: Accepted password for a from 1.2.3.4 port 5\n")
    assert quick_main(["watch", "test", str(tmp_path / "missing.yml"), str(log)]) is None
    assert quick_main(["watch", "test", JAIL, str(tmp_path / "missing.log")]) is None
    assert quick_main(["watch", "test", JAIL, str(log), "--format", "nope"]) is None


def test_the_same_output_as_the_cli(tmp_path: Path) -> None:
    log = gen.generate_sshd(4, hours=4, lines=3000)
    path = log.write(tmp_path / "auth.log")
    for extra in (["--json"], []):
        argv = ["watch", "test", JAIL, str(path), *extra]
        quick = _run([sys.executable, "-c", QUICK, *argv])
        full = _run([TURBOSEC, *argv])
        assert quick.returncode == full.returncode == 0, quick.stderr + full.stderr
        if extra:
            got, want = orjson.loads(quick.stdout), orjson.loads(full.stdout)
            assert got["alerts"], "the log has attacks"
            assert _without_times(got) == _without_times(want)
        else:
            # the statistics line holds the time taken: compare everything else
            def lines(out: bytes) -> list[str]:
                return [x for x in out.decode().splitlines() if " events in " not in x]

            assert lines(quick.stdout) == lines(full.stdout)
            assert " id=" in quick.stdout.decode()
