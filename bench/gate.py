"""Benchmark of the build gate: ``turbosec scan`` against the scanners run by hand.

One command (``.venv/bin/python bench/gate.py``) does everything on a real, large
open-source Python code base taken from the package registry (the Django sdist, pinned):

1. download the sdist with pip into ``bench/work/``, unpack it (``filter="data"``),
   ``git init`` and commit it, count its lines of Python, read every file once (so the
   page cache is warm for every step alike);
2. (a) run bandit, semgrep (turbosec's bundled rule pack) and detect-secrets one after
   another by hand, with the options turbosec's adapters use, on the same explicit file
   lists (``git ls-files``);
3. (b) ``turbosec scan`` with an empty cache, (c) again with no change, (d) again after
   appending a harmless comment line to one ``.py`` file (restored afterwards);
4. prove (b) reports the same findings as (a): the by-hand outputs go through turbosec's
   own adapters (``parse``) and normalisation (fingerprints, cross-tool de-duplication),
   and the fingerprint multisets and the (tool, rule, path, line) multisets are compared;
   (c) and (d) must report the same fingerprints as (b);
5. print wall times, ratios against (a) and the targets of PRODUCT.md, and write
   ``bench/results/gate.json``.

Exit code: 0 every target met, 1 a target missed or the findings differ, 2 a step failed.
See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work"
RESULTS = ROOT / "bench" / "results" / "gate.json"
VENV_BIN = Path(sys.executable).parent

DJANGO_VERSION = "5.2.19"
TIMEOUT_S = 30 * 60.0
SCANNERS = ("bandit", "semgrep", "detect-secrets")  # what the issue benchmarks
# The same suffixes turbosec's adapters pick files by (checked against turbosec's commands).
BANDIT_SUFFIXES = (".py",)
SEMGREP_SUFFIXES = (".py", ".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx")
# Options turbosec's semgrep adapter passes (per-file rule timeout, timeouts per file).
SEMGREP_TIMEOUT = "30"
SEMGREP_TIMEOUT_THRESHOLD = "3"
SEMGREP_ENV = {"SEMGREP_ENABLE_VERSION_CHECK": "0", "SEMGREP_SEND_METRICS": "off"}

TARGET_COLD_RATIO = 0.75  # (b) <= 0.75 x (a)
TARGET_NO_CHANGE_S = 2.0  # (c)
TARGET_ONE_FILE_S = 3.0  # (d)
SHOWN_DIFFERENCES = 5

TOUCH_LINE = "# bench/gate.py: harmless edit for step (d), run {n}\n"


class BenchError(Exception):
    """A step could not run; the message says which and why."""


# ---------------------------------------------------------------------------- helpers


def say(text: str = "") -> None:
    print(text, flush=True)


def bench_env(xdg_cache: Path) -> dict[str, str]:
    """The environment of every timed command: this venv's programs first, a fresh cache home."""
    env = dict(os.environ)
    env["PATH"] = str(VENV_BIN) + os.pathsep + env.get("PATH", "")
    env["XDG_CACHE_HOME"] = str(xdg_cache)
    # No managed tool environments from an earlier install: turbosec resolves the scanners
    # on PATH, i.e. the same programs of this venv the by-hand commands run.
    env.pop("TURBOSEC_HOME", None)
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "250"  # rich wraps --help at the terminal width otherwise
    env.pop("GITHUB_ACTIONS", None)
    return env


@dataclass
class Run:
    argv: list[str]
    returncode: int
    stdout: bytes
    stderr: bytes
    seconds: float
    cpu_s: float = 0.0  # user + system CPU seconds of the command and the processes it waited for


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str],
    ok: Iterable[int] = (0,),
    timeout: float = TIMEOUT_S,
    what: str = "",
) -> Run:
    started = time.perf_counter()
    cpu_before = children_cpu_s()  # one command at a time: the difference is this command's
    try:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # on timeout the whole group goes (semgrep-core too)
        )
    except FileNotFoundError as exc:
        raise BenchError(f"{what or argv[0]}: cannot start {argv[0]!r}: not found") from exc
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except BaseException as exc:  # the timeout, or Ctrl-C: stop the command's process group
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        if isinstance(exc, subprocess.TimeoutExpired):
            raise BenchError(f"{what or argv[0]}: no result after {timeout:g} s") from exc
        raise
    seconds = time.perf_counter() - started
    cpu_s = children_cpu_s() - cpu_before
    if proc.returncode not in set(ok):
        tail = stderr.decode("utf-8", "replace").strip().splitlines()[-15:]
        raise BenchError(
            f"{what or argv[0]}: exit code {proc.returncode} after {seconds:.1f} s\n  "
            + "\n  ".join(tail)
        )
    return Run(list(argv), proc.returncode, stdout, stderr, seconds, cpu_s)


def git(repo: Path, *args: str, ok: Iterable[int] = (0,)) -> Run:
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0")
    return run(["git", "-C", str(repo), *args], cwd=repo, env=env, ok=ok, what="git " + args[0])


