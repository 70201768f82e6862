"""Errors a user can cause or meet, each able to explain itself.

Every error carries *what* went wrong, *where* (a file, a scanner, a key) and a *hint*
saying what to do next.  The CLI prints :meth:`TurbosecError.diagnostics` as one
paragraph and maps the error to exit code 2.
"""

from __future__ import annotations


class TurbosecError(Exception):
    """Base class of every error turbosec reports to a user."""

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def diagnostics(self) -> str:
        parts = []
        if self.where:
            parts.append(f"{self.where}: {self.message}")
        else:
            parts.append(self.message)
        if self.hint:
            parts.append(f"Hint: {self.hint}")
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.diagnostics()


class UsageError(TurbosecError):
    """The command line asked for something impossible."""


class ConfigError(TurbosecError):
    """The configuration file is malformed or names an unknown key."""


class ScannerError(TurbosecError):
    """A scanner is missing, crashed, timed out or printed output that cannot be parsed."""

    def __init__(
        self,
        scanner: str,
        message: str,
        *,
        hint: str | None = None,
        stderr_tail: str | None = None,
        where: str | None = None,
    ) -> None:
        super().__init__(message, where=where or f"scanner {scanner}", hint=hint)
        self.scanner = scanner
        self.stderr_tail = stderr_tail

    def diagnostics(self) -> str:
        text = super().diagnostics()
        if self.stderr_tail:
            tail = "\n".join("    " + line for line in self.stderr_tail.splitlines())
            text = f"{text}\n  last lines of its error output:\n{tail}"
        return text


class ParseError(TurbosecError):
    """A report or tool output could not be understood."""

    def __init__(self, tool: str, source: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(
            message,
            where=f"{tool} output {source}",
            hint=hint or f"check that {source} is a complete {tool} report in the expected format",
        )
        self.tool = tool
        self.source = source
