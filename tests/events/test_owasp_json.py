from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest

from turbosec.core.event import Level, SecurityEvent
from turbosec.events.parsers import MalformedLine, OwaspJsonParser, ParseStats, parse_file
from turbosec.events.vocabulary import EventSpec

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "logs"


def _parse(parser: OwaspJsonParser | None = None) -> tuple[list[SecurityEvent], ParseStats]:
    stats = ParseStats()
    events = list(
        parse_file(parser or OwaspJsonParser(), LOGS / "owasp-events.jsonl", stats, source="o")
    )
    return events, stats


def test_fixture_events() -> None:
    events, stats = _parse()
    assert [(e.source, e.event, e.args, e.user, e.source_ip, e.level) for e in events] == [
        ("o:1", "authn_login_fail", ("joe",), "joe", "203.0.113.9", Level.WARN),
        ("o:2", "authn_login_success", ("joe",), "joe", "2001:db8::9", Level.INFO),
        ("o:3", "authz_fail", ("joe", "/admin/users"), "joe", "203.0.113.9", Level.CRITICAL),
        (
            "o:4",
            "input_validation_fail",
            ("(zip,date_of_birth)", "joe"),
            "joe",
            "203.0.113.9",
            Level.WARN,
        ),
        (
            "o:5",
            "malicious_attack_tool",
            ("203.0.113.66", "sqlmap", "sqlmap/1.8.11#stable (https://sqlmap.org)"),
            None,
            "203.0.113.66",
            Level.CRITICAL,
        ),
        (
            "o:6",
            "user_created",
            ("admin", "mallory", "admin:create,update,delete"),
            "admin",
            "192.0.2.50",
            Level.WARN,
        ),
        ("o:7", "authn_login_success", ("joebob1",), "joebob1", "165.225.50.94", Level.INFO),
        (
            "o:8",
            "malicious_excess_404",
            ("123.45.67.89", "M@l1c10us-Hax0rB0t0-v1"),
            None,
            "123.45.67.89",
            Level.WARN,
        ),
        ("o:9", "authn_login_lock", ("joebob1", "maxretries"), "joebob1", None, Level.WARN),
        ("o:11", "authn_login_fail", (), "kim", "198.51.100.3", Level.WARN),
        ("o:12", "authn_login_fail", ("sam",), "sam", "198.51.100.4", Level.WARN),
    ]
    assert (stats.lines, stats.events, stats.skipped, stats.malformed) == (17, 11, 1, 5)
    assert stats.reasons == {
        "invalid JSON": 1,
        "not a JSON object": 2,
        "no datetime": 1,
        "unknown level": 1,
    }


def test_times_fields_and_extras() -> None:
    events, _ = _parse()
    first = events[0]
    assert first.time == datetime(2026, 11, 27, 10, 0, 1, 123000, tzinfo=UTC)
    assert first.appid == "shop.auth"
    assert first.hostname == "web-1"
    assert first.request_uri == "/login"
    assert first.request_method == "POST"
    assert first.useragent is not None and first.useragent.startswith("Mozilla/5.0")
    assert first.description == "a login attempt failed (userid=joe)"
    assert first.extra == {}
    assert events[1].extra == {"session_age": 0}
    assert events[2].time == datetime(2026, 11, 27, 10, 0, 3, 500000, tzinfo=UTC)  # +01:00
    assert events[2].status == 403
    assert events[6].time == datetime(2021, 1, 1, 8, 1, 1, tzinfo=UTC)  # -0700
    assert events[6].extra == {
        "host_ip": "10.12.7.9",
        "protocol": "https",
        "port": "440",
        "region": "AWS-US-WEST-2",
        "geo": "USA",
    }
    assert events[7].time == datetime(2019, 1, 1, tzinfo=UTC)  # no offset: read as UTC
    assert events[9].time == datetime(2026, 11, 27, 10, 0, 8, tzinfo=UTC)  # "timestamp", "Z"
    assert all(e.time.tzinfo is UTC for e in events)


