"""The advisory database: OSV exports downloaded (or imported), checked, and indexed on disk.

A database is a directory::

    <dir>/current                       {"generation": "gen-...", "schema_version": 1}
    <dir>/gen-<UTC time>-<hex>/index.sqlite
    <dir>/.lock                         held by a running 'turbosec db update'

``current`` is replaced atomically (``os.replace``) once a new generation is completely
built, so a reader always sees one whole generation and a failed update leaves the previous
one untouched.  ``index.sqlite`` holds every record (zlib-compressed JSON) and an index
from (ecosystem, canonical package name) to records: opening reads a few rows, and a
lookup decodes only the records of the package asked for.

Archives are never extracted: members are read in memory, one at a time, with the same
safety rules as :func:`turbosec.scan.deps.osv.load_records` (no absolute or ``..`` member
names, per-record and total size caps on declared and actual sizes).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import sqlite3
import threading
import time
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable
from urllib.error import HTTPError, URLError

import orjson
import yaml

from turbosec import __version__
from turbosec.core.errors import TurbosecError
from turbosec.scan.deps.osv import (
    _SAFE_LOADER,
    MAX_FILE_BYTES,
    SUFFIXES,
    Advisory,
    AdvisoryError,
    AdvisoryIndex,
    _Budget,
    _read_capped,
    _safe_member,
    canonical_name,
    load_records,
    parse_advisory,
)

SCHEMA_VERSION = 1
POINTER = "current"
INDEX_FILE = "index.sqlite"
LOCK_FILE = ".lock"

# Caps applied to every archive (module attributes so that a deployment can tune them).
MAX_RECORD_BYTES = MAX_FILE_BYTES  # one uncompressed OSV record
MAX_ARCHIVE_UNCOMPRESSED_BYTES = 8 * 1024**3  # all records of one archive, uncompressed
MAX_MEMBERS = 2_000_000  # entries in one archive (zipfile keeps ~600 bytes per entry)
MAX_POINTER_BYTES = 64 * 1024

NO_DB_HINT = "run 'turbosec db update' or pass --db PATH"
_GEN_RE = re.compile(r"^gen-\d{8}T\d{6}Z-[0-9a-f]{8}$")
_ECOSYSTEM_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 .:_+-]{0,63}$")
_BATCH = 5000
_PROGRESS_BYTES = 64 * 1024 * 1024
_PROGRESS_RECORDS = 50_000
_VERSION_HEX = 16
_CACHE_PACKAGES = 4096  # parsed lookups kept per open database (parsing dominates a lookup)

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sources (
    ecosystem TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    records INTEGER NOT NULL,
    fetched_at TEXT NOT NULL,
    seconds REAL NOT NULL
);
CREATE TABLE advisories (
    rid INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    id TEXT NOT NULL,
    modified TEXT NOT NULL,
    withdrawn TEXT,
    member TEXT NOT NULL,
    record BLOB NOT NULL
);
CREATE TABLE packages (ecosystem TEXT NOT NULL, name TEXT NOT NULL, rid INTEGER NOT NULL);
"""
_INDEXES = (
    "CREATE INDEX packages_by_name ON packages (ecosystem, name, rid)",
    "CREATE INDEX advisories_by_id ON advisories (id)",
)
_LOOKUP = (
    "SELECT a.id, a.source, a.member, a.record FROM packages p "
    "JOIN advisories a ON a.rid = p.rid WHERE p.ecosystem = ? AND p.name = ? ORDER BY p.rid"
)


# ---------------------------------------------------------------- public types


@runtime_checkable
class AdvisorySource(Protocol):
    """Where the dependency audit finds advisories: a built database or plain OSV records."""

    @property
    def description(self) -> str:
        """One line for humans: what the data is, how much, and how old."""
        ...

    @property
    def version(self) -> str:
        """A stable identifier of the data (short hex of a sha256 over the inputs)."""
        ...

    @property
    def updated_at(self) -> datetime | None:
        """When the data was downloaded (UTC); None when unknown (plain records)."""
        ...

    @property
    def ecosystems(self) -> dict[str, int]:
        """Advisory counts per ecosystem."""
        ...

    def lookup(self, ecosystem: str, name: str) -> tuple[Advisory, ...]:
        """Every advisory affecting the package ``name`` of ``ecosystem``."""
        ...


