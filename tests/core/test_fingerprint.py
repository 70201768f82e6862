"""Fingerprints survive unrelated edits and change when the flagged code changes."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from turbosec.core.finding import Category, Finding, Location, Package
from turbosec.core.fingerprint import assign_fingerprints, primary_advisory
from turbosec.core.severity import Severity

VULN = "subprocess.call(cmd, shell=True)"

code_line = st.text(alphabet=string.ascii_letters + string.digits + " =()_.,'\"", max_size=40).map(
    lambda s: s.replace("\n", "")
)


def _finding(line: int, rule: str = "cmd-injection", path: str = "app.py") -> Finding:
    return Finding(
        tool="semgrep",
        rule_id=rule,
        title="command injection",
        message="shell=True with user input",
        severity=Severity.HIGH,
        category=Category.SAST,
        location=Location(path=path, start_line=line, end_line=line),
    )


def _fp(lines: list[str], flagged: list[int], rule: str = "cmd-injection") -> list[str]:
    reader = {"app.py": lines}.get
    return [
        f.fingerprint for f in assign_fingerprints([_finding(n, rule) for n in flagged], reader)
    ]


@settings(max_examples=200)
@given(
    before=st.lists(code_line, max_size=20), inserted=st.lists(code_line, min_size=1, max_size=30)
)
def test_inserting_lines_above_keeps_fingerprint(before: list[str], inserted: list[str]) -> None:
    lines = [*before, VULN, "x = 1"]
    moved = [*inserted, *before, VULN, "x = 1"]
    original = _fp(lines, [len(before) + 1])
    shifted = _fp(moved, [len(inserted) + len(before) + 1])
    assert original == shifted


@settings(max_examples=200)
@given(edit=code_line.filter(lambda s: s.replace(" ", "") != VULN.replace(" ", "")))
def test_editing_flagged_line_changes_fingerprint(edit: str) -> None:
    before = _fp(["import subprocess", VULN], [2])
    after = _fp(["import subprocess", edit], [2])
    assert before != after


@settings(max_examples=100)
@given(
    n=st.integers(min_value=2, max_value=8),
    gap=st.lists(code_line.filter(lambda s: "shell" not in s), min_size=1, max_size=5),
)
def test_identical_lines_get_distinct_stable_fingerprints(n: int, gap: list[str]) -> None:
    lines: list[str] = []
    flagged: list[int] = []
    for _ in range(n):
        lines.extend(gap)
        lines.append(VULN)
        flagged.append(len(lines))
    first = _fp(lines, flagged)
    assert len(set(first)) == n
    # stable: the same file gives the same fingerprints, whatever order the tool reported them in
    assert sorted(_fp(lines, list(reversed(flagged)))) == sorted(first)
    # and lines inserted above all of them keep every fingerprint
    shifted = ["# new header", "import os", *lines]
    assert _fp(shifted, [i + 2 for i in flagged]) == first


@settings(max_examples=200)
@given(
    spaces=st.lists(st.sampled_from(["", " ", "  ", "\t"]), min_size=8, max_size=8),
)
def test_whitespace_reformatting_keeps_fingerprint(spaces: list[str]) -> None:
    s = spaces
    reformatted = f"{s[0]}subprocess{s[1]}.call({s[2]}cmd{s[3]},{s[4]}shell{s[5]}={s[6]}True{s[7]})"
    assert _fp(["import subprocess", VULN], [2]) == _fp(["import subprocess", reformatted], [2])


def test_other_rule_or_path_changes_fingerprint() -> None:
    base = _fp(["import subprocess", VULN], [2])
    assert _fp(["import subprocess", VULN], [2], rule="other-rule") != base
    reader = {"other.py": ["import subprocess", VULN]}.get
    other = assign_fingerprints([_finding(2, path="other.py")], reader)[0].fingerprint
    assert other != base[0]


def test_fingerprint_falls_back_to_snippet_when_file_is_absent() -> None:
    f = Finding(
        tool="sarif-tool",
        rule_id="r1",
        title="t",
        message="m",
        severity=Severity.LOW,
        category=Category.SAST,
        location=Location(path="gone.py", start_line=3, snippet="eval( x )"),
    )
    g = Finding(
        **{**_as_kwargs(f), "location": Location(path="gone.py", start_line=90, snippet="eval(x)")}
    )
    fps = assign_fingerprints([f], lambda p: None), assign_fingerprints([g], lambda p: None)
    assert fps[0][0].fingerprint == fps[1][0].fingerprint
    assert len(fps[0][0].fingerprint) == 32


def _as_kwargs(f: Finding) -> dict[str, object]:
    return {name: getattr(f, name) for name in f.__dataclass_fields__}


def _dep(tool: str, advisories: tuple[str, ...], name: str = "PyYAML") -> Finding:
    return Finding(
        tool=tool,
        rule_id=advisories[0],
        title="vulnerable",
        message="m",
        severity=Severity.CRITICAL,
        category=Category.DEPENDENCY,
        location=Location(path="requirements.txt", start_line=2),
        advisories=advisories,
        package=Package(ecosystem="PyPI", name=name, version="5.3"),
    )


def test_dependency_fingerprint_is_package_and_advisory() -> None:
    a = _dep("pip-audit", ("PYSEC-2021-142", "CVE-2020-14343", "GHSA-8q59-q68h-6hv4"))
    b = _dep("trivy", ("CVE-2020-14343",), name="pyyaml")
    fa, fb = assign_fingerprints([a, b], None)
    assert fa.fingerprint == fb.fingerprint
    c = _dep("trivy", ("CVE-2020-1747",), name="pyyaml")
    assert assign_fingerprints([c], None)[0].fingerprint != fa.fingerprint


def test_primary_advisory_prefers_cve() -> None:
    assert primary_advisory(["GHSA-xxxx", "PYSEC-1", "cve-2020-1"]) == "CVE-2020-1"
    assert primary_advisory(["PYSEC-1", "GHSA-b"]) == "GHSA-B"
    assert primary_advisory([]) == ""


def test_secret_fingerprint_uses_redacted_snippet_not_file() -> None:
    secret_line = 'TOKEN = "ghp_realsecretvalue0123456789abcdefghij"'
    f = Finding(
        tool="detect-secrets",
        rule_id="GitHub Token",
        title="secret",
        message="m",
        severity=Severity.CRITICAL,
        category=Category.SECRET,
        location=Location(path="s.py", start_line=1, snippet='TOKEN = "ghp_****ij"'),
    )
    seen: list[str] = []

    def reader(path: str) -> list[str]:
        seen.append(path)
        return [secret_line]

    assert assign_fingerprints([f], reader)[0].fingerprint
    assert seen == []
