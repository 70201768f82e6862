"""checkov: misconfigurations in infrastructure as code.

Runs ``checkov -d .`` from the repository root with ``--framework`` limited to the
frameworks whose files the target holds (Terraform, Terraform JSON, Dockerfiles,
Kubernetes manifests, CloudFormation, ARM, Bicep, Serverless).  Directory mode rather
than ``--file`` per file: in file mode checkov parses each ``.tf`` file on its own and
ignores ``terraform.tfvars`` (even with ``--var-file``), so variables set there and local
modules are not resolved; directory mode evaluates whole Terraform modules.  The
target's exclusions are translated to ``--skip-path`` regexes (so are top-level
directories holding none of the target's files, such as a virtualenv or build output),
and findings in files outside :attr:`Target.files` (excluded or git-ignored) are dropped
when parsing.  checkov itself skips hidden directories (``.deploy/main.tf`` is not
scanned) and ``node_modules``, ``.terraform``, ``.serverless``.

Not run: checkov's ``github_actions`` framework (and the other CI frameworks).  zizmor
is turbosec's pipeline scanner; checkov's workflow checks (``CKV_GHA_2`` shell
injection, ``CKV2_GHA_1`` write-all permissions) repeat zizmor's ``template-injection``
and ``excessive-permissions`` under different rule ids and would double-count, and
checkov reports ``CKV2_GHA_1`` on the 0-based line range ``[0, 1]``.

Offline: ``--skip-download`` (no policy metadata, guidelines or severities from the
Prisma Cloud platform), ``--download-external-modules false`` (no Terraform registry or
git fetches) and ``CKV_SKIP_PACKAGE_UPDATE_CHECK=true`` (otherwise checkov asks PyPI for
a newer version of itself on every start: a 1 s timeout, cached for a day).

Inline skips (``#checkov:skip=CKV_ID:reason`` in a resource, a Kubernetes
``checkov.io/skip1: CKV_ID=reason`` annotation, CloudFormation ``Metadata.checkov.skip``)
are listed in ``results.skipped_checks`` with ``check_result.suppress_comment`` (``No
comment provided`` when the skip has no reason).  turbosec reports each as a finding
carrying an inline :class:`~turbosec.core.finding.Suppression` with that reason, so it
stays visible without failing the gate.  checkov does not evaluate a skipped check (and has
no option to ignore skip comments): such a finding says the check was skipped, not that
the resource fails it.  Checks left out with ``--skip-check`` are not listed at all.

No ``--quiet``: it would drop ``results.parsing_errors`` (the names of files checkov could
not parse, reported as warnings) along with the passed checks.

Exit codes: 0 no failed checks, 1 failed checks, 2 crash.  Output shapes: a list of
reports (several frameworks), one report object (one framework), or a bare summary
object (``{"passed": 0, "failed": 0, ...}``) when no resource was found.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from turbosec.core.config import ScannerConfig
from turbosec.core.errors import ParseError
from turbosec.core.finding import Category, Confidence, Finding, Location, Suppression
from turbosec.core.severity import Severity
from turbosec.scan.base import Invocation, Parsed, RunResult, Scanner, decode_json
from turbosec.scan.target import Target, glob_to_regex

TOOL = "checkov"

# checkov's own rule for what a Dockerfile is (checkov.common.util.dockerfile).
_DOCKERFILE = re.compile(r"^(?:.+\.)?[Dd]ockerfile(?:\..+)?$(?<!\.[Dd]ockerignore)")
_SNIFF_BYTES = 64 * 1024
_K8S_YAML = (re.compile(rb"^apiVersion:\s*\S", re.M), re.compile(rb"^kind:\s*\S", re.M))
_K8S_JSON = (re.compile(rb'"apiVersion"\s*:'), re.compile(rb'"kind"\s*:'))
_CFN = (
    re.compile(rb"AWSTemplateFormatVersion"),
    re.compile(rb"^\s*-?\s*Type:\s*['\"]?AWS::[A-Za-z0-9]+::", re.M),
    re.compile(rb'"Type"\s*:\s*"AWS::[A-Za-z0-9]+::'),
)
_ARM = re.compile(rb"schema\.management\.azure\.com/schemas/[^\"']*[Dd]eploymentTemplate\.json")
_SERVERLESS = frozenset({"serverless.yml", "serverless.yaml", "serverless.json"})
# Files checkov may read in directory mode (for the incremental cache): every file of the
# frameworks above, variable files and templates Terraform's file()/templatefile() load,
# and checkov's own .checkov.yaml.
_INPUT_SUFFIXES = (
    ".tf",
    ".tfvars",
    ".hcl",
    ".json",
    ".yaml",
    ".yml",
    ".template",
    ".bicep",
    ".tpl",
    ".tftpl",
    ".sh",
    ".env",
)

# Frameworks whose findings are about pipelines rather than infrastructure (only seen when a
# user forces them with scanners.checkov.args).
_PIPELINE_FRAMEWORKS = frozenset(
    {
        "github_actions",
        "gitlab_ci",
        "bitbucket_pipelines",
        "azure_pipelines",
        "circleci_pipelines",
        "argo_workflows",
    }
)

# Without a Prisma Cloud API key checkov reports ``"severity": null``.  turbosec's own
# judgement for well-known checks (not Prisma Cloud's ratings); everything else is MEDIUM.
# Direct exposure to the internet, public data and admin-everything policies are HIGH or
# CRITICAL; hygiene (logging, versioning, descriptions, probes, resource limits) is LOW.
_S = Severity
_KNOWN_CHECKS: dict[str, tuple[Severity, tuple[int, ...]]] = {
    # --- AWS (Terraform and CloudFormation share ids) ---
    "CKV_AWS_1": (_S.HIGH, (269,)),  # IAM policy grants "*:*" administrative privileges
    "CKV_AWS_62": (_S.HIGH, (269,)),  # same, for inline/attached policies
    "CKV_AWS_63": (_S.HIGH, (269,)),  # IAM policy allows "*" actions
    "CKV_AWS_286": (_S.HIGH, (269,)),  # IAM policy allows privilege escalation
    "CKV_AWS_287": (_S.HIGH, (200,)),  # IAM policy allows credentials exposure
    "CKV_AWS_16": (_S.MEDIUM, (311,)),  # RDS not encrypted at rest
    "CKV_AWS_17": (_S.HIGH, (284,)),  # RDS publicly accessible
    "CKV_AWS_18": (_S.LOW, (778,)),  # S3 access logging off
    "CKV_AWS_19": (_S.MEDIUM, (311,)),  # S3 not encrypted at rest
    "CKV_AWS_3": (_S.MEDIUM, (311,)),  # EBS not encrypted
    "CKV_AWS_20": (_S.HIGH, (732,)),  # S3 ACL allows public READ
    "CKV_AWS_57": (_S.CRITICAL, (732,)),  # S3 ACL allows public WRITE
    "CKV_AWS_53": (_S.MEDIUM, (284,)),  # S3 block public ACLs off
    "CKV_AWS_54": (_S.MEDIUM, (284,)),  # S3 block public policy off
    "CKV_AWS_55": (_S.MEDIUM, (284,)),  # S3 ignore public ACLs off
    "CKV_AWS_56": (_S.MEDIUM, (284,)),  # S3 restrict public buckets off
    "CKV2_AWS_6": (_S.MEDIUM, (284,)),  # S3 without a public access block
    "CKV_AWS_21": (_S.LOW, ()),  # S3 versioning off
    "CKV_AWS_144": (_S.LOW, ()),  # S3 cross-region replication off
    "CKV_AWS_145": (_S.LOW, (311,)),  # S3 not encrypted with KMS (SSE-S3 is the default)
    "CKV2_AWS_61": (_S.LOW, ()),  # S3 lifecycle configuration missing
    "CKV2_AWS_62": (_S.LOW, ()),  # S3 event notifications off
    "CKV_AWS_23": (_S.LOW, ()),  # security group / rule without description
    "CKV2_AWS_5": (_S.LOW, ()),  # security group not attached
    "CKV_AWS_24": (_S.HIGH, (284,)),  # SSH (22) open to 0.0.0.0/0
    "CKV_AWS_25": (_S.HIGH, (284,)),  # RDP (3389) open to 0.0.0.0/0
    "CKV_AWS_260": (_S.MEDIUM, (284,)),  # HTTP (80) open to 0.0.0.0/0
    "CKV_AWS_277": (_S.HIGH, (284,)),  # all ports open to 0.0.0.0/0
    "CKV_AWS_41": (_S.CRITICAL, (798,)),  # hard-coded AWS keys in the provider block
    "CKV_AWS_45": (_S.HIGH, (798,)),  # hard-coded secrets in Lambda environment
    "CKV_AWS_46": (_S.HIGH, (798,)),  # hard-coded secrets in EC2 user data
    "CKV_AWS_79": (_S.MEDIUM, (918,)),  # IMDSv1 enabled (SSRF to instance credentials)
    "CKV_AWS_88": (_S.MEDIUM, (284,)),  # EC2 instance with a public IP
    "CKV_AWS_2": (_S.MEDIUM, (319,)),  # load balancer listener not HTTPS
    # --- Dockerfile ---
    "CKV_DOCKER_1": (_S.MEDIUM, (284,)),  # port 22 exposed
    "CKV_DOCKER_2": (_S.LOW, ()),  # no HEALTHCHECK
    "CKV_DOCKER_3": (_S.MEDIUM, (250,)),  # no non-root user created
    "CKV_DOCKER_4": (_S.LOW, (829,)),  # ADD instead of COPY
    "CKV_DOCKER_7": (_S.MEDIUM, (1357,)),  # base image on the floating "latest" tag
    "CKV_DOCKER_8": (_S.MEDIUM, (250,)),  # last USER is root
    # --- Kubernetes ---
    "CKV_K8S_16": (_S.HIGH, (250,)),  # privileged container
    "CKV_K8S_17": (_S.HIGH, (653,)),  # shares the host PID namespace
    "CKV_K8S_18": (_S.HIGH, (653,)),  # shares the host IPC namespace
    "CKV_K8S_19": (_S.HIGH, (653,)),  # shares the host network namespace
    "CKV_K8S_20": (_S.MEDIUM, (250,)),  # allowPrivilegeEscalation
    "CKV_K8S_23": (_S.MEDIUM, (250,)),  # root containers admitted
    "CKV_K8S_39": (_S.HIGH, (250,)),  # CAP_SYS_ADMIN
    "CKV_K8S_8": (_S.LOW, ()),  # no liveness probe
    "CKV_K8S_9": (_S.LOW, ()),  # no readiness probe
    "CKV_K8S_10": (_S.LOW, (770,)),  # no CPU requests
    "CKV_K8S_11": (_S.LOW, (770,)),  # no CPU limits
    "CKV_K8S_12": (_S.LOW, (770,)),  # no memory requests
    "CKV_K8S_13": (_S.LOW, (770,)),  # no memory limits
    "CKV_K8S_14": (_S.MEDIUM, (1357,)),  # image tag "latest" or blank
    "CKV_K8S_43": (_S.LOW, (1357,)),  # image not pinned by digest
    "CKV_K8S_21": (_S.LOW, ()),  # default namespace
}

# For checks whose name states the problem instead of the rule.
_FIX_HINTS: dict[str, str] = {
    "CKV_AWS_20": "remove the public-read ACL; keep the bucket private (public access block)",
    "CKV_AWS_57": "remove the public-write ACL; keep the bucket private (public access block)",
    "CKV_AWS_88": "do not give the instance a public IP address; put it behind a load balancer",
}

# checkov's suppress_comment when a skip gives no reason.
_NO_COMMENT = "No comment provided"

_IMPERATIVE = ("Ensure ", "Do not ", "Use ", "Minimize ", "Apply ", "Avoid ", "Prefer ")


class CheckovScanner(Scanner):
    name = "checkov"
    program = "checkov"
    category = Category.IAC
    description = "Misconfigurations in Terraform, Dockerfiles, Kubernetes and CloudFormation"
    # Directory mode: Terraform modules, tfvars and variables are resolved across files.
    scope = "project"

    def __init__(self) -> None:
        self._frameworks_cache: dict[tuple[Path, tuple[str, ...]], tuple[str, ...]] = {}

    # ------------------------------------------------------------------ applicability
    def frameworks(self, target: Target) -> tuple[str, ...]:
        """checkov frameworks the target has files for, in checkov's spelling, sorted."""
        key = (target.root, target.files)
        cached = self._frameworks_cache.get(key)
        if cached is None:
            cached = _detect_frameworks(target)
            self._frameworks_cache[key] = cached
        return cached

    def applicable(self, target: Target) -> bool:
        return bool(self.frameworks(target))

    def inputs(self, target: Target) -> list[str]:
        """The target's files checkov may read: IaC, variable and template files, Dockerfiles.

        Files in hidden directories are left out: checkov does not walk them.
        """
        return [
            p
            for p in target.files
            if not any(part.startswith(".") for part in p.split("/")[:-1])
            and (p.lower().endswith(_INPUT_SUFFIXES) or _DOCKERFILE.match(p.rsplit("/", 1)[-1]))
        ]

    def invocation(self, target: Target, config: ScannerConfig, executable: str) -> Invocation:
        argv: list[str] = [
            executable,
            "--directory",
            ".",
            "--framework",
            *(self.frameworks(target) or ("terraform",)),
            "--output",
            "json",
            "--compact",
            "--skip-download",
            "--download-external-modules",
            "false",
        ]
        for regex in skip_path_regexes(target):
            argv += ["--skip-path", regex]
        argv += list(config.args)
        return Invocation(
            argv=tuple(argv),
            cwd=target.root,
            env={"CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "TRUE"},
            ok_returncodes=frozenset({0, 1}),
        )

    # ------------------------------------------------------------------------ parsing
    def parse(self, result: RunResult, target: Target) -> Parsed:
        source = "stdout"
        data = _decode_json(result.stdout, source)
        reports: list[Any] = data if isinstance(data, list) else [data]
        known_files = set(target.files)
        findings: list[Finding] = []
        warnings: list[str] = []
        for index, report in enumerate(reports):
            where = f"{source} report #{index + 1}"
            if not isinstance(report, Mapping):
                raise ParseError(
                    TOOL, source, f"{where} is a {type(report).__name__}, not an object"
                )
            if "check_type" not in report:
                if _is_summary(report):
                    continue  # no resources found for any framework
                raise ParseError(
                    TOOL,
                    source,
                    f"{where} has neither 'check_type' nor a summary: keys {sorted(report)[:8]}",
                )
            check_type = str(report["check_type"])
            if check_type == "secrets":
                # Only when forced through scanners.checkov.args.  Its records hold the secret
                # in clear; detect-secrets is turbosec's secret scanner and redacts them.
                warnings.append("ignored checkov's secrets results: detect-secrets scans secrets")
                continue
            results = report.get("results")
            if not isinstance(results, Mapping):
                raise ParseError(TOOL, source, f"{where} ({check_type}) has no 'results' object")
            failed = results.get("failed_checks")
            if failed is None:
                failed = []
            if not isinstance(failed, list):
                raise ParseError(
                    TOOL, source, f"{where} ({check_type}): 'failed_checks' is not a list"
                )
            skipped = results.get("skipped_checks")
            if skipped is None:
                skipped = []
            if not isinstance(skipped, list):
                raise ParseError(
                    TOOL, source, f"{where} ({check_type}): 'skipped_checks' is not a list"
                )
            warnings.extend(_parsing_warnings(report, results, check_type, target))
            records = [(r, f"{where} failed check #{n}", False) for n, r in enumerate(failed)]
            records += [(r, f"{where} skipped check #{n}", True) for n, r in enumerate(skipped)]
            for record, label, was_skipped in records:
                finding = _finding(record, check_type, target, label, skipped=was_skipped)
                if finding.location is not None and finding.location.path not in known_files:
                    continue  # excluded or git-ignored: checkov walked more than the target holds
                findings.append(finding)
        return Parsed(findings=findings, warnings=warnings)


# ---------------------------------------------------------------------- detection helpers
def _sniff(target: Target, path: str) -> bytes:
    try:
        with (target.root / path).open("rb") as handle:
            return handle.read(_SNIFF_BYTES)
    except OSError:
        return b""


def _detect_frameworks(target: Target) -> tuple[str, ...]:
    found: set[str] = set()
    for path in target.files:
        base = path.rsplit("/", 1)[-1]
        lower = base.lower()
        if lower.endswith(".tf"):
            found.add("terraform")
        elif lower.endswith(".tf.json"):
            found.add("terraform_json")
        elif lower.endswith(".bicep"):
            found.add("bicep")
        elif _DOCKERFILE.match(base):
            found.add("dockerfile")
        if base in _SERVERLESS:
            found.add("serverless")
    structured = [
        p
        for p in target.files
        if p.lower().endswith((".yaml", ".yml", ".json", ".template"))
        and not p.startswith(".github/")
        and p.rsplit("/", 1)[-1] not in _SERVERLESS
    ]
    wanted = {"kubernetes", "cloudformation", "arm"}
    for path in structured:
        if wanted <= found:
            break
        head = _sniff(target, path)
        if not head:
            continue
        is_json = path.lower().endswith(".json")
        k8s = _K8S_JSON if is_json else _K8S_YAML
        if "kubernetes" not in found and all(rx.search(head) for rx in k8s) and b"{{" not in head:
            found.add("kubernetes")
        if "cloudformation" not in found and any(rx.search(head) for rx in _CFN):
            found.add("cloudformation")
        if "arm" not in found and is_json and _ARM.search(head):
            found.add("arm")
    return tuple(sorted(found))


def skip_path_regexes(target: Target) -> list[str]:
    """``--skip-path`` regexes: the target's exclude globs, and unused top-level directories.

    checkov tests ``re.search(regex, path)`` on each walked entry, where ``path`` is the
    entry joined to the directory being walked: ``./infra/x.tf``, ``infra/x.tf`` or
    ``/abs/root/infra/x.tf`` depending on the framework.  Anchored globs (with ``/``)
    are anchored to any of those three prefixes; the others match a path segment.
    """
    out: list[str] = []
    root = re.escape(target.root.as_posix().rstrip("/"))
    for pattern in target.exclude.patterns:
        text = glob_to_regex(pattern).pattern
        suffix = "(?:/.*)?$"
        if not text.endswith(suffix):
            continue  # unknown translation; findings are still filtered when parsing
        text = text[: -len(suffix)]
        if text.startswith("^(?:.*/)?"):
            out.append("(?:^|/)" + text[len("^(?:.*/)?") :] + "(?:/|$)")
        elif text.startswith("^"):
            out.append(f"(?:^|^\\./|^{root}/)" + text[1:] + "(?:/|$)")
    # Top-level directories holding none of the target's files (a virtualenv, build output,
    # anything git-ignored or excluded): checkov would walk and parse them for nothing.
    # Hidden ones are skipped by checkov itself.
    tops = {p.split("/", 1)[0] for p in target.files if "/" in p}
    try:
        entries = sorted(target.root.iterdir())
    except OSError:
        entries = []
    for entry in entries:
        if entry.name.startswith(".") or entry.name in tops or not entry.is_dir():
            continue
        out.append(f"(?:^|^\\./|^{root}/){re.escape(entry.name)}(?:/|$)")
    return out


# ------------------------------------------------------------------------ parse helpers
def _decode_json(stdout: bytes, source: str) -> Any:
    return decode_json(TOOL, source, stdout)


def _is_summary(obj: Mapping[str, Any]) -> bool:
    return {"passed", "failed"} <= set(obj) and "checkov_version" in obj


def _parsing_warnings(
    report: Mapping[str, Any], results: Mapping[str, Any], check_type: str, target: Target
) -> list[str]:
    listed = results.get("parsing_errors")
    if isinstance(listed, list) and listed:
        paths = sorted({_repo_path(str(p), target) for p in listed})
        return [f"could not parse {check_type} file {p}; it was not checked" for p in paths]
    summary = report.get("summary")
    if isinstance(summary, Mapping):
        count = summary.get("parsing_errors")
        if isinstance(count, int) and count > 0:
            return [f"could not parse {count} {check_type} file(s); they were not checked"]
    return []


def _repo_path(reported: str, target: Target) -> str:
    """A path as checkov printed it, made repository-relative.

    checkov prints ``file_path`` relative to the scanned directory with a leading ``/``
    (``/infra/main.tf``), ``file_abs_path`` absolute for most frameworks but relative
    (``./cfn/bucket.yaml``) for CloudFormation; :meth:`Target.relpath` handles all three.
    """
    return target.relpath(reported)


def _pick_path(record: Mapping[str, Any], target: Target) -> str | None:
    candidates = [record.get(k) for k in ("file_abs_path", "repo_file_path", "file_path")]
    texts = [c for c in candidates if isinstance(c, str) and c]
    for text in texts:
        rel = _repo_path(text, target)
        if (target.root / rel).is_file():
            return rel
    return _repo_path(texts[-1], target) if texts else None


def _lines(record: Mapping[str, Any]) -> tuple[int | None, int | None]:
    span = record.get("file_line_range")
    if not isinstance(span, list) or len(span) != 2:
        return None, None
    start, end = span
    if not isinstance(start, int) or not isinstance(end, int) or end < 1:
        return None, None
    start = max(start, 1)  # a few graph checks report [0, 1]
    return start, max(end, start)


def _skip_reason(record: Mapping[str, Any]) -> str | None:
    """The reason written in a checkov skip (None when it gives none)."""
    result = record.get("check_result")
    comment = result.get("suppress_comment") if isinstance(result, Mapping) else None
    if not isinstance(comment, str):
        return None
    text = " ".join(comment.split())
    return text if text and text != _NO_COMMENT else None


def _finding(
    record: Any, check_type: str, target: Target, where: str, *, skipped: bool = False
) -> Finding:
    if not isinstance(record, Mapping):
        raise ParseError(TOOL, "stdout", f"{where} is a {type(record).__name__}, not an object")
    check_id = record.get("check_id")
    if not isinstance(check_id, str) or not check_id:
        raise ParseError(TOOL, "stdout", f"{where} has no 'check_id'")
    name = record.get("check_name")
    title = name if isinstance(name, str) and name else check_id
    resource = record.get("resource")
    verb = "skipped by a checkov skip comment (not evaluated)" if skipped else "failed"
    if isinstance(resource, str) and resource:
        message = f"{check_id} {verb} for {resource}: {title}"
    else:
        message = f"{check_id} {verb}: {title}"
    details = record.get("details")
    if isinstance(details, list) and details:
        message += ": " + "; ".join(str(d) for d in details)

    known = _KNOWN_CHECKS.get(check_id)
    reported = record.get("severity")
    if isinstance(reported, str) and reported:
        severity = Severity.from_tool(TOOL, reported)
    elif known is not None:
        severity = known[0]
    else:
        severity = Severity.MEDIUM

    guideline = record.get("guideline")
    references = (guideline,) if isinstance(guideline, str) and guideline else ()
    fix_hint: str | None = _FIX_HINTS.get(check_id)
    if fix_hint is None and (title.startswith(_IMPERATIVE) or " should " in title):
        fix_hint = title.rstrip(".")  # checkov names are mostly the rule to follow
    if references:
        fix_hint = f"{fix_hint}; see {references[0]}" if fix_hint else f"see {references[0]}"

    location: Location | None = None
    path = _pick_path(record, target)
    if path is not None:
        start, end = _lines(record)
        location = Location(
            path=path,
            start_line=start,
            end_line=end,
            snippet=target.snippet(path, start, end),
        )
    category = Category.PIPELINE if check_type in _PIPELINE_FRAMEWORKS else Category.IAC
    suppression: Suppression | None = None
    if skipped:
        where_skipped = location.path if location is not None else "checkov"
        suppression = Suppression(
            kind="inline",
            reason=_skip_reason(record),
            source=f"{where_skipped}: checkov:skip={check_id}"
            + (f" in {resource}" if isinstance(resource, str) and resource else ""),
        )
    return Finding(
        tool=TOOL,
        rule_id=check_id,
        title=title,
        message=message,
        severity=severity,
        category=category,
        confidence=Confidence.HIGH,
        location=location,
        cwe=known[1] if known is not None else (),
        references=references,
        fix_hint=fix_hint,
        raw=dict(record),
        suppression=suppression,
    )
