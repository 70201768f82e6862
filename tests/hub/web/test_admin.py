"""Administration pages: users and roles, project tokens shown once, revocation, 403s."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.hub.web.conftest import Web, csrf_from, table_rows
from turbosec.hub import service
from turbosec.hub.auth import token_digest
from turbosec.hub.models import ApiToken, Role
from turbosec.hub.web.session import CSRF_FAILED, SESSION_COOKIE

SECURITY = "turbosec.hub.security"
ADMIN_PAGES = ("/admin/users", "/admin/tokens")


def _events(caplog: Any) -> list[str]:
    return [json.loads(r.getMessage())["event"] for r in caplog.records if r.name == SECURITY]


def _post(client: TestClient, path: str, data: dict[str, str], page: str = "/admin/users") -> Any:
    """POST a form of ``page`` as a browser does: with the page's CSRF token."""
    token = csrf_from(client.get(page).text)
    return client.post(path, data={**data, "csrf_token": token})


def _secret(page: str, field_id: str) -> str:
    match = re.search(rf'id="{field_id}"[^>]*value="([^"]+)"', page)
    assert match, f"no {field_id} in the page"
    return match.group(1)


@pytest.fixture
def alpha(web: Web) -> Web:
    with web.session() as session:
        service.create_project(session, "alpha", name="Alpha")
    return web


# -- who may -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["developer", "security"])
def test_only_admins_see_and_use_admin_pages(alpha: Web, role: str, caplog: Any) -> None:
    client = alpha.signed_in(role)
    csrf = csrf_from(client.get("/").text)
    with caplog.at_level(logging.INFO, logger=SECURITY):
        for path in ADMIN_PAGES:
            page = client.get(path)
            assert page.status_code == 403, path
            assert "only admins can manage users and tokens" in page.text
            assert page.headers["content-type"].startswith("text/html")
        posts = [
            ("/admin/users", {"username": "eve", "role": "admin", "password": "x" * 20}),
            (f"/admin/users/{role}/role", {"role": "admin"}),
            ("/admin/tokens", {"project": "alpha", "name": "ci", "scope": "upload"}),
            ("/admin/tokens/1/revoke", {}),
        ]
        for path, data in posts:
            answer = client.post(path, data={**data, "csrf_token": csrf})
            assert answer.status_code == 403, path
    assert sum(e.startswith(f"authz_fail:{role},/admin/") for e in _events(caplog)) == 6
    with alpha.session() as session:
        assert service.get_user(session, role).role == role
        assert [u.username for u in service.list_users(session)] == sorted(r.value for r in Role)
        assert service.list_tokens(session, service.get_project(session, "alpha").id) == []


def test_admin_posts_need_the_csrf_token(alpha: Web) -> None:
    client = alpha.signed_in("admin")
    for path, data in (
        ("/admin/users", {"username": "eve", "role": "admin", "password": "x" * 20}),
        ("/admin/users/developer/role", {"role": "admin"}),
        ("/admin/tokens", {"project": "alpha", "name": "ci", "scope": "upload"}),
    ):
        answer = client.post(path, data=data)
        assert answer.status_code == 403 and CSRF_FAILED in answer.text
    with alpha.session() as session:
        assert service.get_user(session, "developer").role == "developer"
        with pytest.raises(service.NotFound):
            service.get_user(session, "eve")


# -- users -------------------------------------------------------------------------------


def test_users_page_lists_users_with_their_role(alpha: Web) -> None:
    page = alpha.signed_in("admin").get("/admin/users")
    assert page.status_code == 200
    rows = {r["data-user"]: r for r in table_rows(page.text, "users")}
    assert set(rows) == {"admin", "developer", "security"}
    assert "you" in rows["admin"]["0"]
    assert '<label for="field-username">' in page.text
    assert ">Add user</button>" in page.text and ">Change role</button>" in page.text


def test_adding_a_user_with_a_password(alpha: Web, caplog: Any) -> None:
    client = alpha.signed_in("admin")
    with caplog.at_level(logging.INFO, logger=SECURITY):
        answer = _post(
            client,
            "/admin/users",
            {"username": "carol", "role": "security", "password": "a long passphrase 42"},
        )
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/users"
    assert "user_created:admin,carol,security" in _events(caplog)
    page = client.get("/admin/users").text
    assert "User carol added with the role security." in page
    assert "a long passphrase 42" not in page
    with alpha.session() as session:
        assert service.get_user(session, "carol").role == "security"
    alpha.users["carol"] = "a long passphrase 42"
    assert alpha.login(alpha.client(), "carol").status_code == 303


