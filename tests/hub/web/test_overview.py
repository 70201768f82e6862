"""The overview and risk acceptance pages show what turbosec.hub.metrics computes.

Findings are uploaded through the real ingestion (reports built by tests/hub/reports.py)
at fixed times, and the pages' clock is fixed through the API's ``current_time``
dependency, so the expected numbers are those of the metrics functions at that time.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterator

import defusedxml.ElementTree as SafeET
import pytest
from sqlalchemy import update

from tests.hub.reports import dumps, findings, report
from tests.hub.web.conftest import Web, table_rows
from turbosec.core.severity import Severity
from turbosec.hub import metrics, service
from turbosec.hub.api.metrics import current_time
from turbosec.hub.ingest import IngestOptions, ingest, read_upload
from turbosec.hub.models import Finding, Project, Status
from turbosec.hub.web.charts import Segment, Series, grouped_bars, nice_ticks, stacked_bar

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
SEVERITIES = sorted(Severity, reverse=True)


def _upload(web: Web, slug: str, indexes: range | list[int], at: dt.datetime) -> None:
    with web.session() as session:
        project_id = service.get_project(session, slug).id
    upload = read_upload(dumps(report(findings(indexes))), web.settings)
    ingest(web.engine, project_id, upload, IngestOptions(uploaded_by="token:ci"), now=at)


@pytest.fixture
def site(web: Web) -> Iterator[Web]:
    """``alpha``: 20 findings 60 days ago, 5 fixed and 5 new 10 days ago;
    ``beta`` (critical SLA of 1 day): 10 findings 2 days ago; ``empty``: nothing."""
    with web.session() as session:
        service.create_project(session, "alpha", name="Alpha shop")
        service.create_project(session, "beta", name="Beta", sla_days={"critical": 1})
        service.create_project(session, "empty", name="Empty")
    _upload(web, "alpha", range(20), NOW - 60 * DAY)
    _upload(web, "alpha", range(5, 25), NOW - 10 * DAY)
    _upload(web, "beta", range(100, 110), NOW - 2 * DAY)
    web.app.dependency_overrides[current_time] = lambda: NOW
    yield web
    web.app.dependency_overrides.clear()


def _mttr_cell(stat: metrics.MttrStat) -> str:
    return "—" if not stat.count else f"{stat.mean_days:.1f}"


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_projects_table_shows_the_metrics(site: Web) -> None:
    client = site.signed_in("developer")
    page = client.get("/")
    assert page.status_code == 200
    rows = {r["data-project"]: r for r in table_rows(page.text, "projects")}
    assert list(rows) == ["alpha", "beta", "empty"]
    with site.session() as session:
        expected = metrics.overview(session, now=NOW)
        gates = {p.slug: metrics.gate(session, p.project_id, now=NOW) for p in expected}
    assert expected[0].open_total == 20 and expected[0].breaches_total > 0
    for project in expected:
        row = rows[project.slug]
        for severity in SEVERITIES:
            assert row[f"open-{severity.label}"] == f"{project.open_by_severity[severity]:,}"
            assert row[f"mttr-{severity.label}"] == _mttr_cell(project.mttr[severity])
        assert row["open-total"] == f"{project.open_total:,}"
        assert row["breaches"].split()[0] == f"{project.breaches_total:,}"
        gate = gates[project.slug]
        assert row["gate"].startswith("Pass" if gate.passed else "Fail")
        if not gate.passed:
            assert f"{len(gate.overdue)} overdue" in row["gate"]
    # beta's own critical SLA (1 day) makes its 2-day-old criticals overdue
    assert not gates["beta"].passed and rows["beta"]["gate"].startswith("Fail")
    assert rows["empty"]["gate"] == "Pass"
    # alpha's fixes 10 days ago give MTTR values (50 days from first seen)
    assert any(rows["alpha"][f"mttr-{s.label}"] == "50.0" for s in SEVERITIES)
    assert 'href="/projects/alpha"' in page.text


def test_cards_sum_up_the_hub(site: Web) -> None:
    page = site.signed_in("developer").get("/").text
    with site.session() as session:
        expected = metrics.overview(session, now=NOW)
    open_total = sum(p.open_total for p in expected)
    breaches = sum(p.breaches_total for p in expected)

    def card(key: str) -> str:
        match = re.search(rf'id="card-{key}">.*?class="stat-value">([^<]*)<', page, re.S)
        assert match, key
        return match.group(1)

    assert card("open") == f"{open_total:,}"
    assert card("breaches") == f"{breaches:,}"
    assert card("gate") == "1 of 3"  # only the empty project passes
    # every fix of alpha took 50 days (first seen 60 days ago, fixed 10 days ago)
    assert card("mttr") == "50 days"
    assert 'aria-label="Open findings by severity: ' in page


def test_the_trend_chart_draws_weekly_trend(site: Web) -> None:
    page = site.signed_in("developer").get("/").text
    with site.session() as session:
        trend = metrics.weekly_trend(session, None, weeks=12, now=NOW)
    match = re.search(r'<svg class="chart chart-wide" id="trend-chart".*?</svg>', page, re.S)
    assert match
    svg = match.group(0)
    root = SafeET.fromstring(svg)  # well-formed XML
    assert root.get("role") == "img"
    label = root.get("aria-label") or ""
    assert f"{sum(w.new for w in trend.weeks)} new" in label
    assert f"{sum(w.fixed for w in trend.weeks)} fixed" in label
    ns = "{http://www.w3.org/2000/svg}"
    bars = [r for r in root.iter(f"{ns}rect") if "bar" in (r.get("class") or "").split()]
    assert len(bars) == 2 * 12
    tips = [b.find(f"{ns}title").text for b in bars]  # type: ignore[union-attr]
    for week in trend.weeks:
        assert f"Week of {week.start.isoformat()} ({week.label}): {week.new} new" in tips
        assert f"Week of {week.start.isoformat()} ({week.label}): {week.fixed} fixed" in tips
    # the numbers as a table too
    rows = table_rows(page, "trend-table")
    assert [(r["0"], r["2"], r["3"]) for r in rows] == [
        (w.label, str(w.new), str(w.fixed)) for w in trend.weeks
    ]
    assert sum(w.new for w in trend.weeks) == 35 and sum(w.fixed for w in trend.weeks) == 5


def test_the_trend_period_can_change_with_and_without_htmx(site: Web) -> None:
    client = site.signed_in("developer")
    page = client.get("/", params={"weeks": 26}).text
    assert len(table_rows(page, "trend-table")) == 26
    assert '<option value="26" selected>' in page
    partial = client.get(
        "/", params={"weeks": 52}, headers={"HX-Request": "true", "HX-Target": "trend"}
    )
    assert partial.status_code == 200
    assert partial.text.lstrip().startswith('<section class="card section" id="trend"')
    assert "<html" not in partial.text and 'id="projects"' not in partial.text
    assert len(table_rows(partial.text, "trend-table")) == 52
    assert client.get("/", params={"weeks": 0}).status_code == 422


def test_names_from_the_database_are_escaped(site: Web) -> None:
    with site.session() as session:
        service.create_project(session, "xss", name='<script>alert("x")</script> & <b>co</b>')
    page = site.signed_in("developer").get("/").text
    assert "<script>alert" not in page and "<b>co</b>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;co&lt;/b&gt;" in page


def test_an_empty_hub_has_a_friendly_overview(web: Web) -> None:
    page = web.signed_in("developer").get("/")
    assert page.status_code == 200
    assert "No projects yet" in page.text and 'id="projects"' not in page.text
    assert 'id="trend-chart"' in page.text


def test_a_broken_sla_override_is_a_409_page(site: Web) -> None:
    with site.session() as session:
        session.execute(
            update(Project).where(Project.slug == "beta").values(sla_days={"critical": "soon"})
        )
        session.commit()
    page = site.signed_in("developer").get("/")
    assert page.status_code == 409
    assert "invalid SLA configuration" in page.text and "beta" in page.text
    assert page.headers["content-type"].startswith("text/html")


def test_nav_shows_admin_links_to_admins_only(site: Web) -> None:
    developer = site.signed_in("developer").get("/").text
    admin = site.signed_in("admin").get("/").text
    for link in ('href="/admin/users"', 'href="/admin/tokens"'):
        assert link not in developer and link in admin
    assert 'href="/acceptances"' in developer
    assert 'aria-current="page">Overview<' in developer
    assert ">Sign out</button>" in developer


# -- risk acceptances -------------------------------------------------------------------


def _finding_ids(web: Web, slug: str, severity: Severity | None = None) -> list[int]:
    with web.session() as session:
        project = service.get_project(session, slug)
        rows, _ = service.list_findings(
            session,
            project.id,
            service.FindingFilter(status=("open",)),
            sort="id",
            limit=100,
        )
        return [f.id for f in rows if severity is None or f.severity == int(severity)]


@pytest.fixture
def accepted(site: Web) -> dict[str, int]:
    """Accepted risks of alpha: ending in 5 days, in 30 days, without end, ended."""
    ids = _finding_ids(site, "alpha")
    names = {"soon": ids[0], "later": ids[1], "forever": ids[2], "ended": ids[3]}
    today = NOW.date()
    with site.session() as session:
        project = service.get_project(session, "alpha")
        for name, expires in (
            ("soon", today + 5 * DAY),
            ("later", today + 30 * DAY),
            ("forever", None),
            ("ended", today + 2 * DAY),
        ):
            service.change_status(
                session,
                project,
                names[name],
                status=Status.ACCEPTED,
                actor="user:security",
                reason=f"reason <{name}>",
                expires=expires,
                now=NOW,
            )
        # an acceptance that has ended (the next upload would reopen it)
        session.execute(
            update(Finding)
            .where(Finding.id == names["ended"])
            .values(accepted_until=today - 3 * DAY)
        )
        session.commit()
    return names


def _listed(page: str, table_id: str) -> list[int]:
    if f'id="{table_id}"' not in page:
        return []
    return [int(r["data-finding"]) for r in table_rows(page, table_id)]


def test_acceptances_lists_every_acceptance_with_an_end_date(
    site: Web, accepted: dict[str, int]
) -> None:
    page = site.signed_in("developer").get("/acceptances")
    assert page.status_code == 200
    assert _listed(page.text, "acceptances") == [accepted["soon"], accepted["later"]]
    assert _listed(page.text, "acceptances-expired") == [accepted["ended"]]
    rows = {int(r["data-finding"]): r for r in table_rows(page.text, "acceptances")}
    soon = rows[accepted["soon"]]
    assert soon["5"] == (NOW.date() + 5 * DAY).isoformat()
    assert soon["6"] == "5 days"
    assert soon["3"] == "security"  # the actor, as a name
    assert "reason &lt;soon&gt;" in page.text  # escaped
    assert f'href="/projects/alpha/findings/{accepted["soon"]}"' in page.text
    assert "expired 3 days ago" in page.text
    assert 'id="show-all" name="expiring" value="" checked' in page.text


def test_acceptances_filter_expiring_in_14_days(site: Web, accepted: dict[str, int]) -> None:
    client = site.signed_in("developer")
    page = client.get("/acceptances", params={"expiring": 14}).text
    assert _listed(page, "acceptances") == [accepted["soon"]]
    assert _listed(page, "acceptances-expired") == [accepted["ended"]]
    assert 'value="14" checked' in page
    # the form's "all" choice sends an empty value
    assert _listed(client.get("/acceptances?expiring=").text, "acceptances") == [
        accepted["soon"],
        accepted["later"],
    ]
    with site.session() as session:
        expected = metrics.acceptances(session, None, expiring_within_days=14, now=NOW)
    assert [a.finding_id for a in expected.expiring] == _listed(page, "acceptances")
    partial = client.get(
        "/acceptances",
        params={"expiring": 14},
        headers={"HX-Request": "true", "HX-Target": "acceptance-list"},
    )
    assert partial.text.lstrip().startswith('<div id="acceptance-list">')
    assert "<html" not in partial.text


@pytest.mark.parametrize("value", ["abc", "-1", "99999", "1e3"])
def test_acceptances_refuse_a_bad_filter_with_a_page(site: Web, value: str) -> None:
    answer = site.signed_in("developer").get("/acceptances", params={"expiring": value})
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert "expiring must be a number of days" in answer.text


def test_no_acceptances_is_said_plainly(site: Web) -> None:
    page = site.signed_in("developer").get("/acceptances", params={"expiring": 14}).text
    assert "No accepted risk ends in this period." in page
    assert 'id="acceptances-expired"' not in page


# -- charts ----------------------------------------------------------------------------


def test_charts_escape_their_text_and_stay_well_formed() -> None:
    svg = grouped_bars(
        ['<img src=x onerror="a">', "b&c"],
        [Series('New "1"', [3, 0], "bar-new"), Series("<Fixed>", [0, 7], "bar-fixed")],
        label="a </svg><script>x</script>",
    )
    text = str(svg)
    assert "<script>" not in text and "<img" not in text
    root = SafeET.fromstring(text)
    assert root.get("aria-label") == "a </svg><script>x</script>"
    with pytest.raises(ValueError, match="CSS class"):
        grouped_bars(["a"], [Series("x", [1], 'bar" onload="x')], label="x")
    with pytest.raises(ValueError, match="one value per label"):
        grouped_bars(["a", "b"], [Series("x", [1], "bar-new")], label="x")
    bar = str(stacked_bar([Segment("<c>", 2, "sev-fill-critical")], label="<all>"))
    SafeET.fromstring(bar)
    assert "&lt;c&gt;: 2" in bar


def test_charts_of_nothing_still_draw_axes() -> None:
    text = str(grouped_bars(["w1", "w2"], [Series("New", [0, 0], "bar-new")], label="none"))
    root = SafeET.fromstring(text)
    assert root.findall(".//{http://www.w3.org/2000/svg}line")
    empty = str(stacked_bar([Segment("a", 0, "sev-fill-low")], label="nothing"))
    assert "sev-fill-low" not in empty


@pytest.mark.parametrize(
    ("peak", "top"), [(0, 1), (1, 1), (7, 8), (37, 40), (99, 100), (1234, 1500), (12345, 15000)]
)
def test_axis_ticks_are_round_and_cover_the_peak(peak: int, top: float) -> None:
    ticks = nice_ticks(peak)
    assert ticks[0] == 0 and ticks[-1] == top and ticks[-1] >= peak
    steps = {round(b - a, 6) for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1 and 2 <= len(ticks) <= 6
