"""Signing in and out of the pages: cookies, CSRF, lockout, redirects and security headers.

Every test drives the real application through HTTP (TestClient) on a real database, and
signs in through the real form; sessions are the user tokens of turbosec.hub.auth.login.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from tests.hub.web.conftest import Web, csrf_from
from turbosec.hub import service
from turbosec.hub.auth import LOGIN_FAILED, token_digest
from turbosec.hub.models import ApiToken, TokenScope, utcnow
from turbosec.hub.web.render import CONTENT_SECURITY_POLICY
from turbosec.hub.web.session import (
    CSRF_FAILED,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    csrf_token_for,
    safe_next,
)

SECURITY = "turbosec.hub.security"


def _events(caplog: Any) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == SECURITY]


def _set_cookie(response: Any, name: str) -> str:
    """The Set-Cookie header line of cookie ``name``."""
    lines = [v for k, v in response.headers.multi_items() if k.lower() == "set-cookie"]
    matching = [line for line in lines if line.startswith(f"{name}=")]
    assert matching, f"no Set-Cookie for {name}: {lines}"
    return matching[-1]


def _flags(cookie_line: str) -> dict[str, str]:
    parts = [p.strip() for p in cookie_line.split(";")[1:]]
    out = {}
    for part in parts:
        key, _, value = part.partition("=")
        out[key.lower()] = value
    return out


# -- the login form --------------------------------------------------------------------


def test_login_page_has_a_labelled_form_and_a_strict_csrf_cookie(web: Web) -> None:
    client = web.client()
    page = client.get("/login")
    assert page.status_code == 200
    body = page.text
    for field in ("username", "password", "csrf_token", "next"):
        assert f'name="{field}"' in body
    assert '<label for="field-username">' in body and '<label for="field-password">' in body
    assert ">Sign in</button>" in body
    flags = _flags(_set_cookie(page, LOGIN_CSRF_COOKIE))
    assert "httponly" in flags and flags["samesite"].lower() == "strict"
    assert "secure" not in flags  # plain http
    assert csrf_from(body) == client.cookies.get(LOGIN_CSRF_COOKIE)


def test_signing_in_sets_the_session_cookie_with_its_flags(web: Web) -> None:
    client = web.client()
    before = utcnow()
    answer = web.login(client, "developer")
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    line = _set_cookie(answer, SESSION_COOKIE)
    flags = _flags(line)
    assert "httponly" in flags and flags["samesite"].lower() == "lax" and flags["path"] == "/"
    assert "secure" not in flags
    value = line.split(";")[0].split("=", 1)[1].strip('"')
    assert value.startswith("tsh_")
    with web.session() as session:
        token = session.execute(
            select(ApiToken).where(ApiToken.token_hash == token_digest(value))
        ).scalar_one()
        assert token.user_id is not None and token.project_id is None
        assert token.expires_at is not None
        lifetime = (token.expires_at - before).total_seconds()
    # the cookie lives exactly as long as the token
    assert abs(int(flags["max-age"]) - lifetime) < 5
    assert abs(lifetime - web.settings.user_token_hours * 3600) < 5
    home = client.get("/")
    assert home.status_code == 200 and "developer" in home.text


def test_the_cookie_is_secure_over_https_only(web: Web) -> None:
    client = web.client(https=True)
    answer = web.login(client, "developer")
    assert "secure" in _flags(_set_cookie(answer, SESSION_COOKIE))
    # a plain-http request claiming https through a header gets no Secure flag
    plain = web.client()
    page = plain.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "secure" not in _flags(_set_cookie(page, LOGIN_CSRF_COOKIE))


def test_a_wrong_password_is_a_generic_401_logged_as_an_owasp_event(web: Web, caplog: Any) -> None:
    client = web.client()
    with caplog.at_level(logging.INFO, logger=SECURITY):
        wrong = web.login(client, "developer", "not the password at all")
        unknown = web.login(client, "nobody-here", "not the password at all")
    for answer in (wrong, unknown):
        assert answer.status_code == 401
        assert LOGIN_FAILED in answer.text
        assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")
    events = [e["event"] for e in _events(caplog)]
    assert "authn_login_fail:developer" in events and "authn_login_fail:nobody-here" in events


def test_repeated_failures_lock_the_account(web: Web, caplog: Any) -> None:
    client = web.client()
    with caplog.at_level(logging.INFO, logger=SECURITY):
        for _ in range(web.settings.max_failed_logins):
            assert web.login(client, "security", "wrong password!!").status_code == 401
        # the right password no longer works while the account is locked
        locked = web.login(client, "security")
    assert locked.status_code == 401 and LOGIN_FAILED in locked.text
    assert any(e["event"] == "authn_login_lock:security" for e in _events(caplog))


def test_the_login_form_needs_its_csrf_token(web: Web) -> None:
    client = web.client()
    client.get("/login")
    form = {"username": "developer", "password": web.users["developer"], "next": "/"}
    for token in (None, "forged-value"):
        data = dict(form) if token is None else {**form, "csrf_token": token}
        answer = client.post("/login", data=data)
        assert answer.status_code == 403
        assert CSRF_FAILED in answer.text
        assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")
    # without the cookie (another site posting the form) the echoed value is not enough
    other = web.client()
    answer = other.post("/login", data={**form, "csrf_token": "x" * 32})
    assert answer.status_code == 403
    # no attempt was counted against the account
    with web.session() as session:
        assert service.get_user(session, "developer").failed_logins == 0


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/acceptances?expiring=14", "/acceptances?expiring=14"),
        ("/projects/alpha/findings/3", "/projects/alpha/findings/3"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("\\\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/%0d%0aSet-Cookie:x=1", "/%0d%0aSet-Cookie:x=1"),
        ("/ok\r\nLocation: //evil", "/"),
        ("/login?next=//evil", "/"),
        ("", "/"),
    ],
)
def test_next_only_leads_to_a_path_of_this_site(target: str, expected: str) -> None:
    assert safe_next(target) == expected


def test_signing_in_goes_on_to_next(web: Web) -> None:
    client = web.client()
    answer = web.login(client, "developer", next="/acceptances?expiring=14")
    assert answer.headers["location"] == "/acceptances?expiring=14"
    client2 = web.client()
    answer = web.login(client2, "developer", next="//evil.example/")
    assert answer.headers["location"] == "/"


# -- sessions ----------------------------------------------------------------------------


def test_pages_without_a_session_redirect_to_login(web: Web) -> None:
    client = web.client()
    answer = client.get("/acceptances?expiring=14")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/acceptances%3Fexpiring%3D14"
    htmx = client.get("/", headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and htmx.headers["HX-Redirect"] == "/login"
    # the login page carries next on into its form
    page = client.get("/login", params={"next": "/acceptances?expiring=14"})
    assert 'name="next" value="/acceptances?expiring=14"' in page.text


def test_a_signed_in_user_visiting_login_goes_on(web: Web) -> None:
    client = web.signed_in("developer")
    answer = client.get("/login", params={"next": "/acceptances"})
    assert answer.status_code == 303 and answer.headers["location"] == "/acceptances"


def test_a_project_token_is_not_a_session(web: Web, caplog: Any) -> None:
    with web.session() as session:
        project = service.create_project(session, "alpha")
        _view, value = service.create_project_token(
            session, project, name="ci", scope=TokenScope.UPLOAD, created_by="test"
        )
    client = web.client()
    client.cookies.set(SESSION_COOKIE, value)
    with caplog.at_level(logging.INFO, logger=SECURITY):
        answer = client.get("/")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert any(e["event"].startswith("authz_fail:token-") for e in _events(caplog))
    # and a POST with the CSRF token derived from it is refused just the same
    answer = client.post("/logout", data={"csrf_token": csrf_token_for(value)})
    assert answer.status_code == 303 and answer.headers["location"] == "/login"


def test_an_expired_session_ends(web: Web) -> None:
    client = web.signed_in("developer")
    value = client.cookies[SESSION_COOKIE]
    with web.session() as session:
        session.execute(
            update(ApiToken)
            .where(ApiToken.token_hash == token_digest(value))
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
        session.commit()
    answer = client.get("/")
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    # the stale cookie is deleted
    assert _set_cookie(answer, SESSION_COOKIE).startswith(f'{SESSION_COOKIE}=""')


def test_sign_out_revokes_the_token_on_the_server(web: Web, caplog: Any) -> None:
    client = web.signed_in("developer")
    value = client.cookies[SESSION_COOKIE]
    csrf = web.csrf(client)
    assert csrf == csrf_token_for(value)
    # without the CSRF token: refused, still signed in
    refused = client.post("/logout")
    assert refused.status_code == 403 and CSRF_FAILED in refused.text
    assert client.get("/").status_code == 200
    with caplog.at_level(logging.INFO, logger=SECURITY):
        answer = client.post("/logout", data={"csrf_token": csrf})
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert _set_cookie(answer, SESSION_COOKIE).startswith(f'{SESSION_COOKIE}=""')
    assert any(e["event"] == "session_expired:developer,logout" for e in _events(caplog))
    with web.session() as session:
        token = session.execute(
            select(ApiToken).where(ApiToken.token_hash == token_digest(value))
        ).scalar_one()
        assert token.revoked_at is not None
    # the signed-out page says so, once
    page = client.get("/login")
    assert "You have signed out." in page.text
    assert "You have signed out." not in client.get("/login").text
    # the old cookie value, replayed, is no session any more (nor an API token)
    replay = web.client()
    replay.cookies.set(SESSION_COOKIE, value)
    assert replay.get("/").status_code == 303
    api = replay.get("/api/v1/projects", headers={"Authorization": f"Bearer {value}"})
    assert api.status_code == 401


def test_htmx_posts_send_the_csrf_token_as_a_header(web: Web) -> None:
    client = web.signed_in("developer")
    page = client.get("/").text
    match = re.search(r'<body hx-headers="([^"]*)"', page)
    assert match
    headers = json.loads(match.group(1).replace("&#34;", '"'))
    answer = client.post("/logout", headers={**headers, "HX-Request": "true"})
    assert answer.status_code == 303


def test_a_csrf_token_of_another_session_is_refused(web: Web) -> None:
    alice = web.signed_in("developer")
    mallory = web.signed_in("security")
    answer = alice.post("/logout", data={"csrf_token": web.csrf(mallory)})
    assert answer.status_code == 403
    assert alice.get("/").status_code == 200


def test_the_session_role_follows_the_database(web: Web) -> None:
    client = web.signed_in("developer")
    assert "/admin/users" not in client.get("/").text
    with web.session() as session:
        user = service.get_user(session, "developer")
        user.role = "admin"
        session.commit()
    assert 'href="/admin/users"' in client.get("/").text


# -- headers, markup and error pages -----------------------------------------------------


class _InlineCode(HTMLParser):
    """Collects what a CSP without 'unsafe-inline' would block."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {k for k, _ in attrs}
        if "style" in names:
            self.problems.append(f"style attribute on <{tag}>")
        self.problems.extend(f"{k} on <{tag}>" for k in names if k.startswith("on"))
        if tag == "script" and "src" not in names:
            self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("<style> element")
        for key, value in attrs:
            if key in ("href", "src", "action") and (value or "").lower().startswith("javascript:"):
                self.problems.append(f"javascript: URL on <{tag}>")


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/?weeks=26",
        "/acceptances",
        "/acceptances?expiring=14",
        "/admin/users",
        "/admin/tokens",
        "/no-such-page",
        "/login",
    ],
)
def test_pages_carry_security_headers_and_no_inline_code(web: Web, path: str) -> None:
    client = web.signed_in("admin")
    if path == "/login":
        client = web.client()
    answer = client.get(path)
    assert answer.status_code in (200, 404)
    assert answer.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "same-origin"
    assert answer.headers["Cache-Control"] == "no-store"
    parser = _InlineCode()
    parser.feed(answer.text)
    assert parser.problems == []
    # accessible skeleton: language, one h1, the main landmark and a skip link
    assert '<html lang="en">' in answer.text
    assert answer.text.count("<h1") == 1
    assert '<main id="main"' in answer.text and 'href="#main"' in answer.text


