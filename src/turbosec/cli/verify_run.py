"""``turbosec verify``: the verification and its output, shared by the Typer command and the
light entry point (:mod:`turbosec.cli.entry`).

A deploy step or an admission controller runs ``turbosec verify`` for every release, so the
command's start-up matters: this module imports neither Typer nor the other commands, and
the entry point calls it directly when the command line is a plain ``verify`` invocation.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import orjson

from turbosec.cli.state import AppState
from turbosec.core.errors import TurbosecError

EXIT_PASS = 0
EXIT_FAILED = 1
EXIT_ERROR = 2


def _render_text(state: AppState, report: object) -> None:
    from rich.markup import escape

    from turbosec.integrity.verify import TIME_NOTE, Report

    assert isinstance(report, Report)
    out = state.console()
    out.print(f"artifact {escape(report.artifact)} sha256:{report.sha256}", soft_wrap=True)
    for check in report.checks:
        mark = "[green]PASS[/green]" if check.passed else "[bold red]FAIL[/bold red]"
        where = f"  [dim]({escape(check.evidence)})[/dim]" if check.evidence else ""
        out.print(f"{mark}  {check.name}: {escape(check.reason)}{where}", soft_wrap=True)
    out.print(f"[dim]note: {escape(TIME_NOTE)}[/dim]", soft_wrap=True)
    if report.passed:
        out.print("[bold green]verification PASSED[/bold green]", soft_wrap=True)
    else:
        out.print(
            f"[bold red]verification FAILED[/bold red]: {len(report.failures)} check(s) failed",
            soft_wrap=True,
        )


def _echo(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def run_verify(
    state: AppState,
    artifact: Path,
    policy: Path,
    *,
    json_output: bool,
    evidence: Sequence[Path] | None,
) -> int:
    """Verify and print; returns the exit code (0 passed, 1 failed, 2 usage/input error)."""
    from turbosec.integrity.policy import load_policy
    from turbosec.integrity.verify import verify_artifact

    try:
        loaded = load_policy(policy)
        report = verify_artifact(artifact, loaded, evidence_paths=list(evidence or ()) or None)
    except TurbosecError as exc:
        if json_output:
            payload = {
                "passed": False,
                "error": exc.diagnostics(),
                "verifiedAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            _echo(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode())
        state.report_error(exc)
        return EXIT_ERROR
    if json_output:
        _echo(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        _render_text(state, report)
    return EXIT_PASS if report.passed else EXIT_FAILED


class _Declined(Exception):
    """The command line is not one the light path handles: let the full CLI do it."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _Declined(message)


def fast_verify(args: Sequence[str]) -> int | None:
    """Run ``verify`` without building the full CLI, or return None to let it run.

    Only plain invocations are handled (``ARTIFACT --policy FILE [--format text|json]
    [--evidence FILE]...``); help, unknown options and mistakes go to the full CLI, which
    prints its usual messages.
    """
    if any(a in ("-h", "--help") for a in args):
        return None
    parser = _Parser(add_help=False, allow_abbrev=False)
    parser.add_argument("artifact")
    parser.add_argument("--policy", "-p", required=True)
    parser.add_argument("--format", "-f", choices=("text", "json"), default="text")
    parser.add_argument("--evidence", "-e", action="append", default=None)
    try:
        ns = parser.parse_args(list(args))
    except _Declined:
        return None
    artifact, policy = Path(ns.artifact), Path(ns.policy)
    if artifact.is_dir() or policy.is_dir():
        return None  # the full CLI names the mistake
    return run_verify(
        AppState(),
        artifact,
        policy,
        json_output=ns.format == "json",
        evidence=[Path(e) for e in ns.evidence or ()],
    )
