"""`turbosec scan --no-scanners --import`: gating on reports produced elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from turbosec.cli.main import run

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "importers"


def test_import_only_gates_on_imported_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    out = tmp_path / "r.json"
    code = run(
        [
            "--no-color",
            "scan",
            str(FIXTURES / "src"),
            "--no-scanners",
            "--import",
            str(FIXTURES / "trivy-fs.json"),
            "--import",
            f"sarif:{FIXTURES / 'semgrep.sarif'}",
            "--import",
            str(FIXTURES / "gitleaks.json"),
            "-o",
            str(out),
        ]
    )
    report = json.loads(out.read_text())
    tools = {t["name"]: t["status"] for t in report["tools"]}
    assert tools == {"trivy": "imported", "semgrep": "imported", "gitleaks": "imported"}
    assert {f["category"] for f in report["findings"]} >= {"dependency", "secret", "sast"}
    # gitleaks findings are critical: the gate fails on them
    assert any(f["severity"] == "critical" and f["tool"] == "gitleaks" for f in report["findings"])
    assert code == 1
    assert "FAILED" in capsys.readouterr().out


def test_truncated_import_fails_closed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "trivy.json"
    broken.write_bytes((FIXTURES / "trivy-fs.json").read_bytes()[:200])
    code = run(["scan", str(tmp_path), "--no-scanners", "--import", str(broken)])
    assert code == 2
    err = capsys.readouterr().err
    assert str(broken) in err
    assert "Traceback" not in err


def test_import_with_fail_on_never_passes(tmp_path: Path) -> None:
    code = run(
        [
            "-q",
            "scan",
            str(FIXTURES / "src"),
            "--no-scanners",
            "--fail-on",
            "never",
            "--import",
            str(FIXTURES / "gitleaks.json"),
        ]
    )
    assert code == 0
