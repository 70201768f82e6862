"""The hub's web dashboard in a real browser, against a real ``turbosec hub serve``.

What a person does with it (sign in, filter, open a finding, accept a risk, see it in the
history, sign out), what a developer may not do, what a forged form post cannot do, and
that the pages stay usable without JavaScript, on a phone-sized screen and with assistive
technology.  Screenshots of the main pages are left in the artifacts folder.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import expect
from sqlalchemy.orm import Session

from tests.e2e.conftest import (
    OTHER_PROJECT,
    PAYMENT_KEY_TITLE,
    PAYMENT_TEXT,
    PROJECT,
    Site,
    Visitor,
)
from turbosec.hub import service
from turbosec.hub.auth import LOGIN_FAILED
from turbosec.hub.models import Role, Status, TokenScope

CSRF_REFUSED = "the form has expired or was not sent by this hub"

Visit = Callable[..., Visitor]


def _screenshot(visitor: Visitor, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    # caret="initial": hiding the caret leaves style="" on every field, which htmx copies
    # when it swaps a section in, and the page's CSP rightly refuses
    visitor.page.screenshot(path=str(path), full_page=True, caret="initial")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return path


def _filter(visitor: Visitor, *, severity: str, text: str) -> None:
    """Fill the #filters form (a <select> or checkboxes for severity) and submit it."""
    form = visitor.page.locator("#filters")
    choice = form.locator('[name="severity"]')
    if choice.first.evaluate("e => e.tagName.toLowerCase()") == "select":
        choice.first.select_option(severity)
    else:
        form.locator(f'input[name="severity"][value="{severity}"]').check()
    form.locator('[name="q"]').fill(text)
    form.get_by_role("button", name="Filter").click()


def _wait_for_findings(visitor: Visitor, expected: set[int]) -> None:
    """Wait until the #findings table links to exactly ``expected`` (a reload or an htmx swap)."""
    visitor.page.wait_for_function(
        """expected => {
            const ids = new Set();
            for (const a of document.querySelectorAll('#findings a[href*="/findings/"]')) {
                const m = /\\/findings\\/(\\d+)/.exec(a.getAttribute('href'));
                if (m) ids.add(Number(m[1]));
            }
            return ids.size === expected.length && expected.every(i => ids.has(i));
        }""",
        arg=sorted(expected),
    )


# -- the whole flow ---------------------------------------------------------------------


def test_sign_in_filter_accept_a_risk_and_sign_out(
    site: Site, visit: Visit, artifacts: Path
) -> None:
    me = visit(viewport={"width": 1280, "height": 900})
    page = me.page
    name, password = site.user(Role.SECURITY)
    finding_id = site.ids["payment_key"]

    # not signed in: the overview sends us to the login page, which brings us back
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login(\?next=%2F|\?next=/)?$"))
    me.login(name, password)
    expect(page).to_have_url(f"{site.base}/")
    projects = page.locator("#projects")
    expect(projects).to_be_visible()
    expect(projects.locator(f'a[href="/projects/{PROJECT}"]')).to_have_count(1)
    expect(projects).to_contain_text(OTHER_PROJECT)
    expect(page.locator("header").first).to_contain_text(name)
    _screenshot(me, artifacts, "overview")

    # the project page: every finding, then the filtered ones
    projects.locator(f'a[href="/projects/{PROJECT}"]').click()
    expect(page).to_have_url(re.compile(rf"/projects/{PROJECT}$"))
    expect(page.locator("#findings")).to_be_visible()
    expect(page.locator("#scans")).to_be_visible()
    assert len(me.finding_ids()) > 10, "the unfiltered project page lists too few findings"
    _screenshot(me, artifacts, "project")
    _filter(me, severity="critical", text=PAYMENT_TEXT)
    # of the two payment findings only the critical one is left, and no other critical
    _wait_for_findings(me, {finding_id})
    expect(page.locator("#findings")).to_contain_text(PAYMENT_KEY_TITLE)
    form = page.locator("#filters")
    assert form.locator('[name="q"]').input_value() == PAYMENT_TEXT

    # the finding
    page.locator(f'#findings a[href$="/findings/{finding_id}"]').first.click()
    expect(page).to_have_url(re.compile(rf"/projects/{PROJECT}/findings/{finding_id}$"))
    expect(page.locator("h1")).to_contain_text(PAYMENT_KEY_TITLE)
    history = page.locator("#history > li")
    expect(history.first).to_be_visible()
    entries = history.count()
    _screenshot(me, artifacts, "finding")

    # accept the risk, with a reason and an expiry
    expiry = dt.date.today() + dt.timedelta(days=30)
    reason = "compensating control: the key is scoped to the sandbox account"
    disclosure = page.locator("summary", has_text="Accept risk")  # a folded form, if any
    if disclosure.count():
        disclosure.first.click()
    accept = page.get_by_role("button", name="Accept risk")
    accept_form = page.locator("form").filter(has=accept)
    accept_form.locator('[name="reason"]').fill(reason)
    accept_form.locator('[name="expires"]').fill(expiry.isoformat())
    accept.click()
    expect(history).to_have_count(entries + 1)
    entry = page.locator("#history > li", has_text=reason)
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text(name)
    stored = site.finding(finding_id)
    assert stored.status == Status.ACCEPTED.value
    assert stored.accepted_until == expiry
    assert stored.accepted_by == f"user:{name}"
    assert stored.accepted_reason == reason
    _screenshot(me, artifacts, "finding-accepted")

    # sign out: back on the login page, and the old session cookie is worthless
    cookie = me.session_cookie()
    assert cookie is not None
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login"))
    assert me.session_cookie() is None
    status, headers, _ = site.raw("GET", "/", cookie=f"turbosec_session={cookie['value']}")
    assert status == 303 and "/login" in headers["location"]
    page.goto(f"/projects/{PROJECT}")
    expect(page).to_have_url(re.compile(r"/login\?next="))

    assert not me.csp_violations, "\n".join(me.csp_violations)
    assert not me.page_errors, "\n".join(me.page_errors)


