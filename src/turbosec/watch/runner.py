"""Runs the watcher: sources -> parser -> engine -> sinks and response, with checkpoints.

Two ways to run the rules over logs:

* :class:`Runner` -- the live watcher behind ``turbosec watch``.  It follows files (through
  rotation) and stdin, parses each source with its own parser (``--format`` or detected
  from the source's first lines), feeds the engine in line order per source, hands
  alerts to the sinks and the response, and writes checkpoints.
* :func:`replay` -- ``turbosec watch test``: read files (or stdin) once, start to end, and
  return the alerts and the statistics.  No following, no checkpoints: the fast path the
  benchmarks time, and the way rules are developed.

Both read a source's lines in order and give the engine the same events, so the alerts
of a replay equal those of a live watcher over the same file.

A replay also asks each source's parser to leave out what no loaded rule can match
(:meth:`Parser.restrict <turbosec.events.parsers.base.Parser.restrict>`, with
:meth:`RuleSet.could_use <turbosec.watch.rules.model.RuleSet.could_use>`).  A parser that
can (sshd, OWASP JSON) then reads whole blocks of lines at once and builds events only
for the lines that can hold a useful one: the alerts are the same, the statistics count the other
lines skipped (``unused``), and a malformed line among them goes unnoticed.

Checkpoints and restarts
------------------------
With a state file (``--state``) the runner writes a checkpoint every
``checkpoint_interval`` seconds or ``checkpoint_lines`` lines, whichever comes first, and
at a clean stop.  A checkpoint is written *after* the sinks were flushed and holds the
engine's snapshot, each file's position (path, inode, byte offset after the last line
the engine saw, line number) and the ids of the alerts delivered recently.  After a
crash (``kill -9``) the watcher restarts from it: the engine is restored, each file is
re-opened at its offset, and the lines written after the checkpoint are read again.  The
engine raises the same alerts for them as before the crash (alert ids are stable: rule,
group and first event time); the runner drops those whose id is in the checkpoint's
delivered list, and the ``file:`` sink drops those already in its file.  So the alerts of
a killed and restarted watcher equal those of an uninterrupted one: none lost (the lines
after the checkpoint are read again), none repeated in an idempotent sink.  A sink that
cannot recognise repeats (a webhook) may receive the alerts of those few seconds twice
after a crash -- never after a clean stop.

Stopping
--------
SIGINT and SIGTERM end the loop at the next batch boundary; the sinks are flushed and
closed and a final checkpoint is written.  A second signal while stopping is ignored.

Status
------
When stderr is a terminal, a status line is kept up to date there (events/s, events,
alerts, parse errors); nothing is written when it is not (a service, a pipe, a test).
"""

from __future__ import annotations

import contextlib
import gc
import heapq
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain, islice
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any, Protocol

from turbosec.core.errors import TurbosecError, UsageError
from turbosec.core.event import Alert, SecurityEvent
from turbosec.events.parsers import (
    MAX_LINE,
    Parser,
    ParseStats,
    detect_format,
    get_parser,
    parse_lines,
)
from turbosec.events.parsers.detect import SAMPLE_LINES
from turbosec.watch.engine import Engine, EngineOptions, EngineStats, StateError
from turbosec.watch.rules.model import RuleSet

if TYPE_CHECKING:
    from turbosec.watch.sinks.base import Sink

__all__ = [
    "ReplayResult",
    "RunStats",
    "Runner",
    "RunnerOptions",
    "WatchInputError",
    "replay",
]

#: Lines handed to the parser and the engine at once.
BATCH_LINES = 4096
#: Bytes :func:`replay` reads at once.  Small on purpose: a block's lines, their events and
#: what the engine does with them then stay in the processor's caches (measured on a
#: 300,000-event OWASP JSON log: 123,000 events/s with 1 MiB blocks, about 200,000 with
#: 16-64 KiB ones).  Lines longer than a block are put together across reads.
READ_CHUNK = 32 * 1024
#: Bytes :func:`replay` reads at once when the parser reads whole blocks
#: (:meth:`Parser.parse_block`): it then touches few of the lines, so larger reads cost less.
BLOCK_CHUNK = 1024 * 1024
#: Seconds between two updates of the status line.
STATUS_INTERVAL = 0.5


