"""Browser tests of the hub's web dashboard: a real ``turbosec hub serve``, Debian's Chromium.

Playwright drives the system's Chromium (``/usr/bin/chromium``, which ``.ci/run`` installs
with apt-get) through ``executable_path``: no browser is ever downloaded.  Without that
browser the tests fail in CI (``CI`` set) and are skipped elsewhere.

* One hub per test module: a migrated SQLite database seeded *before* the server starts
  (two projects, two scans of the main one, a user of each role), then a real
  ``turbosec hub serve`` process on 127.0.0.1 (:func:`tests.hub.server.running_hub`).
* One browser per session, one browser context per test, so cookies never leak from one
  test to the next.
* Screenshots go to ``$TURBOSEC_ARTIFACTS_DIR`` (default ``<repo>/.artifacts/screenshots``;
  a relative value is taken from the repository root), which ``.ci/run`` keeps.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import http.client
import os
import re
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.conftest import REPO_ROOT
from tests.hub.conftest import cheap_settings
from tests.hub.reports import dumps, make_finding, report
from tests.hub.server import running_hub
from turbosec.core.finding import Finding as CoreFinding
from turbosec.core.fingerprint import assign_fingerprints
from turbosec.core.severity import Severity
from turbosec.hub import service
from turbosec.hub.auth import Passwords
from turbosec.hub.db import make_engine
from turbosec.hub.ingest import IngestOptions, ingest, read_upload
from turbosec.hub.migrations import upgrade
from turbosec.hub.models import Finding, Role, Status

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Error, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TIMEOUT_MS = 15_000

PROJECT = "shop"
OTHER_PROJECT = "billing"
# user name per role; "ada" (admin), "sam" (security), "devon" (developer)
USERS = {Role.ADMIN: "ada", Role.SECURITY: "sam", Role.DEVELOPER: "devon"}
# the only findings whose path mentions payments: one critical, one medium
PAYMENT_KEY_TITLE = "Payment provider API key committed to the repository"
PAYMENT_TEXT = "payments"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _unavailable(message: str) -> None:
    """Fail in CI (the browser tests must run there), skip on a developer's machine."""
    if _in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def artifacts_dir() -> Path:
    raw = os.environ.get("TURBOSEC_ARTIFACTS_DIR", "").strip()
    path = Path(raw) if raw else Path(".artifacts") / "screenshots"
    if not path.is_absolute():
        path = REPO_ROOT / path
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def artifacts() -> Path:
    return artifacts_dir()


