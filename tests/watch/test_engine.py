"""The rule engine's semantics: dispatch, windows, cool-downs, cascades, late events.

Rules are built directly from the compiled model (Python predicates), not from YAML, so
these tests pin the engine alone.  The helpers at the top are shared with the other
``test_engine_*`` modules.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from turbosec.core.event import Alert, Level, SecurityEvent
from turbosec.core.severity import Severity
from turbosec.watch.engine import Engine, EngineOptions
from turbosec.watch.rules.model import (
    Condition,
    Correlation,
    CorrelationType,
    Detection,
    Op,
    RuleLoadError,
    RuleMeta,
    RuleSet,
)

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def meta(rule_id: str, severity: Severity = Severity.MEDIUM) -> RuleMeta:
    return RuleMeta(
        id=rule_id, name=rule_id, title=f"title of {rule_id}", severity=severity, tags=("t",)
    )


def detection(
    rule_id: str,
    types: Iterable[str] | None,
    match: Callable[[SecurityEvent], bool] = lambda e: True,
    *,
    generate: bool = False,
) -> Detection:
    return Detection(
        meta(rule_id), match, frozenset(types) if types is not None else None, generate
    )


def correlation(
    rule_id: str,
    kind: CorrelationType,
    rules: Sequence[str],
    group_by: Sequence[str],
    timespan: float,
    condition: Condition | None = None,
    *,
    aliases: dict[str, dict[str, str]] | None = None,
    generate: bool = False,
) -> Correlation:
    return Correlation(
        meta(rule_id, Severity.HIGH),
        kind,
        tuple(rules),
        tuple(group_by),
        timespan,
        condition,
        aliases or {},
        generate,
    )


def ev(
    seconds: float,
    name: str = "authn_login_fail",
    ip: str | None = "203.0.113.9",
    user: str | None = "joe",
    **fields: object,
) -> SecurityEvent:
    return SecurityEvent(
        time=T0 + timedelta(seconds=seconds),
        event=name,
        source_ip=ip,
        user=user,
        level=Level.WARN,
        **fields,  # type: ignore[arg-type]
    )


def run(engine: Engine, events: Iterable[SecurityEvent]) -> list[Alert]:
    alerts: list[Alert] = []
    for event in events:
        alerts.extend(engine.process(event))
    return alerts


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


FAIL = detection("fail", ["authn_login_fail"])
SUCCESS = detection("success", ["authn_login_success"])


def brute_force(
    threshold: int = 5,
    timespan: float = 60,
    op: Op = Op.GTE,
    group_by: Sequence[str] = ("source_ip",),
) -> Correlation:
    return correlation(
        "brute",
        CorrelationType.EVENT_COUNT,
        ["fail"],
        group_by,
        timespan,
        Condition(op, threshold),
    )


def engine_for(
    detections: Sequence[Detection],
    correlations: Sequence[Correlation] = (),
    **options: object,
) -> Engine:
    return Engine(RuleSet.build(detections, correlations), EngineOptions(**options))  # type: ignore[arg-type]


# --- dispatch -------------------------------------------------------------------------------


def test_only_candidate_detections_see_an_event() -> None:
    seen: list[str] = []

    def spy(name: str) -> Callable[[SecurityEvent], bool]:
        def match(event: SecurityEvent) -> bool:
            seen.append(name)
            return False

        return match

    engine = engine_for(
        [
            detection("a", ["authn_login_fail"], spy("a")),
            detection("b", ["authz_fail"], spy("b")),
            detection("any", None, spy("any")),
        ]
    )
    engine.process(ev(0, "authn_login_fail"))
    engine.process(ev(1, "authz_fail"))
    engine.process(ev(2, "session_created"))
    engine.process(ev(3, "AUTHN_LOGIN_FAIL:joe"))  # hand-made spelling: same dispatch key
    assert seen == ["a", "any", "b", "any", "any", "a", "any"]
    assert engine.stats().events == 4
    assert engine.stats().matched == 0


def test_an_event_no_rule_can_match_is_cheap_and_returns_nothing() -> None:
    engine = engine_for([FAIL], [brute_force()])
    assert engine.process(ev(0, "session_created")) == []
    stats = engine.stats()
    assert (stats.events, stats.matched, stats.groups) == (1, 0, 0)
    assert engine.watermark is None  # only matching events move event time


# --- detections that alert on their own -----------------------------------------------------


def test_generating_detection_alerts_once_per_group_per_cooldown() -> None:
    sqli = detection("sqli", ["malicious_sqli"], generate=True)
    engine = engine_for([sqli], detection_cooldown=60)
    events = [
        ev(0, "malicious_sqli", "198.51.100.1", None),
        ev(1, "malicious_sqli", "198.51.100.1", None),  # cool-down: withheld
        ev(2, "malicious_sqli", "198.51.100.2", "eve"),  # another group
        ev(60, "malicious_sqli", "198.51.100.1", None),  # cool-down over
    ]
    alerts = run(engine, events)
    assert [(a.group, a.first_seen, a.count) for a in alerts] == [
        ((("source_ip", "198.51.100.1"),), at(0), 1),
        ((("source_ip", "198.51.100.2"), ("user", "eve")), at(2), 1),
        ((("source_ip", "198.51.100.1"),), at(60), 1),
    ]
    assert alerts[0].samples == (events[0],)
    assert alerts[0].title == "title of sqli"
    assert engine.stats().suppressed == 1
    assert engine.stats().alerts == 3


def test_zero_cooldown_alerts_on_every_matching_event() -> None:
    sqli = detection("sqli", ["malicious_sqli"], generate=True)
    engine = engine_for([sqli], cooldown=0)
    assert len(run(engine, [ev(0, "malicious_sqli")] * 3)) == 3


def test_a_referenced_detection_does_not_alert_unless_generate() -> None:
    engine = engine_for([FAIL], [brute_force()])
    assert run(engine, [ev(0)]) == []
    loud = detection("fail", ["authn_login_fail"], generate=True)
    engine = engine_for([loud], [brute_force()])
    assert [a.rule_id for a in run(engine, [ev(0)])] == ["fail"]


# --- event_count ----------------------------------------------------------------------------


def test_event_count_alerts_at_the_threshold_with_window_details() -> None:
    engine = engine_for([FAIL], [brute_force(threshold=5, timespan=60)])
    events = [ev(i * 10) for i in range(5)]
    alerts = run(engine, events)
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.rule_id == "brute"
    assert alert.group == (("source_ip", "203.0.113.9"),)
    assert (alert.first_seen, alert.last_seen, alert.count) == (at(0), at(40), 5)
    assert alert.samples == tuple(events)
    assert alert.severity is Severity.HIGH
    assert alert.tags == ("t",)


def test_event_count_window_slides_and_is_closed() -> None:
    # five events 20 s apart never fit in 60 s; the boundary (exactly 60 s) counts
    engine = engine_for([FAIL], [brute_force(threshold=4, timespan=60)])
    assert run(engine, [ev(i * 20.001) for i in range(8)]) == []
    engine = engine_for([FAIL], [brute_force(threshold=4, timespan=60)])
    alerts = run(engine, [ev(i * 20) for i in range(4)])
    assert [(a.first_seen, a.last_seen) for a in alerts] == [(at(0), at(60))]


def test_event_count_gt_needs_one_more() -> None:
    engine = engine_for([FAIL], [brute_force(threshold=3, op=Op.GT)])
    alerts = run(engine, [ev(i) for i in range(4)])
    assert [(a.count, a.last_seen) for a in alerts] == [(4, at(3))]


def test_event_count_groups_are_separate() -> None:
    engine = engine_for([FAIL], [brute_force(threshold=3, group_by=("source_ip", "user"))])
    events = [ev(i, ip="10.0.0.1", user="a" if i % 2 else "b") for i in range(6)]
    alerts = run(engine, events)
    assert sorted(a.group for a in alerts) == [
        (("source_ip", "10.0.0.1"), ("user", "a")),
        (("source_ip", "10.0.0.1"), ("user", "b")),
    ]


def test_repeated_line_counts_as_many_events() -> None:
    engine = engine_for([FAIL], [brute_force(threshold=5)])
    alerts = run(engine, [ev(0, repeat=3), ev(1, repeat=2)])
    assert [(a.count, a.first_seen, a.last_seen) for a in alerts] == [(5, at(0), at(1))]


def test_group_by_status_and_extra_fields() -> None:
    denied = detection("denied", ["http_request"], lambda e: e.status in (401, 403))
    flood = correlation(
        "flood",
        CorrelationType.EVENT_COUNT,
        ["denied"],
        ["status", "extra.region"],
        60,
        Condition(Op.GTE, 2),
    )
    engine = engine_for([denied], [flood])
    events = [
        ev(0, "http_request", status=401, extra={"region": "eu"}),
        ev(1, "http_request", status=200, extra={"region": "eu"}),
        ev(2, "http_request", status=401, extra={"region": "eu"}),
    ]
    assert [a.group for a in run(engine, events)] == [(("status", "401"), ("extra.region", "eu"))]


def test_a_burst_of_ten_thousand_events_gives_one_alert_per_cooldown() -> None:
    # 100 failures a second for 100 s from one address; threshold 10 in 60 s, cool-down
    # = timespan.  Alert 1 at event 10 (t=0.09), cool-down to 60.09; counting restarts with
    # the event at t=60.09, alert 2 at t=60.18, cool-down to 120.18 > the burst's end.
    engine = engine_for([FAIL], [brute_force(threshold=10, timespan=60)])
    alerts = run(engine, (ev(i / 100) for i in range(10_000)))
    assert [(a.first_seen, a.last_seen, a.count) for a in alerts] == [
        (at(0), at(0.09), 10),
        (at(60.09), at(60.18), 10),
    ]
    assert engine.stats().suppressed == 10_000 - 20
    # an explicit cool-down shorter than the timespan: one alert per 10 s
    engine = engine_for([FAIL], [brute_force(threshold=10, timespan=60)], cooldown=10)
    alerts = run(engine, (ev(i / 100) for i in range(10_000)))
    assert len(alerts) == 10
    assert all(
        b.first_seen >= a.last_seen + timedelta(seconds=10) for a, b in itertools.pairwise(alerts)
    )


# --- value_count ----------------------------------------------------------------------------


def stuffing(threshold: int = 3, timespan: float = 60) -> Correlation:
    return correlation(
        "stuffing",
        CorrelationType.VALUE_COUNT,
        ["fail"],
        ["source_ip"],
        timespan,
        Condition(Op.GTE, threshold, "user"),
    )


def test_value_count_counts_distinct_values_in_the_window() -> None:
    engine = engine_for([FAIL], [stuffing(threshold=3)])
    events = [
        ev(0, user="a"),
        ev(1, user="a"),  # repeats do not count
        ev(2, user=None),  # no value: not counted
        ev(3, user="b"),
        ev(70, user="c"),  # a and b are out of the window by now
        ev(71, user="d"),
        ev(72, user="a"),
    ]
    alerts = run(engine, events)
    assert [(a.first_seen, a.last_seen, a.count) for a in alerts] == [(at(70), at(72), 3)]
    assert [s.user for s in alerts[0].samples][-3:] == ["c", "d", "a"]


def test_value_count_first_seen_is_the_earliest_latest_occurrence() -> None:
    engine = engine_for([FAIL], [stuffing(threshold=3)])
    events = [ev(0, user="a"), ev(10, user="b"), ev(20, user="a"), ev(30, user="c")]
    alerts = run(engine, events)
    assert [(a.first_seen, a.last_seen, a.count) for a in alerts] == [(at(10), at(30), 3)]


def test_value_count_needs_a_field() -> None:
    bad = correlation(
        "bad", CorrelationType.VALUE_COUNT, ["fail"], ["source_ip"], 60, Condition(Op.GTE, 3)
    )
    with pytest.raises(RuleLoadError, match=r"condition\.field"):
        engine_for([FAIL], [bad])


def test_value_count_threshold_is_bounded() -> None:
    with pytest.raises(RuleLoadError, match="at most 10,000 distinct values"):
        engine_for([FAIL], [stuffing(threshold=10_001)])
    engine_for([FAIL], [stuffing(threshold=10_000)])


# --- temporal -------------------------------------------------------------------------------


def test_temporal_any_order_within_the_timespan() -> None:
    recon = detection("recon", ["malicious_excess_404"])
    both = correlation("both", CorrelationType.TEMPORAL, ["recon", "fail"], ["source_ip"], 60)
    engine = engine_for([recon, FAIL], [both])
    alerts = run(engine, [ev(0), ev(30, "malicious_excess_404")])
    assert [(a.first_seen, a.last_seen, a.count) for a in alerts] == [(at(0), at(30), 2)]
    engine = engine_for([recon, FAIL], [both])
    assert run(engine, [ev(0, "malicious_excess_404"), ev(61)]) == []


# --- temporal_ordered -----------------------------------------------------------------------


def success_after_failure(timespan: float = 60) -> Correlation:
    return correlation(
        "after", CorrelationType.TEMPORAL_ORDERED, ["fail", "success"], ["user"], timespan
    )


def test_temporal_ordered_needs_the_listed_order() -> None:
    engine = engine_for([FAIL, SUCCESS], [success_after_failure()])
    assert run(engine, [ev(0, "authn_login_success"), ev(5)]) == []
    alerts = run(engine, [ev(10, "authn_login_success")])
    assert [(a.first_seen, a.last_seen, a.count) for a in alerts] == [(at(5), at(10), 2)]


def test_temporal_ordered_respects_the_timespan_and_takes_the_latest_start() -> None:
    engine = engine_for([FAIL, SUCCESS], [success_after_failure(timespan=60)])
    assert run(engine, [ev(0), ev(61, "authn_login_success")]) == []
    alerts = run(engine, [ev(62), ev(70), ev(75, "authn_login_success")])
    assert [(a.first_seen, a.last_seen) for a in alerts] == [(at(70), at(75))]


def test_temporal_ordered_equal_times_are_in_order() -> None:
    engine = engine_for([FAIL, SUCCESS], [success_after_failure()])
    alerts = run(engine, [ev(5), ev(5, "authn_login_success")])
    assert len(alerts) == 1


def test_temporal_ordered_with_three_steps() -> None:
    created = detection("created", ["user_created"])
    chain = correlation(
        "chain",
        CorrelationType.TEMPORAL_ORDERED,
        ["fail", "success", "created"],
        [],
        100,
    )
    engine = engine_for([FAIL, SUCCESS, created], [chain])
    stream = [
        ev(0, "authn_login_success"),
        ev(1, "user_created"),
        ev(2),
        ev(3, "user_created"),
        ev(4, "authn_login_success"),
    ]
    assert run(engine, stream) == []
    alerts = run(engine, [ev(5, "user_created")])
    assert [(a.group, a.first_seen, a.last_seen, a.count) for a in alerts] == [
        ((), at(2), at(5), 3)
    ]


# --- correlations of correlations -----------------------------------------------------------


def test_an_alert_feeds_the_correlations_that_reference_it() -> None:
    brute = brute_force(threshold=3, group_by=("user",))
    takeover = correlation(
        "takeover",
        CorrelationType.TEMPORAL_ORDERED,
        ["brute", "success"],
        ["user"],
        600,
    )
    engine = engine_for([FAIL, SUCCESS], [brute, takeover])
    stream = [ev(i, ip=f"10.0.0.{i}") for i in range(5)] + [
        ev(100, "authn_login_success", ip="192.0.2.1")
    ]
    alerts = run(engine, stream)
    # the burst itself is silent: a correlation references it without generate
    assert [(a.rule_id, a.group, a.first_seen, a.last_seen) for a in alerts] == [
        ("takeover", (("user", "joe"),), at(2), at(100))
    ]
    # samples: the burst's failures then the success
    assert [s.event for s in alerts[0].samples] == ["authn_login_fail"] * 3 + [
        "authn_login_success"
    ]


def test_generate_on_the_referencing_correlation_makes_the_inner_one_alert() -> None:
    brute = brute_force(threshold=3, group_by=("user",))
    takeover = correlation(
        "takeover",
        CorrelationType.TEMPORAL_ORDERED,
        ["brute", "success"],
        ["user"],
        600,
        generate=True,
    )
    engine = engine_for([FAIL, SUCCESS], [brute, takeover])
    alerts = run(engine, [ev(0), ev(1), ev(2), ev(3, "authn_login_success")])
    assert [a.rule_id for a in alerts] == ["brute", "takeover"]


def test_a_field_the_inner_alert_lacks_reads_as_none_and_aliases_apply() -> None:
    brute = brute_force(threshold=2, group_by=("source_ip",))
    # counts brute-force alerts per address (alias "addr") and per user (absent: None)
    waves = correlation(
        "waves",
        CorrelationType.EVENT_COUNT,
        ["brute"],
        ["addr", "user"],
        3600,
        Condition(Op.GTE, 2),
        aliases={"addr": {"brute": "source_ip"}},
    )
    engine = engine_for([FAIL], [brute, waves], cooldown=10)
    stream = [ev(0), ev(1), ev(20), ev(21)]
    alerts = run(engine, stream)
    assert [(a.rule_id, a.group, a.count) for a in alerts] == [
        ("waves", (("addr", "203.0.113.9"), ("user", None)), 2)
    ]


# --- conditions the sliding windows cannot decide ---------------------------------------------


@pytest.mark.parametrize("op", [Op.LT, Op.LTE, Op.EQ, Op.NEQ])
def test_conditions_decided_only_at_window_close_are_refused(op: Op) -> None:
    with pytest.raises(RuleLoadError, match=f"'{op.value}'.*'gte' or 'gt'") as info:
        engine_for([FAIL], [brute_force(op=op)])
    assert info.value.rule == "brute"


def test_event_count_without_condition_is_refused() -> None:
    bad = correlation("bad", CorrelationType.EVENT_COUNT, ["fail"], [], 60)
    with pytest.raises(RuleLoadError, match="needs a condition"):
        engine_for([FAIL], [bad])


# --- late and out-of-order events -----------------------------------------------------------


def test_late_events_are_counted_and_kept_out_of_windows() -> None:
    loud = detection("sqli", ["malicious_sqli"], generate=True)
    engine = engine_for([FAIL, loud], [brute_force(threshold=3)], late_tolerance=30)
    stream = [ev(100), ev(101), ev(50), ev(69.9, "malicious_sqli"), ev(70)]
    alerts = run(engine, stream)
    # 50 is late (watermark 101, tolerance 30); 69.9 too, but a generating detection still
    # reports it; 70 is 31 s behind -- late as well
    assert [a.rule_id for a in alerts] == ["sqli"]
    assert engine.stats().late == 3
    # within the tolerance it counts
    assert [a.rule_id for a in run(engine, [ev(72)])] == ["brute"]


def _bursts(rng: random.Random, threshold: int) -> list[SecurityEvent]:
    """Attack bursts by several addresses: ``threshold`` or ``threshold - 1`` failures,
    each for another account, within 30 s, sometimes a success 45 s after the burst's
    start; bursts 1000 s apart."""
    events: list[SecurityEvent] = []
    for burst in range(12):
        start = burst * 1000.0
        for attacker in range(3):
            ip = f"198.51.100.{attacker}"
            count = threshold - rng.randrange(2)
            for i in range(count):
                t = start + attacker * 0.5 + i * rng.uniform(0.5, 4)
                events.append(ev(t, ip=ip, user=f"user{burst}-{attacker}-{i}"))
            if rng.random() < 0.6:
                events.append(ev(start + 45, "authn_login_success", ip=ip, user="x"))
    events.sort(key=lambda e: e.time)
    return events


def _shuffle_locally(
    events: list[SecurityEvent], rng: random.Random, window: float
) -> list[SecurityEvent]:
    """The same events, each delivered up to ``window`` seconds out of place."""
    keyed = [(e.timestamp + rng.uniform(0, window), i, e) for i, e in enumerate(events)]
    keyed.sort()
    return [e for _, _, e in keyed]


@pytest.mark.parametrize("seed", range(8))
def test_out_of_order_delivery_gives_the_same_alerts(seed: int) -> None:
    rng = random.Random(seed)
    stream = _bursts(rng, 6)
    brute = brute_force(threshold=6, timespan=60)
    spray = stuffing(threshold=6, timespan=60)
    after = correlation(
        "after",
        CorrelationType.TEMPORAL_ORDERED,
        ["fail", "success"],
        ["source_ip"],
        60,
    )

    def alert_ids(events: list[SecurityEvent]) -> list[tuple[str, str]]:
        engine = engine_for([FAIL, SUCCESS], [brute, spray, after], late_tolerance=30)
        return sorted((a.rule_id, a.alert_id) for a in run(engine, events))

    expected = alert_ids(stream)
    assert {rule for rule, _ in expected} == {"brute", "stuffing", "after"}
    shuffled = _shuffle_locally(stream, rng, 10)
    assert shuffled != stream
    assert alert_ids(shuffled) == expected


def test_out_of_order_insertion_finds_the_earliest_window() -> None:
    engine = engine_for([FAIL], [brute_force(threshold=3, timespan=10)])
    alerts = run(engine, [ev(0), ev(2), ev(50), ev(1)])
    assert [(a.first_seen, a.last_seen, a.count) for a in alerts] == [(at(0), at(2), 3)]
