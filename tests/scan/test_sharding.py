"""Scheduling work, not scanners: shards of a file-scope scanner give one run's results.

The runner may split a large file list into shards run side by side (one pool of ``jobs``
workers).  These tests force sharding on a small real tree (the shard thresholds are
lowered) and compare with one process per scanner: the same findings, warnings and
fingerprints, the same cache contents afterwards; a shard that crashes fails its scanner.
Process launches are counted through shims placed first on PATH (see ``test_cache``).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import orjson
import pytest

from tests.conftest import DEMO_APP
from tests.scan.test_cache import by_program, launches, make_shims, view
from turbosec.core.config import load_config
from turbosec.core.errors import ParseError
from turbosec.core.report import ToolStatus
from turbosec.scan import cache, runner
from turbosec.scan.adapters.bandit import BanditScanner
from turbosec.scan.adapters.detect_secrets import DetectSecretsScanner
from turbosec.scan.adapters.semgrep import SemgrepScanner
from turbosec.scan.runner import (
    ScanOutcome,
    ScanRequest,
    run_scan,
    shard_plan,
    split_by_weights,
)

VENV_BIN = Path(sys.executable).parent
LOG_ENV = "TURBOSEC_TEST_LAUNCHES"
SHARDED = ("bandit", "detect-secrets", "semgrep")
FAST = ("bandit", "detect-secrets")  # quick to start: per-file shards stay cheap

# Extra files so each scanner has several files to split: real findings for each tool.
EXTRA_FILES = {
    "pkg/__init__.py": "",
    "pkg/shell.py": "import subprocess\n\n\ndef run(cmd):\n"
    "    return subprocess.call(cmd, shell=True)\n",
    "pkg/crypto.py": "import hashlib\n\n\ndef digest(data):\n"
    "    return hashlib.md5(data).hexdigest()\n",
    "pkg/loader.py": "import pickle\n\n\ndef load(blob):\n    return pickle.loads(blob)\n",
    "pkg/creds.py": 'DB_PASSWORD = "Tr0ub4dor&3-horse-battery"\n'
    'API_TOKEN = "ghp_1234567890abcdefghijklmnopqrstuvwxyzAB"\n',
    "pkg/evaluate.py": "def evaluate(text):\n    return eval(text)\n",
    "pkg/broken.py": "def broken(:\n    pass\n",  # bandit cannot parse it: a warning
    "config/keys.txt": "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY\n",
}


def make_tree(base: Path) -> Path:
    app = base / "demo-app"
    shutil.copytree(DEMO_APP, app)
    for name, text in EXTRA_FILES.items():
        path = app / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return app


def scan(
    root: Path, *, jobs: int, use_cache: bool = False, only: tuple[str, ...] = SHARDED
) -> ScanOutcome:
    config = load_config(None, root).config.model_copy(update={"tools": "path", "jobs": jobs})
    return run_scan(ScanRequest(root=root, config=config, only=only, use_cache=use_cache))


@pytest.fixture
def shims(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    programs = {p: str(VENV_BIN / p) for p in SHARDED}
    missing = [p for p, real in programs.items() if not Path(real).is_file()]
    if missing:
        pytest.skip(f"scanners not installed next to this Python: {', '.join(missing)}")
    log = tmp_path / "launches.log"
    monkeypatch.setenv(
        "PATH", f"{make_shims(tmp_path / 'shims', programs)}{os.pathsep}{os.environ['PATH']}"
    )
    monkeypatch.setenv(LOG_ENV, str(log))
    monkeypatch.delenv(cache.KEY_ENV, raising=False)
    return log


@pytest.fixture
def fine_shards(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shard even a small tree: no minimum shard size, the work counted by bytes alone."""
    monkeypatch.setattr(runner, "MIN_SHARD_S", 0.0)
    monkeypatch.setattr(runner, "MIN_SHARD_STARTUPS", 0.0)
    monkeypatch.setattr(runner, "SHARDS_PER_WORKER", 1000)  # capped by the file count
    for cls in (BanditScanner, DetectSecretsScanner, SemgrepScanner):
        monkeypatch.setattr(cls, "startup_s", 0.0)
        monkeypatch.setattr(cls, "seconds_per_mb", 1e6)


def scan_launches(log: Path, program: str) -> list[tuple[str, ...]]:
    """The file lists of ``program``'s scan processes (not its ``--version``)."""
    return [c.files for c in by_program(log).get(program, []) if "--version" not in c.args]


# --------------------------------------------------------------------------- unit level
def split_by_size(files: list[str], sizes: dict[str, int], count: int) -> list[list[str]]:
    return split_by_weights(files, sizes, [1.0] * count)


