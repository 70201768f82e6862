"""The attributes a rule condition may read, and their computation for one model.

Every attribute has a full name (``component.kind``, ``flow.encrypted``,
``flow.target.internet_facing``), a type and, when its values come from a closed vocabulary,
that vocabulary.  The rule loader checks every condition against :data:`COMPONENT_ATTRIBUTES`
and :data:`FLOW_ATTRIBUTES` (unknown name, wrong value type, value outside the vocabulary →
error), so a misspelt name never silently matches nothing.

:func:`compute_attributes` computes every attribute of every element of a model once; the
engine then evaluates all rules against these dictionaries.  Classifications are held as
:class:`~turbosec.threats.model.Classification` (an ``IntEnum``) so that ``gte`` compares by
order.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from turbosec.threats.model import (
    AUTHENTICATION_METHODS,
    COMPONENT_PROPERTIES,
    CONTROL_KINDS,
    ENCRYPTED_PROTOCOLS,
    FLOW_PROPERTIES,
    PROTOCOLS,
    Classification,
    Component,
    ComponentKind,
    Flow,
    ThreatModel,
)

__all__ = [
    "COMPONENT_ATTRIBUTES",
    "FLOW_ATTRIBUTES",
    "AttrType",
    "Attribute",
    "ModelAttributes",
    "attributes_for",
    "compute_attributes",
]


class AttrType(enum.StrEnum):
    BOOL = "bool"
    STR = "str"
    INT = "int"
    LIST = "list"  # a list of strings
    CLASSIFICATION = "classification"


@dataclass(frozen=True, slots=True)
class Attribute:
    """One attribute a condition may name."""

    name: str  # full name: component.kind, flow.source.kind
    type: AttrType
    description: str
    vocabulary: frozenset[str] | None = None  # allowed (element) values, None when free text


_KINDS = frozenset(k.value for k in ComponentKind)


def _component_specs() -> list[tuple[str, AttrType, str, frozenset[str] | None]]:
    specs: list[tuple[str, AttrType, str, frozenset[str] | None]] = [
        ("id", AttrType.STR, "the component id", None),
        ("name", AttrType.STR, "the component name", None),
        ("kind", AttrType.STR, "external_entity, process, datastore or queue", _KINDS),
        ("boundary", AttrType.STR, "the boundary id, empty when none", None),
        ("boundary_path", AttrType.LIST, "boundary ids from the outermost inwards", None),
        ("technology", AttrType.STR, "the technology as written in the model", None),
        (
            "properties",
            AttrType.LIST,
            "the component's properties",
            frozenset(COMPONENT_PROPERTIES),
        ),
        (
            "controls",
            AttrType.LIST,
            "the kinds of the component's controls",
            frozenset(CONTROL_KINDS),
        ),
        ("data", AttrType.LIST, "ids of the data it stores or processes", None),
        ("max_classification", AttrType.CLASSIFICATION, "highest classification of its data", None),
        ("has_pii", AttrType.BOOL, "some of its data is personal data", None),
        ("has_secrets_data", AttrType.BOOL, "some of its data is classified secret", None),
        ("inbound_count", AttrType.INT, "number of flows into it", None),
        ("outbound_count", AttrType.INT, "number of flows out of it", None),
        (
            "reachable_from_external",
            AttrType.BOOL,
            "an external entity sends to it, or it is internet_facing",
            None,
        ),
        (
            "inbound_authentication",
            AttrType.LIST,
            "authentication methods of the flows into it",
            frozenset(AUTHENTICATION_METHODS),
        ),
    ]
    for prop, text in COMPONENT_PROPERTIES.items():
        specs.append((prop, AttrType.BOOL, text, None))
    return specs


def _flow_specs() -> list[tuple[str, AttrType, str, frozenset[str] | None]]:
    specs: list[tuple[str, AttrType, str, frozenset[str] | None]] = [
        ("id", AttrType.STR, "the flow id", None),
        ("name", AttrType.STR, "the flow name", None),
        ("protocol", AttrType.STR, "the protocol", PROTOCOLS),
        ("authentication", AttrType.STR, "how the sender authenticates", AUTHENTICATION_METHODS),
        (
            "encrypted",
            AttrType.BOOL,
            "the protocol encrypts, or the flow has an encryption_in_transit control",
            None,
        ),
        (
            "protocol_encrypted",
            AttrType.BOOL,
            "the protocol encrypts by itself (controls not counted)",
            None,
        ),
        ("crosses_boundary", AttrType.BOOL, "source and target are in different boundaries", None),
        ("data", AttrType.LIST, "ids of the data it carries", None),
        ("max_classification", AttrType.CLASSIFICATION, "highest classification it carries", None),
        ("has_pii", AttrType.BOOL, "it carries personal data", None),
        ("has_secrets_data", AttrType.BOOL, "it carries data classified secret", None),
        ("properties", AttrType.LIST, "the flow's properties", frozenset(FLOW_PROPERTIES)),
        (
            "controls",
            AttrType.LIST,
            "the kinds of the flow's own controls",
            frozenset(CONTROL_KINDS),
        ),
    ]
    for prop, text in FLOW_PROPERTIES.items():
        specs.append((prop, AttrType.BOOL, text, None))
    return specs


def _catalog() -> tuple[Mapping[str, Attribute], Mapping[str, Attribute]]:
    component: dict[str, Attribute] = {}
    for name, kind, text, vocab in _component_specs():
        component[f"component.{name}"] = Attribute(f"component.{name}", kind, text, vocab)
    flow: dict[str, Attribute] = {}
    for name, kind, text, vocab in _flow_specs():
        flow[f"flow.{name}"] = Attribute(f"flow.{name}", kind, text, vocab)
    for end in ("source", "target"):
        for name, kind, text, vocab in _component_specs():
            full = f"flow.{end}.{name}"
            flow[full] = Attribute(full, kind, f"({end} component) {text}", vocab)
    return MappingProxyType(component), MappingProxyType(flow)


#: Attributes of a component rule (``applies_to: component``).
#: Attributes of a flow rule (``applies_to: flow``), its ends' as ``flow.source.*`` and
#: ``flow.target.*``.
COMPONENT_ATTRIBUTES, FLOW_ATTRIBUTES = _catalog()


def attributes_for(applies_to: str) -> Mapping[str, Attribute]:
    """The attribute catalogue of ``applies_to`` (``component`` or ``flow``)."""
    return COMPONENT_ATTRIBUTES if applies_to == "component" else FLOW_ATTRIBUTES


@dataclass(frozen=True, slots=True)
class ModelAttributes:
    """Every element's attributes, keyed by full attribute name, plus the control ids each
    element can rely on (for a flow: its own, then its target's)."""

    components: Mapping[str, Mapping[str, Any]]
    flows: Mapping[str, Mapping[str, Any]]
    component_controls: Mapping[str, tuple[tuple[str, str], ...]]  # id -> ((control id, kind))
    flow_controls: Mapping[str, tuple[tuple[str, str], ...]]


def _classification(model: ThreatModel, data_ids: tuple[str, ...]) -> tuple[Classification, bool]:
    highest = Classification.PUBLIC
    pii = False
    for data_id in data_ids:
        asset = model.data.get(data_id)
        if asset is None:
            continue
        if asset.classification > highest:
            highest = asset.classification
        pii = pii or asset.pii
    return highest, pii


def _boundary_path(model: ThreatModel, boundary: str | None) -> list[str]:
    path: list[str] = []
    seen: set[str] = set()
    current = boundary
    while current and current not in seen and current in model.boundaries:
        seen.add(current)
        path.append(current)
        current = model.boundaries[current].parent
    path.reverse()
    return path


def _controls(model: ThreatModel, ids: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for control_id in ids:
        control = model.controls.get(control_id)
        if control is not None:
            out.append((control_id, control.kind))
    return tuple(out)


def _component(
    model: ThreatModel,
    component: Component,
    inbound: list[Flow],
    outbound: int,
    controls: tuple[tuple[str, str], ...],
) -> dict[str, Any]:
    highest, pii = _classification(model, component.data)
    internet = "internet_facing" in component.properties
    from_external = any(
        (src := model.components.get(flow.source)) is not None
        and src.kind is ComponentKind.EXTERNAL_ENTITY
        for flow in inbound
    )
    attrs: dict[str, Any] = {
        "id": component.id,
        "name": component.name,
        "kind": str(component.kind.value),
        "boundary": component.boundary or "",
        "boundary_path": _boundary_path(model, component.boundary),
        "technology": component.technology,
        "properties": sorted(component.properties),
        "controls": sorted({kind for _, kind in controls}),
        "data": list(component.data),
        "max_classification": highest,
        "has_pii": pii,
        "has_secrets_data": highest is Classification.SECRET,
        "inbound_count": len(inbound),
        "outbound_count": outbound,
        "reachable_from_external": internet or from_external,
        "inbound_authentication": sorted({flow.authentication for flow in inbound}),
    }
    for prop in COMPONENT_PROPERTIES:
        attrs[prop] = prop in component.properties
    return attrs


def compute_attributes(model: ThreatModel) -> ModelAttributes:
    """Compute every attribute of every component and flow of ``model`` once.

    Flows whose ends are not components of the model are left out (a loaded model never
    has them).
    """
    inbound: dict[str, list[Flow]] = {cid: [] for cid in model.components}
    outbound: dict[str, int] = dict.fromkeys(model.components, 0)
    for flow in model.flows.values():
        if flow.target in inbound:
            inbound[flow.target].append(flow)
        if flow.source in outbound:
            outbound[flow.source] += 1

    short: dict[str, dict[str, Any]] = {}
    component_controls: dict[str, tuple[tuple[str, str], ...]] = {}
    components: dict[str, Mapping[str, Any]] = {}
    for cid, component in model.components.items():
        controls = _controls(model, component.controls)
        component_controls[cid] = controls
        own_attrs = _component(model, component, inbound[cid], outbound[cid], controls)
        short[cid] = own_attrs
        components[cid] = {f"component.{key}": value for key, value in own_attrs.items()}

    flows: dict[str, Mapping[str, Any]] = {}
    flow_controls: dict[str, tuple[tuple[str, str], ...]] = {}
    for fid, flow in model.flows.items():
        source = short.get(flow.source)
        target = short.get(flow.target)
        if source is None or target is None:
            continue
        own = _controls(model, flow.controls)
        kinds = sorted({kind for _, kind in own})
        highest, pii = _classification(model, flow.data)
        attrs: dict[str, Any] = {
            "flow.id": flow.id,
            "flow.name": flow.name,
            "flow.protocol": flow.protocol,
            "flow.authentication": flow.authentication,
            "flow.encrypted": flow.protocol in ENCRYPTED_PROTOCOLS
            or "encryption_in_transit" in kinds,
            "flow.protocol_encrypted": flow.protocol in ENCRYPTED_PROTOCOLS,
            "flow.crosses_boundary": source["boundary"] != target["boundary"],
            "flow.data": list(flow.data),
            "flow.max_classification": highest,
            "flow.has_pii": pii,
            "flow.has_secrets_data": highest is Classification.SECRET,
            "flow.properties": sorted(flow.properties),
            "flow.controls": kinds,
        }
        for prop in FLOW_PROPERTIES:
            attrs[f"flow.{prop}"] = prop in flow.properties
        for key, value in source.items():
            attrs[f"flow.source.{key}"] = value
        for key, value in target.items():
            attrs[f"flow.target.{key}"] = value
        flows[fid] = attrs
        seen = {cid for cid, _ in own}
        merged = list(own)
        merged.extend(pair for pair in component_controls[flow.target] if pair[0] not in seen)
        flow_controls[fid] = tuple(merged)
    return ModelAttributes(
        components=components,
        flows=flows,
        component_controls=component_controls,
        flow_controls=flow_controls,
    )
