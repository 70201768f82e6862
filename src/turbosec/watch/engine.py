"""The rule engine: compiled Sigma rules and correlations evaluated over a stream of events.

:class:`Engine` takes one :class:`~turbosec.core.event.SecurityEvent` at a time
(:meth:`Engine.process`) and returns the alerts it concludes, usually none.  Its state --
windows, cool-downs, the watermark -- is bounded in memory, serialisable
(:meth:`Engine.snapshot`) and restorable (:meth:`Engine.restore`) so that a watcher killed
and restarted from a checkpoint raises exactly the alerts an uninterrupted one would.

Dispatch
--------
An event is offered only to the detections that can match it: ``RuleSet.candidates`` of
its type (``SecurityEvent.event`` up to the first ``:``, in lower case), looked up once
per type and cached.  An event no rule can match costs a dictionary lookup.

Event time, watermark, late events
----------------------------------
Every window runs on **event time** (``SecurityEvent.time``, as seconds since the epoch),
never on the wall clock: replaying yesterday's log finds what a live watcher would have
found.  The **watermark** is the newest event time among the events that matched at
least one detection.  An event older than ``watermark - late_tolerance`` is *late*: it is
counted in :attr:`EngineStats.late` and does not enter any correlation.  A late event is
still offered to the detections that raise their own alerts (``generate``): such an alert
is about the single event, no window is involved, and dropping it would lose a fact.

Events within the tolerance are inserted in time order, so a stream delivered slightly
out of order (two sources merged, a buffering shipper) produces the same alerts as the
sorted stream: same groups, same ``first_seen``, hence the same alert ids.  The limits:
an event that arrives *after* the alert its time would have belonged to falls in the
group's cool-down and is absorbed (see below), and the alert may then have fired on a
slightly later window; for ``value_count``, a value seen several times in a window may
move ``first_seen`` depending on which of its occurrences arrived before the alert.

Windows
-------
A ``timespan`` of *S* seconds is a sliding, closed window: occurrences at times *a* <= *b*
are within the timespan when ``b - a <= S``.  A correlation alerts as soon as a window
satisfies it, at the earliest event time at which one does.  Per correlation type:

``event_count``
    Per group, the sorted times of the occurrences (an event with ``repeat`` *n* counts
    *n* times).  Alerts when some window holds at least the condition's count (``gte``;
    ``gt N`` means ``gte N+1``).  ``first_seen``/``last_seen`` are the first and last
    occurrence of that window, ``count`` its number of occurrences.  A group holds fewer
    than the threshold per window and drops times older than ``watermark -
    late_tolerance - S``, so it keeps at most about ``threshold * (2 + late_tolerance /
    S)`` times.
``value_count``
    Per group, each distinct value of the condition's ``field`` with the time it was last
    seen (an event without the field does not count).  Evaluated on the window ending at
    the group's newest occurrence: the number of values seen within it.  ``first_seen`` is
    the earliest of the counted values' latest occurrences (so ``[first_seen, last_seen]``
    holds one occurrence of every counted value), ``count`` the number of distinct
    values.  Reaching the threshold alerts and resets the group, so a group never holds
    more distinct values than the threshold; a threshold above
    :data:`MAX_VALUES_PER_GROUP` is refused at construction.
``temporal``
    Per group, the latest occurrence time of each referenced rule.  Alerts when every
    referenced rule occurred within the window ending at the group's newest occurrence
    (with a ``gte``/``gt`` condition: that many distinct referenced rules).  ``count`` is
    the number of distinct rules that occurred.
``temporal_ordered``
    Per group and referenced rule, the latest :data:`MAX_ORDERED_TIMES` occurrence times.
    Alerts when the rules occurred in the listed order (equal times allowed) with the
    first and the last at most *S* apart: the chain that ends earliest, and among those
    the one that starts latest.  ``count`` is the number of rules in the chain.  A group
    is opened only by an occurrence of the first rule: later steps with no open group are
    not kept (a login success starts nothing), so a first step that arrives, late, after
    the later steps of its chain does not complete it.

Conditions ``lt``, ``lte``, ``eq`` and ``neq`` can only be decided when a window has
closed, which a sliding window never does; the engine refuses them at construction with
a :class:`~turbosec.watch.rules.model.RuleLoadError` naming the rule (write the rule with
``gte``/``gt``).  ``event_count`` and ``value_count`` need a condition, ``value_count`` a
``field``.

Alerts, cool-downs, no storms
-----------------------------
When a correlation alerts for a group, that group's window state is cleared and a
**cool-down** starts: until event time reaches ``last_seen + cooldown``, occurrences for
the group are *absorbed* -- they neither count nor alert (:attr:`EngineStats.suppressed`).
At the cool-down's end counting starts afresh, so a sustained attack yields at most one
alert per cool-down period, not one per event.  ``cooldown`` is
``EngineOptions.cooldown`` or, when that is ``None``, the rule's timespan.

A detection that raises its own alerts (``Detection.generate``) raises one per matching
event (``count`` 1, group ``source_ip`` and ``user`` when the event has them), subject to
a cool-down per (rule, group) of ``EngineOptions.cooldown`` or, when that is ``None``,
``EngineOptions.detection_cooldown`` (a detection has no timespan).  ``0`` disables it.

Correlations of correlations
----------------------------
An alert of correlation *A* is an occurrence, at ``last_seen``, for every correlation *B*
that references *A*.  *B* reads its group-by fields (and its ``value_count`` field) from
*A*'s group, through *B*'s aliases for *A*; a field *A* does not group by reads as
``None``.  The occurrence brings *A*'s samples along.  As in Sigma, a correlation that
other correlations reference raises no alert of its own unless one of them says
``generate: true`` (the detections' ``generate`` flag is set the same way by the loader).

Groups and memory
-----------------
A group key is the tuple of the ``group_by`` values (per referenced rule, through the
aliases).  Values are compared exactly as the field getters return them.  Per correlation
(and per generating detection, for its cool-downs) at most ``EngineOptions.max_groups``
groups live, in least-recently-updated order: creating one more evicts the least recently
updated (:attr:`EngineStats.evicted`).  Groups that can no longer matter -- newest
occurrence older than ``watermark - late_tolerance - S`` and cool-down over -- are
dropped whenever a group is created, from the least recently updated end
(:attr:`EngineStats.expired`); this costs O(1) amortised.  A group kept only by its
cool-down is moved out of the way (to the recently updated end) instead of stopping
the sweep.  Each group keeps at most
:data:`~turbosec.core.event.MAX_ALERT_SAMPLES` sample events (the most recent), each
with its ``raw`` line cut to :data:`SAMPLE_RAW_LIMIT` characters.

So an attacker who sends events from a million addresses costs at most ``max_groups``
groups per correlation: with one event per address, a few hundred bytes per group plus
the retained sample events.  A restored engine behaves exactly like the original, group
order and evictions included.

Snapshots
---------
:meth:`Engine.snapshot` is a JSON-able dict: a digest of the rules it is valid for (ids,
types, referenced rules, group-by, timespans, conditions, aliases, generate flags -- not
the detection logic, which cannot be fingerprinted), the watermark, the counters, every
group in order with its window, cool-down and sample events (each event written once).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from bisect import bisect_left, bisect_right, insort
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, ClassVar

import orjson

from turbosec.core.errors import TurbosecError
from turbosec.core.event import MAX_ALERT_SAMPLES, Alert, SecurityEvent
from turbosec.watch.rules.fields import getter as field_getter
from turbosec.watch.rules.model import (
    Correlation,
    CorrelationType,
    Detection,
    Op,
    RuleLoadError,
    RuleSet,
    event_type_key,
)

__all__ = [
    "MAX_ORDERED_TIMES",
    "MAX_VALUES_PER_GROUP",
    "SAMPLE_RAW_LIMIT",
    "SNAPSHOT_VERSION",
    "Engine",
    "EngineOptions",
    "EngineStats",
    "StateError",
    "rules_digest",
]

#: Format version of :meth:`Engine.snapshot`.
SNAPSHOT_VERSION = 1
#: Most distinct values a value_count group keeps (the threshold bounds it first).
MAX_VALUES_PER_GROUP = 10_000
#: Most occurrence times a temporal_ordered group keeps per referenced rule.
MAX_ORDERED_TIMES = 32
#: Longest ``raw`` line (characters) of an event kept as a sample in a group (and so in an
#: alert): beyond, the line is cut and marked with ``…``.  Groups keep up to
#: ``MAX_ALERT_SAMPLES`` events each, a long line in each would multiply the memory a
#: group costs.
SAMPLE_RAW_LIMIT = 512
#: Most event types whose candidate detections are cached.
_DISPATCH_CACHE = 4096

_NEVER = -math.inf
_ORDERED_OPS = (Op.GTE, Op.GT)

Key = Any  # a group key: None (no group_by), one value, or a tuple of values
KeyFn = Callable[[SecurityEvent], Key]
ValueFn = Callable[[SecurityEvent], "str | None"]


class StateError(TurbosecError):
    """Engine state or a checkpoint that cannot be used: malformed, or for other rules."""


@dataclass(frozen=True)
class EngineOptions:
    """How much the engine remembers and how tolerant it is.

    ``max_groups``: live groups per correlation (and cool-down entries per generating
    detection); the least recently updated one is evicted beyond.  ``late_tolerance``:
    seconds an event may be behind the watermark and still count.  ``cooldown``: seconds
    after an alert during which the same (rule, group) raises none; ``None`` means the
    correlation's timespan, and ``detection_cooldown`` for detections.
    """

    max_groups: int = 100_000
    late_tolerance: float = 60.0
    cooldown: float | None = None
    detection_cooldown: float = 60.0

    def __post_init__(self) -> None:
        if self.max_groups < 1:
            raise ValueError(f"max_groups must be at least 1, not {self.max_groups}")
        if not self.late_tolerance >= 0:
            raise ValueError(f"late_tolerance must be >= 0 seconds, not {self.late_tolerance}")
        if self.cooldown is not None and not self.cooldown >= 0:
            raise ValueError(f"cooldown must be >= 0 seconds, not {self.cooldown}")
        if not self.detection_cooldown >= 0:
            raise ValueError(
                f"detection_cooldown must be >= 0 seconds, not {self.detection_cooldown}"
            )


@dataclass(frozen=True, slots=True)
class EngineStats:
    """Counters since the engine started (carried over by snapshots).

    ``events``: events offered; ``matched``: events that matched at least one detection;
    ``alerts``: alerts returned; ``late``: matched events too old to enter a window;
    ``groups``: groups alive now; ``evicted``: groups dropped because of ``max_groups``;
    ``expired``: groups dropped because they could no longer matter; ``suppressed``:
    occurrences absorbed and detection alerts withheld by a cool-down.
    """

    events: int = 0
    matched: int = 0
    alerts: int = 0
    late: int = 0
    groups: int = 0
    evicted: int = 0
    expired: int = 0
    suppressed: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "events": self.events,
            "matched": self.matched,
            "alerts": self.alerts,
            "late": self.late,
            "groups": self.groups,
            "evicted": self.evicted,
            "expired": self.expired,
            "suppressed": self.suppressed,
        }


def rules_digest(rules: RuleSet) -> str:
    """A fingerprint of what engine state depends on: rule ids and correlation parameters."""
    items: list[Any] = []
    for detection in rules.detections:
        types = sorted(detection.event_types) if detection.event_types is not None else None
        items.append(["d", detection.meta.id, types, detection.generate])
    for corr in rules.correlations:
        cond = corr.condition
        items.append(
            [
                "c",
                corr.meta.id,
                corr.type.value,
                list(corr.rules),
                list(corr.group_by),
                corr.timespan,
                [cond.op.value, cond.value, cond.field] if cond is not None else None,
                {k: dict(sorted(v.items())) for k, v in sorted(corr.aliases.items())},
                corr.generate,
            ]
        )
    return hashlib.sha256(orjson.dumps(items)).hexdigest()


# --- group keys -----------------------------------------------------------------------------


def _resolve(corr: Correlation, name: str, ref: str) -> str:
    """The field ``name`` (a group-by field or alias) reads for referenced rule ``ref``."""
    mapping = corr.aliases.get(name)
    if mapping is not None:
        found = mapping.get(ref)
        if found is not None:
            return found
    return name


def _no_key(event: SecurityEvent) -> None:
    return None


def _event_getter(corr: Correlation, name: str) -> ValueFn:
    try:
        return field_getter(name)
    except KeyError as exc:
        raise RuleLoadError(corr.meta.path, corr.meta.id, str(exc.args[0])) from None


def _event_key(corr: Correlation, fields: Sequence[str]) -> KeyFn:
    """A function event -> group key, as cheap as the fields allow."""
    if not fields:
        return _no_key
    getters = [_event_getter(corr, name) for name in fields]
    if len(getters) == 1:
        return getters[0]
    plain = [g for g in getters if type(g) is attrgetter]
    if len(plain) == len(getters):
        # attrgetter of several plain attributes returns the tuple itself (C speed)
        return attrgetter(*fields)
    if len(getters) == 2:
        first, second = getters

        def key2(event: SecurityEvent) -> Key:
            return (first(event), second(event))

        return key2

    def key_n(event: SecurityEvent) -> Key:
        return tuple(g(event) for g in getters)

    return key_n


def _key_values(key: Key, width: int) -> tuple[str | None, ...]:
    if width == 0:
        return ()
    if width == 1:
        return (key,)
    return tuple(key)


def _values_key(values: Sequence[Any], width: int) -> Key:
    if len(values) != width:
        raise ValueError(f"group key of {len(values)} values, expected {width}")
    for value in values:
        if value is not None and not isinstance(value, str):
            raise ValueError("group key values must be strings or null")
    if width == 0:
        return None
    if width == 1:
        return values[0]
    return tuple(values)


def _time(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _opt_float(value: Any) -> float:
    if value is None:
        return _NEVER
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def _floats(values: Any) -> list[float]:
    if not isinstance(values, list):
        raise ValueError("expected a list of numbers")
    out = [_opt_float(v) for v in values]
    if any(math.isinf(v) for v in out):
        raise ValueError("unexpected null in a list of times")
    return out


def _json_time(value: float) -> float | None:
    return None if value == _NEVER else value


# --- groups ---------------------------------------------------------------------------------


class _Group:
    """State common to every group: newest occurrence, cool-down end, sample events."""

    __slots__ = ("last", "samples", "until")

    def __init__(self) -> None:
        self.last = _NEVER  # newest occurrence time seen (absorbed ones included)
        self.until = _NEVER  # occurrences before this time are absorbed (cool-down)
        self.samples: list[SecurityEvent] = []


class _CountGroup(_Group):
    __slots__ = ("times",)

    def __init__(self) -> None:  # no super().__init__(): groups are created on the hot path
        self.last = _NEVER
        self.until = _NEVER
        self.samples = []
        self.times: list[float] = []


class _ValueGroup(_Group):
    __slots__ = ("values",)

    def __init__(self) -> None:
        self.last = _NEVER
        self.until = _NEVER
        self.samples = []
        self.values: OrderedDict[str, float] = OrderedDict()  # in order of last time seen


class _TemporalGroup(_Group):
    __slots__ = ("seen",)

    def __init__(self, width: int) -> None:
        self.last = _NEVER
        self.until = _NEVER
        self.samples = []
        self.seen: list[float] = [_NEVER] * width


class _OrderedGroup(_Group):
    # times per position as tuples: the garbage collector stops tracking a tuple of floats,
    # which matters with a hundred thousand live groups
    __slots__ = ("times",)

    def __init__(self, width: int) -> None:
        self.last = _NEVER
        self.until = _NEVER
        self.samples = []
        self.times: list[tuple[float, ...]] = [()] * width


def _as_sample(event: SecurityEvent) -> SecurityEvent:
    """``event`` with its ``raw`` line cut to :data:`SAMPLE_RAW_LIMIT` characters."""
    raw = event.raw or ""
    return dataclasses.replace(event, raw=raw[: SAMPLE_RAW_LIMIT - 1] + "…")


def _add_samples(group: _Group, sample: SecurityEvent | tuple[SecurityEvent, ...]) -> None:
    samples = group.samples
    if isinstance(sample, tuple):
        samples.extend(sample)
    else:
        samples.append(sample)
    if len(samples) > MAX_ALERT_SAMPLES:
        del samples[: len(samples) - MAX_ALERT_SAMPLES]


_time_of = attrgetter("time")


def _take_samples(group: _Group, last: float) -> tuple[SecurityEvent, ...]:
    """The group's sample events up to ``last``, oldest first; the group's list is reset."""
    samples = group.samples
    group.samples = []
    kept = [s for s in samples if s.time.timestamp() <= last]
    kept.sort(key=_time_of)
    return tuple(kept[-MAX_ALERT_SAMPLES:])


# --- correlations ---------------------------------------------------------------------------


class _Corr:
    """One correlation's groups and the logic of its type (subclasses)."""

    kind: ClassVar[CorrelationType]

    def __init__(self, rule: Correlation, options: EngineOptions, engine: Engine) -> None:
        self.rule = rule
        self.id = rule.meta.id
        self.engine = engine
        self.span = float(rule.timespan)
        self.cool = options.cooldown if options.cooldown is not None else self.span
        self.tolerance = options.late_tolerance
        self.max_groups = options.max_groups
        self.width = len(rule.group_by)
        self.groups: OrderedDict[Key, Any] = OrderedDict()
        self.emit = True
        # correlations fed by this one's alerts: (corr, positions, key names, value name)
        self.consumers: list[tuple[_Corr, tuple[int, ...], tuple[str, ...], str | None]] = []
        self.evicted = 0
        self.expired = 0
        self.suppressed = 0
        # referenced rule ids without repeats, and the positions of each in rule.rules
        self.refs: tuple[str, ...] = tuple(dict.fromkeys(rule.rules))
        self.need = self._need(rule)

    def _need(self, rule: Correlation) -> int:
        cond = rule.condition
        if cond is None:
            raise RuleLoadError(
                rule.meta.path, rule.meta.id, f"{rule.type.value} needs a condition"
            )
        return _threshold(rule, cond.op, cond.value)

    # group bookkeeping

    def _new_group(self) -> _Group:
        raise NotImplementedError

    def _create(self, key: Key) -> Any:
        groups = self.groups
        if groups:
            wm = self.engine._wm
            old_last = wm - self.tolerance - self.span
            old_until = wm - self.tolerance
            rotations = 2
            while groups:
                front = next(iter(groups.values()))
                if front.last >= old_last:
                    break
                if front.until <= old_until:
                    groups.popitem(last=False)
                    self.expired += 1
                elif rotations:
                    # only its cool-down keeps it: let it not block the sweep of the others
                    groups.move_to_end(next(iter(groups)))
                    rotations -= 1
                else:
                    break
            while len(groups) >= self.max_groups:
                groups.popitem(last=False)
                self.evicted += 1
        group = self._new_group()
        groups[key] = group
        return group

    def occur(
        self,
        t: float,
        key: Key,
        positions: tuple[int, ...],
        weight: int,
        value: str | None,
        sample: SecurityEvent | tuple[SecurityEvent, ...],
    ) -> Alert | None:
        raise NotImplementedError

    def alert(
        self, key: Key, first: float, last: float, count: int, samples: tuple[SecurityEvent, ...]
    ) -> Alert:
        meta = self.rule.meta
        return Alert(
            rule_id=meta.id,
            title=meta.title,
            severity=meta.severity,
            group=tuple(zip(self.rule.group_by, _key_values(key, self.width), strict=True)),
            first_seen=_time(first),
            last_seen=_time(last),
            count=count,
            samples=samples,
            tags=meta.tags,
            description=meta.description,
        )

    def _cool_down(self, group: _Group, last: float) -> None:
        group.until = last + self.cool

    # snapshots

    def dump_group(self, group: Any, event_ref: Callable[[SecurityEvent], int]) -> dict[str, Any]:
        return {
            "l": _json_time(group.last),
            "u": _json_time(group.until),
            "s": [event_ref(e) for e in group.samples],
        }

    def load_group(self, data: Mapping[str, Any], events: Sequence[SecurityEvent]) -> Any:
        group = self._new_group()
        group.last = _opt_float(data["l"])
        group.until = _opt_float(data["u"])
        refs = data["s"]
        if not isinstance(refs, list) or len(refs) > MAX_ALERT_SAMPLES:
            raise ValueError("bad sample list")
        group.samples = [events[int(i)] for i in refs]
        return group


