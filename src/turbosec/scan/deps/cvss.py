"""CVSS v3.0 / v3.1 base scores from vector strings, and an advisory's turbosec Severity.

The formula and the ``Roundup`` function follow the FIRST specifications (v3.1 §7.1 and
Appendix A; v3.0 §8.1, whose Roundup is the plain ``ceil(x * 10) / 10``).  v2 and v4.0
vectors are recognised but not scored (:func:`base_score` returns None for them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from turbosec.core.severity import Severity
from turbosec.scan.deps.osv import Advisory

_WEIGHTS: dict[str, dict[str, float]] = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "PR": {"N": 0.85, "L": 0.62, "H": 0.27},  # L/H change when the scope changes
    "UI": {"N": 0.85, "R": 0.62},
    "S": {"U": 0.0, "C": 0.0},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
    "I": {"H": 0.56, "L": 0.22, "N": 0.0},
    "A": {"H": 0.56, "L": 0.22, "N": 0.0},
}
_PR_CHANGED = {"N": 0.85, "L": 0.68, "H": 0.5}
# Temporal and environmental metrics are allowed in a vector but do not change the base score.
_OPTIONAL: dict[str, set[str]] = {
    "E": {"X", "U", "P", "F", "H"},
    "RL": {"X", "O", "T", "W", "U"},
    "RC": {"X", "U", "R", "C"},
    "CR": {"X", "L", "M", "H"},
    "IR": {"X", "L", "M", "H"},
    "AR": {"X", "L", "M", "H"},
    "MAV": {"X", "N", "A", "L", "P"},
    "MAC": {"X", "L", "H"},
    "MPR": {"X", "N", "L", "H"},
    "MUI": {"X", "N", "R"},
    "MS": {"X", "U", "C"},
    "MC": {"X", "N", "L", "H"},
    "MI": {"X", "N", "L", "H"},
    "MA": {"X", "N", "L", "H"},
}


def _roundup_31(value: float) -> float:
    """CVSS v3.1 Roundup: smallest one-decimal number >= value, free of float noise."""
    int_input = round(value * 100_000)
    if int_input % 10_000 == 0:
        return int_input / 100_000.0
    return (math.floor(int_input / 10_000) + 1) / 10.0


def _roundup_30(value: float) -> float:
    return math.ceil(value * 10) / 10


def parse_vector(vector: str) -> tuple[str, dict[str, str]]:
    """Split a ``CVSS:3.x/...`` vector into its version and metrics (ValueError if malformed)."""
    if not isinstance(vector, str) or not vector.strip():
        raise ValueError("empty CVSS vector")
    parts = vector.strip().split("/")
    head = parts[0]
    if head not in ("CVSS:3.0", "CVSS:3.1"):
        raise ValueError(f"not a CVSS v3.0/v3.1 vector (starts with {head!r}): {vector!r}")
    metrics: dict[str, str] = {}
    for part in parts[1:]:
        key, sep, value = part.partition(":")
        if not sep or not key or not value:
            raise ValueError(f"malformed metric {part!r} in CVSS vector {vector!r}")
        if key in metrics:
            raise ValueError(f"metric {key} appears twice in CVSS vector {vector!r}")
        allowed = _WEIGHTS.get(key) or _OPTIONAL.get(key)
        if allowed is None:
            raise ValueError(f"unknown metric {key!r} in CVSS vector {vector!r}")
        if value not in allowed:
            raise ValueError(f"invalid value {value!r} for metric {key} in CVSS vector {vector!r}")
        metrics[key] = value
    missing = [k for k in _WEIGHTS if k not in metrics]
    if missing:
        raise ValueError(f"CVSS vector {vector!r} lacks base metric(s) {', '.join(missing)}")
    return head[5:], metrics


def base_score_v3(vector: str) -> float:
    """The CVSS v3.0/v3.1 base score of ``vector`` (ValueError if malformed)."""
    version, m = parse_vector(vector)
    changed = m["S"] == "C"
    iss = 1 - (1 - _WEIGHTS["C"][m["C"]]) * (1 - _WEIGHTS["I"][m["I"]]) * (
        1 - _WEIGHTS["A"][m["A"]]
    )
    impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 if changed else 6.42 * iss
    pr = (_PR_CHANGED if changed else _WEIGHTS["PR"])[m["PR"]]
    exploitability = (
        8.22 * _WEIGHTS["AV"][m["AV"]] * _WEIGHTS["AC"][m["AC"]] * pr * _WEIGHTS["UI"][m["UI"]]
    )
    if impact <= 0:
        return 0.0
    roundup = _roundup_31 if version == "3.1" else _roundup_30
    if changed:
        return roundup(min(1.08 * (impact + exploitability), 10))
    return roundup(min(impact + exploitability, 10))


def base_score(vector: str) -> float | None:
    """Base score of a v3.x vector; None for v2 and v4.0 vectors (not implemented).

    Raises ValueError for a string that is no CVSS vector of any version.
    """
    text = vector.strip() if isinstance(vector, str) else ""
    if text.startswith("CVSS:4.0/") or (text.startswith("AV:") and "/Au:" in text):
        return None
    return base_score_v3(text)


def advisory_severity(advisory: Advisory) -> Severity | None:
    """The advisory's severity: its highest scorable CVSS v3 vector, else the
    ``database_specific.severity`` word (GHSA vocabulary), else None."""
    scores: list[float] = []
    for sev in advisory.severity:
        if sev.type in ("CVSS_V3", "CVSS_V31", "CVSS_V30"):
            score = base_score(sev.score)
            if score is not None:
                scores.append(score)
    if scores:
        return Severity.from_cvss(max(scores))
    words: list[Mapping[str, object]] = [advisory.database_specific]
    words.extend(a.database_specific for a in advisory.affected)
    for spec in words:
        word = spec.get("severity")
        if isinstance(word, str) and word.strip():
            return Severity.from_tool("osv", word)
    return None
