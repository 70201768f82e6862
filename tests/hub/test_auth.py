"""Passwords, logins, lockout, tokens and the OWASP security events they log."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.hub.conftest import Hub, cheap_settings
from turbosec.hub.auth import Passwords, generate_token, lock_duration
from turbosec.hub.errors import BadRequest
from turbosec.hub.events import format_event
from turbosec.hub.models import ApiToken, User
from turbosec.hub.settings import HubSettings

SECURITY = "turbosec.hub.security"


def _events(caplog: Any) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == SECURITY]


def _login(hub: Hub, username: str, password: str) -> Any:
    return hub.client.post(
        "/api/v1/auth/login",
        json={"username": username, "password": password},
        headers={"User-Agent": "pytest-agent/1.0"},
    )


def test_passwords_are_argon2id_and_checked_in_constant_time() -> None:
    passwords = Passwords(HubSettings(database_url="sqlite://"))
    stored = passwords.hash("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert passwords.verify(stored, "correct horse battery")
    assert not passwords.verify(stored, "correct horse batterz")
    assert not passwords.verify(None, "anything at all")  # unknown user: a dummy check
    assert not passwords.verify("not a hash", "correct horse battery")
    with pytest.raises(BadRequest, match="at least 12"):
        passwords.hash("short-pass1")


def test_tokens_are_random_and_stored_hashed(hub: Hub) -> None:
    new = generate_token()
    assert re.fullmatch(r"tsh_[A-Za-z0-9_-]{43}", new.value)
    assert new.sha256 == hashlib.sha256(new.value.encode()).hexdigest()
    assert new.value.startswith(new.prefix) and len(new.prefix) == 12
    value = hub.tokens["upload"]
    with hub.session() as s:
        rows = s.execute(select(ApiToken)).scalars().all()
    assert not any(value in (r.token_hash, r.prefix, r.name) for r in rows)
    assert any(r.token_hash == hashlib.sha256(value.encode()).hexdigest() for r in rows)


def test_login_success_logs_owasp_event(hub: Hub, caplog: Any) -> None:
    with caplog.at_level(logging.INFO, logger=SECURITY):
        answer = _login(hub, "developer", hub.passwords["developer"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["username"] == "developer" and body["role"] == "developer"
    expires = dt.datetime.fromisoformat(body["expires_at"])
    assert abs((expires - dt.datetime.now(dt.UTC)) - dt.timedelta(hours=12)) < dt.timedelta(
        minutes=1
    )
    me = hub.client.get("/api/v1/projects", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    (event,) = [e for e in _events(caplog) if e["event"].startswith("authn_login")]
    assert event["event"] == "authn_login_success:developer"
    assert event["appid"] == "turbosec.hub" and event["level"] == "INFO"
    assert event["useragent"] == "pytest-agent/1.0"
    assert event["request_uri"] == "/api/v1/auth/login" and event["request_method"] == "POST"
    assert event["source_ip"] and event["hostname"] and event["description"]
    when = dt.datetime.fromisoformat(event["datetime"])
    assert when.tzinfo is not None  # ISO 8601 with its offset


def test_failures_lock_the_account_and_back_off(hub: Hub, caplog: Any) -> None:
    with caplog.at_level(logging.INFO, logger=SECURITY):
        for _ in range(5):
            answer = _login(hub, "security", "wrong password!!")
            assert answer.status_code == 401
            assert answer.json()["error"] == "unauthorized"
        # locked: even the right password is refused, with the same answer
        locked = _login(hub, "security", hub.passwords["security"])
        assert locked.status_code == 401
        assert locked.json()["detail"] == answer.json()["detail"]
        unknown = _login(hub, "nobody", "whatever password")
        assert unknown.json()["detail"] == answer.json()["detail"]
    names = [e["event"] for e in _events(caplog)]
    assert names.count("authn_login_fail:security") == 6
    assert names.count("authn_login_lock:security") == 1
    assert "authn_login_fail:nobody" in names
    lock = next(e for e in _events(caplog) if e["event"].startswith("authn_login_lock"))
    assert lock["level"] == "WARN" and "15 minutes" in lock["description"]

    with hub.session() as s:
        user = s.execute(select(User).where(User.username == "security")).scalar_one()
        assert user.failed_logins == 5 and user.locked_until is not None
        lock_left = user.locked_until - dt.datetime.now(dt.UTC)
        assert dt.timedelta(minutes=14) < lock_left <= dt.timedelta(minutes=15)
    # the lock ran out: the right password works again, after-fail event, counter reset
    with hub.engine.begin() as conn:
        conn.execute(
            update(User)
            .where(User.username == "security")
            .values(locked_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=SECURITY):
        assert _login(hub, "security", hub.passwords["security"]).status_code == 200
    assert [e["event"] for e in _events(caplog)] == ["authn_login_successafterfail:security,5"]
    with hub.session() as s:
        user = s.execute(select(User).where(User.username == "security")).scalar_one()
        assert user.failed_logins == 0 and user.locked_until is None


def test_lock_duration_doubles() -> None:
    settings = cheap_settings("sqlite://")
    assert lock_duration(4, settings) is None
    assert lock_duration(5, settings) == dt.timedelta(minutes=15)
    assert lock_duration(7, settings) is None
    assert lock_duration(10, settings) == dt.timedelta(minutes=30)
    assert lock_duration(15, settings) == dt.timedelta(minutes=60)
    assert lock_duration(500, settings) == dt.timedelta(hours=24)  # capped


def test_disabled_user_cannot_log_in_or_use_tokens(hub: Hub) -> None:
    with hub.engine.begin() as conn:
        conn.execute(update(User).where(User.username == "developer").values(disabled=True))
    assert _login(hub, "developer", hub.passwords["developer"]).status_code == 401
    answer = hub.client.get("/api/v1/projects", headers=hub.headers("developer"))
    assert answer.status_code == 401


def test_revoked_token_reuse_is_logged(hub: Hub, caplog: Any) -> None:
    with hub.session() as s:
        token_id = s.execute(select(ApiToken.id).where(ApiToken.name == "read-token")).scalar_one()
    with caplog.at_level(logging.INFO, logger=SECURITY):
        revoked = hub.client.delete(f"/api/v1/tokens/{token_id}", headers=hub.headers("admin"))
        assert revoked.status_code == 200 and revoked.json()["revoked_at"]
        again = hub.client.get("/api/v1/projects/alpha", headers=hub.headers("read"))
    assert again.status_code == 401 and "revoked" in again.json()["detail"]
    names = [e["event"] for e in _events(caplog)]
    assert f"authn_token_revoked:admin,{token_id}" in names
    assert f"authn_token_reuse:read-token,{token_id}" in names


def test_token_created_once_and_listed_without_value(hub: Hub) -> None:
    created = hub.client.post(
        "/api/v1/projects/alpha/tokens",
        json={"name": "ci", "scope": "upload", "expires_days": 30},
        headers=hub.headers("admin"),
    )
    assert created.status_code == 201
    value = created.json()["token"]
    listed = hub.client.get("/api/v1/projects/alpha/tokens", headers=hub.headers("admin"))
    assert value not in listed.text
    entry = next(t for t in listed.json() if t["id"] == created.json()["id"])
    assert entry["prefix"] == value[:12] and entry["scope"] == "upload"
    assert entry["kind"] == "project" and entry["project"] == "alpha"
    expires = dt.datetime.fromisoformat(entry["expires_at"])
    assert dt.timedelta(days=29) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=30)
    # it works, for its project only
    ok = hub.client.get("/api/v1/projects/alpha", headers={"Authorization": f"Bearer {value}"})
    assert ok.status_code == 200
    hidden = hub.client.get("/api/v1/projects/beta", headers={"Authorization": f"Bearer {value}"})
    assert hidden.status_code == 404


def test_user_creation_refuses_short_passwords_and_duplicates(hub: Hub) -> None:
    answer = hub.client.post(
        "/api/v1/users",
        json={"username": "eve", "password": "short", "role": "developer"},
        headers=hub.headers("admin"),
    )
    assert answer.status_code == 422 and "password" in answer.json()["detail"]
    ok = hub.client.post(
        "/api/v1/users",
        json={"username": "eve", "password": "twelve chars!", "role": "developer"},
        headers=hub.headers("admin"),
    )
    assert ok.status_code == 201 and "password" not in ok.text
    dup = hub.client.post(
        "/api/v1/users",
        json={"username": "eve", "password": "twelve chars!", "role": "admin"},
        headers=hub.headers("admin"),
    )
    assert dup.status_code == 409


def test_event_arguments_cannot_forge_events() -> None:
    line = format_event("authn_login_fail", "bob,authn_login_success:admin\n", description="x")
    event = json.loads(line)
    assert event["event"] == "authn_login_fail:bob_authn_login_success_admin_"


def test_token_use_is_recorded(hub: Hub) -> None:
    value = hub.tokens["read"]
    digest = hashlib.sha256(value.encode()).hexdigest()
    with hub.session() as s:
        before = s.execute(select(ApiToken).where(ApiToken.token_hash == digest)).scalar_one()
    assert before.last_used_at is None
    assert hub.client.get("/api/v1/projects/alpha", headers=hub.headers("read")).status_code == 200
    with hub.session() as s:
        after = s.execute(select(ApiToken).where(ApiToken.token_hash == digest)).scalar_one()
    assert after.last_used_at is not None
