"""The condition grammar: semantics of every operator and combinator."""

from __future__ import annotations

from typing import Any

import pytest

from turbosec.threats.model import Classification
from turbosec.threats.rules.attributes import COMPONENT_ATTRIBUTES
from turbosec.threats.rules.condition import ConditionError, compile_condition

ELEMENT: dict[str, Any] = {
    "component.kind": "process",
    "component.boundary": "",
    "component.technology": "django",
    "component.properties": ["internet_facing", "uses_sql"],
    "component.controls": [],
    "component.max_classification": Classification.CONFIDENTIAL,
    "component.inbound_count": 3,
    "component.internet_facing": True,
}


def holds(node: Any) -> bool:
    return compile_condition(node, COMPONENT_ATTRIBUTES)(ELEMENT)


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"attr": "component.kind", "eq": "process"}, True),
        ({"attr": "component.kind", "ne": "process"}, False),
        ({"attr": "component.kind", "in": ["queue", "process"]}, True),
        ({"attr": "component.kind", "not_in": ["queue", "process"]}, False),
        ({"attr": "component.internet_facing", "eq": True}, True),
        ({"attr": "component.internet_facing", "ne": True}, False),
        ({"attr": "component.max_classification", "gte": "confidential"}, True),
        ({"attr": "component.max_classification", "gt": "confidential"}, False),
        ({"attr": "component.max_classification", "lte": "internal"}, False),
        ({"attr": "component.max_classification", "lt": "secret"}, True),
        ({"attr": "component.max_classification", "eq": "confidential"}, True),
        ({"attr": "component.max_classification", "in": ["public", "internal"]}, False),
        ({"attr": "component.inbound_count", "gte": 3}, True),
        ({"attr": "component.inbound_count", "gt": 3}, False),
        ({"attr": "component.properties", "contains": "uses_sql"}, True),
        ({"attr": "component.properties", "contains": "renders_html"}, False),
        ({"attr": "component.properties", "contains_any": ["renders_html", "uses_sql"]}, True),
        ({"attr": "component.properties", "contains_any": ["renders_html"]}, False),
        ({"attr": "component.controls", "is_empty": True}, True),
        ({"attr": "component.properties", "is_empty": True}, False),
        ({"attr": "component.boundary", "is_empty": True}, True),
        ({"attr": "component.technology", "is_empty": False}, True),
        ({"not": {"attr": "component.kind", "eq": "process"}}, False),
        (
            {
                "all": [
                    {"attr": "component.kind", "eq": "process"},
                    {"attr": "component.internet_facing", "eq": True},
                ]
            },
            True,
        ),
        (
            {
                "all": [
                    {"attr": "component.kind", "eq": "process"},
                    {"attr": "component.internet_facing", "eq": False},
                ]
            },
            False,
        ),
        (
            {
                "any": [
                    {"attr": "component.kind", "eq": "queue"},
                    {"not": {"attr": "component.controls", "contains": "waf"}},
                ]
            },
            True,
        ),
        ({"any": [{"attr": "component.kind", "eq": "queue"}]}, False),
    ],
)
def test_operator_semantics(node: Any, expected: bool) -> None:
    assert holds(node) is expected


def test_nesting_is_bounded() -> None:
    node: Any = {"attr": "component.kind", "eq": "process"}
    for _ in range(40):
        node = {"not": node}
    with pytest.raises(ConditionError, match="nested deeper"):
        compile_condition(node, COMPONENT_ATTRIBUTES)


def test_unknown_attribute_lists_valid_names() -> None:
    with pytest.raises(ConditionError) as caught:
        compile_condition({"attr": "component.kinds", "eq": "process"}, COMPONENT_ATTRIBUTES)
    assert "did you mean component.kind" in caught.value.message
    assert caught.value.hint is not None and "component.max_classification" in caught.value.hint
