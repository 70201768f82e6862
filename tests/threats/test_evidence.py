"""Evidence: real pytest collection and real JUnit reports of the fixture project."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from turbosec.threats import evidence as evidence_mod
from turbosec.threats.errors import EvidenceError
from turbosec.threats.evidence import collect_evidence, junit_node_id_key, parse_junit
from turbosec.threats.model import (
    Control,
    EvidenceReport,
    SourceRef,
    ThreatModel,
)
from turbosec.threats.model import (
    TestEvidence as Evid,
)
from turbosec.threats.model import (
    TestOutcome as Outcome,
)

LOGIN = "tests/test_login.py"
UPLOAD = "tests/test_upload.py"


def model_with(**controls: list[str]) -> ThreatModel:
    """A model holding only controls, each with the given evidence tests."""
    built = {
        cid.replace("_", "-"): Control(
            id=cid.replace("_", "-"),
            kind="authentication",
            ref=SourceRef("threatmodel.yaml", 10 + i),
            tests=tuple(tests),
        )
        for i, (cid, tests) in enumerate(controls.items())
    }
    return ThreatModel(
        name="Fixture",
        owner="team",
        path="threatmodel.yaml",
        files=("threatmodel.yaml",),
        data={},
        boundaries={},
        components={},
        flows={},
        controls=built,
    )


def outcome(report: EvidenceReport, control: str, index: int = 0) -> Evid:
    return report.controls[control].tests[index]


# --------------------------------------------------------------------------- JUnit names


@pytest.mark.parametrize(
    ("node_id", "key"),
    [
        ("tests/test_x.py::test_y", ("tests.test_x", "test_y")),
        ("tests/test_x.py::TestC::test_y", ("tests.test_x.TestC", "test_y")),
        ("tests/test_x.py::TestC::Inner::test_y", ("tests.test_x.TestC.Inner", "test_y")),
        ("tests/test_x.py::test_y[a::b/c.py]", ("tests.test_x", "test_y[a::b/c.py]")),
        ("test_top.py::test_y[1]", ("test_top", "test_y[1]")),
        ("tests/sub/test_x.py::TestC::test_y[p-1]", ("tests.sub.test_x.TestC", "test_y[p-1]")),
    ],
)
def test_junit_key_is_what_pytest_writes(node_id: str, key: tuple[str, str]) -> None:
    assert junit_node_id_key(node_id) == key


# --------------------------------------------------------------------------- real runs


def test_collect_and_junit_of_a_real_run(evidence_run: tuple[Path, Path]) -> None:
    project, junit = evidence_run
    model = model_with(
        lockout=[f"{LOGIN}::test_lockout_after_five_failures"],
        reset=[f"{LOGIN}::test_password_reset_token_expires"],
        mail=[f"{LOGIN}::test_reset_mail_is_sent"],
        weak=[f"{LOGIN}::test_weak_password_rejected"],
        weak_param=[f"{LOGIN}::test_weak_password_rejected[x::y]"],
        rate=[f"{LOGIN}::test_rate_limit"],
        rate_ok=[f"{LOGIN}::test_rate_limit[1]"],
        session=[f"{LOGIN}::TestSession"],
        nested=[f"./{LOGIN}::TestSession::TestCookie::test_secure_flag"],
        ghost=[f"{LOGIN}::test_lockout_after_six_failures"],
        gone=["tests/test_gone.py::test_x"],
        outside=["../elsewhere/test_x.py::test_x"],
        mixed=[f"{UPLOAD}::test_rejects_path_traversal", f"{UPLOAD}::test_scans_for_malware"],
        ticket_only=[],
    )
    report = collect_evidence(model, root=project, junit=[junit])
    assert report.collected is True
    assert report.junit_files == (str(junit),)

    assert outcome(report, "lockout") == Evid(
        f"{LOGIN}::test_lockout_after_five_failures", Outcome.PASSED
    )
    reset = outcome(report, "reset")
    assert reset.outcome is Outcome.FAILED
    assert reset.detail == "AssertionError: reset tokens live too long"
    mail = outcome(report, "mail")
    assert (mail.outcome, mail.detail) == (Outcome.SKIPPED, "needs the mail server")
    # a reference without parameters covers every parametrised test
    assert outcome(report, "weak").outcome is Outcome.PASSED
    assert outcome(report, "weak-param").outcome is Outcome.PASSED
    rate = outcome(report, "rate")
    assert rate.outcome is Outcome.FAILED
    assert rate.detail.startswith(f"{LOGIN}::test_rate_limit[50]: AssertionError: 50 attempts")
    assert outcome(report, "rate-ok").outcome is Outcome.PASSED
    assert outcome(report, "session").outcome is Outcome.PASSED
    nested = outcome(report, "nested")
    assert nested.node_id == f"{LOGIN}::TestSession::TestCookie::test_secure_flag"
    assert nested.outcome is Outcome.PASSED

    ghost = outcome(report, "ghost")
    assert ghost.outcome is Outcome.MISSING
    assert ghost.detail == f"pytest collects no such test in {LOGIN}"
    gone = outcome(report, "gone")
    assert (gone.outcome, gone.detail) == (Outcome.MISSING, "file not found")
    outside = outcome(report, "outside")
    assert (outside.outcome, outside.detail) == (Outcome.MISSING, "outside the repository")

    mixed = report.controls["mixed"]
    assert [t.outcome for t in mixed.tests] == [Outcome.PASSED, Outcome.SKIPPED]
    assert mixed.proven is False
    assert report.controls["lockout"].proven is True
    assert report.controls["ticket-only"].tests == ()
    assert report.controls["ticket-only"].proven is False


def test_collect_without_junit_marks_existing_tests_not_run(evidence_project: Path) -> None:
    model = model_with(
        lockout=[f"{LOGIN}::test_lockout_after_five_failures"],
        ghost=[f"{UPLOAD}::test_nothing_like_this"],
    )
    report = collect_evidence(model, root=evidence_project)
    lockout = outcome(report, "lockout")
    assert (lockout.outcome, lockout.detail) == (Outcome.NOT_RUN, "no JUnit report given")
    assert report.warnings == (
        "no JUnit report given: no test result proves a mitigation "
        "(run pytest --junitxml=FILE and pass the file with --junit)",
    )
    assert outcome(report, "ghost").outcome is Outcome.MISSING
    assert report.controls["lockout"].proven is False


def test_junit_of_another_subset_leaves_tests_not_run(
    evidence_project: Path, run_fixture: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    junit = evidence_project / "upload.xml"
    done = run_fixture(evidence_project, junit, UPLOAD)
    assert done.returncode == 0, done.stdout
    model = model_with(
        lockout=[f"{LOGIN}::test_lockout_after_five_failures"],
        upload=[f"{UPLOAD}::test_rejects_path_traversal"],
    )
    report = collect_evidence(model, root=evidence_project, junit=[junit])
    lockout = outcome(report, "lockout")
    assert (lockout.outcome, lockout.detail) == (
        Outcome.NOT_RUN,
        "no JUnit report mentions it",
    )
    assert outcome(report, "upload").outcome is Outcome.PASSED


def test_without_collection_junit_decides_and_the_rest_is_unknown(
    evidence_run: tuple[Path, Path],
) -> None:
    project, junit = evidence_run
    model = model_with(
        lockout=[f"{LOGIN}::test_lockout_after_five_failures"],
        rate=[f"{LOGIN}::test_rate_limit"],
        weak=[f"{LOGIN}::test_weak_password_rejected"],
        session=[f"{LOGIN}::TestSession"],
        module=[UPLOAD],
        ghost=[f"{LOGIN}::test_not_there"],
        gone=["tests/test_gone.py::test_x"],
    )
    # a python that does not exist: collect=False must not start pytest at all
    report = collect_evidence(
        model, root=project, junit=[junit], collect=False, python="/nonexistent/python"
    )
    assert report.collected is False
    assert outcome(report, "lockout").outcome is Outcome.PASSED
    rate = outcome(report, "rate")
    assert rate.outcome is Outcome.FAILED
    assert rate.detail.startswith(f"{LOGIN}::test_rate_limit[50]:")
    assert outcome(report, "weak").outcome is Outcome.PASSED
    assert outcome(report, "session").outcome is Outcome.PASSED
    module = outcome(report, "module")
    assert module.outcome is Outcome.SKIPPED
    assert module.detail.startswith(f"{UPLOAD}::test_scans_for_malware")
    assert outcome(report, "ghost").outcome is Outcome.UNKNOWN
    assert outcome(report, "gone").outcome is Outcome.MISSING


def test_without_collection_or_junit_everything_existing_is_unknown(
    evidence_project: Path,
) -> None:
    model = model_with(lockout=[f"{LOGIN}::test_lockout_after_five_failures"])
    report = collect_evidence(model, root=evidence_project, collect=False)
    assert outcome(report, "lockout").outcome is Outcome.UNKNOWN


def test_a_file_without_tests_makes_its_references_missing(evidence_project: Path) -> None:
    (evidence_project / "tests" / "test_empty.py").write_text("HELPER = 1\n")
    model = model_with(empty=["tests/test_empty.py::test_x"])
    report = collect_evidence(model, root=evidence_project)
    assert outcome(report, "empty").outcome is Outcome.MISSING


def test_only_missing_files_never_start_pytest(evidence_project: Path) -> None:
    model = model_with(gone=["tests/test_gone.py::test_x"])
    report = collect_evidence(model, root=evidence_project, python="/nonexistent/python")
    assert outcome(report, "gone").outcome is Outcome.MISSING


def test_collection_errors_are_evidence_errors(evidence_project: Path) -> None:
    (evidence_project / "tests" / "test_broken.py").write_text(
        "import module_that_is_not_installed_anywhere\n\ndef test_x():\n    pass\n"
    )
    model = model_with(broken=["tests/test_broken.py::test_x"])
    with pytest.raises(EvidenceError) as caught:
        collect_evidence(model, root=evidence_project)
    text = caught.value.diagnostics()
    assert "pytest could not collect the evidence tests (exit code 2)" in text
    assert "module_that_is_not_installed_anywhere" in text
    assert "--no-collect" in text


def test_quiet_addopts_are_explained(evidence_project: Path) -> None:
    (evidence_project / "pytest.ini").write_text("[pytest]\naddopts = -q\n")
    model = model_with(lockout=[f"{LOGIN}::test_lockout_after_five_failures"])
    with pytest.raises(EvidenceError, match="printed no test ids") as caught:
        collect_evidence(model, root=evidence_project)
    assert "addopts" in caught.value.diagnostics()


def test_a_missing_interpreter_is_an_evidence_error(evidence_project: Path) -> None:
    model = model_with(lockout=[f"{LOGIN}::test_lockout_after_five_failures"])
    with pytest.raises(EvidenceError, match="cannot run pytest with /nonexistent/python"):
        collect_evidence(model, root=evidence_project, python="/nonexistent/python")


def test_a_slow_collection_times_out(evidence_project: Path) -> None:
    (evidence_project / "tests" / "test_slow.py").write_text(
        "import time\n\ntime.sleep(30)\n\ndef test_x():\n    pass\n"
    )
    model = model_with(slow=["tests/test_slow.py::test_x"])
    with pytest.raises(EvidenceError, match="did not finish within 1 s"):
        collect_evidence(model, root=evidence_project, timeout=1.0, python=sys.executable)


# --------------------------------------------------------------------------- JUnit parsing

CASE_PASS = '<testcase classname="tests.test_a" name="test_x" time="0.1"/>'
CASE_FAIL = (
    '<testcase classname="tests.test_a" name="test_x">'
    '<failure message="assert False&#10;second line">trace</failure></testcase>'
)
CASE_ERROR = (
    '<testcase classname="tests.test_a" name="test_x">'
    "<error>fixture 'db' not found\nmore</error></testcase>"
)
CASE_SKIP = (
    '<testcase classname="tests.test_a" name="test_x">'
    '<skipped type="pytest.skip" message="later"/></testcase>'
)


def write_junit(directory: Path, name: str, *cases: str, suites: bool = True) -> Path:
    body = f'<testsuite name="pytest" tests="{len(cases)}">{"".join(cases)}</testsuite>'
    if suites:
        body = f"<testsuites>{body}</testsuites>"
    path = directory / name
    path.write_text('<?xml version="1.0" encoding="utf-8"?>' + body)
    return path


def test_parse_junit_outcomes(tmp_path: Path) -> None:
    key = ("tests.test_a", "test_x")
    assert parse_junit(write_junit(tmp_path, "p.xml", CASE_PASS))[key] == (
        Outcome.PASSED,
        "",
    )
    assert parse_junit(write_junit(tmp_path, "f.xml", CASE_FAIL))[key] == (
        Outcome.FAILED,
        "assert False",
    )
    assert parse_junit(write_junit(tmp_path, "e.xml", CASE_ERROR, suites=False))[key] == (
        Outcome.FAILED,
        "fixture 'db' not found",
    )
    assert parse_junit(write_junit(tmp_path, "s.xml", CASE_SKIP))[key] == (
        Outcome.SKIPPED,
        "later",
    )


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        (CASE_PASS, CASE_FAIL, Outcome.FAILED),
        (CASE_FAIL, CASE_PASS, Outcome.FAILED),
        (CASE_SKIP, CASE_PASS, Outcome.PASSED),
        (CASE_PASS, CASE_SKIP, Outcome.PASSED),
        (CASE_SKIP, CASE_ERROR, Outcome.FAILED),
    ],
)
def test_several_junit_reports_merge(
    tmp_path: Path, first: str, second: str, expected: Outcome
) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text("def test_x():\n    pass\n")
    model = model_with(ctl=["tests/test_a.py::test_x"])
    one = write_junit(tmp_path, "one.xml", first)
    two = write_junit(tmp_path, "two.xml", second)
    report = collect_evidence(model, root=tmp_path, junit=[one, two], collect=False)
    assert outcome(report, "ctl").outcome is expected


def test_junit_with_a_doctype_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.xml"
    path.write_text(
        '<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x "boom">]>'
        '<testsuites><testsuite><testcase classname="a" name="&x;"/></testsuite></testsuites>'
    )
    with pytest.raises(EvidenceError, match="DTD or entities"):
        parse_junit(path)


def test_junit_size_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_junit(tmp_path, "big.xml", CASE_PASS * 50)
    monkeypatch.setattr(evidence_mod, "MAX_JUNIT_BYTES", 1000)
    with pytest.raises(EvidenceError, match="more than the 1,000 allowed"):
        parse_junit(path)


def test_broken_or_foreign_junit_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.xml"
    broken.write_text("<testsuites><testsuite>")
    with pytest.raises(EvidenceError, match="not well-formed XML"):
        parse_junit(broken)
    foreign = tmp_path / "foreign.xml"
    foreign.write_text("<html><body/></html>")
    with pytest.raises(EvidenceError, match="root element is <html>"):
        parse_junit(foreign)
    with pytest.raises(EvidenceError, match="cannot read the JUnit report"):
        parse_junit(tmp_path / "absent.xml")


def test_an_empty_junit_report_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text("def test_x():\n    pass\n")
    empty = write_junit(tmp_path, "empty.xml")
    report = collect_evidence(
        model_with(ctl=["tests/test_a.py::test_x"]), root=tmp_path, junit=[empty], collect=False
    )
    assert report.warnings == ("the JUnit reports given hold no test results",)
    assert outcome(report, "ctl").outcome is Outcome.UNKNOWN
