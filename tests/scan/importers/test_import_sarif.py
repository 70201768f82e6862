"""SARIF 2.1.0 importer: real captures from semgrep, bandit, checkov, zizmor and gitleaks."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from importer_support import SRC, fake_secrets

from turbosec.core.errors import ParseError
from turbosec.core.finding import Category, Confidence, Finding, Location, Package
from turbosec.core.secrets import matches_salted_hash
from turbosec.core.severity import Severity
from turbosec.scan.importers.base import Imported
from turbosec.scan.importers.loader import load_import
from turbosec.scan.importers.sarif import SarifImporter, tool_name
from turbosec.scan.target import Target


def by_rule(imported: Imported) -> dict[str, Finding]:
    return {f.rule_id: f for f in imported.findings}


def parse(document: Any, target: Target) -> list[Finding]:
    return SarifImporter().parse(document, "inline.sarif", target).findings


def sarif(
    results: list[dict[str, Any]],
    *,
    rules: list[dict[str, Any]] | None = None,
    name: str = "ExampleTool",
    **run: Any,
) -> dict[str, Any]:
    driver: dict[str, Any] = {"name": name, "rules": rules or []}
    return {"version": "2.1.0", "runs": [{"tool": {"driver": driver}, "results": results, **run}]}


def result(
    rule_id: str = "R1", uri: str = "py/app.py", line: int = 10, **extra: Any
) -> dict[str, Any]:
    return {
        "ruleId": rule_id,
        "message": {"text": "something is wrong"},
        "locations": [
            {"physicalLocation": {"artifactLocation": {"uri": uri}, "region": {"startLine": line}}}
        ],
        **extra,
    }


# -- real captures ------------------------------------------------------------------------


def test_semgrep_capture(load: Callable[[str], Imported]) -> None:
    imported = load("semgrep.sarif")
    assert (imported.tool, imported.version) == ("semgrep", "1.185.0")
    assert [f.rule_id for f in imported.findings] == [
        "subprocess-shell-true",
        "insecure-hash-md5",
        "eval-call",
    ]
    found = by_rule(imported)

    shell = found["subprocess-shell-true"]
    assert shell.tool == "semgrep"
    assert shell.category is Category.SAST
    assert shell.severity is Severity.HIGH  # level error
    assert shell.confidence is Confidence.HIGH  # tag "HIGH CONFIDENCE"
    assert shell.cwe == (78,)
    # "Semgrep Finding: subprocess-shell-true" only repeats the id: the description is the title
    assert shell.title == "subprocess called with shell=True; pass an argument list instead"
    assert shell.message == "subprocess called with shell=True; pass an argument list instead"
    assert shell.location == Location(
        path="py/app.py",
        start_line=10,
        start_column=12,
        end_line=10,
        end_column=44,
        snippet="    return subprocess.call(cmd, shell=True)",
    )

    md5 = found["insecure-hash-md5"]
    assert (md5.severity, md5.confidence, md5.cwe) == (Severity.MEDIUM, Confidence.MEDIUM, (327,))
    assert md5.location is not None and md5.location.start_line == 18

    ev = found["eval-call"]
    assert (ev.severity, ev.cwe) == (Severity.LOW, (95,))  # level note
    assert ev.location is not None
    loc = ev.location
    assert (loc.start_line, loc.start_column, loc.end_column) == (22, 12, 22)
    assert all(f.fix_hint is None for f in imported.findings)  # help text == message


def test_bandit_capture(load: Callable[[str], Imported]) -> None:
    imported = load("bandit.sarif")
    assert (imported.tool, imported.version) == ("bandit", "1.9.4")
    assert [f.rule_id for f in imported.findings] == ["B404", "B602", "B506", "B324", "B307"]
    found = by_rule(imported)
    assert {k: f.severity for k, f in found.items()} == {
        "B404": Severity.LOW,
        "B602": Severity.HIGH,
        "B506": Severity.MEDIUM,
        "B324": Severity.HIGH,
        "B307": Severity.MEDIUM,
    }
    assert {k: f.cwe for k, f in found.items()} == {
        "B404": (78,),
        "B602": (78,),
        "B506": (20,),
        "B324": (327,),
        "B307": (78,),
    }
    assert all(f.confidence is Confidence.HIGH for f in imported.findings)  # issue_confidence
    assert all(f.category is Category.SAST and f.tool == "bandit" for f in imported.findings)

    b404 = found["B404"]
    # bandit names B404 and B307 both "blacklist": no title, so the message serves
    assert b404.title == (
        "Consider possible security implications associated with the subprocess module."
    )
    assert b404.references == (
        "https://bandit.readthedocs.io/en/1.9.4/blacklists/"
        "blacklist_imports.html#b404-import-subprocess",
    )
    # bandit's snippet ends with a newline; it is dropped
    assert b404.location == Location(
        path="py/app.py",
        start_line=4,
        start_column=1,
        end_line=4,
        end_column=18,
        snippet="import subprocess",
    )
    assert found["B602"].title == "subprocess call with shell=True identified, security issue."
    assert found["B506"].location is not None and found["B506"].location.start_line == 14


def test_checkov_capture(load: Callable[[str], Imported]) -> None:
    imported = load("checkov.sarif")
    assert (imported.tool, imported.version) == ("checkov", "3.3.30")
    assert sorted(f.rule_id for f in imported.findings) == sorted(
        [
            "CKV_AWS_24",
            "CKV_AWS_23",
            "CKV2_AWS_6",
            "CKV2_AWS_62",
            "CKV2_AWS_5",
            "CKV_AWS_18",
            "CKV2_AWS_61",
            "CKV_AWS_145",
            "CKV_AWS_144",
            "CKV_AWS_21",
        ]
    )
    assert all(f.category is Category.IAC for f in imported.findings)
    assert all(f.severity is Severity.HIGH for f in imported.findings)  # level error
    ssh = by_rule(imported)["CKV_AWS_24"]
    assert ssh.title == "Ensure no security groups allow ingress from 0.0.0.0:0 to port 22"
    assert ssh.location is not None
    assert (ssh.location.path, ssh.location.start_line, ssh.location.end_line) == (
        "infra/main.tf",
        5,
        14,
    )
    assert ssh.location.snippet is not None
    assert ssh.location.snippet.startswith('resource "aws_security_group" "ssh" {')
    assert ssh.fix_hint is None  # help text only repeats the title (plus the resource)
    bucket = by_rule(imported)["CKV2_AWS_6"]
    assert bucket.location is not None
    assert (bucket.location.start_line, bucket.location.end_line) == (1, 3)


def test_zizmor_capture(load: Callable[[str], Imported]) -> None:
    imported = load("zizmor.sarif")
    assert (imported.tool, imported.version) == ("zizmor", "1.32.0")
    found = by_rule(imported)
    assert sorted(found) == [
        "zizmor/artipacked",
        "zizmor/dangerous-triggers",
        "zizmor/excessive-permissions",
        "zizmor/template-injection",
        "zizmor/unpinned-uses",
    ]
    assert all(f.category is Category.PIPELINE for f in imported.findings)
    art = found["zizmor/artipacked"]
    assert art.title == "credential persistence through GitHub Actions artifacts"
    assert art.message == (
        "credential persistence through GitHub Actions artifacts: does not "
        "set persist-credentials: false"
    )
    assert (art.severity, art.confidence) == (Severity.MEDIUM, Confidence.LOW)
    assert art.references == ("https://docs.zizmor.sh/audits/#artipacked",)
    assert found["zizmor/dangerous-triggers"].severity is Severity.HIGH
    assert found["zizmor/template-injection"].severity is Severity.HIGH
    pinned = found["zizmor/unpinned-uses"]
    assert pinned.location == Location(
        path=".github/workflows/ci.yml",
        start_line=8,
        start_column=15,
        end_line=8,
        end_column=34,
        snippet="actions/checkout@v4",
    )


def test_gitleaks_sarif_keeps_no_secret(load: Callable[[str], Imported]) -> None:
    secrets = fake_secrets()
    imported = load("gitleaks.sarif")
    assert imported.tool == "gitleaks"
    found = by_rule(imported)
    assert sorted(found) == ["generic-api-key", "github-pat"]
    pat = found["github-pat"]
    assert pat.category is Category.SECRET
    assert pat.severity is Severity.CRITICAL  # no level at all: a leak is critical
    assert pat.location is not None
    assert pat.location.path == "secrets/settings.py"
    assert pat.location.start_line == 4
    assert pat.location.snippet == "ghp_" + "*" * 34 + secrets["github"][-2:]
    assert pat.secret_hash is not None
    assert matches_salted_hash(secrets["github"], pat.secret_hash)
    dumped = json.dumps([f.to_dict() for f in imported.findings])
    for secret in secrets.values():
        assert secret not in dumped
    assert "snippet" not in json.dumps(pat.raw)


# -- behaviour on crafted documents --------------------------------------------------------


def test_rejects_other_sarif_versions(
    write_doc: Callable[..., Path], target: Target, fixture_doc: Callable[[str], Any]
) -> None:
    doc = fixture_doc("semgrep.sarif")
    for version in ("2.0.0", "1.0.0", "2.1.0-rtm.5"):
        doc["version"] = version
        with pytest.raises(ParseError) as err:
            load_import(str(write_doc(doc)), target)
        text = str(err.value)
        assert f"SARIF version '{version}' is not supported" in text
        assert "2.1.0" in text and "report.json" in text and err.value.tool == "sarif"
    del doc["version"]
    doc["$schema"] = "https://json.schemastore.org/sarif-2.1.0.json"
    with pytest.raises(ParseError, match="SARIF no version is not supported"):
        load_import(str(write_doc(doc)), target)


def test_codeql_style_extension_rules_and_security_severity(target: Target) -> None:
    doc = {
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {"name": "CodeQL", "semanticVersion": "2.19.0"},
                    "extensions": [
                        {
                            "name": "codeql/python-queries",
                            "rules": [
                                {
                                    "id": "py/unused-import",
                                    "shortDescription": {"text": "Unused import"},
                                },
                                {
                                    "id": "py/sql-injection",
                                    "name": "py/sql-injection",
                                    "shortDescription": {
                                        "text": "SQL query built from user-controlled sources"
                                    },
                                    "help": {
                                        "text": "# SQL query built from user-controlled sources\n\n"
                                        "Use parameterized queries instead of building "
                                        "SQL strings.\n\n## References\n..."
                                    },
                                    "helpUri": "https://codeql.github.com/codeql-query-help/python/"
                                    "py-sql-injection/",
                                    "properties": {
                                        "tags": ["security", "external/cwe/cwe-089"],
                                        "precision": "high",
                                        "security-severity": "8.8",
                                    },
                                },
                            ],
                        }
                    ],
                },
                "results": [
                    {
                        "ruleId": "py/sql-injection",
                        "rule": {
                            "id": "py/sql-injection",
                            "index": 1,
                            "toolComponent": {"index": 0},
                        },
                        "ruleIndex": 1,
                        "message": {
                            "text": "This SQL query depends on a [user-provided value](1)."
                        },
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {
                                        "uri": "py/app.py",
                                        "uriBaseId": "%SRCROOT%",
                                        "index": 0,
                                    },
                                    "region": {"startLine": 22, "startColumn": 12, "endColumn": 22},
                                }
                            }
                        ],
                    }
                ],
            }
        ],
    }
    (finding,) = parse(doc, target)
    assert finding.tool == "codeql"
    assert finding.rule_id == "py/sql-injection"
    assert finding.title == "SQL query built from user-controlled sources"
    assert finding.severity is Severity.HIGH  # security-severity 8.8 beats the level
    assert finding.confidence is Confidence.HIGH  # precision high
    assert finding.cwe == (89,)
    assert finding.category is Category.SAST
    assert finding.fix_hint == "Use parameterized queries instead of building SQL strings."
    assert finding.references == (
        "https://codeql.github.com/codeql-query-help/python/py-sql-injection/",
    )
    # no snippet in the region: read from the target; endLine defaults to startLine
    assert finding.location == Location(
        path="py/app.py",
        start_line=22,
        start_column=12,
        end_line=22,
        end_column=22,
        snippet="    return eval(expr)",
    )


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        ("9.1", Severity.CRITICAL),
        (7.0, Severity.HIGH),
        ("4.0", Severity.MEDIUM),
        ("0.1", Severity.LOW),
        ("not a number", Severity.HIGH),
        ("42", Severity.HIGH),
    ],
)
def test_security_severity_score(score: object, expected: Severity, target: Target) -> None:
    rules = [
        {
            "id": "R1",
            "properties": {"security-severity": score},
            "defaultConfiguration": {"level": "error"},
        }
    ]
    (finding,) = parse(sarif([result()], rules=rules), target)
    assert finding.severity is expected  # invalid scores fall back to the level (error)


def test_level_and_defaults(target: Target) -> None:
    rules: list[dict[str, Any]] = [
        {"id": "R1", "defaultConfiguration": {"level": "note"}},
        {"id": "R2"},
    ]
    findings = parse(
        sarif(
            [result("R1"), result("R1", level="error"), result("R2"), result("R2", level="none")],
            rules=rules,
        ),
        target,
    )
    assert [f.severity for f in findings] == [
        Severity.LOW,
        Severity.HIGH,
        Severity.MEDIUM,
        Severity.INFO,
    ]


def test_hierarchical_rule_id_and_message_strings(target: Target) -> None:
    rules = [
        {
            "id": "CA2101",
            "shortDescription": {"text": "Specify marshaling for P/Invoke string arguments"},
            "messageStrings": {"default": {"text": "Marshal {0} as {1} in {2}"}},
            "helpUri": "https://learn.microsoft.com/dotnet/ca2101",
        }
    ]
    res = result("CA2101/suffix", message={"id": "default", "arguments": ["name", "LPWStr"]})
    (finding,) = parse(sarif([res], rules=rules, name="Microsoft.CodeAnalysis"), target)
    assert finding.rule_id == "CA2101/suffix"
    assert finding.title == "Specify marshaling for P/Invoke string arguments"
    assert finding.message == "Marshal name as LPWStr in {2}"
    assert finding.references == ("https://learn.microsoft.com/dotnet/ca2101",)
    assert finding.tool == "microsoft.codeanalysis"


def test_uri_base_ids_file_uris_and_artifact_index(tmp_path: Path) -> None:
    root = tmp_path / "my repo"
    (root / "src dir").mkdir(parents=True)
    (root / "src dir" / "mod.py").write_text("a = 1\nb = eval(x)\n")
    target = Target.open(root)
    base = root.as_uri() + "/"
    doc = sarif(
        [
            result(uri="src%20dir/mod.py", line=2)
            | {
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": "src%20dir/mod.py", "uriBaseId": "SRCROOT"},
                            "region": {"startLine": 2},
                        }
                    }
                ]
            },
            result()
            | {
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": (root / "src dir" / "mod.py").as_uri()},
                            "region": {"startLine": 1},
                        }
                    }
                ]
            },
            result()
            | {
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"index": 0},
                            "region": {"startLine": 2},
                        }
                    }
                ]
            },
            result()
            | {
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": "mod.py", "uriBaseId": "SUB"}
                        }
                    }
                ]
            },
        ],
        originalUriBaseIds={
            "SRCROOT": {"uri": base},
            "SUB": {"uri": "src%20dir/", "uriBaseId": "SRCROOT"},
        },
        artifacts=[{"location": {"uri": "src%20dir/mod.py", "uriBaseId": "SRCROOT"}}],
    )
    findings = parse(doc, target)
    assert [f.location.path if f.location else None for f in findings] == ["src dir/mod.py"] * 4
    assert findings[0].location is not None
    assert findings[0].location.snippet == "b = eval(x)"
    assert findings[3].location is not None and findings[3].location.start_line is None


def test_results_that_are_not_problems_are_skipped(target: Target) -> None:
    findings = parse(
        sarif(
            [
                result("KEEP"),
                result("PASS", kind="pass"),
                result("NA", kind="notApplicable"),
                result("SUPPRESSED", suppressions=[{"kind": "inSource"}]),
                result("ACCEPTED", suppressions=[{"kind": "external", "status": "accepted"}]),
                result("REVIEW", suppressions=[{"kind": "external", "status": "underReview"}]),
                result("GONE", baselineState="absent"),
            ]
        ),
        target,
    )
    assert [f.rule_id for f in findings] == ["KEEP", "REVIEW"]


def test_dependency_result_names_its_package(target: Target) -> None:
    text = (
        "Package: flask\nInstalled Version: 2.2.2\nVulnerability CVE-2023-30861\n"
        "Severity: HIGH\nFixed Version: 2.3.2, 2.2.5\nLink: [CVE-2023-30861](https://avd."
        "aquasec.com/nvd/cve-2023-30861)"
    )
    rules = [
        {
            "id": "CVE-2023-30861",
            "name": "LanguageSpecificPackageVulnerability",
            "shortDescription": {"text": "flask: Possible disclosure of permanent session cookie"},
            "properties": {
                "tags": ["vulnerability", "security", "HIGH"],
                "security-severity": "7.5",
            },
        }
    ]
    res = result(
        "CVE-2023-30861", uri="requirements.txt", line=1, message={"text": text}, ruleIndex=0
    )
    (finding,) = parse(sarif([res], rules=rules, name="Trivy"), target)
    assert finding.category is Category.DEPENDENCY
    assert finding.advisories == ("CVE-2023-30861",)
    assert finding.package == Package(
        ecosystem="PyPI", name="flask", version="2.2.2", fixed_versions=("2.3.2", "2.2.5")
    )
    assert finding.severity is Severity.HIGH


def test_categories_by_tool_and_tags(target: Target) -> None:
    def category(tool: str, tags: list[str], rule_id: str = "R1") -> Category:
        rules = [{"id": rule_id, "properties": {"tags": tags}}]
        (finding,) = parse(sarif([result(rule_id)], rules=rules, name=tool), target)
        return finding.category

    assert category("KICS", []) is Category.IAC
    assert category("tfsec", []) is Category.IAC
    assert category("Trivy", ["misconfiguration"], "AVD-AWS-0086") is Category.IAC
    assert category("actionlint", []) is Category.PIPELINE
    assert category("Semgrep OSS", ["secrets"]) is Category.SECRET
    assert category("Semgrep OSS", ["CWE-798: Use of Hard-coded Credentials"]) is Category.SECRET
    assert category("Grype", [], "CVE-2021-23337-lodash") is Category.DEPENDENCY
    assert category("ESLint", ["security"]) is Category.SAST


def test_secret_result_with_a_line_snippet_keeps_no_snippet(target: Target) -> None:
    secret = fake_secrets()["api_key"]
    res = result("hardcoded-key", uri="secrets/settings.py", line=5)
    res["locations"][0]["physicalLocation"]["region"]["snippet"] = {
        "text": f'PAYMENTS_API_KEY = "{secret}"'
    }
    res["locations"][0]["physicalLocation"]["contextRegion"] = {
        "startLine": 4,
        "endLine": 6,
        "snippet": {"text": f'X\nPAYMENTS_API_KEY = "{secret}"\n'},
    }
    rules = [
        {
            "id": "hardcoded-key",
            "properties": {"tags": ["secret"]},
            "defaultConfiguration": {"level": "error"},
        }
    ]
    (finding,) = parse(sarif([res], rules=rules, name="Semgrep OSS"), target)
    assert finding.category is Category.SECRET
    assert finding.location is not None and finding.location.snippet is None
    assert finding.severity is Severity.HIGH
    assert secret not in json.dumps(finding.to_dict())


def test_multiple_runs(fixture_doc: Callable[[str], Any], target: Target) -> None:
    doc = fixture_doc("semgrep.sarif")
    doc["runs"].extend(fixture_doc("bandit.sarif")["runs"])
    imported = SarifImporter().parse(doc, "both.sarif", target)
    assert imported.tool == "semgrep,bandit"
    assert imported.version is None  # two versions
    assert [f.tool for f in imported.findings] == ["semgrep"] * 3 + ["bandit"] * 5


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d.update(runs={"a": 1}), "runs: expected a list"),
        (lambda d: d["runs"].append(7), "runs[1]: expected an object"),
        (lambda d: d["runs"][0]["tool"]["driver"].pop("name"), "runs[0].tool.driver.name: missing"),
        (lambda d: d["runs"][0]["results"].append("x"), "runs[0].results[3]: expected an object"),
        (
            lambda d: d["runs"][0]["results"][0].update(locations={}),
            "runs[0].results[0].locations: expected a list",
        ),
        (
            lambda d: d["runs"][0]["results"][0]["locations"][0]["physicalLocation"][
                "region"
            ].update(startLine="ten"),
            "region.startLine: expected a whole number",
        ),
    ],
)
def test_wrong_shapes_name_the_json_path(
    mutate: Callable[[dict[str, Any]], None],
    path: str,
    fixture_doc: Callable[[str], Any],
    target: Target,
) -> None:
    doc = copy.deepcopy(fixture_doc("semgrep.sarif"))
    mutate(doc)
    with pytest.raises(ParseError) as err:
        SarifImporter().parse(doc, "semgrep.sarif", target)
    assert path in str(err.value)
    assert "sarif output semgrep.sarif" in str(err.value)


def test_tool_names() -> None:
    assert tool_name("Semgrep OSS") == "semgrep"
    assert tool_name("CodeQL command-line toolchain") == "codeql"
    assert tool_name("Bandit") == "bandit"
    assert tool_name("my:tool") == "my-tool"


def test_detect() -> None:
    detect = SarifImporter().detect
    assert detect({"version": "2.1.0", "runs": []})
    assert detect({"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "runs": []})
    assert detect({"version": "2.0.0", "runs": []})  # detected, then rejected with a reason
    assert not detect({"runs": []})
    assert not detect([])
    assert not detect({"SchemaVersion": 2, "Results": []})


def test_snippet_for_results_without_one_comes_from_the_file(target: Target) -> None:
    (finding,) = parse(sarif([result(line=10)]), target)
    assert finding.location is not None
    assert finding.location.snippet == "    return subprocess.call(cmd, shell=True)"
    assert (SRC / "py" / "app.py").is_file()


@pytest.mark.parametrize(
    ("purl", "package"),
    [
        ("pkg:npm/%40babel/traverse@7.22.0", Package("npm", "@babel/traverse", "7.22.0")),
        ("pkg:maven/org.yaml/snakeyaml@1.33", Package("Maven", "org.yaml:snakeyaml", "1.33")),
        ("pkg:golang/golang.org/x/net@v0.15.0", Package("Go", "golang.org/x/net", "v0.15.0")),
        ("pkg:deb/debian/libc6@2.36-9?arch=amd64", Package("Debian", "libc6", "2.36-9")),
        ("pkg:pypi/jinja2@2.11.2", Package("PyPI", "jinja2", "2.11.2")),
    ],
)
def test_package_from_purl(purl: str, package: Package, target: Target) -> None:
    res = result("GHSA-h5c8-rqwp-cp95", uri="unknown.lock", properties={"purl": purl})
    rules = [{"id": "GHSA-h5c8-rqwp-cp95", "properties": {"tags": ["vulnerability"]}}]
    (finding,) = parse(sarif([res], rules=rules, name="some-sca"), target)
    assert finding.category is Category.DEPENDENCY
    assert finding.advisories == ("GHSA-h5c8-rqwp-cp95",)
    assert finding.package == package
