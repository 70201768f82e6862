"""Reports for the hub tests, built with turbosec's own report model (a plain module).

Findings follow the shapes the gate's adapters produce from real tool output (bandit,
semgrep, detect-secrets, pip-audit); fingerprints come from
:func:`turbosec.core.fingerprint.assign_fingerprints`, as in a real scan.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Sequence
from typing import Any

import orjson

from turbosec.core.finding import Category, Confidence, Finding, Location, Package
from turbosec.core.fingerprint import assign_fingerprints
from turbosec.core.report import RepoInfo, ScanReport, ToolRun, ToolStatus, Verdict
from turbosec.core.severity import Severity

TOOLS = ("bandit", "semgrep", "detect-secrets", "pip-audit")


def make_finding(i: int, *, tool: str | None = None, severity: Severity | None = None) -> Finding:
    """The i-th finding of a synthetic but realistic repository (distinct per i)."""
    tool = tool or TOOLS[i % len(TOOLS)]
    sev = severity if severity is not None else Severity(i % 5)
    if tool == "bandit":
        return Finding(
            tool="bandit",
            rule_id="B608",
            title="Possible SQL injection vector through string-based query construction.",
            message="Possible SQL injection vector through string-based query construction.",
            severity=sev,
            category=Category.SAST,
            confidence=Confidence.MEDIUM,
            location=Location(
                path=f"app/orders/views_{i % 97}.py",
                start_line=10 + i % 400,
                start_column=12,
                end_line=10 + i % 400,
                end_column=60,
                snippet=f'cur.execute("SELECT * FROM orders WHERE id = %s" % order_{i})',
            ),
            cwe=(89,),
            references=(
                "https://bandit.readthedocs.io/en/1.7.9/plugins/b608_hardcoded_sql_expressions.html",
            ),
            raw={"test_id": "B608", "issue_severity": "MEDIUM", "line_range": [10, 10]},
        )
    if tool == "semgrep":
        return Finding(
            tool="semgrep",
            rule_id="python.django.security.injection.command.subprocess-injection",
            title="User input flows into a subprocess call",
            message=f"Detected user input entering a subprocess call (request #{i}).",
            severity=sev,
            category=Category.SAST,
            confidence=Confidence.HIGH,
            location=Location(
                path=f"app/tasks/run_{i % 89}.py",
                start_line=1 + i % 700,
                start_column=5,
                end_line=3 + i % 700,
                end_column=44,
                snippet=f"subprocess.run(request.GET['cmd_{i}'], shell=True)",
            ),
            cwe=(78,),
            fix_hint="Pass the command as a list and drop shell=True.",
            raw={"check_id": "subprocess-injection", "extra": {"severity": "ERROR"}},
        )
    if tool == "detect-secrets":
        return Finding(
            tool="detect-secrets",
            rule_id="Secret Keyword",
            title="Secret Keyword",
            message="Secret Keyword: pass********",
            severity=sev,
            category=Category.SECRET,
            confidence=Confidence.MEDIUM,
            location=Location(
                path=f"config/settings_{i % 53}.py",
                start_line=1 + i % 300,
                snippet=f"PASSWORD_{i} = 'pass********'",
            ),
            cwe=(798,),
        )
    return Finding(
        tool="pip-audit",
        rule_id=f"PYSEC-2024-{i}",
        title=f"pkg{i % 211} 1.0: advisory {i}",
        message="A vulnerability in the package allows remote code execution.",
        severity=sev,
        category=Category.DEPENDENCY,
        confidence=Confidence.HIGH,
        location=Location(path="requirements.txt"),
        advisories=(f"PYSEC-2024-{i}", f"CVE-2024-{10000 + i}"),
        package=Package("PyPI", f"pkg{i % 211}", "1.0", ("1.1",)),
        fix_hint=f"Upgrade pkg{i % 211} to 1.1 or later.",
    )


def findings(indexes: Sequence[int] | range, **kw: Any) -> list[Finding]:
    return assign_fingerprints([make_finding(i, **kw) for i in indexes], None)


def tool_runs(
    names: Sequence[str] = TOOLS, *, failed: Sequence[str] = (), skipped: Sequence[str] = ()
) -> tuple[ToolRun, ...]:
    runs = []
    for name in names:
        status = ToolStatus.OK
        error = None
        if name in failed:
            status, error = ToolStatus.FAILED, f"{name} exited with code 2"
        elif name in skipped:
            status, error = ToolStatus.SKIPPED, "not selected with --scanner"
        runs.append(ToolRun(name, "1.0", status, 1.0, 0, error=error))
    return tuple(runs)


def report(
    found: Sequence[Finding],
    *,
    tools: Sequence[ToolRun] | None = None,
    branch: str | None = "main",
    commit: str | None = "0123456789abcdef0123456789abcdef01234567",
    baseline: str | None = None,
    notices: Sequence[str] = (),
) -> dict[str, Any]:
    """A turbosec.report/v1 document, as ``turbosec scan --format json`` writes it."""
    doc = ScanReport(
        repo=RepoInfo(name="shop", commit=commit, branch=branch, remote=None),
        started_at="2026-11-27T10:00:00+00:00",
        finished_at="2026-11-27T10:00:42+00:00",
        duration_s=42.0,
        tools=tuple(tools if tools is not None else tool_runs()),
        findings=tuple(found),
        verdict=Verdict(passed=False, reasons=("1 critical finding",), fail_on="critical"),
        turbosec_version="0.1.0",
        baseline=baseline,
        notices=tuple(notices),
    )
    return doc.to_dict()


def big_report(n: int, **kw: Any) -> dict[str, Any]:
    """A report of ``n`` findings, quickly: each is a copy of a real one of its tool, made
    distinct (fingerprint, message, snippet, line) as a large repository's would be."""
    doc = report(findings(range(len(TOOLS))), **kw)
    templates = doc["findings"]
    out = []
    for i in range(n):
        finding = dict(templates[i % len(templates)])
        finding["fingerprint"] = hashlib.md5(f"big-{i}".encode()).hexdigest()
        finding["message"] = f"{finding['message']} (#{i})"
        if finding["location"] is not None:
            location = dict(finding["location"])
            location["start_line"] = 1 + i % 5000
            if location.get("snippet"):
                location["snippet"] = f"{location['snippet']}  # {i}"
            finding["location"] = location
        out.append(finding)
    doc["findings"] = out
    return doc


def dumps(doc: Any) -> bytes:
    return orjson.dumps(doc)


def gz(doc: Any) -> bytes:
    return gzip.compress(orjson.dumps(doc), compresslevel=5)
