"""Diff-aware gating: judge only what a change introduced relative to a base revision.

The base revision is checked out in a temporary git worktree and scanned with the same
configuration; its fingerprints become the baseline of the scan of the working tree.
Findings whose fingerprint exists at the base are not reported (they are old debt, or
merely moved); the rest are new and gate.  Each new finding also says whether its flagged
lines were touched by the change (``on_changed_line``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from turbosec.core.errors import UsageError
from turbosec.core.finding import BaselineState, Finding
from turbosec.scan.baseline import Baseline

if TYPE_CHECKING:
    from turbosec.scan.runner import ProgressListener, ScanOutcome, ScanRequest

GIT_TIMEOUT_S = 120
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


def _git(cwd: Path, *args: str, timeout: float = GIT_TIMEOUT_S) -> str:
    try:
        proc = subprocess.run(
            ["git", "-C", str(cwd), *args],
            capture_output=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError as exc:
        raise UsageError("git is not installed", hint="--diff-base needs git on PATH") from exc
    except subprocess.TimeoutExpired as exc:
        raise UsageError(
            f"git {' '.join(args)} timed out", where=str(cwd), hint="check the repository"
        ) from exc
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UsageError(
            f"git {' '.join(args)} failed: {err[-1] if err else 'exit ' + str(proc.returncode)}",
            where=str(cwd),
            hint="--diff-base needs a git repository and a base revision that exists locally "
            "(in CI, fetch it first: git fetch origin main)",
        )
    return proc.stdout.decode("utf-8", "replace")


def resolve_base(value: str, env: dict[str, str] | None = None) -> str:
    """``auto`` reads the usual CI variables; anything else is a revision as given."""
    if value != "auto":
        return value
    env = dict(os.environ) if env is None else env
    for var in ("GITHUB_BASE_REF", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME"):
        branch = env.get(var, "").strip()
        if branch:
            return f"origin/{branch}"
    raise UsageError(
        "--diff-base auto found no base branch",
        hint="set GITHUB_BASE_REF or CI_MERGE_REQUEST_TARGET_BRANCH_NAME (pull/merge request "
        "pipelines do), or pass the base explicitly: --diff-base origin/main",
    )


@contextmanager
def base_checkout(root: Path, revision: str) -> Iterator[tuple[Path, str]]:
    """Yield (directory matching ``root`` inside a worktree of ``revision``, commit id)."""
    toplevel = Path(_git(root, "rev-parse", "--show-toplevel").strip())
    commit = _git(root, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}").strip()
    relative = root.resolve().relative_to(toplevel.resolve())
    tmp = Path(tempfile.mkdtemp(prefix="turbosec-base-"))
    tree = tmp / "tree"
    _git(toplevel, "worktree", "add", "--detach", "--quiet", str(tree), commit)
    try:
        yield tree / relative, commit
    finally:
        with suppress(UsageError):
            _git(toplevel, "worktree", "remove", "--force", str(tree))
        shutil.rmtree(tmp, ignore_errors=True)
        with suppress(UsageError):
            _git(toplevel, "worktree", "prune")


def changed_lines(root: Path, commit: str) -> dict[str, set[int]]:
    """Lines of the working tree (relative to ``root``) added or changed since the merge base."""
    try:
        base = _git(root, "merge-base", commit, "HEAD").strip() or commit
    except UsageError:
        base = commit
    diff = _git(root, "diff", "--no-color", "--no-ext-diff", "-U0", "--relative", base, "--", ".")
    changed: dict[str, set[int]] = {}
    current: set[int] | None = None
    for line in diff.splitlines():
        if line.startswith("+++ "):
            name = line[4:]
            current = None if name == "/dev/null" else changed.setdefault(name[2:], set())
        elif line.startswith("@@") and current is not None:
            m = _HUNK.match(line)
            if m:
                start, count = int(m.group(1)), int(m.group(2) or "1")
                current.update(range(start, start + count))
    return changed


def mark_changed_lines(findings: Sequence[Finding], changed: dict[str, set[int]]) -> list[Finding]:
    out = []
    for f in findings:
        loc = f.location
        touched: bool | None = None
        if loc is not None and loc.start_line:
            lines = changed.get(loc.path, set())
            end = (
                loc.end_line if loc.end_line and loc.end_line >= loc.start_line else loc.start_line
            )
            touched = any(n in lines for n in range(loc.start_line, end + 1))
        out.append(replace(f, on_changed_line=touched))
    return out


def only_new(findings: Sequence[Finding]) -> list[Finding]:
    return [f for f in findings if f.baseline_state is not BaselineState.UNCHANGED]


def baseline_from_base_scan(findings: Sequence[Finding], revision: str, commit: str) -> Baseline:
    return Baseline.from_findings(findings, source=f"{revision} ({commit[:12]})")


def run_diff_scan(
    request: ScanRequest, revision: str, listener: ProgressListener | None = None
) -> ScanOutcome:
    """Scan ``revision`` and the working tree; report and gate only what is new."""
    from turbosec.scan import policy
    from turbosec.scan.runner import run_scan

    revision = resolve_base(revision)
    with base_checkout(request.root, revision) as (base_root, commit):
        base_request = replace(request, root=base_root, baseline=None, imports=())
        base_outcome = run_scan(base_request, None)
    if base_outcome.failures:
        # The comparison is only as good as the base scan: fail closed.
        return base_outcome
    baseline = baseline_from_base_scan(base_outcome.report.findings, revision, commit)
    outcome = run_scan(replace(request, baseline=baseline), listener)
    report = outcome.report
    new = mark_changed_lines(only_new(report.findings), changed_lines(request.root, commit))
    hidden = len(report.findings) - len(new)
    notices = list(report.notices)
    if hidden:
        notices.append(
            f"{hidden} finding(s) already present at {revision} ({commit[:12]}) are not shown"
        )
    verdict = policy.evaluate(new, request.config)
    if outcome.failures:
        verdict = replace(
            verdict,
            passed=False,
            reasons=(
                *verdict.reasons,
                *(f"scanner {e.scanner} failed: {e.message}" for e in outcome.failures),
            ),
        )
    outcome.report = replace(report, findings=tuple(new), notices=tuple(notices), verdict=verdict)
    return outcome
