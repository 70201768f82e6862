"""Users, tokens and login: ``/api/v1/users``, ``/api/v1/projects/{project}/tokens``,
``/api/v1/tokens/{id}``, ``/api/v1/auth/login``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from turbosec.hub import service
from turbosec.hub.api.deps import (
    COMMON,
    InfoDep,
    SessionDep,
    SettingsDep,
    admin_user,
    error_responses,
    get_passwords,
    project_admin,
)
from turbosec.hub.api.schemas import (
    LoginIn,
    LoginOut,
    TokenCreated,
    TokenIn,
    TokenOut,
    UserIn,
    UserOut,
)
from turbosec.hub.auth import Passwords, Principal, login
from turbosec.hub.events import log_event
from turbosec.hub.models import Project, Role
from turbosec.hub.service import MAX_ID32

router = APIRouter()
AdminDep = Annotated[Principal, Depends(admin_user)]


@router.post(
    "/users",
    status_code=201,
    response_model=UserOut,
    responses=error_responses(*COMMON, 400, 403, 409),
    tags=["users"],
    summary="Create a user (admin); passwords need at least 12 characters",
)
def create_user(
    body: UserIn,
    admin: AdminDep,
    session: SessionDep,
    passwords: Annotated[Passwords, Depends(get_passwords)],
    info: InfoDep,
) -> UserOut:
    user = service.create_user(session, passwords, body.username, body.password, body.role)
    log_event(
        "user_created",
        admin.name,
        user.username,
        user.role,
        description=f"{admin.actor} created user {user.username} with role {user.role}",
        request=info,
    )
    return UserOut.model_validate(user)


@router.get(
    "/users",
    response_model=list[UserOut],
    responses=error_responses(*COMMON, 403),
    tags=["users"],
    summary="All users (admin)",
)
def list_users(_admin: AdminDep, session: SessionDep) -> list[UserOut]:
    return [UserOut.model_validate(u) for u in service.list_users(session)]


@router.post(
    "/projects/{project}/tokens",
    status_code=201,
    response_model=TokenCreated,
    responses=error_responses(*COMMON, 403, 404),
    tags=["tokens"],
    summary="Create a project token (admin); the response shows the token this once",
)
def create_token(
    project: Annotated[Project, Depends(project_admin)],
    body: TokenIn,
    admin: AdminDep,
    session: SessionDep,
    info: InfoDep,
) -> TokenCreated:
    view, value = service.create_project_token(
        session,
        project,
        name=body.name,
        scope=body.scope,
        created_by=admin.actor,
        expires_days=body.expires_days,
    )
    log_event(
        "authn_token_created",
        admin.name,
        view.id,
        description=f"{admin.actor} created {body.scope.value} token {view.prefix}… "
        f"(id {view.id}) for project {project.slug}",
        request=info,
    )
    return TokenCreated.model_validate({**view.as_dict(), "token": value})


@router.get(
    "/projects/{project}/tokens",
    response_model=list[TokenOut],
    responses=error_responses(*COMMON, 403, 404),
    tags=["tokens"],
    summary="The project's tokens, without their values (admin)",
)
def list_tokens(
    project: Annotated[Project, Depends(project_admin)], session: SessionDep
) -> list[TokenOut]:
    return [TokenOut.model_validate(v.as_dict()) for v in service.list_tokens(session, project.id)]


@router.delete(
    "/tokens/{token_id}",
    response_model=TokenOut,
    responses=error_responses(*COMMON, 403, 404),
    tags=["tokens"],
    summary="Revoke a token (admin); revoking twice is harmless",
)
def revoke_token(
    token_id: Annotated[int, Path(ge=1, le=MAX_ID32)],
    admin: AdminDep,
    session: SessionDep,
    info: InfoDep,
) -> TokenOut:
    view = service.revoke_token(session, token_id)
    log_event(
        "authn_token_revoked",
        admin.name,
        view.id,
        description=f"{admin.actor} revoked token {view.prefix}… (id {view.id})",
        request=info,
    )
    return TokenOut.model_validate(view.as_dict())


@router.post(
    "/auth/login",
    response_model=LoginOut,
    responses=error_responses(401, 422, 500, 503),
    tags=["auth"],
    openapi_extra={"security": []},
    summary="Exchange a user name and password for a user token",
)
def auth_login(
    body: LoginIn,
    session: SessionDep,
    settings: SettingsDep,
    passwords: Annotated[Passwords, Depends(get_passwords)],
    info: InfoDep,
) -> LoginOut:
    user, token, value = login(session, passwords, settings, body.username, body.password, info)
    assert token.expires_at is not None
    return LoginOut(
        token=value, expires_at=token.expires_at, username=user.username, role=Role(user.role)
    )
