"""SLA and metrics over hand-built findings and status histories, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from turbosec.core.severity import Severity
from turbosec.hub import metrics
from turbosec.hub.metrics import SlaConfigError, SlaPolicy, validate_sla_days
from turbosec.hub.models import Finding, Project, Status, StatusChange

NOW = dt.datetime(2024, 6, 15, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)

# N for info, which has no SLA by default
C, H, M, L, N = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO)


class HubData:
    """Builds projects, findings and their status history directly through the models."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._n = 0

    def project(self, slug: str, sla_days: dict[str, Any] | None = None) -> Project:
        project = Project(slug=slug, name=slug.title(), sla_days=sla_days, created_at=NOW)
        self.session.add(project)
        self.session.flush()
        return project

    def finding(
        self, project: Project, severity: Severity, first_seen: dt.datetime, **fields: Any
    ) -> Finding:
        """An open finding first seen at ``first_seen``, with its creation in the history."""
        self._n += 1
        finding = Finding(
            project_id=project.id,
            fingerprint=f"fp-{self._n:05d}",
            status=Status.OPEN.value,
            severity=int(severity),
            tool="semgrep",
            rule_id=f"rule.{self._n}",
            title=f"finding {self._n}",
            category="sast",
            path=f"src/f{self._n}.py",
            first_seen_at=first_seen,
            last_seen_at=first_seen,
            status_changed_at=first_seen,
            **fields,
        )
        self.session.add(finding)
        self.session.flush()
        self.session.add(
            StatusChange(
                finding_id=finding.id,
                project_id=project.id,
                at=first_seen,
                from_status=None,
                to_status=Status.OPEN.value,
                actor="scan:1",
            )
        )
        return finding

    def change(self, finding: Finding, status: Status, at: dt.datetime) -> Finding:
        self.session.add(
            StatusChange(
                finding_id=finding.id,
                project_id=finding.project_id,
                at=at,
                from_status=finding.status,
                to_status=status.value,
                actor="user:alice",
            )
        )
        finding.status = status.value
        finding.status_changed_at = at
        if status is Status.FIXED:
            finding.fixed_at = at
        self.session.flush()
        return finding

    def history(self, finding: Finding, *steps: tuple[Status, dt.datetime]) -> Finding:
        for status, at in steps:
            self.change(finding, status, at)
        return finding

    def accepted(self, project: Project, until: dt.date | None, **kw: Any) -> Finding:
        finding = self.finding(project, kw.pop("severity", H), NOW - 100 * DAY, **kw)
        self.change(finding, Status.ACCEPTED, NOW - 50 * DAY)
        finding.accepted_until = until
        finding.accepted_by = "user:sec"
        finding.accepted_reason = "compensating control"
        self.session.flush()
        return finding


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


@pytest.fixture
def data(session: Session) -> HubData:
    return HubData(session)


# ----------------------------------------------------------------------- policy


def test_default_sla_days() -> None:
    assert dict(metrics.DEFAULT_SLA_DAYS) == {C: 7, H: 30, M: 90, L: 180, N: None}
    assert SlaPolicy.from_overrides(None) == SlaPolicy()
    assert SlaPolicy().as_dict() == {
        "critical": 7,
        "high": 30,
        "medium": 90,
        "low": 180,
        "info": None,
    }


def test_partial_override_keeps_the_other_defaults() -> None:
    policy = SlaPolicy.from_overrides({"Critical": 3, "moderate": 60, "info": 365, "low": None})
    assert policy.as_dict() == {"critical": 3, "high": 30, "medium": 60, "low": None, "info": 365}
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    assert policy.due(start, C) == dt.datetime(2024, 1, 4, tzinfo=dt.UTC)
    assert policy.due(start, L) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([("critical", 3)], "must be an object"),
        ("critical=3", "must be an object"),
        ({"urgent": 3}, "unknown severity"),
        ({1: 3}, "must be a name"),
        ({"medium": 30, "moderate": 40}, "given twice"),
        ({"critical": 0}, "whole number from 1 to 3650"),
        ({"critical": 3651}, "whole number"),
        ({"critical": -1}, "whole number"),
        ({"critical": 2.5}, "whole number"),
        ({"critical": "7"}, "whole number"),
        ({"critical": True}, "whole number"),
    ],
)
def test_invalid_overrides_are_rejected(value: object, message: str) -> None:
    with pytest.raises(SlaConfigError, match=message):
        validate_sla_days(value)


