"""The model generator used by bench/threats.py: valid, deterministic, realistic models."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import yaml

from turbosec.threats.generate import generate_model
from turbosec.threats.loader import load_model_text


def test_same_arguments_same_text_other_seed_other_text() -> None:
    assert generate_model(20, 40, seed=3) == generate_model(20, 40, seed=3)
    assert generate_model(20, 40, seed=3) != generate_model(20, 40, seed=4)


@pytest.mark.parametrize(("components", "flows"), [(4, 1), (10, 20), (50, 120), (120, 400)])
def test_generated_model_loads_with_the_requested_size(components: int, flows: int) -> None:
    model = load_model_text(generate_model(components, flows))
    assert len(model.components) == components
    assert len(model.flows) == flows


def test_default_model_is_realistic() -> None:
    model = load_model_text(generate_model())
    kinds = Counter(c.kind.value for c in model.components.values())
    assert set(kinds) == {"external_entity", "process", "datastore", "queue"}
    assert kinds["process"] > kinds["datastore"] > kinds["external_entity"]
    # nested boundaries, several levels deep
    nested = [b for b in model.boundaries.values() if b.parent is not None]
    assert any(model.boundaries[b.parent].parent is not None for b in nested if b.parent)
    assert {d.classification.label for d in model.data.values()} == {
        "public",
        "internal",
        "confidential",
        "restricted",
        "secret",
    }
    assert any(d.pii for d in model.data.values())
    assert sum(1 for c in model.controls.values() if c.tests) > len(model.controls) // 2
    statuses = {t.status.value for t in model.triage}
    assert {"mitigated", "accepted", "in_progress", "false_positive"} <= statuses
    assert any(t.expires is not None for t in model.triage)
    assert any("*" in t.pattern or "?" in t.pattern for t in model.triage)
    # every component takes part in at least one flow
    ends = {f.source for f in model.flows.values()} | {f.target for f in model.flows.values()}
    assert ends == set(model.components)


def test_too_small_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 4 components"):
        generate_model(3, 10)
    with pytest.raises(ValueError, match="at least one flow"):
        generate_model(10, 0)


def _rename(doc: dict[str, Any], old: str, new: str) -> None:
    """Rename component ``old`` everywhere it is referenced (not its flows' ids)."""
    for comp in doc["components"]:
        if comp["id"] == old:
            comp["id"] = new
    for flow in doc["flows"]:
        for end in ("from", "to"):
            if flow[end] == old:
                flow[end] = new


def test_renaming_a_component_keeps_the_other_threat_ids() -> None:
    """Acceptance (issue 8): renaming an unrelated component does not change other threats'
    ids."""
    from turbosec.threats.rules import derive_threats, load_rules

    rules = load_rules()
    text = generate_model(30, 70, seed=5)
    before = {t.id for t in derive_threats(load_model_text(text), rules)}
    doc = yaml.safe_load(text)
    victim = next(c["id"] for c in doc["components"] if c["id"].startswith("db-"))
    touching = {f["id"] for f in doc["flows"] if victim in (f["from"], f["to"])}
    _rename(doc, victim, "renamed-store")
    after = {
        t.id for t in derive_threats(load_model_text(yaml.safe_dump(doc, sort_keys=False)), rules)
    }

    def unrelated(ids: set[str]) -> set[str]:
        return {i for i in ids if i.split("@", 1)[1] not in ({victim, "renamed-store"} | touching)}

    assert before != after  # the renamed component's own threats did change
    assert unrelated(before) == unrelated(after)
    assert unrelated(before)
