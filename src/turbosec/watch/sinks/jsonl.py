"""Alerts appended to a file, one JSON object per line -- idempotently.

A watcher restarted from a checkpoint replays the events after it and may raise an alert it
had already written before it stopped.  Alert ids are stable (rule, group, first event), so
on opening the sink reads the ids in the last few MiB of the file and skips an alert whose
id is already there.  Ids are remembered for the rest of the run too, up to a bound.

Each alert is written and handed to the operating system at once (``tail -f`` shows it);
:meth:`JsonlFileSink.flush` also ``fsync``\\ s.  A last line cut short by a crash is ended
with a newline before anything is appended, so it cannot swallow the next alert.  The file
is created readable by its owner only: alerts name addresses and accounts.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import orjson

from turbosec.core.event import Alert
from turbosec.watch.sinks.base import SinkError

#: Alert ids remembered at most (the oldest are forgotten first).
MAX_REMEMBERED = 100_000


class JsonlFileSink:
    """Append alerts as JSON lines to ``path``, skipping ids already written."""

    name = "file"

    def __init__(self, path: Path, *, tail_bytes: int = 4 * 1024 * 1024) -> None:
        self.path = Path(path)
        self.skipped = 0
        self.written = 0
        self._seen: OrderedDict[str, None] = OrderedDict()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(
                self.path,
                os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0),
                0o600,
            )
        except OSError as exc:
            raise SinkError(
                f"cannot open the alert file: {exc.strerror}",
                where=f"file sink {self.path}",
                hint="check that the folder exists and is writable",
            ) from None
        self._file = os.fdopen(fd, "r+b", buffering=0)
        self._load_tail(tail_bytes)

    def _load_tail(self, tail_bytes: int) -> None:
        size = os.fstat(self._file.fileno()).st_size
        if size == 0:
            return
        start = max(0, size - tail_bytes)
        data = os.pread(self._file.fileno(), size - start, start)
        if start > 0:
            first = data.find(b"\n")
            data = data[first + 1 :] if first >= 0 else b""
        for line in data.split(b"\n"):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            alert_id = record.get("alert_id") if isinstance(record, dict) else None
            if isinstance(alert_id, str):
                self._remember(alert_id)
        if os.pread(self._file.fileno(), 1, size - 1) != b"\n":
            self._file.write(b"\n")  # end a line a crash cut short

    def _remember(self, alert_id: str) -> None:
        self._seen[alert_id] = None
        if len(self._seen) > MAX_REMEMBERED:
            self._seen.popitem(last=False)

    def emit(self, alert: Alert) -> None:
        alert_id = alert.alert_id
        if alert_id in self._seen:
            self.skipped += 1
            return
        try:
            self._file.write(alert.to_json() + b"\n")
        except OSError as exc:
            raise SinkError(
                f"cannot write the alert: {exc.strerror}",
                where=f"file sink {self.path}",
                hint="check the free space and permissions of the file system",
            ) from None
        self._remember(alert_id)
        self.written += 1

    def flush(self) -> None:
        if not self._file.closed:
            os.fsync(self._file.fileno())

    def close(self) -> None:
        if not self._file.closed:
            self.flush()
            self._file.close()


__all__ = ["MAX_REMEMBERED", "JsonlFileSink"]
