"""The sshd parser restricted to what the rules can use: same events, fewer lines read."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest

from turbosec.core.event import SecurityEvent
from turbosec.events.parsers import ParseStats, SshdParser, parse_lines
from turbosec.watch import generate as gen
from turbosec.watch.rules.loader import load_rules

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "logs"
JAIL = Path(__file__).resolve().parents[2] / "src/turbosec/watch/rules/pack/sshd_jail.yml"
NOW = datetime(2027, 1, 5, tzinfo=UTC)
# what the sshd jail counts: failures, not the PAM line that comes with each, no probes
JAIL_KINDS = {"failed", "invalid_user", "not_allowed", "pam_error", "max_attempts"}

CouldUse = Callable[[Mapping[str, str | None]], bool]


def _jail() -> CouldUse:
    return load_rules([JAIL], builtin=False).could_use


def _kinds(*kinds: str) -> CouldUse:
    return lambda known: known.get("extra.sshd_msg") in kinds


def _full(lines: list[str]) -> tuple[list[SecurityEvent], ParseStats]:
    stats = ParseStats()
    events = parse_lines(SshdParser(now=NOW, tz=UTC), lines, "log", stats)
    return events, stats


def _blocks(
    lines: list[str], could_use: CouldUse, size: int = 7
) -> tuple[list[SecurityEvent], ParseStats]:
    parser = SshdParser(now=NOW, tz=UTC)
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


def _wanted(events: list[SecurityEvent], kinds: set[str]) -> list[dict[str, object]]:
    return [e.to_dict() for e in events if e.extra["sshd_msg"] in kinds]


def test_the_jail_rule_keeps_the_failures_fail2ban_counts() -> None:
    parser = SshdParser()
    assert parser.restrict(_jail())
    assert parser._wanted == JAIL_KINDS


@pytest.mark.parametrize("name", ["sshd-auth.log", "sshd-iso.log", "sshd-junk.log"])
@pytest.mark.parametrize("size", [1, 5, 1000])
def test_blocks_give_the_events_the_rules_can_use_and_count_every_line(
    name: str, size: int
) -> None:
    lines = (LOGS / name).read_bytes().decode("utf-8", "replace").split("\n")
    want, full = _full(lines)
    got, stats = _blocks(lines, _jail(), size)
    assert [e.to_dict() for e in got] == _wanted(want, JAIL_KINDS)
    assert stats.lines == full.lines == len(lines)
    assert stats.events == len(got)
    assert stats.events + stats.skipped + stats.malformed == stats.lines
    assert stats.unused <= stats.skipped
    # the malformed lines it notices are those among the lines it reads
    assert stats.malformed <= full.malformed


def test_a_generated_auth_log_gives_the_same_alerting_events() -> None:
    log = gen.generate_sshd(5, hours=6, lines=6000)
    want, full = _full(log.lines)
    for kinds in (JAIL_KINDS, {"accepted", "failed"}, {"pam_auth_failure"}, set()):
        got, stats = _blocks(log.lines, _kinds(*kinds), size=500)
        assert [e.to_dict() for e in got] == _wanted(want, kinds), kinds
        assert stats.lines == full.lines
        assert stats.malformed == 0
        assert stats.skipped == stats.lines - len(got)
        assert stats.unused >= full.events - len(got)


@pytest.mark.parametrize(
    "line",
    [
        "Nov 27 10:00:01 host sshd[7]: Failed password for root from 203.0.113.9 port 5 ssh2",
        "Nov 27 10:00:01 host sshd[7]: Failed password for invalid user x from 1.2.3.4 port 5 ssh2",
        "Nov 27 10:00:01 host sshd[7]: Failed publickey for a from ::ffff:1.2.3.4 port 5 ssh2: "
        "RSA SHA256:abc",
        "Nov 27 10:00:01 host sshd[7]: Failed password for x from 198.51.100.1 port 22 from "
        "203.0.113.9 port 5 ssh2",
        "Nov  7 10:00:01 host sshd-session[7]: Failed none for b from 2001:db8::1 port 5",
        "Nov 27 10:00:01 host: sshd[7]: Failed password for root from 203.0.113.9 port 5 ssh2",
        "Nov 27 10:00:01 sshd[7]: Failed password for root from 203.0.113.9 port 5 ssh2",
        "Nov 27 10:00:60 host sshd[7]: Failed password for root from 203.0.113.9 port 5 ssh2",
        "Foo 27 10:00:01 host sshd[7]: Failed password for root from 203.0.113.9 port 5 ssh2",
        "Nov 27 10:00:01 host sshd[7]: Failed password for root from 203.0.113.9 port x ssh2",
        "Nov 27 10:00:01 host sshd[7]: Failed password for root from 203.0.113.9 port 5 ssh2\r",
        "Nov 27 10:00:01 host sshd[7]: error: Failed password for r from 203.0.113.9 port 5 ssh2",
        "Nov 27 10:00:01 host sshd[7]: message repeated 3 times: [ Failed password for r from "
        "203.0.113.9 port 5 ssh2]",
        "Nov 27 10:00:01 host sshd[7]: pam_unix(sshd:auth): authentication failure; rhost=1.2.3.4",
        "Nov 27 10:00:01 host cron[7]: Failed password for root from 203.0.113.9 port 5 ssh2",
        "2026-11-27T10:00:01+01:00 host sshd[7]: Failed password for r from 1.2.3.4 port 5 ssh2",
    ],
)
def test_each_line_reads_as_the_line_parser_reads_it(line: str) -> None:
    kinds = {"failed", "pam_auth_failure"}
    for neighbours in ([], ["Nov 27 10:00:01 host sshd[7]: Accepted password for a from 1.2.3.4 "
                            "port 5 ssh2"]):  # fmt: skip
        lines = [*neighbours, line, *neighbours]
        want, full = _full(lines)
        got, stats = _blocks(lines, _kinds(*kinds), size=10)
        assert [e.to_dict() for e in got] == _wanted(want, kinds)
        assert (stats.lines, stats.malformed, stats.reasons) == (
            full.lines,
            full.malformed,
            full.reasons,
        )


def test_lines_that_are_not_plain_syslog_are_left_to_the_line_by_line_way() -> None:
    parser = SshdParser()
    stats = ParseStats()
    assert parser.parse_block("x", "log", stats) is None  # not restricted
    assert parser.restrict(_jail())
    for name in ("sshd-journal.json", "sshd-rfc5424.log"):
        text = (LOGS / name).read_text(encoding="utf-8").rstrip("\n")
        assert parser.parse_block(text, name, stats) is None, name
    assert parser.parse_block("Nov 27 10:00:01 host sshd[7]: \x00", "log", stats) is None
    assert stats.lines == 0


def test_the_line_parser_restricted_leaves_out_what_no_rule_uses() -> None:
    lines = (LOGS / "sshd-auth.log").read_text(encoding="utf-8").split("\n")
    want, _ = _full(lines)
    parser = SshdParser(now=NOW, tz=UTC)
    parser.restrict(_jail())
    stats = ParseStats()
    got = parse_lines(parser, lines, "log", stats)
    assert [e.to_dict() for e in got] == _wanted(want, JAIL_KINDS)