def test_validate_normalises() -> None:
    assert validate_sla_days({"HIGH": 10, "none": None}) == {"high": 10, "info": None}
    assert validate_sla_days({}) == {}


def test_naive_now_is_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        metrics.open_findings(session, now=dt.datetime(2024, 1, 1))


# ------------------------------------------------------------------ SLA breaches


def test_due_and_breach_on_the_defaults(session: Session, data: HubData) -> None:
    p = data.project("shop")
    at_due = data.finding(p, C, NOW - 7 * DAY)  # due exactly now: not yet breached
    just_over = data.finding(p, C, NOW - 7 * DAY - dt.timedelta(seconds=1))
    high = data.finding(p, H, NOW - 40 * DAY)  # due 10 days ago
    data.finding(p, M, NOW - 89 * DAY)
    data.finding(p, N, NOW - 1000 * DAY)  # info: no SLA
    data.history(data.finding(p, C, NOW - 100 * DAY), (Status.FIXED, NOW - 50 * DAY))
    data.history(data.finding(p, C, NOW - 100 * DAY), (Status.ACCEPTED, NOW - 90 * DAY))
    data.history(data.finding(p, H, NOW - 100 * DAY), (Status.FALSE_POSITIVE, NOW - 99 * DAY))
    session.commit()

    result = metrics.sla_breaches(session, p.id, now=NOW)
    assert dict(result.by_severity) == {C: 1, H: 1, M: 0, L: 0, N: 0}
    assert result.total == 2 and not result.truncated
    assert [b.finding_id for b in result.breaches] == [high.id, just_over.id]  # most overdue first
    first, second = result.breaches
    assert first.due_at == NOW - 10 * DAY and first.days_overdue == 10 and first.sla_days == 30
    assert first.started_at == high.first_seen_at and first.severity is H
    assert first.fingerprint == high.fingerprint and first.path == high.path
    assert second.days_overdue == 0 and second.due_at == NOW - dt.timedelta(seconds=1)

    sla = metrics.finding_sla(session, at_due, now=NOW)
    assert sla.due_at == NOW and not sla.breached and sla.active
    assert metrics.finding_sla(session, just_over, now=NOW).breached


def test_project_override(session: Session, data: HubData) -> None:
    strict = data.project("strict", sla_days={"critical": 3, "low": None, "info": 30})
    default = data.project("default")
    crit_strict = data.finding(strict, C, NOW - 4 * DAY)
    data.finding(strict, L, NOW - 1000 * DAY)  # no SLA for low here
    info = data.finding(strict, N, NOW - 31 * DAY)
    data.finding(strict, H, NOW - 29 * DAY)  # the default 30 days still applies
    data.finding(default, C, NOW - 4 * DAY)
    default_low = data.finding(default, L, NOW - 181 * DAY)
    session.commit()

    strict_result = metrics.sla_breaches(session, strict.id, now=NOW)
    assert {b.finding_id for b in strict_result.breaches} == {crit_strict.id, info.id}
    assert strict_result.breaches[0].sla_days == 3

    default_result = metrics.sla_breaches(session, default.id, now=NOW)
    assert [b.finding_id for b in default_result.breaches] == [default_low.id]

    everything = metrics.sla_breaches(session, None, now=NOW)
    assert dict(everything.by_severity) == {C: 1, H: 0, M: 0, L: 1, N: 1}
    assert {b.finding_id for b in everything.breaches} == {crit_strict.id, info.id, default_low.id}
    assert {b.project_id for b in everything.breaches} == {strict.id, default.id}


