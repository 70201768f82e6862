"""Entry point of the ``turbosec`` command.

The commands live in their own modules (``turbosec.cli.scan``, ``hub_cmd``, ``watch_cmd``...)
and are imported only when used: ``turbosec watch test`` does not pay for the scanner, the
hub or the signing code (pydantic, cryptography, SQL...), which is a good part of its
start-up.  ``turbosec --help`` imports them all, to show each command's help text.

Exit codes: 0 pass, 1 gate failed (or verification failed), 2 usage or tool error.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from turbosec import __version__
from turbosec.cli.state import AppState
from turbosec.core.errors import TurbosecError

EXIT_PASS = 0
EXIT_GATE_FAILED = 1
EXIT_ERROR = 2

#: Every command in ``--help`` order: name -> (module, attribute, is a group).  Plain
#: commands come first, as Typer lists them.
_COMMANDS: dict[str, tuple[str, str, bool]] = {
    "scan": ("turbosec.cli.scan", "scan", False),
    "push": ("turbosec.cli.push_cmd", "push", False),
    "sign": ("turbosec.cli.integrity_cmd", "sign", False),
    "verify": ("turbosec.cli.integrity_cmd", "verify", False),
    "config": ("turbosec.cli.config_cmd", "app", True),
    "baseline": ("turbosec.cli.baseline_cmd", "app", True),
    "tools": ("turbosec.cli.tools_cmd", "app", True),
    "db": ("turbosec.cli.db_cmd", "app", True),
    "hub": ("turbosec.cli.hub_cmd", "app", True),
    "watch": ("turbosec.cli.watch_cmd", "app", True),
    "keys": ("turbosec.cli.integrity_cmd", "keys_app", True),
    "attest": ("turbosec.cli.integrity_cmd", "attest_app", True),
    "threats": ("turbosec.cli.threats_cmd", "threats_app", True),
}


def _load_command(name: str) -> Any:
    """The click command for ``name``, built from its module (imported now)."""
    module_name, attribute, is_group = _COMMANDS[name]
    target = getattr(importlib.import_module(module_name), attribute)
    holder = typer.Typer()
    holder.callback()(_no_callback)  # a group even with one command: pick it by name
    if is_group:
        holder.add_typer(target, name=name)
    else:
        holder.command(name)(target)
    return typer.main.get_group(holder).commands[name]


def _no_callback() -> None:
    """Placeholder callback of the throw-away group :func:`_load_command` builds."""


class _LazyGroup(TyperGroup):
    """The root group: sub-commands are resolved (and their modules imported) on demand."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*_COMMANDS, *(n for n in super().list_commands(ctx) if n not in _COMMANDS)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        found = super().get_command(ctx, cmd_name)
        if found is None and cmd_name in _COMMANDS:
            found = _load_command(cmd_name)
            self.add_command(found, cmd_name)
        return found


app = typer.Typer(
    cls=_LazyGroup,
    name="turbosec",
    help="Security as a turbocharger for software delivery.\n\n"
    "Exit codes: 0 pass, 1 gate failed, 2 usage or tool error.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


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
