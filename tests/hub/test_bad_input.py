"""Bad uploads and bad callers: a 4xx JSON error, and nothing stored."""

from __future__ import annotations

import datetime as dt
import gzip
import zlib
from typing import Any

import pytest
from sqlalchemy import func, select, update

from tests.hub.conftest import Hub
from tests.hub.reports import dumps, findings, gz, report
from turbosec.hub.models import ApiToken, Finding, Scan, StatusChange


def _nothing_stored(hub: Hub) -> None:
    with hub.session() as s:
        assert s.execute(select(func.count(Scan.id))).scalar_one() == 0
        assert s.execute(select(func.count(Finding.id))).scalar_one() == 0
        assert s.execute(select(func.count(StatusChange.id))).scalar_one() == 0


def _error(answer: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = answer.json()
    assert set(body) >= {"error", "detail"} and body["detail"]
    if code is not None:
        assert body["error"] == code, body
    return body


def _gzip_bomb(size: int) -> bytes:
    """A gzip stream that inflates to ``size`` bytes of a JSON string (it compresses 1000:1)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    out = [comp.compress(b'{"schema": "turbosec.report/v1", "x": "')]
    block = b"a" * (1 << 20)
    for _ in range(size // len(block)):
        out.append(comp.compress(block))
    out.append(comp.compress(b'"}'))
    out.append(comp.flush())
    return b"".join(out)


def test_malformed_json(hub: Hub) -> None:
    body = _error(hub.upload(b'{"schema": "turbosec.report/v1", "findings": [}'), 400)
    assert body["error"] == "malformed_json"
    assert "line 1" in body["detail"]
    _error(hub.upload(b""), 400)
    _error(hub.upload(b"[1, 2]"), 400, "invalid_report")
    _nothing_stored(hub)


def test_schema_violation_names_the_json_path(hub: Hub) -> None:
    doc = report(findings(range(5)))
    doc["findings"][3]["severity"] = "urgent"
    body = _error(hub.upload(dumps(doc)), 400, "schema_violation")
    assert "findings[3].severity" in body["detail"]
    assert any(p.startswith("findings[3].severity:") for p in body["problems"])

    doc = report(findings(range(2)))
    del doc["repo"]
    body = _error(hub.upload(dumps(doc)), 400, "schema_violation")
    assert "repo" in body["detail"]

    doc = report(findings(range(2)))
    doc["schema"] = "turbosec.report/v9"
    _error(hub.upload(dumps(doc)), 400, "unsupported_schema")
    _error(hub.upload(dumps({"hello": "world"})), 400, "unknown_format")
    _nothing_stored(hub)


def test_bad_sarif(hub: Hub) -> None:
    body = _error(hub.upload(dumps({"version": "2.0.0", "runs": []})), 400, "invalid_report")
    assert "version" in body["detail"]
    sarif = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [5]}]}
    body = _error(hub.upload(dumps(sarif)), 400, "invalid_report")
    assert "runs[0].results[0]" in body["detail"]
    _nothing_stored(hub)


def test_truncated_and_corrupt_gzip(hub: Hub) -> None:
    whole = gz(report(findings(range(20))))
    body = _error(hub.upload(whole[: len(whole) // 2], headers={"Content-Encoding": "gzip"}), 400)
    assert body["error"] == "truncated_gzip"
    corrupt = whole[:20] + bytes(b ^ 0xFF for b in whole[20:60]) + whole[60:]
    _error(hub.upload(corrupt, headers={"Content-Type": "application/gzip"}), 400, "bad_gzip")
    _error(hub.upload(b"{}", headers={"Content-Encoding": "gzip"}), 400, "bad_gzip")
    _nothing_stored(hub)


def test_size_limits(hub: Hub) -> None:
    small = hub.settings.with_changes(max_upload_bytes=50_000, max_decompressed_bytes=200_000)
    hub.client.app.state.settings = small  # type: ignore[attr-defined]
    # a gzip bomb: small on the wire, far too large once inflated
    bomb = _gzip_bomb(8 << 20)
    assert len(bomb) < 50_000
    body = _error(hub.upload(bomb, headers={"Content-Encoding": "gzip"}), 413, "too_large")
    assert "decompressed" in body["detail"]
    # too large on the wire
    _error(hub.upload(b" " * 60_000 + b"{}"), 413, "too_large")
    _nothing_stored(hub)


def test_too_many_findings(hub: Hub) -> None:
    hub.client.app.state.settings = hub.settings.with_changes(max_findings=10)  # type: ignore[attr-defined]
    body = _error(hub.upload(dumps(report(findings(range(11))))), 413, "too_many_findings")
    assert "11" in body["detail"] and "10" in body["detail"]
    _nothing_stored(hub)
    assert hub.upload(dumps(report(findings(range(10))))).status_code == 201


def test_unsupported_media_type(hub: Hub) -> None:
    doc = dumps(report(findings(range(1))))
    _error(hub.upload(doc, headers={"Content-Type": "text/plain"}), 415)
    _error(hub.upload(doc, headers={"Content-Encoding": "br"}), 415)
    _nothing_stored(hub)


def test_unknown_project(hub: Hub) -> None:
    doc = dumps(report(findings(range(2))))
    _error(hub.upload(doc, who="admin", project="nope"), 404, "not_found")
    _error(hub.upload(doc, who="admin", project="NOT a slug"), 422, "invalid_request")
    _nothing_stored(hub)


@pytest.mark.parametrize("case", ["missing", "garbage", "unknown", "expired", "revoked", "basic"])
def test_bad_tokens(hub: Hub, case: str) -> None:
    doc = dumps(report(findings(range(2))))
    headers: dict[str, str] = {}
    if case == "garbage":
        headers = {"Authorization": "Bearer not-a-token"}
    elif case == "unknown":
        headers = {"Authorization": "Bearer tsh_" + "A" * 43}
    elif case == "basic":
        headers = {"Authorization": "Basic dXNlcjpwYXNz"}
    elif case in ("expired", "revoked"):
        with hub.engine.begin() as conn:
            past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
            values = {"expires_at": past} if case == "expired" else {"revoked_at": past}
            conn.execute(update(ApiToken).where(ApiToken.name == "upload-token").values(**values))
        headers = hub.headers("upload")
    answer = hub.client.post(
        "/api/v1/projects/alpha/scans",
        content=doc,
        headers={"Content-Type": "application/json", **headers},
    )
    body = _error(answer, 401, "unauthorized")
    assert answer.headers["www-authenticate"].startswith("Bearer")
    if case in ("expired", "revoked"):
        assert case in body["detail"]
    _nothing_stored(hub)


def test_wrong_projects_token_sees_no_project(hub: Hub) -> None:
    doc = dumps(report(findings(range(2))))
    answer = hub.upload(doc, who="other", project="alpha")
    body = _error(answer, 404, "not_found")
    assert body["detail"] == "no project 'alpha'"
    # exactly what a project that does not exist looks like
    assert _error(hub.upload(doc, who="other", project="ghost"), 404)["detail"] == (
        "no project 'ghost'"
    )
    # a read token may read but not upload
    _error(hub.upload(doc, who="read"), 403, "forbidden")
    _nothing_stored(hub)


def test_identity_fields_too_long(hub: Hub) -> None:
    doc = report(findings(range(2)), branch="b" * 300)
    body = _error(hub.upload(dumps(doc)), 400)
    assert "branch" in body["detail"]
    _error(hub.upload(dumps(report(findings(range(2)))), commit="c" * 65), 422)
    _nothing_stored(hub)


def test_nul_characters_and_huge_numbers_are_stored_or_refused_cleanly(hub: Hub) -> None:
    doc = report(findings(range(2)))
    doc["findings"][0]["message"] = "a\x00b"
    doc["findings"][0]["location"]["start_line"] = 10**15
    doc["findings"][0]["location"]["snippet"] = "x = '\x00'"
    doc["findings"][1]["tool"] = "bandit\x00"
    doc["repo"]["branch"] = "main\x00"
    doc["started_at"] = "0001-01-01T00:00:00+05:00"
    doc["tools"][0]["name"] = "bandit\x00"
    answer = hub.upload(dumps(doc))
    assert answer.status_code == 201, answer.text
    with hub.session() as s:
        row = s.execute(
            select(Finding).where(Finding.fingerprint == doc["findings"][0]["fingerprint"])
        ).scalar_one()
    assert row.message == "a\ufffdb" and row.line is None
    assert row.details["snippet"] == "x = '\x00'"  # JSON keeps it, escaped
    assert answer.json()["branch"] == "main\ufffd" and answer.json()["started_at"] is None


def test_gzip_is_detected_without_headers(hub: Hub) -> None:
    answer = hub.upload(gzip.compress(dumps(report(findings(range(3))))))
    assert answer.status_code == 201, answer.text
    assert answer.json()["new"] == 3
