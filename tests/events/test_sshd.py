from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from turbosec.core.event import Level, SecurityEvent
from turbosec.events.parsers import MalformedLine, ParseStats, SshdParser, parse_file

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "logs"
NEW_YEAR = datetime(2027, 1, 5, tzinfo=UTC)


def _parse(name: str, parser: SshdParser) -> tuple[list[SecurityEvent], ParseStats]:
    stats = ParseStats()
    events = list(parse_file(parser, LOGS / name, stats, source=name))
    return events, stats


def _row(event: SecurityEvent) -> tuple[object, ...]:
    return (
        int(str(event.source).rsplit(":", 1)[1]),
        event.time.strftime("%Y-%m-%d %H:%M:%S"),
        event.event_string,
        event.source_ip,
        event.extra["sshd_msg"],
    )


# line, time (UTC), event, source_ip, sshd_msg -- every mapped message of the module docstring
AUTH_LOG = [
    (2, "2026-12-31 23:58:02", "authn_login_fail:admin", "203.0.113.7", "invalid_user"),
    (4, "2026-12-31 23:58:02", "authn_login_fail", "203.0.113.7", "pam_auth_failure"),
    (5, "2026-12-31 23:58:04", "authn_login_fail:admin", "203.0.113.7", "failed"),
    (6, "2026-12-31 23:58:07", "sshd_preauth_disconnect:admin", "203.0.113.7", "connection_closed"),
    (7, "2026-12-31 23:59:10", "authn_login_fail:root", "198.51.100.23", "pam_auth_failure"),
    (8, "2026-12-31 23:59:12", "authn_login_fail:root", "198.51.100.23", "failed"),
    (9, "2026-12-31 23:59:20", "authn_login_fail:root", "198.51.100.23", "failed"),
    (10, "2026-12-31 23:59:21", "authn_login_fail_max:root", "198.51.100.23", "max_attempts"),
    (
        11,
        "2026-12-31 23:59:21",
        "sshd_preauth_disconnect:root",
        "198.51.100.23",
        "too_many_failures",
    ),
    (13, "2027-01-01 00:00:03", "authn_login_success:alice", "192.0.2.10", "accepted"),
    (15, "2026-12-31 23:59:59", "sshd_preauth_disconnect", "198.51.100.24", "connection_closed"),
    (16, "2027-01-01 00:00:09", "authn_login_success:bob", "2001:db8:10::42", "accepted"),
    (17, "2027-01-01 00:01:00", "authn_login_fail:carol", "192.0.2.33", "failed"),
    (18, "2027-01-01 00:01:05", "authn_login_fail:test", "2001:db8::bad:1", "failed"),
    (19, "2027-01-01 00:01:07", "authn_login_fail:ubnt", "203.0.113.99", "failed"),
    (20, "2027-01-01 00:02:00", "sshd_preauth_disconnect:ubnt", "203.0.113.99", "disconnected"),
    (21, "2027-01-01 00:02:01", "sshd_preauth_disconnect:root", "203.0.113.8", "disconnected"),
    (22, "2027-01-01 00:02:02", "sshd_preauth_disconnect", "203.0.113.8", "received_disconnect"),
    (25, "2027-01-01 00:03:00", "sshd_probe", "203.0.113.50", "no_identification"),
    (27, "2027-01-01 00:03:01", "sshd_probe", "203.0.113.51", "banner_exchange"),
    (28, "2027-01-01 00:03:02", "sshd_probe", "203.0.113.52", "no_matching_algorithm"),
    (29, "2027-01-01 00:03:03", "sshd_probe", "2001:db8::52", "no_matching_algorithm"),
    (30, "2027-01-01 00:03:10", "authn_login_fail:carol", "192.0.2.33", "pam_error"),
    (31, "2027-01-01 00:03:11", "authn_login_fail:guest", "203.0.113.60", "pam_error"),
    (32, "2027-01-01 00:03:12", "authn_login_fail:root", "203.0.113.61", "not_allowed"),
    (33, "2027-01-01 00:03:13", "sshd_preauth_disconnect:root", "203.0.113.62", "connection_reset"),
    (34, "2027-01-01 00:03:14", "sshd_preauth_disconnect", "203.0.113.63", "timeout"),
    (35, "2027-01-01 00:03:15", "authn_login_fail:", "203.0.113.64", "invalid_user"),
    (
        36,
        "2027-01-01 00:03:16",
        "authn_login_fail:x from 198.51.100.1 port 22 ssh2",
        "203.0.113.65",
        "failed",
    ),
    (37, "2027-01-01 00:03:17", "authn_login_fail:root", "203.0.113.66", "failed"),
    (41, "2027-01-01 00:03:21", "sshd_probe", "203.0.113.67", "bad_version"),
    (
        42,
        "2027-01-01 00:03:22",
        "sshd_preauth_disconnect:admin",
        "203.0.113.68",
        "connection_closed",
    ),
    (43, "2027-01-01 00:03:23", "authn_login_fail:support", "203.0.113.69", "invalid_user"),
    (44, "2027-01-01 00:03:24", "sshd_probe", "203.0.113.70", "version_mismatch"),
]