# -- roles and forged posts -------------------------------------------------------------


def test_a_developer_cannot_accept_a_risk(site: Site, visit: Visit) -> None:
    me = visit()
    name, password = site.user(Role.DEVELOPER)
    finding_id = site.ids["developer_target"]
    before = site.history_length(finding_id)
    me.login(name, password)
    me.page.goto(f"/projects/{PROJECT}/findings/{finding_id}")
    expect(me.page.locator("#history")).to_be_visible()
    # a developer may comment but not triage: no status form at all
    expect(me.page.get_by_role("button", name="Add comment")).to_have_count(1)
    # counted whether shown or folded away: the markup is not there at all
    for label in ("Accept risk", "Mark false positive"):
        folded_or_not = f'button:has-text("{label}"), summary:has-text("{label}")'
        expect(me.page.locator(folded_or_not)).to_have_count(0)
    expect(me.page.locator('form[action$="/status"]')).to_have_count(0)
    expect(me.page.locator('[name="expires"]')).to_have_count(0)
    expect(me.page.get_by_role("link", name="Users")).to_have_count(0)

    # and the hub refuses the post itself, made with the developer's session and a valid
    # CSRF token
    answer = me.context.request.post(
        f"/projects/{PROJECT}/findings/{finding_id}/status",
        form={
            "status": Status.ACCEPTED.value,
            "reason": "I would rather not fix this",
            "expires": (dt.date.today() + dt.timedelta(days=30)).isoformat(),
            "csrf_token": me.csrf_token(),
        },
        max_redirects=0,
    )
    assert answer.status == 403
    assert site.finding(finding_id).status == Status.OPEN.value
    assert site.history_length(finding_id) == before
    # the same token does work for what a developer may do
    answer = me.context.request.post(
        f"/projects/{PROJECT}/findings/{finding_id}/comments",
        form={"body": "looking into it", "csrf_token": me.csrf_token()},
        max_redirects=0,
    )
    assert answer.status in (200, 303), answer.status
    assert "looking into it" in site.comments(finding_id)


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
    site: Site, visit: Visit
) -> None:
    me = visit()
    name, password = site.user(Role.SECURITY)
    finding_id = site.ids["csrf_target"]
    before = site.history_length(finding_id)
    me.login(name, password)
    me.page.goto(f"/projects/{PROJECT}/findings/{finding_id}")
    token = me.csrf_token()
    status_url = f"/projects/{PROJECT}/findings/{finding_id}/status"
    fields = {
        "status": Status.ACCEPTED.value,
        "reason": "forged by another site",
        "expires": (dt.date.today() + dt.timedelta(days=30)).isoformat(),
    }
    for forged in ({}, {"csrf_token": ""}, {"csrf_token": "0" * len(token)}):
        answer = me.context.request.post(status_url, form={**fields, **forged}, max_redirects=0)
        assert answer.status == 403, (forged, answer.status)
        assert CSRF_REFUSED in answer.text()
    comments_url = f"/projects/{PROJECT}/findings/{finding_id}/comments"
    answer = me.context.request.post(comments_url, form={"body": "forged comment"}, max_redirects=0)
    assert answer.status == 403
    # sign out is a form post too: without the token the session survives
    answer = me.context.request.post("/logout", form={}, max_redirects=0)
    assert answer.status == 403
    assert me.session_cookie() is not None
    stored = site.finding(finding_id)
    assert stored.status == Status.OPEN.value and stored.accepted_reason is None
    assert site.history_length(finding_id) == before
    assert "forged comment" not in site.comments(finding_id)

    # the same post with the page's token goes through: the token was what was missing
    answer = me.context.request.post(
        status_url, form={**fields, "reason": "real decision", "csrf_token": token}, max_redirects=0
    )
    assert answer.status in (200, 303), answer.status
    assert site.finding(finding_id).status == Status.ACCEPTED.value

    # the login form has its own (pre-session) token: a bare post of a password is refused
    status, _, _ = site.raw("POST", "/login", form={"username": name, "password": password})
    assert status == 403