def _threshold(rule: Correlation, op: Op, value: int) -> int:
    if op not in _ORDERED_OPS:
        raise RuleLoadError(
            rule.meta.path,
            rule.meta.id,
            f"condition '{op.value}' can only be decided when a window closes, and the "
            "engine's windows slide; write the rule with 'gte' or 'gt'",
        )
    need = value + 1 if op is Op.GT else value
    return max(need, 1)


class _EventCount(_Corr):
    kind = CorrelationType.EVENT_COUNT

    def __init__(self, rule: Correlation, options: EngineOptions, engine: Engine) -> None:
        super().__init__(rule, options, engine)
        self.trim_at = 2 * self.need + 16

    def _new_group(self) -> _Group:
        return _CountGroup()

    def occur(
        self,
        t: float,
        key: Key,
        positions: tuple[int, ...],
        weight: int,
        value: str | None,
        sample: SecurityEvent | tuple[SecurityEvent, ...],
    ) -> Alert | None:
        groups = self.groups
        group = groups.get(key)
        if group is None:
            group = self._create(key)
        else:
            groups.move_to_end(key)
        if t > group.last:
            group.last = t
        if t < group.until:
            self.suppressed += 1
            return None
        times = group.times
        need = self.need
        samples = group.samples  # _add_samples, inlined on the hot path
        if isinstance(sample, tuple):
            samples.extend(sample)
        else:
            samples.append(sample)
        if len(samples) > MAX_ALERT_SAMPLES:
            del samples[: len(samples) - MAX_ALERT_SAMPLES]
        if not times or t >= times[-1]:
            if weight == 1:
                times.append(t)
            else:
                times.extend([t] * min(weight, need))
            if len(times) >= need and times[-need] >= t - self.span:
                return self._fire(key, group, len(times) - 1)
            if len(times) > self.trim_at:
                cut = bisect_left(times, self.engine._wm - self.tolerance - self.span)
                if cut:
                    del times[:cut]
            return None
        # out of order: insert, then look for the earliest window that now qualifies
        for _ in range(min(weight, need)):
            insort(times, t)
        span = self.span
        end = len(times)
        e = bisect_left(times, t)
        horizon = t + span
        while e < end and times[e] <= horizon:
            j = bisect_left(times, times[e] - span, 0, e + 1)
            if e - j + 1 >= need:
                return self._fire(key, group, e)
            e += 1
        return None

    def _fire(self, key: Key, group: _CountGroup, e: int) -> Alert:
        times = group.times
        last = times[e]
        j = bisect_left(times, last - self.span, 0, e + 1)
        first = times[j]
        count = e - j + 1
        self._cool_down(group, last)
        if e + 1 < len(times):  # out-of-order leftovers beyond the cool-down stay
            until = group.until
            group.times = [x for x in times[e + 1 :] if x >= until]
        else:
            times.clear()
        return self.alert(key, first, last, count, _take_samples(group, last))

    def dump_group(self, group: Any, event_ref: Callable[[SecurityEvent], int]) -> dict[str, Any]:
        data = super().dump_group(group, event_ref)
        data["t"] = group.times
        return data

    def load_group(self, data: Mapping[str, Any], events: Sequence[SecurityEvent]) -> Any:
        group = super().load_group(data, events)
        group.times = sorted(_floats(data["t"]))
        return group


