"""Trivy JSON importer (hand-written fixtures: see tests/fixtures/importers/SOURCE.md)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from importer_support import fake_secrets

from turbosec.core.errors import ParseError
from turbosec.core.finding import Category, Confidence, Finding, Location, Package
from turbosec.core.secrets import matches_salted_hash, redact
from turbosec.core.severity import Severity
from turbosec.scan.importers.base import Imported
from turbosec.scan.importers.trivy import TrivyImporter
from turbosec.scan.target import Target


def by_rule(imported: Imported) -> dict[str, Finding]:
    return {f.rule_id: f for f in imported.findings}


def test_filesystem_report(load: Callable[[str], Imported]) -> None:
    imported = load("trivy-fs.json")
    assert (imported.tool, imported.version) == ("trivy", "0.70.0")
    assert [f.rule_id for f in imported.findings] == [
        "CVE-2023-30861",
        "CVE-2024-22195",
        "CVE-2021-23337",
        "AWS-0107",
        "AWS-0086",
        "AWS-0124",
        "github-pat",
    ]  # AWS-0104 has Status PASS: not a problem
    assert all(f.tool == "trivy" for f in imported.findings)


def test_vulnerabilities(load: Callable[[str], Imported]) -> None:
    found = by_rule(load("trivy-fs.json"))
    flask = found["CVE-2023-30861"]
    assert flask.category is Category.DEPENDENCY
    assert flask.severity is Severity.HIGH
    assert flask.confidence is Confidence.HIGH
    assert flask.package == Package(
        ecosystem="PyPI", name="flask", version="2.2.2", fixed_versions=("2.3.2", "2.2.5")
    )
    assert flask.advisories == ("CVE-2023-30861",)
    assert flask.cwe == (539,)
    assert flask.title == (
        "flask: Possible disclosure of permanent session cookie due to missing Vary: Cookie header"
    )
    assert flask.message.startswith("flask 2.2.2 is affected by CVE-2023-30861: ")
    assert flask.message.endswith("(fixed in 2.3.2, 2.2.5)")
    # the package's line comes from Results[].Packages[].Locations (--list-all-pkgs)
    assert flask.location == Location(path="requirements.txt", start_line=1)
    assert flask.references[0] == "https://avd.aquasec.com/nvd/cve-2023-30861"
    assert "https://github.com/advisories/GHSA-m2qf-hxjv-5gpq" in flask.references
    assert flask.fix_hint == "Upgrade flask to 2.3.2 or 2.2.5"

    jinja = found["CVE-2024-22195"]
    assert (jinja.severity, jinja.cwe) == (Severity.MEDIUM, (79,))
    assert jinja.package == Package("PyPI", "jinja2", "2.11.2", ("3.1.3",))
    assert jinja.location == Location(path="requirements.txt", start_line=2)

    lodash = found["CVE-2021-23337"]
    assert lodash.package == Package("npm", "lodash", "4.17.15", ("4.17.21",))
    assert lodash.cwe == (77, 94)
    assert lodash.location == Location(path="web/package-lock.json")


def test_misconfigurations(load: Callable[[str], Imported]) -> None:
    found = by_rule(load("trivy-fs.json"))
    ingress = found["AWS-0107"]
    assert ingress.category is Category.IAC
    assert ingress.severity is Severity.CRITICAL
    assert ingress.title == "An ingress security group rule allows traffic from /0."
    assert ingress.message == (
        "Security group rule allows unrestricted ingress from any IP "
        "address. (aws_security_group.ssh)"
    )
    assert ingress.fix_hint == "Set a more restrictive cidr range"
    # the snippet is the line Trivy marked as the cause
    assert ingress.location == Location(
        path="infra/main.tf", start_line=12, end_line=12, snippet='    cidr_blocks = ["0.0.0.0/0"]'
    )
    assert ingress.references == (
        "https://avd.aquasec.com/misconfig/aws-0107",
        "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/security-group-rules-reference.html",
    )
    bucket = found["AWS-0086"]
    assert (bucket.severity, bucket.fix_hint) == (
        Severity.HIGH,
        "Enable blocking any PUT calls with a public ACL specified",
    )
    assert bucket.location is not None
    assert (bucket.location.start_line, bucket.location.end_line) == (1, 3)
    described = found["AWS-0124"]
    assert described.severity is Severity.LOW
    # no cause lines in the report: the snippet is read from the file
    assert described.location is not None
    assert described.location.snippet is not None
    assert described.location.snippet.splitlines()[0] == "  ingress {"
    assert len(described.location.snippet.splitlines()) == 6


def test_old_check_ids_are_normalised(fixture_doc: Callable[[str], Any], target: Target) -> None:
    doc = fixture_doc("trivy-fs.json")
    doc["Results"][2]["Misconfigurations"][1]["ID"] = "AVD-AWS-0086"  # before Trivy 0.59
    found = by_rule(TrivyImporter().parse(doc, "old.json", target))
    assert "AWS-0086" in found


def test_secret_is_masked_and_context_lines_dropped(load: Callable[[str], Imported]) -> None:
    found = by_rule(load("trivy-fs.json"))
    pat = found["github-pat"]
    assert pat.category is Category.SECRET
    assert pat.severity is Severity.CRITICAL
    assert pat.title == "GitHub Personal Access Token"
    assert pat.message == "GitHub Personal Access Token in secrets/settings.py"
    assert pat.location == Location(
        path="secrets/settings.py",
        start_line=4,
        end_line=4,
        snippet='GITHUB_TOKEN = "' + "*" * 40 + '"',
    )
    assert pat.secret_hash is None  # Trivy never gave the value
    assert pat.raw is not None and "Code" not in pat.raw
    # Trivy's Code.Lines context shows line 5 (another fake secret) in clear: gone
    dumped = json.dumps([f.to_dict() for f in load("trivy-fs.json").findings])
    for secret in fake_secrets().values():
        assert secret not in dumped


def test_unmasked_match_is_redacted_and_hashed(
    fixture_doc: Callable[[str], Any], target: Target
) -> None:
    secret = fake_secrets()["github"]
    doc = fixture_doc("trivy-fs.json")
    leak = doc["Results"][3]["Secrets"][0]
    leak["Match"] = secret
    leak["Title"] = f"token {secret}"
    (finding,) = [
        f
        for f in TrivyImporter().parse(doc, "x.json", target).findings
        if f.category is Category.SECRET
    ]
    assert finding.location is not None
    assert finding.location.snippet == redact(secret)
    assert finding.secret_hash is not None
    assert matches_salted_hash(secret, finding.secret_hash)
    assert secret not in json.dumps(finding.to_dict())


def test_image_report(load: Callable[[str], Imported]) -> None:
    imported = load("trivy-image.json")
    found = by_rule(imported)
    assert list(found) == ["CVE-2023-4911", "CVE-2011-3374", "CVE-2024-6345"]
    glibc = found["CVE-2023-4911"]
    assert glibc.package == Package("Debian", "libc6", "2.36-9+deb12u1", ("2.36-9+deb12u3",))
    assert glibc.advisories == ("CVE-2023-4911", "DSA-5514-1")
    assert glibc.cwe == (787, 122)
    assert glibc.location is None  # an OS package is no file of the repository
    assert glibc.message.endswith("; found in shop-api:1.4.0 (debian 12.1)")
    apt = found["CVE-2011-3374"]
    assert (apt.severity, apt.package, apt.fix_hint) == (
        Severity.LOW,
        Package("Debian", "apt", "2.6.1", ()),
        None,
    )
    setuptools = found["CVE-2024-6345"]
    assert setuptools.package == Package("PyPI", "setuptools", "65.5.1", ("70.0.0",))
    assert setuptools.location is None
    assert setuptools.message.endswith(
        "; found in usr/local/lib/python3.11/site-packages/setuptools-65.5.1.dist-info/METADATA"
    )


def test_report_without_results(target: Target) -> None:
    doc = {
        "SchemaVersion": 2,
        "CreatedAt": "2026-11-27T21:40:00Z",
        "ArtifactName": ".",
        "ArtifactType": "filesystem",
    }
    assert TrivyImporter().detect(doc)
    assert TrivyImporter().parse(doc, "clean.json", target).findings == []


def test_ecosystem_from_purl_when_type_is_unknown(
    fixture_doc: Callable[[str], Any], target: Target
) -> None:
    doc = fixture_doc("trivy-fs.json")
    doc["Results"][1]["Type"] = "some-new-analyzer"
    found = by_rule(TrivyImporter().parse(doc, "x.json", target))
    assert found["CVE-2021-23337"].package == Package("npm", "lodash", "4.17.15", ("4.17.21",))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(SchemaVersion=1), "Trivy JSON schema version 1 is not supported"),
        (lambda d: d.update(Results={}), "Results: expected a list, found an object"),
        (lambda d: d["Results"].append(None), "Results[4]: expected an object, found null"),
        (
            lambda d: d["Results"][0]["Vulnerabilities"][0].pop("PkgName"),
            "Results[0].Vulnerabilities[0].PkgName: missing",
        ),
        (
            lambda d: d["Results"][0]["Vulnerabilities"][0].update(CweIDs="CWE-1"),
            "Results[0].Vulnerabilities[0].CweIDs: expected a list",
        ),
        (
            lambda d: d["Results"][2]["Misconfigurations"][0]["CauseMetadata"].update(StartLine=[]),
            "CauseMetadata.StartLine: expected a whole number",
        ),
    ],
)
def test_wrong_shapes(
    mutate: Callable[[dict[str, Any]], None],
    message: str,
    fixture_doc: Callable[[str], Any],
    target: Target,
) -> None:
    doc = copy.deepcopy(fixture_doc("trivy-fs.json"))
    mutate(doc)
    with pytest.raises(ParseError) as err:
        TrivyImporter().parse(doc, "trivy-fs.json", target)
    assert message in str(err.value)
    assert "trivy output trivy-fs.json" in str(err.value)


def test_detect() -> None:
    detect = TrivyImporter().detect
    assert detect({"SchemaVersion": 2, "Results": []})
    assert detect({"SchemaVersion": 1, "ArtifactName": "x"})
    assert not detect({"Results": []})
    assert not detect({"version": "2.1.0", "runs": []})
    assert not detect([])