def test_reopened_findings_restart_the_clock(session: Session, data: HubData) -> None:
    p = data.project("svc")
    recent = data.history(
        data.finding(p, C, NOW - 100 * DAY),
        (Status.FIXED, NOW - 50 * DAY),
        (Status.REOPENED, NOW - 2 * DAY),
    )
    overdue = data.history(
        data.finding(p, C, NOW - 100 * DAY),
        (Status.FIXED, NOW - 50 * DAY),
        (Status.REOPENED, NOW - 40 * DAY),
        (Status.FIXED, NOW - 30 * DAY),
        (Status.REOPENED, NOW - 10 * DAY),
    )
    # an expired risk acceptance reopens the finding: a new active period
    expired = data.history(
        data.finding(p, H, NOW - 300 * DAY),
        (Status.ACCEPTED, NOW - 290 * DAY),
        (Status.REOPENED, NOW - 5 * DAY),
    )
    session.commit()

    result = metrics.sla_breaches(session, p.id, now=NOW)
    assert [b.finding_id for b in result.breaches] == [overdue.id]
    (breach,) = result.breaches
    assert breach.started_at == NOW - 10 * DAY
    assert breach.due_at == NOW - 3 * DAY and breach.days_overdue == 3

    sla = metrics.finding_sla(session, recent, now=NOW)
    assert sla.started_at == NOW - 2 * DAY and sla.due_at == NOW + 5 * DAY and not sla.breached
    assert metrics.finding_sla(session, expired, now=NOW).due_at == NOW + 25 * DAY
    fixed = data.change(recent, Status.FIXED, NOW)
    assert metrics.finding_sla(session, fixed, now=NOW).due_at is None


def test_breach_list_limit_and_severity_filter(session: Session, data: HubData) -> None:
    p = data.project("many")
    ids = [data.finding(p, H, NOW - (31 + i) * DAY).id for i in range(5)]
    crit = data.finding(p, C, NOW - 9 * DAY).id  # 2 days overdue
    session.commit()

    result = metrics.sla_breaches(session, p.id, now=NOW, limit=3)
    assert result.total == 6 and result.truncated
    assert [b.finding_id for b in result.breaches] == [ids[4], ids[3], ids[2]]
    only_critical = metrics.sla_breaches(session, p.id, now=NOW, severities=[C])
    assert [b.finding_id for b in only_critical.breaches] == [crit]
    assert dict(only_critical.by_severity)[H] == 0
    assert dict(metrics.sla_breach_counts(session, p.id, now=NOW))[H] == 5


def test_invalid_stored_override_names_the_project(session: Session, data: HubData) -> None:
    p = data.project("broken", sla_days={"critical": "soon"})
    session.commit()
    with pytest.raises(SlaConfigError, match="broken"):
        metrics.sla_breaches(session, p.id, now=NOW)


# ---------------------------------------------------------------------- gate


def test_gate(session: Session, data: HubData) -> None:
    p = data.project("gated")
    data.finding(p, M, NOW - 100 * DAY)  # overdue medium: not a gate severity by default
    data.finding(p, C, NOW - 6 * DAY)  # critical within its SLA
    session.commit()

    result = metrics.gate(session, p.id, now=NOW)
    assert result.passed and result.overdue == () and result.checked_at == NOW
    assert result.severities == (C, H)
    medium = metrics.gate(session, p.id, severities=[M], now=NOW)
    assert not medium.passed and [b.severity for b in medium.overdue] == [M]

    high = data.finding(p, H, NOW - 31 * DAY)
    session.commit()
    failed = metrics.gate(session, p.id, now=NOW)
    assert not failed.passed and [b.finding_id for b in failed.overdue] == [high.id]
    # a day later the critical is overdue too, and listed after the longer-overdue high
    later = metrics.gate(session, p.id, now=NOW + 2 * DAY)
    assert [b.severity for b in later.overdue] == [H, C]

    data.change(high, Status.FIXED, NOW)
    session.commit()
    assert metrics.gate(session, p.id, now=NOW).passed


def test_gate_with_no_sla_severity_always_passes(session: Session, data: HubData) -> None:
    p = data.project("infos")
    data.finding(p, N, NOW - 5000 * DAY)
    session.commit()
    assert metrics.gate(session, p.id, severities=[N], now=NOW).passed


# ------------------------------------------------------------------ open by age


