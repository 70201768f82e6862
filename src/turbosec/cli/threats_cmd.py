"""``turbosec threats``: check a threat model, report it, draw it, diff it, import one.

Thin: parse the options, call :mod:`turbosec.threats`, render.  The threat-model modules are
imported inside the commands, so ``turbosec --help`` does not pay for them.

Exit codes: 0 pass, 1 an open threat at or above ``--fail-on`` (check only), 2 usage,
model, rule or evidence error.
"""

from __future__ import annotations

import enum
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from turbosec.cli.state import AppState
from turbosec.core.errors import TurbosecError, UsageError
from turbosec.core.severity import Severity

if TYPE_CHECKING:
    from turbosec.threats.model import Analysis, AssessedThreat, ThreatModel

EXIT_PASS = 0
EXIT_FAILED = 1
EXIT_ERROR = 2

DEFAULT_MODEL = Path("threatmodel.yaml")

threats_app = typer.Typer(
    help="Threat models as code: threats derived by rules, mitigations proven by tests.\n\n"
    "Exit codes: 0 pass, 1 open threats at or above --fail-on (check), 2 usage, model, "
    "rule or evidence error.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
rules_app = typer.Typer(help="The threat rules that would be loaded.", no_args_is_help=True)
import_app = typer.Typer(help="Convert models written for other tools.", no_args_is_help=True)
threats_app.add_typer(rules_app, name="rules")
threats_app.add_typer(import_app, name="import")


class CheckFormat(enum.StrEnum):
    CONSOLE = "console"
    JSON = "json"
    MARKDOWN = "markdown"
    HTML = "html"
    SARIF = "sarif"


class ReportFormat(enum.StrEnum):
    MARKDOWN = "markdown"
    HTML = "html"
    JSON = "json"
    SARIF = "sarif"


class DiagramFormat(enum.StrEnum):
    MERMAID = "mermaid"
    DOT = "dot"


def _state(ctx: typer.Context) -> AppState:
    obj = ctx.find_root().obj
    if isinstance(obj, AppState):
        return obj
    state = AppState()
    ctx.find_root().obj = state
    return state


@contextmanager
def _handled(state: AppState) -> Iterator[None]:
    """A user-caused error is one readable paragraph and exit 2, under any parent app."""
    try:
        yield
    except TurbosecError as exc:
        state.report_error(exc)
        raise typer.Exit(EXIT_ERROR) from exc


# --------------------------------------------------------------------------- options

ModelArg = Annotated[
    Path,
    typer.Argument(
        metavar="MODEL",
        help="The model file (default: threatmodel.yaml in the current directory).",
        show_default=False,
    ),
]
JunitOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--junit",
        "-j",
        metavar="FILE",
        help="JUnit XML report of the security tests (pytest --junitxml); repeatable.",
    ),
]
RulesOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--rules",
        "-r",
        metavar="FILE_OR_DIR",
        help="Rule file or folder of rule files (repeatable); the built-in library is "
        "loaded too unless --no-builtin.",
    ),
]
NoBuiltinOpt = Annotated[
    bool, typer.Option("--no-builtin", help="Do not load the built-in rule library.")
]
NoCollectOpt = Annotated[
    bool,
    typer.Option(
        "--no-collect",
        help="Do not run pytest --collect-only to prove the tests exist; only the JUnit "
        "reports count.",
    ),
]
NoEvidenceOpt = Annotated[
    bool,
    typer.Option(
        "--no-evidence",
        help="Do not check evidence at all (every declared mitigation stays open).",
    ),
]
RootOpt = Annotated[
    Path | None,
    typer.Option(
        "--root",
        metavar="DIR",
        file_okay=False,
        help="Where pytest runs; the tests' node ids are relative to it (default: the "
        "current directory).",
        show_default=False,
    ),
]
PythonOpt = Annotated[
    str | None,
    typer.Option(
        "--python",
        metavar="PATH",
        help="Interpreter whose pytest collects the tests (default: the one running turbosec).",
        show_default=False,
    ),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        metavar="FILE",
        dir_okay=False,
        help="Write to FILE instead of standard output.",
        show_default=False,
    ),
]


# --------------------------------------------------------------------------- helpers


def _model_path(model: Path) -> Path:
    if not model.exists():
        hint = (
            "run the command where threatmodel.yaml is, or name the model file"
            if model == DEFAULT_MODEL
            else "check the path of the model file"
        )
        raise UsageError(f"no threat model at {model}", hint=hint)
    if not model.is_file():
        raise UsageError(f"{model} is not a file", hint="name the model file (threatmodel.yaml)")
    return model