@dataclass(frozen=True, slots=True)
class EcosystemStatus:
    """One ecosystem's archive in a database: where it came from and what it held."""

    ecosystem: str
    records: int
    url: str  # the download address, or the local archive path of an offline import
    sha256: str  # of the archive
    bytes: int  # of the archive
    fetched_at: datetime  # download time; an imported archive's modification time
    seconds: float  # spent fetching and indexing it

    def as_dict(self) -> dict[str, Any]:
        return {
            "ecosystem": self.ecosystem,
            "records": self.records,
            "url": self.url,
            "sha256": self.sha256,
            "bytes": self.bytes,
            "fetched_at": _iso(self.fetched_at),
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True, slots=True)
class DatabaseStatus:
    """What a database directory holds (``exists`` False: no database there yet)."""

    path: Path
    exists: bool
    updated_at: datetime | None = None  # the oldest download of its ecosystems
    built_at: datetime | None = None
    version: str | None = None
    generation: str | None = None
    ecosystems: tuple[EcosystemStatus, ...] = ()
    size_bytes: int = 0  # every file under path

    @property
    def counts(self) -> dict[str, int]:
        return {e.ecosystem: e.records for e in self.ecosystems}

    def age_days(self, now: datetime | None = None) -> float | None:
        """Days since the data was downloaded (None without a database)."""
        if self.updated_at is None:
            return None
        now = now or datetime.now(UTC)
        return (now - self.updated_at).total_seconds() / 86400.0

    def as_dict(self, now: datetime | None = None) -> dict[str, Any]:
        age = self.age_days(now)
        return {
            "path": str(self.path),
            "exists": self.exists,
            "updated_at": _iso(self.updated_at) if self.updated_at else None,
            "built_at": _iso(self.built_at) if self.built_at else None,
            "age_days": round(age, 3) if age is not None else None,
            "version": self.version,
            "generation": self.generation,
            "size_bytes": self.size_bytes,
            "ecosystems": [e.as_dict() for e in self.ecosystems],
        }


def is_stale(status: DatabaseStatus, max_age_days: float, now: datetime | None = None) -> bool:
    """True when there is no database or its data is older than ``max_age_days``."""
    age = status.age_days(now)
    return age is None or age > max_age_days


