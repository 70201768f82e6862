"""Evidence for controls: do their security tests exist, and did they pass?

A control names pytest node ids (``tests/test_login.py::test_lockout``).  Existence is proven
by ``pytest --collect-only`` run in the repository (a subprocess, never an import); results
come from JUnit XML reports written by ``pytest --junitxml``.  A reference without
parameters (``tests/t.py::test_p``) or to a class (``tests/t.py::TestLogin``) covers every
test pytest collects under it, as it would when given on pytest's command line.

Outcomes of one reference, from the tests it covers: FAILED when any failed, else SKIPPED
when any was skipped (a security test that did not run proves nothing), else PASSED.  The
same test in several JUnit reports (several CI jobs): FAILED anywhere wins, then PASSED,
then SKIPPED.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath

from turbosec.threats.errors import EvidenceError
from turbosec.threats.model import (
    ControlEvidence,
    EvidenceReport,
    TestEvidence,
    TestOutcome,
    ThreatModel,
)

MAX_JUNIT_BYTES = 64 * 1024 * 1024
_TAIL_LINES = 20
_DETAIL_CHARS = 200

# How results from several JUnit reports for one test combine (highest wins).
_MERGE_RANK = {TestOutcome.SKIPPED: 1, TestOutcome.PASSED: 2, TestOutcome.FAILED: 3}
# How the tests covered by one reference combine (highest wins).
_COVER_RANK = {TestOutcome.PASSED: 1, TestOutcome.SKIPPED: 2, TestOutcome.FAILED: 3}


def node_file(node_id: str) -> str:
    """The file part of a node id (``tests/t.py::test_x[a::b]`` → ``tests/t.py``)."""
    head = node_id.partition("[")[0]
    return head.split("::", 1)[0]


def _normalise(node_id: str) -> str:
    node_id = node_id.strip().replace("\\", "/")
    while node_id.startswith("./"):
        node_id = node_id[2:]
    return node_id


def _covers(reference: str, node_id: str) -> bool:
    """Whether running ``reference`` with pytest runs ``node_id``."""
    if node_id == reference:
        return True
    if not node_id.startswith(reference):
        return False
    rest = node_id[len(reference) :]
    # a function reference covers its parametrised ids; a class or file reference its members
    return rest.startswith("[") or rest.startswith("::")


def _inside(root: Path, relative: str) -> Path | None:
    """The file under ``root`` a node id names, or None when it points outside ``root``."""
    pure = PurePosixPath(relative)
    if pure.is_absolute() or ".." in pure.parts:
        return None
    return root / Path(*pure.parts) if pure.parts else None


def _tail(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[-_TAIL_LINES:])


def _first_line(text: str | None) -> str:
    for line in (text or "").splitlines():
        line = line.strip()
        if line:
            return line[:_DETAIL_CHARS]
    return ""


# --------------------------------------------------------------------------- collection


def collect_node_ids(
    files: Sequence[str], *, root: Path, python: str | None = None, timeout: float = 300.0
) -> set[str]:
    """Run ``pytest --collect-only -q`` on ``files`` in ``root``; return the node ids.

    An empty set when pytest collected nothing (exit code 5).  Raises :class:`EvidenceError`
    when pytest cannot collect (an import error in a test file, a bad option, a timeout).
    """
    if not files:
        return set()
    command = [
        python or sys.executable,
        "-m",
        "pytest",
        "--collect-only",
        "-q",
        "-p",
        "no:cacheprovider",
        *files,
    ]
    env = dict(os.environ)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_CURRENT_TEST", None)
    try:
        done = subprocess.run(
            command,
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise EvidenceError(
            f"pytest --collect-only did not finish within {timeout:g} s",
            where=str(root),
            hint="check that collecting the evidence tests does not block (network, input)",
        ) from None
    except OSError as exc:
        raise EvidenceError(
            f"cannot run pytest with {command[0]}: {exc.strerror or exc}",
            where=str(root),
            hint="install pytest in that environment, or choose the interpreter that has it",
        ) from None
    if done.returncode == 5:
        return set()
    if done.returncode != 0:
        tail = _tail(done.stdout + "\n" + done.stderr)
        raise EvidenceError(
            f"pytest could not collect the evidence tests (exit code {done.returncode}):\n{tail}",
            where=str(root),
            hint="run '" + " ".join(command[1:]) + "' there, fix the collection errors, "
            "or skip collection with --no-collect",
        )
    ids: set[str] = set()
    for line in done.stdout.splitlines():
        if not line.strip():
            break  # the node ids end at the first blank line; a summary follows
        if "::" in line and not line.startswith((" ", "=")):
            ids.add(line.strip())
    if not ids and done.stdout.strip():
        raise EvidenceError(
            "pytest --collect-only printed no test ids: "
            + _first_line(done.stdout.strip().splitlines()[0]),
            where=str(root),
            hint="the project's pytest options may lower the verbosity (-q in addopts); "
            "remove it or skip collection with --no-collect",
        )
    return ids


# --------------------------------------------------------------------------- JUnit


def junit_node_id_key(node_id: str) -> tuple[str, str]:
    """The (classname, name) pair pytest's JUnit report writes for ``node_id``."""
    path, bracket, params = node_id.partition("[")
    names = path.split("::")
    module = names[0]
    if module.endswith(".py"):
        module = module[:-3]
    names[0] = module.replace("/", ".")
    names[-1] += bracket + params
    return ".".join(names[:-1]), names[-1]