def _analyze(
    model: Path,
    *,
    junit: Sequence[Path],
    rules: Sequence[Path],
    no_builtin: bool,
    no_collect: bool,
    no_evidence: bool,
    root: Path | None,
    python: str | None,
) -> Analysis:
    from turbosec.threats.assess import analyze_model
    from turbosec.threats.loader import load_model

    for report in junit:
        if not report.is_file():
            raise UsageError(
                f"no JUnit report at {report}",
                where="--junit",
                hint="give the file written by pytest --junitxml",
            )
    if no_evidence and (junit or no_collect):
        raise UsageError(
            "--no-evidence leaves nothing for --junit or --no-collect to do",
            hint="drop --no-evidence to check the tests, or drop the evidence options",
        )
    loaded = load_model(_model_path(model))
    return analyze_model(
        loaded,
        rule_paths=rules,
        builtin_rules=not no_builtin,
        junit=junit,
        collect=not no_collect,
        root=root,
        check_evidence=not no_evidence,
        python=python,
    )


def _render(analysis: Analysis, fmt: str) -> str | bytes:
    if fmt == "console":
        from turbosec.threats.report.console import render_console

        return render_console(analysis)
    if fmt == "markdown":
        from turbosec.threats.report.markdown import render_markdown

        return render_markdown(analysis)
    if fmt == "html":
        from turbosec.threats.report.html import render_html

        return render_html(analysis)
    if fmt == "json":
        from turbosec.threats.report.json import render_json

        return render_json(analysis)
    if fmt == "sarif":
        from turbosec.threats.report.sarif import render_sarif

        return render_sarif(analysis)
    raise UsageError(f"unknown format {fmt!r}", where="--format")  # pragma: no cover


def _as_bytes(content: str | bytes) -> bytes:
    data = content.encode("utf-8") if isinstance(content, str) else content
    return data if data.endswith(b"\n") or not data else data + b"\n"


def _write(path: Path, content: str | bytes) -> None:
    """Write atomically: a reader never sees half a report."""
    if not path.parent.is_dir():
        raise UsageError(
            f"the directory of the output file does not exist: {path.parent}",
            where="--output",
            hint="create the directory or choose another --output",
        )
    if path.is_dir():
        raise UsageError(f"{path} is a directory", where="--output")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(_as_bytes(content))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _emit(content: str | bytes) -> None:
    sys.stdout.buffer.write(_as_bytes(content))
    sys.stdout.flush()


def _warn(state: AppState, analysis: Analysis) -> None:
    warnings = list(analysis.warnings)
    if analysis.evidence is not None:
        warnings += analysis.evidence.warnings
    err = state.console(stderr=True)
    from rich.markup import escape

    for text in warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(text)}")


def _blocking(analysis: Analysis, fail_on: Severity) -> list[AssessedThreat]:
    return [item for item in analysis.threats if item.is_open and item.threat.severity >= fail_on]


def _verdict(blocking: Sequence[AssessedThreat], fail_on: Severity) -> str:
    if not blocking:
        return f"threats: pass (no open threat at or above {fail_on.label})"
    ordered = sorted(blocking, key=lambda a: (-a.threat.severity, a.threat.id))
    lines = [
        f"threats: FAIL: {len(blocking)} open threat{'s' if len(blocking) != 1 else ''} "
        f"at or above {fail_on.label}"
    ]
    for item in ordered:
        lines.append(f"  - [{item.threat.severity.label}] {_printable(item.reason)}")
    return "\n".join(lines)


def _printable(text: str) -> str:
    """Model text without control characters (it cannot move the terminal's cursor)."""
    return "".join(c if c.isprintable() else " " for c in text)


def _severity(value: str, option: str) -> Severity:
    try:
        return Severity.parse(value)
    except ValueError as exc:
        raise UsageError(str(exc), where=option) from None


# --------------------------------------------------------------------------- commands