def test_age_buckets_at_their_boundaries(session: Session, data: HubData) -> None:
    p = data.project("ages")
    second = dt.timedelta(seconds=1)
    for age in (0 * DAY, 8 * DAY - second):  # 0..7 whole days
        data.finding(p, C, NOW - age)
    for age in (8 * DAY, 31 * DAY - second):  # 8..30
        data.finding(p, C, NOW - age)
    for age in (31 * DAY, 91 * DAY - second):  # 31..90
        data.finding(p, C, NOW - age)
    data.finding(p, C, NOW - 91 * DAY)  # > 90
    data.finding(p, H, NOW - 500 * DAY)
    data.finding(p, N, NOW + dt.timedelta(hours=1))  # a clock a little ahead: youngest bucket
    # reopened yesterday after a year: young again
    data.history(
        data.finding(p, M, NOW - 400 * DAY),
        (Status.FIXED, NOW - 300 * DAY),
        (Status.REOPENED, NOW - DAY),
    )
    data.history(data.finding(p, C, NOW - 3 * DAY), (Status.FIXED, NOW - DAY))  # not open
    data.history(data.finding(p, C, NOW - 3 * DAY), (Status.ACCEPTED, NOW - DAY))
    other = data.project("other")
    data.finding(other, C, NOW)
    session.commit()

    result = metrics.open_findings(session, p.id, now=NOW)
    assert result.by_severity[C] == metrics.AgeBuckets(2, 2, 2, 1)
    assert result.by_severity[H] == metrics.AgeBuckets(0, 0, 0, 1)
    assert result.by_severity[M] == metrics.AgeBuckets(1, 0, 0, 0)
    assert result.by_severity[N] == metrics.AgeBuckets(1, 0, 0, 0)
    assert result.by_severity[L].total == 0
    assert result.total == 10
    assert list(result.by_severity) == [C, H, M, L, N]

    everything = metrics.open_findings(session, now=NOW)
    assert everything.total == 11 and everything.by_severity[C].days_0_7 == 3


# ------------------------------------------------------------------ weekly trend


def _utc(year: int, month: int, day: int, hour: int) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("now", "expected_weeks"),
    [
        # 2020 has 53 ISO weeks: W52, W53, then 2021-W01 starting Monday 4 January
        (_utc(2021, 1, 6, 12), ["2020-W52", "2020-W53", "2021-W01"]),
        # 2024 has 52: 2025-W01 starts Monday 30 December 2024
        (_utc(2025, 1, 1, 8), ["2024-W51", "2024-W52", "2025-W01"]),
    ],
)
def test_weekly_trend_across_the_year_boundary(
    session: Session, data: HubData, now: dt.datetime, expected_weeks: list[str]
) -> None:
    p = data.project("trend")
    monday = now.date() - dt.timedelta(days=now.weekday())
    week_start = dt.datetime.combine(monday, dt.time(), tzinfo=dt.UTC)
    first = week_start - 2 * dt.timedelta(weeks=1)
    second = dt.timedelta(seconds=1)
    data.finding(p, H, first - second)  # the week before the window
    a = data.finding(p, H, first)  # first week, its first second
    b = data.finding(p, M, first + 6 * DAY)
    data.finding(p, L, week_start - second)  # second week, its last second
    data.finding(p, L, week_start)  # current week
    data.finding(p, L, now + second)  # after now: not counted
    data.change(a, Status.FIXED, first + 8 * DAY)  # second week
    data.change(b, Status.FIXED, first + 9 * DAY)  # second week
    data.change(a, Status.REOPENED, week_start + DAY)  # current week
    data.change(b, Status.ACCEPTED, week_start + DAY)  # neither fixed nor reopened
    other = data.project("other")
    data.finding(other, C, week_start)
    session.commit()
    if session.get_bind().dialect.name == "postgresql":
        # weeks are UTC whatever the connection's time zone (here UTC+14)
        session.execute(text("SET TIME ZONE 'Pacific/Kiritimati'"))

    trend = metrics.weekly_trend(session, p.id, weeks=3, now=now)
    assert [w.label for w in trend.weeks] == expected_weeks
    assert [w.start for w in trend.weeks] == [
        (first + i * dt.timedelta(weeks=1)).date() for i in range(3)
    ]
    assert [w.new for w in trend.weeks] == [2, 1, 1]
    assert [w.fixed for w in trend.weeks] == [0, 2, 0]
    assert [w.reopened for w in trend.weeks] == [0, 0, 1]
    assert trend.weeks[0].start.weekday() == 0

    everything = metrics.weekly_trend(session, weeks=3, now=now)
    assert [w.new for w in everything.weeks] == [2, 1, 2]
    one = metrics.weekly_trend(session, p.id, weeks=1, now=now)
    assert [(w.label, w.new, w.reopened) for w in one.weeks] == [(expected_weeks[-1], 1, 1)]


