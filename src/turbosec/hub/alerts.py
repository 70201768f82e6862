"""Alerts from ``turbosec watch`` in the hub: checked, stored once per alert id, listed.

An alert is a :class:`turbosec.core.event.Alert` as :meth:`~turbosec.core.event.Alert.to_dict`
writes it.  :func:`read_alerts` checks a whole request (every record must read back with
:meth:`Alert.from_dict`, within the bounds below) before anything is stored;
:func:`store_alerts` then stores the new ones in one transaction and recognises the ones the
project already has by their ``alert_id`` (rule, group and first event time), so a watcher
that sends an alert again -- after a lost answer, after a restart -- never duplicates it.
An alert already known is left as first stored.  An ``alert_id`` in a record is not
trusted: the hub computes it from the alert (:attr:`Alert.alert_id`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from turbosec.core.event import Alert
from turbosec.hub.db import begin_write
from turbosec.hub.errors import BadRequest, HubError, NotFound, TooLarge
from turbosec.hub.ingest import lock_project
from turbosec.hub.models import AlertRecord, utcnow
from turbosec.hub.service import (
    MAX_ID,
    SEVERITY_VALUES,
    _cursor_id,
    _decode_cursor,
    _encode_cursor,
)

#: Most alerts one request may carry.
MAX_ALERTS = 1000
#: Largest alert, as its normalised JSON (samples included), in bytes.
MAX_ALERT_BYTES = 64 * 1024
#: Longest rule id (the column's size).
MAX_RULE_ID = 300
#: Problems listed in one 422 answer at most.
_MAX_PROBLEMS = 20


class InvalidAlerts(HubError):
    """Some records of the request are not alerts; nothing was stored."""

    status = 422
    code = "invalid_alerts"


@dataclass(frozen=True, slots=True)
class StoreResult:
    """What :func:`store_alerts` did: alert ids in request order, how many were new."""

    alert_ids: tuple[str, ...]
    new: int
    known: int


def alert_list(document: Any) -> list[Any]:
    """The records of a request body: a JSON array, or an object ``{"alerts": [...]}``."""
    if isinstance(document, dict) and set(document) == {"alerts"}:
        document = document["alerts"]
    if not isinstance(document, list):
        raise BadRequest(
            'the body must be a JSON array of alerts, or {"alerts": [...]}',
            code="invalid_alerts",
        )
    if not document:
        raise BadRequest("the body holds no alert", code="invalid_alerts")
    if len(document) > MAX_ALERTS:
        raise TooLarge(
            f"{len(document):,} alerts in one request; the hub takes at most {MAX_ALERTS:,}: "
            "send them in several requests"
        )
    return document


def _check(record: Any) -> Alert:
    """One record as an :class:`Alert`; ``ValueError`` says what is wrong with it."""
    if not isinstance(record, dict):
        raise ValueError(f"not a JSON object but {type(record).__name__}")
    group = record.get("group")
    if not isinstance(group, dict):
        raise ValueError("group must be a JSON object of field names to values")
    try:
        alert = Alert.from_dict(record)
    except (TypeError, AttributeError, OverflowError) as exc:
        raise ValueError(f"malformed alert ({type(exc).__name__}: {exc})") from None
    if len(alert.rule_id) > MAX_RULE_ID:
        raise ValueError(f"rule_id is longer than {MAX_RULE_ID} characters")
    if not alert.rule_id.strip():
        raise ValueError("rule_id is empty")
    if alert.count > MAX_ID:
        raise ValueError(f"count {alert.count} is too large")
    try:
        normalised = alert.to_json()
    except TypeError as exc:  # orjson.JSONEncodeError: e.g. a number beyond 64 bits
        raise ValueError(f"cannot be stored as JSON ({exc})") from None
    if len(normalised) > MAX_ALERT_BYTES:
        raise ValueError(
            f"the alert is {len(normalised):,} bytes as JSON; at most {MAX_ALERT_BYTES:,} "
            "are taken (shorten its samples or description)"
        )
    if b"\\u0000" in normalised:
        raise ValueError("a text holds a NUL character")
    return alert


def read_alerts(document: Any) -> list[Alert]:
    """Every record of ``document`` as an :class:`Alert`, or :class:`InvalidAlerts` naming
    each bad record by its index (``alerts[3]: ...``)."""
    records = alert_list(document)
    alerts: list[Alert] = []
    problems: list[str] = []
    bad = 0
    for index, record in enumerate(records):
        try:
            alerts.append(_check(record))
        except ValueError as exc:
            bad += 1
            if len(problems) < _MAX_PROBLEMS:
                problems.append(f"alerts[{index}]: {str(exc)[:300]}")
    if bad:
        detail = "; ".join(problems[:3])
        if bad > 3:
            detail += f" (and {bad - 3} more)"
        raise InvalidAlerts(
            f"{bad} of {len(records)} records are not valid alerts, nothing was stored: {detail}",
            problems=problems,
        )
    return alerts


def _row(alert: Alert, project_id: int, received_by: str, now: dt.datetime) -> dict[str, Any]:
    data = alert.to_dict()
    return {
        "project_id": project_id,
        "alert_id": data["alert_id"],
        "rule_id": data["rule_id"],
        "title": data["title"],
        "severity": int(alert.severity),
        "group": data["group"],
        "first_seen": alert.first_seen,
        "last_seen": alert.last_seen,
        "count": alert.count,
        "tags": data["tags"],
        "description": data["description"],
        "samples": data["samples"],
        "received_at": now,
        "received_by": received_by,
    }


def store_alerts(
    session: Session, project_id: int, alerts: Sequence[Alert], *, received_by: str
) -> StoreResult:
    """Store the alerts the project does not have yet, all in one transaction.

    Requests to one project are serialised (the project's row lock on PostgreSQL, the
    write lock on SQLite), so two watchers sending the same alert at once store it once.
    """
    now = utcnow()
    ids = tuple(alert.alert_id for alert in alerts)
    begin_write(session)
    try:
        lock_project(session.connection(), project_id)
        known = set(
            session.execute(
                select(AlertRecord.alert_id).where(
                    AlertRecord.project_id == project_id,
                    AlertRecord.alert_id.in_(set(ids)),
                )
            ).scalars()
        )
        rows: list[dict[str, Any]] = []
        for alert in alerts:
            if alert.alert_id in known:
                continue
            known.add(alert.alert_id)
            rows.append(_row(alert, project_id, received_by, now))
        if rows:
            session.execute(insert(AlertRecord), rows)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return StoreResult(alert_ids=ids, new=len(rows), known=len(ids) - len(rows))


@dataclass(frozen=True, slots=True)
class AlertFilter:
    severity: Sequence[str] = ()
    rule_id: str | None = None
    since: dt.datetime | None = None  # alerts whose last event is at or after this time


def list_alerts(
    session: Session,
    project_id: int,
    filters: AlertFilter,
    *,
    limit: int = 100,
    cursor: str | None = None,
) -> tuple[Sequence[AlertRecord], str | None]:
    """One page of the project's alerts, the most recently received first."""
    stmt = select(AlertRecord).where(AlertRecord.project_id == project_id)
    if filters.severity:
        stmt = stmt.where(AlertRecord.severity.in_([SEVERITY_VALUES[s] for s in filters.severity]))
    if filters.rule_id:
        stmt = stmt.where(AlertRecord.rule_id == filters.rule_id)
    if filters.since is not None:
        stmt = stmt.where(AlertRecord.last_seen >= filters.since)
    if cursor:
        parts = _decode_cursor(cursor)
        if len(parts) != 2 or parts[0] != "alert":
            raise BadRequest("the cursor is not valid: pass next_cursor unchanged")
        stmt = stmt.where(AlertRecord.id < _cursor_id(parts[1]))
    rows = session.execute(stmt.order_by(AlertRecord.id.desc()).limit(limit + 1)).scalars().all()
    next_cursor = _encode_cursor(["alert", rows[limit - 1].id]) if len(rows) > limit else None
    return rows[:limit], next_cursor


def get_alert(session: Session, project_id: int, alert_id: str) -> AlertRecord:
    row = session.execute(
        select(AlertRecord).where(
            AlertRecord.project_id == project_id, AlertRecord.alert_id == alert_id
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no alert {alert_id} in this project")
    return row


def parse_body(data: bytes) -> Any:
    """The JSON document of a request body (400 when it is not JSON)."""
    if not data.strip():
        raise BadRequest("the body is empty: send a JSON array of alerts", code="invalid_alerts")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}", code="malformed_json") from None


__all__ = [
    "MAX_ALERTS",
    "MAX_ALERT_BYTES",
    "AlertFilter",
    "InvalidAlerts",
    "StoreResult",
    "alert_list",
    "get_alert",
    "list_alerts",
    "parse_body",
    "read_alerts",
    "store_alerts",
]
