"""Correlation rules: what they compile to, generate flags, and what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.watch.rules import load_text
from turbosec.watch.rules import Condition, CorrelationType, Op, RuleLoadError

BASE = """\
title: Failed login
name: fail
logsource: {product: turbosec}
detection: {sel: {event_type: authn_login_fail}, condition: sel}
---
title: Successful login
name: success
logsource: {product: turbosec}
detection: {sel: {event_type: authn_login_success}, condition: sel}
---
title: Unrelated
name: other
logsource: {product: turbosec}
detection: {sel: {event_type: authz_fail}, condition: sel}
"""


def _correlation(body: str, name: str = "corr", extra: str = "") -> str:
    return f"---\ntitle: Correlation {name}\nname: {name}\n{extra}correlation:\n{body}"


def test_event_count(tmp_path: Path) -> None:
    rules = load_text(
        tmp_path,
        BASE
        + _correlation(
            "  type: event_count\n  rules: fail\n  group-by: [source_ip, user]\n"
            "  timespan: 10m\n  condition: {gte: 10}\n",
            extra="level: high\ntags: [attack.t1110]\n",
        ),
    )
    (corr,) = rules.correlations
    assert corr.type is CorrelationType.EVENT_COUNT
    assert corr.rules == ("fail",)
    assert corr.group_by == ("source_ip", "user")
    assert corr.timespan == 600.0
    assert corr.condition == Condition(Op.GTE, 10)
    assert corr.generate is False
    assert corr.meta.tags == ("attack.t1110",)
    assert rules.referenced["fail"] == (corr,)
    generate = {d.meta.id: d.generate for d in rules.detections}
    assert generate == {"fail": False, "success": True, "other": True}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("{gt: 3}", Condition(Op.GT, 3)),
        ("{gte: 0}", Condition(Op.GTE, 0)),
        ("{lt: 3}", Condition(Op.LT, 3)),
        ("{lte: 3}", Condition(Op.LTE, 3)),
        ("{eq: 3}", Condition(Op.EQ, 3)),
        ("{neq: 3}", Condition(Op.NEQ, 3)),
    ],
)
def test_condition_operators(tmp_path: Path, condition: str, expected: Condition) -> None:
    body = f"  type: event_count\n  rules: [fail]\n  timespan: 30s\n  condition: {condition}\n"
    (corr,) = load_text(tmp_path, BASE + _correlation(body)).correlations
    assert corr.condition == expected
    assert corr.timespan == 30.0
    assert corr.group_by == ()


@pytest.mark.parametrize(
    ("span", "seconds"), [("45s", 45), ("2m", 120), ("1h", 3600), ("1d", 86400)]
)
def test_timespans(tmp_path: Path, span: str, seconds: float) -> None:
    body = f"  type: event_count\n  rules: [fail]\n  timespan: {span}\n  condition: {{gte: 2}}\n"
    assert load_text(tmp_path, BASE + _correlation(body)).correlations[0].timespan == seconds


def test_value_count(tmp_path: Path) -> None:
    body = (
        "  type: value_count\n  rules: [fail]\n  group-by: source_ip\n  timespan: 1h\n"
        "  condition: {gte: 20, field: user}\n"
    )
    (corr,) = load_text(tmp_path, BASE + _correlation(body)).correlations
    assert corr.type is CorrelationType.VALUE_COUNT
    assert corr.condition == Condition(Op.GTE, 20, "user")
    assert corr.group_by == ("source_ip",)


@pytest.mark.parametrize("kind", ["temporal", "temporal_ordered"])
def test_temporal(tmp_path: Path, kind: str) -> None:
    body = f"  type: {kind}\n  rules: [success, fail]\n  group-by: [user]\n  timespan: 5m\n"
    (corr,) = load_text(tmp_path, BASE + _correlation(body)).correlations
    assert corr.type is CorrelationType(kind)
    assert corr.rules == ("success", "fail")  # in the order written
    assert corr.condition is None
    # the default condition written out is accepted
    body += "  condition: {gte: 2}\n"
    (corr,) = load_text(tmp_path, BASE + _correlation(body)).correlations
    assert corr.condition is None


def test_aliases(tmp_path: Path) -> None:
    body = (
        "  type: temporal_ordered\n  rules: [fail, success]\n  group-by: [who, source_ip]\n"
        "  timespan: 5m\n  aliases:\n    who:\n      fail: user\n      success: extra.account\n"
    )
    (corr,) = load_text(tmp_path, BASE + _correlation(body)).correlations
    assert corr.group_by == ("who", "source_ip")
    assert dict(corr.aliases["who"]) == {"fail": "user", "success": "extra.account"}


def test_generate(tmp_path: Path) -> None:
    loud = _correlation(
        "  type: event_count\n  rules: [fail]\n  timespan: 5m\n  condition: {gte: 5}\n"
        "  generate: true\n",
        name="loud",
    )
    rules = load_text(tmp_path, BASE + loud)
    assert {d.meta.id: d.generate for d in rules.detections}["fail"] is True
    assert rules.correlations[0].generate is True
    quiet = _correlation(
        "  type: event_count\n  rules: [fail]\n  timespan: 5m\n  condition: {gte: 50}\n",
        name="quiet",
    )
    rules = load_text(tmp_path, BASE + loud + quiet)
    # one correlation without `generate: true` silences the rule (as pySigma decides)
    assert {d.meta.id: d.generate for d in rules.detections}["fail"] is False


def test_correlation_of_correlations_is_ordered(tmp_path: Path) -> None:
    outer = _correlation(
        "  type: temporal_ordered\n  rules: [burst, success]\n  group-by: [user]\n"
        "  timespan: 20m\n",
        name="takeover",
    )
    burst = _correlation(
        "  type: event_count\n  rules: [fail]\n  group-by: [user]\n  timespan: 10m\n"
        "  condition: {gte: 10}\n",
        name="burst",
    )
    rules = load_text(tmp_path, BASE + outer + burst)  # referenced one written last
    assert [c.meta.id for c in rules.correlations] == ["burst", "takeover"]
    assert [c.meta.id for c in rules.referenced["burst"]] == ["takeover"]


def test_cycle(tmp_path: Path) -> None:
    a = _correlation("  type: temporal\n  rules: [b, fail]\n  timespan: 1m\n", name="a")
    b = _correlation("  type: temporal\n  rules: [a, fail]\n  timespan: 1m\n", name="b")
    with pytest.raises(RuleLoadError, match="cycle"):
        load_text(tmp_path, BASE + a + b)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (
            "  type: value_sum\n  rules: [fail]\n  timespan: 5m\n  condition: {gte: 1, field: x}\n",
            "'value_sum' is no valid Sigma correlation type",
        ),
        (
            "  type: event_count\n  rules: [nothing]\n  timespan: 5m\n  condition: {gte: 1}\n",
            "unknown rule 'nothing'",
        ),
        ("  type: event_count\n  rules: [fail]\n  timespan: 5m\n", "needs a condition"),
        (
            "  type: value_count\n  rules: [fail]\n  timespan: 5m\n  condition: {gte: 3}\n",
            "value_count correlation needs the field",
        ),
        (
            "  type: event_count\n  rules: [fail]\n  timespan: 5m\n"
            "  condition: {gte: 3, field: user}\n",
            "only applies to value_count",
        ),
        (
            "  type: temporal\n  rules: [fail, success]\n  timespan: 5m\n  condition: {gte: 1}\n",
            "condition on a temporal correlation is not supported",
        ),
        (
            "  type: event_count\n  rules: [fail]\n  timespan: 5m\n  condition: {gte: 1, lt: 9}\n",
            "exactly one operator",
        ),
        (
            "  type: event_count\n  rules: [fail]\n  timespan: 5m\n  condition: {gte: -1}\n",
            "non-negative whole number",
        ),
        (
            "  type: event_count\n  rules: [fail]\n  timespan: 5m\n  condition: {gte: true}\n",
            "non-negative whole number",
        ),
        (
            "  type: event_count\n  rules: [fail]\n  timespan: 5m\n  condition: {between: 1}\n",
            "unsupported item\\(s\\) between",
        ),
        (
            "  type: event_count\n  rules: [fail]\n  timespan: 5x\n  condition: {gte: 1}\n",
            "Timespan '5x' is invalid",
        ),
        (
            "  type: event_count\n  rules: [fail]\n  timespan: 0s\n  condition: {gte: 1}\n",
            "longer than zero",
        ),
        (
            "  type: event_count\n  rules: [fail]\n  timespan: 5m\n  group_by: [user]\n"
            "  condition: {gte: 1}\n",
            "spelled `group-by`",
        ),
        (
            "  type: event_count\n  rules: [fail]\n  timespan: 5m\n  window: sliding\n"
            "  condition: {gte: 1}\n",
            "unknown key\\(s\\) in correlation: window",
        ),
        (
            "  type: event_count\n  rules: [fail]\n  group-by: [src]\n  timespan: 5m\n"
            "  condition: {gte: 1}\n",
            "unknown field or alias 'src'",
        ),
        (
            "  type: value_count\n  rules: [fail]\n  timespan: 5m\n"
            "  condition: {gte: 1, field: usr}\n",
            "unknown field or alias 'usr'",
        ),
        (
            "  type: temporal\n  rules: [fail, fail]\n  timespan: 5m\n",
            "references rule 'fail' twice",
        ),
        ("  type: temporal\n  rules: [fail, corr]\n  timespan: 5m\n", "references itself"),
        (
            "  type: temporal\n  rules: [fail, success]\n  timespan: 5m\n  group-by: [who]\n"
            "  aliases:\n    who:\n      fail: user\n",
            "does not say which field rule\\(s\\) success",
        ),
        (
            "  type: temporal\n  rules: [fail, success]\n  timespan: 5m\n  group-by: [who]\n"
            "  aliases:\n    who:\n      fail: user\n      success: user\n      other: user\n",
            "maps rule 'other', which the correlation does not reference",
        ),
        (
            "  type: temporal\n  rules: [fail, success]\n  timespan: 5m\n  group-by: [who]\n"
            "  aliases:\n    who:\n      fail: user\n      success: login\n",
            "unknown field 'login'",
        ),
        (
            "  type: temporal\n  rules: [fail, success]\n  timespan: 5m\n  group-by: [user]\n"
            "  aliases:\n    user:\n      fail: user\n      success: user\n",
            "name of an event field",
        ),
    ],
)
def test_refused_correlations(tmp_path: Path, body: str, problem: str) -> None:
    with pytest.raises(RuleLoadError, match=problem) as info:
        load_text(tmp_path, BASE + _correlation(body))
    assert info.value.rule == "corr"
    assert info.value.path == str(tmp_path / "rules.yml")
