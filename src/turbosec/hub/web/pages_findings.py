"""The project page (its findings, filtered, sorted and paged; its scans) and the finding
page (everything about one finding, its history and comments, and triage by role).

Every page works without JavaScript: the filter form is a plain GET form, the sort and
page links are plain links, and the triage, assign and comment forms POST and redirect
back (303, POST/redirect/GET) with a one-shot notice.  htmx only makes them quicker: the
filter form and the table's links swap the results region (``#findings-region``) and push
the URL; the finding's forms swap its activity section (``#finding-activity``) and update
the status badge, details and actions out of band.

Who may do what comes from :func:`turbosec.hub.auth.decide`: everyone signed in reads and
comments; only the security and admin roles triage (status, assignment).  A developer
sees no triage form, and a triage POST from one is refused with 403 (logged as
``authz_fail``), like the API does.  Validation errors re-render the page with the
message next to the field (422) and store nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from turbosec.core.finding import Category
from turbosec.hub import metrics, service
from turbosec.hub.api.deps import SessionDep, get_settings, request_info
from turbosec.hub.auth import Action, Decision, decide, deny
from turbosec.hub.errors import HubError
from turbosec.hub.models import Finding, Project, Scan, Status, StatusChange, utcnow
from turbosec.hub.service import MAX_ID, SEVERITY_LABELS, SEVERITY_VALUES, SLUG_PATTERN
from turbosec.hub.web import queries
from turbosec.hub.web.render import flash, is_htmx, redirect_after_post, render
from turbosec.hub.web.session import CsrfUserDep, WebUser, WebUserDep

router = APIRouter(include_in_schema=False)

SCANS_SHOWN = 10
MAX_ACCEPT_DAYS = 366  # a risk acceptance holds at most about a year
MAX_REASON = 2000
MAX_COMMENT = 10_000
MAX_ASSIGNEE = 200

Slug = Annotated[str, Path(pattern=SLUG_PATTERN, max_length=100)]
FindingId = Annotated[int, Path(ge=1, le=MAX_ID)]

STATUS_CHOICES: tuple[tuple[str, str], ...] = (
    ("active", "Active"),
    ("open", "Open"),
    ("reopened", "Reopened"),
    ("fixed", "Fixed"),
    ("accepted", "Accepted"),
    ("false_positive", "False positive"),
    ("all", "All statuses"),
)
CATEGORY_LABELS: Mapping[str, str] = {
    Category.SAST.value: "Code (SAST)",
    Category.SECRET.value: "Secrets",
    Category.DEPENDENCY.value: "Dependencies",
    Category.IAC.value: "Infrastructure as code",
    Category.PIPELINE.value: "CI pipeline",
}
SORT_LABELS: Mapping[str, str] = {
    "severity": "Severity",
    "first_seen": "First seen",
    "last_seen": "Last seen",
}
# What each triage form does, and which statuses it applies to (the service's rules).
TRIAGE: Mapping[str, tuple[str, frozenset[str]]] = {
    Status.FALSE_POSITIVE.value: (
        "Mark false positive",
        frozenset({"open", "reopened", "accepted", "fixed"}),
    ),
    Status.ACCEPTED.value: (
        "Accept risk",
        frozenset({"open", "reopened", "accepted", "false_positive"}),
    ),
    Status.REOPENED.value: ("Reopen", frozenset({"fixed", "accepted", "false_positive"})),
}
_DONE = {
    Status.FALSE_POSITIVE.value: "Marked as a false positive.",
    Status.ACCEPTED.value: "Risk accepted.",
    Status.REOPENED.value: "Finding reopened.",
}


# -- access ---------------------------------------------------------------------------------


def _project(session: Session, request: Request, user: WebUser, slug: str) -> Project:
    project = service.get_project(session, slug)
    if decide(user.principal, Action.READ, project.id) is not Decision.ALLOW:
        deny(
            user.principal,
            f"project/{slug}",
            request_info(request),
            not_found=f"no project {slug!r}",
        )
    return project


def _require(request: Request, user: WebUser, project: Project, action: Action) -> None:
    if not user.can(action, project.id):
        what = {
            Action.TRIAGE: "change findings (the security or admin role is needed)",
            Action.COMMENT: "comment",
        }.get(action, action.value)
        deny(
            user.principal,
            f"project/{project.slug}/{action.value}",
            request_info(request),
            detail=f"{user.username} ({user.role.value}) may not {what}",
        )


# -- the project page ---------------------------------------------------------------------


@dataclass
class ListQuery:
    """The project page's query string, checked: what the filter form and links carry."""

    status: str = "active"
    severity: list[str] = field(default_factory=list)
    category: list[str] = field(default_factory=list)
    tool: str = ""
    path: str = ""
    q: str = ""
    sort: str = queries.DEFAULT_SORT
    cursor: str = ""
    before: str = ""
    scans_cursor: str = ""
    errors: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, params: Any) -> ListQuery:
        query = cls()

        def text(name: str, limit: int) -> str:
            value = (params.get(name) or "").strip()
            if len(value) > limit or "\x00" in value:
                query.errors.append(f"{name} must be text of at most {limit} characters")
                return ""
            return value

        statuses = [s for s in params.getlist("status") if s]
        choices = {value for value, _ in STATUS_CHOICES}
        if len(statuses) == 1 and statuses[0] in choices:
            query.status = statuses[0]
        elif statuses:
            valid = [s for s in statuses if s in choices and s not in ("active", "all")]
            query.status = ",".join(dict.fromkeys(valid)) or "active"
            if len(valid) != len(statuses):
                query.errors.append("unknown status: choose one of the list")
        for name, allowed, target in (
            ("severity", SEVERITY_VALUES, query.severity),
            ("category", CATEGORY_LABELS, query.category),
        ):
            for value in params.getlist(name):
                if not value:
                    continue
                if value in allowed:
                    if value not in target:
                        target.append(value)
                else:
                    query.errors.append(f"unknown {name} {value[:40]!r}")
        query.tool = text("tool", 100)
        query.path = text("path", 1024)
        query.q = text("q", 200)
        sort = params.get("sort") or queries.DEFAULT_SORT
        if sort in queries.SORT_KEYS or (sort[:1] == "-" and sort[1:] in queries.SORT_KEYS):
            query.sort = sort
        else:
            query.errors.append(f"unknown sort order {sort[:40]!r}")
        query.cursor = text("cursor", 2000)
        query.before = text("before", 2000)
        query.scans_cursor = text("scans_cursor", 200)
        return query

    def statuses(self) -> list[str]:
        if self.status == "active":
            return list(queries.ACTIVE)
        if self.status == "all":
            return []
        return self.status.split(",")

    def filters(self) -> queries.WebFilter:
        return queries.WebFilter(
            status=self.statuses(),
            severity=self.severity,
            category=self.category,
            tool=self.tool or None,
            path=self.path or None,
            q=self.q or None,
        )

    def params(self, **changes: str | None) -> list[tuple[str, str]]:
        """The query string of this view with ``changes`` (None drops a parameter)."""
        values: dict[str, list[str]] = {
            "q": [self.q],
            "severity": self.severity,
            "status": [] if self.status == "active" else self.status.split(","),
            "category": self.category,
            "tool": [self.tool],
            "path": [self.path],
            "sort": [] if self.sort == queries.DEFAULT_SORT else [self.sort],
            "cursor": [self.cursor],
            "before": [self.before],
        }
        for name, value in changes.items():
            values[name] = [] if value is None else [value]
        return [(name, v) for name, vs in values.items() for v in vs if v]

    @property
    def filtered(self) -> bool:
        return (
            bool(self.q or self.severity or self.category or self.tool or self.path)
            or self.status != "active"
        )