def test_auth_log_maps_every_message() -> None:
    events, stats = _parse("sshd-auth.log", SshdParser(now=NEW_YEAR, tz=UTC))
    assert [_row(e) for e in events] == AUTH_LOG
    assert stats.lines == 45
    assert stats.skipped == 45 - len(AUTH_LOG)
    assert stats.malformed == 0


def test_auth_log_details() -> None:
    events, _ = _parse("sshd-auth.log", SshdParser(now=NEW_YEAR, tz=UTC))
    by_line = {int(str(e.source).rsplit(":", 1)[1]): e for e in events}
    invalid = by_line[2]
    assert invalid.user == "admin"
    assert invalid.args == ("admin",)
    assert invalid.level is Level.WARN
    assert invalid.hostname == "bastion"
    assert invalid.appid == "sshd"
    assert invalid.description == "Invalid user admin from 203.0.113.7 port 50122"
    assert invalid.raw == (LOGS / "sshd-auth.log").read_text().splitlines()[1]
    assert invalid.extra == {
        "sshd_msg": "invalid_user",
        "port": 50122,
        "invalid_user": True,
        "program": "sshd",
        "pid": 2101,
    }
    assert by_line[4].user is None and by_line[4].args == ()
    assert by_line[5].extra["auth_method"] == "password"
    assert by_line[5].extra["invalid_user"] is True
    assert by_line[8].extra.get("invalid_user") is None
    assert by_line[9].repeat == 5
    assert by_line[10].level is Level.WARN
    assert by_line[13].extra["auth_method"] == "publickey"
    assert by_line[13].level is Level.INFO
    assert by_line[17].extra["auth_method"] == "publickey"
    assert by_line[18].extra["auth_method"] == "keyboard-interactive/pam"
    assert by_line[19].extra["auth_method"] == "none"
    assert by_line[20].extra["invalid_user"] is True
    assert by_line[22].extra["detail"] == "11: Bye Bye"
    assert by_line[28].extra["detail"] == "key exchange method"
    assert by_line[29].extra["detail"] == "host key type"
    assert by_line[31].extra["invalid_user"] is True
    assert by_line[32].extra["detail"] == "not listed in AllowUsers"
    assert by_line[35].user == ""
    assert by_line[43].extra.get("port") is None


def test_a_user_name_cannot_blame_another_address() -> None:
    parser = SshdParser(now=NEW_YEAR, tz=UTC)
    forged = [
        "Failed password for invalid user a from 198.51.100.1 port 22 ssh2 from 203.0.113.5 "
        "port 4000 ssh2",
        "Invalid user b from 198.51.100.1 port 22 from 203.0.113.5 port 4000",
        "Connection closed by invalid user c 198.51.100.1 port 22 [preauth] 203.0.113.5 "
        "port 4000 [preauth]",
        "User d from 198.51.100.1 not allowed because x from 203.0.113.5 not allowed because "
        "not listed in AllowUsers",
    ]
    for message in forged:
        event = parser.parse(f"Jan  1 00:00:00 h sshd[1]: {message}", "x")
        assert event is not None, message
        assert event.source_ip == "203.0.113.5", message


def test_iso_syslog_and_sshd_session() -> None:
    events, stats = _parse("sshd-iso.log", SshdParser())
    assert stats.malformed == 0
    assert [(e.time.isoformat(), e.event_string, e.source_ip) for e in events] == [
        ("2026-11-27T10:00:01.104812+00:00", "authn_login_fail:oracle", "2001:db8:beef::7"),
        ("2026-11-27T10:00:01.318870+00:00", "authn_login_fail:oracle", "2001:db8:beef::7"),
        (
            "2026-11-27T10:00:03.900112+00:00",
            "sshd_preauth_disconnect:oracle",
            "2001:db8:beef::7",
        ),
        ("2026-11-27T10:00:05.000001+00:00", "authn_login_success:deploy", "192.0.2.200"),
        ("2026-11-27T10:00:08.411000+00:00", "authn_login_fail_max:admin", "203.0.113.78"),
        ("2026-11-27T10:00:08.411090+00:00", "sshd_preauth_disconnect:admin", "203.0.113.78"),
        ("2026-11-27T10:00:09+00:00", "sshd_preauth_disconnect", "2001:db8:beef::8"),
        ("2026-11-27T10:00:10.500000+00:00", "sshd_preauth_disconnect", "2001:db8:beef::9"),
    ]
    assert {e.extra["program"] for e in events} == {"sshd-session"}
    assert all(e.time.tzinfo is UTC for e in events)


