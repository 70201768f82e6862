"""The finding lifecycle through the upload API, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select, update

from tests.hub.conftest import Hub
from tests.hub.reports import dumps, findings, gz, report, tool_runs
from turbosec.hub.models import Finding, Scan, StatusChange

COUNTS = ("new", "unchanged", "fixed", "reopened")


def _counts(answer: Any) -> tuple[int, int, int, int]:
    assert answer.status_code == 201, answer.text
    body = answer.json()
    return tuple(body[k] for k in COUNTS)  # type: ignore[return-value]


def _statuses(hub: Hub) -> dict[str, str]:
    with hub.session() as s:
        return {fp: st for fp, st in s.execute(select(Finding.fingerprint, Finding.status))}


def _history(hub: Hub, fingerprint: str) -> list[tuple[str | None, str, str]]:
    with hub.session() as s:
        rows = s.execute(
            select(StatusChange.from_status, StatusChange.to_status, StatusChange.actor)
            .join(Finding, Finding.id == StatusChange.finding_id)
            .where(Finding.fingerprint == fingerprint)
            .order_by(StatusChange.id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_upload_a_then_b_then_a_again(hub: Hub) -> None:
    """The issue's scenario: A (10) → B (8 of A + 2 new) → A again."""
    a = findings(range(10))
    extra = findings(range(100, 102))
    b = [*a[:8], *extra]
    fp_a = [f.fingerprint for f in a]
    fp_new = [f.fingerprint for f in extra]

    first = hub.upload(dumps(report(a)))
    assert _counts(first) == (10, 0, 0, 0)
    assert set(_statuses(hub).values()) == {"open"}

    second = hub.upload(dumps(report(b)))
    assert _counts(second) == (2, 8, 2, 0)
    statuses = _statuses(hub)
    assert [statuses[fp] for fp in fp_a[:8]] == ["open"] * 8
    assert [statuses[fp] for fp in fp_a[8:]] == ["fixed"] * 2
    assert [statuses[fp] for fp in fp_new] == ["open"] * 2

    third = hub.upload(dumps(report(a)))
    assert _counts(third) == (0, 8, 2, 2)
    statuses = _statuses(hub)
    assert [statuses[fp] for fp in fp_a[:8]] == ["open"] * 8
    assert [statuses[fp] for fp in fp_a[8:]] == ["reopened"] * 2
    assert [statuses[fp] for fp in fp_new] == ["fixed"] * 2

    s1, s2, s3 = (r.json()["id"] for r in (first, second, third))
    assert _history(hub, fp_a[0]) == [(None, "open", f"scan:{s1}")]
    assert _history(hub, fp_a[9]) == [
        (None, "open", f"scan:{s1}"),
        ("open", "fixed", f"scan:{s2}"),
        ("fixed", "reopened", f"scan:{s3}"),
    ]
    assert _history(hub, fp_new[0]) == [
        (None, "open", f"scan:{s2}"),
        ("open", "fixed", f"scan:{s3}"),
    ]
    with hub.session() as s:
        scans = s.execute(select(Scan).order_by(Scan.id)).scalars().all()
        assert [(x.new, x.unchanged, x.fixed, x.reopened) for x in scans] == [
            (10, 0, 0, 0),
            (2, 8, 2, 0),
            (0, 8, 2, 2),
        ]
        assert all(x.uploaded_by == "token:upload-token" for x in scans)
        reopened = s.execute(select(Finding).where(Finding.fingerprint == fp_a[9])).scalar_one()
        assert reopened.fixed_at is None
        assert reopened.first_scan_id == s1 and reopened.last_scan_id == s3
        fixed = s.execute(select(Finding).where(Finding.fingerprint == fp_new[0])).scalar_one()
        assert fixed.fixed_at is not None


def _snapshot(hub: Hub) -> list[tuple[Any, ...]]:
    with hub.session() as s:
        rows = s.execute(select(Finding).order_by(Finding.id)).scalars().all()
        return [
            (
                f.id,
                f.fingerprint,
                f.status,
                f.severity,
                f.title,
                f.message,
                f.details,
                f.content_hash,
                f.branch,
                f.first_seen_at,
                f.status_changed_at,
                f.first_scan_id,
            )
            for f in rows
        ]