def default_db_dir() -> Path:
    """``$TURBOSEC_DB_DIR``, else ``$XDG_CACHE_HOME/turbosec/osv``, else ``~/.cache/...``."""
    explicit = os.environ.get("TURBOSEC_DB_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and Path(xdg).is_absolute():  # the XDG spec says to ignore relative values
        return Path(xdg) / "turbosec" / "osv"
    return Path.home() / ".cache" / "turbosec" / "osv"


# ---------------------------------------------------------------- sources


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _describe(kind: str, path: Path, counts: Mapping[str, int], updated: datetime | None) -> str:
    listed = ", ".join(f"{eco}: {n:,} advisories" for eco, n in counts.items()) or "empty"
    when = f"; updated {updated.astimezone(UTC):%Y-%m-%d}" if updated else ""
    return f"{kind} {path} ({listed}{when})"


class RecordsSource:
    """A directory or ``.zip`` of OSV records, loaded in memory."""

    def __init__(self, path: Path, advisories: Sequence[Advisory], version: str) -> None:
        self.path = path
        self._index = AdvisoryIndex(advisories)
        counts: dict[str, int] = {}
        for adv in self._index.advisories:
            for eco in dict.fromkeys(a.ecosystem for a in adv.affected):
                counts[eco] = counts.get(eco, 0) + 1
        self.ecosystems: dict[str, int] = dict(sorted(counts.items()))
        self.version: str = version
        self.updated_at: datetime | None = None
        self.description: str = _describe("OSV records", path, self.ecosystems, None)

    def __len__(self) -> int:
        return len(self._index)

    def lookup(self, ecosystem: str, name: str) -> tuple[Advisory, ...]:
        return self._index.lookup(ecosystem, name)

    def close(self) -> None:
        """Nothing to release (present so every source can be closed alike)."""


class DatabaseSource:
    """A database built by :func:`update`, opened read-only; lookups query its index."""

    def __init__(self, path: Path, generation: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self.generation = generation
        self._conn = conn
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, str], tuple[Advisory, ...]] = OrderedDict()
        self._where = str(generation / INDEX_FILE)
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            rows = conn.execute(
                "SELECT ecosystem, records, url, sha256, bytes, fetched_at, seconds "
                "FROM sources ORDER BY rowid"
            ).fetchall()
        except sqlite3.Error as exc:
            raise self._broken(exc) from exc
        if meta.get("schema_version") != str(SCHEMA_VERSION):
            raise AdvisoryError(
                f"database schema {meta.get('schema_version')!r} is not the supported "
                f"{SCHEMA_VERSION}",
                where=self._where,
                hint="run 'turbosec db update' to rebuild it with this turbosec",
            )
        try:
            self.sources: tuple[EcosystemStatus, ...] = tuple(
                EcosystemStatus(
                    ecosystem=r[0],
                    records=int(r[1]),
                    url=r[2],
                    sha256=r[3],
                    bytes=int(r[4]),
                    fetched_at=_parse_time(r[5]),
                    seconds=float(r[6]),
                )
                for r in rows
            )
            self.built_at: datetime | None = _parse_time(meta["built_at"])
            self.version: str = meta["version"]
        except (KeyError, ValueError, TypeError) as exc:
            raise self._broken(exc) from exc
        self.ecosystems: dict[str, int] = {s.ecosystem: s.records for s in self.sources}
        self.updated_at: datetime | None = (
            min(s.fetched_at for s in self.sources) if self.sources else None
        )
        self.description: str = _describe(
            "turbosec database", path, self.ecosystems, self.updated_at
        )

    def _broken(self, exc: BaseException) -> AdvisoryError:
        return AdvisoryError(
            f"the advisory database is unreadable: {exc}",
            where=self._where,
            hint="run 'turbosec db update' to rebuild it",
        )

    def lookup(self, ecosystem: str, name: str) -> tuple[Advisory, ...]:
        key = (ecosystem.strip().lower(), canonical_name(ecosystem, name))
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
            try:
                rows = self._conn.execute(_LOOKUP, key).fetchall()
            except sqlite3.Error as exc:
                raise self._broken(exc) from exc
        out: list[Advisory] = []
        seen: set[str] = set()
        for ident, source, member, blob in rows:
            if ident in seen:  # one advisory published in two ecosystems' archives
                continue
            seen.add(ident)
            where = f"{self._where}!{source}:{member}"
            try:
                data = orjson.loads(zlib.decompress(blob))
                out.append(parse_advisory(data, source=where))
            except (zlib.error, orjson.JSONDecodeError, ValueError) as exc:
                raise self._broken(exc) from exc
        result = tuple(out)
        with self._lock:
            self._cache[key] = result
            if len(self._cache) > _CACHE_PACKAGES:
                self._cache.popitem(last=False)
        return result

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _read_pointer(db_dir: Path) -> str:
    pointer = db_dir / POINTER
    try:
        with pointer.open("rb") as fh:
            raw = fh.read(MAX_POINTER_BYTES + 1)
        if len(raw) > MAX_POINTER_BYTES:
            raise ValueError("pointer file is too large")
        data = json.loads(raw)
        name = data["generation"] if isinstance(data, dict) else None
    except (OSError, ValueError, KeyError) as exc:
        raise AdvisoryError(
            f"the database pointer is unreadable: {exc}",
            where=str(pointer),
            hint="run 'turbosec db update' to rebuild the database",
        ) from exc
    if not isinstance(name, str) or not _GEN_RE.match(name):
        raise AdvisoryError(
            f"the database pointer names no valid generation ({name!r})",
            where=str(pointer),
            hint="run 'turbosec db update' to rebuild the database",
        )
    return name


def _connect_ro(index: Path) -> sqlite3.Connection:
    # A generation is never written after it is published: immutable skips all locking.
    uri = f"file:{urllib.parse.quote(str(index.resolve()))}?mode=ro&immutable=1"
    return sqlite3.connect(uri, uri=True, check_same_thread=False)


