from __future__ import annotations

from pathlib import Path

import pytest

from turbosec.events.parsers import (
    PARSERS,
    AccessLogParser,
    OwaspJsonParser,
    SshdParser,
    detect_format,
    get_parser,
)

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "logs"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sshd-auth.log", "sshd"),
        ("sshd-iso.log", "sshd"),
        ("sshd-rfc5424.log", "sshd"),
        ("sshd-journal.json", "sshd"),
        ("nginx-access.log", "access-log"),
        ("apache-access.log", "access-log"),
        ("owasp-events.jsonl", "owasp-json"),
    ],
)
def test_fixtures_are_recognised(name: str, expected: str) -> None:
    lines = (LOGS / name).read_text(errors="replace").splitlines(keepends=True)
    detection = detect_format(lines)
    assert detection.format == expected, detection.explain()
    assert detection.confidence >= 0.75
    assert set(detection.scores) == set(PARSERS)
    assert detection.explain().startswith(f"format {expected} (")


def test_nothing_recognisable() -> None:
    detection = detect_format(["hello world", "", "lorem ipsum"])
    assert detection.format is None
    assert "choose one with --format (owasp-json, sshd, access-log)" in detection.explain()
    assert detect_format([]).format is None


def test_get_parser() -> None:
    assert isinstance(get_parser("sshd", tz=None), SshdParser)
    assert isinstance(get_parser("ACCESS_LOG"), AccessLogParser)
    assert isinstance(get_parser("owasp-json", accept_unknown=True), OwaspJsonParser)
    with pytest.raises(ValueError, match="unknown log format 'syslog'; expected one of"):
        get_parser("syslog")
