"""Sinks: stdout (human, JSON), JSON-lines file, webhook with retries and spool, Slack.

Webhook tests talk to a real HTTP server on 127.0.0.1 that is down (nothing listening on
its port), answers errors, or redirects; back-off settings are shortened to keep them fast.
"""

from __future__ import annotations

import base64
import http.server
import io
import json
import logging
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from turbosec.core.event import Alert, Level, SecurityEvent
from turbosec.core.severity import Severity
from turbosec.watch.sinks import Sink, SinkError, SinkOptions, make_sink, redact_url
from turbosec.watch.sinks.jsonl import JsonlFileSink
from turbosec.watch.sinks.slack import SlackSink, slack_payload
from turbosec.watch.sinks.stdout import HumanSink, JsonSink, format_alert
from turbosec.watch.sinks.webhook import (
    Spool,
    WebhookSink,
    parse_retry_after,
    redirect_refusal,
)

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


def make_alert(n: int = 1, *, user: str | None = "root", title: str | None = None) -> Alert:
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
        title=title or "SSH password brute force",
        severity=Severity.HIGH,
        group=(("source_ip", "203.0.113.9"), ("user", user)),
        first_seen=first,
        last_seen=first + timedelta(seconds=3),
        count=12,
        samples=(sample,),
        tags=("attack.credential_access", "attack.t1110.001"),
        description="Many failed SSH logins from one address.",
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        time.sleep(0.01)


