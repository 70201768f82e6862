"""``turbosec threats``: the whole pipeline on the fixture project, driven in-process."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from turbosec.cli.threats_cmd import threats_app

FIXTURES = Path(__file__).parent
THREAGILE = FIXTURES / "fixtures_threagile" / "shop.yaml"
LOCKOUT_TEST = "tests/test_login.py::test_lockout_after_five_failures"

RULES = """\
version: 1
rules:
  - id: TM-TEST-001
    title: Login without lockout
    applies_to: component
    stride: [spoofing]
    cwe: [307]
    severity: {base: high}
    when: {attr: component.authenticates_users, eq: true}
    unless_controls: [account_lockout]
    threat_id: "{rule}@{component}"
    explanation: "{component} checks passwords."
  - id: TM-TEST-002
    title: Process without audit logging
    applies_to: component
    stride: [repudiation]
    severity: {base: low}
    when: {attr: component.kind, eq: process}
    unless_controls: [audit_logging]
    threat_id: "{rule}@{component}"
    explanation: "{component} keeps no audit trail."
"""

MODEL = f"""\
version: 1
system: {{name: Shop, owner: team-shop}}
components:
  - id: web
    kind: process
    properties: [authenticates_users]
    controls: [ctl-lockout]
  - id: admin
    kind: process
    properties: [authenticates_users]
controls:
  - id: ctl-lockout
    kind: account_lockout
    evidence:
      tests: ["{LOCKOUT_TEST}"]
triage:
  - threat: "TM-TEST-001@admin"
    status: accepted
    justification: reachable from the office network only
"""


def invoke(*args: str) -> Result:
    """Run the threats commands in-process; errors must be handled (no exception leaks)."""
    result = CliRunner().invoke(threats_app, list(args), env={"NO_COLOR": "1"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


@pytest.fixture
def project(
    evidence_project: Path, evidence_run: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The fixture project with a model, a rule file and a JUnit report; the current
    directory."""
    (evidence_project / "threatmodel.yaml").write_text(MODEL)
    (evidence_project / "rules.yml").write_text(RULES)
    shutil.copy(evidence_run[1], evidence_project / "junit.xml")
    monkeypatch.chdir(evidence_project)
    return evidence_project


OWN_RULES = ("--rules", "rules.yml", "--no-builtin")


# --------------------------------------------------------------------------- check


def test_check_passes_when_the_mitigation_is_proven(project: Path) -> None:
    result = invoke("check", *OWN_RULES, "--junit", "junit.xml")
    assert result.exit_code == 0, result.output
    assert "Threat model: Shop (threatmodel.yaml)" in result.stdout
    assert "threats: pass (no open threat at or above high)" in result.stdout
    # the low audit-logging threats are open but under the threshold
    assert "TM-TEST-002@web" in result.stdout


def test_removing_the_proving_test_fails_naming_threat_control_and_test(project: Path) -> None:
    login = project / "tests" / "test_login.py"
    login.write_text(
        login.read_text().replace(
            "def test_lockout_after_five_failures", "def test_lockout_renamed"
        )
    )
    result = invoke("check", *OWN_RULES, "--junit", "junit.xml")
    assert result.exit_code == 1, result.output
    expected = (
        "TM-TEST-001@web is open: mitigation by control ctl-lockout not proven: "
        f"test {LOCKOUT_TEST} is missing (pytest collects no such test in tests/test_login.py)"
    )
    assert f"threats: FAIL: 1 open threat at or above high\n  - [high] {expected}" in (
        result.stdout
    )


def test_a_deleted_test_file_fails_too(project: Path) -> None:
    (project / "tests" / "test_login.py").unlink()
    result = invoke("check", *OWN_RULES, "--junit", "junit.xml", "--no-collect")
    assert result.exit_code == 1, result.output
    assert f"test {LOCKOUT_TEST} is missing (file not found)" in result.stdout


def test_a_failing_test_fails_the_check(project: Path) -> None:
    model = project / "threatmodel.yaml"
    model.write_text(
        model.read_text().replace(
            LOCKOUT_TEST, "tests/test_login.py::test_password_reset_token_expires"
        )
    )
    result = invoke("check", *OWN_RULES, "--junit", "junit.xml", "--no-collect")
    assert result.exit_code == 1, result.output
    assert (
        "test tests/test_login.py::test_password_reset_token_expires failed: "
        "AssertionError: reset tokens live too long" in result.stdout
    )


