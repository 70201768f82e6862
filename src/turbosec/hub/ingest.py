"""Ingestion: an uploaded report becomes a Scan and moves findings through their lifecycle.

Free of HTTP: :func:`read_upload` turns the request body into an :class:`Upload` (or
raises a 4xx :class:`~turbosec.hub.errors.HubError`), :func:`ingest` applies it to the
database in one transaction.

Reading
    The body may be gzip-compressed (recognised by its magic bytes, whatever the headers
    say); decompression is bounded by ``max_decompressed_bytes`` and a truncated or corrupt
    stream is an error.  The JSON document is a turbosec report (``"schema":
    "turbosec.report/v1"``, validated against the shipped JSON Schema, errors naming the
    JSON path) or a SARIF 2.1.0 log (:mod:`turbosec.hub.sarif`).  More than
    ``max_findings`` findings is refused before anything else is done.

Lifecycle (one transaction, the project's findings locked against concurrent uploads)
    * expired risk acceptances (``accepted_until`` before today, UTC) are reopened first,
      by ``system``;
    * a fingerprint the project has never seen becomes a finding ``open``;
    * a known one is refreshed (last seen, last scan, branch, and its content when that
      changed); a ``fixed`` one becomes ``reopened``; ``accepted`` and
      ``false_positive`` ones keep their status;
    * in a *full* scan, active findings (``open``, ``reopened``) last seen on the same
      branch, reported by a tool that ran successfully in this upload, and absent from it
      become ``fixed``.  Partial scans (``full=false``, a ``--diff-base`` report) and
      failed tools never fix anything.

    Every status change is written to the audit trail (actor ``scan:<id>``), and the
    counts new / unchanged / fixed / reopened are stored on the Scan.  The work is
    set-based: one query loads the project's findings, new rows are inserted in batches,
    refreshed rows are updated by id lists; no ORM object is built per finding.
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
import hashlib
import itertools
import logging
import re
import threading
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
from sqlalchemy import Engine, Table, insert, select, update
from sqlalchemy.engine import Connection

from turbosec.core.report import SCHEMA_ID, report_schema
from turbosec.hub.db import write_options
from turbosec.hub.errors import BadRequest, InvalidReport, TooLarge
from turbosec.hub.models import Finding, Scan, Status, StatusChange, utcnow
from turbosec.hub.sarif import read_sarif
from turbosec.hub.settings import HubSettings

GZIP_MAGIC = b"\x1f\x8b"
_UTF8_BOM = b"\xef\xbb\xbf"
_SEVERITIES = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
_ACTIVE = (Status.OPEN.value, Status.REOPENED.value)
_CHUNK = 2000  # ids per UPDATE … WHERE id IN (…)
_MAX_PROBLEMS = 20
_MAX_LINE = 2**31 - 1
# The baseline a --diff-base scan records: "origin/main (0123456789ab)".
_DIFF_BASELINE = re.compile(r"^\S.* \([0-9a-f]{7,64}\)$")
# Tools the gate skipped because there was nothing for them to scan: they ran, in effect,
# and found nothing (their old findings are gone with the files).
_NOTHING_TO_SCAN = "no applicable files"
logger = logging.getLogger(__name__)
_T_FINDING = cast(Table, Finding.__table__)
_T_CHANGE = cast(Table, StatusChange.__table__)
_T_SCAN = cast(Table, Scan.__table__)

# Finding columns an upload sets (the content; the rest is lifecycle).
CONTENT_COLUMNS = (
    "severity",
    "tool",
    "rule_id",
    "title",
    "message",
    "category",
    "confidence",
    "path",
    "line",
    "cwe",
    "advisories",
    "package",
    "fix_hint",
    "details",
)


# -- reading ---------------------------------------------------------------------------


class _GcPause:
    """Pause the cyclic garbage collector while an upload is handled.

    Parsing and ingesting a large report allocates millions of small containers, none in
    reference cycles; the collector would walk them again and again (3-4 times slower
    overall).  Reference counting still frees everything.  Nested and concurrent pauses
    (several uploads in threads) are counted: the collector resumes when the last ends.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._resume = False

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._resume:
                    gc.enable()


