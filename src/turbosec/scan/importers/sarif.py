"""SARIF 2.1.0 from any tool: one finding per result.

* ``tool`` is the run's ``tool.driver.name`` lowercased (``Semgrep OSS`` → ``semgrep``).
* The rule is found by ``ruleIndex`` (in the driver, or in the extension named by
  ``rule.toolComponent``), else by id across driver and extensions; a hierarchical id
  ``a/b/c`` falls back to ``a/b`` then ``a`` as the SARIF spec allows.
* Severity: ``properties.security-severity`` (a CVSS-like score, result first, then rule)
  → :meth:`Severity.from_cvss`; else a tool's own severity word in the result properties
  (bandit ``issue_severity``, zizmor ``zizmor/severity``); else ``result.level`` or the
  rule's ``defaultConfiguration.level`` (SARIF's default is ``warning``; a secret result
  with no level at all, as gitleaks writes them, is critical like the gitleaks importer's).
* Results that are not problems are skipped: ``kind`` ``pass``/``notApplicable``,
  accepted suppressions, and ``baselineState: absent``.
* Category: ``secret`` for secret scanners and secret-tagged rules (their snippets are
  never kept in clear: a single-token snippet is taken to be the secret and is redacted and
  hashed, any other snippet is dropped, and the file is never read for one);
  ``dependency`` for advisory results (``CVE-…``/``GHSA-…`` ids with vulnerability tags,
  or SCA tools); ``iac`` for IaC tools (checkov, kics, tfsec, trivy misconfigurations…);
  ``pipeline`` for zizmor/actionlint/poutine; else ``sast``.
* Locations: ``artifactLocation.uri`` (or ``index`` into ``run.artifacts``) resolved
  against ``originalUriBaseIds``; ``file://`` URIs and percent-escapes become
  repository-relative POSIX paths.  Columns stay as SARIF writes them: 1-based, the end
  column being the first column after the region.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from turbosec.core.finding import Category, Confidence, Finding, Location, Package, parse_cwe
from turbosec.core.secrets import redact, redact_in, salted_hash
from turbosec.core.severity import Severity
from turbosec.scan.importers.base import Imported, Importer
from turbosec.scan.importers.loader import Shape, repo_path
from turbosec.scan.target import Target

SUPPORTED_VERSION = "2.1.0"
_MAX_SNIPPET_CHARS = 4000
_MAX_TITLE_CHARS = 200
_MAX_HINT_CHARS = 300

SECRET_TOOLS = frozenset(
    {
        "gitleaks",
        "trufflehog",
        "detect-secrets",
        "ggshield",
        "noseyparker",
        "kingfisher",
        "betterleaks",
        "secretlint",
        "talisman",
    }
)
SCA_TOOLS = frozenset(
    {
        "osv-scanner",
        "grype",
        "pip-audit",
        "npm-audit",
        "dependency-check",
        "snyk",
        "safety",
        "govulncheck",
        "cargo-audit",
        "retire.js",
        "dependabot",
    }
)
IAC_TOOLS = frozenset(
    {
        "checkov",
        "kics",
        "tfsec",
        "terrascan",
        "tflint",
        "cfn-lint",
        "cfn_nag",
        "hadolint",
        "kube-linter",
        "kubesec",
        "kubescape",
        "trivy-config",
        "defsec",
    }
)
PIPELINE_TOOLS = frozenset({"zizmor", "actionlint", "poutine", "octoscan", "ghast"})
THREAT_TOOL = "turbosec-threats"  # `turbosec threats report --format sarif`

_SECRET_TAGS = frozenset({"secret", "secrets", "credential", "credentials", "leak"})
_VULN_TAGS = frozenset(
    {"vulnerability", "vulnerabilities", "dependency", "dependencies", "sca", "supply-chain"}
)
_MISCONFIG_TAGS = frozenset({"misconfiguration", "misconfig", "iac", "infrastructure-as-code"})
_SECRET_CWES = frozenset({798})

ADVISORY_RE = re.compile(
    r"\b(CVE-\d{4}-\d{4,}|GHSA(?:-[0-9a-z]{4}){3}|PYSEC-\d{4}-\d+|RUSTSEC-\d{4}-\d+"
    r"|GO-\d{4}-\d+|OSV-\d{4}-\d+|GMS-\d{4}-\d+|MAL-\d{4}-\d+|SNYK-[A-Z0-9]+(?:-[A-Z0-9]+)*-\d+"
    r"|DSA-\d+-\d+|USN-\d+-\d+|ALAS\d*-\d{4}-\d+|RHSA-\d{4}:\d+)",
    re.IGNORECASE,
)
_CONFIDENCE_TAG = re.compile(r"^(HIGH|MEDIUM|LOW)\s+CONFIDENCE$", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"\{(\d+)\}")

# Lockfile / manifest names → OSV ecosystem, for dependency results that name no ecosystem.
LOCKFILE_ECOSYSTEMS: dict[str, str] = {
    "requirements.txt": "PyPI",
    "poetry.lock": "PyPI",
    "pipfile.lock": "PyPI",
    "uv.lock": "PyPI",
    "pdm.lock": "PyPI",
    "pyproject.toml": "PyPI",
    "setup.py": "PyPI",
    "package-lock.json": "npm",
    "npm-shrinkwrap.json": "npm",
    "yarn.lock": "npm",
    "pnpm-lock.yaml": "npm",
    "bun.lock": "npm",
    "package.json": "npm",
    "go.mod": "Go",
    "go.sum": "Go",
    "cargo.lock": "crates.io",
    "cargo.toml": "crates.io",
    "composer.lock": "Packagist",
    "gemfile.lock": "RubyGems",
    "pom.xml": "Maven",
    "gradle.lockfile": "Maven",
    "build.gradle": "Maven",
    "packages.lock.json": "NuGet",
    "pubspec.lock": "Pub",
    "mix.lock": "Hex",
    "conan.lock": "ConanCenter",
    "podfile.lock": "CocoaPods",
    "package.resolved": "SwiftURL",
}
PURL_ECOSYSTEMS: dict[str, str] = {
    "pypi": "PyPI",
    "npm": "npm",
    "golang": "Go",
    "cargo": "crates.io",
    "composer": "Packagist",
    "gem": "RubyGems",
    "maven": "Maven",
    "nuget": "NuGet",
    "pub": "Pub",
    "hex": "Hex",
    "conan": "ConanCenter",
    "cocoapods": "CocoaPods",
    "swift": "SwiftURL",
    "deb": "Debian",
    "apk": "Alpine",
    "rpm": "Red Hat",
}


def tool_name(driver_name: str) -> str:
    """The ``tool`` of a finding from a SARIF driver name."""
    name = " ".join(driver_name.strip().lower().split())
    if name.startswith("semgrep"):
        return "semgrep"
    if name.startswith("codeql"):
        return "codeql"
    return name.replace(":", "-").replace(" ", "-") or "sarif"


def ecosystem_for(path: str | None) -> str | None:
    if not path:
        return None
    base = path.replace("\\", "/").rsplit("/", 1)[-1].lower()
    if base.startswith("requirements") and base.endswith(".txt"):
        return "PyPI"
    return LOCKFILE_ECOSYSTEMS.get(base)


@dataclass
class _Run:
    """What one run contributes to every result's interpretation."""

    index: int
    tool: str
    driver: dict[str, Any]
    extensions: list[dict[str, Any]]
    base_ids: dict[str, Any]
    artifacts: list[Any]
    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    shared_names: set[str] = field(default_factory=set)


