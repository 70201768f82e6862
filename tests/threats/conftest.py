"""Shared fixtures of the threat-model tests.

``evidence_project/`` is a tiny pytest project whose tests pass, fail and skip on purpose:
the evidence tests run real pytest on a copy of it.  The repository's own test run must not
collect it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

collect_ignore = ["evidence_project"]

EVIDENCE_PROJECT = Path(__file__).parent / "evidence_project"


def run_fixture_tests(project: Path, junit: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the fixture project's tests with pytest, writing a JUnit report."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={junit}",
            *args,
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def run_fixture() -> Callable[..., subprocess.CompletedProcess[str]]:
    """:func:`run_fixture_tests`, for tests that run a subset of the fixture's tests."""
    return run_fixture_tests


@pytest.fixture
def evidence_project(tmp_path: Path) -> Path:
    """A private copy of the fixture project (tests never write into the repository)."""
    dest = tmp_path / "project"
    shutil.copytree(EVIDENCE_PROJECT, dest)
    return dest


@pytest.fixture(scope="session")
def evidence_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A copy of the fixture project and the JUnit report of one real run of its tests."""
    base = tmp_path_factory.mktemp("evidence")
    project = base / "project"
    shutil.copytree(EVIDENCE_PROJECT, project)
    junit = base / "junit.xml"
    done = run_fixture_tests(project, junit)
    # 2 tests fail on purpose: pytest exits 1; anything else means the fixture is broken
    assert done.returncode == 1, done.stdout + done.stderr
    assert junit.is_file()
    return project, junit