def _open_database(db_dir: Path) -> DatabaseSource:
    for attempt in range(2):
        name = _read_pointer(db_dir)
        generation = db_dir / name
        index = generation / INDEX_FILE
        if not index.is_file():
            if attempt == 0:
                continue  # an update may have just switched generations: read it again
            raise AdvisoryError(
                f"the database pointer names {name}, which has no {INDEX_FILE}",
                where=str(db_dir),
                hint="run 'turbosec db update' to rebuild the database",
            )
        try:
            conn = _connect_ro(index)
        except sqlite3.Error as exc:
            raise AdvisoryError(
                f"cannot open the advisory database: {exc}",
                where=str(index),
                hint="run 'turbosec db update' to rebuild it",
            ) from exc
        try:
            return DatabaseSource(db_dir, generation, conn)
        except BaseException:
            conn.close()
            raise
    raise AssertionError("unreachable")


def _hash_tree(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in SUFFIXES or not path.is_file():
            continue
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.stat().st_size.to_bytes(8, "big"))
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()[:_VERSION_HEX]


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _is_database_dir(path: Path) -> bool:
    return (path / POINTER).exists() or (path / LOCK_FILE).exists()


def open_source(path: Path | None) -> AdvisorySource:
    """Open the advisories to audit against.

    ``None``: the database in :func:`default_db_dir`.  A directory built by :func:`update`:
    that database.  Any other directory, or a ``.zip``: OSV records, loaded in memory.
    """
    if path is None:
        target = default_db_dir()
        if not (target / POINTER).exists():
            raise AdvisoryError(
                "there is no advisory database yet", where=str(target), hint=NO_DB_HINT
            )
        return _open_database(target)
    path = path.expanduser()
    if not path.exists():
        raise AdvisoryError("advisory database not found", where=str(path), hint=NO_DB_HINT)
    if path.is_dir():
        if (path / POINTER).exists():
            return _open_database(path)
        if _is_database_dir(path):
            raise AdvisoryError(
                "this database has no finished generation (its first update failed or is "
                "still running)",
                where=str(path),
                hint=NO_DB_HINT,
            )
        records = load_records(path)
        if not records:
            raise AdvisoryError(
                "the directory holds no OSV records (*.json, *.yaml)",
                where=str(path),
                hint=NO_DB_HINT,
            )
        return RecordsSource(path, records, _hash_tree(path))
    if path.is_file() and path.suffix.lower() == ".zip":
        records = load_records(path)
        if not records:
            raise AdvisoryError(
                "the archive holds no OSV records (*.json, *.yaml)",
                where=str(path),
                hint=NO_DB_HINT,
            )
        return RecordsSource(path, records, _hash_file(path)[0][:_VERSION_HEX])
    raise AdvisoryError(
        "not an advisory database, a directory of OSV records, or a .zip of them",
        where=str(path),
        hint=NO_DB_HINT,
    )


# ---------------------------------------------------------------- status


def _tree_size(path: Path) -> int:
    total = 0
    for entry in path.rglob("*"):
        with contextlib.suppress(OSError):
            if entry.is_file() and not entry.is_symlink():
                total += entry.stat().st_size
    return total


def status(db_dir: Path) -> DatabaseStatus:
    """Describe the database in ``db_dir`` (``exists`` False when there is none)."""
    db_dir = db_dir.expanduser()
    if not (db_dir / POINTER).is_file():
        return DatabaseStatus(path=db_dir, exists=False, size_bytes=0)
    source = _open_database(db_dir)
    try:
        return DatabaseStatus(
            path=db_dir,
            exists=True,
            updated_at=source.updated_at,
            built_at=source.built_at,
            version=source.version,
            generation=source.generation.name,
            ecosystems=source.sources,
            size_bytes=_tree_size(db_dir),
        )
    finally:
        source.close()


# ---------------------------------------------------------------- downloading