class SarifImporter(Importer):
    name: ClassVar[str] = "sarif"
    description: ClassVar[str] = "SARIF 2.1.0 from any tool (semgrep, bandit, codeql, checkov…)"

    def detect(self, document: Any) -> bool:
        if not isinstance(document, dict) or not isinstance(document.get("runs"), list):
            return False
        schema = document.get("$schema")
        return "version" in document or (isinstance(schema, str) and "sarif" in schema.lower())

    def parse(self, document: Any, source: str, target: Target) -> Imported:
        shape = Shape(self.name, source)
        doc = shape.obj(document, "")
        version = doc.get("version")
        if version != SUPPORTED_VERSION:
            shown = "no version" if version is None else f"version {version!r}"
            raise shape.error(
                "version",
                f"SARIF {shown} is not supported; turbosec reads SARIF {SUPPORTED_VERSION}",
                hint="re-run the tool with SARIF 2.1.0 output (the current default of most "
                "tools) or convert the file",
            )
        findings: list[Finding] = []
        tools: list[str] = []
        versions: list[str] = []
        for r_index, raw_run in enumerate(shape.arr(doc.get("runs"), "runs")):
            run = self._run(shape, raw_run, r_index)
            if run.tool not in tools:
                tools.append(run.tool)
            ver = shape.opt_str(
                run.driver.get("semanticVersion"), f"runs[{r_index}].tool.driver.semanticVersion"
            ) or shape.opt_str(run.driver.get("version"), f"runs[{r_index}].tool.driver.version")
            if ver and ver not in versions:
                versions.append(ver)
            results = shape.opt_arr(raw_run.get("results"), f"runs[{r_index}].results")
            for i, raw_result in enumerate(results):
                finding = self._finding(
                    shape, run, raw_result, f"runs[{r_index}].results[{i}]", target
                )
                if finding is not None:
                    findings.append(finding)
        return Imported(
            findings=findings,
            tool=",".join(tools) or "sarif",
            version=versions[0] if len(versions) == 1 else None,
        )

    # -- runs and rules -------------------------------------------------------------------

    def _run(self, shape: Shape, raw_run: Any, index: int) -> _Run:
        where = f"runs[{index}]"
        run = shape.obj(raw_run, where)
        tool_obj = shape.obj(run.get("tool"), f"{where}.tool")
        driver = shape.obj(tool_obj.get("driver"), f"{where}.tool.driver")
        name = shape.opt_str(driver.get("name"), f"{where}.tool.driver.name")
        if name is None:
            raise shape.error(
                f"{where}.tool.driver.name",
                "missing: SARIF requires the name of the tool that produced the run",
            )
        extensions = [
            shape.obj(ext, f"{where}.tool.extensions[{i}]")
            for i, ext in enumerate(
                shape.opt_arr(tool_obj.get("extensions"), f"{where}.tool.extensions")
            )
        ]
        out = _Run(
            index=index,
            tool=tool_name(name),
            driver=driver,
            extensions=extensions,
            base_ids=shape.opt_obj(run.get("originalUriBaseIds"), f"{where}.originalUriBaseIds"),
            artifacts=shape.opt_arr(run.get("artifacts"), f"{where}.artifacts"),
        )
        names: dict[str, int] = {}
        for c_index, component in enumerate([driver, *extensions]):
            c_where = (
                f"{where}.tool.driver"
                if c_index == 0
                else f"{where}.tool.extensions[{c_index - 1}]"
            )
            for k, rule in enumerate(shape.opt_arr(component.get("rules"), f"{c_where}.rules")):
                rule = shape.obj(rule, f"{c_where}.rules[{k}]")
                rule_id = shape.opt_str(rule.get("id"), f"{c_where}.rules[{k}].id")
                if rule_id is not None:
                    out.by_id.setdefault(rule_id, rule)
                rname = rule.get("name")
                if isinstance(rname, str):
                    names[rname] = names.get(rname, 0) + 1
        out.shared_names = {n for n, count in names.items() if count > 1}
        return out

    def _rule(
        self, shape: Shape, run: _Run, result: dict[str, Any], where: str, rule_id: str | None
    ) -> dict[str, Any]:
        ref = shape.opt_obj(result.get("rule"), f"{where}.rule")
        component = run.driver
        comp_ref = shape.opt_obj(ref.get("toolComponent"), f"{where}.rule.toolComponent")
        if comp_ref:
            c_index = shape.opt_int(comp_ref.get("index"), f"{where}.rule.toolComponent.index")
            c_name = comp_ref.get("name")
            if c_index is not None and 0 <= c_index < len(run.extensions):
                component = run.extensions[c_index]
            elif isinstance(c_name, str):
                component = next((e for e in run.extensions if e.get("name") == c_name), run.driver)
        index = shape.opt_int(result.get("ruleIndex"), f"{where}.ruleIndex")
        if index is None:
            index = shape.opt_int(ref.get("index"), f"{where}.rule.index")
        rules = component.get("rules")
        if index is not None and isinstance(rules, list) and 0 <= index < len(rules):
            candidate = rules[index]
            if isinstance(candidate, dict):
                return candidate
        if rule_id:
            parts = rule_id.split("/")
            while parts:
                found = run.by_id.get("/".join(parts))
                if found is not None:
                    return found
                parts.pop()
        return {}

    # -- one result ------------------------------------------------------------------------

    def _finding(
        self, shape: Shape, run: _Run, raw: Any, where: str, target: Target
    ) -> Finding | None:
        result = shape.obj(raw, where)
        if _not_a_problem(shape, result, where):
            return None
        ref = shape.opt_obj(result.get("rule"), f"{where}.rule")
        rule_id = shape.opt_str(result.get("ruleId"), f"{where}.ruleId") or shape.opt_str(
            ref.get("id"), f"{where}.rule.id"
        )
        rule = self._rule(shape, run, result, where, rule_id)
        rule_id = rule_id or shape.opt_str(rule.get("id"), f"{where} rule id") or "unknown"
        r_props = shape.opt_obj(result.get("properties"), f"{where}.properties")
        props = rule.get("properties")
        rule_props: dict[str, Any] = props if isinstance(props, dict) else {}
        tags = [*_strings(rule_props.get("tags")), *_strings(r_props.get("tags"))]
        tags_lower = {t.strip().lower() for t in tags}

        message = self._message(shape, run, rule, result, where)
        title = _title(run, rule, rule_id, message)
        confidence = _confidence(run.tool, r_props, rule_props, tags)
        cwe = _cwes(tags, rule_props, r_props, rule)
        category = _category(run.tool, rule_id, rule, tags_lower, cwe)
        severity = _severity(
            run.tool, result, rule, r_props, rule_props, secret=category is Category.SECRET
        )

        location = self._location(
            shape, run, result, where, target, secret=category is Category.SECRET
        )
        secret_hash: str | None = None
        raw_copy: dict[str, Any] = result
        if category is Category.SECRET:
            location, secret_hash, secret = _protect_secret(location)
            raw_copy = _scrub_snippets(result)
            if secret:
                message = redact_in(message, secret)
                title = redact_in(title, secret)

        advisories: tuple[str, ...] = ()
        package: Package | None = None
        if category is Category.DEPENDENCY:
            advisories = _advisories(rule_id, rule, r_props)
            package = _package(message, r_props, location)

        references = _references(rule, rule_props, r_props)
        return Finding(
            tool=run.tool,
            rule_id=rule_id,
            title=title,
            message=message,
            severity=severity,
            category=category,
            confidence=confidence,
            location=location,
            cwe=cwe,
            advisories=advisories,
            package=package,
            references=references,
            fix_hint=_fix_hint(result, rule, title, message),
            secret_hash=secret_hash,
            raw=raw_copy,
        )

    def _message(
        self, shape: Shape, run: _Run, rule: dict[str, Any], result: dict[str, Any], where: str
    ) -> str:
        msg = shape.opt_obj(result.get("message"), f"{where}.message")
        args = [str(a) for a in shape.opt_arr(msg.get("arguments"), f"{where}.message.arguments")]
        text = shape.opt_str(msg.get("text"), f"{where}.message.text")
        if text is None:
            text = shape.opt_str(msg.get("markdown"), f"{where}.message.markdown")
        if text is None:
            msg_id = shape.opt_str(msg.get("id"), f"{where}.message.id")
            if msg_id is not None:
                for table in (rule.get("messageStrings"), run.driver.get("globalMessageStrings")):
                    entry = table.get(msg_id) if isinstance(table, dict) else None
                    if isinstance(entry, dict) and isinstance(entry.get("text"), str):
                        text = entry["text"]
                        break
        if text is None:
            text = _text(rule.get("shortDescription")) or _text(rule.get("fullDescription")) or ""
        if args:
            text = _PLACEHOLDER.sub(
                lambda m: args[int(m.group(1))] if int(m.group(1)) < len(args) else m.group(0),
                text,
            )
        return text.strip()

    def _location(
        self,
        shape: Shape,
        run: _Run,
        result: dict[str, Any],
        where: str,
        target: Target,
        *,
        secret: bool,
    ) -> Location | None:
        locations = shape.opt_arr(result.get("locations"), f"{where}.locations")
        for i, raw_loc in enumerate(locations):
            l_where = f"{where}.locations[{i}]"
            loc = shape.obj(raw_loc, l_where)
            phys = shape.opt_obj(loc.get("physicalLocation"), f"{l_where}.physicalLocation")
            if not phys:
                continue
            art = shape.opt_obj(
                phys.get("artifactLocation"), f"{l_where}.physicalLocation.artifactLocation"
            )
            uri = self._uri(shape, run, art, f"{l_where}.physicalLocation.artifactLocation")
            if uri is None:
                continue
            path = repo_path(target, uri)
            region = shape.opt_obj(phys.get("region"), f"{l_where}.physicalLocation.region")
            r_where = f"{l_where}.physicalLocation.region"
            start = shape.positive(region.get("startLine"), f"{r_where}.startLine")
            end = shape.positive(region.get("endLine"), f"{r_where}.endLine")
            start_col = shape.positive(region.get("startColumn"), f"{r_where}.startColumn")
            end_col = shape.positive(region.get("endColumn"), f"{r_where}.endColumn")
            if start is not None and end is None:
                end = start
            snippet = _text(region.get("snippet"))
            if snippet is None and not secret and start is not None:
                snippet = target.snippet(path, start, end)
            if snippet is not None:
                snippet = snippet.rstrip("\r\n")[:_MAX_SNIPPET_CHARS] or None
            return Location(
                path=path,
                start_line=start,
                start_column=start_col,
                end_line=end,
                end_column=end_col,
                snippet=snippet,
            )
        return None

    def _uri(self, shape: Shape, run: _Run, art: dict[str, Any], where: str) -> str | None:
        uri = shape.opt_str(art.get("uri"), f"{where}.uri")
        base_id = shape.opt_str(art.get("uriBaseId"), f"{where}.uriBaseId")
        index = shape.opt_int(art.get("index"), f"{where}.index")
        if uri is None and index is not None and 0 <= index < len(run.artifacts):
            artifact = run.artifacts[index]
            loc = artifact.get("location") if isinstance(artifact, dict) else None
            if isinstance(loc, dict):
                uri = loc.get("uri") if isinstance(loc.get("uri"), str) else None
                base_id = base_id or (
                    loc.get("uriBaseId") if isinstance(loc.get("uriBaseId"), str) else None
                )
        if uri is None:
            return None
        return _resolve_uri(uri, base_id, run.base_ids)


