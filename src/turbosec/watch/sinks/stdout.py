"""Alerts on standard output: one line a human reads, or one JSON object per line.

The human line puts what matters first and keeps one alert on one line, so that ``grep`` and
``tail -f`` work on it::

    HIGH     SSH password brute force [ssh-brute-force] source_ip=203.0.113.9 count=12
             window=2024-05-01T12:00:00Z..2024-05-01T12:00:03Z (3s)

(on one line).  Group values come from log lines an attacker writes, so every character that
is not printable (escape sequences, newlines) is shown escaped and values are bounded.
"""

from __future__ import annotations

from datetime import datetime
from typing import TextIO

from turbosec.core.event import Alert, as_utc

#: Characters of one group value or title shown at most.
_VALUE_LIMIT = 200


def clean(text: str, limit: int = _VALUE_LIMIT) -> str:
    """``text`` with non-printable characters escaped, cut to ``limit`` characters."""
    if len(text) > limit:
        text = text[:limit] + "…"
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def _value(text: str | None) -> str:
    if text is None:
        return "-"
    shown = clean(text)
    if not shown or any(ch in shown for ch in ' ="'):
        return '"' + shown.replace('"', '\\"') + '"'
    return shown


def utc_seconds(value: datetime) -> str:
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def duration(seconds: float) -> str:
    """``3s``, ``2m05s``, ``1h02m``, ``2d03h``."""
    total = round(seconds)
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def format_alert(alert: Alert) -> str:
    """The one-line human form of an alert (without line end)."""
    group = " ".join(f"{clean(k, 60)}={_value(v)}" for k, v in alert.group) or "group=-"
    span = (alert.last_seen - alert.first_seen).total_seconds()
    return (
        f"{alert.severity.name:<8} {clean(alert.title)} [{clean(alert.rule_id, 120)}] "
        f"{group} count={alert.count} "
        f"window={utc_seconds(alert.first_seen)}..{utc_seconds(alert.last_seen)} ({duration(span)})"
    )


class HumanSink:
    """One human-readable line per alert on a text stream (stdout by default)."""

    name = "stdout"

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def emit(self, alert: Alert) -> None:
        self.stream.write(format_alert(alert) + "\n")
        self.stream.flush()

    def flush(self) -> None:
        self.stream.flush()

    def close(self) -> None:
        self.stream.flush()


class JsonSink:
    """One JSON object per alert and line (:meth:`Alert.to_dict`) on a text stream."""

    name = "json"

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def emit(self, alert: Alert) -> None:
        self.stream.write(alert.to_json().decode() + "\n")
        self.stream.flush()

    def flush(self) -> None:
        self.stream.flush()

    def close(self) -> None:
        self.stream.flush()


__all__ = ["HumanSink", "JsonSink", "clean", "duration", "format_alert", "utc_seconds"]
