"""Acting on an alert: run a command, or put the attacking address on a blocklist.

Blocking addresses is powerful and easy to get wrong (blocking your own load balancer locks
everybody out), so the hook is careful by default:

* **dry-run by default**: it logs what it *would* do; ``dry_run=False`` makes it act;
* **an allowlist** of addresses and networks never acted on -- loopback by default; add your
  office, your monitoring, your proxies;
* **only alerts about an address**: the alert's group must have a ``source_ip`` that parses
  as an IPv4 or IPv6 address (IPv4-mapped IPv6 is read as IPv4);
* **once per address per block**: while an address's block is live (``ttl`` seconds) a
  new alert about it does nothing, so an attack that keeps going does not run the command
  again and again.  Dry-run applies the same rule, so it shows exactly what live mode does.

Two modes:

``exec``
    Runs ``command`` (an argument list, no shell) with the alert's JSON on its stdin.  The
    placeholders ``{address}``, ``{rule_id}``, ``{alert_id}`` and ``{ttl}`` in arguments are
    replaced (the address is validated, so it cannot smuggle an option in).  The
    environment is minimal: a fixed ``PATH``, ``LANG`` and ``TURBOSEC_ADDRESS``,
    ``TURBOSEC_RULE_ID``, ``TURBOSEC_ALERT_ID``, ``TURBOSEC_TTL``, ``TURBOSEC_EXPIRES``,
    plus what ``env`` adds -- none of the watcher's own variables (tokens) leak.  Commands
    run one at a time in a background thread (the detection loop never waits for them) in
    their own process group, killed whole after ``timeout`` seconds.
``blocklist``
    Keeps a file of ``ADDRESS EXPIRY RULE_ID`` lines (expiry in ISO 8601 UTC), one per
    address, for a firewall script, ipset or a proxy to read.  Each write drops expired
    entries and replaces the file atomically (temporary file, fsync, rename), under an
    advisory lock so two watchers do not lose each other's entries.  Lines starting with
    ``#`` are kept.  Live entries found at start count as blocks already made.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import queue
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from turbosec.core.errors import TurbosecError
from turbosec.core.event import Alert
from turbosec.core.severity import Severity

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger("turbosec.watch.response")

#: Never acted on unless the allowlist is replaced: the machine itself.
DEFAULT_ALLOWLIST: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
#: The ``PATH`` a command runs with.
SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: Largest blocklist file read (bytes).
MAX_BLOCKLIST_BYTES = 64 * 1024 * 1024
#: Addresses whose block is remembered at most (expired ones are forgotten first).
MAX_ACTIVE = 200_000
#: Bytes of a command's error output kept for the log.
_STDERR_TAIL = 2000
_PLACEHOLDERS = ("{address}", "{rule_id}", "{alert_id}", "{ttl}")

Mode = Literal["exec", "blocklist"]


class ResponseError(TurbosecError):
    """The response hook is misconfigured or cannot write its blocklist."""


@dataclass(frozen=True)
class ResponseConfig:
    """How to respond; see the module documentation.  ``ttl`` and ``timeout`` in seconds."""

    mode: Mode
    command: tuple[str, ...] = ()
    blocklist: Path | None = None
    ttl: float = 3600.0
    timeout: float = 10.0
    dry_run: bool = True
    allowlist: tuple[str, ...] = DEFAULT_ALLOWLIST
    env: Mapping[str, str] = field(default_factory=dict)
    min_severity: Severity = Severity.INFO
    queue_size: int = 1000

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "response") -> ResponseConfig:
        """Read a configuration table (``mode``, ``command``, ``blocklist``, ``ttl``...)."""
        known = {
            "mode",
            "command",
            "blocklist",
            "ttl",
            "timeout",
            "dry_run",
            "allowlist",
            "env",
            "min_severity",
            "queue_size",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise ResponseError(
                f"unknown key {unknown[0]!r}",
                where=where,
                hint="known keys: " + ", ".join(sorted(known)),
            )
        try:
            command = data.get("command") or ()
            if isinstance(command, str):
                raise ResponseError(
                    "command must be a list of arguments, not a string (no shell is used)",
                    where=where,
                    hint='write command = ["/usr/local/bin/block", "{address}"]',
                )
            blocklist = data.get("blocklist")
            return cls(
                mode=data.get("mode", ""),
                command=tuple(str(a) for a in command),
                blocklist=Path(blocklist) if blocklist else None,
                ttl=float(data.get("ttl", 3600.0)),
                timeout=float(data.get("timeout", 10.0)),
                dry_run=bool(data.get("dry_run", True)),
                allowlist=tuple(str(a) for a in data.get("allowlist", DEFAULT_ALLOWLIST)),
                env={str(k): str(v) for k, v in dict(data.get("env") or {}).items()},
                min_severity=Severity.parse(data.get("min_severity", "info")),
                queue_size=int(data.get("queue_size", 1000)),
            )
        except (TypeError, ValueError) as exc:
            raise ResponseError(str(exc), where=where) from None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the hook decided for one alert.

    ``action``: ``blocked`` (written to the blocklist), ``queued`` (command queued),
    ``would_block`` / ``would_exec`` (dry-run), or ``skipped`` (``reason`` says why).
    """

    action: str
    address: str | None
    reason: str = ""
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class ExecResult:
    """How one command run ended."""

    address: str
    alert_id: str
    returncode: int | None
    timed_out: bool = False
    error: str = ""
    stderr_tail: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out and not self.error


