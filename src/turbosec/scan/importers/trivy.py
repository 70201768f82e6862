"""Trivy JSON reports (``trivy fs|repo|image|config --format json``, ``SchemaVersion`` 2).

* ``Results[].Vulnerabilities`` → dependency findings: the package's ecosystem comes from
  ``Result.Type`` (``pip``/``poetry``/``uv`` → PyPI, ``npm``/``yarn``/``pnpm`` → npm,
  ``gomod`` → Go, ``cargo`` → crates.io, …) or the package URL; ``FixedVersion`` is a
  comma-separated list; advisories are ``VulnerabilityID`` plus ``VendorIDs``; the
  location is the lockfile (``Result.Target``), with the package's line when Trivy listed
  packages (``--list-all-pkgs``); packages of an image or of the OS have no location in
  the repository, the message names where they were found instead.
* ``Misconfigurations`` with ``Status: FAIL`` → IaC findings (``PASS``/``EXCEPTION`` are
  not problems); ``Resolution`` becomes the fix hint.  The rule id drops the ``AVD-``
  prefix, so reports from before and after Trivy 0.59 agree (``AWS-0086``).
* ``Secrets`` → secret findings.  Trivy masks the secret in ``Match`` with ``*``; its
  ``Code.Lines`` context may still show *other* secrets in clear, so it is never kept.
  Should ``Match`` carry no mask (another producer, an old version), the whole match is
  treated as the secret: shown redacted and kept only as a salted hash.
* ``Licenses`` results are not security findings and are skipped.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from turbosec.core.finding import Category, Confidence, Finding, Location, Package, parse_cwe
from turbosec.core.secrets import redact, redact_in, salted_hash
from turbosec.core.severity import Severity
from turbosec.scan.importers.base import Imported, Importer
from turbosec.scan.importers.loader import Shape, repo_path
from turbosec.scan.target import Target

SUPPORTED_SCHEMA = 2

# Trivy's Result.Type (language analyzers and OS families) → OSV ecosystem name.
TYPE_ECOSYSTEMS: dict[str, str] = {
    "pip": "PyPI",
    "pipenv": "PyPI",
    "poetry": "PyPI",
    "uv": "PyPI",
    "pdm": "PyPI",
    "python-pkg": "PyPI",
    "pylock": "PyPI",
    "npm": "npm",
    "yarn": "npm",
    "pnpm": "npm",
    "bun": "npm",
    "node-pkg": "npm",
    "javascript": "npm",
    "gomod": "Go",
    "gobinary": "Go",
    "cargo": "crates.io",
    "rustbinary": "crates.io",
    "rust-binary": "crates.io",
    "composer": "Packagist",
    "composer-vendor": "Packagist",
    "bundler": "RubyGems",
    "gemspec": "RubyGems",
    "jar": "Maven",
    "pom": "Maven",
    "gradle": "Maven",
    "sbt": "Maven",
    "nuget": "NuGet",
    "dotnet-core": "NuGet",
    "packages-props": "NuGet",
    "pub": "Pub",
    "hex": "Hex",
    "conan": "ConanCenter",
    "cocoapods": "CocoaPods",
    "swift": "SwiftURL",
    "julia": "Julia",
    "conda-pkg": "conda",
    "conda-environment": "conda",
    "alpine": "Alpine",
    "wolfi": "Wolfi",
    "chainguard": "Chainguard",
    "debian": "Debian",
    "ubuntu": "Ubuntu",
    "redhat": "Red Hat",
    "centos": "CentOS",
    "rocky": "Rocky Linux",
    "alma": "AlmaLinux",
    "amazon": "Amazon Linux",
    "oracle": "Oracle Linux",
    "photon": "Photon OS",
    "suse linux enterprise server": "SUSE",
    "opensuse.leap": "openSUSE",
    "opensuse.tumbleweed": "openSUSE",
    "mariner": "Mariner",
    "azurelinux": "Azure Linux",
    "bottlerocket": "Bottlerocket",
    "echo": "Echo",
}
PURL_TYPES: dict[str, str] = {
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
    "apk": "Alpine",
    "deb": "Debian",
    "rpm": "Red Hat",
}
_MASK = re.compile(r"\*{3,}")
_IMAGE_ARTIFACTS = frozenset({"container_image", "vm"})


class TrivyImporter(Importer):
    name: ClassVar[str] = "trivy"
    description: ClassVar[str] = "Trivy JSON (vulnerabilities, misconfigurations, secrets)"

    def detect(self, document: Any) -> bool:
        if not isinstance(document, dict) or "SchemaVersion" not in document:
            return False
        return any(key in document for key in ("Results", "ArtifactName", "ArtifactType"))

    def parse(self, document: Any, source: str, target: Target) -> Imported:
        shape = Shape(self.name, source)
        doc = shape.obj(document, "")
        schema = doc.get("SchemaVersion")
        if schema != SUPPORTED_SCHEMA:
            raise shape.error(
                "SchemaVersion",
                f"Trivy JSON schema version {schema!r} is not "
                f"supported; turbosec reads SchemaVersion {SUPPORTED_SCHEMA}",
                hint="re-run a current Trivy (0.20 or later) with --format json",
            )
        artifact_type = shape.opt_str(doc.get("ArtifactType"), "ArtifactType") or ""
        in_image = artifact_type in _IMAGE_ARTIFACTS
        findings: list[Finding] = []
        for index, raw in enumerate(shape.opt_arr(doc.get("Results"), "Results")):
            where = f"Results[{index}]"
            result = shape.obj(raw, where)
            findings.extend(self._result(shape, result, where, target, in_image=in_image))
        meta = doc.get("Trivy")
        version = (
            shape.opt_str(meta.get("Version"), "Trivy.Version") if isinstance(meta, dict) else None
        )
        return Imported(findings=findings, tool="trivy", version=version)

    def _result(
        self, shape: Shape, result: dict[str, Any], where: str, target: Target, *, in_image: bool
    ) -> list[Finding]:
        target_name = shape.opt_str(result.get("Target"), f"{where}.Target")
        path = repo_path(target, target_name) if target_name else None
        rtype = (shape.opt_str(result.get("Type"), f"{where}.Type") or "").lower()
        rclass = shape.opt_str(result.get("Class"), f"{where}.Class") or ""
        lines = self._package_lines(shape, result, where)
        out: list[Finding] = []
        for i, raw in enumerate(
            shape.opt_arr(result.get("Vulnerabilities"), f"{where}.Vulnerabilities")
        ):
            v_where = f"{where}.Vulnerabilities[{i}]"
            # Packages of an image or of the OS are not files of the repository.
            in_repo = not in_image and rclass != "os-pkgs"
            out.append(
                self._vulnerability(
                    shape,
                    shape.obj(raw, v_where),
                    v_where,
                    path if in_repo else None,
                    None if in_repo else target_name,
                    rtype,
                    lines,
                )
            )
        for i, raw in enumerate(
            shape.opt_arr(result.get("Misconfigurations"), f"{where}.Misconfigurations")
        ):
            m_where = f"{where}.Misconfigurations[{i}]"
            finding = self._misconfiguration(shape, shape.obj(raw, m_where), m_where, path, target)
            if finding is not None:
                out.append(finding)
        for i, raw in enumerate(shape.opt_arr(result.get("Secrets"), f"{where}.Secrets")):
            s_where = f"{where}.Secrets[{i}]"
            out.append(self._secret(shape, shape.obj(raw, s_where), s_where, path, target_name))
        return out

    @staticmethod
    def _package_lines(shape: Shape, result: dict[str, Any], where: str) -> dict[str, int]:
        """Package UID → first line in the lockfile (present with ``--list-all-pkgs``)."""
        lines: dict[str, int] = {}
        for i, raw in enumerate(shape.opt_arr(result.get("Packages"), f"{where}.Packages")):
            pkg = shape.obj(raw, f"{where}.Packages[{i}]")
            ident = pkg.get("Identifier")
            uid = ident.get("UID") if isinstance(ident, dict) else None
            locs = pkg.get("Locations")
            if isinstance(uid, str) and isinstance(locs, list) and locs:
                first = locs[0]
                line = first.get("StartLine") if isinstance(first, dict) else None
                if isinstance(line, int) and not isinstance(line, bool) and line > 0:
                    lines.setdefault(uid, line)
        return lines

    def _vulnerability(
        self,
        shape: Shape,
        vuln: dict[str, Any],
        where: str,
        path: str | None,
        found_in: str | None,
        rtype: str,
        lines: dict[str, int],
    ) -> Finding:
        vuln_id = shape.opt_str(vuln.get("VulnerabilityID"), f"{where}.VulnerabilityID")
        if vuln_id is None:
            raise shape.error(f"{where}.VulnerabilityID", "missing")
        name = shape.opt_str(vuln.get("PkgName"), f"{where}.PkgName")
        if name is None:
            raise shape.error(f"{where}.PkgName", "missing")
        version = shape.opt_str(vuln.get("InstalledVersion"), f"{where}.InstalledVersion")
        fixed_text = shape.opt_str(vuln.get("FixedVersion"), f"{where}.FixedVersion") or ""
        fixed = tuple(dict.fromkeys(v.strip() for v in fixed_text.split(",") if v.strip()))
        ident = shape.opt_obj(vuln.get("PkgIdentifier"), f"{where}.PkgIdentifier")
        purl = shape.opt_str(ident.get("PURL"), f"{where}.PkgIdentifier.PURL")
        ecosystem = _ecosystem(rtype, purl)
        advisories = tuple(
            dict.fromkeys([vuln_id, *shape.str_list(vuln.get("VendorIDs"), f"{where}.VendorIDs")])
        )
        title = (
            shape.opt_str(vuln.get("Title"), f"{where}.Title")
            or _first_line(shape.opt_str(vuln.get("Description"), f"{where}.Description"))
            or vuln_id
        )
        severity = Severity.from_tool(
            "trivy", shape.opt_str(vuln.get("Severity"), f"{where}.Severity")
        )
        references = [
            *(r for r in [shape.opt_str(vuln.get("PrimaryURL"), f"{where}.PrimaryURL")] if r),
            *shape.str_list(vuln.get("References"), f"{where}.References"),
        ]
        installed = f"{name} {version}" if version else name
        message = f"{installed} is affected by {vuln_id}: {title}"
        if fixed:
            message += f" (fixed in {', '.join(fixed)})"
        if found_in:
            pkg_path = shape.opt_str(vuln.get("PkgPath"), f"{where}.PkgPath")
            message += f"; found in {pkg_path or found_in}"
        uid = ident.get("UID") if isinstance(ident.get("UID"), str) else None
        location = None
        if path:
            location = Location(path=path, start_line=lines.get(uid) if uid else None)
        return Finding(
            tool="trivy",
            rule_id=vuln_id,
            title=title,
            message=message,
            severity=severity,
            category=Category.DEPENDENCY,
            confidence=Confidence.HIGH,
            location=location,
            cwe=parse_cwe(shape.str_list(vuln.get("CweIDs"), f"{where}.CweIDs")),
            advisories=advisories,
            package=Package(ecosystem=ecosystem, name=name, version=version, fixed_versions=fixed),
            references=tuple(dict.fromkeys(references)),
            fix_hint=f"Upgrade {name} to {' or '.join(fixed)}" if fixed else None,
            raw=vuln,
        )

    def _misconfiguration(
        self, shape: Shape, mis: dict[str, Any], where: str, path: str | None, target: Target
    ) -> Finding | None:
        status = shape.opt_str(mis.get("Status"), f"{where}.Status")
        if status is not None and status.upper() != "FAIL":
            return None
        rule_id = shape.opt_str(mis.get("ID"), f"{where}.ID") or shape.opt_str(
            mis.get("AVDID"), f"{where}.AVDID"
        )
        if rule_id is None:
            raise shape.error(f"{where}.ID", "missing (neither ID nor AVDID is set)")
        # Trivy 0.59 renamed check ids from AVD-AWS-0086 to AWS-0086 (AVDID keeps the old
        # form): one spelling keeps baselines and fingerprints stable across versions.
        rule_id = rule_id.removeprefix("AVD-")
        title = shape.opt_str(mis.get("Title"), f"{where}.Title") or rule_id
        message = (
            shape.opt_str(mis.get("Message"), f"{where}.Message")
            or shape.opt_str(mis.get("Description"), f"{where}.Description")
            or title
        )
        cause = shape.opt_obj(mis.get("CauseMetadata"), f"{where}.CauseMetadata")
        start = shape.positive(cause.get("StartLine"), f"{where}.CauseMetadata.StartLine")
        end = shape.positive(cause.get("EndLine"), f"{where}.CauseMetadata.EndLine") or start
        resource = shape.opt_str(cause.get("Resource"), f"{where}.CauseMetadata.Resource")
        if resource and resource not in message:
            message = f"{message} ({resource})"
        location = None
        if path:
            snippet = _cause_lines(cause.get("Code"))
            if snippet is None and start is not None:
                snippet = target.snippet(path, start, end)
            location = Location(path=path, start_line=start, end_line=end, snippet=snippet)
        references = [
            *(r for r in [shape.opt_str(mis.get("PrimaryURL"), f"{where}.PrimaryURL")] if r),
            *shape.str_list(mis.get("References"), f"{where}.References"),
        ]
        return Finding(
            tool="trivy",
            rule_id=rule_id,
            title=title,
            message=message,
            severity=Severity.from_tool(
                "trivy", shape.opt_str(mis.get("Severity"), f"{where}.Severity")
            ),
            category=Category.IAC,
            confidence=Confidence.HIGH,
            location=location,
            references=tuple(dict.fromkeys(references)),
            fix_hint=shape.opt_str(mis.get("Resolution"), f"{where}.Resolution"),
            raw=mis,
        )

    def _secret(
        self,
        shape: Shape,
        sec: dict[str, Any],
        where: str,
        path: str | None,
        target_name: str | None,
    ) -> Finding:
        rule_id = shape.opt_str(sec.get("RuleID"), f"{where}.RuleID")
        if rule_id is None:
            raise shape.error(f"{where}.RuleID", "missing")
        title = shape.opt_str(sec.get("Title"), f"{where}.Title") or rule_id
        match = shape.opt_str(sec.get("Match"), f"{where}.Match")
        secret_hash = None
        snippet = None
        clear: str | None = None
        if match is not None:
            if _MASK.search(match):
                snippet = match.strip()
            else:
                clear = match.strip()
                snippet = redact(clear)
                secret_hash = salted_hash(clear)
        raw = {k: v for k, v in sec.items() if k not in ("Code", "Match")}
        if snippet is not None:
            raw["Match"] = snippet
        category = shape.opt_str(sec.get("Category"), f"{where}.Category")
        message = f"{title} ({category})" if category and category not in title else title
        if target_name:
            message += f" in {target_name}"
        if clear:
            message = redact_in(message, clear)
            title = redact_in(title, clear)
            raw = _scrub(raw, clear)
        start = shape.positive(sec.get("StartLine"), f"{where}.StartLine")
        end = shape.positive(sec.get("EndLine"), f"{where}.EndLine") or start
        location = (
            Location(path=path, start_line=start, end_line=end, snippet=snippet) if path else None
        )
        return Finding(
            tool="trivy",
            rule_id=rule_id,
            title=title,
            message=message,
            severity=Severity.from_tool(
                "trivy", shape.opt_str(sec.get("Severity"), f"{where}.Severity")
            ),
            category=Category.SECRET,
            confidence=Confidence.HIGH,
            location=location,
            cwe=(798,),
            fix_hint="Revoke and rotate the credential, then remove it from the repository "
            "(and its history)",
            secret_hash=secret_hash,
            raw=raw,
        )


def _ecosystem(rtype: str, purl: str | None) -> str:
    if rtype in TYPE_ECOSYSTEMS:
        return TYPE_ECOSYSTEMS[rtype]
    if purl and purl.startswith("pkg:"):
        kind = purl[4:].split("/", 1)[0].lower()
        if kind in PURL_TYPES:
            return PURL_TYPES[kind]
    return rtype or "unknown"


def _first_line(text: str | None) -> str | None:
    if not text:
        return None
    first = text.strip().splitlines()[0].strip()
    return first[:199] + "…" if len(first) > 200 else first


def _cause_lines(code: Any) -> str | None:
    """The lines Trivy marked as the cause of a misconfiguration."""
    lines = code.get("Lines") if isinstance(code, dict) else None
    if not isinstance(lines, list):
        return None
    picked: list[str] = [
        str(line["Content"])
        for line in lines
        if isinstance(line, dict) and line.get("IsCause") and isinstance(line.get("Content"), str)
    ]
    return "\n".join(picked) if picked else None


def _scrub(value: Any, secret: str) -> Any:
    if isinstance(value, str):
        return redact_in(value, secret)
    if isinstance(value, dict):
        return {k: _scrub(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secret) for v in value]
    return value
