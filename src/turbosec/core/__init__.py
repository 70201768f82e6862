"""Shared domain model: findings, severities, locations, fingerprints, config, errors."""

from turbosec.core.errors import ConfigError, ScannerError, TurbosecError, UsageError
from turbosec.core.finding import (
    BaselineState,
    Category,
    Confidence,
    Finding,
    Location,
    Package,
    Suppression,
)
from turbosec.core.severity import Severity

__all__ = [
    "BaselineState",
    "Category",
    "Confidence",
    "ConfigError",
    "Finding",
    "Location",
    "Package",
    "ScannerError",
    "Severity",
    "Suppression",
    "TurbosecError",
    "UsageError",
]