def test_weekly_trend_long_window(session: Session, data: HubData) -> None:
    p = data.project("long")
    data.finding(p, H, NOW - 103 * dt.timedelta(weeks=1))
    data.finding(p, H, NOW - 200 * dt.timedelta(weeks=1))
    session.commit()
    trend = metrics.weekly_trend(session, p.id, weeks=104, now=NOW)
    assert len(trend.weeks) == 104 and trend.weeks[0].new == 1
    assert sum(w.new for w in trend.weeks) == 1
    with pytest.raises(ValueError, match="weeks"):
        metrics.weekly_trend(session, p.id, weeks=0, now=NOW)


# -------------------------------------------------------------------------- MTTR


def test_mttr_counts_each_remediation_interval(session: Session, data: HubData) -> None:
    p = data.project("mttr")
    data.history(data.finding(p, C, NOW - 30 * DAY), (Status.FIXED, NOW - 20 * DAY))  # 10 days
    # fixed before the window, reopened, fixed again inside it: only the second interval
    data.history(
        data.finding(p, C, NOW - 200 * DAY),
        (Status.FIXED, NOW - 150 * DAY),
        (Status.REOPENED, NOW - 40 * DAY),
        (Status.FIXED, NOW - 10 * DAY),  # 30 days
    )
    # fixed, reopened, fixed again, both inside the window: two intervals
    data.history(
        data.finding(p, C, NOW - 60 * DAY),
        (Status.FIXED, NOW - 50 * DAY),  # 10 days
        (Status.REOPENED, NOW - 45 * DAY),
        (Status.FIXED, NOW - 41 * DAY),  # 4 days
    )
    data.history(data.finding(p, H, NOW - 10 * DAY), (Status.FIXED, NOW - 9.5 * DAY))  # half a day
    # accepted, reopened on expiry, fixed: from the reopening
    data.history(
        data.finding(p, H, NOW - 50 * DAY),
        (Status.ACCEPTED, NOW - 45 * DAY),
        (Status.REOPENED, NOW - 20 * DAY),
        (Status.FIXED, NOW - 5 * DAY),  # 15 days
    )
    # a second "fix" without a new active period is not a remediation
    data.history(
        data.finding(p, M, NOW - 30 * DAY),
        (Status.FIXED, NOW - 20 * DAY),  # 10 days
        (Status.ACCEPTED, NOW - 15 * DAY),
        (Status.FIXED, NOW - 5 * DAY),
    )
    data.history(data.finding(p, L, NOW - 200 * DAY), (Status.FIXED, NOW - 100 * DAY))  # too old
    data.finding(p, L, NOW - 20 * DAY)  # still open
    data.history(data.finding(p, L, NOW - 2 * DAY), (Status.FIXED, NOW + DAY))  # after now
    other = data.project("other")
    data.history(data.finding(other, C, NOW - 3 * DAY), (Status.FIXED, NOW - 2 * DAY))  # 1 day
    session.commit()

    result = metrics.mttr(session, p.id, now=NOW)
    assert result.days == 90 and result.since == NOW - 90 * DAY
    assert result.by_severity[C] == metrics.MttrStat(4, 13.5, 10.0)
    assert result.by_severity[H] == metrics.MttrStat(2, 7.75, 7.75)
    assert result.by_severity[M] == metrics.MttrStat(1, 10.0, 10.0)
    assert result.by_severity[L] == metrics.MttrStat(0, None, None)
    assert result.overall.count == 7
    assert result.overall.median_days == 10.0

    year = metrics.mttr(session, p.id, days=365, now=NOW)
    assert year.by_severity[L] == metrics.MttrStat(1, 100.0, 100.0)
    assert year.by_severity[C].count == 5  # now with the fix 150 days ago (50 days)

    everything = metrics.mttr(session, now=NOW)
    assert everything.by_severity[C].count == 5
    assert everything.by_severity[C].median_days == 10.0
    with pytest.raises(ValueError, match="days"):
        metrics.mttr(session, p.id, days=0, now=NOW)