@threats_app.command("check")
def check(
    ctx: typer.Context,
    model: ModelArg = DEFAULT_MODEL,
    junit: JunitOpt = None,
    rules: RulesOpt = None,
    no_builtin: NoBuiltinOpt = False,
    no_collect: NoCollectOpt = False,
    no_evidence: NoEvidenceOpt = False,
    fmt: Annotated[
        CheckFormat, typer.Option("--format", "-f", help="Output format.")
    ] = CheckFormat.CONSOLE,
    output: OutputOpt = None,
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on",
            metavar="SEVERITY",
            help="Fail (exit 1) when an open threat is at or above this severity: "
            "info, low, medium, high or critical.",
        ),
    ] = "high",
    root: RootOpt = None,
    python: PythonOpt = None,
) -> None:
    """Derive threats, prove mitigations with test evidence, fail on open threats.

    Exit 1 when an open threat is at or above --fail-on; reasons name threat, control, test."""
    state = _state(ctx)
    with _handled(state):
        threshold = _severity(fail_on, "--fail-on")
        analysis = _analyze(
            model,
            junit=junit or [],
            rules=rules or [],
            no_builtin=no_builtin,
            no_collect=no_collect,
            no_evidence=no_evidence,
            root=root,
            python=python,
        )
        content = _render(analysis, fmt.value)
        if output is not None:
            _write(output, content)
    _warn(state, analysis)
    blocking = _blocking(analysis, threshold)
    verdict = _verdict(blocking, threshold)
    machine_on_stdout = output is None and fmt is not CheckFormat.CONSOLE
    if output is None:
        if fmt is not CheckFormat.CONSOLE or not state.quiet:
            _emit(content)
    elif not state.quiet and fmt is not CheckFormat.CONSOLE:
        from turbosec.threats.report.console import render_console

        _emit(render_console(analysis))
    if not machine_on_stdout and not state.quiet:
        typer.echo("")
    if output is not None and not state.quiet:
        typer.echo(f"report: {output}", err=machine_on_stdout)
    typer.echo(verdict, err=machine_on_stdout)
    if blocking:
        raise typer.Exit(EXIT_FAILED)


@threats_app.command("report")
def report(
    ctx: typer.Context,
    model: ModelArg = DEFAULT_MODEL,
    fmt: Annotated[
        ReportFormat, typer.Option("--format", "-f", help="Report format.")
    ] = ReportFormat.MARKDOWN,
    output: OutputOpt = None,
    junit: JunitOpt = None,
    rules: RulesOpt = None,
    no_builtin: NoBuiltinOpt = False,
    no_collect: NoCollectOpt = False,
    no_evidence: NoEvidenceOpt = False,
    root: RootOpt = None,
    python: PythonOpt = None,
) -> None:
    """Write the threat report: Markdown, self-contained HTML, JSON or SARIF.

    Never fails on open threats (use 'check' for that)."""
    state = _state(ctx)
    with _handled(state):
        analysis = _analyze(
            model,
            junit=junit or [],
            rules=rules or [],
            no_builtin=no_builtin,
            no_collect=no_collect,
            no_evidence=no_evidence,
            root=root,
            python=python,
        )
        content = _render(analysis, fmt.value)
        if output is not None:
            _write(output, content)
    _warn(state, analysis)
    if output is None:
        _emit(content)
    elif not state.quiet:
        typer.echo(f"report: {output}", err=True)


@threats_app.command("diagram")
def diagram(
    ctx: typer.Context,
    model: ModelArg = DEFAULT_MODEL,
    fmt: Annotated[
        DiagramFormat,
        typer.Option(
            "--format",
            "-f",
            help="mermaid (renders in GitHub/GitLab Markdown) or dot (Graphviz).",
        ),
    ] = DiagramFormat.MERMAID,
    output: OutputOpt = None,
) -> None:
    """Draw the model's data flows, trust boundaries as nested clusters."""
    state = _state(ctx)
    with _handled(state):
        from turbosec.threats.loader import load_model
        from turbosec.threats.report.diagram import render_dot, render_mermaid

        loaded = load_model(_model_path(model))
        text = render_mermaid(loaded) if fmt is DiagramFormat.MERMAID else render_dot(loaded)
        if output is not None:
            _write(output, text)
    if output is None:
        _emit(text)


def _diff_side(spec: str, repo: Path, default_path: str) -> ThreatModel:
    """A model from a file path, ``REV:PATH``, or a revision (at the default model path)."""
    from turbosec.threats.diff import load_model_at_revision
    from turbosec.threats.loader import load_model

    path = Path(spec)
    if path.is_file():
        return load_model(path)
    if path.is_dir():
        raise UsageError(
            f"{spec} is a directory", hint="name a model file, REV:PATH or a git revision"
        )
    if not (repo / ".git").exists() and not _inside_git(repo):
        raise UsageError(
            f"no model file {spec}, and {repo} is not a git repository to read a revision from",
            hint="name a model file, or run in the repository (or pass --repo)",
        )
    revision, colon, rel = spec.partition(":")
    if colon:
        return load_model_at_revision(repo, revision or "HEAD", rel or default_path)
    return load_model_at_revision(repo, spec, default_path)


def _inside_git(repo: Path) -> bool:
    return any((parent / ".git").exists() for parent in repo.resolve().parents)