gc_paused = _GcPause()


def decode_body(body: bytes, *, limit: int, declared_gzip: bool = False) -> bytes:
    """The document: ``body`` itself, or gunzipped (at most ``limit`` bytes either way)."""
    if body[:2] != GZIP_MAGIC:
        if declared_gzip:
            raise InvalidReport(
                "the body is declared gzip-compressed but is not gzip data", code="bad_gzip"
            )
        if len(body) > limit:
            raise TooLarge(f"the report is larger than the hub's limit of {limit:,} bytes")
        return body
    out = bytearray()
    data = body
    while data:
        if data[:2] != GZIP_MAGIC:
            raise InvalidReport("unexpected bytes after the gzip data", code="bad_gzip")
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out += inflater.decompress(data, limit - len(out) + 1)
        except zlib.error as exc:
            raise InvalidReport(f"the gzip data is corrupt ({exc})", code="bad_gzip") from None
        if len(out) > limit:
            raise TooLarge(
                f"the report is larger than the hub's limit of {limit:,} bytes once decompressed"
            )
        if not inflater.eof:
            raise InvalidReport(
                "the gzip data is truncated: the upload was cut short", code="truncated_gzip"
            )
        data = inflater.unused_data
    return bytes(out)


def parse_json(data: bytes) -> Any:
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]
    if not data.strip():
        raise InvalidReport("the upload is empty: send a turbosec JSON report or a SARIF log")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidReport(f"the upload is not valid JSON: {exc}", code="malformed_json") from None


@dataclass
class Upload:
    """A decoded, validated upload, ready for :func:`ingest`."""

    format: str  # "turbosec" | "sarif"
    rows: list[dict[str, Any]]  # finding content, keyed by column, with "fingerprint"
    tools: list[dict[str, Any]]  # [{"name", "version", "status"}]
    tools_ok: frozenset[str]  # tools whose findings are complete in this upload
    sha256: str
    branch: str | None = None
    commit: str | None = None
    full: bool = True  # what the document says
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    duration_s: float | None = None
    duplicates: int = 0
    warnings: list[str] = field(default_factory=list)
    read_s: float = 0.0


def read_upload(body: bytes, settings: HubSettings, *, declared_gzip: bool = False) -> Upload:
    """Decode, parse, check and normalise an upload; 4xx errors for anything wrong."""
    with gc_paused():
        return _read_upload(body, settings, declared_gzip=declared_gzip)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_upload(body: bytes, settings: HubSettings, *, declared_gzip: bool) -> Upload:
    started = time.perf_counter()
    data = decode_body(body, limit=settings.max_decompressed_bytes, declared_gzip=declared_gzip)
    # hashlib lets go of the GIL on large buffers: hash while the JSON is parsed
    with ThreadPoolExecutor(1) as pool:
        digest = pool.submit(_sha256, data)
        document = parse_json(data)
    if not isinstance(document, dict):
        raise InvalidReport(
            "the upload is a JSON "
            + ("array" if isinstance(document, list) else type(document).__name__)
            + ", not a turbosec report or SARIF log object"
        )
    sha256 = digest.result()
    del data
    schema = document.get("schema")
    if schema == SCHEMA_ID or (
        schema is None and "findings" in document and "runs" not in document
    ):
        upload = _read_turbosec(document, settings, sha256)
    elif isinstance(schema, str) and schema.startswith("turbosec.report/"):
        raise InvalidReport(
            f"unsupported report schema {schema!r}: this hub reads {SCHEMA_ID}",
            code="unsupported_schema",
        )
    elif isinstance(document.get("runs"), list) or "version" in document:
        upload = _read_sarif(document, settings, sha256)
    else:
        raise InvalidReport(
            'the upload is neither a turbosec report ("schema": "turbosec.report/v1") '
            'nor a SARIF 2.1.0 log ("version": "2.1.0", "runs": [...])',
            code="unknown_format",
        )
    upload.rows = _dedupe(upload)
    upload.read_s = time.perf_counter() - started
    return upload