def test_identical_reupload_changes_only_last_seen(hub: Hub) -> None:
    doc = report(findings(range(40)))
    first = hub.upload(gz(doc), headers={"Content-Encoding": "gzip"})
    assert _counts(first) == (40, 0, 0, 0)
    before = _snapshot(hub)
    with hub.session() as s:
        seen_before = s.execute(select(func.max(Finding.last_seen_at))).scalar_one()
        changes_before = s.execute(select(func.count(StatusChange.id))).scalar_one()

    second = hub.upload(dumps(doc))
    assert _counts(second) == (0, 40, 0, 0)
    assert _snapshot(hub) == before
    with hub.session() as s:
        assert s.execute(select(func.count(Scan.id))).scalar_one() == 2
        assert s.execute(select(func.count(StatusChange.id))).scalar_one() == changes_before
        seen = s.execute(select(func.min(Finding.last_seen_at))).scalar_one()
        assert seen > seen_before
        assert set(s.execute(select(Finding.last_scan_id)).scalars()) == {second.json()["id"]}


def test_changed_content_is_refreshed(hub: Hub) -> None:
    original = findings(range(4))
    assert _counts(hub.upload(dumps(report(original)))) == (4, 0, 0, 0)
    doc = report(original)
    doc["findings"][0]["severity"] = "critical"
    doc["findings"][0]["title"] = "A new title"
    doc["findings"][0]["location"]["start_line"] = 999
    assert _counts(hub.upload(dumps(doc))) == (0, 4, 0, 0)
    with hub.session() as s:
        row = s.execute(
            select(Finding).where(Finding.fingerprint == original[0].fingerprint)
        ).scalar_one()
    assert (row.severity, row.title, row.line, row.status) == (4, "A new title", 999, "open")


def test_partial_scans_never_fix(hub: Hub) -> None:
    assert _counts(hub.upload(dumps(report(findings(range(6)))))) == (6, 0, 0, 0)
    # full=false on the request
    assert _counts(hub.upload(dumps(report(findings(range(2)))), full="false")) == (0, 2, 0, 0)
    # a --diff-base report says so itself
    diff = report(
        findings(range(1)),
        baseline="origin/main (0123456789ab)",
        notices=["5 finding(s) already present at origin/main (0123456789ab) are not shown"],
    )
    answer = hub.upload(dumps(diff))
    assert _counts(answer) == (0, 1, 0, 0)
    assert answer.json()["full"] is False
    # full=true cannot turn a diff report into a full one
    answer = hub.upload(dumps(diff), full="true")
    assert _counts(answer) == (0, 1, 0, 0)
    assert any("ignored" in w for w in answer.json()["warnings"])
    assert set(_statuses(hub).values()) == {"open"}


def test_findings_of_a_failed_or_skipped_tool_are_not_fixed(hub: Hub) -> None:
    every = findings(range(8))  # two of each tool
    assert _counts(hub.upload(dumps(report(every)))) == (8, 0, 0, 0)
    bandit = [f for f in every if f.tool == "bandit"]
    others = [f for f in every if f.tool != "bandit"]
    # bandit failed: its findings are absent but must stay open; semgrep found nothing
    # this time (it ran fine): its findings are fixed
    kept = [f for f in others if f.tool != "semgrep"]
    doc = report(kept, tools=tool_runs(failed=("bandit",)))
    assert _counts(hub.upload(dumps(doc))) == (0, 4, 2, 0)
    statuses = _statuses(hub)
    assert all(statuses[f.fingerprint] == "open" for f in bandit)
    assert all(statuses[f.fingerprint] == "fixed" for f in every if f.tool == "semgrep")
    # pip-audit not selected (--scanner): skipped tools fix nothing either
    doc = report([], tools=tool_runs(skipped=("pip-audit",), failed=("bandit",)))
    assert _counts(hub.upload(dumps(doc))) == (0, 0, 2, 0)  # the detect-secrets ones
    statuses = _statuses(hub)
    assert all(statuses[f.fingerprint] == "open" for f in every if f.tool == "pip-audit")


