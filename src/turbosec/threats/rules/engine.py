"""Deriving threats: every rule against every element of its kind.

Attributes are computed once per element (:func:`.attributes.compute_attributes`); each
rule's compiled condition is a closure over those dictionaries, so an analysis is
``rules x elements`` dictionary look-ups.  A threat's id comes from the rule's template,
which may only use the rule id and element ids: renaming or adding an unrelated element
never changes it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from functools import cache
from typing import Any

from turbosec.threats.model import Classification, SourceRef, Threat, ThreatModel
from turbosec.threats.rules.attributes import attributes_for, compute_attributes
from turbosec.threats.rules.loader import Rule, RuleSet, Template

__all__ = ["derive_threats", "render_value"]


@cache
def _placeholder_keys(applies_to: str) -> Mapping[str, str]:
    """Explanation placeholder → full attribute name."""
    keys: dict[str, str] = {}
    for full in attributes_for(applies_to):
        keys[full.split(".", 1)[1].replace(".", "_")] = full
    return keys


def render_value(value: Any) -> str:
    """How an attribute value reads in an explanation."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Classification):
        return value.label
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value) if value else "none"
    if value == "":
        return "none"
    return str(value)


def _fill(
    parts: Template, ids: Mapping[str, str], attrs: Mapping[str, Any], applies_to: str
) -> str:
    keys = _placeholder_keys(applies_to)
    out: list[str] = []
    for literal, name in parts:
        out.append(literal)
        if name is None:
            continue
        if name in ids:
            out.append(ids[name])
        else:
            out.append(render_value(attrs[keys[name]]))
    return "".join(out)


def _merge(old: Threat, new: Threat) -> Threat:
    controls = tuple(sorted(set(old.candidate_controls) | set(new.candidate_controls)))
    return dataclasses.replace(
        old, severity=max(old.severity, new.severity), candidate_controls=controls
    )


def _threat(
    rule: Rule,
    kind: str,
    element_id: str,
    component_id: str,
    ref: SourceRef,
    ids: Mapping[str, str],
    attrs: Mapping[str, Any],
    controls: tuple[tuple[str, str], ...],
) -> Threat:
    prefix = "component." if kind == "component" else "flow."
    unless = rule.unless_controls
    relevant = sorted({(cid, ckind) for cid, ckind in controls if ckind in unless})
    candidates = tuple(cid for cid, _ in relevant)
    explanation = _fill(rule.explanation_parts, ids, attrs, kind)
    if relevant:
        named = ", ".join(f"{cid} ({ckind})" for cid, ckind in relevant)
        explanation += f" Declared mitigation: {named}; it counts once its tests pass."
    elif unless:
        where = " on the flow or its target" if kind == "flow" else ""
        explanation += f" No control of kind {' or '.join(unless)} is declared{where}."
    return Threat(
        id=_fill(rule.threat_id_parts, ids, attrs, kind),
        rule_id=rule.id,
        title=rule.title,
        element_kind=kind,
        element_id=element_id,
        component_id=component_id,
        stride=rule.stride,
        severity=rule.severity_for(attrs[prefix + "max_classification"]),
        explanation=explanation,
        ref=ref,
        cwe=rule.cwe,
        capec=rule.capec,
        description=rule.description,
        mitigation=rule.mitigation,
        candidate_controls=candidates,
        references=rule.references,
    )


def derive_threats(model: ThreatModel, rules: RuleSet) -> list[Threat]:
    """Every threat ``rules`` derive for ``model``, sorted by id.

    A threat is produced whenever a rule's condition holds, even when the element has a
    control of a kind the rule lists in ``unless_controls``: such controls are recorded in
    :attr:`Threat.candidate_controls`, and the threat counts as mitigated only once their
    evidence is proven (see the assessment step).  Two hits of one rule with the same id
    are merged (highest severity, union of candidate controls).
    """
    computed = compute_attributes(model)
    components = sorted(computed.components.items())
    flows = sorted(computed.flows.items())
    found: dict[str, Threat] = {}
    for rule in rules:
        condition = rule.condition
        if rule.applies_to == "component":
            for cid, attrs in components:
                if not condition(attrs):
                    continue
                component = model.components[cid]
                threat = _threat(
                    rule,
                    "component",
                    cid,
                    cid,
                    component.ref,
                    {"rule": rule.id, "component": cid},
                    attrs,
                    computed.component_controls[cid],
                )
                old = found.get(threat.id)
                found[threat.id] = threat if old is None else _merge(old, threat)
        else:
            for fid, attrs in flows:
                if not condition(attrs):
                    continue
                flow = model.flows[fid]
                threat = _threat(
                    rule,
                    "flow",
                    fid,
                    flow.target,
                    flow.ref,
                    {"rule": rule.id, "flow": fid, "source": flow.source, "target": flow.target},
                    attrs,
                    computed.flow_controls[fid],
                )
                old = found.get(threat.id)
                found[threat.id] = threat if old is None else _merge(old, threat)
    return [found[key] for key in sorted(found)]