class _ValueCount(_Corr):
    kind = CorrelationType.VALUE_COUNT

    def __init__(self, rule: Correlation, options: EngineOptions, engine: Engine) -> None:
        super().__init__(rule, options, engine)
        cond = rule.condition
        if cond is None or not cond.field:
            raise RuleLoadError(
                rule.meta.path,
                rule.meta.id,
                "value_count needs the field whose distinct values it counts (condition.field)",
            )
        self.field = cond.field
        if self.need > MAX_VALUES_PER_GROUP:
            raise RuleLoadError(
                rule.meta.path,
                rule.meta.id,
                f"value_count counts at most {MAX_VALUES_PER_GROUP:,} distinct values per "
                f"group (the condition asks for {self.need:,}); lower the threshold",
            )

    def _new_group(self) -> _Group:
        return _ValueGroup()

    def occur(
        self,
        t: float,
        key: Key,
        positions: tuple[int, ...],
        weight: int,
        value: str | None,
        sample: SecurityEvent | tuple[SecurityEvent, ...],
    ) -> Alert | None:
        if value is None:
            return None
        groups = self.groups
        group = groups.get(key)
        if group is None:
            group = self._create(key)
        else:
            groups.move_to_end(key)
        if t > group.last:
            group.last = t
        if t < group.until:
            self.suppressed += 1
            return None
        values = group.values
        samples = group.samples  # _add_samples, inlined on the hot path
        if isinstance(sample, tuple):
            samples.extend(sample)
        else:
            samples.append(sample)
        if len(samples) > MAX_ALERT_SAMPLES:
            del samples[: len(samples) - MAX_ALERT_SAMPLES]
        if values:
            newest = values[next(reversed(values))]
            if t >= newest:
                values[value] = t
                values.move_to_end(value)
                newest = t
            else:
                old = values.get(value)
                if old is None or t > old:
                    values[value] = t
                    group.values = values = OrderedDict(
                        sorted(values.items(), key=lambda item: item[1])
                    )
        else:
            values[value] = t
            newest = t
        if len(values) >= self.need:
            low = newest - self.span
            while values:
                front = next(iter(values))
                if values[front] >= low:
                    break
                del values[front]
            if len(values) >= self.need:
                first = values[next(iter(values))]
                count = len(values)
                values.clear()
                self._cool_down(group, newest)
                return self.alert(key, first, newest, count, _take_samples(group, newest))
        return None

    def dump_group(self, group: Any, event_ref: Callable[[SecurityEvent], int]) -> dict[str, Any]:
        data = super().dump_group(group, event_ref)
        data["v"] = [[k, v] for k, v in group.values.items()]
        return data

    def load_group(self, data: Mapping[str, Any], events: Sequence[SecurityEvent]) -> Any:
        group = super().load_group(data, events)
        items = data["v"]
        if not isinstance(items, list):
            raise ValueError("bad value list")
        values: OrderedDict[str, float] = OrderedDict()
        for item in items:
            name, when = item
            if not isinstance(name, str):
                raise ValueError("value_count values must be strings")
            values[name] = _opt_float(when)
        group.values = values
        return group


