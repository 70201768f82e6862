"""The response hook: a real command receiving the alert, a blocklist file with a TTL,
dry-run by default, the allowlist, and one action per address while its block is live."""

from __future__ import annotations

import json
import logging
import os
import stat
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from turbosec.core.event import Alert
from turbosec.core.severity import Severity
from turbosec.watch.response import (
    SAFE_PATH,
    ResponseConfig,
    ResponseError,
    ResponseHook,
    Responses,
    build_responder,
    normalise_address,
)

T0 = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)

# Records how it was called: arguments, the JSON on stdin, the environment.
SCRIPT = r"""
import json, os, sys
out = os.path.join(sys.argv[1], "run-%d.json" % len(os.listdir(sys.argv[1])))
record = {"argv": sys.argv[2:], "stdin": json.load(sys.stdin), "env": dict(os.environ)}
with open(out, "w") as f:
    json.dump(record, f)
if "--fail" in sys.argv:
    sys.stderr.write("cannot reach the firewall\n")
    sys.exit(3)
if "--hang" in sys.argv:
    import time
    time.sleep(60)
"""


class Clock:
    def __init__(self) -> None:
        self.now = T0.timestamp()

    def __call__(self) -> float:
        return self.now


def make_alert(
    ip: str | None = "203.0.113.9", *, n: int = 0, rule: str = "ssh-brute-force"
) -> Alert:
    group: tuple[tuple[str, str | None], ...] = (("user", "root"),)
    if ip is not None:
        group = (("source_ip", ip), *group)
    first = T0 + timedelta(seconds=n)
    return Alert(
        rule_id=rule,
        title="SSH password brute force",
        severity=Severity.HIGH,
        group=group,
        first_seen=first,
        last_seen=first,
        count=10,
    )


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "hook.py"
    path.write_text(SCRIPT)
    (tmp_path / "runs").mkdir()
    return path


def runs(tmp_path: Path) -> list[dict[str, object]]:
    files = sorted((tmp_path / "runs").iterdir(), key=lambda p: int(p.stem.split("-")[1]))
    return [json.loads(p.read_text()) for p in files]


def exec_hook(
    tmp_path: Path, script: Path, *extra: str, clock: Clock | None = None, **changes: object
) -> ResponseHook:
    values: dict[str, object] = {
        "mode": "exec",
        "command": (sys.executable, str(script), str(tmp_path / "runs"), "{address}", *extra),
        "ttl": 600.0,
        "timeout": 20.0,
    }
    values.update(changes)
    return ResponseHook(ResponseConfig(**values), clock=clock or Clock())


# --- exec -----------------------------------------------------------------------------------


