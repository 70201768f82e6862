"""Where ``turbosec watch`` reads lines: log files it follows like ``tail -F``, and stdin.

A :class:`FileSource` follows one path, not one file.  Log rotation replaces the file behind
the path in one of three ways, and each is handled without losing or repeating a line:

* **rename** (logrotate's default, ``create``): the file is moved aside (``auth.log.1``) and
  a new one appears under the path.  The old file is read to its end first, then the new
  one from its start.  The old descriptor stays open for a short *linger* time, because the
  application keeps writing to it until it is told to reopen its log (``postrotate`` HUP).
* **copytruncate**: the file is copied aside and truncated in place.  Seen as a size smaller
  than what was already read -- or, when the application wrote a lot before the next poll,
  as different bytes just before the read position -- and read again from offset 0.
* **deleted and recreated**, and a file that does not exist yet: the source waits and reads
  the new file from its start when it appears.

Every :class:`Line` carries the byte offset just *after* it, and :meth:`FileSource.position`
gives ``{"path", "inode", "dev", "offset"}`` for a checkpoint.  A source built from a
checkpoint checks that the path still names the same file (device and inode): if it does
not, the file was rotated while the watcher was down, so the source looks for the old file
next to it (``auth.log.1``...), reads its rest, then reads the current file from its start.
What it decided is said in :meth:`FileSource.take_notes`, for the runner to show.

Lines are split on ``\\n`` (a ``\\r`` before it is dropped) and decoded as UTF-8 with
invalid bytes replaced.  A partial last line is held back until its newline arrives.  A line
longer than :data:`~turbosec.events.parsers.base.MAX_LINE` bytes is never held whole: its
first ``MAX_LINE + 1`` bytes are kept (so :func:`~turbosec.events.parsers.base.parse_lines`
still counts it malformed for ASCII text) and :attr:`Line.too_long` is set; the rest is
dropped as it is read.

Polling, not inotify: one ``fstat`` per poll, plus one ``stat`` of the path when the file
is at its end -- cheap, portable, and correct on network file systems.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from turbosec.events.parsers.base import MAX_LINE

logger = logging.getLogger("turbosec.watch.sources")

#: Bytes read from a file per ``os.read`` call.
CHUNK = 64 * 1024
#: Bytes of lines one :meth:`FileSource.read_available` call returns at most (about).
MAX_BATCH_BYTES = 4 * 1024 * 1024
#: Bytes kept from just before the read position to recognise a rewritten file.
_GUARD = 64
#: Most rotated siblings (``auth.log.1``...) looked at when restoring a checkpoint.
_MAX_SIBLINGS = 256


@dataclass(slots=True)
class Line:
    """One line, without its line end.

    ``offset`` is the byte offset just after the line (its newline included) in the file it
    was read from -- what a checkpoint stores.  ``too_long`` says the line was longer than
    ``MAX_LINE`` bytes and ``text`` holds only its beginning: count it malformed.
    """

    text: str
    source: str
    offset: int
    too_long: bool = False


class _Splitter:
    """Bytes in, complete :class:`Line` objects out, with offsets and a bounded buffer."""

    __slots__ = ("buffer", "cut", "cut_len", "offset", "source")

    def __init__(self, source: str, offset: int) -> None:
        self.source = source
        #: Offset just after the last complete line handed out.
        self.offset = offset
        #: Bytes of the current, unfinished line (at most MAX_LINE).
        self.buffer = b""
        #: The kept beginning of a too-long line being skipped, or None.
        self.cut: bytes | None = None
        #: Bytes of that too-long line seen so far.
        self.cut_len = 0

    @property
    def pending(self) -> int:
        """Bytes read after the last complete line."""
        return self.cut_len if self.cut is not None else len(self.buffer)

    def feed(self, data: bytes, out: list[Line]) -> None:
        if self.cut is not None:
            newline = data.find(b"\n")
            if newline < 0:
                self.cut_len += len(data)
                return
            self.offset += self.cut_len + newline + 1
            out.append(Line(_decode(self.cut), self.source, self.offset, True))
            self.cut = None
            self.cut_len = 0
            data = data[newline + 1 :]
        if self.buffer:
            data = self.buffer + data
            self.buffer = b""
        pieces = data.split(b"\n")
        rest = pieces.pop()
        offset = self.offset
        source = self.source
        append = out.append
        for raw in pieces:
            offset += len(raw) + 1
            if raw[-1:] == b"\r":
                raw = raw[:-1]
            if len(raw) > MAX_LINE:
                append(Line(_decode(raw[: MAX_LINE + 1]), source, offset, True))
            else:
                append(Line(_decode(raw), source, offset))
        self.offset = offset
        if len(rest) > MAX_LINE:
            self.cut = rest[: MAX_LINE + 1]
            self.cut_len = len(rest)
        else:
            self.buffer = rest

    def flush(self, out: list[Line]) -> None:
        """Hand out the unfinished last line as a line (the caller knows it is final)."""
        if self.cut is not None:
            self.offset += self.cut_len
            out.append(Line(_decode(self.cut), self.source, self.offset, True))
            self.cut = None
            self.cut_len = 0
        elif self.buffer:
            self.offset += len(self.buffer)
            raw = self.buffer[:-1] if self.buffer[-1:] == b"\r" else self.buffer
            out.append(Line(_decode(raw), self.source, self.offset))
            self.buffer = b""

    def reset(self, offset: int) -> None:
        self.offset = offset
        self.buffer = b""
        self.cut = None
        self.cut_len = 0


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


class _Reader:
    """One open file: its descriptor, identity, read position and line splitter."""

    def __init__(self, fd: int, dev: int, ino: int, offset: int, source: str) -> None:
        self.fd = fd
        self.dev = dev
        self.ino = ino
        #: Bytes read from the file so far (= splitter offset + pending bytes).
        self.read_pos = offset
        self.splitter = _Splitter(source, offset)
        #: The last bytes read, to recognise a file rewritten in place.
        self.guard = b""
        #: (size, mtime) when the guard bytes were last found unchanged.
        self.seen: tuple[int, int] | None = None
        #: For a retired reader: when to stop reading it.
        self.deadline = 0.0

    @classmethod
    def open(cls, path: Path, offset: int, source: str) -> _Reader:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            st = os.fstat(fd)
            reader = cls(fd, st.st_dev, st.st_ino, 0, source)
            if offset:
                reader.seek(offset)
        except OSError:
            os.close(fd)
            raise
        return reader

    def seek(self, offset: int) -> None:
        """Continue at ``offset``, a line boundary (a checkpoint, the end of the file)."""
        os.lseek(self.fd, offset, os.SEEK_SET)
        self.read_pos = offset
        start = max(0, offset - _GUARD)
        self.guard = os.pread(self.fd, offset - start, start) if offset else b""
        self.seen = None
        self.splitter.reset(offset)

    @property
    def offset(self) -> int:
        return self.splitter.offset

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def rewritten(self) -> bool:
        """Whether the file no longer holds what was read (truncated, maybe refilled)."""
        st = os.fstat(self.fd)
        if st.st_size < self.read_pos:
            return True
        seen = (st.st_size, st.st_mtime_ns)
        if seen == self.seen or not self.guard:
            self.seen = seen
            return False
        # grown or touched: do the bytes before the read position still hold what was read?
        start = self.read_pos - len(self.guard)
        if os.pread(self.fd, len(self.guard), start) != self.guard:
            return True
        self.seen = seen
        return False

    def read(self, out: list[Line], budget: int) -> tuple[int, bool]:
        """Read up to about ``budget`` bytes; (bytes read, reached the end of the file)."""
        total = 0
        while total < budget:
            data = os.read(self.fd, CHUNK)
            if not data:
                return total, True
            total += len(data)
            self.read_pos += len(data)
            self.guard = data[-_GUARD:] if len(data) >= _GUARD else (self.guard + data)[-_GUARD:]
            self.splitter.feed(data, out)
        return total, False

    def restart(self) -> None:
        """Read again from offset 0 (the file was truncated or rewritten)."""
        os.lseek(self.fd, 0, os.SEEK_SET)
        self.read_pos = 0
        self.guard = b""
        self.seen = None
        self.splitter.reset(0)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


class FileSource:
    """Follow one log file by path, through rotation, like ``tail -F``.

    ``start_offset`` (with ``inode``/``dev`` from a checkpoint, see :meth:`from_position`)
    resumes where a previous run stopped.  ``from_end`` starts after the last complete line
    present now (``tail -n0``); a file that appears later is read from its start.  Without
    either, the file is read from its start.  ``linger`` is how long (seconds) a rotated-away
    file is still read for lines its writer adds before reopening the new one.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        start_offset: int | None = None,
        inode: int | None = None,
        dev: int | None = None,
        from_end: bool = False,
        poll: float = 0.2,
        linger: float = 2.0,
        name: str | None = None,
        max_batch_bytes: int = MAX_BATCH_BYTES,
    ) -> None:
        if start_offset is not None and start_offset < 0:
            raise ValueError(f"{path}: start offset must not be negative, got {start_offset}")
        self.path = Path(path)
        self.name = name or str(path)
        self.poll = poll
        self.linger = linger
        self.max_batch_bytes = max_batch_bytes
        self._current: _Reader | None = None
        self._retired: list[_Reader] = []
        self._notes: list[str] = []
        self._said: set[str] = set()
        self._closed = False
        self._start(start_offset, inode, dev, from_end)

    @classmethod
    def from_position(cls, position: Mapping[str, Any], **kwargs: Any) -> FileSource:
        """A source resuming at a checkpoint :meth:`position` returned."""
        offset = position.get("offset")
        inode = position.get("inode")
        dev = position.get("dev")
        return cls(
            position["path"],
            start_offset=int(offset) if offset is not None else None,
            inode=int(inode) if inode is not None else None,
            dev=int(dev) if dev is not None else None,
            **kwargs,
        )

    # --- notes ------------------------------------------------------------------------

    def _note(self, text: str, *, once: str | None = None) -> None:
        if once is not None:
            if once in self._said:
                return
            self._said.add(once)
        self._notes.append(text)
        logger.debug("%s", text)  # the runner shows notes; logging them too would repeat

    def take_notes(self) -> list[str]:
        """What the source decided that a user should know (then forgotten)."""
        notes, self._notes = self._notes, []
        return notes

    # --- opening ----------------------------------------------------------------------

    def _open(self, offset: int) -> _Reader | None:
        try:
            reader = _Reader.open(self.path, offset, self.name)
        except FileNotFoundError:
            self._note(f"{self.path} does not exist yet; waiting for it", once="missing")
            return None
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            self._note(
                f"cannot open {self.path}: {reason}; retrying (check its permissions)",
                once=f"open:{reason}",
            )
            return None
        self._said.discard("missing")
        return reader

    def _start(
        self, start_offset: int | None, inode: int | None, dev: int | None, from_end: bool
    ) -> None:
        if start_offset is None:
            reader = self._open(0)
            if reader is not None and from_end:
                reader.seek(_last_line_end(reader.fd, reader.size()))
            self._current = reader
            return
        try:
            st = os.stat(self.path)
            current: tuple[int, int] | None = (st.st_dev, st.st_ino)
            size = st.st_size
        except OSError:
            current = None
            size = 0
        same = current is not None and (
            inode is None or (current[1] == inode and (dev is None or current[0] == dev))
        )
        if current is not None and same:
            if size < start_offset:
                self._note(
                    f"{self.path} is shorter ({size} bytes) than the checkpoint offset "
                    f"({start_offset}): it was truncated; reading it from its start"
                )
                self._current = self._open(0)
            else:
                self._current = self._open(start_offset)
            return
        old = self._find_rotated(dev, inode) if inode is not None else None
        if old is not None and old[1] >= start_offset:
            try:
                reader = _Reader.open(old[0], start_offset, self.name)
            except OSError:
                reader = None
            if reader is not None:
                reader.deadline = time.monotonic() + self.linger
                self._retired.append(reader)
                self._note(
                    f"{self.path} was rotated since the checkpoint: reading the rest of "
                    f"{old[0].name}, then {self.path.name} from its start"
                )
                self._current = self._open(0)
                return
        if current is None:
            self._note(
                f"{self.path} is gone since the checkpoint; waiting for it and reading "
                "it from its start when it appears"
            )
        else:
            self._note(
                f"{self.path} is not the file the checkpoint was taken on (it was replaced "
                "or rotated): reading it from its start"
            )
        self._current = self._open(0)

    def _find_rotated(self, dev: int | None, inode: int) -> tuple[Path, int] | None:
        """The file next to the path with this identity (``auth.log.1``), and its size."""
        directory = self.path.parent
        try:
            entries = os.scandir(directory)
        except OSError:
            return None
        with entries:
            seen = 0
            for entry in entries:
                if entry.name == self.path.name or not entry.name.startswith(self.path.name):
                    continue
                seen += 1
                if seen > _MAX_SIBLINGS:
                    break
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if st.st_ino == inode and (dev is None or st.st_dev == dev):
                    return Path(entry.path), st.st_size
        return None

    # --- reading ----------------------------------------------------------------------

    def read_available(self, *, final: bool = False) -> list[Line]:
        """The complete lines there are now, without waiting.

        Returns at most about ``max_batch_bytes`` of lines: call again while it returns
        some.  ``final=True`` also returns an unfinished last line (the caller stops and
        will not read again); the offset then points after it.
        """
        if self._closed:
            return []
        out: list[Line] = []
        budget = self.max_batch_bytes
        now = time.monotonic()
        for reader in list(self._retired):
            try:
                used, at_end = reader.read(out, budget)
            except OSError:
                used, at_end = 0, True
            budget -= used
            if at_end and (final or now >= reader.deadline):
                reader.splitter.flush(out)
                reader.close()
                self._retired.remove(reader)
        if self._current is None:
            self._current = self._open(0)
        current = self._current
        if current is not None and budget > 0:
            self._read_current(current, out, budget)
        if final and self._current is not None:
            self._current.splitter.flush(out)
        return out

    def _read_current(self, current: _Reader, out: list[Line], budget: int) -> None:
        try:
            if current.rewritten():
                self._note(f"{self.path} was truncated (copytruncate?); reading it from its start")
                logger.info("%s truncated at offset %d", self.path, current.read_pos)
                current.splitter.flush(out)
                current.restart()
            used, at_end = current.read(out, budget)
        except OSError as exc:
            self._note(f"cannot read {self.path}: {exc.strerror}", once=f"read:{exc.errno}")
            return
        if not at_end:
            return
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return  # moved away or deleted, nothing new yet: keep reading the old file
        except OSError:
            return
        if (st.st_dev, st.st_ino) == (current.dev, current.ino):
            return
        # Rotated: the old file was read to its end above.  Keep it open for a while for
        # lines its writer still adds, and read the new file from its start.
        reader = self._open(0)
        if reader is None:
            return
        logger.info("%s was replaced (rotated); following the new file", self.path)
        current.deadline = time.monotonic() + self.linger
        self._retired.append(current)
        self._current = reader
        with contextlib.suppress(OSError):
            reader.read(out, max(budget - used, CHUNK))

    def follow(self, stop: threading.Event, *, final_flush: bool = False) -> Iterator[Line]:
        """Every line as it arrives, polling every :attr:`poll` seconds, until ``stop`` is set.

        ``final_flush`` hands out an unfinished last line when stopping.
        """
        while not stop.is_set():
            lines = self.read_available()
            if lines:
                yield from lines
            else:
                stop.wait(self.poll)
        yield from self.read_available(final=final_flush)

    def position(self) -> dict[str, Any]:
        """Where to resume: the current file's identity and the offset after the last line."""
        current = self._current
        if current is None:
            return {"path": str(self.path), "inode": None, "dev": None, "offset": 0}
        return {
            "path": str(self.path),
            "inode": current.ino,
            "dev": current.dev,
            "offset": current.offset,
        }

    def close(self) -> None:
        self._closed = True
        for reader in self._retired:
            reader.close()
        self._retired = []
        if self._current is not None:
            self._current.close()
            self._current = None

    def __enter__(self) -> FileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _last_line_end(fd: int, size: int) -> int:
    """The offset just after the last newline in the file's last 64 KiB (else ``size``)."""
    if size == 0:
        return 0
    start = max(0, size - MAX_LINE)
    tail = os.pread(fd, size - start, start)
    newline = tail.rfind(b"\n")
    if newline < 0:
        return 0 if start == 0 else size
    return start + newline + 1


