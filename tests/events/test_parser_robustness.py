"""Whatever a line holds, a parser returns an event, returns None or raises MalformedLine."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from turbosec.core.event import SecurityEvent
from turbosec.events.parsers import (
    AccessLogParser,
    MalformedLine,
    OwaspJsonParser,
    Parser,
    ParseStats,
    SshdParser,
    parse_lines,
)

PREFIXES = [
    "",
    "Nov 27 10:00:00 host sshd[1]: ",
    "Jan  1 00:00:00 host sshd-session[1]: error: ",
    "2026-11-27T10:00:00.1+00:00 host sshd[1]: ",
    "<38>1 2026-11-27T10:00:00Z host sshd 1 - ",
    '{"SYSLOG_IDENTIFIER": "sshd", "__REALTIME_TIMESTAMP": "1", "MESSAGE": "',
    '192.0.2.1 - - [27/Nov/2026:10:00:00 +0000] "',
    '{"datetime": "2026-11-27T10:00:00Z", "event": "authn_login_fail:',
]
WORDS = [
    "Failed password for ",
    "Invalid user ",
    "Accepted publickey for ",
    " from ",
    " port ",
    "22",
    " ssh2",
    " [preauth]",
    "Connection closed by ",
    "message repeated 3 times: [ ",
    "]",
    "pam_unix(sshd:auth): authentication failure; rhost=",
    " user=",
    "203.0.113.9",
    "2001:db8::1",
    '"',
    "\\",
    "\\x22",
    "GET / HTTP/1.1",
    '" 404 1 "-" "',
    "}",
    ",",
    ":",
]
line_strategy = st.builds(
    lambda prefix, parts, tail: prefix + "".join(parts) + tail,
    st.sampled_from(PREFIXES),
    st.lists(st.sampled_from(WORDS), max_size=12),
    st.text(max_size=40),
)


def _check(parser: Parser, line: str) -> None:
    try:
        event = parser.parse(line, "fuzz:1")
    except MalformedLine:
        return
    assert event is None or type(event) is SecurityEvent
    if event is not None:
        assert event.time.tzinfo is UTC
        assert event.source == "fuzz:1"
        event.to_dict()


@settings(max_examples=400, deadline=None)
@given(line_strategy)
def test_parsers_never_crash(line: str) -> None:
    for parser in (
        SshdParser(now=datetime(2026, 12, 1, tzinfo=UTC), tz=UTC),
        AccessLogParser(),
        OwaspJsonParser(accept_unknown=True),
    ):
        _check(parser, line)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=20))
def test_the_driver_never_crashes_on_bytes(chunks: list[bytes]) -> None:
    for parser in (SshdParser(tz=UTC), AccessLogParser(), OwaspJsonParser()):
        stats = ParseStats()
        events = parse_lines(parser, chunks, "fuzz", stats)
        assert stats.lines == len(chunks)
        assert stats.events == len(events)
        assert stats.events + stats.skipped + stats.malformed == stats.lines
