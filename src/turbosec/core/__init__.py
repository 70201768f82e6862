"""Shared domain model: findings, severities, locations, fingerprints, config, errors."""

from turbosec.core.errors import ConfigError, ScannerError, TurbosecError, UsageError
from turbosec.core.finding import Category, Confidence, Finding, Location, Package
from turbosec.core.severity import Severity

__all__ = [
    "Category",
    "Confidence",
    "ConfigError",
    "Finding",
    "Location",
    "Package",
    "ScannerError",
    "Severity",
    "TurbosecError",
    "UsageError",
]
