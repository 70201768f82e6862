"""zizmor adapter: parsing real captured output, the command line, and real runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import DEMO_APP
from tests.scan.adapters.support import span_rows, write_tree
from turbosec.core.config import ScannerConfig
from turbosec.core.errors import ParseError, ScannerError
from turbosec.core.finding import Category, Confidence
from turbosec.core.severity import Severity
from turbosec.scan.adapters.zizmor import ZizmorScanner
from turbosec.scan.base import Parsed, RunResult
from turbosec.scan.process import run_process
from turbosec.scan.target import Target

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "zizmor"
SRC = FIXTURES / "src"
BROKEN_WARNING = (
    "did not audit .github/workflows/broken.yml: failed to parse input: did not find "
    "expected ',' or ']' at line 4 column 5, while parsing a flow sequence at line 3 column 5"
)

Row = tuple[str, str, int | None, int | None, int | None, int | None, str, str]


def result(name: str, returncode: int) -> RunResult:
    stderr = FIXTURES / f"{name}.stderr"
    return RunResult(
        returncode,
        (FIXTURES / f"{name}.json").read_bytes(),
        stderr.read_bytes() if stderr.exists() else b"",
        0.0,
    )


def rows(parsed: Parsed) -> list[Row]:
    return span_rows(parsed)


# --------------------------------------------------------------------------- fixtures
def test_demo_app_fixture() -> None:
    parsed = ZizmorScanner().parse(result("demo-app", 14), Target.open(DEMO_APP))
    assert parsed.warnings == []
    ci = ".github/workflows/ci.yml"
    # zizmor's 0-based rows/columns become 1-based lines/columns.
    assert rows(parsed) == [
        ("artipacked", ci, 9, 9, 11, 57, "medium", "low"),
        ("excessive-permissions", ci, 6, 3, 16, None, "medium", "medium"),
        ("dangerous-triggers", ci, 4, 3, 4, 22, "high", "medium"),
        ("template-injection", ci, 13, 32, 13, 63, "high", "high"),
        ("unpinned-uses", ci, 9, 15, 9, 34, "high", "high"),
        ("unpinned-uses", ci, 14, 15, 14, 42, "high", "high"),
    ]


def test_demo_app_fields() -> None:
    parsed = ZizmorScanner().parse(result("demo-app", 14), Target.open(DEMO_APP))
    injection = next(f for f in parsed.findings if f.rule_id == "template-injection")
    assert injection.tool == "zizmor"
    assert injection.category is Category.PIPELINE
    assert injection.title == "code injection via template expansion"
    assert injection.message == (
        "may expand into attacker-controllable code: github.event.pull_request.title "
        "(at jobs.test.steps[1].run)"
    )
    assert injection.cwe == (94,)
    assert injection.references == ("https://docs.zizmor.sh/audits/#template-injection",)
    assert injection.fix_hint == (
        "replace expression with environment variable (`zizmor --fix=all` applies this; review it)"
    )
    assert injection.location is not None
    assert injection.location.snippet == (
        '        run: echo "Testing ${{ github.event.pull_request.title }}"'
    )
    assert injection.raw is not None and injection.raw["ident"] == "template-injection"

    unpinned = [f for f in parsed.findings if f.rule_id == "unpinned-uses"]
    assert [f.message for f in unpinned] == [
        "action is not pinned to a hash (required by blanket policy): actions/checkout@v4 "
        "(at jobs.test.steps[0].uses)",
        "action is not pinned to a hash (required by blanket policy): "
        "some-org/deploy-action@main (at jobs.test.steps[2].uses)",
    ]
    assert unpinned[0].fix_hint == "pin the action to a full-length commit SHA"

    perms = next(f for f in parsed.findings if f.rule_id == "excessive-permissions")
    # The span ends at column 0 of the line after the job: its last line is line 16.
    assert perms.location is not None and perms.location.snippet is not None
    assert perms.location.snippet.splitlines()[0] == "  test:"


def test_src_fixture_workflows_actions_and_dependabot() -> None:
    parsed = ZizmorScanner().parse(result("src", 14), Target.open(SRC))
    release = ".github/workflows/release.yml"
    action = "actions/greet/action.yml"
    clean = ".github/workflows/clean.yml"
    assert rows(parsed) == [
        ("dependabot-cooldown", ".github/dependabot.yml", 3, 5, 3, 27, "medium", "high"),
        # "# zizmor: ignore[template-injection]": printed with --no-ignores, kept suppressed
        ("template-injection", clean, 9, 24, 9, 56, "high", "high"),
        ("dangerous-triggers", release, 4, 3, 4, 15, "high", "medium"),
        ("template-injection", release, 16, 31, 16, 68, "high", "high"),
        ("github-env", release, 16, 9, 16, 89, "high", "low"),
        ("unpinned-images", release, 17, 24, 17, 37, "high", "high"),
        ("template-injection", action, 11, 28, 11, 38, "high", "high"),
        ("unpinned-uses", action, 13, 13, 13, 36, "high", "high"),
    ]
    # Only the finding of clean.yml carries a suppression; broken.yml is a warning.
    ignored = parsed.findings[1]
    assert ignored.suppression is not None
    assert ignored.suppression.kind == "inline"
    assert ignored.suppression.reason is None  # nothing after the marker
    assert ignored.suppression.source == f"{clean}: zizmor: ignore[template-injection]"
    assert [f for f in parsed.findings if f.suppression is not None] == [ignored]
    assert parsed.warnings == [BROKEN_WARNING]
    cooldown = parsed.findings[0]
    assert cooldown.fix_hint == "add cooldown configuration (`zizmor --fix` applies this)"


def test_pedantic_persona_severities() -> None:
    parsed = ZizmorScanner().parse(result("src-pedantic", 14), Target.open(SRC))
    by_rule = {f.rule_id: f for f in parsed.findings}
    assert by_rule["anonymous-definition"].severity is Severity.INFO
    assert by_rule["concurrency-limits"].severity is Severity.LOW
    assert by_rule["excessive-permissions"].severity is Severity.HIGH
    assert by_rule["github-env"].confidence is Confidence.LOW


def test_no_inputs_collected_is_a_warning(tmp_path: Path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "broken.yml").write_bytes((SRC / ".github/workflows/broken.yml").read_bytes())
    parsed = ZizmorScanner().parse(result("no-inputs", 3), Target.open(tmp_path))
    assert parsed.findings == []
    assert parsed.warnings == [
        BROKEN_WARNING,
        "no workflow, action or Dependabot file could be parsed; none was audited",
    ]


def test_other_exit_3_is_a_scanner_error(tmp_path: Path) -> None:
    res = RunResult(3, b"", b"fatal: no audit was performed\nsomething else\n", 0.0)
    with pytest.raises(ScannerError) as caught:
        ZizmorScanner().parse(res, Target.open(tmp_path))
    assert caught.value.scanner == "zizmor"
    assert "something else" in caught.value.diagnostics()


def test_remote_and_odd_locations_do_not_crash(tmp_path: Path) -> None:
    stdout = (
        b'[{"ident": "x", "desc": "d", "url": "u", "determinations": '
        b'{"severity": "Unknown", "confidence": "Unknown"}, "locations": [{"symbolic": '
        b'{"key": {"Remote": {"slug": "o/r"}}, "kind": "Primary"}, "concrete": {}}]}]'
    )
    parsed = ZizmorScanner().parse(RunResult(10, stdout, b"", 0.0), Target.open(tmp_path))
    (finding,) = parsed.findings
    assert finding.location is None
    assert finding.severity is Severity.MEDIUM
    assert finding.confidence is Confidence.MEDIUM


def test_findings_flagged_ignored_are_kept_suppressed(tmp_path: Path) -> None:
    stdout = (
        b'[{"ident": "x", "determinations": {"severity": "High", "confidence": "High"}, '
        b'"locations": [], "ignored": true}]'
    )
    parsed = ZizmorScanner().parse(RunResult(0, stdout, b"", 0.0), Target.open(tmp_path))
    (finding,) = parsed.findings
    assert finding.suppression is not None
    assert (finding.suppression.reason, finding.suppression.source) == (
        None,
        "zizmor: zizmor: ignore[x]",
    )
    assert not finding.gating


def test_the_reason_comes_from_the_ignore_comment(tmp_path: Path) -> None:
    stdout = (
        b'[{"ident": "unpinned-uses", "determinations": {"severity": "High"}, '
        b'"locations": [{"symbolic": {"key": {"Local": {"verbatim_path": "w.yml"}}, '
        b'"kind": "Primary"}, "concrete": {"location": {"start_point": {"row": 0, '
        b'"column": 0}}, "comments": ["# other comment", '
        b'"# zizmor: ignore[template-injection, unpinned-uses] pinned by renovate"]}}], '
        b'"ignored": true}]'
    )
    parsed = ZizmorScanner().parse(RunResult(14, stdout, b"", 0.0), Target.open(tmp_path))
    (finding,) = parsed.findings
    assert finding.suppression is not None
    assert finding.suppression.reason == "pinned by renovate"
    assert finding.suppression.source == (
        "w.yml: zizmor: ignore[template-injection, unpinned-uses]"
    )


# --------------------------------------------------------------------- malformed output
@pytest.mark.parametrize(
    ("stdout", "needle"),
    [
        (b"", "empty output"),
        ((FIXTURES / "demo-app.json").read_bytes()[:900], "not valid JSON"),
        (b"error: unexpected argument\n", "not valid JSON"),
        (b'{"findings": []}', "expected a JSON array"),
        (b"[42]", "finding #0 is a int"),
        (b'[{"desc": "no ident"}]', "has no 'ident'"),
        (b'[{"ident": "x", "determinations": {}, "locations": {}}]', "lacks 'determinations'"),
    ],
)
def test_malformed_output_is_a_parse_error(stdout: bytes, needle: str, tmp_path: Path) -> None:
    with pytest.raises(ParseError) as caught:
        ZizmorScanner().parse(RunResult(14, stdout, b"", 0.0), Target.open(tmp_path))
    assert caught.value.tool == "zizmor"
    assert caught.value.source == "stdout"
    assert needle in caught.value.message
    assert "zizmor output stdout" in str(caught.value)


# --------------------------------------------------------------- detection and command
def write(root: Path, files: dict[str, str]) -> None:
    write_tree(root, files)


def test_inputs(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            ".github/workflows/ci.yml": "",
            ".github/workflows/release.yaml": "",
            ".github/workflows/notes.md": "",
            ".github/workflows/sub/deeper.yml": "",
            ".github/dependabot.yml": "",
            ".github/labeler.yml": "",
            "actions/setup/action.yaml": "",
            "action.yml": "",
            "config.yml": "",
            "vendor/.github/workflows/x.yml": "",
        },
    )
    target = Target.open(tmp_path, exclude=["vendor"])
    assert ZizmorScanner().inputs(target) == [
        ".github/dependabot.yml",
        ".github/workflows/ci.yml",
        ".github/workflows/release.yaml",
        "action.yml",
        "actions/setup/action.yaml",
    ]
    assert ZizmorScanner().applicable(target)
    assert not ZizmorScanner().applicable(Target.open(tmp_path, exclude=["*.yml", "*.yaml"]))


def test_invocation(tmp_path: Path) -> None:
    write(tmp_path, {".github/workflows/ci.yml": "", "-odd/action.yml": ""})
    target = Target.open(tmp_path)
    inv = ZizmorScanner().invocation(
        target, ScannerConfig(args=("--persona", "auditor")), "/opt/zizmor"
    )
    assert inv.argv == (
        "/opt/zizmor",
        "--offline",
        "--format",
        "json",
        "--no-progress",
        "--color",
        "never",
        "--no-ignores",  # no zizmor configuration applies: report ignored findings
        "--persona",
        "auditor",
        "--",
        "-odd/action.yml",
        ".github/workflows/ci.yml",
    )
    assert inv.cwd == target.root
    assert inv.ok_returncodes == frozenset({0, 3, 10, 11, 12, 13, 14})
    assert inv.env == {"ZIZMOR_OFFLINE": "true"}


@pytest.mark.parametrize(
    ("files", "args", "env", "no_ignores"),
    [
        ({}, (), None, True),
        ({"zizmor.yml": "rules: {}\n"}, (), None, False),
        ({".github/zizmor.yaml": "rules: {}\n"}, (), None, False),
        ({".github/workflows/zizmor.yml": "rules: {}\n"}, (), None, False),
        ({"zizmor.yml": "rules: {}\n"}, ("--no-config",), None, True),
        ({}, ("--config", "z.yml"), None, False),
        ({}, ("--config=z.yml",), None, False),
        ({}, (), "/etc/zizmor.yml", False),
    ],
)
def test_no_ignores_only_without_a_zizmor_configuration(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    files: dict[str, str],
    args: tuple[str, ...],
    env: str | None,
    no_ignores: bool,
) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)  # discovery stops here
    (tmp_path / "zizmor.yml").write_text("rules: {}\n")  # above the repository: not seen
    write(repo, {".github/workflows/ci.yml": "", **files})
    if env is None:
        monkeypatch.delenv("ZIZMOR_CONFIG", raising=False)
    else:
        monkeypatch.setenv("ZIZMOR_CONFIG", env)
    inv = ZizmorScanner().invocation(Target.open(repo), ScannerConfig(args=args), "zizmor")
    assert ("--no-ignores" in inv.argv) is no_ignores


def test_config_discovery_goes_above_a_directory_without_git(tmp_path: Path) -> None:
    (tmp_path / "zizmor.yml").write_text("rules: {}\n")
    repo = tmp_path / "project"
    write(repo, {".github/workflows/ci.yml": ""})
    inv = ZizmorScanner().invocation(Target.open(repo), ScannerConfig(), "zizmor")
    assert "--no-ignores" not in inv.argv


# ------------------------------------------------------------------------ real zizmor
def run_real(target: Target) -> tuple[int, Parsed]:
    scanner = ZizmorScanner()
    exe = str(Path(sys.executable).parent / scanner.program)
    inv = scanner.invocation(target, ScannerConfig(), exe)
    res = run_process(scanner.name, inv.argv, inv.cwd, inv.env, 120)
    assert res.returncode in inv.ok_returncodes, res.stderr.decode()[-2000:]
    return res.returncode, scanner.parse(res, target)


WORKFLOW = """\
name: pr
on:
  pull_request_target:
