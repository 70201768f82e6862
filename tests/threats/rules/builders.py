"""Build :class:`ThreatModel` objects from compact dictionaries, for rule tests.

The compact form keeps fixtures short::

    data:        {pii: {classification: confidential, pii: true}}
    boundaries:  {internet: {}, dmz: {parent: internet}}
    components:  {web: {kind: process, boundary: dmz, properties: [...], controls: [KIND...],
                        data: [pii]}}
    flows:       {f: {from: a, to: b, protocol: https, authentication: none, data: [...],
                      properties: [...], controls: [KIND...]}}

Controls are given by kind; each becomes a control with id ``<element>.<kind>``.  Component
kind defaults to ``process``, protocol to ``https``, authentication to ``none``.  Lines are
numbered in declaration order so every element has a distinct :class:`SourceRef`.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from typing import Any

from turbosec.threats.model import (
    Boundary,
    Classification,
    Component,
    ComponentKind,
    Control,
    DataAsset,
    Flow,
    SourceRef,
    ThreatModel,
)

FILE = "threatmodel.yaml"


def control_id(element: str, kind: str) -> str:
    return f"{element}.{kind}"


def build_model(spec: Mapping[str, Any]) -> ThreatModel:
    lines = itertools.count(1)

    def ref() -> SourceRef:
        return SourceRef(FILE, next(lines))

    data = {
        did: DataAsset(
            id=did,
            name=did,
            classification=Classification.parse(item.get("classification", "public")),
            pii=bool(item.get("pii", False)),
            ref=ref(),
        )
        for did, item in (spec.get("data") or {}).items()
    }
    boundaries = {
        bid: Boundary(id=bid, name=bid, ref=ref(), parent=(item or {}).get("parent"))
        for bid, item in (spec.get("boundaries") or {}).items()
    }
    controls: dict[str, Control] = {}

    def add_controls(element: str, kinds: list[str]) -> tuple[str, ...]:
        ids = []
        for kind in kinds:
            cid = control_id(element, kind)
            controls[cid] = Control(id=cid, kind=kind, ref=ref())
            ids.append(cid)
        return tuple(ids)

    components = {}
    for cid, item in (spec.get("components") or {}).items():
        item = item or {}
        components[cid] = Component(
            id=cid,
            name=item.get("name", cid),
            kind=ComponentKind(item.get("kind", "process")),
            ref=ref(),
            boundary=item.get("boundary"),
            technology=item.get("technology", ""),
            properties=frozenset(item.get("properties", ())),
            controls=add_controls(cid, list(item.get("controls", ()))),
            data=tuple(item.get("data", ())),
        )
    flows = {}
    for fid, item in (spec.get("flows") or {}).items():
        flows[fid] = Flow(
            id=fid,
            source=item["from"],
            target=item["to"],
            protocol=item.get("protocol", "https"),
            ref=ref(),
            authentication=item.get("authentication", "none"),
            properties=frozenset(item.get("properties", ())),
            controls=add_controls(fid, list(item.get("controls", ()))),
            data=tuple(item.get("data", ())),
        )
    return ThreatModel(
        name="test",
        owner="tests",
        path=FILE,
        files=(FILE,),
        data=data,
        boundaries=boundaries,
        components=components,
        flows=flows,
        controls=controls,
    )


def patched(spec: Mapping[str, Any], patch: Mapping[str, Any] | None) -> dict[str, Any]:
    """``spec`` deep-merged with ``patch``: mappings merge, anything else replaces, ``None``
    deletes the key."""
    result = copy.deepcopy(dict(spec))
    for key, value in (patch or {}).items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = patched(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result