def _too_many(count: int, settings: HubSettings) -> None:
    if count > settings.max_findings:
        raise TooLarge(
            f"the report holds {count:,} findings; the hub accepts at most "
            f"{settings.max_findings:,} per upload",
            code="too_many_findings",
        )


@functools.cache
def _validator() -> Any:
    try:
        import jsonschema_rs

        return jsonschema_rs.validator_for(report_schema())
    except ImportError:  # pragma: no cover - the hub extra installs jsonschema-rs
        import jsonschema

        return jsonschema.Draft202012Validator(report_schema())


def json_path(parts: Iterable[str | int]) -> str:
    """``["findings", 3, "severity"]`` → ``findings[3].severity``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(document)"


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def validate_report(document: dict[str, Any]) -> None:
    """Check a turbosec report against its JSON Schema; errors name their JSON paths."""
    validator = _validator()
    if validator.is_valid(document):
        return
    problems = []
    for error in itertools.islice(validator.iter_errors(document), _MAX_PROBLEMS):
        path = getattr(error, "instance_path", None)
        if path is None:  # the jsonschema package
            path = error.absolute_path
        problems.append(f"{json_path(path)}: {_shorten(str(error.message))}")
    more = "" if len(problems) == 1 else f" (and {len(problems) - 1} more problems)"
    raise InvalidReport(
        f"the report does not match {SCHEMA_ID}: {problems[0]}{more}",
        code="schema_violation",
        problems=problems,
    )


def _text(value: Any, limit: int) -> str:
    text = str(value)
    if "\x00" in text:  # PostgreSQL text cannot hold NUL
        text = text.replace("\x00", "\ufffd")
    return text[:limit] if limit else text


def _time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return when.astimezone(dt.UTC)
    except (ValueError, OverflowError):  # not a time, or beyond year 1..9999 in UTC
        return None


def _is_diff_report(document: dict[str, Any]) -> bool:
    """A ``turbosec scan --diff-base`` report: it holds only what the change introduced."""
    baseline = document.get("baseline")
    if isinstance(baseline, str) and _DIFF_BASELINE.match(baseline):
        return True
    notices = document.get("notices") or ()
    return any(isinstance(n, str) and "already present at" in n for n in notices)


def _read_turbosec(document: dict[str, Any], settings: HubSettings, sha256: str) -> Upload:
    findings = document.get("findings")
    if isinstance(findings, list):
        _too_many(len(findings), settings)
    validate_report(document)
    tools: list[dict[str, Any]] = []
    tools_ok: set[str] = set()
    for tool in document["tools"]:
        status = tool["status"]
        tools.append({"name": tool["name"], "version": tool.get("version"), "status": status})
        complete = status in ("ok", "imported") or (
            status == "skipped" and tool.get("error") == _NOTHING_TO_SCAN
        )
        if complete:
            # An imported report's run is named after its tools: "semgrep,bandit".
            tools_ok.update(name.strip() for name in tool["name"].split(","))
    rows = [_turbosec_row(f) for f in document["findings"]]
    repo = document["repo"]
    duration = document.get("duration_s")
    full = not _is_diff_report(document)
    warnings = [] if full else ["the report was made with --diff-base: a partial scan"]
    return Upload(
        format="turbosec",
        rows=rows,
        tools=tools,
        tools_ok=frozenset(tools_ok),
        sha256=sha256,
        branch=repo.get("branch"),
        commit=repo.get("commit"),
        full=full,
        started_at=_time(document.get("started_at")),
        finished_at=_time(document.get("finished_at")),
        duration_s=float(duration) if isinstance(duration, int | float) else None,
        warnings=warnings,
    )


_DETAIL_KEYS = (
    "secret_hash",
    "also_reported_by",
    "references",
    "suppression",
    "baseline_state",
    "on_changed_line",
)


def _turbosec_row(f: dict[str, Any]) -> dict[str, Any]:
    loc = f.get("location") or {}
    details: dict[str, Any] = {}
    for key in ("snippet", "start_column", "end_line", "end_column"):
        value = loc.get(key)
        if value is not None:
            details[key] = value
    for key in _DETAIL_KEYS:
        value = f.get(key)
        if value is not None and value != []:
            details[key] = value
    line = loc.get("start_line")
    path = loc.get("path")
    return {
        "fingerprint": f["fingerprint"],
        "severity": _SEVERITIES[f["severity"]],
        "tool": _text(f["tool"], 100),
        "rule_id": _text(f["rule_id"], 300),
        "title": _text(f["title"], 0),
        "message": _text(f.get("message") or "", 0),
        "category": f["category"],
        "confidence": f.get("confidence") or "medium",
        "path": _text(path, 1024) if path is not None else None,
        "line": line if line is not None and line <= _MAX_LINE else None,
        "cwe": [f"CWE-{c}" for c in f.get("cwe") or ()],
        "advisories": list(f.get("advisories") or ()),
        "package": f.get("package"),
        "fix_hint": _text(f["fix_hint"], 0) if f.get("fix_hint") is not None else None,
        "details": details,
    }


def _read_sarif(document: dict[str, Any], settings: HubSettings, sha256: str) -> Upload:
    runs = document.get("runs")
    if isinstance(runs, list):
        _too_many(
            sum(
                len(run["results"])
                for run in runs
                if isinstance(run, dict) and isinstance(run.get("results"), list)
            ),
            settings,
        )
    sarif = read_sarif(document)
    for row in sarif.rows:
        for key in ("title", "message", "rule_id", "tool"):
            row[key] = _text(row[key], 0)
        if row["path"] is not None:
            row["path"] = _text(row["path"], 1024)
        if row["fix_hint"] is not None:
            row["fix_hint"] = _text(row["fix_hint"], 0)
    return Upload(
        format="sarif",
        rows=sarif.rows,
        tools=sarif.tools,
        tools_ok=frozenset(sarif.tools_ok),
        sha256=sha256,
        branch=sarif.branch,
        commit=sarif.commit,
    )


_JSON_COLUMNS = frozenset({"cwe", "advisories", "package", "details"})


def db_values(row: dict[str, Any]) -> tuple[Any, ...]:
    """The content columns as the database takes them (JSON as text, keys sorted)."""
    return tuple(
        None
        if c in _JSON_COLUMNS and row[c] is None
        else orjson.dumps(row[c], option=orjson.OPT_SORT_KEYS).decode("utf-8")
        if c in _JSON_COLUMNS
        else row[c]
        for c in CONTENT_COLUMNS
    )


def content_hash(values: tuple[Any, ...]) -> str:
    """The digest a re-import compares to tell whether a finding's content changed."""
    return hashlib.blake2b(orjson.dumps(values), digest_size=16).hexdigest()


