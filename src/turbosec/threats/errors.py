"""Errors of the threat-model capability: each names the file and line it is about."""

from __future__ import annotations

from turbosec.core.errors import TurbosecError


class ModelError(TurbosecError):
    """A threat model file is malformed: unknown key, dangling reference, duplicate id, bad
    value.  ``file`` and ``line`` say where (line 0 when the whole file is at fault)."""

    def __init__(self, file: str, line: int, message: str, *, hint: str | None = None) -> None:
        where = f"{file}:{line}" if line else file
        super().__init__(message, where=where, hint=hint)
        self.file = file
        self.line = line


class RuleError(TurbosecError):
    """A threat rule file is malformed or a condition names an unknown attribute."""

    def __init__(
        self,
        file: str,
        message: str,
        *,
        rule: str | None = None,
        line: int = 0,
        hint: str | None = None,
    ) -> None:
        where = f"{file}:{line}" if line else file
        if rule:
            where += f" (rule {rule})"
        super().__init__(message, where=where, hint=hint)
        self.file = file
        self.rule = rule
        self.line = line


class EvidenceError(TurbosecError):
    """Evidence could not be gathered: pytest could not collect, a JUnit file is unreadable."""