def test_a_wrong_password_shows_the_generic_error(site: Site, visit: Visit) -> None:
    me = visit()
    name, password = site.user(Role.SECURITY)
    page = me.page
    shown = []
    for username, guess in ((name, password + "-wrong"), ("nobody-here", password)):
        page.goto("/login")
        page.locator('input[name="username"]').fill(username)
        page.locator('input[name="password"]').fill(guess)
        with page.expect_response(
            lambda r: r.request.method == "POST" and "/login" in r.url
        ) as answer:
            page.get_by_role("button", name="Sign in").click()
        assert answer.value.status == 401
        expect(page.locator("main")).to_contain_text(LOGIN_FAILED)
        shown.append(page.locator("main").inner_text())
        assert me.session_cookie() is None
        # the form is there again for another try
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    # nothing tells a wrong password from an unknown user
    assert shown[0].replace(name, "?") == shown[1].replace("nobody-here", "?")


# -- without JavaScript, narrow, accessible ----------------------------------------------


def test_pages_work_without_javascript(site: Site, visit: Visit) -> None:
    me = visit(java_script_enabled=False)
    page = me.page
    me.login(*site.user(Role.ADMIN))
    expect(page.locator("#projects")).to_contain_text(PROJECT)
    page.goto(f"/projects/{PROJECT}")
    expect(page.locator("#findings")).to_be_visible()
    assert len(me.finding_ids()) > 10
    # the filter form is a plain GET form (the medium payment finding is never triaged)
    _filter(me, severity="medium", text=PAYMENT_TEXT)
    expect(page).to_have_url(re.compile(r"[?&]q=payments"))
    page.wait_for_load_state()
    assert me.finding_ids() == {site.ids["payment_views"]}
    page.goto(f"/projects/{PROJECT}/findings/{site.ids['payment_views']}")
    expect(page.locator("h1")).to_be_visible()
    expect(page.locator("#history > li").first).to_be_visible()


def test_overview_on_a_narrow_screen(site: Site, visit: Visit, artifacts: Path) -> None:
    me = visit(viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True)
    me.login(*site.user(Role.ADMIN))
    expect(me.page.locator("#projects")).to_be_visible()
    _screenshot(me, artifacts, "overview-narrow")
    # wide tables scroll inside their wrapper; the page itself never scrolls sideways
    overflow = me.page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"the overview is {overflow}px wider than a 375px screen"
    me.page.goto(f"/projects/{PROJECT}")
    expect(me.page.locator("#findings")).to_be_visible()
    _screenshot(me, artifacts, "project-narrow")
    overflow = me.page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"the project page is {overflow}px wider than a 375px screen"


def test_accessibility_smoke_check(site: Site, visit: Visit) -> None:
    me = visit()
    problems: dict[str, list[str]] = {}
    me.page.goto("/login")
    expect(me.page.get_by_role("button", name="Sign in")).to_be_visible()
    problems["/login"] = me.a11y_problems()
    me.login(*site.user(Role.ADMIN))
    for path, ready in (
        ("/", "#projects"),
        (f"/projects/{PROJECT}", "#findings"),
        (f"/projects/{PROJECT}/findings/{site.ids['false_positive']}", "#history"),
        ("/acceptances?expiring=14", "main"),
        ("/admin/users", "main"),
        ("/admin/tokens", "main"),
    ):
        answer = me.page.goto(path)
        assert answer is not None and answer.status == 200, path
        expect(me.page.locator(ready)).to_be_visible()
        problems[path] = me.a11y_problems()
    assert {p: found for p, found in problems.items() if found} == {}
    assert not me.csp_violations, "\n".join(me.csp_violations)


def test_session_cookie_and_security_headers(site: Site, visit: Visit) -> None:
    me = visit()
    me.login(*site.user(Role.DEVELOPER))
    cookie = me.session_cookie()
    assert cookie is not None
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["secure"] is False  # plain http on 127.0.0.1; Secure over https
    assert cookie["path"] == "/"
    assert cookie["value"].startswith("tsh_")
    answer = me.page.goto("/")
    assert answer is not None
    headers = answer.all_headers()
    csp = headers.get("content-security-policy", "")
    for directive in ("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'"):
        assert directive in csp, csp
    assert headers.get("x-content-type-options") == "nosniff"
    assert "no-store" in headers.get("cache-control", "")
    # neither a made-up value nor a valid project token is a session
    with Session(site.engine) as session:
        project = service.get_project(session, PROJECT)
        _view, project_token = service.create_project_token(
            session, project, name="e2e-read", scope=TokenScope.READ, created_by="test"
        )
    for value in ("tsh_not-a-real-token", project_token):
        status, found, _ = site.raw("GET", "/", cookie=f"turbosec_session={value}")
        assert status == 303 and "/login" in found["location"], value
