"""SLA and metrics over the hub's findings: pure functions of a ``Session`` and a time.

Every function takes ``now`` (a UTC-aware datetime, default the current time) so results
are deterministic in tests, and works over one project (``project_id``) or, with
``project_id=None``, over all projects.

Definitions used throughout (also in ``docs/hub-metrics.md``):

* A finding is *active* while its status is ``open`` or ``reopened``.
* The *start of its active period* is the last time it became active again (a status
  change from a non-active status such as ``fixed``, ``accepted`` or ``false_positive`` to
  ``open``/``reopened``), or else its ``first_seen_at``.
* Its SLA *due* time is that start plus the SLA days of its severity (per project
  overridable); it is *breached* while active and ``now > due``.  Severities whose SLA is
  ``None`` (by default ``info``) are never breached.

Date arithmetic happens in Python: the SQL compares columns with bound timestamps
(``start < now - days``), which is portable between SQLite and PostgreSQL and lets the
databases aggregate with ``GROUP BY`` instead of returning rows.  The one
dialect-specific expression is the UTC calendar day of a timestamp (``_utc_day``), by which
the weekly trend is grouped before its days are summed into ISO weeks here.  MTTR reads one
row per fix in the window, paired with the status change before it by ``LAG()``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    String,
    and_,
    case,
    func,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from turbosec.core.severity import Severity
from turbosec.hub.models import Finding, Project, Status, StatusChange, UTCDateTime, utcnow

# Most severe first: the order of every per-severity listing.
SEVERITIES: Final[tuple[Severity, ...]] = tuple(sorted(Severity, reverse=True))
ACTIVE_STATUSES: Final[tuple[str, ...]] = tuple(s.value for s in Status if s.active)
MAX_SLA_DAYS: Final = 3650
DAY: Final = dt.timedelta(days=1)

# Age buckets of open findings, in whole days since the start of the active period.
AGE_BUCKETS: Final[tuple[str, ...]] = ("0-7", "8-30", "31-90", ">90")
_AGE_UPPER_DAYS: Final[tuple[int, ...]] = (7, 30, 90)


class SlaConfigError(ValueError):
    """A project's SLA override (``Project.sla_days``) is not valid."""


# --------------------------------------------------------------------------- SLA policy


@dataclass(frozen=True)
class SlaPolicy:
    """Days to remediate per severity; ``None`` means no SLA for that severity."""

    critical: int | None = 7
    high: int | None = 30
    medium: int | None = 90
    low: int | None = 180
    info: int | None = None

    @classmethod
    def from_overrides(cls, overrides: object, base: SlaPolicy | None = None) -> SlaPolicy:
        """``base`` (default: the built-in days) with a (partial) override applied.

        Raises :class:`SlaConfigError`; see :func:`validate_sla_days`.
        """
        return dataclasses.replace(base or cls(), **validate_sla_days(overrides))

    @classmethod
    def for_project(cls, project: Project, defaults: SlaPolicy | None = None) -> SlaPolicy:
        """The project's SLA: its ``sla_days`` override over the hub's ``defaults``."""
        try:
            return cls.from_overrides(project.sla_days, defaults)
        except SlaConfigError as exc:
            raise SlaConfigError(f"project {project.slug!r}: {exc}") from None

    def days(self, severity: Severity) -> int | None:
        value: int | None = getattr(self, severity.label)
        return value

    def due(self, start: dt.datetime, severity: Severity) -> dt.datetime | None:
        days = self.days(severity)
        return None if days is None else start + dt.timedelta(days=days)

    def as_dict(self) -> dict[str, int | None]:
        return {s.label: self.days(s) for s in SEVERITIES}


DEFAULT_SLA: Final = SlaPolicy()
DEFAULT_SLA_DAYS: Final[Mapping[Severity, int | None]] = MappingProxyType(
    {s: DEFAULT_SLA.days(s) for s in SEVERITIES}
)


