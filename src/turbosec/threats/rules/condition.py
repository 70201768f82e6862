"""Rule conditions: a small declarative grammar compiled into Python closures once, at load.

Grammar (YAML)::

    all: [COND, ...]          # every one holds
    any: [COND, ...]          # at least one holds
    not: COND                 # it does not hold
    {attr: NAME, OP: VALUE}   # a leaf: exactly one operator

Operators by attribute type (see :mod:`.attributes`):

* ``bool``: ``eq``, ``ne`` with ``true``/``false``;
* ``str``: ``eq``, ``ne`` (a string), ``in``, ``not_in`` (a list of strings), ``is_empty``;
* ``int``: ``eq``, ``ne``, ``in``, ``not_in``, ``gte``, ``gt``, ``lte``, ``lt`` (integers);
* ``classification``: as ``int`` but with classification names, compared by order
  (``public < internal < confidential < restricted < secret``);
* ``list``: ``contains`` (a string), ``contains_any`` (a list of strings), ``is_empty``.

Values of attributes with a closed vocabulary (kinds, protocols, properties, control kinds...)
are checked against it.  Nothing is ever evaluated as code.
"""

from __future__ import annotations

import difflib
import operator
from collections.abc import Callable, Mapping
from typing import Any

from turbosec.threats.model import Classification
from turbosec.threats.rules.attributes import Attribute, AttrType

__all__ = ["OPERATORS", "Condition", "ConditionError", "compile_condition"]

#: A compiled condition: a predicate over one element's attribute dictionary.
Condition = Callable[[Mapping[str, Any]], bool]

OPERATORS: tuple[str, ...] = (
    "eq",
    "ne",
    "in",
    "not_in",
    "gte",
    "gt",
    "lte",
    "lt",
    "contains",
    "contains_any",
    "is_empty",
)
_ALLOWED: Mapping[AttrType, frozenset[str]] = {
    AttrType.BOOL: frozenset({"eq", "ne"}),
    AttrType.STR: frozenset({"eq", "ne", "in", "not_in", "is_empty"}),
    AttrType.INT: frozenset({"eq", "ne", "in", "not_in", "gte", "gt", "lte", "lt"}),
    AttrType.CLASSIFICATION: frozenset({"eq", "ne", "in", "not_in", "gte", "gt", "lte", "lt"}),
    AttrType.LIST: frozenset({"contains", "contains_any", "is_empty"}),
}
_ORDER: Mapping[str, Callable[[Any, Any], bool]] = {
    "gte": operator.ge,
    "gt": operator.gt,
    "lte": operator.le,
    "lt": operator.lt,
}
_MAX_DEPTH = 32


