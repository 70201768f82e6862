"""The hub sink against a real ``turbosec hub serve`` process (SQLite): every alert arrives
once, in order, even when the hub is down for a while; refused alerts are dropped and
reported; the token never shows."""

from __future__ import annotations

import dataclasses
import json
import logging
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.hub.server import TURBOSEC, clean_env, cli, free_port
from turbosec.core.event import Alert, Level, SecurityEvent
from turbosec.core.severity import Severity
from turbosec.watch.sinks import SinkError, SinkOptions
from turbosec.watch.sinks.hub import HubSink, alerts_url, parse_spec, sink_from_spec

T0 = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


def make_alert(n: int, *, description: str = "Many failed SSH logins from one address.") -> Alert:
    first = T0 + timedelta(minutes=n)
    sample = SecurityEvent(
        time=first,
        event="authn_login_fail",
        args=("root",),
        level=Level.WARN,
        source_ip="203.0.113.9",
        user="root",
        source="auth.log:7",
        raw="Failed password for root from 203.0.113.9",
    )
    return Alert(
        rule_id="ssh-brute-force",
        title="SSH password brute force",
        severity=Severity.HIGH,
        group=(("source_ip", "203.0.113.9"),),
        first_seen=first,
        last_seen=first + timedelta(seconds=3),
        count=12,
        samples=(sample,),
        tags=("attack.credential_access",),
        description=description,
    )


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        time.sleep(0.02)


def fast(tmp_path: Path, **changes: Any) -> SinkOptions:
    values: dict[str, Any] = {
        "spool_dir": tmp_path / "spool",
        "timeout": 5.0,
        "backoff_initial": 0.05,
        "backoff_max": 0.2,
        "close_timeout": 10.0,
    }
    values.update(changes)
    return SinkOptions(**values)


@dataclasses.dataclass
class HubDb:
    url: str
    token: str  # an upload token of project "shop"


@pytest.fixture
def hub_db(tmp_path: Path) -> HubDb:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    made = cli("hub", "project", "create", "shop", "--db", url)
    assert made.returncode == 0, made.stderr
    token = cli("hub", "token", "create", "--project", "shop", "--scope", "upload", "--db", url)
    assert token.returncode == 0, token.stderr
    return HubDb(url, token.stdout.strip())


