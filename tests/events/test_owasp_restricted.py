"""The OWASP JSON parser restricted to what the rules can use: the events a rule could
match are exactly those of the line-by-line way; the others are counted, never decoded."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from turbosec.core.event import SecurityEvent
from turbosec.events.parsers import ParseStats, parse_lines
from turbosec.events.parsers.owasp_json import OwaspJsonParser
from turbosec.watch import generate as gen
from turbosec.watch.engine import Engine
from turbosec.watch.rules.loader import load_rules
from turbosec.watch.runner import replay

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "logs"

CouldUse = Callable[[Mapping[str, str | None]], bool]


def _types(*names: str) -> CouldUse:
    return lambda known: known.get("event_type") in names


def _full(lines: list[str]) -> tuple[list[SecurityEvent], ParseStats]:
    stats = ParseStats()
    return parse_lines(OwaspJsonParser(), lines, "log", stats), stats


def _blocks(
    lines: list[str], could_use: CouldUse, size: int = 7
) -> tuple[list[SecurityEvent], ParseStats]:
    parser = OwaspJsonParser()
    assert parser.restrict(could_use)
    stats = ParseStats()
    events: list[SecurityEvent] = []
    for start in range(0, len(lines), size):
        text = "\n".join(lines[start : start + size])
        block = parser.parse_block(text, "log", stats, first_line=start + 1)
        if block is None:  # NUL bytes: as the runner does
            assert "\x00" in text
            block = parse_lines(parser, text.split("\n"), "log", stats, first_line=start + 1)
        events += block
    return events, stats


def test_without_restriction_there_is_no_block_way() -> None:
    assert OwaspJsonParser().parse_block('{"event":"authz_fail"}', "x", ParseStats()) is None


@pytest.mark.parametrize("size", [1, 4, 1000])
def test_the_fixture_gives_the_usable_events_and_counts_every_line(size: int) -> None:
    lines = (LOGS / "owasp-events.jsonl").read_text().split("\n")
    want, full = _full(lines)
    kinds = {"authn_login_fail", "authz_fail"}
    got, stats = _blocks(lines, _types(*kinds), size)
    assert [e.to_dict() for e in got] == [e.to_dict() for e in want if e.event in kinds]
    assert [e.source for e in got] == [e.source for e in want if e.event in kinds]
    assert stats.lines == full.lines == len(lines)
    assert stats.events == len(got)
    assert stats.events + stats.skipped + stats.malformed == stats.lines
    assert 0 < stats.unused <= stats.skipped
    assert stats.malformed <= full.malformed


@pytest.mark.parametrize(
    ("line", "decoded"),
    [
        # the usual compact member, spaced as json.dumps writes it, with arguments
        ('{"event":"session_created:joe","datetime":"2026-11-27T10:00:00+00:00"}', False),
        ('{"event": "session_created", "datetime": "2026-11-27T10:00:00+00:00"}', False),
        # aliases and case are resolved as parse() resolves them
        ('{"event":"SESSION_CREATED","datetime":"2026-11-27T10:00:00+00:00"}', False),
        # an escape in the name, two "event" members, a nested one: decoded to be sure
        ('{"event":"authz\\u005ffail","datetime":"2026-11-27T10:00:00+00:00"}', True),
        (
            '{"extra":{"event":"session_created"},"event":"authz_fail",'
            '"datetime":"2026-11-27T10:00:00+00:00"}',
            True,
        ),
        ('{"kind":"event","event":"authz_fail","datetime":"2026-11-27T10:00:00+00:00"}', True),
        # no "event" member at all, not JSON: decoded, so counted as parse() counts them
        ('{"datetime":"2026-11-27T10:00:00+00:00"}', True),
        ("not json", True),
    ],
)
def test_a_line_is_left_out_only_when_its_event_is_known_for_certain(
    line: str, decoded: bool
) -> None:
    want, full = _full([line])
    got, stats = _blocks([line], _types("authz_fail"))
    assert stats.unused == (0 if decoded else 1)
    assert [e.to_dict() for e in got] == [e.to_dict() for e in want if e.event == "authz_fail"]
    if decoded:
        assert stats.malformed == full.malformed


def test_names_from_the_log_do_not_grow_the_memo_without_bound() -> None:
    lines = [
        f'{{"event":"unknown_{n}","datetime":"2026-11-27T10:00:00+00:00"}}' for n in range(5000)
    ]
    lines += ['{"event":"session_created","datetime":"2026-11-27T10:00:00+00:00"}'] * 3
    parser = OwaspJsonParser()
    parser.restrict(_types("authz_fail"))
    stats = ParseStats()
    assert parser.parse_block("\n".join(lines), "log", stats) == []
    assert len(parser._usable) <= 4096
    assert stats.unused == 3 and stats.skipped == len(lines)


def test_a_replay_raises_the_alerts_of_every_event_decoded(tmp_path: Path) -> None:
    log = gen.generate_owasp(3, users=40, nat_users=10, hours=4)
    path = tmp_path / "app.jsonl"
    path.write_text("\n".join(log.lines) + "\n")
    rules = load_rules([])

    result = replay(rules, [str(path)])

    engine = Engine(rules)
    stats = ParseStats()
    alerts = []
    for event in parse_lines(OwaspJsonParser(), log.lines, str(path), stats):
        alerts += engine.process(event)
    assert result.alerts, "the generated log holds attacks"
    assert [a.to_dict() for a in result.alerts] == [a.to_dict() for a in alerts]
    assert result.stats.parse.unused > 0  # session events: no built-in rule reads them
    assert result.stats.parse.lines == stats.lines
