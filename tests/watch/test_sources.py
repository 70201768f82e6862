"""File and stdin sources: offsets, partial lines, rotation (rename, copytruncate), restore.

Rotation tests drive a real writer process (an application appending to its log, reopening
it when told, like after logrotate's HUP) while the test plays logrotate: they check that
every line is read exactly once, in order.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from turbosec.events.parsers.base import MAX_LINE
from turbosec.watch.sources import FileSource, Line, StdinSource

REPO = Path(__file__).resolve().parents[2]

# An application writing numbered lines to its log: "w N" appends N lines, "r" reopens the
# path (what a HUP after rotation does), "p TEXT" writes TEXT without a newline, "q" quits.
WRITER = r"""
import sys
path = sys.argv[1]
n = 0
log = open(path, "ab", buffering=0)
for command in sys.stdin:
    op, _, arg = command.strip().partition(" ")
    if op == "w":
        for _ in range(int(arg)):
            n += 1
            log.write(b"line %06d\n" % n)
    elif op == "r":
        log.close()
        log = open(path, "ab", buffering=0)
    elif op == "p":
        log.write(arg.encode())
    elif op == "q":
        break
    print("ok", flush=True)
"""


class Writer:
    def __init__(self, path: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def __call__(self, command: str) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "ok"

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[Writer]:
    w = Writer(tmp_path / "app.log")
    yield w
    w.close()


def numbers(lines: list[Line]) -> list[int]:
    return [int(line.text.split()[1]) for line in lines]


def read_until(source: FileSource, count: int, got: list[Line]) -> list[Line]:
    """Poll until ``count`` lines in all were read (a 20 s guard against hanging)."""
    deadline = time.monotonic() + 20
    while len(got) < count:
        got.extend(source.read_available())
        if time.monotonic() > deadline:
            raise AssertionError(f"only {len(got)} of {count} lines arrived")
        if len(got) < count:
            time.sleep(0.01)
    return got


def test_lines_offsets_and_partial_last_line(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"one\r\ntwo\n\nthr")
    source = FileSource(path)
    lines = source.read_available()
    assert [(x.text, x.offset, x.too_long) for x in lines] == [
        ("one", 5, False),
        ("two", 9, False),
        ("", 10, False),
    ]
    assert all(x.source == str(path) for x in lines)
    assert source.position()["offset"] == 10
    with path.open("ab") as f:
        f.write(b"ee\nfour")
    (line,) = source.read_available()
    assert (line.text, line.offset) == ("three", 16)
    assert source.position() == {
        "path": str(path),
        "inode": path.stat().st_ino,
        "dev": path.stat().st_dev,
        "offset": 16,
    }
    assert source.read_available() == []
    (last,) = source.read_available(final=True)
    assert (last.text, last.offset) == ("four", 20)
    source.close()


def test_invalid_utf8_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"caf\xe9 ok\n")
    with FileSource(path) as source:
        (line,) = source.read_available()
    assert line.text == "caf\ufffd ok"
    assert line.offset == 8


def test_from_end_starts_after_the_last_complete_line(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"old 1\nold 2\nhalf")
    with FileSource(path, from_end=True) as source:
        assert source.read_available() == []
        with path.open("ab") as f:
            f.write(b" done\nnew\n")
        assert [x.text for x in source.read_available()] == ["half done", "new"]


def test_from_end_reads_a_file_that_appears_later_from_its_start(tmp_path: Path) -> None:
    path = tmp_path / "later.log"
    with FileSource(path, from_end=True) as source:
        assert source.read_available() == []
        notes = source.take_notes()
        assert len(notes) == 1 and "does not exist yet" in notes[0]
        assert source.read_available() == []
        assert source.take_notes() == []  # said once
        path.write_bytes(b"first\nsecond\n")
        assert [x.text for x in source.read_available()] == ["first", "second"]


def test_a_line_longer_than_max_line_is_cut_and_flagged_without_holding_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.log"
    source = FileSource(path)
    with path.open("ab") as f:
        f.write(b"before\n" + b"x" * (3 * MAX_LINE))
        f.flush()
        assert [x.text for x in source.read_available()] == ["before"]
        # the unfinished long line is not kept whole
        reader = source._current
        assert reader is not None and reader.splitter.cut is not None
        assert len(reader.splitter.cut) == MAX_LINE + 1 and reader.splitter.buffer == b""
        f.write(b"y" * MAX_LINE + b"\nafter\n")
    lines = source.read_available()
    assert [(len(x.text), x.too_long) for x in lines] == [(MAX_LINE + 1, True), (5, False)]
    assert lines[0].text == "x" * (MAX_LINE + 1)
    assert lines[0].offset == 7 + 4 * MAX_LINE + 1
    assert lines[1].offset == path.stat().st_size
    source.close()


def test_a_long_line_in_one_read_and_a_final_too_long_partial(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"z" * (MAX_LINE + 10) + b"\r\nok\n" + b"w" * (MAX_LINE + 5))
    with FileSource(path) as source:
        lines = source.read_available()
        assert [(len(x.text), x.too_long) for x in lines] == [(MAX_LINE + 1, True), (2, False)]
        (last,) = source.read_available(final=True)
        assert last.too_long and last.offset == path.stat().st_size


def test_batches_are_bounded(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"".join(b"line %06d\n" % n for n in range(1, 50_001)))
    with FileSource(path, max_batch_bytes=64 * 1024) as source:
        first = source.read_available()
        assert 0 < len(first) < 50_000
        got = read_until(source, 50_000, first)
    assert numbers(got) == list(range(1, 50_001))


def test_rename_rotation_mid_stream_loses_and_repeats_nothing(
    tmp_path: Path, writer: Writer
) -> None:
    path = tmp_path / "app.log"
    writer("w 1")
    source = FileSource(path, linger=30.0)
    got: list[Line] = []
    expected = 1
    for rotation in range(1, 6):
        writer("w 40")
        expected += 40
        if rotation % 2:
            read_until(source, expected - 20, got)  # mid-stream: part of the lines read
        # logrotate: move the file aside, create the new one (its "create" mode) ...
        os.rename(path, tmp_path / f"app.log.{rotation}")
        path.touch()
        got.extend(source.read_available())
        got.extend(source.read_available())
        # ... the application writes on to the old file until it is told to reopen
        writer("w 3")
        expected += 3
        if rotation == 3:
            got.extend(source.read_available())
        writer("r")
        writer("w 7")
        expected += 7
        got.extend(source.read_available())
    read_until(source, expected, got)
    assert numbers(got) == list(range(1, expected + 1))
    assert source.position()["inode"] == path.stat().st_ino
    assert source.position()["offset"] == path.stat().st_size
    source.close()


def test_rename_rotation_then_the_writer_reopens_at_once(tmp_path: Path, writer: Writer) -> None:
    path = tmp_path / "app.log"
    source = FileSource(path, linger=0.0)
    writer("w 10")
    got = read_until(source, 10, [])
    writer("w 5")
    os.rename(path, tmp_path / "app.log.1")
    writer("r")  # the application creates the new file itself
    writer("w 5")
    read_until(source, 20, got)
    assert numbers(got) == list(range(1, 21))
    source.close()


def test_copytruncate_mid_stream_loses_and_repeats_nothing(tmp_path: Path, writer: Writer) -> None:
    path = tmp_path / "app.log"
    source = FileSource(path)
    writer("w 50")
    got = read_until(source, 50, [])
    # copytruncate; the application (O_APPEND) writes as much again before the next poll,
    # so the file is exactly as long as what was read: only its bytes tell the change
    shutil.copyfile(path, tmp_path / "app.log.1")
    os.truncate(path, 0)
    writer("w 50")
    read_until(source, 100, got)
    assert any("truncated" in note for note in source.take_notes())
    # again, this time the poll sees the empty file
    shutil.copyfile(path, tmp_path / "app.log.2")
    os.truncate(path, 0)
    assert source.read_available() == []
    writer("w 10")
    read_until(source, 110, got)
    assert numbers(got) == list(range(1, 111))
    assert source.position()["offset"] == path.stat().st_size
    source.close()


def test_deleted_and_recreated_file(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"a 1\na 2\n")
    with FileSource(path, linger=0.0) as source:
        assert [x.text for x in source.read_available()] == ["a 1", "a 2"]
        path.unlink()
        assert source.read_available() == []
        path.write_bytes(b"b 1\n")
        assert [x.text for x in source.read_available()] == ["b 1"]
        assert source.position()["offset"] == 4


def test_restore_from_a_checkpoint_continues_after_the_last_line(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"one\ntwo\nthr")
    with FileSource(path) as source:
        source.read_available()
        position = source.position()
    with path.open("ab") as f:
        f.write(b"ee\nfour\n")
    with FileSource.from_position(position) as resumed:
        assert [x.text for x in resumed.read_available()] == ["three", "four"]
        assert resumed.take_notes() == []


def test_restore_after_rotation_while_stopped_reads_the_rest_of_the_old_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"".join(b"line %06d\n" % n for n in range(1, 11)))
    with FileSource(path) as source:
        assert len(source.read_available()) == 10
        position = source.position()
    with path.open("ab") as f:
        f.write(b"".join(b"line %06d\n" % n for n in range(11, 16)))
    os.rename(path, tmp_path / "a.log.1")
    path.write_bytes(b"".join(b"line %06d\n" % n for n in range(16, 21)))
    with FileSource.from_position(position, linger=0.0) as resumed:
        (note,) = resumed.take_notes()
        assert "rotated" in note and "a.log.1" in note
        got = read_until(resumed, 10, [])
        assert numbers(got) == list(range(11, 21))


def test_restore_on_a_replaced_file_starts_over_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"old\n" * 5)
    with FileSource(path) as source:
        source.read_available()
        position = source.position()
    path.unlink()
    (tmp_path / "other").write_bytes(b"keep the old inode busy\n")
    path.write_bytes(b"new 1\nnew 2\n")
    with FileSource.from_position(position) as resumed:
        (note,) = resumed.take_notes()
        assert "not the file the checkpoint was taken on" in note
        assert [x.text for x in resumed.read_available()] == ["new 1", "new 2"]


def test_restore_on_a_truncated_file_starts_over_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"old line\n" * 5)
    with FileSource(path) as source:
        source.read_available()
        position = source.position()
    os.truncate(path, 0)
    with path.open("ab") as f:
        f.write(b"new\n")
    with FileSource.from_position(position) as resumed:
        (note,) = resumed.take_notes()
        assert "truncated" in note
        assert [x.text for x in resumed.read_available()] == ["new"]


def test_restore_of_a_missing_file_waits_for_it(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"x\n")
    with FileSource(path) as source:
        source.read_available()
        position = source.position()
    path.unlink()
    with FileSource.from_position(position) as resumed:
        assert resumed.read_available() == []
        assert any("gone" in note for note in resumed.take_notes())
        path.write_bytes(b"again\n")
        assert [x.text for x in resumed.read_available()] == ["again"]


def test_negative_start_offset_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="negative"):
        FileSource(tmp_path / "a.log", start_offset=-1)


def test_follow_yields_lines_until_stopped(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"")
    source = FileSource(path, poll=0.01)
    stop = threading.Event()

    def write() -> None:
        for n in range(1, 6):
            with path.open("ab") as f:
                f.write(b"line %06d\n" % n)
            time.sleep(0.01)

    thread = threading.Thread(target=write)
    thread.start()
    got: list[Line] = []
    for line in source.follow(stop):
        got.append(line)
        if len(got) == 5:
            stop.set()
    thread.join()
    assert numbers(got) == [1, 2, 3, 4, 5]
    source.close()


def test_follow_with_final_flush_hands_out_the_partial_line(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"a\nunfinished")
    stop = threading.Event()
    stop.set()
    with FileSource(path) as source:
        assert [x.text for x in source.follow(stop, final_flush=True)] == ["a", "unfinished"]


def test_stdin_source_on_a_pipe_does_not_block(tmp_path: Path) -> None:
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "rb", buffering=0) as stream:
        source = StdinSource(stream, name="pipe")
        assert source.read_available() == []  # nothing written: returns at once
        os.write(write_fd, b"one\ntw")
        assert [(x.text, x.source) for x in source.read_available()] == [("one", "pipe")]
        os.write(write_fd, b"o\n")
        assert [x.text for x in source.read_available()] == ["two"]
        assert source.position() is None
        os.close(write_fd)
        assert source.read_available(timeout=5) == []
        assert source.eof


STDIN_READER = r"""
import json
from turbosec.watch.sources import StdinSource
for line in StdinSource():
    print(json.dumps([len(line.text), line.text[:20], line.too_long]), flush=True)
"""


def test_stdin_source_in_a_real_process() -> None:
    data = b"first\r\n" + b"L" * (MAX_LINE + 100) + b"\nsecond\nno newline at the end"
    result = subprocess.run(
        [sys.executable, "-c", STDIN_READER],
        input=data,
        capture_output=True,
        timeout=60,
        check=True,
        cwd=REPO,
    )
    rows = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert rows == [
        [5, "first", False],
        [MAX_LINE + 1, "L" * 20, True],
        [6, "second", False],
        [21, "no newline at the en", False],
    ]
