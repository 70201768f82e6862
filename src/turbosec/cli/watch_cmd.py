"""``turbosec watch``: follow logs and raise alerts; ``watch test``; ``watch rules list``.

``turbosec watch FILES...`` is short for ``turbosec watch run FILES...``: the group sends
any first argument that is not one of its commands to ``run``.  (A log file called
``test`` or ``rules`` is watched with ``turbosec watch run test`` or ``./test``.)

The watcher's parts (rules, engine, sources, sinks) are imported inside the commands, so
``turbosec --help`` does not pay for pySigma.  ``watch test`` itself lives in
:mod:`turbosec.watch.testcmd`, which can also run it without the CLI framework.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from typer.core import TyperGroup

from turbosec.cli.state import AppState
from turbosec.core.errors import UsageError
from turbosec.watch.testcmd import RulesError, check_format, load_ruleset, run_test

if TYPE_CHECKING:
    from turbosec.watch.rules.model import RuleSet

__all__ = ["RulesError", "app"]


class _DefaultRun(TyperGroup):
    """A group whose first argument, when not a command, goes to the ``run`` command."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # Typer's own click
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_DefaultRun,
    help="Follow security logs and raise alerts with Sigma rules and correlations.\n\n"
    "turbosec watch FILES... follows the files (- is stdin) with the built-in rule pack "
    "and prints alerts; see 'turbosec watch run --help' for every option.  'watch test' "
    "replays a log offline; 'watch rules list' shows the rules.",
    no_args_is_help=True,
)
rules_app = typer.Typer(help="Show the rules the watcher would load.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")


RulesOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--rules",
        "-r",
        metavar="PATH",
        help="Sigma rule file or directory (repeatable). The built-in pack is loaded too "
        "unless --no-builtin.",
    ),
]
NoBuiltinOpt = Annotated[
    bool, typer.Option("--no-builtin", help="Do not load the built-in rule pack.")
]
FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        metavar="FORMAT",
        help="Log format of every input: owasp-json, sshd or access-log (default: "
        "recognised from each input's first lines).",
    ),
]


def _load(paths: Sequence[Path], *, builtin: bool) -> RuleSet:
    return load_ruleset(paths, builtin=builtin)


