"""The overview (``GET /``) and the risk acceptances (``GET /acceptances``).

Every number comes from :mod:`turbosec.hub.metrics`; this module only arranges them:

* :func:`metrics.overview` — per project: open findings, SLA breaches and MTTR per
  severity (a fixed number of ``GROUP BY`` queries whatever the number of projects);
* :func:`metrics.weekly_trend` — new and fixed per ISO week, hub-wide (the chart);
* the gate column is :func:`metrics.gate`'s verdict (no overdue finding of
  :data:`metrics.DEFAULT_GATE_SEVERITIES`), read from the overview's breach counts of those
  severities, which are counted with the same SLA predicate: one query for all projects
  instead of a gate query (and a breach listing) per project;
* :func:`metrics.acceptances` — accepted risks ending within N days, or ended.

The hub-wide MTTR cards are the remediation-weighted means of the projects' means (the
mean over all remediations); medians cannot be combined and are shown per project only.

Every user may read every project (:class:`turbosec.hub.auth.Action.READ`), so both pages
list all projects.  The clock and the hub's default SLA are the API's dependencies
(:func:`turbosec.hub.api.metrics.current_time`, ``sla_defaults``): tests fix them the same
way for the API and the pages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from turbosec.core.severity import Severity
from turbosec.hub import metrics, service
from turbosec.hub.api.deps import SessionDep
from turbosec.hub.api.metrics import current_time, sla_defaults
from turbosec.hub.auth import Action
from turbosec.hub.errors import Conflict
from turbosec.hub.service import InvalidInput
from turbosec.hub.web.charts import Segment, Series, grouped_bars, stacked_bar
from turbosec.hub.web.render import SEVERITIES, days, is_htmx, render
from turbosec.hub.web.session import WebUserDep

router = APIRouter()

NowDep = Annotated[dt.datetime, Depends(current_time)]
DefaultsDep = Annotated[metrics.SlaPolicy, Depends(sla_defaults)]

MTTR_DAYS = 90
TREND_WEEKS = (12, 26, 52)
EXPIRING_DAYS = 14
MAX_EXPIRING_DAYS = 3650
ALL_WITH_END_DATE = 36_500  # "every acceptance with an end date": a century ahead

_V = TypeVar("_V")


def _guard_sla(call: Callable[[], _V]) -> _V:
    """A project's broken stored SLA override is a 409 page naming it, never a 500."""
    try:
        return call()
    except metrics.SlaConfigError as exc:
        raise Conflict(
            f"invalid SLA configuration: {exc}; fix it with the projects API", code="invalid_sla"
        ) from None


@dataclass(frozen=True)
class ProjectRow:
    """One row of the projects table."""

    slug: str
    name: str
    open: Mapping[Severity, int]
    open_total: int
    breaches: Mapping[Severity, int]
    breaches_total: int
    mttr: Mapping[Severity, metrics.MttrStat]
    gate_passed: bool
    gate_overdue: int  # overdue findings of the gate's severities


@dataclass(frozen=True)
class Card:
    """A key number at the top of the overview."""

    key: str  # a stable id for tests and CSS: "open", "breaches", "gate", "mttr"
    title: str
    value: str
    detail: str
    tone: str = "neutral"  # "neutral" | "good" | "bad"
    extra: Markup | None = None


def _row(p: metrics.ProjectOverview) -> ProjectRow:
    overdue = sum(p.breaches_by_severity[s] for s in metrics.DEFAULT_GATE_SEVERITIES)
    return ProjectRow(
        slug=p.slug,
        name=p.name,
        open=p.open_by_severity,
        open_total=p.open_total,
        breaches=p.breaches_by_severity,
        breaches_total=p.breaches_total,
        mttr=p.mttr,
        gate_passed=overdue == 0,
        gate_overdue=overdue,
    )


def _weighted_mean(stats: Sequence[metrics.MttrStat]) -> tuple[float | None, int]:
    count = sum(s.count for s in stats)
    if not count:
        return None, 0
    total = sum(s.mean_days * s.count for s in stats if s.mean_days is not None)
    return total / count, count


def _cards(rows: Sequence[ProjectRow]) -> list[Card]:
    open_by = {s: sum(r.open[s] for r in rows) for s in SEVERITIES}
    open_total = sum(open_by.values())
    breaches_by = {s: sum(r.breaches[s] for r in rows) for s in SEVERITIES}
    breaches_total = sum(breaches_by.values())
    failing = [r for r in rows if not r.gate_passed]
    distribution = stacked_bar(
        [Segment(s.label.capitalize(), open_by[s], f"sev-fill-{s.label}") for s in SEVERITIES],
        label="Open findings by severity: "
        + ", ".join(f"{open_by[s]:,} {s.label}" for s in SEVERITIES),
    )
    mttr_parts = []
    for severity in (Severity.CRITICAL, Severity.HIGH):
        mean, count = _weighted_mean([r.mttr[severity] for r in rows])
        mttr_parts.append((severity, mean, count))
    overall, fixes = _weighted_mean([r.mttr[s] for r in rows for s in SEVERITIES])
    gate_names = " and ".join(s.label for s in metrics.DEFAULT_GATE_SEVERITIES)
    return [
        Card(
            "open",
            "Open findings",
            f"{open_total:,}",
            f"{open_by[Severity.CRITICAL]:,} critical · {open_by[Severity.HIGH]:,} high",
            extra=distribution,
        ),
        Card(
            "breaches",
            "SLA breaches",
            f"{breaches_total:,}",
            f"{breaches_by[Severity.CRITICAL]:,} critical · {breaches_by[Severity.HIGH]:,} high "
            "past their due date",
            tone="bad" if breaches_total else "good",
        ),
        Card(
            "gate",
            "Gate",
            f"{len(rows) - len(failing)} of {len(rows)}",
            f"projects pass: no overdue {gate_names} finding"
            if not failing
            else "failing: "
            + ", ".join(r.name for r in failing[:3])
            + (f" and {len(failing) - 3} more" if len(failing) > 3 else ""),
            tone="bad" if failing else "good",
        ),
        Card(
            "mttr",
            "Mean time to remediate",
            days(overall) if overall is not None else "—",
            (
                " · ".join(
                    f"{s.label}: {days(mean) if mean is not None else 'no fixes'}"
                    for s, mean, _count in mttr_parts
                )
                + f" · {fixes:,} fixes in the last {MTTR_DAYS} days"
            )
            if fixes
            else f"no finding was fixed in the last {MTTR_DAYS} days",
        ),
    ]


