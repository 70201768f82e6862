"""Sigma rules (as pySigma 0.11 reads them) compiled into :mod:`~turbosec.watch.rules.model`.

pySigma parses and validates Sigma YAML into typed objects but has no matcher: it converts
rules into queries for other systems.  This module and :mod:`.matcher` are the matcher.  A
detection rule's logic is checked here and written in the plain form of :mod:`.matcher`
(:func:`plain_detection`), which compiles it into one closure over a
:class:`~turbosec.core.event.SecurityEvent`; a correlation rule becomes a
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

import re
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

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

from turbosec.core.severity import Severity
from turbosec.watch.rules import fields
from turbosec.watch.rules.matcher import (
    DEFAULT_SEVERITY,
    CompileError,
    Partial,
    compile_plain,
    detection_from_plain,
)
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
    "compile_condition",
    "compile_correlation",
    "compile_detection",
    "compile_predicate",
    "correlation_condition",
    "detection_from_plain",
    "load_error",
    "plain_detection",
    "rule_label",
    "rule_meta",
]

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


def _plain_value(value: Any) -> list[Any]:
    """One (modified) pySigma value in the plain form of :mod:`.matcher`."""
    if isinstance(value, SigmaNull):
        return ["null"]
    if isinstance(value, SigmaExists):
        return ["exists", bool(value.exists)]
    if isinstance(value, SigmaBool):
        return ["bool", bool(value.boolean)]
    if isinstance(value, SigmaNumber):
        return ["number", str(value.number)]
    if isinstance(value, SigmaCompareExpression):
        ops = SigmaCompareExpression.CompareOperators
        op = {ops.GT: "gt", ops.GTE: "gte", ops.LT: "lt", ops.LTE: "lte"}[value.op]
        return ["compare", op, float(value.number.number)]
    if isinstance(value, SigmaRegularExpression):
        letters = {
            SigmaRegularExpressionFlag.IGNORECASE: "i",
            SigmaRegularExpressionFlag.MULTILINE: "m",
            SigmaRegularExpressionFlag.DOTALL: "s",
        }
        return ["re", value.regexp, "".join(sorted(letters[flag] for flag in value.flags))]
    if isinstance(value, SigmaCIDRExpression):
        return ["cidr", str(value.network)]
    if isinstance(value, SigmaString):
        parts: list[Any] = []
        for part in value.s:
            if isinstance(part, str):
                parts.append(part)
            elif part is SpecialChars.WILDCARD_MULTI:
                parts.append(["*"])
            elif part is SpecialChars.WILDCARD_SINGLE:
                parts.append(["?"])
            else:
                raise CompileError(f"placeholder {part!r} in a value (the expand modifier)")
        return ["string", isinstance(value, SigmaCasedString), parts]
    raise CompileError(f"value {value!r} of type {type(value).__name__} is not supported")


def _plain_item(item: SigmaDetectionItem, selection: str) -> dict[str, Any]:
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
    return {
        "field": field,
        "and": item.value_linking is ConditionAND,
        "values": [_plain_value(value) for value in item.value],
    }


def _plain_body(detection: SigmaDetection | SigmaDetectionItem, selection: str) -> dict[str, Any]:
    if isinstance(detection, SigmaDetectionItem):
        return _plain_item(detection, selection)
    items = [_plain_body(item, selection) for item in detection.detection_items]
    if not items:
        raise CompileError("an empty and/or (a selector that matches no selection?)")
    linking: Any = detection.item_linking  # pySigma annotates a class as an instance
    return {"and": linking is ConditionAND, "items": items}


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


def _plain_tree(
    tree: Any, detections: Mapping[str, SigmaDetection], selections: dict[str, Any]
) -> list[Any]:
    def selection(name: str) -> str:
        if name not in selections:
            if name not in detections:
                raise CompileError(f"the condition names {name!r}, which is not a selection")
            selections[name] = _plain_body(detections[name], name)
        return name

    if isinstance(tree, ConditionIdentifier):
        return ["id", selection(tree.identifier)]
    if isinstance(tree, ConditionSelector):
        names = _selector_names(tree.pattern, detections)
        quantifier = tree.args[0]
        if not names:
            raise CompileError(f"`{quantifier} of {tree.pattern}` matches no selection")
        quantified: Any = tree.cond_class  # a class, annotated as an instance
        return ["of", [selection(name) for name in names], quantified is ConditionAND]
    if isinstance(tree, ConditionNOT):
        return ["not", _plain_tree(tree.args[0], detections, selections)]
    if isinstance(tree, ConditionAND | ConditionOR):
        children = [_plain_tree(arg, detections, selections) for arg in tree.args]
        return ["and" if isinstance(tree, ConditionAND) else "or", children]
    raise CompileError(f"condition element {type(tree).__name__} is not supported")


def plain_detection(rule: SigmaRule) -> dict[str, Any]:
    """The detection logic of a rule in the plain form :func:`.matcher.compile_plain`
    compiles (``CompileError`` for what is not supported)."""
    raw_detections = rule.detection.detections
    if "timeframe" in raw_detections:
        raise CompileError(
            "`timeframe` in a detection is Sigma v1 aggregation syntax; write a correlation "
            "rule (type event_count, timespan ...) that references this rule instead"
        )
    selections: dict[str, Any] = {}
    conditions: list[Any] = []
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
        conditions.append(_plain_tree(tree, raw_detections, selections))
    for name, detection in raw_detections.items():
        if name not in selections:  # unused by the condition: still checked
            selections[name] = _plain_body(detection, name)
    return {"conditions": conditions, "selections": selections}


def compile_predicate(rule: SigmaRule) -> tuple[Predicate, frozenset[str] | None]:
    """The predicate of a detection rule and the event types it can match (or ``None``)."""
    match, types, _ = compile_condition(rule)
    return match, types


def compile_condition(rule: SigmaRule) -> tuple[Predicate, frozenset[str] | None, Partial]:
    """:func:`compile_predicate`, and the condition as a :data:`Partial` (what a parser can
    ask before building an event: could a rule match an event with these field values?)."""
    return compile_plain(plain_detection(rule))


def compile_detection(rule: SigmaRule, path: str, *, generate: bool = True) -> Detection:
    """A :class:`Detection` from a parsed rule (``CompileError`` for what is unsupported)."""
    return detection_from_plain(rule_meta(rule, path), plain_detection(rule), generate=generate)


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
        kind = "a number" if isinstance(rule_id, int | float) else f"a {type(rule_id).__name__}"
        raise CompileError(
            f"id {rule_id!r} must be a UUID written as text, not {kind}: write the rule's "
            f"UUID, or quote the value (id: '{rule_id}'); a rule can also be referred to by "
            "its `name`"
        )
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
