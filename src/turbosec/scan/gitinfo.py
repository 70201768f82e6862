"""Repository facts for the report: name, commit, branch, remote (credentials stripped)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from turbosec.core.report import RepoInfo


def _git(root: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout.decode("utf-8", "replace").strip() or None


def strip_credentials(url: str) -> str:
    """``https://user:token@host/x`` → ``https://host/x``."""
    return re.sub(r"^([a-z][a-z0-9+.-]*://)[^/@]*@", r"\1", url, flags=re.IGNORECASE)


def repo_info(root: Path) -> RepoInfo:
    env = os.environ
    toplevel = _git(root, "rev-parse", "--show-toplevel")
    in_repo = toplevel is not None
    commit = env.get("GITHUB_SHA") or env.get("CI_COMMIT_SHA")
    branch = (
        env.get("GITHUB_HEAD_REF") or env.get("GITHUB_REF_NAME") or env.get("CI_COMMIT_REF_NAME")
    )
    remote = None
    if in_repo:
        commit = commit or _git(root, "rev-parse", "HEAD")
        if not branch:
            head = _git(root, "rev-parse", "--abbrev-ref", "HEAD")
            branch = head if head and head != "HEAD" else None
        origin = _git(root, "remote", "get-url", "origin")
        remote = strip_credentials(origin) if origin else None
    name = env.get("GITHUB_REPOSITORY") or env.get("CI_PROJECT_PATH")
    if not name:
        if remote:
            name = re.sub(r"\.git$", "", remote.rstrip("/")).rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        else:
            name = root.resolve().name
    return RepoInfo(name=name, commit=commit, branch=branch, remote=remote)