class _Temporal(_Corr):
    kind = CorrelationType.TEMPORAL

    def _need(self, rule: Correlation) -> int:
        cond = rule.condition
        if cond is None:
            return len(self.refs)
        return min(_threshold(rule, cond.op, cond.value), len(self.refs))

    def _new_group(self) -> _Group:
        return _TemporalGroup(len(self.refs))

    def occur(
        self,
        t: float,
        key: Key,
        positions: tuple[int, ...],
        weight: int,
        value: str | None,
        sample: SecurityEvent | tuple[SecurityEvent, ...],
    ) -> Alert | None:
        groups = self.groups
        group = groups.get(key)
        if group is None:
            group = self._create(key)
        else:
            groups.move_to_end(key)
        if t > group.last:
            group.last = t
        if t < group.until:
            self.suppressed += 1
            return None
        seen = group.seen
        for p in positions:
            if t > seen[p]:
                seen[p] = t
        _add_samples(group, sample)
        newest = max(seen)
        low = newest - self.span
        inside = [x for x in seen if x >= low]
        if len(inside) >= self.need:
            first = min(inside)
            group.seen = [_NEVER] * len(seen)
            self._cool_down(group, newest)
            return self.alert(key, first, newest, len(inside), _take_samples(group, newest))
        return None

    def dump_group(self, group: Any, event_ref: Callable[[SecurityEvent], int]) -> dict[str, Any]:
        data = super().dump_group(group, event_ref)
        data["r"] = [_json_time(x) for x in group.seen]
        return data

    def load_group(self, data: Mapping[str, Any], events: Sequence[SecurityEvent]) -> Any:
        group = super().load_group(data, events)
        seen = data["r"]
        if not isinstance(seen, list) or len(seen) != len(self.refs):
            raise ValueError("bad temporal state")
        group.seen = [_opt_float(x) for x in seen]
        return group


