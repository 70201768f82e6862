"""``turbosec scan``: the build gate."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Annotated

import orjson
import typer

from turbosec.cli.progress import LiveProgress, PlainProgress
from turbosec.cli.state import AppState, is_ci
from turbosec.core.config import Config, load_config
from turbosec.core.errors import TurbosecError, UsageError
from turbosec.core.report import ScanReport
from turbosec.report import registry as formatter_registry
from turbosec.report.console import render_summary
from turbosec.scan.baseline import DEFAULT_PATH as DEFAULT_BASELINE
from turbosec.scan.baseline import Baseline, load_baseline
from turbosec.scan.cache import default_dir as default_cache_dir
from turbosec.scan.diff import run_diff_scan
from turbosec.scan.runner import ScanRequest, run_scan, select_scanners
from turbosec.scan.target import Target

_THRESHOLDS = ("critical", "high", "medium", "low", "info", "never")


def plan_outputs(formats: list[str], outputs: list[str]) -> list[tuple[str, str | None]]:
    """Pair --format and --output options: ``[(format, path or None for stdout)]``.

    Formats and outputs pair up in order; an output without a format takes it from its
    file extension; a format without an output goes to standard output (only one can).
    """
    known = formatter_registry()
    for fmt in formats:
        if fmt not in known:
            raise UsageError(
                f"unknown output format '{fmt}'", hint="choose from: " + ", ".join(sorted(known))
            )
    plan: list[tuple[str, str | None]] = []
    for i, out in enumerate(outputs):
        fmt = formats[i] if i < len(formats) else _format_from_extension(out, known)
        plan.append((fmt, None if out == "-" else out))
    for fmt in formats[len(outputs) :]:
        plan.append((fmt, None))
    if sum(1 for _, path in plan if path is None) > 1:
        raise UsageError(
            "more than one format would be written to standard output",
            hint="give each --format its own --output FILE",
        )
    return plan


def _format_from_extension(path: str, known: dict[str, type]) -> str:
    name = path.lower()
    best: tuple[int, str] | None = None
    for fmt, cls in known.items():
        for ext in getattr(cls, "extensions", ()):
            if name.endswith(ext) and (best is None or len(ext) > best[0]):
                best = (len(ext), fmt)
    if best is None:
        raise UsageError(
            f"cannot tell the format of output '{path}' from its extension",
            hint="add --format FORMAT before it (sarif, junit, json, markdown)",
        )
    return best[1]


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def scan(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Repository root to scan.")] = Path("."),
    formats: Annotated[
        list[str] | None,
        typer.Option(
            "--format", "-f", help="Output format: sarif, junit, json, markdown. Repeatable."
        ),
    ] = None,
    outputs: Annotated[
        list[str] | None,
        typer.Option(
            "--output",
            "-o",
            help="Output file, paired in order with --format ('-' for stdout). Repeatable.",
        ),
    ] = None,
    imports: Annotated[
        list[str] | None,
        typer.Option(
            "--import",
            "-i",
            help="Report file from another tool (SARIF, Trivy, Gitleaks, osv-scanner); "
            "FORMAT:FILE forces the format. Repeatable.",
        ),
    ] = None,
    no_scanners: Annotated[
        bool, typer.Option("--no-scanners", help="Run no scanner; only import reports.")
    ] = False,
    only: Annotated[
        list[str] | None, typer.Option("--scanner", "-s", help="Run only this scanner. Repeatable.")
    ] = None,
    skip: Annotated[
        list[str] | None, typer.Option("--skip", help="Do not run this scanner. Repeatable.")
    ] = None,
    fail_on: Annotated[
        str | None,
        typer.Option("--fail-on", help="Override the fail threshold: " + ", ".join(_THRESHOLDS)),
    ] = None,
    top: Annotated[int, typer.Option("--top", help="Findings listed in the summary.", min=0)] = 10,
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            help="Baseline file: only findings not in it fail the gate "
            "(default: .turbosec/baseline.json when it exists).",
            dir_okay=False,
        ),
    ] = None,
    no_baseline: Annotated[
        bool, typer.Option("--no-baseline", help="Ignore any baseline file.")
    ] = False,
    diff_base: Annotated[
        str | None,
        typer.Option(
            "--diff-base",
            help="Report and gate only findings introduced relative to this git revision "
            "(e.g. origin/main); 'auto' reads GITHUB_BASE_REF or "
            "CI_MERGE_REQUEST_TARGET_BRANCH_NAME.",
        ),
    ] = None,
    strict_suppressions: Annotated[
        bool,
        typer.Option(
            "--strict-suppressions",
            help="Inline suppression markers without a reason do not count.",
        ),
    ] = False,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir",
            help="Incremental cache directory (default: PATH/.turbosec/cache); "
            "save and restore it between CI runs.",
            file_okay=False,
        ),
    ] = None,
    no_cache: Annotated[
        bool,
        typer.Option("--no-cache", help="Neither read nor write the cache: scan everything."),
    ] = False,
    db: Annotated[
        Path | None,
        typer.Option(
            "--db",
            help="Advisory database of the dependency audit: a directory or .zip of OSV "
            "records, or one built by 'turbosec db update' (default: the user cache).",
        ),
    ] = None,
    python: Annotated[
        list[str] | None,
        typer.Option(
            "--python",
            help="Also audit the packages installed for this Python interpreter. Repeatable.",
        ),
    ] = None,
    annotations: Annotated[
        bool | None,
        typer.Option(
            "--annotations/--no-annotations",
            help="GitHub Actions annotations (default: on when GITHUB_ACTIONS=true).",
        ),
    ] = None,
    push: Annotated[
        bool,
        typer.Option(
            "--push",
            help="Upload the report to the findings hub (--hub, --hub-project; token from "
            "$TURBOSEC_HUB_TOKEN or --hub-token-file). A failed upload exits 2 when the "
            "gate passed; a failed gate keeps its exit code.",
        ),
    ] = False,
    hub: Annotated[
        str | None,
        typer.Option("--hub", envvar="TURBOSEC_HUB_URL", help="The hub's address (--push)."),
    ] = None,
    hub_project: Annotated[
        str | None,
        typer.Option(
            "--hub-project", envvar="TURBOSEC_HUB_PROJECT", help="The hub project (--push)."
        ),
    ] = None,
    hub_token_file: Annotated[
        Path | None,
        typer.Option(
            "--hub-token-file",
            help="File holding the hub token (default: $TURBOSEC_HUB_TOKEN).",
            dir_okay=False,
        ),
    ] = None,
    attest: Annotated[
        Path | None,
        typer.Option(
            "--attest",
            metavar="ARTIFACT",
            help="Sign the gate's verdict about ARTIFACT (a SLSA verification summary): "
            "writes ARTIFACT.gate-report.json, ARTIFACT.gate.sigstore.json and appends to "
            "ARTIFACT.intoto.jsonl. A failed gate is attested as FAILED.",
            dir_okay=False,
        ),
    ] = None,
    attest_key: Annotated[
        Path | None,
        typer.Option(
            "--attest-key",
            metavar="FILE",
            help="Private key for --attest (default: the PEM text in $TURBOSEC_SIGNING_KEY; "
            "passphrase from $TURBOSEC_KEY_PASSPHRASE or a prompt).",
            dir_okay=False,
        ),
    ] = None,
) -> int:
    """Run the security scanners, apply the policy, write reports.

    Exit code 0 when the gate passes, 1 when it fails, 2 when a scanner or the input failed.
    """
    state: AppState = ctx.obj
    hub_push = _hub_push(push, hub, hub_project, hub_token_file)
    if attest_key is not None and attest is None:
        raise UsageError("--attest-key needs --attest ARTIFACT")
    gate_attestation = None
    if attest is not None:
        from turbosec.cli.integrity_cmd import GateAttestation

        if diff_base is not None:
            raise UsageError(
                "--attest cannot be used with --diff-base",
                hint="a verdict about an artifact must come from a full scan of what it was "
                "built from",
            )
        gate_attestation = GateAttestation.prepare(attest, attest_key, None)
    plan = plan_outputs(list(formats or []), list(outputs or []))
    loaded = load_config(state.config_path, path)
    config = loaded.config
    if fail_on is not None:
        if fail_on not in _THRESHOLDS:
            raise UsageError(
                f"unknown --fail-on value '{fail_on}'",
                hint="choose from: " + ", ".join(_THRESHOLDS),
            )
        config = config.model_copy(update={"fail_on": fail_on})
    if db is not None or python:
        deps = config.deps.model_copy(
            update={
                "db": str(db.absolute()) if db is not None else config.deps.db,
                "python": (
                    *config.deps.python,
                    *(str(Path(p).absolute()) if "/" in p else p for p in python or ()),
                ),
            }
        )
        config = config.model_copy(update={"deps": deps})

    request = ScanRequest(
        root=path,
        config=config,
        only=tuple(only or ()),
        skip=tuple(skip or ()),
        imports=tuple(imports or ()),
        no_scanners=no_scanners,
        baseline=_load_baseline(path, baseline, no_baseline or diff_base is not None),
        strict_suppressions=strict_suppressions,
        use_cache=not no_cache,
        # Resolved here, so that a --diff-base scan of the base revision shares it.
        cache_dir=(cache_dir or default_cache_dir(path)).absolute(),
    )
    to_stdout = any(p is None for _, p in plan)
    # The human summary goes to stderr when a machine format owns stdout.
    human = state.console(stderr=to_stdout)
    progress_console = state.console(stderr=True)
    if state.verbose and loaded.source:
        progress_console.print(f"configuration: {loaded.source}", markup=False)

    if path.is_dir() and not is_ci() and progress_console.is_terminal and not state.quiet:
        names = [s.name for s in select_scanners(request, Target.open(path, config.exclude))[0]]
        listener: LiveProgress | PlainProgress = LiveProgress(progress_console, names)
    else:
        listener = PlainProgress(progress_console, quiet=state.quiet)
    with listener:
        if diff_base is not None:
            outcome = run_diff_scan(request, diff_base, listener)
        else:
            outcome = run_scan(request, listener)
    report = outcome.report

    if state.verbose:
        for tool in report.tools:
            if tool.command:
                progress_console.print(f"{tool.name}: {' '.join(tool.command)}", markup=False)
    for warning in outcome.warnings:
        progress_console.print(f"warning: {warning}", markup=False)

    _write_outputs(plan, report)
    if annotations or (annotations is None and os.environ.get("GITHUB_ACTIONS") == "true"):
        from turbosec.report.github import annotations as gh_annotations

        for line in gh_annotations(report):
            typer.echo(line)

    if state.quiet:
        _print_verdict_line(human, report)
    else:
        render_summary(report, human, top=top)
    for failure in outcome.failures:
        state.report_error(failure)
    if gate_attestation is not None:
        verdict, jsonl_path, bundle_path = gate_attestation.write(
            report.to_json(include_raw=False),
            passed=outcome.exit_code == 0,
            policy_uri=loaded.source or "turbosec:defaults",
            policy_sha256=policy_digest(config),
        )
        progress_console.print(
            f"gate verdict {'PASSED' if verdict.passed else 'FAILED'} attested for "
            f"{gate_attestation.artifact} sha256:{gate_attestation.sha256}: "
            f"{bundle_path}, {jsonl_path}; report {gate_attestation.report_path} "
            f"(policy sha256:{verdict.policy_sha256})",
            markup=False,
        )
    if hub_push is not None:
        return hub_push.send(
            state, report, partial=diff_base is not None, exit_code=outcome.exit_code
        )
    return outcome.exit_code


def policy_digest(config: Config) -> str:
    """SHA-256 of the effective gate policy: the configuration after command-line
    overrides, as canonical JSON (sorted keys, no spaces)."""
    canonical = orjson.dumps(config.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


class _HubPush:
    """``scan --push``: where to upload the report, checked before the scan runs."""

    def __init__(self, hub: str, project: str, token: str) -> None:
        self.hub, self.project, self.token = hub, project, token

    def send(self, state: AppState, report: ScanReport, *, partial: bool, exit_code: int) -> int:
        """Upload; the gate's verdict wins: a failed upload only turns a pass into 2."""
        from turbosec.cli.push_cmd import PushError, push_report

        try:
            result = push_report(
                report.to_json(),
                hub=self.hub,
                project=self.project,
                token=self.token,
                partial=partial,
            )
        except PushError as exc:
            state.report_error(exc)
            return exit_code or 2
        state.console(stderr=True).print(
            f"pushed to {self.hub} project {self.project}: {result.summary()}", markup=False
        )
        return exit_code


