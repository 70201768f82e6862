from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from turbosec.core.event import Level, SecurityEvent
from turbosec.events.parsers import AccessLogParser, MalformedLine, ParseStats, parse_file

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "logs"


def _parse(name: str) -> tuple[list[SecurityEvent], ParseStats]:
    stats = ParseStats()
    events = list(parse_file(AccessLogParser(hostname="web-1"), LOGS / name, stats, source=name))
    return events, stats


def _row(event: SecurityEvent) -> tuple[object, ...]:
    return (
        event.source_ip,
        event.user,
        event.request_method,
        event.request_uri,
        event.status,
        event.extra.get("bad_request"),
    )


def test_nginx_combined() -> None:
    events, stats = _parse("nginx-access.log")
    assert [_row(e) for e in events] == [
        ("192.0.2.10", None, "GET", "/", 200, None),
        ("203.0.113.5", None, "GET", "/.env", 404, None),
        ("203.0.113.5", None, None, None, 400, "tls_handshake"),
        ("203.0.113.6", None, None, None, 408, "empty"),
        ("2001:db8::1", "admin", "POST", "/login", 401, None),
        ("203.0.113.7", None, "GET", '/search?q="%3E%3Cscript%3Ealert(1)%3C/script%3E', 200, None),
        ("203.0.113.8", None, "GET", "/reset?token=[REDACTED]&email=a%40example.com", 302, None),
        ("198.51.100.4", None, "GET", "/wp-login.php", 403, None),
        ("198.51.100.5", None, "GET", "/", 200, None),
        (
            "198.51.100.6",
            None,
            "SSTP_DUPLEX_POST",
            "/sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/",
            405,
            None,
        ),
        ("198.51.100.7", None, "GET", "/static/app.css", 304, None),
        ("198.51.100.8", None, "GET", "/api/items", 200, None),
    ]
    assert {e.event for e in events} == {"http_request"}
    assert {e.level for e in events} == {Level.INFO}
    assert {e.hostname for e in events} == {"web-1"}
    assert stats.lines == 14
    assert stats.malformed == 2
    assert stats.reasons == {
        "not a common/combined access log line": 1,
        "bad access log timestamp": 1,
    }


def test_nginx_details() -> None:
    events, _ = _parse("nginx-access.log")
    first = events[0]
    assert first.time == datetime(2026, 11, 27, 10, 0, 1, tzinfo=UTC)
    assert (
        first.useragent == "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"
    )
    assert first.extra == {"protocol": "HTTP/1.1", "bytes": 612}
    assert first.source == "nginx-access.log:1"
    tls = events[2]
    assert tls.extra["request_line"].startswith("\\x16\\x03\\x01")
    assert tls.useragent is None
    assert events[4].extra["referer"] == "https://shop.example/login"
    assert events[4].extra["protocol"] == "HTTP/2.0"
    assert "8c6976e5" not in str(events[6].raw)
    assert events[7].time == datetime(2026, 11, 27, 10, 0, 6, tzinfo=UTC)  # +0100
    assert events[10].useragent == 'Mozilla/5.0 "quoted" agent'


def test_apache_common_combined_and_crlf() -> None:
    events, stats = _parse("apache-access.log")
    assert stats.malformed == 0
    assert [_row(e) for e in events] == [
        ("192.0.2.20", "frank", "GET", "/apache_pb.gif", 200, None),
        ("192.0.2.21", None, "GET", "/index.html", 200, None),
        ("203.0.113.30", None, None, None, 400, "tls_handshake"),
        ("203.0.113.31", None, "GET", "/cgi-bin/.%2e/.%2e/.%2e/bin/sh", 400, None),
        ("203.0.113.32", None, "PROPFIND", "/", 405, None),
        ("192.0.2.22", None, "GET", '/a"b', 200, None),
        ("203.0.113.33", None, None, None, 400, "invalid"),
        ("203.0.113.34", None, "GET", "/login?user=joe&password=[REDACTED]", 401, None),
    ]
    common = events[0]
    assert common.time == datetime(2026, 11, 27, 17, 0, 1, tzinfo=UTC)  # -0700
    assert common.useragent is None
    assert "referer" not in common.extra
    assert events[1].useragent == 'Mozilla/5.0 "Quoted" UA \\ backslash'
    assert events[1].extra["bytes"] is None
    assert not any(str(e.raw).endswith("\r") for e in events)
    secret = events[7]
    assert secret.extra["referer"] == "https://intranet.example/?session_id=[REDACTED]"
    assert "hunter2" not in str(secret.raw)
    assert "abcdef0123456789" not in str(secret.raw)


@pytest.mark.parametrize(
    "line",
    [
        "",
        "192.0.2.1 - - [27/Nov/2026:10:00:01 +0000] GET / HTTP/1.1 200 1",
        '192.0.2.1 - - [27/Nov/2026:10:00:01] "GET / HTTP/1.1" 200 1',
        '192.0.2.1 - - [27/Foo/2026:10:00:01 +0000] "GET / HTTP/1.1" 200 1',
        '192.0.2.1 - - [27/Nov/2026:10:00:01 +9999] "GET / HTTP/1.1" 200 1',
        '192.0.2.1 - - [27/Nov/2026:10:00:01 +0000] "GET / HTTP/1.1" 2000 1',
    ],
)
def test_malformed_lines(line: str) -> None:
    with pytest.raises(MalformedLine):
        AccessLogParser().parse(line, "x")


def test_detect() -> None:
    parser = AccessLogParser()
    nginx = (LOGS / "nginx-access.log").read_text().splitlines()
    assert parser.detect(nginx) == pytest.approx(13 / 14)
    assert parser.detect((LOGS / "sshd-auth.log").read_text().splitlines()) == 0.0
