"""Reading Sigma YAML documents with pySigma and compiling them (see :mod:`.loader`).

Separate from :mod:`.loader` so that a rule set found in the cache
(:mod:`~turbosec.watch.rules.cache`) is loaded without importing the YAML parser or
pySigma.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaRuleNotFoundError
from sigma.rule import SigmaRule, SigmaRuleBase

from turbosec.watch.rules import sigma as compiler
from turbosec.watch.rules.model import (
    Correlation,
    CorrelationType,
    Detection,
    RuleLoadError,
    RuleSet,
)

__all__ = ["DetectionRecord", "compile_documents", "parse_text"]


class _RuleYamlLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate keys and aliases."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases (*name) are not allowed in rule files", event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: the base class reports it
                break
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _documents(text: str, display: str) -> Iterator[Mapping[str, Any]]:
    try:
        documents = list(yaml.load_all(text, Loader=_RuleYamlLoader))
    except yaml.YAMLError as exc:
        raise RuleLoadError(display, None, f"invalid YAML: {exc}") from None
    for number, document in enumerate(documents, start=1):
        if document is None:  # an empty document (a trailing ---)
            continue
        if not isinstance(document, dict):
            raise RuleLoadError(
                display,
                None,
                f"document {number} is a {type(document).__name__}, not a rule (a YAML map)",
            )
        yield document


def parse_text(text: str, display: str) -> list[_Parsed]:
    """Every rule of one file's text (``display`` names the file in errors)."""
    return [
        _parse(document, display, number)
        for number, document in enumerate(_documents(text, display), start=1)
    ]


# --- parsing -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Parsed:
    path: str
    label: str | None
    raw: Mapping[str, Any]
    rule: SigmaRuleBase
    rule_id: str = ""


def _parse(document: Mapping[str, Any], display: str, number: int) -> _Parsed:
    label = compiler.rule_label(document) or f"document {number}"
    try:
        compiler.check_rule_keys(document)
        given = dict(document)
        correlation = given.get("correlation")
        if correlation is not None:
            given["correlation"] = _for_pysigma(correlation)
        collection = SigmaCollection.from_dicts([given])
        (rule,) = collection.rules
    except Exception as exc:  # pySigma reports malformed rules with many exception types
        raise compiler.load_error(display, label, exc) from None
    if not isinstance(rule, SigmaRule | SigmaCorrelationRule):
        raise RuleLoadError(display, label, f"{type(rule).__name__} documents are not supported")
    return _Parsed(path=display, label=label, raw=document, rule=rule)


def _for_pysigma(correlation: Any) -> Any:
    """The ``correlation`` section as pySigma 0.11 accepts it.

    Its condition is read by :func:`compiler.correlation_condition` (which knows ``neq``
    and checks temporal rules); pySigma gets an equivalent that it can parse.
    """
    if not isinstance(correlation, Mapping):
        raise compiler.CompileError("`correlation` must be a map")
    kind = correlation.get("type")
    rules = correlation.get("rules")
    if isinstance(kind, str) and kind in {t.value for t in CorrelationType}:
        count = 1 if isinstance(rules, str) else len(rules) if isinstance(rules, list) else 0
        compiler.correlation_condition(correlation.get("condition"), CorrelationType(kind), count)
    condition = correlation.get("condition")
    if isinstance(condition, Mapping) and "neq" in condition:
        copy = dict(correlation)
        copy["condition"] = {("eq" if k == "neq" else k): v for k, v in condition.items()}
        return copy
    return correlation


# --- compiling -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DetectionRecord:
    """A compiled detection rule as the cache keeps it: its logic in plain form."""

    detection: Detection
    plain: Mapping[str, Any]


def compile_documents(
    parsed: Sequence[_Parsed],
) -> tuple[RuleSet, list[DetectionRecord]]:
    """Compile parsed rules together: the rule set, and each detection's plain form."""
    return _compile(parsed)


def _compile(parsed: Sequence[_Parsed]) -> tuple[RuleSet, list[DetectionRecord]]:
    by_id: dict[str, _Parsed] = {}
    by_name: dict[str, _Parsed] = {}
    for item in parsed:
        try:
            item.rule_id = compiler.rule_meta(item.rule, item.path).id
        except compiler.CompileError as exc:
            raise compiler.load_error(item.path, item.label, exc) from None
        other = by_id.get(item.rule_id)
        if other is not None:
            raise RuleLoadError(
                item.path, item.label, f"rule id {item.rule_id} is also used in {other.path}"
            )
        by_id[item.rule_id] = item
        name = item.rule.name
        if name:
            other = by_name.get(name)
            if other is not None:
                raise RuleLoadError(
                    item.path, item.label, f"rule name {name!r} is also used in {other.path}"
                )
            by_name[name] = item

    collection = SigmaCollection([item.rule for item in parsed])
    id_of = {id(item.rule): item.rule_id for item in parsed}

    def resolve(reference: str) -> str:
        if not isinstance(reference, str) or not reference:
            raise compiler.CompileError(f"rule reference {reference!r} must be a name or an id")
        try:
            target = collection[reference]
        except (SigmaRuleNotFoundError, KeyError, ValueError):
            raise compiler.CompileError(
                f"references unknown rule {reference!r} (no rule has that name or id)"
            ) from None
        return id_of[id(target)]

    correlations: list[Correlation] = []
    for item in parsed:
        if isinstance(item.rule, SigmaCorrelationRule):
            section = item.raw.get("correlation")
            assert isinstance(section, Mapping)
            try:
                correlations.append(
                    compiler.compile_correlation(item.rule, section, item.path, resolve)
                )
            except compiler.CompileError as exc:
                raise compiler.load_error(item.path, item.label, exc) from None

    silenced = {ref for c in correlations if not c.generate for ref in c.rules}
    records: list[DetectionRecord] = []
    for item in parsed:
        if isinstance(item.rule, SigmaRule):
            try:
                plain = compiler.plain_detection(item.rule)
                detection = compiler.detection_from_plain(
                    compiler.rule_meta(item.rule, item.path),
                    plain,
                    generate=item.rule_id not in silenced,
                )
            except (compiler.CompileError, ValueError) as exc:  # incl. pySigma's SigmaError
                raise compiler.load_error(item.path, item.label, exc) from None
            records.append(DetectionRecord(detection, plain))
    rules = RuleSet.build([record.detection for record in records], correlations)
    return rules, records
