"""Bounded state: an attacker who sends from a million addresses cannot exhaust memory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

from tests.watch.test_engine import FAIL, brute_force, correlation, detection, ev, run
from turbosec.watch.engine import Engine, EngineOptions
from turbosec.watch.rules.model import Condition, CorrelationType, Op, RuleSet

#: Most memory (resident set growth) the engine may take for 50,000 groups, each holding
#: one sample event.
LIMIT = 100 * 2**20
REPO = Path(__file__).resolve().parents[2]

# Runs in its own process so that the peak resident set size measures this alone.
MILLION_ADDRESSES = """
import gc, sys
import orjson
from datetime import UTC, datetime
from tests.watch.test_engine import FAIL, T0, brute_force, ev, run
from turbosec.core.event import Level, new_event
from turbosec.watch.engine import Engine, EngineOptions
from turbosec.watch.rules.model import RuleSet

def rss(key):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise SystemExit("no " + key)

rules = RuleSet.build([FAIL], [brute_force(threshold=10, timespan=3600)])
engine = Engine(rules, EngineOptions(max_groups=50_000))
process = engine.process
fromtimestamp = datetime.fromtimestamp
start = T0.timestamp()
gc.collect()
before = rss("VmRSS")
highest = 0
alerted = 0
for i in range(1_000_000):
    # one failure from each address, 1 ms apart: nothing expires within the hour, so
    # only max_groups bounds the state
    event = new_event(
        fromtimestamp(start + i / 1000, UTC), "authn_login_fail", (), Level.WARN, None,
        f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}", "root",
        None, None, None, None, None, None, None, None, 1, {},
    )
    if process(event):
        alerted += 1
    if i % 1000 == 0:
        highest = max(highest, engine.group_count("brute"))
peak = rss("VmHWM")
stats = engine.stats()
# the newest groups are the ones kept, and they still count: 1 + 9 failures alert
late_alerts = run(engine, [ev(1000, ip="10.15.66.63", user="root")] * 9)
sys.stdout.write(orjson.dumps({
    "growth": peak - before, "highest": highest, "alerted": alerted,
    "stats": stats.to_dict(), "group_count": engine.group_count("brute"),
    "late": [list(map(list, a.group)) for a in late_alerts],
}).decode())
"""


def test_a_million_addresses_stay_within_max_groups_and_memory() -> None:
    done = subprocess.run(
        [sys.executable, "-c", MILLION_ADDRESSES],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = orjson.loads(done.stdout)
    stats = result["stats"]
    assert result["alerted"] == 0
    assert result["highest"] <= 50_000
    assert result["group_count"] == stats["groups"] == 50_000
    assert stats["evicted"] == 950_000
    assert stats["events"] == stats["matched"] == 1_000_000
    assert result["growth"] < LIMIT, f"engine state grew by {result['growth'] / 2**20:.0f} MiB"
    assert result["late"] == [[["source_ip", "10.15.66.63"]]]


def test_groups_that_can_no_longer_matter_expire() -> None:
    rules = RuleSet.build([FAIL], [brute_force(threshold=5, timespan=60)])
    engine = Engine(rules, EngineOptions(late_tolerance=30))
    # one address a second for two hours: only the last timespan + tolerance is alive
    run(engine, (ev(i, ip=f"10.0.{i >> 8}.{i & 255}") for i in range(7200)))
    stats = engine.stats()
    assert stats.evicted == 0
    assert stats.expired >= 7200 - 92
    assert engine.group_count("brute") <= 92
    # a group in its cool-down survives the sweep until the cool-down is over
    engine = Engine(rules, EngineOptions(late_tolerance=30, cooldown=600))
    run(engine, [ev(i * 0.1, ip="198.51.100.1") for i in range(5)])
    run(engine, (ev(i, ip=f"10.1.{i >> 8}.{i & 255}") for i in range(200, 500)))
    assert engine.stats().expired > 0
    assert run(engine, [ev(500 + i * 0.1, ip="198.51.100.1") for i in range(5)]) == []
    alerts = run(engine, [ev(700 + i * 0.1, ip="198.51.100.1") for i in range(5)])
    assert len(alerts) == 1


def test_value_count_and_detection_cooldowns_are_bounded_too() -> None:
    spray = correlation(
        "spray",
        CorrelationType.VALUE_COUNT,
        ["fail"],
        ["source_ip"],
        3600,
        Condition(Op.GTE, 1000, "user"),
    )
    loud = detection("sqli", ["malicious_sqli"], generate=True)
    engine = Engine(RuleSet.build([FAIL, loud], [spray]), EngineOptions(max_groups=100))
    stream = []
    for i in range(5000):
        stream.append(ev(i, ip=f"10.2.{i >> 8}.{i & 255}", user=f"u{i}"))
        stream.append(ev(i, "malicious_sqli", ip=f"10.3.{i >> 8}.{i & 255}"))
    alerts = run(engine, stream)
    assert len(alerts) == 5000  # every address is new: no cool-down withholds anything
    assert engine.group_count("spray") == 100
    assert engine.group_count("sqli") == 100
    # one address, 999 distinct users: the group holds them; the 1000th alerts and resets
    for i in range(999):
        assert engine.process(ev(6000 + i * 0.01, ip="198.51.100.3", user=f"v{i}")) == []
    alerts = engine.process(ev(6010, ip="198.51.100.3", user="last"))
    assert [(a.rule_id, a.count) for a in alerts] == [("spray", 1000)]


def test_sample_events_keep_a_bounded_raw_line() -> None:
    from dataclasses import replace

    from turbosec.watch.engine import SAMPLE_RAW_LIMIT

    rules = RuleSet.build([FAIL], [brute_force(threshold=3, timespan=60)])
    engine = Engine(rules)
    long_line = "x" * 100_000
    events = [replace(ev(i, ip="203.0.113.5"), raw=long_line) for i in range(2)]
    events.append(replace(ev(2, ip="203.0.113.5"), raw="short line"))
    (alert,) = run(engine, events)
    raws = [sample.raw for sample in alert.samples]
    assert raws[-1] == "short line"
    assert [len(raw or "") for raw in raws[:2]] == [SAMPLE_RAW_LIMIT] * 2
    assert all((raw or "").endswith("…") and raw == long_line[: SAMPLE_RAW_LIMIT - 1] + "…"
               for raw in raws[:2])  # fmt: skip
    # everything but the raw line is the event's
    assert [s.time for s in alert.samples] == [e.time for e in events]
    assert alert.samples[0].source_ip == "203.0.113.5"
