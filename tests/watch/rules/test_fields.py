"""Field getters: what each field name reads from a SecurityEvent, as text."""

from __future__ import annotations

import pytest

from tests.watch.rules import event
from turbosec.core.event import Level, SecurityEvent
from turbosec.watch.rules import FIELDS
from turbosec.watch.rules.fields import EVENT_FIELDS, extra_text, getter, is_known_field

FULL = event(
    "authz_fail",
    "joe",
    "/admin",
    level=Level.CRITICAL,
    description="denied",
    source_ip="203.0.113.9",
    user="joe",
    useragent="curl/8",
    request_uri="/admin?x=1",
    request_method="POST",
    status=403,
    hostname="web-1",
    appid="shop",
    source="app.log:7",
    extra={"region": "eu", "port": 443, "mfa": False, "ratio": 0.5, "tags": {"b": 1, "a": [2]}},
)


def test_every_field_has_a_getter() -> None:
    assert set(EVENT_FIELDS) == set(FIELDS)


def test_values_as_text() -> None:
    values = {name: getter(name)(FULL) for name in FIELDS}
    assert values == {
        "event": "authz_fail:joe,/admin",
        "event_type": "authz_fail",
        "level": "CRITICAL",
        "description": "denied",
        "source_ip": "203.0.113.9",
        "user": "joe",
        "useragent": "curl/8",
        "request_uri": "/admin?x=1",
        "request_method": "POST",
        "status": "403",
        "hostname": "web-1",
        "appid": "shop",
        "source": "app.log:7",
    }
    assert all(isinstance(v, str) for v in values.values())


def test_absent_values_are_none() -> None:
    bare = event("authn_login_fail")
    for name in FIELDS:
        if name in ("event", "event_type", "level"):
            continue
        assert getter(name)(bare) is None, name
    assert getter("event")(bare) == "authn_login_fail"
    assert getter("level")(bare) == "INFO"
    assert getter("extra.region")(bare) is None


def test_event_type_is_the_name_before_a_colon() -> None:
    odd = event("custom:thing")  # a hand-made event whose name carries a colon
    assert odd.event == "custom" and odd.args == ("thing",)
    colon = SecurityEvent(time=FULL.time, event="custom:thing", args=("x",))
    assert getter("event_type")(colon) == "custom"
    assert getter("event")(colon) == "custom:thing:x"


@pytest.mark.parametrize(("status", "text"), [(0, "0"), (200, "200"), (999, "999"), (1200, "1200")])
def test_status_text(status: int, text: str) -> None:
    assert getter("status")(event(status=status)) == text


def test_extra_values() -> None:
    assert getter("extra.region")(FULL) == "eu"
    assert getter("extra.port")(FULL) == "443"
    assert getter("extra.mfa")(FULL) == "false"
    assert getter("extra.ratio")(FULL) == "0.5"
    assert getter("extra.tags")(FULL) == '{"a":[2],"b":1}'
    assert getter("extra.missing")(FULL) is None
    assert extra_text(None) is None
    assert extra_text(True) == "true"
    assert getter("extra.a.b")(event(extra={"a.b": "dotted"})) == "dotted"


def test_unknown_fields() -> None:
    assert is_known_field("user") and is_known_field("extra.anything")
    assert not is_known_field("extra.") and not is_known_field("User")
    assert not is_known_field("TargetUserName")
    with pytest.raises(KeyError, match="did you mean 'source_ip'"):
        getter("src_ip")
    with pytest.raises(KeyError, match="lower case: 'user'"):
        getter("USER")
    with pytest.raises(KeyError, match=r"extra\.NAME"):
        getter("TargetUserName")
