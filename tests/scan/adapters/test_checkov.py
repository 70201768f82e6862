"""checkov adapter: parsing real captured output, the command line, and real runs."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from tests.conftest import DEMO_APP
from turbosec.core.config import ScannerConfig
from turbosec.core.errors import ParseError
from turbosec.core.finding import Category, Confidence
from turbosec.core.severity import Severity
from turbosec.scan.adapters.checkov import CheckovScanner, skip_path_regexes
from turbosec.scan.base import Parsed, RunResult
from turbosec.scan.process import run_process
from turbosec.scan.target import Target

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "checkov"
SRC = FIXTURES / "src"


def result(name: str, returncode: int = 1) -> RunResult:
    return RunResult(returncode, (FIXTURES / name).read_bytes(), b"", 0.0)


def keyed(parsed: Parsed) -> list[tuple[str, str, int | None, int | None, str]]:
    out = []
    for f in parsed.findings:
        assert f.location is not None
        loc = f.location
        out.append((f.rule_id, loc.path, loc.start_line, loc.end_line, f.severity.label))
    return sorted(out)


# --------------------------------------------------------------------------- fixtures
def test_demo_app_fixture() -> None:
    parsed = CheckovScanner().parse(result("demo-app.json"), Target.open(DEMO_APP))
    assert parsed.warnings == []
    assert keyed(parsed) == [
        ("CKV2_AWS_5", "infra/main.tf", 11, 20, "low"),
        ("CKV2_AWS_6", "infra/main.tf", 2, 4, "medium"),
        ("CKV2_AWS_61", "infra/main.tf", 2, 4, "low"),
        ("CKV2_AWS_62", "infra/main.tf", 2, 4, "low"),
        ("CKV_AWS_144", "infra/main.tf", 2, 4, "low"),
        ("CKV_AWS_145", "infra/main.tf", 2, 4, "low"),
        ("CKV_AWS_18", "infra/main.tf", 2, 4, "low"),
        ("CKV_AWS_20", "infra/main.tf", 2, 4, "high"),
        ("CKV_AWS_21", "infra/main.tf", 2, 4, "low"),
        ("CKV_AWS_23", "infra/main.tf", 11, 20, "low"),
        ("CKV_AWS_24", "infra/main.tf", 11, 20, "high"),
        ("CKV_DOCKER_2", "Dockerfile", 1, 7, "low"),
        ("CKV_DOCKER_3", "Dockerfile", 1, 7, "medium"),
        ("CKV_DOCKER_7", "Dockerfile", 2, 2, "medium"),
    ]


def test_demo_app_fields() -> None:
    parsed = CheckovScanner().parse(result("demo-app.json"), Target.open(DEMO_APP))
    by_id = {f.rule_id: f for f in parsed.findings}
    latest = by_id["CKV_DOCKER_7"]
    assert latest.tool == "checkov"
    assert latest.category is Category.IAC
    assert latest.confidence is Confidence.HIGH
    assert latest.title == "Ensure the base image uses a non latest version tag"
    assert latest.message == (
        "CKV_DOCKER_7 failed for /Dockerfile.FROM: "
        "Ensure the base image uses a non latest version tag"
    )
    assert latest.fix_hint == "Ensure the base image uses a non latest version tag"
    assert latest.cwe == (1357,)
    assert latest.references == ()  # guideline is null without the platform
    assert latest.location is not None
    assert latest.location.snippet == "FROM python:latest"
    assert latest.raw is not None and latest.raw["check_class"].endswith("ReferenceLatestTag")

    ssh = by_id["CKV_AWS_24"]
    assert ssh.severity is Severity.HIGH
    assert ssh.cwe == (284,)
    assert ssh.location is not None and ssh.location.snippet is not None
    assert ssh.location.snippet.splitlines()[0] == 'resource "aws_security_group" "web" {'

    public = by_id["CKV_AWS_20"]
    assert public.fix_hint is not None and public.fix_hint.startswith("remove the public-read ACL")


def test_multi_framework_fixture() -> None:
    parsed = CheckovScanner().parse(result("src-all.json"), Target.open(SRC))
    assert parsed.warnings == [
        "could not parse terraform file broken/broken.tf; it was not checked"
    ]
    paths = {f.location.path for f in parsed.findings if f.location}
    # CloudFormation records carry a relative file_abs_path ("./cfn/bucket.yaml").
    assert paths == {
        "cfn/bucket.yaml",
        "docker/api.Dockerfile",
        "infra/main.tf",
        "k8s/deployment.yaml",
    }
    counts: dict[str, int] = {}
    for f in parsed.findings:
        assert f.location is not None
        counts[f.location.path] = counts.get(f.location.path, 0) + 1
    assert counts == {
        "cfn/bucket.yaml": 7,
        "docker/api.Dockerfile": 5,
        "infra/main.tf": 11,
        "k8s/deployment.yaml": 21,
    }
    rows = keyed(parsed)
    # The tfvars value (0.0.0.0/0) reached the check: directory mode resolves variables.
    assert ("CKV_AWS_24", "infra/main.tf", 2, 13, "high") in rows
    assert ("CKV_AWS_20", "cfn/bucket.yaml", 4, 7, "high") in rows
    assert ("CKV_K8S_16", "k8s/deployment.yaml", 2, 21, "high") in rows
    assert ("CKV_DOCKER_8", "docker/api.Dockerfile", 5, 5, "medium") in rows
    assert ("CKV2_K8S_6", "k8s/deployment.yaml", 2, 21, "medium") in rows  # not in the table
    root_user = next(f for f in parsed.findings if f.rule_id == "CKV_DOCKER_8")
    assert root_user.location is not None and root_user.location.snippet == "USER root"
    k8s = next(f for f in parsed.findings if f.rule_id == "CKV_K8S_16")
    assert k8s.location is not None and k8s.location.snippet is not None
    assert len(k8s.location.snippet.splitlines()) == 10  # snippet capped at 10 lines


def test_single_report_object() -> None:
    target = Target.open(SRC / "docker")
    parsed = CheckovScanner().parse(result("docker-only.json"), target)
    assert sorted((f.rule_id, f.location.path if f.location else "") for f in parsed.findings) == [
        ("CKV_DOCKER_1", "api.Dockerfile"),
        ("CKV_DOCKER_2", "api.Dockerfile"),
        ("CKV_DOCKER_4", "api.Dockerfile"),
        ("CKV_DOCKER_7", "api.Dockerfile"),
        ("CKV_DOCKER_8", "api.Dockerfile"),
    ]


def test_bare_summary_means_no_findings(tmp_path: Path) -> None:
    parsed = CheckovScanner().parse(result("no-resources.json", 0), Target.open(tmp_path))
    assert parsed.findings == []
    assert parsed.warnings == []


def test_findings_outside_the_target_are_dropped() -> None:
    target = Target.open(DEMO_APP, exclude=["infra"])
    parsed = CheckovScanner().parse(result("demo-app.json"), target)
    assert {f.location.path for f in parsed.findings if f.location} == {"Dockerfile"}


# --------------------------------------------------------------------- malformed output
@pytest.mark.parametrize(
    ("stdout", "needle"),
    [
        (b"", "empty output"),
        (b"  \n", "empty output"),
        ((FIXTURES / "demo-app.json").read_bytes()[:700], "not valid JSON"),
        (b"Traceback (most recent call last):\n", "not valid JSON"),
        (b'{"foo": 1}', "neither 'check_type' nor a summary"),
        (b"[1, 2]", "report #1 is a int"),
        (b'{"check_type": "terraform"}', "no 'results' object"),
        (b'{"check_type": "terraform", "results": {"failed_checks": {}}}', "not a list"),
        (
            b'{"check_type": "terraform", "results": {"failed_checks": [{"file_path": "/x"}]}}',
            "has no 'check_id'",
        ),
        (b'{"check_type": "terraform", "results": {"failed_checks": ["x"]}}', "not an object"),
    ],
)
def test_malformed_output_is_a_parse_error(stdout: bytes, needle: str, tmp_path: Path) -> None:
    with pytest.raises(ParseError) as caught:
        CheckovScanner().parse(RunResult(1, stdout, b"", 0.0), Target.open(tmp_path))
    assert caught.value.tool == "checkov"
    assert caught.value.source == "stdout"
    assert needle in caught.value.message
    assert "checkov output stdout" in str(caught.value)


# --------------------------------------------------------------- detection and command
def write(root: Path, files: dict[str, str]) -> Target:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return Target.open(root)


def test_frameworks_follow_the_files(tmp_path: Path) -> None:
    target = write(
        tmp_path,
        {
            "infra/main.tf": 'resource "x" "y" {}\n',
            "stack.tf.json": "{}",
            "svc/api.Dockerfile": "FROM scratch\n",
            "Dockerfile.prod": "FROM scratch\n",
            "deploy/app.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n",
            "cfn/template.json": '{"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}',
            "main.bicep": "param x string\n",
            ".github/workflows/ci.yml": "apiVersion: v1\nkind: Pod\n",
        },
    )
    assert CheckovScanner().frameworks(target) == (
        "bicep",
        "cloudformation",
        "dockerfile",
        "kubernetes",
        "terraform",
        "terraform_json",
    )


def test_not_applicable_without_infrastructure_files(tmp_path: Path) -> None:
    target = write(
        tmp_path,
        {
            ".dockerignore": "*.pyc\n",
            "chart/templates/deploy.yaml": "apiVersion: {{ .Values.api }}\nkind: Pod\n",
            "config.yaml": "name: x\n",
            ".github/workflows/ci.yml": "on: push\n",
            "app.py": "print(1)\n",
        },
    )
    assert CheckovScanner().frameworks(target) == ()
    assert not CheckovScanner().applicable(target)


def test_excluded_files_do_not_make_it_applicable(tmp_path: Path) -> None:
    write(tmp_path, {"vendor/main.tf": 'resource "x" "y" {}\n'})
    assert not CheckovScanner().applicable(Target.open(tmp_path, exclude=["vendor"]))


def test_invocation(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": "", "Dockerfile": "FROM scratch\n"})
    target = Target.open(tmp_path, exclude=["vendor", "build/gen/*.tf"])
    inv = CheckovScanner().invocation(
        target, ScannerConfig(args=("--check", "CKV_AWS_24")), "/opt/checkov"
    )
    root = re.escape(tmp_path.resolve().as_posix())
    assert inv.argv == (
        "/opt/checkov",
        "--directory",
        ".",
        "--framework",
        "dockerfile",
        "terraform",
        "--output",
        "json",
        "--compact",
        "--skip-download",
        "--download-external-modules",
        "false",
        "--skip-path",
        "(?:^|/)vendor(?:/|$)",
        "--skip-path",
        f"(?:^|^\\./|^{root}/)build/gen/[^/]*\\.tf(?:/|$)",
        "--check",
        "CKV_AWS_24",
    )
    assert inv.cwd == target.root
    assert inv.ok_returncodes == frozenset({0, 1})
    assert inv.env["CKV_SKIP_PACKAGE_UPDATE_CHECK"] == "true"


def test_skip_path_regexes_match_checkovs_path_forms(tmp_path: Path) -> None:
    target = Target.open(tmp_path, exclude=["vendor", "build/gen"])
    vendor, gen = (re.compile(rx) for rx in skip_path_regexes(target))
    root = tmp_path.resolve().as_posix()
    for path in ("./vendor", "vendor", f"{root}/vendor", "./app/vendor/x.tf"):
        assert vendor.search(path), path
    for path in ("./vendors", "./app/myvendor"):
        assert not vendor.search(path), path
    for path in ("./build/gen", f"{root}/build/gen", "build/gen/x.tf"):
        assert gen.search(path), path
    for path in ("./app/build/gen", "./build/general"):
        assert not gen.search(path), path


def test_top_level_directories_without_target_files_are_skipped(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "infra/main.tf": "",
            "venv/lib/site-packages/pkg/Dockerfile": "FROM scratch\n",  # walk skips venv
            "node_modules/x/main.tf": "",
            ".cache/y.tf": "",  # hidden: checkov skips it itself
        },
    )
    target = Target.open(tmp_path)
    assert target.files == (".cache/y.tf", "infra/main.tf")
    root = re.escape(tmp_path.resolve().as_posix())
    assert skip_path_regexes(target) == [
        f"(?:^|^\\./|^{root}/)node_modules(?:/|$)",
        f"(?:^|^\\./|^{root}/)venv(?:/|$)",
    ]


# ----------------------------------------------------------------------- real checkov
def run_real(target: Target) -> Parsed:
    scanner = CheckovScanner()
    exe = str(Path(sys.executable).parent / scanner.program)
    inv = scanner.invocation(target, ScannerConfig(), exe)
    res = run_process(scanner.name, inv.argv, inv.cwd, inv.env, 300)
    assert res.returncode in inv.ok_returncodes, res.stderr.decode()[-2000:]
    return scanner.parse(res, target)


@pytest.mark.scanners
def test_real_checkov_on_a_small_project(tmp_path: Path) -> None:
    open_ssh = (
        'resource "aws_security_group" "ssh" {\n'
        '  name        = "ssh"\n'
        '  description = "ssh"\n'
        "  ingress {\n"
        '    description = "ssh"\n'
        "    from_port   = 22\n"
        "    to_port     = 22\n"
        '    protocol    = "tcp"\n'
        "    cidr_blocks = [var.cidr]\n"
        "  }\n"
        "}\n"
    )
    write(
        tmp_path,
        {
            "infra/main.tf": open_ssh,
            "infra/variables.tf": 'variable "cidr" {\n  default = "10.0.0.0/8"\n}\n',
            "infra/terraform.tfvars": 'cidr = "0.0.0.0/0"\n',
            "Dockerfile": (
                "FROM python:3.12-slim\nRUN useradd app\nUSER app\n"
                "HEALTHCHECK CMD true\nADD app.tar.gz /srv/\n"
            ),
            "vendor/thirdparty.tf": open_ssh,
            "notes/config.yaml": "name: not kubernetes\n",
        },
    )
    target = Target.open(tmp_path, exclude=["vendor"])
    parsed = run_real(target)
    assert parsed.warnings == []
    assert keyed(parsed) == [
        ("CKV2_AWS_5", "infra/main.tf", 1, 11, "low"),
        ("CKV_AWS_24", "infra/main.tf", 1, 11, "high"),
        ("CKV_DOCKER_4", "Dockerfile", 5, 5, "low"),
    ]
    assert all(f.location and f.location.snippet for f in parsed.findings)


@pytest.mark.scanners
def test_real_checkov_reports_unparsable_files(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "ok.tf": 'variable "x" {\n  default = 1\n}\n',
            "bad/broken.tf": 'resource "aws_s3_bucket" "x" {\n  bucket = \n',
        },
    )
    parsed = run_real(Target.open(tmp_path))
    assert parsed.findings == []
    assert parsed.warnings == ["could not parse terraform file bad/broken.tf; it was not checked"]


# A skipped_checks record as checkov 3.3.30 prints it for `#checkov:skip=CKV_AWS_20:reason`
# (trimmed to the fields turbosec reads; captured from the run in the test below).
def _skipped_report(comment: str) -> bytes:
    record = {
        "check_id": "CKV_AWS_20",
        "check_name": "S3 Bucket has an ACL defined which allows public READ access.",
        "check_result": {"result": "SKIPPED", "suppress_comment": comment},
        "file_path": "/main.tf",
        "file_abs_path": "/nonexistent/main.tf",
        "repo_file_path": "/main.tf",
        "file_line_range": [1, 6],
        "resource": "aws_s3_bucket.logs",
        "severity": None,
        "guideline": None,
        "details": [],
    }
    report = {
        "check_type": "terraform",
        "results": {"failed_checks": [], "skipped_checks": [record], "parsing_errors": []},
    }
    return json.dumps(report).encode()


@pytest.mark.parametrize(
    ("comment", "reason"),
    [
        ("the bucket hosts a public website", "the bucket hosts a public website"),
        ("No comment provided", None),  # checkov's text for a skip without a reason
    ],
)
def test_skipped_checks_become_suppressed_findings(
    tmp_path: Path, comment: str, reason: str | None
) -> None:
    write(tmp_path, {"main.tf": 'resource "aws_s3_bucket" "logs" {\n}\n'})
    run = RunResult(0, _skipped_report(comment), b"", 0.0)
    (finding,) = CheckovScanner().parse(run, Target.open(tmp_path)).findings
    assert finding.rule_id == "CKV_AWS_20"
    assert finding.severity is Severity.HIGH
    assert finding.message.startswith(
        "CKV_AWS_20 skipped by a checkov skip comment (not evaluated) for aws_s3_bucket.logs"
    )
    assert finding.suppression is not None
    assert finding.suppression.kind == "inline"
    assert finding.suppression.reason == reason
    assert finding.suppression.source == "main.tf: checkov:skip=CKV_AWS_20 in aws_s3_bucket.logs"
    assert not finding.gating


def test_skipped_checks_must_be_a_list(tmp_path: Path) -> None:
    doc = b'{"check_type": "terraform", "results": {"failed_checks": [], "skipped_checks": 3}}'
    with pytest.raises(ParseError, match="'skipped_checks' is not a list"):
        CheckovScanner().parse(RunResult(0, doc, b"", 0.0), Target.open(tmp_path))


@pytest.mark.scanners
def test_real_checkov_reports_skipped_checks_as_suppressed(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "main.tf": (
                'resource "aws_s3_bucket" "logs" {\n'
                "  #checkov:skip=CKV_AWS_20:the bucket hosts a public website\n"
                "  #checkov:skip=CKV_AWS_18\n"
                '  bucket = "acme-logs"\n'
                '  acl    = "public-read"\n'
                "}\n"
            ),
        },
    )
    parsed = run_real(Target.open(tmp_path))
    suppressed = {f.rule_id: f.suppression for f in parsed.findings if f.suppression}
    assert set(suppressed) == {"CKV_AWS_20", "CKV_AWS_18"}
    assert suppressed["CKV_AWS_20"] is not None
    assert suppressed["CKV_AWS_20"].reason == "the bucket hosts a public website"
    assert suppressed["CKV_AWS_18"] is not None
    assert suppressed["CKV_AWS_18"].reason is None  # "No comment provided"
    failed = {f.rule_id for f in parsed.findings if f.suppression is None}
    assert "CKV_AWS_20" not in failed and "CKV_AWS_21" in failed
