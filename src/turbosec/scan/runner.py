"""Run the applicable scanners in parallel, import reports, normalise, decide.

Data flows one way: scanners and imported reports → findings → fingerprints →
cross-tool de-duplication → policy verdict → :class:`ScanReport`.
A scanner that is missing, crashes, times out or prints unreadable output is a
failure of the run (exit 2, fail closed) unless the configuration marks it optional.

With the incremental cache (:mod:`turbosec.scan.cache`, ``ScanRequest.use_cache``) the
scanners run in two phases: first every scanner's program, version and cached results
are looked up (no process is started), then each scanner runs on what the cache does not
hold -- a file-local scanner on the changed files only, a whole-project scanner when any
of its inputs changed -- and its fresh results are stored after the run's secret
scrubbing.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC
from pathlib import Path
from typing import Protocol

from turbosec import __version__
from turbosec.core.config import Config, ScannerConfig
from turbosec.core.dedupe import deduplicate
from turbosec.core.errors import ParseError, ScannerError, TurbosecError, UsageError
from turbosec.core.finding import Finding
from turbosec.core.fingerprint import assign_fingerprints
from turbosec.core.report import FixedFinding, ScanReport, ToolRun, ToolStatus
from turbosec.core.secrets import scrub_finding
from turbosec.scan import adapters, policy
from turbosec.scan.base import InProcessScanner, Parsed, Scanner
from turbosec.scan.baseline import Baseline
from turbosec.scan.cache import Lookup, ScanCache, cache_excludes
from turbosec.scan.cache import default_dir as default_cache_dir
from turbosec.scan.gitinfo import repo_info
from turbosec.scan.process import resolve_executable, run_process, stderr_tail
from turbosec.scan.suppress import apply_suppressions
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
    baseline: Baseline | None = None  # findings already known: only new ones gate
    strict_suppressions: bool = False  # inline markers without a reason do not suppress
    today: datetime.date | None = None  # for suppression expiry (tests pin it)
    # Incremental cache (turbosec.scan.cache): off unless asked for (the CLI asks by default).
    use_cache: bool = False
    cache_dir: Path | None = None  # None: <root>/.turbosec/cache


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
        scanner.configure(request.config)
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


@dataclass
class _Prepared:
    """A scanner after phase one: program found, version known, cache consulted."""

    scanner: Scanner
    cfg: ScannerConfig
    started: float
    config: Config
    exe: str = ""
    version: str | None = None
    lookup: Lookup | None = None  # None: no cache for this scanner in this run
    error: ScannerError | None = None


def _probe_version(scanner: Scanner, target: Target, cfg: ScannerConfig, exe: str) -> str | None:
    invocation = scanner.invocation(target, cfg, exe)  # raises for a broken configuration
    try:
        vres = run_process(
            scanner.name,
            scanner.version_argv(exe),
            target.root,
            invocation.env,
            VERSION_TIMEOUT_S,
        )
    except ScannerError:
        return None
    if vres.returncode != 0:
        return None
    return scanner.parse_version(
        vres.stdout.decode("utf-8", "replace") + vres.stderr.decode("utf-8", "replace")
    )


def _prepare(
    scanner: Scanner,
    target: Target,
    config: Config,
    listener: ProgressListener,
    cache: ScanCache | None,
) -> _Prepared:
    """Find the program; ask the cache what is left to scan.  Starts no process.

    The version comes from the cache's record of this executable file; when it has none
    (first run, new tool) the version is asked in :func:`_execute`, before the scan, and
    the inputs are all scanned.
    """
    cfg = config.scanners.for_scanner(scanner.name)
    listener.started(scanner.name)
    prep = _Prepared(scanner, cfg, time.monotonic(), config=config)
    if isinstance(scanner, InProcessScanner):
        return prep  # nothing to find; its results are not cached (it takes milliseconds)
    try:
        prep.exe = resolve_executable(
            scanner.name, scanner.program, cfg.executable, scanner.install_hint, config.tools
        )
        if cache is not None:
            prep.version = cache.tool_version(prep.exe)
            try:
                prep.lookup = cache.lookup(scanner, target, cfg, prep.version)
            except (OSError, ValueError) as exc:
                cache.warn(f"cache: not used for {scanner.name} ({exc}); scanning everything")
    except ScannerError as exc:
        prep.error = exc
    return prep


def _execute(
    prep: _Prepared,
    target: Target,
    listener: ProgressListener,
    cache: ScanCache | None,
) -> _ScannerResult:
    """Run the scanner on what the cache did not hold, and merge in the cached results."""
    scanner, cfg, lookup = prep.scanner, prep.cfg, prep.lookup
    argv: tuple[str, ...] = ()
    cached: list[Finding] = []
    cached_warnings: list[str] = []
    try:
        if prep.error is not None:
            raise prep.error
        if isinstance(scanner, InProcessScanner):
            parsed = scanner.scan(target, prep.config)
            prep.version = scanner.version()
        else:
            if prep.version is None:
                prep.version = _probe_version(scanner, target, cfg, prep.exe)
                if cache is not None and prep.version is not None:
                    cache.remember_version(prep.exe, prep.version)
                if lookup is not None:
                    lookup.version = prep.version  # None: the results cannot be keyed, not stored
            if lookup is not None:
                cached, cached_warnings = lookup.cached()
            if lookup is not None and not lookup.to_scan:
                parsed = Parsed(findings=[])  # everything came from the cache: no process at all
            else:
                scope = target
                if lookup is not None and lookup.scope == "file":
                    scope = target.restricted(lookup.to_scan)
                invocation = scanner.invocation(scope, cfg, prep.exe)
                argv = invocation.argv
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
                    parsed = scanner.parse(result, scope)
                except ParseError as exc:
                    raise ScannerError(
                        scanner.name,
                        f"printed output turbosec cannot read: {exc.message}",
                        hint="check the scanner's version and installation; "
                        "run it by hand to see its output",
                        stderr_tail=stderr_tail(result.stderr),
                    ) from exc
                if cache is not None and lookup is not None:
                    cache.record(lookup, parsed)
        findings = [*cached, *parsed.findings]
        run = ToolRun(
            name=scanner.name,
            version=prep.version,
            status=ToolStatus.OK,
            duration_s=time.monotonic() - prep.started,
            findings=len(findings),
            optional=cfg.optional,
            command=argv,
            cached_files=lookup.cached_files if lookup is not None else None,
            scanned_files=len(lookup.to_scan) if lookup is not None else None,
        )
        outcome = _ScannerResult(
            run,
            findings,
            [f"{scanner.name}: {w}" for w in (*cached_warnings, *parsed.warnings)],
            secrets=list(parsed.secrets),
        )
    except ScannerError as exc:
        run = ToolRun(
            name=scanner.name,
            version=prep.version,
            status=ToolStatus.FAILED,
            duration_s=time.monotonic() - prep.started,
            error=exc.diagnostics(),
            optional=cfg.optional,
            command=argv,
        )
        outcome = _ScannerResult(run, [], [], exc)
    listener.finished(outcome.run)
    return outcome


def _run_scanners(
    scanners: Sequence[Scanner],
    target: Target,
    config: Config,
    listener: ProgressListener,
    cache: ScanCache | None,
) -> list[_ScannerResult]:
    """Run the scanners in parallel, in two phases when a cache is used.

    Phase one finds each program, its version and what the cache holds; phase two runs
    what is left.  A changed file is scanned by every file-scope scanner, the secret
    scanner included, so secrets in it are known to redact the new findings of the run
    (the cache stores no secret values).
    """
    if not scanners:
        return []
    jobs = config.jobs or len(scanners)
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="scanner") as pool:
        prepared = list(pool.map(lambda s: _prepare(s, target, config, listener, cache), scanners))
        futures = [pool.submit(_execute, p, target, listener, cache) for p in prepared]
        return [f.result() for f in futures]


def _open_cache(request: ScanRequest) -> ScanCache | None:
    if not request.use_cache:
        return None
    directory = request.cache_dir or default_cache_dir(request.root)
    return ScanCache.open(directory.absolute(), request.root.resolve())


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
    started_wall = datetime.datetime.now(UTC)
    started = time.monotonic()
    opened = _open_cache(request)
    exclude = list(request.config.exclude)
    if opened is not None:
        exclude += cache_excludes(opened.directory, request.root)  # never scan the cache
    # A foreign or broken cache directory is warned about and not used.
    cache = opened if opened is not None and opened.usable else None
    target = Target.open(request.root, exclude)
    scanners, skipped = select_scanners(request, target)

    results = _run_scanners(scanners, target, request.config, listener, cache)

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

    # Longest first, so a secret containing another is redacted whole.
    known = sorted(set(secrets), key=len, reverse=True)
    if known:
        findings = [scrub_finding(f, known) for f in findings]
    if cache is not None:
        cache.flush(known)  # stores this run's results, scrubbed of every known secret
    if opened is not None:
        warnings.extend(opened.warnings)
    final = normalise(findings, target)
    final, notices = apply_suppressions(
        final,
        target,
        request.config,
        strict=request.strict_suppressions,
        today=request.today,
        ran=None
        if not (request.only or request.skip or request.no_scanners)
        else {t.name for t in tools},
    )
    fixed: list[FixedFinding] = []
    if request.baseline is not None:
        final, fixed = request.baseline.compare(final)
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
    finished_wall = datetime.datetime.now(UTC)
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
        baseline=request.baseline.source if request.baseline is not None else None,
        fixed=tuple(fixed),
        notices=tuple(notices),
    )
    return ScanOutcome(report=report, failures=failures, warnings=warnings)
