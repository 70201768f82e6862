"""``turbosec tools``: install scanners into isolated, pinned environments; list; diagnose."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich import box
from rich.table import Table

from turbosec.cli.state import AppState
from turbosec.core.config import load_config
from turbosec.core.errors import TurbosecError, UsageError
from turbosec.scan import tools

app = typer.Typer(
    help="Scanner programs: install each at its pinned version into its own environment, "
    "list them, and check which ones a scan would run.",
    no_args_is_help=True,
)

NamesArg = Annotated[
    list[str] | None,
    typer.Argument(
        help="Scanners (default: all): " + ", ".join(tools.PINS) + ".", show_default=False
    ),
]

_SOURCE_LABEL = {
    "configured": "configured",
    "managed": "managed",
    "path": "PATH",
    "missing": "missing",
    "builtin": "built in",
}


def _specs(names: list[str] | None) -> list[tools.ToolSpec]:
    chosen = list(dict.fromkeys(names or tools.PINS))
    return [tools.spec_for(name) for name in chosen]  # unknown names: UsageError, exit 2


@app.command("install")
def install(
    ctx: typer.Context,
    names: NamesArg = None,
    pip_arg: Annotated[
        list[str] | None,
        typer.Option(
            "--pip-arg",
            help="Extra argument for pip install, repeatable; offline: "
            "--pip-arg=--no-index --pip-arg=--find-links=DIR.",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Reinstall even when already installed.")
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Seconds each pip install may take.")
    ] = tools.PIP_TIMEOUT_S,
) -> int:
    """Install scanners at their pinned versions, each into its own environment."""
    state: AppState = ctx.obj
    specs = _specs(names)
    out = state.console()
    err = state.console(stderr=True)
    home = tools.tools_home()
    failed: list[str] = []
    for spec in specs:
        if not state.quiet:
            err.print(f"{spec.name}: installing {spec.requirement} into {home} ...", markup=False)
        try:
            result = tools.install(
                spec, pip_args=tuple(pip_arg or ()), force=force, home=home, timeout=timeout
            )
        except TurbosecError as exc:
            state.report_error(exc)
            failed.append(spec.name)
            continue
        if result.already:
            out.print(
                f"{spec.name} {spec.version} already installed: {result.executable} "
                "(--force reinstalls)",
                markup=False,
                soft_wrap=True,
            )
        else:
            out.print(
                f"{spec.name} {spec.version} installed: {result.executable} "
                f"({result.duration_s:.1f} s)",
                markup=False,
                soft_wrap=True,
            )
    if failed:
        err.print(f"not installed: {', '.join(failed)}", markup=False)
        return 2
    return 0


@app.command("uninstall")
def uninstall(
    ctx: typer.Context,
    names: Annotated[
        list[str] | None, typer.Argument(help="Scanners to remove.", show_default=False)
    ] = None,
    all_scanners: Annotated[bool, typer.Option("--all", help="Remove every scanner.")] = False,
) -> int:
    """Remove scanners' managed environments (every installed version)."""
    state: AppState = ctx.obj
    if not names and not all_scanners:
        raise UsageError(
            "name the scanners to uninstall, or pass --all",
            hint="turbosec tools uninstall semgrep checkov",
        )
    home = tools.tools_home()
    for spec in _specs(names):
        removed = tools.uninstall(spec, home, all_versions=True)
        state.console().print(
            f"{spec.name}: "
            + (f"removed {removed} environment(s)" if removed else "not installed"),
            markup=False,
        )
    return 0


@app.command("list")
def list_tools(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
) -> int:
    """Show each scanner's pinned version and whether its environment is installed."""
    state: AppState = ctx.obj
    home = tools.tools_home()
    rows: list[dict[str, object]] = []
    cells: list[tuple[str, str, str, str]] = []
    for spec in tools.PINS.values():
        exe = tools.executable(spec, home)
        marker = tools.read_marker(tools.env_dir(spec, home)) if exe else None
        others = tools.other_versions(spec, home)
        rows.append(
            {
                "scanner": spec.name,
                "pinned": spec.version,
                "installed": exe is not None,
                "path": str(exe) if exe else None,
                "installed_at": marker.installed_at if marker else None,
                "other_versions": others,
            }
        )
        installed = "yes" if exe else "no"
        if others:
            installed += f" (also {', '.join(others)})"
        cells.append((spec.name, spec.version, installed, str(exe) if exe else "-"))
    if as_json:
        data = {"home": str(home), "tools": rows}
        typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
        return 0
    out = state.console()
    out.print(f"tools home: {home}", markup=False, soft_wrap=True)
    table = Table(box=box.SIMPLE, show_edge=False, pad_edge=False)
    table.add_column("scanner", no_wrap=True)
    table.add_column("pinned", no_wrap=True)
    table.add_column("installed", no_wrap=True)
    table.add_column("path", overflow="fold")
    for row in cells:
        table.add_row(*row)
    out.print(table)
    return 0


@app.command("doctor")
def doctor(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Repository root (for its configuration).")] = Path(
        "."
    ),
) -> int:
    """Which program each scanner would run, its real version, the pin, and known problems.

    Exit code 0 when every enabled scanner is usable, 2 otherwise.
    """
    state: AppState = ctx.obj
    loaded = load_config(state.config_path, path)
    config = loaded.config
    home = tools.tools_home()
    out = state.console()
    source = loaded.source or "built-in defaults"
    out.print(
        f'tools = "{config.tools}" (configuration: {source}); managed environments: {home}',
        markup=False,
        soft_wrap=True,
    )
    results = tools.diagnose(config, home=home, cwd=path if path.is_dir() else None)
    unusable: list[str] = []
    warned = 0
    for d in results:
        if d.enabled and not d.usable:
            unusable.append(d.scanner)
        if d.warnings:
            warned += 1
        status = "ok" if d.usable and not d.warnings else "usable, with warnings"
        if not d.usable:
            status = "NOT USABLE"
        if not d.enabled:
            status = "disabled (not checked)" if d.usable else f"disabled ({status})"
        elif d.optional:
            status += " (optional)"
        out.print("")
        out.print(f"{d.scanner}: {status}", markup=False)
        _field(state, "program", d.located.path or "-")
        _field(state, "source", f"{_SOURCE_LABEL[d.located.source]}: {d.located.reason}")
        if d.enabled and (d.version is not None or d.pinned is not None):
            match = d.matches_pin
            verdict = "" if match is None else (", matches" if match else ", differs")
            pinned = f"pinned {d.pinned}{verdict}" if d.pinned else "not pinned"
            _field(state, "version", f"{d.version or 'unknown'} ({pinned})")
        for error in d.errors:
            _field(state, "error", error)
        for warning in d.warnings:
            _field(state, "warning", warning)
        for hint in d.hints:
            _field(state, "hint", hint)
    out.print("")
    if unusable:
        out.print(f"not usable: {', '.join(unusable)}", markup=False)
        return 2
    enabled = sum(1 for d in results if d.enabled)
    suffix = f"; {warned} with warnings" if warned else ""
    out.print(f"all {enabled} enabled scanners are usable{suffix}", markup=False)
    return 0


def _field(state: AppState, label: str, value: str) -> None:
    state.console().print(f"  {label:<8} {value}", markup=False, soft_wrap=True)