def test_split_by_size_keeps_every_file_once_in_order_and_balances() -> None:
    files = [f"f{i:02d}" for i in range(20)]
    sizes = {f: (i % 7 + 1) * 100 for i, f in enumerate(files)}
    groups = split_by_size(files, sizes, 4)
    assert len(groups) == 4
    assert sorted(f for g in groups for f in g) == files  # each file exactly once
    for group in groups:
        assert group == sorted(group)  # the given order is kept inside a group
    loads = [sum(sizes[f] for f in g) for g in groups]
    assert max(loads) - min(loads) <= max(sizes.values())
    assert sorted(split_by_size(files[:2], sizes, 5)) == [["f00"], ["f01"]]  # none empty
    assert sorted(split_by_size(files[:4], {}, 2)) == [["f00", "f02"], ["f01", "f03"]]
    assert split_by_size(files, sizes, 1) == [files]
    assert split_by_size([], sizes, 3) == []


def test_shard_plan_ends_with_a_halving_tail() -> None:
    plan = shard_plan(95.0, 18.0, 2.0)
    assert sum(plan) == pytest.approx(95.0)
    assert plan == sorted(plan, reverse=True)  # largest first
    head = [p for p in plan if p >= 18.0 * 0.75]
    tail = plan[len(head) :]
    assert tail == pytest.approx([9.0, 4.5, 2.25])  # halving down to the smallest
    assert all(p == pytest.approx(head[0]) for p in head)  # the head is cut evenly
    assert len(plan) == 7
    # small work: one shard; a tail never eats the head, nor goes below the smallest
    assert shard_plan(20.0, 18.0, 2.0) == [20.0]
    assert shard_plan(30.0, 18.0, 20.0) == [15.0, 15.0]
    assert min(shard_plan(1000.0, 10.0, 3.0)) >= 3.0
    assert shard_plan(50.0, 0.0, 2.0) == [50.0]


def test_split_by_weights_follows_the_shares() -> None:
    files = [f"f{i:03d}" for i in range(200)]
    sizes = {f: 100 + (i * 37) % 50 for i, f in enumerate(files)}
    weights = [4.0, 2.0, 1.0, 1.0]
    groups = split_by_weights(files, sizes, weights)
    assert sorted(f for g in groups for f in g) == files  # each file exactly once
    for group in groups:
        assert group == sorted(group)  # the given order is kept inside a group
    total = sum(sizes.values())
    for group, weight in zip(groups, weights, strict=True):
        share = sum(sizes[f] for f in group) / total
        assert share == pytest.approx(weight / sum(weights), abs=0.01)
    assert split_by_weights(files[:3], sizes, [5.0, 1.0, 1.0, 1.0, 1.0]) != []
    assert (
        sorted(f for g in split_by_weights(files[:3], sizes, [5.0, 1, 1, 1]) for f in g)
        == (files[:3])
    )
    assert split_by_weights([], sizes, [1.0, 1.0]) == []
    assert split_by_weights(files, sizes, [1.0]) == [files]


def test_merged_outputs_read_as_one_run() -> None:
    part1 = orjson.dumps({"results": [{"test_id": "B101"}], "errors": [], "metrics": {}})
    part2 = orjson.dumps({"results": [], "errors": [{"filename": "x.py", "reason": "syntax"}]})
    merged = orjson.loads(BanditScanner().merge_outputs([part1, part2]))
    assert merged == {
        "results": [{"test_id": "B101"}],
        "errors": [{"filename": "x.py", "reason": "syntax"}],
    }
    with pytest.raises(ParseError, match="part 2"):
        BanditScanner().merge_outputs([part1, b'{"errors": []}'])
    with pytest.raises(ParseError):
        SemgrepScanner().merge_outputs([b"not json"])

    ds1 = orjson.dumps({"version": "1", "results": {"b.py": [{"type": "X"}]}})
    ds2 = orjson.dumps({"version": "1", "results": {"a.py": []}})
    merged = orjson.loads(DetectSecretsScanner().merge_outputs([ds1, ds2]))
    assert merged == {"version": "1", "results": {"a.py": [], "b.py": [{"type": "X"}]}}
    with pytest.raises(ParseError, match="two parts"):
        DetectSecretsScanner().merge_outputs([ds1, ds1])


