"""``/api/v1/projects``: create (admin), list and show projects."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from turbosec.hub import service
from turbosec.hub.api.deps import (
    COMMON,
    PrincipalDep,
    SessionDep,
    admin_user,
    error_responses,
    project_reader,
)
from turbosec.hub.api.schemas import ProjectIn, ProjectOut
from turbosec.hub.auth import Principal
from turbosec.hub.models import Project

router = APIRouter(tags=["projects"])


@router.post(
    "/projects",
    status_code=201,
    response_model=ProjectOut,
    responses=error_responses(*COMMON, 403, 409),
    summary="Create a project (admin)",
)
def create_project(
    body: ProjectIn,
    session: SessionDep,
    _admin: Annotated[Principal, Depends(admin_user)],
) -> Project:
    return service.create_project(
        session,
        body.slug,
        name=body.name,
        default_branch=body.default_branch,
        sla_days=body.sla_days.model_dump(exclude_unset=True) if body.sla_days else None,
    )


@router.get(
    "/projects",
    response_model=list[ProjectOut],
    responses=error_responses(*COMMON),
    summary="The projects the caller may read (a project token: its own)",
)
def list_projects(session: SessionDep, principal: PrincipalDep) -> list[Project]:
    only = None if principal.is_user else principal.project_id
    return list(service.list_projects(session, only_id=only))


@router.get(
    "/projects/{project}",
    response_model=ProjectOut,
    responses=error_responses(*COMMON, 404),
    summary="One project",
)
def get_project(project: Annotated[Project, Depends(project_reader)]) -> Project:
    return project