def _duration(text: str, option: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if match is None:
        raise UsageError(
            f"{option} {text!r} is not a duration",
            hint="write seconds (3600) or a number with s, m, h or d (30m, 1h, 7d)",
        )
    factor = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return float(match.group(1)) * factor


def _watch_logging(quiet: bool) -> None:
    """What the watcher's parts decide (a file rotated, an address blocked or, in dry-run,
    that it would be) goes to stderr, one line each."""
    log = logging.getLogger("turbosec.watch")
    if log.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("turbosec watch: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.WARNING if quiet else logging.INFO)
    log.propagate = False


@app.command("run")
def run(
    ctx: typer.Context,
    files: Annotated[
        list[str],
        typer.Argument(
            metavar="FILES...",
            help="Log files to follow (through rotation, like tail -F); - reads stdin.",
        ),
    ],
    rules: RulesOpt = None,
    no_builtin: NoBuiltinOpt = False,
    fmt: FormatOpt = None,
    sinks: Annotated[
        list[str] | None,
        typer.Option(
            "--sink",
            "-s",
            metavar="SPEC",
            help="Where alerts go (repeatable): stdout, json, file:PATH, webhook:URL, "
            "slack:URL. Default: stdout.",
        ),
    ] = None,
    state: Annotated[
        Path | None,
        typer.Option(
            "--state",
            metavar="FILE",
            dir_okay=False,
            help="Checkpoint file: engine state, file positions and delivered alerts, so a "
            "restart neither misses nor repeats alerts.",
        ),
    ] = None,
    from_start: Annotated[
        bool,
        typer.Option(
            "--from-start/--from-end",
            help="Read files not in the checkpoint from their start, or only what is "
            "appended from now on (the default, like tail -F).",
        ),
    ] = False,
    once: Annotated[
        bool,
        typer.Option("--once", help="Stop at the end of the inputs instead of following them."),
    ] = False,
    respond_exec: Annotated[
        str | None,
        typer.Option(
            "--respond-exec",
            metavar="CMD",
            help="Run this command for each alert, with the alert as JSON on stdin "
            "(split like a shell would, never run through one).",
        ),
    ] = None,
    blocklist: Annotated[
        Path | None,
        typer.Option(
            "--blocklist",
            metavar="FILE",
            dir_okay=False,
            help="Add each alert's source address to this blocklist file (with --ttl).",
        ),
    ] = None,
    ttl: Annotated[
        str,
        typer.Option(
            "--ttl",
            metavar="DURATION",
            help="How long a block lasts (30m, 1h, 7d): the blocklist entry's lifetime, and "
            "the time during which the response does not act on that address again.",
        ),
    ] = "1h",
    allow: Annotated[
        list[str] | None,
        typer.Option(
            "--allow",
            metavar="CIDR",
            help="Addresses never blocked nor acted on (repeatable), e.g. 10.0.0.0/8.",
        ),
    ] = None,
    no_dry_run: Annotated[
        bool,
        typer.Option(
            "--no-dry-run",
            help="Really run --respond-exec and write --blocklist (by default the response "
            "only says what it would do).",
        ),
    ] = False,
    checkpoint_every: Annotated[
        float,
        typer.Option(
            "--checkpoint-every",
            metavar="SECONDS",
            min=0.05,
            help="Seconds between checkpoints (with --state).",
        ),
    ] = 5.0,
    max_groups: Annotated[
        int,
        typer.Option(
            "--max-groups",
            min=1,
            help="Most groups (addresses, accounts...) each rule keeps in memory.",
        ),
    ] = 100_000,
) -> None:
    """Follow logs and raise alerts (the default command of 'turbosec watch')."""
    from turbosec.watch.engine import EngineOptions
    from turbosec.watch.runner import Runner, RunnerOptions
    from turbosec.watch.sinks import SinkOptions, make_sink

    app_state: AppState = ctx.obj or AppState()
    if fmt is not None:
        _check_format(fmt)
    ruleset = _load(rules or [], builtin=not no_builtin)
    ttl_s = _duration(ttl, "--ttl")
    if state is not None and not state.parent.is_dir():
        raise UsageError(
            f"the directory of the state file does not exist: {state.parent}",
            where="--state",
            hint="create the directory or point --state elsewhere",
        )
    for name in files:
        if name != "-" and Path(name).is_dir():
            raise UsageError(
                f"{name} is a directory", hint="name the log files in it (a glob works)"
            )
    # webhook spools live beside the state file, so a restarted watcher finds them
    sink_options = SinkOptions(
        stream=sys.stdout, state_dir=state.parent / "spool" if state is not None else None
    )
    built = [make_sink(spec, options=sink_options) for spec in (sinks or ["stdout"])]
    responder = _responder(respond_exec, blocklist, ttl_s, allow or [], dry_run=not no_dry_run)
    _watch_logging(app_state.quiet)
    runner = Runner(
        ruleset,
        files,
        built,
        responder=responder,
        options=RunnerOptions(
            format=fmt,
            state=state,
            from_end=not from_start,
            once=once,
            checkpoint_interval=checkpoint_every,
            engine=EngineOptions(max_groups=max_groups),
        ),
    )
    stats = runner.run()
    if not app_state.quiet:
        print(stats.summary(), file=sys.stderr)


def _check_format(fmt: str) -> None:
    check_format(fmt)


def _responder(
    command: str | None, blocklist: Path | None, ttl: float, allow: list[str], *, dry_run: bool
) -> Any:
    if command is None and blocklist is None:
        if allow:
            raise UsageError(
                "--allow only matters with --respond-exec or --blocklist",
                where="--allow",
                hint="add a response, or drop --allow",
            )
        return None
    from turbosec.watch.response import build_responder

    return build_responder(
        command=command, blocklist=blocklist, ttl=ttl, allow=allow, dry_run=dry_run
    )


@app.command("test")
def replay_cmd(
    ctx: typer.Context,
    rules: Annotated[
        str,
        typer.Argument(
            metavar="RULES",
            help="A Sigma rule file or directory, or 'builtin' for the built-in pack.",
        ),
    ],
    events: Annotated[
        list[str],
        typer.Argument(metavar="EVENTS...", help="Log files to replay (- reads stdin)."),
    ],
    fmt: FormatOpt = None,
    with_builtin: Annotated[
        bool, typer.Option("--with-builtin", help="Load the built-in pack next to RULES.")
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="One JSON document: the alerts and the statistics."),
    ] = False,
) -> None:
    """Replay logs offline through rules; print the alerts and statistics (exit 0)."""
    app_state: AppState = ctx.obj or AppState()
    run_test(
        rules,
        events,
        fmt=fmt,
        with_builtin=with_builtin,
        as_json=as_json,
        quiet=app_state.quiet,
    )


@rules_app.command("list")
def rules_list(
    rules: RulesOpt = None,
    no_builtin: NoBuiltinOpt = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
) -> None:
    """List the rules: id, kind, level, title, ATT&CK tags and file."""
    ruleset = _load(rules or [], builtin=not no_builtin)
    referenced = ruleset.referenced
    rows: list[dict[str, Any]] = []
    for detection in ruleset.detections:
        meta = detection.meta
        rows.append(
            {
                "id": meta.id,
                "name": meta.name,
                "kind": "detection",
                "level": meta.severity.label,
                "title": meta.title,
                "alerts": detection.generate,
                "tags": list(meta.tags),
                "path": meta.path,
                "description": meta.description,
            }
        )
    for corr in ruleset.correlations:
        meta = corr.meta
        users = referenced.get(meta.id, ())
        rows.append(
            {
                "id": meta.id,
                "name": meta.name,
                "kind": corr.type.value,
                "level": meta.severity.label,
                "title": meta.title,
                "alerts": not users or any(u.generate for u in users),
                "tags": list(meta.tags),
                "path": meta.path,
                "description": meta.description,
                "group_by": list(corr.group_by),
                "timespan": corr.timespan,
                "rules": list(corr.rules),
            }
        )
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2) + b"\n")
        sys.stdout.flush()
        return
    from turbosec.watch.sinks.stdout import clean

    # plain columns: greppable, and no wrapping when stdout is not a terminal
    print(f"{'ID':<36}  {'KIND':<16}  {'LEVEL':<8}  {'ALERTS':<6}  {'FILE':<31}  TITLE (ATT&CK)")
    for row in rows:
        techniques = " ".join(t for t in row["tags"] if t.startswith("attack.t"))
        print(
            f"{clean(row['id'], 36):<36}  {row['kind']:<16}  {row['level']:<8}  "
            f"{'yes' if row['alerts'] else 'no':<6}  {clean(row['path'], 60):<31}  "
            f"{clean(row['title'])}" + (f" ({techniques})" if techniques else "")
        )
