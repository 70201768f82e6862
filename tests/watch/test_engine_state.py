"""Engine snapshots: a restored engine behaves exactly like the one that was snapshotted."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.watch.test_engine import (
    FAIL,
    SUCCESS,
    brute_force,
    correlation,
    detection,
    ev,
    run,
)
from turbosec.core.event import Alert, SecurityEvent
from turbosec.watch.engine import Engine, EngineOptions, StateError
from turbosec.watch.rules.model import Condition, CorrelationType, Op, RuleSet
from turbosec.watch.state import load_checkpoint, save_checkpoint

NOT_FOUND = detection("not_found", ["http_request"], lambda e: e.status == 404)
SQLI = detection("sqli", ["malicious_sqli"], generate=True)
DENIED = detection("denied", ["authz_fail"], generate=True)


def full_rules() -> RuleSet:
    """Every correlation type, a cascade and detections that alert on their own."""
    return RuleSet.build(
        [FAIL, SUCCESS, NOT_FOUND, SQLI, DENIED],
        [
            brute_force(threshold=3, timespan=60, group_by=("source_ip", "user")),
            correlation(
                "stuffing",
                CorrelationType.VALUE_COUNT,
                ["fail"],
                ["source_ip"],
                120,
                Condition(Op.GTE, 3, "user"),
            ),
            correlation(
                "scan",
                CorrelationType.VALUE_COUNT,
                ["not_found"],
                ["source_ip"],
                60,
                Condition(Op.GT, 2, "request_uri"),
            ),
            correlation(
                "recon_then_denied",
                CorrelationType.TEMPORAL,
                ["not_found", "denied"],
                ["source_ip"],
                90,
            ),
            correlation(
                "takeover",
                CorrelationType.TEMPORAL_ORDERED,
                ["brute", "success"],
                ["user"],
                300,
                generate=True,
            ),
            correlation(
                "waves",
                CorrelationType.EVENT_COUNT,
                ["takeover"],
                [],
                3600,
                Condition(Op.GTE, 2),
                generate=True,
            ),
        ],
    )


KINDS = [
    "authn_login_fail",
    "authn_login_success",
    "http_request",
    "malicious_sqli",
    "authz_fail",
    "session_created",
]

event_specs = st.lists(
    st.tuples(
        st.floats(min_value=-25, max_value=40, allow_nan=False),  # step; negative: out of order
        st.sampled_from(KINDS),
        st.integers(0, 3),  # address
        st.integers(0, 4),  # user
        st.integers(0, 5),  # uri
    ),
    min_size=1,
    max_size=120,
)


def build_events(specs: Sequence[tuple[float, str, int, int, int]]) -> list[SecurityEvent]:
    events = []
    now = 0.0
    for step, kind, ip, user, uri in specs:
        now += max(step, 0.0)
        t = now + min(step, 0.0)
        events.append(
            ev(
                round(t, 3),
                kind,
                ip=f"203.0.113.{ip}",
                user=None if user == 4 else f"user{user}",
                status=404 if kind == "http_request" else None,
                request_uri=f"/p{uri}",
            )
        )
    return events


def roundtrip(snapshot: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(orjson.dumps(snapshot))
    return data


def split_run(
    rules: RuleSet, options: EngineOptions, events: list[SecurityEvent], cuts: Sequence[int]
) -> tuple[list[Alert], Engine]:
    engine = Engine(rules, options)
    alerts: list[Alert] = []
    start = 0
    for cut in [*sorted(set(cuts)), len(events)]:
        alerts.extend(run(engine, events[start:cut]))
        start = max(start, cut)
        snapshot = roundtrip(engine.snapshot())
        engine = Engine.restore(rules, snapshot, options)
        assert roundtrip(engine.snapshot()) == snapshot
    return alerts, engine


OPTIONS = [
    EngineOptions(max_groups=3, late_tolerance=15, detection_cooldown=20),
    EngineOptions(max_groups=100, late_tolerance=60, cooldown=30),
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    specs=event_specs,
    cut_fractions=st.lists(st.floats(0, 1), max_size=6),
    which=st.sampled_from([0, 1]),
)
def test_restore_anywhere_gives_the_uninterrupted_alerts(
    specs: list[tuple[float, str, int, int, int]], cut_fractions: list[float], which: int
) -> None:
    rules = full_rules()
    options = OPTIONS[which]
    events = build_events(specs)
    reference = Engine(rules, options)
    expected = run(reference, events)
    event(f"alerts: {min(len(expected), 5)}{'+' if len(expected) >= 5 else ''}")
    cuts = [int(f * len(events)) for f in cut_fractions]
    alerts, restored = split_run(rules, options, events, cuts)
    assert [a.to_dict() for a in alerts] == [a.to_dict() for a in expected]
    assert restored.stats() == reference.stats()
    assert roundtrip(restored.snapshot()) == roundtrip(reference.snapshot())


def attack() -> list[SecurityEvent]:
    """A brute force that takes over an account twice, plus noise: every rule fires."""
    events = []
    for wave in range(2):
        base = wave * 1000.0
        events += [ev(base + i, ip="198.51.100.7", user="root") for i in range(4)]
        events += [ev(base + i, ip="198.51.100.8", user=f"u{i}") for i in range(4)]
        events.append(ev(base + 10, "authn_login_success", ip="192.0.2.1", user="root"))
        events += [
            ev(base + 20 + i, "http_request", ip="198.51.100.9", status=404, request_uri=f"/{i}")
            for i in range(3)
        ]
        events.append(ev(base + 30, "authz_fail", ip="198.51.100.9"))
        events.append(ev(base + 31, "malicious_sqli", ip="198.51.100.9"))
    return events


def test_every_split_point_of_an_attack_gives_the_same_alerts() -> None:
    rules = full_rules()
    events = attack()
    expected = run(Engine(rules), events)
    assert {a.rule_id for a in expected} == {
        "brute",
        "stuffing",
        "scan",
        "recon_then_denied",
        "takeover",
        "waves",
        "denied",
        "sqli",
    }
    for cut in range(len(events) + 1):
        alerts, _ = split_run(rules, EngineOptions(), events, [cut])
        assert alerts == expected, f"split at {cut}"


def test_snapshot_is_json_and_writes_each_sample_event_once() -> None:
    rules = full_rules()
    engine = Engine(rules)
    run(engine, [ev(0, ip="198.51.100.1", user="a"), ev(1, ip="198.51.100.1", user="b")])
    snapshot = engine.snapshot()
    assert orjson.loads(orjson.dumps(snapshot)) == snapshot
    # two events, each a sample of three groups (brute x2 share nothing: 2 groups; stuffing)
    assert len(snapshot["events"]) == 2
    assert snapshot["rules_digest"] == engine.digest
    assert snapshot["watermark"] == ev(1).timestamp
    assert snapshot["counters"]["events"] == 2


def test_restore_refuses_state_of_other_rules() -> None:
    rules = full_rules()
    engine = Engine(rules)
    run(engine, attack())
    other = RuleSet.build([FAIL], [brute_force(threshold=3)])
    with pytest.raises(StateError, match="different set of rules") as info:
        Engine.restore(other, engine.snapshot())
    assert "delete the checkpoint" in info.value.diagnostics()
    # a changed threshold is another rule set too
    changed = RuleSet.build([FAIL], [brute_force(threshold=4)])
    first = Engine(other)
    with pytest.raises(StateError):
        Engine.restore(changed, first.snapshot())


@pytest.mark.parametrize(
    "damage",
    [
        lambda s: s.pop("counters"),
        lambda s: s.__setitem__("version", 99),
        lambda s: s.__setitem__("watermark", "yesterday"),
        lambda s: s["correlations"]["brute"]["groups"].append([["x"], {"l": 1}]),
        lambda s: s["correlations"]["brute"]["groups"].append([[1, 2], {}]),
        lambda s: s["correlations"]["brute"].__setitem__("groups", "none"),
        lambda s: s["correlations"].pop("stuffing"),
        lambda s: s["detections"].__setitem__("unknown", {"evicted": 0}),
        lambda s: s.__setitem__("events", [{"nothing": 1}]),
    ],
)
def test_restore_refuses_malformed_state(damage: Any) -> None:
    rules = full_rules()
    engine = Engine(rules)
    run(engine, attack())
    snapshot = roundtrip(engine.snapshot())
    damage(snapshot)
    with pytest.raises(StateError):
        Engine.restore(rules, snapshot)


def test_restore_with_fewer_groups_allowed_evicts_the_oldest() -> None:
    rules = RuleSet.build([FAIL], [brute_force(threshold=100)])
    engine = Engine(rules)
    run(engine, [ev(i, ip=f"10.0.0.{i}") for i in range(10)])
    small = Engine.restore(rules, roundtrip(engine.snapshot()), EngineOptions(max_groups=4))
    assert small.group_count("brute") == 4
    assert small.stats().evicted == 6
    kept = roundtrip(small.snapshot())["correlations"]["brute"]["groups"]
    assert [values for values, _ in kept] == [[f"10.0.0.{i}"] for i in range(6, 10)]


def test_engine_state_survives_a_checkpoint_file(tmp_path: Path) -> None:
    rules = full_rules()
    events = attack()
    expected = run(Engine(rules), events)
    engine = Engine(rules)
    first = run(engine, events[:7])
    path = tmp_path / "watch.state"
    save_checkpoint(
        path, engine=engine.snapshot(), sources=[], delivered=[a.alert_id for a in first]
    )
    checkpoint = load_checkpoint(path)
    assert checkpoint is not None
    restored = Engine.restore(rules, checkpoint.engine)
    assert first + run(restored, events[7:]) == expected
    assert checkpoint.delivered == [a.alert_id for a in first]
