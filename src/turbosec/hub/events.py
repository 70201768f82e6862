"""Security events in the OWASP Logging Vocabulary, written as one JSON object per line.

The hub logs what an attacker would do to it (failed logins, locked accounts, denied
access, revoked tokens used again) on the ``turbosec.hub.security`` logger, so that the
same vocabulary ``turbosec watch`` reads can be used to watch the hub itself::

    {"datetime": "2024-05-01T12:00:00+02:00", "appid": "turbosec.hub",
     "event": "authn_login_fail:alice", "level": "WARN", "description": "...",
     "source_ip": "10.0.0.7", "useragent": "curl/8.5", "request_uri": "/api/v1/auth/login",
     "request_method": "POST", "hostname": "hub-1"}

Every field is a string (or null when unknown); event arguments are cut to a sane length
and stripped of separators, so user-supplied names cannot forge other events.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
from dataclasses import dataclass
from typing import Literal

import orjson

LOGGER_NAME = "turbosec.hub.security"
APP_ID = "turbosec.hub"

Level = Literal["INFO", "WARN", "CRITICAL"]
_LOGGING_LEVELS: dict[str, int] = {
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "CRITICAL": logging.CRITICAL,
}
_MAX_ARG = 100
_MAX_FIELD = 1000

logger = logging.getLogger(LOGGER_NAME)


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """Where an event came from (all optional: the CLI has no request)."""

    source_ip: str | None = None
    useragent: str | None = None
    request_uri: str | None = None
    request_method: str | None = None


def _arg(value: object) -> str:
    """An event argument: no separators (``:`` ``,``), no control characters, bounded."""
    text = str(value)
    cleaned = "".join(
        "_" if ch in ":,;" or ch.isspace() or not ch.isprintable() else ch for ch in text
    )
    return cleaned[:_MAX_ARG] or "-"


def _field(value: str | None) -> str | None:
    return None if value is None else value[:_MAX_FIELD]


def event_name(name: str, *args: object) -> str:
    """``authn_login_fail:alice`` or ``authz_fail:alice,/api/v1/users``."""
    if not args:
        return name
    return f"{name}:{','.join(_arg(a) for a in args)}"


def format_event(
    name: str,
    *args: object,
    level: Level = "INFO",
    description: str,
    request: RequestInfo | None = None,
    now: dt.datetime | None = None,
) -> bytes:
    """The JSON line (without newline) of one event."""
    info = request or RequestInfo()
    when = (now or dt.datetime.now(dt.UTC)).astimezone()
    record = {
        "datetime": when.isoformat(timespec="seconds"),
        "appid": APP_ID,
        "event": event_name(name, *args),
        "level": level,
        "description": _field(description),
        "source_ip": _field(info.source_ip),
        "useragent": _field(info.useragent),
        "request_uri": _field(info.request_uri),
        "request_method": _field(info.request_method),
        "hostname": socket.gethostname(),
    }
    return orjson.dumps(record)


def log_event(
    name: str,
    *args: object,
    level: Level = "INFO",
    description: str,
    request: RequestInfo | None = None,
) -> None:
    """Log one event on ``turbosec.hub.security`` (the message is the JSON line)."""
    log_level = _LOGGING_LEVELS[level]
    if not logger.isEnabledFor(log_level):
        return
    line = format_event(name, *args, level=level, description=description, request=request)
    logger.log(log_level, line.decode("utf-8"))


class JsonLineFormatter(logging.Formatter):
    """Formats the security logger's records as their bare JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        return record.getMessage()
