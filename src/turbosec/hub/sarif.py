"""SARIF 2.1.0 uploads read into the hub's finding rows.

The hub reads SARIF itself rather than through the build gate's importer: it never looks
at files on its own disk, and it keeps what turbosec's SARIF writer puts in
(:mod:`turbosec.report.sarif`): ``partialFingerprints["turbosec/v1"]``, the severity,
category and confidence in ``result.properties``.

* Fingerprint: ``partialFingerprints["turbosec/v1"]``; else a digest of tool, rule, path
  and the result's non-empty ``fingerprints`` (or ``partialFingerprints``: CodeQL's line
  hashes, gitleaks' commit…), or without any the whitespace-free snippet (or message),
  plus the occurrence index among identical ones in line order.  Line numbers never
  count.
* Severity: turbosec's ``properties.severity``; else ``security-severity`` (result, then
  rule) as a CVSS score; else the level (result, then the rule's default; ``warning`` when
  absent, but critical for a secret).
* A run whose ``invocations`` report ``executionSuccessful: false``, or that has no
  ``results`` array at all, counts as a failed tool: its findings are never closed.
* Results with ``kind`` ``pass`` or ``notApplicable`` and ``baselineState: absent`` are
  not problems and are skipped; suppressed results are kept, with their suppression.
* Snippets of secret findings are not stored.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from turbosec.core.finding import Category, Confidence, parse_cwe
from turbosec.core.severity import Severity
from turbosec.hub.errors import InvalidReport

SUPPORTED_VERSION = "2.1.0"
TURBOSEC_FINGERPRINT = "turbosec/v1"
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_WS = re.compile(r"\s+")
_MAX_TITLE = 200
_LEVELS = {
    "error": Severity.HIGH,
    "warning": Severity.MEDIUM,
    "note": Severity.LOW,
    "none": Severity.INFO,
}
_SECRET_TAGS = frozenset({"secret", "secrets", "credential", "credentials"})
_DEPENDENCY_TAGS = frozenset({"dependency", "dependencies", "vulnerability", "sca"})
_IAC_TAGS = frozenset({"iac", "misconfiguration", "infrastructure-as-code"})
_PIPELINE_TAGS = frozenset({"pipeline", "ci", "github-actions"})
# Tools whose every result is of one category (as the gate's SARIF importer sees them).
_TOOL_CATEGORIES: dict[str, Category] = {
    **dict.fromkeys(
        ("gitleaks", "trufflehog", "detect-secrets", "ggshield", "noseyparker", "secretlint"),
        Category.SECRET,
    ),
    **dict.fromkeys(
        (
            "osv-scanner",
            "grype",
            "pip-audit",
            "npm-audit",
            "dependency-check",
            "snyk",
            "safety",
            "govulncheck",
            "cargo-audit",
        ),
        Category.DEPENDENCY,
    ),
    **dict.fromkeys(
        (
            "checkov",
            "kics",
            "tfsec",
            "terrascan",
            "tflint",
            "cfn-lint",
            "hadolint",
            "kube-linter",
            "kubesec",
            "kubescape",
            "trivy-config",
        ),
        Category.IAC,
    ),
    **dict.fromkeys(("zizmor", "actionlint", "poutine", "octoscan"), Category.PIPELINE),
    "turbosec-threats": Category.THREAT,  # `turbosec threats report --format sarif`
}
_CATEGORIES = frozenset(c.value for c in Category)
_CONFIDENCES = frozenset(c.value for c in Confidence)


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()[:32]


class _Doc:
    """Typed access to the document: a wrong type is an error naming the JSON path."""

    @staticmethod
    def fail(path: str, problem: str) -> InvalidReport:
        return InvalidReport(
            f"not a valid SARIF 2.1.0 log: {path}: {problem}", problems=[f"{path}: {problem}"]
        )

    def obj(self, value: Any, path: str, *, required: bool = False) -> dict[str, Any]:
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            raise self.fail(path, f"expected an object, found {_kind(value)}")
        return value

    def arr(self, value: Any, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(path, f"expected an array, found {_kind(value)}")
        return value

    def text(self, value: Any, path: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(path, f"expected a string, found {_kind(value)}")
        return value

    def integer(self, value: Any, path: str) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"expected an integer, found {_kind(value)}")
        return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _message_text(value: Any) -> str | None:
    if isinstance(value, dict):
        for key in ("text", "markdown"):
            text = value.get(key)
            if isinstance(text, str) and text.strip():
                return text
    return None


def tool_name(driver_name: str) -> str:
    name = "-".join(driver_name.strip().lower().split())
    if name.startswith("semgrep"):
        return "semgrep"
    return name.replace(":", "-") or "sarif"


def _path(uri: str) -> str:
    path = unquote(urlsplit(uri).path) if uri.lower().startswith("file:") else unquote(uri)
    while path.startswith("./"):
        path = path[2:]
    return path


def _score(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | str):
        try:
            score = float(value)
        except ValueError:
            return None
        if 0.0 <= score <= 10.0:
            return score
    return None


@dataclass
class SarifUpload:
    """What a SARIF log contributes: finding rows (before dedupe) and the tools' outcome."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    tools: list[dict[str, Any]] = field(default_factory=list)
    tools_ok: set[str] = field(default_factory=set)
    branch: str | None = None
    commit: str | None = None