class _TemporalOrdered(_Corr):
    kind = CorrelationType.TEMPORAL_ORDERED

    def _need(self, rule: Correlation) -> int:
        if rule.condition is not None:
            raise RuleLoadError(
                rule.meta.path,
                rule.meta.id,
                "temporal_ordered takes no condition: every listed rule must occur in order",
            )
        return len(rule.rules)

    def _new_group(self) -> _Group:
        return _OrderedGroup(len(self.rule.rules))

    def occur(
        self,
        t: float,
        key: Key,
        positions: tuple[int, ...],
        weight: int,
        value: str | None,
        sample: SecurityEvent | tuple[SecurityEvent, ...],
    ) -> Alert | None:
        groups = self.groups
        group = groups.get(key)
        if group is None:
            if 0 not in positions:
                # a later step with no group: no chain can start with it (a first step
                # arriving late creates the group and finds nothing after it either)
                return None
            group = self._create(key)
        else:
            groups.move_to_end(key)
        if t > group.last:
            group.last = t
        if t < group.until:
            self.suppressed += 1
            return None
        chains = group.times
        for p in positions:
            times = chains[p]
            if not times or t >= times[-1]:
                times += (t,)
            else:
                merged = list(times)
                insort(merged, t)
                times = tuple(merged)
            if len(times) > MAX_ORDERED_TIMES:
                times = times[1:]
            chains[p] = times
        _add_samples(group, sample)
        tail = chains[-1]
        head = chains[0]
        # a new chain must contain t: it needs a last-rule occurrence at or after t and a
        # first-rule occurrence at or before t
        if not tail or tail[-1] < t or not head or head[0] > t:
            return None
        span = self.span
        best_end = math.inf
        best_start = _NEVER
        low = t - span
        for i in range(bisect_right(head, t) - 1, -1, -1):
            start = head[i]
            if start < low:
                break
            at = start
            for times in chains[1:]:
                k = bisect_left(times, at)
                if k == len(times):
                    at = math.inf
                    break
                at = times[k]
            if at - start <= span and at < best_end:
                best_end, best_start = at, start
        if best_end == math.inf:
            return None
        group.times = [()] * len(chains)
        self._cool_down(group, best_end)
        samples = _take_samples(group, best_end)
        return self.alert(key, best_start, best_end, len(chains), samples)

    def dump_group(self, group: Any, event_ref: Callable[[SecurityEvent], int]) -> dict[str, Any]:
        data = super().dump_group(group, event_ref)
        data["o"] = [list(times) for times in group.times]
        return data

    def load_group(self, data: Mapping[str, Any], events: Sequence[SecurityEvent]) -> Any:
        group = super().load_group(data, events)
        chains = data["o"]
        if not isinstance(chains, list) or len(chains) != len(self.rule.rules):
            raise ValueError("bad temporal_ordered state")
        group.times = [tuple(sorted(_floats(c))[-MAX_ORDERED_TIMES:]) for c in chains]
        return group


