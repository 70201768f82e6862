"""SARIF 2.1.0: one run per scanner, shaped for GitHub code scanning.

* ``rules`` carry ``security-severity`` (a CVSS-like score GitHub maps back to critical /
  high / medium / low) and ``external/cwe/cwe-N`` tags; the rule's severity is the highest
  severity among its results.
* ``partialFingerprints["turbosec/v1"]`` is turbosec's line-independent fingerprint, so an
  alert keeps its identity when code moves.
* Paths are repository-relative URIs against ``%SRCROOT%``.
* A suppressed finding keeps its result, with ``suppressions`` (``inSource`` for a marker
  in the code, ``external`` for a configuration entry; the reason is the justification);
  when the scan was compared with a baseline, ``baselineState`` is ``new`` or ``unchanged``.
* A scanner that failed gets ``invocations[0].executionSuccessful = false`` with its error
  as a tool execution notification; when it produced no results its run has no ``results``
  array at all (SARIF: "the tool failed to produce results"), never an empty one that
  would read as "nothing found".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import orjson

from turbosec import __version__
from turbosec.core.finding import Finding, Location
from turbosec.core.report import RepoInfo, ScanReport, ToolRun, ToolStatus
from turbosec.core.severity import Severity
from turbosec.report.base import Formatter
from turbosec.report.markdown import escape_markdown

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "turbosec/v1"
TURBOSEC_URI = "https://github.com/turbosec/turbosec"

LEVELS: dict[Severity, str] = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}

# GitHub code scanning: > 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, < 4.0 low.
SECURITY_SEVERITY: dict[Severity, str] = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}

# driver.informationUri by tool family (the part of the tool name before any ':').
TOOL_URIS: dict[str, str] = {
    "bandit": "https://github.com/PyCQA/bandit",
    "semgrep": "https://semgrep.dev",
    "detect-secrets": "https://github.com/Yelp/detect-secrets",
    "pip-audit": "https://github.com/pypa/pip-audit",
    "checkov": "https://www.checkov.io",
    "zizmor": "https://docs.zizmor.sh",
    "trivy": "https://trivy.dev",
    "osv-scanner": "https://google.github.io/osv-scanner",
    "gitleaks": "https://github.com/gitleaks/gitleaks",
    "codeql": "https://codeql.github.com",
}

_ID_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
_WINDOWS_PATH = re.compile(r"^[A-Za-z]:/")
_SCP_REMOTE = re.compile(r"^[\w.+-]+@([\w.-]+):(?!//)(.+)$")


def _web_url(text: str) -> str | None:
    """``text`` as an absolute http(s) URL safe to put in a URI field or a Markdown link."""
    candidate = text.strip()
    if not candidate or any(c.isspace() for c in candidate):
        return None
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    # Percent-encode anything that would end a Markdown link target or is not URI text.
    return quote(candidate, safe=":/?#@!$&'*+,;=%~-._[]")


def _advisory_url(advisory: str) -> str | None:
    if not _ID_SAFE.match(advisory):
        return None
    upper = advisory.upper()
    if upper.startswith("GHSA-"):
        return f"https://github.com/advisories/{advisory}"
    if upper.startswith("CVE-"):
        return f"https://nvd.nist.gov/vuln/detail/{upper}"
    return f"https://osv.dev/vulnerability/{advisory}"


def _advisory_rank(advisory: str) -> int:
    upper = advisory.upper()
    return 0 if upper.startswith("GHSA-") else 1 if upper.startswith("CVE-") else 2


def _cwe_url(cwe: int) -> str:
    return f"https://cwe.mitre.org/data/definitions/{cwe}.html"


def _artifact_location(path: str) -> dict[str, Any] | None:
    p = path.replace("\\", "/")
    while p.startswith("./"):
        p = p[2:]
    if not p:
        return None
    if p.startswith("/"):
        return {"uri": "file://" + quote(p, safe="/")}
    if _WINDOWS_PATH.match(p):
        return {"uri": "file:///" + quote(p, safe="/:")}
    return {"uri": quote(p, safe="/"), "uriBaseId": SRCROOT}


def _region(loc: Location) -> dict[str, Any] | None:
    start = loc.start_line
    if not start or start < 1:
        return None
    region: dict[str, Any] = {"startLine": start}
    start_col = loc.start_column if loc.start_column and loc.start_column >= 1 else None
    if start_col:
        region["startColumn"] = start_col
    end = loc.end_line if loc.end_line and loc.end_line >= start else None
    if end:
        region["endLine"] = end
    if loc.end_column and loc.end_column >= 1:
        same_line = (end or start) == start
        if not (same_line and start_col and loc.end_column < start_col):
            region["endColumn"] = loc.end_column
    if loc.snippet:
        region["snippet"] = {"text": loc.snippet}
    return region


def _locations(finding: Finding) -> list[dict[str, Any]]:
    """Where the result is; a dependency finding without a line points at its manifest."""
    loc = finding.location
    if loc is None:
        return []
    artifact = _artifact_location(loc.path)
    if artifact is None:
        return []
    physical: dict[str, Any] = {"artifactLocation": artifact}
    region = _region(loc)
    if region is not None:
        physical["region"] = region
    return [{"physicalLocation": physical}]


def _suppressions(finding: Finding) -> list[dict[str, Any]]:
    """SARIF ``result.suppressions`` for a suppressed finding (empty: not suppressed).

    An inline marker in the code is ``inSource``, a ``[[suppress]]`` entry of the
    configuration ``external``; both are ``accepted`` (they stop the finding from failing
    the gate).  The reason is the ``justification``; expiry, owner and where the
    suppression was written go in ``properties``.  Without a suppression the property is
    left out: GitHub code scanning then treats the alert as open.
    """
    suppression = finding.suppression
    if suppression is None:
        return []
    entry: dict[str, Any] = {
        "kind": "inSource" if suppression.kind == "inline" else "external",
        "status": "accepted",
    }
    if suppression.reason:
        entry["justification"] = suppression.reason
    properties = {
        key: value
        for key, value in (
            ("source", suppression.source),
            ("expires", suppression.expires),
            ("owner", suppression.owner),
        )
        if value
    }
    if properties:
        entry["properties"] = properties
    return [entry]


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": finding.message or finding.title or finding.rule_id},
    }
    locations = _locations(finding)
    if locations:
        result["locations"] = locations
    if finding.fingerprint:
        result["partialFingerprints"] = {FINGERPRINT_KEY: finding.fingerprint}
    suppressions = _suppressions(finding)
    if suppressions:
        result["suppressions"] = suppressions
    if finding.baseline_state is not None:
        result["baselineState"] = finding.baseline_state.value
    properties: dict[str, Any] = {
        "severity": finding.severity.label,
        "category": finding.category.value,
        "confidence": finding.confidence.value,
    }
    if finding.cwe:
        properties["cwe"] = [f"CWE-{c}" for c in finding.cwe]
    if finding.advisories:
        properties["advisories"] = list(finding.advisories)
    if finding.package is not None:
        properties["package"] = finding.package.to_dict()
    if finding.fix_hint:
        properties["fixHint"] = finding.fix_hint
    if finding.also_reported_by:
        properties["alsoReportedBy"] = list(finding.also_reported_by)
    result["properties"] = properties
    return result


def _first(values: Iterable[str | None]) -> str | None:
    return next((v for v in values if v), None)


def _rule(rule_id: str, findings: Sequence[Finding]) -> dict[str, Any]:
    first = findings[0]
    severity = max(f.severity for f in findings)
    title = first.title or rule_id
    messages = {f.message for f in findings}
    description = first.message if len(messages) == 1 and first.message else title
    fix_hint = _first(f.fix_hint for f in findings)
    cwes = list(dict.fromkeys(c for f in findings for c in f.cwe))
    advisories = list(dict.fromkeys(a for f in findings for a in f.advisories))
    references = list(dict.fromkeys(r for f in findings for r in f.references))
    categories = list(dict.fromkeys(f.category.value for f in findings))

    web_refs = [u for u in (_web_url(r) for r in references) if u]
    advisory_urls = [(a, _advisory_url(a)) for a in advisories]
    # On GitHub the GHSA page is the most useful, then NVD for a CVE, then OSV.
    preferred = sorted(advisory_urls, key=lambda pair: _advisory_rank(pair[0]))
    help_uri = _first([*web_refs, *(u for _, u in preferred), *(_cwe_url(c) for c in cwes)])

    text = [title]
    md = [f"**{escape_markdown(title, limit=None)}**"]
    if description != title:
        text += ["", description]
        md += ["", escape_markdown(description, limit=None)]
    if fix_hint:
        text += ["", f"Fix: {fix_hint}"]
        md += ["", f"**Fix:** {escape_markdown(fix_hint, limit=None)}"]
    if cwes:
        text += ["", "CWE: " + ", ".join(f"CWE-{c}" for c in cwes)]
        md += ["", "**CWE:** " + ", ".join(f"[CWE-{c}]({_cwe_url(c)})" for c in cwes)]
    if advisories:
        text += ["", "Advisories: " + ", ".join(advisories)]
        md += [
            "",
            "**Advisories:** "
            + ", ".join(
                f"[{escape_markdown(a, limit=None)}]({u})" if u else escape_markdown(a, limit=None)
                for a, u in advisory_urls
            ),
        ]
    if references:
        text += ["", "References:", *(f"- {r}" for r in references)]
        md += ["", "**References:**", ""]
        for ref in references:
            url = _web_url(ref)
            label = escape_markdown(ref, limit=None)
            md.append(f"- [{label}]({url})" if url else f"- {label}")

    properties: dict[str, Any] = {
        "tags": list(
            dict.fromkeys(["security", *categories, *(f"external/cwe/cwe-{c}" for c in cwes)])
        ),
        "security-severity": SECURITY_SEVERITY[severity],
        "precision": first.confidence.value,
    }
    rule: dict[str, Any] = {
        "id": rule_id,
        "name": rule_id,  # stable: titles may carry per-finding text
        "shortDescription": {"text": title},
        "fullDescription": {"text": description},
        "defaultConfiguration": {"level": LEVELS[severity]},
    }
    if help_uri:
        rule["helpUri"] = help_uri
    rule["help"] = {"text": "\n".join(text), "markdown": "\n".join(md)}
    rule["properties"] = properties
    return rule


def _remote_uri(remote: str | None) -> str | None:
    """The repository URL without credentials, or None when it is not a URL."""
    if not remote:
        return None
    remote = remote.strip()
    scp = _SCP_REMOTE.match(remote)
    if scp:
        remote = f"ssh://{scp.group(1)}/{scp.group(2)}"
    try:
        parts = urlsplit(remote)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("https", "http", "ssh", "git") or not parts.hostname:
        return None
    netloc = parts.hostname + (f":{port}" if port else "")
    return urlunsplit((parts.scheme.lower(), netloc, quote(parts.path, safe="/%~"), "", ""))


def _version_control(repo: RepoInfo) -> list[dict[str, Any]]:
    uri = _remote_uri(repo.remote)
    if uri is None:
        return []
    details: dict[str, Any] = {"repositoryUri": uri}
    if repo.commit:
        details["revisionId"] = repo.commit
    if repo.branch:
        details["branch"] = repo.branch
    details["mappedTo"] = {"uriBaseId": SRCROOT}
    return [details]


def _invocation(runs: Sequence[ToolRun]) -> dict[str, Any]:
    failed = [r for r in runs if r.status is ToolStatus.FAILED]
    invocation: dict[str, Any] = {"executionSuccessful": not failed}
    if failed:
        invocation["toolExecutionNotifications"] = [
            {
                "level": "warning" if run.optional else "error",
                "message": {"text": run.error or f"{run.name} failed without an error message"},
                "descriptor": {"id": "turbosec/scanner-failed"},
            }
            for run in failed
        ]
    invocation["properties"] = {
        "status": ToolStatus.FAILED.value if failed else runs[0].status.value,
        "durationSeconds": round(sum(r.duration_s for r in runs), 3),
    }
    return invocation


def _run(
    tool: str,
    runs: Sequence[ToolRun],
    findings: Sequence[Finding],
    report: ScanReport,
) -> dict[str, Any]:
    by_rule: dict[str, list[Finding]] = {}
    for finding in findings:
        by_rule.setdefault(finding.rule_id, []).append(finding)
    rule_ids = sorted(by_rule)
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}

    driver: dict[str, Any] = {"name": tool}
    version = _first(r.version for r in runs)
    if version:
        driver["version"] = version
    info_uri = TOOL_URIS.get(tool.split(":", 1)[0].lower())
    if info_uri:
        driver["informationUri"] = info_uri
    driver["rules"] = [_rule(rule_id, by_rule[rule_id]) for rule_id in rule_ids]

    converter: dict[str, Any] = {"name": "turbosec"}
    converter["version"] = report.turbosec_version or __version__
    converter["informationUri"] = TURBOSEC_URI

    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "conversion": {"tool": {"driver": converter}},
    }
    if runs:
        run["invocations"] = [_invocation(runs)]
    vcs = _version_control(report.repo)
    if vcs:
        run["versionControlProvenance"] = vcs
    run["originalUriBaseIds"] = {
        SRCROOT: {"description": {"text": f"The root of the repository {report.repo.name}."}}
    }
    failed_only = bool(runs) and all(r.status is ToolStatus.FAILED for r in runs)
    if findings or not failed_only:
        run["results"] = [_result(f, index[f.rule_id]) for f in findings]
    return run


def sarif_log(report: ScanReport) -> dict[str, Any]:
    """The SARIF log as a JSON-ready dict (what :class:`SarifFormatter` serialises)."""
    runs_by_tool: dict[str, list[ToolRun]] = {}
    findings_by_tool: dict[str, list[Finding]] = {}
    order: list[str] = []
    for tool_run in report.tools:
        if tool_run.status is ToolStatus.SKIPPED:
            continue
        runs_by_tool.setdefault(tool_run.name, []).append(tool_run)
        order.append(tool_run.name)
    for finding in report.findings:
        findings_by_tool.setdefault(finding.tool, []).append(finding)
        order.append(finding.tool)
    runs = [
        _run(tool, runs_by_tool.get(tool, []), findings_by_tool.get(tool, []), report)
        for tool in dict.fromkeys(order)
    ]
    return {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": runs}


class SarifFormatter(Formatter):
    name = "sarif"
    extensions = (".sarif", ".sarif.json")
    description = "SARIF 2.1.0 for GitHub code scanning and other SARIF viewers"

    def render(self, report: ScanReport) -> str:
        return orjson.dumps(sarif_log(report), option=orjson.OPT_INDENT_2).decode("utf-8") + "\n"
