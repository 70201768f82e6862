"""The watcher's checkpoint file: engine state, source positions and delivered alerts.

A watcher killed at any moment (``kill -9``, power loss) restarts from its last checkpoint:
the engine's windows (:meth:`~turbosec.watch.engine.Engine.snapshot`), where each source
was read up to, and the ids of the alerts delivered recently (so that alerts raised again
while re-reading the lines after the checkpoint are recognised as already sent).  Together
they make the alerts of a restarted watcher equal to those of an uninterrupted one.

File format
-----------
Two parts: one header line of JSON, then the body (JSON)::

    {"format": "turbosec-watch-checkpoint", "version": 1, "length": 1234, "sha256": "..."}
    {"written_at": "...", "engine": {...}, "sources": [...], "delivered": [...], "meta": {...}}

The header's ``length`` and ``sha256`` describe the body's bytes, so a truncated or
damaged file is recognised as such instead of being half-read.  The body is at most
:data:`MAX_CHECKPOINT_BYTES`.

Writing is atomic: the new content goes to a temporary file in the same directory, is
flushed to disk (``fsync``), renamed over the old file (``os.replace``) and the directory
is flushed so the rename survives a crash.  At every instant the path holds either the
old checkpoint or the new one, complete.  The file is created readable by its owner only:
the samples in engine state hold user names and addresses.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from turbosec.watch.engine import StateError

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "MAX_CHECKPOINT_BYTES",
    "Checkpoint",
    "StateError",
    "load_checkpoint",
    "save_checkpoint",
]

CHECKPOINT_FORMAT = "turbosec-watch-checkpoint"
CHECKPOINT_VERSION = 1
#: Largest checkpoint body read or written (256 MiB).
MAX_CHECKPOINT_BYTES = 256 * 1024 * 1024
#: Longest header line accepted.
_MAX_HEADER = 4096
_START_OVER = (
    "delete the checkpoint file to start with empty state (alerts already sent "
    "may be sent again once)"
)


@dataclass(frozen=True)
class Checkpoint:
    """What :func:`load_checkpoint` read back."""

    path: Path
    engine: dict[str, Any]
    sources: list[dict[str, Any]]
    delivered: list[str]
    meta: dict[str, Any] = field(default_factory=dict)
    written_at: str | None = None


def save_checkpoint(
    path: Path | str,
    *,
    engine: Mapping[str, Any],
    sources: Sequence[Mapping[str, Any]],
    delivered: Sequence[str],
    meta: Mapping[str, Any] | None = None,
) -> int:
    """Write a checkpoint atomically; returns its size in bytes.

    ``engine`` is :meth:`Engine.snapshot() <turbosec.watch.engine.Engine.snapshot>`,
    ``sources`` the sources' positions, ``delivered`` the ids of recently delivered
    alerts, ``meta`` anything else the caller wants back (JSON-able).  Raises
    :class:`StateError` when the state is larger than :data:`MAX_CHECKPOINT_BYTES` or
    cannot be written.
    """
    path = Path(path)
    body_data = {
        "written_at": datetime.now(UTC).isoformat(timespec="microseconds"),
        "engine": engine,
        "sources": list(sources),
        "delivered": list(delivered),
        "meta": dict(meta or {}),
    }
    try:
        body = orjson.dumps(body_data)
    except TypeError as exc:
        raise StateError(
            f"watcher state cannot be written as JSON: {exc}",
            where=str(path),
            hint="this is a bug in turbosec; please report it",
        ) from exc
    if len(body) > MAX_CHECKPOINT_BYTES:
        raise StateError(
            f"watcher state is {len(body) / 2**20:.0f} MiB, more than the "
            f"{MAX_CHECKPOINT_BYTES // 2**20} MiB a checkpoint may hold",
            where=str(path),
            hint="lower max_groups so that fewer groups are kept per rule",
        )
    header = orjson.dumps(
        {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "length": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
        }
    )
    directory = path.parent
    # one fixed name: a writer killed mid-write leaves at most this file, and the next
    # write reuses it (one watcher per checkpoint)
    tmp = directory / f".{path.name}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(header)
                handle.write(b"\n")
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        _fsync_dir(directory)
    except OSError as exc:
        raise StateError(
            f"cannot write the checkpoint: {exc.strerror or exc}",
            where=str(path),
            hint="check that the directory exists, is writable and has free space",
        ) from exc
    return len(header) + 1 + len(body)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse
        pass
    finally:
        os.close(fd)


def load_checkpoint(path: Path | str) -> Checkpoint | None:
    """Read a checkpoint; ``None`` when there is none.

    Raises :class:`StateError` (saying what is wrong and what to do) when the file is
    not a checkpoint, truncated, damaged, of another format version or too big.
    """
    path = Path(path)
    where = str(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(
            f"cannot read the checkpoint: {exc.strerror or exc}",
            where=where,
            hint="check the file's permissions",
        ) from exc
    if size > MAX_CHECKPOINT_BYTES + _MAX_HEADER:
        raise StateError(
            f"checkpoint is {size / 2**20:.0f} MiB, more than the "
            f"{MAX_CHECKPOINT_BYTES // 2**20} MiB turbosec reads",
            where=where,
            hint=_START_OVER,
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StateError(
            f"cannot read the checkpoint: {exc.strerror or exc}",
            where=where,
            hint="check the file's permissions",
        ) from exc
    newline = data.find(b"\n", 0, _MAX_HEADER)
    header: Any = None
    if newline > 0:
        try:
            header = orjson.loads(data[:newline])
        except orjson.JSONDecodeError:
            header = None
    if not isinstance(header, dict) or header.get("format") != CHECKPOINT_FORMAT:
        raise StateError(
            "not a turbosec watch checkpoint (no valid header line)",
            where=where,
            hint="point --state at a checkpoint file turbosec wrote, or " + _START_OVER,
        )
    version = header.get("version")
    if version != CHECKPOINT_VERSION:
        raise StateError(
            f"checkpoint format version {version!r}; this turbosec reads version "
            f"{CHECKPOINT_VERSION}",
            where=where,
            hint=_START_OVER,
        )
    body = data[newline + 1 :]
    length = header.get("length")
    if not isinstance(length, int) or length != len(body):
        raise StateError(
            f"checkpoint is truncated or padded: body of {len(body)} bytes, header says {length!r}",
            where=where,
            hint=_START_OVER,
        )
    if hashlib.sha256(body).hexdigest() != header.get("sha256"):
        raise StateError(
            "checkpoint is damaged: its content does not match its checksum",
            where=where,
            hint=_START_OVER,
        )
    try:
        content = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise StateError(
            f"checkpoint body is not valid JSON: {exc}", where=where, hint=_START_OVER
        ) from exc
    problem = _check_body(content)
    if problem:
        raise StateError(f"checkpoint is malformed: {problem}", where=where, hint=_START_OVER)
    return Checkpoint(
        path=path,
        engine=content["engine"],
        sources=content["sources"],
        delivered=content["delivered"],
        meta=content.get("meta") or {},
        written_at=content.get("written_at"),
    )


def _check_body(content: Any) -> str | None:
    if not isinstance(content, dict):
        return "the body is not a JSON object"
    if not isinstance(content.get("engine"), dict):
        return "'engine' is not an object"
    sources = content.get("sources")
    if not isinstance(sources, list) or not all(isinstance(s, dict) for s in sources):
        return "'sources' is not a list of objects"
    delivered = content.get("delivered")
    if not isinstance(delivered, list) or not all(isinstance(d, str) for d in delivered):
        return "'delivered' is not a list of alert ids"
    meta = content.get("meta")
    if meta is not None and not isinstance(meta, dict):
        return "'meta' is not an object"
    return None
