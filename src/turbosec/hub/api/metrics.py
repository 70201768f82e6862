"""The SLA and metrics endpoints of the hub API (``/api/v1/...``).

Thin HTTP wrappers over :mod:`turbosec.hub.metrics`: validated query parameters in,
pydantic response models out (so the OpenAPI schema describes every field).

Authorisation, the session and the settings come from :mod:`turbosec.hub.api.deps`:
``project_reader`` (the ``{project}`` path parameter resolved to a project the caller may
read, else 401/403/404), ``any_user_reader`` (hub-wide reads: users only), ``get_session``
and ``get_settings`` (the hub-wide default SLA days).  The clock is the ``current_time``
dependency, so tests can fix it.  A project whose stored SLA override is invalid answers
409 (error ``invalid_sla``) on the endpoints that need its SLA.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeVar, cast

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from turbosec.core.severity import Severity
from turbosec.hub import metrics
from turbosec.hub.api import deps
from turbosec.hub.api.schemas import SeverityName
from turbosec.hub.auth import Principal
from turbosec.hub.errors import Conflict
from turbosec.hub.models import Project, utcnow

router = APIRouter(tags=["metrics"])

# a comma-separated list of severity names, e.g. "critical,high"
SEVERITY_LIST_PATTERN = r"^(critical|high|medium|low|info)(,(critical|high|medium|low|info))*$"


def current_time() -> dt.datetime:
    """The time the metrics are computed at (a dependency, overridden in tests)."""
    return utcnow()


def sla_defaults(settings: deps.SettingsDep) -> metrics.SlaPolicy:
    """The hub-wide SLA days (``HubSettings.sla_days``) under the projects' overrides."""
    return metrics.SlaPolicy.from_overrides(settings.sla_days)


SessionDep = deps.SessionDep
ProjectDep = Annotated[Project, Depends(deps.project_reader)]
UserDep = Annotated[Principal, Depends(deps.any_user_reader)]
NowDep = Annotated[dt.datetime, Depends(current_time)]
DefaultsDep = Annotated[metrics.SlaPolicy, Depends(sla_defaults)]

_PROJECT_ERRORS = deps.error_responses(403, 404)
_PROJECT_SLA_ERRORS = deps.error_responses(403, 404, 409)


# ---------------------------------------------------------------------- models


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class SeverityCounts(_Out):
    critical: int = 0
    high: int = 0
    medium: int = 0
    low: int = 0
    info: int = 0


class AgeBucketsOut(_Out):
    """Open findings by whole days since the start of their active period."""

    days_0_7: int = Field(description="0 to 7 days")
    days_8_30: int = Field(description="8 to 30 days")
    days_31_90: int = Field(description="31 to 90 days")
    days_over_90: int = Field(description="more than 90 days")
    total: int


class SeverityAges(_Out):
    critical: AgeBucketsOut
    high: AgeBucketsOut
    medium: AgeBucketsOut
    low: AgeBucketsOut
    info: AgeBucketsOut


class SlaDays(_Out):
    """Days to remediate per severity for the project; null: no SLA."""

    critical: int | None
    high: int | None
    medium: int | None
    low: int | None
    info: int | None


class SummaryOut(_Out):
    project: str
    as_of: dt.datetime
    sla_days: SlaDays
    open_total: int
    open: SeverityAges
    breaches_total: int
    breaches: SeverityCounts


class BreachOut(_Out):
    finding_id: int
    severity: SeverityName
    fingerprint: str
    title: str
    tool: str
    rule_id: str
    path: str | None
    started_at: dt.datetime = Field(
        description="start of the active period (first seen or reopened)"
    )
    sla_days: int
    due_at: dt.datetime
    days_overdue: int = Field(description="whole days past due")


class BreachesOut(_Out):
    project: str
    as_of: dt.datetime
    total: int
    by_severity: SeverityCounts
    truncated: bool = Field(description="more breaches than listed (see limit)")
    breaches: list[BreachOut] = Field(description="most overdue first")


class WeekOut(_Out):
    week: str = Field(description="ISO week, e.g. 2021-W01", examples=["2021-W01"])
    start: dt.date = Field(description="its Monday (weeks start 00:00 UTC)")
    new: int = Field(description="findings first seen in the week")
    fixed: int = Field(description="changes to fixed in the week")
    reopened: int = Field(description="changes starting a new active period in the week")


class TrendOut(_Out):
    project: str
    as_of: dt.datetime
    weeks: list[WeekOut] = Field(description="oldest first; the last is the current week")


class MttrStatOut(_Out):
    count: int = Field(description="remediations (fixes) in the window")
    mean_days: float | None
    median_days: float | None


class MttrBySeverity(_Out):
    critical: MttrStatOut
    high: MttrStatOut
    medium: MttrStatOut
    low: MttrStatOut
    info: MttrStatOut