def validate_sla_days(value: object) -> dict[str, int | None]:
    """Check an SLA override and return it normalised (``{"critical": 3, "info": None}``).

    ``None`` or ``{}`` means no override.  Keys are severity names (case-insensitive, the
    aliases of :meth:`Severity.parse` allowed); values are whole days from 1 to
    :data:`MAX_SLA_DAYS`, or ``None`` for "no SLA".  Raises :class:`SlaConfigError`.
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SlaConfigError(f"SLA days must be an object of severity → days, not {value!r}")
    result: dict[str, int | None] = {}
    for key, days in value.items():
        if not isinstance(key, str):
            raise SlaConfigError(f"SLA severity must be a name, not {key!r}")
        try:
            label = Severity.parse(key).label
        except ValueError as exc:
            raise SlaConfigError(str(exc)) from None
        if label in result:
            raise SlaConfigError(f"SLA for {label!r} given twice")
        if days is not None and (
            isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_SLA_DAYS
        ):
            raise SlaConfigError(
                f"SLA days for {label!r} must be a whole number from 1 to {MAX_SLA_DAYS} "
                f"or null (no SLA), not {days!r}"
            )
        result[label] = days
    return result


def _now(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return utcnow()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    return now.astimezone(dt.UTC)


def _policies(
    session: Session, project_id: int | None, defaults: SlaPolicy
) -> dict[int, SlaPolicy]:
    stmt = select(Project.id, Project.slug, Project.sla_days)
    if project_id is not None:
        stmt = stmt.where(Project.id == project_id)
    policies: dict[int, SlaPolicy] = {}
    for pid, slug, raw in session.execute(stmt):
        try:
            policies[pid] = SlaPolicy.from_overrides(raw, defaults)
        except SlaConfigError as exc:
            raise SlaConfigError(f"project {slug!r}: {exc}") from None
    return policies


# ------------------------------------------------------------------ shared SQL building


def _is_reactivation() -> ColumnElement[bool]:
    """A status change that starts a new active period (not the creation)."""
    sc = StatusChange
    return and_(
        sc.to_status.in_(ACTIVE_STATUSES),
        sc.from_status.is_not(None),
        sc.from_status.not_in(ACTIVE_STATUSES),
    )


@dataclass(frozen=True)
class _Active:
    """Active findings of a scope, with the start of their active period as ``start``."""

    project_id: int | None
    start: ColumnElement[dt.datetime]
    _reactivated: Any

    @classmethod
    def of(cls, project_id: int | None) -> _Active:
        sc = StatusChange
        stmt = select(sc.finding_id.label("finding_id"), func.max(sc.at).label("at")).where(
            _is_reactivation()
        )
        if project_id is not None:
            stmt = stmt.where(sc.project_id == project_id)
        reactivated = stmt.group_by(sc.finding_id).subquery("reactivated")
        start = func.coalesce(reactivated.c.at, Finding.first_seen_at)
        return cls(project_id, start, reactivated)

    def select(self, *columns: Any) -> Select[Any]:
        stmt = (
            select(*columns)
            .select_from(Finding)
            .outerjoin(self._reactivated, self._reactivated.c.finding_id == Finding.id)
            .where(Finding.status.in_(ACTIVE_STATUSES))
        )
        if self.project_id is not None:
            stmt = stmt.where(Finding.project_id == self.project_id)
        return stmt


@dataclass(frozen=True)
class _SlaGroup:
    """Findings of one severity whose SLA is ``days`` (in projects ``project_ids``; None: all)."""

    severity: Severity
    days: int
    project_ids: tuple[int, ...] | None

    def breached(self, active: _Active, now: dt.datetime) -> ColumnElement[bool]:
        return and_(
            Finding.severity == int(self.severity),
            active.start < now - dt.timedelta(days=self.days),
            Finding.project_id.in_(self.project_ids) if self.project_ids is not None else true(),
        )


def _sla_groups(
    policies: Mapping[int, SlaPolicy], *, single: bool, severities: Iterable[Severity]
) -> list[_SlaGroup]:
    groups: list[_SlaGroup] = []
    for severity in severities:
        by_days: dict[int, list[int]] = defaultdict(list)
        for pid, policy in policies.items():
            days = policy.days(severity)
            if days is not None:
                by_days[days].append(pid)
        for days, pids in sorted(by_days.items()):
            every = single or (len(by_days) == 1 and len(pids) == len(policies))
            groups.append(_SlaGroup(severity, days, None if every else tuple(sorted(pids))))
    return groups


def _scope_where(column: Any, project_id: int | None) -> ColumnElement[bool]:
    return column == project_id if project_id is not None else true()


def _days_between(later: dt.datetime, earlier: dt.datetime) -> float:
    return (later - earlier) / DAY


# ------------------------------------------------------------------- open by age


@dataclass(frozen=True)
class AgeBuckets:
    """Open findings by whole days since the start of their active period."""

    days_0_7: int = 0
    days_8_30: int = 0
    days_31_90: int = 0
    days_over_90: int = 0

    @property
    def total(self) -> int:
        return self.days_0_7 + self.days_8_30 + self.days_31_90 + self.days_over_90

    @classmethod
    def of(cls, counts: Sequence[int]) -> AgeBuckets:
        return cls(*counts)


@dataclass(frozen=True)
class OpenFindings:
    project_id: int | None
    as_of: dt.datetime
    by_severity: Mapping[Severity, AgeBuckets]

    @property
    def total(self) -> int:
        return sum(b.total for b in self.by_severity.values())


@dataclass
class _Counts:
    """Active findings of one project: per severity, counts by age bucket and breaches."""

    ages: dict[Severity, list[int]] = dataclasses.field(
        default_factory=lambda: {s: [0] * len(AGE_BUCKETS) for s in SEVERITIES}
    )
    breaches: dict[Severity, int] = dataclasses.field(
        default_factory=lambda: dict.fromkeys(SEVERITIES, 0)
    )

    def add(self, other: _Counts) -> None:
        for s in SEVERITIES:
            self.ages[s] = [a + b for a, b in zip(self.ages[s], other.ages[s], strict=True)]
            self.breaches[s] += other.breaches[s]

    def open_findings(self, project_id: int | None, now: dt.datetime) -> OpenFindings:
        by_severity = {s: AgeBuckets.of(self.ages[s]) for s in SEVERITIES}
        return OpenFindings(project_id, now, MappingProxyType(by_severity))


def _counts(
    session: Session,
    project_id: int | None,
    now: dt.datetime,
    policies: Mapping[int, SlaPolicy] | None,
    severities: Iterable[Severity] = SEVERITIES,
) -> dict[int, _Counts]:
    """Age buckets and SLA breaches (of ``severities``) per project, in one ``GROUP BY``.

    Without ``policies`` no breaches are counted.
    """
    active = _Active.of(project_id)
    # age in whole days <= n  ⟺  start > now - (n + 1) days
    bucket = case(
        *[
            (active.start > now - dt.timedelta(days=upper + 1), literal_column(str(i)))
            for i, upper in enumerate(_AGE_UPPER_DAYS)
        ],
        else_=literal_column(str(len(_AGE_UPPER_DAYS))),
    )
    groups = (
        _sla_groups(policies, single=project_id is not None, severities=severities)
        if policies is not None
        else []
    )
    breached: ColumnElement[Any] = (
        case(
            (or_(*(g.breached(active, now) for g in groups)), literal_column("1")),
            else_=literal_column("0"),
        )
        if groups
        else literal_column("0")
    )
    inner = active.select(
        Finding.project_id.label("project_id"),
        Finding.severity.label("severity"),
        bucket.label("bucket"),
        breached.label("breached"),
    ).subquery()
    stmt = select(
        inner.c.project_id, inner.c.severity, inner.c.bucket, inner.c.breached, func.count()
    ).group_by(inner.c.project_id, inner.c.severity, inner.c.bucket, inner.c.breached)
    result: dict[int, _Counts] = defaultdict(_Counts)
    for pid, severity_value, index, is_breached, count in session.execute(stmt):
        counts, severity = result[pid], Severity(severity_value)
        counts.ages[severity][int(index)] += count
        if int(is_breached):
            counts.breaches[severity] += count
    return result


def _total(per_project: Mapping[int, _Counts]) -> _Counts:
    total = _Counts()
    for counts in per_project.values():
        total.add(counts)
    return total


def open_findings(
    session: Session, project_id: int | None = None, *, now: dt.datetime | None = None
) -> OpenFindings:
    """Active findings by severity and age bucket (0-7, 8-30, 31-90, >90 days)."""
    now = _now(now)
    return _total(_counts(session, project_id, now, None)).open_findings(project_id, now)


@dataclass(frozen=True)
class Summary:
    open: OpenFindings
    breaches_by_severity: Mapping[Severity, int]

    @property
    def breaches_total(self) -> int:
        return sum(self.breaches_by_severity.values())


def summary(
    session: Session,
    project_id: int | None = None,
    *,
    now: dt.datetime | None = None,
    defaults: SlaPolicy = DEFAULT_SLA,
) -> Summary:
    """:func:`open_findings` and :func:`sla_breach_counts` together, in one query."""
    now = _now(now)
    policies = _policies(session, project_id, defaults)
    total = _total(_counts(session, project_id, now, policies))
    return Summary(total.open_findings(project_id, now), MappingProxyType(total.breaches))


# ------------------------------------------------------------------- SLA breaches


@dataclass(frozen=True)
class Breach:
    """An active finding past its SLA due time."""

    finding_id: int
    project_id: int
    severity: Severity
    fingerprint: str
    title: str
    tool: str
    rule_id: str
    path: str | None
    started_at: dt.datetime  # start of the active period
    sla_days: int
    due_at: dt.datetime
    days_overdue: int  # whole days past due (0 during the first day)


@dataclass(frozen=True)
class SlaBreaches:
    project_id: int | None
    as_of: dt.datetime
    by_severity: Mapping[Severity, int]  # all breaches, whatever ``limit``
    breaches: tuple[Breach, ...]  # most overdue first, at most ``limit``

    @property
    def total(self) -> int:
        return sum(self.by_severity.values())

    @property
    def truncated(self) -> bool:
        return len(self.breaches) < self.total


_DETAIL_CHUNK: Final = 500


def _breaches(
    session: Session,
    project_id: int | None,
    now: dt.datetime,
    severities: Iterable[Severity],
    limit: int | None,
    defaults: SlaPolicy,
) -> SlaBreaches:
    """One narrow query for every breach (id, severity, start); details for the listed ones."""
    policies = _policies(session, project_id, defaults)
    groups = _sla_groups(policies, single=project_id is not None, severities=severities)
    totals = dict.fromkeys(SEVERITIES, 0)
    due: list[tuple[dt.datetime, int, int, int, int, dt.datetime]] = []
    if groups:
        active = _Active.of(project_id)
        stmt = active.select(
            Finding.id, Finding.project_id, Finding.severity, active.start.label("started_at")
        ).where(or_(*(g.breached(active, now) for g in groups)))
        for fid, pid, severity_value, started in session.execute(stmt):
            severity = Severity(severity_value)
            days = policies.get(pid, defaults).days(severity)
            if days is None:  # a project created since the policies were read
                continue
            totals[severity] += 1
            # sort key: due time, most severe first, then id
            due.append((started + dt.timedelta(days=days), -int(severity), fid, pid, days, started))
    due.sort()
    listed = due if limit is None else due[:limit]
    details: dict[int, tuple[str, str, str, str, str | None]] = {}
    for i in range(0, len(listed), _DETAIL_CHUNK):
        ids = [row[2] for row in listed[i : i + _DETAIL_CHUNK]]
        columns = select(
            Finding.id,
            Finding.fingerprint,
            Finding.title,
            Finding.tool,
            Finding.rule_id,
            Finding.path,
        ).where(Finding.id.in_(ids))
        for fid, fingerprint, title, tool, rule_id, path in session.execute(columns):
            details[fid] = (fingerprint, title, tool, rule_id, path)
    breaches = []
    for due_at, minus_severity, fid, pid, days, started in listed:
        fingerprint, title, tool, rule_id, path = details[fid]
        breaches.append(
            Breach(
                finding_id=fid,
                project_id=pid,
                severity=Severity(-minus_severity),
                fingerprint=fingerprint,
                title=title,
                tool=tool,
                rule_id=rule_id,
                path=path,
                started_at=started,
                sla_days=days,
                due_at=due_at,
                days_overdue=int((now - due_at) // DAY),
            )
        )
    return SlaBreaches(project_id, now, MappingProxyType(totals), tuple(breaches))


def _severities(severities: Iterable[Severity]) -> tuple[Severity, ...]:
    wanted = set(severities)
    return tuple(s for s in SEVERITIES if s in wanted)


def sla_breaches(
    session: Session,
    project_id: int | None = None,
    *,
    now: dt.datetime | None = None,
    severities: Iterable[Severity] = SEVERITIES,
    limit: int | None = None,
    defaults: SlaPolicy = DEFAULT_SLA,
) -> SlaBreaches:
    """Active findings past their SLA: counts by severity and the list, most overdue first.

    ``defaults``: the hub's SLA for projects without an override of a severity.  Raises
    :class:`SlaConfigError` when a project's stored SLA override is invalid.
    """
    now = _now(now)
    return _breaches(session, project_id, now, _severities(severities), limit, defaults)


def sla_breach_counts(
    session: Session,
    project_id: int | None = None,
    *,
    now: dt.datetime | None = None,
    severities: Iterable[Severity] = SEVERITIES,
    defaults: SlaPolicy = DEFAULT_SLA,
) -> Mapping[Severity, int]:
    """Active findings past their SLA per severity (one ``GROUP BY``, no rows listed)."""
    now = _now(now)
    policies = _policies(session, project_id, defaults)
    per_project = _counts(session, project_id, now, policies, _severities(severities))
    return MappingProxyType(_total(per_project).breaches)


@dataclass(frozen=True)
class FindingSla:
    """The SLA state of one finding."""

    finding_id: int
    severity: Severity
    active: bool
    started_at: dt.datetime  # start of the current (or last) active period
    sla_days: int | None
    due_at: dt.datetime | None  # None: not active, or no SLA for its severity
    breached: bool
    days_overdue: int


def finding_sla(
    session: Session,
    finding: Finding,
    *,
    policy: SlaPolicy | None = None,
    defaults: SlaPolicy = DEFAULT_SLA,
    now: dt.datetime | None = None,
) -> FindingSla:
    """The SLA due time and state of one finding (for the findings API and pages).

    ``policy``: the SLA of its project if known; else read from the project over ``defaults``.
    """
    now = _now(now)
    if policy is None:
        project = session.get(Project, finding.project_id)
        policy = SlaPolicy.for_project(project, defaults) if project is not None else defaults
    sc = StatusChange
    reactivated = session.scalar(
        select(func.max(sc.at)).where(
            sc.finding_id == finding.id, sc.project_id == finding.project_id, _is_reactivation()
        )
    )
    started = reactivated or finding.first_seen_at
    severity = Severity(finding.severity)
    active = Status(finding.status).active
    due = policy.due(started, severity) if active else None
    breached = due is not None and now > due
    return FindingSla(
        finding_id=finding.id,
        severity=severity,
        active=active,
        started_at=started,
        sla_days=policy.days(severity),
        due_at=due,
        breached=breached,
        days_overdue=int((now - due) // DAY) if breached and due is not None else 0,
    )


# -------------------------------------------------------------------------- gate


@dataclass(frozen=True)
class GateResult:
    project_id: int
    passed: bool
    severities: tuple[Severity, ...]
    overdue: tuple[Breach, ...]  # most overdue first
    checked_at: dt.datetime


DEFAULT_GATE_SEVERITIES: Final = (Severity.CRITICAL, Severity.HIGH)


def gate(
    session: Session,
    project_id: int,
    *,
    severities: Iterable[Severity] = DEFAULT_GATE_SEVERITIES,
    now: dt.datetime | None = None,
    defaults: SlaPolicy = DEFAULT_SLA,
) -> GateResult:
    """Whether the project has no active finding of ``severities`` past its SLA."""
    now = _now(now)
    wanted = _severities(severities)
    overdue = _breaches(session, project_id, now, wanted, None, defaults).breaches
    return GateResult(project_id, not overdue, wanted, overdue, now)


# ------------------------------------------------------------------ weekly trend


@dataclass(frozen=True)
class WeekTrend:
    """One ISO week (Monday 00:00 UTC onwards)."""

    year: int  # ISO year
    week: int  # ISO week number, 1..53
    start: dt.date  # its Monday
    new: int  # findings first seen in the week
    fixed: int  # status changes to fixed in the week
    reopened: int  # status changes starting a new active period in the week

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.week:02d}"


@dataclass(frozen=True)
class Trend:
    project_id: int | None
    as_of: dt.datetime
    weeks: tuple[WeekTrend, ...]  # oldest first; the last is the current, partial week


def _week_starts(now: dt.datetime, weeks: int) -> list[dt.datetime]:
    monday = now.date() - dt.timedelta(days=now.weekday())
    current = dt.datetime.combine(monday, dt.time(), tzinfo=dt.UTC)
    return [current - dt.timedelta(weeks=weeks - 1 - i) for i in range(weeks)]


class _utc_day(FunctionElement[dt.date]):
    """The UTC calendar day of a timestamp column (SQLite keeps UTC, PostgreSQL converts)."""

    type = Date()
    name = "utc_day"
    inherit_cache = True


@compiles(_utc_day)
def _utc_day_default(element: _utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS DATE)"


@compiles(_utc_day, "sqlite")
def _utc_day_sqlite(element: _utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(_utc_day, "postgresql")
def _utc_day_postgresql(element: _utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(timezone('UTC', {compiler.process(element.clauses, **kw)}) AS DATE)"


def _count_by_week(
    session: Session,
    column: Any,
    kind: ColumnElement[Any],
    where: Sequence[ColumnElement[bool]],
    starts: Sequence[dt.datetime],
    now: dt.datetime,
) -> dict[str, list[int]]:
    """Rows per ``kind`` and week: counted per UTC day in SQL, summed per week here."""
    inner = (
        select(_utc_day(column).label("day"), kind.label("kind"))
        .where(column >= starts[0], column <= now, *where)
        .subquery()
    )
    stmt = select(inner.c.day, inner.c.kind, func.count()).group_by(inner.c.day, inner.c.kind)
    first = starts[0].date()
    counts: dict[str, list[int]] = defaultdict(lambda: [0] * len(starts))
    for value, name, count in session.execute(stmt):
        if isinstance(value, str):  # a driver that returns the text of the date
            value = dt.date.fromisoformat(value)
        index = (value - first).days // 7
        if 0 <= index < len(starts):
            counts[name][index] += count
    return counts


def weekly_trend(
    session: Session,
    project_id: int | None = None,
    *,
    weeks: int = 12,
    now: dt.datetime | None = None,
) -> Trend:
    """New, fixed and reopened per ISO week, for the ``weeks`` weeks up to ``now``.

    Two queries: findings by first-seen day, status changes by day and kind.
    """
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    now = _now(now)
    starts = _week_starts(now, weeks)
    sc = StatusChange
    is_fixed = sc.to_status == Status.FIXED.value
    new = _count_by_week(
        session,
        Finding.first_seen_at,
        literal_column("'new'"),
        [_scope_where(Finding.project_id, project_id)],
        starts,
        now,
    )
    changes = _count_by_week(
        session,
        sc.at,
        case((is_fixed, literal_column("'fixed'")), else_=literal_column("'reopened'")),
        [or_(is_fixed, _is_reactivation()), _scope_where(sc.project_id, project_id)],
        starts,
        now,
    )
    result = []
    for i, start in enumerate(starts):
        year, week, _ = start.date().isocalendar()
        result.append(
            WeekTrend(
                year,
                week,
                start.date(),
                new["new"][i],
                changes["fixed"][i],
                changes["reopened"][i],
            )
        )
    return Trend(project_id, now, tuple(result))


# -------------------------------------------------------------------------- MTTR


@dataclass(frozen=True)
class MttrStat:
    count: int
    mean_days: float | None
    median_days: float | None

    @classmethod
    def of(cls, days: Sequence[float]) -> MttrStat:
        if not days:
            return cls(0, None, None)
        return cls(len(days), statistics.fmean(days), statistics.median(days))


@dataclass(frozen=True)
class Mttr:
    project_id: int | None
    as_of: dt.datetime
    days: int  # the window: fixes in (since, as_of]
    since: dt.datetime
    by_severity: Mapping[Severity, MttrStat]
    overall: MttrStat


def _remediation_days(
    session: Session, project_id: int | None, since: dt.datetime, now: dt.datetime
) -> dict[int, dict[Severity, list[float]]]:
    """``{project: {severity: [days from active-period start to fix]}}`` for fixes in the window.

    Each fix in ``(since, now]`` is one remediation interval, from the start of the active
    period it ended (first seen, or the last reactivation before it).  A fix that follows
    another without a reactivation in between (fixed → accepted → fixed) is not counted.
    """
    sc = StatusChange
    fixed = Status.FIXED.value
    fixed_in_window = select(sc.finding_id).where(
        sc.to_status == fixed, sc.at > since, sc.at <= now, _scope_where(sc.project_id, project_id)
    )
    # the fixes and reactivations of those findings, each with the event before it
    order = (sc.at, sc.id)
    events = (
        select(
            sc.finding_id.label("finding_id"),
            sc.at.label("at"),
            sc.to_status.label("to_status"),
            func.lag(sc.to_status, type_=String())
            .over(partition_by=sc.finding_id, order_by=order)
            .label("previous"),
            func.lag(sc.at, type_=UTCDateTime())
            .over(partition_by=sc.finding_id, order_by=order)
            .label("previous_at"),
        )
        .where(
            sc.finding_id.in_(fixed_in_window),
            or_(sc.to_status == fixed, _is_reactivation()),
            sc.at <= now,
            _scope_where(sc.project_id, project_id),
        )
        .subquery("events")
    )
    stmt = (
        select(
            Finding.project_id,
            Finding.severity,
            Finding.first_seen_at,
            events.c.at,
            events.c.previous,
            events.c.previous_at,
        )
        .join(events, events.c.finding_id == Finding.id)
        .where(events.c.to_status == fixed, events.c.at > since)
    )
    result: dict[int, dict[Severity, list[float]]] = defaultdict(
        lambda: {s: [] for s in SEVERITIES}
    )
    for pid, severity, first_seen, at, previous, previous_at in session.execute(stmt):
        if previous is None:  # the first remediation: from first seen
            started = first_seen
        elif previous == fixed:  # no new active period since the last fix
            continue
        else:  # fixed after a reactivation
            started = previous_at
        result[pid][Severity(severity)].append(max(0.0, _days_between(at, started)))
    return result


def mttr(
    session: Session,
    project_id: int | None = None,
    *,
    days: int = 90,
    now: dt.datetime | None = None,
) -> Mttr:
    """Mean and median time to remediate per severity, over fixes in the last ``days`` days."""
    if days < 1:
        raise ValueError("days must be at least 1")
    now = _now(now)
    since = now - dt.timedelta(days=days)
    merged: dict[Severity, list[float]] = {s: [] for s in SEVERITIES}
    for per_severity in _remediation_days(session, project_id, since, now).values():
        for severity, values in per_severity.items():
            merged[severity].extend(values)
    return Mttr(
        project_id,
        now,
        days,
        since,
        MappingProxyType({s: MttrStat.of(merged[s]) for s in SEVERITIES}),
        MttrStat.of([v for values in merged.values() for v in values]),
    )


# ------------------------------------------------------------------ acceptances


@dataclass(frozen=True)
class Acceptance:
    """A risk acceptance (status ``accepted``) with an expiry date."""

    finding_id: int
    project_id: int
    severity: Severity
    fingerprint: str
    title: str
    accepted_by: str | None
    reason: str | None
    accepted_until: dt.date  # valid through this day (UTC)
    days_left: int  # negative once expired


@dataclass(frozen=True)
class Acceptances:
    project_id: int | None
    as_of: dt.datetime
    within_days: int
    expiring: tuple[Acceptance, ...]  # valid today, ending within ``within_days`` days
    expired: tuple[Acceptance, ...]  # ended before today, still accepted


def acceptances(
    session: Session,
    project_id: int | None = None,
    *,
    expiring_within_days: int = 14,
    now: dt.datetime | None = None,
) -> Acceptances:
    """Accepted findings whose acceptance ends within ``expiring_within_days`` or has ended.

    An acceptance is valid through its ``accepted_until`` day; acceptances without an
    expiry are not listed.
    """
    if expiring_within_days < 0:
        raise ValueError("expiring_within_days must not be negative")
    now = _now(now)
    today = now.date()
    stmt = (
        select(
            Finding.id,
            Finding.project_id,
            Finding.severity,
            Finding.fingerprint,
            Finding.title,
            Finding.accepted_by,
            Finding.accepted_reason,
            Finding.accepted_until,
        )
        .where(
            Finding.status == Status.ACCEPTED.value,
            Finding.accepted_until.is_not(None),
            Finding.accepted_until <= today + dt.timedelta(days=expiring_within_days),
            _scope_where(Finding.project_id, project_id),
        )
        .order_by(Finding.accepted_until, Finding.id)
    )
    expiring: list[Acceptance] = []
    expired: list[Acceptance] = []
    for fid, pid, severity, fingerprint, title, by, reason, until in session.execute(stmt):
        assert until is not None  # filtered in SQL
        item = Acceptance(
            finding_id=fid,
            project_id=pid,
            severity=Severity(severity),
            fingerprint=fingerprint,
            title=title,
            accepted_by=by,
            reason=reason,
            accepted_until=until,
            days_left=(until - today).days,
        )
        (expired if until < today else expiring).append(item)
    return Acceptances(project_id, now, expiring_within_days, tuple(expiring), tuple(expired))


# ---------------------------------------------------------------------- overview


@dataclass(frozen=True)
class ProjectOverview:
    project_id: int
    slug: str
    name: str
    open_by_severity: Mapping[Severity, int]
    breaches_by_severity: Mapping[Severity, int]
    mttr: Mapping[Severity, MttrStat]

    @property
    def open_total(self) -> int:
        return sum(self.open_by_severity.values())

    @property
    def breaches_total(self) -> int:
        return sum(self.breaches_by_severity.values())


def overview(
    session: Session,
    *,
    mttr_days: int = 90,
    now: dt.datetime | None = None,
    defaults: SlaPolicy = DEFAULT_SLA,
) -> tuple[ProjectOverview, ...]:
    """Per project (by slug): open findings, SLA breaches and MTTR per severity.

    A fixed number of queries whatever the number of projects.
    """
    if mttr_days < 1:
        raise ValueError("mttr_days must be at least 1")
    now = _now(now)
    counts = _counts(session, None, now, _policies(session, None, defaults))
    remediation = _remediation_days(session, None, now - dt.timedelta(days=mttr_days), now)
    result = []
    projects = select(Project.id, Project.slug, Project.name).order_by(Project.slug)
    for pid, slug, name in session.execute(projects):
        project_counts = counts.get(pid) or _Counts()
        days = remediation.get(pid, {})
        result.append(
            ProjectOverview(
                project_id=pid,
                slug=slug,
                name=name,
                open_by_severity=MappingProxyType(
                    {s: sum(project_counts.ages[s]) for s in SEVERITIES}
                ),
                breaches_by_severity=MappingProxyType(dict(project_counts.breaches)),
                mttr=MappingProxyType({s: MttrStat.of(days.get(s, [])) for s in SEVERITIES}),
            )
        )
    return tuple(result)