def _dedupe(upload: Upload) -> list[dict[str, Any]]:
    """One row per fingerprint (the first), each with its content hash."""
    seen: dict[str, dict[str, Any]] = {}
    for row in upload.rows:
        fingerprint = row["fingerprint"]
        if fingerprint in seen:
            upload.duplicates += 1
            continue
        values = db_values(row)
        row["_values"] = values
        row["content_hash"] = content_hash(values)
        seen[fingerprint] = row
    if upload.duplicates:
        upload.warnings.append(
            f"{upload.duplicates} finding(s) repeated a fingerprint already in the upload "
            "and were counted once"
        )
    return list(seen.values())


# -- the lifecycle ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IngestOptions:
    uploaded_by: str  # "token:<name>" or "user:<name>"
    branch: str | None = None  # None: what the report says
    commit: str | None = None
    build_id: str | None = None
    full: bool | None = None  # None: what the report says


@dataclass(frozen=True, slots=True)
class IngestResult:
    scan_id: int
    format: str
    branch: str | None
    commit: str | None
    full: bool
    findings: int
    new: int
    unchanged: int
    fixed: int
    reopened: int
    expired_acceptances: int
    duplicates: int
    duration_s: float
    warnings: tuple[str, ...]


def _check_length(name: str, value: str | None, limit: int) -> str | None:
    if value is None or value == "":
        return None
    if len(value) > limit:
        raise BadRequest(f"{name} is longer than {limit} characters", code="invalid_request")
    return _text(value, 0)