@contextmanager
def serving(db: HubDb, port: int, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``turbosec hub serve`` on ``port`` until the block ends (or the test stops it)."""
    log = (tmp_path / f"hub-{port}-{time.monotonic_ns()}.err").open("wb")
    proc = subprocess.Popen(
        [TURBOSEC, "hub", "serve", "--db", db.url, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=log,
        env=clean_env(),
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/v1/health", timeout=2
                ) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "the hub did not start"
            time.sleep(0.1)
        yield proc
    finally:
        stop(proc)
        log.close()


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def stored_ids(db: HubDb, port: int) -> list[str]:
    """The project's alert ids in the order the hub received them (oldest first)."""
    return [item["alert_id"] for item in stored(db, port)]


def stored(db: HubDb, port: int) -> list[dict[str, Any]]:
    """The project's alerts in the order the hub received them (oldest first)."""
    ids: list[dict[str, Any]] = []
    cursor = ""
    while True:
        url = f"{alerts_url(f'http://127.0.0.1:{port}', 'shop')}?limit=500{cursor}"
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {db.token}"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            page = json.loads(answer.read())
        ids += page["items"]
        if not page["next_cursor"]:
            return list(reversed(ids))
        cursor = f"&cursor={page['next_cursor']}"


def test_a_hub_down_for_a_while_gets_every_alert_once_in_order(
    hub_db: HubDb, tmp_path: Path
) -> None:
    port = free_port()
    alerts = [make_alert(n) for n in range(1, 31)]
    sink = HubSink(f"http://127.0.0.1:{port}", "shop", token=hub_db.token, options=fast(tmp_path))
    for alert in alerts[:10]:
        sink.emit(alert)
    wait_for(lambda: sink.stats.retries >= 3, "failed attempts while the hub is down")
    assert sink.stats.delivered == 0 and sink.stats.spooled == 10
    with serving(hub_db, port, tmp_path) as proc:
        for alert in alerts[10:20]:
            sink.emit(alert)
        wait_for(lambda: sink.stats.delivered >= 12, "delivery once the hub is up")
        stop(proc)  # down again, in the middle of the stream
        for alert in alerts[20:]:
            sink.emit(alert)
        wait_for(lambda: sink.stats.retries >= 6, "failed attempts while the hub is down again")
    with serving(hub_db, port, tmp_path):
        assert sink.wait_idle(60)
        sink.close()
        assert (sink.stats.delivered, sink.stats.rejected, sink.stats.dropped) == (30, 0, 0)
        assert list((tmp_path / "spool").glob("*.json")) == []
        items = stored(hub_db, port)
        assert [item["alert_id"] for item in items] == [a.alert_id for a in alerts]
        # what waited in the spool went out in one request
        assert len({item["received_at"] for item in items[:10]}) == 1

        # a restarted watcher raising some of the same alerts again adds nothing
        again = HubSink(
            f"http://127.0.0.1:{port}/", "shop", token=hub_db.token, options=fast(tmp_path)
        )
        for alert in [*alerts[25:], make_alert(31)]:
            again.emit(alert)
        assert again.wait_idle(30)
        again.close()
        assert again.stats.delivered == 6
        assert stored_ids(hub_db, port) == [a.alert_id for a in [*alerts, make_alert(31)]]


def test_spooled_alerts_go_in_batches_and_a_refused_batch_is_split(
    hub_db: HubDb, tmp_path: Path
) -> None:
    port = free_port()
    good = [make_alert(n) for n in range(1, 10)]
    huge = make_alert(50, description="x" * 100_000)  # larger than the hub takes (422)
    sink = HubSink(f"http://127.0.0.1:{port}", "shop", token=hub_db.token, options=fast(tmp_path))
    for alert in [*good[:5], huge, *good[5:]]:
        sink.emit(alert)
    wait_for(lambda: sink.stats.retries >= 2, "failed attempts while the hub is down")
    with serving(hub_db, port, tmp_path):
        assert sink.wait_idle(60)
        sink.close()
        items = stored(hub_db, port)
    assert [item["alert_id"] for item in items] == [a.alert_id for a in good]
    assert (sink.stats.delivered, sink.stats.rejected) == (9, 1)
    # the refused batch was sent again one alert per request
    assert len({item["received_at"] for item in items}) == len(good)


def test_a_stopped_watcher_leaves_its_spool_to_the_next_one(hub_db: HubDb, tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    first = HubSink(url, "shop", token=hub_db.token, options=fast(tmp_path, close_timeout=0.2))
    for n in (1, 2, 3):
        first.emit(make_alert(n))
    first.close()  # the hub is down: the alerts stay in the spool
    assert len(list((tmp_path / "spool").glob("*.json"))) == 3
    with serving(hub_db, port, tmp_path):
        second = HubSink(url, "shop", token=hub_db.token, options=fast(tmp_path))
        assert second.wait_idle(30)
        second.close()
        assert stored_ids(hub_db, port) == [make_alert(n).alert_id for n in (1, 2, 3)]


def test_refused_alerts_are_dropped_and_reported_without_the_token(
    hub_db: HubDb, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    huge = make_alert(1, description="x" * 100_000)  # larger than the hub takes (422)
    with serving(hub_db, port, tmp_path), caplog.at_level(logging.WARNING, "turbosec.watch"):
        sink = HubSink(url, "shop", token=hub_db.token, options=fast(tmp_path))
        sink.emit(huge)
        sink.emit(make_alert(2))
        assert sink.wait_idle(30)
        sink.close()
        assert (sink.stats.delivered, sink.stats.rejected) == (1, 1)
        assert "HTTP 422" in (sink.stats.last_error or "")
        assert stored_ids(hub_db, port) == [make_alert(2).alert_id]

        wrong = "tsh_" + "A" * 43
        bad = HubSink(url, "shop", token=wrong, options=fast(tmp_path / "b"))
        bad.emit(make_alert(3))
        assert bad.wait_idle(30)  # not retried forever
        bad.close()
        assert (bad.stats.delivered, bad.stats.rejected) == (0, 1)
        assert "HTTP 401" in (bad.stats.last_error or "")

        missing = HubSink(url, "nope", token=hub_db.token, options=fast(tmp_path / "c"))
        missing.emit(make_alert(4))
        assert missing.wait_idle(30)
        missing.close()
        assert "HTTP 404" in (missing.stats.last_error or "")
        assert stored_ids(hub_db, port) == [make_alert(2).alert_id]
    shown = caplog.text + repr(sink) + repr(bad) + str(bad.stats.to_dict())
    assert "refused it with HTTP 422" in caplog.text
    assert hub_db.token not in shown and wrong not in shown
    assert repr(sink) == f"<HubSink http://127.0.0.1:{port} project shop>"


def test_spec_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"TURBOSEC_HUB_URL": "https://hub.example.com", "TURBOSEC_HUB_PROJECT": "shop"}
    assert parse_spec("", env) == ("https://hub.example.com", "shop")
    assert parse_spec("http://h:8400#web", env) == ("http://h:8400", "web")
    assert parse_spec("http://h:8400", env) == ("http://h:8400", "shop")
    assert parse_spec("#web", env) == ("https://hub.example.com", "web")
    with pytest.raises(SinkError, match="no hub URL"):
        parse_spec("", {})
    with pytest.raises(SinkError, match="no hub project"):
        parse_spec("http://h:8400", {})
    assert alerts_url("http://h:8400/base/", "shop") == (
        "http://h:8400/base/api/v1/projects/shop/alerts"
    )

    monkeypatch.delenv("TURBOSEC_HUB_TOKEN", raising=False)
    opts = fast(tmp_path)
    with pytest.raises(SinkError, match="TURBOSEC_HUB_TOKEN is not set") as info:
        sink_from_spec("http://127.0.0.1:9#shop", options=opts)
    assert "--scope upload" in str(info.value.hint)
    monkeypatch.setenv("TURBOSEC_HUB_TOKEN", "tsh_secret value")
    with pytest.raises(SinkError, match="spaces or control characters") as bad_token:
        sink_from_spec("http://127.0.0.1:9#shop", options=opts)
    assert "secret" not in str(bad_token.value)
    monkeypatch.setenv("TURBOSEC_HUB_TOKEN", "tsh_secretvalue")
    for spec, message in (
        ("http://u:pw@127.0.0.1:9#shop", "user name or password"),
        ("http://127.0.0.1:9?x=1#shop", "query or fragment"),
        ("http://127.0.0.1:9#Shop!", "not a hub project name"),
        ("ftp://127.0.0.1:9#shop", "only http and https"),
    ):
        with pytest.raises(SinkError, match=message) as refused:
            sink_from_spec(spec, options=opts)
        assert "u:pw" not in str(refused.value)
    sink = sink_from_spec("http://127.0.0.1:9#shop", options=opts)
    try:
        assert sink._headers["Authorization"] == "Bearer tsh_secretvalue"
        assert sink._url == "http://127.0.0.1:9/api/v1/projects/shop/alerts"
        assert sink.payload(make_alert(1)) == [make_alert(1).to_dict()]
    finally:
        sink.close()