@dataclass
class Receiver:
    """What a test HTTP receiver got.  ``answers``: (status, headers) to give first."""

    port: int
    answers: deque[tuple[int, dict[str, str]]] = field(default_factory=deque)
    received: list[dict[str, object]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    attempts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def ids(self) -> list[str]:
        return [str(body.get("alert_id")) for body in self.received]


@contextmanager
def receiving(receiver: Receiver) -> Iterator[Receiver]:
    """Serve ``receiver`` on its port until the block ends."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            receiver.attempts += 1
            status, headers = receiver.answers.popleft() if receiver.answers else (200, {})
            if status == 200:
                receiver.received.append(json.loads(body))
                receiver.headers.append(dict(self.headers.items()))
                receiver.paths.append(self.path)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", receiver.port), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def fast(tmp_path: Path, **changes: object) -> SinkOptions:
    values: dict[str, object] = {
        "spool_dir": tmp_path / "spool",
        "timeout": 2.0,
        "backoff_initial": 0.02,
        "backoff_max": 0.1,
        "close_timeout": 5.0,
    }
    values.update(changes)
    return SinkOptions(**values)


# --- stdout ---------------------------------------------------------------------------------


def test_human_line_says_severity_title_group_count_and_window() -> None:
    stream = io.StringIO()
    sink = HumanSink(stream)
    assert isinstance(sink, Sink)
    sink.emit(make_alert())
    sink.close()
    assert stream.getvalue() == (
        "HIGH     SSH password brute force [ssh-brute-force] source_ip=203.0.113.9 "
        "user=root count=12 window=2026-05-01T12:01:00Z..2026-05-01T12:01:03Z (3s)\n"
    )


def test_human_line_escapes_what_an_attacker_wrote() -> None:
    line = format_alert(make_alert(user="x\x1b[31m\nFAKE ALERT"))
    assert "\n" not in line and "\x1b" not in line
    assert 'user="x\\x1b[31m\\nFAKE ALERT"' in line
    assert "user=-" in format_alert(make_alert(user=None))


def test_json_sink_writes_alerts_that_read_back_unchanged() -> None:
    stream = io.StringIO()
    sink = make_sink("json", options=SinkOptions(stream=stream))
    assert isinstance(sink, JsonSink)
    sink.emit(make_alert(1))
    sink.emit(make_alert(2))
    lines = stream.getvalue().splitlines()
    assert [Alert.from_dict(json.loads(x)) for x in lines] == [make_alert(1), make_alert(2)]


# --- JSON-lines file ------------------------------------------------------------------------


def test_file_sink_skips_alerts_already_in_the_file_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "out" / "alerts.jsonl"
    first = make_sink(f"file:{path}")
    for n in (1, 2, 3):
        first.emit(make_alert(n))
    first.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = JsonlFileSink(path)
    for n in (2, 3, 4, 4):  # a replay after restart, then a new alert (twice)
        second.emit(make_alert(n))
    second.flush()
    second.close()
    assert (second.written, second.skipped) == (1, 3)
    ids = [json.loads(x)["alert_id"] for x in path.read_text().splitlines()]
    assert ids == [make_alert(n).alert_id for n in (1, 2, 3, 4)]


def test_file_sink_ends_a_line_a_crash_cut_short(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    path.write_bytes(make_alert(1).to_json() + b"\n" + make_alert(2).to_json()[:40])
    sink = JsonlFileSink(path)
    sink.emit(make_alert(1))  # complete in the file: skipped
    sink.emit(make_alert(2))  # only a cut copy: written again
    sink.close()
    lines = path.read_bytes().split(b"\n")
    assert len(lines) == 4 and lines[-1] == b""
    assert orjson.loads(lines[2])["alert_id"] == make_alert(2).alert_id


def test_file_sink_reads_only_the_tail_for_ids(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    path.write_bytes(b"".join(make_alert(n).to_json() + b"\n" for n in range(1, 21)))
    sink = JsonlFileSink(path, tail_bytes=3000)
    sink.emit(make_alert(1))  # too old to be in the tail: written again
    sink.emit(make_alert(20))  # in the tail: skipped
    sink.close()
    assert (sink.written, sink.skipped) == (1, 1)


def test_file_sink_in_a_missing_place_says_where(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SinkError, match="cannot open the alert file") as info:
        make_sink(f"file:{blocker}/alerts.jsonl")
    assert str(blocker) in str(info.value)


# --- make_sink ------------------------------------------------------------------------------


def test_make_sink_spellings_and_refusals(tmp_path: Path) -> None:
    assert isinstance(make_sink("stdout", options=SinkOptions(stream=io.StringIO())), HumanSink)
    with pytest.raises(SinkError, match="only http and https"):
        make_sink("webhook:ftp://example.com/x", options=fast(tmp_path))
    with pytest.raises(SinkError, match="only http and https"):
        make_sink("webhook:/tmp/x", options=fast(tmp_path))
    with pytest.raises(SinkError, match="no host"):
        make_sink("slack:https:///services/x", options=fast(tmp_path))
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("TURBOSEC_HUB_TOKEN", raising=False)
        with pytest.raises(SinkError, match="TURBOSEC_HUB_TOKEN is not set"):
            make_sink("hub:https://hub.example.com#shop", options=fast(tmp_path))
    with pytest.raises(SinkError, match="unknown sink"):
        make_sink("carrier-pigeon")


def test_redact_url_shows_no_secret() -> None:
    url = "https://bob:hunter2@hooks.example.com:8443/services/T1/B2/SECRETPATH?token=QSECRET"
    shown = redact_url(url)
    assert shown == "https://hooks.example.com:8443/…"
    assert redact_url("http://[2001:db8::1]/") == "http://[2001:db8::1]"


def test_parse_retry_after() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC).timestamp()
    assert parse_retry_after("Fri, 01 May 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Fri, 01 May 2026 11:00:00 GMT", now=now) == 0.0


def test_redirect_rules() -> None:
    assert redirect_refusal("https://a.example/x", "https://b.example/y", 307) is None
    assert redirect_refusal("http://a.example/x", "https://a.example/x", 308) is None
    reason = redirect_refusal("https://a.example/x", "http://a.example/x", 307)
    assert reason is not None and "https to http" in reason
    reason = redirect_refusal("https://a.example/x", "https://b.example/SECRET", 302)
    assert reason is not None and "GET" in reason and "SECRET" not in reason


# --- webhook delivery -----------------------------------------------------------------------


def test_receiver_down_for_a_while_gets_every_alert_once_in_order(tmp_path: Path) -> None:
    receiver = Receiver(free_port())
    sink = WebhookSink(receiver.url, options=fast(tmp_path))
    alerts = [make_alert(n) for n in range(1, 21)]
    for alert in alerts[:15]:
        sink.emit(alert)
    wait_for(lambda: sink.stats.retries >= 3, "several failed attempts")
    assert sink.stats.delivered == 0
    assert len(list((tmp_path / "spool").glob("*.json"))) == 15
    with receiving(receiver):
        for alert in alerts[15:]:
            sink.emit(alert)
        assert sink.wait_idle(20)
        sink.close()
    assert receiver.ids() == [a.alert_id for a in alerts]
    assert receiver.received[0] == json.loads(alerts[0].to_json())
    assert receiver.headers[0]["Idempotency-Key"] == alerts[0].alert_id
    assert receiver.headers[0]["Content-Type"] == "application/json"
    assert list((tmp_path / "spool").glob("*.json")) == []
    assert (sink.stats.delivered, sink.stats.dropped, sink.stats.spooled) == (20, 0, 0)


def test_server_errors_are_retried_in_order(tmp_path: Path) -> None:
    receiver = Receiver(free_port(), deque([(500, {}), (503, {}), (500, {})]))
    with receiving(receiver):
        sink = WebhookSink(receiver.url, options=fast(tmp_path))
        for n in (1, 2, 3):
            sink.emit(make_alert(n))
        assert sink.wait_idle(20)
        sink.close()
    assert receiver.ids() == [make_alert(n).alert_id for n in (1, 2, 3)]
    assert receiver.attempts == 6
    assert sink.stats.retries == 3 and sink.stats.last_error == "HTTP 500"


def test_too_many_requests_waits_as_told(tmp_path: Path) -> None:
    receiver = Receiver(free_port(), deque([(429, {"Retry-After": "1"})]))
    with receiving(receiver):
        sink = WebhookSink(receiver.url, options=fast(tmp_path))
        sink.emit(make_alert(1))
        assert sink.wait_idle(20)
        sink.close()
    assert receiver.ids() == [make_alert(1).alert_id]
    assert sink.stats.last_retry_after == 1.0 and sink.stats.retries == 1


def test_a_refused_payload_is_dropped_and_the_next_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = Receiver(free_port(), deque([(400, {})]))
    with receiving(receiver), caplog.at_level(logging.WARNING, "turbosec.watch.sinks"):
        sink = WebhookSink(receiver.url, options=fast(tmp_path))
        sink.emit(make_alert(1))
        sink.emit(make_alert(2))
        assert sink.wait_idle(20)
        sink.close()
    assert receiver.ids() == [make_alert(2).alert_id]
    assert sink.stats.rejected == 1
    assert "refused it with HTTP 400" in caplog.text


def test_spool_is_bounded_and_survives_a_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = Receiver(free_port())
    options = fast(tmp_path, spool_max_files=5, backoff_initial=5.0, backoff_max=5.0)
    with caplog.at_level(logging.WARNING, "turbosec.watch.sinks"):
        sink = WebhookSink(receiver.url, options=options)
        for n in range(1, 13):
            sink.emit(make_alert(n))
        wait_for(lambda: sink.stats.retries >= 1, "a failed attempt")
        sink.close()
    assert sink.stats.dropped == 7
    assert "the spool is full" in caplog.text
    assert "undelivered alerts stay in" in caplog.text
    files = sorted(p.name for p in (tmp_path / "spool").glob("*.json"))
    assert len(files) == 5
    with receiving(receiver):
        again = WebhookSink(receiver.url, options=fast(tmp_path))
        assert again.wait_idle(20)
        assert again.stats.delivered == 5
        again.emit(make_alert(13))
        assert again.wait_idle(20)
        again.close()
    ids = receiver.ids()
    emitted = [make_alert(n).alert_id for n in range(1, 14)]
    # the newest survive, in order (the first may have been kept while it was being sent)
    assert ids[-5:] == emitted[-5:]
    assert len(ids) == 6 and ids == sorted(ids, key=emitted.index)


def test_spool_bounds_in_bytes_drop_the_oldest(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s", max_files=100, max_bytes=250, label="test")
    dropped = [spool.add(bytes([65 + n]) * 100, f"{n:x}") for n in range(4)]
    assert dropped == [0, 0, 1, 1]
    head = spool.head()
    assert head is not None and spool.read(head) == b"C" * 100
    assert spool.bytes == 200 and len(spool) == 2
    spool.close()
    reopened = Spool(tmp_path / "s", max_files=100, max_bytes=250, label="test")
    assert [e.alert_id for e in reopened.entries] == ["2", "3"] and reopened.next_seq == 5
    reopened.close()


def test_one_spool_folder_serves_one_process(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"
    first = WebhookSink(url, options=fast(tmp_path))
    with pytest.raises(SinkError, match="in use by another process") as info:
        WebhookSink(url, options=fast(tmp_path))
    assert f"pid {os.getpid()}" in str(info.value)
    first.close()
    WebhookSink(url, options=fast(tmp_path)).close()


EMITTER = r"""
import json, sys
from pathlib import Path
from turbosec.core.event import Alert
from turbosec.watch.sinks import SinkOptions, make_sink
url, spool = sys.argv[1], Path(sys.argv[2])
options = SinkOptions(spool_dir=spool, timeout=1.0, backoff_initial=0.02, backoff_max=0.05,
                      close_timeout=0.5)
sink = make_sink("webhook:" + url, options=options)
for line in sys.stdin:
    sink.emit(Alert.from_dict(json.loads(line)))
sink.close()
print(sink.stats.delivered, len(list(spool.glob("*.json"))))
"""


def test_a_new_process_delivers_what_a_stopped_one_spooled(tmp_path: Path) -> None:
    receiver = Receiver(free_port())
    alerts = [make_alert(n) for n in range(1, 8)]
    result = subprocess.run(
        [sys.executable, "-c", EMITTER, receiver.url, str(tmp_path / "spool")],
        input=b"".join(a.to_json() + b"\n" for a in alerts),
        capture_output=True,
        timeout=60,
        check=True,
        cwd=REPO,
    )
    assert result.stdout.split() == [b"0", b"7"]
    with receiving(receiver):
        sink = WebhookSink(receiver.url, options=fast(tmp_path))
        assert sink.wait_idle(20)
        sink.close()
    assert receiver.ids() == [a.alert_id for a in alerts]


def test_credentials_go_in_a_header_and_never_in_messages(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    url = f"http://alice:s3cr%40t@127.0.0.1:{port}/hooks/PATHSECRET?token=QUERYSECRET"
    receiver = Receiver(port)
    with caplog.at_level(logging.DEBUG, "turbosec.watch"):
        sink = make_sink(f"webhook:{url}", options=fast(tmp_path))
        assert isinstance(sink, WebhookSink)
        sink.emit(make_alert(1))
        wait_for(lambda: sink.stats.retries >= 1, "a failed attempt")
        with receiving(receiver):
            assert sink.wait_idle(20)
            sink.close()
    expected = base64.b64encode(b"alice:s3cr@t").decode()
    assert receiver.headers[0]["Authorization"] == f"Basic {expected}"
    assert receiver.paths == ["/hooks/PATHSECRET?token=QUERYSECRET"]
    shown = caplog.text + repr(sink) + str(sink.stats.to_dict())
    assert "delivery failed" in caplog.text
    for secret in ("s3cr", "alice", "PATHSECRET", "QUERYSECRET"):
        assert secret not in shown


def test_temporary_redirects_are_followed_with_the_body(tmp_path: Path) -> None:
    final = Receiver(free_port())
    first = Receiver(free_port(), deque([(307, {"Location": final.url + "?moved=1"})]))
    with receiving(first), receiving(final):
        sink = WebhookSink(first.url, options=fast(tmp_path))
        sink.emit(make_alert(1))
        assert sink.wait_idle(20)
        sink.close()
    assert first.received == [] and final.ids() == [make_alert(1).alert_id]
    assert final.paths == ["/hook?moved=1"]


def test_a_redirect_that_would_turn_the_post_into_a_get_is_refused(tmp_path: Path) -> None:
    other = Receiver(free_port())
    first = Receiver(free_port(), deque([(302, {"Location": other.url})]))
    with receiving(first), receiving(other):
        sink = WebhookSink(first.url, options=fast(tmp_path))
        sink.emit(make_alert(1))
        assert sink.wait_idle(20)
        sink.close()
    assert other.attempts == 0 and sink.stats.rejected == 1
    assert sink.stats.last_error is not None and "302" in sink.stats.last_error


def test_emit_after_close_is_an_error(tmp_path: Path) -> None:
    sink = WebhookSink(f"http://127.0.0.1:{free_port()}/", options=fast(tmp_path))
    sink.close()
    with pytest.raises(SinkError, match="closed"):
        sink.emit(make_alert(1))


# --- Slack ----------------------------------------------------------------------------------


def test_slack_payload_shape_and_escaping(tmp_path: Path) -> None:
    alert = make_alert(1, user="<!channel> & `boss`\n", title="T" * 300)
    receiver = Receiver(free_port())
    with receiving(receiver):
        sink = make_sink(f"slack:{receiver.url}", options=fast(tmp_path))
        assert isinstance(sink, SlackSink) and sink.name == "slack"
        sink.emit(alert)
        assert sink.wait_idle(20)
        sink.close()
    (body,) = receiver.received
    assert body == orjson.loads(orjson.dumps(slack_payload(alert)))
    assert set(body) == {"text", "blocks"}
    assert isinstance(body["text"], str) and "[HIGH]" in body["text"]
    blocks = body["blocks"]
    assert isinstance(blocks, list)
    assert [b["type"] for b in blocks] == ["header", "section", "section", "context"]
    header = blocks[0]["text"]
    assert header["type"] == "plain_text" and len(header["text"]) <= 150
    fields = blocks[1]["fields"]
    assert 1 <= len(fields) <= 10 and all(f["type"] == "mrkdwn" for f in fields)
    everything = json.dumps(body)
    assert "<!channel>" not in everything and "&lt;!channel&gt; &amp;" in everything
    group = next(f["text"] for f in fields if f["text"].startswith("*Group*"))
    assert "`&lt;!channel&gt; &amp; 'boss'\\n`" in group
    assert alert.alert_id in blocks[-1]["elements"][0]["text"]
