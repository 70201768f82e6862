"""Dispatch: the event types a detection can match, and that the sets never leave one out."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sigma.collection import SigmaCollection
from sigma.rule import SigmaRule

from tests.watch.rules import T0, compile_yaml, event, rule_doc
from turbosec.core.event import SecurityEvent
from turbosec.watch.rules import RuleSet, event_type_key
from turbosec.watch.rules.sigma import compile_detection


@pytest.mark.parametrize(
    ("detection", "types"),
    [
        ("{s: {event_type: authn_login_fail}, condition: s}", {"authn_login_fail"}),
        ("{s: {event_type: [a, b]}, condition: s}", {"a", "b"}),
        ("{s: {event_type: AUTHN_Login_Fail}, condition: s}", {"authn_login_fail"}),
        ("{s: {event_type|cased: Odd}, condition: s}", {"odd"}),
        ("{s: {event|startswith: 'authn_login_fail:'}, condition: s}", {"authn_login_fail"}),
        ("{s: {event: 'authn_login_fail:joe'}, condition: s}", {"authn_login_fail"}),
        ("{s: {event: authz_fail}, condition: s}", {"authz_fail"}),
        ("{s: {event|startswith: 'a:b'}, condition: s}", {"a"}),
        ("{s: {event: 'a:*:c'}, condition: s}", {"a"}),
        ("{s: {event_type: a, user: joe}, condition: s}", {"a"}),
        ("{s: {event_type: [a, b]}, t: {event_type: [b, c]}, condition: s and t}", {"b"}),
        ("{s: {event_type: a}, t: {event_type: b}, condition: s and t}", set()),
        ("{s: {event_type: a}, t: {event_type: b}, condition: s or t}", {"a", "b"}),
        ("{s: {event_type: a}, t: {event_type: b}, condition: 1 of them}", {"a", "b"}),
        ("{s: {event_type: a}, t: {user: x}, condition: s and not t}", {"a"}),
        ("{s: {event_type|all: [a, b]}, condition: s}", set()),
        ("{s: {event_type: null}, condition: s}", set()),
        ("{s: {event_type: 401}, condition: s}", {"401"}),
        # None: the rule can match events of any type
        ("{s: {user: joe}, condition: s}", None),
        ("{s: {event_type: a}, t: {user: x}, condition: s or t}", None),
        ("{s: {event_type: a}, condition: not s}", None),
        ("{s: {event|startswith: 'authn_'}, condition: s}", None),
        ("{s: {event_type|startswith: 'authn_'}, condition: s}", None),
        ("{s: {event_type|contains: login}, condition: s}", None),
        ("{s: {event_type|re: '^authn'}, condition: s}", None),
        ("{s: {event|endswith: ':joe'}, condition: s}", None),
        ("{s: {event: '?uthn:x'}, condition: s}", None),
        ("{s: {event_type|exists: true}, condition: s}", None),
    ],
)
def test_event_types(detection: str, types: set[str] | None) -> None:
    compiled = compile_yaml(detection)
    assert compiled.event_types == (None if types is None else frozenset(types))


def test_candidates_normalise_the_event_name() -> None:
    typed = compile_yaml("{s: {event_type: authn_login_fail}, condition: s}")
    untyped = compile_yaml("{s: {user: joe}, condition: s}", name="other")
    rules = RuleSet.build([typed], ())
    for name in (
        "authn_login_fail",
        "AUTHN_LOGIN_FAIL",
        "authn_login_fail:joe",
        "Authn_Login_Fail",
    ):
        assert rules.candidates(name) == (typed,), name
        assert typed.match(event(name.split(":")[0]))
    assert rules.candidates("authz_fail") == ()
    both = RuleSet.build([typed, untyped], ())
    assert both.candidates("authz_fail") == (untyped,)
    assert both.candidates("authn_login_fail") == (typed, untyped)


def test_event_type_key() -> None:
    assert event_type_key("authn_login_fail") == "authn_login_fail"
    assert event_type_key("AUTHN_Login:joe") == "authn_login"
    assert event_type_key("sshd_probe") == "sshd_probe"
    assert event_type_key("") == ""
    assert event_type_key("404") == "404"


# --- soundness: never exclude an event the predicate matches --------------------------------

_NAMES = ["a", "A", "ab", "b", "B", "a_b", "c", "İa", "a:x", "A:X", "b:x:y"]
_ARGS: list[tuple[str, ...]] = [(), ("x",), ("X", "y"), ("",)]
_USERS = [None, "x", "X"]
_EVENTS = [
    SecurityEvent(time=T0, event=name, args=args, user=user)
    for name, args, user in itertools.product(_NAMES, _ARGS, _USERS)
]

_VALUES = ["a", "A", "ab", "b", "a_b", "i̇a", "a:x", "a:*", "*:x", "a*", "?:x", "*", "a:x,y", ""]
_STRING_MODIFIERS = ["", "|contains", "|startswith", "|endswith", "|cased", "|contains|cased"]


@st.composite
def _items(draw: st.DrawFn) -> tuple[str, Any]:
    field = draw(st.sampled_from(["event_type", "event", "user"]))
    kind = draw(st.sampled_from(["string", "list", "all", "re", "exists", "null"]))
    if kind == "re":
        return f"{field}|re", draw(st.sampled_from(["^a", "a$", "x", "^A:", "b|c"]))
    if kind == "exists":
        return f"{field}|exists", draw(st.booleans())
    if kind == "null":
        return field, None
    modifier = draw(st.sampled_from(_STRING_MODIFIERS))
    if kind == "string":
        return f"{field}{modifier}", draw(st.sampled_from(_VALUES))
    values = draw(st.lists(st.sampled_from(_VALUES), min_size=1, max_size=3))
    return f"{field}{modifier}{'|all' if kind == 'all' else ''}", values


@st.composite
def _selections(draw: st.DrawFn) -> Any:
    def one_map() -> dict[str, Any]:
        items = draw(st.lists(_items(), min_size=1, max_size=3))
        return dict(items)

    if draw(st.booleans()):
        return one_map()
    return [one_map() for _ in range(draw(st.integers(1, 2)))]


def _conditions(names: list[str]) -> st.SearchStrategy[str]:
    leaves = st.sampled_from([*names, "1 of them", "all of them", "1 of s*", "all of s*"])
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.builds(lambda x: f"not ({x})", inner),
            st.builds(lambda x, y: f"({x}) and ({y})", inner, inner),
            st.builds(lambda x, y: f"({x}) or ({y})", inner, inner),
        ),
        max_leaves=5,
    )


@st.composite
def _rules(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(1, 3))
    names = [f"s{i}" for i in range(count)]
    detection: dict[str, Any] = {name: draw(_selections()) for name in names}
    detection["condition"] = draw(_conditions(names))
    return rule_doc(detection)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_rules())
def test_event_types_are_sound(doc: dict[str, Any]) -> None:
    (rule,) = SigmaCollection.from_dicts([doc]).rules
    assert isinstance(rule, SigmaRule)
    compiled = compile_detection(rule, "<hypothesis>")
    rules = RuleSet.build([compiled], ())
    for item in _EVENTS:
        if not compiled.match(item):
            continue
        if compiled.event_types is not None:
            assert event_type_key(item.event) in compiled.event_types, (doc, item)
        assert compiled in rules.candidates(item.event), (doc, item)


def test_soundness_examples_exercise_sets() -> None:
    # the generator above reaches rules with finite sets that match: the property has teeth
    compiled = compile_yaml("{s0: {event|startswith: 'a:'}, condition: s0}")
    assert compiled.event_types == frozenset({"a"})
    matched = [e for e in _EVENTS if compiled.match(e)]
    assert {e.event for e in matched} == {"a", "A", "a:x", "A:X"}


# --- partial conditions: what a parser may leave out -----------------------------------------


def _known_of(item: SecurityEvent, names: Sequence[str]) -> dict[str, str | None]:
    values = {"event_type": item.event.split(":", 1)[0], "user": item.user}
    return {name: values[name] for name in names}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_rules(), st.sampled_from([("event_type",), ("user",), ("event_type", "user")]))
def test_partial_conditions_are_sound(doc: dict[str, Any], names: tuple[str, ...]) -> None:
    (rule,) = SigmaCollection.from_dicts([doc]).rules
    assert isinstance(rule, SigmaRule)
    compiled = compile_detection(rule, "<hypothesis>")
    assert compiled.could_match is not None
    rules = RuleSet.build([compiled], ())
    for item in _EVENTS:
        verdict = compiled.could_match(_known_of(item, names))
        # false: no event with these values matches; true: every one does
        if verdict is not None:
            assert compiled.match(item) == verdict, (doc, item, names)
        if compiled.match(item):
            assert rules.could_use(_known_of(item, names)), (doc, item, names)


def test_partial_conditions_decide_what_they_can() -> None:
    rule = compile_yaml(
        "{s: {event_type: authn_login_fail}, pam: {extra.sshd_msg: pam_auth_failure},"
        " ip: {source_ip: null}, condition: s and not pam and not ip}"
    )
    assert rule.could_match is not None
    fail = {"event_type": "authn_login_fail"}
    assert rule.could_match(fail) is None  # the other fields decide
    assert rule.could_match({**fail, "extra.sshd_msg": "pam_auth_failure"}) is False
    assert rule.could_match({**fail, "extra.sshd_msg": "failed"}) is None
    assert rule.could_match({**fail, "extra.sshd_msg": "failed", "source_ip": "x"}) is True
    assert rule.could_match({"event_type": "authn_login_success"}) is False
    rules = RuleSet.build([rule], ())
    assert rules.could_use({**fail, "extra.sshd_msg": "failed"})
    assert not rules.could_use({**fail, "extra.sshd_msg": "pam_auth_failure"})
    assert not rules.could_use({"event_type": "sshd_probe"})
    # a rule that reads every event keeps everything
    anything = compile_yaml("{s: {user: joe}, condition: s}", name="other")
    both = RuleSet.build([rule, anything], ())
    assert both.could_use({"event_type": "sshd_probe"})