@dataclass(frozen=True)
class TrendView:
    weeks: tuple[metrics.WeekTrend, ...]
    chart: Markup
    new_total: int
    fixed_total: int
    reopened_total: int


def _trend(trend: metrics.Trend) -> TrendView:
    weeks = trend.weeks
    labels = [f"{w.start:%b} {w.start.day}" for w in weeks]
    tooltips = [f"Week of {w.start.isoformat()} ({w.label})" for w in weeks]
    new_total = sum(w.new for w in weeks)
    fixed_total = sum(w.fixed for w in weeks)
    series = [
        Series("New", [w.new for w in weeks], "bar-new", "new"),
        Series("Fixed", [w.fixed for w in weeks], "bar-fixed", "fixed"),
    ]
    label = (
        f"New and fixed findings per week, last {len(weeks)} weeks: "
        f"{new_total:,} new, {fixed_total:,} fixed"
    )
    # a wide drawing, and a compact one the stylesheet shows on narrow screens instead
    wide = grouped_bars(
        labels,
        series,
        label=label,
        tooltips=tooltips,
        chart_id="trend-chart",
        css_class="chart-wide",
    )
    compact = grouped_bars(
        labels,
        series,
        label=label,
        tooltips=tooltips,
        chart_id="trend-chart-compact",
        css_class="chart-compact",
        width=360,
        height=250,
        max_labels=4,
        max_bar=14,
    )
    return TrendView(
        weeks=weeks,
        chart=wide + compact,
        new_total=new_total,
        fixed_total=fixed_total,
        reopened_total=sum(w.reopened for w in weeks),
    )


@router.get("/", response_class=HTMLResponse)
def overview(
    request: Request,
    user: WebUserDep,
    session: SessionDep,
    now: NowDep,
    defaults: DefaultsDep,
    weeks: Annotated[int, Query(ge=1, le=104)] = 12,
) -> HTMLResponse:
    trend = _trend(metrics.weekly_trend(session, None, weeks=weeks, now=now))
    context = {"trend": trend, "weeks": weeks, "week_choices": TREND_WEEKS}
    if is_htmx(request) and request.headers.get("HX-Target") == "trend":
        return render(request, "_trend.html", context, user=user)
    projects = _guard_sla(
        lambda: metrics.overview(session, mttr_days=MTTR_DAYS, now=now, defaults=defaults)
    )
    rows = [_row(p) for p in projects if user.can(Action.READ, p.project_id)]
    context.update(
        rows=rows,
        cards=_cards(rows),
        mttr_days=MTTR_DAYS,
        gate_severities=metrics.DEFAULT_GATE_SEVERITIES,
        as_of=now,
    )
    return render(request, "overview.html", context, user=user)


@dataclass(frozen=True)
class AcceptanceRow:
    item: metrics.Acceptance
    project_slug: str
    project_name: str

    @property
    def urgency(self) -> str:
        """ "expired", "soon" (within 14 days) or "later": the row's emphasis."""
        if self.item.days_left < 0:
            return "expired"
        return "soon" if self.item.days_left <= EXPIRING_DAYS else "later"


def _expiring(value: str | None) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        days = int(value)
    except ValueError:
        days = -1
    if not 0 <= days <= MAX_EXPIRING_DAYS:
        raise InvalidInput(
            f"expiring must be a number of days from 0 to {MAX_EXPIRING_DAYS}, "
            f"e.g. ?expiring={EXPIRING_DAYS}"
        )
    return days


@router.get("/acceptances", response_class=HTMLResponse)
def acceptances(
    request: Request,
    user: WebUserDep,
    session: SessionDep,
    now: NowDep,
    expiring_param: Annotated[str | None, Query(alias="expiring", max_length=10)] = None,
) -> HTMLResponse:
    """Accepted risks with an end date; ``?expiring=14``: those ending within 14 days.

    An empty ``expiring`` (the "all" choice of the filter form) means no window.
    """
    expiring = _expiring(expiring_param)
    window = ALL_WITH_END_DATE if expiring is None else expiring
    result = metrics.acceptances(session, None, expiring_within_days=window, now=now)
    projects = {p.id: p for p in service.list_projects(session) if user.can(Action.READ, p.id)}

    def rows(items: Sequence[metrics.Acceptance]) -> list[AcceptanceRow]:
        return [
            AcceptanceRow(a, projects[a.project_id].slug, projects[a.project_id].name)
            for a in items
            if a.project_id in projects
        ]

    context = {
        "expired": rows(result.expired),
        "current": rows(result.expiring),
        "expiring": expiring,
        "expiring_days": EXPIRING_DAYS,
        "projects": list(projects.values()),
        "as_of": now,
    }
    if is_htmx(request) and request.headers.get("HX-Target") == "acceptance-list":
        return render(request, "_acceptance_list.html", context, user=user)
    return render(request, "acceptances.html", context, user=user)
