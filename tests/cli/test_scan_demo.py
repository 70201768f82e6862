"""End to end: the README's main job on the demo app, with the real scanners."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from defusedxml import ElementTree

from turbosec.core.report import report_schema

TURBOSEC = str(Path(sys.executable).parent / "turbosec")
pytestmark = pytest.mark.scanners


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    import shutil

    from tests.conftest import DEMO_APP

    base = tmp_path_factory.mktemp("demo")
    app = base / "demo-app"
    shutil.copytree(DEMO_APP, app)
    env = dict(os.environ)
    env.pop("GITHUB_ACTIONS", None)
    env["NO_COLOR"] = "1"
    out = base / "out"
    proc = subprocess.run(
        [
            TURBOSEC,
            "scan",
            str(app),
            "--format",
            "sarif",
            "--output",
            str(out / "report.sarif"),
            "--output",
            str(out / "junit.xml"),
            "--output",
            str(out / "report.json"),
            "--output",
            str(out / "comment.md"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    return {"proc": proc, "out": out, "app": app}


def test_exit_code_and_summary(demo_run: dict[str, object]) -> None:
    proc = demo_run["proc"]
    assert isinstance(proc, subprocess.CompletedProcess)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAILED" in proc.stdout
    assert "critical" in proc.stdout.lower()
    assert "Traceback" not in proc.stderr


def test_every_scanner_found_something(demo_run: dict[str, object]) -> None:
    out = demo_run["out"]
    assert isinstance(out, Path)
    report = json.loads((out / "report.json").read_text())
    jsonschema.Draft202012Validator(report_schema()).validate(report)
    tools = {f["tool"] for f in report["findings"]} | {
        t for f in report["findings"] for t in f["also_reported_by"]
    }
    for tool in ("bandit", "semgrep", "detect-secrets", "checkov", "zizmor"):
        assert tool in tools, f"no finding from {tool}"
    statuses = {t["name"]: t["status"] for t in report["tools"]}
    assert statuses["pip-audit"] == "skipped"
    assert all(
        statuses[t] == "ok" for t in ("bandit", "semgrep", "detect-secrets", "checkov", "zizmor")
    )
    assert report["verdict"]["passed"] is False
    assert any(f["severity"] == "critical" for f in report["findings"])
    fps = [f["fingerprint"] for f in report["findings"]]
    assert len(fps) == len(set(fps))


def test_no_secret_leaks_into_any_output(demo_run: dict[str, object]) -> None:
    out = demo_run["out"]
    assert isinstance(out, Path)
    secrets = [
        "AKIAQ4DEMOFAKEKEY7XZ",
        "ghp_DemoFakeToken0123456789abcdefghijklmn",
        "hQ9v+demo/Fake+Secret+Key+0123456789abcdEF",
    ]
    proc = demo_run["proc"]
    assert isinstance(proc, subprocess.CompletedProcess)
    for name in ("report.sarif", "junit.xml", "report.json", "comment.md"):
        text = (out / name).read_text()
        for secret in secrets:
            assert secret not in text, f"{secret} leaked into {name}"
    for secret in secrets:
        assert secret not in proc.stdout and secret not in proc.stderr


def test_sarif_is_valid(demo_run: dict[str, object], sarif_schema: dict[str, object]) -> None:
    out = demo_run["out"]
    assert isinstance(out, Path)
    sarif = json.loads((out / "report.sarif").read_text())
    jsonschema.Draft7Validator(sarif_schema).validate(sarif)
    results = [r for run in sarif["runs"] for r in run["results"]]
    assert results
    assert all("turbosec/v1" in r["partialFingerprints"] for r in results)


def test_junit_and_markdown(demo_run: dict[str, object]) -> None:
    out = demo_run["out"]
    assert isinstance(out, Path)
    root = ElementTree.parse(str(out / "junit.xml")).getroot()
    assert len(root.findall(".//testcase")) >= 5
    md = (out / "comment.md").read_text()
    assert "critical" in md.lower()


def test_fingerprints_stable_after_inserting_lines(
    demo_run: dict[str, object], tmp_path: Path
) -> None:
    out, app = demo_run["out"], demo_run["app"]
    assert isinstance(out, Path) and isinstance(app, Path)
    before = json.loads((out / "report.json").read_text())
    source = (app / "app.py").read_text()
    (app / "app.py").write_text('"""Header added above everything."""\n\n\n' + source)
    env = dict(os.environ, NO_COLOR="1")
    env.pop("GITHUB_ACTIONS", None)
    proc = subprocess.run(
        [
            TURBOSEC,
            "-q",
            "scan",
            str(app),
            "--scanner",
            "semgrep",
            "--scanner",
            "bandit",
            "-o",
            str(tmp_path / "after.json"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    after = json.loads((tmp_path / "after.json").read_text())
    sast_before = {
        f["fingerprint"]
        for f in before["findings"]
        if f["location"] and f["location"]["path"] == "app.py"
    }
    sast_after = {
        f["fingerprint"]
        for f in after["findings"]
        if f["location"] and f["location"]["path"] == "app.py"
    }
    assert sast_before and sast_before == sast_after
