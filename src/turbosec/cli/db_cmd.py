"""``turbosec db``: download or import the OSV advisory database, and show its state."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import orjson
import typer

from turbosec.cli.state import AppState
from turbosec.core.config import Config, load_config
from turbosec.core.errors import UsageError
from turbosec.scan.deps import db
from turbosec.scan.deps.osv import AdvisoryError

app = typer.Typer(
    help="The offline advisory database: download (or import) OSV data, and show its state.",
    no_args_is_help=True,
)

# The ecosystems the dependency audit understands (deps.ecosystems in the configuration).
ECOSYSTEMS = ("PyPI", "npm")

DbDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--db-dir",
        metavar="DIR",
        help="Database directory (default: deps.db from the configuration, else "
        "$TURBOSEC_DB_DIR, else the user cache).",
        file_okay=False,
    ),
]


def _ecosystem(name: str) -> str:
    for known in ECOSYSTEMS:
        if name.strip().lower() == known.lower():
            return known
    raise UsageError(
        f"unknown ecosystem {name!r}",
        hint=f"turbosec audits {' and '.join(ECOSYSTEMS)}; e.g. --ecosystem PyPI",
    )


def _config(state: AppState) -> Config:
    return load_config(state.config_path, Path(".")).config


def _db_dir(explicit: Path | None, config: Config) -> Path:
    if explicit is not None:
        return explicit
    if config.deps.db:
        configured = Path(config.deps.db).expanduser()
        if configured.suffix.lower() == ".zip":
            raise UsageError(
                f"deps.db names OSV records ({configured}), not a database built by "
                "'turbosec db update'",
                hint="pass --db-dir DIR, or set deps.db to a database directory",
            )
        return configured
    return db.default_db_dir()


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def _when(value: datetime) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _parse_from(items: list[str]) -> dict[str, Path]:
    archives: dict[str, Path] = {}
    for item in items:
        eco, sep, path = item.partition("=")
        if not sep or not eco.strip() or not path.strip():
            raise UsageError(
                f"--from {item!r} is not ECOSYSTEM=PATH", hint="e.g. --from PyPI=./PyPI-all.zip"
            )
        archives[_ecosystem(eco)] = Path(path.strip()).expanduser()
    return archives


@app.command("update")
def update(
    ctx: typer.Context,
    ecosystem: Annotated[
        list[str] | None,
        typer.Option(
            "--ecosystem",
            "-e",
            metavar="NAME",
            help="Ecosystem to fetch, repeatable (default: deps.ecosystems; with --from "
            "only: the imported ones).",
            show_default=False,
        ),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            metavar="TEMPLATE",
            help="Download address; {ecosystem} is replaced by the name (default: deps.url).",
            show_default=False,
        ),
    ] = None,
    from_archive: Annotated[
        list[str] | None,
        typer.Option(
            "--from",
            metavar="ECOSYSTEM=PATH",
            help="Import a local OSV export instead of downloading: ECOSYSTEM=PATH, repeatable.",
            show_default=False,
        ),
    ] = None,
    db_dir: DbDirOpt = None,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout", min=1, metavar="SECONDS", help="Seconds a download may wait for data."
        ),
    ] = 60.0,
) -> int:
    """Download every ecosystem's OSV archive, check it, and index it as the new database.

    The previous database stays in use until the new one is complete; a failed update
    changes nothing.
    """
    state: AppState = ctx.obj
    config = _config(state)
    archives = _parse_from(from_archive or [])
    if ecosystem:
        chosen = [_ecosystem(e) for e in ecosystem]
    elif archives:
        chosen = list(archives)
    else:
        chosen = list(config.deps.ecosystems)
    template = url or config.deps.url
    target = _db_dir(db_dir, config)
    err = state.console(stderr=True)

    def progress(message: str) -> None:
        if not state.quiet:
            err.print(message, markup=False, soft_wrap=True)

    result = db.update(
        target,
        ecosystems=chosen,
        url_template=template,
        timeout=timeout,
        archives=archives,
        progress=progress,
    )
    out = state.console()
    for eco in result.ecosystems:
        out.print(
            f"{eco.ecosystem}: {eco.records:,} advisories from {eco.url} "
            f"({_mb(eco.bytes)}, {eco.seconds:.1f} s)",
            markup=False,
            soft_wrap=True,
        )
    out.print(
        f"database updated: {result.path} (version {result.version}, "
        f"{_mb(result.size_bytes)} on disk)",
        markup=False,
        soft_wrap=True,
    )
    return 0


@app.command("status")
def status(
    ctx: typer.Context,
    db_dir: DbDirOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of text.")] = False,
) -> int:
    """Where the database is, how old, what it holds; exit 2 when there is none."""
    state: AppState = ctx.obj
    config = _config(state)
    target = _db_dir(db_dir, config)
    max_age = config.deps.max_age_days
    now = datetime.now(UTC)
    info = db.status(target)
    stale = db.is_stale(info, max_age, now)
    if as_json:
        data = info.as_dict(now) | {"stale": stale, "max_age_days": max_age}
        typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
        return 0 if info.exists else 2
    if not info.exists or info.updated_at is None:
        raise AdvisoryError(
            "there is no advisory database here yet",
            where=str(target),
            hint="run 'turbosec db update', or pass --db-dir DIR where a database is",
        )
    out = state.console()
    age = info.age_days(now) or 0.0
    verdict = (
        f"stale: older than deps.max_age_days = {max_age:g}; run 'turbosec db update'"
        if stale
        else "fresh"
    )
    out.print(f"advisory database: {info.path}", markup=False, soft_wrap=True)
    out.print(
        f"  updated  {_when(info.updated_at)} ({age:.1f} days ago; {verdict})",
        markup=False,
        soft_wrap=True,
    )
    out.print(f"  version  {info.version}", markup=False)
    out.print(f"  size     {_mb(info.size_bytes)} on disk", markup=False)
    for eco in info.ecosystems:
        out.print(
            f"  {eco.ecosystem:<8} {eco.records:,} advisories from {eco.url} "
            f"({_mb(eco.bytes)}, sha256 {eco.sha256[:16]}, fetched {_when(eco.fetched_at)})",
            markup=False,
            soft_wrap=True,
        )
    return 0
