"""Alerts from ``turbosec watch`` in the hub: checked, stored once, listed, on both databases."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import func, select

from tests.hub.conftest import Hub, cheap_settings
from turbosec.core.event import MAX_ALERT_SAMPLES, Alert, Level, SecurityEvent
from turbosec.core.severity import Severity
from turbosec.hub.alerts import MAX_ALERTS
from turbosec.hub.models import AlertRecord

T0 = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
URL = "/api/v1/projects/alpha/alerts"


def make_alert(
    n: int = 1,
    *,
    rule: str = "ssh-brute-force",
    severity: Severity = Severity.HIGH,
    samples: int = 1,
    ip: str = "203.0.113.9",
) -> Alert:
    first = T0 + timedelta(minutes=n)
    events = tuple(
        SecurityEvent(
            time=first + timedelta(seconds=i),
            event="authn_login_fail",
            args=("root",),
            level=Level.WARN,
            source_ip=ip,
            user="root",
            source=f"auth.log:{i + 1}",
            raw=f"Failed password for root from {ip} port {4000 + i}",
        )
        for i in range(samples)
    )
    return Alert(
        rule_id=rule,
        title="SSH password brute force",
        severity=severity,
        group=(("source_ip", ip), ("user", None)),
        first_seen=first,
        last_seen=first + timedelta(seconds=30),
        count=12 + n,
        samples=events,
        tags=("attack.credential_access", "attack.t1110.001"),
        description="Many failed SSH logins from one address.",
    )


def post(hub: Hub, body: Any, *, who: str = "upload", project: str = "alpha") -> Any:
    return hub.client.post(
        f"/api/v1/projects/{project}/alerts",
        content=body if isinstance(body, bytes) else orjson.dumps(body),
        headers={"Content-Type": "application/json", **hub.headers(who)},
    )


def stored(hub: Hub) -> int:
    with hub.session() as s:
        return s.execute(select(func.count()).select_from(AlertRecord)).scalar_one()


def test_alerts_are_stored_and_read_back_unchanged(hub: Hub) -> None:
    alerts = [make_alert(1), make_alert(2, severity=Severity.CRITICAL)]
    answer = post(hub, [a.to_dict() for a in alerts])
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "received": 2,
        "new": 2,
        "known": 0,
        "alert_ids": [a.alert_id for a in alerts],
    }
    shown = hub.client.get(f"{URL}/{alerts[0].alert_id}", headers=hub.headers("read"))
    assert shown.status_code == 200
    body = shown.json()
    assert body["received_by"] == "token:upload-token"
    assert datetime.fromisoformat(body["received_at"]).tzinfo is not None
    for key in ("received_at", "received_by"):
        body.pop(key)
    assert Alert.from_dict(body) == alerts[0]
    expected = orjson.loads(alerts[0].to_json())
    for key in ("first_seen", "last_seen"):  # the same instants (Alert.from_dict above)
        body.pop(key)
        expected.pop(key)
    assert body == expected


def test_the_same_alert_sent_again_is_not_stored_twice(hub: Hub) -> None:
    first = post(hub, [make_alert(1).to_dict(), make_alert(2).to_dict()])
    assert first.json()["new"] == 2
    again = post(hub, {"alerts": [make_alert(2).to_dict(), make_alert(3).to_dict()]})
    assert again.status_code == 200
    assert (again.json()["new"], again.json()["known"]) == (1, 1)
    repeated = post(hub, [make_alert(4).to_dict(), make_alert(4).to_dict()])
    assert (repeated.json()["new"], repeated.json()["known"]) == (1, 1)
    assert stored(hub) == 4
    # another project may hold the same alert
    other = post(hub, [make_alert(1).to_dict()], who="other", project="beta")
    assert other.json()["new"] == 1
    assert stored(hub) == 5


def test_a_given_alert_id_is_not_trusted(hub: Hub) -> None:
    record = make_alert(1).to_dict()
    record["alert_id"] = "0" * 32
    answer = post(hub, [record])
    assert answer.json()["alert_ids"] == [make_alert(1).alert_id]


def test_concurrent_senders_store_an_alert_once(hub: Hub) -> None:
    body = [make_alert(n).to_dict() for n in range(1, 31)]
    results: list[int] = []

    def send() -> None:
        results.append(post(hub, body).json()["new"])

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results) == [0, 0, 0, 30]
    assert stored(hub) == 30


def test_one_bad_record_refuses_the_whole_request(hub: Hub) -> None:
    good = make_alert(1).to_dict()
    backwards = make_alert(2).to_dict()
    backwards["last_seen"] = "2020-01-01T00:00:00+00:00"
    no_offset = make_alert(3).to_dict()
    no_offset["first_seen"] = "2026-05-01T12:00:00"
    answer = post(
        hub,
        [good, backwards, {"rule_id": "x"}, "text", no_offset, {**good, "severity": "awful"}],
    )
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "invalid_alerts"
    assert "5 of 6 records are not valid alerts, nothing was stored" in body["detail"]
    problems = body["problems"]
    assert problems[0].startswith("alerts[1]: ") and "last_seen is before first_seen" in problems[0]
    assert problems[1].startswith("alerts[2]: ") and "group" in problems[1]
    assert problems[2] == "alerts[3]: not a JSON object but str"
    assert problems[3].startswith("alerts[4]: ") and "without a UTC offset" in problems[3]
    assert problems[4].startswith("alerts[5]: ") and "unknown severity" in problems[4]
    assert stored(hub) == 0


def test_malformed_parts_are_422_not_500(hub: Hub) -> None:
    good = make_alert(1).to_dict()
    for change in (
        {"count": 0},
        {"count": "many"},
        {"count": 2**63},
        {"samples": "abc"},
        {"samples": [{"event": "x"}]},
        {"samples": [{**good["samples"][0], "status": 1e30}]},
        {"group": ["source_ip"]},
        {"rule_id": "r" * 301},
        {"rule_id": " "},
        {"title": "a\x00b"},
        {"first_seen": "0001-01-01T00:00:00+01:00"},
        {"description": "x" * 70_000},
    ):
        answer = post(hub, [{**good, **change}])
        assert answer.status_code == 422, (change, answer.text)
        assert answer.json()["problems"][0].startswith("alerts[0]: ")
    assert stored(hub) == 0


def test_body_shape_and_size_limits(hub: Hub) -> None:
    assert post(hub, b"not json").status_code == 400
    assert post(hub, b"").status_code == 400
    assert post(hub, []).status_code == 400
    assert post(hub, {"alert": []}).status_code == 400
    too_many = [make_alert(n).to_dict() for n in range(MAX_ALERTS + 1)]
    answer = post(hub, too_many)
    assert answer.status_code == 413 and "at most 1,000" in answer.json()["detail"]
    wrong_type = hub.client.post(
        URL, content=b"[]", headers={"Content-Type": "text/plain", **hub.headers("upload")}
    )
    assert wrong_type.status_code == 415
    gzip = hub.client.post(
        URL,
        content=b"[]",
        headers={
            "Content-Type": "application/json",
            "Content-Encoding": "br",
            **hub.headers("upload"),
        },
    )
    assert gzip.status_code == 415
    assert stored(hub) == 0


def test_body_bytes_are_bounded_by_the_upload_limit(hub: Hub) -> None:
    from fastapi.testclient import TestClient

    from turbosec.hub.api.app import create_app

    small = cheap_settings(hub.settings.database_url, max_upload_bytes=2000)
    with TestClient(create_app(small, engine=hub.engine), raise_server_exceptions=False) as c:
        answer = c.post(
            URL,
            content=orjson.dumps([make_alert(n).to_dict() for n in range(3)]),
            headers={"Content-Type": "application/json", **hub.headers("upload")},
        )
    assert answer.status_code == 413
    assert "2,000 bytes" in answer.json()["detail"]
    assert stored(hub) == 0


def test_samples_are_kept_bounded(hub: Hub) -> None:
    record = make_alert(1).to_dict()
    record["samples"] = make_alert(1, samples=MAX_ALERT_SAMPLES + 5).to_dict()["samples"] * 2
    assert len(record["samples"]) > MAX_ALERT_SAMPLES
    assert post(hub, [record]).status_code == 200
    shown = hub.client.get(f"{URL}/{make_alert(1).alert_id}", headers=hub.headers("read")).json()
    assert len(shown["samples"]) == MAX_ALERT_SAMPLES


def test_list_newest_first_with_pages_and_filters(hub: Hub) -> None:
    batch1 = [make_alert(n, rule="ssh-brute-force") for n in range(1, 6)]
    batch2 = [make_alert(n, rule="http-401-flood", severity=Severity.MEDIUM) for n in range(6, 9)]
    assert post(hub, [a.to_dict() for a in batch1]).status_code == 200
    assert post(hub, [a.to_dict() for a in batch2]).status_code == 200
    everything = [a.alert_id for a in reversed(batch1 + batch2)]

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = hub.client.get(URL, params=params, headers=hub.headers("developer")).json()
        seen += [item["alert_id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == everything and pages == 3

    def ids(**params: Any) -> list[str]:
        answer = hub.client.get(URL, params=params, headers=hub.headers("read"))
        assert answer.status_code == 200, answer.text
        return [item["alert_id"] for item in answer.json()["items"]]

    assert ids(severity="medium") == [a.alert_id for a in reversed(batch2)]
    assert ids(severity=["medium", "high"]) == everything
    assert ids(severity="critical") == []
    assert ids(rule_id="ssh-brute-force") == [a.alert_id for a in reversed(batch1)]
    since = (T0 + timedelta(minutes=7)).isoformat()
    assert ids(since=since) == [batch2[2].alert_id, batch2[1].alert_id]
    assert ids(since="2026-05-01T14:07:00+02:00") == ids(since=since)
    assert ids(since="0001-01-01T00:30:00+01:00") == everything
    assert ids(since="9999-12-31T23:30:00-01:00") == []
    naive = hub.client.get(
        URL, params={"since": "2026-05-01T12:00:00"}, headers=hub.headers("read")
    )
    assert naive.status_code == 422
    bad = hub.client.get(URL, params={"cursor": "xyz"}, headers=hub.headers("read"))
    assert bad.status_code == 400


def test_unknown_alert_is_404_and_other_projects_see_nothing(hub: Hub) -> None:
    alert = make_alert(1)
    assert post(hub, [alert.to_dict()]).status_code == 200
    assert hub.client.get(f"{URL}/{'f' * 32}", headers=hub.headers("read")).status_code == 404
    beta = hub.client.get(
        f"/api/v1/projects/beta/alerts/{alert.alert_id}", headers=hub.headers("admin")
    )
    assert beta.status_code == 404
    assert hub.client.get(URL, headers=hub.headers("other")).status_code == 404
    # a read token may read alerts but not send them
    assert post(hub, [make_alert(2).to_dict()], who="read").status_code == 403
    assert post(hub, [make_alert(2).to_dict()], who="developer").status_code == 403
    assert post(hub, [make_alert(2).to_dict()], who="admin").json()["new"] == 1


def test_migration_0002_adds_the_alert_table_to_an_existing_hub(db_url: str) -> None:
    """A hub at 0001_initial with data upgrades to the alerts schema (and back)."""
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import inspect, text

    from turbosec.hub.db import make_engine
    from turbosec.hub.migrations import alembic_config, current_revision, upgrade
    from turbosec.hub.models import Base

    engine = make_engine(db_url)
    try:
        upgrade(engine, "0001_initial")
        assert "alert" not in inspect(engine).get_table_names()
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO project (slug, name, created_at) VALUES ('p', 'P', :t)"),
                {"t": "2026-01-01 00:00:00"},
            )
        upgrade(engine)
        assert current_revision(engine) == "0002_alerts"
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert list(compare_metadata(context, Base.metadata)) == []
            assert conn.execute(text("SELECT count(*) FROM project")).scalar_one() == 1
        with engine.connect() as conn:
            command.downgrade(alembic_config(conn), "0001_initial")
            conn.commit()
        assert current_revision(engine) == "0001_initial"
        assert "alert" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