def _url(base: str, params: Sequence[tuple[str, str]], anchor: str = "") -> str:
    return base + (f"?{urlencode(params)}" if params else "") + anchor


def _sort_links(base: str, query: ListQuery) -> dict[str, dict[str, str]]:
    """Per sortable column: the link that sorts by it (toggling when it is the current
    order) and its ``aria-sort`` value."""
    current_key = query.sort.lstrip("-")
    descending = query.sort.startswith("-")
    out = {}
    for key in queries.SORT_KEYS:
        if key == current_key:
            target = key if descending else f"-{key}"
            aria = "descending" if descending else "ascending"
        else:
            target, aria = f"-{key}", "none"
        params = query.params(sort=None if target == queries.DEFAULT_SORT else target)
        params = [(n, v) for n, v in params if n not in ("cursor", "before")]
        out[key] = {"url": _url(base, params), "aria": aria, "label": SORT_LABELS[key]}
    return out


def _findings_context(session: Session, project: Project, query: ListQuery) -> dict[str, Any]:
    base = f"/projects/{project.slug}"
    filters = query.filters()
    page = queries.page_findings(
        session,
        project.id,
        filters,
        sort=query.sort,
        limit=queries.PAGE_SIZE,
        cursor=query.cursor or None,
        before=query.before or None,
    )
    first_page = not query.cursor and not query.before
    if first_page and page.next_cursor is None:
        count = queries.Count(len(page.rows), False)  # everything is on this page
    else:
        count = queries.count_findings(session, project.id, filters)
    plain = [(n, v) for n, v in query.params() if n not in ("cursor", "before")]
    return {
        "findings": page.rows,
        "count": count,
        "next_url": _url(base, [*plain, ("cursor", page.next_cursor)])
        if page.next_cursor
        else None,
        "prev_url": _url(base, [*plain, ("before", page.prev_cursor)])
        if page.prev_cursor
        else (_url(base, plain) if query.cursor and not page.rows else None),
        "sort_links": _sort_links(base, query),
        "reset_url": base,
    }


