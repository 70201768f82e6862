"""Compiled Sigma detection logic, without pySigma: the matcher behind every detection rule.

:mod:`~turbosec.watch.rules.sigma` reads a rule with pySigma, checks it, and writes its
detection logic in a *plain form* -- lists, maps, text and numbers, nothing else -- that
this module compiles into a predicate over
:class:`~turbosec.core.event.SecurityEvent` (see ``sigma`` for what a rule means).  The
plain form is what the rule cache (:mod:`~turbosec.watch.rules.cache`) stores, so a
cached rule set is compiled again without importing pySigma or a YAML parser.

Plain form
----------
A rule: ``{"conditions": [COND, ...], "selections": {NAME: BODY, ...}}``.

* ``COND``: ``["id", NAME]``, ``["of", [NAME, ...], ALL]`` (``1 of``/``all of``, the
  names already matched), ``["not", COND]``, ``["and", [COND, ...]]``,
  ``["or", [COND, ...]]``.
* ``BODY``: ``{"and": BOOL, "items": [BODY or ITEM, ...]}``; ``ITEM``:
  ``{"field": NAME, "and": BOOL, "values": [VALUE, ...]}`` (``and``: ``|all``).
* ``VALUE``: ``["null"]``, ``["exists", BOOL]``, ``["bool", BOOL]``, ``["number", TEXT]``,
  ``["compare", "gt"|"gte"|"lt"|"lte", NUMBER]``, ``["re", PATTERN, FLAGS]`` (flags:
  ``i``, ``m``, ``s``), ``["cidr", NETWORK]``, ``["string", CASED, PARTS]`` (parts: text,
  or ``["*"]``/``["?"]`` for the wildcards).

A plain form that does not follow this raises :class:`CompileError`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from turbosec.core.event import SecurityEvent
from turbosec.core.severity import Severity
from turbosec.watch.rules import fields
from turbosec.watch.rules.model import Detection, Predicate, RuleMeta

#: Severity of a rule without a Sigma ``level``: the middle of the scale, so that a rule
#: someone forgot to grade is neither buried nor paged on.
DEFAULT_SEVERITY = Severity.MEDIUM

#: Most entries a single-field memo keeps, and the longest value it keeps.
MEMO_LIMIT = 2048
MEMO_KEY_LIMIT = 256
#: Fields with few distinct values: tests on them go first in ``and``/``or``.
_CHEAP_FIELDS = frozenset(
    {"event_type", "event", "level", "status", "request_method", "appid", "hostname"}
)

ValueTest = Callable[[str | None], bool]
T = TypeVar("T")
#: A condition evaluated on the values of *some* fields (``{"event_type": ..., ...}``):
#: ``False`` when no event with those values can match, ``True`` when every one does,
#: ``None`` when it depends on the other fields.
Partial = Callable[[Mapping[str, "str | None"]], "bool | None"]


class CompileError(Exception):
    """A construct the matcher does not support (turned into a :class:`RuleLoadError`)."""


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

#: The wildcards ``*`` and ``?`` among the parts of a string value.
_MULTI = object()
_SINGLE = object()
_REGEX_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}


@dataclass(frozen=True, slots=True)
class _Value:
    """One compiled value of a detection item: its test and the event types it allows."""

    test: ValueTest
    types: frozenset[str] | None  # only for event_type / event; None = any
    equals: str | None = None  # plain case-insensitive equality with this (lower-case) text
    cost: int = 1  # rough: 1 a comparison ... 6 parsing an address


def _wildcard_test(parts: tuple[Any, ...], cased: bool) -> ValueTest:
    """A test for a string value with wildcards (``parts``: text, :data:`_MULTI`,
    :data:`_SINGLE`)."""
    if not cased:
        parts = tuple(p.lower() if isinstance(p, str) else p for p in parts)
    multi, single = _MULTI, _SINGLE
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
            raise CompileError(f"unknown part {part!r} in a value")
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


def _number_test(op: str, number: float) -> ValueTest:
    compare: Callable[[float], bool]
    if op == "gt":
        compare = number.__lt__
    elif op == "gte":
        compare = number.__le__
    elif op == "lt":
        compare = number.__gt__
    elif op == "lte":
        compare = number.__ge__
    else:
        raise CompileError(f"unknown comparison {op!r}")

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


def _regex_test(pattern: str, flag_letters: str) -> ValueTest:
    flags = 0
    for letter in flag_letters:
        flags |= _REGEX_FLAGS[letter]
    try:
        search = re.compile(pattern, flags).search
    except re.error as exc:
        raise CompileError(f"invalid regular expression {pattern!r}: {exc}") from None

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
    """Compile one value (plain form) for ``field``."""
    typed = field in ("event_type", "event")
    kind = value[0]
    if kind == "null":
        # event_type and event always have a value: a null test never holds for them
        return _Value(_absent, frozenset() if typed else None)
    if kind == "exists":
        if value[1]:
            return _Value(_present, None)
        return _Value(_absent, frozenset() if typed else None)
    if kind == "bool":
        text = "true" if value[1] else "false"
        return _Value(_equals_any(frozenset({text})), _type_of_text(field, text), text)
    if kind == "number":
        text = str(value[1])
        return _Value(_equals_any(frozenset({text})), _type_of_text(field, text), text)
    if kind == "compare":
        return _Value(_number_test(str(value[1]), float(value[2])), None, cost=3)
    if kind == "re":
        return _Value(_regex_test(str(value[1]), str(value[2])), None, cost=4)
    if kind == "cidr":
        return _Value(_cidr_test(ipaddress.ip_network(str(value[1]))), None, cost=6)
    if kind == "string":
        cased = bool(value[1])
        parts = tuple(_part(part) for part in value[2])
        if all(isinstance(p, str) for p in parts):
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
    raise CompileError(f"value {value!r} is not supported")


def _part(part: Any) -> Any:
    if isinstance(part, str):
        return part
    if part == ["*"]:
        return _MULTI
    if part == ["?"]:
        return _SINGLE
    raise CompileError(f"unknown part {part!r} in a value")


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
    partial: Partial | None = None

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

    def partial_fn(self) -> Partial:
        """The piece evaluated on some fields only (see :func:`_partial_leaf`)."""
        if self.partial is None:
            assert self.field is not None
            assert self.test is not None
            self.partial = _partial_leaf(self.field, self.test)
        return self.partial


def _partial_leaf(field: str, test: ValueTest) -> Partial:
    """A test on one field, given the values of some fields: ``None`` when ``field`` is not
    among them (the result depends on the event)."""

    def partial(known: Mapping[str, str | None]) -> bool | None:
        if field not in known:
            return None
        return bool(test(known[field]))

    return partial


def _partial_all(parts: Sequence[Partial]) -> Partial:
    """Kleene ``and``: false when one piece is false, true when all are, else unknown."""

    def partial(known: Mapping[str, str | None]) -> bool | None:
        result: bool | None = True
        for part in parts:
            value = part(known)
            if value is False:
                return False
            if value is None:
                result = None
        return result

    return partial


def _partial_any(parts: Sequence[Partial]) -> Partial:
    """Kleene ``or``: true when one piece is true, false when all are, else unknown."""

    def partial(known: Mapping[str, str | None]) -> bool | None:
        result: bool | None = False
        for part in parts:
            value = part(known)
            if value is True:
                return True
            if value is None:
                result = None
        return result

    return partial


def _partial_not(part: Partial) -> Partial:
    def partial(known: Mapping[str, str | None]) -> bool | None:
        value = part(known)
        return None if value is None else not value

    return partial


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
    partial = (_partial_all if conjunction else _partial_any)([n.partial_fn() for n in nodes])
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
        return _Node(types, cost, field=only.field, test=only.test, partial=partial)
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
    return _Node(types, cost, pred=joiner(parts), partial=partial)


def _merge_tests(tests: list[ValueTest], conjunction: bool) -> ValueTest:
    return _all_of(tests) if conjunction else _any_of(tests)


def _negate(node: _Node) -> _Node:
    partial = _partial_not(node.partial_fn())
    if node.field is not None and node.test is not None:
        return _Node(None, node.cost, field=node.field, test=_none_of(node.test), partial=partial)
    return _Node(None, node.cost, pred=_none_of(node.predicate()), partial=partial)


def _compile_item(item: Mapping[str, Any]) -> _Node:
    field = str(item["field"])
    values = [_compile_value(field, value) for value in item["values"]]
    if not values:  # `field: []` reads as null
        values = [_compile_value(field, ["null"])]
    conjunction = bool(item["and"])
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


def _compile_body(body: Mapping[str, Any]) -> _Node:
    if "field" in body:
        return _compile_item(body)
    items = [_compile_body(item) for item in body["items"]]
    return _combine(items, bool(body["and"]))


def _compile_tree(tree: Any, selection: Callable[[str], _Node]) -> _Node:
    kind = tree[0]
    if kind == "id":
        return selection(str(tree[1]))
    if kind == "of":
        return _combine([selection(str(name)) for name in tree[1]], bool(tree[2]))
    if kind == "not":
        return _negate(_compile_tree(tree[1], selection))
    if kind in ("and", "or"):
        return _combine([_compile_tree(arg, selection) for arg in tree[1]], kind == "and")
    raise CompileError(f"condition element {kind!r} is not supported")


def compile_plain(plain: Mapping[str, Any]) -> tuple[Predicate, frozenset[str] | None, Partial]:
    """The predicate of a rule's detection logic (plain form), the event types it can
    match (``None``: any) and its :data:`Partial` form."""
    try:
        selections: Mapping[str, Any] = plain["selections"]
        cache: dict[str, _Node] = {}

        def selection(name: str) -> _Node:
            if name not in cache:
                if name not in selections:
                    raise CompileError(f"the condition names {name!r}, which is not a selection")
                cache[name] = _compile_body(selections[name])
            return cache[name]

        roots = [_compile_tree(tree, selection) for tree in plain["conditions"]]
        for name in selections:  # unused by the condition: still checked, so typos surface
            selection(name)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise CompileError(f"malformed compiled rule: {exc!r}") from None
    root = _combine(roots, conjunction=False)
    return root.predicate(), root.types, root.partial_fn()


def detection_from_plain(
    meta: RuleMeta, plain: Mapping[str, Any], *, generate: bool = True
) -> Detection:
    """A :class:`~turbosec.watch.rules.model.Detection` from its metadata and its logic in
    plain form."""
    match, types, partial = compile_plain(plain)
    return Detection(
        meta=meta, match=match, event_types=types, generate=generate, could_match=partial
    )