def test_workers_option_only_when_the_runner_schedules(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    from turbosec.core.config import ScannerConfig
    from turbosec.scan.target import Target

    target = Target.open(tmp_path)
    plain = DetectSecretsScanner().invocation(target, ScannerConfig(), "ds")
    assert "--cores" not in plain.argv
    scheduled = DetectSecretsScanner().invocation(target, ScannerConfig(), "ds", workers=1)
    assert scheduled.argv[:4] == ("ds", "--cores", "1", "scan")
    sg = SemgrepScanner().invocation(target, ScannerConfig(), "sg", workers=2)
    assert sg.argv[sg.argv.index("--jobs") + 1] == "2"


# --------------------------------------------------------------------------- real scanners
@pytest.mark.scanners
def test_sharded_run_gives_the_findings_of_one_process(
    tmp_path: Path, shims: Path, fine_shards: None
) -> None:
    app = make_tree(tmp_path)

    single = scan(app, jobs=1)  # one process per scanner
    one_each = {p: scan_launches(shims, p) for p in SHARDED}
    shims.unlink()
    sharded = scan(app, jobs=2)
    parts = {p: scan_launches(shims, p) for p in SHARDED}

    for program in SHARDED:
        assert len(one_each[program]) == 1
        assert len(parts[program]) > 1, f"{program} was not split: {parts[program]}"
        # every file of the single run went to exactly one shard
        assert sorted(f for files in parts[program] for f in files) == sorted(one_each[program][0])
    assert not single.failures and not sharded.failures
    assert view(sharded.report.findings) == view(single.report.findings)
    assert sorted(f.fingerprint for f in sharded.report.findings) == sorted(
        f.fingerprint for f in single.report.findings
    )
    assert sorted(sharded.warnings) == sorted(single.warnings)
    assert any("pkg/broken.py" in w for w in sharded.warnings)  # bandit's parse error
    tools = {t.name: t for t in single.report.tools}
    for run in sharded.report.tools:
        if run.name in SHARDED:
            assert run.status is ToolStatus.OK
            assert run.findings == tools[run.name].findings
    rules = {(f.tool, f.rule_id) for f in sharded.report.findings}
    assert {"bandit", "detect-secrets", "semgrep"} <= {tool for tool, _ in rules}


@pytest.mark.scanners
def test_cache_after_a_sharded_run_serves_every_file(
    tmp_path: Path, shims: Path, fine_shards: None
) -> None:
    app = make_tree(tmp_path)
    cold = scan(app, jobs=2, use_cache=True, only=FAST)
    assert not cold.failures
    assert all(len(scan_launches(shims, p)) > 1 for p in FAST)
    shims.unlink()

    warm = scan(app, jobs=2, use_cache=True, only=FAST)

    assert launches(shims) == []  # every file's results came from the cache
    assert view(warm.report.findings) == view(cold.report.findings)
    assert sorted(warm.warnings) == sorted(cold.warnings)

    # one file changed: each file-scope scanner runs once, on that file only
    with (app / "pkg" / "shell.py").open("a") as fh:
        fh.write("\n\ndef again(cmd):\n    return subprocess.call(cmd, shell=True)\n")
    changed = scan(app, jobs=2, use_cache=True, only=FAST)
    for program in FAST:
        assert scan_launches(shims, program) == [("pkg/shell.py",)]
    assert len(changed.report.findings) > len(cold.report.findings)


@pytest.mark.scanners
def test_a_crashed_shard_fails_the_scanner(
    tmp_path: Path, shims: Path, fine_shards: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_tree(tmp_path)
    # A bandit that dies when it is given pkg/evaluate.py: the other shards succeed.
    crashing = tmp_path / "crashing"
    crashing.mkdir()
    fake = crashing / "bandit"
    fake.write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do [ "$a" = pkg/evaluate.py ] && { echo boom >&2; exit 3; }; done\n'
        f'exec {VENV_BIN / "bandit"} "$@"\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{crashing}{os.pathsep}{os.environ['PATH']}")

    outcome = scan(app, jobs=2, use_cache=True, only=FAST)

    runs = {t.name: t for t in outcome.report.tools}
    assert runs["bandit"].status is ToolStatus.FAILED
    assert "exited with code 3" in (runs["bandit"].error or "")
    assert "boom" in (runs["bandit"].error or "")
    assert [e.scanner for e in outcome.failures] == ["bandit"]
    assert outcome.exit_code == 2
    assert not any(f.tool == "bandit" for f in outcome.report.findings)  # none half-reported
    assert runs["detect-secrets"].status is ToolStatus.OK
    # nothing of the failed scanner was stored: the next run scans every file again
    index = app / ".turbosec" / "cache" / "bandit.json"
    assert not index.exists() or not orjson.loads(index.read_bytes()).get("files")