@router.get("/projects/{slug}", response_class=HTMLResponse)
def project_page(
    request: Request, slug: Slug, user: WebUserDep, session: SessionDep
) -> HTMLResponse:
    project = _project(session, request, user, slug)
    query = ListQuery.parse(request.query_params)
    context: dict[str, Any] = {"project": project, "query": query}
    context.update(_findings_context(session, project, query))
    status = 400 if query.errors else 200
    htmx = is_htmx(request)
    if htmx and request.headers.get("HX-Target") == "findings-region":
        return render(request, "_project_findings.html", context, user=user, status=status)
    scans, older = service.list_scans(
        session, project.id, limit=SCANS_SHOWN, cursor=query.scans_cursor or None
    )
    tally = queries.status_counts(session, project.id)
    counts = {**tally.by_status, "active": tally.active, "all": tally.total}
    context.update(
        {
            "status_choices": STATUS_CHOICES,
            "category_labels": CATEGORY_LABELS,
            "severity_names": [SEVERITY_LABELS[v] for v in sorted(SEVERITY_LABELS, reverse=True)],
            "tools": sorted(
                {*queries.project_tools(session, project.id), *([query.tool] if query.tool else [])}
            ),
            "status_counts": counts,
            "active_by_severity": [
                (SEVERITY_LABELS[v], n) for v, n in tally.active_by_severity.items()
            ],
            "scans": scans,
            "older_scans_url": _url(
                f"/projects/{project.slug}", [("scans_cursor", older)], "#scans"
            )
            if older
            else None,
            "last_scan": scans[0] if scans and not query.scans_cursor else None,
        }
    )
    return render(request, "project.html", context, user=user, status=status, fragment=htmx)


# -- the finding page -----------------------------------------------------------------------


@dataclass
class FormState:
    """What a re-rendered form shows: the values sent and the problems per field."""

    form: str = ""  # which form was sent: "false_positive", "accepted", "reopened", ...
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    notice: str = ""  # a success message (htmx answers, which do not redirect)


def _actor_label(actor: str) -> str:
    kind, _, name = actor.partition(":")
    if kind == "scan" and name:
        return f"Scan #{name}"
    if kind in ("user", "token") and name:
        return name
    if actor == "system":
        return "The hub"
    return actor


def _snippet_lines(finding: Finding) -> list[tuple[int | None, str]]:
    snippet = finding.details.get("snippet") if isinstance(finding.details, dict) else None
    if not isinstance(snippet, str) or not snippet:
        return []
    lines = snippet.rstrip("\n").split("\n")[:60]
    first = finding.line
    return [(first + i if first is not None else None, text) for i, text in enumerate(lines)]


def _link(url: object) -> str | None:
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else None


