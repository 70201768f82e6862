"""osv-scanner JSON reports (``osv-scanner scan --format json``, v1 and v2).

The report lists ``results[]`` (one per scanned lockfile, ``source.path``), each with
``packages[]``: the package (``name``, ``version``, ``ecosystem``), the OSV records that
affect it (``vulnerabilities[]``) and ``groups[]`` that gather the ids naming one
vulnerability (``ids``, ``aliases``, ``max_severity``).

One dependency finding per group, so a CVE that is also a GHSA and a PYSEC record is one
finding whose advisories list every id (CVE first).  Severity is the group's
``max_severity`` (a CVSS base score, as osv-scanner computes it from the records); when
that is empty, the most severe ``database_specific.severity`` word (GHSA's LOW / MODERATE /
HIGH / CRITICAL) of the group's records; else medium.  Fixed versions are the ``fixed``
events of the ranges in the records' ``affected[]`` entries for this package (git commit
ranges are skipped).  Reports without ``groups`` (very old osv-scanner) get one group per
record.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from turbosec.core.finding import Category, Confidence, Finding, Location, Package, parse_cwe
from turbosec.core.fingerprint import canonical_package_name
from turbosec.core.severity import Severity
from turbosec.scan.importers.base import Imported, Importer
from turbosec.scan.importers.loader import Shape, repo_path
from turbosec.scan.target import Target

_PREFERENCE = ("CVE-", "GHSA-", "PYSEC-")
_MAX_REFERENCES = 20


class OsvScannerImporter(Importer):
    name: ClassVar[str] = "osv-scanner"
    description: ClassVar[str] = "osv-scanner JSON report"

    def detect(self, document: Any) -> bool:
        if not isinstance(document, dict) or "runs" in document:
            return False
        results = document.get("results")
        if not isinstance(results, list):
            return False
        if not results:
            return "experimental_config" in document or set(document) <= {"results"}
        return all(
            isinstance(r, dict)
            and ("packages" in r or "source" in r)
            and not any(k in r for k in ("test_id", "check_id", "issue_severity"))
            for r in results
        )

    def parse(self, document: Any, source: str, target: Target) -> Imported:
        shape = Shape(self.name, source)
        doc = shape.obj(document, "")
        findings: list[Finding] = []
        for r_index, raw in enumerate(shape.arr(doc.get("results"), "results")):
            where = f"results[{r_index}]"
            result = shape.obj(raw, where)
            src = shape.opt_obj(result.get("source"), f"{where}.source")
            src_path = shape.opt_str(src.get("path"), f"{where}.source.path")
            location = Location(path=repo_path(target, src_path)) if src_path else None
            for p_index, raw_pkg in enumerate(
                shape.opt_arr(result.get("packages"), f"{where}.packages")
            ):
                p_where = f"{where}.packages[{p_index}]"
                findings.extend(
                    self._package(shape, shape.obj(raw_pkg, p_where), p_where, src, location)
                )
        return Imported(findings=findings, tool="osv-scanner", version=None)

    def _package(
        self,
        shape: Shape,
        entry: dict[str, Any],
        where: str,
        src: dict[str, Any],
        location: Location | None,
    ) -> list[Finding]:
        pkg = shape.obj(entry.get("package"), f"{where}.package")
        name = shape.opt_str(pkg.get("name"), f"{where}.package.name") or shape.opt_str(
            pkg.get("commit"), f"{where}.package.commit"
        )
        if name is None:
            raise shape.error(f"{where}.package.name", "missing")
        version = shape.opt_str(pkg.get("version"), f"{where}.package.version")
        ecosystem = shape.opt_str(pkg.get("ecosystem"), f"{where}.package.ecosystem") or "GIT"

        records: dict[str, dict[str, Any]] = {}
        for i, raw in enumerate(
            shape.opt_arr(entry.get("vulnerabilities"), f"{where}.vulnerabilities")
        ):
            rec = shape.obj(raw, f"{where}.vulnerabilities[{i}]")
            rec_id = shape.opt_str(rec.get("id"), f"{where}.vulnerabilities[{i}].id")
            if rec_id is None:
                raise shape.error(f"{where}.vulnerabilities[{i}].id", "missing")
            records.setdefault(rec_id, rec)

        raw_groups = entry.get("groups")
        if raw_groups is None:
            groups: list[dict[str, Any]] = [{"ids": [rid]} for rid in records]
        else:
            groups = [
                shape.obj(g, f"{where}.groups[{i}]")
                for i, g in enumerate(shape.arr(raw_groups, f"{where}.groups"))
            ]

        out: list[Finding] = []
        for g_index, group in enumerate(groups):
            g_where = f"{where}.groups[{g_index}]"
            ids = shape.str_list(group.get("ids"), f"{g_where}.ids")
            if not ids:
                raise shape.error(f"{g_where}.ids", "a group names no vulnerability id")
            aliases = shape.str_list(group.get("aliases"), f"{g_where}.aliases")
            members = [records[i] for i in ids if i in records]
            for rec in members:
                aliases.extend(a for a in _strings(rec.get("aliases")))
            advisories = _ordered(ids + aliases)
            rule_id = advisories[0]
            out.append(
                self._finding(
                    shape,
                    g_where,
                    rule_id,
                    advisories,
                    members,
                    group,
                    name,
                    version,
                    ecosystem,
                    src,
                    location,
                    pkg,
                )
            )
        return out

    def _finding(
        self,
        shape: Shape,
        where: str,
        rule_id: str,
        advisories: list[str],
        members: list[dict[str, Any]],
        group: dict[str, Any],
        name: str,
        version: str | None,
        ecosystem: str,
        src: dict[str, Any],
        location: Location | None,
        pkg: dict[str, Any],
    ) -> Finding:
        own = next((r for r in members if r.get("id") == rule_id), None)
        ordered = ([own] if own else []) + [r for r in members if r is not own]
        summary = next((s for r in ordered if (s := _text(r.get("summary")))), None)
        if summary is None:
            summary = next(
                (s.splitlines()[0] for r in ordered if (s := _text(r.get("details")))), None
            )
        title = summary or rule_id
        fixed = _fixed_versions(members, name, ecosystem)
        installed = f"{name} {version}" if version else name
        message = f"{installed} is affected by {rule_id}: {title}"
        if fixed:
            message += f" (fixed in {', '.join(fixed)})"
        references: list[str] = []
        for rec in ordered:
            refs = rec.get("references")
            for ref in refs if isinstance(refs, list) else []:
                url = ref.get("url") if isinstance(ref, dict) else None
                if isinstance(url, str) and url.startswith(("http://", "https://")):
                    references.append(url)
        cwe_values: list[object] = []
        for rec in members:
            spec = rec.get("database_specific")
            if isinstance(spec, dict):
                cwe_values.append(spec.get("cwe_ids"))
        return Finding(
            tool="osv-scanner",
            rule_id=rule_id,
            title=title,
            message=message,
            severity=_severity(shape, group, members, where),
            category=Category.DEPENDENCY,
            confidence=Confidence.HIGH,
            location=location,
            cwe=parse_cwe(cwe_values),
            advisories=tuple(advisories),
            package=Package(ecosystem=ecosystem, name=name, version=version, fixed_versions=fixed),
            references=tuple(dict.fromkeys(references))[:_MAX_REFERENCES],
            fix_hint=f"Upgrade {name} to {' or '.join(fixed)}" if fixed else None,
            raw={
                "source": src,
                "package": pkg,
                "group": group,
                "vulnerabilities": [r.get("id") for r in members],
            },
        )


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str) and v.strip()] if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _ordered(ids: list[str]) -> list[str]:
    """Unique ids, CVE first, then GHSA, then PYSEC, then the rest in report order."""
    unique = list(dict.fromkeys(i.strip() for i in ids if i.strip()))

    def rank(item: tuple[int, str]) -> tuple[int, int]:
        index, ident = item
        for r, prefix in enumerate(_PREFERENCE):
            if ident.upper().startswith(prefix):
                return (r, index)
        return (len(_PREFERENCE), index)

    return [ident for _, ident in sorted(enumerate(unique), key=rank)]


def _severity(
    shape: Shape, group: dict[str, Any], members: list[dict[str, Any]], where: str
) -> Severity:
    text = shape.opt_str(group.get("max_severity"), f"{where}.max_severity")
    if text is not None:
        try:
            score = float(text)
        except ValueError:
            score = math.nan
        if not math.isnan(score) and 0.0 <= score <= 10.0:
            return Severity.from_cvss(score)
    found: list[Severity] = []
    for rec in members:
        spec = rec.get("database_specific")
        word = spec.get("severity") if isinstance(spec, dict) else None
        if isinstance(word, str) and word.strip():
            found.append(Severity.from_tool("osv", word))
        entries = rec.get("severity")
        for entry in entries if isinstance(entries, list) else []:
            score_text = entry.get("score") if isinstance(entry, dict) else None
            if not isinstance(score_text, str):
                continue
            try:
                value = float(score_text)
            except ValueError:
                continue  # a CVSS vector: osv-scanner already turned it into max_severity
            if 0.0 <= value <= 10.0:
                found.append(Severity.from_cvss(value))
    return max(found) if found else Severity.MEDIUM


def _fixed_versions(records: list[dict[str, Any]], name: str, ecosystem: str) -> tuple[str, ...]:
    want_name = canonical_package_name(ecosystem, name)
    want_eco = ecosystem.split(":", 1)[0].strip().lower()
    fixed: list[str] = []
    for rec in records:
        affected = rec.get("affected")
        for aff in affected if isinstance(affected, list) else []:
            if not isinstance(aff, dict):
                continue
            apkg = aff.get("package")
            if isinstance(apkg, dict):
                aname = apkg.get("name")
                aeco = apkg.get("ecosystem")
                if isinstance(aname, str) and canonical_package_name(ecosystem, aname) != want_name:
                    continue
                if isinstance(aeco, str) and aeco.split(":", 1)[0].strip().lower() != want_eco:
                    continue
            ranges = aff.get("ranges")
            for rng in ranges if isinstance(ranges, list) else []:
                if not isinstance(rng, dict) or rng.get("type") == "GIT":
                    continue
                events = rng.get("events")
                for event in events if isinstance(events, list) else []:
                    value = event.get("fixed") if isinstance(event, dict) else None
                    if isinstance(value, str) and value.strip():
                        fixed.append(value.strip())
    return tuple(dict.fromkeys(fixed))
