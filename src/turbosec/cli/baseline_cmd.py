"""``turbosec baseline``: record today's findings so the gate judges only new ones."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from turbosec.cli.progress import PlainProgress
from turbosec.cli.state import AppState
from turbosec.core.config import load_config
from turbosec.scan.baseline import DEFAULT_PATH, Baseline, load_baseline
from turbosec.scan.runner import ScanRequest, run_scan

app = typer.Typer(help="Create, update and show the findings baseline.", no_args_is_help=True)

PathArg = Annotated[Path, typer.Argument(help="Repository root.")]
FileOpt = Annotated[
    Path | None,
    typer.Option(
        "--file", help="Baseline file (default: PATH/.turbosec/baseline.json).", dir_okay=False
    ),
]
OnlyOpt = Annotated[
    list[str] | None, typer.Option("--scanner", "-s", help="Run only this scanner. Repeatable.")
]
SkipOpt = Annotated[list[str] | None, typer.Option("--skip", help="Do not run this scanner.")]


def _scan_to_baseline(
    state: AppState, path: Path, file: Path, only: list[str] | None, skip: list[str] | None
) -> Baseline | None:
    config = load_config(state.config_path, path).config
    request = ScanRequest(root=path, config=config, only=tuple(only or ()), skip=tuple(skip or ()))
    with PlainProgress(state.console(stderr=True), quiet=state.quiet) as listener:
        outcome = run_scan(request, listener)
    if outcome.failures:
        for failure in outcome.failures:
            state.report_error(failure)
        state.console(stderr=True).print(
            "baseline not written: a scanner failed, and a partial baseline would hide its "
            "findings later",
            markup=False,
        )
        return None
    return Baseline.from_findings(outcome.report.findings, source=str(file))


@app.command("create")
def create(
    ctx: typer.Context,
    path: PathArg = Path("."),
    file: FileOpt = None,
    only: OnlyOpt = None,
    skip: SkipOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing baseline.")] = False,
) -> int:
    """Scan and record every current (unsuppressed) finding as known."""
    state: AppState = ctx.obj
    target = file or path / DEFAULT_PATH
    if target.exists() and not force:
        state.console(stderr=True).print(
            f"error: {target} exists; use `turbosec baseline update` or --force", markup=False
        )
        return 2
    baseline = _scan_to_baseline(state, path, target, only, skip)
    if baseline is None:
        return 2
    baseline.save(target)
    state.console().print(
        f"baseline written: {target} ({len(baseline.entries)} findings)", markup=False
    )
    return 0


@app.command("update")
def update(
    ctx: typer.Context,
    path: PathArg = Path("."),
    file: FileOpt = None,
    only: OnlyOpt = None,
    skip: SkipOpt = None,
) -> int:
    """Scan again and replace the baseline, saying what was added and what was fixed."""
    state: AppState = ctx.obj
    target = file or path / DEFAULT_PATH
    old = load_baseline(target) if target.exists() else None
    baseline = _scan_to_baseline(state, path, target, only, skip)
    if baseline is None:
        return 2
    baseline.save(target)
    before = old.fingerprints if old else frozenset()
    after = baseline.fingerprints
    state.console().print(
        f"baseline updated: {target} ({len(after)} findings; "
        f"{len(after - before)} added, {len(before - after)} no longer present)",
        markup=False,
    )
    return 0


@app.command("show")
def show(
    ctx: typer.Context,
    path: PathArg = Path("."),
    file: FileOpt = None,
    limit: Annotated[int, typer.Option("--limit", help="Entries listed.", min=0)] = 50,
) -> int:
    """Summarise the baseline: counts by severity and tool, then its entries."""
    state: AppState = ctx.obj
    baseline = load_baseline(file or path / DEFAULT_PATH)
    console = state.console()
    console.print(
        f"{baseline.source}: {len(baseline.entries)} findings, created {baseline.created_at}",
        markup=False,
    )
    by_sev = Counter(e.severity for e in baseline.entries)
    by_tool = Counter(e.tool for e in baseline.entries)
    console.print(
        "by severity: "
        + ", ".join(f"{by_sev[s]} {s}" for s in ("critical", "high", "medium", "low", "info")),
        markup=False,
    )
    console.print(
        "by tool: " + ", ".join(f"{n} {t}" for t, n in sorted(by_tool.items())), markup=False
    )
    table = Table("severity", "tool", "rule", "path", "fingerprint", box=None)
    for entry in baseline.entries[:limit]:
        table.add_row(
            entry.severity, entry.tool, entry.rule_id, entry.path or "", entry.fingerprint[:12]
        )
    console.print(table)
    if len(baseline.entries) > limit:
        console.print(f"... and {len(baseline.entries) - limit} more (--limit)", markup=False)
    return 0