def _hub_push(
    push: bool, hub: str | None, project: str | None, token_file: Path | None
) -> _HubPush | None:
    if not push:
        if token_file is not None:
            raise UsageError("--hub-token-file is only used with --push")
        return None
    from turbosec.cli.push_cmd import read_token

    if not hub:
        raise UsageError(
            "--push needs the hub's address", hint="pass --hub or set TURBOSEC_HUB_URL"
        )
    if not project:
        raise UsageError(
            "--push needs a project", hint="pass --hub-project or set TURBOSEC_HUB_PROJECT"
        )
    return _HubPush(hub, project, read_token(token_file))


def _load_baseline(root: Path, explicit: Path | None, disabled: bool) -> Baseline | None:
    if disabled:
        return None
    if explicit is not None:
        return load_baseline(explicit)
    default = root / DEFAULT_BASELINE
    return load_baseline(default) if default.is_file() else None


def _write_outputs(plan: list[tuple[str, str | None]], report: ScanReport) -> None:
    known = formatter_registry()
    for fmt, dest in plan:
        text = known[fmt]().render(report)
        if dest is None:
            typer.echo(text, nl=not text.endswith("\n"))
        else:
            try:
                write_atomically(Path(dest), text)
            except OSError as exc:
                raise TurbosecError(
                    f"cannot write the {fmt} report: {exc.strerror}",
                    where=dest,
                    hint="check that the directory exists and is writable",
                ) from exc


def _print_verdict_line(console: object, report: ScanReport) -> None:
    from rich.console import Console

    assert isinstance(console, Console)
    verdict = report.verdict
    if verdict is None:
        return
    status = "PASSED" if verdict.passed else "FAILED"
    detail = "; ".join(verdict.reasons)
    console.print(
        f"turbosec: {status} ({len(report.findings)} findings){': ' + detail if detail else ''}",
        markup=False,
    )