def _chunks(values: Sequence[int], size: int = _CHUNK) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def expire_acceptances(conn: Connection, project_id: int, now: dt.datetime) -> int:
    """Reopen the project's accepted findings whose acceptance ended before today (UTC).

    ``accepted_until`` is the last day the acceptance holds.  Returns how many reopened.
    """
    today = now.astimezone(dt.UTC).date()
    rows = conn.execute(
        select(_T_FINDING.c.id, _T_FINDING.c.accepted_until).where(
            _T_FINDING.c.project_id == project_id,
            _T_FINDING.c.status == Status.ACCEPTED.value,
            _T_FINDING.c.accepted_until < today,
        )
    ).all()
    if not rows:
        return 0
    ids = [r.id for r in rows]
    for chunk in _chunks(ids):
        conn.execute(
            update(_T_FINDING)
            .where(_T_FINDING.c.id.in_(chunk))
            .values(
                status=Status.REOPENED.value,
                status_changed_at=now,
                accepted_reason=None,
                accepted_by=None,
                accepted_until=None,
            )
        )
    conn.execute(
        insert(_T_CHANGE),
        [
            {
                "finding_id": r.id,
                "project_id": project_id,
                "at": now,
                "from_status": Status.ACCEPTED.value,
                "to_status": Status.REOPENED.value,
                "actor": "system",
                "reason": f"risk acceptance expired (valid through {r.accepted_until})",
                "scan_id": None,
            }
            for r in rows
        ],
    )
    return len(rows)


def lock_project(conn: Connection, project_id: int) -> None:
    """Serialise lifecycle changes of one project (PostgreSQL row lock; SQLite: the
    transaction already holds the database's write lock)."""
    from turbosec.hub.models import Project

    conn.execute(select(Project.id).where(Project.id == project_id).with_for_update()).first()


def _tool_ran(tool: str, tools_ok: frozenset[str]) -> bool:
    return tool in tools_ok or tool.split(":", 1)[0] in tools_ok


class _Phases:
    """Durations of the steps of one ingest (logged at debug level)."""

    def __init__(self) -> None:
        self._last = time.perf_counter()
        self.spent: dict[str, float] = {}

    def mark(self, name: str) -> None:
        now = time.perf_counter()
        self.spent[name] = now - self._last
        self._last = now

    def __str__(self) -> str:
        return ", ".join(f"{k} {v:.3f}s" for k, v in self.spent.items())


_IDENTIFIER = re.compile(r"^[a-z_]+$")


