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

Phase two schedules work, not scanners: every process to start (a version probe, a
scanner's run, or one shard of a large file-scope run) is a task of one pool of ``jobs``
workers (default: the usable cores), started longest first, each process told how many
cores it may use (``--jobs``/``--cores``), so the cores stay busy until the end without
being oversubscribed.  Shards' outputs are merged into the document one process would
print and parsed once; a failed shard fails its scanner.  The ``command`` reported for a
scanner is that of the whole run (its options, every file), whatever the shards.
"""

from __future__ import annotations

import datetime
import heapq
import os
import threading
import time
from collections.abc import Callable, Sequence
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
from turbosec.scan.base import InProcessScanner, Invocation, Parsed, RunResult, Scanner
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


# ---------------------------------------------------------------------------- phase two
#
# Work is scheduled, not scanners: every process to start is a task of one pool of
# ``jobs`` workers (default: the usable cores), longest first, so the cores stay busy until
# the end.  A file-scope scanner that can merge the outputs of several runs
# (``merge_outputs``) is split into shards balanced by bytes when its work is large enough;
# its shards' outputs are merged into one document and parsed once, exactly as one run's
# output would be, so findings, warnings and revealed secrets are those of one process.

#: Rough cost of a scanner when the adapter does not say (seconds; per process / per MB).
DEFAULT_STARTUP_S = 1.0
DEFAULT_SECONDS_PER_MB = 2.0
#: Shards per worker the work is cut into (finer pieces balance better at the end).
SHARDS_PER_WORKER = 4
#: A shard is never smaller than this many seconds of estimated work, nor than this many
#: times the program's start-up (each shard pays it).
MIN_SHARD_S = 4.0
MIN_SHARD_STARTUPS = 5.0
#: The smallest tail shard (seconds of estimated work; also at least MIN_SHARD_STARTUPS
#: start-ups).  Each scanner's last shards halve in size down to it, so the tasks the pool
#: starts last are short and both cores finish at about the same time.
MIN_TAIL_SHARD_S = 2.0
_MB = 1024 * 1024


def worker_count(configured: int | None) -> int:
    """The pool size: the configured ``jobs``, else the cores this process may use."""
    if configured:
        return configured
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _startup_s(scanner: Scanner) -> float:
    return float(getattr(scanner, "startup_s", DEFAULT_STARTUP_S))


def _seconds_per_mb(scanner: Scanner) -> float:
    return float(getattr(scanner, "seconds_per_mb", DEFAULT_SECONDS_PER_MB))


def _merger(scanner: Scanner) -> Callable[[Sequence[bytes]], bytes] | None:
    merge = getattr(scanner, "merge_outputs", None)
    return merge if callable(merge) else None


def _takes_workers(scanner: Scanner) -> bool:
    """The adapter's ``invocation`` accepts ``workers`` (how many cores the process may use)."""
    return bool(getattr(scanner, "accepts_workers", False))


def split_by_weights(
    files: Sequence[str], sizes: dict[str, int], weights: Sequence[float]
) -> list[list[str]]:
    """``files`` in groups whose total sizes follow ``weights``, each in the given order.

    Largest file first into the group furthest below its share; empty groups are dropped
    and the rest come largest share first.
    """
    if not files:
        return []
    if len(weights) <= 1:
        return [list(files)]
    total = sum(sizes.get(p, 0) + 1 for p in files)  # +1: empty files spread too
    scale = total / sum(weights)
    targets = [w * scale for w in weights]
    groups: list[list[str]] = [[] for _ in weights]
    # the group with the most room left: (-(target - load), index)
    heap = [(-t, i) for i, t in enumerate(targets)]
    heapq.heapify(heap)
    for path in sorted(files, key=lambda p: -sizes.get(p, 0)):
        room, i = heapq.heappop(heap)
        groups[i].append(path)
        heapq.heappush(heap, (room + sizes.get(path, 0) + 1, i))
    position = {p: n for n, p in enumerate(files)}
    return [sorted(g, key=position.__getitem__) for g in groups if g]


def shard_plan(work_s: float, piece_s: float, smallest_s: float) -> list[float]:
    """Estimated seconds of each shard of ``work_s``: pieces of about ``piece_s``, then a tail
    of halving shards down to ``smallest_s`` (largest first).

    Cutting everything small would pay many start-ups; cutting it evenly leaves one core
    idle while the other finishes a whole piece.  A geometric tail does neither: only a few
    more processes, and whatever the estimates' error, the last tasks are short.
    """
    if piece_s <= 0 or work_s < 1.5 * piece_s:
        return [work_s]
    tail: list[float] = []
    size = piece_s / 2
    while size >= smallest_s and work_s - sum(tail) - size >= piece_s:
        tail.append(size)
        size /= 2
    head = work_s - sum(tail)
    count = max(1, round(head / piece_s))
    return [head / count] * count + tail


def _sizes(root: Path, files: Sequence[str]) -> dict[str, int]:
    prefix = os.path.join(root, "")
    out: dict[str, int] = {}
    for path in files:
        try:
            out[path] = os.stat(prefix + path).st_size
        except OSError:
            out[path] = 0
    return out


@dataclass
class _Task:
    """One process (or in-process scan) of phase two."""

    cost: float  # estimated seconds: the pool starts the longest first
    job: _Job
    kind: str  # "probe", "inprocess", "shard"
    index: int = 0

    def run(self) -> None:
        self.job.run_task(self)


class _Job:
    """One scanner's phase two: what to run, its tasks, and the merge of their results."""

    def __init__(
        self,
        prep: _Prepared,
        target: Target,
        listener: ProgressListener,
        cache: ScanCache | None,
    ) -> None:
        self.prep = prep
        self.target = target
        self.listener = listener
        self.cache = cache
        self.scope = target
        self.needs_run = False  # a scanner process must run (not everything is cached)
        self.files: list[str] = []  # the files it reads
        self.sizes: dict[str, int] = {}
        self.shards: list[list[str]] = []
        self.outputs: list[RunResult | None] = []
        self.workers = 1
        self.argv: tuple[str, ...] = ()
        self.parsed: Parsed | None = None
        self.error: ScannerError | None = None
        self.outcome: _ScannerResult | None = None
        self._pending = 0
        self._lock = threading.Lock()
        scanner, lookup = prep.scanner, prep.lookup
        if prep.error is not None or isinstance(scanner, InProcessScanner):
            return
        if lookup is not None and not lookup.to_scan:
            return  # everything comes from the cache: no process at all
        self.needs_run = True
        if lookup is not None and lookup.scope == "file":
            self.scope = target.restricted(lookup.to_scan)
        try:
            self.files = list(scanner.scanned_files(self.scope, prep.cfg))
        except ScannerError as exc:
            self.error = exc
        self.sizes = _sizes(target.root, self.files)

    @property
    def work_s(self) -> float:
        """Estimated seconds of scanning, start-up excluded."""
        total = sum(self.sizes.values())
        return _seconds_per_mb(self.prep.scanner) * total / _MB

    @property
    def cost_s(self) -> float:
        if not self.needs_run:
            return 0.0
        return _startup_s(self.prep.scanner) + self.work_s

    def plan(self, jobs: int, total_cost_s: float) -> list[_Task]:
        """Cut the work into tasks; ``total_cost_s`` is the estimate of all scanners' work."""
        prep, scanner = self.prep, self.prep.scanner
        tasks: list[_Task] = []
        if prep.error is not None or self.error is not None:
            return tasks
        if isinstance(scanner, InProcessScanner):
            tasks.append(_Task(0.5, self, "inprocess"))
        else:
            if prep.version is None:
                tasks.append(_Task(_startup_s(scanner), self, "probe"))
            if self.needs_run:
                weights = [1.0]
                if jobs > 1 and scanner.scope == "file" and _merger(scanner) is not None:
                    startup = _startup_s(scanner)
                    piece = max(
                        total_cost_s / (jobs * SHARDS_PER_WORKER),
                        MIN_SHARD_S,
                        MIN_SHARD_STARTUPS * startup,
                    )
                    smallest = max(MIN_TAIL_SHARD_S, MIN_SHARD_STARTUPS * startup)
                    weights = shard_plan(self.work_s, piece, smallest)[: len(self.files)]
                self.shards = split_by_weights(self.files, self.sizes, weights) or [
                    list(self.files)
                ]
                self.outputs = [None] * len(self.shards)
                per_mb = _seconds_per_mb(scanner)
                for i, shard in enumerate(self.shards):
                    cost = _startup_s(scanner) + per_mb * sum(self.sizes[p] for p in shard) / _MB
                    tasks.append(_Task(cost, self, "shard", i))
        self._pending = len(tasks)
        return tasks

    def set_workers(self, workers: int) -> None:
        """How many cores each of this scanner's processes may use; the command shown."""
        self.workers = workers
        if not self.shards:
            return
        try:
            self.argv = self._invocation(self.scope).argv
        except ScannerError as exc:
            self.error = exc

    def _invocation(self, scope: Target) -> Invocation:
        prep = self.prep
        if _takes_workers(prep.scanner):
            invocation: Invocation = prep.scanner.invocation(  # type: ignore[call-arg]
                scope, prep.cfg, prep.exe, workers=self.workers
            )
            return invocation
        return prep.scanner.invocation(scope, prep.cfg, prep.exe)

    # -- running -------------------------------------------------------------------------
    def run_task(self, task: _Task) -> None:
        try:
            if self.error is None:  # a failed shard fails the scanner: skip the rest
                if task.kind == "probe":
                    self._probe()
                elif task.kind == "inprocess":
                    self._in_process()
                else:
                    self.outputs[task.index] = self._run_shard(task.index)
        except ScannerError as exc:
            with self._lock:
                if self.error is None:
                    self.error = exc
        finally:
            with self._lock:
                self._pending -= 1
                last = self._pending == 0
        if last:
            self.finish()

    def _probe(self) -> None:
        prep = self.prep
        prep.version = _probe_version(prep.scanner, self.target, prep.cfg, prep.exe)
        if self.cache is not None and prep.version is not None:
            self.cache.remember_version(prep.exe, prep.version)

    def _in_process(self) -> None:
        prep = self.prep
        assert isinstance(prep.scanner, InProcessScanner)
        self.parsed = prep.scanner.scan(self.target, prep.config)
        prep.version = prep.scanner.version()

    def _run_shard(self, index: int) -> RunResult:
        prep = self.prep
        scope = self.scope if len(self.shards) == 1 else self.scope.restricted(self.shards[index])
        invocation = self._invocation(scope)
        result = run_process(
            prep.scanner.name, invocation.argv, invocation.cwd, invocation.env, prep.cfg.timeout
        )
        if result.returncode not in invocation.ok_returncodes:
            part = f" (part {index + 1} of {len(self.shards)})" if len(self.shards) > 1 else ""
            raise ScannerError(
                prep.scanner.name,
                f"exited with code {result.returncode}"
                + (" (killed by a signal)" if result.returncode < 0 else "")
                + part,
                hint="run the command shown with -v by hand to see why it failed",
                stderr_tail=stderr_tail(result.stderr),
            )
        return result

    def _merged(self) -> RunResult:
        results = [r for r in self.outputs if r is not None]
        if len(results) == 1:
            return results[0]
        merge = _merger(self.prep.scanner)
        assert merge is not None
        try:
            stdout = merge([r.stdout for r in results])
        except ParseError as exc:
            raise ScannerError(
                self.prep.scanner.name,
                f"printed output turbosec cannot read: {exc.message}",
                hint="check the scanner's version and installation; "
                "run it by hand to see its output",
                stderr_tail=stderr_tail(b"\n".join(r.stderr for r in results)),
            ) from exc
        return RunResult(
            returncode=max(r.returncode for r in results),
            stdout=stdout,
            stderr=b"\n".join(r.stderr for r in results if r.stderr),
            duration_s=max(r.duration_s for r in results),
        )

    def finish(self) -> None:
        """Merge and parse the outputs, store them in the cache, report the scanner's run."""
        prep = self.prep
        scanner, cfg, lookup, cache = prep.scanner, prep.cfg, prep.lookup, self.cache
        argv = self.argv
        cached: list[Finding] = []
        cached_warnings: list[str] = []
        try:
            if prep.error is not None:
                raise prep.error
            if self.error is not None:
                raise self.error
            if lookup is not None and prep.version is not None and lookup.version is None:
                lookup.version = prep.version
            if lookup is not None:
                cached, cached_warnings = lookup.cached()
            if isinstance(scanner, InProcessScanner):
                parsed = self.parsed or Parsed(findings=[])
            elif not self.shards:
                parsed = Parsed(findings=[])  # everything came from the cache
            else:
                result = self._merged()
                try:
                    parsed = scanner.parse(result, self.scope)
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
        self.outcome = outcome
        self.listener.finished(outcome.run)


def _schedule(jobs_list: Sequence[_Job], workers: int) -> list[_Task]:
    """Every job's tasks in the order to start them; each process told how many cores to use."""
    total = sum(j.cost_s for j in jobs_list)
    tasks = [t for job in jobs_list for t in job.plan(workers, total)]
    processes = sum(1 for t in tasks if t.kind == "shard")
    # Fewer processes than workers (a small change, one scanner): the cores left over are
    # shared among them; otherwise each process uses one core and the pool keeps them busy.
    per_process = max(1, workers // processes) if 0 < processes < workers else 1
    for job in jobs_list:
        job.set_workers(per_process)
    # Version probes first (short; a scanner's version is known before its scan, as when
    # run by hand), then the longest tasks first.
    return sorted(tasks, key=lambda t: (t.kind != "probe", -t.cost))


def _run_scanners(
    scanners: Sequence[Scanner],
    target: Target,
    config: Config,
    listener: ProgressListener,
    cache: ScanCache | None,
) -> list[_ScannerResult]:
    """Run the scanners, in two phases when a cache is used.

    Phase one finds each program, its version and what the cache holds (no process is
    started); phase two runs what is left: every process -- a version probe, a scanner's
    run or one shard of it -- is a task of one pool of ``jobs`` workers, longest first.  A
    changed file is scanned by every file-scope scanner, the secret scanner included, so
    secrets in it are known to redact the new findings of the run (the cache stores no
    secret values).
    """
    if not scanners:
        return []
    workers = worker_count(config.jobs)
    with ThreadPoolExecutor(max_workers=len(scanners), thread_name_prefix="prepare") as pool:
        prepared = list(pool.map(lambda s: _prepare(s, target, config, listener, cache), scanners))
    jobs_list = [_Job(p, target, listener, cache) for p in prepared]
    tasks = _schedule(jobs_list, workers)
    for job in jobs_list:
        if job._pending == 0:
            job.finish()  # nothing to run: failed early, or everything came from the cache
    if tasks:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scanner") as pool:
            for future in [pool.submit(task.run) for task in tasks]:
                future.result()
    results: list[_ScannerResult] = []
    for job in jobs_list:
        assert job.outcome is not None
        results.append(job.outcome)
    return results


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