@dataclass
class _Pending:
    row: dict[str, Any]
    base: str  # computed fingerprint key (no explicit fingerprint given)
    position: tuple[int, int]


def read_sarif(document: dict[str, Any]) -> SarifUpload:
    """Finding rows of a SARIF 2.1.0 log (see the module docstring)."""
    doc = _Doc()
    version = document.get("version")
    if version != SUPPORTED_VERSION:
        shown = "missing" if version is None else repr(version)
        raise doc.fail("version", f"{shown}; the hub reads SARIF {SUPPORTED_VERSION}")
    out = SarifUpload()
    pending: list[_Pending] = []
    for r_index, raw_run in enumerate(doc.arr(document.get("runs"), "runs")):
        where = f"runs[{r_index}]"
        run = doc.obj(raw_run, where, required=True)
        tool_obj = doc.obj(run.get("tool"), f"{where}.tool", required=True)
        driver = doc.obj(tool_obj.get("driver"), f"{where}.tool.driver", required=True)
        name = doc.text(driver.get("name"), f"{where}.tool.driver.name")
        if not name or not name.strip():
            raise doc.fail(f"{where}.tool.driver.name", "missing: the tool's name is required")
        tool = tool_name(name)[:100]
        version_text = doc.text(
            driver.get("semanticVersion"), f"{where}.tool.driver.semanticVersion"
        )
        version_text = version_text or doc.text(
            driver.get("version"), f"{where}.tool.driver.version"
        )
        invocations = doc.arr(run.get("invocations"), f"{where}.invocations")
        failed = any(
            isinstance(inv, dict) and inv.get("executionSuccessful") is False for inv in invocations
        )
        results_value = run.get("results")
        if results_value is None:
            failed = True  # SARIF: no results array = the tool failed to produce results
        out.tools.append(
            {"name": tool, "version": version_text, "status": "failed" if failed else "ok"}
        )
        if not failed:
            out.tools_ok.add(tool)
        if out.branch is None or out.commit is None:
            for vcs in doc.arr(
                run.get("versionControlProvenance"), f"{where}.versionControlProvenance"
            ):
                if isinstance(vcs, dict):
                    if out.branch is None and isinstance(vcs.get("branch"), str):
                        out.branch = vcs["branch"]
                    if out.commit is None and isinstance(vcs.get("revisionId"), str):
                        out.commit = vcs["revisionId"]
        rules = _rules(doc, driver, tool_obj, where)
        for i, raw in enumerate(doc.arr(results_value, f"{where}.results")):
            item = _result(doc, raw, f"{where}.results[{i}]", tool, driver, rules)
            if item is None:
                continue
            if isinstance(item, _Pending):
                pending.append(item)
            else:
                out.rows.append(item)
    # Computed fingerprints: identical ones get occurrence indexes in line order.
    groups: dict[str, list[_Pending]] = defaultdict(list)
    for p in pending:
        groups[p.base].append(p)
    for base, members in groups.items():
        members.sort(key=lambda p: p.position)
        for occurrence, p in enumerate(members):
            p.row["fingerprint"] = _digest(base, str(occurrence))
    out.rows.extend(p.row for p in pending)
    return out


def _rules(
    doc: _Doc, driver: dict[str, Any], tool_obj: dict[str, Any], where: str
) -> tuple[list[Any], dict[str, dict[str, Any]]]:
    listed = doc.arr(driver.get("rules"), f"{where}.tool.driver.rules")
    by_id: dict[str, dict[str, Any]] = {}
    components = [listed]
    for e_index, ext in enumerate(doc.arr(tool_obj.get("extensions"), f"{where}.tool.extensions")):
        if isinstance(ext, dict):
            components.append(
                doc.arr(ext.get("rules"), f"{where}.tool.extensions[{e_index}].rules")
            )
    for rules in components:
        for rule in rules:
            if isinstance(rule, dict) and isinstance(rule.get("id"), str):
                by_id.setdefault(rule["id"], rule)
    return listed, by_id


