"""Web server access logs: the common and combined formats of nginx and Apache httpd.

::

    203.0.113.9 - joe [27/Nov/2026:10:00:01 +0000] "GET /admin HTTP/1.1" 404 153 "-" "curl/8.5"
    %h          %l %u [%t]                         "%r"                  %>s %b  %{Referer}i
                                                                                     %{User-Agent}i

The common format stops after the size; the combined format adds the referer and the user
agent; fields nginx or Apache configurations append after those (``$http_x_forwarded_for``,
a request time...) are ignored.  Quotes inside quoted fields are escaped the way each server
writes them (Apache ``\\"``, nginx ``\\x22``); a raw ``"`` from an older server is tolerated.

**Every line becomes one neutral ``http_request`` event**: ``status``, ``request_method``,
``request_uri`` (with secret query parameters redacted), ``useragent``, ``source_ip``
(``%h``), ``user`` (``%u``, when not ``-``), and in ``extra`` the ``protocol``, ``bytes``
and ``referer``.  The parser does not decide that a 401 is a failed login or a 404 a probe:
a 401 is also what every browser receives before it sends credentials, a 404 what a stale
bookmark gets.  Rules do that, on counts and context (401/403 floods, many distinct 404
paths from one address, a 401 burst on ``/login`` followed by a 200).

A request line that is not ``METHOD URI [PROTOCOL]`` -- a TLS handshake sent to a plain
HTTP port (``"\\x16\\x03\\x01..."``), an empty request (``"-"``, a timeout), binary noise --
is still an ``http_request`` event, with ``request_method`` and ``request_uri`` empty and
``extra["bad_request"]`` set to ``tls_handshake``, ``empty`` or ``invalid`` (the request
text, bounded, in ``extra["request_line"]``): exactly what a scanner rule wants to count.
A line that is not in the format at all (no timestamp in brackets, no status) is malformed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from turbosec.core.event import Level, SecurityEvent, bound_text, new_event, raw_text, redact_text
from turbosec.events.parsers.base import MalformedLine, Parser

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}
_QUOTED = r'"([^"\\]*(?:\\.[^"\\]*)*)"'
# host ident user [time] "request" status size ["referer" "user agent"]
_LINE = re.compile(
    r"(\S+) (\S+) (\S+) \[([^\]]+)\] " + _QUOTED + r" (\d{3}) (\d+|-)"
    r"(?: " + _QUOTED + r" " + _QUOTED + r")?"
)
# Tolerant variant for servers that wrote a raw quote inside a field.
_LOOSE = re.compile(r'(\S+) (\S+) (.+?) \[([^\]]+)\] "(.*?)" (\d{3}) (\d+|-)(?: "(.*?)" "(.*)")?$')
_ESCAPE = re.compile(r'\\(["\\]|x22|x5[cC])')
_UNESCAPED = {'"': '"', "\\": "\\", "x22": '"', "x5c": "\\", "x5C": "\\"}
_METHOD = re.compile(r"[A-Z][A-Z0-9_-]{0,23}")
_KNOWN_METHODS = frozenset(
    {"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE", "PROPFIND"}
)
_REQUEST_LINE_LIMIT = 256


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    return _ESCAPE.sub(lambda m: _UNESCAPED[m.group(1)], text)


class AccessLogParser(Parser):
    """nginx/Apache common and combined access logs; see the module docstring."""

    name = "access-log"
    description = "nginx/Apache access logs, common or combined format"

    def __init__(self, *, hostname: str | None = None, appid: str | None = None) -> None:
        self.hostname = hostname
        self.appid = appid
        self._stamp = ""
        self._stamp_time = _EPOCH
        self._zones: dict[str, timezone] = {"+0000": UTC, "-0000": UTC}

    def detect(self, sample_lines: Sequence[str]) -> float:
        seen = hits = 0
        for line in sample_lines:
            text = line.strip()
            if not text:
                continue
            seen += 1
            if _LINE.match(text) is not None or _LOOSE.match(text) is not None:
                hits += 1
        return hits / seen if seen else 0.0

    def parse(self, line: str, source: str) -> SecurityEvent | None:
        m = _LINE.match(line)
        if m is None:
            m = _LOOSE.match(line)
            if m is None:
                raise MalformedLine("not a common/combined access log line")
        host, _ident, user, stamp, request, status, size, referer, agent = m.groups()
        when = self._time(stamp)
        extra: dict[str, Any] = {}
        method: str | None
        uri: str | None
        parts = request.split(" ")
        count = len(parts)
        method = parts[0]
        if (count == 3 or count == 2) and (method in _KNOWN_METHODS or _METHOD.fullmatch(method)):
            uri = parts[1]
            if "\\" in uri:
                uri = _unescape(uri)
            if "=" in uri:
                uri = redact_text(uri)
            if count == 3:
                extra["protocol"] = parts[2]
        else:
            method = uri = None
            if request in ("-", ""):
                extra["bad_request"] = "empty"
            else:
                extra["bad_request"] = (
                    "tls_handshake" if request.startswith(("\\x16\\x03", "\\x80")) else "invalid"
                )
                extra["request_line"] = redact_text(bound_text(request, _REQUEST_LINE_LIMIT))
        extra["bytes"] = None if size == "-" else int(size)
        if referer is not None and referer != "-":
            extra["referer"] = redact_text(bound_text(_unescape(referer), 1024))
        if agent is not None:
            agent = None if agent == "-" else bound_text(_unescape(agent), 1024)
        return new_event(
            when,
            "http_request",
            (),
            Level.INFO,
            None,
            host,
            None if user == "-" else user,
            agent,
            uri,
            method,
            int(status),
            self.hostname,
            self.appid,
            source,
            raw_text(line),
            1,
            extra,
        )

    def _time(self, stamp: str) -> datetime:
        if stamp == self._stamp:
            return self._stamp_time
        # 27/Nov/2026:10:00:01 +0000
        month = _MONTHS.get(stamp[3:6])
        if (
            month is None
            or len(stamp) != 26
            or stamp[2] != "/"
            or stamp[6] != "/"
            or stamp[11] != ":"
            or stamp[20] != " "
        ):
            raise MalformedLine("bad access log timestamp")
        try:
            when = datetime(
                int(stamp[7:11]),
                month,
                int(stamp[0:2]),
                int(stamp[12:14]),
                int(stamp[15:17]),
                int(stamp[18:20]),
                tzinfo=self._zone(stamp[21:]),
            )
        except ValueError:
            raise MalformedLine("bad access log timestamp") from None
        if when.tzinfo is not UTC:
            when = when.astimezone(UTC)
        self._stamp = stamp
        self._stamp_time = when
        return when

    def _zone(self, text: str) -> timezone:
        zone = self._zones.get(text)
        if zone is None:
            if len(text) != 5 or text[0] not in "+-" or not text[1:].isdigit():
                raise ValueError(text)
            minutes = int(text[1:3]) * 60 + int(text[3:5])
            zone = timezone(timedelta(minutes=-minutes if text[0] == "-" else minutes))
            if len(self._zones) < 64:
                self._zones[text] = zone
        return zone


__all__ = ["AccessLogParser"]
