"""Scanner progress: a live Rich display on a terminal, plain lines in CI and logs."""

from __future__ import annotations

import threading
import time
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.table import Table

from turbosec.core.report import ToolRun, ToolStatus


class PlainProgress:
    """One line when a scanner starts and one when it ends (CI, non-TTY)."""

    def __init__(self, console: Console, quiet: bool = False) -> None:
        self.console = console
        self.quiet = quiet
        self._lock = threading.Lock()

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def started(self, name: str) -> None:
        if not self.quiet:
            with self._lock:
                self.console.print(f"{name}: running", markup=False, highlight=False)

    def finished(self, run: ToolRun) -> None:
        if self.quiet and run.status is not ToolStatus.FAILED:
            return
        with self._lock:
            self.console.print(_describe(run), markup=False, highlight=False)


def _describe(run: ToolRun) -> str:
    if run.status is ToolStatus.FAILED:
        first = (run.error or "").splitlines()[0] if run.error else "failed"
        return f"{run.name}: FAILED after {run.duration_s:.1f}s ({first})"
    verb = "imported" if run.status is ToolStatus.IMPORTED else "done"
    version = f" {run.version}" if run.version else ""
    return f"{run.name}{version}: {verb}, {run.findings} finding(s) in {run.duration_s:.1f}s"


class LiveProgress:
    """A live table: one line per scanner with its state, elapsed time and finding count."""

    def __init__(self, console: Console, names: list[str]) -> None:
        self.console = console
        self._lock = threading.Lock()
        self._state: dict[str, tuple[str, float, ToolRun | None]] = {
            n: ("waiting", 0.0, None) for n in names
        }
        self._live = Live(
            self._render(),
            console=console,
            refresh_per_second=8,
            transient=False,
            get_renderable=self._render,
        )

    def __enter__(self) -> LiveProgress:
        self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._live.__exit__(exc_type, exc, tb)

    def started(self, name: str) -> None:
        with self._lock:
            self._state[name] = ("running", time.monotonic(), None)

    def finished(self, run: ToolRun) -> None:
        with self._lock:
            self._state[run.name] = ("done", 0.0, run)

    def _render(self) -> Table:
        table = Table.grid(padding=(0, 2))
        now = time.monotonic()
        with self._lock:
            items = list(self._state.items())
        for name, (state, since, run) in items:
            if run is not None:
                if run.status is ToolStatus.FAILED:
                    table.add_row(
                        f"[red]✗[/red] {name}", "[red]failed[/red]", f"{run.duration_s:.1f}s"
                    )
                else:
                    table.add_row(
                        f"[green]✓[/green] {name}",
                        f"{run.findings} finding(s)",
                        f"{run.duration_s:.1f}s",
                    )
            elif state == "running":
                table.add_row(f"[yellow]…[/yellow] {name}", "running", f"{now - since:.1f}s")
            else:
                table.add_row(f"  {name}", "waiting", "")
        return table