# ------------------------------------------------------------------ acceptances


def test_acceptances_expiring_and_expired(session: Session, data: HubData) -> None:
    p = data.project("risk")
    today = NOW.date()
    expired = data.accepted(p, today - DAY)
    long_expired = data.accepted(p, today - 400 * DAY, severity=C)
    ends_today = data.accepted(p, today)
    in_14 = data.accepted(p, today + 14 * DAY)
    data.accepted(p, today + 15 * DAY)  # beyond the horizon
    data.accepted(p, None)  # no expiry
    reopened = data.accepted(p, today - 10 * DAY)
    data.change(reopened, Status.REOPENED, NOW - DAY)  # no longer accepted
    other = data.project("other")
    other_expired = data.accepted(other, today - 2 * DAY)
    session.commit()

    result = metrics.acceptances(session, p.id, now=NOW)
    assert result.within_days == 14
    assert [a.finding_id for a in result.expiring] == [ends_today.id, in_14.id]
    assert [a.days_left for a in result.expiring] == [0, 14]
    assert [a.finding_id for a in result.expired] == [long_expired.id, expired.id]
    assert [a.days_left for a in result.expired] == [-400, -1]
    first = result.expired[0]
    assert first.severity is C and first.accepted_by == "user:sec"
    assert first.reason == "compensating control" and first.accepted_until == today - 400 * DAY

    assert [
        a.finding_id
        for a in metrics.acceptances(session, p.id, expiring_within_days=0, now=NOW).expiring
    ] == [ends_today.id]
    everything = metrics.acceptances(session, now=NOW)
    assert other_expired.id in {a.finding_id for a in everything.expired}
    assert len(everything.expired) == 3


# ---------------------------------------------------------------------- overview


def test_overview_per_project(session: Session, data: HubData) -> None:
    beta = data.project("beta", sla_days={"high": 5})
    alpha = data.project("alpha")
    empty = data.project("empty")
    data.finding(alpha, C, NOW - 10 * DAY)  # overdue
    data.finding(alpha, H, NOW - 10 * DAY)  # within 30 days
    data.history(data.finding(alpha, H, NOW - 12 * DAY), (Status.FIXED, NOW - 10 * DAY))
    data.finding(beta, H, NOW - 10 * DAY)  # overdue with beta's 5 days
    data.finding(beta, L, NOW - 10 * DAY)
    data.history(
        data.finding(beta, M, NOW - 100 * DAY),
        (Status.FIXED, NOW - 95 * DAY),  # outside the window
        (Status.REOPENED, NOW - 30 * DAY),
        (Status.FIXED, NOW - 27 * DAY),
    )
    session.commit()

    projects = metrics.overview(session, now=NOW)
    assert [o.slug for o in projects] == ["alpha", "beta", "empty"]
    a, b, e = projects
    assert a.project_id == alpha.id and a.name == "Alpha"
    assert dict(a.open_by_severity) == {C: 1, H: 1, M: 0, L: 0, N: 0} and a.open_total == 2
    assert dict(a.breaches_by_severity) == {C: 1, H: 0, M: 0, L: 0, N: 0}
    assert a.mttr[H] == metrics.MttrStat(1, 2.0, 2.0) and a.mttr[C].count == 0
    assert b.open_total == 2 and b.breaches_total == 1 and b.breaches_by_severity[H] == 1
    assert b.mttr[M] == metrics.MttrStat(1, 3.0, 3.0)
    assert e.project_id == empty.id and e.open_total == 0 and e.breaches_total == 0
    assert all(stat.count == 0 for stat in e.mttr.values())
    assert metrics.overview(session, mttr_days=1, now=NOW)[0].mttr[H].count == 0
