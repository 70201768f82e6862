"""The parser seam: one log format in, :class:`~turbosec.core.event.SecurityEvent` out.

A :class:`Parser` reads one line at a time.  For each line it either

* returns an event,
* returns ``None``: the line is in its format but says nothing security-relevant
  (a cron entry in auth.log, a 200 for a stylesheet is still an event -- see each parser),
* or raises :class:`MalformedLine`: the line should be in its format and cannot be read.

Parsers may keep state between lines (the year of a syslog timestamp, a timestamp cache),
so a source uses one parser instance for one stream of lines.

:func:`parse_lines` is the driver every source uses: it decodes bytes, strips line ends
(``\\n``, ``\\r\\n``), refuses lines longer than :data:`MAX_LINE` and lines with NUL bytes
(binary junk), names each line's ``source`` (``auth.log:17``) and counts everything in a
:class:`ParseStats`.  A malformed line is counted and sampled, never fatal.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, ClassVar

from turbosec.core.event import SecurityEvent, raw_text

#: Longest line a parser sees (64 KiB); longer lines are counted malformed, not parsed.
MAX_LINE = 64 * 1024
#: Characters of a malformed line kept in a sample.
SAMPLE_LIMIT = 240
_TOO_LONG = "line longer than 64 KiB"


class MalformedLine(ValueError):
    """A line in the parser's format that it cannot read.

    ``reason`` must be a fixed text (no part of the line in it): stats count lines per
    reason, and an attacker who writes log lines must not be able to grow that table.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class MalformedSample:
    """One malformed line kept for the user to look at: bounded and redacted."""

    source: str
    reason: str
    line: str

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "reason": self.reason, "line": self.line}


@dataclass(slots=True)
class ParseStats:
    """What a parser made of the lines it was given.

    ``lines = events + skipped + malformed``.  ``samples`` keeps the first
    ``max_samples`` malformed lines; ``reasons`` counts malformed lines per reason.
    ``unused`` (part of ``skipped``) counts the lines a parser restricted to what the
    loaded rules can use (:meth:`Parser.restrict`) left out in :meth:`Parser.parse_block`:
    events no rule could match, and lines it did not need to read at all.
    """

    max_samples: int = 20
    lines: int = 0
    events: int = 0
    skipped: int = 0
    malformed: int = 0
    unused: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    samples: list[MalformedSample] = field(default_factory=list)

    def add_malformed(self, source: str, reason: str, line: str) -> None:
        self.malformed += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1
        if len(self.samples) < self.max_samples:
            text = line if len(line) <= SAMPLE_LIMIT else line[:SAMPLE_LIMIT] + "…"
            self.samples.append(MalformedSample(source, reason, raw_text(text)))

    def merge(self, other: ParseStats) -> None:
        self.lines += other.lines
        self.events += other.events
        self.skipped += other.skipped
        self.malformed += other.malformed
        self.unused += other.unused
        for reason, count in other.reasons.items():
            self.reasons[reason] = self.reasons.get(reason, 0) + count
        room = self.max_samples - len(self.samples)
        if room > 0:
            self.samples.extend(other.samples[:room])

    def to_dict(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "events": self.events,
            "skipped": self.skipped,
            "unused": self.unused,
            "malformed": self.malformed,
            "reasons": dict(sorted(self.reasons.items())),
            "samples": [sample.to_dict() for sample in self.samples],
        }


class Parser(abc.ABC):
    """One log format.  Subclasses set :attr:`name` and implement the two methods."""

    #: The name ``--format`` takes (``sshd``, ``access-log``, ``owasp-json``).
    name: ClassVar[str]
    #: One line for ``--format`` help.
    description: ClassVar[str] = ""
    #: When set, a line without this text is not security-relevant: :func:`parse_lines`
    #: counts it skipped without calling :meth:`parse` (``"sshd"`` for sshd logs, where
    #: most lines are other programs').  ``parse`` must return ``None`` for such lines.
    required_text: ClassVar[str] = ""

    @abc.abstractmethod
    def detect(self, sample_lines: Sequence[str]) -> float:
        """Confidence, 0.0 to 1.0, that ``sample_lines`` (a file's first lines) are this format.

        Roughly the share of non-empty lines that look like the format, whether or not
        they are security-relevant.  Must not change the parser's state.
        """

    @abc.abstractmethod
    def parse(self, line: str, source: str) -> SecurityEvent | None:
        """Read one line (without its line end).

        Returns the event, or ``None`` for a line that is not security-relevant; raises
        :class:`MalformedLine` for a line of this format it cannot read.  ``source`` goes
        into the event (``file:line`` or a stream id).
        """

    def restrict(self, could_use: Callable[[Mapping[str, str | None]], bool]) -> bool:
        """Leave out the events no loaded rule can match; ``True`` when this parser can.

        ``could_use`` is :meth:`RuleSet.could_use <turbosec.watch.rules.model.RuleSet.could_use>`:
        given the values of some fields of an event (``event_type``, ``appid``...), whether
        a rule could match it.  A restricted parser returns ``None`` for the events it
        leaves out (counted skipped and ``unused``) and may read only the lines that can
        hold the others (:meth:`parse_block`).  Alerts are the same either way.  The
        default: no restriction.
        """
        return False

    def parse_block(
        self, text: str, source: str, stats: ParseStats, *, first_line: int = 1
    ) -> list[SecurityEvent] | None:
        """Parse a block of whole lines (``text``: lines joined by ``\\n``, no final line
        end) at once, counting every line in ``stats`` as :func:`parse_lines` does; or
        ``None`` when this parser has no faster way for this block (the caller then splits
        it and uses :func:`parse_lines`).  The default: ``None``.
        """
        return None