# -- the browser ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        _unavailable(
            f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install -y chromium`, "
            "as .ci/run does); the browser tests never download a browser"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable(
            "the playwright package is missing: install the dev extra "
            '(`.venv/bin/pip install -e ".[dev]"`)'
        )
    manager = sync_playwright().start()
    try:
        launched = manager.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, timeout=60_000
        )
        try:
            yield launched
        finally:
            launched.close()
    finally:
        manager.stop()


@dataclass
class Visitor:
    """One browser context (its own cookies) with one page, and what its console said."""

    context: BrowserContext
    page: Page
    base: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location or {}
            self.console_errors.append(
                f"{message.text} [{self.page.url}; {where.get('url')}:{where.get('lineNumber')}]"
            )

    def _on_page_error(self, error: Error) -> None:
        self.page_errors.append(str(error))

    @property
    def csp_violations(self) -> list[str]:
        return [m for m in self.console_errors if "Content Security Policy" in m]

    def login(self, username: str, password: str) -> None:
        """Sign in through the login form and wait until the hub has let us in."""
        from playwright.sync_api import expect

        answer = self.page.goto("/login")
        assert answer is not None and answer.status == 200, f"GET /login: {answer}"
        self.page.locator('input[name="username"]').fill(username)
        self.page.locator('input[name="password"]').fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page).not_to_have_url(re.compile(r"/login"))
        assert self.session_cookie() is not None, f"{username}: no session cookie after login"

    def session_cookie(self) -> dict[str, Any] | None:
        return next(
            (dict(c) for c in self.context.cookies() if c.get("name") == "turbosec_session"),
            None,
        )

    def csrf_token(self) -> str:
        """The CSRF token of the signed-in user, as the page's forms carry it."""
        value = self.page.locator('input[name="csrf_token"]').first.get_attribute("value")
        assert value, "the page has no csrf_token field"
        return value

    def finding_ids(self) -> set[int]:
        """The findings the #findings table links to."""
        hrefs = self.page.eval_on_selector_all(
            '#findings a[href*="/findings/"]', "els => els.map(e => e.getAttribute('href'))"
        )
        return {int(m.group(1)) for h in hrefs if (m := re.search(r"/findings/(\d+)", h))}

    def a11y_problems(self) -> list[str]:
        return list(self.page.evaluate(A11Y_CHECK))


# Accessibility smoke check of the current page: <html lang>, exactly one <h1>, a label for
# every form control, alt text on every <img>, and role="img" + a name on every <svg>
# (aria-hidden="true" marks a decorative one, which assistive technology skips).
A11Y_CHECK = """() => {
  const problems = [];
  const lang = document.documentElement.getAttribute("lang");
  if (!lang || !lang.trim()) problems.push("<html> has no lang attribute");
  const h1 = document.querySelectorAll("h1").length;
  if (h1 !== 1) problems.push(`${h1} <h1> elements, one expected`);
  const skip = ["hidden", "submit", "button", "reset", "image"];
  for (const el of document.querySelectorAll("input, select, textarea")) {
    const type = (el.getAttribute("type") || "").toLowerCase();
    if (el.tagName === "INPUT" && skip.includes(type)) continue;
    const byFor = el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`);
    const labelled = byFor || el.closest("label")
      || (el.getAttribute("aria-label") || "").trim()
      || (el.getAttribute("aria-labelledby") || "").trim();
    if (!labelled) {
      problems.push(`<${el.tagName.toLowerCase()} name="${el.getAttribute("name")}"> has no label`);
    }
  }
  for (const img of document.querySelectorAll("img")) {
    if (!img.hasAttribute("alt")) {
      problems.push(`<img src="${img.getAttribute("src")}"> has no alt`);
    }
  }
  for (const svg of document.querySelectorAll("svg")) {
    if (svg.parentElement && svg.parentElement.closest("svg")) continue;
    if (svg.getAttribute("aria-hidden") === "true") continue;
    const named = (svg.getAttribute("aria-label") || "").trim()
      || (svg.getAttribute("aria-labelledby") || "").trim();
    if (svg.getAttribute("role") !== "img" || !named) {
      problems.push("<svg> without role=\\"img\\" and aria-label");
    }
  }
  return problems;
}"""


@pytest.fixture
def visit(browser: Browser, site: Site) -> Iterator[Callable[..., Visitor]]:
    """Open a fresh browser context (keyword options as for ``browser.new_context``)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    opened: list[Visitor] = []

    def open_context(**options: Any) -> Visitor:
        context = browser.new_context(base_url=site.base, **options)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        visitor = Visitor(context=context, page=page, base=site.base)
        page.on("console", visitor._on_console)
        page.on("pageerror", visitor._on_page_error)
        opened.append(visitor)
        return visitor

    yield open_context
    for visitor in opened:
        visitor.context.close()


# -- the hub ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    """A running hub and what it was seeded with."""

    base: str
    engine: Engine
    passwords: dict[str, str]  # user name -> password
    ids: dict[str, int]  # named findings of PROJECT -> id

    def user(self, role: Role) -> tuple[str, str]:
        name = USERS[role]
        return name, self.passwords[name]

    def finding(self, finding_id: int) -> Finding:
        with Session(self.engine) as session:
            found = session.get(Finding, finding_id)
            assert found is not None
            session.expunge(found)
            return found

    def history_length(self, finding_id: int) -> int:
        with Session(self.engine) as session:
            return len(service.finding_history(session, finding_id))

    def comments(self, finding_id: int) -> list[str]:
        with Session(self.engine) as session:
            return [c.body for c in service.finding_comments(session, finding_id)]

    def raw(
        self,
        method: str,
        path: str,
        *,
        form: dict[str, str] | None = None,
        cookie: str | None = None,
    ) -> tuple[int, dict[str, str], str]:
        """One request with no browser and no redirect following: (status, headers, body)."""
        parsed = urllib.parse.urlsplit(self.base)
        conn = http.client.HTTPConnection(parsed.hostname or "", parsed.port, timeout=30)
        headers = {}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if cookie is not None:
            headers["Cookie"] = cookie
        try:
            conn.request(method, path, body=body, headers=headers)
            answer = conn.getresponse()
            text = answer.read().decode("utf-8", "replace")
            return answer.status, {k.lower(): v for k, v in answer.getheaders()}, text
        finally:
            conn.close()