class ConditionError(Exception):
    """A condition is malformed; ``line`` is where (0 when unknown)."""

    def __init__(self, message: str, line: int = 0, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.hint = hint


def _line(node: Any, default: int) -> int:
    line = getattr(node, "line", 0)
    return line if isinstance(line, int) and line > 0 else default


def close_matches(word: str, names: list[str] | tuple[str, ...] | frozenset[str]) -> str:
    """``"; did you mean x or y?"`` or an empty string."""
    found = difflib.get_close_matches(word, sorted(names), n=3, cutoff=0.6)
    if not found:
        return ""
    return "; did you mean " + " or ".join(found) + "?"


def compile_condition(
    node: Any, catalog: Mapping[str, Attribute], *, line: int = 0, depth: int = 0
) -> Condition:
    """Compile ``node`` (a parsed YAML condition) against the attribute ``catalog``.

    Raises :class:`ConditionError` naming the line of the offending mapping.
    """
    where = _line(node, line)
    if depth > _MAX_DEPTH:
        raise ConditionError(f"condition nested deeper than {_MAX_DEPTH} levels", where)
    if not isinstance(node, Mapping):
        raise ConditionError(
            f"a condition must be a mapping (all/any/not or attr + operator), got "
            f"{type(node).__name__}",
            where,
        )
    keys = set(node)
    combinators = keys & {"all", "any", "not"}
    if combinators:
        if len(keys) != 1:
            raise ConditionError(
                f"a condition with {sorted(combinators)[0]!r} must have no other key "
                f"(found {', '.join(sorted(map(str, keys)))})",
                where,
                hint="nest conditions inside all/any lists",
            )
        (key,) = keys
        if key == "not":
            inner = compile_condition(node["not"], catalog, line=where, depth=depth + 1)
            return lambda attrs: not inner(attrs)
        items = node[key]
        if not isinstance(items, list) or not items:
            raise ConditionError(f"'{key}' needs a non-empty list of conditions", where)
        parts = tuple(
            compile_condition(item, catalog, line=where, depth=depth + 1) for item in items
        )
        if len(parts) == 1:
            return parts[0]
        if key == "all":
            return lambda attrs: all(part(attrs) for part in parts)
        return lambda attrs: any(part(attrs) for part in parts)
    if "attr" not in keys:
        unknown = ", ".join(sorted(map(str, keys))) or "nothing"
        raise ConditionError(
            f"a condition needs all, any, not or attr; found {unknown}",
            where,
            hint="a leaf looks like {attr: flow.encrypted, eq: false}",
        )
    return _leaf(node, catalog, where)


def _leaf(node: Mapping[str, Any], catalog: Mapping[str, Attribute], where: int) -> Condition:
    name = node["attr"]
    if not isinstance(name, str):
        raise ConditionError("'attr' must be an attribute name (a string)", where)
    spec = catalog.get(name)
    if spec is None:
        prefix = "component." if next(iter(catalog)).startswith("component.") else "flow."
        raise ConditionError(
            f"unknown attribute {name!r}{close_matches(name, tuple(catalog))}",
            where,
            hint=f"attributes of this rule start with {prefix!r}: " + ", ".join(sorted(catalog)),
        )
    ops = [key for key in node if key != "attr"]
    if len(ops) != 1:
        found = ", ".join(map(str, ops)) or "none"
        raise ConditionError(
            f"condition on {name} needs exactly one operator (found {found})",
            where,
            hint="operators: " + ", ".join(OPERATORS),
        )
    op = ops[0]
    if op not in OPERATORS:
        raise ConditionError(
            f"unknown operator {op!r}{close_matches(str(op), OPERATORS)}",
            where,
            hint="operators: " + ", ".join(OPERATORS),
        )
    allowed = _ALLOWED[spec.type]
    if op not in allowed:
        raise ConditionError(
            f"operator {op!r} does not apply to {name} (a {spec.type.value})",
            where,
            hint=f"use one of {', '.join(sorted(allowed))}",
        )
    return _build(spec, op, node[op], where)


def _scalar(spec: Attribute, value: Any, op: str, where: int) -> Any:
    """Check one comparison value against the attribute's type; return it as compared."""
    kind = spec.type
    if kind is AttrType.BOOL:
        if not isinstance(value, bool):
            raise ConditionError(f"{spec.name} is true or false; {op} got {value!r}", where)
        return value
    if kind is AttrType.INT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConditionError(f"{spec.name} is a number; {op} got {value!r}", where)
        return value
    if kind is AttrType.CLASSIFICATION:
        if not isinstance(value, str):
            raise ConditionError(f"{spec.name} takes a classification name; got {value!r}", where)
        try:
            return Classification.parse(value)
        except ValueError as exc:
            raise ConditionError(f"{spec.name}: {exc}", where) from None
    # STR, and the elements of LIST
    if not isinstance(value, str):
        raise ConditionError(f"{spec.name} takes text; {op} got {value!r}", where)
    if spec.vocabulary is not None and value not in spec.vocabulary:
        raise ConditionError(
            f"{value!r} is not a possible value of {spec.name}"
            f"{close_matches(value, spec.vocabulary)}",
            where,
            hint="possible values: " + ", ".join(sorted(spec.vocabulary)),
        )
    return value


def _values(spec: Attribute, value: Any, op: str, where: int) -> tuple[Any, ...]:
    if not isinstance(value, list) or not value:
        raise ConditionError(f"{op} on {spec.name} needs a non-empty list; got {value!r}", where)
    return tuple(_scalar(spec, item, op, where) for item in value)


def _build(spec: Attribute, op: str, value: Any, where: int) -> Condition:
    key = spec.name
    if op == "is_empty":
        if not isinstance(value, bool):
            raise ConditionError(f"is_empty takes true or false; got {value!r}", where)
        wanted = value
        return lambda attrs: (not attrs[key]) is wanted
    if op == "contains":
        item = _scalar(spec, value, op, where)
        return lambda attrs: item in attrs[key]
    if op == "contains_any":
        items = frozenset(_values(spec, value, op, where))
        return lambda attrs: not items.isdisjoint(attrs[key])
    if op in ("in", "not_in"):
        choices = frozenset(_values(spec, value, op, where))
        if op == "in":
            return lambda attrs: attrs[key] in choices
        return lambda attrs: attrs[key] not in choices
    target = _scalar(spec, value, op, where)
    if op == "eq":
        return lambda attrs: attrs[key] == target
    if op == "ne":
        return lambda attrs: attrs[key] != target
    compare = _ORDER[op]
    return lambda attrs: compare(attrs[key], target)