def _ident(name: str) -> str:
    """A quoted SQL identifier (table and column names are constants of this module)."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not an identifier: {name!r}")
    return f'"{name}"'


class _Bulk:
    """Set-based writes straight through the driver (no per-value ORM/type processing).

    SQLite: ``executemany``; PostgreSQL: ``COPY … FROM STDIN`` for inserts and pipelined
    ``executemany`` for updates.  Values must be ready for the database: JSON as text,
    timestamps via :meth:`ts`.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sqlite = conn.dialect.name == "sqlite"
        self.mark = "?" if self.sqlite else "%s"

    def ts(self, when: dt.datetime) -> Any:
        """A timestamp as :class:`~turbosec.hub.models.UTCDateTime` stores it."""
        utc = when.astimezone(dt.UTC)
        if self.sqlite:  # SQLAlchemy's SQLite DATETIME text format, naive UTC
            return utc.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        return utc

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        table, names = _ident(table), ", ".join(_ident(c) for c in columns)
        if self.sqlite:
            marks = ", ".join([self.mark] * len(columns))
            sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608 - identifiers only
            self.conn.exec_driver_sql(sql, rows)
            return
        driver = self.conn.connection.driver_connection
        assert driver is not None
        with (
            driver.cursor() as cursor,
            cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)

    def update_ids(self, table: str, values: dict[str, Any], ids: Sequence[int]) -> None:
        """``UPDATE table SET values… WHERE id IN ids`` (PostgreSQL: one ``= ANY(array)``)."""
        if not ids:
            return
        names = list(values)
        sets = ", ".join(f"{_ident(c)} = {self.mark}" for c in names)
        params = [values[c] for c in names]
        update = f"UPDATE {_ident(table)} SET {sets}"  # noqa: S608 - identifiers only
        if not self.sqlite:
            self.conn.exec_driver_sql(f"{update} WHERE id = ANY(%s)", (*params, list(ids)))
            return
        for chunk in _chunks(ids, 5000):
            marks = ", ".join("?" * len(chunk))
            self.conn.exec_driver_sql(f"{update} WHERE id IN ({marks})", (*params, *chunk))

    def update(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        """``UPDATE table SET columns… WHERE id = ?`` for each row (values…, id)."""
        if not rows:
            return
        sets = ", ".join(f"{_ident(c)} = {self.mark}" for c in columns)
        sql = f"UPDATE {_ident(table)} SET {sets} WHERE id = {self.mark}"  # noqa: S608 - identifiers only
        self.conn.exec_driver_sql(sql, list(rows))


_FINDING_INSERT = (
    "project_id",
    "fingerprint",
    "status",
    *CONTENT_COLUMNS,
    "content_hash",
    "branch",
    "first_seen_at",
    "last_seen_at",
    "first_scan_id",
    "last_scan_id",
    "status_changed_at",
)
_CHANGE_INSERT = (
    "finding_id",
    "project_id",
    "at",
    "from_status",
    "to_status",
    "actor",
    "reason",
    "scan_id",
)


def _content(row: dict[str, Any]) -> tuple[Any, ...]:
    values: tuple[Any, ...] = row["_values"]
    return values


def ingest(
    engine: Engine,
    project_id: int,
    upload: Upload,
    options: IngestOptions,
    *,
    now: dt.datetime | None = None,
) -> IngestResult:
    """Apply ``upload`` to the project in one transaction; see the module docstring."""
    started = time.perf_counter()
    now = now or utcnow()
    branch = _check_length("branch", options.branch or upload.branch, 255)
    commit = _check_length("commit", options.commit or upload.commit, 64)
    build_id = _check_length("build_id", options.build_id, 255)
    full = upload.full and options.full is not False
    warnings = list(upload.warnings)
    if options.full is True and not upload.full:
        warnings.append("full=true ignored: the report itself is partial")
    rows = upload.rows

    phases = _Phases()
    with gc_paused(), engine.connect() as conn:
        conn.execution_options(**write_options())
        with conn.begin():
            bulk = _Bulk(conn)
            at = bulk.ts(now)
            lock_project(conn, project_id)
            expired = expire_acceptances(conn, project_id, now)
            scan_id: int = conn.execute(
                insert(_T_SCAN)
                .values(
                    project_id=project_id,
                    created_at=now,
                    branch=branch,
                    commit=commit,
                    build_id=build_id,
                    full=full,
                    format=upload.format,
                    tools=upload.tools,
                    report_sha256=upload.sha256,
                    started_at=upload.started_at,
                    finished_at=upload.finished_at,
                    scan_duration_s=upload.duration_s,
                    findings_total=len(rows),
                    new=0,
                    unchanged=0,
                    fixed=0,
                    reopened=0,
                    uploaded_by=options.uploaded_by[:200],
                )
                .returning(_T_SCAN.c.id)
            ).scalar_one()
            actor = f"scan:{scan_id}"
            phases.mark("begin")

            f = _T_FINDING
            existing = {
                r[1]: r
                for r in conn.execute(
                    select(
                        f.c.id, f.c.fingerprint, f.c.status, f.c.content_hash, f.c.branch, f.c.tool
                    ).where(f.c.project_id == project_id)
                )
            }
            new_rows: list[dict[str, Any]] = []
            present: list[int] = []
            changed: list[tuple[Any, ...]] = []
            reopen: list[int] = []
            fixed_status = Status.FIXED.value
            for row in rows:
                known = existing.get(row["fingerprint"])
                if known is None:
                    new_rows.append(row)
                    continue
                present.append(known[0])
                if known[3] != row["content_hash"]:
                    changed.append((*_content(row), row["content_hash"], known[0]))
                if known[2] == fixed_status:
                    reopen.append(known[0])
            fix: list[tuple[int, str]] = []
            if full:
                seen = {row["fingerprint"] for row in rows}
                fix = [
                    (r[0], r[2])
                    for fp, r in existing.items()
                    if r[2] in _ACTIVE
                    and r[4] == branch
                    and fp not in seen
                    and _tool_ran(r[5], upload.tools_ok)
                ]
            del existing

            phases.mark("diff")
            bulk.update_ids(
                "finding", {"last_seen_at": at, "last_scan_id": scan_id, "branch": branch}, present
            )
            phases.mark("refresh")
            bulk.update("finding", (*CONTENT_COLUMNS, "content_hash"), changed)
            bulk.update_ids(
                "finding",
                {"status": Status.REOPENED.value, "status_changed_at": at, "fixed_at": None},
                reopen,
            )
            bulk.update_ids(
                "finding",
                {"status": fixed_status, "status_changed_at": at, "fixed_at": at},
                [i for i, _ in fix],
            )
            phases.mark("update")
            bulk.insert(
                "finding",
                _FINDING_INSERT,
                [
                    (
                        project_id,
                        row["fingerprint"],
                        Status.OPEN.value,
                        *_content(row),
                        row["content_hash"],
                        branch,
                        at,
                        at,
                        scan_id,
                        scan_id,
                        at,
                    )
                    for row in new_rows
                ],
            )
            phases.mark("insert")
            inserted: list[int] = []
            if new_rows:
                inserted = list(
                    conn.execute(
                        select(f.c.id).where(
                            f.c.project_id == project_id, f.c.first_scan_id == scan_id
                        )
                    ).scalars()
                )
            where = f"branch {branch}" if branch is not None else "no branch"
            changes: list[tuple[Any, ...]] = [
                (
                    i,
                    project_id,
                    at,
                    fixed_status,
                    Status.REOPENED.value,
                    actor,
                    f"seen again in scan {scan_id}",
                    scan_id,
                )
                for i in reopen
            ]
            changes += [
                (
                    i,
                    project_id,
                    at,
                    status,
                    fixed_status,
                    actor,
                    f"absent from full scan {scan_id} ({where})",
                    scan_id,
                )
                for i, status in fix
            ]
            reason = f"new in scan {scan_id}"
            changes += [
                (i, project_id, at, None, Status.OPEN.value, actor, reason, scan_id)
                for i in inserted
            ]
            bulk.insert("status_change", _CHANGE_INSERT, changes)
            phases.mark("history")
            duration = upload.read_s + time.perf_counter() - started
            counts = {
                "new": len(new_rows),
                "unchanged": len(present) - len(reopen),
                "fixed": len(fix),
                "reopened": len(reopen),
            }
            conn.execute(
                update(_T_SCAN)
                .where(_T_SCAN.c.id == scan_id)
                .values(ingest_duration_s=round(duration, 3), **counts)
            )
        phases.mark("commit")
    logger.debug("ingest of scan %s: %s", scan_id, phases)
    return IngestResult(
        scan_id=scan_id,
        format=upload.format,
        branch=branch,
        commit=commit,
        full=full,
        findings=len(rows),
        expired_acceptances=expired,
        duplicates=upload.duplicates,
        duration_s=duration,
        warnings=tuple(warnings),
        **counts,
    )
