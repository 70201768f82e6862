"""The incremental cache: which scanner processes a run starts, and that results stay right.

Process launches are counted, never timed: every scanner program is reached through a shim
placed first on PATH that appends its argument list to a log file and then ``exec``s the
real program from this virtualenv.  A warm run must start no scanner process at all (not
even ``--version``).

The tests marked ``scanners`` run the real scanners on a copy of the demo app; the others
use two tiny scanners built on ``grep`` (real processes, instant) to pin down the secret
handling, the integrity key and the cache directory rules.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import orjson
import pytest

from tests.conftest import DEMO_APP
from turbosec.core.config import Config, ScannerConfig, load_config
from turbosec.core.finding import Category, Finding, Location
from turbosec.core.report import ToolRun, ToolStatus, report_schema
from turbosec.core.secrets import redact
from turbosec.core.severity import Severity
from turbosec.scan import adapters, cache
from turbosec.scan.base import Invocation, Parsed, RunResult, Scanner
from turbosec.scan.runner import ScanOutcome, ScanRequest, run_scan
from turbosec.scan.target import Target

VENV_BIN = Path(sys.executable).parent
TURBOSEC = str(VENV_BIN / "turbosec")
LOG_ENV = "TURBOSEC_TEST_LAUNCHES"
DEMO_SCANNERS = ("semgrep", "bandit", "detect-secrets", "checkov", "zizmor")
FILE_SCOPE = ("semgrep", "bandit", "detect-secrets", "zizmor")


# --------------------------------------------------------------------------- helpers
@dataclass(frozen=True)
class Launch:
    program: str
    args: tuple[str, ...]

    @property
    def files(self) -> tuple[str, ...]:
        """The file arguments: everything after the last ``--``."""
        if "--" not in self.args:
            return ()
        last = len(self.args) - 1 - self.args[::-1].index("--")
        return self.args[last + 1 :]


def launches(log: Path) -> list[Launch]:
    if not log.exists():
        return []
    out = []
    for line in log.read_text("utf-8").splitlines():
        program, *args = line.split("\t")
        out.append(Launch(program, tuple(args)))
    return out


def by_program(log: Path) -> dict[str, list[Launch]]:
    grouped: dict[str, list[Launch]] = {}
    for launch in launches(log):
        grouped.setdefault(launch.program, []).append(launch)
    return grouped


def make_shims(directory: Path, programs: dict[str, str]) -> Path:
    """One shell script per program: log the arguments, then exec the real program."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, real in programs.items():
        script = directory / name
        # One write per launch: scanners start in parallel and append to the same log.
        script.write_text(
            "#!/bin/sh\n"
            "tab=$(printf '\\t')\n"
            f"line={shlex.quote(name)}\n"
            'for a in "$@"; do line="$line$tab$a"; done\n'
            f'printf \'%s\\n\' "$line" >> "${LOG_ENV}"\n'
            f'exec {shlex.quote(real)} "$@"\n'
        )
        script.chmod(0o755)
    return directory


def view(findings: tuple[Finding, ...] | list[Finding]) -> list[dict[str, Any]]:
    """Comparable findings: everything but the raw record and the (randomly salted) hash."""
    out = []
    for f in findings:
        data = f.to_dict(include_raw=False)
        data.pop("secret_hash")
        out.append(data)
    return sorted(out, key=lambda d: orjson.dumps(d, option=orjson.OPT_SORT_KEYS))


def cache_files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def cache_warnings(outcome: ScanOutcome) -> list[str]:
    return [w for w in outcome.warnings if w.startswith("cache:")]


# ----------------------------------------------------------------- real scanners on the demo
def demo_scan(root: Path, **kwargs: Any) -> ScanOutcome:
    kwargs.setdefault("use_cache", True)
    # the demo's own policy (its advisories for the dependency audit), programs from PATH
    config = load_config(None, root).config.model_copy(update={"tools": "path"})
    request = ScanRequest(root=root, config=config, **kwargs)
    return run_scan(request)


@dataclass
class Primed:
    app: Path
    outcome: ScanOutcome
    launches: dict[str, list[Launch]]


@dataclass
class Repo:
    app: Path
    log: Path

    @property
    def cache_dir(self) -> Path:
        return self.app / ".turbosec" / "cache"


