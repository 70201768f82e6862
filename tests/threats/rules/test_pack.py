"""Every built-in rule fires on its fixture model, stays silent when its condition is false,
and records the controls that may mitigate it.

Cases live in ``fixtures/<pack file>.yml``, keyed by rule id (format in ``builders.py`` and
the fixture files).  A threat is derived even when the element has a control of a kind the
rule lists in ``unless_controls``: the control is recorded as a candidate mitigation, which
the assessment counts only once its tests pass.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.threats.rules.builders import build_model, control_id, patched
from turbosec.core.severity import Severity
from turbosec.threats.model import CONTROL_KINDS, Threat
from turbosec.threats.rules import RuleSet, builtin_rule_files, derive_threats, load_rules

FIXTURES = Path(__file__).parent / "fixtures"


@functools.cache
def builtin() -> RuleSet:
    return load_rules()


@functools.cache
def cases() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(FIXTURES.glob("*.yml")):
        for rule_id, case in yaml.safe_load(path.read_text(encoding="utf-8")).items():
            assert rule_id not in found, f"{rule_id} has cases in two fixture files"
            found[rule_id] = case
    return found


def run(rule_id: str, spec: dict[str, Any]) -> list[Threat]:
    rule = builtin().get(rule_id)
    assert rule is not None, f"no built-in rule {rule_id}"
    return derive_threats(build_model(spec), RuleSet((rule,)))


def fire_cases() -> list[Any]:
    params = []
    for rule_id, case in sorted(cases().items()):
        params.append(pytest.param(rule_id, case["model"], case, id=f"{rule_id}-base"))
        for number, extra in enumerate(case.get("also_fires", ()), start=1):
            spec = patched(case["model"], extra["patch"])
            params.append(pytest.param(rule_id, spec, extra, id=f"{rule_id}-also{number}"))
    return params


def no_fire_cases() -> list[Any]:
    return [
        pytest.param(rule_id, patched(case["model"], item["patch"]), id=f"{rule_id}-{item['why']}")
        for rule_id, case in sorted(cases().items())
        for item in case.get("no_fire", ())
    ]


def control_cases() -> list[Any]:
    params = []
    for rule in builtin():
        for kind in rule.unless_controls:
            params.append(pytest.param(rule.id, kind, "element", id=f"{rule.id}-{kind}"))
            if rule.applies_to == "flow":
                params.append(pytest.param(rule.id, kind, "target", id=f"{rule.id}-{kind}-tgt"))
    return params


def test_every_builtin_rule_has_fire_and_no_fire_cases() -> None:
    rule_ids = {rule.id for rule in builtin()}
    assert set(cases()) == rule_ids
    for rule_id, case in cases().items():
        assert case.get("fires_on"), f"{rule_id}: no element to fire on"
        assert case.get("no_fire"), f"{rule_id}: no case where it must stay silent"


def test_library_size_and_coverage() -> None:
    rules = builtin()
    assert len(rules) >= 40
    assert len(builtin_rule_files()) >= 5
    assert {s for rule in rules for s in rule.stride} == {
        "spoofing",
        "tampering",
        "repudiation",
        "information_disclosure",
        "denial_of_service",
        "elevation_of_privilege",
    }
    for rule in rules:
        assert rule.cwe, f"{rule.id} has no CWE"
        assert rule.description and rule.mitigation and rule.references, rule.id
        assert rule.unless_controls, f"{rule.id} names no mitigating control"


@pytest.mark.parametrize(("rule_id", "spec", "expect"), fire_cases())
def test_rule_fires(rule_id: str, spec: dict[str, Any], expect: dict[str, Any]) -> None:
    threats = run(rule_id, spec)
    assert sorted(t.element_id for t in threats) == sorted(expect["fires_on"])
    rule = builtin().get(rule_id)
    assert rule is not None
    for threat in threats:
        assert threat.rule_id == rule_id
        assert threat.id == f"{rule_id}@{threat.element_id}"
        assert threat.element_kind == rule.applies_to
        assert threat.candidate_controls == ()
        assert threat.element_id in threat.explanation or rule.applies_to == "flow"
        assert "No control of kind" in threat.explanation
        assert "{" not in threat.explanation
        if "severity" in expect:
            assert threat.severity is Severity.parse(expect["severity"])


@pytest.mark.parametrize(("rule_id", "spec"), no_fire_cases())
def test_rule_does_not_fire(rule_id: str, spec: dict[str, Any]) -> None:
    assert run(rule_id, spec) == []


@pytest.mark.parametrize(("rule_id", "kind", "where"), control_cases())
def test_listed_control_is_a_candidate_mitigation(rule_id: str, kind: str, where: str) -> None:
    case = cases()[rule_id]
    spec = patched(case["model"], {})
    element = case["fires_on"][0]
    section = "components" if element in spec.get("components", {}) else "flows"
    holder = element
    if where == "target":
        holder = spec["flows"][element]["to"]
        section = "components"
    entry = spec[section].setdefault(holder, {}) or {}
    entry["controls"] = [*entry.get("controls", []), kind]
    spec[section][holder] = entry

    threats = {t.element_id: t for t in run(rule_id, spec)}
    assert sorted(threats) == sorted(case["fires_on"]), "a control must not hide the threat"
    threat = threats[element]
    assert threat.candidate_controls == (control_id(holder, kind),)
    assert f"Declared mitigation: {control_id(holder, kind)} ({kind})" in threat.explanation


@pytest.mark.parametrize("rule_id", sorted(r.id for r in load_rules()))
def test_unrelated_control_is_not_a_candidate(rule_id: str) -> None:
    rule = builtin().get(rule_id)
    assert rule is not None
    kind = next(k for k in CONTROL_KINDS if k not in rule.unless_controls)
    case = cases()[rule_id]
    element = case["fires_on"][0]
    section = "components" if element in case["model"].get("components", {}) else "flows"
    spec = patched(case["model"], {section: {element: {"controls": [kind]}}})
    threats = {t.element_id: t for t in run(rule_id, spec)}
    assert threats[element].candidate_controls == ()
