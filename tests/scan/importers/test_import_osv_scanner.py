"""osv-scanner JSON importer (hand-written fixture: see tests/fixtures/importers/SOURCE.md)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from turbosec.core.errors import ParseError
from turbosec.core.finding import Category, Confidence, Finding, Location, Package
from turbosec.core.severity import Severity
from turbosec.scan.importers.base import Imported
from turbosec.scan.importers.osv_scanner import OsvScannerImporter
from turbosec.scan.target import Target


def by_rule(findings: list[Finding]) -> dict[str, Finding]:
    return {f.rule_id: f for f in findings}


def parse(doc: Any, target: Target) -> list[Finding]:
    return OsvScannerImporter().parse(doc, "osv.json", target).findings


def test_one_finding_per_group(load: Callable[[str], Imported]) -> None:
    imported = load("osv-scanner.json")
    assert (imported.tool, imported.version) == ("osv-scanner", None)
    assert [f.rule_id for f in imported.findings] == [
        "CVE-2023-30861",
        "CVE-2020-28493",
        "CVE-2024-22195",
        "CVE-2021-23337",
        "CVE-2020-8203",
        "CVE-2023-39325",
    ]
    assert all(
        f.tool == "osv-scanner"
        and f.category is Category.DEPENDENCY
        and f.confidence is Confidence.HIGH
        for f in imported.findings
    )


def test_flask_group_merges_ghsa_pysec_and_cve(load: Callable[[str], Imported]) -> None:
    flask = by_rule(load("osv-scanner.json").findings)["CVE-2023-30861"]
    assert flask.advisories == ("CVE-2023-30861", "GHSA-m2qf-hxjv-5gpq", "PYSEC-2023-62")
    assert flask.severity is Severity.HIGH  # max_severity 7.5
    # fixed events of both ranges; the GIT range's commit hash is not a version
    assert flask.package == Package("PyPI", "flask", "2.2.2", ("2.3.2", "2.2.5"))
    assert flask.cwe == (539,)
    assert flask.title == (
        "Flask vulnerable to possible disclosure of permanent session "
        "cookie due to missing Vary: Cookie header"
    )
    assert flask.message == (
        f"flask 2.2.2 is affected by CVE-2023-30861: {flask.title} (fixed in 2.3.2, 2.2.5)"
    )
    # /home/runner/work/shop/shop/requirements.txt from the CI machine → the repository file
    assert flask.location == Location(path="requirements.txt")
    assert flask.fix_hint == "Upgrade flask to 2.3.2 or 2.2.5"
    assert flask.references[0] == (
        "https://github.com/pallets/flask/security/advisories/GHSA-m2qf-hxjv-5gpq"
    )
    assert flask.raw is not None
    assert flask.raw["vulnerabilities"] == ["GHSA-m2qf-hxjv-5gpq", "PYSEC-2023-62"]


def test_other_packages(load: Callable[[str], Imported]) -> None:
    found = by_rule(load("osv-scanner.json").findings)
    redos = found["CVE-2020-28493"]
    assert (redos.severity, redos.cwe) == (Severity.MEDIUM, (400,))  # 5.3
    assert redos.advisories == ("CVE-2020-28493", "GHSA-g3rq-g295-4j3m", "PYSEC-2021-66")
    assert redos.package == Package("PyPI", "jinja2", "2.11.2", ("2.11.3",))
    xmlattr = found["CVE-2024-22195"]
    assert (xmlattr.severity, xmlattr.cwe) == (Severity.MEDIUM, (79,))
    assert xmlattr.package == Package("PyPI", "jinja2", "2.11.2", ("3.1.3",))

    template = found["CVE-2021-23337"]
    assert template.severity is Severity.HIGH  # 7.2
    # lodash.template (another package of the same record) contributes nothing
    assert template.package == Package("npm", "lodash", "4.17.15", ("4.17.21",))
    assert template.location == Location(path="web/package-lock.json")
    assert found["CVE-2020-8203"].package == Package("npm", "lodash", "4.17.15", ("4.17.19",))
    assert found["CVE-2020-8203"].cwe == (1321, 770)

    rapid = found["CVE-2023-39325"]
    assert rapid.advisories == ("CVE-2023-39325", "GHSA-4374-p667-p6c8", "GO-2023-2102")
    # the record also names Go's stdlib (fixed 1.20.10): only golang.org/x/net counts
    assert rapid.package == Package("Go", "golang.org/x/net", "0.15.0", ("0.17.0",))
    assert rapid.location == Location(path="go.mod")


def test_severity_without_max_severity(fixture_doc: Callable[[str], Any], target: Target) -> None:
    doc = fixture_doc("osv-scanner.json")
    jinja = doc["results"][0]["packages"][1]
    jinja["groups"][0]["max_severity"] = ""
    go = doc["results"][2]["packages"][0]
    go["vulnerabilities"] = go["vulnerabilities"][:1]  # only GO-2023-2102: no severity at all
    go["groups"] = [{"ids": ["GO-2023-2102"], "aliases": ["CVE-2023-39325"]}]
    found = by_rule(parse(doc, target))
    assert found["CVE-2020-28493"].severity is Severity.MEDIUM  # GHSA "MODERATE"
    assert found["CVE-2023-39325"].severity is Severity.MEDIUM  # unknown: never dropped
    jinja["groups"][0]["max_severity"] = None
    jinja["vulnerabilities"][0]["database_specific"]["severity"] = "CRITICAL"
    assert by_rule(parse(doc, target))["CVE-2020-28493"].severity is Severity.CRITICAL


def test_report_without_groups(fixture_doc: Callable[[str], Any], target: Target) -> None:
    doc = fixture_doc("osv-scanner.json")
    for result in doc["results"]:
        for package in result["packages"]:
            del package["groups"]
    findings = parse(doc, target)
    assert len(findings) == 9  # one per record
    assert findings[0].advisories == ("CVE-2023-30861", "GHSA-m2qf-hxjv-5gpq", "PYSEC-2023-62")


def test_path_outside_the_target_is_kept(fixture_doc: Callable[[str], Any], tmp_path: Path) -> None:
    findings = parse(fixture_doc("osv-scanner.json"), Target.open(tmp_path))
    assert findings[0].location == Location(path="/home/runner/work/shop/shop/requirements.txt")


def test_empty_report(target: Target) -> None:
    doc = {"results": [], "experimental_config": {"licenses": {"summary": False}}}
    assert OsvScannerImporter().detect(doc)
    assert parse(doc, target) == []


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(results="x"), "results: expected a list, found a string"),
        (
            lambda d: d["results"][0]["packages"][0]["package"].pop("name"),
            "results[0].packages[0].package.name: missing",
        ),
        (
            lambda d: d["results"][0]["packages"][0].update(groups={}),
            "results[0].packages[0].groups: expected a list",
        ),
        (
            lambda d: d["results"][0]["packages"][0]["groups"][0].update(ids=[]),
            "results[0].packages[0].groups[0].ids: a group names no vulnerability id",
        ),
        (
            lambda d: d["results"][1]["packages"][0]["vulnerabilities"][0].pop("id"),
            "results[1].packages[0].vulnerabilities[0].id: missing",
        ),
    ],
)
def test_wrong_shapes(
    mutate: Callable[[dict[str, Any]], None],
    message: str,
    fixture_doc: Callable[[str], Any],
    target: Target,
) -> None:
    doc = copy.deepcopy(fixture_doc("osv-scanner.json"))
    mutate(doc)
    with pytest.raises(ParseError) as err:
        parse(doc, target)
    assert message in str(err.value)
    assert "osv-scanner output osv.json" in str(err.value)


def test_detect() -> None:
    detect = OsvScannerImporter().detect
    assert detect({"results": [{"source": {"path": "x"}, "packages": []}]})
    assert detect({"results": []})
    # bandit's and semgrep's JSON also have "results"
    assert not detect(
        {"results": [{"test_id": "B101", "issue_severity": "LOW"}], "errors": [], "metrics": {}}
    )
    assert not detect({"results": [], "errors": [], "paths": {"scanned": []}, "version": "1"})
    assert not detect({"version": "2.1.0", "runs": [], "results": []})