# -- helpers ----------------------------------------------------------------------------


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _text(value: Any) -> str | None:
    """``message``-like objects: ``{"text": ...}`` (or markdown)."""
    if isinstance(value, dict):
        for key in ("text", "markdown"):
            text = value.get(key)
            if isinstance(text, str) and text.strip():
                return text
    return None


def _not_a_problem(shape: Shape, result: dict[str, Any], where: str) -> bool:
    kind = result.get("kind")
    if kind in ("pass", "notApplicable"):
        return True
    if result.get("baselineState") == "absent":
        return True
    for i, sup in enumerate(shape.opt_arr(result.get("suppressions"), f"{where}.suppressions")):
        sup = shape.obj(sup, f"{where}.suppressions[{i}]")
        if sup.get("status", "accepted") == "accepted":
            return True
    return False


def _resolve_uri(uri: str, base_id: str | None, base_ids: dict[str, Any]) -> str:
    """Join ``uri`` with its ``uriBaseId`` chain and turn ``file:`` URIs into paths."""
    text = uri
    seen: set[str] = set()
    while base_id and base_id not in seen and not _is_absolute_uri(text):
        seen.add(base_id)
        base = base_ids.get(base_id)
        if not isinstance(base, dict) or not isinstance(base.get("uri"), str):
            break  # undefined base (e.g. semgrep's %SRCROOT%): relative to the repository
        prefix = base["uri"]
        text = (prefix if prefix.endswith("/") else prefix + "/") + text.lstrip("/")
        nxt = base.get("uriBaseId")
        base_id = nxt if isinstance(nxt, str) else None
    if text.lower().startswith("file:"):
        parts = urlsplit(text)
        path = unquote(parts.path)
        if re.match(r"^/[A-Za-z]:/", path):  # file:///C:/x → C:/x
            path = path[1:]
        if parts.netloc and parts.netloc not in ("", "localhost"):
            path = f"//{parts.netloc}{path}"
        return path
    return unquote(text)