permissions: {}
jobs:
  greet:
    runs-on: ubuntu-latest
    steps:
      - run: echo "${{ github.event.pull_request.title }}"
"""


@pytest.mark.scanners
def test_real_zizmor_on_a_small_project(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            ".github/workflows/pr.yml": WORKFLOW,
            ".github/workflows/ok.yml": (
                "name: ok\non: push\npermissions: {}\njobs:\n  a:\n"
                "    runs-on: ubuntu-latest\n    steps:\n      - run: echo ok\n"
            ),
            "vendor/.github/workflows/other.yml": WORKFLOW,
        },
    )
    returncode, parsed = run_real(Target.open(tmp_path, exclude=["vendor"]))
    assert returncode == 14
    pr = ".github/workflows/pr.yml"
    assert rows(parsed) == [
        ("dangerous-triggers", pr, 3, 3, 3, 22, "high", "medium"),
        ("template-injection", pr, 9, 24, 9, 55, "high", "high"),
    ]
    assert parsed.warnings == []


@pytest.mark.scanners
def test_real_zizmor_clean_and_unparsable(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            ".github/workflows/ok.yml": (
                "name: ok\non: push\npermissions: {}\njobs:\n  a:\n"
                "    runs-on: ubuntu-latest\n    steps:\n      - run: echo ok\n"
            ),
        },
    )
    returncode, parsed = run_real(Target.open(tmp_path))
    assert (returncode, parsed.findings, parsed.warnings) == (0, [], [])

    (tmp_path / ".github/workflows/ok.yml").write_text("on: [push\n")
    returncode, parsed = run_real(Target.open(tmp_path))
    assert returncode == 3
    assert parsed.findings == []
    assert parsed.warnings[0].startswith("did not audit .github/workflows/ok.yml: failed to parse")


@pytest.mark.scanners
def test_real_zizmor_ignored_findings_are_reported_suppressed(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()  # zizmor's configuration discovery stops here
    workflow = WORKFLOW.replace(
        'echo "${{ github.event.pull_request.title }}"',
        'echo "${{ github.event.pull_request.title }}"'
        " # zizmor: ignore[template-injection] the title is only echoed",
    )
    write(tmp_path, {".github/workflows/pr.yml": workflow})
    returncode, parsed = run_real(Target.open(tmp_path))
    assert returncode == 14
    by_rule = {f.rule_id: f for f in parsed.findings}
    assert set(by_rule) == {"dangerous-triggers", "template-injection"}
    assert by_rule["dangerous-triggers"].suppression is None
    ignored = by_rule["template-injection"].suppression
    assert ignored is not None
    assert ignored.reason == "the title is only echoed"

    # With a zizmor configuration turbosec leaves ignores to zizmor: the finding is gone.
    (tmp_path / "zizmor.yml").write_text("rules: {}\n")
    _, parsed = run_real(Target.open(tmp_path))
    assert [f.rule_id for f in parsed.findings] == ["dangerous-triggers"]
