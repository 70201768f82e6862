"""pip-audit adapter: parsing captured output, fail-closed errors, and real offline runs."""

from __future__ import annotations

import shutil
import socket
import sys
from pathlib import Path

import pytest

from tests.conftest import DEMO_APP
from turbosec.core.config import Config, ScannerConfig, ScannersConfig
from turbosec.core.errors import ParseError, ScannerError
from turbosec.core.finding import Category, Confidence, Package
from turbosec.core.severity import Severity
from turbosec.scan.adapters.pip_audit import PipAuditScanner
from turbosec.scan.base import RunResult
from turbosec.scan.process import run_process
from turbosec.scan.target import Target

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "pip-audit"
SRC = FIXTURES / "src"


def result(name: str, returncode: int) -> RunResult:
    return RunResult(
        returncode,
        (FIXTURES / f"{name}.json").read_bytes(),
        (FIXTURES / f"{name}.stderr").read_bytes(),
        0.0,
    )


# ------------------------------------------------------------------ vulnerabilities
def test_demo_app_vulnerabilities() -> None:
    parsed = PipAuditScanner().parse(result("demo-app-vulns", 1), Target.open(DEMO_APP))
    assert parsed.warnings == []
    got = [
        (
            f.rule_id,
            f.package.name if f.package else None,
            f.package.version if f.package else None,
            f.location.path if f.location else None,
            f.location.start_line if f.location else None,
        )
        for f in parsed.findings
    ]
    assert got == [
        ("PYSEC-2018-66", "flask", "0.12.2", "requirements.txt", 2),
        ("PYSEC-2019-179", "flask", "0.12.2", "requirements.txt", 2),
        ("PYSEC-2023-62", "flask", "0.12.2", "requirements.txt", 2),
        ("PYSEC-2020-96", "pyyaml", "5.3", "requirements.txt", 3),
        ("PYSEC-2021-142", "pyyaml", "5.3", "requirements.txt", 3),
        ("PYSEC-2018-28", "requests", "2.19.1", "requirements.txt", 4),
        ("PYSEC-2023-74", "requests", "2.19.1", "requirements.txt", 4),
        ("PYSEC-2019-217", "jinja2", "2.10", "requirements.txt", 5),
        ("PYSEC-2021-66", "jinja2", "2.10", "requirements.txt", 5),
    ]


def test_demo_app_finding_fields() -> None:
    parsed = PipAuditScanner().parse(result("demo-app-vulns", 1), Target.open(DEMO_APP))
    first = parsed.findings[0]
    assert first.tool == "pip-audit"
    assert first.category is Category.DEPENDENCY
    assert first.severity is Severity.MEDIUM  # pip-audit reports no severity
    assert first.confidence is Confidence.HIGH
    assert first.package == Package("PyPI", "flask", "0.12.2", ("0.12.3",))
    assert first.advisories == ("PYSEC-2018-66", "CVE-2018-1000656", "GHSA-562c-5r94-xh97")
    assert first.title == "flask 0.12.2 has a known vulnerability (CVE-2018-1000656)"
    assert first.message.startswith("The Pallets Project flask version Before 0.12.3")
    assert first.cwe == (20,)  # "contains a CWE-20: Improper Input Validation"
    assert first.fix_hint == "upgrade flask to >= 0.12.3"
    assert first.references == ("https://osv.dev/vulnerability/PYSEC-2018-66",)
    assert first.location is not None
    assert first.location.snippet == "flask==0.12.2"
    assert first.location.start_column == 1
    assert first.raw is not None and first.raw["fix_versions"] == ["0.12.3"]

    two_fixes = next(f for f in parsed.findings if f.rule_id == "PYSEC-2023-62")
    assert two_fixes.fix_hint == "upgrade flask to >= 2.2.5 (fixed in 2.2.5, 2.3.2)"
    assert two_fixes.package is not None
    assert two_fixes.package.fixed_versions == ("2.2.5", "2.3.2")


def test_lines_found_across_files_with_pep503_names() -> None:
    parsed = PipAuditScanner().parse(result("vulns-multi", 1), Target.open(SRC))
    located = {
        (f.package.name, f.location.path, f.location.start_line, f.location.snippet)
        for f in parsed.findings
        if f.package and f.location
    }
    assert located == {
        ("jinja2", "requirements-dev.txt", 2, "Jinja2==2.10"),
        ("flask", "requirements.txt", 2, "Flask==0.12.2"),
        ("pyyaml", "requirements.txt", 3, "PyYAML == 5.3  # spaces around the operator"),
        ("requests", "requirements.txt", 5, "requests[socks]==2.19.1 \\"),
    }
    assert len(parsed.findings) == 9
    # "-e ." cannot be audited without building it: a warning, not a failure.
    assert parsed.warnings == [
        "-e - was not audited: could not deduce package version from URL requirement"
    ]


