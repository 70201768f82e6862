"""Incremental scan cache: a scanner is run only on what changed since the last scan.

Where it lives
    ``<root>/.turbosec/cache/`` by default, or ``--cache-dir DIR`` (so CI can save and
    restore it); ``--no-cache`` neither reads nor writes it.  The directory holds a
    ``CACHEDIR.TAG`` (backup tools skip it; turbosec refuses to write into a non-empty
    directory without one, so ``--cache-dir .`` cannot clobber a repository), a
    ``.gitignore`` containing ``*``, ``tools.json`` and one index file per scanner
    (``bandit.json``, ``semgrep.json``...).  Everything is JSON (orjson); nothing is pickled.

What a result is keyed by
    (scanner name, scanner version, configuration digest, input content digest).

    * The **scanner version** comes from ``tools.json``, keyed by the resolved executable's
      real path, size and ``mtime_ns`` (installing or upgrading a tool rewrites its entry
      point), so a warm run starts no ``--version`` process either.
    * The **configuration digest** covers turbosec's version, the cache format, the
      scanner's ``ScannerConfig`` (except ``enabled``/``optional``/``executable``, which do
      not change results), the content of the files in
      :meth:`~turbosec.scan.base.Scanner.config_files` (semgrep's bundled or configured
      rules, zizmor's ``zizmor.yml``) and of any file named in ``scanners.<name>.args``.
    * **File-scope** scanners (``scope = "file"``: semgrep, bandit, detect-secrets,
      zizmor) have one entry per input file, keyed by its path and the BLAKE2b digest of its
      bytes.  The scanner runs only on the files without a valid entry, through
      :meth:`Target.restricted <turbosec.scan.target.Target.restricted>`.
    * **Project-scope** scanners (checkov, pip-audit) have one entry keyed by the digest of
      all their inputs' ``(path, digest)`` pairs and the exclusions; any change re-runs them.
      Entries of scanners with ``cache_max_age_s`` (pip-audit: its online database learns
      of new advisories without any change here) expire.

Hashing fast
    Each entry also keeps the file's ``(size, mtime_ns, ctime_ns, inode)``.  When the stat
    is unchanged the stored digest is used without reading the file; otherwise the file is
    read and hashed (and a same-content hit refreshes the stored stat).  As in git's "racy"
    rule, a stat is only stored when the file was last changed more than
    :data:`RACY_NS` before the scan started, so a write in the same clock tick as the scan
    cannot hide behind an unchanged stat.  A fresh checkout or a restored cache therefore
    costs one read of every file, never a scanner run.

What is stored
    What the adapter's ``parse()`` produced, after the run's secret scrubbing: findings
    (``Finding.to_dict``) and warnings grouped by file.  Secret values (``Parsed.secrets``)
    are never stored, only how many a file revealed.  A changed file is rescanned by the
    secret scanner too, so secrets it holds are known to redact the run's new findings; a
    secret known only from an unchanged file is not re-learned (that would mean rescanning
    it).  Cached entries that hold a secret revealed later are rewritten scrubbed.
    A file-scope run is not stored when a finding has no location or one outside the files
    scanned, or a warning names no single scanned file; a file whose warning reports a
    timeout or memory exhaustion is not stored; a failed run is never stored.

Trust
    Every entry carries an integrity digest over the format, the key fields, the stat and
    the payload: SHA-256, or HMAC-SHA256 with ``TURBOSEC_CACHE_KEY`` when that variable is
    set (then a cache restored in CI from an untrusted build is rejected).  Corrupt,
    foreign, tampered or old-format data is ignored with one warning line per file and the
    inputs are scanned again; reads are bounded (:data:`MAX_INDEX_BYTES`).  Writes go to a
    temporary file renamed over the old one, so two concurrent runs never leave a torn
    file (the last writer wins).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from turbosec import __version__
from turbosec.core.config import ScannerConfig
from turbosec.core.finding import Finding
from turbosec.core.secrets import scrub, scrub_finding
from turbosec.scan.base import Parsed, Scanner
from turbosec.scan.target import Target

FORMAT = "turbosec.cache/v1"
DEFAULT_DIR = Path(".turbosec") / "cache"
KEY_ENV = "TURBOSEC_CACHE_KEY"
TOOLS_FILE = "tools.json"
TAG_FILE = "CACHEDIR.TAG"
CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by turbosec (incremental scan cache).\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)
#: Largest index file read (a bigger one is ignored with a warning).
MAX_INDEX_BYTES = 256 * 1024 * 1024
MAX_TOOLS_BYTES = 4 * 1024 * 1024
#: A stat is trusted only for files last changed this long before the scan started.
RACY_NS = 2_000_000_000
# Warnings that say the tool gave up on a file for reasons of this machine, not the file.
_VOLATILE = re.compile(r"time(?:d)?[-_ ]?out|out[-_ ]?of[-_ ]?memory", re.IGNORECASE)
# Stands for the repository root in stored payloads (a NUL cannot be part of a path), so
# that a cache restored into a checkout at another place (CI, a --diff-base worktree) serves
# findings whose raw records name the right files.
_ROOT_MARK = "\\u0000root\\u0000/"
_WORD = re.compile(r"[^\s:'\"`()\[\],;]+")

Stat = tuple[int, int, int, int]  # size, mtime_ns, ctime_ns, inode


def default_dir(root: Path) -> Path:
    return root / DEFAULT_DIR


def _canon(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


class FileHasher:
    """Content digests of a target's files, each computed at most once per run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._prefix = os.path.join(root, "")
        self._known: dict[str, tuple[Stat, str]] = {}
        self._lock = threading.Lock()

    def state(
        self, path: str, remembered: tuple[Stat, str] | None
    ) -> tuple[Stat | None, str | None]:
        """``(stat, digest)`` of a file; ``remembered`` is a stored pair for the stat shortcut.

        ``(None, None)`` when the file cannot be read.
        """
        full = self._prefix + path
        try:
            st = os.stat(full)
        except OSError:
            return None, None
        stat: Stat = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        with self._lock:
            known = self._known.get(path)
        if known is not None and known[0] == stat:
            return known
        if remembered is not None and remembered[0] == stat:
            digest: str | None = remembered[1]
        else:
            digest = self._hash(full)
        if digest is None:
            return stat, None
        with self._lock:
            self._known[path] = (stat, digest)
        return stat, digest

    @staticmethod
    def _hash(full: str) -> str | None:
        try:
            with open(full, "rb") as handle:
                return hashlib.file_digest(
                    handle, lambda: hashlib.blake2b(digest_size=32)
                ).hexdigest()
        except OSError:
            return None


