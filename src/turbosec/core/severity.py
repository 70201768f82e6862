"""Severity levels and their mapping from each supported tool's vocabulary."""

from __future__ import annotations

import enum
import math


class Severity(enum.IntEnum):
    """Ordered severities: ``CRITICAL > HIGH > MEDIUM > LOW > INFO``."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    def __str__(self) -> str:
        return self.name.lower()

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str | Severity) -> Severity:
        """Parse a severity name as turbosec writes it (case-insensitive)."""
        if isinstance(value, Severity):
            return value
        key = str(value).strip().upper()
        aliases = {"INFORMATIONAL": "INFO", "NOTE": "INFO", "NONE": "INFO", "MODERATE": "MEDIUM"}
        key = aliases.get(key, key)
        try:
            return cls[key]
        except KeyError:
            names = ", ".join(s.label for s in cls)
            raise ValueError(f"unknown severity {value!r}; expected one of {names}") from None

    @classmethod
    def from_cvss(cls, score: float) -> Severity:
        """CVSS v3/v4 qualitative rating: 9.0+ critical, 7.0+ high, 4.0+ medium, 0.1+ low."""
        if math.isnan(score) or score < 0 or score > 10:
            raise ValueError(f"CVSS score out of range 0-10: {score}")
        if score >= 9.0:
            return cls.CRITICAL
        if score >= 7.0:
            return cls.HIGH
        if score >= 4.0:
            return cls.MEDIUM
        if score > 0.0:
            return cls.LOW
        return cls.INFO

    @classmethod
    def from_tool(cls, tool: str, value: str | None, default: Severity | None = None) -> Severity:
        """Map a tool's own severity word to a turbosec severity.

        Unknown words fall back to ``default`` (or MEDIUM): a finding is never dropped
        for an unfamiliar severity.
        """
        fallback = default if default is not None else cls.MEDIUM
        if value is None:
            return fallback
        table = _TOOL_VOCABULARY.get(tool, _GENERIC)
        return table.get(
            str(value).strip().upper(), _GENERIC.get(str(value).strip().upper(), fallback)
        )


_GENERIC: dict[str, Severity] = {
    "CRITICAL": Severity.CRITICAL,
    "HIGH": Severity.HIGH,
    "MEDIUM": Severity.MEDIUM,
    "MODERATE": Severity.MEDIUM,
    "LOW": Severity.LOW,
    "INFO": Severity.INFO,
    "INFORMATIONAL": Severity.INFO,
    "UNKNOWN": Severity.MEDIUM,
    "UNDEFINED": Severity.INFO,
}

_TOOL_VOCABULARY: dict[str, dict[str, Severity]] = {
    # bandit: issue_severity LOW / MEDIUM / HIGH (UNDEFINED for a few plugins)
    "bandit": {
        "HIGH": Severity.HIGH,
        "MEDIUM": Severity.MEDIUM,
        "LOW": Severity.LOW,
        "UNDEFINED": Severity.INFO,
    },
    # semgrep: legacy ERROR / WARNING / INFO, newer CRITICAL / HIGH / MEDIUM / LOW, INVENTORY
    "semgrep": {
        "ERROR": Severity.HIGH,
        "WARNING": Severity.MEDIUM,
        "INFO": Severity.LOW,
        "INVENTORY": Severity.INFO,
        "EXPERIMENT": Severity.INFO,
        "CRITICAL": Severity.CRITICAL,
        "HIGH": Severity.HIGH,
        "MEDIUM": Severity.MEDIUM,
        "LOW": Severity.LOW,
    },
    # SARIF result.level
    "sarif": {
        "ERROR": Severity.HIGH,
        "WARNING": Severity.MEDIUM,
        "NOTE": Severity.LOW,
        "NONE": Severity.INFO,
    },
    # zizmor determinations.severity: Unknown / Informational / Low / Medium / High
    "zizmor": {
        "HIGH": Severity.HIGH,
        "MEDIUM": Severity.MEDIUM,
        "LOW": Severity.LOW,
        "INFORMATIONAL": Severity.INFO,
        "UNKNOWN": Severity.MEDIUM,
    },
    # checkov: CRITICAL / HIGH / MEDIUM / LOW / INFO (null without a platform key)
    "checkov": dict(_GENERIC),
    # trivy: UNKNOWN / LOW / MEDIUM / HIGH / CRITICAL
    "trivy": dict(_GENERIC),
    # osv / GHSA database_specific.severity: LOW / MODERATE / HIGH / CRITICAL
    "osv": dict(_GENERIC),
}
