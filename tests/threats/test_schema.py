"""The editor JSON Schema: committed file up to date, agrees with the loader on real models."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from turbosec.threats import loader, schema
from turbosec.threats.errors import ModelError
from turbosec.threats.loader import load_model, load_model_text
from turbosec.threats.model import (
    AUTHENTICATION_METHODS,
    COMPONENT_PROPERTIES,
    CONTROL_KINDS,
    FLOW_PROPERTIES,
    PROTOCOLS,
    Classification,
    ComponentKind,
    ThreatStatus,
)

FIXTURES = Path(__file__).parent / "fixtures"
SCHEMA_PATH = (
    Path(__file__).resolve().parents[2]
    / "src"
    / "turbosec"
    / "threats"
    / "schema"
    / "threatmodel.schema.json"
)


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    document = json.loads(schema.schema_text())
    jsonschema.Draft202012Validator.check_schema(document)
    return jsonschema.Draft202012Validator(
        document, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def as_json(value: Any) -> Any:
    """A YAML document as an editor's YAML-to-JSON view sees it: dates are strings."""
    if isinstance(value, dict):
        return {key: as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_json(item) for item in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def schema_errors(validator: jsonschema.Draft202012Validator, text: str) -> list[str]:
    return [error.message for error in validator.iter_errors(as_json(yaml.safe_load(text)))]


def test_committed_schema_is_generated_from_the_vocabularies() -> None:
    assert schema.schema_text() == SCHEMA_PATH.read_text(encoding="utf-8")
    assert schema.schema_text() == schema.render_schema(), (
        "src/turbosec/threats/schema/threatmodel.schema.json is out of date; regenerate it "
        "with: python -m turbosec.threats.schema --write"
    )
    assert json.loads(schema.schema_text()) == schema.build_schema()


def test_schema_is_draft_2020_12(validator: jsonschema.Draft202012Validator) -> None:
    assert validator.schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def _enum(node: dict[str, Any]) -> list[Any]:
    """The enum of a property, looking through the 'or null' wrapper."""
    if "anyOf" in node:
        node = node["anyOf"][0]
    if node.get("type") == "array":
        return _enum(node["items"])
    return list(node["enum"])


def test_enums_come_from_the_model_vocabularies() -> None:
    built = schema.build_schema()
    defs = built["$defs"]
    assert _enum(defs["data"]["properties"]["classification"]) == sorted(
        c.label for c in Classification
    )
    assert _enum(defs["component"]["properties"]["kind"]) == sorted(k.value for k in ComponentKind)
    assert _enum(defs["component"]["properties"]["properties"]) == sorted(COMPONENT_PROPERTIES)
    assert _enum(defs["flow"]["properties"]["protocol"]) == sorted(PROTOCOLS)
    assert _enum(defs["flow"]["properties"]["authentication"]) == sorted(AUTHENTICATION_METHODS)
    assert _enum(defs["flow"]["properties"]["properties"]) == sorted(FLOW_PROPERTIES)
    assert _enum(defs["control"]["properties"]["kind"]) == sorted(CONTROL_KINDS)
    assert _enum(defs["triage"]["properties"]["status"]) == sorted(s.value for s in ThreatStatus)


def test_schema_keys_are_the_loader_keys() -> None:
    built = schema.build_schema()
    defs = built["$defs"]
    assert list(built["properties"]) == list(loader.TOP_KEYS)
    assert list(built["properties"]["system"]["properties"]) == list(loader.SYSTEM_KEYS)
    for name, keys in [
        ("data", loader.DATA_KEYS),
        ("boundary", loader.BOUNDARY_KEYS),
        ("component", loader.COMPONENT_KEYS),
        ("flow", loader.FLOW_KEYS),
        ("control", loader.CONTROL_KEYS),
        ("triage", loader.TRIAGE_KEYS),
    ]:
        assert list(defs[name]["properties"]) == list(keys), name
        assert defs[name]["additionalProperties"] is False
    evidence = defs["control"]["properties"]["evidence"]["anyOf"][0]
    assert list(evidence["properties"]) == list(loader.EVIDENCE_KEYS)


VALID_FILES = [*sorted((FIXTURES / "full").rglob("*.yaml")), FIXTURES / "minimal.yaml"]


@pytest.mark.parametrize("path", VALID_FILES, ids=lambda p: p.relative_to(FIXTURES).as_posix())
def test_valid_fixture_files_pass_the_schema(
    validator: jsonschema.Draft202012Validator, path: Path
) -> None:
    assert schema_errors(validator, path.read_text(encoding="utf-8")) == []


def test_valid_fixture_models_load() -> None:
    # the same files the schema accepts, accepted by the loader too
    assert len(load_model(FIXTURES / "full" / "threatmodel.yaml").files) == 4
    assert len(load_model(FIXTURES / "minimal.yaml").flows) == 1


BASE = """
version: 1
system: {name: Demo, owner: team}
data:
  - id: pii
    classification: confidential
components:
  - id: web
    kind: process
    data: [pii]
  - id: db
    kind: datastore
flows:
  - id: web-to-db
    from: web
    to: db
    protocol: sql_tls
controls:
  - id: ctl
    kind: mfa
triage:
  - threat: TM-1@web
    status: open
"""

# Mistakes a schema can see: each must fail both the schema and the loader.
INVALID = {
    "unknown key": ("    kind: datastore\n", "    kind: datastore\n    boundry: dmz\n"),
    "unknown protocol": ("protocol: sql_tls", "protocol: sqltls"),
    "unknown authentication": ("protocol: sql_tls", "protocol: sql_tls\n    authentication: pw"),
    "unknown control kind": ("kind: mfa", "kind: 2fa"),
    "unknown classification": ("classification: confidential", "classification: secretive"),
    "unknown component property": ("data: [pii]", "data: [pii]\n    properties: [internet]"),
    "bad id": ("  - id: db\n", "  - id: DB\n"),
    "missing kind": ("    kind: datastore\n", ""),
    "wrong type": ("kind: process", "kind: process\n    technology: 3.11"),
    "version 2": ("version: 1", "version: 2"),
    "mitigated without controls": ("status: open", "status: mitigated"),
    "accepted without justification": ("status: open", "status: accepted"),
    "expires not a date": ("status: open", "status: open\n    expires: next year"),
    "repeated list item": ("data: [pii]", "data: [pii, pii]"),
    "system without owner": ("{name: Demo, owner: team}", "{name: Demo}"),
}


def test_base_model_is_valid(validator: jsonschema.Draft202012Validator) -> None:
    assert schema_errors(validator, BASE) == []
    assert list(load_model_text(BASE).components) == ["web", "db"]


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_models_fail_schema_and_loader(
    validator: jsonschema.Draft202012Validator, case: str
) -> None:
    old, new = INVALID[case]
    assert BASE.count(old) == 1, case
    text = BASE.replace(old, new)
    assert schema_errors(validator, text) != []
    with pytest.raises(ModelError):
        load_model_text(text)


def test_included_file_shape(validator: jsonschema.Draft202012Validator) -> None:
    # an included file has neither version nor system; a file with only one of them is wrong
    included = "components:\n  - id: api\n    kind: process\n"
    assert schema_errors(validator, included) == []
    assert schema_errors(validator, "version: 1\n" + included) != []


def test_schema_cannot_see_references_but_the_loader_does(
    validator: jsonschema.Draft202012Validator,
) -> None:
    text = BASE.replace("data: [pii]", "data: [pie]")
    assert schema_errors(validator, text) == []
    with pytest.raises(ModelError, match="no data asset has that id"):
        load_model_text(text)


def test_schema_command_prints_generated_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert schema.main([]) == 0
    assert capsys.readouterr().out == schema.schema_text()
    assert schema.main(["--bogus"]) == 2


def test_schema_text_has_no_trailing_whitespace() -> None:
    text = schema.schema_text()
    assert text.endswith("}\n")
    assert all(line == line.rstrip() for line in text.splitlines())