@pytest.fixture(scope="module")
def shims(tmp_path_factory: pytest.TempPathFactory) -> Path:
    programs = {p: str(VENV_BIN / p) for p in (*DEMO_SCANNERS, "pip-audit")}
    missing = [p for p, real in programs.items() if not Path(real).is_file()]
    if missing:
        pytest.skip(f"scanners not installed next to this Python: {', '.join(missing)}")
    return make_shims(tmp_path_factory.mktemp("shims"), programs)


@pytest.fixture(scope="module")
def primed(tmp_path_factory: pytest.TempPathFactory, shims: Path) -> Primed:
    """A copy of the demo app scanned once (cold): its cache is filled."""
    base = tmp_path_factory.mktemp("primed")
    app = base / "demo-app"
    shutil.copytree(DEMO_APP, app)
    log = base / "launches.log"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", f"{shims}{os.pathsep}{os.environ['PATH']}")
        mp.setenv(LOG_ENV, str(log))
        mp.delenv(cache.KEY_ENV, raising=False)
        outcome = demo_scan(app)
    assert not outcome.failures, [f.diagnostics() for f in outcome.failures]
    assert not cache_warnings(outcome)
    return Primed(app, outcome, by_program(log))


@pytest.fixture
def repo(primed: Primed, shims: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    """A private copy of the primed demo app, cache included (as CI restores it)."""
    app = tmp_path / "demo-app"
    shutil.copytree(primed.app, app)
    log = tmp_path / "launches.log"
    monkeypatch.setenv("PATH", f"{shims}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv(LOG_ENV, str(log))
    monkeypatch.delenv(cache.KEY_ENV, raising=False)
    return Repo(app, log)


@pytest.mark.scanners
def test_cold_run_starts_every_scanner_and_fills_the_cache(primed: Primed) -> None:
    assert set(primed.launches) == set(DEMO_SCANNERS)
    directory = primed.app / ".turbosec" / "cache"
    names = set(cache_files(directory))
    assert {"CACHEDIR.TAG", ".gitignore", "tools.json"} <= names
    assert {f"{s}.json" for s in DEMO_SCANNERS} <= names
    assert (directory / ".gitignore").read_text() == "*\n"
    assert (
        (directory / "CACHEDIR.TAG")
        .read_text()
        .startswith("Signature: 8a477f597d28d172789f06886806bc55")
    )
    for run in primed.outcome.report.tools:
        if run.name in DEMO_SCANNERS:
            assert run.status is ToolStatus.OK
            assert run.cached_files == 0 and run.scanned_files


@pytest.mark.scanners
def test_unchanged_tree_starts_no_scanner_process(primed: Primed, repo: Repo) -> None:
    outcome = demo_scan(repo.app)

    assert launches(repo.log) == []  # not a scan, not even --version
    assert not outcome.failures and not cache_warnings(outcome)
    assert view(outcome.report.findings) == view(primed.outcome.report.findings)
    assert [f.fingerprint for f in outcome.report.findings] == [
        f.fingerprint for f in primed.outcome.report.findings
    ]
    assert outcome.exit_code == primed.outcome.exit_code
    for run in outcome.report.tools:
        if run.name in DEMO_SCANNERS:
            before = next(r for r in primed.outcome.report.tools if r.name == run.name)
            assert run.status is ToolStatus.OK and run.cached
            assert run.command == () and run.scanned_files == 0
            assert run.version == before.version and run.findings == before.findings


@pytest.mark.scanners
def test_one_file_changed_runs_file_local_scanners_on_it_only(repo: Repo) -> None:
    with (repo.app / "app.py").open("a") as fh:
        fh.write("\n\ndef evaluate(expression):\n    return eval(expression)\n")

    outcome = demo_scan(repo.app)

    ran = by_program(repo.log)
    assert set(ran) == {"semgrep", "bandit", "detect-secrets"}  # .py: not zizmor, not checkov
    for program, calls in ran.items():
        assert len(calls) == 1, f"{program} started more than once: {calls}"
        assert "--version" not in calls[0].args
        assert calls[0].files == ("app.py",)
    runs = {r.name: r for r in outcome.report.tools}
    assert runs["semgrep"].scanned_files == 1 and runs["semgrep"].cached_files == 2
    assert runs["checkov"].cached and runs["zizmor"].cached
    line = (repo.app / "app.py").read_text().splitlines().index("    return eval(expression)")
    assert any(
        f.location and (f.location.path, f.location.start_line) == ("app.py", line + 1)
        for f in outcome.report.findings
    )  # the new finding is there

    # The same tree without the cache: every scanner, every file, the same findings.
    repo.log.unlink()
    before = cache_files(repo.cache_dir)
    reference = demo_scan(repo.app, use_cache=False)
    full = by_program(repo.log)
    assert set(full) == set(DEMO_SCANNERS)
    assert full["semgrep"][-1].files == ("app.py", "security_log.py", "settings.py")
    demo_files = Target.open(repo.app, load_config(None, repo.app).config.exclude).files
    assert len(full["detect-secrets"][-1].files) == len(demo_files)
    assert cache_files(repo.cache_dir) == before  # --no-cache writes nothing either
    assert view(outcome.report.findings) == view(reference.report.findings)


@pytest.mark.scanners
def test_project_scanner_reruns_only_when_one_of_its_inputs_changes(
    primed: Primed, repo: Repo
) -> None:
    with (repo.app / "README.md").open("a") as fh:
        fh.write("\nOne more line of documentation.\n")
    outcome = demo_scan(repo.app)
    ran = by_program(repo.log)
    assert set(ran) == {"detect-secrets"}  # README.md is no checkov input
    assert ran["detect-secrets"][0].files == ("README.md",)
    assert view(outcome.report.findings) == view(primed.outcome.report.findings)

    repo.log.unlink()
    with (repo.app / "infra" / "main.tf").open("a") as fh:
        fh.write("\n# a comment changes the file, so checkov runs again\n")
    outcome = demo_scan(repo.app)
    ran = by_program(repo.log)
    assert set(ran) == {"checkov", "detect-secrets"}
    assert "--directory" in ran["checkov"][0].args and "--version" not in ran["checkov"][0].args
    assert ran["detect-secrets"][0].files == ("infra/main.tf",)
    runs = {r.name: r for r in outcome.report.tools}
    # checkov's inputs: Dockerfile, infra/main.tf and threatmodel.yaml (any YAML may be a
    # Kubernetes or CloudFormation template); .github/ is hidden: checkov skips it
    assert runs["checkov"].cached_files == 0 and runs["checkov"].scanned_files == 3
    assert view(outcome.report.findings) == view(primed.outcome.report.findings)

    repo.log.unlink()
    demo_scan(repo.app)
    assert launches(repo.log) == []


@pytest.mark.scanners
def test_tampered_entry_is_detected_and_ignored(primed: Primed, repo: Repo) -> None:
    index = repo.cache_dir / "bandit.json"
    data = index.read_bytes()
    at = data.index(b"shell=True")  # inside the payload of app.py's entry
    index.write_bytes(data[:at] + b"S" + data[at + 1 :])  # one byte, still valid JSON
    orjson.loads(index.read_bytes())

    outcome = demo_scan(repo.app)

    warnings = cache_warnings(outcome)
    assert len(warnings) == 1 and "bandit" in warnings[0] and "integrity" in warnings[0]
    ran = by_program(repo.log)
    assert set(ran) == {"bandit"} and ran["bandit"][0].files == ("app.py",)
    assert view(outcome.report.findings) == view(primed.outcome.report.findings)
    assert not any("Shell=True" in f.message for f in outcome.report.findings)

    # The entry was rewritten: the next run is clean and starts nothing.
    repo.log.unlink()
    again = demo_scan(repo.app)
    assert launches(repo.log) == [] and not cache_warnings(again)


@pytest.mark.scanners
def test_corrupt_and_foreign_indexes_are_ignored_with_a_warning(primed: Primed, repo: Repo) -> None:
    (repo.cache_dir / "semgrep.json").write_bytes(b'{"format": "turbosec.cache/v1", "files": {')
    (repo.cache_dir / "zizmor.json").write_bytes(orjson.dumps({"format": "other-tool/v9"}))

    outcome = demo_scan(repo.app)

    warnings = cache_warnings(outcome)
    assert len(warnings) == 2, warnings
    assert any("semgrep.json" in w and "not valid JSON" in w for w in warnings)
    assert any("zizmor.json" in w and "other-tool/v9" in w for w in warnings)
    ran = by_program(repo.log)
    assert set(ran) == {"semgrep", "zizmor"}  # each on every one of its files
    assert ran["semgrep"][0].files == ("app.py", "security_log.py", "settings.py")
    assert ran["zizmor"][0].files == (".github/workflows/ci.yml",)
    assert view(outcome.report.findings) == view(primed.outcome.report.findings)

    repo.log.unlink()
    again = demo_scan(repo.app)
    assert launches(repo.log) == [] and not cache_warnings(again)


@pytest.mark.scanners
def test_cache_holds_none_of_the_demo_secrets(primed: Primed) -> None:
    secrets = re.findall(r'= "([^"]+)"', (DEMO_APP / "settings.py").read_text())
    assert len(secrets) == 3
    directory = primed.app / ".turbosec" / "cache"
    for name, content in cache_files(directory).items():
        text = content.decode("utf-8")
        for secret in secrets:
            assert secret not in text, f"{name} holds a secret"
            assert orjson.dumps(secret).decode()[1:-1] not in text
    # ... while the secret findings themselves are cached (redacted).
    detect = orjson.loads((directory / "detect-secrets.json").read_bytes())
    payload = orjson.loads(detect["files"]["settings.py"]["payload"])
    assert len(payload["findings"]) >= 3
    assert any(redact(secrets[0]) in f["message"] for f in payload["findings"])


@pytest.mark.scanners
def test_cli_cache_dir_and_no_cache(tmp_path: Path, shims: Path) -> None:
    app = tmp_path / "demo-app"
    shutil.copytree(DEMO_APP, app)
    log = tmp_path / "launches.log"
    cache_dir = tmp_path / "ci-cache"
    env = dict(os.environ)
    env.update(
        {
            "PATH": f"{shims}{os.pathsep}{env['PATH']}",
            LOG_ENV: str(log),
            "NO_COLOR": "1",
            "TURBOSEC_HOME": str(tmp_path / "home"),  # no managed tool environments
        }
    )
    env.pop(cache.KEY_ENV, None)
    env.pop("GITHUB_ACTIONS", None)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [TURBOSEC, "-q", "scan", str(app), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
            check=False,
        )

    first = cli("--cache-dir", str(cache_dir))
    assert set(by_program(log)) == set(DEMO_SCANNERS), first.stderr
    assert (cache_dir / "CACHEDIR.TAG").is_file()
    assert not (app / ".turbosec").exists()  # --cache-dir replaces the default place

    log.unlink()
    second = cli("--cache-dir", str(cache_dir))
    assert launches(log) == []
    assert second.returncode == first.returncode == 1  # the demo app fails the gate

    before = cache_files(cache_dir)
    third = cli("--cache-dir", str(cache_dir), "--no-cache")
    assert set(by_program(log)) == set(DEMO_SCANNERS)
    assert third.returncode == 1
    assert cache_files(cache_dir) == before


# --------------------------------------------------------------- grep-based scanners (fast)
SECRET = "hunter2-correct-horse-battery"  # pragma: allowlist secret
_GREP_LINE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+):(?P<text>.*)$")


class _Grep(Scanner):
    """A file-local scanner made of ``grep -nH PATTERN -- FILES``."""

    program = "grep"
    category = Category.SAST
    scope = "file"
    pattern: ClassVar[str]

    def inputs(self, target: Target) -> list[str]:
        return target.matching(suffixes=(".py",))

    def applicable(self, target: Target) -> bool:
        return bool(self.inputs(target))

    def invocation(self, target: Target, config: ScannerConfig, executable: str) -> Invocation:
        argv = (executable, "-nH", "-E", self.pattern, "--", *self.inputs(target))
        return Invocation(argv=argv, cwd=target.root, ok_returncodes=frozenset({0, 1}))

    def parse(self, result: RunResult, target: Target) -> Parsed:
        findings, secrets = [], []
        for line in result.stdout.decode().splitlines():
            m = _GREP_LINE.match(line)
            assert m is not None, line
            message, secret = self.describe(m.group("text"))
            if secret:
                secrets.append(secret)
            findings.append(
                Finding(
                    tool=self.name,
                    rule_id="G1",
                    title="grep match",
                    message=message,
                    severity=Severity.HIGH,
                    category=self.category,
                    location=Location(path=m.group("path"), start_line=int(m.group("line"))),
                )
            )
        return Parsed(findings=findings, secrets=secrets)

    def describe(self, text: str) -> tuple[str, str | None]:
        return text, None


class PasswordGrep(_Grep):
    """Reveals the password literal it finds (as bandit's B105 does)."""

    name = "fake-secrets"
    category = Category.SECRET
    pattern = r'PASSWORD = "[^"]+"'

    def describe(self, text: str) -> tuple[str, str | None]:
        secret = text.split('"')[1]
        return f"hard-coded password {redact(secret)}", secret


class QuoteGrep(_Grep):
    """Quotes every line holding a string literal (a SAST tool quoting code)."""

    name = "fake-sast"
    pattern = '"'


@pytest.fixture
def grep_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    real = shutil.which("grep")
    if real is None:
        pytest.skip("grep is not installed")
    shims = make_shims(tmp_path / "shims", {"grep": real})
    monkeypatch.setenv("PATH", f"{shims}{os.pathsep}{os.environ['PATH']}")
    log = tmp_path / "launches.log"
    monkeypatch.setenv(LOG_ENV, str(log))
    monkeypatch.delenv(cache.KEY_ENV, raising=False)
    monkeypatch.setattr(
        adapters, "registry", lambda: {"fake-secrets": PasswordGrep, "fake-sast": QuoteGrep}
    )
    app = tmp_path / "app"
    app.mkdir()
    (app / "config.py").write_text(f'PASSWORD = "{SECRET}"\n')
    (app / "client.py").write_text('login(user="admin")\n')
    (app / "other.py").write_text('print("unrelated")\n')
    return Repo(app, log)


def grep_scan(root: Path, **kwargs: Any) -> ScanOutcome:
    kwargs.setdefault("use_cache", True)
    return run_scan(ScanRequest(root=root, config=Config(tools="path"), **kwargs))


def scanned(log: Path) -> dict[str, tuple[str, ...]]:
    """Files each fake scanner was run on (keyed by its pattern), version checks left out."""
    out: dict[str, tuple[str, ...]] = {}
    for launch in launches(log):
        if "--version" not in launch.args:
            pattern = launch.args[launch.args.index("-E") + 1]
            out["fake-secrets" if "PASSWORD" in pattern else "fake-sast"] = launch.files
    return out


def test_grep_scanners_are_cached_like_real_ones(grep_repo: Repo) -> None:
    first = grep_scan(grep_repo.app)
    assert scanned(grep_repo.log) == {
        "fake-secrets": ("client.py", "config.py", "other.py"),
        "fake-sast": ("client.py", "config.py", "other.py"),
    }
    grep_repo.log.unlink()
    second = grep_scan(grep_repo.app)
    assert launches(grep_repo.log) == []
    assert view(second.report.findings) == view(first.report.findings)


def test_a_secret_in_the_changed_file_is_redacted_from_every_new_finding(
    grep_repo: Repo,
) -> None:
    first = grep_scan(grep_repo.app)
    assert all(SECRET not in f.message for f in first.report.findings)
    grep_repo.log.unlink()

    # client.py now holds the password too: both scanners scan only client.py, and the
    # secret scanner's finding there lets the run redact it from fake-sast's quote of it.
    (grep_repo.app / "client.py").write_text(f'PASSWORD = "{SECRET}"\n')
    outcome = grep_scan(grep_repo.app)

    assert scanned(grep_repo.log) == {
        "fake-sast": ("client.py",),
        "fake-secrets": ("client.py",),
    }
    quoted = [f for f in outcome.report.findings if f.location and f.location.path == "client.py"]
    assert {f.tool for f in quoted} == {"fake-sast", "fake-secrets"}
    assert all(SECRET not in f.message for f in quoted)
    assert any(redact(SECRET) in f.message for f in quoted if f.tool == "fake-sast")
    for name, content in cache_files(grep_repo.app / ".turbosec" / "cache").items():
        assert SECRET.encode() not in content, name

    # Nothing changed: nothing runs.
    grep_repo.log.unlink()
    again = grep_scan(grep_repo.app)
    assert launches(grep_repo.log) == []
    assert view(again.report.findings) == view(outcome.report.findings)


def test_a_cached_entry_is_rewritten_when_a_secret_it_quotes_is_revealed(grep_repo: Repo) -> None:
    (grep_repo.app / "config.py").write_text("PASSWORD = None\n")
    (grep_repo.app / "client.py").write_text(f'login(password="{SECRET}")\n')
    grep_scan(grep_repo.app)  # nobody knows it is a secret yet: it is quoted as code
    (grep_repo.app / "config.py").write_text(f'PASSWORD = "{SECRET}"\n')

    outcome = grep_scan(grep_repo.app)

    assert all(SECRET not in f.message for f in outcome.report.findings)
    for name, content in cache_files(grep_repo.app / ".turbosec" / "cache").items():
        assert SECRET.encode() not in content, name


def test_entries_written_with_another_key_are_rejected(
    grep_repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    grep_scan(grep_repo.app)  # written without TURBOSEC_CACHE_KEY
    grep_repo.log.unlink()
    monkeypatch.setenv(cache.KEY_ENV, "ci-secret-key")

    outcome = grep_scan(grep_repo.app)

    warnings = cache_warnings(outcome)
    assert warnings and all(cache.KEY_ENV in w for w in warnings), warnings
    assert set(scanned(grep_repo.log)) == {"fake-secrets", "fake-sast"}
    grep_repo.log.unlink()
    grep_scan(grep_repo.app)  # rewritten with the key: trusted now
    assert launches(grep_repo.log) == []

    # A poisoned cache: an attacker rewrites a payload and recomputes a plain SHA-256.
    index = grep_repo.app / ".turbosec" / "cache" / "fake-sast.json"
    doc = orjson.loads(index.read_bytes())
    entry = doc["files"]["other.py"]
    entry["payload"] = orjson.dumps({"findings": [], "warnings": []}).decode()
    monkeypatch.delenv(cache.KEY_ENV)
    forger = cache.ScanCache(grep_repo.app / "unused", grep_repo.app)
    look = cache.Lookup("fake-sast", "file", doc["version"], doc["config"], (), "")
    stat = tuple(entry["stat"]) if entry["stat"] else None
    forged = cache._Entry(
        entry["digest"], stat, {}, entry["at"], entry["secrets"], entry["payload"]
    )  # type: ignore[arg-type]
    entry["mac"] = forger._file_mac(look, "other.py", forged)
    index.write_bytes(orjson.dumps(doc))
    monkeypatch.setenv(cache.KEY_ENV, "ci-secret-key")
    grep_repo.log.unlink(missing_ok=True)

    poisoned = grep_scan(grep_repo.app)

    assert any("integrity" in w for w in cache_warnings(poisoned))
    assert scanned(grep_repo.log) == {"fake-sast": ("other.py",)}
    assert any(f.location and f.location.path == "other.py" for f in poisoned.report.findings)


def test_a_foreign_non_empty_directory_is_neither_read_nor_written(grep_repo: Repo) -> None:
    foreign = grep_repo.app.parent / "not-a-cache"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine\n")

    outcome = grep_scan(grep_repo.app, cache_dir=foreign)

    assert any("not a turbosec cache directory" in w for w in cache_warnings(outcome))
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]
    assert not outcome.failures


def test_a_cache_directory_inside_the_tree_is_not_scanned(grep_repo: Repo) -> None:
    inside = grep_repo.app / "build-cache"
    grep_scan(grep_repo.app, cache_dir=inside)
    (inside / "evil.py").write_text('PASSWORD = "planted"\n')
    grep_repo.log.unlink()

    outcome = grep_scan(grep_repo.app, cache_dir=inside)

    assert launches(grep_repo.log) == []
    assert all(f.location and "build-cache" not in f.location.path for f in outcome.report.findings)


def test_a_corrupt_tools_file_is_ignored_and_versions_asked_again(grep_repo: Repo) -> None:
    grep_scan(grep_repo.app)
    (grep_repo.app / ".turbosec" / "cache" / "tools.json").write_bytes(b"\x00\xff not json")
    grep_repo.log.unlink()

    outcome = grep_scan(grep_repo.app)

    warnings = cache_warnings(outcome)
    assert len(warnings) == 1 and "tools.json" in warnings[0], warnings
    # The version is asked again (results are keyed by it), then everything is scanned.
    assert any("--version" in launch.args for launch in launches(grep_repo.log))
    assert set(scanned(grep_repo.log)) == {"fake-secrets", "fake-sast"}
    grep_repo.log.unlink()
    again = grep_scan(grep_repo.app)
    assert launches(grep_repo.log) == [] and not cache_warnings(again)


def test_no_cache_neither_reads_nor_writes(grep_repo: Repo) -> None:
    grep_scan(grep_repo.app, use_cache=False)
    assert not (grep_repo.app / ".turbosec").exists()


def test_a_change_that_keeps_size_and_mtime_is_still_seen(
    grep_repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache, "RACY_NS", -(10**18))  # trust every stat (files are new)
    grep_scan(grep_repo.app)
    index = orjson.loads((grep_repo.app / ".turbosec" / "cache" / "fake-sast.json").read_bytes())
    assert index["files"]["other.py"]["stat"] is not None  # the stat shortcut is armed
    target = grep_repo.app / "other.py"
    st = target.stat()
    target.write_text('print("UNRELATED")\n')  # same size
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime
    grep_repo.log.unlink()

    outcome = grep_scan(grep_repo.app)

    assert scanned(grep_repo.log)["fake-sast"] == ("other.py",)  # ctime/inode gave it away
    assert any("UNRELATED" in f.message for f in outcome.report.findings)


def test_a_stale_stat_is_refreshed_without_a_scan(
    grep_repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    grep_scan(grep_repo.app)
    index = grep_repo.app / ".turbosec" / "cache" / "fake-sast.json"
    assert orjson.loads(index.read_bytes())["files"]["other.py"]["stat"] is None  # just written
    monkeypatch.setattr(cache, "RACY_NS", -(10**18))
    grep_repo.log.unlink()

    grep_scan(grep_repo.app)

    assert launches(grep_repo.log) == []
    assert orjson.loads(index.read_bytes())["files"]["other.py"]["stat"] is not None


def test_expired_results_of_online_scanners_are_not_reused(
    grep_repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(QuoteGrep, "cache_max_age_s", 3600.0)
    grep_scan(grep_repo.app)
    grep_repo.log.unlink()
    later = time.time_ns() + 2 * 3600 * 10**9
    monkeypatch.setattr(cache.time, "time_ns", lambda: later)

    grep_scan(grep_repo.app)

    assert scanned(grep_repo.log) == {"fake-sast": ("client.py", "config.py", "other.py")}


# ----------------------------------------------------------------------------- the parts
def test_restricted_target_keeps_root_and_exclusions(tmp_path: Path) -> None:
    for name in ("a.py", "b.py", "c.txt", "skip/d.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x = 1\n")
    target = Target.open(tmp_path, ["skip"])
    sub = target.restricted(["b.py", "c.txt", "skip/d.py", "missing.py"])
    assert sub.files == ("b.py", "c.txt")
    assert sub.root == target.root and sub.exclude == target.exclude
    assert sub.matching(suffixes=(".py",)) == ["b.py"]
    assert target.files == ("a.py", "b.py", "c.txt")


def test_tool_run_cache_counts_round_trip_and_match_the_schema() -> None:
    import jsonschema

    runs = [
        ToolRun("bandit", "1.9.4", ToolStatus.OK, 0.01, 3, cached_files=12, scanned_files=0),
        ToolRun(
            "semgrep",
            "1.185.0",
            ToolStatus.OK,
            2.5,
            4,
            command=("semgrep",),
            cached_files=10,
            scanned_files=2,
        ),
        ToolRun("zizmor", None, ToolStatus.SKIPPED, error="no applicable files"),
    ]
    schema = report_schema()
    for run in runs:
        data = run.to_dict()
        assert ToolRun.from_dict(data) == run
        jsonschema.validate(data, schema["$defs"]["tool"])
    assert runs[0].cached and not runs[1].cached and not runs[2].cached


def test_a_diff_scan_shares_the_cache_between_base_and_working_tree(grep_repo: Repo) -> None:
    from turbosec.scan.diff import run_diff_scan

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-C", str(grep_repo.app), "-c", "user.name=t", "-c", "user.email=t@t", *args],
            check=True,
            capture_output=True,
            timeout=60,
        )

    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "base")
    (grep_repo.app / "other.py").write_text('print("changed")\n')
    cache_dir = grep_repo.app.parent / "shared-cache"
    request = ScanRequest(
        root=grep_repo.app, config=Config(tools="path"), use_cache=True, cache_dir=cache_dir
    )

    run_diff_scan(request, "HEAD")  # base scan (cold), then the working tree
    grep_repo.log.unlink()
    outcome = run_diff_scan(request, "HEAD")

    # The base worktree lies elsewhere, yet its unchanged files come from the cache: only
    # other.py (which differs between the two trees) is scanned in each tree, with
    # config.py for the secret scanner (it revealed a secret: see above); client.py never.
    files = [launch.files for launch in launches(grep_repo.log) if "--version" not in launch.args]
    assert len(files) == 4, files  # two scanners, two trees
    assert all("other.py" in f and set(f) <= {"other.py", "config.py"} for f in files), files
    assert not cache_warnings(outcome)
    assert [f.location.path for f in outcome.report.findings if f.location] == ["other.py"]
