"""``turbosec watch`` as users run it: real subprocesses on real, growing files.

The restart test kills the watcher with SIGKILL in the middle of a file and restarts it
from its checkpoint; the alerts it wrote must be exactly those of an uninterrupted replay
(``turbosec watch test``) of the same file -- none missing, none twice.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from turbosec.watch import generate as gen
from turbosec.watch.state import load_checkpoint

TURBOSEC = str(Path(sys.executable).parent / "turbosec")
WAIT = 60.0  # seconds any wait below may take before the test gives up


def _env() -> dict[str, str]:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("TURBOSEC_HOME", None)
    return env


def _cli(
    *args: str, stdin: bytes | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [TURBOSEC, *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
        env=_env(),
        cwd=cwd,
    )


def _start(*args: str, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [TURBOSEC, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        cwd=cwd,
    )


def _wait_for(
    what: str, check: Callable[[], bool], proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        if proc is not None and proc.poll() is not None:
            _out, err = proc.communicate()
            pytest.fail(
                f"the watcher exited ({proc.returncode}) while waiting for {what}: {err.decode()}"
            )
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def _alert_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def _replay_ids(log: Path, *extra: str) -> set[str]:
    done = _cli("watch", "test", "builtin", str(log), "--json", *extra)
    assert done.returncode == 0, done.stderr.decode()
    return {a["alert_id"] for a in orjson.loads(done.stdout)["alerts"]}


def _append(path: Path, lines: Sequence[str]) -> None:
    with open(path, "a", encoding="utf-8") as out:
        out.write("".join(line + "\n" for line in lines))


def _checkpoint_offset(state: Path) -> int:
    try:
        checkpoint = load_checkpoint(state)
    except Exception:  # being replaced right now; look again
        return -1
    if checkpoint is None or not checkpoint.sources:
        return -1
    return int(checkpoint.sources[0]["offset"])


def _stop(proc: subprocess.Popen[bytes]) -> tuple[str, str]:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 0, err.decode()
    return out.decode(), err.decode()


@pytest.fixture(scope="module")
def app_log() -> gen.LabelledLog:
    # about 12,000 OWASP JSON lines, attacks spread over the file
    return gen.generate_owasp(11, min_lines=12_000)


def test_kill_9_and_restart_gives_the_alerts_of_an_uninterrupted_run(
    tmp_path: Path, app_log: gen.LabelledLog
) -> None:
    full = tmp_path / "full.jsonl"
    app_log.write(full)
    expected = _replay_ids(full)
    assert len(expected) >= 8

    watched = tmp_path / "app.jsonl"
    watched.touch()
    alerts = tmp_path / "alerts.jsonl"
    state = tmp_path / "watch.state"
    args = (
        "-q", "watch", "app.jsonl", "--from-start", "--state", "watch.state",
        "--sink", "file:alerts.jsonl", "--checkpoint-every", "0.2",
    )  # fmt: skip
    lines = app_log.lines
    n = len(lines)
    cut1, cut2, cut3 = int(n * 0.35), int(n * 0.5), int(n * 0.75)

    proc = _start(*args, cwd=tmp_path)
    _append(watched, lines[:cut1])
    _wait_for("the first alerts", lambda: len(_alert_lines(alerts)) >= 2, proc)
    _wait_for(
        "a checkpoint of the first part",
        lambda: _checkpoint_offset(state) == watched.stat().st_size,
        proc,
    )
    # more lines, read after the last checkpoint; then the watcher dies without warning
    for start in range(cut1, cut2, 200):
        _append(watched, lines[start : min(start + 200, cut2)])
        time.sleep(0.01)
    time.sleep(0.3)
    proc.kill()
    proc.wait(timeout=WAIT)
    assert proc.returncode == -signal.SIGKILL
    before = {a["alert_id"] for a in _alert_lines(alerts)}
    assert before and before < expected

    _append(watched, lines[cut2:cut3])  # written while nobody watches
    proc = _start(*args, cwd=tmp_path)
    for start in range(cut3, n, 300):
        _append(watched, lines[start : min(start + 300, n)])
        time.sleep(0.01)
    size = watched.stat().st_size
    _wait_for("the end of the file", lambda: _checkpoint_offset(state) == size, proc)
    _stop(proc)

    written = _alert_lines(alerts)
    ids = [a["alert_id"] for a in written]
    assert len(ids) == len(set(ids)), "an alert was written twice"
    assert set(ids) == expected
    assert watched.read_bytes() == full.read_bytes()


def test_rotation_mid_run(tmp_path: Path) -> None:
    log = gen.generate_sshd(4)
    full = tmp_path / "full.log"
    log.write(full)
    expected = _replay_ids(full)
    half = len(log.lines) // 2

    watched = tmp_path / "auth.log"
    _append(watched, log.lines[:half])
    proc = _start(
        "-q", "watch", "auth.log", "--from-start", "--sink", "file:alerts.jsonl",
        "--state", "watch.state", "--checkpoint-every", "0.2", cwd=tmp_path,
    )  # fmt: skip
    _wait_for(
        "the first half",
        lambda: _checkpoint_offset(tmp_path / "watch.state") == watched.stat().st_size,
        proc,
    )
    # logrotate's default: rename, then the program writes to a new file
    watched.rename(tmp_path / "auth.log.1")
    _append(watched, log.lines[half:])
    size = watched.stat().st_size
    _wait_for("the new file", lambda: _checkpoint_offset(tmp_path / "watch.state") == size, proc)
    _stop(proc)
    ids = [a["alert_id"] for a in _alert_lines(tmp_path / "alerts.jsonl")]
    assert len(ids) == len(set(ids))
    assert set(ids) == expected
    got = {
        (a["rule_id"], tuple(a["group"].items())) for a in _alert_lines(tmp_path / "alerts.jsonl")
    }
    assert got == log.expected


def test_watch_test_prints_the_alerts_of_a_labelled_log(tmp_path: Path) -> None:
    log = gen.generate_access_log(2)
    path = log.write(tmp_path / "access.log")
    done = _cli("watch", "test", "builtin", str(path))
    assert done.returncode == 0, done.stderr.decode()
    out = done.stdout.decode()
    alert_lines = [line for line in out.splitlines() if " id=" in line]
    assert len(alert_lines) == 3
    assert sum("Flood of 401/403 answers" in line for line in alert_lines) == 2
    assert any("Web scanner" in line and "source_ip=203.0.113.72" in line for line in alert_lines)
    assert f"{len(log.lines):,} lines" in out
    assert "0 malformed" in out

    done = _cli("watch", "test", str(tmp_path / "none.yml"), str(path))
    assert done.returncode == 2

    done = _cli("watch", "test", "builtin", str(path), "--json")
    assert done.returncode == 0
    document = orjson.loads(done.stdout)
    got = {(a["rule_id"], tuple(a["group"].items())) for a in document["alerts"]}
    assert got == log.expected
    stats = document["stats"]
    assert stats["lines"] == len(log.lines)
    assert stats["parse"]["malformed"] == 0
    assert stats["sources"] == [
        {"name": str(path), "format": "access-log", "lines": len(log.lines)}
    ]


def test_watch_test_with_a_rule_file_and_format(tmp_path: Path) -> None:
    rule = tmp_path / "root.yml"
    rule.write_text(
        "title: Root login refused\n"
        "id: 0f6a4cde-5b0e-4d6e-9d43-8d0b4a4a5e10\n"
        "level: low\n"
        "logsource: {product: turbosec}\n"
        "detection:\n"
        "  sel: {event_type: authn_login_fail, user: root}\n"
        "  condition: sel\n"
    )
    log = gen.generate_sshd(1)
    path = log.write(tmp_path / "auth.log")
    done = _cli("watch", "test", str(rule), str(path), "--format", "sshd", "--json")
    assert done.returncode == 0, done.stderr.decode()
    alerts = orjson.loads(done.stdout)["alerts"]
    assert alerts and {a["rule_id"] for a in alerts} == {"0f6a4cde-5b0e-4d6e-9d43-8d0b4a4a5e10"}
    assert all(a["samples"][0]["user"] == "root" for a in alerts)


def test_rule_load_errors_say_what_where_and_what_to_do(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    bad = rules / "bad.yml"
    bad.write_text(
        "title: Typo\n"
        "id: 7d3f0b0e-7e57-4c1a-9a43-5a0c3e1f2b77\n"
        "name: typo_rule\n"
        "logsource: {product: turbosec}\n"
        "detection:\n"
        "  sel: {source_address: 203.0.113.9}\n"
        "  condition: sel\n"
    )
    log = tmp_path / "auth.log"
    gen.generate_sshd(1).write(log)
    for args in (
        ("watch", "test", str(bad), str(log)),
        ("watch", "test", str(rules), str(log)),
        ("watch", "--once", "--rules", str(rules), str(log)),
        ("watch", "rules", "list", "--rules", str(rules)),
    ):
        done = _cli(*args)
        err = done.stderr.decode()
        assert done.returncode == 2, (args, err)
        assert "bad.yml" in err and "typo_rule" in err, err
        assert "source_address" in err, err
        assert "Hint:" in err, err
        assert done.stdout == b""


def test_rules_list(tmp_path: Path) -> None:
    done = _cli("watch", "rules", "list", "--json")
    assert done.returncode == 0, done.stderr.decode()
    rows = orjson.loads(done.stdout)
    alerting = {row["id"] for row in rows if row["alerts"]}
    assert alerting == gen.PACK_ALERTING_RULES
    assert len(rows) == 21
    assert all(row["path"].startswith("builtin:") for row in rows)
    done = _cli("watch", "rules", "list")
    assert done.returncode == 0
    assert "credential_stuffing.yml" in done.stdout.decode()
    done = _cli("watch", "rules", "list", "--no-builtin")
    assert done.returncode == 2
    assert b"no rules" in done.stderr


def test_stdin(tmp_path: Path) -> None:
    log = gen.generate_sshd(6)
    done = _cli("-q", "watch", "-", "--sink", "json", stdin=log.text().encode())
    assert done.returncode == 0, done.stderr.decode()
    alerts = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert {(a["rule_id"], tuple(a["group"].items())) for a in alerts} == log.expected
    # watch test reads stdin too, with the same result
    done = _cli("watch", "test", "builtin", "-", "--json", stdin=log.text().encode())
    assert done.returncode == 0
    replayed = {a["alert_id"] for a in orjson.loads(done.stdout)["alerts"]}
    assert replayed == {a["alert_id"] for a in alerts}


def test_unknown_format_and_missing_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_text("hello\nworld\n")
    done = _cli("watch", "--once", "--from-start", str(junk))
    assert done.returncode == 2
    assert b"--format" in done.stderr and b"junk.txt" in done.stderr
    done = _cli("watch", "--once", "--format", "syslog", str(junk))
    assert done.returncode == 2
    assert b"owasp-json" in done.stderr
    done = _cli("watch", "test", "builtin", str(tmp_path / "missing.log"))
    assert done.returncode == 2
    assert b"missing.log" in done.stderr


def test_response_dry_run_says_what_it_would_do(tmp_path: Path) -> None:
    log = gen.generate_sshd(1)
    path = log.write(tmp_path / "auth.log")
    blocklist = tmp_path / "blocked.txt"
    done = _cli(
        "watch", "--once", "--from-start", str(path), "--sink", "json",
        "--blocklist", str(blocklist), "--ttl", "2h", "--allow", "203.0.113.60/32",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    assert not blocklist.exists()  # dry-run by default
    err = done.stderr.decode()
    assert "203.0.113.61" in err and "203.0.113.60" in err
    done = _cli(
        "watch", "--once", "--from-start", str(path), "--sink", "json",
        "--blocklist", str(blocklist), "--ttl", "2h", "--allow", "203.0.113.60/32", "--no-dry-run",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    blocked = blocklist.read_text()
    assert "203.0.113.61" in blocked and "203.0.113.60" not in blocked


# --- in-process: the runner's reading and its status line -----------------------------------


def test_replay_reads_crlf_junk_and_an_unfinished_last_line(tmp_path: Path) -> None:
    from turbosec.watch.rules.loader import load_rules
    from turbosec.watch.runner import replay

    log = gen.generate_sshd(3)
    clean = log.write(tmp_path / "clean.log")
    lines = [line.encode() for line in log.lines]
    half = len(lines) // 2
    too_long = b"Jun  1 06:00:00 bastion sshd[1]: Failed password for " + b"a" * 70_000
    messy = (
        b"\r\n".join(lines[:half])
        + b"\r\n"
        + too_long
        + b" from 192.0.2.1 port 1 ssh2\n"
        + b"\xff\xfe not syslog, but it says sshd\n"
        + b"\n".join(lines[half:])  # no line end after the last line
    )
    dirty = tmp_path / "dirty.log"
    dirty.write_bytes(messy)
    rules = load_rules([], builtin=True)
    want = replay(rules, [str(clean)])
    got = replay(rules, [str(dirty)], fmt="sshd")
    assert got.stats.lines == len(lines) + 2
    # the parser reads only the lines the rules can use: the junk line is left out unread
    # (skipped, unused); the over-long 'Failed' line is read, and refused
    assert got.stats.parse.malformed == 1
    assert got.stats.parse.reasons == {"line longer than 64 KiB": 1}
    assert got.stats.parse.unused == want.stats.parse.unused + 1
    assert got.stats.parse.skipped == want.stats.parse.skipped + 1
    assert got.stats.events == want.stats.events
    assert [a.alert_id for a in got.alerts] == [a.alert_id for a in want.alerts]
    assert {(a.rule_id, a.group) for a in got.alerts} == log.expected


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("terminal", [True, False])
def test_status_line_only_on_a_terminal(tmp_path: Path, terminal: bool) -> None:
    from turbosec.watch.rules.loader import load_rules
    from turbosec.watch.runner import Runner, RunnerOptions
    from turbosec.watch.sinks import make_sink

    log = gen.generate_owasp(2)
    path = log.write(tmp_path / "app.jsonl")
    stream = _Terminal() if terminal else io.StringIO()
    sink = make_sink(f"file:{tmp_path / 'alerts.jsonl'}")
    runner = Runner(
        load_rules([], builtin=True),
        [str(path)],
        [sink],
        options=RunnerOptions(once=True),
        status_stream=stream,
    )
    stats = runner.run()
    assert stats.lines == len(log.lines)
    assert {
        (a["rule_id"], tuple(a["group"].items())) for a in _alert_lines(tmp_path / "alerts.jsonl")
    } == log.expected
    if terminal:
        assert "events/s" in stream.getvalue() and "alerts" in stream.getvalue()
        assert stream.getvalue().endswith("\r")  # cleared at the end
    else:
        assert stream.getvalue() == ""


def test_a_checkpoint_for_other_rules_is_refused(tmp_path: Path) -> None:
    log = gen.generate_sshd(1)
    path = log.write(tmp_path / "auth.log")
    state = tmp_path / "watch.state"
    done = _cli(
        "-q", "watch", "--once", "--from-start", str(path), "--sink", "json", "--state", str(state)
    )
    assert done.returncode == 0, done.stderr.decode()
    assert load_checkpoint(state) is not None
    rule = Path(gen.__file__).parent / "rules" / "pack" / "sshd_jail.yml"
    done = _cli(
        "watch", "--once", str(path), "--no-builtin", "--rules", str(rule), "--state", str(state)
    )
    assert done.returncode == 2
    err = done.stderr.decode()
    assert str(state) in err and "different set of rules" in err and "delete the checkpoint" in err