def _result(
    doc: _Doc,
    raw: Any,
    where: str,
    tool: str,
    driver: dict[str, Any],
    rules: tuple[list[Any], dict[str, dict[str, Any]]],
) -> dict[str, Any] | _Pending | None:
    result = doc.obj(raw, where, required=True)
    if result.get("kind") in ("pass", "notApplicable") or result.get("baselineState") == "absent":
        return None
    listed, by_id = rules
    rule_ref = doc.obj(result.get("rule"), f"{where}.rule")
    rule_id = doc.text(result.get("ruleId"), f"{where}.ruleId") or doc.text(
        rule_ref.get("id"), f"{where}.rule.id"
    )
    index = doc.integer(result.get("ruleIndex"), f"{where}.ruleIndex")
    if index is None:
        index = doc.integer(rule_ref.get("index"), f"{where}.rule.index")
    rule: dict[str, Any] = {}
    if index is not None and 0 <= index < len(listed) and isinstance(listed[index], dict):
        rule = listed[index]
    elif rule_id is not None:
        rule = by_id.get(rule_id) or by_id.get(rule_id.split("/", 1)[0]) or {}
    if rule_id is None:
        found_id = rule.get("id")
        rule_id = found_id if isinstance(found_id, str) else "unknown"
    props = doc.obj(result.get("properties"), f"{where}.properties")
    found_props = rule.get("properties")
    rule_props: dict[str, Any] = found_props if isinstance(found_props, dict) else {}
    tags = {
        t.strip().lower()
        for source in (rule_props.get("tags"), props.get("tags"))
        if isinstance(source, list)
        for t in source
        if isinstance(t, str)
    }

    message = _message(doc, result, rule, driver, where)
    title = _title(rule, rule_id, message)
    category = _category(tool, props, tags)
    severity = _severity(result, rule, props, rule_props, secret=category == "secret")
    confidence = _confidence(props, rule_props)
    cwe = parse_cwe([props.get("cwe"), rule_props.get("cwe"), [t for t in tags if "cwe" in t]])

    path = line = None
    details: dict[str, Any] = {}
    for l_index, raw_loc in enumerate(doc.arr(result.get("locations"), f"{where}.locations")):
        l_where = f"{where}.locations[{l_index}].physicalLocation"
        loc = doc.obj(raw_loc, f"{where}.locations[{l_index}]")
        phys = doc.obj(loc.get("physicalLocation"), l_where)
        art = doc.obj(phys.get("artifactLocation"), f"{l_where}.artifactLocation")
        uri = doc.text(art.get("uri"), f"{l_where}.artifactLocation.uri")
        if uri is None:
            continue
        path = _path(uri)[:1024]
        region = doc.obj(phys.get("region"), f"{l_where}.region")
        start = doc.integer(region.get("startLine"), f"{l_where}.region.startLine")
        line = start if start is not None and 1 <= start <= 2**31 - 1 else None
        for key, name in (
            ("startColumn", "start_column"),
            ("endLine", "end_line"),
            ("endColumn", "end_column"),
        ):
            value = doc.integer(region.get(key), f"{l_where}.region.{key}")
            if value is not None:
                details[name] = value
        snippet = _message_text(region.get("snippet"))
        if snippet is not None and category != Category.SECRET.value:
            details["snippet"] = snippet[:4000]
        break

    references = [
        ref
        for ref in (rule.get("helpUri"),)
        if isinstance(ref, str) and ref.startswith(("https://", "http://"))
    ]
    if references:
        details["references"] = references
    suppressions = doc.arr(result.get("suppressions"), f"{where}.suppressions")
    if suppressions and isinstance(suppressions[0], dict):
        sup = suppressions[0]
        details["suppression"] = {
            "kind": sup.get("kind") if isinstance(sup.get("kind"), str) else "external",
            "status": sup.get("status") if isinstance(sup.get("status"), str) else "accepted",
            "reason": sup.get("justification")
            if isinstance(sup.get("justification"), str)
            else None,
        }
    baseline_state = result.get("baselineState")
    if isinstance(baseline_state, str):
        details["baseline_state"] = baseline_state
    package = props.get("package")
    fix_hint = props.get("fixHint")
    if not isinstance(fix_hint, str):
        fix_hint = None
        fixes = result.get("fixes")
        for fix in fixes if isinstance(fixes, list) else ():
            text = _message_text(fix.get("description")) if isinstance(fix, dict) else None
            if text:
                fix_hint = text
                break
    advisories = props.get("advisories")
    row: dict[str, Any] = {
        "fingerprint": "",
        "severity": int(severity),
        "tool": tool,
        "rule_id": rule_id[:300],
        "title": title,
        "message": message,
        "category": category,
        "confidence": confidence,
        "path": path,
        "line": line,
        "cwe": [f"CWE-{c}" for c in cwe],
        "advisories": [a for a in advisories if isinstance(a, str)]
        if isinstance(advisories, list)
        else [],
        "package": package
        if isinstance(package, dict)
        and isinstance(package.get("ecosystem"), str)
        and isinstance(package.get("name"), str)
        else None,
        "fix_hint": fix_hint,
        "details": details,
    }

    partial = result.get("partialFingerprints")
    ours = partial.get(TURBOSEC_FINGERPRINT) if isinstance(partial, dict) else None
    if isinstance(ours, str) and _HEX32.match(ours):
        row["fingerprint"] = ours
        return row
    # Other tools' fingerprints identify a result only together with its rule and place;
    # without any, the whitespace-free snippet (or message) does.
    given = _given_fingerprints(result)
    text = given or _WS.sub("", str(details.get("snippet") or message))
    base = _digest("sarif", tool, rule_id, path or "", text)
    position = (line or 0, int(details.get("start_column") or 0))
    return _Pending(row=row, base=base, position=position)