def test_package_missing_from_the_requirements_files(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("# pinned elsewhere\n")
    stdout = (
        b'{"dependencies": [{"name": "urllib3", "version": "1.0", "vulns": '
        b'[{"id": "X-1", "fix_versions": [], "aliases": [], "description": "N/A"}]}], '
        b'"fixes": []}'
    )
    parsed = PipAuditScanner().parse(RunResult(1, stdout, b"", 0.0), Target.open(tmp_path))
    (finding,) = parsed.findings
    assert finding.location is not None
    assert (finding.location.path, finding.location.start_line) == ("requirements.txt", None)
    assert finding.message == "urllib3 1.0 is affected by X-1"
    assert finding.fix_hint is not None and finding.fix_hint.startswith("no fixed release")


# -------------------------------------------------------------------- fail closed
def test_offline_skips_are_a_scanner_error_not_a_clean_result() -> None:
    with pytest.raises(ScannerError) as caught:
        PipAuditScanner().parse(result("offline-demo-app", 0), Target.open(DEMO_APP))
    err = caught.value
    assert err.scanner == "pip-audit"
    assert err.message.startswith("pip-audit could not audit 4 of 4 dependencies")
    for name in ("flask 0.12.2", "pyyaml 5.3", "requests 2.19.1", "jinja2 2.10"):
        assert name in err.message
    assert "NOT checked" in err.message
    assert err.hint is not None
    assert "unreachable" in err.hint and "offline dependency audit" in err.hint
    assert "optional" in err.hint
    assert "No known vulnerabilities found" in (err.stderr_tail or "")


@pytest.mark.parametrize(
    ("name", "kind"), [("unreachable-proxy", "ProxyError"), ("unreachable-osv", "ConnectionError")]
)
def test_unreachable_service_is_a_scanner_error(name: str, kind: str) -> None:
    with pytest.raises(ScannerError) as caught:
        PipAuditScanner().parse(result(name, 1), Target.open(DEMO_APP))
    err = caught.value
    assert err.scanner == "pip-audit"
    assert err.message == (
        f"pip-audit could not reach its vulnerability service ({kind}); no dependency was audited"
    )
    assert err.hint is not None and "optional" in err.hint
    tail = err.stderr_tail or ""
    assert f"requests.exceptions.{kind}" in tail.splitlines()[-1]
    assert "Traceback" not in tail


def test_unpinned_requirements_are_a_scanner_error(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("flask>=1.0\n")
    with pytest.raises(ScannerError) as caught:
        PipAuditScanner().parse(result("unpinned", 1), Target.open(tmp_path))
    assert "requirement flask is not pinned to an exact version" in caught.value.message
    assert caught.value.hint is not None and "pin every requirement" in caught.value.hint


# --------------------------------------------------------------------- malformed output
@pytest.mark.parametrize(
    ("stdout", "needle"),
    [
        (b"", "empty output"),
        ((FIXTURES / "demo-app-vulns.json").read_bytes()[:800], "not valid JSON"),
        (b"No known vulnerabilities found\n", "not valid JSON"),
        (b"[]", "expected an object with a 'dependencies' list"),
        (b'{"dependencies": {}}', "expected an object with a 'dependencies' list"),
        (b'{"dependencies": [{"version": "1"}]}', "is not an object with a 'name'"),
        (b'{"dependencies": [{"name": "x", "version": "1"}]}', "lacks 'version' or a 'vulns'"),
        (b'{"dependencies": [{"name": "x", "version": "1", "vulns": [{}]}]}', "with an 'id'"),
        (
            b'{"dependencies": [{"name": "x", "version": "1", "vulns": '
            b'[{"id": "A", "aliases": "B"}]}]}',
            "is not a list",
        ),
    ],
)
def test_malformed_output_is_a_parse_error(stdout: bytes, needle: str, tmp_path: Path) -> None:
    with pytest.raises(ParseError) as caught:
        PipAuditScanner().parse(RunResult(0, stdout, b"", 0.0), Target.open(tmp_path))
    assert caught.value.tool == "pip-audit"
    assert caught.value.source == "stdout"
    assert needle in caught.value.message
    assert "pip-audit output stdout" in str(caught.value)


# --------------------------------------------------------------- detection and command
def test_requirement_files_and_applicability(tmp_path: Path) -> None:
    for rel in (
        "requirements.txt",
        "requirements-dev.txt",
        "requirements/base.txt",
        "services/api/requirements.txt",
        "vendor/requirements.txt",
        "requirements.in",
        "constraints.txt",
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    target = Target.open(tmp_path, exclude=["vendor"])
    assert PipAuditScanner().requirement_files(target) == [
        "requirements-dev.txt",
        "requirements.txt",
        "requirements/base.txt",
        "services/api/requirements.txt",
    ]
    assert PipAuditScanner().applicable(target)
    assert not PipAuditScanner().applicable(Target.open(tmp_path, exclude=["*.txt"]))


def test_invocation_and_defaults(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("")
    (tmp_path / "requirements-dev.txt").write_text("")
    target = Target.open(tmp_path)
    scanner = PipAuditScanner()
    assert scanner.enabled_by_default is False
    assert scanner.name == scanner.program == "pip-audit"
    inv = scanner.invocation(target, ScannerConfig(timeout=5, args=("-s", "osv")), "/opt/pa")
    assert inv.argv == (
        "/opt/pa",
        "-r",
        "requirements-dev.txt",
        "-r",
        "requirements.txt",
        "--no-deps",
        "--disable-pip",
        "-f",
        "json",
        "--desc",
        "on",
        "--aliases",
        "on",
        "--progress-spinner",
        "off",
        "--timeout",
        "5",
        "-s",
        "osv",
    )
    assert inv.cwd == target.root
    assert inv.ok_returncodes == frozenset({0, 1})
    default = scanner.invocation(target, ScannerConfig(), "/opt/pa")
    assert default.argv[default.argv.index("--timeout") + 1] == "15"
    (tmp_path / "-odd").mkdir()
    (tmp_path / "-odd" / "requirements.txt").write_text("")
    odd = scanner.invocation(Target.open(tmp_path), ScannerConfig(), "/opt/pa")
    assert odd.argv[1:3] == ("-r", "./-odd/requirements.txt")


# ----------------------------------------------------------------- real pip-audit
def run_real(target: Target, extra_env: dict[str, str] | None = None) -> None:
    scanner = PipAuditScanner()
    exe = str(Path(sys.executable).parent / scanner.program)
    inv = scanner.invocation(target, ScannerConfig(timeout=5), exe)
    res = run_process(scanner.name, inv.argv, inv.cwd, {**inv.env, **(extra_env or {})}, 120)
    assert res.returncode in inv.ok_returncodes, res.stderr.decode()[-2000:]
    scanner.parse(res, target)


def demo_requirements(tmp_path: Path) -> Target:
    shutil.copy(DEMO_APP / "requirements.txt", tmp_path / "requirements.txt")
    with (tmp_path / "requirements.txt").open("a") as handle:
        # Never published on PyPI: unauditable even where the service is reachable, so the
        # test does not depend on this machine being offline.
        handle.write("turbosec-never-published-probe==0.0.1\n")
    return Target.open(tmp_path)


@pytest.mark.scanners
def test_real_run_without_the_service_fails_closed(tmp_path: Path) -> None:
    with pytest.raises(ScannerError) as caught:
        run_real(demo_requirements(tmp_path))
    err = caught.value
    assert err.scanner == "pip-audit"
    assert "pip-audit" in err.message
    assert "turbosec-never-published-probe" in err.message
    assert "scanner pip-audit" in err.diagnostics()


@pytest.mark.scanners
def test_real_run_with_the_network_down_fails_closed(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a local port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = {"HTTPS_PROXY": f"http://127.0.0.1:{port}", "https_proxy": f"http://127.0.0.1:{port}"}
    with pytest.raises(ScannerError) as caught:
        run_real(demo_requirements(tmp_path), down)
    assert caught.value.message.startswith("pip-audit could not reach its vulnerability service")


@pytest.mark.scanners
def test_gate_fails_with_exit_2_when_pip_audit_cannot_audit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from turbosec.scan import adapters
    from turbosec.scan.runner import ScanRequest, run_scan

    # Only this adapter: the gate's own plumbing (exit code, failures) is what is tested.
    monkeypatch.setattr(adapters, "registry", lambda: {"pip-audit": PipAuditScanner})
    demo_requirements(tmp_path)
    config = Config(scanners=ScannersConfig(pip_audit=ScannerConfig(enabled=True, timeout=60)))
    outcome = run_scan(ScanRequest(root=tmp_path, config=config, only=("pip-audit",)))
    assert outcome.exit_code == 2
    (failure,) = outcome.failures
    assert failure.scanner == "pip-audit"
    assert outcome.report.findings == ()
