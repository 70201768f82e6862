"""``turbosec hub demo``: a hub that looks lived in, in one command.

A newcomer should see what the dashboard is for — findings arriving, getting fixed,
coming back, triaged, discussed, overdue — without first wiring CI to a hub for two
months.  :func:`seed_demo` fills an empty hub with that history:

* **Real findings.**  Every finding is one of the 49 that ``turbosec scan
  examples/demo-app`` reports (``turbosec/hub/demo_data/demo-report.json.gz``, see its
  SOURCE.md).  Only their timeline is simulated.
* **Real lifecycle.**  Each simulated scan is a turbosec report uploaded through
  :func:`turbosec.hub.ingest.ingest`, and every triage decision, assignment and comment
  goes through :mod:`turbosec.hub.service`, each with its simulated time (``now``).  So
  findings are fixed because a full scan no longer reports them, reopened because a later
  scan does, and an expired risk acceptance is reopened by the next upload, exactly as on
  a real hub; the trend chart, MTTR and SLA figures are computed from that history.
* **The story** (fractions of the simulated period, by default 8 weeks, scans on
  Mondays, Wednesdays and Fridays): the CI workflow arrives a quarter of the way in and
  brings zizmor's findings; the team fixes Flask's debug mode, then a release brings it
  back; MD5 password hashing, the Dockerfile, the unpinned actions and, in the last
  weeks, the unsafe deserialisations are fixed and stay fixed; the template injection is
  fixed and comes back with a revert; two advisories are published halfway through; the
  leaked GitHub token is removed.  The security
  engineer marks duplicate detections as false positives, accepts some storage risks
  with expiries (one expires during the period and is reopened, one expires within two
  weeks of today), reopens an acceptance the backup policy no longer allows, assigns
  work, and the critical SQL injection sits past its 7-day SLA with a discussion.  The
  code of ``examples/demo-app`` still holds every flaw: the fixes are part of the
  simulation.
* A second, smaller project (``demo-infra``, the Terraform findings, scanned weekly, a
  14-day SLA for high findings) gives the overview more than one row.

Users ``admin``, ``security`` and ``developer`` (one per role) get generated passwords
that are printed once; a project upload token ``ci`` for ``demo-app`` lets the newcomer
push a scan of their own.  The demo is only ever seeded into an empty hub.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import math
import random
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

import orjson

from turbosec.core.errors import UsageError

if TYPE_CHECKING:
    import typer
    from sqlalchemy import Engine

    from turbosec.cli.state import AppState
    from turbosec.hub.settings import HubSettings

DEMO_PROJECT = "demo-app"
INFRA_PROJECT = "demo-infra"
DEFAULT_DB = "turbosec-demo.db"
DEFAULT_WEEKS = 8
MIN_WEEKS, MAX_WEEKS = 2, 52
REPORT_FILE = "demo-report.json.gz"
USERS = (("admin", "admin"), ("security", "security"), ("developer", "developer"))
ROLE_TEXT = {
    "admin": "everything, including users and tokens",
    "security": "triage: false positives, risk acceptances, reopen, assign",
    "developer": "read and comment",
}
INF = math.inf

Key = tuple[str, str, int | None]  # (rule id, path, start line)


class DemoError(UsageError):
    """The demo cannot be seeded here (a hub with data of its own, a changed report)."""


# -- the story ------------------------------------------------------------------------------

CI = ".github/workflows/ci.yml"
TF = "infra/main.tf"

# When a finding is present in demo-app's scans: [from, to) fractions of the period.
# Findings not listed are present from the first scan to the last.
_PRESENT: dict[Key, tuple[tuple[float, float], ...]] = {
    # pinned to commit SHAs
    ("unpinned-uses", CI, 9): ((0.25, 0.45),),
    ("unpinned-uses", CI, 14): ((0.25, 0.45),),
    # fixed, then brought back by a revert
    ("template-injection", CI, 13): ((0.25, 0.5), (0.8, INF)),
    # Flask debug mode off ... and on again with a release
    ("B201", "app.py", 56): ((0.0, 0.15), (0.6, INF)),
    ("B104", "app.py", 56): ((0.0, 0.15), (0.6, INF)),
    # MD5 password hashing replaced
    ("B324", "app.py", 46): ((0.0, 0.3),),
    ("turbosec.python.weak-password-hash", "app.py", 46): ((0.0, 0.3),),
    # the Dockerfile gets a user, a pinned base image and a health check
    ("CKV_DOCKER_3", "Dockerfile", 1): ((0.0, 0.35),),
    ("CKV_DOCKER_7", "Dockerfile", 2): ((0.0, 0.35),),
    ("CKV_DOCKER_2", "Dockerfile", 1): ((0.0, 0.35),),
    # the leaked GitHub token is removed (the line's duplicate detections go with it)
    ("github-token", "settings.py", 5): ((0.0, 0.2),),
    ("secret-keyword", "settings.py", 5): ((0.0, 0.2),),
    ("base64-high-entropy-string", "settings.py", 5): ((0.0, 0.2),),
    ("B105", "settings.py", 5): ((0.0, 0.2),),
    # pickle leaves the session handling, then PyYAML's unsafe load goes
    ("turbosec.python.deserialization-of-request-data", "app.py", 36): ((0.0, 0.85),),
    ("B403", "app.py", 4): ((0.0, 0.85),),
    ("turbosec.python.unsafe-deserialization", "app.py", 41): ((0.0, 0.93),),
    ("B506", "app.py", 41): ((0.0, 0.93),),
    # advisories published halfway through
    ("PYSEC-2023-62", "requirements.txt", 2): ((0.55, INF),),
    ("PYSEC-2023-74", "requirements.txt", 4): ((0.55, INF),),
}
# By tool: the CI workflow (zizmor's findings) arrives a quarter of the way in.
_PRESENT_BY_TOOL: dict[str, tuple[tuple[float, float], ...]] = {"zizmor": ((0.25, INF),)}
# demo-infra: the Terraform findings; the public-read ACL is removed halfway.
_INFRA_PRESENT: dict[Key, tuple[tuple[float, float], ...]] = {
    ("CKV_AWS_20", TF, 2): ((0.0, 0.5),),
}

EventKind = Literal["false_positive", "accept", "reopen", "comment", "assign"]


@dataclass(frozen=True)
class _Event:
    at: float  # fraction of the period; happens a few hours after the scan at or after it
    project: str
    key: Key
    kind: EventKind
    who: str  # the acting user
    text: str = ""  # reason, comment body, or assignee
    expires_in_days: int | None = None  # acceptances: from today (the real now)
    expires_at: float | None = None  # acceptances: at this fraction of the period


def _e(at: float, key: Key, kind: EventKind, who: str, text: str = "", **kw: Any) -> _Event:
    return _Event(at, DEMO_PROJECT, key, kind, who, text, **kw)


_DUPLICATE = (
    "Duplicate of the detect-secrets finding on this line; the credential is tracked there."
)
_EVENTS: tuple[_Event, ...] = (
    _e(0.05, ("B105", "settings.py", 4), "false_positive", "security", _DUPLICATE),
    _e(0.05, ("B105", "settings.py", 5), "false_positive", "security", _DUPLICATE),
    _e(
        0.05,
        ("base64-high-entropy-string", "settings.py", 4),
        "false_positive",
        "security",
        "Same value as the secret-keyword finding on this line (reported twice by detect-secrets).",
    ),
    _e(
        0.05,
        ("B404", "app.py", 6),
        "false_positive",
        "security",
        "Importing subprocess is not a flaw by itself; the call is tracked as the command "
        "injection at app.py:29.",
    ),
    _e(0.08, ("turbosec.python.sql-injection", "app.py", 22), "assign", "security", "developer"),
    _e(
        0.08,
        ("turbosec.python.sql-injection", "app.py", 22),
        "comment",
        "security",
        "Reachable without authentication through /users?name=. Please pass the name as a "
        "bound parameter.",
    ),
    _e(
        0.1,
        ("turbosec.python.sql-injection", "app.py", 22),
        "comment",
        "developer",
        "Reproduced with name=' OR '1'='1. The fix needs the query helper from the data "
        "layer refactor, planned for the next sprint.",
    ),
    _e(
        0.08, ("turbosec.python.command-injection", "app.py", 29), "assign", "security", "developer"
    ),
    _e(0.12, ("aws-access-key", "settings.py", 3), "assign", "admin", "security"),
    _e(
        0.12,
        ("aws-access-key", "settings.py", 3),
        "comment",
        "admin",
        "The key was deactivated in IAM the day it was found; removing it from the code is "
        "tracked here.",
    ),
    _e(
        0.2,
        ("CKV2_AWS_62", TF, 2),
        "accept",
        "security",
        "The bucket serves static marketing assets; nothing consumes its events.",
        expires_in_days=10,
    ),
    _e(
        0.2,
        ("CKV_AWS_144", TF, 2),
        "accept",
        "security",
        "The assets are rebuilt from the repository: replication adds cost, not recovery.",
        expires_in_days=75,
    ),
    _e(
        0.2,
        ("CKV_AWS_21", TF, 2),
        "accept",
        "security",
        "Objects are immutable build outputs; versioning keeps nothing worth keeping.",
        expires_in_days=180,
    ),
    _e(
        0.3,
        ("CKV_AWS_18", TF, 2),
        "accept",
        "security",
        "Access logging comes with the central logging account, due next quarter.",
        expires_at=0.7,
    ),
    _e(
        0.4,
        ("PYSEC-2019-217", "requirements.txt", 5),
        "accept",
        "security",
        "The sandbox escape needs untrusted templates; the app renders only its own. "
        "Upgrade with the Flask migration.",
        expires_in_days=45,
    ),
    _e(0.45, ("dangerous-triggers", CI, 4), "assign", "security", "security"),
    _e(
        0.5,
        ("turbosec.python.sql-injection", "app.py", 22),
        "comment",
        "security",
        "This is well past its 7-day SLA. Can we ship the one-line fix before the refactor?",
    ),
    _e(
        0.65,
        ("CKV_AWS_21", TF, 2),
        "reopen",
        "security",
        "The new backup policy requires versioning on every bucket.",
    ),
    _e(
        0.82,
        ("template-injection", CI, 13),
        "comment",
        "developer",
        "The revert of the release branch brought the expression back; moving it to an "
        "environment variable again.",
    ),
    _e(0.82, ("template-injection", CI, 13), "assign", "security", "developer"),
    _Event(
        0.3,
        INFRA_PROJECT,
        ("CKV2_AWS_5", TF, 11),
        "false_positive",
        "security",
        "The group is attached by the autoscaling module, which lives in another repository.",
    ),
)


# -- inputs ---------------------------------------------------------------------------------


def demo_report() -> dict[str, Any]:
    """The committed turbosec report of ``examples/demo-app`` (see demo_data/SOURCE.md)."""
    data = resources.files("turbosec.hub").joinpath("demo_data", REPORT_FILE).read_bytes()
    report: dict[str, Any] = orjson.loads(gzip.decompress(data))
    return report


def _key(finding: Mapping[str, Any]) -> Key:
    location = finding.get("location") or {}
    return (finding["rule_id"], location.get("path") or "", location.get("start_line"))


def _index(findings: Sequence[Mapping[str, Any]]) -> dict[Key, Mapping[str, Any]]:
    out: dict[Key, Mapping[str, Any]] = {}
    for finding in findings:
        out.setdefault(_key(finding), finding)
    return out


def _check_story(index: Mapping[Key, Mapping[str, Any]]) -> None:
    wanted = set(_PRESENT) | set(_INFRA_PRESENT) | {e.key for e in _EVENTS}
    missing = sorted(wanted - set(index), key=str)
    if missing:
        raise DemoError(
            f"the demo report lacks findings the demo's story needs: {missing[:3]}",
            hint="regenerate demo_data/demo-report.json.gz from examples/demo-app (SOURCE.md) "
            "and update the story in turbosec/cli/hub_demo.py",
        )


def _present(
    spans: Mapping[Key, tuple[tuple[float, float], ...]], finding: Mapping[str, Any], frac: float
) -> bool:
    intervals = spans.get(_key(finding)) or _PRESENT_BY_TOOL.get(finding["tool"], ((0.0, INF),))
    return any(start <= frac < end for start, end in intervals)


# -- the timeline ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scan:
    at: dt.datetime
    frac: float
    project: str
    number: int


def _scan_times(
    start: dt.datetime, now: dt.datetime, weekdays: Sequence[int], hour: int, rng: random.Random
) -> list[dt.datetime]:
    """One scan on each of ``weekdays`` (and on the first day) between start and now."""
    out = []
    day = 0
    while True:
        date = start + dt.timedelta(days=day)
        if date >= now:
            break
        if day == 0 or date.weekday() in weekdays:
            at = date + dt.timedelta(hours=hour, minutes=rng.randrange(0, 150))
            if at < now - dt.timedelta(minutes=10):
                out.append(at)
        day += 1
    return out


def _commit(project: str, number: int) -> str:
    return hashlib.sha1(f"{project}/{number}".encode(), usedforsecurity=False).hexdigest()


def _scan_document(
    base: Mapping[str, Any], findings: Sequence[Mapping[str, Any]], scan: _Scan, tools: set[str]
) -> dict[str, Any]:
    """The report of one simulated scan: the real one's findings present at that time."""
    doc = dict(base)
    duration = float(base.get("duration_s") or 15.0)
    doc["repo"] = {**base["repo"], "branch": "main", "commit": _commit(scan.project, scan.number)}
    doc["started_at"] = (scan.at - dt.timedelta(seconds=duration)).isoformat()
    doc["finished_at"] = scan.at.isoformat()
    doc["tools"] = [t for t in base["tools"] if t["name"] in tools]
    doc["findings"] = list(findings)
    return doc


