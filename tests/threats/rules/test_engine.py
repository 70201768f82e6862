"""The engine: attributes, threat ids, severities, candidate controls, determinism."""

from __future__ import annotations

from typing import Any

import pytest

from tests.threats.rules.builders import build_model, patched
from turbosec.core.severity import Severity
from turbosec.threats.model import Classification
from turbosec.threats.rules import derive_threats, load_rules, load_rules_text
from turbosec.threats.rules.attributes import (
    COMPONENT_ATTRIBUTES,
    FLOW_ATTRIBUTES,
    compute_attributes,
)

SHOP: dict[str, Any] = {
    "data": {
        "pii": {"classification": "confidential", "pii": True},
        "keys": {"classification": "secret"},
        "catalog": {"classification": "public"},
    },
    "boundaries": {
        "internet": {},
        "cloud": {},
        "dmz": {"parent": "cloud"},
        "core": {"parent": "cloud"},
    },
    "components": {
        "browser": {"kind": "external_entity", "boundary": "internet"},
        "web": {
            "boundary": "dmz",
            "properties": ["internet_facing", "renders_html", "authenticates_users", "uses_sql"],
            "controls": ["input_validation", "csrf_protection"],
            "data": ["pii", "catalog"],
        },
        "db": {"kind": "datastore", "boundary": "core", "data": ["pii"], "controls": ["backup"]},
        "vault": {"kind": "datastore", "boundary": "core", "data": ["keys"]},
        "mailer": {"kind": "external_entity", "properties": ["third_party"]},
    },
    "flows": {
        "browser-web": {"from": "browser", "to": "web", "authentication": "session"},
        "web-db": {
            "from": "web",
            "to": "db",
            "protocol": "sql",
            "authentication": "password",
            "data": ["pii"],
            "controls": ["encryption_in_transit"],
        },
        "web-vault": {"from": "web", "to": "vault", "protocol": "https", "data": ["keys"]},
        "web-mailer": {"from": "web", "to": "mailer", "protocol": "smtp", "data": ["pii"]},
    },
}


def test_component_attributes() -> None:
    attrs = compute_attributes(build_model(SHOP))
    web = attrs.components["web"]
    assert set(web) == set(COMPONENT_ATTRIBUTES)
    assert web["component.boundary_path"] == ["cloud", "dmz"]
    assert web["component.max_classification"] is Classification.CONFIDENTIAL
    assert web["component.has_pii"] is True
    assert web["component.has_secrets_data"] is False
    assert web["component.controls"] == ["csrf_protection", "input_validation"]
    assert web["component.inbound_count"] == 1
    assert web["component.outbound_count"] == 3
    assert web["component.reachable_from_external"] is True
    assert web["component.inbound_authentication"] == ["session"]
    assert web["component.uses_sql"] is True and web["component.multi_tenant"] is False
    mailer = attrs.components["mailer"]
    assert mailer["component.boundary"] == "" and mailer["component.boundary_path"] == []
    assert mailer["component.max_classification"] is Classification.PUBLIC
    vault = attrs.components["vault"]
    assert vault["component.has_secrets_data"] is True
    assert vault["component.reachable_from_external"] is False


def test_reachable_from_external_through_a_flow() -> None:
    spec = patched(SHOP, {"components": {"web": {"properties": []}}})
    attrs = compute_attributes(build_model(spec))
    assert attrs.components["web"]["component.reachable_from_external"] is True
    spec = patched(spec, {"flows": {"browser-web": None}})
    attrs = compute_attributes(build_model(spec))
    assert attrs.components["web"]["component.reachable_from_external"] is False


def test_flow_attributes() -> None:
    attrs = compute_attributes(build_model(SHOP))
    db_flow = attrs.flows["web-db"]
    assert set(db_flow) == set(FLOW_ATTRIBUTES)
    assert db_flow["flow.encrypted"] is True  # by its encryption_in_transit control
    assert db_flow["flow.protocol_encrypted"] is False
    assert db_flow["flow.crosses_boundary"] is True
    assert db_flow["flow.source.kind"] == "process"
    assert db_flow["flow.target.boundary_path"] == ["cloud", "core"]
    assert db_flow["flow.max_classification"] is Classification.CONFIDENTIAL
    assert attrs.flows["web-vault"]["flow.has_secrets_data"] is True
    assert attrs.flows["web-mailer"]["flow.encrypted"] is False
    same = patched(SHOP, {"components": {"mailer": {"boundary": "dmz"}}})
    attrs = compute_attributes(build_model(same))
    assert attrs.flows["web-mailer"]["flow.crosses_boundary"] is False
    # the flow's own controls first, then the target's
    assert compute_attributes(build_model(SHOP)).flow_controls["web-db"] == (
        ("web-db.encryption_in_transit", "encryption_in_transit"),
        ("db.backup", "backup"),
    )


def test_threats_are_sorted_deterministic_and_point_at_elements() -> None:
    model = build_model(SHOP)
    rules = load_rules()
    first = derive_threats(model, rules)
    assert first == derive_threats(model, rules)
    assert [t.id for t in first] == sorted(t.id for t in first)
    assert len({t.id for t in first}) == len(first)
    by_id = {t.id: t for t in first}
    sqli = by_id["TM-PROC-005@web"]
    assert sqli.ref == model.components["web"].ref
    assert sqli.component_id == "web" and sqli.element_kind == "component"
    csrf = by_id["TM-WEB-002@browser-web"]
    assert csrf.component_id == "web" and csrf.element_kind == "flow"
    assert csrf.ref == model.flows["browser-web"].ref
    # the target's csrf control is a candidate for the flow's threat
    assert csrf.candidate_controls == ("web.csrf_protection",)
    assert "TM-FLOW-002@web-mailer" in by_id  # confidential data over smtp
    # sql does not encrypt by itself: the flow's control is a candidate, not a silencer
    assert by_id["TM-FLOW-002@web-db"].candidate_controls == ("web-db.encryption_in_transit",)
    assert "TM-FLOW-002@web-vault" not in by_id  # https
    assert "TM-FLOW-006@web-vault" in by_id  # secret data leaves dmz for core