def shorten(argv: Sequence[str], corpus: Path) -> list[str]:
    """A command as printed: file lists after ``--`` counted, long paths made readable."""
    out: list[str] = []
    for i, arg in enumerate(argv):
        if arg == "--" and i < len(argv) - 1:
            out += ["--", f"<{len(argv) - i - 1} files>"]
            break
        text = Path(arg).name if i == 0 else arg
        for base, name in ((corpus, "CORPUS"), (ROOT, ".")):
            if text.startswith(str(base) + os.sep):
                text = name + "/" + text[len(str(base)) + 1 :]
        out.append(text)
    return out


def show(argv: Sequence[str], corpus: Path) -> str:
    """A command as a shell line, its file list counted: ``bandit ... -- <29 files>``."""
    parts = shorten(argv, corpus)
    if len(parts) >= 2 and parts[-2] == "--" and parts[-1].startswith("<"):
        return shlex.join(parts[:-1]) + " " + parts[-1]
    return shlex.join(parts)


# ---------------------------------------------------------------------------- corpus


@dataclass
class Corpus:
    path: Path
    name: str
    version: str | None
    source: str
    subset: str | None = None
    files: list[str] = field(default_factory=list)
    python_files: int = 0
    python_lines: int = 0
    total_bytes: int = 0
    lines_of: dict[str, int] = field(default_factory=dict)  # per .py file


def download_django(version: str, keep: bool) -> Path:
    """The sdist tarball, downloaded with pip (the ordinary registry client)."""
    sdist_dir = WORK / "sdist"
    pattern = re.compile(rf"^django-{re.escape(version)}\.tar\.gz$", re.IGNORECASE)
    found = [p for p in sdist_dir.glob("*.tar.gz") if pattern.match(p.name)]
    if keep and found:
        return found[0]
    sdist_dir.mkdir(parents=True, exist_ok=True)
    say(f"downloading the Django {version} sdist with pip ...")
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--disable-pip-version-check",
            f"django=={version}",
            "-d",
            str(sdist_dir),
        ],
        cwd=WORK,
        env=dict(os.environ),
        timeout=600,
        what="pip download",
    )
    found = [p for p in sdist_dir.glob("*.tar.gz") if pattern.match(p.name)]
    if not found:
        raise BenchError(f"pip download left no django-{version}.tar.gz in {sdist_dir}")
    return found[0]


def commit_tree(tree: Path, message: str) -> None:
    git(tree, "init", "-q")
    git(tree, "add", "-A")
    git(
        tree,
        "-c",
        "user.name=turbosec bench",
        "-c",
        "user.email=bench@turbosec.invalid",
        "-c",
        "commit.gpgsign=false",
        "commit",
        "-q",
        "--no-verify",
        "-m",
        message,
    )


def is_committed_repo(tree: Path) -> bool:
    if not (tree / ".git").exists():
        return False
    return git(tree, "rev-parse", "--verify", "-q", "HEAD", ok=(0, 1)).returncode == 0


def reset_tree(tree: Path) -> None:
    """A kept, benchmark-made corpus back at its commit (a run stopped before restoring)."""
    if git(tree, "status", "--porcelain", "--untracked-files=no").stdout.strip():
        say(f"restoring modified files in {tree}")
        git(tree, "checkout", "-q", "--", ".")


def prepare_django(version: str, keep: bool) -> Corpus:
    tree = WORK / f"django-{version}"
    if keep and is_committed_repo(tree):
        reset_tree(tree)
        say(f"reusing {tree.relative_to(ROOT)} (--keep)")
        return Corpus(tree, "django", version, "PyPI sdist (pip download)")
    tarball = download_django(version, keep)
    if tree.exists():
        shutil.rmtree(tree)
    say(f"unpacking {tarball.name} ...")
    with tarfile.open(tarball) as tar:
        tops = {Path(m.name).parts[0] for m in tar.getmembers() if Path(m.name).parts}
        if len(tops) != 1:
            raise BenchError(f"{tarball.name}: expected one top-level directory, got {tops}")
        tar.extractall(WORK, filter="data")
    unpacked = WORK / tops.pop()
    if unpacked != tree:
        unpacked.rename(tree)
    say("git init + commit ...")
    commit_tree(tree, f"Django {version} sdist")
    return Corpus(tree, "django", version, "PyPI sdist (pip download)")


def apply_subset(corpus: Corpus, subset: str, keep: bool) -> Corpus:
    """A git repository holding only ``subset`` of the corpus (copied into bench/work)."""
    source = (corpus.path / subset).resolve()
    if not source.is_dir() or not source.is_relative_to(corpus.path.resolve()):
        raise BenchError(f"--subset {subset!r} is not a directory inside {corpus.path}")
    slug = re.sub(r"[^A-Za-z0-9]+", "-", subset).strip("-") or "root"
    tree = WORK / f"{corpus.path.name}--{slug}"
    if keep and is_committed_repo(tree):
        reset_tree(tree)
        say(f"reusing {tree.relative_to(ROOT)} (--keep)")
    else:
        if tree.exists():
            shutil.rmtree(tree)
        say(f"copying the subset {subset} into {tree.relative_to(ROOT)} ...")
        shutil.copytree(source, tree, ignore=shutil.ignore_patterns(".git", ".turbosec"))
        commit_tree(tree, f"{corpus.name} {corpus.version or ''} subset {subset}".strip())
    return Corpus(tree, corpus.name, corpus.version, corpus.source, subset=subset)