def _is_absolute_uri(text: str) -> bool:
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", text)) or text.startswith("/")


def _title(run: _Run, rule: dict[str, Any], rule_id: str, message: str) -> str:
    candidates: list[str | None] = [_text(rule.get("shortDescription"))]
    name = rule.get("name")
    # A name is a title only when it reads as words: "Ensure S3 buckets are encrypted" is,
    # bandit's "hashlib" or zizmor's "artipacked" (identifiers) and names several rules
    # share (bandit's "blacklist") are not.
    if isinstance(name, str) and " " in name.strip() and name not in run.shared_names:
        candidates.append(name)
    candidates.append(_first_paragraph(_text(rule.get("fullDescription"))))
    candidates.append(_first_paragraph(_text(rule.get("help"))))
    candidates.append(_first_paragraph(message))
    for text in candidates:
        if text and _informative(text, rule_id):
            return _shorten(" ".join(text.split()), _MAX_TITLE_CHARS)
    return rule_id


def _informative(text: str, rule_id: str) -> bool:
    """False for titles that only repeat the rule id (``Semgrep Finding: eval-call``)."""
    lowered = text.strip().lower()
    ids = {rule_id.lower(), rule_id.rsplit("/", 1)[-1].lower(), rule_id.rsplit(".", 1)[-1].lower()}
    for rid in ids:
        if rid and rid in lowered:
            rest = lowered.replace(rid, " ")
            if len(re.findall(r"[a-z0-9]+", rest)) < 3:
                return False
    return True