def test_rfc5424_and_priority_prefixes() -> None:
    events, stats = _parse("sshd-rfc5424.log", SshdParser(now=NEW_YEAR, tz=UTC))
    assert stats.malformed == 0
    assert [
        (e.time.isoformat(), e.event_string, e.hostname, e.extra.get("pid")) for e in events
    ] == [
        ("2026-11-27T10:05:00.123000+00:00", "authn_login_fail:root", "gw", 4242),
        ("2026-11-27T10:05:01.123456+00:00", "authn_login_fail:pi", "gw", 4242),
        ("2026-11-27T10:05:02+00:00", "authn_login_success:alice", "gw", 4243),
    ]


def test_journal_json() -> None:
    events, stats = _parse("sshd-journal.json", SshdParser())
    assert [(e.time.isoformat(), e.event_string, e.source_ip) for e in events] == [
        ("2026-11-27T10:00:01.104812+00:00", "authn_login_fail:postgres", "198.51.100.77"),
        ("2026-11-27T10:00:01.318901+00:00", "authn_login_fail", "198.51.100.77"),
        ("2026-11-27T10:00:03.318870+00:00", "authn_login_fail:postgres", "198.51.100.77"),
        ("2026-11-27T10:00:06+00:00", "authn_login_success:erin", "2001:db8:7::15"),
        ("2026-11-27T10:00:08+00:00", "authn_login_fail:r\ufffdot", "198.51.100.78"),
    ]
    assert events[0].hostname == "db-1"
    assert events[0].extra["pid"] == 51234
    assert events[3].extra["program"] == "sshd-session"
    assert (stats.lines, stats.skipped, stats.malformed) == (8, 2, 1)
    assert stats.reasons == {"invalid JSON": 1}


def test_junk_is_counted_never_fatal() -> None:
    events, stats = _parse("sshd-junk.log", SshdParser(now=NEW_YEAR, tz=UTC))
    assert [e.event_string[:22] for e in events] == [
        "authn_login_fail:root",
        "authn_login_fail:\ufffd\ufffdadm",
        "authn_login_success:al",
    ]
    assert stats.lines == 11
    assert stats.malformed == 6
    assert stats.reasons == {
        "not a syslog line": 1,
        "bad syslog timestamp": 1,
        "invalid date in syslog timestamp": 1,
        "unreadable sshd 'Failed' message": 1,
        "binary data (NUL byte)": 1,
        "line longer than 64 KiB": 1,
    }
    long_sample = next(s for s in stats.samples if s.reason == "line longer than 64 KiB")
    assert long_sample.source == "sshd-junk.log:7"
    assert len(long_sample.line) < 300


def _year_of(parser: SshdParser, stamp: str) -> int:
    event = parser.parse(f"{stamp} h sshd[1]: Invalid user x from 192.0.2.1 port 1", "x")
    assert event is not None
    return event.time.year


def test_year_inference_from_the_reference_time() -> None:
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert _year_of(SshdParser(now=now, tz=UTC), "Nov 27 10:00:00") == 2026
    assert _year_of(SshdParser(now=now, tz=UTC), "Nov 28 23:00:00") == 2026  # clock skew
    assert _year_of(SshdParser(now=now, tz=UTC), "Dec  1 00:00:00") == 2025
    assert _year_of(SshdParser(now=now, tz=UTC), "Jan  1 00:00:00") == 2026
    leap = datetime(2027, 3, 1, tzinfo=UTC)
    assert _year_of(SshdParser(now=leap, tz=UTC), "Feb 29 10:00:00") == 2024


def test_year_follows_the_file() -> None:
    parser = SshdParser(now=datetime(2027, 6, 1, tzinfo=UTC), tz=UTC)
    years = [
        _year_of(parser, stamp)
        for stamp in (
            "Nov 30 10:00:00",  # 2026: Nov 30 2027 would be in the future
            "Dec 31 23:59:59",
            "Jan  1 00:00:01",  # new year
            "Dec 31 23:59:58",  # late line of the old year
            "Mar 31 23:59:59",
            "Apr  1 00:00:00",
            "Mar 31 23:59:59",  # late line, same year
            "Jan  2 00:00:00",  # a month going back by more than one: another new year
        )
    ]
    assert years == [2026, 2026, 2027, 2026, 2027, 2027, 2027, 2028]


def test_local_time_zone_of_traditional_timestamps() -> None:
    berlin = SshdParser(now=NEW_YEAR, tz=ZoneInfo("Europe/Berlin"))
    line = "Jul  1 10:00:00 h sshd[1]: Invalid user x from 192.0.2.1 port 1"
    event = berlin.parse(line, "x")
    assert event is not None
    assert event.time == datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
    assert event.time.tzinfo is UTC