def test_secrets_an_application_logged_are_redacted() -> None:
    events, _ = _parse()
    leaky = events[-1]
    assert leaky.extra == {"password": "[REDACTED]", "headers": {"Authorization": "[REDACTED]"}}
    assert leaky.request_uri == "/login?next=/home&token=[REDACTED]"
    raw = str(leaky.raw)
    for secret in ("hunter2", "abcdefghijklmnop0123", "eyJhbGciOiJIUzI1NiJ9"):
        assert secret not in raw
    assert orjson.loads(raw)["password"] == "[REDACTED]"
    assert events[0].raw == (LOGS / "owasp-events.jsonl").read_text().splitlines()[0]


def test_a_token_given_as_an_argument_is_redacted() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9" + "." + "eyJzdWIiOiJqb2UifQ" + "." + "c2ln"
    line = orjson.dumps(
        {"datetime": "2026-11-27T10:00:00Z", "event": f"authn_token_reuse:joe,{jwt}"}
    ).decode()
    event = OwaspJsonParser().parse(line, "x")
    assert event is not None
    assert event.args == ("joe", "[REDACTED]")
    assert event.user == "joe"
    assert jwt not in str(event.raw)


def test_unknown_events_are_skipped_unless_accepted() -> None:
    line = '{"datetime": "2026-11-27T10:00:00Z", "event": "payment_refused:joe,limit"}'
    assert OwaspJsonParser().parse(line, "x") is None
    accepted = OwaspJsonParser(accept_unknown=True).parse(line, "x")
    assert accepted is not None
    assert (accepted.event, accepted.args, accepted.user) == (
        "payment_refused",
        ("joe", "limit"),
        None,
    )
    spec = EventSpec("payment_refused", "app", ("userid", "reason"), Level.WARN, "refused")
    declared = OwaspJsonParser(custom_events={spec.name: spec}).parse(line, "x")
    assert declared is not None
    assert (declared.user, declared.level) == ("joe", Level.WARN)
    odd = '{"datetime": "2026-11-27T10:00:00Z", "event": "request finished"}'
    assert OwaspJsonParser(accept_unknown=True).parse(odd, "x") is None


def test_time_variants() -> None:
    parser = OwaspJsonParser(tz=timezone(timedelta(hours=2)))
    naive = parser.parse('{"datetime": "2026-11-27 12:00:00", "event": "sys_startup"}', "x")
    epoch = parser.parse('{"time": 1795773601.5, "event": "sys_startup"}', "x")
    assert naive is not None and naive.time == datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    assert epoch is not None
    assert epoch.time == datetime(2026, 11, 27, 10, 0, 1, 500000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"datetime": "yesterday", "event": "sys_startup"}', "not ISO 8601"),
        ('{"datetime": ["2026"], "event": "sys_startup"}', "not a string"),
        ('{"datetime": 1e300, "event": "sys_startup"}', "out of range"),
        ('{"datetime": "2026-11-27T10:00:00Z", "event": "sys_startup", "status": "x"}', "status"),
        ("  [1]", "not a JSON object"),
        ("{'single': 'quotes'}", "invalid JSON"),
    ],
)
def test_malformed(line: str, reason: str) -> None:
    with pytest.raises(MalformedLine, match=reason):
        OwaspJsonParser().parse(line, "x")


def test_non_text_fields_become_text() -> None:
    event = OwaspJsonParser().parse(
        '{"datetime": "2026-11-27T10:00:00Z", "event": "authn_login_fail", "user": 42, '
        '"status": "401", "hostname": 7}',
        "x",
    )
    assert event is not None
    assert (event.user, event.status, event.hostname) == ("42", 401, "7")


def test_detect() -> None:
    parser = OwaspJsonParser()
    lines = (LOGS / "owasp-events.jsonl").read_text().splitlines()
    assert parser.detect(lines) == pytest.approx(13 / 17)
    journal = (LOGS / "sshd-journal.json").read_text().splitlines()
    assert parser.detect(journal) == 0.0
