"""Alerts POSTed as JSON to a webhook, never lost while the receiver is down.

Design: **write-ahead spool, background delivery**.  :meth:`WebhookSink.emit` formats the
alert and writes it as one file into a spool folder (``00000000000000000042-<alert id>.json``,
written under a temporary name and renamed, so a reader never sees half a file) and returns:
the detection loop never waits on the network.  One background thread delivers the spool's
files oldest first and deletes each once the receiver answered 2xx.  This gives, with one
mechanism:

* **order**: one sender, strictly by sequence number; a failing alert blocks the ones after
  it (head-of-line), so a receiver that comes back gets every alert in the order raised;
* **restarts**: what was not delivered is still in the folder and goes out when the watcher
  starts again (the sequence continues after the highest number found);
* **a receiver that is down**: connection errors, timeouts, 5xx, 408, 425 and 429 are retried
  with exponential back-off and jitter (``Retry-After`` honoured, bounded), forever -- the
  spool is the buffer.  Other 4xx answers are final: the alert is dropped, counted and
  logged (a receiver that refuses a payload will refuse it again);
* **bounded disk**: at most ``spool_max_files`` alerts and ``spool_max_bytes`` bytes; beyond,
  the oldest are deleted, counted in :attr:`WebhookStats.dropped` and a warning is logged.

Delivery is at least once: if the receiver stored an alert but its answer was lost, the alert
is sent again.  Each request carries the alert id in ``Idempotency-Key`` and
``X-Turbosec-Alert-Id`` (and the body), so a receiver can discard a repeat.

A spool folder belongs to one process at a time (an advisory lock); it is chosen per URL
under the state folder, so the same URL always finds its spool again.

URLs: http and https only; ``user:password@`` becomes a Basic ``Authorization`` header.
Redirects: 307 and 308 are followed (up to three, method and body kept, credentials only to
the same origin); https to http is refused; 301/302/303 are refused because urllib would
turn the POST into a GET.  No message ever shows a URL's user info, path or query -- where
webhook secrets live -- only ``scheme://host:port/…``.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import http.client
import logging
import os
import random
import re
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import IO, Any

import orjson

from turbosec import __version__
from turbosec.core.event import Alert
from turbosec.watch.sinks.base import (
    SinkError,
    SinkOptions,
    check_url,
    redact_url,
    spool_dir_for,
)

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger("turbosec.watch.sinks")

_SPOOL_NAME = re.compile(r"^(\d{20})-([0-9a-f]{1,64})\.json$")
#: Bytes of a receiver's answer read (and ignored) at most.
_ANSWER_LIMIT = 64 * 1024
#: Seconds between two "spool full" warnings.
_WARN_EVERY = 60.0
#: Headers sent to another origin after a redirect (all others stay with the first origin).
_CROSS_ORIGIN_HEADERS = frozenset(
    {"content-type", "user-agent", "idempotency-key", "x-turbosec-alert-id"}
)


@dataclass
class WebhookStats:
    """What a webhook sink did.  ``spooled`` is how many alerts wait in the spool now."""

    emitted: int = 0
    delivered: int = 0
    retries: int = 0
    dropped: int = 0
    rejected: int = 0
    spooled: int = 0
    last_error: str | None = None
    last_retry_after: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "emitted": self.emitted,
            "delivered": self.delivered,
            "retries": self.retries,
            "dropped": self.dropped,
            "rejected": self.rejected,
            "spooled": self.spooled,
            "last_error": self.last_error,
            "last_retry_after": self.last_retry_after,
        }


@dataclass(frozen=True, slots=True)
class _Entry:
    seq: int
    alert_id: str
    size: int

    @property
    def filename(self) -> str:
        return f"{self.seq:020d}-{self.alert_id}.json"


class Spool:
    """Alert payloads in a folder, one file each, in sequence order, bounded.

    Not thread-safe: the sink calls it under its own lock.  Holds an advisory lock on
    ``.lock`` in the folder while open, so two processes never share one spool.
    """

    def __init__(self, directory: Path, *, max_files: int, max_bytes: int, label: str) -> None:
        self.directory = Path(directory)
        self.max_files = max(1, max_files)
        self.max_bytes = max(1, max_bytes)
        self.label = label
        self.entries: deque[_Entry] = deque()
        self.bytes = 0
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._lock = self._acquire()
            self._load()
        except OSError as exc:
            raise SinkError(
                f"cannot use the spool folder: {exc.strerror}",
                where=f"{label} spool {self.directory}",
                hint="check that the state folder is writable (or choose another one)",
            ) from None
        self.next_seq = self.entries[-1].seq + 1 if self.entries else 1

    def _acquire(self) -> IO[str] | None:
        handle = open(self.directory / ".lock", "a+", encoding="utf-8")  # noqa: SIM115
        if fcntl is None:  # pragma: no cover - not POSIX
            return handle
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            owner = handle.read(32).strip()
            handle.close()
            raise SinkError(
                "the spool folder is in use by another process"
                + (f" (pid {owner})" if owner.isdigit() else ""),
                where=f"{self.label} spool {self.directory}",
                hint="run one watcher per webhook, or give each its own state folder",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        return handle

    def _load(self) -> None:
        found: list[_Entry] = []
        with os.scandir(self.directory) as entries:
            for entry in entries:
                if entry.name.startswith(".tmp-"):
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)  # written by a run that died mid-write
                    continue
                match = _SPOOL_NAME.match(entry.name)
                if match is None:
                    continue
                try:
                    size = entry.stat().st_size
                except OSError:
                    continue
                found.append(_Entry(int(match.group(1)), match.group(2), size))
        found.sort(key=lambda e: e.seq)
        self.entries.extend(found)
        self.bytes = sum(e.size for e in found)

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, body: bytes, alert_id: str, *, keep: int | None = None) -> int:
        """Store one payload; returns how many old ones were dropped to stay in bounds."""
        if not re.fullmatch(r"[0-9a-f]{1,64}", alert_id):
            alert_id = "0"
        entry = _Entry(self.next_seq, alert_id, len(body))
        self.next_seq += 1
        tmp = self.directory / f".tmp-{entry.seq}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_TRUNC, 0o600)
        try:
            view = memoryview(body)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(tmp, self.directory / entry.filename)
        self.entries.append(entry)
        self.bytes += entry.size
        return self.trim(keep=keep)

    def trim(self, *, keep: int | None = None) -> int:
        """Drop the oldest payloads (not ``keep``, the one being sent) beyond the bounds."""
        dropped = 0
        while self.entries and (len(self.entries) > self.max_files or self.bytes > self.max_bytes):
            index = 0
            if self.entries[0].seq == keep:
                if len(self.entries) == 1:
                    break
                index = 1
            entry = self.entries[index]
            del self.entries[index]
            self._unlink(entry)
            dropped += 1
        return dropped

    def head(self) -> _Entry | None:
        return self.entries[0] if self.entries else None

    def read(self, entry: _Entry) -> bytes | None:
        try:
            return (self.directory / entry.filename).read_bytes()
        except FileNotFoundError:
            return None

    def remove(self, entry: _Entry) -> None:
        try:
            self.entries.remove(entry)
        except ValueError:
            return  # dropped meanwhile
        self._unlink(entry)

    def _unlink(self, entry: _Entry) -> None:
        self.bytes -= entry.size
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.directory / entry.filename)

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None


class _RedirectRefused(Exception):
    """A redirect the sink does not follow; final for the alert."""


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follow 307/308 only, keep the POST and its body, never downgrade https to http."""

    max_redirections = 3

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        reason = redirect_refusal(req.full_url, newurl, code)
        if reason is not None:
            fp.close()
            raise _RedirectRefused(reason)
        old = urllib.parse.urlsplit(req.full_url)
        new = urllib.parse.urlsplit(newurl)
        same_origin = (old.scheme, old.hostname, old.port) == (new.scheme, new.hostname, new.port)
        kept = {
            name: value
            for name, value in req.header_items()
            if same_origin or name.lower() in _CROSS_ORIGIN_HEADERS
        }
        # the scheme was checked above: http or https only
        return urllib.request.Request(newurl, data=req.data, headers=kept, method="POST")  # noqa: S310