_KINDS: dict[CorrelationType, type[_Corr]] = {
    CorrelationType.EVENT_COUNT: _EventCount,
    CorrelationType.VALUE_COUNT: _ValueCount,
    CorrelationType.TEMPORAL: _Temporal,
    CorrelationType.TEMPORAL_ORDERED: _TemporalOrdered,
}


# --- detections -----------------------------------------------------------------------------

#: What a detection hands each correlation that references it:
#: (occur, key function, positions, value function or None, correlation).
_Feed = tuple[
    Callable[..., "Alert | None"],
    KeyFn,
    tuple[int, ...],
    "ValueFn | None",
    _Corr,
]


class _Det:
    """A detection, its consumers and, when it raises its own alerts, its cool-downs."""

    __slots__ = ("cool", "cooldowns", "evicted", "expired", "feeds", "generate", "match", "rule")

    def __init__(self, rule: Detection, cool: float) -> None:
        self.rule = rule
        self.match = rule.match
        self.generate = rule.generate
        self.cool = cool
        self.cooldowns: OrderedDict[tuple[str | None, str | None], float] = OrderedDict()
        self.feeds: tuple[_Feed, ...] = ()
        self.evicted = 0
        self.expired = 0


def _detection_group(event: SecurityEvent) -> tuple[tuple[str, str | None], ...]:
    ip = event.source_ip
    user = event.user
    if ip is not None:
        if user is not None:
            return (("source_ip", ip), ("user", user))
        return (("source_ip", ip),)
    if user is not None:
        return (("user", user),)
    return ()


# --- the engine -----------------------------------------------------------------------------


