"""The REST API: projects, scans, findings search and triage, SARIF uploads, OpenAPI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select

from tests.hub.conftest import Hub
from tests.hub.reports import dumps, findings, report
from turbosec.core.report import ScanReport
from turbosec.hub.models import Finding
from turbosec.report.sarif import sarif_log

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "importers"


def _get(hub: Hub, url: str, who: str = "developer", **params: Any) -> Any:
    answer = hub.client.get(url, params=params, headers=hub.headers(who))
    assert answer.status_code == 200, answer.text
    return answer.json()


def _ids(hub: Hub) -> list[int]:
    with hub.session() as s:
        return list(s.execute(select(Finding.id).order_by(Finding.id)).scalars())


def test_health_and_unknown_routes(hub: Hub) -> None:
    assert hub.client.get("/api/v1/health").json()["database"] == "ok"
    missing = hub.client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    wrong = hub.client.put("/api/v1/projects", headers=hub.headers("admin"))
    assert wrong.status_code == 405 and wrong.json()["error"] == "method_not_allowed"


def test_projects(hub: Hub) -> None:
    created = hub.client.post(
        "/api/v1/projects",
        json={"slug": "payments-api", "name": "Payments", "sla_days": {"critical": 3}},
        headers=hub.headers("admin"),
    )
    assert created.status_code == 201, created.text
    assert created.json()["sla_days"] == {"critical": 3}
    again = hub.client.post(
        "/api/v1/projects", json={"slug": "payments-api"}, headers=hub.headers("admin")
    )
    assert again.status_code == 409 and again.json()["error"] == "conflict"
    for bad in ({"slug": "Bad Slug"}, {"slug": "ok", "sla_days": {"urgent": 3}}, {"x": 1}):
        answer = hub.client.post("/api/v1/projects", json=bad, headers=hub.headers("admin"))
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"] == "invalid_request"
    assert [p["slug"] for p in _get(hub, "/api/v1/projects")] == ["alpha", "beta", "payments-api"]
    assert _get(hub, "/api/v1/projects/payments-api")["name"] == "Payments"


def test_scans_are_listed_newest_first_with_cursor(hub: Hub) -> None:
    for n in range(5):
        assert (
            hub.upload(dumps(report(findings(range(n + 1)))), build_id=f"b{n}").status_code == 201
        )
    page = _get(hub, "/api/v1/projects/alpha/scans", limit=2)
    assert [s["build_id"] for s in page["items"]] == ["b4", "b3"]
    seen = [s["build_id"] for s in page["items"]]
    while page["next_cursor"]:
        page = _get(hub, "/api/v1/projects/alpha/scans", limit=2, cursor=page["next_cursor"])
        seen += [s["build_id"] for s in page["items"]]
    assert seen == ["b4", "b3", "b2", "b1", "b0"]
    first = _get(hub, "/api/v1/projects/alpha/scans", limit=1)["items"][0]
    assert first["format"] == "turbosec" and first["full"] is True
    assert first["commit"] == "0123456789abcdef0123456789abcdef01234567"
    assert {t["name"] for t in first["tools"]} == {
        "bandit",
        "semgrep",
        "detect-secrets",
        "pip-audit",
    }
    bad = hub.client.get(
        "/api/v1/projects/alpha/scans", params={"cursor": "!!"}, headers=hub.headers("read")
    )
    assert bad.status_code == 400


def test_findings_filters_sort_and_keyset_pages(hub: Hub) -> None:
    assert hub.upload(dumps(report(findings(range(60))))).status_code == 201
    every = _get(hub, "/api/v1/projects/alpha/findings", limit=500)["items"]
    assert len(every) == 60
    order = [("critical", "high", "medium", "low", "info").index(f["severity"]) for f in every]
    assert order == sorted(order)  # most severe first by default

    # walk pages of 7 in every sort order: each finding exactly once, in order
    for sort in ("-severity", "severity", "last_seen", "-first_seen", "id", "-id"):
        seen: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 7, "sort": sort}
            if cursor:
                params["cursor"] = cursor
            page = _get(hub, "/api/v1/projects/alpha/findings", **params)
            seen += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert sorted(f["id"] for f in seen) == sorted(f["id"] for f in every), sort
        assert len({f["id"] for f in seen}) == 60

    crit = _get(hub, "/api/v1/projects/alpha/findings", severity="critical")["items"]
    assert crit and {f["severity"] for f in crit} == {"critical"}
    high_up = _get(hub, "/api/v1/projects/alpha/findings", min_severity="high")["items"]
    assert {f["severity"] for f in high_up} == {"critical", "high"}
    secrets = _get(hub, "/api/v1/projects/alpha/findings", category="secret")["items"]
    assert {f["tool"] for f in secrets} == {"detect-secrets"}
    bandit = _get(hub, "/api/v1/projects/alpha/findings", tool="bandit")["items"]
    assert len(bandit) == 15
    under = _get(hub, "/api/v1/projects/alpha/findings", path="config/")["items"]
    assert under and all(f["path"].startswith("config/") for f in under)
    # LIKE wildcards in a prefix are literal
    assert _get(hub, "/api/v1/projects/alpha/findings", path="config%")["items"] == []
    text = _get(hub, "/api/v1/projects/alpha/findings", q="REQUEST #41")["items"]
    assert [f["message"] for f in text] == [
        "Detected user input entering a subprocess call (request #41)."
    ]
    assert _get(hub, "/api/v1/projects/alpha/findings", status="fixed")["items"] == []
    too_big = hub.client.get(
        "/api/v1/projects/alpha/findings", params={"limit": 501}, headers=hub.headers("read")
    )
    assert too_big.status_code == 422 and "limit" in too_big.json()["detail"]
    mixed = hub.client.get(
        "/api/v1/projects/alpha/findings",
        params={
            "sort": "id",
            "cursor": _get(hub, "/api/v1/projects/alpha/findings", limit=1)["next_cursor"],
        },
        headers=hub.headers("read"),
    )
    assert mixed.status_code == 400


def test_triage_history_and_comments(hub: Hub) -> None:
    assert hub.upload(dumps(report(findings(range(3))))).status_code == 201
    fid = _ids(hub)[0]
    base = f"/api/v1/projects/alpha/findings/{fid}"
    sec = hub.headers("security")

    def status(body: dict[str, Any], who: dict[str, str] = sec) -> Any:
        return hub.client.post(f"{base}/status", json=body, headers=who)

    tomorrow = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat()
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert status({"status": "accepted"}).status_code == 422  # a reason is required
    assert status({"status": "accepted", "reason": "x", "expires": today}).status_code == 422
    assert status({"status": "reopened", "reason": "x"}).status_code == 409  # it is open
    assert status({"status": "fixed", "reason": "x"}).status_code == 422  # not settable
    accepted = status({"status": "accepted", "reason": "WAF rule 7", "expires": tomorrow})
    assert accepted.status_code == 200, accepted.text
    body = accepted.json()
    assert body["status"] == "accepted" and body["accepted_until"] == tomorrow
    assert body["accepted_by"] == "user:security" and body["accepted_reason"] == "WAF rule 7"
    fp = status({"status": "false_positive", "reason": "test fixture"})
    assert fp.json()["status"] == "false_positive" and fp.json()["accepted_until"] is None
    back = status({"status": "open"}, hub.headers("admin"))
    assert back.json()["status"] == "open"

    comment = hub.client.post(
        f"{base}/comments",
        json={"body": "Seen in prod logs too."},
        headers=hub.headers("developer"),
    )
    assert comment.status_code == 201 and comment.json()["author"] == "developer"
    assigned = hub.client.post(f"{base}/assign", json={"assignee": "alice"}, headers=sec)
    assert assigned.json()["assignee"] == "alice"

    detail = _get(hub, base)
    assert [(h["from_status"], h["to_status"], h["actor"]) for h in detail["history"]] == [
        (None, "open", f"scan:{detail['first_scan_id']}"),
        ("open", "accepted", "user:security"),
        ("accepted", "false_positive", "user:security"),
        ("false_positive", "open", "user:admin"),
    ]
    assert detail["history"][1]["reason"].startswith("WAF rule 7")
    assert [c["body"] for c in detail["comments"]] == ["Seen in prod logs too."]
    assert _get(hub, "/api/v1/projects/alpha/findings", assignee="alice")["items"][0]["id"] == fid

    other = hub.client.get(f"/api/v1/projects/beta/findings/{fid}", headers=hub.headers("admin"))
    assert other.status_code == 404  # a finding is reached through its own project only
    huge = hub.client.get(f"/api/v1/projects/alpha/findings/{2**64}", headers=sec)
    assert huge.status_code == 422


def _sarif_upload(hub: Hub, doc: dict[str, Any], **params: Any) -> Any:
    return hub.upload(
        orjson.dumps(doc), headers={"Content-Type": "application/sarif+json"}, **params
    )


def test_real_tools_sarif(hub: Hub) -> None:
    total = 0
    for name in ("bandit", "semgrep", "checkov", "gitleaks", "zizmor"):
        doc = json.loads((FIXTURES / f"{name}.sarif").read_text())
        answer = _sarif_upload(hub, doc, full="false")
        assert answer.status_code == 201, answer.text
        results = sum(len(r.get("results") or []) for r in doc["runs"])
        assert answer.json()["new"] == results and answer.json()["format"] == "sarif"
        total += results
        again = _sarif_upload(hub, doc)
        assert (again.json()["new"], again.json()["unchanged"], again.json()["fixed"]) == (
            0,
            results,
            0,
        )
    items = _get(hub, "/api/v1/projects/alpha/findings", limit=500)["items"]
    assert len(items) == total
    by_tool = {f["tool"]: f for f in items}
    assert by_tool["checkov"]["category"] == "iac"
    assert by_tool["zizmor"]["category"] == "pipeline"
    leak = by_tool["gitleaks"]
    assert leak["category"] == "secret" and "snippet" not in leak["details"]


def test_turbosec_json_and_its_sarif_are_the_same_findings(hub: Hub) -> None:
    doc = report(findings(range(12)))
    assert hub.upload(dumps(doc)).json()["new"] == 12
    sarif = sarif_log(ScanReport.from_dict(doc))
    answer = _sarif_upload(hub, sarif)
    assert answer.status_code == 201, answer.text
    assert (answer.json()["new"], answer.json()["unchanged"], answer.json()["fixed"]) == (0, 12, 0)
    # and without one of them, the SARIF (a full scan of every tool) fixes it
    smaller = report(findings(range(12))[1:])
    answer = _sarif_upload(hub, sarif_log(ScanReport.from_dict(smaller)))
    assert (answer.json()["new"], answer.json()["fixed"]) == (0, 1)


def test_sarif_of_a_failed_tool_fixes_nothing(hub: Hub) -> None:
    doc = json.loads((FIXTURES / "bandit.sarif").read_text())
    assert _sarif_upload(hub, doc).json()["new"] == 5
    doc["runs"][0]["results"] = []
    doc["runs"][0]["invocations"] = [{"executionSuccessful": False}]
    assert _sarif_upload(hub, doc).json()["fixed"] == 0
    del doc["runs"][0]["results"]
    doc["runs"][0]["invocations"] = [{"executionSuccessful": True}]
    assert _sarif_upload(hub, doc).json()["fixed"] == 0  # no results array: it failed
    doc["runs"][0]["results"] = []
    assert _sarif_upload(hub, doc).json()["fixed"] == 5


def test_openapi_declares_every_error(hub: Hub) -> None:
    schema = hub.client.get("/api/v1/openapi.json").json()
    assert "ErrorBody" in schema["components"]["schemas"]
    assert "HTTPValidationError" not in json.dumps(schema)
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            assert "500" in codes, (method, path)
            if op.get("security") != []:
                assert "401" in codes, (method, path)
            if op.get("parameters") or op.get("requestBody"):
                assert "422" in codes, (method, path)
            for code, response in op["responses"].items():
                if code.startswith(("4", "5")):
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorBody"), (method, path, code)
    body = schema["paths"]["/api/v1/projects/{project}/scans"]["post"]["requestBody"]
    assert set(body["content"]) == {
        "application/json",
        "application/sarif+json",
        "application/gzip",
    }
    assert "TurbosecReport_finding" in schema["components"]["schemas"]