class _SafeRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects to http(s) only, and never from https down to http."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        old = urllib.parse.urlsplit(req.full_url).scheme.lower()
        new = urllib.parse.urlsplit(newurl).scheme.lower()
        if new not in ("http", "https") or (old == "https" and new != "https"):
            raise HTTPError(newurl, code, f"refused redirect from {old} to {newurl}", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _download(
    url: str,
    dest: Path,
    *,
    timeout: float,
    max_bytes: int,
    progress: Callable[[str], None] | None,
    label: str,
) -> tuple[str, int]:
    """Stream ``url`` into ``dest`` (new file); return (sha256 hex, bytes)."""
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https", "file"):
        raise AdvisoryError(
            f"unsupported address scheme {scheme or '(none)'!r}",
            where=url,
            hint="use an http(s):// or file:// address in deps.url or --url",
        )
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked just above
        url, headers={"User-Agent": f"turbosec/{__version__}", "Accept": "application/zip, */*"}
    )
    opener = urllib.request.build_opener(_SafeRedirects)
    digest = hashlib.sha256()
    received = 0
    expected: int | None = None
    next_report = _PROGRESS_BYTES
    try:
        with opener.open(request, timeout=timeout) as resp:
            code = getattr(resp, "status", None)
            if scheme in ("http", "https") and code != 200:
                raise AdvisoryError(
                    f"download failed: HTTP {code} (expected 200)",
                    where=url,
                    hint="check the address in deps.url or --url",
                )
            length = resp.headers.get("Content-Length")
            if length is not None:
                if not length.strip().isdigit():
                    raise AdvisoryError(f"invalid Content-Length {length!r}", where=url)
                expected = int(length)
                if expected > max_bytes:
                    raise _too_large(url, expected, max_bytes)
            with dest.open("xb") as out:
                while chunk := resp.read(1 << 20):
                    received += len(chunk)
                    if received > max_bytes:
                        raise _too_large(url, received, max_bytes)
                    digest.update(chunk)
                    out.write(chunk)
                    if progress and received >= next_report:
                        progress(f"{label}: {received / 1e6:,.0f} MB downloaded")
                        next_report += _PROGRESS_BYTES
    except HTTPError as exc:
        exc.close()
        raise AdvisoryError(
            f"download failed: HTTP {exc.code} {exc.reason}",
            where=url,
            hint="check the address in deps.url or --url"
            + (" ({ecosystem} is replaced by the ecosystem name)" if exc.code == 404 else ""),
        ) from exc
    except URLError as exc:
        raise AdvisoryError(
            f"cannot download: {exc.reason}",
            where=url,
            hint="check the network and the address; offline, import an archive with "
            "'turbosec db update --from ECOSYSTEM=PATH'",
        ) from exc
    except TimeoutError as exc:
        raise AdvisoryError(
            f"download stalled: no data for {timeout:g} s",
            where=url,
            hint="try again, or raise --timeout",
        ) from exc
    except (http.client.HTTPException, OSError) as exc:
        raise AdvisoryError(
            f"download failed: {type(exc).__name__}: {exc}",
            where=url,
            hint="try again; offline, import an archive with --from ECOSYSTEM=PATH",
        ) from exc
    if expected is not None and received != expected:
        raise AdvisoryError(
            f"download truncated: received {received:,} of {expected:,} bytes",
            where=url,
            hint="the connection dropped; run 'turbosec db update' again",
        )
    return digest.hexdigest(), received


def _too_large(where: str, size: int, cap: int) -> AdvisoryError:
    return AdvisoryError(
        f"archive is {size:,} bytes, more than the {cap:,}-byte limit",
        where=where,
        hint="check the address; raise the download limit if the OSV export really grew",
    )


# ---------------------------------------------------------------- reading archives


def _decode(raw: bytes, name: str, where: str) -> tuple[Any, Advisory]:
    try:
        text = raw.decode("utf-8")
        if name.lower().endswith(".json"):
            data = json.loads(text)
        else:
            data = yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a SafeLoader
        return data, parse_advisory(data, source=where)
    except (UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError, ValueError) as exc:
        raise AdvisoryError(
            f"malformed OSV record: {exc}",
            where=where,
            hint="the archive is damaged or not an OSV export; check the address",
        ) from exc


def _compact(data: Any, where: str) -> bytes:
    try:
        # YAML timestamps become str(value), exactly what parse_advisory makes of them.
        encoded = orjson.dumps(
            data, default=str, option=orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS
        )
    except (orjson.JSONEncodeError, TypeError) as exc:
        raise AdvisoryError(f"record cannot be stored: {exc}", where=where) from exc
    return zlib.compress(encoded, 6)