class WatchInputError(TurbosecError):
    """A log source that cannot be read or whose format cannot be recognised."""


class _Responder(Protocol):
    def handle(self, alert: Alert) -> object: ...


@dataclass(frozen=True)
class RunnerOptions:
    """How the live watcher reads, checkpoints and reports.

    ``format``: the parser for every source (``None``: detected per source).
    ``state``: the checkpoint file (``None``: no checkpoints, nothing survives a restart).
    ``from_end``: a file seen for the first time (no checkpoint entry) is read from its
    end, like ``tail -F``; otherwise from its start.  ``once``: stop when every source is
    at its end instead of following.  ``poll``: seconds to wait when no source had new
    lines.  ``status``: the live status line (``None``: only when stderr is a terminal).
    ``delivered_keep``: how many recent alert ids a checkpoint remembers.
    """

    format: str | None = None
    state: Path | None = None
    from_end: bool = False
    once: bool = False
    poll: float = 0.1
    checkpoint_interval: float = 5.0
    checkpoint_lines: int = 100_000
    status: bool | None = None
    delivered_keep: int = 10_000
    engine: EngineOptions = field(default_factory=EngineOptions)


@dataclass
class RunStats:
    """What a run did: lines, events, parse problems, alerts, engine counters, time."""

    seconds: float = 0.0
    lines: int = 0
    events: int = 0
    alerts: int = 0
    duplicates: int = 0  # alerts raised again after a restart and not delivered twice
    sink_errors: int = 0
    checkpoints: int = 0
    by_rule: Counter[str] = field(default_factory=Counter)
    parse: ParseStats = field(default_factory=ParseStats)
    engine: EngineStats | None = None
    sources: list[dict[str, Any]] = field(default_factory=list)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    @property
    def lines_per_second(self) -> float:
        return self.lines / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 6),
            "lines": self.lines,
            "events": self.events,
            "lines_per_second": round(self.lines_per_second, 1),
            "events_per_second": round(self.events_per_second, 1),
            "alerts": self.alerts,
            "alerts_by_rule": dict(sorted(self.by_rule.items())),
            "duplicates_skipped": self.duplicates,
            "sink_errors": self.sink_errors,
            "checkpoints": self.checkpoints,
            "parse": self.parse.to_dict(),
            "engine": self.engine.to_dict() if self.engine is not None else None,
            "sources": self.sources,
        }

    def summary(self) -> str:
        """A few lines for people (stderr at the end of a run)."""
        parse = self.parse
        lines = [
            f"{self.lines:,} lines, {self.events:,} events in {self.seconds:.2f} s "
            f"({self.events_per_second:,.0f} events/s); {self.alerts:,} alerts",
            f"parse: {parse.skipped:,} lines skipped (not security-relevant), "
            f"{parse.malformed:,} malformed",
        ]
        for reason, count in sorted(parse.reasons.items(), key=lambda item: -item[1])[:5]:
            lines.append(f"  {count:,} x {reason}")
        for sample in parse.samples[:3]:
            lines.append(f"  e.g. {sample.source}: {sample.line[:120]}")
        if self.engine is not None:
            e = self.engine
            lines.append(
                f"engine: {e.matched:,} events matched a rule, {e.late:,} late, "
                f"{e.groups:,} groups, {e.evicted:,} evicted, {e.suppressed:,} suppressed"
            )
        if self.duplicates:
            lines.append(f"{self.duplicates:,} alerts already delivered before a restart")
        if self.sink_errors:
            lines.append(f"{self.sink_errors:,} alerts a sink failed to take (see above)")
        return "\n".join(lines)


@contextlib.contextmanager
def _few_collections() -> Iterator[None]:
    """Let Python's cyclic garbage collector run rarely while events stream through.

    Parsers and the engine create and drop millions of small objects that never form
    cycles (reference counting frees them); with the default threshold (a collection
    every 700 allocations) the collector runs thousands of times a second for nothing and
    costs about a third of the time.  Objects alive before the run (rules, modules) are
    frozen out of its sight; the thresholds are restored afterwards.
    """
    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()


