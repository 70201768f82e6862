"""Entry point of the ``turbosec`` command.

Exit codes: 0 pass, 1 gate failed (or verification failed), 2 usage or tool error.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from turbosec import __version__
from turbosec.cli import (
    baseline_cmd,
    config_cmd,
    db_cmd,
    hub_cmd,
    integrity_cmd,
    push_cmd,
    scan,
    tools_cmd,
    watch_cmd,
)
from turbosec.cli.state import AppState
from turbosec.core.errors import TurbosecError

EXIT_PASS = 0
EXIT_GATE_FAILED = 1
EXIT_ERROR = 2

app = typer.Typer(
    name="turbosec",
    help="Security as a turbocharger for software delivery.\n\n"
    "Exit codes: 0 pass, 1 gate failed, 2 usage or tool error.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("scan")(scan.scan)
app.add_typer(config_cmd.app, name="config")
app.add_typer(baseline_cmd.app, name="baseline")
app.add_typer(tools_cmd.app, name="tools")
app.add_typer(db_cmd.app, name="db")
app.add_typer(hub_cmd.app, name="hub")
app.command("push")(push_cmd.push)
app.add_typer(watch_cmd.app, name="watch")
app.add_typer(integrity_cmd.keys_app, name="keys")
app.add_typer(integrity_cmd.attest_app, name="attest")
app.command("sign")(integrity_cmd.sign)
app.command("verify")(integrity_cmd.verify)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"turbosec {__version__}")
        raise typer.Exit(EXIT_PASS)


@app.callback()
def main(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Configuration file (turbosec.toml or pyproject.toml).",
            dir_okay=False,
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="More detail, tracebacks.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Only the verdict and errors.")
    ] = False,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="No colours (also when NO_COLOR is set).")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    ctx.obj = AppState(config_path=config, verbose=verbose, quiet=quiet, no_color=no_color)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI; errors become one readable paragraph and exit code 2."""
    args = list(sys.argv[1:] if argv is None else argv)
    state_holder: dict[str, AppState] = {}
    try:
        result = app(args=args, standalone_mode=False, obj=None)
    except TurbosecError as exc:
        state = state_holder.get("state") or _state_from_args(args)
        state.report_error(exc)
        return EXIT_ERROR
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        typer.echo("Aborted.", err=True)
        return EXIT_ERROR
    except KeyboardInterrupt:
        typer.echo("Interrupted.", err=True)
        return EXIT_ERROR
    except Exception as exc:  # click usage errors and anything unexpected
        # Typer may vendor its own click: recognise its usage errors by behaviour.
        show = getattr(exc, "show", None)
        if callable(show) and hasattr(exc, "exit_code"):
            show()
            return EXIT_ERROR
        _state_from_args(args).report_error(exc)
        return EXIT_ERROR
    return int(result) if isinstance(result, int) else EXIT_PASS


def _state_from_args(args: list[str]) -> AppState:
    return AppState(verbose="-v" in args or "--verbose" in args, no_color="--no-color" in args)


def entry() -> None:
    sys.exit(run())
