"""CVSS v3.x base scores and advisory severities."""

from __future__ import annotations

import pytest

from turbosec.core.severity import Severity
from turbosec.scan.deps.cvss import advisory_severity, base_score, base_score_v3
from turbosec.scan.deps.osv import parse_advisory

# Scores from the FIRST CVSS v3.1 / v3.0 calculators and specification examples.
KNOWN = {
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H": 9.8,
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N": 6.1,
    "CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N": 5.5,
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H": 10.0,
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N": 0.0,
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H": 7.5,
    "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N": 5.9,
    "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N": 6.4,
    "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H": 7.8,
    "CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H": 8.8,
    "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:C/C:H/I:H/A:H/E:P/RL:O": 9.1,
}


@pytest.mark.parametrize(("vector", "score"), KNOWN.items())
def test_known_scores(vector: str, score: float) -> None:
    assert base_score(vector) == score
    assert base_score_v3(vector) == score


@pytest.mark.parametrize(
    "vector",
    [
        "",
        "CVSS:3.1",
        "CVSS:3.2/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H",  # A missing
        "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/ZZ:1",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A",
        "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "nonsense",
    ],
)
def test_malformed_vectors_raise_value_error(vector: str) -> None:
    with pytest.raises(ValueError):
        base_score(vector)


def test_v2_and_v4_are_not_scored() -> None:
    assert base_score("AV:N/AC:L/Au:N/C:P/I:P/A:P") is None
    assert base_score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N") is None


def test_advisory_severity_from_vector_then_database_specific() -> None:
    adv = parse_advisory(
        {
            "id": "T-1",
            "modified": "x",
            "severity": [
                {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"},
                {
                    "type": "CVSS_V4",
                    "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                },
            ],
            "database_specific": {"severity": "CRITICAL"},
        }
    )
    assert advisory_severity(adv) is Severity.MEDIUM  # 6.1 from the vector wins
    assert (
        advisory_severity(
            parse_advisory(
                {"id": "T", "modified": "x", "database_specific": {"severity": "MODERATE"}}
            )
        )
        is Severity.MEDIUM
    )
    per_pkg = parse_advisory(
        {
            "id": "T",
            "modified": "x",
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": "a"},
                    "database_specific": {"severity": "HIGH"},
                }
            ],
        }
    )
    assert advisory_severity(per_pkg) is Severity.HIGH
    assert advisory_severity(parse_advisory({"id": "T", "modified": "x"})) is None
    critical = parse_advisory(
        {
            "id": "T",
            "modified": "x",
            "severity": [
                {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}
            ],
        }
    )
    assert advisory_severity(critical) is Severity.CRITICAL
