"""Sigma rules (as pySigma 0.11 reads them) compiled into :mod:`~turbosec.watch.rules.model`.

pySigma parses and validates Sigma YAML into typed objects but has no matcher: it converts
rules into queries for other systems.  This module is the matcher.  A detection rule becomes
one closure over a :class:`~turbosec.core.event.SecurityEvent`; a correlation rule becomes a
:class:`~turbosec.watch.rules.model.Correlation` the engine counts with.

What a rule means here
----------------------
* Plain values compare case-insensitively with the whole field value (``str.lower`` on
  both sides); ``*`` and ``?`` are wildcards, ``\\*``/``\\?`` literal.  A number compares as
  its decimal text (``status: 401``), ``true``/``false`` as those words.
* A list of values is OR, a map of fields is AND, ``|all`` turns a list into AND.
  ``field: null`` holds when the event has no such value; ``field|exists: true/false``
  likewise.  An empty string is a value, not an absence.
* ``contains``/``startswith``/``endswith`` are wildcards around the value; ``cased`` makes
  a value case-sensitive.
* ``re`` is a Python regular expression, compiled once, *searched* in the value (anchor it
  with ``^``/``$`` to match the whole value), case-sensitive unless ``|i``; ``|m`` and ``|s``
  set MULTILINE/DOTALL.
* ``cidr`` holds when the value is an IPv4/IPv6 address in the network (an IPv4-mapped
  IPv6 address counts as its IPv4 address).
* ``gt``/``gte``/``lt``/``lte`` compare the value read as a decimal number; a value that is
  not a number does not match.
* The condition (``and``, ``or``, ``not``, parentheses, ``1 of sel*``, ``all of them``...) is
  parsed by pySigma; ``them`` and patterns skip selections whose names start with ``_``
  (unless the pattern does too).  Several conditions in a list are OR.
* The Sigma ``logsource`` is not used for matching: every rule sees every event, its
  fields say what it is about.

Everything else is refused at load time with a :class:`RuleLoadError` that names the rule
and the construct -- keyword (field-less) detections, unknown fields, the ``base64``,
``base64offset``, ``wide``, ``windash``, ``expand`` and ``fieldref`` modifiers, Sigma v1
aggregations (``| count()``, ``timeframe``), filters and collection actions, unknown keys at
the top of a rule or in its ``correlation`` -- so that a rule never silently matches
nothing, or something else than its author meant.  Selections the condition does not use
are checked too.

Speed
-----
Each subtree of a condition that reads a single field compiles to one test on that
field's value, behind a small bounded memo (``value -> result``, at most
:data:`MEMO_LIMIT` values of at most :data:`MEMO_KEY_LIMIT` characters): event types,
methods, statuses and levels repeat, so most checks cost one attribute read and one dict
lookup (the memo is keyed on the raw attribute -- ``SecurityEvent.event`` for
``event_type``, the integer for ``status``).  ``and``/``or`` evaluate the pieces that pin
the event type first, then cheap before expensive (a CIDR or a regular expression last),
and run their memoised pieces in one Python frame.

Dispatch
--------
:func:`compile_predicate` also works out, from the condition, the finite set of event
types a rule can match (``event_type: authn_login_fail``, ``event_type: [a, b]``,
``event|startswith: 'authn_login_fail:'``, intersected through ``and``, united through
``or``), or ``None``.  It errs on the side of ``None``: a set never leaves out an event the
predicate could match.  The types are lower case, in
:func:`~turbosec.watch.rules.model.event_type_key` form, because values compare
case-insensitively.

Metadata
--------
A rule needs an ``id`` or a ``name`` (alerts and references use it); a rule without a
``level`` is :data:`DEFAULT_SEVERITY` (medium).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeVar

from sigma.conditions import (
    ConditionAND,
    ConditionIdentifier,
    ConditionNOT,
    ConditionOR,
    ConditionSelector,
)
from sigma.correlations import SigmaCorrelationRule, SigmaCorrelationType
from sigma.exceptions import SigmaError
from sigma.modifiers import (
    SigmaAllModifier,
    SigmaBase64Modifier,
    SigmaBase64OffsetModifier,
    SigmaCaseSensitiveModifier,
    SigmaCIDRModifier,
    SigmaContainsModifier,
    SigmaEndswithModifier,
    SigmaExistsModifier,
    SigmaExpandModifier,
    SigmaFieldReferenceModifier,
    SigmaGreaterThanEqualModifier,
    SigmaGreaterThanModifier,
    SigmaLessThanEqualModifier,
    SigmaLessThanModifier,
    SigmaRegularExpressionDotAllFlagModifier,
    SigmaRegularExpressionIgnoreCaseFlagModifier,
    SigmaRegularExpressionModifier,
    SigmaRegularExpressionMultilineFlagModifier,
    SigmaStartswithModifier,
    SigmaWideModifier,
    SigmaWindowsDashModifier,
    modifier_mapping,
)
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaLevel, SigmaRule, SigmaRuleBase
from sigma.types import (
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from turbosec.core.event import SecurityEvent
from turbosec.core.severity import Severity
from turbosec.watch.rules import fields
from turbosec.watch.rules.model import (
    Condition,
    Correlation,
    CorrelationType,
    Detection,
    Op,
    Predicate,
    RuleLoadError,
    RuleMeta,
)

__all__ = [
    "CORRELATION_KEYS",
    "DEFAULT_SEVERITY",
    "RULE_KEYS",
    "CompileError",
    "check_rule_keys",
    "compile_correlation",
    "compile_detection",
    "compile_predicate",
    "correlation_condition",
    "load_error",
    "rule_label",
    "rule_meta",
]

#: Severity of a rule without a Sigma ``level``: the middle of the scale, so that a rule
#: someone forgot to grade is neither buried nor paged on.
DEFAULT_SEVERITY = Severity.MEDIUM

#: Top-level keys a rule may carry (the Sigma specification's).  Anything else is refused:
#: a misplaced key (``generate`` outside ``correlation``, a typo) would otherwise be
#: ignored and the rule would behave differently from what its author wrote.
RULE_KEYS = frozenset(
    {
        "title",
        "id",
        "name",
        "related",
        "taxonomy",
        "status",
        "description",
        "license",
        "author",
        "references",
        "date",
        "modified",
        "logsource",
        "detection",
        "fields",
        "falsepositives",
        "level",
        "tags",
        "scope",
        "correlation",
    }
)
#: Keys of a ``correlation`` section.
CORRELATION_KEYS = frozenset(
    {"type", "rules", "group-by", "timespan", "condition", "aliases", "generate"}
)
_CONDITION_OPS = {
    "gt": Op.GT,
    "gte": Op.GTE,
    "lt": Op.LT,
    "lte": Op.LTE,
    "eq": Op.EQ,
    "neq": Op.NEQ,
}

_LEVELS: Mapping[str, Severity] = {
    "informational": Severity.INFO,
    "low": Severity.LOW,
    "medium": Severity.MEDIUM,
    "high": Severity.HIGH,
    "critical": Severity.CRITICAL,
}

#: Modifiers this matcher implements.
_SUPPORTED_MODIFIERS = frozenset(
    {
        SigmaContainsModifier,
        SigmaStartswithModifier,
        SigmaEndswithModifier,
        SigmaAllModifier,
        SigmaRegularExpressionModifier,
        SigmaRegularExpressionIgnoreCaseFlagModifier,
        SigmaRegularExpressionMultilineFlagModifier,
        SigmaRegularExpressionDotAllFlagModifier,
        SigmaCaseSensitiveModifier,
        SigmaCIDRModifier,
        SigmaGreaterThanModifier,
        SigmaGreaterThanEqualModifier,
        SigmaLessThanModifier,
        SigmaLessThanEqualModifier,
        SigmaExistsModifier,
    }
)
#: Why the others are refused.
_UNSUPPORTED_MODIFIERS: Mapping[type, str] = {
    SigmaBase64Modifier: "matches base64-encoded text, which security events do not carry",
    SigmaBase64OffsetModifier: "matches base64-encoded text, which security events do not carry",
    SigmaWideModifier: "matches UTF-16 text, which security events do not carry",
    SigmaWindowsDashModifier: "is for Windows command lines",
    SigmaExpandModifier: "needs placeholder values from a processing pipeline",
    SigmaFieldReferenceModifier: "compares two fields, which this matcher does not do",
}
_MODIFIER_NAMES: dict[type, str] = {}
for _name, _cls in modifier_mapping.items():
    _MODIFIER_NAMES.setdefault(_cls, _name)

#: Most entries a single-field memo keeps, and the longest value it keeps.
MEMO_LIMIT = 2048
MEMO_KEY_LIMIT = 256
#: Fields with few distinct values: tests on them go first in ``and``/``or``.
_CHEAP_FIELDS = frozenset(
    {"event_type", "event", "level", "status", "request_method", "appid", "hostname"}
)

ValueTest = Callable[[str | None], bool]
T = TypeVar("T")


class CompileError(Exception):
    """A construct the matcher does not support (turned into a :class:`RuleLoadError`)."""


# --- metadata ----------------------------------------------------------------------------


def rule_label(rule: SigmaRuleBase | Mapping[str, Any]) -> str | None:
    """How errors name a rule: its ``name``, else its ``id``, else its title."""
    if isinstance(rule, Mapping):
        for key in ("name", "id", "title"):
            value = rule.get(key)
            if value is not None and value != "":
                return str(value)
        return None
    for value in (rule.name, rule.id, rule.title):
        if value:
            return str(value)
    return None


def rule_meta(rule: SigmaRuleBase, path: str) -> RuleMeta:
    """:class:`RuleMeta` from a parsed rule.  The rule needs an ``id`` or a ``name``: alerts
    are identified by the rule id, so it must not change when a title is reworded."""
    if rule.id is not None:
        rule_id = str(rule.id)
    elif rule.name:
        rule_id = str(rule.name)
    else:
        raise CompileError(
            "the rule has neither an id nor a name; give it an `id` (a UUID) or a `name` "
            "(alerts and correlations refer to rules by them)"
        )
    level: SigmaLevel | None = rule.level
    severity = _LEVELS[str(level)] if level is not None else DEFAULT_SEVERITY
    return RuleMeta(
        id=rule_id,
        name=str(rule.name) if rule.name else None,
        title=str(rule.title),
        severity=severity,
        description=str(rule.description or "").strip(),
        tags=tuple(str(tag) for tag in rule.tags),
        falsepositives=tuple(str(item) for item in rule.falsepositives or ()),
        references=tuple(str(item) for item in rule.references or ()),
        path=path,
        status=str(rule.status) if rule.status is not None else None,
    )


# --- combinators ---------------------------------------------------------------------------


def _all_of(tests: Sequence[Callable[[T], bool]]) -> Callable[[T], bool]:
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        first, second = tests

        def all_of_2(item: T) -> bool:
            return first(item) and second(item)

        return all_of_2
    if len(tests) == 3:
        first, second, third = tests

        def all_of_3(item: T) -> bool:
            return first(item) and second(item) and third(item)

        return all_of_3
    frozen = tuple(tests)

    def all_of(item: T) -> bool:
        # a loop, not all(<generator>): no allocation per call on the hot path
        for test in frozen:  # noqa: SIM110
            if not test(item):
                return False
        return True

    return all_of


def _any_of(tests: Sequence[Callable[[T], bool]]) -> Callable[[T], bool]:
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        first, second = tests

        def any_of_2(item: T) -> bool:
            return first(item) or second(item)

        return any_of_2
    if len(tests) == 3:
        first, second, third = tests

        def any_of_3(item: T) -> bool:
            return first(item) or second(item) or third(item)

        return any_of_3
    frozen = tuple(tests)

    def any_of(item: T) -> bool:
        for test in frozen:  # noqa: SIM110
            if test(item):
                return True
        return False

    return any_of


def _none_of(test: Callable[[T], bool]) -> Callable[[T], bool]:
    def negated(item: T) -> bool:
        return not test(item)

    return negated


@dataclass(frozen=True, slots=True)
class _Leaf:
    """A test on one field, evaluated through a bounded memo.

    ``key`` reads a hashable key from the event (an attribute, mostly); ``lookup`` is the
    memo's ``get``; ``compute`` works the result out from the key and remembers it.
    """

    key: Callable[[SecurityEvent], Any]
    lookup: Callable[[Any], bool | None]
    compute: Callable[[Any], bool]


def _leaf(field: str, test: ValueTest) -> _Leaf:
    key, convert = fields.keyed_getter(field)
    memo: dict[Any, bool] = {}
    limit = MEMO_LIMIT
    key_limit = MEMO_KEY_LIMIT

    def compute(found: Any) -> bool:
        result = test(convert(found))
        if len(memo) < limit and (type(found) is not str or len(found) <= key_limit):
            memo[found] = result
        return result

    return _Leaf(key, memo.get, compute)


def _leaf_predicate(leaf: _Leaf) -> Predicate:
    key, lookup, compute = leaf.key, leaf.lookup, leaf.compute

    def match(event: SecurityEvent) -> bool:
        found = key(event)
        result = lookup(found)
        if result is None:
            result = compute(found)
        return result

    return match


def _leaves_predicate(leaves: Sequence[_Leaf], conjunction: bool) -> Predicate:
    """``and``/``or`` of memoised tests in one frame (a Python call per test saved)."""
    if len(leaves) == 1:
        return _leaf_predicate(leaves[0])
    if len(leaves) == 2:
        (key1, lookup1, compute1), (key2, lookup2, compute2) = (
            (leaf.key, leaf.lookup, leaf.compute) for leaf in leaves
        )
        if conjunction:

            def and_2(event: SecurityEvent) -> bool:
                found = key1(event)
                result = lookup1(found)
                if result is None:
                    result = compute1(found)
                if not result:
                    return False
                found = key2(event)
                result = lookup2(found)
                if result is None:
                    result = compute2(found)
                return result

            return and_2

        def or_2(event: SecurityEvent) -> bool:
            found = key1(event)
            result = lookup1(found)
            if result is None:
                result = compute1(found)
            if result:
                return True
            found = key2(event)
            result = lookup2(found)
            if result is None:
                result = compute2(found)
            return result

        return or_2
    table = tuple((leaf.key, leaf.lookup, leaf.compute) for leaf in leaves)
    if conjunction:

        def and_n(event: SecurityEvent) -> bool:
            for key, lookup, compute in table:
                found = key(event)
                result = lookup(found)
                if result is None:
                    result = compute(found)
                if not result:
                    return False
            return True

        return and_n

    def or_n(event: SecurityEvent) -> bool:
        for key, lookup, compute in table:
            found = key(event)
            result = lookup(found)
            if result is None:
                result = compute(found)
            if result:
                return True
        return False

    return or_n


# --- values --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Value:
    """One compiled value of a detection item: its test and the event types it allows."""

    test: ValueTest
    types: frozenset[str] | None  # only for event_type / event; None = any
    equals: str | None = None  # plain case-insensitive equality with this (lower-case) text
    cost: int = 1  # rough: 1 a comparison ... 6 parsing an address


def _wildcard_test(parts: tuple[Any, ...], cased: bool) -> ValueTest:
    """A test for a SigmaString with wildcards (``parts`` = its ``s`` tuple)."""
    if not cased:
        parts = tuple(p.lower() if isinstance(p, str) else p for p in parts)
    multi, single = SpecialChars.WILDCARD_MULTI, SpecialChars.WILDCARD_SINGLE
    n = len(parts)
    if n == 1 and parts[0] is multi:
        return _present
    if n == 2 and isinstance(parts[0], str) and parts[1] is multi:
        return _prefix(parts[0], cased)
    if n == 2 and parts[0] is multi and isinstance(parts[1], str):
        return _suffix(parts[1], cased)
    if n == 3 and parts[0] is multi and isinstance(parts[1], str) and parts[2] is multi:
        return _infix(parts[1], cased)
    pattern = []
    for part in parts:
        if isinstance(part, str):
            pattern.append(re.escape(part))
        elif part is multi:
            pattern.append(".*")
        elif part is single:
            pattern.append(".")
        else:
            raise CompileError(f"placeholder {part!r} in a value (the expand modifier)")
    compiled = re.compile("".join(pattern), re.DOTALL)
    fullmatch = compiled.fullmatch
    if cased:

        def wildcard_cased(value: str | None) -> bool:
            return value is not None and fullmatch(value) is not None

        return wildcard_cased

    def wildcard(value: str | None) -> bool:
        return value is not None and fullmatch(value.lower()) is not None

    return wildcard


def _present(value: str | None) -> bool:
    return value is not None


def _absent(value: str | None) -> bool:
    return value is None


def _prefix(text: str, cased: bool) -> ValueTest:
    if cased:
        return lambda value: value is not None and value.startswith(text)
    return lambda value: value is not None and value.lower().startswith(text)


def _suffix(text: str, cased: bool) -> ValueTest:
    if cased:
        return lambda value: value is not None and value.endswith(text)
    return lambda value: value is not None and value.lower().endswith(text)


def _infix(text: str, cased: bool) -> ValueTest:
    if cased:
        return lambda value: value is not None and text in value
    return lambda value: value is not None and text in value.lower()


def _equals_any(texts: frozenset[str]) -> ValueTest:
    if len(texts) == 1:
        (text,) = texts

        def equals(value: str | None) -> bool:
            return value is not None and value.lower() == text

        return equals

    def equals_any(value: str | None) -> bool:
        return value is not None and value.lower() in texts

    return equals_any


def _equals_cased(text: str) -> ValueTest:
    return lambda value: value == text


def _number_test(op: Any, number: float) -> ValueTest:
    ops = SigmaCompareExpression.CompareOperators
    compare: Callable[[float], bool]
    if op is ops.GT:
        compare = number.__lt__
    elif op is ops.GTE:
        compare = number.__le__
    elif op is ops.LT:
        compare = number.__gt__
    else:
        compare = number.__ge__

    def numeric(value: str | None) -> bool:
        if value is None or "_" in value:
            return False
        try:
            read = float(value)
        except ValueError:
            return False
        return compare(read)

    return numeric


def _cidr_test(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> ValueTest:
    v4 = network.version == 4

    def in_network(value: str | None) -> bool:
        if value is None:
            return False
        try:
            address = ipaddress.ip_address(value.strip("[]"))
        except ValueError:
            return False
        if v4 and isinstance(address, ipaddress.IPv6Address):
            mapped = address.ipv4_mapped
            if mapped is None:
                return False
            return mapped in network
        if address.version != network.version:
            return False
        return address in network

    return in_network


def _regex_test(value: SigmaRegularExpression) -> ValueTest:
    flags = 0
    for flag in value.flags:
        if flag is SigmaRegularExpressionFlag.IGNORECASE:
            flags |= re.IGNORECASE
        elif flag is SigmaRegularExpressionFlag.MULTILINE:
            flags |= re.MULTILINE
        elif flag is SigmaRegularExpressionFlag.DOTALL:
            flags |= re.DOTALL
    try:
        search = re.compile(value.regexp, flags).search
    except re.error as exc:
        raise CompileError(f"invalid regular expression {value.regexp!r}: {exc}") from None

    def regex(text: str | None) -> bool:
        return text is not None and search(text) is not None

    return regex


def _type_of_text(field: str, text: str) -> frozenset[str] | None:
    """Event types an exact (lower-case) value of ``event_type``/``event`` implies."""
    if field == "event_type":
        return frozenset({text})
    if field == "event":
        return frozenset({text.split(":", 1)[0]})
    return None


def _compile_value(field: str, value: Any) -> _Value:
    """Compile one (modified) Sigma value for ``field``."""
    typed = field in ("event_type", "event")
    if isinstance(value, SigmaNull):
        # event_type and event always have a value: a null test never holds for them
        return _Value(_absent, frozenset() if typed else None)
    if isinstance(value, SigmaExists):
        if value.exists:
            return _Value(_present, None)
        return _Value(_absent, frozenset() if typed else None)
    if isinstance(value, SigmaBool):
        text = "true" if value.boolean else "false"
        return _Value(_equals_any(frozenset({text})), _type_of_text(field, text), text)
    if isinstance(value, SigmaNumber):
        text = str(value.number)
        return _Value(_equals_any(frozenset({text})), _type_of_text(field, text), text)
    if isinstance(value, SigmaCompareExpression):
        return _Value(_number_test(value.op, float(value.number.number)), None, cost=3)
    if isinstance(value, SigmaRegularExpression):
        return _Value(_regex_test(value), None, cost=4)
    if isinstance(value, SigmaCIDRExpression):
        return _Value(_cidr_test(value.network), None, cost=6)
    if isinstance(value, SigmaString):
        cased = isinstance(value, SigmaCasedString)
        parts = value.s
        if not value.contains_special() and all(isinstance(p, str) for p in parts):
            text = "".join(str(p) for p in parts)
            if cased:
                return _Value(_equals_cased(text), _type_of_text(field, text.lower()))
            low = text.lower()
            return _Value(_equals_any(frozenset({low})), _type_of_text(field, low), low)
        test = _wildcard_test(parts, cased)
        types: frozenset[str] | None = None
        if field == "event" and parts and isinstance(parts[0], str) and ":" in parts[0]:
            types = frozenset({parts[0].split(":", 1)[0].lower()})
        return _Value(test, types, cost=2 if len(parts) <= 3 else 3)
    raise CompileError(f"value {value!r} of type {type(value).__name__} is not supported")


# --- the condition tree ------------------------------------------------------------------


@dataclass(slots=True)
class _Node:
    """A compiled piece of a condition.

    ``field`` is set when the piece reads exactly that one field; ``test`` is then its test
    on the field's value.  Otherwise ``pred`` tests the event.  ``cost`` is a rough
    estimate of evaluating it; ``types`` the event types it allows (None: any).
    """

    types: frozenset[str] | None
    cost: int
    field: str | None = None
    test: ValueTest | None = None
    pred: Predicate | None = None

    @property
    def order(self) -> tuple[int, int]:
        """Sort key within ``and``/``or``: pieces that pin the event type first (they
        decide most events), then the cheap ones."""
        return (0 if self.types is not None else 1, self.cost)

    def leaf(self) -> _Leaf:
        assert self.field is not None
        assert self.test is not None
        return _leaf(self.field, self.test)

    def predicate(self) -> Predicate:
        if self.pred is None:
            self.pred = _leaf_predicate(self.leaf())
        return self.pred


def _field_cost(field: str, value_cost: int) -> int:
    # fields with few distinct values are answered from the memo nearly always
    return 1 if field in _CHEAP_FIELDS else 1 + value_cost


def _and_types(nodes: Iterable[_Node]) -> frozenset[str] | None:
    result: frozenset[str] | None = None
    for node in nodes:
        if node.types is not None:
            result = node.types if result is None else result & node.types
    return result


def _or_types(nodes: Iterable[_Node]) -> frozenset[str] | None:
    result: frozenset[str] = frozenset()
    for node in nodes:
        if node.types is None:
            return None
        result |= node.types
    return result


def _combine(nodes: list[_Node], conjunction: bool) -> _Node:
    """``and``/``or`` of compiled pieces.

    Pieces on the same field merge into one test (one memo); the rest are ordered so that
    the event type is checked first and expensive tests last, and the memoised tests run
    in one frame.
    """
    if not nodes:
        raise CompileError("an empty and/or (a selector that matches no selection?)")
    if len(nodes) == 1:
        return nodes[0]
    types_of = _and_types if conjunction else _or_types
    types = types_of(nodes)
    cost = sum(node.cost for node in nodes)
    by_field: dict[str, list[_Node]] = {}
    others: list[_Node] = []
    for node in nodes:
        if node.field is not None and node.test is not None:
            by_field.setdefault(node.field, []).append(node)
        else:
            others.append(node)
    merged = [
        _Node(
            types_of(group),
            sum(node.cost for node in group),
            field=field,
            test=_merge_tests([node.test for node in group if node.test], conjunction),
        )
        for field, group in by_field.items()
    ]
    if not others and len(merged) == 1:
        only = merged[0]
        return _Node(types, cost, field=only.field, test=only.test)
    merged.sort(key=lambda node: node.order)
    others.sort(key=lambda node: node.order)
    # a composite piece that pins the event type goes first when no single test does
    typed_leaf = bool(merged) and merged[0].types is not None
    first: list[_Node] = []
    rest: list[_Node] = []
    for node in others:
        (first if node.types is not None and not typed_leaf else rest).append(node)
    parts: list[Predicate] = [node.predicate() for node in first]
    if merged:
        parts.append(_leaves_predicate([node.leaf() for node in merged], conjunction))
    parts.extend(node.predicate() for node in rest)
    joiner = _all_of if conjunction else _any_of
    return _Node(types, cost, pred=joiner(parts))


def _merge_tests(tests: list[ValueTest], conjunction: bool) -> ValueTest:
    return _all_of(tests) if conjunction else _any_of(tests)


def _negate(node: _Node) -> _Node:
    if node.field is not None and node.test is not None:
        return _Node(None, node.cost, field=node.field, test=_none_of(node.test))
    return _Node(None, node.cost, pred=_none_of(node.predicate()))


def _compile_item(item: SigmaDetectionItem, selection: str) -> _Node:
    field = item.field
    if field is None:
        raise CompileError(
            f"selection {selection!r} is a keyword (field-less) detection, which is not "
            "supported: name the field, e.g. `description|contains: ...`"
        )
    for modifier in item.modifiers:
        if modifier not in _SUPPORTED_MODIFIERS:
            why = _UNSUPPORTED_MODIFIERS.get(modifier, "is not supported")
            name = _MODIFIER_NAMES.get(modifier, modifier.__name__)
            raise CompileError(f"selection {selection!r}, field {field!r}: modifier {name!r} {why}")
    if not fields.is_known_field(field):
        raise CompileError(
            f"selection {selection!r}: unknown field {field!r}{fields.suggest_field(field)}"
        )
    values = [_compile_value(field, value) for value in item.value]
    if not values:  # `field: []` -- pySigma reads it as null
        values = [_compile_value(field, SigmaNull())]
    conjunction = item.value_linking is ConditionAND
    leaves = [_Node(v.types, v.cost, field=field, test=v.test) for v in values]
    types = _and_types(leaves) if conjunction else _or_types(leaves)
    equals = [v.equals for v in values if v.equals is not None]
    if not conjunction and len(equals) > 1:
        # many plain values: one set lookup instead of a chain of comparisons
        rest = [v.test for v in values if v.equals is None]
        tests = [_equals_any(frozenset(equals)), *rest]
    else:
        tests = [v.test for v in values]
    cost = _field_cost(field, max(v.cost for v in values))
    return _Node(types, cost, field=field, test=_merge_tests(tests, conjunction))


def _compile_detection_body(
    detection: SigmaDetection | SigmaDetectionItem, selection: str
) -> _Node:
    if isinstance(detection, SigmaDetectionItem):
        return _compile_item(detection, selection)
    items = [_compile_detection_body(item, selection) for item in detection.detection_items]
    linking: Any = detection.item_linking  # pySigma annotates a class as an instance
    return _combine(items, linking is ConditionAND)


def _selector_names(pattern: str, names: Iterable[str]) -> list[str]:
    if pattern == "them":
        return [name for name in names if not name.startswith("_")]
    regex = re.compile(".*".join(re.escape(piece) for piece in pattern.split("*")))
    skip_private = not pattern.startswith("_")
    return [
        name
        for name in names
        if regex.fullmatch(name) and not (skip_private and name.startswith("_"))
    ]


def _compile_condition(
    tree: Any, detections: Mapping[str, SigmaDetection], cache: dict[str, _Node]
) -> _Node:
    def selection(name: str) -> _Node:
        if name not in cache:
            if name not in detections:
                raise CompileError(f"the condition names {name!r}, which is not a selection")
            cache[name] = _compile_detection_body(detections[name], name)
        return cache[name]

    if isinstance(tree, ConditionIdentifier):
        return selection(tree.identifier)
    if isinstance(tree, ConditionSelector):
        names = _selector_names(tree.pattern, detections)
        quantifier = tree.args[0]
        if not names:
            raise CompileError(f"`{quantifier} of {tree.pattern}` matches no selection")
        quantified: Any = tree.cond_class  # a class, annotated as an instance
        return _combine([selection(name) for name in names], quantified is ConditionAND)
    if isinstance(tree, ConditionNOT):
        return _negate(_compile_condition(tree.args[0], detections, cache))
    if isinstance(tree, ConditionAND | ConditionOR):
        children = [_compile_condition(arg, detections, cache) for arg in tree.args]
        return _combine(children, isinstance(tree, ConditionAND))
    raise CompileError(f"condition element {type(tree).__name__} is not supported")


def compile_predicate(rule: SigmaRule) -> tuple[Predicate, frozenset[str] | None]:
    """The predicate of a detection rule and the event types it can match (or ``None``)."""
    raw_detections = rule.detection.detections
    if "timeframe" in raw_detections:
        raise CompileError(
            "`timeframe` in a detection is Sigma v1 aggregation syntax; write a correlation "
            "rule (type event_count, timespan ...) that references this rule instead"
        )
    cache: dict[str, _Node] = {}
    roots: list[_Node] = []
    for condition in rule.detection.parsed_condition:
        text = condition.condition
        if not isinstance(text, str):
            raise CompileError(f"the condition must be text, not {type(text).__name__}")
        if "|" in text:
            raise CompileError(
                f"condition {text!r} uses a Sigma v1 aggregation (`| count() ...`); write a "
                "correlation rule that references this rule instead"
            )
        try:
            tree = condition.parse(postprocess=False)
        except SigmaError as exc:
            raise CompileError(f"condition {text!r}: {exc}") from None
        roots.append(_compile_condition(tree, raw_detections, cache))
    root = _combine(roots, conjunction=False)
    for name, detection in raw_detections.items():
        if name not in cache:  # unused by the condition: still checked, so typos surface
            _compile_detection_body(detection, name)
    return root.predicate(), root.types


def compile_detection(rule: SigmaRule, path: str, *, generate: bool = True) -> Detection:
    """A :class:`Detection` from a parsed rule (``CompileError`` for what is unsupported)."""
    meta = rule_meta(rule, path)
    match, types = compile_predicate(rule)
    return Detection(meta=meta, match=match, event_types=types, generate=generate)


# --- correlations --------------------------------------------------------------------------


def correlation_condition(raw: Any, kind: CorrelationType, n_rules: int) -> Condition | None:
    """The ``condition`` of a correlation, read from the rule text.

    Read here rather than taken from pySigma, which does not know ``neq`` and gives
    temporal rules a default condition; a condition on a temporal rule is refused (every
    referenced rule must occur, nothing else is implemented).
    """
    temporal = kind in (CorrelationType.TEMPORAL, CorrelationType.TEMPORAL_ORDERED)
    if raw is None:
        if temporal:
            return None
        raise CompileError(f"a {kind.value} correlation needs a condition, e.g. `gte: 10`")
    if not isinstance(raw, Mapping):
        raise CompileError("the correlation condition must be a map such as `gte: 10`")
    unknown = sorted(str(key) for key in raw if key not in _CONDITION_OPS and key != "field")
    if unknown:
        raise CompileError(
            f"correlation condition: unsupported item(s) {', '.join(unknown)} (operators: "
            f"{', '.join(_CONDITION_OPS)}; and `field` for value_count)"
        )
    ops = [key for key in raw if key in _CONDITION_OPS]
    if len(ops) != 1:
        raise CompileError("the correlation condition must have exactly one operator")
    op_name = ops[0]
    count = raw[op_name]
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise CompileError(
            f"correlation condition `{op_name}` needs a non-negative whole number, not {count!r}"
        )
    field = raw.get("field")
    if temporal:
        if field is None and _CONDITION_OPS[op_name] is Op.GTE and count == n_rules:
            return None  # the default, written out
        raise CompileError(
            f"a condition on a {kind.value} correlation is not supported (every referenced "
            "rule must occur); remove the condition"
        )
    if kind is CorrelationType.VALUE_COUNT:
        if not isinstance(field, str) or not field:
            raise CompileError(
                "a value_count correlation needs the field whose distinct values it counts: "
                "`condition: {gte: 10, field: user}`"
            )
    elif field is not None:
        raise CompileError(
            f"`field` in the condition only applies to value_count, not {kind.value}"
        )
    return Condition(op=_CONDITION_OPS[op_name], value=count, field=field)


def compile_correlation(
    rule: SigmaCorrelationRule,
    raw: Mapping[str, Any],
    path: str,
    resolve: Callable[[str], str],
) -> Correlation:
    """A :class:`Correlation` from a parsed correlation rule.

    ``raw`` is the rule's ``correlation`` section as written; ``resolve`` turns a reference
    (a rule's ``name`` or ``id``) into that rule's ``meta.id`` or raises ``CompileError``.
    """
    meta = rule_meta(rule, path)
    unknown = sorted(str(key) for key in raw if key not in CORRELATION_KEYS)
    if unknown:
        misspelt = "group_by" in unknown or "groupby" in unknown
        hint = " (it is spelled `group-by`)" if misspelt else ""
        raise CompileError(
            f"unknown key(s) in correlation: {', '.join(unknown)}{hint}; allowed: "
            f"{', '.join(sorted(CORRELATION_KEYS))}"
        )
    if not isinstance(rule.type, SigmaCorrelationType):
        raise CompileError(f"correlation type {rule.type!r} is not supported")
    kind = CorrelationType(str(rule.type))
    refs = [ref.reference for ref in rule.rules]
    if not refs:
        raise CompileError("the correlation references no rules")
    rule_ids: list[str] = []
    for ref in refs:
        if not isinstance(ref, str):
            raise CompileError(f"rule reference {ref!r} must be a name or an id")
        rule_id = resolve(ref)
        if rule_id in rule_ids:
            raise CompileError(f"the correlation references rule {ref!r} twice")
        if rule_id == meta.id:
            raise CompileError("the correlation references itself")
        rule_ids.append(rule_id)
    condition = correlation_condition(raw.get("condition"), kind, len(rule_ids))
    seconds = float(rule.timespan.seconds)
    if seconds <= 0:
        raise CompileError(f"timespan {rule.timespan.spec!r} must be longer than zero")

    aliases: dict[str, Mapping[str, str]] = {}
    for alias in rule.aliases:
        name = str(alias.alias)
        if fields.is_known_field(name):
            raise CompileError(f"alias {name!r} has the name of an event field; pick another")
        per_rule: dict[str, str] = {}
        for ref, field in alias.mapping.items():
            target = resolve(ref.reference)
            if target not in rule_ids:
                raise CompileError(
                    f"alias {name!r} maps rule {ref.reference!r}, which the correlation does "
                    "not reference"
                )
            if not isinstance(field, str) or not fields.is_known_field(field):
                raise CompileError(
                    f"alias {name!r}: unknown field {field!r} for rule {ref.reference!r}"
                    f"{fields.suggest_field(str(field))}"
                )
            per_rule[target] = field
        missing = [ref for ref, rid in zip(refs, rule_ids, strict=True) if rid not in per_rule]
        if missing:
            raise CompileError(
                f"alias {name!r} does not say which field rule(s) {', '.join(missing)} use"
            )
        aliases[name] = MappingProxyType(per_rule)

    group_by = tuple(str(item) for item in rule.group_by or ())
    for name in group_by:
        if name not in aliases and not fields.is_known_field(name):
            raise CompileError(
                f"group-by: unknown field or alias {name!r}{fields.suggest_field(name)}"
            )
    if len(set(group_by)) != len(group_by):
        raise CompileError("group-by names a field twice")
    cond_field = condition.field if condition is not None else None
    known = cond_field is None or cond_field in aliases or fields.is_known_field(cond_field)
    if not known:
        raise CompileError(
            f"condition field: unknown field or alias {cond_field!r}"
            f"{fields.suggest_field(str(cond_field))}"
        )
    return Correlation(
        meta=meta,
        type=kind,
        rules=tuple(rule_ids),
        group_by=group_by,
        timespan=seconds,
        condition=condition,
        aliases=MappingProxyType(aliases),
        generate=bool(rule.generate),
    )


def check_rule_keys(raw: Mapping[str, Any]) -> None:
    """Refuse keys that are not Sigma's at the top of a rule (see :data:`RULE_KEYS`)."""
    rule_id = raw.get("id")
    if rule_id is not None and not isinstance(rule_id, str):
        raise CompileError(f"id {rule_id!r} must be a UUID written as text")
    unknown = sorted(str(key) for key in raw if key not in RULE_KEYS)
    if not unknown:
        return
    hints = []
    if "generate" in unknown:
        hints.append("`generate` belongs in the `correlation` section")
    if "action" in unknown:
        hints.append("Sigma collection actions (global/repeat/reset) are not supported")
    if "filter" in unknown:
        hints.append("Sigma filters are not supported")
    hint = f" ({'; '.join(hints)})" if hints else ""
    raise CompileError(
        f"unknown top-level key(s) {', '.join(unknown)}{hint}; a rule may use "
        f"{', '.join(sorted(RULE_KEYS))}"
    )


def load_error(path: str, rule: str | None, exc: BaseException) -> RuleLoadError:
    """A :class:`RuleLoadError` from a pySigma or compile error."""
    text = str(exc).strip() or type(exc).__name__
    if not isinstance(exc, CompileError | RuleLoadError):
        text = f"{text} ({type(exc).__name__})"
    return RuleLoadError(path, rule, text)
