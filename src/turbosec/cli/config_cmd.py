"""``turbosec config``: show the effective configuration and where it came from."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

from turbosec.cli.state import AppState
from turbosec.core.config import load_config

app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)


@app.command("show")
def show(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Repository root.")] = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of TOML.")] = False,
) -> None:
    """Print the effective configuration (defaults filled in)."""
    state: AppState = ctx.obj
    loaded = load_config(state.config_path, path)
    data = loaded.config.model_dump(mode="json", by_alias=True)
    if as_json:
        typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
        return
    source = loaded.source or "built-in defaults (no turbosec.toml or [tool.turbosec] found)"
    typer.echo(f"# effective configuration, from {source}")
    typer.echo(to_toml(data))


def _value(v: object) -> str:
    if v is None:
        return '""  # unset'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return orjson.dumps(str(v)).decode()


def to_toml(data: dict[str, object], prefix: str = "") -> str:
    """Render nested settings as TOML (unset values shown as comments)."""
    lines: list[str] = []
    tables: list[tuple[str, dict[str, object]]] = []
    arrays: list[tuple[str, list[dict[str, object]]]] = []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            arrays.append((key, value))
        elif value is None:
            lines.append(f"# {key} = (unset)")
        else:
            lines.append(f"{key} = {_value(value)}")
    for key, table in tables:
        name = _name(prefix, key)
        lines.append("")
        lines.append(f"[{name}]")
        lines.append(to_toml(table, name).lstrip("\n"))
    for key, items in arrays:
        name = _name(prefix, key)
        for item in items:
            lines.append("")
            lines.append(f"[[{name}]]")
            lines.append(to_toml(item, name).lstrip("\n"))
    return "\n".join(lines)


def _name(prefix: str, key: str) -> str:
    part = f'"{key}"' if "-" in key else key
    return f"{prefix}.{part}" if prefix else part