# --- parsers per source ---------------------------------------------------------------------


def _parser_for(name: str, sample: Sequence[str], fmt: str | None) -> tuple[Parser, str]:
    """The parser for a source: ``fmt`` if given, else detected from its first lines."""
    if fmt is not None:
        try:
            return get_parser(fmt), get_parser(fmt).name
        except ValueError as exc:
            raise UsageError(str(exc), hint="see --format in 'turbosec watch --help'") from None
    detection = detect_format(sample)
    if detection.format is None:
        raise WatchInputError(
            f"cannot tell which log format this is: {detection.explain()}", where=name
        )
    return get_parser(detection.format), detection.format


def _text(line: str | bytes) -> str:
    if isinstance(line, bytes):
        return line[: MAX_LINE + 1].decode("utf-8", "replace")
    return line


# --- replay (watch test) --------------------------------------------------------------------


@dataclass
class ReplayResult:
    alerts: list[Alert]
    stats: RunStats


def replay(
    rules: RuleSet,
    inputs: Sequence[str],
    *,
    fmt: str | None = None,
    engine_options: EngineOptions | None = None,
    stdin: IO[bytes] | None = None,
    on_alert: Callable[[Alert], None] | None = None,
) -> ReplayResult:
    """Run ``rules`` over whole files (``-`` is stdin), start to end; every alert raised.

    Each input gets its own parser (``fmt``, or detected from its first lines).  Inputs
    are read one after the other, through one engine.
    """
    engine = Engine(rules, engine_options)
    stats = RunStats()
    alerts: list[Alert] = []
    started = time.perf_counter()
    process = engine.process
    streams = [_replay_batches(name, fmt, stats, stdin, rules) for name in inputs]
    batches: Iterable[Sequence[SecurityEvent]]
    if len(streams) == 1:
        batches = streams[0]
    else:
        # Several logs of the same period: merged on event time, as a live watcher
        # following them all would have seen them (read one after the other, the second
        # one's events would all be late).
        merged = heapq.merge(*(chain.from_iterable(s) for s in streams), key=_event_time)
        batches = _chunks(merged, BATCH_LINES)
    with _few_collections():
        for batch in batches:
            for event in batch:
                found = process(event)
                if found:
                    alerts.extend(found)
                    if on_alert is not None:
                        for alert in found:
                            on_alert(alert)
    stats.seconds = time.perf_counter() - started
    stats.events = stats.parse.events
    stats.lines = stats.parse.lines
    stats.alerts = len(alerts)
    stats.by_rule.update(alert.rule_id for alert in alerts)
    stats.engine = engine.stats()
    return ReplayResult(alerts, stats)


def _event_time(event: SecurityEvent) -> datetime:
    return event.time


def _chunks(items: Iterator[SecurityEvent], size: int) -> Iterator[list[SecurityEvent]]:
    while True:
        chunk = list(islice(items, size))
        if not chunk:
            return
        yield chunk


def _replay_batches(
    name: str,
    fmt: str | None,
    stats: RunStats,
    stdin: IO[bytes] | None,
    rules: RuleSet | None = None,
) -> Iterator[list[SecurityEvent]]:
    if name == "-":
        stream: IO[bytes] = stdin if stdin is not None else sys.stdin.buffer
        close = False
        source = "stdin"
    else:
        try:
            stream = open(name, "rb")  # noqa: SIM115 (closed below)
        except OSError as exc:
            raise WatchInputError(
                f"cannot read the log: {exc.strerror or exc}",
                where=name,
                hint="check the path and its permissions",
            ) from None
        close = True
        source = name
    try:
        reader = _BlockReader(stream)
        items = iter(reader)
        head: list[tuple[str, bool]] = []
        sample: list[str] = []
        for item in items:
            head.append(item)
            sample.extend(item[0].split("\n", SAMPLE_LINES)[:SAMPLE_LINES])
            if len(sample) >= SAMPLE_LINES:
                break
        if not head:
            stats.sources.append({"name": source, "format": None, "lines": 0})
            return
        parser, chosen = _parser_for(source, sample[:SAMPLE_LINES], fmt)
        # a parser that can leave out what no rule uses reads whole blocks at once
        blocks = rules is not None and parser.restrict(rules.could_use)
        if blocks:
            reader.chunk = BLOCK_CHUNK
        parse = stats.parse
        number = 1
        for text, whole in chain(head, items):
            events = None
            if blocks and whole:
                events = parser.parse_block(text, source, parse, first_line=number)
            if events is None:
                events = parse_lines(parser, text.split("\n"), source, parse, first_line=number)
            number += text.count("\n") + 1
            yield events
        stats.sources.append({"name": source, "format": chosen, "lines": number - 1})
    finally:
        if close:
            stream.close()