def redirect_refusal(old_url: str, new_url: str, code: int) -> str | None:
    """Why a redirect from ``old_url`` to ``new_url`` is not followed (``None``: follow)."""
    old = urllib.parse.urlsplit(old_url)
    new = urllib.parse.urlsplit(new_url)
    if new.scheme not in ("http", "https"):
        return f"the receiver redirects ({code}) to a non-HTTP URL; refused"
    if old.scheme == "https" and new.scheme == "http":
        return f"the receiver redirects ({code}) from https to http; refused"
    if code not in (307, 308):
        return (
            f"the receiver redirects ({code}) to {redact_url(new_url)}, which would turn the "
            "POST into a GET; configure the URL it redirects to"
        )
    return None


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delay-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else time.time()
    return max(0.0, when.timestamp() - current)


@dataclass(frozen=True, slots=True)
class _Result:
    ok: bool = False
    final: bool = False
    reason: str = ""
    retry_after: float | None = None


class WebhookSink:
    """POST each alert's JSON (:meth:`Alert.to_dict`) to ``url``; see the module docs."""

    name = "webhook"
    kind = "webhook"

    def __init__(self, url: str, *, options: SinkOptions | None = None) -> None:
        opts = options or SinkOptions()
        parts = check_url(url, kind=self.kind)
        self.options = opts
        self.display = redact_url(url)
        self._secrets = [s for s in (url, parts.path, parts.query, parts.password) if s]
        netloc = parts.hostname or ""
        if ":" in netloc:
            netloc = f"[{netloc}]"
        if parts.port:
            netloc += f":{parts.port}"
        self._url = urllib.parse.urlunsplit(
            (parts.scheme, netloc, parts.path or "/", parts.query, "")
        )
        self._headers = {
            "Content-Type": "application/json",
            "User-Agent": f"turbosec/{__version__}",
        }
        if parts.username is not None or parts.password is not None:
            user = urllib.parse.unquote(parts.username or "")
            password = urllib.parse.unquote(parts.password or "")
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
        self._headers.update(opts.headers)
        self._opener = urllib.request.build_opener(
            _Redirects(), urllib.request.HTTPSHandler(context=ssl.create_default_context())
        )
        self.stats = WebhookStats()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._closed = False
        self._failing = False
        self._inflight: int | None = None
        self._last_drop_warning = 0.0
        self.spool = Spool(
            spool_dir_for(self.kind, url, opts),
            max_files=opts.spool_max_files,
            max_bytes=opts.spool_max_bytes,
            label=f"{self.kind} {self.display}",
        )
        dropped = self.spool.trim()
        self.stats.spooled = len(self.spool)
        if dropped:
            self._dropped(dropped)
        if self.stats.spooled:
            logger.info(
                "%s %s: %d alerts left in the spool by an earlier run will be delivered first",
                self.kind,
                self.display,
                self.stats.spooled,
            )
        self._thread = threading.Thread(target=self._run, name=f"turbosec-{self.kind}", daemon=True)
        self._thread.start()

    # --- the detection loop's side ------------------------------------------------------

    def payload(self, alert: Alert) -> dict[str, Any]:
        """The JSON body for one alert."""
        return alert.to_dict()

    def emit(self, alert: Alert) -> None:
        body = orjson.dumps(self.payload(alert))
        with self._cond:
            if self._closed:
                raise SinkError("the sink is closed", where=f"{self.kind} sink {self.display}")
            try:
                dropped = self.spool.add(body, alert.alert_id, keep=self._inflight)
            except OSError as exc:
                raise SinkError(
                    f"cannot write the alert to the spool: {exc.strerror}",
                    where=f"{self.kind} spool {self.spool.directory}",
                    hint="check the free space and permissions of the state folder",
                ) from None
            self.stats.emitted += 1
            self.stats.spooled = len(self.spool)
            self._cond.notify_all()
        if dropped:
            self._dropped(dropped)

    def _dropped(self, count: int) -> None:
        self.stats.dropped += count
        now = time.monotonic()
        if now - self._last_drop_warning >= _WARN_EVERY or self._last_drop_warning == 0.0:
            self._last_drop_warning = now
            logger.warning(
                "%s %s: the spool is full (%d alerts, %d bytes at most); dropped the oldest "
                "(%d dropped so far); the receiver has been unreachable for too long",
                self.kind,
                self.display,
                self.spool.max_files,
                self.spool.max_bytes,
                self.stats.dropped,
            )

    def flush(self) -> None:
        """Nothing to do: every emitted alert is already in the spool on disk."""
        with self._cond:
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until the spool is empty (every alert delivered or dropped); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.spool) or self._inflight is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def close(self) -> None:
        """Deliver what the receiver takes within ``close_timeout``; the rest stays spooled."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            deadline = time.monotonic() + self.options.close_timeout
            while len(self.spool) and not self._failing:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            self._stop.set()
            self._cond.notify_all()
        self._thread.join(timeout=self.options.timeout + 1.0)
        with self._cond:
            left = len(self.spool)
            self.spool.close()
        if left:
            logger.warning(
                "%s %s: %d undelivered alerts stay in %s; they are sent when the watcher "
                "starts again",
                self.kind,
                self.display,
                left,
                self.spool.directory,
            )

    # --- the delivery thread ----------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._deliver_all()
                return
            except Exception:  # a bug or a broken spool folder must not end delivery for good
                logger.exception("%s %s: delivery thread error; retrying", self.kind, self.display)
                with self._cond:
                    self._inflight = None
                    self._failing = True
                    self._cond.notify_all()
                self._stop.wait(self.options.backoff_max)

    def _deliver_all(self) -> None:
        attempt = 0
        while True:
            with self._cond:
                while not self._stop.is_set() and self.spool.head() is None:
                    self._cond.wait()
                if self._stop.is_set():
                    return
                entry = self.spool.head()
                assert entry is not None
                self._inflight = entry.seq
                body = self.spool.read(entry)
            if body is None:
                with self._cond:
                    self.spool.remove(entry)
                    self._inflight = None
                continue
            result = self._post(body, entry.alert_id)
            with self._cond:
                self._inflight = None
                if result.ok or result.final:
                    self.spool.remove(entry)
                    self.stats.spooled = len(self.spool)
                    if result.ok:
                        self.stats.delivered += 1
                        if self._failing:
                            logger.warning(
                                "%s %s: the receiver answers again; delivering %d spooled alerts",
                                self.kind,
                                self.display,
                                len(self.spool),
                            )
                    else:
                        self.stats.rejected += 1
                        self.stats.last_error = result.reason
                        logger.warning(
                            "%s %s: alert %s dropped: %s",
                            self.kind,
                            self.display,
                            entry.alert_id,
                            result.reason,
                        )
                    self._failing = False
                    attempt = 0
                    self._cond.notify_all()
                    continue
                attempt += 1
                self.stats.retries += 1
                self.stats.last_error = result.reason
                self.stats.last_retry_after = result.retry_after
                if not self._failing:
                    logger.warning(
                        "%s %s: delivery failed (%s); alerts are kept in %s and retried",
                        self.kind,
                        self.display,
                        result.reason,
                        self.spool.directory,
                    )
                self._failing = True
                self._cond.notify_all()
            self._stop.wait(self._delay(attempt, result.retry_after))

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential back-off with jitter; at least what ``Retry-After`` asked (bounded)."""
        opts = self.options
        ceiling = min(opts.backoff_max, opts.backoff_initial * (2 ** min(attempt - 1, 30)))
        # jitter spreads retries of many watchers; not a security use of randomness
        delay = random.uniform(ceiling / 2, ceiling)  # noqa: S311
        if retry_after is not None:
            delay = max(delay, min(retry_after, opts.retry_after_max))
        return delay

    def _headers_for(self, alert_id: str) -> dict[str, str]:
        headers = dict(self._headers)
        headers["Idempotency-Key"] = alert_id
        headers["X-Turbosec-Alert-Id"] = alert_id
        return headers

    def _post(self, body: bytes, alert_id: str) -> _Result:
        # check_url admitted http and https only
        request = urllib.request.Request(  # noqa: S310
            self._url, data=body, headers=self._headers_for(alert_id), method="POST"
        )
        try:
            with self._opener.open(request, timeout=self.options.timeout) as answer:
                answer.read(_ANSWER_LIMIT)
            return _Result(ok=True)
        except urllib.error.HTTPError as exc:
            code = exc.code
            retry_after = parse_retry_after(exc.headers.get("Retry-After") if exc.headers else None)
            exc.close()
            if code >= 500 or code in (408, 425, 429):
                return _Result(reason=f"HTTP {code}", retry_after=retry_after)
            if 300 <= code < 400:
                return _Result(final=True, reason=f"HTTP {code}: too many redirects")
            return _Result(final=True, reason=f"the receiver refused it with HTTP {code}")
        except _RedirectRefused as exc:
            return _Result(final=True, reason=self._scrub(str(exc)))
        except urllib.error.URLError as exc:
            return _Result(reason=self._scrub(_describe(exc.reason)))
        except (OSError, http.client.HTTPException, ValueError) as exc:
            return _Result(reason=self._scrub(_describe(exc)))

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            if len(secret) > 1:
                text = text.replace(secret, "…")
        return text[:300]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.display}>"


def _describe(reason: object) -> str:
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    if isinstance(reason, BaseException):
        return f"{type(reason).__name__}: {reason}"
    return str(reason)


__all__ = [
    "Spool",
    "WebhookSink",
    "WebhookStats",
    "parse_retry_after",
    "redirect_refusal",
]