@dataclass
class _Entry:
    """One cached result: for a file (file scope) or for all inputs (project scope)."""

    digest: str  # file: content digest; project: digest of the inputs
    stat: Stat | None  # file scope: the file's stat when trusted
    files: dict[str, tuple[Stat, str]]  # project scope: trusted stats of the inputs
    at: int  # when the result was made (seconds since the epoch)
    secrets: int  # how many secret values the scan of this input revealed
    payload: str  # JSON text: {"findings": [...], "warnings": [...]}
    _parsed: tuple[list[Finding], list[str]] | None = None

    def content(self, root: str) -> tuple[list[Finding], list[str]]:
        """Findings and warnings; ``root`` is the JSON-escaped repository root."""
        if self._parsed is None:
            data = orjson.loads(self.payload.replace(_ROOT_MARK, root))
            findings = [Finding.from_dict(f) for f in data["findings"]]
            warnings = [str(w) for w in data["warnings"]]
            self._parsed = (findings, warnings)
        return self._parsed


def _payload(findings: Sequence[Finding], warnings: Sequence[str], root: str) -> str:
    """The stored JSON text, with the repository root (as escaped in JSON) as a token."""
    text = orjson.dumps(
        {"findings": [f.to_dict() for f in findings], "warnings": list(warnings)}
    ).decode("utf-8")
    return text.replace(root, _ROOT_MARK)


def _json_root(root: Path) -> str:
    """The root directory with a trailing slash, as it appears inside a JSON string."""
    return orjson.dumps(root.as_posix().rstrip("/") + "/").decode("utf-8")[1:-1]