def test_unencrypted_protocol_with_declared_encryption_control_needs_evidence() -> None:
    # sql is not an encrypting protocol: the encryption_in_transit control on the flow is a
    # declared mitigation whose tests must pass, so the threat is derived with it as candidate
    spec = patched(SHOP, {"data": {"pii": {"classification": "restricted"}}})
    threats = {t.id: t for t in derive_threats(build_model(spec), load_rules())}
    assert threats["TM-FLOW-003@web-db"].candidate_controls == ("web-db.encryption_in_transit",)
    assert threats["TM-FLOW-002@web-db"].severity is Severity.CRITICAL


def test_renaming_an_unrelated_component_keeps_other_ids() -> None:
    rules = load_rules()
    before = {t.id for t in derive_threats(build_model(SHOP), rules)}
    renamed = patched(SHOP, {"components": {"mailer": None}, "flows": {"web-mailer": None}})
    renamed = patched(
        renamed,
        {
            "components": {"postman": SHOP["components"]["mailer"]},
            "flows": {"web-postman": {**SHOP["flows"]["web-mailer"], "to": "postman"}},
        },
    )
    after = {t.id for t in derive_threats(build_model(renamed), rules)}
    untouched = {i for i in before if "mailer" not in i}
    assert untouched == {i for i in after if "postman" not in i}
    assert {i.replace("mailer", "postman") for i in before - untouched} == after - untouched
    assert before - untouched  # the renamed element did have threats


def test_severity_rises_with_the_elements_classification() -> None:
    rules = load_rules()
    spec = {"components": {"db": {"kind": "datastore", "data": ["p"]}}}
    levels = {}
    for classification in ("public", "internal", "confidential", "restricted", "secret"):
        model = build_model(
            {**spec, "data": {"p": {"classification": classification, "pii": True}}}
        )
        (threat,) = [t for t in derive_threats(model, rules) if t.rule_id == "TM-DS-001"]
        levels[classification] = threat.severity
    assert levels == {
        "public": Severity.MEDIUM,
        "internal": Severity.MEDIUM,
        "confidential": Severity.HIGH,
        "restricted": Severity.CRITICAL,
        "secret": Severity.CRITICAL,
    }


MERGE_RULES = """\
version: 1
rules:
  - id: TEAM-PAIR
    title: Pairs of components talk in clear
    applies_to: flow
    stride: [information_disclosure]
    severity: {base: low, by_classification: {confidential: high}}
    when: {attr: flow.protocol_encrypted, eq: false}
    unless_controls: [encryption_in_transit]
    threat_id: "{rule}@{source}->{target}"
    explanation: "{flow} uses {protocol}; data {data}; source boundary {source_boundary}."
"""


def test_same_id_from_one_rule_is_merged() -> None:
    spec = {
        "data": {"c": {"classification": "confidential"}},
        "components": {"a": {}, "b": {"controls": ["encryption_in_transit"]}},
        "flows": {
            "f1": {"from": "a", "to": "b", "protocol": "http"},
            "f2": {"from": "a", "to": "b", "protocol": "tcp", "data": ["c"]},
        },
    }
    (threat,) = derive_threats(build_model(spec), load_rules_text(MERGE_RULES))
    assert threat.id == "TEAM-PAIR@a->b"
    assert threat.severity is Severity.HIGH
    assert threat.candidate_controls == ("b.encryption_in_transit",)
    assert threat.element_id == "f1"  # the first element in id order
    assert threat.explanation.startswith("f1 uses http; data none; source boundary none.")


def test_explanation_renders_attribute_values() -> None:
    threats = derive_threats(build_model(SHOP), load_rules())
    by_id = {t.id: t for t in threats}
    text = by_id["TM-FLOW-001@web-vault"].explanation
    assert text.startswith("Flow web-vault from web to vault crosses from boundary dmz to")
    assert "No control of kind authentication or network_segmentation is declared" in text
    text = by_id["TM-PROC-002@web"].explanation
    assert text.startswith("web processes confidential data (pii, catalog).")


def test_empty_model_and_empty_rule_set() -> None:
    assert derive_threats(build_model({}), load_rules()) == []
    assert derive_threats(build_model(SHOP), load_rules(builtin=False)) == []


MODEL_YAML = """\
version: 1
system: {name: Demo, owner: team}
data:
  - {id: pii, classification: confidential, pii: true}
components:
  - id: user
    kind: external_entity
  - id: web
    kind: process
    properties: [internet_facing]
flows:
  - {id: user-web, from: user, to: web, protocol: http, data: [pii]}
"""


def test_threats_of_a_loaded_model_point_at_its_lines() -> None:
    loader = pytest.importorskip("turbosec.threats.loader")
    model = loader.load_model_text(MODEL_YAML)
    threats = {t.id: t for t in derive_threats(model, load_rules())}
    assert str(threats["TM-FLOW-002@user-web"].ref) == "threatmodel.yaml:12"
    assert threats["TM-FLOW-002@user-web"].severity is Severity.HIGH
    assert str(threats["TM-PROC-001@web"].ref) == "threatmodel.yaml:8"