def test_a_generated_password_is_shown_once(alpha: Web) -> None:
    client = alpha.signed_in("admin")
    answer = _post(client, "/admin/users", {"username": "dave", "role": "developer"})
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    password = _secret(answer.text, "generated-password")
    assert len(password) >= 20
    assert password not in client.get("/admin/users").text  # once
    alpha.users["dave"] = password
    dave = alpha.signed_in("dave")
    assert "dave" in dave.get("/").text


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"username": "bad name!", "role": "developer"}, 422, "is not valid"),
        ({"username": "erin", "role": "developer", "password": "short"}, 400, "too short"),
        ({"username": "erin", "role": "root"}, 422, "unknown role"),
        ({"username": "developer", "role": "developer"}, 409, "exists already"),
    ],
)
def test_adding_a_user_reports_problems_on_the_form(
    alpha: Web, form: dict[str, str], status: int, message: str
) -> None:
    client = alpha.signed_in("admin")
    answer = _post(client, "/admin/users", form)
    assert answer.status_code == status
    assert message in answer.text
    # the form keeps what was typed (except the password)
    assert f'value="{form["username"].replace("!", "!")}"' in answer.text
    assert 'id="generated-password"' not in answer.text


def test_changing_a_role_applies_at_once(alpha: Web, caplog: Any) -> None:
    admin = alpha.signed_in("admin")
    developer = alpha.signed_in("developer")
    assert developer.get("/admin/users").status_code == 403
    with caplog.at_level(logging.INFO, logger=SECURITY):
        answer = _post(admin, "/admin/users/developer/role", {"role": "admin"})
    assert answer.status_code == 303
    assert "authz_change:developer,developer,admin" in _events(caplog)
    assert "developer now has the role admin." in admin.get("/admin/users").text
    # the developer's open session now has the new role
    assert developer.get("/admin/users").status_code == 200


def test_the_last_admin_keeps_the_role(alpha: Web) -> None:
    client = alpha.signed_in("admin")
    answer = _post(client, "/admin/users/admin/role", {"role": "developer"})
    assert answer.status_code == 409 and "last admin" in answer.text
    with alpha.session() as session:
        assert service.get_user(session, "admin").role == "admin"
    # with a second admin it is allowed
    assert _post(client, "/admin/users/security/role", {"role": "admin"}).status_code == 303
    assert _post(client, "/admin/users/admin/role", {"role": "developer"}).status_code == 303
    assert client.get("/admin/users").status_code == 403


def test_changing_the_role_of_nobody_is_a_404_page(alpha: Web) -> None:
    client = alpha.signed_in("admin")
    answer = _post(client, "/admin/users/nobody/role", {"role": "admin"})
    assert answer.status_code == 404 and "no user" in answer.text


# -- tokens ------------------------------------------------------------------------------


def test_a_project_token_is_shown_once_and_works(alpha: Web, caplog: Any) -> None:
    client = alpha.signed_in("admin")
    page = client.get("/admin/tokens").text
    assert ">Create token</button>" in page
    with caplog.at_level(logging.INFO, logger=SECURITY):
        answer = _post(
            client,
            "/admin/tokens",
            {"project": "alpha", "name": "github-actions", "scope": "upload", "expires_days": "30"},
            page="/admin/tokens",
        )
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    value = _secret(answer.text, "token-value")
    assert value.startswith("tsh_")
    assert any(e.startswith("authn_token_created:admin,") for e in _events(caplog))
    # the value is never shown again; the listing shows its prefix only
    listing = client.get("/admin/tokens").text
    assert value not in listing and value[:12] in listing
    rows = table_rows(listing, "project-tokens")
    assert [(r["0"], r["1"], r["2"]) for r in rows] == [("github-actions", "alpha", "upload")]
    with alpha.session() as session:
        token = session.execute(
            select(ApiToken).where(ApiToken.token_hash == token_digest(value))
        ).scalar_one()
        assert token.created_by == "user:admin" and token.expires_at is not None
    # it is a working upload token of alpha, and not a web session
    api = alpha.client()
    scans = api.get("/api/v1/projects/alpha/scans", headers={"Authorization": f"Bearer {value}"})
    assert scans.status_code == 200
    api.cookies.set(SESSION_COOKIE, value)
    assert api.get("/").status_code == 303


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"project": "", "name": "ci", "scope": "upload"}, "choose the project"),
        ({"project": "nope", "name": "ci", "scope": "upload"}, "no project"),
        ({"project": "alpha", "name": "", "scope": "upload"}, "must be 1-100 characters"),
        ({"project": "alpha", "name": "ci", "scope": "admin"}, "upload or read"),
        ({"project": "alpha", "name": "ci", "scope": "read", "expires_days": "0"}, "1 to 3650"),
        ({"project": "alpha", "name": "ci", "scope": "read", "expires_days": "x"}, "1 to 3650"),
    ],
)
def test_token_form_problems_are_reported(alpha: Web, form: dict[str, str], message: str) -> None:
    client = alpha.signed_in("admin")
    answer = _post(client, "/admin/tokens", form, page="/admin/tokens")
    assert answer.status_code == 422
    assert message in answer.text
    assert 'id="token-value"' not in answer.text
    with alpha.session() as session:
        assert service.list_tokens(session, service.get_project(session, "alpha").id) == []


