"""The project and finding pages: filters, sorting, paging, triage by role, htmx answers.

Real hub applications (SQLite; the queries also on PostgreSQL), findings uploaded through
the real ingestion, sessions that are real user tokens in the session cookie (signing in
through the form is tested with the login page), forms posted as a browser posts them,
with and without htmx.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.hub.reports import big_report, dumps, findings, report
from tests.hub.web.conftest import Web
from turbosec.hub import service
from turbosec.hub.ingest import IngestOptions, ingest, read_upload
from turbosec.hub.models import Comment, Finding, Role, Status, StatusChange, utcnow
from turbosec.hub.settings import HubSettings
from turbosec.hub.web import queries
from turbosec.hub.web.session import SESSION_COOKIE, csrf_token_for

PROJECT = "alpha"
FINDING_LINK = re.compile(r'href="/projects/alpha/findings/(\d+)"')


@dataclass
class Site:
    """A hub with project ``alpha`` (8 findings uploaded twice: 2 fixed) and ``beta``."""

    app: Any
    engine: Engine
    settings: HubSettings
    ids: dict[str, int] = field(default_factory=dict)

    def client(self, role: Role | None) -> TestClient:
        """A browser of a signed-in user of ``role`` (None: nobody signed in)."""
        client = TestClient(self.app, raise_server_exceptions=False, follow_redirects=False)
        if role is not None:
            with Session(self.engine, expire_on_commit=False) as session:
                user = service.get_user(session, role.value)
                _view, token = service.create_user_token(
                    session, user, name="login", created_by="test"
                )
            client.cookies.set(SESSION_COOKIE, token)
            client.headers["x-test-csrf"] = csrf_token_for(token)
        return client

    def finding(self, finding_id: int) -> Finding:
        with Session(self.engine, expire_on_commit=False) as session:
            row = session.get(Finding, finding_id)
            assert row is not None
            return row

    def history(self, finding_id: int) -> list[StatusChange]:
        with Session(self.engine, expire_on_commit=False) as session:
            return list(service.finding_history(session, finding_id))

    def comments(self, finding_id: int) -> list[str]:
        with Session(self.engine) as session:
            return [
                c.body
                for c in session.execute(
                    select(Comment).where(Comment.finding_id == finding_id)
                ).scalars()
            ]

    def upload(self, doc: dict[str, Any], *, slug: str = PROJECT, days_ago: float = 0) -> None:
        with Session(self.engine) as session:
            project_id = service.get_project(session, slug).id
        ingest(
            self.engine,
            project_id,
            read_upload(dumps(doc), self.settings),
            IngestOptions(uploaded_by="token:ci"),
            now=utcnow() - dt.timedelta(days=days_ago),
        )


@pytest.fixture
def site(web: Web) -> Site:
    with web.session() as session:
        service.create_project(session, PROJECT, name="Alpha shop", default_branch="main")
        service.create_project(session, "beta", name="Beta")
    site = Site(app=web.app, engine=web.engine, settings=web.settings)
    found = findings(range(8))
    site.upload(report(found), days_ago=20)
    site.upload(report(found[2:]), days_ago=10)  # the first two are fixed
    site.upload(report(findings(range(100, 103))), slug="beta", days_ago=5)
    with web.session() as session:
        alpha = service.get_project(session, PROJECT).id
        for f in session.execute(select(Finding).order_by(Finding.id)).scalars():
            key = f"{f.tool}:{f.status}" if f.project_id == alpha else f"beta:{f.tool}"
            site.ids.setdefault(key, f.id)
    return site


BOTH_DATABASES = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)


def _csrf(client: TestClient) -> str:
    return str(client.headers["x-test-csrf"])


def _listed(body: str) -> list[int]:
    table = body.split('id="findings"', 1)[1].split("</table>", 1)[0]
    return [int(i) for i in dict.fromkeys(FINDING_LINK.findall(table))]


def _texts(body: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


# -- the project page -------------------------------------------------------------------------


def test_project_page_lists_active_findings_filters_and_scans(site: Site) -> None:
    client = site.client(Role.DEVELOPER)
    answer = client.get(f"/projects/{PROJECT}")
    assert answer.status_code == 200, answer.text
    body = answer.text
    assert answer.headers["content-type"].startswith("text/html")
    # the table holds the six active findings, most severe first, linked to their pages
    listed = _listed(body)
    assert len(listed) == 6
    with Session(site.engine) as session:
        rows = {f.id: f for f in session.execute(select(Finding)).scalars()}
    assert all(rows[i].status == Status.OPEN.value for i in listed)
    severities = [rows[i].severity for i in listed]
    assert severities == sorted(severities, reverse=True)
    # the filter form: a GET form with the contract's fields and a "Filter" button
    form = body.split('id="filters"', 1)[1].split("</form>", 1)[0]
    assert 'method="get"' in body.split('id="filters"', 1)[0][-300:] + form[:300]
    for name in ("severity", "status", "category", "tool", "path", "q"):
        assert f'name="{name}"' in form, name
    assert ">Filter</button>" in form
    # the scans, newest first, with what each changed
    scans = body.split('id="scans"', 1)[1].split("</table>", 1)[0]
    rows_text = [_texts(r) for r in scans.split("<tr>")[2:]]
    assert len(rows_text) == 2
    newest, first = (r.split() for r in rows_text)
    assert "main" in newest
    assert "\u22122" in newest  # minus 2: two fixed by the second scan
    assert "+8" in first
    # nothing inline: the Content-Security-Policy forbids inline script and style
    assert re.search(r"<script(?![^>]*\bsrc=)", body) is None
    assert " style=" not in body
    assert "script-src 'self'" in answer.headers["content-security-policy"]


@BOTH_DATABASES
def test_filters_narrow_the_list(site: Site) -> None:
    client = site.client(Role.DEVELOPER)

    def listed(query: str) -> list[int]:
        answer = client.get(f"/projects/{PROJECT}?{query}")
        assert answer.status_code == 200, (query, answer.text[:500])
        return _listed(answer.text)

    every = listed("status=all")
    assert len(every) == 8
    fixed = listed("status=fixed")
    assert len(fixed) == 2 and all(site.finding(i).status == "fixed" for i in fixed)
    for query, check in (
        ("tool=semgrep", lambda f: f.tool == "semgrep"),
        ("category=secret", lambda f: f.category == "secret"),
        ("severity=high", lambda f: f.severity == 3),
        ("path=app%2Ftasks%2F", lambda f: (f.path or "").startswith("app/tasks/")),
        ("q=SUBPROCESS", lambda f: "subprocess" in (f.title + f.message).lower()),
    ):
        shown = listed(f"{query}&status=all")
        expected = [i for i in every if check(site.finding(i))]
        assert shown and sorted(shown) == sorted(expected), query
    # LIKE wildcards in the text are plain characters
    assert listed("q=%25&status=all") == []
    assert listed("q=r_n&status=all") == []  # "_" would match the "u" of "run_1.py"
    # nothing matches: a helpful empty row, still a 200
    answer = client.get(f"/projects/{PROJECT}?q=no-such-text-anywhere")
    assert answer.status_code == 200 and _listed(answer.text) == []
    assert "No finding matches these filters" in answer.text


@BOTH_DATABASES
def test_the_text_search_matches_the_services(site: Site) -> None:
    """The web's own text condition finds exactly what the API's filter finds."""
    with Session(site.engine) as session:
        project_id = service.get_project(session, PROJECT).id
        for q in ("subprocess", "SQL", "app/", "B608", "PASSWORD_3", "%", "zz-none"):
            api, _ = service.list_findings(
                session, project_id, service.FindingFilter(q=q), limit=500
            )
            web, _ = service.list_findings(session, project_id, queries.WebFilter(q=q), limit=500)
            assert [f.id for f in web] == [f.id for f in api], q


def test_unknown_filter_values_are_a_400_with_the_form(site: Site) -> None:
    client = site.client(Role.DEVELOPER)
    answer = client.get(f"/projects/{PROJECT}?severity=urgent&sort=--severity")
    assert answer.status_code == 400
    assert "unknown severity" in html.unescape(answer.text)
    assert 'id="filters"' in answer.text
    answer = client.get(f"/projects/{PROJECT}?cursor=not-a-cursor")
    assert answer.status_code == 400
    answer = client.get("/projects/no-such-project")
    assert answer.status_code == 404


@BOTH_DATABASES
def test_paging_forward_and_back_covers_every_finding_once(site: Site) -> None:
    site.upload(big_report(120), slug="beta", days_ago=1)
    client = site.client(Role.SECURITY)
    for sort in ("-severity", "first_seen", "-last_seen"):
        url: str | None = f"/projects/beta?sort={sort}"
        pages: list[list[int]] = []
        urls: list[str] = []
        while url:
            answer = client.get(url)
            assert answer.status_code == 200, answer.text[:300]
            table = answer.text.split('id="findings"', 1)[1].split("</table>", 1)[0]
            pages.append([int(i) for i in dict.fromkeys(re.findall(r"/findings/(\d+)", table))])
            urls.append(url)
            nxt = re.search(r'rel="next" href="([^"]+)"', answer.text)
            url = html.unescape(nxt.group(1)) if nxt else None
        assert [len(p) for p in pages] == [50, 50, 20], sort  # the 3 earlier ones are fixed
        ids = [i for p in pages for i in p]
        assert len(set(ids)) == 120
        # "Previous page" from the last page walks back through the same pages
        back: list[list[int]] = []
        answer = client.get(urls[-1])
        while True:
            prev = re.search(r'rel="prev" href="([^"]+)"', answer.text)
            if not prev:
                break
            answer = client.get(html.unescape(prev.group(1)))
            assert answer.status_code == 200
            table = answer.text.split('id="findings"', 1)[1].split("</table>", 1)[0]
            back.append([int(i) for i in dict.fromkeys(re.findall(r"/findings/(\d+)", table))])
        assert back == pages[-2::-1], sort


def test_sort_links_toggle_and_keep_the_filters(site: Site) -> None:
    client = site.client(Role.DEVELOPER)
    body = client.get(f"/projects/{PROJECT}?tool=bandit&status=all").text
    heads = re.findall(r'<th scope="col" aria-sort="(\w+)"[^>]*>\s*<a href="([^"]+)"', body)
    by_aria = {html.unescape(url): aria for aria, url in heads}
    assert "descending" in by_aria.values()  # severity, the default order
    for url in by_aria:
        assert "tool=bandit" in url and "status=all" in url
    assert any("sort=severity" in url for url in by_aria)  # toggles to ascending
    assert any("sort=-first_seen" in url for url in by_aria)


def test_counts_are_capped() -> None:
    assert str(queries.Count(10_000, True)) == "10,000+"
    assert str(queries.Count(12, False)) == "12"


def test_capped_count_stops_at_the_cap(site: Site) -> None:
    with Session(site.engine) as session:
        project_id = service.get_project(session, PROJECT).id
        everything = queries.WebFilter()
        assert queries.count_findings(session, project_id, everything) == queries.Count(8, False)
        assert queries.count_findings(session, project_id, everything, cap=5) == queries.Count(
            5, True
        )
        tally = queries.status_counts(session, project_id)
        assert tally.by_status["open"] == 6 and tally.by_status["fixed"] == 2
        assert tally.active == 6 and tally.total == 8
        assert sum(tally.active_by_severity.values()) == 6


def test_htmx_filtering_answers_the_results_region_only(site: Site) -> None:
    client = site.client(Role.DEVELOPER)
    answer = client.get(
        f"/projects/{PROJECT}?tool=semgrep",
        headers={"HX-Request": "true", "HX-Target": "findings-region"},
    )
    assert answer.status_code == 200
    assert 'id="findings"' in answer.text
    assert "<html" not in answer.text and 'id="filters"' not in answer.text
    assert 'hx-push-url="true"' in answer.text  # its links keep updating the address
    assert all(site.finding(i).tool == "semgrep" for i in _listed(answer.text))
    # the page itself tells htmx what to swap
    page = client.get(f"/projects/{PROJECT}").text
    form = page.split('id="filters"', 1)[1].split(">", 1)[0]
    assert 'hx-get="/projects/alpha"' in form and 'hx-target="#findings-region"' in form
    assert 'hx-push-url="true"' in form


def test_signed_out_visitors_are_sent_to_sign_in(site: Site) -> None:
    answer = site.client(None).get(f"/projects/{PROJECT}?tool=bandit")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=")


# -- the finding page -------------------------------------------------------------------------


def test_finding_page_shows_everything(site: Site) -> None:
    finding_id = site.ids["semgrep:open"]
    client = site.client(Role.DEVELOPER)
    # some history and a comment to show
    sec = site.client(Role.SECURITY)
    url = f"/projects/{PROJECT}/findings/{finding_id}"
    assert (
        sec.post(f"{url}/comments", data={"body": "seen", "csrf_token": _csrf(sec)}).status_code
        == 303
    )
    answer = client.get(url)
    assert answer.status_code == 200
    body = answer.text
    text = _texts(body)
    finding = site.finding(finding_id)
    assert html.escape(finding.title, quote=False) in body
    assert finding.message in text
    assert finding.fix_hint and finding.fix_hint in text
    assert finding.rule_id in text and finding.fingerprint in text
    assert str(finding.details["snippet"]) in text  # the code, with its line number
    assert f">{finding.line}</span>" in body
    assert 'href="https://cwe.mitre.org/data/definitions/78.html"' in body
    history = body.split('<ol id="history"', 1)[1].split("</ol>", 1)[0]
    assert history.count("<li") == len(site.history(finding_id)) == 1
    assert "Scan #" in history and "new in scan" in history
    assert "seen" in text and "security" in text
    # the SLA of a 20-day-old finding of its severity, and the scans it was seen in
    assert "SLA" in text and "First seen" in text and "Last seen" in text
    # a finding of another project is not found through this one
    other = site.ids["beta:bandit"]
    assert client.get(f"/projects/{PROJECT}/findings/{other}").status_code == 404
    assert client.get(f"/projects/{PROJECT}/findings/999999").status_code == 404


def test_references_link_only_to_web_addresses(site: Site) -> None:
    finding_id = site.ids["bandit:open"]
    with Session(site.engine) as session:
        row = session.get(Finding, finding_id)
        assert row is not None
        row.details = {
            **row.details,
            "references": ["javascript:alert(1)", "https://example.org/advice"],
        }
        session.commit()
    body = site.client(Role.DEVELOPER).get(f"/projects/{PROJECT}/findings/{finding_id}").text
    assert 'href="https://example.org/advice"' in body
    assert 'href="javascript:' not in body
    assert "javascript:alert(1)" in body  # shown as text


def test_a_developer_sees_no_triage_and_cannot_post_it(site: Site) -> None:
    finding_id = site.ids["semgrep:open"]
    url = f"/projects/{PROJECT}/findings/{finding_id}"
    client = site.client(Role.DEVELOPER)
    body = client.get(url).text
    for label in ("Mark false positive", "Accept risk", "Reopen", ">Assign<"):
        assert label not in body, label
    assert 'action="' + url + '/status"' not in body and 'name="expires"' not in body
    assert ">Add comment</button>" in body
    before = len(site.history(finding_id))
    tomorrow = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    for path, data in (
        ("status", {"status": "accepted", "reason": "no", "expires": tomorrow}),
        ("status", {"status": "false_positive", "reason": "no"}),
        ("assign", {"assignee": "developer"}),
    ):
        answer = client.post(f"{url}/{path}", data={**data, "csrf_token": _csrf(client)})
        assert answer.status_code == 403, path
        assert "security or admin role" in answer.text
    stored = site.finding(finding_id)
    assert stored.status == "open" and stored.assignee is None
    assert len(site.history(finding_id)) == before
    # but a developer comments
    answer = client.post(f"{url}/comments", data={"body": "on it", "csrf_token": _csrf(client)})
    assert answer.status_code == 303
    assert site.comments(finding_id) == ["on it"]


def test_triage_without_javascript_posts_and_redirects(site: Site) -> None:
    finding_id = site.ids["bandit:open"]
    url = f"/projects/{PROJECT}/findings/{finding_id}"
    client = site.client(Role.SECURITY)
    body = client.get(url).text
    for label in ("Mark false positive", "Accept risk", ">Assign<"):
        assert label in body
    assert ">Reopen</button>" not in body  # an open finding cannot be reopened
    assert f'name="csrf_token" value="{_csrf(client)}"' in body

    answer = client.post(
        f"{url}/status",
        data={"status": "false_positive", "reason": "test data", "csrf_token": _csrf(client)},
    )
    assert answer.status_code == 303 and answer.headers["location"] == url
    page = client.get(url).text
    assert "Marked as a false positive." in page  # the one-shot notice
    assert site.finding(finding_id).status == "false_positive"
    last = site.history(finding_id)[-1]
    assert (last.actor, last.to_status, last.reason) == (
        "user:security",
        "false_positive",
        "test data",
    )
    assert ">Reopen</button>" in page

    answer = client.post(
        f"{url}/status",
        data={"status": "reopened", "reason": "", "csrf_token": _csrf(client)},
    )
    assert answer.status_code == 303
    assert site.finding(finding_id).status == "reopened"

    answer = client.post(
        f"{url}/assign", data={"assignee": "developer", "csrf_token": _csrf(client)}
    )
    assert answer.status_code == 303 and site.finding(finding_id).assignee == "developer"
    answer = client.post(f"{url}/assign", data={"assignee": "", "csrf_token": _csrf(client)})
    assert answer.status_code == 303 and site.finding(finding_id).assignee is None


def _accept(client: TestClient, url: str, **fields: str) -> Any:
    data = {"status": "accepted", "csrf_token": _csrf(client), **fields}
    return client.post(f"{url}/status", data=data)


def test_accepting_a_risk_needs_a_reason_and_a_future_expiry(site: Site) -> None:
    finding_id = site.ids["detect-secrets:open"]
    url = f"/projects/{PROJECT}/findings/{finding_id}"
    client = site.client(Role.SECURITY)
    before = len(site.history(finding_id))
    today = dt.datetime.now(dt.UTC).date()
    in_30 = (today + dt.timedelta(days=30)).isoformat()
    for fields, field_name, message in (
        ({"reason": "", "expires": in_30}, "reason", "Give a reason"),
        ({"reason": "sandbox only"}, "expires", "Choose the last day"),
        ({"reason": "sandbox only", "expires": "next week"}, "expires", "YYYY-MM-DD"),
        ({"reason": "sandbox only", "expires": today.isoformat()}, "expires", "in the future"),
        (
            {"reason": "sandbox only", "expires": (today - dt.timedelta(days=3)).isoformat()},
            "expires",
            "in the future",
        ),
        (
            {"reason": "sandbox only", "expires": (today + dt.timedelta(days=400)).isoformat()},
            "expires",
            "at most one year",
        ),
    ):
        answer = _accept(client, url, **fields)
        assert answer.status_code == 422, fields
        body = answer.text
        # the message sits next to its field, which is marked invalid; the form is open
        error = re.search(rf'<p class="field-error" id="{field_name}[^"]*">([^<]+)</p>', body)
        assert error and message in html.unescape(error.group(1)), (fields, body[-3000:])
        assert 'aria-invalid="true"' in body and '<details class="ts-disclosure" open>' in body
        if fields.get("reason"):
            assert "sandbox only" in body  # what was typed is kept
    stored = site.finding(finding_id)
    assert stored.status == "open" and stored.accepted_reason is None
    assert len(site.history(finding_id)) == before

    answer = _accept(client, url, reason="sandbox only", expires=in_30)
    assert answer.status_code == 303
    stored = site.finding(finding_id)
    assert stored.status == "accepted" and stored.accepted_until == today + dt.timedelta(days=30)
    assert stored.accepted_by == "user:security" and stored.accepted_reason == "sandbox only"
    page = client.get(url).text
    assert "Risk accepted" in page and in_30 in page


def test_a_transition_that_does_not_apply_is_a_conflict(site: Site) -> None:
    finding_id = site.ids["semgrep:open"]
    client = site.client(Role.ADMIN)
    url = f"/projects/{PROJECT}/findings/{finding_id}"
    answer = client.post(f"{url}/status", data={"status": "reopened", "csrf_token": _csrf(client)})
    assert answer.status_code == 409
    assert "Cannot reopen a finding that is open" in html.unescape(answer.text)
    answer = client.post(f"{url}/status", data={"status": "fixed", "csrf_token": _csrf(client)})
    assert answer.status_code == 422
    assert site.finding(finding_id).status == "open"


def test_a_post_without_the_csrf_token_changes_nothing(site: Site) -> None:
    finding_id = site.ids["semgrep:open"]
    url = f"/projects/{PROJECT}/findings/{finding_id}"
    client = site.client(Role.SECURITY)
    answer = client.post(f"{url}/status", data={"status": "false_positive", "reason": "x"})
    assert answer.status_code == 403
    answer = client.post(f"{url}/comments", data={"body": "x", "csrf_token": "0" * 32})
    assert answer.status_code == 403
    assert site.finding(finding_id).status == "open" and site.comments(finding_id) == []


def test_comments_are_checked_and_escaped(site: Site) -> None:
    finding_id = site.ids["semgrep:open"]
    url = f"/projects/{PROJECT}/findings/{finding_id}"
    client = site.client(Role.DEVELOPER)
    answer = client.post(f"{url}/comments", data={"body": "   ", "csrf_token": _csrf(client)})
    assert answer.status_code == 422 and "Write something first." in answer.text
    answer = client.post(
        f"{url}/comments", data={"body": "x" * 10_001, "csrf_token": _csrf(client)}
    )
    assert answer.status_code == 422
    assert site.comments(finding_id) == []
    attack = '<script>alert("hi")</script><img src=x onerror=alert(1)>'
    answer = client.post(f"{url}/comments", data={"body": attack, "csrf_token": _csrf(client)})
    assert answer.status_code == 303
    body = client.get(url).text
    assert attack not in body and "&lt;script&gt;" in body
    assert site.comments(finding_id) == [attack]


def test_assigning_to_an_unknown_user_is_refused(site: Site) -> None:
    finding_id = site.ids["semgrep:open"]
    client = site.client(Role.SECURITY)
    url = f"/projects/{PROJECT}/findings/{finding_id}"
    answer = client.post(f"{url}/assign", data={"assignee": "mallory", "csrf_token": _csrf(client)})
    assert answer.status_code == 422 and "There is no user" in html.unescape(answer.text)
    assert site.finding(finding_id).assignee is None


def test_htmx_posts_answer_the_updated_sections(site: Site) -> None:
    finding_id = site.ids["bandit:open"]
    url = f"/projects/{PROJECT}/findings/{finding_id}"
    client = site.client(Role.SECURITY)
    page = client.get(url).text
    forms = re.findall(r"<form[^>]*>", page)
    assert forms and all('hx-target="#finding-activity"' in f for f in forms if "hx-post" in f)
    assert sum("hx-post" in f for f in forms) == 4  # false positive, accept, assign, comment
    htmx = {"HX-Request": "true", "HX-Target": "finding-activity", "X-CSRF-Token": _csrf(client)}
    answer = client.post(
        f"{url}/status", data={"status": "false_positive", "reason": "fixture"}, headers=htmx
    )
    assert answer.status_code == 200
    body = answer.text
    assert "<html" not in body
    assert '<ol id="history"' in body and "fixture" in body
    assert "Marked as a false positive." in body
    # the badge, the details and the actions are replaced out of band
    for element in ("finding-status", "finding-details", "finding-actions"):
        assert re.search(rf'id="{element}"[^>]*hx-swap-oob="true"', body), element
    assert ">Reopen</button>" in body
    # a validation error comes back as the same section, with the message (422)
    answer = client.post(
        f"{url}/status", data={"status": "accepted", "reason": "later"}, headers=htmx
    )
    assert answer.status_code == 422 and "Choose the last day" in answer.text
    answer = client.post(f"{url}/comments", data={"body": "via htmx"}, headers=htmx)
    assert answer.status_code == 200 and "via htmx" in answer.text


def test_a_broken_sla_setting_does_not_hide_the_finding(site: Site) -> None:
    with Session(site.engine) as session:
        project = service.get_project(session, PROJECT)
        project.sla_days = {"urgent": 3}  # stored by hand: the API refuses it
        session.commit()
    finding_id = site.ids["semgrep:open"]
    answer = site.client(Role.DEVELOPER).get(f"/projects/{PROJECT}/findings/{finding_id}")
    assert answer.status_code == 200
    assert "the project's SLA setting is not valid" in html.unescape(answer.text)
