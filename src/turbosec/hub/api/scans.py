"""``/api/v1/projects/{project}/scans``: upload a report (the lifecycle runs), list scans."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request

from turbosec.core.report import report_schema
from turbosec.hub import service
from turbosec.hub.api.deps import (
    COMMON,
    PrincipalDep,
    SessionDep,
    SettingsDep,
    error_responses,
    get_engine,
    project_reader,
    project_uploader,
)
from turbosec.hub.api.schemas import TEXT, ScanCreated, ScanOut, ScanPage
from turbosec.hub.errors import BadRequest, TooLarge, UnsupportedMediaType
from turbosec.hub.ingest import IngestOptions, IngestResult, ingest, read_upload
from turbosec.hub.models import Project, Scan
from turbosec.hub.settings import HubSettings

router = APIRouter(tags=["scans"])

_JSON_TYPES = ("application/json", "application/sarif+json", "text/json")
_GZIP_TYPES = ("application/gzip", "application/x-gzip")
_ANY_TYPES = ("application/octet-stream", "")


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/"):
                out[key] = "#/components/schemas/TurbosecReport_" + value.rsplit("/", 1)[-1]
            else:
                out[key] = _rewrite_refs(value)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v) for v in node]
    return node


def upload_components() -> dict[str, Any]:
    """OpenAPI component schemas of the upload body (the shipped report JSON Schema)."""
    report = report_schema()
    defs = report.pop("$defs", {})
    for key in ("$schema", "$id"):
        report.pop(key, None)
    components = {"TurbosecReport": _rewrite_refs(report)}
    for name, schema in defs.items():
        components[f"TurbosecReport_{name}"] = _rewrite_refs(schema)
    components["SarifLog"] = {
        "type": "object",
        "title": "SARIF 2.1.0 log",
        "description": "https://docs.oasis-open.org/sarif/sarif/v2.1.0/",
        "required": ["version", "runs"],
        "properties": {
            "version": {"const": "2.1.0"},
            "$schema": {"type": "string"},
            "runs": {"type": "array", "items": {"type": "object"}},
        },
    }
    return components


def _upload_body() -> dict[str, Any]:
    report = {"$ref": "#/components/schemas/TurbosecReport"}
    sarif = {"$ref": "#/components/schemas/SarifLog"}
    binary = {"type": "string", "format": "binary"}
    return {
        "requestBody": {
            "required": True,
            "description": "A turbosec report (turbosec.report/v1) or a SARIF 2.1.0 log, as "
            "JSON; gzip-compressed with Content-Encoding: gzip, or as application/gzip.",
            "content": {
                "application/json": {"schema": {"oneOf": [report, sarif]}},
                "application/sarif+json": {"schema": sarif},
                "application/gzip": {"schema": binary},
            },
        }
    }


async def _read_body(request: Request, settings: HubSettings) -> tuple[bytes, bool]:
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if content_type not in (*_JSON_TYPES, *_GZIP_TYPES, *_ANY_TYPES):
        raise UnsupportedMediaType(
            f"Content-Type {content_type!r} is not accepted: send application/json "
            "(optionally with Content-Encoding: gzip) or application/gzip"
        )
    if encoding not in ("", "identity", "gzip", "x-gzip"):
        raise UnsupportedMediaType(
            f"Content-Encoding {encoding!r} is not accepted: use gzip or none"
        )
    limit = settings.max_upload_bytes
    length = request.headers.get("content-length")
    if length is not None and length.strip().isdigit() and int(length) > limit:
        raise TooLarge(f"the upload is larger than the hub's limit of {limit:,} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge(f"the upload is larger than the hub's limit of {limit:,} bytes")
    if not body:
        raise BadRequest("the upload is empty: send a turbosec JSON report or a SARIF log")
    declared_gzip = encoding in ("gzip", "x-gzip") or content_type in _GZIP_TYPES
    return bytes(body), declared_gzip


def _scan_created(scan: Scan, result: IngestResult) -> ScanCreated:
    return ScanCreated.model_validate(
        {
            **ScanOut.model_validate(scan).model_dump(),
            "expired_acceptances": result.expired_acceptances,
            "duplicates": result.duplicates,
            "warnings": list(result.warnings),
        }
    )


@router.post(
    "/projects/{project}/scans",
    status_code=201,
    response_model=ScanCreated,
    responses=error_responses(*COMMON, 400, 403, 404, 413, 415),
    openapi_extra=_upload_body(),
    summary="Upload a report: findings are created, refreshed, fixed and reopened",
)
async def upload_scan(
    request: Request,
    project: Annotated[Project, Depends(project_uploader)],
    principal: PrincipalDep,
    settings: SettingsDep,
    session: SessionDep,
    branch: Annotated[
        str | None,
        Query(max_length=255, pattern=TEXT, description="default: the report's branch"),
    ] = None,
    commit: Annotated[
        str | None,
        Query(max_length=64, pattern=TEXT, description="default: the report's commit"),
    ] = None,
    build_id: Annotated[
        str | None, Query(max_length=255, pattern=TEXT, description="the CI build")
    ] = None,
    full: Annotated[
        bool | None,
        Query(
            description="false: a partial scan, which never fixes findings (default: what "
            "the report says; a --diff-base report is always partial)"
        ),
    ] = None,
) -> ScanCreated:
    project_id = project.id
    session.close()  # authentication is done; ingestion uses its own connection
    engine = get_engine(request)
    options = IngestOptions(
        uploaded_by=principal.actor, branch=branch, commit=commit, build_id=build_id, full=full
    )

    def work(body: bytes, declared_gzip: bool) -> tuple[Scan, IngestResult]:
        upload = read_upload(body, settings, declared_gzip=declared_gzip)
        result = ingest(engine, project_id, upload, options)
        scan = session.get(Scan, result.scan_id)
        assert scan is not None
        session.close()
        return scan, result

    # A few uploads at a time per process: each may hold 100 MB and a CPU while it runs;
    # the others wait, unread, in the connection queue.
    async with request.app.state.upload_slots:
        body, declared_gzip = await _read_body(request, settings)
        scan, result = await anyio.to_thread.run_sync(work, body, declared_gzip)
    return _scan_created(scan, result)


@router.get(
    "/projects/{project}/scans",
    response_model=ScanPage,
    responses=error_responses(*COMMON, 400, 404),
    summary="The project's scans, newest first",
)
def list_scans(
    project: Annotated[Project, Depends(project_reader)],
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200, pattern=TEXT)] = None,
) -> ScanPage:
    rows, next_cursor = service.list_scans(session, project.id, limit=limit, cursor=cursor)
    return ScanPage(items=[ScanOut.model_validate(r) for r in rows], next_cursor=next_cursor)