def _create_token(web: Web, client: TestClient, name: str = "ci") -> tuple[int, str]:
    answer = _post(
        client,
        "/admin/tokens",
        {"project": "alpha", "name": name, "scope": "read"},
        page="/admin/tokens",
    )
    value = _secret(answer.text, "token-value")
    with web.session() as session:
        token = session.execute(
            select(ApiToken).where(ApiToken.token_hash == token_digest(value))
        ).scalar_one()
    return token.id, value


def test_revoking_a_token_without_javascript(alpha: Web, caplog: Any) -> None:
    client = alpha.signed_in("admin")
    token_id, value = _create_token(alpha, client)
    headers = {"Authorization": f"Bearer {value}"}
    assert alpha.client().get("/api/v1/projects/alpha/scans", headers=headers).status_code == 200
    with caplog.at_level(logging.INFO, logger=SECURITY):
        answer = _post(client, f"/admin/tokens/{token_id}/revoke", {}, page="/admin/tokens")
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/tokens"
    assert f"authn_token_revoked:admin,{token_id}" in _events(caplog)
    page = client.get("/admin/tokens").text
    assert "Token ci (" in page and "revoked." in page
    row = table_rows(page, "project-tokens")[0]
    assert row["data-token"] == str(token_id) and "revoked" in row["7"]
    assert alpha.client().get("/api/v1/projects/alpha/scans", headers=headers).status_code == 401


def test_revoking_with_htmx_answers_the_row(alpha: Web) -> None:
    client = alpha.signed_in("admin")
    token_id, _value = _create_token(alpha, client)
    csrf = csrf_from(client.get("/admin/tokens").text)
    answer = client.post(
        f"/admin/tokens/{token_id}/revoke",
        headers={"HX-Request": "true", "X-CSRF-Token": csrf},
    )
    assert answer.status_code == 200
    assert answer.text.lstrip().startswith(f'<tr id="token-{token_id}"')
    assert "revoked" in answer.text and "<html" not in answer.text


def test_revoking_a_session_signs_it_out(alpha: Web) -> None:
    admin = alpha.signed_in("admin")
    developer = alpha.signed_in("developer")
    value = developer.cookies[SESSION_COOKIE]
    page = admin.get("/admin/tokens").text
    rows = table_rows(page, "user-tokens")
    with alpha.session() as session:
        token_id = session.execute(
            select(ApiToken.id).where(ApiToken.token_hash == token_digest(value))
        ).scalar_one()
    assert str(token_id) in {r["data-token"] for r in rows}
    assert any("this session" in r["0"] for r in rows)
    assert _post(admin, f"/admin/tokens/{token_id}/revoke", {}, "/admin/tokens").status_code == 303
    assert developer.get("/").status_code == 303


def test_revoking_an_unknown_token_is_a_404_page(alpha: Web) -> None:
    client = alpha.signed_in("admin")
    answer = _post(client, "/admin/tokens/999999/revoke", {}, page="/admin/tokens")
    assert answer.status_code == 404 and "no token 999999" in answer.text
    bad = _post(client, "/admin/tokens/0/revoke", {}, page="/admin/tokens")
    assert bad.status_code == 422