class _BlockReader:
    """The lines of a stream as blocks of text: each item is a run of whole lines joined by
    ``\\n`` (no final line end) and whether it is made of whole lines; one read and one
    decoding per block instead of one per line.  ``chunk`` (bytes per read) may be changed
    between items.

    Never holds more than ``MAX_LINE`` bytes of one line: a longer line is handed out
    alone as its first ``MAX_LINE + 1`` bytes, marked not whole (the parser counts it
    malformed), its rest dropped.  Iterate it once: the iterator holds the part of a line
    read ahead.
    """

    def __init__(self, stream: IO[bytes], chunk: int = READ_CHUNK) -> None:
        self.stream = stream
        self.chunk = chunk

    def __iter__(self) -> Iterator[tuple[str, bool]]:
        stream = self.stream
        rest = b""
        skipping = False
        while True:
            data = stream.read(self.chunk)
            if not data:
                break
            if skipping:
                newline = data.find(b"\n")
                if newline < 0:
                    continue
                data = data[newline + 1 :]
                skipping = False
            if rest:
                data = rest + data
            cut = data.rfind(b"\n")
            if cut < 0:
                rest = data
            else:
                rest = data[cut + 1 :]
                yield data[:cut].decode("utf-8", "replace"), True
            if len(rest) > MAX_LINE:
                yield rest[: MAX_LINE + 1].decode("utf-8", "replace"), False
                rest = b""
                skipping = True
        if rest:
            yield rest.decode("utf-8", "replace"), True


# --- the live runner ------------------------------------------------------------------------


class _Input:
    """One followed source with its parser and counters."""

    def __init__(self, name: str, source: Any, *, is_file: bool, line: int = 0) -> None:
        self.name = name
        self.source = source
        self.is_file = is_file
        self.parser: Parser | None = None
        self.format: str | None = None
        self.line = line  # lines consumed (the next one is number line + 1)
        self.stats = ParseStats()
        self.at_end = False

    def position(self) -> dict[str, Any] | None:
        if not self.is_file:
            return None
        position = dict(self.source.position())
        position.update(name=self.name, line=self.line, format=self.format)
        return position


