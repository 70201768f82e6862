"""Protect the flow: baseline, expiring suppressions and diff-aware gating on real git repos."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TURBOSEC = str(Path(sys.executable).parent / "turbosec")
pytestmark = pytest.mark.scanners

VULN = "    subprocess.call(cmd, shell=True)\n"


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    proc = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    return proc.stdout


def turbosec(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, NO_COLOR="1")
    for var in ("GITHUB_ACTIONS", "GITHUB_BASE_REF", "GITHUB_SHA", "GITHUB_REF_NAME"):
        env.pop(var, None)
    return subprocess.run(
        [TURBOSEC, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=600,
        check=False,
    )


def new_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    return repo


def app_source(extra_top: int = 0, copies: int = 1) -> str:
    head = "import subprocess\n" + "".join(f"CONST_{i} = {i}\n" for i in range(extra_top))
    body = "\n\ndef run(cmd):\n" + VULN * copies + "    return None\n"
    return head + body


def report(path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(path.read_text())
    return data


def test_baseline_then_moved_code_and_a_second_copy(tmp_path: Path) -> None:
    repo = new_repo(tmp_path)
    (repo / "app.py").write_text(app_source())
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "first")
    scanners = ["--scanner", "bandit", "--scanner", "semgrep"]

    created = turbosec("baseline", "create", str(repo), *scanners)
    assert created.returncode == 0, created.stderr
    baseline = json.loads((repo / ".turbosec" / "baseline.json").read_text())
    assert baseline["schema"] == "turbosec.baseline/v1"
    assert baseline["count"] >= 1
    assert "snippet" not in json.dumps(baseline)

    # Unchanged: everything is known, the gate passes.
    again = turbosec("scan", str(repo), *scanners, "-o", str(tmp_path / "same.json"))
    assert again.returncode == 0, again.stdout + again.stderr

    # Move the code 30 lines down and add a second identical vulnerable call.
    (repo / "app.py").write_text(app_source(extra_top=30, copies=2))
    moved = turbosec("scan", str(repo), *scanners, "-o", str(tmp_path / "moved.json"))
    assert moved.returncode == 1, moved.stdout + moved.stderr
    findings = report(tmp_path / "moved.json")["findings"]
    assert isinstance(findings, list)
    new = [f for f in findings if f["baseline_state"] == "new"]
    assert len(new) == 1, new
    assert new[0]["location"]["path"] == "app.py"
    assert all(f["baseline_state"] == "unchanged" for f in findings if f not in new)

    # Accept it with a suppression that already expired: still fails, and says so.
    rule = new[0]["rule_id"]
    (repo / "turbosec.toml").write_text(
        f'[[suppress]]\nrule = "{rule}"\npath = "app.py"\nreason = "tracked in SEC-1"\n'
        'expires = "2020-01-01"\nowner = "appsec"\n'
    )
    expired = turbosec("scan", str(repo), *scanners, "-o", str(tmp_path / "expired.json"))
    assert expired.returncode == 1, expired.stdout + expired.stderr
    notices = report(tmp_path / "expired.json")["notices"]
    assert any("expired" in n for n in notices)  # type: ignore[union-attr]
    assert "expired" in expired.stdout + expired.stderr

    # With a future expiry: passes, and the SARIF shows it suppressed with the reason.
    (repo / "turbosec.toml").write_text(
        f'[[suppress]]\nrule = "{rule}"\npath = "app.py"\nreason = "tracked in SEC-1"\n'
        'expires = "2999-01-01"\nowner = "appsec"\n'
    )
    sarif_path = tmp_path / "ok.sarif"
    accepted = turbosec("scan", str(repo), *scanners, "-o", str(sarif_path))
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    sarif = json.loads(sarif_path.read_text())
    suppressed = [
        r for run in sarif["runs"] for r in run.get("results", []) if r.get("suppressions")
    ]
    assert suppressed
    assert suppressed[0]["suppressions"][0]["justification"] == "tracked in SEC-1"


def test_diff_base_reports_only_the_introduced_finding(tmp_path: Path) -> None:
    repo = new_repo(tmp_path)
    old = "".join(f"def f{i}(x{i}):\n    return eval(x{i} + '{i}')\n\n" for i in range(50))
    (repo / "old.py").write_text(old)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "debt")
    full = turbosec(
        "scan",
        str(repo),
        "--scanner",
        "bandit",
        "--fail-on",
        "medium",
        "-o",
        str(tmp_path / "full.json"),
    )
    assert len(report(tmp_path / "full.json")["findings"]) == 50  # type: ignore[arg-type]
    assert full.returncode == 1

    git(repo, "checkout", "-qb", "feature")
    (repo / "new.py").write_text("def g(y):\n    return eval(y)\n")
    # the old file also moves down a little: not new
    (repo / "old.py").write_text("# header\n" + old)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "feature")

    diff = turbosec(
        "scan",
        str(repo),
        "--scanner",
        "bandit",
        "--fail-on",
        "medium",
        "--diff-base",
        "main",
        "-o",
        str(tmp_path / "diff.json"),
    )
    assert diff.returncode == 1, diff.stdout + diff.stderr
    data = report(tmp_path / "diff.json")
    findings = data["findings"]
    assert isinstance(findings, list)
    assert len(findings) == 1
    assert findings[0]["location"]["path"] == "new.py"
    assert findings[0]["on_changed_line"] is True
    assert str(data["baseline"]).startswith("main (")
    assert any("50 finding(s) already present" in n for n in data["notices"])  # type: ignore[union-attr]
    # the temporary worktree is gone
    assert git(repo, "worktree", "list").count("\n") == 1

    # auto: from the CI variable
    env_run = subprocess.run(
        [TURBOSEC, "-q", "scan", str(repo), "--scanner", "bandit", "--diff-base", "auto"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "GITHUB_BASE_REF": "nosuchbranch", "NO_COLOR": "1"},
    )
    assert env_run.returncode == 2
    assert "origin/nosuchbranch" in env_run.stderr


def test_broken_baseline_file_is_a_clear_error(tmp_path: Path) -> None:
    repo = new_repo(tmp_path)
    (repo / ".turbosec").mkdir()
    (repo / ".turbosec" / "baseline.json").write_text('{"schema": "turbosec.baseline/v1", "fin')
    proc = turbosec("scan", str(repo), "--scanner", "bandit")
    assert proc.returncode == 2
    assert "baseline.json" in proc.stderr
    assert "not valid JSON" in proc.stderr
    assert "Traceback" not in proc.stderr
