"""The metrics router through a TestClient.

Mostly on a bare FastAPI app holding only this router, with ``project_reader``,
``any_user_reader`` and ``get_session`` of :mod:`turbosec.hub.api.deps` overridden and the
clock fixed (the authorisation itself is tested with the hub core); one test goes through
the real application and its tokens to check the wiring.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.hub.conftest import Hub
from tests.hub.test_metrics import DAY, NOW, C, H, HubData, L, M
from turbosec.hub.api import deps
from turbosec.hub.api import metrics as metrics_api
from turbosec.hub.errors import HubError, NotFound
from turbosec.hub.models import Project, Status
from turbosec.hub.settings import HubSettings


def make_app(engine: Engine, settings: HubSettings) -> FastAPI:
    app = FastAPI()
    app.include_router(metrics_api.router)
    app.state.settings = settings

    @app.exception_handler(HubError)
    def hub_error(_request: Request, exc: HubError) -> JSONResponse:
        return JSONResponse({"error": exc.code, "detail": exc.detail}, status_code=exc.status)

    def session() -> Iterator[Session]:
        with Session(engine) as s:
            yield s

    def reader(project: str, s: Session = Depends(deps.get_session)) -> Project:
        found = s.scalar(select(Project).where(Project.slug == project))
        if found is None:
            raise NotFound(f"no project {project!r}")
        return found

    app.dependency_overrides[deps.get_session] = session
    app.dependency_overrides[deps.project_reader] = reader
    app.dependency_overrides[deps.any_user_reader] = lambda: None
    app.dependency_overrides[metrics_api.current_time] = lambda: NOW
    return app


def build(session: Session) -> None:
    data = HubData(session)
    shop = data.project("shop")
    data.finding(shop, C, NOW - 10 * DAY)  # 3 days overdue
    data.finding(shop, H, NOW - 5 * DAY)
    data.finding(shop, M, NOW - 100 * DAY)  # 10 days overdue
    data.history(data.finding(shop, H, NOW - 12 * DAY), (Status.FIXED, NOW - 10 * DAY))
    data.history(
        data.finding(shop, C, NOW - 40 * DAY),
        (Status.FIXED, NOW - 36 * DAY),
        (Status.REOPENED, NOW - 20 * DAY),
        (Status.FIXED, NOW - 18 * DAY),
    )
    data.accepted(shop, NOW.date() + 3 * DAY)
    data.accepted(shop, NOW.date() - 3 * DAY, severity=C)
    quiet = data.project("quiet", sla_days={"low": 1})
    data.finding(quiet, L, NOW - 2 * DAY)
    data.project("broken", sla_days={"critical": 0})
    session.commit()


@pytest.fixture
def client(engine: Engine, settings: HubSettings) -> Iterator[TestClient]:
    with Session(engine) as session:
        build(session)
    with TestClient(make_app(engine, settings)) as test_client:
        yield test_client


def get(client: TestClient, url: str, status: int = 200) -> Any:
    response = client.get(url)
    assert response.status_code == status, response.text
    return response.json()


def test_summary(client: TestClient) -> None:
    body = get(client, "/api/v1/projects/shop/metrics/summary")
    assert body["project"] == "shop" and body["as_of"].startswith("2024-06-15T12:00:00")
    assert body["sla_days"] == {"critical": 7, "high": 30, "medium": 90, "low": 180, "info": None}
    assert body["open_total"] == 3
    assert body["open"]["critical"] == {
        "days_0_7": 0,
        "days_8_30": 1,
        "days_31_90": 0,
        "days_over_90": 0,
        "total": 1,
    }
    assert body["open"]["medium"]["days_over_90"] == 1
    assert body["open"]["high"]["days_0_7"] == 1
    assert body["breaches_total"] == 2
    assert body["breaches"] == {"critical": 1, "high": 0, "medium": 1, "low": 0, "info": 0}


def test_sla_breaches_and_limit(client: TestClient) -> None:
    body = get(client, "/api/v1/projects/shop/metrics/sla-breaches")
    assert body["total"] == 2 and not body["truncated"]
    assert [(b["severity"], b["days_overdue"]) for b in body["breaches"]] == [
        ("medium", 10),
        ("critical", 3),
    ]
    first = body["breaches"][0]
    assert set(first) == {
        "finding_id",
        "severity",
        "fingerprint",
        "title",
        "tool",
        "rule_id",
        "path",
        "started_at",
        "sla_days",
        "due_at",
        "days_overdue",
    }
    assert first["due_at"].startswith("2024-06-05T12:00:00")
    limited = get(client, "/api/v1/projects/shop/metrics/sla-breaches?limit=1")
    assert limited["total"] == 2 and limited["truncated"] and len(limited["breaches"]) == 1


def test_trend(client: TestClient) -> None:
    body = get(client, "/api/v1/projects/shop/metrics/trend?weeks=8")
    weeks = body["weeks"]
    assert (
        len(weeks) == 8 and weeks[-1]["week"] == "2024-W24" and weeks[-1]["start"] == "2024-06-10"
    )
    assert sum(w["fixed"] for w in weeks) == 3 and sum(w["reopened"] for w in weeks) == 1
    assert len(get(client, "/api/v1/projects/shop/metrics/trend")["weeks"]) == 12


def test_mttr(client: TestClient) -> None:
    body = get(client, "/api/v1/projects/shop/metrics/mttr")
    assert body["days"] == 90
    assert body["by_severity"]["high"] == {"count": 1, "mean_days": 2.0, "median_days": 2.0}
    assert body["by_severity"]["critical"] == {"count": 2, "mean_days": 3.0, "median_days": 3.0}
    assert body["by_severity"]["info"] == {"count": 0, "mean_days": None, "median_days": None}
    assert body["overall"]["count"] == 3
    short = get(client, "/api/v1/projects/shop/metrics/mttr?days=15")
    assert short["overall"]["count"] == 1


def test_acceptances(client: TestClient) -> None:
    body = get(client, "/api/v1/projects/shop/acceptances")
    assert body["expiring_within_days"] == 14
    assert [(a["severity"], a["days_left"]) for a in body["expiring"]] == [("high", 3)]
    assert [(a["severity"], a["days_left"]) for a in body["expired"]] == [("critical", -3)]
    assert body["expiring"][0]["accepted_until"] == "2024-06-18"
    assert get(client, "/api/v1/projects/shop/acceptances?expiring_within_days=2")["expiring"] == []


def test_gate(client: TestClient) -> None:
    body = get(client, "/api/v1/projects/shop/gate")
    assert set(body) == {"project", "passed", "overdue", "checked_at"}
    assert body["project"] == "shop" and body["passed"] is False
    assert [b["severity"] for b in body["overdue"]] == ["critical"]
    assert body["checked_at"].startswith("2024-06-15T12:00:00")
    assert get(client, "/api/v1/projects/shop/gate?severities=high")["passed"] is True
    medium = get(client, "/api/v1/projects/shop/gate?severities=medium,critical")
    assert [b["severity"] for b in medium["overdue"]] == ["medium", "critical"]
    assert get(client, "/api/v1/projects/quiet/gate")["passed"] is True
    assert get(client, "/api/v1/projects/quiet/gate?severities=low")["passed"] is False


def test_overview(client: TestClient) -> None:
    body = get(client, "/api/v1/metrics/overview", status=409)  # "broken" has a bad SLA
    assert "broken" in body["detail"]


def test_overview_without_broken_project(client: TestClient, engine: Engine) -> None:
    with Session(engine) as session:
        broken = session.scalar(select(Project).where(Project.slug == "broken"))
        assert broken is not None
        session.delete(broken)
        session.commit()
    body = get(client, "/api/v1/metrics/overview")
    assert body["mttr_days"] == 90
    by_slug = {p["project"]: p for p in body["projects"]}
    assert list(by_slug) == ["quiet", "shop"]
    shop = by_slug["shop"]
    assert shop["name"] == "Shop" and shop["open_total"] == 3 and shop["breaches_total"] == 2
    assert shop["open"] == {"critical": 1, "high": 1, "medium": 1, "low": 0, "info": 0}
    assert shop["mttr"]["critical"]["count"] == 2
    assert by_slug["quiet"]["breaches"]["low"] == 1


def test_unknown_project_and_broken_sla(client: TestClient) -> None:
    get(client, "/api/v1/projects/nope/metrics/summary", status=404)
    get(client, "/api/v1/projects/nope/gate", status=404)
    assert "broken" in get(client, "/api/v1/projects/broken/gate", status=409)["detail"]
    get(client, "/api/v1/projects/broken/metrics/summary", status=409)
    get(client, "/api/v1/projects/broken/metrics/sla-breaches", status=409)
    # metrics that do not depend on the SLA still answer
    get(client, "/api/v1/projects/broken/metrics/trend")


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/projects/shop/metrics/trend?weeks=0",
        "/api/v1/projects/shop/metrics/trend?weeks=105",
        "/api/v1/projects/shop/metrics/trend?weeks=ten",
        "/api/v1/projects/shop/metrics/mttr?days=0",
        "/api/v1/projects/shop/metrics/mttr?days=3651",
        "/api/v1/projects/shop/acceptances?expiring_within_days=-1",
        "/api/v1/projects/shop/acceptances?expiring_within_days=3651",
        "/api/v1/projects/shop/metrics/sla-breaches?limit=0",
        "/api/v1/projects/shop/metrics/sla-breaches?limit=10001",
        "/api/v1/projects/shop/gate?severities=urgent",
        "/api/v1/projects/shop/gate?severities=critical,,high",
        "/api/v1/projects/shop/gate?severities=",
        "/api/v1/metrics/overview?mttr_days=0",
        "/api/v1/metrics/overview?mttr_days=3651",
    ],
)
def test_bounds_are_validated(client: TestClient, url: str) -> None:
    get(client, url, status=422)


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/projects/shop/metrics/trend?weeks=1",
        "/api/v1/projects/shop/metrics/trend?weeks=104",
        "/api/v1/projects/shop/metrics/mttr?days=1",
        "/api/v1/projects/shop/metrics/mttr?days=3650",
        "/api/v1/projects/shop/acceptances?expiring_within_days=0",
        "/api/v1/projects/shop/acceptances?expiring_within_days=3650",
        "/api/v1/projects/shop/gate?severities=critical,high,medium,low,info",
    ],
)
def test_bounds_are_inclusive(client: TestClient, url: str) -> None:
    get(client, url)


def test_openapi_describes_the_endpoints(client: TestClient) -> None:
    schema = get(client, "/openapi.json")
    paths = schema["paths"]
    for path in (
        "/api/v1/projects/{project}/metrics/summary",
        "/api/v1/projects/{project}/metrics/sla-breaches",
        "/api/v1/projects/{project}/metrics/trend",
        "/api/v1/projects/{project}/metrics/mttr",
        "/api/v1/projects/{project}/acceptances",
        "/api/v1/projects/{project}/gate",
        "/api/v1/metrics/overview",
    ):
        assert "get" in paths[path], path
    trend = {
        p["name"]: p for p in paths["/api/v1/projects/{project}/metrics/trend"]["get"]["parameters"]
    }
    assert trend["weeks"]["schema"]["minimum"] == 1 and trend["weeks"]["schema"]["maximum"] == 104
    gate = schema["components"]["schemas"]["GateOut"]
    assert set(gate["required"]) == {"project", "passed", "overdue", "checked_at"}


def test_invalid_sla_is_a_conflict_with_an_error_body(client: TestClient) -> None:
    body = get(client, "/api/v1/projects/broken/gate", status=409)
    assert body["error"] == "invalid_sla"
    assert body["detail"].startswith("invalid SLA configuration: project 'broken'")


def test_hub_wide_sla_defaults_come_from_the_settings(
    engine: Engine, settings: HubSettings
) -> None:
    with Session(engine) as session:
        build(session)
    lenient = settings.with_changes(sla_days={"critical": 14, "medium": None})
    with TestClient(make_app(engine, lenient)) as client:
        assert get(client, "/api/v1/projects/shop/gate")["passed"] is True
        summary = get(client, "/api/v1/projects/shop/metrics/summary")
        assert summary["sla_days"]["critical"] == 14 and summary["sla_days"]["medium"] is None
        assert summary["sla_days"]["high"] == 30
        assert summary["breaches_total"] == 0
        # a project's own override still wins over the hub's defaults
        quiet = get(client, "/api/v1/projects/quiet/metrics/summary")
        assert quiet["sla_days"]["low"] == 1 and quiet["breaches_total"] == 1


def test_through_the_hub_application(hub: Hub) -> None:
    """The router as the hub mounts it: real tokens, real error bodies."""
    with hub.session() as session:
        alpha = session.scalar(select(Project).where(Project.slug == "alpha"))
        assert alpha is not None
        HubData(session).finding(alpha, C, NOW - 10 * DAY)
        session.commit()
    app: Any = hub.client.app
    app.dependency_overrides[metrics_api.current_time] = lambda: NOW
    client = hub.client

    def call(url: str, who: str | None) -> Any:
        return client.get(url, headers=hub.headers(who))

    gate = call("/api/v1/projects/alpha/gate", "read")
    assert gate.status_code == 200, gate.text
    assert gate.json()["passed"] is False and gate.json()["project"] == "alpha"
    assert call("/api/v1/projects/alpha/metrics/summary", "developer").status_code == 200
    assert call("/api/v1/projects/alpha/gate", None).status_code == 401
    hidden = call("/api/v1/projects/alpha/gate", "other")  # beta's token
    assert hidden.status_code == 404 and hidden.json()["error"] == "not_found"
    assert call("/api/v1/projects/beta/metrics/trend", "read").status_code == 404

    overview = call("/api/v1/metrics/overview", "developer")
    assert overview.status_code == 200, overview.text
    by_slug = {p["project"]: p for p in overview.json()["projects"]}
    assert by_slug["alpha"]["breaches"]["critical"] == 1 and by_slug["beta"]["open_total"] == 0
    denied = call("/api/v1/metrics/overview", "read")
    assert denied.status_code == 403 and denied.json()["error"] == "forbidden"

    invalid = call("/api/v1/projects/alpha/metrics/trend?weeks=0", "read")
    assert invalid.status_code == 422 and set(invalid.json()) >= {"error", "detail"}
    schema = client.get("/api/v1/openapi.json").json()
    gate_doc = schema["paths"]["/api/v1/projects/{project}/gate"]["get"]
    assert {"200", "401", "403", "404", "409", "422"} <= set(gate_doc["responses"])