def test_other_branches_are_left_alone(hub: Hub) -> None:
    main = findings(range(4))
    assert _counts(hub.upload(dumps(report(main, branch="main")))) == (4, 0, 0, 0)
    feature = findings(range(50, 52))
    assert _counts(hub.upload(dumps(report(feature, branch="feature/x")))) == (2, 0, 0, 0)
    # a full scan of main without the feature's findings does not fix them
    assert _counts(hub.upload(dumps(report(main, branch="main")))) == (0, 4, 0, 0)
    # the branch parameter overrides the report's
    answer = hub.upload(dumps(report(main[:3], branch="main")), branch="feature/x")
    assert answer.json()["branch"] == "feature/x"
    assert _counts(answer) == (0, 3, 2, 0)  # the feature's two, absent from its full scan


def test_accepted_risk_reopens_after_expiry_and_false_positive_stays(hub: Hub) -> None:
    doc = report(findings(range(3)))
    first = hub.upload(dumps(doc))
    assert _counts(first) == (3, 0, 0, 0)
    with hub.session() as s:
        ids = s.execute(select(Finding.id).order_by(Finding.id)).scalars().all()
    accept = hub.client.post(
        f"/api/v1/projects/alpha/findings/{ids[0]}/status",
        json={"status": "accepted", "reason": "compensating control", "expires": "2099-01-01"},
        headers=hub.headers("security"),
    )
    assert accept.status_code == 200, accept.text
    fp = hub.client.post(
        f"/api/v1/projects/alpha/findings/{ids[1]}/status",
        json={"status": "false_positive", "reason": "test code"},
        headers=hub.headers("security"),
    )
    assert fp.status_code == 200, fp.text

    # still valid: nothing changes, and accepted/false positive are not "fixed" when absent
    second = hub.upload(dumps(report(findings(range(2, 3)))))
    assert _counts(second) == (0, 1, 0, 0)
    assert second.json()["expired_acceptances"] == 0
    with hub.session() as s:
        assert s.get(Finding, ids[0]).status == "accepted"  # type: ignore[union-attr]
        assert s.get(Finding, ids[1]).status == "false_positive"  # type: ignore[union-attr]

    # the acceptance ran out yesterday: the next ingest reopens it, by "system"
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    with hub.engine.begin() as conn:
        conn.execute(update(Finding).where(Finding.id == ids[0]).values(accepted_until=yesterday))
    third = hub.upload(dumps(doc))
    assert third.json()["expired_acceptances"] == 1
    assert _counts(third) == (0, 3, 0, 0)
    with hub.session() as s:
        reopened = s.get(Finding, ids[0])
        assert reopened is not None and reopened.status == "reopened"
        assert reopened.accepted_until is None
        assert s.get(Finding, ids[1]).status == "false_positive"  # type: ignore[union-attr]
        last = (
            s.execute(
                select(StatusChange)
                .where(StatusChange.finding_id == ids[0])
                .order_by(StatusChange.id.desc())
            )
            .scalars()
            .first()
        )
    assert last is not None
    assert (last.from_status, last.to_status, last.actor) == ("accepted", "reopened", "system")
    assert "expired" in last.reason


def test_duplicate_fingerprints_count_once(hub: Hub) -> None:
    doc = report(findings(range(3)))
    doc["findings"].append(dict(doc["findings"][0]))
    answer = hub.upload(dumps(doc))
    assert _counts(answer) == (3, 0, 0, 0)
    assert answer.json()["duplicates"] == 1
    assert answer.json()["findings_total"] == 3
    assert any("repeated a fingerprint" in w for w in answer.json()["warnings"])


def test_concurrent_uploads_of_one_project_are_serialised(hub: Hub) -> None:
    """Four uploads of the same new findings at once: one creates them, three see them."""
    from concurrent.futures import ThreadPoolExecutor

    from turbosec.hub.ingest import IngestOptions, ingest, read_upload

    body = dumps(report(findings(range(300))))
    project_id = hub.project_id()

    def one(_: int) -> tuple[int, int]:
        upload = read_upload(body, hub.settings)
        result = ingest(hub.engine, project_id, upload, IngestOptions(uploaded_by="test"))
        return result.new, result.unchanged

    with ThreadPoolExecutor(4) as pool:
        results = sorted(pool.map(one, range(4)))
    assert results == [(0, 300), (0, 300), (0, 300), (300, 0)]
    with hub.session() as s:
        assert s.execute(select(func.count(Finding.id))).scalar_one() == 300
        assert s.execute(select(func.count(StatusChange.id))).scalar_one() == 300