def _given_fingerprints(result: dict[str, Any]) -> str:
    """The result's non-empty ``fingerprints`` (else ``partialFingerprints``), as one text."""
    for key in ("fingerprints", "partialFingerprints"):
        given = result.get(key)
        if isinstance(given, dict):
            items = sorted(f"{k}={v}" for k, v in given.items() if isinstance(v, str) and v.strip())
            if items:
                return f"{key}:" + "\n".join(items)
    return ""


def _message(
    doc: _Doc, result: dict[str, Any], rule: dict[str, Any], driver: dict[str, Any], where: str
) -> str:
    msg = doc.obj(result.get("message"), f"{where}.message")
    text = _message_text(msg)
    if text is None and isinstance(msg.get("id"), str):
        for table in (rule.get("messageStrings"), driver.get("globalMessageStrings")):
            entry = table.get(msg["id"]) if isinstance(table, dict) else None
            text = _message_text(entry)
            if text:
                break
    if text is None:
        text = (
            _message_text(rule.get("shortDescription"))
            or _message_text(rule.get("fullDescription"))
            or ""
        )
    args = msg.get("arguments")
    if isinstance(args, list) and args:
        values = [str(a) for a in args]
        text = re.sub(
            r"\{(\d{1,6})\}",
            lambda m: values[int(m.group(1))] if int(m.group(1)) < len(values) else m.group(0),
            text,
        )
    return text.strip()


def _title(rule: dict[str, Any], rule_id: str, message: str) -> str:
    for candidate in (
        _message_text(rule.get("shortDescription")),
        rule.get("name") if isinstance(rule.get("name"), str) and " " in rule["name"] else None,
        message.strip().splitlines()[0] if message.strip() else None,
    ):
        if candidate and candidate.strip():
            text = " ".join(candidate.split())
            return text if len(text) <= _MAX_TITLE else text[: _MAX_TITLE - 1] + "…"
    return rule_id


def _severity(
    result: dict[str, Any],
    rule: dict[str, Any],
    props: dict[str, Any],
    rule_props: dict[str, Any],
    *,
    secret: bool,
) -> Severity:
    word = props.get("severity")
    if isinstance(word, str):
        try:
            return Severity.parse(word)
        except ValueError:
            pass
    for source in (props, rule_props):
        score = _score(source.get("security-severity"))
        if score is not None:
            return Severity.from_cvss(score)
    level = result.get("level")
    if not isinstance(level, str):
        config = rule.get("defaultConfiguration")
        level = config.get("level") if isinstance(config, dict) else None
    if isinstance(level, str) and level in _LEVELS:
        return _LEVELS[level]
    # No level at all: SARIF's default is "warning"; a leaked secret (gitleaks states no
    # level) is critical, as the gate's importers rate it.
    return Severity.CRITICAL if secret else Severity.MEDIUM


def _category(tool: str, props: dict[str, Any], tags: set[str]) -> str:
    given = props.get("category")
    if isinstance(given, str) and given in _CATEGORIES:
        return given
    if tool in _TOOL_CATEGORIES:
        return _TOOL_CATEGORIES[tool].value
    if tags & _SECRET_TAGS:
        return Category.SECRET.value
    if tags & _DEPENDENCY_TAGS:
        return Category.DEPENDENCY.value
    if tags & _IAC_TAGS:
        return Category.IAC.value
    if tags & _PIPELINE_TAGS:
        return Category.PIPELINE.value
    return Category.SAST.value


def _confidence(props: dict[str, Any], rule_props: dict[str, Any]) -> str:
    given = props.get("confidence")
    if isinstance(given, str) and given.lower() in _CONFIDENCES:
        return given.lower()
    precision = rule_props.get("precision")
    if isinstance(precision, str):
        mapped = {"very-high": "high", "high": "high", "medium": "medium", "low": "low"}
        return mapped.get(precision.lower(), Confidence.MEDIUM.value)
    return Confidence.MEDIUM.value