# -- seeding --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    password: str


@dataclass(frozen=True)
class DemoHub:
    """What :func:`seed_demo` made: the passwords and the token are shown once."""

    accounts: tuple[DemoAccount, ...]
    projects: tuple[str, ...]
    scans: int
    upload_token: str
    start: dt.datetime
    now: dt.datetime
    counts: dict[str, int] = field(default_factory=dict)  # demo-app findings per status


def hub_state(engine: Engine) -> Literal["empty", "demo", "other"]:
    """Whether the hub is empty, holds the demo, or holds data of its own."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from turbosec.hub.models import Project, User

    with Session(engine) as session:
        if session.scalar(select(Project.id).where(Project.slug == DEMO_PROJECT)) is not None:
            return "demo"
        projects = session.scalar(select(func.count()).select_from(Project)) or 0
        users = session.scalar(select(func.count()).select_from(User)) or 0
    return "empty" if projects == 0 and users == 0 else "other"


def seed_demo(
    db: Engine | str,
    *,
    weeks: int = DEFAULT_WEEKS,
    now: dt.datetime | None = None,
    settings: HubSettings | None = None,
    passwords: Mapping[str, str] | None = None,
    seed: int = 9,
) -> DemoHub:
    """Fill an empty hub (an engine, or a ``--db`` value) with the demo; see the module doc.

    ``now``: the end of the simulated period (default: the current time); ``passwords``:
    per user name (default: generated); ``settings``: the argon2 cost and upload limits
    (default: the hub's defaults).  Raises :class:`DemoError` when the hub is not empty.
    """
    from sqlalchemy import Engine

    from turbosec.hub.db import database_url, make_engine
    from turbosec.hub.migrations import upgrade

    if not MIN_WEEKS <= weeks <= MAX_WEEKS:
        raise DemoError(f"--weeks must be between {MIN_WEEKS} and {MAX_WEEKS}, not {weeks}")
    if isinstance(db, Engine):
        return _seed(db, weeks, now, settings, passwords, seed)
    engine = make_engine(database_url(db))
    try:
        upgrade(engine)
        return _seed(engine, weeks, now, settings, passwords, seed)
    finally:
        engine.dispose()


def _seed(
    engine: Engine,
    weeks: int,
    now: dt.datetime | None,
    settings: HubSettings | None,
    passwords: Mapping[str, str] | None,
    seed: int,
) -> DemoHub:
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from turbosec.hub import service
    from turbosec.hub.auth import Passwords
    from turbosec.hub.ingest import IngestOptions, ingest, read_upload
    from turbosec.hub.models import Finding, Project, Role, Status, TokenScope, User
    from turbosec.hub.settings import HubSettings

    state = hub_state(engine)
    if state != "empty":
        raise DemoError(
            "this hub already holds the demo"
            if state == "demo"
            else "this hub already has projects or users: the demo is only seeded into an "
            "empty hub",
            hint="use another --db (a new SQLite file)",
        )
    settings = settings or HubSettings(
        database_url=engine.url.render_as_string(hide_password=False)
    )
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    start = (now - dt.timedelta(weeks=weeks)).replace(hour=0, minute=0, second=0, microsecond=0)
    period = now - start
    rng = random.Random(seed)  # noqa: S311 - simulated times of day, not secrets

    report = demo_report()
    index = _index(report["findings"])
    _check_story(index)
    infra = [
        f
        for f in report["findings"]
        if f["category"] == "iac" and (f.get("location") or {}).get("path") == TF
    ]
    projects_findings = {DEMO_PROJECT: list(report["findings"]), INFRA_PROJECT: infra}
    spans = {DEMO_PROJECT: _PRESENT, INFRA_PROJECT: _INFRA_PRESENT}
    tools = {
        DEMO_PROJECT: {t["name"] for t in report["tools"]},
        INFRA_PROJECT: {"checkov"},
    }

    # accounts, projects and the upload token
    hasher = Passwords(settings)
    accounts = tuple(
        DemoAccount(name, role, (passwords or {}).get(name) or secrets.token_urlsafe(12))
        for name, role in USERS
    )
    with Session(engine, expire_on_commit=False) as session:
        demo = service.create_project(
            session, DEMO_PROJECT, name="Demo app (Flask)", default_branch="main"
        )
        service.create_project(
            session,
            INFRA_PROJECT,
            name="Demo infrastructure (Terraform)",
            default_branch="main",
            sla_days={"high": 14},
        )
        for account in accounts:
            service.create_user(
                session, hasher, account.username, account.password, Role(account.role)
            )
        _view, token = service.create_project_token(
            session, demo, name="ci", scope=TokenScope.UPLOAD, created_by="user:admin"
        )
        # the hub was set up the day before the first scan
        for row in session.execute(select(Project)).scalars():
            row.created_at = start - dt.timedelta(days=1)
        for user in session.execute(select(User)).scalars():
            user.created_at = start - dt.timedelta(days=1)
        session.commit()
        project_ids = {p.slug: p.id for p in service.list_projects(session)}

    # the scans, and the events anchored to them
    scans: list[_Scan] = []
    for project, weekdays, hour in ((DEMO_PROJECT, (0, 2, 4), 9), (INFRA_PROJECT, (1,), 14)):
        for number, at in enumerate(_scan_times(start, now, weekdays, hour, rng), 1):
            scans.append(_Scan(at, (at - start) / period, project, number))
    steps: list[tuple[dt.datetime, int, Callable[[], None]]] = []

    def scan_step(scan: _Scan) -> Callable[[], None]:
        def run() -> None:
            present = [
                f
                for f in projects_findings[scan.project]
                if _present(spans[scan.project], f, scan.frac)
            ]
            doc = _scan_document(report, present, scan, tools[scan.project])
            upload = read_upload(orjson.dumps(doc), settings)
            ingest(
                engine,
                project_ids[scan.project],
                upload,
                IngestOptions(uploaded_by="token:ci"),
                now=scan.at,
            )

        return run

    def event_step(event: _Event, at: dt.datetime) -> Callable[[], None]:
        def run() -> None:
            fingerprint = index[event.key]["fingerprint"]
            with Session(engine, expire_on_commit=False) as session:
                project = service.get_project(session, event.project)
                finding_id = session.scalar(
                    select(Finding.id).where(
                        Finding.project_id == project.id, Finding.fingerprint == fingerprint
                    )
                )
                if finding_id is None:
                    raise DemoError(f"the demo's story acts on {event.key} before it is found")
                actor = f"user:{event.who}"
                if event.kind == "comment":
                    comment = service.add_comment(
                        session, project, finding_id, author=event.who, body=event.text
                    )
                    comment.at = at
                    session.commit()
                elif event.kind == "assign":
                    service.assign(session, project, finding_id, event.text)
                else:
                    expires = None
                    if event.expires_in_days is not None:
                        expires = (now + dt.timedelta(days=event.expires_in_days)).date()
                    elif event.expires_at is not None:
                        expires = max(
                            (start + period * event.expires_at).date(),
                            at.date() + dt.timedelta(days=1),
                        )
                    status = {
                        "false_positive": Status.FALSE_POSITIVE,
                        "accept": Status.ACCEPTED,
                        "reopen": Status.REOPENED,
                    }[event.kind]
                    service.change_status(
                        session,
                        project,
                        finding_id,
                        status=status,
                        actor=actor,
                        reason=event.text,
                        expires=expires,
                        now=at,
                    )

        return run

    for scan in scans:
        steps.append((scan.at, 0, scan_step(scan)))
    for order, event in enumerate(_EVENTS, 1):
        own = [s for s in scans if s.project == event.project]
        anchor = next((s for s in own if s.frac >= event.at), own[-1])
        later = [s.at for s in own if s.at > anchor.at]
        at = anchor.at + dt.timedelta(hours=2, minutes=7 * order % 180)
        at = min(
            at, *(t - dt.timedelta(minutes=5) for t in later[:1]), now - dt.timedelta(minutes=1)
        )
        steps.append((at, order, event_step(event, at)))
    for _at, _order, step in sorted(steps, key=lambda s: (s[0], s[1])):
        step()

    with Session(engine) as session:
        rows = session.execute(
            select(Finding.status, func.count())
            .where(Finding.project_id == project_ids[DEMO_PROJECT])
            .group_by(Finding.status)
        )
        counts = {status: count for status, count in rows}
    return DemoHub(
        accounts=accounts,
        projects=(DEMO_PROJECT, INFRA_PROJECT),
        scans=len(scans),
        upload_token=token,
        start=start,
        now=now,
        counts=counts,
    )


# -- the command ----------------------------------------------------------------------------


def run_demo(
    ctx: typer.Context,
    *,
    db: str,
    weeks: int,
    serve: bool,
    host: str,
    port: int,
) -> int:
    """``turbosec hub demo``: seed ``db`` (unless it holds the demo already), then serve."""
    from turbosec.cli import hub_cmd
    from turbosec.hub.db import make_engine
    from turbosec.hub.migrations import upgrade

    state: AppState = ctx.obj
    out = state.console()
    url = hub_cmd._url(db)
    shown = db if "://" not in db else hub_cmd._shown(url)
    base = f"http://{host}:{port}"
    engine = make_engine(url)
    try:
        upgrade(engine)
        current = hub_state(engine)
        if current == "other":
            raise DemoError(
                f"{shown} already has projects or users of its own: the demo is only seeded "
                "into an empty hub",
                hint=f"use another --db, e.g. the default {DEFAULT_DB}",
            )
        if current == "demo":
            out.print(
                f"{shown} already holds the demo; its passwords were shown when it was "
                "seeded (delete the file to seed it again).",
                markup=False,
                soft_wrap=True,
            )
        else:
            out.print(
                f"seeding the demo hub in {shown} ({weeks} simulated weeks)…",
                markup=False,
                soft_wrap=True,
            )
            hub = seed_demo(engine, weeks=weeks)
            _print_hub(out, hub, base)
    finally:
        engine.dispose()
    if not serve:
        return 0
    out.print(f"\nthe dashboard: {base}/   (Ctrl+C stops the hub)", markup=False, soft_wrap=True)
    return hub_cmd.serve(
        ctx,
        db=url,
        host=host,
        port=port,
        workers=1,
        max_upload_mb=None,
        max_findings=None,
        security_log=None,
        log_level="info",
    )


def _print_hub(out: Any, hub: DemoHub, base: str) -> None:
    counts = hub.counts
    out.print(
        f"{len(hub.projects)} projects, {hub.scans} scans from {hub.start:%Y-%m-%d} to "
        f"{hub.now:%Y-%m-%d}; {DEMO_PROJECT}: {counts.get('open', 0) + counts.get('reopened', 0)} "
        f"active, {counts.get('fixed', 0)} fixed, {counts.get('accepted', 0)} accepted, "
        f"{counts.get('false_positive', 0)} false positives",
        markup=False,
        soft_wrap=True,
    )
    out.print("\nSign in with (the passwords are shown only now):", markup=False, soft_wrap=True)
    width = max(len(a.username) for a in hub.accounts)
    for account in hub.accounts:
        out.print(
            f"  {account.username:<{width}}  {account.password}   {ROLE_TEXT[account.role]}",
            markup=False,
            soft_wrap=True,
        )
    out.print(f"\nUpload token for {DEMO_PROJECT} (shown only now):", markup=False, soft_wrap=True)
    out.print(f"  {hub.upload_token}", markup=False, soft_wrap=True)
    out.print(
        f"  export TURBOSEC_HUB_TOKEN=<the token>; turbosec scan examples/demo-app --push "
        f"--hub {base} --hub-project {DEMO_PROJECT}",
        markup=False,
        soft_wrap=True,
    )