class MttrOut(_Out):
    project: str
    as_of: dt.datetime
    days: int
    since: dt.datetime
    by_severity: MttrBySeverity
    overall: MttrStatOut


class AcceptanceOut(_Out):
    finding_id: int
    severity: SeverityName
    fingerprint: str
    title: str
    accepted_by: str | None
    reason: str | None
    accepted_until: dt.date = Field(description="valid through this day (UTC)")
    days_left: int = Field(description="negative once expired")


class AcceptancesOut(_Out):
    project: str
    as_of: dt.datetime
    expiring_within_days: int
    expiring: list[AcceptanceOut]
    expired: list[AcceptanceOut]


class GateOut(_Out):
    project: str
    passed: bool = Field(description="no overdue finding of the checked severities")
    overdue: list[BreachOut]
    checked_at: dt.datetime


class ProjectOverviewOut(_Out):
    project: str
    name: str
    open_total: int
    open: SeverityCounts
    breaches_total: int
    breaches: SeverityCounts
    mttr: MttrBySeverity


class OverviewOut(_Out):
    as_of: dt.datetime
    mttr_days: int
    projects: list[ProjectOverviewOut]


# ------------------------------------------------------------------ conversion

_V = TypeVar("_V")
_M = TypeVar("_M", bound=BaseModel)


def _per_severity(
    model: type[_M], values: Mapping[Severity, _V], convert: Callable[[_V], Any] = lambda v: v
) -> _M:
    return model.model_validate({s.label: convert(v) for s, v in values.items()})


def _severity_name(severity: Severity) -> SeverityName:
    return cast(SeverityName, severity.label)


def _ages(buckets: metrics.AgeBuckets) -> AgeBucketsOut:
    return AgeBucketsOut(
        days_0_7=buckets.days_0_7,
        days_8_30=buckets.days_8_30,
        days_31_90=buckets.days_31_90,
        days_over_90=buckets.days_over_90,
        total=buckets.total,
    )


def _mttr_stat(stat: metrics.MttrStat) -> MttrStatOut:
    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 3)

    return MttrStatOut(
        count=stat.count, mean_days=r(stat.mean_days), median_days=r(stat.median_days)
    )


def _breach(b: metrics.Breach) -> BreachOut:
    return BreachOut(
        finding_id=b.finding_id,
        severity=_severity_name(b.severity),
        fingerprint=b.fingerprint,
        title=b.title,
        tool=b.tool,
        rule_id=b.rule_id,
        path=b.path,
        started_at=b.started_at,
        sla_days=b.sla_days,
        due_at=b.due_at,
        days_overdue=b.days_overdue,
    )


def _acceptance(a: metrics.Acceptance) -> AcceptanceOut:
    return AcceptanceOut(
        finding_id=a.finding_id,
        severity=_severity_name(a.severity),
        fingerprint=a.fingerprint,
        title=a.title,
        accepted_by=a.accepted_by,
        reason=a.reason,
        accepted_until=a.accepted_until,
        days_left=a.days_left,
    )


def _guard_sla(call: Callable[[], _V]) -> _V:
    """Run ``call``; a project's broken stored SLA override is a 409, never a 500."""
    try:
        return call()
    except metrics.SlaConfigError as exc:
        raise Conflict(f"invalid SLA configuration: {exc}", code="invalid_sla") from None


# ------------------------------------------------------------------- endpoints


@router.get(
    "/api/v1/projects/{project}/metrics/summary",
    response_model=SummaryOut,
    responses=_PROJECT_SLA_ERRORS,
    summary="Open findings by severity and age, and SLA breaches",
)
def metrics_summary(
    project: ProjectDep, session: SessionDep, now: NowDep, defaults: DefaultsDep
) -> SummaryOut:
    policy = _guard_sla(lambda: metrics.SlaPolicy.for_project(project, defaults))
    result = _guard_sla(lambda: metrics.summary(session, project.id, now=now, defaults=defaults))
    return SummaryOut(
        project=project.slug,
        as_of=now,
        sla_days=SlaDays.model_validate(policy.as_dict()),
        open_total=result.open.total,
        open=_per_severity(SeverityAges, result.open.by_severity, _ages),
        breaches_total=result.breaches_total,
        breaches=_per_severity(SeverityCounts, result.breaches_by_severity),
    )


@router.get(
    "/api/v1/projects/{project}/metrics/sla-breaches",
    response_model=BreachesOut,
    responses=_PROJECT_SLA_ERRORS,
    summary="Active findings past their SLA due time, most overdue first",
)
def metrics_sla_breaches(
    project: ProjectDep,
    session: SessionDep,
    now: NowDep,
    defaults: DefaultsDep,
    limit: Annotated[int, Query(ge=1, le=10_000, description="breaches listed at most")] = 1000,
) -> BreachesOut:
    result = _guard_sla(
        lambda: metrics.sla_breaches(session, project.id, now=now, limit=limit, defaults=defaults)
    )
    return BreachesOut(
        project=project.slug,
        as_of=now,
        total=result.total,
        by_severity=_per_severity(SeverityCounts, result.by_severity),
        truncated=result.truncated,
        breaches=[_breach(b) for b in result.breaches],
    )