def _special(i: int, *, tool: str, severity: Severity, path: str, title: str) -> CoreFinding:
    base = make_finding(i, tool=tool, severity=severity)
    assert base.location is not None
    return dataclasses.replace(
        base, title=title, location=dataclasses.replace(base.location, path=path)
    )


def _shop_findings(indexes: range) -> list[CoreFinding]:
    made = [make_finding(i) for i in indexes]
    made.append(
        _special(
            900,
            tool="detect-secrets",
            severity=Severity.CRITICAL,
            path=f"app/{PAYMENT_TEXT}/keys.py",
            title=PAYMENT_KEY_TITLE,
        )
    )
    made.append(
        _special(
            901,
            tool="bandit",
            severity=Severity.MEDIUM,
            path=f"app/{PAYMENT_TEXT}/views.py",
            title="SQL built from strings in the payment views",
        )
    )
    fingerprinted: list[CoreFinding] = assign_fingerprints(made, None)
    return fingerprinted


def seed(db_url: str) -> tuple[dict[str, str], dict[str, int]]:
    """Projects, two scans of ``shop`` three weeks apart, users, a triaged finding."""
    settings = cheap_settings(db_url)
    engine = make_engine(db_url)
    upgrade(engine)
    passwords: dict[str, str] = {}
    now = dt.datetime.now(dt.UTC)
    try:
        with Session(engine, expire_on_commit=False) as session:
            shop = service.create_project(session, PROJECT, name="Shop", default_branch="main")
            billing = service.create_project(session, OTHER_PROJECT, name="Billing")
            pw = Passwords(settings)
            for role, name in USERS.items():
                passwords[name] = f"pw-{uuid.uuid4().hex}"
                service.create_user(session, pw, name, passwords[name], role)
        scans = (
            (shop.id, report(_shop_findings(range(40))), now - dt.timedelta(days=21)),
            (shop.id, report(_shop_findings(range(5, 45))), now - dt.timedelta(days=2)),
            (billing.id, report(_shop_findings(range(100, 108))), now - dt.timedelta(days=9)),
        )
        for project_id, doc, when in scans:
            upload = read_upload(dumps(doc), settings)
            ingest(engine, project_id, upload, IngestOptions(uploaded_by="token:ci"), now=when)
        with Session(engine, expire_on_commit=False) as session:
            rows = session.execute(
                select(Finding)
                .where(Finding.project_id == shop.id, Finding.status == Status.OPEN.value)
                .order_by(Finding.id)
            ).scalars()
            by_title = {}
            others = []
            for row in rows:
                if PAYMENT_TEXT in (row.path or ""):
                    by_title[row.severity] = row.id
                else:
                    others.append(row.id)
            ids = {
                "payment_key": by_title[int(Severity.CRITICAL)],
                "payment_views": by_title[int(Severity.MEDIUM)],
                "developer_target": others[0],
                "csrf_target": others[1],
                "false_positive": others[2],
            }
            # some history beyond the scans: a false positive, and a risk accepted in the
            # other project that runs out within the 14 days of /acceptances?expiring=14
            service.change_status(
                session,
                shop,
                ids["false_positive"],
                status=Status.FALSE_POSITIVE,
                actor=f"user:{USERS[Role.SECURITY]}",
                reason="test data only, never deployed",
            )
            billing_first = (
                session.execute(
                    select(Finding.id).where(Finding.project_id == billing.id).order_by(Finding.id)
                )
                .scalars()
                .first()
            )
            assert billing_first is not None
            service.change_status(
                session,
                billing,
                billing_first,
                status=Status.ACCEPTED,
                actor=f"user:{USERS[Role.SECURITY]}",
                reason="the service is retired next week",
                expires=(now + dt.timedelta(days=10)).date(),
            )
    finally:
        engine.dispose()
    return passwords, ids


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("e2e-hub")
    db_url = f"sqlite:///{tmp / 'hub.db'}"
    passwords, ids = seed(db_url)
    engine = make_engine(db_url)
    try:
        with running_hub(db_url, tmp, "--security-log", str(tmp / "security.log")) as (base, _):
            yield Site(base=base, engine=engine, passwords=passwords, ids=ids)
    finally:
        engine.dispose()