@pytest.fixture
def new_york() -> Iterator[None]:
    import os

    old = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()


def test_machine_local_zone_by_default(new_york: None) -> None:
    parser = SshdParser(now=datetime(2026, 12, 1))
    winter = parser.parse("Nov 27 10:00:00 h sshd[1]: Invalid user x from 192.0.2.1", "x")
    summer = parser.parse("Nov 30 10:00:00 h sshd[1]: Invalid user x from 192.0.2.1", "x")
    assert winter is not None and summer is not None
    assert winter.time == datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    july = SshdParser(now=datetime(2026, 12, 1)).parse(
        "Jul  1 10:00:00 h sshd[1]: Invalid user x from 192.0.2.1", "x"
    )
    assert july is not None and july.time == datetime(2026, 7, 1, 14, 0, tzinfo=UTC)


def test_ipv4_mapped_addresses_are_unwrapped_and_hostnames_kept_aside() -> None:
    parser = SshdParser(now=NEW_YEAR, tz=UTC)
    pam = parser.parse(
        "Jan  1 00:00:00 h sshd[1]: pam_unix(sshd:auth): authentication failure; logname= "
        "uid=0 euid=0 tty=ssh ruser= rhost=scanner.example.net  user=root",
        "x",
    )
    assert pam is not None
    assert pam.source_ip is None
    assert pam.extra["detail"] == "rhost=scanner.example.net"
    assert pam.user == "root"
    mapped = parser.parse(
        "Jan  1 00:00:00 h sshd[1]: Failed password for root from ::ffff:192.0.2.7 port 1 ssh2",
        "x",
    )
    assert mapped is not None and mapped.source_ip == "192.0.2.7"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("<1234567>Nov 27 10:00:00 h sshd[1]: Invalid user x from 192.0.2.1", "priority"),
        ("2026-13-40T10:00:00Z h sshd[1]: Invalid user x from 192.0.2.1", "ISO 8601"),
        ("<38>1 2026-11-27T10:00:00Z h sshd", "truncated RFC 5424"),
        ("<38>1 - h sshd 1 - - Invalid user x from 192.0.2.1", "without a timestamp"),
        ('<38>1 2026-11-27T10:00:00Z h sshd 1 - [a b="c" Invalid', "unterminated"),
        ("Nov 27 10:00:00 h sshd[1]: Invalid user x", "Invalid user"),
        ('{"SYSLOG_IDENTIFIER": "sshd", "MESSAGE": "Invalid user x from 192.0.2.1"}', "REALTIME"),
        ('{"SYSLOG_IDENTIFIER": "sshd", "__REALTIME_TIMESTAMP": "1"}', "without MESSAGE"),
        ('["sshd"]', "not a syslog line"),
        ('{"SYSLOG_IDENTIFIER": "sshd", ', "invalid JSON"),
        ('{"SYSLOG_IDENTIFIER": "sshd", "MESSAGE": 42}', "without MESSAGE"),
    ],
)
def test_malformed_lines(line: str, reason: str) -> None:
    with pytest.raises(MalformedLine, match=reason):
        SshdParser(now=NEW_YEAR, tz=UTC).parse(line, "x")


def test_other_programs_and_unmapped_messages_are_skipped() -> None:
    parser = SshdParser(now=NEW_YEAR, tz=UTC)
    for line in (
        "Nov 27 10:00:00 h CRON[1]: pam_unix(cron:session): session closed for user root",
        "Nov 27 10:00:00 h sudo: joe : TTY=pts/0 ; PWD=/home/joe ; USER=root ; COMMAND=/bin/ls",
        "Nov 27 10:00:00 h sshd[1]: Accepted key ED25519 SHA256:abc found at /etc/keys:1",
        "Nov 27 10:00:00 h sshd[1]: Connection from 192.0.2.1 port 1 on 10.0.0.1 port 22",
        "Nov 27 10:00:00 h sshd[1]: message repeated 2 times: [ Server listening on :: port 22.]",
        "Nov 27 10:00:00 h sshd_audit[1]: something sshd-ish",
        "Nov 27 10:00:00 sshd-host kernel: [ 1.0] sshd mention without a tag",
    ):
        assert parser.parse(line, "x") is None, line


def test_detect() -> None:
    parser = SshdParser()
    auth = (LOGS / "sshd-auth.log").read_text().splitlines()
    assert parser.detect(auth) == 1.0
    journal = (LOGS / "sshd-journal.json").read_text().splitlines()
    assert parser.detect(journal) == pytest.approx(7 / 8)
    cron_only = ["Nov 27 10:00:00 h CRON[1]: pam_unix(cron:session): session closed"] * 4
    assert parser.detect(cron_only) == pytest.approx(0.9)
    assert parser.detect(['{"event": "authn_login_fail:joe"}']) == 0.0
    assert parser.detect([]) == 0.0