@threats_app.command("diff")
def diff(
    ctx: typer.Context,
    old: Annotated[
        str,
        typer.Argument(metavar="OLD", help="Model file, REV:PATH, or a git revision (at --model)."),
    ],
    new: Annotated[
        str,
        typer.Argument(metavar="NEW", help="Model file, REV:PATH, or a git revision (at --model)."),
    ],
    repo: Annotated[
        Path,
        typer.Option("--repo", metavar="DIR", file_okay=False, help="The git repository."),
    ] = Path("."),
    model_path: Annotated[
        str,
        typer.Option(
            "--model",
            metavar="PATH",
            help="Model path inside the repository when OLD or NEW is a bare revision.",
        ),
    ] = str(DEFAULT_MODEL),
    rules: RulesOpt = None,
    no_builtin: NoBuiltinOpt = False,
    old_junit: Annotated[
        list[Path] | None,
        typer.Option(
            "--old-junit",
            metavar="FILE",
            help="JUnit report of OLD's tests: compares evidence too (repeatable).",
        ),
    ] = None,
    new_junit: Annotated[
        list[Path] | None,
        typer.Option(
            "--new-junit",
            metavar="FILE",
            help="JUnit report of NEW's tests: compares evidence too (repeatable).",
        ),
    ] = None,
    output: OutputOpt = None,
) -> None:
    """What changed between two models, as Markdown for a pull-request comment.

    Elements, threats, statuses and (with --old-junit/--new-junit) evidence."""
    state = _state(ctx)
    with _handled(state):
        from turbosec.threats.assess import analyze_model
        from turbosec.threats.diff import diff_analyses, render_diff_markdown

        for report_file in [*(old_junit or []), *(new_junit or [])]:
            if not report_file.is_file():
                raise UsageError(f"no JUnit report at {report_file}", where="--old/new-junit")
        analyses = []
        for spec, reports in ((old, old_junit or []), (new, new_junit or [])):
            loaded = _diff_side(spec, repo, model_path)
            analyses.append(
                analyze_model(
                    loaded,
                    rule_paths=rules or [],
                    builtin_rules=not no_builtin,
                    junit=reports,
                    collect=False,
                    root=repo,
                    check_evidence=bool(reports),
                )
            )
        text = render_diff_markdown(diff_analyses(analyses[0], analyses[1]))
        if output is not None:
            _write(output, text)
    if output is None:
        _emit(text)


@import_app.command("threagile")
def import_threagile_cmd(
    ctx: typer.Context,
    source: Annotated[
        Path,
        typer.Argument(
            metavar="FILE", help="The Threagile model (YAML).", dir_okay=False, show_default=False
        ),
    ],
    output: OutputOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing output file.")
    ] = False,
) -> None:
    """Convert a Threagile model to a turbosec model (Threagile ids kept as external ids)."""
    state = _state(ctx)
    with _handled(state):
        from turbosec.threats.importers.threagile import import_threagile

        if not source.is_file():
            raise UsageError(f"no Threagile model at {source}", hint="name the YAML file")
        if output is not None and output.exists() and not force:
            raise UsageError(
                f"{output} exists", where="--output", hint="choose another file or pass --force"
            )
        text = import_threagile(source)
        if output is not None:
            _write(output, text)
    if output is None:
        _emit(text)
    elif not state.quiet:
        typer.echo(f"wrote {output}; check it with: turbosec threats check {output}", err=True)


@rules_app.command("list")
def rules_list(
    ctx: typer.Context,
    rules: RulesOpt = None,
    no_builtin: NoBuiltinOpt = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
) -> None:
    """List the rules: id, element kind, base severity, STRIDE, title and file."""
    state = _state(ctx)
    with _handled(state):
        from turbosec.threats.rules import load_rules

        ruleset = load_rules(list(rules or []), builtin=not no_builtin)
    rows = [
        {
            "id": rule.id,
            "title": rule.title,
            "applies_to": rule.applies_to,
            "severity": rule.severity_base.label,
            "stride": [s.value for s in rule.stride],
            "cwe": list(rule.cwe),
            "capec": list(rule.capec),
            "unless_controls": list(rule.unless_controls),
            "file": rule.file,
            "line": rule.line,
        }
        for rule in sorted(ruleset.rules, key=lambda r: r.id)
    ]
    if as_json:
        import orjson

        _emit(orjson.dumps(rows, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        return
    lines = [f"{'ID':<16}  {'ON':<9}  {'SEVERITY':<8}  {'STRIDE':<40}  TITLE"]
    for rule in sorted(ruleset.rules, key=lambda r: r.id):
        stride = ",".join(s.value for s in rule.stride)
        lines.append(
            f"{rule.id:<16}  {rule.applies_to:<9}  {rule.severity_base.label:<8}  "
            f"{stride:<40}  {_printable(rule.title)}"
        )
    lines.append(f"{len(rows)} rules")
    _emit("\n".join(lines))


@threats_app.command("schema")
def schema(ctx: typer.Context) -> None:
    """Print the JSON Schema of the model format (for editors)."""
    state = _state(ctx)
    with _handled(state):
        from turbosec.threats.schema import schema_text

        text = schema_text()
    _emit(text)