def parse_lines(
    parser: Parser,
    lines: Iterable[str | bytes],
    source: str,
    stats: ParseStats,
    *,
    first_line: int = 1,
) -> list[SecurityEvent]:
    """Parse a batch of lines; the events in order, every line counted in ``stats``.

    ``lines`` are ``str`` or ``bytes`` (decoded as UTF-8, invalid bytes replaced), with or
    without their line end.  ``first_line`` is the number of the first line in the source,
    so that each event's ``source`` is ``"{source}:{line number}"``.  Sources call this once
    per batch they read, so ``stats`` stay current while a file is followed.
    """
    parse = parser.parse
    needle = parser.required_text
    events: list[SecurityEvent] = []
    append = events.append
    number = first_line - 1
    skipped = 0
    for item in lines:
        number += 1
        if type(item) is str:
            line = item
        elif isinstance(item, bytes):
            if len(item) > MAX_LINE and len(item.rstrip(b"\r\n")) > MAX_LINE:
                where = f"{source}:{number}"
                text = item[:SAMPLE_LIMIT].decode("utf-8", "replace")
                stats.add_malformed(where, _TOO_LONG, text)
                continue
            try:
                line = item.decode()
            except UnicodeDecodeError:
                line = item.decode("utf-8", "replace")
        else:
            line = item
        end = line[-1:]
        if end == "\n":
            line = line[:-2] if line[-2:-1] == "\r" else line[:-1]
        elif end == "\r":
            line = line[:-1]
        if len(line) > MAX_LINE:
            stats.add_malformed(f"{source}:{number}", _TOO_LONG, line)
            continue
        if not line or "\x00" in line:
            if line:
                where = f"{source}:{number}"
                stats.add_malformed(where, "binary data (NUL byte)", line.replace("\x00", "\\0"))
            else:
                skipped += 1
            continue
        if needle and needle not in line:
            skipped += 1
            continue
        where = f"{source}:{number}"
        try:
            event = parse(line, where)
        except MalformedLine as exc:
            stats.add_malformed(where, exc.reason, line)
            continue
        if event is None:
            skipped += 1
        else:
            append(event)
    stats.lines += number - first_line + 1
    stats.events += len(events)
    stats.skipped += skipped
    return events


def read_lines(stream: IO[bytes], *, limit: int = MAX_LINE) -> Iterator[bytes]:
    """The lines of a binary stream, never holding more than ``limit`` bytes of one line.

    A longer line is yielded as its first ``limit + 1`` bytes (so :func:`parse_lines`
    counts it malformed) and the rest of it is read and dropped.
    """
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith(b"\n"):
            while True:
                rest = stream.readline(limit + 1)
                if not rest or rest.endswith(b"\n"):
                    break
        yield line


def parse_file(
    parser: Parser,
    path: str | Path,
    stats: ParseStats,
    *,
    source: str | None = None,
    batch: int = 4096,
) -> Iterator[SecurityEvent]:
    """Every event of a whole file, read in batches of ``batch`` lines (replay, tests)."""
    name = source if source is not None else str(path)
    number = 1
    with open(path, "rb") as stream:
        pending: list[bytes] = []
        for line in read_lines(stream):
            pending.append(line)
            if len(pending) >= batch:
                yield from parse_lines(parser, pending, name, stats, first_line=number)
                number += len(pending)
                pending = []
        if pending:
            yield from parse_lines(parser, pending, name, stats, first_line=number)


__all__ = [
    "MAX_LINE",
    "MalformedLine",
    "MalformedSample",
    "ParseStats",
    "Parser",
    "parse_file",
    "parse_lines",
    "read_lines",
]
