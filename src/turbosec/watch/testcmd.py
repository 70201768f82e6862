"""``turbosec watch test``: replay logs through rules and print the alerts and statistics.

:func:`run_test` is the command itself; ``turbosec.cli.watch_cmd`` wires it to the CLI.
:func:`quick_main` runs it straight from the command line's arguments, without the CLI
framework: the command is how rules are developed and benchmarked, run over and over on
big logs, and building the whole CLI (its option parsers and their validators) costs more
than replaying many thousands of lines.  It reads the usual forms only::

    turbosec [-q|--quiet] [--no-color] watch test RULES EVENTS... [--json] [--with-builtin]
             [-f FORMAT | --format FORMAT | --format=FORMAT]

and returns ``None`` for anything else (help, other options, a missing argument, stdin as
an input) and for every error, so that the full CLI then runs the command and answers
exactly as it always does (same messages, same exit codes).  A run that gets as far as
printing was complete: errors (rules, files, formats) all come before the first output.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from turbosec.core.errors import TurbosecError, UsageError

if TYPE_CHECKING:
    from turbosec.core.event import Alert
    from turbosec.watch.rules.model import RuleSet

__all__ = ["RulesError", "check_format", "load_ruleset", "quick_main", "run_test"]


class RulesError(TurbosecError):
    """A rule file that cannot be loaded."""


def load_ruleset(paths: Sequence[Path], *, builtin: bool) -> RuleSet:
    """The rules of ``paths`` (and the built-in pack), or a user-facing error."""
    from turbosec.watch.rules.cache import default_dir
    from turbosec.watch.rules.loader import load_rules
    from turbosec.watch.rules.model import RuleLoadError

    for path in paths:
        if not path.exists():
            raise UsageError(
                f"no such rule file or folder: {path}",
                hint="give a Sigma .yml file or a folder of them",
            )
    try:
        rules = load_rules(list(paths), builtin=builtin, cache_dir=default_dir())
    except RuleLoadError as exc:
        raise RulesError(
            exc.problem,
            where=f"{exc.path}" + (f": rule {exc.rule!r}" if exc.rule else ""),
            hint="fix the rule (docs/watch.md lists the Sigma features turbosec supports) "
            "or leave its file out",
        ) from None
    if not rules.detections and not rules.correlations:
        raise UsageError(
            "no rules to run",
            hint="give Sigma rules with --rules, or drop --no-builtin",
        )
    return rules


def check_format(fmt: str) -> None:
    """A usage error unless ``fmt`` names a log format."""
    from turbosec.events.parsers.detect import PARSERS

    if fmt.strip().lower().replace("_", "-") not in PARSERS:
        raise UsageError(
            f"unknown log format {fmt!r}",
            where="--format",
            hint=f"use one of {', '.join(PARSERS)}",
        )


def run_test(
    rules: str,
    events: Sequence[str],
    *,
    fmt: str | None = None,
    with_builtin: bool = False,
    as_json: bool = False,
    quiet: bool = False,
) -> None:
    """Replay ``events`` (files, ``-`` for stdin) through ``rules`` (a file or folder, or
    ``builtin``) and print the alerts and statistics (one JSON document with ``as_json``)."""
    if fmt is not None:
        check_format(fmt)
    if rules == "builtin":
        ruleset = load_ruleset([], builtin=True)
    else:
        ruleset = load_ruleset([Path(rules)], builtin=with_builtin)
    for name in events:
        if name != "-" and not Path(name).is_file():
            raise UsageError(f"no such log file: {name}", hint="give a file to replay, or -")
    from turbosec.watch.runner import replay

    result = replay(ruleset, events, fmt=fmt)
    if as_json:
        import orjson

        document = {
            "alerts": [alert.to_dict() for alert in result.alerts],
            "stats": result.stats.to_dict(),
        }
        sys.stdout.buffer.write(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
        sys.stdout.flush()
        return
    for alert in result.alerts:
        print(_alert_line(alert))
    if not quiet:
        print(("\n" if result.alerts else "") + result.stats.summary())
        _print_by_rule(result.stats.by_rule, ruleset)


def _alert_line(alert: Alert) -> str:
    # the stdout sink's form: values an attacker chose (user names...) are made printable
    from turbosec.watch.sinks.stdout import format_alert

    return f"{format_alert(alert)} id={alert.alert_id}"


def _print_by_rule(by_rule: Any, ruleset: RuleSet) -> None:
    if not by_rule:
        return
    titles = {meta.id: meta.title for meta in ruleset.all_meta}
    print("alerts by rule:")
    for rule_id, count in sorted(by_rule.items(), key=lambda item: -item[1]):
        print(f"  {count:>6,}  {titles.get(rule_id, rule_id)}  ({rule_id})")


# --- without the CLI framework -------------------------------------------------------------

_GLOBAL_FLAGS = {"-q": "quiet", "--quiet": "quiet", "--no-color": None}


def _read_args(argv: Sequence[str]) -> dict[str, Any] | None:
    """The options of a ``watch test`` command line, or ``None`` when it is not one this
    reader knows for sure (the full CLI then reads it)."""
    args = list(argv)
    quiet = False
    while args and args[0].startswith("-"):
        if args[0] not in _GLOBAL_FLAGS:
            return None
        quiet = quiet or _GLOBAL_FLAGS[args[0]] == "quiet"
        args.pop(0)
    if args[:2] != ["watch", "test"]:
        return None
    positional: list[str] = []
    options: dict[str, Any] = {"fmt": None, "with_builtin": False, "as_json": False}
    rest = iter(args[2:])
    for arg in rest:
        if arg == "--json":
            options["as_json"] = True
        elif arg == "--with-builtin":
            options["with_builtin"] = True
        elif arg in ("-f", "--format"):
            value = next(rest, None)
            if value is None or options["fmt"] is not None:
                return None
            options["fmt"] = value
        elif arg.startswith("--format="):
            if options["fmt"] is not None:
                return None
            options["fmt"] = arg.removeprefix("--format=")
        elif arg.startswith("-") and arg != "-":
            return None  # --help, --, an option this reader does not know
        else:
            positional.append(arg)
    if len(positional) < 2 or "-" in positional[1:]:
        return None  # stdin: read once, by whichever runs the command
    return {"rules": positional[0], "events": positional[1:], "quiet": quiet, **options}


def quick_main(argv: Sequence[str]) -> int | None:
    """Run ``watch test`` from the command line's arguments (without the program name) and
    return its exit code; ``None`` when the full CLI must handle this command line."""
    options = _read_args(argv)
    if options is None:
        return None
    try:
        run_test(
            options["rules"],
            options["events"],
            fmt=options["fmt"],
            with_builtin=options["with_builtin"],
            as_json=options["as_json"],
            quiet=options["quiet"],
        )
    except TurbosecError:
        return None  # the full CLI runs it again and reports the error as usual
    return 0
