"""Global CLI options and the consoles they configure."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from turbosec.core.errors import TurbosecError


@dataclass
class AppState:
    config_path: Path | None = None
    verbose: bool = False
    quiet: bool = False
    no_color: bool = False
    _out: Console | None = field(default=None, repr=False)
    _err: Console | None = field(default=None, repr=False)

    @property
    def color_disabled(self) -> bool:
        return self.no_color or bool(os.environ.get("NO_COLOR"))

    def console(self, *, stderr: bool = False) -> Console:
        if stderr:
            if self._err is None:
                self._err = Console(
                    stderr=True, no_color=self.color_disabled, highlight=False, soft_wrap=True
                )
            return self._err
        if self._out is None:
            self._out = Console(no_color=self.color_disabled, highlight=False)
        return self._out

    def report_error(self, exc: BaseException) -> None:
        """One readable paragraph; the traceback only with -v."""
        err = self.console(stderr=True)
        if self.verbose:
            err.print_exception(show_locals=False)
        if isinstance(exc, TurbosecError):
            text = exc.diagnostics()
        else:
            text = (
                f"internal error: {type(exc).__name__}: {exc}\n"
                "Hint: run again with -v for the traceback and report it as a bug."
            )
        err.print(f"[bold red]error:[/bold red] {_escape(text)}")


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def is_ci() -> bool:
    return bool(os.environ.get("CI")) or not sys.stderr.isatty()
