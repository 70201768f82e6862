"""``/api/v1/projects/{project}/findings``: search, show, triage, comment, assign."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy.orm import Session

from turbosec.hub import service
from turbosec.hub.api.deps import (
    COMMON,
    PrincipalDep,
    SessionDep,
    error_responses,
    project_commenter,
    project_reader,
    project_triager,
)
from turbosec.hub.api.schemas import (
    TEXT,
    AcceptIn,
    AssignIn,
    CategoryName,
    CommentIn,
    CommentOut,
    FindingDetail,
    FindingOut,
    FindingPage,
    SeverityName,
    StatusChangeOut,
    StatusIn,
)
from turbosec.hub.models import Finding, Project, Status
from turbosec.hub.service import MAX_ID, SEVERITY_LABELS

router = APIRouter(tags=["findings"])

FindingId = Annotated[int, Path(ge=1, le=MAX_ID, description="the finding's id")]
SortName = Literal[
    "severity", "-severity", "last_seen", "-last_seen", "first_seen", "-first_seen", "id", "-id"
]


def finding_out(finding: Finding) -> FindingOut:
    data = {c: getattr(finding, c) for c in FindingOut.model_fields}
    data["severity"] = SEVERITY_LABELS.get(finding.severity, "info")
    return FindingOut.model_validate(data)


def _detail(session: Session, finding: Finding) -> FindingDetail:
    base = finding_out(finding).model_dump()
    return FindingDetail.model_validate(
        {
            **base,
            "history": [
                StatusChangeOut.model_validate(c)
                for c in service.finding_history(session, finding.id)
            ],
            "comments": [
                CommentOut.model_validate(c) for c in service.finding_comments(session, finding.id)
            ],
        }
    )


@router.get(
    "/projects/{project}/findings",
    response_model=FindingPage,
    responses=error_responses(*COMMON, 400, 404),
    summary="Search the project's findings (keyset pagination: follow next_cursor)",
)
def list_findings(
    project: Annotated[Project, Depends(project_reader)],
    session: SessionDep,
    status: Annotated[list[Status] | None, Query(description="repeatable")] = None,
    severity: Annotated[list[SeverityName] | None, Query(description="repeatable")] = None,
    min_severity: Annotated[SeverityName | None, Query(description="this or worse")] = None,
    category: Annotated[list[CategoryName] | None, Query(description="repeatable")] = None,
    tool: Annotated[str | None, Query(max_length=100, pattern=TEXT)] = None,
    path: Annotated[
        str | None, Query(max_length=1024, pattern=TEXT, description="path prefix")
    ] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=TEXT,
            description="text in the title, message, rule id or path (case-insensitive)",
        ),
    ] = None,
    branch: Annotated[str | None, Query(max_length=255, pattern=TEXT)] = None,
    assignee: Annotated[str | None, Query(max_length=200, pattern=TEXT)] = None,
    sort: Annotated[SortName, Query(description="'-' for descending")] = "-severity",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=2000, pattern=TEXT)] = None,
) -> FindingPage:
    filters = service.FindingFilter(
        status=[s.value for s in status or ()],
        severity=list(severity or ()),
        min_severity=min_severity,
        category=list(category or ()),
        tool=tool,
        path=path,
        q=q,
        branch=branch,
        assignee=assignee,
    )
    rows, next_cursor = service.list_findings(
        session, project.id, filters, sort=sort, limit=limit, cursor=cursor
    )
    return FindingPage(items=[finding_out(f) for f in rows], next_cursor=next_cursor)


@router.get(
    "/projects/{project}/findings/{finding_id}",
    response_model=FindingDetail,
    responses=error_responses(*COMMON, 404),
    summary="One finding with its status history and comments",
)
def get_finding(
    project: Annotated[Project, Depends(project_reader)],
    finding_id: FindingId,
    session: SessionDep,
) -> FindingDetail:
    return _detail(session, service.get_finding(session, project.id, finding_id))


@router.post(
    "/projects/{project}/findings/{finding_id}/status",
    response_model=FindingDetail,
    responses=error_responses(*COMMON, 403, 404, 409),
    summary="Triage (security, admin): accept a risk, false positive, reopen, open",
)
def change_status(
    project: Annotated[Project, Depends(project_triager)],
    finding_id: FindingId,
    body: StatusIn,
    principal: PrincipalDep,
    session: SessionDep,
) -> FindingDetail:
    finding = service.change_status(
        session,
        project,
        finding_id,
        status=Status(body.status),
        actor=principal.actor,
        reason=body.reason,
        expires=body.expires if isinstance(body, AcceptIn) else None,
    )
    return _detail(session, finding)


@router.post(
    "/projects/{project}/findings/{finding_id}/comments",
    status_code=201,
    response_model=CommentOut,
    responses=error_responses(*COMMON, 403, 404),
    summary="Comment on a finding (any user)",
)
def add_comment(
    project: Annotated[Project, Depends(project_commenter)],
    finding_id: FindingId,
    body: CommentIn,
    principal: PrincipalDep,
    session: SessionDep,
) -> CommentOut:
    comment = service.add_comment(
        session, project, finding_id, author=principal.name, body=body.body
    )
    return CommentOut.model_validate(comment)


@router.post(
    "/projects/{project}/findings/{finding_id}/assign",
    response_model=FindingOut,
    responses=error_responses(*COMMON, 403, 404),
    summary="Assign a finding to someone, or nobody (security, admin)",
)
def assign(
    project: Annotated[Project, Depends(project_triager)],
    finding_id: FindingId,
    body: AssignIn,
    session: SessionDep,
) -> FindingOut:
    return finding_out(service.assign(session, project, finding_id, body.assignee))
