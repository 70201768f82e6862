"""Compiled rules: what the engine evaluates.  The Sigma loader (:mod:`.sigma`) produces
these; the engine (:mod:`turbosec.watch.engine`) consumes them.  Nothing here parses YAML.

Vocabulary
----------
* A :class:`Detection` is a compiled Sigma *detection* rule: a predicate over one
  :class:`~turbosec.core.event.SecurityEvent`.  ``event_types`` is the dispatch key: the
  set of event types (``SecurityEvent.event`` without its ``:args``, e.g.
  ``authn_login_fail``) the rule can match, or ``None`` when the rule can match any type
  (the engine then offers it every event).  The types are in :func:`event_type_key` form
  (lower case).
* A :class:`Correlation` is a compiled Sigma *correlation* rule over detections (or other
  correlations, by name/id): ``event_count``, ``value_count``, ``temporal`` or
  ``temporal_ordered``, with ``group_by`` fields, a ``timespan`` and a condition.
* A :class:`RuleSet` is everything loaded, indexed for the engine.

Field names
-----------
Rules name event fields as :data:`FIELDS` lists them (``event``, ``event_type``,
``source_ip``, ``user``, ``status``...).  ``extra.NAME`` reads ``SecurityEvent.extra``.
Any other name is a load-time error.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from turbosec.core.event import SecurityEvent
from turbosec.core.severity import Severity

#: Every field a rule may name, with what it reads from a SecurityEvent.  ``event_type`` is
#: the event name without arguments (``authn_login_fail`` for ``authn_login_fail:alice``);
#: ``event`` is the full ``event_string`` form.  Values are compared as strings
#: (``status`` too: ``401``), case-insensitively as Sigma specifies for plain values.
FIELDS: Mapping[str, str] = MappingProxyType(
    {
        "event": "the full event string, e.g. authn_login_fail:alice",
        "event_type": "the event name without arguments, e.g. authn_login_fail",
        "level": "INFO, WARN, ERROR...",
        "description": "the event's human description",
        "source_ip": "the client address",
        "user": "the account the event is about",
        "useragent": "the client's user agent",
        "request_uri": "the request path and query",
        "request_method": "GET, POST...",
        "status": "the HTTP status (as text)",
        "hostname": "the host that logged the event",
        "appid": "the application that logged the event",
        "source": "where the line came from (file:line)",
    }
)
#: Prefix for fields read from ``SecurityEvent.extra``.
EXTRA_PREFIX = "extra."

Predicate = Callable[[SecurityEvent], bool]
FieldGetter = Callable[[SecurityEvent], "str | None"]


def event_type_key(event_type: str) -> str:
    """The dispatch key for an event name: the part before any ``:``, in lower case.

    ``Detection.event_types`` holds keys in this form: Sigma compares values
    case-insensitively, so a rule on ``event_type: authn_login_fail`` must also be offered
    an event named ``AUTHN_LOGIN_FAIL``.  Names the parsers produce are already keys (no
    allocation then).
    """
    if ":" in event_type:
        event_type = event_type.split(":", 1)[0]
    if event_type.islower() or not event_type:
        return event_type
    return event_type.lower()


class RuleLoadError(ValueError):
    """A rule that cannot be loaded: names the file, the rule and the construct."""

    def __init__(self, path: str, rule: str | None, problem: str) -> None:
        where = f"{path}: rule {rule!r}" if rule else path
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.rule = rule
        self.problem = problem


@dataclass(frozen=True, slots=True)
class RuleMeta:
    """What every rule carries for people: shown in alerts and ``watch rules list``."""

    id: str  # the Sigma id (a UUID) or, failing that, the name
    name: str | None  # the Sigma ``name`` other rules reference it by
    title: str
    severity: Severity  # from the Sigma level: informational/low/medium/high/critical
    description: str = ""
    tags: tuple[str, ...] = ()  # e.g. attack.credential_access, attack.t1110.001
    falsepositives: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    path: str = ""  # the file it came from ("builtin:NAME.yml" for the built-in pack)
    status: str | None = None


@dataclass(frozen=True, slots=True)
class Detection:
    """A compiled detection rule.

    ``generate``: the rule raises its own alert for every matching event (Sigma: a rule
    referenced by a correlation does not, unless the correlation says ``generate: true``;
    a rule no correlation references does).
    """

    meta: RuleMeta
    match: Predicate
    event_types: frozenset[str] | None
    generate: bool = True
    #: The condition on some fields' values only (``{"event_type": ..., "appid": ...}``):
    #: ``False`` when no event with those values can match (see :meth:`RuleSet.could_use`).
    #: ``None``: not known, any event may match.
    could_match: Callable[[Mapping[str, str | None]], bool | None] | None = None


class CorrelationType(enum.StrEnum):
    EVENT_COUNT = "event_count"
    VALUE_COUNT = "value_count"
    TEMPORAL = "temporal"
    TEMPORAL_ORDERED = "temporal_ordered"


class Op(enum.StrEnum):
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    EQ = "eq"
    NEQ = "neq"


@dataclass(frozen=True, slots=True)
class Condition:
    """``count <op> value`` (for value_count: the number of distinct ``field`` values)."""

    op: Op
    value: int
    field: str | None = None  # value_count only

    def holds(self, count: int) -> bool:
        op = self.op
        if op is Op.GTE:
            return count >= self.value
        if op is Op.GT:
            return count > self.value
        if op is Op.LTE:
            return count <= self.value
        if op is Op.LT:
            return count < self.value
        if op is Op.EQ:
            return count == self.value
        return count != self.value


@dataclass(frozen=True, slots=True)
class Correlation:
    """A compiled correlation rule.

    ``rules``: the ids of the detections or correlations it correlates, resolved (a
    reference by Sigma ``name`` is resolved to that rule's ``meta.id`` at load time); for
    ``temporal_ordered`` in their order.  ``group_by``: field names (see :data:`FIELDS`),
    possibly after ``aliases`` were applied: ``aliases`` maps an alias to, per referenced
    rule id, the field it reads.  ``timespan`` in seconds.  ``generate`` as in Sigma: the
    referenced rules also raise their own alerts.
    """

    meta: RuleMeta
    type: CorrelationType
    rules: tuple[str, ...]
    group_by: tuple[str, ...]
    timespan: float
    condition: Condition | None  # None for temporal / temporal_ordered (all rules must occur)
    aliases: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    generate: bool = False


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Everything loaded, ready for the engine.

    ``by_type``: event type -> detections whose ``event_types`` contain it;
    ``any_type``: detections that must see every event.  ``correlations`` in an order
    where a correlation comes after every correlation it references.
    ``referenced``: for each detection/correlation id, the correlations that use it.
    """

    detections: tuple[Detection, ...]
    correlations: tuple[Correlation, ...]
    by_type: Mapping[str, tuple[Detection, ...]]
    any_type: tuple[Detection, ...]
    referenced: Mapping[str, tuple[Correlation, ...]]

    @classmethod
    def build(
        cls, detections: Sequence[Detection], correlations: Sequence[Correlation] = ()
    ) -> RuleSet:
        """Index rules for the engine; ``RuleLoadError`` for duplicate ids, unknown or
        circular references (correlations are put in dependency order)."""
        ids: dict[str, str] = {}
        everything: list[Detection | Correlation] = [*detections, *correlations]
        for rule in everything:
            if rule.meta.id in ids:
                raise RuleLoadError(rule.meta.path, rule.meta.id, "duplicate rule id")
            ids[rule.meta.id] = rule.meta.path
        by_type: dict[str, list[Detection]] = {}
        any_type: list[Detection] = []
        for detection in detections:
            if detection.event_types is None:
                any_type.append(detection)
            else:
                for event_type in sorted(detection.event_types):
                    by_type.setdefault(event_type, []).append(detection)
        pending = {c.meta.id: c for c in correlations}
        ordered: list[Correlation] = []
        done: set[str] = {d.meta.id for d in detections}
        while pending:
            ready = [c for c in pending.values() if all(r in done for r in c.rules)]
            if not ready:
                rule = next(iter(pending.values()))
                missing = [r for r in rule.rules if r not in done and r not in pending]
                problem = (
                    f"references unknown rule(s) {', '.join(missing)}"
                    if missing
                    else "correlations reference each other in a cycle"
                )
                raise RuleLoadError(rule.meta.path, rule.meta.id, problem)
            for rule in ready:
                ordered.append(rule)
                done.add(rule.meta.id)
                del pending[rule.meta.id]
        referenced: dict[str, list[Correlation]] = {}
        for correlation in ordered:
            for ref in correlation.rules:
                referenced.setdefault(ref, []).append(correlation)
        return cls(
            detections=tuple(detections),
            correlations=tuple(ordered),
            by_type=MappingProxyType({k: tuple(v) for k, v in by_type.items()}),
            any_type=tuple(any_type),
            referenced=MappingProxyType({k: tuple(v) for k, v in referenced.items()}),
        )

    def candidates(self, event_type: str) -> tuple[Detection, ...]:
        """The detections an event of this type must be offered to (dispatch).

        ``event_type`` may be ``SecurityEvent.event`` as it is: it is normalised with
        :func:`event_type_key` when it is not already a key.
        """
        specific = self.by_type.get(event_type)
        if specific is None:
            key = event_type_key(event_type)
            specific = self.by_type.get(key, ()) if key != event_type else ()
        if not self.any_type:
            return specific
        return specific + self.any_type

    def could_use(self, known: Mapping[str, str | None]) -> bool:
        """Whether some rule could match an event whose fields in ``known`` have these
        values (field names as rules write them: ``event_type``, ``appid``,
        ``extra.sshd_msg``...; a field's value ``None`` means the event has none).

        ``False`` is a promise: no detection can match such an event, whatever its other
        fields, so a parser may leave it out.  Detections without a partial condition
        answer "maybe" (only their event types are used).
        """
        event_type = known.get("event_type")
        if event_type is None or not isinstance(event_type, str):
            detections: Sequence[Detection] = self.detections
        else:
            detections = self.candidates(event_type)
        for detection in detections:
            could = detection.could_match
            if could is None or could(known) is not False:
                return True
        return False

    @property
    def all_meta(self) -> tuple[RuleMeta, ...]:
        return tuple(d.meta for d in self.detections) + tuple(c.meta for c in self.correlations)