@dataclass
class Lookup:
    """What the cache holds for one scanner in this run, and what must be scanned."""

    scanner: str
    scope: Literal["file", "project"]
    version: str | None  # None: not known yet (nothing is looked up; the run scans all)
    config: str
    inputs: tuple[str, ...]
    root: str  # the repository root as escaped in JSON (see _json_root)
    states: dict[str, tuple[Stat | None, str | None]] = field(default_factory=dict)
    hits: dict[str, _Entry] = field(default_factory=dict)  # file scope
    misses: list[str] = field(default_factory=list)  # file scope
    project_key: str | None = None  # project scope: None when an input cannot be read
    project: _Entry | None = None  # project scope: a valid entry for project_key
    dirty: bool = False  # the index must be rewritten (stale stats, problems found)
    # Filled by ScanCache.record after a successful run:
    fresh: _Fresh | None = None

    @property
    def to_scan(self) -> list[str]:
        """The files the scanner must be run on (empty: everything comes from the cache)."""
        if self.scope == "file":
            return self.misses
        return [] if self.project is not None else list(self.inputs)

    @property
    def cached_files(self) -> int:
        if self.scope == "file":
            return len(self.hits)
        return len(self.inputs) if self.project is not None else 0

    def cached(self) -> tuple[list[Finding], list[str]]:
        """Findings and (unprefixed) warnings of the inputs served from the cache."""
        findings: list[Finding] = []
        warnings: list[str] = []
        entries = list(self.hits.values()) if self.scope == "file" else [self.project]
        for entry in entries:
            if entry is not None:
                f, w = entry.content(self.root)
                findings.extend(f)
                warnings.extend(w)
        return findings, warnings


@dataclass
class _Fresh:
    """A successful run's results, waiting for the run's secret scrubbing before storage."""

    scanned: list[str]
    findings: list[Finding]
    warnings: list[str]
    secrets: list[str] = field(repr=False)