class Runner:
    """The live watcher; see the module docstring.

    ``inputs`` are paths (followed through rotation) and ``-`` (stdin); ``sinks`` receive
    every alert once; ``responder`` (optional) acts on them.  :meth:`run` returns when the
    watcher is stopped (:meth:`stop`, SIGINT/SIGTERM) or, with ``once``, when every
    source is at its end.
    """

    def __init__(
        self,
        rules: RuleSet,
        inputs: Sequence[str],
        sinks: Sequence[Sink],
        *,
        responder: _Responder | None = None,
        options: RunnerOptions | None = None,
        status_stream: IO[str] | None = None,
    ) -> None:
        if not inputs:
            raise UsageError("nothing to watch", hint="name log files, or - for stdin")
        if list(inputs).count("-") > 1:
            raise UsageError("stdin (-) can be watched once only")
        self.rules = rules
        self.inputs = list(inputs)
        self.sinks = list(sinks)
        self.responder = responder
        self.options = options or RunnerOptions()
        self.stats = RunStats()
        self._stop = threading.Event()
        self._stderr = status_stream if status_stream is not None else sys.stderr
        show = self.options.status
        if show is None:
            isatty = getattr(self._stderr, "isatty", None)
            show = bool(isatty and isatty())
        self._show_status = show
        self._delivered: deque[str] = deque(maxlen=max(1, self.options.delivered_keep))
        self._delivered_set: set[str] = set()
        self._sink_warned: set[str] = set()
        self._engine: Engine | None = None
        self._sources: list[_Input] = []
        self._status_at = 0.0
        self._status_events = 0
        self._status_len = 0

    # control

    def stop(self) -> None:
        """Ask the loop to end at the next batch boundary (safe from a signal handler)."""
        self._stop.set()

    # the loop

    def run(self) -> RunStats:
        previous = self._install_signals()
        started = time.perf_counter()
        with _few_collections():
            self._loop(previous, started)
        return self.stats

    def _loop(self, previous: dict[int, Any], started: float) -> None:
        """The read -> parse -> engine -> sinks loop, and the clean stop after it."""
        options = self.options
        try:
            checkpoint = self._load_checkpoint()
            self._engine = engine = self._make_engine(checkpoint)
            self._open(checkpoint)
            last_checkpoint = time.monotonic()
            lines_since = 0
            dirty = False
            while not self._stop.is_set():
                got = 0
                batches: list[list[SecurityEvent]] = []
                for source in self._sources:
                    if source.at_end:
                        continue
                    got += self._read(source, batches)
                alerts = self._evaluate(engine, batches)
                if alerts:
                    self._deliver(alerts)
                    self._flush()
                if got:
                    lines_since += got
                    dirty = True
                now = time.monotonic()
                if (
                    options.state is not None
                    and dirty
                    and (
                        lines_since >= options.checkpoint_lines
                        or now - last_checkpoint >= options.checkpoint_interval
                    )
                ):
                    self._flush()
                    self._checkpoint()
                    last_checkpoint, lines_since, dirty = now, 0, False
                if self._show_status:
                    self._status(now)
                if not got:
                    if self._finished(engine):
                        break
                    self._stop.wait(options.poll)
        finally:
            try:
                if self._engine is not None:
                    self._flush()
                    if options.state is not None and self._sources:
                        self._checkpoint()
            finally:
                self._close()
                self._restore_signals(previous)
                self._clear_status()
                self.stats.seconds = time.perf_counter() - started
                self._finish_stats()

    def _finished(self, engine: Engine) -> bool:
        """No more input will come: ``once`` and every source at its end, or stdin closed.

        With ``once``, an unfinished last line of a file is read as a line.
        """
        if self.options.once:
            batches: list[list[SecurityEvent]] = []
            for source in self._sources:
                if source.is_file and not source.at_end:
                    lines = source.source.read_available(final=True)
                    if lines:
                        self._parse_lines(source, batches, lines)
                    source.at_end = True
            alerts = self._evaluate(engine, batches)
            if alerts:
                self._deliver(alerts)
            return True
        return all(s.at_end for s in self._sources)

    def _evaluate(self, engine: Engine, batches: list[list[SecurityEvent]]) -> list[Alert]:
        """Run the events read from all sources through the engine, in event-time order.

        Sources are read in turn; the lines of one round are merged on event time (each
        source's own order kept) so that two logs of the same moments reach the engine
        as one stream, as in :func:`replay`.
        """
        if not batches:
            return []
        if len(batches) == 1:
            events: Iterable[SecurityEvent] = batches[0]
        else:
            events = heapq.merge(*batches, key=_event_time)
        alerts: list[Alert] = []
        process = engine.process
        for event in events:
            found = process(event)
            if found:
                alerts.extend(found)
        return alerts

    def _read(self, source: _Input, batches: list[list[SecurityEvent]]) -> int:
        try:
            lines = source.source.read_available()
        except OSError as exc:
            raise WatchInputError(
                f"cannot read: {exc.strerror or exc}",
                where=source.name,
                hint="check that the file is readable by this user",
            ) from exc
        notes = getattr(source.source, "take_notes", None)
        if notes is not None:
            notes()  # also logged by the source (turbosec.watch.sources)
        if not lines:
            if not source.is_file and getattr(source.source, "eof", False):
                source.at_end = True
            return 0
        self._parse_lines(source, batches, lines)
        return len(lines)

    def _parse_lines(
        self, source: _Input, batches: list[list[SecurityEvent]], lines: Sequence[Any]
    ) -> None:
        if source.parser is None:
            # the format is detected from the first lines the source has
            self._start_parser(source, lines)
        events: list[SecurityEvent] = []
        for start in range(0, len(lines), BATCH_LINES):
            events.extend(self._parse(source, lines[start : start + BATCH_LINES]))
        if events:
            batches.append(events)  # one list per source and round: its own order

    def _start_parser(self, source: _Input, lines: Sequence[Any]) -> None:
        sample = [_text(_line_text(x)) for x in lines[:SAMPLE_LINES]]
        source.parser, source.format = _parser_for(source.name, sample, self.options.format)

    def _parse(self, source: _Input, lines: Sequence[Any]) -> list[SecurityEvent]:
        parser = source.parser
        assert parser is not None
        if any(getattr(x, "too_long", False) for x in lines):
            # a line the source cut at 64 KiB: malformed, whatever its characters decode to
            events = []
            for x in lines:
                source.line += 1
                if getattr(x, "too_long", False):
                    source.stats.lines += 1
                    source.stats.add_malformed(
                        f"{source.name}:{source.line}", "line longer than 64 KiB",
                        _text(_line_text(x)),
                    )  # fmt: skip
                else:
                    one = [_line_text(x)]
                    where = source.name
                    events += parse_lines(parser, one, where, source.stats, first_line=source.line)
            return events
        events = parse_lines(
            parser, [_line_text(x) for x in lines], source.name, source.stats,
            first_line=source.line + 1,
        )  # fmt: skip
        source.line += len(lines)
        return events

    # delivery

    def _deliver(self, alerts: Iterable[Alert]) -> None:
        stats = self.stats
        for alert in alerts:
            alert_id = alert.alert_id
            if alert_id in self._delivered_set:
                stats.duplicates += 1
                continue
            for sink in self.sinks:
                try:
                    sink.emit(alert)
                except Exception as exc:  # one broken sink must not stop the others
                    stats.sink_errors += 1
                    self._warn_sink(sink, exc)
            if self.responder is not None:
                try:
                    self.responder.handle(alert)
                except Exception as exc:
                    stats.sink_errors += 1
                    self._warn(f"response to alert {alert_id[:12]} failed: {exc}")
            self._remember(alert_id)
            stats.alerts += 1
            stats.by_rule[alert.rule_id] += 1

    def _remember(self, alert_id: str) -> None:
        delivered = self._delivered
        if len(delivered) == delivered.maxlen:
            self._delivered_set.discard(delivered[0])
        delivered.append(alert_id)
        self._delivered_set.add(alert_id)

    def _flush(self) -> None:
        for sink in self.sinks:
            try:
                sink.flush()
            except Exception as exc:
                self.stats.sink_errors += 1
                self._warn_sink(sink, exc)

    def _close(self) -> None:
        responder = self.responder
        if responder is not None:
            close = getattr(responder, "close", None)
            if close is not None:
                try:
                    close()
                except Exception as exc:
                    self._warn(f"closing the response failed: {exc}")
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:
                self._warn_sink(sink, exc)
        for source in self._sources:
            close = getattr(source.source, "close", None)
            if close is not None:
                with contextlib.suppress(OSError):
                    close()

    def _warn_sink(self, sink: Sink, exc: BaseException) -> None:
        name = getattr(sink, "name", type(sink).__name__)
        if name not in self._sink_warned:
            self._sink_warned.add(name)
            self._warn(f"sink {name} failed: {exc} (further failures of this sink are counted)")

    def _warn(self, text: str) -> None:
        self._clear_status()
        print(f"turbosec watch: {text}", file=self._stderr, flush=True)

    # state

    def _load_checkpoint(self) -> Any:
        if self.options.state is None:
            return None
        from turbosec.watch.state import load_checkpoint

        checkpoint = load_checkpoint(self.options.state)
        if checkpoint is not None:
            for alert_id in checkpoint.delivered[-self._delivered.maxlen :]:  # type: ignore[operator]
                self._remember(alert_id)
        return checkpoint

    def _make_engine(self, checkpoint: Any) -> Engine:
        if checkpoint is None:
            return Engine(self.rules, self.options.engine)
        try:
            return Engine.restore(self.rules, checkpoint.engine, self.options.engine)
        except StateError as exc:
            raise StateError(exc.message, where=str(self.options.state), hint=exc.hint) from None

    def _open(self, checkpoint: Any) -> None:
        from turbosec.watch.sources import FileSource, StdinSource

        saved: dict[str, dict[str, Any]] = {}
        if checkpoint is not None:
            for entry in checkpoint.sources:
                path = entry.get("path")
                if isinstance(path, str):
                    saved[str(Path(path).absolute())] = entry
        for name in self.inputs:
            if name == "-":
                self._sources.append(_Input("stdin", StdinSource(), is_file=False))
                continue
            path = Path(name).absolute()
            entry = saved.get(str(path))
            if entry is None:
                source = FileSource(path, from_end=self.options.from_end, name=name)
                self._sources.append(_Input(name, source, is_file=True))
                continue
            try:
                source = FileSource.from_position({**entry, "path": str(path)}, name=name)
            except (KeyError, TypeError, ValueError) as exc:
                raise WatchInputError(
                    f"the checkpoint's position for this file is malformed: {exc}",
                    where=f"{self.options.state}: {name}",
                    hint="delete the checkpoint file to start with empty state",
                ) from None
            line = entry.get("line")
            item = _Input(name, source, is_file=True, line=line if isinstance(line, int) else 0)
            fmt = entry.get("format")
            if isinstance(fmt, str) and self.options.format in (None, fmt):
                try:
                    item.parser, item.format = get_parser(fmt), fmt
                except ValueError:
                    item.parser = None
            self._sources.append(item)

    def _checkpoint(self) -> None:
        from turbosec.watch.state import save_checkpoint

        assert self._engine is not None
        assert self.options.state is not None
        positions = [p for p in (s.position() for s in self._sources) if p is not None]
        save_checkpoint(
            self.options.state,
            engine=self._engine.snapshot(),
            sources=positions,
            delivered=list(self._delivered),
            meta={"inputs": self.inputs},
        )
        self.stats.checkpoints += 1

    # status line and statistics

    def _status(self, now: float) -> None:
        if now - self._status_at < STATUS_INTERVAL:
            return
        events = sum(s.stats.events for s in self._sources)
        malformed = sum(s.stats.malformed for s in self._sources)
        elapsed = now - self._status_at if self._status_at else 0.0
        rate = (events - self._status_events) / elapsed if elapsed > 0 else 0.0
        self._status_at, self._status_events = now, events
        text = (
            f"watching {len(self._sources)} source{'s' if len(self._sources) != 1 else ''}: "
            f"{rate:,.0f} events/s, {events:,} events, {self.stats.alerts:,} alerts, "
            f"{malformed:,} parse errors"
        )
        pad = max(0, self._status_len - len(text))
        self._stderr.write("\r" + text + " " * pad)
        self._stderr.flush()
        self._status_len = len(text)

    def _clear_status(self) -> None:
        if self._show_status and self._status_len:
            self._stderr.write("\r" + " " * self._status_len + "\r")
            self._stderr.flush()
            self._status_len = 0

    def _finish_stats(self) -> None:
        stats = self.stats
        parse = ParseStats()
        for source in self._sources:
            parse.merge(source.stats)
            stats.sources.append(
                {"name": source.name, "format": source.format, "lines": source.line}
            )
        stats.parse = parse
        stats.lines = parse.lines
        stats.events = parse.events
        if self._engine is not None:
            stats.engine = self._engine.stats()

    # signals

    def _install_signals(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous: dict[int, Any] = {}

        def handler(signum: int, frame: FrameType | None) -> None:
            self.stop()

        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, handler)
        return previous

    def _restore_signals(self, previous: dict[int, Any]) -> None:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _line_text(line: Any) -> str | bytes:
    """The text of what a source returned: a ``Line`` (``.text``), ``str`` or ``bytes``."""
    text = getattr(line, "text", None)
    if text is not None:
        return text  # type: ignore[no-any-return]
    return line  # type: ignore[no-any-return]