def test_exec_runs_the_command_with_the_alert_on_stdin_and_a_minimal_environment(
    tmp_path: Path, script: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TURBOSEC_HUB_TOKEN", "do-not-leak")
    hook = exec_hook(tmp_path, script, "rule={rule_id}", "ttl={ttl}", dry_run=False)
    alert = make_alert()
    outcome = hook.handle(alert)
    assert outcome.action == "queued" and outcome.address == "203.0.113.9"
    assert outcome.until == T0 + timedelta(seconds=600)
    hook.close()
    (run,) = runs(tmp_path)
    assert run["argv"] == ["203.0.113.9", "rule=ssh-brute-force", "ttl=600"]
    assert run["stdin"] == alert.to_dict()
    env = run["env"]
    assert isinstance(env, dict)
    assert "TURBOSEC_HUB_TOKEN" not in env and "HOME" not in env
    assert env["PATH"] == SAFE_PATH
    assert env["TURBOSEC_ADDRESS"] == "203.0.113.9"
    assert env["TURBOSEC_ALERT_ID"] == alert.alert_id
    assert env["TURBOSEC_EXPIRES"] == "2026-05-01T12:10:00Z"
    (result,) = hook.results
    assert result.ok and result.address == "203.0.113.9"


def test_exec_is_a_dry_run_by_default(tmp_path: Path, script: Path) -> None:
    hook = exec_hook(tmp_path, script)
    assert hook.config.dry_run
    outcome = hook.handle(make_alert())
    hook.close()
    assert outcome.action == "would_exec"
    assert runs(tmp_path) == []
    assert hook.stats.dry_run == 1 and hook.stats.acted == 0


def test_one_run_per_address_while_its_block_is_live(tmp_path: Path, script: Path) -> None:
    clock = Clock()
    hook = exec_hook(tmp_path, script, clock=clock, dry_run=False)
    assert hook.handle(make_alert(n=0)).action == "queued"
    again = hook.handle(make_alert(n=5))
    assert (again.action, again.reason) == ("skipped", "already blocked")
    assert hook.handle(make_alert("198.51.100.7")).action == "queued"
    clock.now += 601
    assert hook.handle(make_alert(n=700)).action == "queued"
    hook.close()
    assert [r["argv"] for r in runs(tmp_path)] == [
        ["203.0.113.9"],
        ["198.51.100.7"],
        ["203.0.113.9"],
    ]
    assert hook.stats.already_active == 1


def test_a_failing_command_is_reported_with_its_error_output(
    tmp_path: Path, script: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hook = exec_hook(tmp_path, script, "--fail", dry_run=False)
    with caplog.at_level(logging.WARNING, "turbosec.watch.response"):
        hook.handle(make_alert())
        hook.close()
    (result,) = hook.results
    assert result.returncode == 3 and not result.ok
    assert result.stderr_tail == "cannot reach the firewall"
    assert "exit status 3" in caplog.text and "cannot reach the firewall" in caplog.text
    assert hook.stats.failed == 1


def test_a_command_that_hangs_is_killed_after_its_timeout(tmp_path: Path, script: Path) -> None:
    hook = exec_hook(tmp_path, script, "--hang", dry_run=False, timeout=0.5)
    hook.handle(make_alert())
    hook.close()
    (result,) = hook.results
    assert result.timed_out and not result.ok


def test_exec_configuration_errors_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ResponseError, match="not an executable file"):
        ResponseHook(ResponseConfig(mode="exec", command=("no-such-program-anywhere",)))
    with pytest.raises(ResponseError, match="needs a command"):
        ResponseHook(ResponseConfig(mode="exec"))
    with pytest.raises(ResponseError, match="not a string") as info:
        ResponseConfig.from_dict({"mode": "exec", "command": "block {address}"})
    assert "no shell" in str(info.value)
    with pytest.raises(ResponseError, match="unknown key 'comand'"):
        ResponseConfig.from_dict({"mode": "exec", "comand": ["x"]})
    with pytest.raises(ResponseError, match="unknown response mode"):
        ResponseHook(ResponseConfig(mode="shell"))


# --- which alerts ---------------------------------------------------------------------------


def test_allowlist_no_address_and_bad_address_are_skipped(tmp_path: Path, script: Path) -> None:
    hook = exec_hook(
        tmp_path, script, dry_run=False, allowlist=("10.0.0.0/8", "2001:db8::/32", "127.0.0.1")
    )
    for address in ("10.1.2.3", "::ffff:10.1.2.3", "2001:db8::7", "127.0.0.1"):
        outcome = hook.handle(make_alert(address))
        assert (outcome.action, outcome.reason) == ("skipped", "allowlisted"), address
    assert hook.handle(make_alert(None)).reason == "the alert's group has no source_ip"
    assert hook.handle(make_alert("not-an-ip; rm -rf /")).reason == (
        "source_ip is not an IP address"
    )
    hook.close()
    assert runs(tmp_path) == []
    assert hook.stats.allowlisted == 4 and hook.stats.no_address == 2


def test_loopback_is_allowlisted_by_default(tmp_path: Path, script: Path) -> None:
    hook = exec_hook(tmp_path, script, dry_run=False)
    assert hook.handle(make_alert("127.0.0.5")).reason == "allowlisted"
    assert hook.handle(make_alert("::1")).reason == "allowlisted"


def test_a_bad_allowlist_entry_is_refused() -> None:
    with pytest.raises(ResponseError, match="not an address or a network"):
        ResponseHook(ResponseConfig(mode="exec", command=(sys.executable,), allowlist=("10/8x",)))


def test_normalise_address() -> None:
    assert str(normalise_address("::ffff:192.0.2.1")) == "192.0.2.1"
    assert str(normalise_address("[2001:DB8::1]")) == "2001:db8::1"
    assert normalise_address("fe80::1%eth0") is None
    assert normalise_address("203.0.113.9 -j ACCEPT") is None


# --- blocklist ------------------------------------------------------------------------------


def blocklist_hook(path: Path, clock: Clock, **changes: object) -> ResponseHook:
    values: dict[str, object] = {"mode": "blocklist", "blocklist": path, "ttl": 3600.0}
    values.update(changes)
    return ResponseHook(ResponseConfig(**values), clock=clock)


def test_blocklist_entries_expire_and_are_pruned_on_write(tmp_path: Path) -> None:
    path = tmp_path / "blocklist.txt"
    path.write_text("# read by the firewall job\n")
    os.chmod(path, 0o640)
    clock = Clock()
    hook = blocklist_hook(path, clock, dry_run=False)
    outcome = hook.handle(make_alert("203.0.113.9"))
    assert outcome.action == "blocked" and outcome.until == T0 + timedelta(hours=1)
    clock.now += 1800
    hook.handle(make_alert("2001:DB8::9", rule="web scan"))
    assert path.read_text().splitlines() == [
        "# read by the firewall job",
        "203.0.113.9 2026-05-01T13:00:00Z ssh-brute-force",
        "2001:db8::9 2026-05-01T13:30:00Z web_scan",
    ]
    clock.now += 2000  # the first block has expired
    hook.handle(make_alert("198.51.100.7"))
    assert path.read_text().splitlines() == [
        "# read by the firewall job",
        "2001:db8::9 2026-05-01T13:30:00Z web_scan",
        "198.51.100.7 2026-05-01T14:03:20Z ssh-brute-force",
    ]
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocklist.txt", "blocklist.txt.lock"]
    # a restarted watcher knows the live blocks
    restarted = blocklist_hook(path, clock, dry_run=False)
    assert restarted.handle(make_alert("198.51.100.7")).reason == "already blocked"
    # the expired address can be blocked again
    assert restarted.handle(make_alert("203.0.113.9")).action == "blocked"
    clock.now += 10 * 3600
    assert restarted.prune() == 0
    assert path.read_text() == "# read by the firewall job\n"


def test_blocklist_dry_run_does_not_touch_the_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "blocklist.txt"
    hook = blocklist_hook(path, Clock())
    with caplog.at_level(logging.INFO, "turbosec.watch.response"):
        outcome = hook.handle(make_alert())
    assert outcome.action == "would_block"
    assert "would block 203.0.113.9 until 2026-05-01T13:00:00Z" in caplog.text
    assert not path.exists()
    assert hook.handle(make_alert()).reason == "already blocked"  # same decisions as live


def test_unreadable_blocklist_lines_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "blocklist.txt"
    path.write_text("garbage line\n192.0.2.1 not-a-time x\n192.0.2.2 2026-05-01T12:30:00Z r\n")
    hook = blocklist_hook(path, Clock(), dry_run=False)
    hook.handle(make_alert("192.0.2.3"))
    assert path.read_text().splitlines() == [
        "192.0.2.2 2026-05-01T12:30:00Z r",
        "192.0.2.3 2026-05-01T13:00:00Z ssh-brute-force",
    ]


def test_blocklist_mode_needs_a_file() -> None:
    with pytest.raises(ResponseError, match="needs a blocklist file"):
        ResponseHook(ResponseConfig(mode="blocklist"))


# --- the command line's entry point ---------------------------------------------------------


def test_build_responder(tmp_path: Path, script: Path) -> None:
    assert build_responder(command=None, blocklist=None, ttl=60) is None
    command = f"'{sys.executable}' {script} '{tmp_path / 'runs'}' {{address}}"
    both = build_responder(
        command=command,
        blocklist=tmp_path / "block.txt",
        ttl=60,
        allow=["192.0.2.0/24"],
        dry_run=False,
    )
    assert isinstance(both, Responses)
    outcomes = both.handle(make_alert("198.51.100.7"))
    assert [o.action for o in outcomes] == ["queued", "blocked"]
    assert {o.reason for o in both.handle(make_alert("192.0.2.9"))} == {"allowlisted"}
    assert {o.reason for o in both.handle(make_alert("127.0.0.1"))} == {"allowlisted"}
    both.close()
    assert [r["argv"] for r in runs(tmp_path)] == [["198.51.100.7"]]
    single = build_responder(command=None, blocklist=tmp_path / "b2.txt", ttl=60)
    assert isinstance(single, ResponseHook) and single.config.dry_run
    with pytest.raises(ResponseError, match="cannot be split"):
        build_responder(command="block 'unclosed", blocklist=None, ttl=60)
