"""The bundled semgrep rule pack: its shape, its test targets, and `semgrep --test` on it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from turbosec.core.finding import parse_cwe
from turbosec.scan.adapters.semgrep import bundled_rules_dir

PACK = bundled_rules_dir()
RULE_FILES = sorted(PACK.rglob("*.yaml"))
TARGET_SUFFIX = {"python": ".py", "javascript": ".js"}
SEVERITIES = {"CRITICAL", "HIGH", "MEDIUM", "LOW"}
OWASP = re.compile(r"^A(0[1-9]|10):2021 - .+$")
CWE = re.compile(r"^CWE-\d+: .+$")
ANNOTATION = re.compile(r"(?://|#)\s*(ruleid|ok|todoruleid|todook):\s*([\w.,\s-]+)$")

# The severity policy: injections and deserialisation of request data are critical.
EXPECTED_SEVERITY = {
    "sql-injection": "CRITICAL",
    "command-injection": "CRITICAL",
    "code-injection": "CRITICAL",
    "deserialization-of-request-data": "CRITICAL",
    "unsafe-deserialization": "HIGH",
    "ssrf": "HIGH",
    "xss-unescaped-markup": "HIGH",
    "xss-html-sink": "HIGH",
    "weak-password-hash": "HIGH",
    "weak-cipher": "MEDIUM",
    "flask-debug-mode": "HIGH",
    "django-debug-enabled": "MEDIUM",
}


def load_rules(path: Path) -> list[dict[str, Any]]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict) and isinstance(document.get("rules"), list), path
    return list(document["rules"])


def all_rules() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, rule) for path in RULE_FILES for rule in load_rules(path)]


def annotations(target: Path) -> dict[str, set[str]]:
    """Rule ids named by each kind of annotation comment in a test target."""
    found: dict[str, set[str]] = {"ruleid": set(), "ok": set()}
    for line in target.read_text(encoding="utf-8").splitlines():
        match = ANNOTATION.search(line.strip())
        if match:
            ids = {i.strip() for i in match.group(2).split(",") if i.strip()}
            found.setdefault(match.group(1), set()).update(ids)
    return found


def test_pack_ships_inside_the_package() -> None:
    assert PACK.is_dir()
    assert PACK.parts[-4:] == ("turbosec", "scan", "rules", "semgrep")
    assert {p.parent.name for p in RULE_FILES} == {"python", "javascript"}
    assert len(RULE_FILES) >= 15


def test_every_rule_is_complete() -> None:
    ids: list[str] = []
    for path, rule in all_rules():
        rid = rule["id"]
        ids.append(rid)
        lang = path.parent.name
        assert rid == f"turbosec.{lang}.{rid.rsplit('.', 1)[-1]}", rid
        assert rule["severity"] in SEVERITIES, rid
        assert EXPECTED_SEVERITY[rid.rsplit(".", 1)[-1]] == rule["severity"], rid
        assert isinstance(rule["message"], str) and len(rule["message"]) > 40, rid
        assert lang in rule["languages"], rid
        meta = rule["metadata"]
        assert isinstance(meta["title"], str) and meta["title"], rid
        assert meta["cwe"] and all(CWE.match(c) for c in meta["cwe"]), rid
        assert parse_cwe(meta["cwe"]), rid
        assert meta["owasp"] and all(OWASP.match(o) for o in meta["owasp"]), rid
        assert meta["confidence"] in {"HIGH", "MEDIUM", "LOW"}, rid
        assert meta["references"] and all(r.startswith("https://") for r in meta["references"])
        assert isinstance(meta["fix-hint"], str) and len(meta["fix-hint"]) > 30, rid
    assert len(ids) == len(set(ids)), "duplicate rule ids"


def test_required_topics_are_covered() -> None:
    ids = {rule["id"] for _, rule in all_rules()}
    for topic in EXPECTED_SEVERITY:
        assert any(i.endswith("." + topic) for i in ids), topic
    for lang in ("python", "javascript"):
        for topic in (
            "sql-injection",
            "command-injection",
            "code-injection",
            "unsafe-deserialization",
            "deserialization-of-request-data",
            "weak-password-hash",
            "weak-cipher",
            "ssrf",
        ):
            assert f"turbosec.{lang}.{topic}" in ids


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_rule_file_has_a_test_target(path: Path) -> None:
    target = path.with_suffix(TARGET_SUFFIX[path.parent.name])
    assert target.is_file(), f"{path.name} has no test target {target.name}"
    found = annotations(target)
    for rule in load_rules(path):
        # each rule has true positives and true negatives
        assert rule["id"] in found["ruleid"], f"{rule['id']}: no '# ruleid:' in {target.name}"
        assert rule["id"] in found["ok"], f"{rule['id']}: no '# ok:' in {target.name}"
    known = {rule["id"] for rule in load_rules(path)}
    assert found["ruleid"] | found["ok"] <= known, f"{target.name} names unknown rules"


def test_nothing_else_in_the_pack() -> None:
    allowed = {".yaml", ".py", ".js"}
    for path in PACK.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            assert path.suffix in allowed, path
            if path.suffix != ".yaml":
                assert path.with_suffix(".yaml").is_file(), f"{path.name} tests no rule file"


@pytest.mark.scanners
def test_semgrep_test_passes_on_the_pack() -> None:
    semgrep = str(Path(sys.executable).parent / "semgrep")
    env = {**os.environ, "SEMGREP_ENABLE_VERSION_CHECK": "0", "SEMGREP_SEND_METRICS": "off"}
    proc = subprocess.run(
        [
            semgrep,
            "scan",
            "--test",
            "--json",
            "--metrics=off",
            "--disable-version-check",
            str(PACK),
        ],
        capture_output=True,
        env=env,
        timeout=600,
        check=False,
    )
    detail = proc.stdout.decode()[-3000:] + proc.stderr.decode()[-3000:]
    assert proc.returncode == 0, detail
    report = json.loads(proc.stdout)
    # `semgrep --test` exits 0 even when a rule file fails to load: check it here
    assert report["config_with_errors"] == [], detail
    assert report["config_missing_tests"] == [], detail
    checked: dict[str, bool] = {}
    for outcome in report["results"].values():
        for rule_id, check in outcome["checks"].items():
            checked[rule_id] = check["passed"]
            assert check["passed"], f"{rule_id}: {json.dumps(check['matches'], indent=1)}"
    assert set(checked) == {rule["id"] for _, rule in all_rules()}