def use_existing(path: Path) -> Corpus:
    tree = path.resolve()
    if not tree.is_dir():
        raise BenchError(f"--corpus {path}: not a directory")
    if not is_committed_repo(tree):
        raise BenchError(
            f"--corpus {path}: not a git work tree with a commit; turbosec and the by-hand "
            "commands list files with git (run: git init && git add -A && git commit -m corpus)"
        )
    return Corpus(tree, tree.name, None, f"--corpus {path}")


def list_files(corpus: Path) -> list[str]:
    """The files turbosec considers: git's tracked and untracked-but-not-ignored files."""
    out = git(corpus, "ls-files", "-z", "--cached", "--others", "--exclude-standard").stdout
    names = [n for n in out.decode("utf-8", "surrogateescape").split("\0") if n]
    return sorted(n for n in names if (corpus / n).is_file())


def measure(corpus: Corpus) -> None:
    """Count files and lines of Python; reading every file also warms the page cache."""
    corpus.files = list_files(corpus.path)
    for name in corpus.files:
        data = (corpus.path / name).read_bytes()
        corpus.total_bytes += len(data)
        if name.endswith(".py"):
            corpus.python_files += 1
            lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
            corpus.lines_of[name] = lines
            corpus.python_lines += lines


# ---------------------------------------------------------------------------- (a) by hand


def bundled_rules() -> Path:
    from turbosec.scan.adapters.semgrep import bundled_rules_dir

    return bundled_rules_dir()


def by_hand_commands(files: list[str]) -> dict[str, list[str]]:
    """What a person types, one tool after another, with the options turbosec passes.

    Written out here (not taken from the adapters) and compared afterwards with the commands
    turbosec reports it ran.  The three "report suppressed lines" options make each tool
    print findings it would otherwise drop silently, as turbosec does: turbosec keeps them
    in the report, marked suppressed.
    """
    py = [f for f in files if f.endswith(BANDIT_SUFFIXES)]
    code = [f for f in files if f.endswith(SEMGREP_SUFFIXES)]
    return {
        "semgrep": [
            str(VENV_BIN / "semgrep"),
            "scan",
            "--json",
            "--metrics=off",
            "--disable-version-check",
            "--no-rewrite-rule-ids",
            "--disable-nosem",  # report "nosemgrep" lines (turbosec marks them suppressed)
            "--timeout",
            SEMGREP_TIMEOUT,
            "--timeout-threshold",
            SEMGREP_TIMEOUT_THRESHOLD,
            "--config",
            str(bundled_rules()),
            "--",
            *code,
        ],
        "bandit": [
            str(VENV_BIN / "bandit"),
            "--format",
            "json",
            "--quiet",
            "--ignore-nosec",  # report "# nosec" lines (turbosec marks them suppressed)
            "--exclude",
            "",
            "--",
            *py,
        ],
        "detect-secrets": [
            str(VENV_BIN / "detect-secrets"),
            "scan",
            "--all-files",
            "--no-verify",
            # report "pragma: allowlist secret" lines (turbosec marks them suppressed)
            "--disable-filter",
            "detect_secrets.filters.allowlist.is_line_allowlisted",
            "--",
            *files,
        ],
    }


# bandit exits 1 when it found something; semgrep 0 (1 only with --error).
BY_HAND_OK = {"bandit": (0, 1), "semgrep": (0, 1), "detect-secrets": (0,)}
BY_HAND_ORDER = ("bandit", "semgrep", "detect-secrets")


def tool_versions(env: dict[str, str], corpus: Path) -> dict[str, str | None]:
    from turbosec.scan import adapters

    known = adapters.registry()
    versions: dict[str, str | None] = {}
    for name in SCANNERS:
        scanner = known[name]()
        exe = str(VENV_BIN / scanner.program)
        try:
            res = run(scanner.version_argv(exe), cwd=corpus, env={**env, **SEMGREP_ENV}, ok=(0,))
        except BenchError:
            versions[name] = None
            continue
        text = (res.stdout + res.stderr).decode("utf-8", "replace")
        versions[name] = scanner.parse_version(text)
    return versions


# ---------------------------------------------------------------------------- turbosec


def turbosec_exe() -> Path:
    exe = VENV_BIN / "turbosec"
    if not exe.is_file():
        raise BenchError(f"no turbosec executable next to {sys.executable} (pip install -e .)")
    return exe


def scan_options(env: dict[str, str], corpus: Path) -> set[str]:
    """Long options ``turbosec scan`` accepts (the incremental cache adds some)."""
    res = run([str(turbosec_exe()), "scan", "--help"], cwd=corpus, env=env, what="turbosec --help")
    return set(re.findall(r"(--[a-z][a-z0-9-]+)", res.stdout.decode("utf-8", "replace")))


@dataclass
class GateRun:
    seconds: float
    exit_code: int
    report: dict[str, Any]
    stderr_tail: str
    cpu_s: float = 0.0

    def fingerprints(self) -> collections.Counter[str]:
        return collections.Counter(f["fingerprint"] for f in self.report.get("findings", []))

    def tool_seconds(self) -> dict[str, float]:
        return {
            t["name"]: round(float(t.get("duration_s") or 0.0), 2)
            for t in self.report.get("tools", [])
            if t.get("status") not in ("skipped",)
        }

    def line(self) -> str:
        scanners = ", ".join(f"{k} {v:.1f} s" for k, v in self.tool_seconds().items())
        return (
            f"      {self.seconds:.2f} s, {self.cpu_s:.1f} CPU-s "
            f"(exit {self.exit_code}; scanners: {scanners})"
        )

    def failed_tools(self) -> list[str]:
        return [
            f"{t['name']}: {t.get('error')}"
            for t in self.report.get("tools", [])
            if t.get("status") == "failed"
        ]