def parse_junit(path: Path) -> dict[tuple[str, str], tuple[TestOutcome, str]]:
    """Outcomes by (classname, name) in one JUnit XML report.

    DTDs and entities are refused, the file size is bounded.
    """
    from defusedxml import DefusedXmlException
    from defusedxml import ElementTree as SafeET

    try:
        size = path.stat().st_size
    except OSError as exc:
        raise EvidenceError(
            f"cannot read the JUnit report: {exc.strerror or exc}",
            where=str(path),
            hint="give the path of a file written by pytest --junitxml",
        ) from None
    if size > MAX_JUNIT_BYTES:
        raise EvidenceError(
            f"the JUnit report is {size:,} bytes, more than the {MAX_JUNIT_BYTES:,} allowed",
            where=str(path),
            hint="give the report of the security tests only",
        )
    try:
        tree = SafeET.parse(path, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise EvidenceError(
            f"the JUnit report declares a DTD or entities, which are refused ({exc})",
            where=str(path),
            hint="give the file pytest --junitxml wrote, unchanged",
        ) from None
    except SafeET.ParseError as exc:
        raise EvidenceError(
            f"the JUnit report is not well-formed XML: {exc}",
            where=str(path),
            hint="give a complete file written by pytest --junitxml",
        ) from None
    except OSError as exc:
        raise EvidenceError(
            f"cannot read the JUnit report: {exc.strerror or exc}", where=str(path)
        ) from None
    root = tree.getroot()
    if root.tag not in ("testsuites", "testsuite"):
        raise EvidenceError(
            f"not a JUnit report: the root element is <{root.tag}>",
            where=str(path),
            hint="give a file written by pytest --junitxml",
        )
    results: dict[tuple[str, str], tuple[TestOutcome, str]] = {}
    for case in root.iter("testcase"):
        key = (case.get("classname", ""), case.get("name", ""))
        outcome, detail = TestOutcome.PASSED, ""
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = TestOutcome.FAILED
                detail = _first_line(child.get("message")) or _first_line(child.text)
                break
            if child.tag == "skipped":
                outcome = TestOutcome.SKIPPED
                detail = _first_line(child.get("message")) or _first_line(child.text)
        previous = results.get(key)
        if previous is None or _MERGE_RANK[outcome] > _MERGE_RANK[previous[0]]:
            results[key] = (outcome, detail)
    return results


def _merge(
    into: dict[tuple[str, str], tuple[TestOutcome, str]],
    new: Mapping[tuple[str, str], tuple[TestOutcome, str]],
) -> None:
    for key, value in new.items():
        previous = into.get(key)
        if previous is None or _MERGE_RANK[value[0]] > _MERGE_RANK[previous[0]]:
            into[key] = value


def _junit_outcome(
    reference: str,
    covered: Iterable[str],
    results: Mapping[tuple[str, str], tuple[TestOutcome, str]],
    by_prefix: Mapping[str, list[tuple[str, tuple[TestOutcome, str]]]],
) -> tuple[TestOutcome, str] | None:
    """The combined JUnit result of the tests ``reference`` covers, None when none ran."""
    found: list[tuple[str, TestOutcome, str]] = []
    for node_id in covered:
        hit = results.get(junit_node_id_key(node_id))
        if hit is not None:
            found.append((node_id, *hit))
    if not found:
        # without collection: find parametrised ids / class members by their JUnit key
        classname, name = junit_node_id_key(reference)
        exact = results.get((classname, name))
        if exact is not None:
            found.append((reference, *exact))
        else:
            dotted = f"{classname}.{name}" if classname else name
            for key_name, hit in by_prefix.get(classname, ()):
                if key_name.startswith(name + "["):
                    found.append((f"{reference}{key_name[len(name) :]}", *hit))
            for (case_class, case_name), hit in results.items():
                if case_class == dotted or case_class.startswith(dotted + "."):
                    inner = case_class[len(dotted) :].replace(".", "::")
                    found.append((f"{reference}{inner}::{case_name}", *hit))
    if not found:
        return None
    worst = max(found, key=lambda item: _COVER_RANK[item[1]])
    node_id, outcome, detail = worst
    if outcome is TestOutcome.PASSED:
        return outcome, ""
    if node_id != reference:
        detail = f"{node_id}: {detail}" if detail else node_id
    return outcome, detail


# --------------------------------------------------------------------------- the report


def collect_evidence(
    model: ThreatModel,
    *,
    root: Path,
    junit: Sequence[Path] = (),
    collect: bool = True,
    python: str | None = None,
    timeout: float = 300.0,
) -> EvidenceReport:
    """What is known about every control's tests: collected? passed?

    ``root`` is the directory pytest runs in (the repository root): node ids are relative
    to it.  Raises :class:`EvidenceError` when pytest cannot collect or a JUnit report
    cannot be read.
    """
    root = Path(root)
    references: dict[str, tuple[str, ...]] = {
        control_id: tuple(dict.fromkeys(_normalise(t) for t in control.tests if t.strip()))
        for control_id, control in sorted(model.controls.items())
    }
    all_refs = sorted({ref for refs in references.values() for ref in refs})
    warnings: list[str] = []

    # which files exist (inside root) -------------------------------------------------
    missing_file: dict[str, str] = {}
    files: set[str] = set()
    for ref in all_refs:
        file = node_file(ref)
        target = _inside(root, file)
        if target is None:
            missing_file[ref] = "outside the repository"
        elif not target.is_file():
            missing_file[ref] = "file not found"
        else:
            files.add(file)

    collected: set[str] | None = None
    if collect:
        collected = collect_node_ids(sorted(files), root=root, python=python, timeout=timeout)

    # JUnit -------------------------------------------------------------------------------
    results: dict[tuple[str, str], tuple[TestOutcome, str]] = {}
    for report in junit:
        _merge(results, parse_junit(Path(report)))
    by_prefix: dict[str, list[tuple[str, tuple[TestOutcome, str]]]] = {}
    for (classname, name), hit in results.items():
        by_prefix.setdefault(classname, []).append((name, hit))
    if junit and not results:
        warnings.append("the JUnit reports given hold no test results")
    if all_refs and not junit:
        warnings.append(
            "no JUnit report given: no test result proves a mitigation "
            "(run pytest --junitxml=FILE and pass the file with --junit)"
        )

    # one TestEvidence per reference ---------------------------------------------------------
    per_ref: dict[str, TestEvidence] = {}
    for ref in all_refs:
        if ref in missing_file:
            per_ref[ref] = TestEvidence(ref, TestOutcome.MISSING, missing_file[ref])
            continue
        covered: list[str] = []
        if collected is not None:
            covered = sorted(n for n in collected if _covers(ref, n))
            if not covered:
                per_ref[ref] = TestEvidence(
                    ref, TestOutcome.MISSING, f"pytest collects no such test in {node_file(ref)}"
                )
                continue
        outcome = _junit_outcome(ref, covered, results, by_prefix) if results else None
        if outcome is not None:
            per_ref[ref] = TestEvidence(ref, outcome[0], outcome[1])
        elif collected is not None:
            detail = "no JUnit report mentions it" if junit else "no JUnit report given"
            per_ref[ref] = TestEvidence(ref, TestOutcome.NOT_RUN, detail)
        else:
            per_ref[ref] = TestEvidence(
                ref, TestOutcome.UNKNOWN, "not collected and no JUnit result"
            )

    controls = {
        control_id: ControlEvidence(control_id, tuple(per_ref[ref] for ref in refs))
        for control_id, refs in references.items()
    }
    return EvidenceReport(
        controls=controls,
        collected=collected is not None,
        junit_files=tuple(str(p) for p in junit),
        warnings=tuple(warnings),
    )