def test_static_files_and_redirects_carry_the_headers_too(web: Web) -> None:
    client = web.client()
    for path in ("/static/turbosec.css", "/static/htmx.min.js", "/static/favicon.svg"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "htmx" in client.get("/static/htmx.min.js").text[:200]
    redirect = client.get("/")
    assert redirect.status_code == 303 and redirect.headers["X-Frame-Options"] == "DENY"


def test_api_errors_stay_json_and_web_errors_are_pages(web: Web) -> None:
    client = web.signed_in("developer")
    api = client.get("/api/v1/projects/nope")
    assert api.status_code == 401 and api.headers["content-type"] == "application/json"
    assert api.json()["error"] == "unauthorized"
    missing = client.get("/api/v1/no-such-endpoint")
    assert missing.status_code == 404 and missing.json() == {
        "error": "not_found",
        "detail": "Not Found",
    }
    page = client.get("/no-such-page")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "there is no page at this address" in page.text
    bad = client.get("/?weeks=many")
    assert bad.status_code == 422 and "weeks" in bad.text
    assert bad.headers["content-type"].startswith("text/html")


def test_web_routes_stay_out_of_the_openapi_schema(web: Web) -> None:
    paths = web.client().get("/api/v1/openapi.json").json()["paths"]
    assert paths and all(p.startswith("/api/v1") for p in paths)


def test_oversized_form_posts_are_refused_before_parsing(web: Web) -> None:
    client = web.signed_in("developer")
    answer = client.post(
        "/logout",
        content=b"x" * (600 * 1024),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 413
    assert client.get("/").status_code == 200  # still signed in


def test_the_login_page_works_signed_out_with_a_stale_cookie(web: Web) -> None:
    client: TestClient = web.client()
    client.cookies.set(SESSION_COOKIE, "tsh_" + "x" * 43)
    assert client.get("/login").status_code == 200
