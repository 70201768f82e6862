from __future__ import annotations

import dataclasses
import pickle
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from turbosec.core.event import (
    MAX_ALERT_SAMPLES,
    RAW_LIMIT,
    Alert,
    Level,
    SecurityEvent,
    bound_text,
    new_event,
    parse_time,
    raw_text,
    redact_text,
    sensitive_name,
)
from turbosec.core.severity import Severity

T0 = datetime(2026, 11, 27, 10, 0, 1, 123456, tzinfo=UTC)


def _event(**changes: object) -> SecurityEvent:
    fields: dict[str, object] = {
        "time": T0,
        "event": "authn_login_fail",
        "args": ("joe",),
        "level": Level.WARN,
        "description": "a login attempt failed",
        "source_ip": "203.0.113.9",
        "user": "joe",
        "useragent": "curl/8.5.0",
        "request_uri": "/login",
        "request_method": "POST",
        "status": 401,
        "hostname": "web-1",
        "appid": "shop.auth",
        "source": "app.log:17",
        "raw": '{"event": "authn_login_fail:joe"}',
        "repeat": 1,
        "extra": {"port": 443, "tags": ["a", "b"]},
    }
    fields.update(changes)
    return SecurityEvent(**fields)  # type: ignore[arg-type]


def test_event_round_trips_through_json() -> None:
    event = _event()
    data = orjson.loads(event.to_json())
    assert list(data) == [
        "time",
        "event",
        "args",
        "level",
        "description",
        "source_ip",
        "user",
        "useragent",
        "request_uri",
        "request_method",
        "status",
        "hostname",
        "appid",
        "source",
        "raw",
        "repeat",
        "extra",
    ]
    assert data["time"] == "2026-11-27T10:00:01.123456+00:00"
    assert data["level"] == "WARN"
    assert data["args"] == ["joe"]
    back = SecurityEvent.from_dict(data)
    assert back == event
    assert back.raw == event.raw
    assert back.extra == event.extra
    assert back.to_json() == event.to_json()


def test_event_time_is_written_in_utc_with_microseconds() -> None:
    local = datetime(2026, 11, 27, 11, 0, 1, tzinfo=timezone(timedelta(hours=1)))
    data = _event(time=local).to_dict()
    assert data["time"] == "2026-11-27T10:00:01.000000+00:00"


def test_event_is_frozen_and_reports_its_event_string() -> None:
    event = _event(args=("joe", "/admin"), event="authz_fail")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.user = "mallory"  # type: ignore[misc]
    assert event.event_string == "authz_fail:joe,/admin"
    assert _event(args=()).event_string == "authn_login_fail"
    assert event.timestamp == T0.timestamp()


def test_from_dict_refuses_records_without_time_or_offset() -> None:
    data = _event().to_dict()
    del data["time"]
    with pytest.raises(ValueError, match="without 'time'"):
        SecurityEvent.from_dict(data)
    data = _event().to_dict()
    data["time"] = "2026-11-27T10:00:01"
    with pytest.raises(ValueError, match="without a UTC offset"):
        SecurityEvent.from_dict(data)


def test_fast_constructor_builds_real_events() -> None:
    fields = [getattr(_event(), f.name) for f in dataclasses.fields(SecurityEvent)]
    fast = new_event(*fields)  # type: ignore[arg-type]
    assert type(fast) is SecurityEvent
    assert fast == _event()
    assert fast.to_dict() == _event().to_dict()
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.user = "mallory"  # type: ignore[misc]
    assert dataclasses.replace(fast, user="kim").user == "kim"
    assert pickle.loads(pickle.dumps(fast)) == fast
    assert hash(fast) == hash(_event())


def test_level_parse() -> None:
    assert Level.parse("warning") is Level.WARN
    assert Level.parse("WARN") is Level.WARN
    assert Level.parse("fatal") is Level.CRITICAL
    assert Level.parse(40) is Level.ERROR
    assert Level.parse(25) is Level.INFO
    assert Level.parse(5) is Level.DEBUG
    assert Level.WARN.levelno == 30
    with pytest.raises(ValueError, match="unknown event level 'LOUD'"):
        Level.parse("LOUD")