def _references(finding: Finding) -> list[dict[str, str | None]]:
    """CWE entries, advisories and the tool's references, as text with an optional link."""
    out: list[dict[str, str | None]] = []
    for cwe in finding.cwe or ():
        number = str(cwe).removeprefix("CWE-")
        url = f"https://cwe.mitre.org/data/definitions/{number}.html" if number.isdigit() else None
        out.append({"kind": "Weakness", "text": str(cwe), "url": url})
    for advisory in finding.advisories or ():
        text = str(advisory)
        url = f"https://osv.dev/vulnerability/{text}" if text.replace("-", "").isalnum() else None
        out.append({"kind": "Advisory", "text": text, "url": url})
    details = finding.details if isinstance(finding.details, dict) else {}
    known = {ref["url"] for ref in out}
    for reference in details.get("references") or ():
        if reference not in known:
            out.append({"kind": "Reference", "text": str(reference), "url": _link(reference)})
    return out


def _finding_context(
    session: Session,
    request: Request,
    user: WebUser,
    project: Project,
    finding: Finding,
    state: FormState | None = None,
) -> dict[str, Any]:
    now = utcnow()
    sla: metrics.FindingSla | None
    try:
        defaults = metrics.SlaPolicy.from_overrides(get_settings(request).sla_days)
        policy = metrics.SlaPolicy.for_project(project, defaults)
    except metrics.SlaConfigError:  # a broken stored override: show the finding anyway
        sla = None
    else:
        sla = metrics.finding_sla(session, finding, policy=policy, now=now)
    history: Sequence[StatusChange] = service.finding_history(session, finding.id)
    scan_ids = {i for i in (finding.first_scan_id, finding.last_scan_id) if i is not None}
    scans = {i: session.get(Scan, i) for i in scan_ids}
    details = finding.details if isinstance(finding.details, dict) else {}
    can_triage = user.can(Action.TRIAGE, project.id)
    today = now.date()
    return {
        "project": project,
        "finding": finding,
        "severity_name": SEVERITY_LABELS.get(finding.severity, "info"),
        "details": details,
        "history": history,
        "comments": service.finding_comments(session, finding.id),
        "sla": sla,
        "snippet": _snippet_lines(finding),
        "references": _references(finding),
        "first_scan": scans.get(finding.first_scan_id) if finding.first_scan_id else None,
        "last_scan": scans.get(finding.last_scan_id) if finding.last_scan_id else None,
        "actor_label": _actor_label,
        "can_triage": can_triage,
        "can_comment": user.can(Action.COMMENT, project.id),
        "triage": [
            (status, label)
            for status, (label, sources) in TRIAGE.items()
            if finding.status in sources
        ],
        "usernames": [u.username for u in service.list_users(session)] if can_triage else [],
        "accept_min": (today + dt.timedelta(days=1)).isoformat(),
        "accept_max": (today + dt.timedelta(days=MAX_ACCEPT_DAYS)).isoformat(),
        "accept_default": (today + dt.timedelta(days=90)).isoformat(),
        "state": state or FormState(),
        "finding_url": f"/projects/{project.slug}/findings/{finding.id}",
        "category_labels": CATEGORY_LABELS,
    }


def _finding_response(
    session: Session,
    request: Request,
    user: WebUser,
    project: Project,
    finding_id: int,
    state: FormState | None = None,
    status: int = 200,
) -> HTMLResponse:
    finding = service.get_finding(session, project.id, finding_id)
    context = _finding_context(session, request, user, project, finding, state)
    htmx = is_htmx(request)
    if request.method == "POST" and htmx:
        return render(request, "_finding_update.html", context, user=user, status=status)
    return render(request, "finding.html", context, user=user, status=status, fragment=htmx)


@router.get("/projects/{slug}/findings/{finding_id}", response_class=HTMLResponse)
def finding_page(
    request: Request, slug: Slug, finding_id: FindingId, user: WebUserDep, session: SessionDep
) -> HTMLResponse:
    project = _project(session, request, user, slug)
    return _finding_response(session, request, user, project, finding_id)


def _after_post(
    session: Session,
    request: Request,
    user: WebUser,
    project: Project,
    finding_id: int,
    form: str,
    notice: str,
) -> Response:
    """Success: the updated section for htmx, else a redirect back with a notice."""
    if is_htmx(request):
        state = FormState(form=form, notice=notice)
        return _finding_response(session, request, user, project, finding_id, state)
    response = redirect_after_post(f"/projects/{project.slug}/findings/{finding_id}")
    flash(response, notice, request=request)
    return response


def _failed(
    session: Session,
    request: Request,
    user: WebUser,
    project: Project,
    finding_id: int,
    state: FormState,
    status: int = 422,
) -> Response:
    session.rollback()
    return _finding_response(session, request, user, project, finding_id, state, status)