def turbosec_scan(
    corpus: Path, out: Path, env: dict[str, str], extra: Sequence[str], what: str
) -> GateRun:
    out.unlink(missing_ok=True)
    argv = [str(turbosec_exe()), "scan", str(corpus)]
    for name in SCANNERS:
        argv += ["--scanner", name]
    argv += ["-f", "json", "-o", str(out), *extra]
    res = run(argv, cwd=corpus, env=env, ok=(0, 1, 2), what=what)
    tail = "\n".join(res.stderr.decode("utf-8", "replace").strip().splitlines()[-15:])
    if res.returncode == 2 or not out.is_file():
        raise BenchError(f"{what}: turbosec exited {res.returncode}\n  {tail}")
    report = orjson.loads(out.read_bytes())
    gate = GateRun(res.seconds, res.returncode, report, tail, res.cpu_s)
    if gate.failed_tools():
        raise BenchError(f"{what}: scanner failed: " + "; ".join(gate.failed_tools()))
    return gate


# ---------------------------------------------------------------------------- equivalence


def normalised_by_hand(corpus: Path, outputs: dict[str, Run]) -> list[Any]:
    """The by-hand outputs as turbosec findings: its adapters' parse() and normalisation.

    Mirrors the runner: parse in turbosec's scanner order, redact secrets a tool revealed
    from every finding, then fingerprint + exclude + cross-tool de-duplication.
    """
    from turbosec.core.config import load_config
    from turbosec.core.secrets import scrub_finding
    from turbosec.scan import adapters
    from turbosec.scan.base import RunResult
    from turbosec.scan.runner import normalise
    from turbosec.scan.target import Target

    config = load_config(None, corpus).config
    target = Target.open(corpus, config.exclude)
    findings: list[Any] = []
    secrets: list[str] = []
    for name, cls in adapters.registry().items():
        if name not in outputs:
            continue
        out = outputs[name]
        parsed = cls().parse(RunResult(out.returncode, out.stdout, out.stderr, out.seconds), target)
        findings += parsed.findings
        secrets += parsed.secrets
    if secrets:
        known = sorted(set(secrets), key=len, reverse=True)
        findings = [scrub_finding(f, known) for f in findings]
    return normalise(findings, target)


def key_of(tool: str, rule: str, location: dict[str, Any] | None) -> str:
    loc = location or {}
    return f"{tool} {rule} {loc.get('path')}:{loc.get('start_line')}"


def compare(
    left: collections.Counter[str], right: collections.Counter[str]
) -> tuple[list[str], list[str]]:
    only_left = sorted((left - right).elements())
    only_right = sorted((right - left).elements())
    return only_left, only_right


# Options turbosec's scheduler adds: how many cores each process may use.
PARALLEL_OPTIONS = {"semgrep": ("--jobs",), "detect-secrets": ("--cores",)}