def _open_zip(archive: Path, label: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        head = b""
        with contextlib.suppress(OSError), archive.open("rb") as fh:
            head = fh.read(64)
        start = head.decode("latin-1", "replace").strip().splitlines()[:1] if head else []
        seen = f"; it starts with {start[0][:40]!r}" if start else ""
        raise AdvisoryError(
            f"not a zip archive ({exc}){seen}",
            where=label,
            hint="the address must serve an OSV export such as PyPI/all.zip",
        ) from exc


def _records(archive: Path, label: str) -> Iterator[tuple[str, Any, Advisory]]:
    """Every record of a zip: (member name, decoded data, advisory), safely."""
    with _open_zip(archive, label) as zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise AdvisoryError(
                f"archive has {len(infos):,} entries, more than the {MAX_MEMBERS:,} limit",
                where=label,
                hint="this is not an OSV export as published; do not use it",
            )
        for info in infos:  # every name first: nothing is indexed from an unsafe archive
            try:
                _safe_member(info.filename, archive)
            except AdvisoryError as exc:
                raise AdvisoryError(
                    exc.message, where=f"{label}!{info.filename}", hint=exc.hint
                ) from None
        budget = _Budget(MAX_RECORD_BYTES, MAX_ARCHIVE_UNCOMPRESSED_BYTES)
        for info in infos:
            if info.is_dir() or not info.filename.lower().endswith(SUFFIXES):
                continue
            where = f"{label}!{info.filename}"
            budget.take(info.file_size, where)  # declared size
            try:
                with zf.open(info) as fh:
                    raw = _read_capped(fh, MAX_RECORD_BYTES, where)  # actual size
            except (zipfile.BadZipFile, OSError, NotImplementedError, EOFError) as exc:
                raise AdvisoryError(
                    f"cannot read member: {exc}",
                    where=where,
                    hint="the archive is damaged (or forged); download it again",
                ) from exc
            data, adv = _decode(raw, info.filename, where)
            yield info.filename, data, adv


# ---------------------------------------------------------------- building


@dataclass(slots=True)
class _Loaded:
    records: int
    matching: int  # records affecting the ecosystem the archive was fetched for
    others: set[str]
    next_rid: int


def _index_archive(
    conn: sqlite3.Connection,
    ecosystem: str,
    archive: Path,
    label: str,
    first_rid: int,
    progress: Callable[[str], None] | None,
) -> _Loaded:
    eco_key = ecosystem.strip().lower()
    rid = first_rid
    records = matching = 0
    others: set[str] = set()
    adv_rows: list[tuple[int, str, str, str, str | None, str, bytes]] = []
    pkg_rows: list[tuple[str, str, int]] = []

    def flush() -> None:
        conn.executemany("INSERT INTO advisories VALUES (?, ?, ?, ?, ?, ?, ?)", adv_rows)
        conn.executemany("INSERT INTO packages VALUES (?, ?, ?)", pkg_rows)
        adv_rows.clear()
        pkg_rows.clear()

    for member, data, adv in _records(archive, label):
        rid += 1
        records += 1
        blob = _compact(data, f"{label}!{member}")
        adv_rows.append((rid, ecosystem, adv.id, adv.modified, adv.withdrawn, member, blob))
        keys = dict.fromkeys(
            (a.ecosystem.strip().lower(), canonical_name(a.ecosystem, a.name)) for a in adv.affected
        )
        if any(k[0] == eco_key for k in keys):
            matching += 1
        else:
            others.update(a.ecosystem for a in adv.affected)
        pkg_rows.extend((k[0], k[1], rid) for k in keys)
        if len(adv_rows) >= _BATCH:
            flush()
        if progress and records % _PROGRESS_RECORDS == 0:
            progress(f"{ecosystem}: {records:,} records indexed")
    flush()
    return _Loaded(records, matching, others, rid)


def _create_index(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    # Built in a private staging directory and published by renaming: no journal needed.
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-65536")
    conn.executescript(_SCHEMA)
    return conn


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_pointer(db_dir: Path, generation: str) -> None:
    tmp = db_dir / f".current-{secrets.token_hex(4)}.tmp"
    payload = json.dumps({"generation": generation, "schema_version": SCHEMA_VERSION})
    try:
        with tmp.open("x", encoding="utf-8") as fh:
            fh.write(payload + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, db_dir / POINTER)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync(db_dir)


def _ours(name: str) -> bool:
    return (
        name in (POINTER, LOCK_FILE)
        or bool(_GEN_RE.match(name))
        or name.startswith((".tmp-gen-", ".current-"))
    )


def _sweep(db_dir: Path, keep: str | None) -> None:
    """Remove leftovers of failed updates and every generation but ``keep`` (lock held)."""
    for entry in db_dir.iterdir():
        name = entry.name
        if name.startswith(".tmp-gen-") or (_GEN_RE.match(name) and name != keep):
            shutil.rmtree(entry, ignore_errors=True)
        elif name.startswith(".current-"):
            entry.unlink(missing_ok=True)


@contextlib.contextmanager
def _update_lock(db_dir: Path) -> Iterator[None]:
    import fcntl  # POSIX; imported here so that reading a database works everywhere

    path = db_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise TurbosecError(
                "another update is running on this database",
                where=str(db_dir),
                hint="wait for it to finish, then check 'turbosec db status'",
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _check_ecosystems(
    ecosystems: Sequence[str], archives: Mapping[str, Path], url_template: str
) -> list[str]:
    chosen = list(dict.fromkeys(ecosystems))
    if not chosen:
        raise TurbosecError("no ecosystem to update", hint="name one, e.g. --ecosystem PyPI")
    for eco in chosen:
        if not _ECOSYSTEM_RE.match(eco):
            raise TurbosecError(
                f"invalid ecosystem name {eco!r}", hint="use an OSV ecosystem name such as PyPI"
            )
    extra = [eco for eco in archives if eco not in chosen]
    if extra:
        raise TurbosecError(
            f"an archive is given for {', '.join(extra)}, which is not among the ecosystems "
            f"to update ({', '.join(chosen)})",
            hint="add the ecosystem to the update, or drop its archive",
        )
    downloads = [eco for eco in chosen if eco not in archives]
    if len(downloads) > 1 and "{ecosystem}" not in url_template:
        raise TurbosecError(
            f"the address {url_template} has no {{ecosystem}} placeholder, so every "
            "ecosystem would download the same archive",
            hint="write {ecosystem} where the ecosystem name goes, e.g. "
            "https://osv-vulnerabilities.storage.googleapis.com/{ecosystem}/all.zip",
        )
    return chosen


def _check_target(db_dir: Path) -> None:
    if db_dir.exists() and not db_dir.is_dir():
        raise TurbosecError(
            "the database location is a file, not a directory",
            where=str(db_dir),
            hint="pass a directory to --db-dir (it is created when missing)",
        )
    if db_dir.is_dir():
        foreign = sorted(e.name for e in db_dir.iterdir() if not _ours(e.name))
        if foreign:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            raise TurbosecError(
                f"the directory holds other files ({shown}) and is not a turbosec advisory "
                "database",
                where=str(db_dir),
                hint="pass a new or empty directory to --db-dir",
            )


def update(
    db_dir: Path,
    *,
    ecosystems: Sequence[str],
    url_template: str,
    timeout: float = 60,
    max_download_bytes: int = 1_500_000_000,
    archives: Mapping[str, Path] | None = None,
    progress: Callable[[str], None] | None = None,
) -> DatabaseStatus:
    """Fetch (or import) every ecosystem's OSV archive and publish them as one generation.

    ``url_template``'s ``{ecosystem}`` is replaced by each name; ``archives`` maps an
    ecosystem to a local archive used instead of downloading.  ``timeout`` bounds every
    network wait (connect, each read).  Nothing changes for readers unless every ecosystem
    succeeds; on failure the previous database stays current and temporary files are gone.
    """
    archives = dict(archives or {})
    chosen = _check_ecosystems(ecosystems, archives, url_template)
    db_dir = db_dir.expanduser()
    _check_target(db_dir)
    try:
        db_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TurbosecError(
            f"cannot create the database directory: {exc.strerror}",
            where=str(db_dir),
            hint="check the path and permissions, or pass --db-dir",
        ) from exc
    with _update_lock(db_dir):
        try:
            current = _read_pointer(db_dir) if (db_dir / POINTER).exists() else None
        except AdvisoryError:
            current = None  # a damaged pointer: this update replaces it
        _sweep(db_dir, keep=current)
        started = datetime.now(UTC)
        name = f"gen-{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"
        staging = db_dir / f".tmp-{name}"
        final = db_dir / name
        published = False
        try:
            staging.mkdir()
            _build(staging, chosen, archives, url_template, timeout, max_download_bytes, progress)
            os.rename(staging, final)
            _fsync(db_dir)
            _write_pointer(db_dir, name)
            published = True
        except TurbosecError:
            raise
        except sqlite3.Error as exc:
            raise TurbosecError(
                f"cannot write the advisory database: {exc}",
                where=str(db_dir),
                hint="check free disk space and permissions",
            ) from exc
        except OSError as exc:
            raise TurbosecError(
                f"cannot write the advisory database: {exc}",
                where=str(db_dir),
                hint="check free disk space and permissions",
            ) from exc
        finally:
            if not published:
                shutil.rmtree(staging, ignore_errors=True)
                shutil.rmtree(final, ignore_errors=True)
        _sweep(db_dir, keep=name)
    return status(db_dir)


def _build(
    staging: Path,
    chosen: Sequence[str],
    archives: Mapping[str, Path],
    url_template: str,
    timeout: float,
    max_bytes: int,
    progress: Callable[[str], None] | None,
) -> None:
    index_path = staging / INDEX_FILE
    conn = _create_index(index_path)
    try:
        conn.execute("BEGIN")
        rid = 0
        sources: list[tuple[str, str, str, int, int, str, float]] = []
        for eco in chosen:
            t0 = time.monotonic()
            local = archives.get(eco)
            if local is not None:
                archive = Path(local).expanduser().resolve()
                label = str(archive)
                if not archive.is_file():
                    raise AdvisoryError(
                        f"{eco}: archive not found",
                        where=label,
                        hint="pass an OSV export zip, e.g. --from PyPI=/path/to/all.zip",
                    )
                size = archive.stat().st_size
                if size > max_bytes:
                    raise _too_large(label, size, max_bytes)
                if progress:
                    progress(f"{eco}: importing {label}")
                sha, size = _hash_file(archive)
                fetched = datetime.fromtimestamp(archive.stat().st_mtime, UTC)
                downloaded = False
            else:
                label = url_template.replace("{ecosystem}", urllib.parse.quote(eco, safe=":.+"))
                archive = staging / f"download-{len(sources)}.zip"
                if progress:
                    progress(f"{eco}: downloading {label}")
                sha, size = _download(
                    label,
                    archive,
                    timeout=timeout,
                    max_bytes=max_bytes,
                    progress=progress,
                    label=eco,
                )
                fetched = datetime.now(UTC)
                downloaded = True
            loaded = _index_archive(conn, eco, archive, label, rid, progress)
            rid = loaded.next_rid
            if downloaded:
                archive.unlink()  # the records are in the index now: free the space early
            if loaded.records == 0:
                raise AdvisoryError(
                    f"{eco}: the archive holds no OSV records",
                    where=label,
                    hint="check that the address serves an OSV export such as PyPI/all.zip",
                )
            if loaded.matching == 0:
                found = ", ".join(sorted(loaded.others)) or "none"
                raise AdvisoryError(
                    f"{eco}: the archive holds no {eco} advisories (ecosystems found: {found})",
                    where=label,
                    hint="check that each archive belongs to the ecosystem it is given for",
                )
            seconds = time.monotonic() - t0
            sources.append((eco, label, sha, size, loaded.records, _iso(fetched), seconds))
            if progress:
                progress(f"{eco}: {loaded.records:,} records indexed ({seconds:.1f} s)")
        conn.executemany("INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?, ?)", sources)
        version = hashlib.sha256(
            "".join(f"{s[0]}\0{s[2]}\n" for s in sorted(sources)).encode()
        ).hexdigest()[:_VERSION_HEX]
        meta = {
            "schema_version": str(SCHEMA_VERSION),
            "built_at": _iso(datetime.now(UTC)),
            "version": version,
            "turbosec_version": __version__,
        }
        conn.executemany("INSERT INTO meta VALUES (?, ?)", list(meta.items()))
        for statement in _INDEXES:  # after the inserts: one sort instead of B-tree churn
            conn.execute(statement)
        conn.execute("COMMIT")
    finally:
        conn.close()
    _fsync(index_path)
    _fsync(staging)