@router.get(
    "/api/v1/projects/{project}/metrics/trend",
    response_model=TrendOut,
    responses=_PROJECT_ERRORS,
    summary="New, fixed and reopened findings per ISO week",
)
def metrics_trend(
    project: ProjectDep,
    session: SessionDep,
    now: NowDep,
    weeks: Annotated[int, Query(ge=1, le=104, description="weeks up to the current one")] = 12,
) -> TrendOut:
    trend = metrics.weekly_trend(session, project.id, weeks=weeks, now=now)
    return TrendOut(
        project=project.slug,
        as_of=now,
        weeks=[
            WeekOut(week=w.label, start=w.start, new=w.new, fixed=w.fixed, reopened=w.reopened)
            for w in trend.weeks
        ],
    )


@router.get(
    "/api/v1/projects/{project}/metrics/mttr",
    response_model=MttrOut,
    responses=_PROJECT_ERRORS,
    summary="Mean and median time to remediate per severity, from the status history",
)
def metrics_mttr(
    project: ProjectDep,
    session: SessionDep,
    now: NowDep,
    days: Annotated[int, Query(ge=1, le=3650, description="window: fixes in the last days")] = 90,
) -> MttrOut:
    result = metrics.mttr(session, project.id, days=days, now=now)
    return MttrOut(
        project=project.slug,
        as_of=now,
        days=result.days,
        since=result.since,
        by_severity=_per_severity(MttrBySeverity, result.by_severity, _mttr_stat),
        overall=_mttr_stat(result.overall),
    )


@router.get(
    "/api/v1/projects/{project}/acceptances",
    response_model=AcceptancesOut,
    responses=_PROJECT_ERRORS,
    summary="Risk acceptances that expire soon or have expired",
)
def project_acceptances(
    project: ProjectDep,
    session: SessionDep,
    now: NowDep,
    expiring_within_days: Annotated[
        int, Query(ge=0, le=3650, description="list acceptances ending within these days")
    ] = 14,
) -> AcceptancesOut:
    result = metrics.acceptances(
        session, project.id, expiring_within_days=expiring_within_days, now=now
    )
    return AcceptancesOut(
        project=project.slug,
        as_of=now,
        expiring_within_days=expiring_within_days,
        expiring=[_acceptance(a) for a in result.expiring],
        expired=[_acceptance(a) for a in result.expired],
    )


@router.get(
    "/api/v1/projects/{project}/gate",
    response_model=GateOut,
    responses=_PROJECT_SLA_ERRORS,
    summary="Whether the project has overdue findings (for CI to fail on)",
)
def project_gate(
    project: ProjectDep,
    session: SessionDep,
    now: NowDep,
    defaults: DefaultsDep,
    severities: Annotated[
        str,
        Query(
            pattern=SEVERITY_LIST_PATTERN,
            max_length=100,
            description="comma-separated severities that fail the gate when overdue",
        ),
    ] = "critical,high",
) -> GateOut:
    wanted = [Severity.parse(name) for name in severities.split(",")]
    result = _guard_sla(
        lambda: metrics.gate(session, project.id, severities=wanted, now=now, defaults=defaults)
    )
    return GateOut(
        project=project.slug,
        passed=result.passed,
        overdue=[_breach(b) for b in result.overdue],
        checked_at=result.checked_at,
    )


@router.get(
    "/api/v1/metrics/overview",
    response_model=OverviewOut,
    responses=deps.error_responses(403, 409),
    summary="Per project: open findings, SLA breaches and MTTR per severity",
)
def metrics_overview(
    _user: UserDep,
    session: SessionDep,
    now: NowDep,
    defaults: DefaultsDep,
    mttr_days: Annotated[int, Query(ge=1, le=3650, description="MTTR window in days")] = 90,
) -> OverviewOut:
    projects = _guard_sla(
        lambda: metrics.overview(session, mttr_days=mttr_days, now=now, defaults=defaults)
    )
    return OverviewOut(
        as_of=now,
        mttr_days=mttr_days,
        projects=[
            ProjectOverviewOut(
                project=p.slug,
                name=p.name,
                open_total=p.open_total,
                open=_per_severity(SeverityCounts, p.open_by_severity),
                breaches_total=p.breaches_total,
                breaches=_per_severity(SeverityCounts, p.breaches_by_severity),
                mttr=_per_severity(MttrBySeverity, p.mttr, _mttr_stat),
            )
            for p in projects
        ],
    )