def _first_paragraph(text: str | None) -> str | None:
    if not text:
        return None
    for para in re.split(r"\n\s*\n", text.strip()):
        para = para.strip().lstrip("#").strip()
        if para:
            return para
    return None


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _score(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        score = float(value)
    except (TypeError, ValueError):
        return None
    return score if not math.isnan(score) and 0.0 <= score <= 10.0 else None


def _severity(
    tool: str,
    result: dict[str, Any],
    rule: dict[str, Any],
    r_props: dict[str, Any],
    rule_props: dict[str, Any],
    *,
    secret: bool,
) -> Severity:
    for props in (r_props, rule_props):
        score = _score(props.get("security-severity"))
        if score is not None:
            return Severity.from_cvss(score)
    level = result.get("level")
    if not isinstance(level, str):
        config = rule.get("defaultConfiguration")
        level = config.get("level") if isinstance(config, dict) else None
    if isinstance(level, str):
        by_level = Severity.from_tool("sarif", level)
    elif secret:
        # Secret scanners that state no level (gitleaks) have no severity notion at all:
        # a leaked credential is treated as critical, as the gitleaks importer does.
        by_level = Severity.CRITICAL
    else:
        by_level = Severity.MEDIUM  # SARIF's default level is "warning"
    for key in ("issue_severity", f"{tool}/severity", "severity"):
        word = r_props.get(key)
        if isinstance(word, str) and word.strip():
            return Severity.from_tool(tool, word, default=by_level)
    if result.get("kind") == "informational":
        return Severity.INFO
    return by_level


def _confidence(
    tool: str, r_props: dict[str, Any], rule_props: dict[str, Any], tags: list[str]
) -> Confidence:
    for key in ("issue_confidence", f"{tool}/confidence", "confidence"):
        word = r_props.get(key)
        if isinstance(word, str) and word.strip().lower() in ("high", "medium", "low"):
            return Confidence.parse(word)
    for tag in tags:
        m = _CONFIDENCE_TAG.match(tag.strip())
        if m:
            return Confidence.parse(m.group(1))
    precision = rule_props.get("precision")
    if isinstance(precision, str):
        mapped = {"very-high": "high", "high": "high", "medium": "medium", "low": "low"}
        return Confidence.parse(mapped.get(precision.strip().lower()))
    return Confidence.MEDIUM


def _cwes(
    tags: list[str], rule_props: dict[str, Any], r_props: dict[str, Any], rule: dict[str, Any]
) -> tuple[int, ...]:
    values: list[object] = [t for t in tags if "cwe" in t.lower()]
    for props in (rule_props, r_props):
        for key in ("cwe", "cwes", "CWE", "cwe_ids"):
            if key in props:
                values.append(props[key])
    relationships = rule.get("relationships")
    if isinstance(relationships, list):
        for rel in relationships:
            tgt = rel.get("target") if isinstance(rel, dict) else None
            comp = tgt.get("toolComponent") if isinstance(tgt, dict) else None
            if (
                isinstance(comp, dict)
                and str(comp.get("name", "")).lower() == "cwe"
                and isinstance(tgt, dict)
            ):
                values.append(f"CWE-{tgt.get('id')}")
    return parse_cwe(values)


def _category(
    tool: str, rule_id: str, rule: dict[str, Any], tags: set[str], cwe: tuple[int, ...]
) -> Category:
    if tool == THREAT_TOOL:
        return Category.THREAT
    if tool in SECRET_TOOLS or tags & _SECRET_TAGS or _SECRET_CWES.intersection(cwe):
        return Category.SECRET
    advisory = bool(ADVISORY_RE.search(rule_id)) or bool(
        isinstance(rule.get("name"), str) and ADVISORY_RE.search(rule["name"])
    )
    if tool in SCA_TOOLS or (advisory and (tags & _VULN_TAGS or tool == "trivy")):
        return Category.DEPENDENCY
    if tool in IAC_TOOLS or tags & _MISCONFIG_TAGS:
        return Category.IAC
    if tool in PIPELINE_TOOLS:
        return Category.PIPELINE
    if tool == "trivy":  # trivy's remaining SARIF results are misconfigurations
        return Category.IAC
    return Category.SAST


def _protect_secret(location: Location | None) -> tuple[Location | None, str | None, str | None]:
    """Keep no secret in a secret finding's location: returns (location, hash, secret)."""
    if location is None or location.snippet is None:
        return location, None, None
    text = location.snippet.strip()
    if text and not any(ch.isspace() for ch in text):
        # A single token (gitleaks writes the secret itself as the snippet).
        return _with_snippet(location, redact(text)), salted_hash(text), text
    return _with_snippet(location, None), None, None


def _with_snippet(location: Location, snippet: str | None) -> Location:
    return Location(
        path=location.path,
        start_line=location.start_line,
        start_column=location.start_column,
        end_line=location.end_line,
        end_column=location.end_column,
        snippet=snippet,
    )


def _scrub_snippets(value: Any) -> Any:
    """A copy of a result without any region/context snippet text."""
    data = copy.deepcopy(value)

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            node.pop("snippet", None)
            for child in node.values():
                visit(child)
        elif isinstance(node, list):
            for child in node:
                visit(child)

    visit(data)
    return data


def _advisories(rule_id: str, rule: dict[str, Any], r_props: dict[str, Any]) -> tuple[str, ...]:
    found: list[str] = []
    texts = [rule_id]
    if isinstance(rule.get("name"), str):
        texts.append(rule["name"])
    for key in ("aliases", "advisories", "vulnerabilityIds"):
        texts.extend(_strings(r_props.get(key)))
    for text in texts:
        for m in ADVISORY_RE.finditer(text):
            ident = m.group(1)
            if ident.upper().startswith(("CVE-", "PYSEC-", "RUSTSEC-", "GO-", "OSV-")):
                ident = ident.upper()
            if ident not in found:
                found.append(ident)
    return tuple(found)


_MSG_PACKAGE = (
    re.compile(r"^Package:\s*(?P<name>\S+)\s*$", re.MULTILINE),  # trivy
    re.compile(r"package:\s*(?P<name>[^,\s]+),\s*version\s+(?P<version>[^\s,]+)"),  # grype
)
_MSG_VERSION = re.compile(r"^Installed Version:\s*(?P<version>\S+)\s*$", re.MULTILINE)
_MSG_FIXED = re.compile(r"^Fixed Version:\s*(?P<fixed>.+?)\s*$", re.MULTILINE)


def _package(message: str, r_props: dict[str, Any], location: Location | None) -> Package | None:
    name = version = None
    ecosystem = None
    purl = r_props.get("purl") if isinstance(r_props.get("purl"), str) else None
    if purl:
        ecosystem, name, version = _from_purl(purl)
    for key in ("package", "packageName", "package_name"):
        if name is None and isinstance(r_props.get(key), str):
            name = r_props[key]
    for key in ("packageVersion", "installedVersion", "package_version", "version"):
        if version is None and isinstance(r_props.get(key), str):
            version = r_props[key]
    for pattern in _MSG_PACKAGE:
        m = pattern.search(message)
        if m and name is None:
            name = m.group("name")
            groups = m.groupdict()
            if version is None and groups.get("version"):
                version = groups["version"]
    if version is None:
        m = _MSG_VERSION.search(message)
        version = m.group("version") if m else None
    fixed: tuple[str, ...] = ()
    m = _MSG_FIXED.search(message)
    if m:
        fixed = tuple(v.strip() for v in m.group("fixed").split(",") if v.strip())
    ecosystem = ecosystem or ecosystem_for(location.path if location else None)
    if name is None or ecosystem is None:
        return None
    return Package(ecosystem=ecosystem, name=name, version=version, fixed_versions=fixed)


def _from_purl(purl: str) -> tuple[str | None, str | None, str | None]:
    """(ecosystem, name, version) of a package URL, names spelled as OSV spells them."""
    m = re.match(r"pkg:([^/]+)/([^@?#]+)(?:@([^?#]+))?", purl)
    if not m:
        return None, None, None
    kind = m.group(1).lower()
    path = [unquote(part) for part in m.group(2).strip("/").split("/")]
    if kind in ("deb", "rpm", "apk"):
        name = path[-1]  # the namespace is the distribution
    elif kind == "maven":
        name = ":".join(path)  # group:artifact
    else:
        name = "/".join(path)  # @scope/name, vendor/package, a Go module path
    version = unquote(m.group(3)) if m.group(3) else None
    return PURL_ECOSYSTEMS.get(kind), name, version


def _references(
    rule: dict[str, Any], rule_props: dict[str, Any], r_props: dict[str, Any]
) -> tuple[str, ...]:
    refs: list[str] = []
    help_uri = rule.get("helpUri")
    if isinstance(help_uri, str) and help_uri.strip():
        refs.append(help_uri.strip())
    for props in (rule_props, r_props):
        for ref in _strings(props.get("references")):
            if ref.startswith(("http://", "https://")):
                refs.append(ref)
    return tuple(dict.fromkeys(refs))


def _fix_hint(result: dict[str, Any], rule: dict[str, Any], title: str, message: str) -> str | None:
    fixes = result.get("fixes")
    if isinstance(fixes, list):
        for fix in fixes:
            text = _text(fix.get("description")) if isinstance(fix, dict) else None
            if text:
                return _shorten(" ".join(text.split()), _MAX_HINT_CHARS)
    help_text = _text(rule.get("help"))
    if not help_text:
        return None
    seen = {" ".join(title.split()).lower(), " ".join(message.split()).lower()}
    for para in re.split(r"\n\s*\n", help_text.strip()):
        para = para.strip().lstrip("#").strip()
        flat = " ".join(para.split())
        first_line = " ".join(para.splitlines()[0].split()).lower() if para else ""
        if not flat or flat.lower() in seen or first_line in seen:
            continue
        return _shorten(flat, _MAX_HINT_CHARS)
    return None
