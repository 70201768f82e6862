"""Gitleaks JSON importer: real gitleaks 8.30.1 captures (dir and git modes)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from importer_support import fake_secrets

from turbosec.core.errors import ParseError
from turbosec.core.finding import Category, Confidence, Finding, Location
from turbosec.core.secrets import matches_salted_hash, redact
from turbosec.core.severity import Severity
from turbosec.scan.importers.base import Imported
from turbosec.scan.importers.gitleaks import GitleaksImporter
from turbosec.scan.target import Target


def by_rule(imported: Imported) -> dict[str, Finding]:
    return {f.rule_id: f for f in imported.findings}


def test_dir_report(load: Callable[[str], Imported]) -> None:
    secrets = fake_secrets()
    imported = load("gitleaks.json")
    assert imported.tool == "gitleaks"
    found = by_rule(imported)
    assert list(found) == ["github-pat", "generic-api-key"]

    pat = found["github-pat"]
    assert pat.tool == "gitleaks"
    assert pat.category is Category.SECRET
    assert pat.severity is Severity.CRITICAL
    assert pat.confidence is Confidence.HIGH
    assert pat.cwe == (798,)
    assert pat.title == (
        "Uncovered a GitHub Personal Access Token, potentially leading to "
        "unauthorized repository access and sensitive content exposure."
    )
    shown = redact(secrets["github"])
    assert pat.message == f"github-pat: {shown} found in secrets/settings.py:4"
    # gitleaks says columns 18-57 (one too far right past line 1, end inclusive); the token
    # really spans columns 17-56, i.e. SARIF-style 17 up to 57 exclusive
    assert pat.location == Location(
        path="secrets/settings.py",
        start_line=4,
        start_column=17,
        end_line=4,
        end_column=57,
        snippet=shown,
    )
    assert pat.secret_hash is not None
    assert matches_salted_hash(secrets["github"], pat.secret_hash)
    assert not matches_salted_hash(secrets["api_key"], pat.secret_hash)

    key = found["generic-api-key"]
    assert key.confidence is Confidence.MEDIUM  # generic rule
    assert key.location == Location(
        path="secrets/settings.py",
        start_line=5,
        start_column=1,
        end_line=5,
        end_column=54,
        snippet=f'PAYMENTS_API_KEY = "{redact(secrets["api_key"])}"',
    )
    assert key.secret_hash is not None
    assert matches_salted_hash(secrets["api_key"], key.secret_hash)


def test_no_secret_anywhere(load: Callable[[str], Imported]) -> None:
    for name in ("gitleaks.json", "gitleaks-git.json"):
        imported = load(name)
        dumped = json.dumps([f.to_dict() for f in imported.findings])
        dumped += repr(imported)
        for secret in fake_secrets().values():
            assert secret not in dumped
        for finding in imported.findings:
            assert finding.raw is not None
            assert not {"Secret", "Match", "Line"} & set(finding.raw)


def test_git_report_keeps_commit_details(load: Callable[[str], Imported]) -> None:
    found = by_rule(load("gitleaks-git.json"))
    pat = found["github-pat"]
    assert pat.message.endswith(
        "found in secrets/settings.py:4 (commit f2a04a209b27 by Fixture Author, "
        "2026-01-02T03:04:05Z)"
    )
    assert pat.raw is not None
    assert pat.raw["Commit"] == "f2a04a209b27c8c47110c59deab232de0239844c"
    assert pat.raw["Fingerprint"] == (
        "f2a04a209b27c8c47110c59deab232de0239844c:secrets/settings.py:github-pat:4"
    )


def test_columns_without_the_file(fixture_doc: Callable[[str], Any], tmp_path: Path) -> None:
    """The known gitleaks column offset is corrected when the file cannot be read."""
    imported = GitleaksImporter().parse(
        fixture_doc("gitleaks.json"), "g.json", Target.open(tmp_path)
    )
    locs = [f.location for f in imported.findings]
    assert [(loc.start_column, loc.end_column) for loc in locs if loc] == [(17, 57), (1, 54)]


def test_secret_elsewhere_in_the_leak_is_redacted(
    fixture_doc: Callable[[str], Any], target: Target
) -> None:
    secret = fake_secrets()["github"]
    doc = fixture_doc("gitleaks-git.json")
    doc[0]["Message"] = f"add token {secret} for CI"
    doc[0]["Line"] = f'GITHUB_TOKEN = "{secret}"'
    doc[0]["Tags"] = [secret]
    (first, _) = GitleaksImporter().parse(doc, "g.json", target).findings
    dumped = json.dumps(first.to_dict())
    assert secret not in dumped
    assert first.raw is not None
    assert first.raw["Message"] == f"add token {redact(secret)} for CI"


def test_leak_without_secret_field(fixture_doc: Callable[[str], Any], target: Target) -> None:
    secret = fake_secrets()["api_key"]
    doc = fixture_doc("gitleaks.json")
    del doc[1]["Secret"]
    finding = GitleaksImporter().parse(doc, "g.json", target).findings[1]
    assert finding.location is not None
    match = f'PAYMENTS_API_KEY = "{secret}"'
    assert finding.location.snippet == redact(match)
    assert finding.secret_hash is not None and matches_salted_hash(match, finding.secret_hash)
    assert secret not in json.dumps(finding.to_dict())


def test_empty_report(target: Target) -> None:
    assert GitleaksImporter().detect([])
    assert GitleaksImporter().parse([], "none.json", target).findings == []


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.append(3), "[2]: expected an object, found a number"),
        (lambda d: d[0].pop("RuleID"), "[0].RuleID: missing"),
        (lambda d: d[1].update(File=None), "[1].File: missing"),
        (lambda d: d[0].update(StartLine="four"), "[0].StartLine: expected a whole number"),
        (lambda d: d[0].update(Secret={"a": 1}), "[0].Secret: expected a string, found an object"),
    ],
)
def test_wrong_shapes(
    mutate: Callable[[list[Any]], None],
    message: str,
    fixture_doc: Callable[[str], Any],
    target: Target,
) -> None:
    doc = copy.deepcopy(fixture_doc("gitleaks.json"))
    mutate(doc)
    with pytest.raises(ParseError) as err:
        GitleaksImporter().parse(doc, "gitleaks.json", target)
    assert message in str(err.value)
    assert "gitleaks output gitleaks.json" in str(err.value)
    for secret in fake_secrets().values():
        assert secret not in str(err.value)


def test_detect() -> None:
    detect = GitleaksImporter().detect
    assert detect([{"RuleID": "x", "File": "a", "Secret": "s"}])
    assert not detect([{"RuleID": "x"}])
    assert not detect({"RuleID": "x", "File": "a", "Secret": "s"})
    assert not detect([{"test_id": "B101"}])
