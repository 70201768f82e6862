"""Field getters: how a rule reads a field of a :class:`~turbosec.core.event.SecurityEvent`.

Every field a rule may name (see :data:`~turbosec.watch.rules.model.FIELDS`) has one getter,
built once at load time, that returns the field's value as text or ``None`` when the event
has no such value.  Rules compare text, so the getters do the few conversions there are:

* ``status`` is an ``int`` on the event and decimal text here (``"401"``), from a table
  for the usual range so that reading it allocates nothing;
* ``level`` is the level's name (``WARN``);
* ``event_type`` is the event name before the first ``:`` (events built by the parsers
  never have one, hand-made ones might), ``event`` the full ``name:arg1,arg2`` form;
* ``extra.NAME`` reads ``SecurityEvent.extra["NAME"]`` (the literal key, dots included):
  a string as it is, ``true``/``false`` for a boolean, decimal text for a number, compact
  JSON for a list or an object, ``None`` for null or a missing key.

The getters sit on the hot path (every candidate rule reads one or two fields of every
event), so the plain attributes are :func:`operator.attrgetter` objects and the others
avoid allocating when they can.

:func:`event_type_key` is the dispatch key: the event type in lower case.  Sigma compares
values case-insensitively, so a rule on ``event_type: authn_login_fail`` also matches an
event named ``AUTHN_LOGIN_FAIL``; the sets in ``Detection.event_types`` are lower case and
:meth:`RuleSet.candidates <turbosec.watch.rules.model.RuleSet.candidates>` normalises the
key it is given the same way.
"""

from __future__ import annotations

import difflib
import operator
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from turbosec.core.event import SecurityEvent
from turbosec.watch.rules.model import EXTRA_PREFIX, FIELDS, FieldGetter, event_type_key

__all__ = [
    "EVENT_FIELDS",
    "event_string",
    "event_type",
    "event_type_key",
    "extra_text",
    "getter",
    "is_known_field",
    "keyed_getter",
    "suggest_field",
]

#: ``status`` values as text, precomputed for 0..999 (every HTTP status).
_STATUS_TEXT: tuple[str, ...] = tuple(str(code) for code in range(1000))


def event_type(event: SecurityEvent) -> str:
    """The event name before its first ``:`` (``authn_login_fail``)."""
    name = event.event
    if ":" in name:
        return name.split(":", 1)[0]
    return name


def event_string(event: SecurityEvent) -> str:
    """The vocabulary form ``name:arg1,arg2`` (just ``name`` without arguments)."""
    args = event.args
    if not args:
        return event.event
    return event.event + ":" + ",".join(args)


def _status(event: SecurityEvent) -> str | None:
    status = event.status
    if status is None:
        return None
    if 0 <= status < 1000:
        return _STATUS_TEXT[status]
    return str(status)


def extra_text(value: Any) -> str | None:
    """How a value of ``SecurityEvent.extra`` reads as text in a rule."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return str(value)


def _extra_getter(key: str) -> FieldGetter:
    def get_extra(event: SecurityEvent) -> str | None:
        value = event.extra.get(key)
        if value is None or type(value) is str:
            return value
        return extra_text(value)

    get_extra.__name__ = f"get_extra_{key}"
    return get_extra


#: The getters for the fixed fields, by name.
EVENT_FIELDS: Mapping[str, FieldGetter] = {
    "event": event_string,
    "event_type": event_type,
    "level": operator.attrgetter("level"),  # a StrEnum: the member is its name as text
    "description": operator.attrgetter("description"),
    "source_ip": operator.attrgetter("source_ip"),
    "user": operator.attrgetter("user"),
    "useragent": operator.attrgetter("useragent"),
    "request_uri": operator.attrgetter("request_uri"),
    "request_method": operator.attrgetter("request_method"),
    "status": _status,
    "hostname": operator.attrgetter("hostname"),
    "appid": operator.attrgetter("appid"),
    "source": operator.attrgetter("source"),
}
assert set(EVENT_FIELDS) == set(FIELDS), "every field in FIELDS needs a getter"


def _name_type(name: str) -> str:
    if ":" in name:
        return name.split(":", 1)[0]
    return name


def _status_text(status: int | None) -> str | None:
    if status is None:
        return None
    if 0 <= status < 1000:
        return _STATUS_TEXT[status]
    return str(status)


def _identity(value: Any) -> Any:
    return value


#: For memos: a cheap key read straight from the event and how the field's text follows
#: from it (``getter(name)(e) == convert(key(e))``).
_KEYED: Mapping[str, tuple[Callable[[SecurityEvent], Any], Callable[[Any], str | None]]] = {
    "event_type": (operator.attrgetter("event"), _name_type),
    "status": (operator.attrgetter("status"), _status_text),
}


def keyed_getter(
    name: str,
) -> tuple[Callable[[SecurityEvent], Any], Callable[[Any], str | None]]:
    """``(key, convert)`` for a field: ``convert(key(event))`` is the field's text.

    ``key`` is as cheap as reading an attribute (a C-level :func:`operator.attrgetter`
    where it can be) and hashable; a memo keyed on it skips ``convert`` for values it has
    seen.  ``event_type`` is keyed on ``SecurityEvent.event``, ``status`` on the integer.
    """
    keyed = _KEYED.get(name)
    if keyed is not None:
        return keyed
    return getter(name), _identity


def is_known_field(name: str) -> bool:
    """Whether a rule may name this field: one of :data:`FIELDS` or ``extra.NAME``."""
    return name in EVENT_FIELDS or (name.startswith(EXTRA_PREFIX) and len(name) > len(EXTRA_PREFIX))


def getter(name: str) -> FieldGetter:
    """The getter for a field name; ``KeyError`` (with a hint) for an unknown one."""
    found = EVENT_FIELDS.get(name)
    if found is not None:
        return found
    if name.startswith(EXTRA_PREFIX) and len(name) > len(EXTRA_PREFIX):
        return _extra_getter(name[len(EXTRA_PREFIX) :])
    raise KeyError(f"unknown field {name!r}{suggest_field(name)}")


def suggest_field(name: str) -> str:
    """A ``; did you mean ...`` hint for a mistyped field name, or an explanation."""
    close = difflib.get_close_matches(name, list(FIELDS), n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    lowered = name.lower()
    if lowered in FIELDS:
        return f"; field names are lower case: {lowered!r}"
    return (
        f"; rules may name {', '.join(FIELDS)} or {EXTRA_PREFIX}NAME for a field the "
        "parser kept in the event's extra"
    )