class ScanCache:
    """The cache directory of one scan run.  Thread-safe for the runner's scanner threads."""

    def __init__(self, directory: Path, root: Path, *, key: bytes | None = None) -> None:
        self.directory = directory
        self.root = root
        self.key = key
        self.hasher = FileHasher(root)
        self.started_ns = time.time_ns()
        self.warnings: list[str] = []
        self._lock = threading.Lock()
        self._lookups: dict[str, Lookup] = {}
        self._tools: dict[str, Any] | None = None
        self._tools_dirty = False
        self._writable = self._check_directory()

    @classmethod
    def open(cls, directory: Path, root: Path) -> ScanCache:
        secret = os.environ.get(KEY_ENV)
        return cls(directory, root, key=secret.encode("utf-8") if secret else None)

    # ------------------------------------------------------------------ housekeeping
    def warn(self, text: str) -> None:
        with self._lock:
            if text not in self.warnings:
                self.warnings.append(text)

    def _check_directory(self) -> bool:
        d = self.directory
        if not d.exists():
            return True
        if not d.is_dir():
            self.warn(f"cache: {d} is not a directory; scanning without the cache")
            return False
        tag = d / TAG_FILE
        try:
            ours = tag.is_file() and b"turbosec" in _head(tag, 4096)
            empty = not ours and next(d.iterdir(), None) is None
        except OSError as exc:
            self.warn(f"cache: cannot read {d} ({exc.strerror}); scanning without the cache")
            return False
        if not ours and not empty:
            self.warn(
                f"cache: {d} is not a turbosec cache directory (no turbosec {TAG_FILE}) and is "
                "not empty; it is neither read nor written: choose another --cache-dir"
            )
            return False
        return True

    @property
    def usable(self) -> bool:
        return self._writable

    def _mac(self, header: list[Any], payload: str = "") -> str:
        """Integrity digest of an entry: its key fields (a JSON array, so no field can run
        into the next) and its payload."""
        data = _canon(header) + b"\n" + payload.encode("utf-8")
        if self.key:
            return "hmac-sha256:" + hmac.new(self.key, data, hashlib.sha256).hexdigest()
        return "sha256:" + hashlib.sha256(data).hexdigest()

    def _valid(self, stored: Any, header: list[Any], payload: str = "") -> bool:
        return isinstance(stored, str) and hmac.compare_digest(stored, self._mac(header, payload))

    def _read_json(self, path: Path, limit: int) -> Any:
        """The parsed file, None when absent; raises ValueError for unusable content."""
        try:
            with path.open("rb") as handle:
                data = handle.read(limit + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ValueError(f"cannot be read ({exc.strerror})") from exc
        if len(data) > limit:
            raise ValueError(f"is larger than {limit // (1024 * 1024)} MiB")
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"is not valid JSON ({exc})") from exc

    def _write_json(self, name: str, document: Any) -> None:
        d = self.directory
        d.mkdir(parents=True, exist_ok=True)
        for marker, text in ((TAG_FILE, CACHEDIR_TAG), (".gitignore", "*\n")):
            if not (d / marker).exists():
                _atomic_write(d / marker, text.encode("utf-8"))
        _atomic_write(d / name, orjson.dumps(document))

    # ------------------------------------------------------------------ tool versions
    def _load_tools(self) -> dict[str, Any]:
        with self._lock:
            if self._tools is not None:
                return self._tools
        tools: dict[str, Any] = {}
        if self._writable:
            path = self.directory / TOOLS_FILE
            try:
                doc = self._read_json(path, MAX_TOOLS_BYTES)
                if doc is not None:
                    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
                        raise ValueError(f"is not in the {FORMAT} format")
                    if not isinstance(doc.get("tools"), dict):
                        raise ValueError("has no 'tools' object")
                    tools = doc["tools"]
            except ValueError as exc:
                self.warn(f"cache: {path} {exc}; ignored")
                self._tools_dirty = True
        with self._lock:
            if self._tools is None:
                self._tools = tools
            return self._tools

    @staticmethod
    def _identity(executable: str) -> tuple[str, int, int] | None:
        try:
            real = os.path.realpath(executable)
            st = os.stat(real)
        except OSError:
            return None
        return real, st.st_size, st.st_mtime_ns

    def tool_version(self, executable: str) -> str | None:
        """The version remembered for this exact executable file, or None."""
        ident = self._identity(executable)
        if ident is None or not self._writable:
            return None
        real, size, mtime = ident
        entry = self._load_tools().get(real)
        if not isinstance(entry, dict):
            return None
        version = entry.get("version")
        if entry.get("size") != size or entry.get("mtime_ns") != mtime:
            return None
        if not isinstance(version, str) or not self._valid(
            entry.get("mac"), [FORMAT, "tool", real, size, mtime, version]
        ):
            self.warn(
                f"cache: the remembered version of {real} failed the integrity check (corrupt, "
                f"tampered with, or written with another {KEY_ENV}); asking the program again"
            )
            return None
        return version

    def remember_version(self, executable: str, version: str) -> None:
        ident = self._identity(executable)
        if ident is None:
            return
        real, size, mtime = ident
        tools = self._load_tools()
        entry = {
            "size": size,
            "mtime_ns": mtime,
            "version": version,
            "mac": self._mac([FORMAT, "tool", real, size, mtime, version]),
        }
        with self._lock:
            tools[real] = entry
            self._tools_dirty = True

    # ------------------------------------------------------------------ configuration
    def config_digest(self, scanner: Scanner, target: Target, config: ScannerConfig) -> str:
        h = hashlib.sha256()

        def add(*parts: str | bytes) -> None:
            for part in parts:
                data = part.encode("utf-8") if isinstance(part, str) else part
                h.update(len(data).to_bytes(8, "big"))
                h.update(data)

        add(FORMAT, __version__, scanner.name, scanner.scope)
        add(config.model_dump_json(exclude={"enabled", "optional", "executable"}))
        for item in scanner.config_files(target, config):
            add("config-file")
            _digest_tree(item, add)
        for arg in config.args:
            # A file named in the arguments (-c bandit.yaml, --baseline x) shapes the results.
            if not arg or arg.startswith("-") or len(arg) > 4096:
                continue
            candidate = Path(arg) if Path(arg).is_absolute() else target.root / arg
            try:
                is_file = candidate.is_file()
            except (OSError, ValueError):  # ValueError: a NUL byte in the argument
                is_file = False
            if is_file:
                add("arg-file", arg)
                _digest_tree(candidate, add)
        if scanner.scope == "project":
            add("exclude", *target.exclude.patterns)
        return h.hexdigest()

    # ------------------------------------------------------------------ lookups
    def _load_index(
        self, scanner: Scanner, version: str, config: str
    ) -> tuple[dict[str, Any], Any]:
        """``(file entries, project entry)`` of the scanner's index for this key."""
        path = self.directory / f"{scanner.name}.json"
        try:
            doc = self._read_json(path, MAX_INDEX_BYTES)
        except ValueError as exc:
            self.warn(f"cache: {path} {exc}; ignored, {scanner.name} scans everything again")
            return {}, None
        if doc is None:
            return {}, None
        if (
            not isinstance(doc, dict)
            or doc.get("format") != FORMAT
            or doc.get("scanner") != scanner.name
        ):
            found = doc.get("format") if isinstance(doc, dict) else None
            self.warn(
                f"cache: {path} is not a {FORMAT} index of {scanner.name}"
                + (f" (format {str(found)[:40]!r})" if found else "")
                + f"; ignored, {scanner.name} scans everything again"
            )
            return {}, None
        if doc.get("version") != version or doc.get("config") != config:
            return {}, None  # another scanner version or configuration: nothing applies
        files = doc.get("files")
        return (files if isinstance(files, dict) else {}), doc.get("project")

    def lookup(
        self, scanner: Scanner, target: Target, config: ScannerConfig, version: str | None
    ) -> Lookup:
        """Find what the cache holds for ``scanner`` on ``target``; register it for flush().

        With ``version`` None (the tool's version is not known yet) every input is a miss;
        the inputs are still hashed now, before the scanner runs, so that the results can
        be stored once the version is known.
        """
        digest = self.config_digest(scanner, target, config)
        inputs = tuple(scanner.scanned_files(target, config))
        look = Lookup(scanner.name, scanner.scope, version, digest, inputs, _json_root(self.root))
        files: dict[str, Any] = {}
        project: Any = None
        if version is not None and self._writable:
            files, project = self._load_index(scanner, version, digest)
        bad = 0
        max_age = scanner.cache_max_age_s
        now_s = self.started_ns // 1_000_000_000
        if scanner.scope == "file":
            for path in inputs:
                entry: _Entry | None = None
                raw = files.get(path)
                if raw is not None:
                    entry = self._file_entry(look, path, raw)
                    if entry is None:
                        bad += 1
                    elif max_age is not None and now_s - entry.at > max_age:
                        entry = None
                remembered = (entry.stat, entry.digest) if entry and entry.stat else None
                stat, content = self.hasher.state(path, remembered)
                look.states[path] = (stat, content)
                if entry is not None and content is not None and content == entry.digest:
                    look.hits[path] = entry
                    if entry.stat != self._trusted(stat):
                        look.dirty = True  # refresh the stored stat
                else:
                    look.misses.append(path)
        else:
            entry = None
            if project is not None:
                entry = self._project_entry(look, project)
                if entry is None:
                    bad += 1
                elif max_age is not None and now_s - entry.at > max_age:
                    entry = None
            pairs: list[tuple[str, str]] = []
            readable = True
            for path in inputs:
                remembered = entry.files.get(path) if entry is not None else None
                stat, content = self.hasher.state(path, remembered)
                look.states[path] = (stat, content)
                if content is None:
                    readable = False
                else:
                    pairs.append((path, content))
            look.project_key = hashlib.sha256(_canon(pairs)).hexdigest() if readable else None
            if (
                entry is not None
                and look.project_key is not None
                and entry.digest == look.project_key
            ):
                look.project = entry
                if any(
                    entry.files.get(p, (None, None))[0] != self._trusted(look.states[p][0])
                    for p in inputs
                ):
                    look.dirty = True
        if bad:
            look.dirty = True
            self.warn(
                f"cache: {bad} cached result(s) of {scanner.name} failed the integrity check "
                f"(corrupt, tampered with, or written with another {KEY_ENV}); ignored and "
                "scanned again"
            )
        with self._lock:
            self._lookups[scanner.name] = look
        return look

    def _trusted(self, stat: Stat | None) -> Stat | None:
        """The stat, if the file was last changed long enough before the scan started."""
        if stat is None:
            return None
        if max(stat[1], stat[2]) >= self.started_ns - RACY_NS:
            return None
        return stat

    def _file_mac(self, look: Lookup, path: str, e: _Entry) -> str:
        header = [FORMAT, "file", look.scanner, look.version, look.config, path, e.digest]
        return self._mac([*header, e.stat, e.at, e.secrets], e.payload)

    def _project_mac(self, look: Lookup, e: _Entry) -> str:
        files = {p: [*s, d] for p, (s, d) in e.files.items()}
        header = [FORMAT, "project", look.scanner, look.version, look.config, e.digest]
        return self._mac([*header, files, e.at, e.secrets], e.payload)

    def _file_entry(self, look: Lookup, path: str, raw: Any) -> _Entry | None:
        try:
            stat = raw["stat"]
            entry = _Entry(
                digest=str(raw["digest"]),
                stat=_stat(stat) if stat is not None else None,
                files={},
                at=int(raw["at"]),
                secrets=int(raw["secrets"]),
                payload=str(raw["payload"]),
            )
        except (KeyError, TypeError, ValueError):
            return None
        if not isinstance(raw.get("mac"), str) or not hmac.compare_digest(
            raw["mac"], self._file_mac(look, path, entry)
        ):
            return None
        return entry if _loads_ok(entry, look.root) else None

    def _project_entry(self, look: Lookup, raw: Any) -> _Entry | None:
        try:
            files_raw = raw["files"]
            files = {str(p): (_stat(v[:4]), str(v[4])) for p, v in files_raw.items()}
            entry = _Entry(
                digest=str(raw["inputs"]),
                stat=None,
                files=files,
                at=int(raw["at"]),
                secrets=int(raw["secrets"]),
                payload=str(raw["payload"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            return None
        if not isinstance(raw.get("mac"), str) or not hmac.compare_digest(
            raw["mac"], self._project_mac(look, entry)
        ):
            return None
        return entry if _loads_ok(entry, look.root) else None

    # ------------------------------------------------------------------ storing
    def record(self, look: Lookup, parsed: Parsed) -> None:
        """Keep a successful run's results (on ``look.to_scan``) until :meth:`flush`."""
        look.fresh = _Fresh(
            scanned=list(look.to_scan),
            findings=list(parsed.findings),
            warnings=list(parsed.warnings),
            secrets=[s for s in parsed.secrets if s],
        )

    def flush(self, secrets: Sequence[str] = ()) -> None:
        """Write every index that changed; ``secrets`` are all values revealed in the run."""
        known = sorted({s for s in secrets if s}, key=len, reverse=True)
        with self._lock:
            lookups = list(self._lookups.values())
        if not self._writable:
            return
        try:
            for look in lookups:
                if look.version is None:
                    continue  # the version stayed unknown: results cannot be keyed
                document = self._index_document(look, known)
                if document is not None:
                    self._write_json(f"{look.scanner}.json", document)
            if self._tools_dirty and self._tools is not None:
                # Programs that are gone (an uninstalled tool environment) are forgotten.
                tools = {p: e for p, e in self._tools.items() if os.path.exists(p)}
                self._write_json(TOOLS_FILE, {"format": FORMAT, "tools": tools})
        except OSError as exc:
            self.warn(
                f"cache: cannot write to {self.directory} ({exc.strerror or exc}); "
                "the next run scans these files again"
            )

    def _index_document(self, look: Lookup, known: list[str]) -> dict[str, Any] | None:
        now_s = self.started_ns // 1_000_000_000
        dirty = look.dirty
        escaped = [orjson.dumps(s).decode("utf-8")[1:-1] for s in known]

        def rescrub(entry: _Entry) -> _Entry:
            nonlocal dirty
            if escaped and any(e in entry.payload for e in escaped):
                findings, warnings = entry.content(look.root)
                entry.payload = _payload(
                    [scrub_finding(f, known) for f in findings],
                    [scrub(w, known) for w in warnings],
                    look.root,
                )
                entry._parsed = None
                dirty = True
            return entry

        fresh = look.fresh
        files_out: dict[str, Any] = {}
        project_out: dict[str, Any] | None = None
        if look.scope == "file":
            kept: dict[str, _Entry] = {p: rescrub(e) for p, e in look.hits.items()}
            if fresh is not None:
                kept.update(self._fresh_file_entries(look, fresh, known, now_s))
                dirty = True
            for path, entry in sorted(kept.items()):
                entry.stat = self._trusted(look.states.get(path, (None, None))[0])
                files_out[path] = {
                    "digest": entry.digest,
                    "stat": list(entry.stat) if entry.stat else None,
                    "at": entry.at,
                    "secrets": entry.secrets,
                    "payload": entry.payload,
                    "mac": self._file_mac(look, path, entry),
                }
        else:
            project: _Entry | None = rescrub(look.project) if look.project is not None else None
            if fresh is not None and look.project_key is not None:
                findings = [scrub_finding(f, known) for f in fresh.findings]
                try:
                    payload = _payload(
                        findings, [scrub(w, known) for w in fresh.warnings], look.root
                    )
                except (TypeError, orjson.JSONEncodeError):
                    payload = None
                project = (
                    _Entry(look.project_key, None, {}, now_s, len(fresh.secrets), payload)
                    if payload is not None
                    else None
                )
                dirty = True
            if project is not None:
                project.files = {}
                for path in look.inputs:
                    stat, content = look.states.get(path, (None, None))
                    trusted = self._trusted(stat)
                    if trusted is not None and content is not None:
                        project.files[path] = (trusted, content)
                project_out = {
                    "inputs": project.digest,
                    "files": {p: [*s, d] for p, (s, d) in project.files.items()},
                    "at": project.at,
                    "secrets": project.secrets,
                    "payload": project.payload,
                    "mac": self._project_mac(look, project),
                }
        if not dirty:
            return None
        return {
            "format": FORMAT,
            "scanner": look.scanner,
            "scope": look.scope,
            "version": look.version,
            "config": look.config,
            "files": files_out,
            "project": project_out,
        }

    def _fresh_file_entries(
        self, look: Lookup, fresh: _Fresh, known: list[str], now_s: int
    ) -> dict[str, _Entry]:
        scanned = set(fresh.scanned)
        by_path: dict[str, list[Finding]] = defaultdict(list)
        for finding in fresh.findings:
            loc = finding.location
            if loc is None or loc.path not in scanned:
                return {}  # a result no single scanned file explains: store nothing
            by_path[loc.path].append(scrub_finding(finding, known))
        warned: dict[str, list[str]] = defaultdict(list)
        for warning in fresh.warnings:
            named = {t for t in _WORD.findall(warning) if t in scanned}
            if len(named) != 1:
                return {}
            warned[named.pop()].append(scrub(warning, known))
        revealed = self._attribute_secrets(fresh)
        if revealed is None:
            return {}
        out: dict[str, _Entry] = {}
        for path in fresh.scanned:
            content = look.states.get(path, (None, None))[1]
            if content is None or any(_VOLATILE.search(w) for w in warned.get(path, ())):
                continue
            try:
                payload = _payload(by_path.get(path, []), warned.get(path, []), look.root)
            except (TypeError, orjson.JSONEncodeError):
                continue
            out[path] = _Entry(content, None, {}, now_s, revealed.get(path, 0), payload)
        return out

    def _attribute_secrets(self, fresh: _Fresh) -> dict[str, int] | None:
        """How many of the run's revealed secrets each scanned file holds (None: unknown)."""
        if not fresh.secrets:
            return {}
        counts: dict[str, int] = {}
        wanted = [s.encode("utf-8") for s in fresh.secrets]
        found: set[bytes] = set()
        for path in fresh.scanned:
            try:
                data = (self.root / path).read_bytes()
            except OSError:
                continue
            hits = [w for w in wanted if w in data]
            if hits:
                counts[path] = len(hits)
                found.update(hits)
        return counts if len(found) == len(set(wanted)) else None


def _head(path: Path, limit: int) -> bytes:
    with path.open("rb") as handle:
        return handle.read(limit)


def _stat(value: Any) -> Stat:
    if not isinstance(value, list | tuple) or len(value) != 4:
        raise ValueError("a stat is four integers")
    a, b, c, d = (int(v) for v in value)
    return (a, b, c, d)


def _loads_ok(entry: _Entry, root: str) -> bool:
    try:
        entry.content(root)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return False
    return True


def _digest_tree(item: Path, add: Any) -> None:
    """Feed the names and contents of a file, or of every file below a directory."""
    try:
        if item.is_dir():
            for path in sorted(
                p for p in item.rglob("*") if p.is_file() and "__pycache__" not in p.parts
            ):
                add(path.relative_to(item).as_posix(), _file_digest(path))
        elif item.is_file():
            add(item.name, _file_digest(item))
        else:
            add("missing", str(item))
    except OSError as exc:
        add("unreadable", str(item), str(exc))


def _file_digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, lambda: hashlib.blake2b(digest_size=32)).hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cache_excludes(directory: Path, root: Path) -> Iterable[str]:
    """An exclusion pattern for the cache directory when it lies inside the scanned tree.

    None for the default place: ``.turbosec/`` is never walked and the cache's own
    ``.gitignore`` keeps it out of ``git ls-files`` (and an extra pattern would change the
    exclusions, part of whole-project scanners' keys, between a scan of the working tree
    and one of a ``--diff-base`` worktree).
    """
    try:
        rel = directory.resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError):
        return ()
    if rel in ("", ".") or rel.split("/", 1)[0] == DEFAULT_DIR.parts[0]:
        return ()
    return ("/" + rel,)
