"""The threat model in the build gate: open threats fail it, proven mitigations do not.

Real pieces throughout: a repository written by the test, a rule file of its own, pytest run
as a subprocess to produce the JUnit report, and ``turbosec scan`` in-process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from turbosec.cli.main import run

MODEL = """\
version: 1
system:
  name: Shop
  owner: team-shop
components:
  - id: browser
    kind: external_entity
  - id: web
    kind: process
    properties: [internet_facing]
    controls: [ctl-rate]
flows:
  - id: browser-web
    from: browser
    to: web
    protocol: https
    authentication: session
controls:
  - id: ctl-rate
    kind: rate_limiting
    description: login attempts are limited per address
    evidence:
      tests: ["tests/test_rate.py::test_sixth_attempt_is_refused"]
triage:
  - threat: "TS-GATE-001@web"
    status: mitigated
    mitigated_by: [ctl-rate]
"""

RULES = """\
version: 1
rules:
  - id: TS-GATE-001
    title: Internet-facing process without rate limiting
    applies_to: component
    stride: [denial_of_service]
    cwe: [770]
    severity:
      base: high
    when:
      all:
        - {attr: component.kind, eq: process}
        - {attr: component.internet_facing, eq: true}
    unless_controls: [rate_limiting]
    threat_id: "{rule}@{component}"
    explanation: "Process {component} is reachable from the internet."
    description: Floods exhaust the process.
    mitigation: Limit requests per caller.
"""

TEST = """\
def test_sixth_attempt_is_refused():
    attempts = [True] * 5 + [False]
    assert attempts[5] is False
"""

CONFIG = """\
fail_on = "high"

[threats]
rules = ["rules"]
builtin_rules = false
junit = ["junit.xml"]
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "rules").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "threatmodel.yaml").write_text(MODEL)
    (root / "rules" / "gate.yml").write_text(RULES)
    (root / "tests" / "test_rate.py").write_text(TEST)
    (root / "turbosec.toml").write_text(CONFIG)
    return root


def run_tests(root: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--junitxml=junit.xml",
         "tests"],
        cwd=root, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stdout + done.stderr


def scan(root: Path, out: Path) -> int:
    return run(
        ["--config", str(root / "turbosec.toml"), "scan", str(root), "--scanner", "threats",
         "--no-cache", "--format", "json", "--output", str(out)]
    )  # fmt: skip


def threat_findings(out: Path) -> list[dict[str, object]]:
    report = json.loads(out.read_text())
    return [f for f in report["findings"] if f["tool"] == "threats"]


def test_proven_mitigation_passes_and_a_removed_test_fails_the_gate(
    repo: Path, tmp_path: Path
) -> None:
    run_tests(repo)
    out = tmp_path / "report.json"
    assert scan(repo, out) == 0
    assert threat_findings(out) == []

    # The test that proved the mitigation is deleted: the threat is open again.
    (repo / "tests" / "test_rate.py").unlink()
    assert scan(repo, out) == 1
    [finding] = threat_findings(out)
    assert finding["rule_id"] == "TS-GATE-001"
    assert finding["category"] == "threat"
    assert finding["severity"] == "high"
    assert finding["location"]["path"] == "threatmodel.yaml"
    assert finding["location"]["start_line"] == 8
    message = str(finding["message"])
    assert "TS-GATE-001@web" in message
    assert "ctl-rate" in message
    assert "tests/test_rate.py::test_sixth_attempt_is_refused" in message


def test_failing_evidence_test_fails_the_gate(repo: Path, tmp_path: Path) -> None:
    (repo / "tests" / "test_rate.py").write_text(TEST.replace("is False", "is True"))
    run_tests(repo)
    out = tmp_path / "report.json"
    assert scan(repo, out) == 1
    [finding] = threat_findings(out)
    assert "failed" in str(finding["message"])


def test_malformed_model_fails_closed(repo: Path, tmp_path: Path) -> None:
    (repo / "threatmodel.yaml").write_text(MODEL.replace("kind: process", "kind: proces"))
    out = tmp_path / "report.json"
    assert scan(repo, out) == 2
    report = json.loads(out.read_text())
    [tool] = [t for t in report["tools"] if t["name"] == "threats"]
    assert tool["status"] == "failed"
    assert "threatmodel.yaml:" in tool["error"]
    assert "unknown component kind 'proces'" in tool["error"]


def test_no_model_means_not_applicable(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    (root / "app.py").write_text("x = 1\n")
    out = tmp_path / "report.json"
    assert run(["scan", str(root), "--scanner", "threats", "--format", "json",
                "--output", str(out)]) == 0  # fmt: skip
    report = json.loads(out.read_text())
    [tool] = [t for t in report["tools"] if t["name"] == "threats"]
    assert tool["status"] == "skipped"


def test_threat_fingerprint_survives_edits_that_move_lines(repo: Path, tmp_path: Path) -> None:
    (repo / "tests" / "test_rate.py").unlink()
    out = tmp_path / "report.json"
    assert scan(repo, out) == 1
    [before] = threat_findings(out)
    text = (repo / "threatmodel.yaml").read_text()
    moved = text.replace("components:\n", "components:\n  - id: cache\n    kind: datastore\n", 1)
    (repo / "threatmodel.yaml").write_text(moved)
    assert scan(repo, out) == 1
    [after] = threat_findings(out)
    assert after["location"]["start_line"] == before["location"]["start_line"] + 2
    assert after["fingerprint"] == before["fingerprint"]


def test_threat_sarif_imports_as_threat_findings(repo: Path, tmp_path: Path) -> None:
    sarif = tmp_path / "threats.sarif"
    code = run(
        ["threats", "report", str(repo / "threatmodel.yaml"), "--rules", str(repo / "rules"),
         "--no-builtin", "--no-collect", "--format", "sarif", "--output", str(sarif)]
    )  # fmt: skip
    assert code == 0
    out = tmp_path / "imported.json"
    code = run(
        ["scan", str(repo), "--no-scanners", "--import", str(sarif), "--format", "json",
         "--output", str(out)]
    )  # fmt: skip
    assert code in (0, 1)
    findings = json.loads(out.read_text())["findings"]
    assert findings and {f["category"] for f in findings} == {"threat"}
    assert {f["rule_id"] for f in findings} == {"TS-GATE-001"}