@dataclass
class ResponseStats:
    acted: int = 0
    dry_run: int = 0
    allowlisted: int = 0
    no_address: int = 0
    already_active: int = 0
    below_severity: int = 0
    queue_full: int = 0
    failed: int = 0

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def normalise_address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address in ``value`` (``[::1]`` and IPv4-mapped IPv6 accepted), or ``None``."""
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return None
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
    return address


def _expiry_text(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _token(text: str, limit: int = 200) -> str:
    """One whitespace-free, printable field of a blocklist line."""
    cleaned = "".join(ch if ch.isprintable() and not ch.isspace() else "_" for ch in text)
    return cleaned[:limit] or "-"


class ResponseHook:
    """Respond to alerts as :class:`ResponseConfig` says.  Usable as a sink (``emit``)."""

    name = "response"

    def __init__(self, config: ResponseConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.stats = ResponseStats()
        self.results: deque[ExecResult] = deque(maxlen=100)
        self._active: dict[str, float] = {}
        self._networks = self._parse_allowlist(config.allowlist)
        self._argv: tuple[str, ...] = ()
        self._queue: queue.Queue[tuple[list[str], bytes, dict[str, str], str, str] | None]
        self._queue = queue.Queue(maxsize=max(1, config.queue_size))
        self._worker: threading.Thread | None = None
        if config.ttl <= 0:
            raise ResponseError(f"ttl must be positive, got {config.ttl}", where="response")
        if config.mode == "exec":
            self._argv = self._resolve(config.command)
        elif config.mode == "blocklist":
            if config.blocklist is None:
                raise ResponseError(
                    "blocklist mode needs a blocklist file",
                    where="response",
                    hint='set blocklist = "/var/lib/turbosec/blocklist.txt"',
                )
            for address, (until, _rule) in self._read_blocklist()[1].items():
                self._active[address] = until.timestamp()
        else:
            raise ResponseError(
                f"unknown response mode {config.mode!r}",
                where="response",
                hint='use mode = "exec" or mode = "blocklist"',
            )

    # --- configuration ---------------------------------------------------------------

    @staticmethod
    def _parse_allowlist(
        entries: tuple[str, ...],
    ) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                raise ResponseError(
                    f"allowlist entry {entry!r} is not an address or a network",
                    where="response allowlist",
                    hint="write addresses (192.0.2.7) or networks (10.0.0.0/8, 2001:db8::/32)",
                ) from None
        return networks

    @staticmethod
    def _resolve(command: tuple[str, ...]) -> tuple[str, ...]:
        if not command:
            raise ResponseError(
                "exec mode needs a command",
                where="response",
                hint='set command = ["/usr/local/bin/block-address", "{address}"]',
            )
        program = command[0]
        found = shutil.which(program) if os.sep not in program else program
        if found is None or not os.access(found, os.X_OK) or not os.path.isfile(found):
            raise ResponseError(
                f"the command {program!r} is not an executable file",
                where="response command",
                hint="give the program's full path, and make it executable",
            )
        return (os.path.abspath(found), *command[1:])

    def allowlisted(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(
            address.version == network.version and address in network for network in self._networks
        )

    # --- deciding ---------------------------------------------------------------------

    def emit(self, alert: Alert) -> None:
        self.handle(alert)

    def handle(self, alert: Alert) -> Outcome:
        """Decide and act (or, in dry-run, say what would be done) for one alert."""
        config = self.config
        raw = alert.group_dict.get("source_ip")
        if not raw:
            self.stats.no_address += 1
            return Outcome("skipped", None, "the alert's group has no source_ip")
        address = normalise_address(raw)
        if address is None:
            self.stats.no_address += 1
            return Outcome("skipped", None, "source_ip is not an IP address")
        text = str(address)
        if alert.severity < config.min_severity:
            self.stats.below_severity += 1
            return Outcome("skipped", text, f"severity below {config.min_severity.label}")
        if self.allowlisted(address):
            self.stats.allowlisted += 1
            logger.info("response: %s is allowlisted; not acting on %s", text, alert.rule_id)
            return Outcome("skipped", text, "allowlisted")
        now = self.clock()
        live = self._active.get(text)
        if live is not None and live > now:
            self.stats.already_active += 1
            until = datetime.fromtimestamp(live, UTC)
            return Outcome("skipped", text, "already blocked", until)
        until = datetime.fromtimestamp(now + config.ttl, UTC)
        if config.dry_run:
            self._remember(text, now + config.ttl, now)
            self.stats.dry_run += 1
            if config.mode == "exec":
                logger.info(
                    "response (dry-run): would run %s for %s (%s)",
                    " ".join(self._argv_for(alert, text)),
                    text,
                    alert.rule_id,
                )
                return Outcome("would_exec", text, "dry-run", until)
            logger.info(
                "response (dry-run): would block %s until %s in %s (%s)",
                text,
                _expiry_text(until),
                config.blocklist,
                alert.rule_id,
            )
            return Outcome("would_block", text, "dry-run", until)
        if config.mode == "exec":
            return self._queue_exec(alert, text, until, now)
        self._block(text, until, alert.rule_id)
        self._remember(text, now + config.ttl, now)
        self.stats.acted += 1
        logger.info("response: blocked %s until %s (%s)", text, _expiry_text(until), alert.rule_id)
        return Outcome("blocked", text, "", until)

    def _remember(self, address: str, until: float, now: float) -> None:
        self._active[address] = until
        if len(self._active) > MAX_ACTIVE:
            self._active = {a: t for a, t in self._active.items() if t > now}
            while len(self._active) > MAX_ACTIVE:
                del self._active[next(iter(self._active))]

    # --- exec -------------------------------------------------------------------------

    def _argv_for(self, alert: Alert, address: str) -> list[str]:
        values = {
            "{address}": address,
            "{rule_id}": _token(alert.rule_id),
            "{alert_id}": alert.alert_id,
            "{ttl}": str(int(self.config.ttl)),
        }
        argv = [self._argv[0]]
        for arg in self._argv[1:]:
            for placeholder in _PLACEHOLDERS:
                if placeholder in arg:
                    arg = arg.replace(placeholder, values[placeholder])
            argv.append(arg)
        return argv

    def _queue_exec(self, alert: Alert, address: str, until: datetime, now: float) -> Outcome:
        env = {
            "PATH": SAFE_PATH,
            "LANG": "C.UTF-8",
            "TURBOSEC_ADDRESS": address,
            "TURBOSEC_RULE_ID": _token(alert.rule_id),
            "TURBOSEC_ALERT_ID": alert.alert_id,
            "TURBOSEC_TTL": str(int(self.config.ttl)),
            "TURBOSEC_EXPIRES": _expiry_text(until),
        }
        env.update(self.config.env)
        job = (self._argv_for(alert, address), alert.to_json(), env, address, alert.alert_id)
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            self.stats.queue_full += 1
            logger.warning(
                "response: %d commands are waiting already; not running one for %s",
                self._queue.qsize(),
                address,
            )
            return Outcome("skipped", address, "command queue full")
        self._remember(address, now + self.config.ttl, now)
        self.stats.acted += 1
        if self._worker is None:
            self._worker = threading.Thread(
                target=self._work, name="turbosec-response", daemon=True
            )
            self._worker.start()
        return Outcome("queued", address, "", until)

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                result = self._run(*job)
                self.results.append(result)
                if result.ok:
                    logger.info("response: command for %s succeeded", result.address)
                else:
                    self.stats.failed += 1
                    why = result.error or (
                        "timed out" if result.timed_out else f"exit status {result.returncode}"
                    )
                    logger.warning(
                        "response: command for %s failed (%s)%s",
                        result.address,
                        why,
                        f"; its error output ends with: {result.stderr_tail}"
                        if result.stderr_tail
                        else "",
                    )
            finally:
                self._queue.task_done()

    def _run(
        self, argv: list[str], payload: bytes, env: dict[str, str], address: str, alert_id: str
    ) -> ExecResult:
        with tempfile.TemporaryFile() as errors:
            try:
                process = subprocess.Popen(
                    argv,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=errors,
                    env=env,
                    cwd="/",
                    close_fds=True,
                    start_new_session=True,
                )
            except OSError as exc:
                return ExecResult(address, alert_id, None, error=exc.strerror or str(exc))
            timed_out = False
            try:
                process.communicate(payload, timeout=self.config.timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.kill()
                process.wait()
            errors.seek(0, os.SEEK_END)
            size = errors.tell()
            errors.seek(max(0, size - _STDERR_TAIL))
            tail = errors.read().decode("utf-8", "replace").strip()
        return ExecResult(address, alert_id, process.returncode, timed_out, "", tail)

    # --- blocklist --------------------------------------------------------------------

    def _read_blocklist(self) -> tuple[list[str], dict[str, tuple[datetime, str]]]:
        """The comment lines and the live entries of the blocklist file."""
        path = self.config.blocklist
        assert path is not None
        try:
            size = path.stat().st_size
            if size > MAX_BLOCKLIST_BYTES:
                raise ResponseError(
                    f"the blocklist is larger than {MAX_BLOCKLIST_BYTES} bytes",
                    where=f"blocklist {path}",
                    hint="shorten the ttl, or give a new file",
                )
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return [], {}
        except OSError as exc:
            raise ResponseError(
                f"cannot read the blocklist: {exc.strerror}", where=f"blocklist {path}"
            ) from None
        now = self.clock()
        comments: list[str] = []
        entries: dict[str, tuple[datetime, str]] = {}
        skipped = 0
        for line in text.splitlines():
            stripped = line.strip()
            if not stripped:
                continue
            if stripped.startswith("#"):
                comments.append(stripped)
                continue
            parts = stripped.split()
            address = normalise_address(parts[0])
            try:
                until = datetime.fromisoformat(parts[1]) if len(parts) > 1 else None
            except ValueError:
                until = None
            if address is None or until is None or until.tzinfo is None:
                skipped += 1
                continue
            if until.timestamp() > now:
                entries[str(address)] = (until, parts[2] if len(parts) > 2 else "-")
        if skipped:
            logger.warning("blocklist %s: %d unreadable lines dropped", path, skipped)
        return comments, entries

    @contextlib.contextmanager
    def _locked(self) -> Any:
        path = self.config.blocklist
        assert path is not None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(path.with_name(path.name + ".lock"), "a")  # noqa: SIM115
        except OSError as exc:
            raise ResponseError(
                f"cannot lock the blocklist: {exc.strerror}",
                where=f"blocklist {path}",
                hint="check that its folder exists and is writable",
            ) from None
        with handle:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            yield

    def _block(self, address: str, until: datetime, rule_id: str) -> None:
        path = self.config.blocklist
        assert path is not None
        with self._locked():
            comments, entries = self._read_blocklist()
            entries[address] = (until, _token(rule_id))
            self._write_blocklist(comments, entries)

    def prune(self) -> int:
        """Drop expired entries from the blocklist file now; returns how many live ones."""
        if self.config.mode != "blocklist" or self.config.dry_run:
            return 0
        with self._locked():
            comments, entries = self._read_blocklist()
            self._write_blocklist(comments, entries)
        return len(entries)

    def _write_blocklist(
        self, comments: list[str], entries: dict[str, tuple[datetime, str]]
    ) -> None:
        path = self.config.blocklist
        assert path is not None
        lines = [*comments]
        lines.extend(
            f"{address} {_expiry_text(until)} {rule}"
            for address, (until, rule) in sorted(entries.items(), key=lambda item: item[1][0])
        )
        data = ("\n".join(lines) + "\n" if lines else "").encode()
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fchmod(fd, mode)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise ResponseError(
                f"cannot write the blocklist: {exc.strerror}",
                where=f"blocklist {path}",
                hint="check the free space and permissions of its folder",
            ) from None

    # --- sink protocol ----------------------------------------------------------------

    def flush(self) -> None:
        """Nothing buffered: blocklist writes are immediate, commands run in order."""

    def close(self, timeout: float | None = None) -> None:
        """Let queued commands finish (up to ``timeout``, default the command timeout + 5 s)."""
        worker = self._worker
        if worker is None:
            return
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=1.0)
        limit = timeout if timeout is not None else self.config.timeout + 5.0
        worker.join(limit)
        if worker.is_alive():
            logger.warning(
                "response: %d queued commands did not run before shutdown", self._queue.qsize()
            )
        self._worker = None


class Responses:
    """Several hooks acting on the same alerts (a command and a blocklist)."""

    name = "response"

    def __init__(self, hooks: list[ResponseHook]) -> None:
        self.hooks = hooks

    def handle(self, alert: Alert) -> list[Outcome]:
        return [hook.handle(alert) for hook in self.hooks]

    def emit(self, alert: Alert) -> None:
        self.handle(alert)

    def flush(self) -> None:
        for hook in self.hooks:
            hook.flush()

    def close(self) -> None:
        for hook in self.hooks:
            hook.close()


def build_responder(
    *,
    command: str | list[str] | None,
    blocklist: Path | None,
    ttl: float,
    allow: list[str] | tuple[str, ...] = (),
    dry_run: bool = True,
    timeout: float = 10.0,
) -> ResponseHook | Responses | None:
    """The response the command line asks for (``--respond-exec``, ``--blocklist``).

    ``command`` as a string is split like a POSIX shell would (``shlex``), never run by one.
    ``allow`` adds to :data:`DEFAULT_ALLOWLIST`.  ``None`` when no response is asked for.
    """
    allowlist = (*DEFAULT_ALLOWLIST, *allow)
    hooks: list[ResponseHook] = []
    if command is not None:
        try:
            argv = shlex.split(command) if isinstance(command, str) else list(command)
        except ValueError as exc:
            raise ResponseError(
                f"the command cannot be split into arguments: {exc}",
                where="--respond-exec",
                hint="check its quotes",
            ) from None
        config = ResponseConfig(
            mode="exec",
            command=tuple(argv),
            ttl=ttl,
            timeout=timeout,
            dry_run=dry_run,
            allowlist=allowlist,
        )
        hooks.append(ResponseHook(config))
    if blocklist is not None:
        config = ResponseConfig(
            mode="blocklist", blocklist=blocklist, ttl=ttl, dry_run=dry_run, allowlist=allowlist
        )
        hooks.append(ResponseHook(config))
    if not hooks:
        return None
    return hooks[0] if len(hooks) == 1 else Responses(hooks)


__all__ = [
    "DEFAULT_ALLOWLIST",
    "SAFE_PATH",
    "ExecResult",
    "Outcome",
    "ResponseConfig",
    "ResponseError",
    "ResponseHook",
    "ResponseStats",
    "Responses",
    "build_responder",
    "normalise_address",
]