def same_rules_as_bundled(compiled: Path) -> bool:
    """Does this JSON rule file hold exactly the rules of the bundled pack's YAML files?"""
    import yaml

    try:
        data = orjson.loads(compiled.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return False
    pack = bundled_rules()
    rules: list[Any] = []
    for path in sorted(p for p in pack.rglob("*") if p.suffix in (".yaml", ".yml")):
        rules.extend(yaml.safe_load(path.read_text("utf-8"))["rules"])
    return isinstance(data, dict) and data.get("rules") == rules


def scheduled_options(name: str, argv: list[str]) -> tuple[list[str], dict[str, str]]:
    """turbosec's command with what its scheduler changes taken out, and what that was.

    ``--jobs N`` / ``--cores N`` (cores per process) are dropped; semgrep's ``--config`` of
    the bundled pack compiled into one JSON file counts as the pack's directory once the
    file is checked to hold exactly the pack's rules.  The file list (after ``--``) is
    that of the whole run: shards split it between processes.
    """
    cut = argv.index("--") if "--" in argv else len(argv)
    out: list[str] = []
    notes: dict[str, str] = {}
    i = 0
    while i < cut:
        arg = argv[i]
        if arg in PARALLEL_OPTIONS.get(name, ()) and i + 1 < cut:
            notes[arg] = argv[i + 1]
            i += 2
            continue
        if name == "semgrep" and arg == "--config" and i + 1 < cut:
            value = Path(argv[i + 1])
            if value.suffix == ".json" and same_rules_as_bundled(value):
                out += [arg, str(bundled_rules())]
                notes[arg] = "the bundled pack as one JSON file (the same rules, checked)"
                i += 2
                continue
        out.append(arg)
        i += 1
    return out + argv[cut:], notes


def commands_match(
    hand: dict[str, list[str]], report: dict[str, Any], corpus: Path
) -> dict[str, Any]:
    """Are the by-hand commands the ones turbosec ran (flags, executable and file list)?

    Up to what turbosec's scheduler changes (see :func:`scheduled_options`), recorded as
    ``scheduling``.
    """
    ran = {t["name"]: list(t.get("command") or []) for t in report.get("tools", [])}
    result: dict[str, Any] = {}
    for name in SCANNERS:
        mine = hand[name]
        theirs, scheduling = scheduled_options(name, ran.get(name, []))
        cut_m = mine.index("--") if "--" in mine else len(mine)
        cut_t = theirs.index("--") if "--" in theirs else len(theirs)
        exe_same = bool(theirs) and Path(theirs[0]).resolve() == Path(mine[0]).resolve()
        flags_same = mine[1:cut_m] == theirs[1:cut_t]
        files_same = mine[cut_m:] == theirs[cut_t:]
        entry: dict[str, Any] = {
            "same": exe_same and flags_same and files_same,
            "executable_same": exe_same,
            "options_same": flags_same,
            "files_same": files_same,
            "scheduling": scheduling,
        }
        if not entry["same"]:
            entry["by_hand"] = shorten(mine, corpus)
            entry["turbosec"] = shorten(ran.get(name, []), corpus)
            if theirs and not exe_same:
                entry["turbosec_executable"] = theirs[0]
        result[name] = entry
    return result


# ---------------------------------------------------------------------------- (d)


def findings_per_file(report: dict[str, Any]) -> collections.Counter[str]:
    return collections.Counter(
        f["location"]["path"]
        for f in report.get("findings", [])
        if f.get("location") and str(f["location"].get("path", "")).endswith(".py")
    )


def pick_file(corpus: Corpus, report: dict[str, Any], touch: str | None) -> str:
    """The file step (d) changes: ``--touch``, else a typical .py file that has findings.

    Typical: the median by line count of the .py files with findings, so the change is
    neither a 20-line module nor Django's 9,000-line test file, and the cache must bring
    that file's findings back from a real re-scan.
    """
    if touch is not None:
        if touch not in corpus.files:
            raise BenchError(f"--touch {touch!r} is not a file of the corpus (git ls-files)")
        return touch
    counts = findings_per_file(report)
    ranked = sorted(counts, key=lambda p: (corpus.lines_of.get(p, 0), p))
    if ranked:
        return ranked[len(ranked) // 2]
    py = sorted(corpus.lines_of, key=lambda p: (corpus.lines_of[p], p))
    if not py:
        raise BenchError("the corpus holds no .py file to change for step (d)")
    return py[len(py) // 2]


def append_line(path: Path, n: int) -> None:
    data = path.read_bytes()
    prefix = b"" if not data or data.endswith(b"\n") else b"\n"
    path.write_bytes(data + prefix + TOUCH_LINE.format(n=n).encode("utf-8"))


# ---------------------------------------------------------------------------- report


def machine_info() -> dict[str, Any]:
    cpu = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu": cpu,
        "memory_gb": mem_gb,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def turbosec_info() -> dict[str, Any]:
    import turbosec

    commit = dirty = None
    if (ROOT / ".git").exists():
        head = git(ROOT, "rev-parse", "HEAD", ok=(0, 128))
        commit = head.stdout.decode().strip() or None
        status = git(ROOT, "status", "--porcelain", "--untracked-files=no", "--", "src")
        dirty = bool(status.stdout.strip())
    return {
        "version": turbosec.__version__,
        "commit": commit,
        "src_modified": dirty,
        "executable": str(turbosec_exe()),
    }


Row = tuple[str, float | None, float | None, str, str]


def print_table(rows: list[Row]) -> None:
    """step, wall seconds, ratio to (a), target, PASS/MISS; numbers right-aligned."""
    text = [("step", "wall s", "x (a)", "target", "result")]
    for step, wall, ratio, target, result in rows:
        shown_wall = "-" if wall is None else f"{wall:.2f}"
        shown_ratio = "" if ratio is None else f"{ratio:.3f}"
        text.append((step, shown_wall, shown_ratio, target, result))
    widths = [max(len(row[i]) for row in text) for i in range(5)]
    say()
    for row in text:
        cells = [
            c.rjust(widths[i]) if i in (1, 2) else c.ljust(widths[i]) for i, c in enumerate(row)
        ]
        say("  ".join(cells).rstrip())


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


# ---------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/gate.py",
        description="Benchmark turbosec scan against bandit + semgrep + detect-secrets by hand.",
    )
    parser.add_argument(
        "--django-version",
        default=DJANGO_VERSION,
        help=f"Django sdist to download (default {DJANGO_VERSION})",
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        help="use this existing git work tree instead of downloading Django "
        "(its .turbosec/ is deleted; one .py file is appended to and restored)",
    )
    parser.add_argument(
        "--subset",
        help="scan only this directory of the corpus (copied into bench/work as its own repo)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="reuse bench/work from an earlier run (no download)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        metavar="N",
        help="time steps (c) and (d) N times each and report the median (default 3)",
    )
    parser.add_argument(
        "--touch",
        metavar="PATH",
        help="the file step (d) appends a line to (default: the median-sized .py file "
        "among those with findings)",
    )
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help="where to write the JSON results"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return bench(args)
    except BenchError as exc:
        say(f"\nbench/gate.py: {exc}")
        return 2


@dataclass
class ByHand:
    commands: dict[str, list[str]]
    runs: dict[str, Run]
    list_s: float

    @property
    def total_s(self) -> float:
        return self.list_s + sum(r.seconds for r in self.runs.values())

    @property
    def cpu_s(self) -> float:
        return sum(r.cpu_s for r in self.runs.values())


def step_by_hand(corpus: Corpus, env: dict[str, str], out_dir: Path) -> ByHand:
    say("\n(a) the three scanners by hand, one after another")
    started = time.perf_counter()
    files = list_files(corpus.path)  # the person's `git ls-files`
    list_s = time.perf_counter() - started
    commands = by_hand_commands(files)
    runs: dict[str, Run] = {}
    for name in BY_HAND_ORDER:
        say(f"    $ {show(commands[name], corpus.path)}")
        tool_env = {**env, **SEMGREP_ENV} if name == "semgrep" else env
        res = run(
            commands[name],
            cwd=corpus.path,
            env=tool_env,
            ok=BY_HAND_OK[name],
            what=f"{name} by hand",
        )
        (out_dir / f"by-hand-{name}.json").write_bytes(res.stdout)
        runs[name] = res
        say(f"      {res.seconds:.1f} s, {res.cpu_s:.1f} CPU-s")
    return ByHand(commands, runs, list_s)


def step_equivalence(corpus: Corpus, hand: ByHand, cold: GateRun) -> dict[str, Any]:
    say("\nfindings: by-hand outputs through turbosec's parse() + normalise() vs the report (b)")
    by_hand = normalised_by_hand(corpus.path, hand.runs)
    hand_fp = collections.Counter(f.fingerprint for f in by_hand)
    hand_keys = collections.Counter(
        key_of(f.tool, f.rule_id, f.location.to_dict() if f.location else None) for f in by_hand
    )
    cold_fp = cold.fingerprints()
    cold_keys = collections.Counter(
        key_of(f["tool"], f["rule_id"], f.get("location")) for f in cold.report["findings"]
    )
    fp_only_hand, fp_only_gate = compare(hand_fp, cold_fp)
    key_only_hand, key_only_gate = compare(hand_keys, cold_keys)
    raw_hand = {name: raw_count(name, res) for name, res in hand.runs.items()}
    raw_gate = {t["name"]: t.get("findings") for t in cold.report["tools"] if t["name"] in SCANNERS}
    say(
        f"    by hand: {hand_fp.total()} findings after normalisation (raw: {raw_hand}); "
        f"turbosec: {cold_fp.total()} (raw: {raw_gate})"
    )
    for what, only_a, only_b in (
        ("fingerprints", fp_only_hand, fp_only_gate),
        ("(tool, rule, path, line)", key_only_hand, key_only_gate),
    ):
        same = " - same multiset" if not (only_a or only_b) else ""
        say(f"    {what}: only by hand {len(only_a)}, only turbosec {len(only_b)}{same}")
        for item in only_a[:SHOWN_DIFFERENCES]:
            say(f"      only by hand:  {item}")
        for item in only_b[:SHOWN_DIFFERENCES]:
            say(f"      only turbosec: {item}")
    commands = commands_match(hand.commands, cold.report, corpus.path)
    for name, entry in commands.items():
        if not entry["same"]:
            say(f"    the command turbosec ran differs for {name}: {entry}")
    if all(e["same"] for e in commands.values()):
        say("    commands: turbosec ran the by-hand commands (executable, options, files)")
        for name, entry in commands.items():
            if entry["scheduling"]:
                say(f"      {name}, scheduled: {entry['scheduling']}")
    return {
        "same_findings": not (fp_only_hand or fp_only_gate or key_only_hand or key_only_gate),
        "findings_by_hand": hand_fp.total(),
        "findings_turbosec": cold_fp.total(),
        "raw_findings_by_hand": raw_hand,
        "raw_findings_turbosec": raw_gate,
        "fingerprints_only_by_hand": len(fp_only_hand),
        "fingerprints_only_turbosec": len(fp_only_gate),
        "keys_only_by_hand": len(key_only_hand),
        "keys_only_turbosec": len(key_only_gate),
        "first_keys_only_by_hand": key_only_hand[:SHOWN_DIFFERENCES],
        "first_keys_only_turbosec": key_only_gate[:SHOWN_DIFFERENCES],
        "commands_same": all(e["same"] for e in commands.values()),
        "commands": commands,
    }


@dataclass
class Repeated:
    """Step (c) or (d): its runs, or the error that stopped it."""

    runs: list[GateRun] = field(default_factory=list)
    error: str | None = None

    @property
    def median_s(self) -> float | None:
        if self.error is not None or not self.runs:
            return None
        return statistics.median(g.seconds for g in self.runs)

    def same_as(self, fingerprints: collections.Counter[str]) -> bool:
        return self.error is None and all(g.fingerprints() == fingerprints for g in self.runs)

    def summary(self) -> dict[str, Any]:
        return {
            "median_s": None if self.median_s is None else round(self.median_s, 3),
            "error": self.error,
            "runs": [run_summary(g) for g in self.runs],
        }


def repeated_scans(
    corpus: Corpus,
    env: dict[str, str],
    extra: list[str],
    out_dir: Path,
    times: int,
    step: str,
    touched: Path | None = None,
) -> Repeated:
    done = Repeated()
    original = touched.read_bytes() if touched is not None else None
    try:
        for i in range(times):
            if touched is not None:
                append_line(touched, i + 1)
            gate = turbosec_scan(corpus.path, out_dir / f"{step}-{i}.json", env, extra, step)
            done.runs.append(gate)
            say(gate.line())
    except BenchError as exc:
        done.error = str(exc)
        say(f"      FAILED: {exc}")
    finally:
        if touched is not None and original is not None:
            touched.write_bytes(original)
    return done


def bench(args: argparse.Namespace) -> int:
    load_before = os.getloadavg()
    if not args.keep and WORK.exists():
        shutil.rmtree(WORK)
    WORK.mkdir(parents=True, exist_ok=True)
    out_dir = WORK / "out"
    out_dir.mkdir(exist_ok=True)

    # ---- corpus
    if args.corpus:
        corpus = use_existing(args.corpus)
    else:
        corpus = prepare_django(args.django_version, args.keep)
    if args.subset:
        corpus = apply_subset(corpus, args.subset, args.keep)
    measure(corpus)
    label = f"{corpus.name} {corpus.version or ''}".strip()
    if corpus.subset:
        label += f" (subset {corpus.subset})"
    say(
        f"corpus: {label}: {len(corpus.files)} files, {corpus.python_files} Python files, "
        f"{corpus.python_lines:,} lines of Python, {corpus.total_bytes / 1e6:.1f} MB"
    )

    xdg = WORK / "xdg-cache"
    env = bench_env(xdg)
    machine = machine_info()
    versions = tool_versions(env, corpus.path)
    tinfo = turbosec_info()
    say(
        f"machine: {machine['usable_cores']} cores, Python {machine['python']}, load average "
        f"{load_before[0]:.2f}; "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + f"; turbosec {tinfo['version']}"
    )

    # ---- (a) by hand, one tool after another
    if xdg.exists():
        shutil.rmtree(xdg)
    xdg.mkdir(parents=True)
    hand = step_by_hand(corpus, env, out_dir)

    # ---- (b) turbosec scan, cold
    options = scan_options(env, corpus.path)
    extra: list[str] = []
    if "--no-baseline" in options:
        extra.append("--no-baseline")  # a baseline changes findings' states, not the set
    cache_dir = WORK / "turbosec-cache"
    if "--cache-dir" in options:
        extra += ["--cache-dir", str(cache_dir)]
        cache_note = "a fresh --cache-dir before (b), kept for (c) and (d)"
    else:
        cache_note = "no --cache-dir option: CORPUS/.turbosec and XDG_CACHE_HOME emptied before (b)"
    for stale in (cache_dir, corpus.path / ".turbosec", xdg):
        if stale.exists():
            shutil.rmtree(stale)
    xdg.mkdir(parents=True)
    shown = [str(turbosec_exe()), "scan", str(corpus.path)]
    for name in SCANNERS:
        shown += ["--scanner", name]
    shown += ["-f", "json", "-o", str(out_dir / "cold.json"), *extra]
    say(f"\n(b) turbosec scan, cold ({cache_note})\n    $ {show(shown, corpus.path)}")
    cold = turbosec_scan(corpus.path, out_dir / "cold.json", env, extra, "(b) cold")
    say(cold.line())

    # ---- (a) = (b)?  Before anything in the corpus changes.
    equivalence = step_equivalence(corpus, hand, cold)
    cold_fp = cold.fingerprints()

    # ---- (c) no change, (d) one file changed
    say(f"\n(c) turbosec scan again, no change (x{args.repeat})")
    no_change = repeated_scans(corpus, env, extra, out_dir, args.repeat, "no-change")
    touched = pick_file(corpus, cold.report, args.touch)
    in_file = findings_per_file(cold.report).get(touched, 0)
    touched_lines = corpus.lines_of.get(touched)
    say(
        f"\n(d) turbosec scan after appending a comment line to {touched} "
        f"({touched_lines} lines, {in_file} findings; restored afterwards) (x{args.repeat})"
    )
    one_file = repeated_scans(
        corpus, env, extra, out_dir, args.repeat, "one-file", touched=corpus.path / touched
    )
    load_after = os.getloadavg()

    # ---- verdicts, table, JSON
    a_s, b_s, c_s, d_s = hand.total_s, cold.seconds, no_change.median_s, one_file.median_s
    b_ok = b_s <= TARGET_COLD_RATIO * a_s
    c_ok = c_s is not None and c_s <= TARGET_NO_CHANGE_S
    d_ok = d_s is not None and d_s <= TARGET_ONE_FILE_S
    c_same = no_change.same_as(cold_fp)
    d_same = one_file.same_as(cold_fp)
    same_ok = equivalence["same_findings"] and c_same and d_same

    def ratio(value: float | None) -> float | None:
        return None if value is None else value / a_s

    rows: list[Row] = [
        ("(a) by hand: git ls-files", hand.list_s, None, "", ""),
        *((f"(a) by hand: {n}", hand.runs[n].seconds, None, "", "") for n in BY_HAND_ORDER),
        ("(a) by hand: total", a_s, 1.0, "reference", ""),
        ("(b) turbosec scan, cold", b_s, ratio(b_s), "<= 0.75 x (a)", verdict(b_ok)),
        ("(c) turbosec scan, no change", c_s, ratio(c_s), "<= 2 s", verdict(c_ok)),
        ("(d) turbosec scan, one file changed", d_s, ratio(d_s), "<= 3 s", verdict(d_ok)),
    ]
    print_table(rows)
    say(
        f"\nsame findings: (b) = (a) {verdict(equivalence['same_findings'])} "
        f"({cold_fp.total()} findings; fingerprints and (tool, rule, path, line) compared), "
        f"(c) = (b) {verdict(c_same)}, (d) = (b) {verdict(d_same)}; turbosec ran the by-hand "
        f"commands: {'yes' if equivalence['commands_same'] else 'NO'}"
    )
    say(
        f"corpus: {label}, {corpus.python_lines:,} lines of Python in {corpus.python_files} "
        f"files; {len(corpus.files)} files in all (detect-secrets reads every one)"
    )
    say(f"load average: {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    cores = int(machine["usable_cores"])
    floor_s = cold.cpu_s / cores
    say(
        f"CPU: (a) {hand.cpu_s:.1f} CPU-s in {a_s:.1f} s ({hand.cpu_s / a_s:.2f} cores busy on "
        f"average); (b) {cold.cpu_s:.1f} CPU-s in {b_s:.1f} s. With {cores} cores, (b) cannot "
        f"take less than {floor_s:.1f} s = {floor_s / a_s:.3f} x (a) unless the scanners do "
        "less work"
    )

    failed = no_change.error is not None or one_file.error is not None
    passed = b_ok and c_ok and d_ok and same_ok and not failed
    results = {
        "benchmark": "gate",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": shlex.join(["python", "bench/gate.py", *sys.argv[1:]]),
        "passed": passed,
        "machine": {
            **machine,
            "load_average_before": round(load_before[0], 2),
            "load_average_after": round(load_after[0], 2),
        },
        "tool_versions": versions,
        "turbosec": {
            **tinfo,
            "executable": display_path(Path(tinfo["executable"])),
            "scan_options_added": shorten(["turbosec", *extra], corpus.path)[1:],
            "cache": cache_note,
        },
        "corpus": {
            "name": corpus.name,
            "version": corpus.version,
            "source": corpus.source,
            "subset": corpus.subset,
            "files": len(corpus.files),
            "python_files": corpus.python_files,
            "python_lines": corpus.python_lines,
            "bytes": corpus.total_bytes,
        },
        "seconds": {
            "a_by_hand": round(a_s, 2),
            "b_cold": round(b_s, 2),
            "c_no_change": None if c_s is None else round(c_s, 3),
            "d_one_file_changed": None if d_s is None else round(d_s, 3),
        },
        "ratios_vs_by_hand": {
            "b_cold": round(b_s / a_s, 3),
            "c_no_change": None if c_s is None else round(c_s / a_s, 4),
            "d_one_file_changed": None if d_s is None else round(d_s / a_s, 4),
        },
        "targets": {
            "b_cold": {"limit": f"<= {TARGET_COLD_RATIO} x (a)", "passed": b_ok},
            "c_no_change": {"limit_s": TARGET_NO_CHANGE_S, "passed": c_ok},
            "d_one_file_changed": {"limit_s": TARGET_ONE_FILE_S, "passed": d_ok},
            "same_findings": {"passed": same_ok},
        },
        "a_by_hand": {
            "commands": {n: shorten(hand.commands[n], corpus.path) for n in BY_HAND_ORDER},
            "seconds": {
                "git ls-files": round(hand.list_s, 3),
                **{n: round(hand.runs[n].seconds, 2) for n in BY_HAND_ORDER},
            },
            "total_s": round(a_s, 2),
            "cpu_seconds": {n: round(hand.runs[n].cpu_s, 2) for n in BY_HAND_ORDER},
            "cpu_total_s": round(hand.cpu_s, 2),
        },
        "b_cold": {
            **run_summary(cold),
            "cpu_s": round(cold.cpu_s, 2),
            # the shortest wall time this CPU work allows on the usable cores
            "cpu_floor_s": round(floor_s, 2),
            "cpu_floor_ratio_vs_by_hand": round(floor_s / a_s, 3),
        },
        "c_no_change": no_change.summary(),
        "d_one_file_changed": {
            "file": touched,
            "file_lines": touched_lines,
            "findings_in_file": in_file,
            **one_file.summary(),
        },
        "equivalence": {
            **equivalence,
            "c_same_as_b": c_same,
            "d_same_as_b": d_same,
        },
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2) + b"\n")
    say(f"\nwrote {display_path(args.results)}; overall: {'PASS' if passed else 'MISS'}")
    if failed:
        return 2
    return 0 if passed else 1


def raw_count(name: str, res: Run) -> int | None:
    """How many findings the tool printed (before turbosec's de-duplication)."""
    try:
        data = orjson.loads(res.stdout)
    except orjson.JSONDecodeError:
        return None
    results = data.get("results") if isinstance(data, dict) else None
    if name == "detect-secrets" and isinstance(results, dict):
        return sum(len(v) for v in results.values() if isinstance(v, list))
    return len(results) if isinstance(results, list) else None


def run_summary(gate: GateRun) -> dict[str, Any]:
    return {
        "seconds": round(gate.seconds, 3),
        "exit_code": gate.exit_code,
        "findings": gate.fingerprints().total(),
        "scanner_seconds": gate.tool_seconds(),
        "report_duration_s": gate.report.get("duration_s"),
    }


def display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
