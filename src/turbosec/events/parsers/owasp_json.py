"""OWASP Logging Vocabulary events as JSON lines (what :mod:`turbosec.events.logger` writes).

One JSON object per line::

    {"datetime": "2026-11-27T10:00:01.123+00:00", "appid": "shop.auth",
     "event": "authn_login_fail:joe", "level": "WARN", "description": "...",
     "source_ip": "203.0.113.9", "useragent": "...", "request_uri": "/login",
     "request_method": "POST", "hostname": "web-1"}

Field mapping to :class:`~turbosec.core.event.SecurityEvent`:

============================  ==============================================================
JSON                          event
============================  ==============================================================
``event``                     ``event`` (name, lower case, cheat-sheet aliases resolved) and
                              ``args`` (split at top-level commas)
``datetime``                  ``time`` (ISO 8601; ``timestamp``/``time``/``@timestamp`` are
                              accepted too; a time without offset is read in ``tz``, UTC by
                              default; a number is seconds since the epoch)
``level``                     ``level`` (``WARNING`` → ``WARN``...; default: the
                              vocabulary's level for the event)
``user``                      ``user``; when absent, the event's ``userid`` argument.  For
                              ``malicious_*`` events whose first argument is an address,
                              that address becomes ``source_ip`` when the record has none
``status``                    ``status`` (an integer or a numeric string)
``description``, ``source_ip``, ``useragent``, ``request_uri``, ``request_method``,
``hostname``, ``appid``       the fields of the same name
anything else                 ``extra`` (``host_ip``, ``protocol``, ``port``, ``region``...)
============================  ==============================================================

Secrets an application logged by mistake do not travel further: members named like
secrets (``password``, ``Authorization``...) are replaced by ``[REDACTED]`` in ``extra``,
secret-looking strings (bearer tokens, JWTs, ``?token=``) are redacted in ``extra``,
``description`` and ``request_uri``, and ``raw`` is redacted whenever one of them was.

A line that is not a JSON object is malformed.  An object without an ``event`` string, or
whose event is not a vocabulary name (structlog's ``"event": "request finished"``), is not
security-relevant and is skipped -- unless ``accept_unknown`` is set, then any event name
made of letters, digits and underscores is kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from operator import itemgetter
from typing import Any

import orjson

from turbosec.core.event import (
    RAW_LIMIT,
    REDACTED,
    Level,
    SecurityEvent,
    bound_text,
    new_event,
    raw_text,
    redact_text,
    sensitive_name,
)
from turbosec.events.parsers.base import _TOO_LONG, MAX_LINE, MalformedLine, Parser, ParseStats
from turbosec.events.vocabulary import VOCABULARY, EventSpec, looks_like_ip, lookup, split_args

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LEVELS: dict[str, Level] = {}
for _level in Level:
    _LEVELS[_level.value] = _level
    _LEVELS[_level.value.lower()] = _level
_LEVELS.update({"WARNING": Level.WARN, "warning": Level.WARN, "Warning": Level.WARN})
_TEXT = (str, type(None))
_TIME_KEYS = ("timestamp", "time", "@timestamp")
_fromisoformat = datetime.fromisoformat
# The members (besides event, datetime and level) of what turbosec.events.logger writes.
_COMMON = (
    "description",
    "source_ip",
    "useragent",
    "request_uri",
    "request_method",
    "hostname",
    "appid",
)
_common_fields = itemgetter(*_COMMON)
# The name in an "event" member, read without decoding the line: up to the first quote,
# colon (arguments follow) or backslash (an escape: then the line is decoded after all).
_EVENT_NAME = re.compile(r'"event"\s*:\s*"([^":\\]*)([":\\])')
#: Names whose usefulness a restricted parser remembers (names come from the log: bounded).
_USABLE_CACHE = 4096


class OwaspJsonParser(Parser):
    """OWASP vocabulary JSON lines; see the module docstring for the mapping."""

    name = "owasp-json"
    description = "OWASP Logging Vocabulary events, one JSON object per line (turbosec.events)"

    def __init__(
        self,
        *,
        tz: tzinfo = UTC,
        accept_unknown: bool = False,
        custom_events: Mapping[str, EventSpec] | None = None,
    ) -> None:
        self.tz = tz
        self.accept_unknown = accept_unknown
        self.custom_events = dict(custom_events or {})
        self._time_key = ""
        self._time_value = _EPOCH
        self._could_use: Callable[[Mapping[str, str | None]], bool] | None = None
        self._usable: dict[str, bool] = {}

    def detect(self, sample_lines: Sequence[str]) -> float:
        seen = hits = 0
        for line in sample_lines:
            text = line.strip()
            if not text:
                continue
            seen += 1
            if text[0] != "{" or '"event"' not in text:
                continue
            try:
                data = orjson.loads(text)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(data, dict):
                continue
            event = data.get("event")
            if isinstance(event, str) and lookup(event.split(":", 1)[0], self.custom_events):
                hits += 1
        return hits / seen if seen else 0.0

    # -- restriction to what the rules can use

    def restrict(self, could_use: Callable[[Mapping[str, str | None]], bool]) -> bool:
        """Leave out the events whose type no rule can match.

        :meth:`parse_block` then reads each line's event name without decoding the JSON
        (a regular expression on the ``"event"`` member) and decodes only the lines whose
        event a rule could use; the others are counted skipped (``unused``), so a malformed
        line among them is not noticed.  A line whose name cannot be read for certain
        (no ``"event"`` member, or more than one, or an escape in the name) is decoded.
        """
        self._could_use = could_use
        self._usable = {}
        return True

    def _name_usable(self, name: str) -> bool:
        """Whether an event named ``name`` (as the line writes it) could be used by a rule."""
        usable = self._usable.get(name)
        if usable is not None:
            return usable
        spec = lookup(name, self.custom_events)
        if spec is None or self._could_use is None:
            usable = True  # not a vocabulary event: parse() decides, as without restriction
        else:
            usable = self._could_use({"event_type": spec.name})
        if len(self._usable) < _USABLE_CACHE:
            self._usable[name] = usable
        return usable

    def parse_block(
        self, text: str, source: str, stats: ParseStats, *, first_line: int = 1
    ) -> list[SecurityEvent] | None:
        """The events of a block of whole lines, decoding only the lines whose event type a
        rule could use (after :meth:`restrict`; ``None`` before, or when the block holds a
        NUL byte: then the caller goes line by line)."""
        if self._could_use is None or "\x00" in text:
            return None
        events: list[SecurityEvent] = []
        append = events.append
        parse = self.parse
        search = _EVENT_NAME.search
        usable = self._usable
        name_usable = self._name_usable
        malformed = stats.malformed
        number = first_line - 1
        empty = unused = 0
        for line in text.split("\n"):
            number += 1
            if line[-1:] == "\r":
                line = line[:-1]
            if not line:
                empty += 1
                continue
            found = search(line)
            if (
                found is not None
                and found.group(2) != "\\"
                and line.find('"event"', found.end()) < 0
                and line.rfind('"event"', 0, found.start()) < 0
            ):
                name = found.group(1)
                keep = usable.get(name)
                if keep is None:
                    keep = name_usable(name)
                if not keep:
                    unused += 1
                    continue
            where = f"{source}:{number}"
            if len(line) > MAX_LINE:
                stats.add_malformed(where, _TOO_LONG, line)
                continue
            try:
                event = parse(line, where)
            except MalformedLine as exc:
                stats.add_malformed(where, exc.reason, line)
                continue
            if event is not None:
                append(event)
        lines = number - first_line + 1
        stats.lines += lines
        stats.events += len(events)
        stats.skipped += lines - len(events) - (stats.malformed - malformed)
        stats.unused += unused
        return events

    def parse(self, line: str, source: str) -> SecurityEvent | None:
        if line[:1] != "{" and line.lstrip()[:1] != "{":
            raise MalformedLine("not a JSON object")
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise MalformedLine("invalid JSON") from None
        if type(data) is not dict:
            raise MalformedLine("not a JSON object")
        text = data.pop("event", None)
        if type(text) is not str:
            return None
        colon = text.find(":")
        name = text if colon < 0 else text[:colon]
        spec = VOCABULARY.get(name)
        if spec is None:
            spec = lookup(name, self.custom_events)
            if spec is None:
                if not self.accept_unknown:
                    return None
                name = name.strip().lower()
                if not name or not name.replace("_", "").isalnum():
                    return None
            else:
                name = spec.name
        if colon < 0:
            args: tuple[str, ...] = ()
        else:
            rest = text[colon + 1 :]
            if "," in rest or rest[:1] == " " or rest[-1:] == " ":
                args = split_args(rest, spec)
            else:
                args = (rest,) if rest else ()

        stamp = data.pop("datetime", None)
        if stamp is not None and stamp == self._time_key:
            time = self._time_value
        elif type(stamp) is str and self.tz is UTC:
            # the common case inline: a UTC ISO time (milliseconds make most of them new)
            try:
                time = _fromisoformat(stamp)
            except ValueError:
                raise MalformedLine("datetime is not ISO 8601") from None
            if time.tzinfo is not UTC:
                time = time.replace(tzinfo=UTC) if time.tzinfo is None else time.astimezone(UTC)
            self._time_key = stamp
            self._time_value = time
        else:
            time = self._time(stamp, data)
        level_text = data.pop("level", None)
        if level_text is None:
            level = spec.level if spec is not None else Level.INFO
        else:
            found = _LEVELS.get(level_text) if type(level_text) is str else None
            if found is None:
                try:
                    found = Level.parse(level_text)
                except ValueError:
                    raise MalformedLine("unknown level") from None
            level = found
        known = None
        if len(data) == len(_COMMON):
            try:
                known = _common_fields(data)
            except KeyError:  # as many members, not the same ones
                known = None
        if known is not None:
            # the usual record, exactly the logger's members: no pop one by one, no extra
            description, source_ip, useragent, request_uri, request_method, hostname, appid = known
            user = status = None
            data = {}
        else:
            pop = data.pop
            description = pop("description", None)
            source_ip = pop("source_ip", None)
            useragent = pop("useragent", None)
            request_uri = pop("request_uri", None)
            request_method = pop("request_method", None)
            hostname = pop("hostname", None)
            appid = pop("appid", None)
            user = pop("user", None)
            status = pop("status", None)
        if not (
            type(description) in _TEXT
            and type(source_ip) in _TEXT
            and type(useragent) in _TEXT
            and type(request_uri) in _TEXT
            and type(request_method) in _TEXT
            and type(hostname) in _TEXT
            and type(appid) in _TEXT
            and type(user) in _TEXT
        ):
            description, source_ip, useragent, request_uri = map(
                _text, (description, source_ip, useragent, request_uri)
            )
            request_method, hostname, appid, user = map(
                _text, (request_method, hostname, appid, user)
            )
        if user is None and spec is not None and args:
            index = spec.user_arg
            if 0 <= index < len(args):
                value = args[index]
                if spec.user_or_ip and looks_like_ip(value):
                    if source_ip is None:
                        source_ip = value
                elif value:
                    user = value
        if status is not None and type(status) is not int:
            try:
                status = int(status)
            except (TypeError, ValueError):
                raise MalformedLine("status is not an integer") from None
        # The raw line holds what the fields hold: it needs redacting only when a field did.
        secret_keys: list[str] = []
        dirty = bool(data) and _scrub_members(data, secret_keys)
        if request_uri is not None and "=" in request_uri:
            clean = redact_text(request_uri)
            if clean != request_uri:
                request_uri, dirty = clean, True
        if "eyJ" in text or "earer" in text:  # a token as an event argument
            clean_args = tuple(redact_text(arg) for arg in args)
            if clean_args != args:
                args, dirty = clean_args, True
                if user is not None:
                    user = redact_text(user)
        if description is not None and len(description) >= 8:
            clean = redact_text(description)
            if clean is not description and clean != description:
                description, dirty = clean, True
        raw = line if len(line) <= RAW_LIMIT else bound_text(line)
        if dirty:
            raw = raw_text(raw)
            for key in secret_keys:
                raw = _redact_member(raw, key)
        return new_event(
            time,
            name,
            args,
            level,
            description,
            source_ip,
            user,
            useragent,
            request_uri,
            request_method,
            status,
            hostname,
            appid,
            source,
            raw,
            1,
            data,
        )

    def _time(self, value: object, data: dict[str, Any]) -> datetime:
        if value is None:
            for key in _TIME_KEYS:
                if key in data:
                    value = data.pop(key)
                    break
            else:
                raise MalformedLine("no datetime")
        if isinstance(value, str):
            try:
                when = datetime.fromisoformat(value)
            except ValueError:
                raise MalformedLine("datetime is not ISO 8601") from None
            if when.tzinfo is None:
                when = when.replace(tzinfo=self.tz)
            if when.tzinfo is not UTC:
                when = when.astimezone(UTC)
            self._time_key = value
            self._time_value = when
            return when
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                return _EPOCH + timedelta(seconds=value)
            except OverflowError:
                raise MalformedLine("datetime out of range") from None
        raise MalformedLine("datetime is not a string")


def _scrub_members(data: dict[str, Any], secret_keys: list[str], depth: int = 0) -> bool:
    """Redact, in place, members named like secrets and secret-looking strings.

    Appends the names of redacted members to ``secret_keys``; true when anything changed.
    """
    changed = False
    for key, value in data.items():
        if sensitive_name(key):
            data[key] = REDACTED
            secret_keys.append(key)
            changed = True
        elif type(value) is str:
            if len(value) >= 8:
                clean = redact_text(value)
                if clean is not value and clean != value:
                    data[key] = clean
                    changed = True
        elif type(value) is dict and depth < 3:
            changed = _scrub_members(value, secret_keys, depth + 1) or changed
    return changed


def _redact_member(raw: str, key: str) -> str:
    quoted = orjson.dumps(key).decode()
    member = re.compile(re.escape(quoted) + r'\s*:\s*(?:"(?:[^"\\]|\\.)*"|[^,}\]]+)')
    return member.sub(lambda _: f'{quoted}:"{REDACTED}"', raw)


def _is_text(value: object) -> bool:
    return value is None or type(value) is str


def _text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return str(value)


__all__ = ["OwaspJsonParser"]
