"""Run the applicable scanners in parallel, import reports, normalise, decide.

Data flows one way: scanners and imported reports → findings → fingerprints →
cross-tool de-duplication → policy verdict → :class:`ScanReport`.
A scanner that is missing, crashes, times out or prints unreadable output is a
failure of the run (exit 2, fail closed) unless the configuration marks it optional.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from turbosec import __version__
from turbosec.core.config import Config
from turbosec.core.dedupe import deduplicate
from turbosec.core.errors import ParseError, ScannerError, TurbosecError, UsageError
from turbosec.core.finding import Finding
from turbosec.core.fingerprint import assign_fingerprints
from turbosec.core.report import ScanReport, ToolRun, ToolStatus
from turbosec.core.secrets import scrub_finding
from turbosec.scan import adapters, policy
from turbosec.scan.base import Scanner
from turbosec.scan.gitinfo import repo_info
from turbosec.scan.process import resolve_executable, run_process, stderr_tail
from turbosec.scan.target import Target

VERSION_TIMEOUT_S = 60.0


class ProgressListener(Protocol):
    def started(self, name: str) -> None: ...

    def finished(self, run: ToolRun) -> None: ...


class _Silent:
    def started(self, name: str) -> None:
        pass

    def finished(self, run: ToolRun) -> None:
        pass


@dataclass(frozen=True)
class ScanRequest:
    root: Path
    config: Config
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()
    no_scanners: bool = False


@dataclass
class ScanOutcome:
    report: ScanReport
    failures: list[ScannerError] = field(default_factory=list)  # fail the run (exit 2)
    warnings: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.failures:
            return 2
        if self.report.verdict is not None and not self.report.verdict.passed:
            return 1
        return 0


@dataclass
class _ScannerResult:
    run: ToolRun
    findings: list[Finding]
    warnings: list[str]
    error: ScannerError | None = None
    secrets: list[str] = field(default_factory=list, repr=False)


def select_scanners(request: ScanRequest, target: Target) -> tuple[list[Scanner], list[ToolRun]]:
    """Scanners to run, and skipped ones with the reason."""
    known = adapters.registry()
    for name in (*request.only, *request.skip):
        if name not in known:
            raise UsageError(
                f"unknown scanner '{name}'",
                hint="known scanners: " + ", ".join(sorted(known)),
            )
    chosen: list[Scanner] = []
    skipped: list[ToolRun] = []
    if request.no_scanners:
        return chosen, skipped
    for name, cls in known.items():
        cfg = request.config.scanners.for_scanner(name)
        scanner = cls()
        reason: str | None = None
        if request.only and name not in request.only:
            reason = "not selected with --scanner"
        elif name in request.skip:
            reason = "skipped with --skip"
        elif cfg.enabled is False:
            reason = "disabled in configuration"
        elif cfg.enabled is None and not cls.enabled_by_default and name not in request.only:
            reason = "needs an online service; enable it in configuration"
        elif not scanner.applicable(target):
            reason = "no applicable files"
        if reason is None:
            chosen.append(scanner)
        else:
            skipped.append(
                ToolRun(
                    name=name,
                    version=None,
                    status=ToolStatus.SKIPPED,
                    error=reason,
                    optional=cfg.optional,
                )
            )
    return chosen, skipped


def _run_one(
    scanner: Scanner, target: Target, config: Config, listener: ProgressListener
) -> _ScannerResult:
    cfg = config.scanners.for_scanner(scanner.name)
    listener.started(scanner.name)
    started = time.monotonic()
    version: str | None = None
    argv: tuple[str, ...] = ()
    try:
        exe = resolve_executable(
            scanner.name, scanner.program, cfg.executable, scanner.install_hint
        )
        invocation = scanner.invocation(target, cfg, exe)
        argv = invocation.argv
        try:
            vres = run_process(
                scanner.name,
                scanner.version_argv(exe),
                target.root,
                invocation.env,
                VERSION_TIMEOUT_S,
            )
            if vres.returncode == 0:
                version = scanner.parse_version(
                    vres.stdout.decode("utf-8", "replace") + vres.stderr.decode("utf-8", "replace")
                )
        except ScannerError:
            version = None
        result = run_process(
            scanner.name, invocation.argv, invocation.cwd, invocation.env, cfg.timeout
        )
        if result.returncode not in invocation.ok_returncodes:
            raise ScannerError(
                scanner.name,
                f"exited with code {result.returncode}"
                + (" (killed by a signal)" if result.returncode < 0 else ""),
                hint="run the command shown with -v by hand to see why it failed",
                stderr_tail=stderr_tail(result.stderr),
            )
        try:
            parsed = scanner.parse(result, target)
        except ParseError as exc:
            raise ScannerError(
                scanner.name,
                f"printed output turbosec cannot read: {exc.message}",
                hint="check the scanner's version and installation; "
                "run it by hand to see its output",
                stderr_tail=stderr_tail(result.stderr),
            ) from exc
        run = ToolRun(
            name=scanner.name,
            version=version,
            status=ToolStatus.OK,
            duration_s=time.monotonic() - started,
            findings=len(parsed.findings),
            optional=cfg.optional,
            command=argv,
        )
        outcome = _ScannerResult(
            run,
            parsed.findings,
            [f"{scanner.name}: {w}" for w in parsed.warnings],
            secrets=list(parsed.secrets),
        )
    except ScannerError as exc:
        run = ToolRun(
            name=scanner.name,
            version=version,
            status=ToolStatus.FAILED,
            duration_s=time.monotonic() - started,
            error=exc.diagnostics(),
            optional=cfg.optional,
            command=argv,
        )
        outcome = _ScannerResult(run, [], [], exc)
    listener.finished(outcome.run)
    return outcome


def _sort_key(f: Finding) -> tuple[int, str, int, int, str]:
    loc = f.location
    return (
        -int(f.severity),
        loc.path if loc else "",
        (loc.start_line or 0) if loc else 0,
        (loc.start_column or 0) if loc else 0,
        f.rule_id,
    )


def normalise(findings: Sequence[Finding], target: Target) -> list[Finding]:
    """Drop excluded paths, fingerprint, de-duplicate across tools, sort most severe first."""
    kept = [
        f for f in findings if f.location is None or not target.exclude.excluded(f.location.path)
    ]
    fingerprinted = assign_fingerprints(kept, target.lines)
    return sorted(deduplicate(fingerprinted), key=_sort_key)


def run_scan(request: ScanRequest, listener: ProgressListener | None = None) -> ScanOutcome:
    listener = listener or _Silent()
    if not request.root.is_dir():
        raise UsageError(
            "the path to scan is not a directory",
            where=str(request.root),
            hint="pass the repository's root directory: turbosec scan PATH",
        )
    started_wall = datetime.now(UTC)
    started = time.monotonic()
    target = Target.open(request.root, request.config.exclude)
    scanners, skipped = select_scanners(request, target)

    results: list[_ScannerResult] = []
    if scanners:
        jobs = request.config.jobs or len(scanners)
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="scanner") as pool:
            futures = [pool.submit(_run_one, s, target, request.config, listener) for s in scanners]
            results = [f.result() for f in futures]

    tools: list[ToolRun] = [r.run for r in results]
    findings: list[Finding] = [f for r in results for f in r.findings]
    secrets: list[str] = [s for r in results for s in r.secrets]
    warnings: list[str] = [w for r in results for w in r.warnings]
    failures: list[ScannerError] = []
    for r in results:
        if r.error is not None:
            if r.run.optional:
                warnings.append(f"optional scanner {r.run.name} failed: {r.error.message}")
            else:
                failures.append(r.error)

    if request.imports:
        from turbosec.scan.importers.loader import load_import

        for spec in request.imports:
            t0 = time.monotonic()
            try:
                imported = load_import(spec, target)
            except TurbosecError as exc:
                failures.append(
                    exc
                    if isinstance(exc, ScannerError)
                    else ScannerError("import", exc.message, where=exc.where, hint=exc.hint)
                )
                tools.append(
                    ToolRun(
                        name=f"import:{spec}",
                        version=None,
                        status=ToolStatus.FAILED,
                        error=exc.diagnostics(),
                    )
                )
                continue
            findings.extend(imported.findings)
            secrets.extend(imported.secrets)
            run = ToolRun(
                name=imported.tool,
                version=imported.version,
                status=ToolStatus.IMPORTED,
                duration_s=time.monotonic() - t0,
                findings=len(imported.findings),
                command=("import", spec),
            )
            tools.append(run)
            listener.finished(run)

    if secrets:
        # Longest first, so a secret containing another is redacted whole.
        known = sorted(set(secrets), key=len, reverse=True)
        findings = [scrub_finding(f, known) for f in findings]
    final = normalise(findings, target)
    verdict = policy.evaluate(final, request.config)
    if failures:
        verdict = replace(
            verdict,
            passed=False,
            reasons=(
                *verdict.reasons,
                *(f"scanner {e.scanner} failed: {e.message}" for e in failures),
            ),
        )
    tools.extend(skipped)
    finished_wall = datetime.now(UTC)
    report = ScanReport(
        repo=repo_info(target.root),
        started_at=started_wall.isoformat(timespec="seconds"),
        finished_at=finished_wall.isoformat(timespec="seconds"),
        duration_s=time.monotonic() - started,
        tools=tuple(tools),
        findings=tuple(final),
        verdict=verdict,
        turbosec_version=__version__,
        errors=tuple(e.diagnostics() for e in failures) + tuple(warnings),
    )
    return ScanOutcome(report=report, failures=failures, warnings=warnings)
