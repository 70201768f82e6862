from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from turbosec.core.event import Level, SecurityEvent, new_event
from turbosec.events.parsers import (
    MAX_LINE,
    MalformedLine,
    Parser,
    ParseStats,
    parse_file,
    parse_lines,
    read_lines,
)

T0 = datetime(2026, 11, 27, tzinfo=UTC)


class Echo(Parser):
    """A test parser: ``ok ...`` is an event, ``bad ...`` is malformed, the rest skipped."""

    name = "echo"

    def __init__(self) -> None:
        self.seen: list[str] = []

    def detect(self, sample_lines: Sequence[str]) -> float:
        return 1.0

    def parse(self, line: str, source: str) -> SecurityEvent | None:
        self.seen.append(line)
        if line.startswith("bad"):
            raise MalformedLine("bad line")
        if not line.startswith("ok"):
            return None
        return new_event(
            T0, "sys_startup", (), Level.INFO, line, None, None, None, None, None, None, None,
            None, source, line, 1, {},
        )  # fmt: skip


def test_parse_lines_counts_and_names_sources() -> None:
    parser = Echo()
    stats = ParseStats()
    lines = ["ok 1\n", "skip\r\n", "bad 2\n", "", "ok 3\r\n", "ok 4", "\r", b"ok 5\r\n"]
    events = parse_lines(parser, lines, "app.log", stats, first_line=10)
    assert [(e.description, e.source) for e in events] == [
        ("ok 1", "app.log:10"),
        ("ok 3", "app.log:14"),
        ("ok 4", "app.log:15"),
        ("ok 5", "app.log:17"),
    ]
    assert parser.seen == ["ok 1", "skip", "bad 2", "ok 3", "ok 4", "ok 5"]
    assert stats.to_dict() == {
        "lines": 8,
        "events": 4,
        "skipped": 3,
        "unused": 0,
        "malformed": 1,
        "reasons": {"bad line": 1},
        "samples": [{"source": "app.log:12", "reason": "bad line", "line": "bad 2"}],
    }


def test_binary_long_and_invalid_utf8_lines() -> None:
    parser = Echo()
    stats = ParseStats()
    long_text = "ok " + "x" * MAX_LINE
    long_bytes = ("ok " + "é" * (MAX_LINE // 2)).encode()
    lines: list[str | bytes] = [
        "ok\x00binary",
        long_text,
        long_bytes,
        b"ok \xff\xfe",
        "ok " + "y" * (MAX_LINE - 3),
    ]
    events = parse_lines(parser, lines, "f", stats)
    assert [e.source for e in events] == ["f:4", "f:5"]
    assert events[0].description == "ok \ufffd\ufffd"
    assert stats.reasons == {"binary data (NUL byte)": 1, "line longer than 64 KiB": 2}
    assert stats.samples[0].line == "ok\\0binary"
    assert all(len(sample.line) < 300 for sample in stats.samples)
    assert len(parser.seen) == 2


def test_samples_are_bounded_and_redacted() -> None:
    stats = ParseStats(max_samples=3)
    parse_lines(Echo(), [f"bad ?token=secret{n}" for n in range(10)], "f", stats)
    assert stats.malformed == 10
    assert len(stats.samples) == 3
    assert stats.samples[0].line == "bad ?token=[REDACTED]"
    other = ParseStats()
    parse_lines(Echo(), ["bad", "ok"], "g", other)
    stats.merge(other)
    assert (stats.lines, stats.events, stats.malformed) == (12, 1, 11)
    assert stats.reasons == {"bad line": 11}
    assert len(stats.samples) == 3


def test_read_lines_never_holds_a_whole_long_line() -> None:
    data = b"ok 1\n" + b"z" * (3 * MAX_LINE) + b"\nok 2\nlast without newline"
    lines = list(read_lines(io.BytesIO(data)))
    assert lines[0] == b"ok 1\n"
    assert len(lines[1]) == MAX_LINE + 1
    assert lines[2:] == [b"ok 2\n", b"last without newline"]


def test_parse_file_batches_keep_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"".join(b"ok %d\r\n" % n if n % 3 else b"skip\n" for n in range(1, 101)))
    stats = ParseStats()
    events = list(parse_file(Echo(), path, stats, batch=7))
    assert len(events) == 67
    assert events[0].source == f"{path}:1"
    assert events[-1].source == f"{path}:100"
    assert events[-1].description == "ok 100"
    assert (stats.lines, stats.skipped) == (100, 33)