class StdinSource:
    """Lines from standard input (``-``) or any readable binary stream; no offsets.

    Non-blocking on POSIX: :meth:`read_available` asks ``select`` whether there is data and
    reads what is there.  The descriptor is read with ``os.read``, bypassing Python's
    buffered reader, so no lock is held while waiting.  ``Line.offset`` counts the bytes read
    so far; it cannot be used to resume.
    """

    def __init__(
        self,
        stream: IO[bytes] | None = None,
        *,
        name: str = "stdin",
        poll: float = 0.2,
        max_batch_bytes: int = MAX_BATCH_BYTES,
    ) -> None:
        self._stream = stream if stream is not None else sys.stdin.buffer
        self._fd = self._stream.fileno()
        self.name = name
        self.poll = poll
        self.max_batch_bytes = max_batch_bytes
        self._splitter = _Splitter(name, 0)
        self.eof = False
        self._selectable = os.name == "posix"

    def _readable(self, timeout: float) -> bool:
        if not self._selectable:
            return True  # blocking read: no select on pipes outside POSIX
        ready, _, _ = select.select([self._fd], [], [], timeout)
        return bool(ready)

    def read_available(self, *, timeout: float = 0.0) -> list[Line]:
        """The complete lines readable now (waiting up to ``timeout`` seconds for some).

        At end of input the unfinished last line is returned too and :attr:`eof` is set.
        """
        out: list[Line] = []
        if self.eof:
            return out
        total = 0
        wait = timeout
        while total < self.max_batch_bytes and self._readable(wait):
            wait = 0.0
            data = os.read(self._fd, CHUNK)
            if not data:
                self.eof = True
                self._splitter.flush(out)
                break
            total += len(data)
            self._splitter.feed(data, out)
            if out and not self._selectable:
                break
        return out

    def follow(self, stop: threading.Event | None = None) -> Iterator[Line]:
        """Every line until end of input (or until ``stop`` is set)."""
        while not self.eof and (stop is None or not stop.is_set()):
            yield from self.read_available(timeout=self.poll)

    def __iter__(self) -> Iterator[Line]:
        return self.follow()

    def position(self) -> None:
        """Standard input cannot be resumed."""
        return None

    def close(self) -> None:
        self.eof = True


__all__ = ["CHUNK", "MAX_BATCH_BYTES", "FileSource", "Line", "StdinSource"]