def _alert(**changes: object) -> Alert:
    fields: dict[str, object] = {
        "rule_id": "turbosec.ssh.brute-force",
        "title": "SSH brute force",
        "severity": Severity.HIGH,
        "group": (("source_ip", "203.0.113.9"),),
        "first_seen": T0,
        "last_seen": T0 + timedelta(minutes=3),
        "count": 5,
        "samples": (_event(), _event(user="root", args=("root",))),
        "tags": ("attack.credential_access", "attack.t1110.001"),
        "description": "5 failed logins in 10 minutes from one address",
    }
    fields.update(changes)
    return Alert(**fields)  # type: ignore[arg-type]


def test_alert_round_trips_through_json() -> None:
    alert = _alert()
    data = orjson.loads(alert.to_json())
    assert list(data) == [
        "alert_id",
        "rule_id",
        "title",
        "severity",
        "group",
        "first_seen",
        "last_seen",
        "count",
        "tags",
        "description",
        "samples",
    ]
    assert data["group"] == {"source_ip": "203.0.113.9"}
    assert data["severity"] == "high"
    back = Alert.from_dict(data)
    assert back == alert
    assert back.alert_id == alert.alert_id
    assert back.to_json() == alert.to_json()


def test_alert_id_depends_on_rule_group_and_first_event_only() -> None:
    alert = _alert()
    assert alert.alert_id == _alert(count=9, last_seen=T0 + timedelta(hours=1)).alert_id
    assert alert.alert_id != _alert(group=(("source_ip", "203.0.113.10"),)).alert_id
    assert alert.alert_id != _alert(first_seen=T0 + timedelta(seconds=1)).alert_id
    assert alert.alert_id != _alert(rule_id="other").alert_id
    assert len(alert.alert_id) == 32


def test_alert_keeps_a_bounded_sample() -> None:
    many = tuple(_event(source=f"app.log:{n}") for n in range(MAX_ALERT_SAMPLES + 5))
    alert = _alert(samples=many)
    assert len(alert.samples) == MAX_ALERT_SAMPLES
    assert alert.samples[0].source == "app.log:0"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"first_seen": datetime(2026, 11, 27)}, "aware"),
        ({"last_seen": T0 - timedelta(seconds=1)}, "before first_seen"),
        ({"count": 0}, "at least 1"),
    ],
)
def test_alert_validation(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _alert(**changes)


def test_alert_group_dict_keeps_rule_order() -> None:
    alert = _alert(group=(("user", "joe"), ("source_ip", None)))
    assert list(alert.group_dict) == ["user", "source_ip"]
    assert Alert.from_dict(alert.to_dict()).group == (("user", "joe"), ("source_ip", None))


def test_parse_time() -> None:
    assert parse_time("2026-11-27T10:00:01Z") == datetime(2026, 11, 27, 10, 0, 1, tzinfo=UTC)
    assert parse_time("2026-11-27T11:00:01+01:00").tzinfo is UTC
    with pytest.raises(ValueError, match="not an ISO 8601 time"):
        parse_time("yesterday")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /reset?token=abc123&x=1 HTTP/1.1", "GET /reset?token=[REDACTED]&x=1 HTTP/1.1"),
        ("/login?user=joe&password=hunter2", "/login?user=joe&password=[REDACTED]"),
        ("/a?X-Amz-Signature=0a1b2c&ok=1", "/a?X-Amz-Signature=[REDACTED]&ok=1"),
        ("api_key=ZZZ;a=b", "api_key=[REDACTED];a=b"),
        ("Authorization: Bearer abcdefghijkl", "Authorization: Bearer [REDACTED]"),
        ("Basic dXNlcjpwYXNzd29yZA==", "Basic [REDACTED]"),
        ("t eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig end", "t [REDACTED] end"),
        ("rhost=203.0.113.9 user=root", "rhost=203.0.113.9 user=root"),
        ("password= empty", "password= empty"),
        ("nothing to see", "nothing to see"),
    ],
)
def test_redact_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_sensitive_names() -> None:
    for name in ("password", "X-Auth-Token", "api_key", "session_id", "client_secret", "sid"):
        assert sensitive_name(name), name
    for name in ("user", "token_id", "rhost", "status", "session_age"):
        assert not sensitive_name(name), name


def test_raw_text_is_bounded_then_redacted() -> None:
    line = "x" * (RAW_LIMIT + 10)
    assert raw_text(line) == "x" * RAW_LIMIT + "…[+10 chars]"
    assert bound_text("short") == "short"
    assert raw_text("?token=abc") == "?token=[REDACTED]"
