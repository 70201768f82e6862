"""``/api/v1/projects/{project}/alerts``: alerts from ``turbosec watch`` (send, list, show).

``POST`` takes a JSON array of alerts (``Alert.to_dict``), or ``{"alerts": [...]}``, and
needs the right to upload to the project (an upload token of the project, or an admin),
like a scan upload.  Every record is checked before anything is stored; an alert the
project already has (same ``alert_id``) is not stored again.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Path, Query, Request

from turbosec.core.event import MAX_ALERT_SAMPLES, Level
from turbosec.hub import alerts as service
from turbosec.hub.api.deps import (
    COMMON,
    PrincipalDep,
    SessionDep,
    SettingsDep,
    error_responses,
    project_reader,
    project_uploader,
)
from turbosec.hub.api.schemas import (
    SEVERITY_NAMES,
    TEXT,
    AlertOut,
    AlertPage,
    AlertsStored,
    SeverityName,
)
from turbosec.hub.errors import TooLarge, UnsupportedMediaType
from turbosec.hub.models import AlertRecord, Project
from turbosec.hub.service import SEVERITY_LABELS, InvalidInput
from turbosec.hub.settings import HubSettings

router = APIRouter(tags=["alerts"])

AlertId = Annotated[
    str,
    Path(pattern=r"^[0-9a-f]{1,64}$", max_length=64, description="the alert's alert_id"),
]

_JSON_TYPES = ("application/json", "text/json", "")
_EVENT_TEXTS = (
    "description",
    "source_ip",
    "user",
    "useragent",
    "request_uri",
    "request_method",
    "hostname",
    "appid",
    "source",
    "raw",
)
_TIME = {"type": "string", "format": "date-time", "description": "ISO 8601 with a UTC offset"}


def _request_body() -> dict[str, Any]:
    text = {"type": "string", "pattern": TEXT}
    opt_text = {"anyOf": [text, {"type": "null"}]}
    opt_int = {"anyOf": [{"type": "integer"}, {"type": "null"}]}
    sample = {
        "type": "object",
        "description": "a security event as SecurityEvent.to_dict writes it",
        "required": ["time", "event"],
        "properties": {
            "time": _TIME,
            "event": {**text, "minLength": 1},
            "args": {"type": "array", "items": text},
            "level": {"type": "string", "enum": [level.value for level in Level]},
            **{name: opt_text for name in _EVENT_TEXTS},
            "status": opt_int,
            "repeat": opt_int,
            "extra": {
                "type": "object",
                "propertyNames": text,
                "additionalProperties": {
                    "anyOf": [text, {"type": "number"}, {"type": "boolean"}, {"type": "null"}]
                },
            },
        },
        "additionalProperties": False,
    }
    alert = {
        "type": "object",
        "title": "Alert",
        "description": "an alert as turbosec watch writes it (Alert.to_dict); alert_id, if "
        "given, is not trusted: the hub computes it from rule_id, group and first_seen",
        "required": ["rule_id", "severity", "group", "first_seen", "last_seen", "count"],
        "properties": {
            "alert_id": {"type": "string"},
            "rule_id": {**text, "minLength": 1, "maxLength": service.MAX_RULE_ID},
            "title": text,
            "severity": {"type": "string", "enum": list(SEVERITY_NAMES)},
            "group": {
                "type": "object",
                "propertyNames": text,
                "additionalProperties": {"anyOf": [text, {"type": "null"}]},
            },
            "first_seen": _TIME,
            "last_seen": {**_TIME, "description": "not before first_seen"},
            "count": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
            "tags": {"type": "array", "items": text},
            "description": text,
            "samples": {
                "type": "array",
                "items": sample,
                "description": f"events; the hub keeps the first {MAX_ALERT_SAMPLES}",
            },
        },
    }
    batch = {"type": "array", "minItems": 1, "maxItems": service.MAX_ALERTS, "items": alert}
    return {
        "requestBody": {
            "required": True,
            "description": f"1 to {service.MAX_ALERTS} alerts: a JSON array, or an object "
            '{"alerts": [...]}; each alert at most '
            f"{service.MAX_ALERT_BYTES:,} bytes as JSON",
            "content": {
                "application/json": {
                    "schema": {
                        "anyOf": [
                            batch,
                            {
                                "type": "object",
                                "required": ["alerts"],
                                "properties": {"alerts": batch},
                                "additionalProperties": False,
                            },
                        ]
                    }
                }
            },
        }
    }


async def _read_body(request: Request, settings: HubSettings) -> bytes:
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if content_type not in _JSON_TYPES:
        raise UnsupportedMediaType(
            f"Content-Type {content_type!r} is not accepted: send application/json"
        )
    if encoding not in ("", "identity"):
        raise UnsupportedMediaType(
            f"Content-Encoding {encoding!r} is not accepted: send alerts uncompressed"
        )
    limit = settings.max_upload_bytes
    length = request.headers.get("content-length")
    if length is not None and length.strip().isdigit() and int(length) > limit:
        raise TooLarge(f"the body is larger than the hub's limit of {limit:,} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge(f"the body is larger than the hub's limit of {limit:,} bytes")
    return bytes(body)


def alert_out(row: AlertRecord) -> AlertOut:
    return AlertOut(
        alert_id=row.alert_id,
        rule_id=row.rule_id,
        title=row.title,
        severity=SEVERITY_LABELS.get(row.severity, "info"),  # type: ignore[arg-type]
        group=row.group,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        count=row.count,
        tags=row.tags,
        description=row.description,
        samples=row.samples,
        received_at=row.received_at,
        received_by=row.received_by,
    )


@router.post(
    "/projects/{project}/alerts",
    response_model=AlertsStored,
    responses=error_responses(*COMMON, 400, 403, 404, 413, 415),
    openapi_extra=_request_body(),
    summary="Send alerts (turbosec watch): stored once per alert id, all or nothing",
)
async def post_alerts(
    request: Request,
    project: Annotated[Project, Depends(project_uploader)],
    principal: PrincipalDep,
    settings: SettingsDep,
    session: SessionDep,
) -> AlertsStored:
    project_id = project.id
    session.commit()  # end the authentication's read transaction
    body = await _read_body(request, settings)

    def work() -> service.StoreResult:
        alerts = service.read_alerts(service.parse_body(body))
        return service.store_alerts(session, project_id, alerts, received_by=principal.actor)

    async with request.app.state.upload_slots:
        result = await anyio.to_thread.run_sync(work)
    return AlertsStored(
        received=len(result.alert_ids),
        new=result.new,
        known=result.known,
        alert_ids=list(result.alert_ids),
    )


@router.get(
    "/projects/{project}/alerts",
    response_model=AlertPage,
    responses=error_responses(*COMMON, 400, 404),
    summary="The project's alerts, most recently received first (follow next_cursor)",
)
def list_alerts(
    project: Annotated[Project, Depends(project_reader)],
    session: SessionDep,
    severity: Annotated[list[SeverityName] | None, Query(description="repeatable")] = None,
    rule_id: Annotated[str | None, Query(max_length=300, pattern=TEXT)] = None,
    since: Annotated[
        dt.datetime | None,
        Query(description="only alerts whose last event is at or after this time (with offset)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200, pattern=TEXT)] = None,
) -> AlertPage:
    if since is not None:
        if since.tzinfo is None or since.utcoffset() is None:
            raise InvalidInput("since needs a UTC offset, e.g. 2026-11-28T12:00:00Z")
        try:
            since = since.astimezone(dt.UTC)
        except OverflowError:  # the first or last hours of the calendar, in UTC
            edge = dt.datetime.min if since.year == 1 else dt.datetime.max
            since = edge.replace(tzinfo=dt.UTC)
    filters = service.AlertFilter(severity=list(severity or ()), rule_id=rule_id, since=since)
    rows, next_cursor = service.list_alerts(
        session, project.id, filters, limit=limit, cursor=cursor
    )
    return AlertPage(items=[alert_out(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/projects/{project}/alerts/{alert_id}",
    response_model=AlertOut,
    responses=error_responses(*COMMON, 404),
    summary="One alert, with its sample events",
)
def get_alert(
    project: Annotated[Project, Depends(project_reader)],
    alert_id: AlertId,
    session: SessionDep,
) -> AlertOut:
    return alert_out(service.get_alert(session, project.id, alert_id))