def test_without_junit_nothing_is_proven_and_a_warning_says_why(project: Path) -> None:
    result = invoke("check", *OWN_RULES)
    assert result.exit_code == 1
    assert f"test {LOCKOUT_TEST} has no result (no JUnit report given)" in result.stdout
    assert "warning: no JUnit report given" in result.stderr


def test_without_evidence_a_mitigation_stays_open(project: Path) -> None:
    result = invoke("check", *OWN_RULES, "--no-evidence")
    assert result.exit_code == 1
    assert "evidence not checked" in result.stdout
    assert "Evidence: not checked" in result.stdout


def test_fail_on_sets_the_threshold(project: Path) -> None:
    assert invoke("check", *OWN_RULES, "--no-evidence", "--fail-on", "critical").exit_code == 0
    low = invoke("check", *OWN_RULES, "--junit", "junit.xml", "--no-collect", "--fail-on", "low")
    assert low.exit_code == 1
    assert "threats: FAIL: 2 open threats at or above low" in low.stdout
    bad = invoke("check", *OWN_RULES, "--fail-on", "severe")
    assert bad.exit_code == 2
    assert "unknown severity 'severe'" in bad.stderr


def test_check_json_keeps_stdout_machine_readable(project: Path) -> None:
    result = invoke("check", *OWN_RULES, "--no-evidence", "--format", "json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["version"] == 1
    assert "threats: FAIL" in result.stderr


def test_check_writes_sarif_to_a_file(project: Path) -> None:
    out = project / "threats.sarif"
    result = invoke(
        "check", *OWN_RULES, "--junit", "junit.xml", "--format", "sarif", "--output", str(out)
    )
    assert result.exit_code == 0, result.output
    sarif = json.loads(out.read_text())
    assert sarif["version"] == "2.1.0"
    assert f"report: {out}" in result.stdout
    assert "Threat model: Shop" in result.stdout  # the summary still goes to the terminal


def test_check_with_the_builtin_rules(project: Path) -> None:
    result = invoke("check", "--no-evidence", "--fail-on", "critical")
    assert result.exit_code in (0, 1), result.output
    assert "TM-AUTH-001@web" in result.stdout


def test_model_errors_exit_2_naming_file_and_line(project: Path) -> None:
    (project / "threatmodel.yaml").write_text(MODEL.replace("kind: process", "kind: proces", 1))
    result = invoke("check", *OWN_RULES, "--no-evidence")
    assert result.exit_code == 2
    assert "threatmodel.yaml:5" in result.stderr


def test_rule_errors_exit_2(project: Path) -> None:
    (project / "rules.yml").write_text(RULES.replace("component.kind", "component.sort"))
    result = invoke("check", *OWN_RULES, "--no-evidence")
    assert result.exit_code == 2
    assert "rules.yml" in result.stderr


def test_collection_errors_exit_2(project: Path) -> None:
    (project / "tests" / "test_login.py").write_text("import not_a_module_anywhere_xyz\n")
    result = invoke("check", *OWN_RULES)
    assert result.exit_code == 2
    assert "not_a_module_anywhere_xyz" in result.stderr


def test_evidence_options_conflict_and_interpreter_errors(project: Path) -> None:
    both = invoke("check", *OWN_RULES, "--no-evidence", "--junit", "junit.xml")
    assert both.exit_code == 2
    assert "--no-evidence leaves nothing for --junit" in both.stderr
    no_python = invoke("check", *OWN_RULES, "--python", "/nonexistent/python")
    assert no_python.exit_code == 2
    assert "cannot run pytest with /nonexistent/python" in no_python.stderr


def test_root_and_model_elsewhere(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project.parent)
    result = invoke(
        "check", str(project / "threatmodel.yaml"), "--rules", str(project / "rules.yml"),
        "--no-builtin", "--root", str(project), "--junit", str(project / "junit.xml"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_a_missing_model_or_junit_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("check")
    assert result.exit_code == 2
    assert "no threat model at threatmodel.yaml" in result.stderr
    (tmp_path / "threatmodel.yaml").write_text(MODEL)
    result = invoke("check", "--junit", "absent.xml")
    assert result.exit_code == 2
    assert "no JUnit report at absent.xml" in result.stderr


# --------------------------------------------------------------------------- report, diagram


@pytest.mark.parametrize(
    ("fmt", "marker"),
    [("markdown", "TM-TEST-001@web"), ("html", "<html"), ("json", '"version"')],
)
def test_report_never_fails(project: Path, fmt: str, marker: str) -> None:
    result = invoke("report", *OWN_RULES, "--no-evidence", "--format", fmt)
    assert result.exit_code == 0, result.output
    assert marker in result.stdout


def test_report_to_a_file_is_deterministic(project: Path) -> None:
    first, second = project / "one.html", project / "two.html"
    for out in (first, second):
        result = invoke(
            "report", *OWN_RULES, "--junit", "junit.xml", "--no-collect", "-f", "html", "-o",
            str(out),
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    assert first.read_bytes() == second.read_bytes()
    assert not list(project.glob(".one.html.*"))  # no temporary file left behind


def test_report_output_directory_must_exist(project: Path) -> None:
    result = invoke("report", *OWN_RULES, "--no-evidence", "-o", "missing/report.md")
    assert result.exit_code == 2
    assert "the directory of the output file does not exist" in result.stderr


@pytest.mark.parametrize(("fmt", "marker"), [("mermaid", "flowchart LR"), ("dot", "digraph")])
def test_diagram(project: Path, fmt: str, marker: str) -> None:
    result = invoke("diagram", "--format", fmt)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(marker) or marker in result.stdout


# --------------------------------------------------------------------------- diff


def test_diff_of_two_files(project: Path) -> None:
    new = project / "new.yaml"
    new.write_text(MODEL.replace("  - id: admin\n", "  - id: backoffice\n"))
    new.write_text(new.read_text().replace("TM-TEST-001@admin", "TM-TEST-001@backoffice"))
    result = invoke("diff", "threatmodel.yaml", str(new), *OWN_RULES)
    assert result.exit_code == 0, result.output
    assert "backoffice" in result.stdout
    assert "admin" in result.stdout


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        timeout=30,
    )


def test_diff_of_git_revisions(project: Path) -> None:
    _git(project, "init", "-q")
    _git(project, "add", "threatmodel.yaml")
    _git(project, "commit", "-q", "-m", "model")
    model = project / "threatmodel.yaml"
    model.write_text(model.read_text().replace("    properties: [authenticates_users]\n", "", 1))
    _git(project, "commit", "-q", "-am", "web no longer logs users in")
    result = invoke("diff", "HEAD~1", "HEAD", *OWN_RULES)
    assert result.exit_code == 0, result.output
    assert "TM-TEST-001@web" in result.stdout
    by_path = invoke("diff", "HEAD~1:threatmodel.yaml", "threatmodel.yaml", *OWN_RULES)
    assert by_path.exit_code == 0, by_path.output
    assert "TM-TEST-001@web" in by_path.stdout
    unknown = invoke("diff", "no-such-rev", "HEAD", *OWN_RULES)
    assert unknown.exit_code == 2
    assert "no-such-rev" in unknown.stderr


# --------------------------------------------------------------------------- import, rules


def test_import_threagile_then_check_it(tmp_path: Path) -> None:
    out = tmp_path / "threatmodel.yaml"
    result = invoke("import", "threagile", str(THREAGILE), "--output", str(out))
    assert result.exit_code == 0, result.output
    assert out.is_file()
    again = invoke("import", "threagile", str(THREAGILE), "--output", str(out))
    assert again.exit_code == 2
    assert "--force" in again.stderr
    assert invoke("import", "threagile", str(THREAGILE)).stdout == out.read_text()
    checked = invoke("check", str(out), "--no-evidence", "--fail-on", "critical")
    assert checked.exit_code in (0, 1), checked.output


def test_rules_list(project: Path) -> None:
    result = invoke("rules", "list")
    assert result.exit_code == 0, result.output
    assert "TM-AUTH-001" in result.stdout
    as_json = invoke("rules", "list", *OWN_RULES, "--json")
    rows = json.loads(as_json.stdout)
    assert [r["id"] for r in rows] == ["TM-TEST-001", "TM-TEST-002"]
    assert rows[0]["severity"] == "high"
    assert rows[0]["file"] == "rules.yml"


def test_schema_is_json_schema() -> None:
    result = invoke("schema")
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    assert "2020-12" in schema["$schema"]