class Engine:
    """Evaluates a :class:`RuleSet` over events; see the module docstring for semantics."""

    def __init__(self, rules: RuleSet, options: EngineOptions | None = None) -> None:
        self.rules = rules
        self.options = options = options or EngineOptions()
        self.digest = rules_digest(rules)
        self._tolerance = options.late_tolerance
        self._wm = _NEVER
        self._events = 0
        self._matched = 0
        self._alerts = 0
        self._late = 0
        self._suppressed = 0
        det_cool = options.cooldown if options.cooldown is not None else options.detection_cooldown
        self._dets: dict[str, _Det] = {d.meta.id: _Det(d, det_cool) for d in rules.detections}
        self._corrs: dict[str, _Corr] = {}
        for corr in rules.correlations:
            self._corrs[corr.meta.id] = _KINDS[corr.type](corr, options, self)
        self._wire()
        self._dispatch: dict[str, tuple[_Det, ...]] = {}
        self._any: tuple[_Det, ...] = tuple(self._dets[d.meta.id] for d in rules.any_type)
        for event_type in rules.by_type:
            self._dispatch[event_type] = tuple(
                self._dets[d.meta.id] for d in rules.candidates(event_type)
            )

    def _wire(self) -> None:
        """Connect every referenced rule to the correlations that consume it."""
        feeds: dict[str, list[_Feed]] = {}
        for corr_state in self._corrs.values():
            corr = corr_state.rule
            for ref in corr_state.refs:
                positions = tuple(i for i, r in enumerate(corr.rules) if r == ref)
                if corr_state.kind is CorrelationType.TEMPORAL:
                    positions = (corr_state.refs.index(ref),)
                names = tuple(_resolve(corr, name, ref) for name in corr.group_by)
                value_name = (
                    _resolve(corr, corr_state.field, ref)
                    if isinstance(corr_state, _ValueCount)
                    else None
                )
                if ref in self._dets:
                    key_fn = _event_key(corr, names)
                    value_fn = _event_getter(corr, value_name) if value_name is not None else None
                    feeds.setdefault(ref, []).append(
                        (corr_state.occur, key_fn, positions, value_fn, corr_state)
                    )
                else:
                    source = self._corrs[ref]
                    source.consumers.append((corr_state, positions, names, value_name))
        for det_id, det in self._dets.items():
            det.feeds = tuple(feeds.get(det_id, ()))
        for corr_id, corr_state in self._corrs.items():
            users = self.rules.referenced.get(corr_id, ())
            corr_state.emit = not users or any(u.generate for u in users)

    # the hot path

    def _candidates(self, name: str) -> tuple[_Det, ...]:
        key = event_type_key(name)
        found = self._dispatch.get(key)
        if found is None:
            found = self._any
        if len(self._dispatch) < _DISPATCH_CACHE:
            self._dispatch[name] = found
        return found

    def process(self, event: SecurityEvent) -> list[Alert]:
        """Evaluate one event; the alerts it completes (usually none)."""
        self._events += 1
        dets = self._dispatch.get(event.event)
        if dets is None:
            dets = self._candidates(event.event)
        out: list[Alert] = []
        if not dets:
            return out
        ts = 0.0
        late = False
        matched = False
        for det in dets:
            if not det.match(event):
                continue
            if not matched:
                matched = True
                self._matched += 1
                raw = event.raw
                if raw is not None and len(raw) > SAMPLE_RAW_LIMIT:
                    event = _as_sample(event)  # what groups keep, and alerts carry
                ts = event.time.timestamp()
                wm = self._wm
                if ts > wm:
                    self._wm = ts
                elif ts < wm - self._tolerance:
                    late = True
                    self._late += 1
            if det.generate:
                self._detection_alert(det, event, ts, out)
            if late:
                continue
            weight = event.repeat
            for occur, key_fn, positions, value_fn, corr in det.feeds:
                alert = occur(
                    ts,
                    key_fn(event),
                    positions,
                    weight,
                    value_fn(event) if value_fn is not None else None,
                    event,
                )
                if alert is not None:
                    self._fired(corr, alert, out)
        return out

    def _detection_alert(
        self, det: _Det, event: SecurityEvent, ts: float, out: list[Alert]
    ) -> None:
        cool = det.cool
        if cool > 0:
            key = (event.source_ip, event.user)
            cooldowns = det.cooldowns
            until = cooldowns.get(key)
            if until is not None and ts < until:
                self._suppressed += 1
                return
            if until is None:
                self._make_room(det)
            cooldowns[key] = ts + cool
            cooldowns.move_to_end(key)
        meta = det.rule.meta
        out.append(
            Alert(
                rule_id=meta.id,
                title=meta.title,
                severity=meta.severity,
                group=_detection_group(event),
                first_seen=event.time,
                last_seen=event.time,
                count=1,
                samples=(event,),
                tags=meta.tags,
                description=meta.description,
            )
        )
        self._alerts += 1

    def _make_room(self, det: _Det) -> None:
        cooldowns = det.cooldowns
        if not cooldowns:
            return
        horizon = self._wm - self._tolerance
        while cooldowns:
            front = next(iter(cooldowns))
            if cooldowns[front] <= horizon:
                del cooldowns[front]
                det.expired += 1
            else:
                break
        while len(cooldowns) >= self.options.max_groups:
            cooldowns.popitem(last=False)
            det.evicted += 1

    def _fired(self, corr: _Corr, alert: Alert, out: list[Alert]) -> None:
        """A correlation alerted: emit it and feed the correlations referencing it."""
        if corr.emit:
            out.append(alert)
            self._alerts += 1
        if not corr.consumers:
            return
        group = dict(alert.group)
        last = alert.last_seen.timestamp()
        for consumer, positions, names, value_name in corr.consumers:
            values = [group.get(name) for name in names]
            key = _values_key(values, len(names))
            value = group.get(value_name) if value_name is not None else None
            again = consumer.occur(last, key, positions, 1, value, alert.samples)
            if again is not None:
                self._fired(consumer, again, out)

    # introspection

    @property
    def watermark(self) -> float | None:
        """The newest event time seen (seconds since the epoch), ``None`` before any."""
        return None if self._wm == _NEVER else self._wm

    def stats(self) -> EngineStats:
        corrs = self._corrs.values()
        dets = self._dets.values()
        return EngineStats(
            events=self._events,
            matched=self._matched,
            alerts=self._alerts,
            late=self._late,
            groups=sum(len(c.groups) for c in corrs) + sum(len(d.cooldowns) for d in dets),
            evicted=sum(c.evicted for c in corrs) + sum(d.evicted for d in dets),
            expired=sum(c.expired for c in corrs) + sum(d.expired for d in dets),
            suppressed=self._suppressed + sum(c.suppressed for c in corrs),
        )

    def group_count(self, rule_id: str) -> int:
        """Live groups of one correlation (or cool-down entries of one detection)."""
        if rule_id in self._corrs:
            return len(self._corrs[rule_id].groups)
        return len(self._dets[rule_id].cooldowns)

    # snapshots

    def snapshot(self) -> dict[str, Any]:
        """The engine's whole state as a JSON-able dict (see :meth:`restore`)."""
        events: list[dict[str, Any]] = []
        index: dict[int, int] = {}

        def event_ref(event: SecurityEvent) -> int:
            found = index.get(id(event))
            if found is None:
                found = index[id(event)] = len(events)
                events.append(event.to_dict())
            return found

        correlations: dict[str, Any] = {}
        for corr_id, corr in self._corrs.items():
            correlations[corr_id] = {
                "evicted": corr.evicted,
                "expired": corr.expired,
                "suppressed": corr.suppressed,
                "groups": [
                    [list(_key_values(key, corr.width)), corr.dump_group(group, event_ref)]
                    for key, group in corr.groups.items()
                ],
            }
        detections: dict[str, Any] = {}
        for det_id, det in self._dets.items():
            if det.cooldowns or det.evicted or det.expired:
                detections[det_id] = {
                    "evicted": det.evicted,
                    "expired": det.expired,
                    "cooldowns": [[ip, user, until] for (ip, user), until in det.cooldowns.items()],
                }
        return {
            "version": SNAPSHOT_VERSION,
            "rules_digest": self.digest,
            "watermark": self.watermark,
            "counters": {
                "events": self._events,
                "matched": self._matched,
                "alerts": self._alerts,
                "late": self._late,
                "suppressed": self._suppressed,
            },
            "events": events,
            "detections": detections,
            "correlations": correlations,
        }

    @classmethod
    def restore(
        cls, rules: RuleSet, snapshot: Mapping[str, Any], options: EngineOptions | None = None
    ) -> Engine:
        """An engine for ``rules`` in the state :meth:`snapshot` recorded.

        Raises :class:`StateError` when the snapshot was taken with other rules or is
        malformed.
        """
        engine = cls(rules, options)
        if not isinstance(snapshot, Mapping):
            raise StateError(
                "engine state is not a JSON object",
                where="checkpoint",
                hint="delete the checkpoint file to start with empty state",
            )
        version = snapshot.get("version")
        if version != SNAPSHOT_VERSION:
            raise StateError(
                f"engine state has format version {version!r}; this turbosec reads "
                f"version {SNAPSHOT_VERSION}",
                where="checkpoint",
                hint="delete the checkpoint file to start with empty state",
            )
        if snapshot.get("rules_digest") != engine.digest:
            raise StateError(
                "engine state was saved for a different set of rules (rules were added, "
                "removed or changed since)",
                where="checkpoint",
                hint="delete the checkpoint file (or use a new one) to start counting afresh "
                "with the current rules",
            )
        try:
            engine._load(snapshot)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise StateError(
                f"engine state is malformed: {type(exc).__name__}: {exc}",
                where="checkpoint",
                hint="the file was damaged or edited; delete it to start with empty state",
            ) from exc
        return engine

    def _load(self, snapshot: Mapping[str, Any]) -> None:
        self._wm = _opt_float(snapshot["watermark"])
        counters = snapshot["counters"]
        self._events = int(counters["events"])
        self._matched = int(counters["matched"])
        self._alerts = int(counters["alerts"])
        self._late = int(counters["late"])
        self._suppressed = int(counters["suppressed"])
        events = [SecurityEvent.from_dict(e) for e in snapshot["events"]]
        correlations = snapshot["correlations"]
        if set(correlations) != set(self._corrs):
            raise ValueError("correlation ids differ from the rules")
        for corr_id, data in correlations.items():
            corr = self._corrs[corr_id]
            corr.evicted = int(data["evicted"])
            corr.expired = int(data["expired"])
            corr.suppressed = int(data["suppressed"])
            groups: OrderedDict[Key, Any] = OrderedDict()
            for values, state in data["groups"]:
                key = _values_key(values, corr.width)
                groups[key] = corr.load_group(state, events)
            while len(groups) > corr.max_groups:
                groups.popitem(last=False)
                corr.evicted += 1
            corr.groups = groups
        for det_id, data in snapshot["detections"].items():
            det = self._dets[det_id]
            det.evicted = int(data["evicted"])
            det.expired = int(data["expired"])
            cooldowns: OrderedDict[tuple[str | None, str | None], float] = OrderedDict()
            for ip, user, until in data["cooldowns"]:
                for part in (ip, user):
                    if part is not None and not isinstance(part, str):
                        raise ValueError("cool-down keys must be strings or null")
                cooldowns[(ip, user)] = _opt_float(until)
            while len(cooldowns) > self.options.max_groups:
                cooldowns.popitem(last=False)
                det.evicted += 1
            det.cooldowns = cooldowns