def _accept_until(value: str, today: dt.date) -> tuple[dt.date | None, str | None]:
    if not value.strip():
        return None, "Choose the last day the acceptance holds."
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        return None, "Enter the date as YYYY-MM-DD."
    if day <= today:
        return None, "The expiry must be in the future (after today, UTC)."
    if day > today + dt.timedelta(days=MAX_ACCEPT_DAYS):
        return None, "A risk can be accepted for at most one year: choose an earlier date."
    return day, None


@router.post("/projects/{slug}/findings/{finding_id}/status", response_model=None)
def post_status(
    request: Request,
    slug: Slug,
    finding_id: FindingId,
    user: CsrfUserDep,
    session: SessionDep,
    status: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    expires: Annotated[str, Form()] = "",
) -> Response:
    project = _project(session, request, user, slug)
    _require(request, user, project, Action.TRIAGE)
    service.get_finding(session, project.id, finding_id)  # 404 before any validation
    state = FormState(form=status, values={"reason": reason, "expires": expires})
    if status not in TRIAGE:
        state.errors["status"] = "Choose an action: mark false positive, accept risk or reopen."
        return _failed(session, request, user, project, finding_id, state)
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        state.errors["reason"] = f"Keep the reason under {MAX_REASON:,} characters."
    elif "\x00" in reason:
        state.errors["reason"] = "The reason contains a character that cannot be stored."
    elif not reason and status in (Status.ACCEPTED.value, Status.FALSE_POSITIVE.value):
        state.errors["reason"] = "Give a reason: it stays in the finding's history."
    until: dt.date | None = None
    if status == Status.ACCEPTED.value:
        until, problem = _accept_until(expires, utcnow().date())
        if problem:
            state.errors["expires"] = problem
    if state.errors:
        return _failed(session, request, user, project, finding_id, state)
    try:
        service.change_status(
            session,
            project,
            finding_id,
            status=Status(status),
            actor=user.principal.actor,
            reason=reason,
            expires=until,
        )
    except HubError as exc:
        if exc.status == 404:
            raise
        state.errors["form"] = exc.detail[:1].upper() + exc.detail[1:] + "."
        return _failed(session, request, user, project, finding_id, state, exc.status)
    return _after_post(session, request, user, project, finding_id, status, _DONE[status])


@router.post("/projects/{slug}/findings/{finding_id}/assign", response_model=None)
def post_assign(
    request: Request,
    slug: Slug,
    finding_id: FindingId,
    user: CsrfUserDep,
    session: SessionDep,
    assignee: Annotated[str, Form()] = "",
) -> Response:
    project = _project(session, request, user, slug)
    _require(request, user, project, Action.TRIAGE)
    service.get_finding(session, project.id, finding_id)
    name = assignee.strip()
    state = FormState(form="assign", values={"assignee": name})
    if name and name not in {u.username for u in service.list_users(session)}:
        state.errors["assignee"] = f"There is no user {name[:MAX_ASSIGNEE]!r} on this hub."
        return _failed(session, request, user, project, finding_id, state)
    service.assign(session, project, finding_id, name or None)
    notice = f"Assigned to {name}." if name else "Nobody is assigned any more."
    return _after_post(session, request, user, project, finding_id, "assign", notice)


@router.post("/projects/{slug}/findings/{finding_id}/comments", response_model=None)
def post_comment(
    request: Request,
    slug: Slug,
    finding_id: FindingId,
    user: CsrfUserDep,
    session: SessionDep,
    body: Annotated[str, Form()] = "",
) -> Response:
    project = _project(session, request, user, slug)
    _require(request, user, project, Action.COMMENT)
    service.get_finding(session, project.id, finding_id)
    state = FormState(form="comment", values={"body": body})
    if not body.strip():
        state.errors["body"] = "Write something first."
    elif len(body) > MAX_COMMENT:
        state.errors["body"] = f"Keep a comment under {MAX_COMMENT:,} characters."
    elif "\x00" in body:
        state.errors["body"] = "The comment contains a character that cannot be stored."
    if state.errors:
        return _failed(session, request, user, project, finding_id, state)
    service.add_comment(session, project, finding_id, author=user.username, body=body.strip())
    return _after_post(session, request, user, project, finding_id, "comment", "Comment added.")
