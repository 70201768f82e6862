"""Every endpoint, every kind of caller: allowed, 401, 403 or 404 — as documented.

Callers: nobody, another project's upload token ("other"), alpha's read and upload
tokens, and users with the developer, security and admin roles.  A project token asking
about a project that is not its own gets 404, exactly like a project that does not exist.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.hub.conftest import Hub
from tests.hub.reports import dumps, findings, report
from turbosec.core.event import Alert
from turbosec.core.severity import Severity
from turbosec.hub import service
from turbosec.hub.models import Finding, TokenScope

CALLERS = (None, "other", "read", "upload", "developer", "security", "admin")
USERS = ("developer", "security", "admin")
PROJECT_TOKENS = ("read", "upload")
PUBLIC = ("GET /api/v1/health", "POST /api/v1/auth/login", "GET /api/v1/openapi.json")
_counter = itertools.count()


@dataclass(frozen=True)
class Case:
    method: str
    path: str  # {finding} and {token} are filled in
    allowed: tuple[str, ...]  # callers that succeed
    # status for a caller that is authenticated but not allowed (403, or 404 for
    # another project's token on a project endpoint)
    other_status: int = 404
    body: Callable[[], Any] | None = None
    raw: bytes | None = None
    success: int = 200


def _report() -> bytes:
    return dumps(report(findings(range(3))))


def _alert() -> Alert:
    first = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    return Alert(
        rule_id="ssh-brute-force",
        title="SSH password brute force",
        severity=Severity.HIGH,
        group=(("source_ip", "203.0.113.9"),),
        first_seen=first,
        last_seen=first + timedelta(seconds=30),
        count=12,
    )


# sent by the POST case (as the upload token, before the GET cases run), so it exists
ALERT_ID = _alert().alert_id


ALL = (*PROJECT_TOKENS, *USERS)
CASES = [
    Case(
        "POST",
        "/api/v1/projects",
        ("admin",),
        403,
        body=lambda: {"slug": f"p{next(_counter)}"},
        success=201,
    ),
    Case("GET", "/api/v1/projects", ("other", *ALL)),
    Case("GET", "/api/v1/projects/alpha", ALL),
    Case("POST", "/api/v1/projects/alpha/scans", ("upload", "admin"), raw=_report(), success=201),
    Case("GET", "/api/v1/projects/alpha/scans", ALL),
    Case(
        "POST",
        "/api/v1/projects/alpha/alerts",
        ("upload", "admin"),
        raw=orjson.dumps([_alert().to_dict()]),
    ),
    Case("GET", "/api/v1/projects/alpha/alerts", ALL),
    Case("GET", "/api/v1/projects/alpha/alerts/{alert}", ALL),
    Case("GET", "/api/v1/projects/alpha/findings", ALL),
    Case("GET", "/api/v1/projects/alpha/findings/{finding}", ALL),
    Case(
        "POST",
        "/api/v1/projects/alpha/findings/{finding}/status",
        ("security", "admin"),
        body=lambda: {"status": "accepted", "reason": "tested", "expires": "2099-12-31"},
    ),
    Case(
        "POST",
        "/api/v1/projects/alpha/findings/{finding}/comments",
        USERS,
        body=lambda: {"body": "looks real"},
        success=201,
    ),
    Case(
        "POST",
        "/api/v1/projects/alpha/findings/{finding}/assign",
        ("security", "admin"),
        body=lambda: {"assignee": "alice"},
    ),
    Case(
        "POST",
        "/api/v1/users",
        ("admin",),
        403,
        success=201,
        body=lambda: {
            "username": f"u{next(_counter)}",
            "password": "a long password!",
            "role": "developer",
        },
    ),
    Case("GET", "/api/v1/users", ("admin",), 403),
    Case(
        "POST",
        "/api/v1/projects/alpha/tokens",
        ("admin",),
        success=201,
        body=lambda: {"name": "ci", "scope": "read"},
    ),
    Case("GET", "/api/v1/projects/alpha/tokens", ("admin",)),
    Case("DELETE", "/api/v1/tokens/{token}", ("admin",), 403),
    # SLA and metrics (turbosec.hub.api.metrics)
    Case("GET", "/api/v1/projects/alpha/metrics/summary", ALL),
    Case("GET", "/api/v1/projects/alpha/metrics/sla-breaches", ALL),
    Case("GET", "/api/v1/projects/alpha/metrics/trend", ALL),
    Case("GET", "/api/v1/projects/alpha/metrics/mttr", ALL),
    Case("GET", "/api/v1/projects/alpha/acceptances", ALL),
    Case("GET", "/api/v1/projects/alpha/gate", ALL),
    Case("GET", "/api/v1/metrics/overview", USERS, 403),
]


def _expected(case: Case, caller: str | None) -> int:
    if caller is None:
        return 401
    if caller in case.allowed:
        return case.success
    if caller == "other":
        return case.other_status
    return 403


def _throwaway_token(hub: Hub) -> int:
    with Session(hub.engine, expire_on_commit=False) as s:
        view, _value = service.create_project_token(
            s,
            service.get_project(s, "beta"),
            name="spare",
            scope=TokenScope.READ,
            created_by="test",
        )
    return view.id


def test_every_route_is_in_the_matrix(hub: Hub) -> None:
    schema = hub.client.get("/api/v1/openapi.json").json()
    routes = {f"{method.upper()} {path}" for path, ops in schema["paths"].items() for method in ops}
    covered = set()
    for c in CASES:
        path = c.path.replace("{finding}", "{finding_id}").replace("{token}", "{token_id}")
        path = path.replace("{alert}", "{alert_id}")
        covered.add(f"{c.method} {path.replace('/alpha', '/{project}')}")
    assert routes - covered - set(PUBLIC) == set(), "add the new routes to CASES"


def test_authorisation_matrix(hub: Hub) -> None:
    assert hub.upload(_report()).status_code == 201
    with hub.session() as s:
        finding_id = s.execute(select(Finding.id).limit(1)).scalar_one()
    failures = []
    for case, caller in itertools.product(CASES, CALLERS):
        path = case.path.replace("{finding}", str(finding_id)).replace("{alert}", ALERT_ID)
        if "{token}" in path:
            path = path.replace("{token}", str(_throwaway_token(hub)))
        kwargs: dict[str, Any] = {"headers": hub.headers(caller)}
        if case.raw is not None:
            kwargs["content"] = case.raw
            kwargs["headers"]["Content-Type"] = "application/json"
        elif case.body is not None:
            kwargs["json"] = case.body()
        answer = hub.client.request(case.method, path, **kwargs)
        want = _expected(case, caller)
        if answer.status_code != want:
            failures.append(
                f"{case.method} {path} as {caller}: {answer.status_code} != {want}"
                f" ({answer.text[:120]})"
            )
            continue
        if want >= 400:
            body = answer.json()
            assert set(body) >= {"error", "detail"}
        if want == 401:
            assert answer.headers["www-authenticate"].startswith("Bearer")
    assert not failures, "\n".join(failures)


def test_project_tokens_list_only_their_project(hub: Hub) -> None:
    for caller, expected in (
        ("read", ["alpha"]),
        ("other", ["beta"]),
        ("admin", ["alpha", "beta"]),
    ):
        answer = hub.client.get("/api/v1/projects", headers=hub.headers(caller))
        assert [p["slug"] for p in answer.json()] == expected


def test_denials_are_logged_as_authz_fail(hub: Hub, caplog: Any) -> None:
    import json
    import logging

    with caplog.at_level(logging.INFO, logger="turbosec.hub.security"):
        assert hub.client.get("/api/v1/users", headers=hub.headers("developer")).status_code == 403
        assert (
            hub.client.get("/api/v1/projects/alpha", headers=hub.headers("other")).status_code
            == 404
        )
    events = [
        json.loads(r.getMessage()) for r in caplog.records if r.name == "turbosec.hub.security"
    ]
    names = [e["event"] for e in events]
    assert "authz_fail:developer,/api/v1/users" in names
    assert any(n.startswith("authz_fail:token-") and n.endswith("project/alpha") for n in names)
    for event in events:
        assert event["appid"] == "turbosec.hub" and event["level"] == "WARN"
        assert event["request_method"] == "GET" and event["useragent"]
