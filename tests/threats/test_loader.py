"""The threat model loader: a valid model with includes, and every kind of mistake reported
with the file and line it is on."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from turbosec.threats import loader
from turbosec.threats.errors import ModelError
from turbosec.threats.loader import load_model, load_model_text
from turbosec.threats.model import (
    AUTHENTICATION_METHODS,
    PROTOCOLS,
    Classification,
    ComponentKind,
    SourceRef,
    ThreatModel,
    ThreatStatus,
)

FIXTURES = Path(__file__).parent / "fixtures"
FULL = FIXTURES / "full"

# Two lines, so the first line of a test's body is line 3.
HEAD = "version: 1\nsystem: {name: Demo, owner: team}\n"


def text(body: str) -> str:
    return HEAD + textwrap.dedent(body).lstrip("\n")


def fails(
    body: str, files: dict[str, str] | None = None, *, tmp: Path | None = None, head: bool = True
) -> ModelError:
    """The error loading ``body`` (after HEAD) as threatmodel.yaml, with ``files`` beside it."""
    for name, content in (files or {}).items():
        assert tmp is not None
        target = tmp / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    source = text(body) if head else textwrap.dedent(body).lstrip("\n")
    with pytest.raises(ModelError) as caught:
        load_model_text(source, "threatmodel.yaml", base_dir=tmp)
    return caught.value


def where(error: ModelError) -> tuple[str, int]:
    return error.file, error.line


# --- a valid model ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def full() -> ThreatModel:
    return load_model(FULL / "threatmodel.yaml")


def test_full_model_system_and_files(full: ThreatModel) -> None:
    main = str(FULL / "threatmodel.yaml")
    assert full.name == "Demo shop"
    assert full.owner == "team-payments"
    assert full.description == "A small web shop."
    assert full.path == main
    # depth first: billing.yaml's own include comes before the main file's second include
    assert full.files == (
        main,
        "services/billing.yaml",
        "services/billing-db.yaml",
        "shared/controls.yaml",
    )


def test_full_model_order_is_declaration_order_across_files(full: ThreatModel) -> None:
    assert list(full.data) == ["customer-pii", "catalog", "card-data"]
    assert list(full.boundaries) == ["internet", "cloud", "dmz", "internal", "payments"]
    assert list(full.components) == ["browser", "web", "db", "billing", "psp", "billing-db"]
    assert list(full.flows) == [
        "browser-to-web",
        "web-to-db",
        "web-to-billing",
        "billing-to-psp",
        "billing-to-db",
    ]
    assert list(full.controls) == [
        "ctl-login-lockout",
        "ctl-csrf",
        "ctl-sql-params",
        "ctl-encryption-at-rest",
    ]


def test_full_model_source_refs(full: ThreatModel) -> None:
    main = str(FULL / "threatmodel.yaml")
    assert full.data["customer-pii"].ref == SourceRef(main, 10)
    assert full.boundaries["dmz"].ref == SourceRef(main, 21)
    assert full.components["web"].ref == SourceRef(main, 31)
    assert full.flows["web-to-db"].ref == SourceRef(main, 52)
    assert full.controls["ctl-csrf"].ref == SourceRef(main, 65)
    assert [t.ref for t in full.triage] == [
        SourceRef(main, 68),
        SourceRef(main, 72),
        SourceRef(main, 76),
    ]
    # included files are named relative to the main model's folder, with '/'
    assert full.boundaries["payments"].ref == SourceRef("services/billing.yaml", 4)
    assert full.components["psp"].ref == SourceRef("services/billing.yaml", 15)
    assert full.data["card-data"].ref == SourceRef("services/billing-db.yaml", 2)
    assert full.flows["billing-to-db"].ref == SourceRef("services/billing-db.yaml", 12)
    assert full.controls["ctl-encryption-at-rest"].ref == SourceRef("shared/controls.yaml", 7)


def test_full_model_values(full: ThreatModel) -> None:
    pii = full.data["customer-pii"]
    assert (pii.name, pii.classification, pii.pii) == (
        "Customer records",
        Classification.CONFIDENTIAL,
        True,
    )
    catalog = full.data["catalog"]  # name defaults to the id, pii to false
    assert (catalog.name, catalog.classification, catalog.pii) == (
        "catalog",
        Classification.PUBLIC,
        False,
    )
    assert full.boundaries["dmz"].parent == "cloud"
    assert full.boundaries["payments"].parent == "internal"  # nested across files
    assert full.boundaries["internet"].parent is None
    web = full.components["web"]
    assert web.kind is ComponentKind.PROCESS
    assert web.boundary == "dmz"
    assert web.technology == "django"
    assert web.properties == frozenset({"internet_facing", "authenticates_users", "renders_html"})
    assert web.controls == ("ctl-login-lockout", "ctl-csrf")
    assert web.data == ("customer-pii", "catalog")
    assert full.components["psp"].boundary is None
    flow = full.flows["browser-to-web"]
    assert (flow.source, flow.target, flow.protocol, flow.authentication) == (
        "browser",
        "web",
        "https",
        "session",
    )
    assert flow.properties == frozenset({"carries_credentials"})
    assert flow.name == ""
    assert full.flows["web-to-db"].name == "Queries"
    lockout = full.controls["ctl-login-lockout"]
    assert lockout.kind == "account_lockout"
    assert lockout.tests == ("tests/test_login.py::test_lockout_after_five_failures",)
    assert lockout.tickets == ("SEC-123",)
    assert full.controls["ctl-encryption-at-rest"].tests == ()
    first, second, third = full.triage
    assert (first.pattern, first.status, first.mitigated_by, first.ticket) == (
        "TM-AUTH-001@web",
        ThreatStatus.MITIGATED,
        ("ctl-login-lockout",),
        "SEC-42",
    )
    assert second.status is ThreatStatus.ACCEPTED
    assert second.expires == dt.date(2027, 6, 30)  # a YAML date
    assert third.expires == dt.date(2027, 1, 31)  # a quoted "YYYY-MM-DD"
    assert third.external_id == "dos-risk@billing"


def test_loading_twice_gives_equal_models(full: ThreatModel) -> None:
    assert load_model(FULL / "threatmodel.yaml") == full


def test_load_model_text_resolves_includes_against_base_dir() -> None:
    source = (FULL / "threatmodel.yaml").read_text(encoding="utf-8")
    model = load_model_text(source, "threatmodel.yaml", base_dir=FULL)
    assert model.path == "threatmodel.yaml"
    assert model.files[0] == "threatmodel.yaml"
    assert model.components["web"].ref == SourceRef("threatmodel.yaml", 31)
    assert model.components["billing-db"].ref == SourceRef("services/billing-db.yaml", 6)


def test_minimal_model_defaults() -> None:
    model = load_model(FIXTURES / "minimal.yaml")
    flow = model.flows["user-to-app"]
    assert flow.authentication == "none"
    assert flow.controls == () and flow.data == () and flow.properties == frozenset()
    assert model.components["app"].name == "app"
    assert model.triage == () and dict(model.data) == {} and dict(model.controls) == {}


def test_null_means_absent_for_optional_keys() -> None:
    model = load_model_text(
        text("""
        boundaries:
          - id: net
            parent: null
            description:
        components:
          - id: app
            kind: process
            boundary: ~
            controls:
            properties: null
        flows:
        triage:
        """)
    )
    assert model.boundaries["net"].parent is None
    assert model.boundaries["net"].description == ""
    assert model.components["app"].boundary is None
    assert model.components["app"].controls == ()
    assert dict(model.flows) == {}


def test_external_ids_and_standard_tags() -> None:
    model = load_model_text(
        text("""
        data:
          - id: d1
            name: !!str 2024
            classification: internal
            external_id: Customer Data
        components:
          - id: app
            kind: process
            external_id: "app-server"
        """)
    )
    assert model.data["d1"].name == "2024"
    assert model.external_ids == {"d1": "Customer Data", "app": "app-server"}


def test_empty_included_file_adds_nothing(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("# nothing yet\n", encoding="utf-8")
    model = load_model_text(text("includes: [empty.yaml]\n"), base_dir=tmp_path)
    assert model.files == ("threatmodel.yaml", "empty.yaml")


def test_include_through_subfolders_normalises_names(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "one.yaml").write_text("includes: [b/../b/two.yaml]\n", encoding="utf-8")
    (tmp_path / "a" / "b" / "two.yaml").write_text(
        "components:\n  - id: x\n    kind: queue\n", encoding="utf-8"
    )
    model = load_model_text(text("includes: [./a/one.yaml]\n"), base_dir=tmp_path)
    assert model.files == ("threatmodel.yaml", "a/one.yaml", "a/b/two.yaml")
    assert model.components["x"].ref == SourceRef("a/b/two.yaml", 2)


# --- YAML-level refusals ---------------------------------------------------------------------


def test_alias_is_refused() -> None:
    error = fails("""
        data:
          - id: d1
            classification: &c internal
          - id: d2
            classification: *c
        """)
    # the anchor is met first
    assert where(error) == ("threatmodel.yaml", 5)
    assert "anchor '&c'" in error.message


def test_alias_without_anchor_name_in_scope_is_refused() -> None:
    error = fails("components: *nothing\n")
    assert error.line == 3
    assert "not allowed" in error.message


def test_merge_key_is_refused() -> None:
    error = fails("""
        components:
          - id: a
            kind: process
          - <<: {kind: process}
            id: b
        """)
    assert where(error) == ("threatmodel.yaml", 6)
    assert error.message == "YAML merge keys ('<<') are not allowed in a threat model"


def test_duplicate_key_is_refused() -> None:
    error = fails("""
        components:
          - id: web
            kind: process
            kind: datastore
        """)
    assert where(error) == ("threatmodel.yaml", 6)
    assert error.message == "duplicate key 'kind' (first at line 5)"


@pytest.mark.parametrize("key", ["yes", "1", "null", "[a, b]"])
def test_non_text_key_is_refused(key: str) -> None:
    error = fails(f"""
        components:
          - id: web
            {key}: x
        """)
    assert error.line == 5
    assert "mapping key must be text" in error.message


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        ("!!python/object/apply:os.system ['true']", "!!python/object/apply:os.system"),
        ("!!binary aGVsbG8=", "!!binary"),
        ("!custom text", "!custom"),
        ("!!set {a: null}", "!!set"),
    ],
)
def test_non_standard_tags_are_refused(value: str, tag: str) -> None:
    error = fails(f"""
        components:
          - id: web
            kind: process
            description: {value}
        """)
    assert where(error) == ("threatmodel.yaml", 6)
    assert error.message == f"YAML tag {tag!r} is not allowed in a threat model"


def test_invalid_explicit_scalar_is_refused() -> None:
    error = fails("""
        components:
          - id: web
            kind: process
            description: !!int twelve
        """)
    assert where(error) == ("threatmodel.yaml", 6)
    assert error.message == "'twelve' is not a valid int"


def test_syntax_error_names_line() -> None:
    error = fails("""
        components:
          - id: web
            kind: [process
        flows: []
        """)
    assert error.file == "threatmodel.yaml"
    assert error.line in (6, 7)  # libyaml reports where it noticed
    assert error.message.startswith("invalid YAML")


def test_second_document_is_refused() -> None:
    error = fails("---\nversion: 1\n---\nversion: 1\n", head=False)
    assert where(error) == ("threatmodel.yaml", 3)
    assert "second YAML document" in error.message


def test_deep_nesting_is_refused() -> None:
    error = fails("description: " + "[" * 100 + "]" * 100 + "\n")
    assert error.line == 3
    assert "nested deeper" in error.message


def test_large_text_is_refused() -> None:
    big = text("# " + "x" * loader.MAX_FILE_BYTES + "\n")
    with pytest.raises(ModelError) as caught:
        load_model_text(big)
    assert where(caught.value) == ("threatmodel.yaml", 0)
    assert "larger than 4 MiB" in caught.value.message


def test_large_included_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "big.yaml").write_bytes(b"#" * (loader.MAX_FILE_BYTES + 1))
    error = fails("includes: [big.yaml]\n", tmp=tmp_path)
    assert where(error) == ("big.yaml", 0)
    assert "larger than 4 MiB" in error.message


def test_non_utf8_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "threatmodel.yaml"
    path.write_bytes(HEAD.encode() + b"# caf\xe9\n")
    with pytest.raises(ModelError) as caught:
        load_model(path)
    assert where(caught.value) == (str(path), 0)
    assert "not UTF-8" in caught.value.message


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as caught:
        load_model(tmp_path / "threatmodel.yaml")
    assert "does not exist" in caught.value.message


@pytest.mark.parametrize(
    ("source", "line", "fragment"),
    [
        ("", 0, "the model is empty"),
        ("# only a comment\n", 0, "the model is empty"),
        ("- version: 1\n", 1, "a threat model is a YAML mapping"),
    ],
)
def test_not_a_model(source: str, line: int, fragment: str) -> None:
    error = fails(source, head=False)
    assert error.line == line
    assert fragment in error.message


# --- keys, types and vocabularies -----------------------------------------------------------


def test_unknown_key_names_element_valid_keys_and_suggestion() -> None:
    error = fails("""
        components:
          - id: web
            kind: process
            boundry: dmz
        """)
    assert where(error) == ("threatmodel.yaml", 6)
    assert error.message == (
        "unknown key 'boundry' in component 'web'; valid keys: boundary, controls, data, "
        "description, external_id, id, kind, name, properties, technology"
    )
    assert error.hint == "did you mean 'boundary'?"
    assert str(error).startswith("threatmodel.yaml:6: unknown key 'boundry'")


def test_unknown_top_level_key() -> None:
    error = fails("component: []\n")
    assert where(error) == ("threatmodel.yaml", 3)
    assert "unknown key 'component' in the model" in error.message
    assert error.hint == "did you mean 'components'?"


def test_unknown_key_in_evidence() -> None:
    error = fails("""
        controls:
          - id: ctl
            kind: mfa
            evidence:
              test: [tests/test_a.py::test_b]
        """)
    assert error.line == 7
    assert "unknown key 'test' in the evidence of control 'ctl'" in error.message
    assert error.hint == "did you mean 'tests'?"


@pytest.mark.parametrize(
    ("source", "line", "fragment"),
    [
        ("system: {name: Demo, owner: team}\n", 1, "the model has no 'version'"),
        ("version: 2\nsystem: {name: Demo, owner: team}\n", 1, "unsupported model version 2"),
        ("version: true\nsystem: {name: D, owner: t}\n", 1, "unsupported model version True"),
        ("version: '1'\nsystem: {name: D, owner: t}\n", 1, "unsupported model version '1'"),
        ("version: 1\n", 1, "the model has no 'system'"),
        ("version: 1\nsystem: [a]\n", 2, "'system' of the model must be a mapping"),
        ("version: 1\nsystem:\n  owner: t\n", 3, "'system' has no 'name'"),
        ("version: 1\nsystem:\n  name: ' '\n  owner: t\n", 3, "'name' of 'system' is empty"),
        ("version: 1\nsystem:\n  name: a\n  owner: t\n  team: x\n", 5, "unknown key 'team'"),
    ],
)
def test_header_errors(source: str, line: int, fragment: str) -> None:
    error = fails(source, head=False)
    assert where(error) == ("threatmodel.yaml", line)
    assert fragment in error.message


def test_section_must_be_a_list() -> None:
    error = fails("components:\n  web: {kind: process}\n")
    assert where(error) == ("threatmodel.yaml", 3)
    assert "'components' of 'threatmodel.yaml' must be a list, got a mapping" in error.message


def test_section_items_must_be_mappings() -> None:
    error = fails("components:\n  - id: a\n    kind: queue\n  - web\n")
    assert where(error) == ("threatmodel.yaml", 6)
    assert "each entry of 'components' must be a mapping" in error.message


@pytest.mark.parametrize(
    ("item", "line", "message"),
    [
        ("- kind: process\n", 4, "component #1 has no 'id'; it is required"),
        ("- id: Web\n  kind: process\n", 4, "invalid component id 'Web'"),
        ("- id: -web\n  kind: process\n", 4, "invalid component id '-web'"),
        ("- id: " + "a" * 65 + "\n  kind: process\n", 4, "invalid component id '" + "a" * 65 + "'"),
        ("- id: 42\n  kind: process\n", 4, "'id' of component #1 must be text, got a number (42)"),
        ("- id: web\n", 4, "component 'web' has no 'kind'; it is required"),
    ],
)
def test_id_errors(item: str, line: int, message: str) -> None:
    error = fails("components:\n" + textwrap.indent(item, "  "))
    assert where(error) == ("threatmodel.yaml", line)
    assert error.message == message


def test_wrong_type_suggests_quoting() -> None:
    error = fails("""
        components:
          - id: web
            kind: process
            technology: 3.11
        """)
    assert where(error) == ("threatmodel.yaml", 6)
    assert error.message == "'technology' of component 'web' must be text, got a number (3.11)"
    assert error.hint == "quote it"


def test_scalar_where_a_list_belongs() -> None:
    error = fails("""
        components:
          - id: web
            kind: process
            properties: internet_facing
        """)
    assert where(error) == ("threatmodel.yaml", 6)
    assert error.message == (
        "'properties' of component 'web' must be a list of component property names, "
        "got text ('internet_facing')"
    )
    assert error.hint == "write a list: 'properties: [internet_facing]'"


def test_pii_must_be_boolean() -> None:
    error = fails("""
        data:
          - id: d
            classification: internal
            pii: "yes"
        """)
    assert where(error) == ("threatmodel.yaml", 6)
    assert "'pii' of data asset 'd' must be true or false" in error.message


@pytest.mark.parametrize(
    ("body", "line", "message", "hint"),
    [
        (
            "data:\n  - id: d\n    classification: confidental\n",
            5,
            "unknown classification 'confidental' in data asset 'd'; valid: confidential, "
            "internal, public, restricted, secret",
            "did you mean 'confidential'?",
        ),
        (
            "components:\n  - id: c\n    kind: service\n",
            5,
            "unknown component kind 'service' in component 'c'; valid: datastore, "
            "external_entity, process, queue",
            None,
        ),
        (
            "components:\n  - id: c\n    kind: process\n    properties: [internet_facin]\n",
            6,
            "unknown component property 'internet_facin' in component 'c'",
            "did you mean 'internet_facing'?",
        ),
        (
            "controls:\n  - id: k\n    kind: mfa2\n",
            5,
            "unknown control kind 'mfa2' in control 'k'",
            "did you mean 'mfa'?",
        ),
    ],
)
def test_vocabulary_errors(body: str, line: int, message: str, hint: str | None) -> None:
    error = fails(body)
    assert where(error) == ("threatmodel.yaml", line)
    assert error.message.startswith(message)
    assert error.hint == hint


FLOW_BASE = """
components:
  - id: a
    kind: process
  - id: b
    kind: process
flows:
  - id: f
    from: a
    to: b
"""  # the flow is at line 9, its added keys start at line 12


@pytest.mark.parametrize(
    ("extra", "line", "fragment", "hint"),
    [
        (
            "protocol: htps\n",
            12,
            f"unknown protocol 'htps' in flow 'f'; valid: {', '.join(sorted(PROTOCOLS))}",
            "did you mean 'https'?",
        ),
        (
            "protocol: https\nauthentication: tokens\n",
            13,
            "unknown authentication method 'tokens' in flow 'f'; valid: "
            + ", ".join(sorted(AUTHENTICATION_METHODS)),
            "did you mean 'token'?",
        ),
        (
            "protocol: https\nproperties:\n  - async\n  - carries_credential\n",
            15,
            "unknown flow property 'carries_credential' in flow 'f'",
            "did you mean 'carries_credentials'?",
        ),
        ("authentication: none\n", 9, "flow 'f' has no 'protocol'; it is required", None),
    ],
)
def test_flow_vocabulary_errors(extra: str, line: int, fragment: str, hint: str | None) -> None:
    error = fails(FLOW_BASE + textwrap.indent(extra, "    "))
    assert where(error) == ("threatmodel.yaml", line)
    assert error.message.startswith(fragment)
    if hint is not None:
        assert error.hint == hint


def test_flow_needs_both_ends() -> None:
    error = fails(FLOW_BASE.replace("    to: b\n", "") + "    protocol: https\n")
    assert where(error) == ("threatmodel.yaml", 9)
    assert error.message == "flow 'f' has no 'to'; it is required"


def test_list_item_repeated() -> None:
    error = fails("""
        controls:
          - id: k
            kind: mfa
        components:
          - id: c
            kind: process
            controls:
              - k
              - k
        """)
    assert where(error) == ("threatmodel.yaml", 11)
    assert error.message == "'k' is listed twice in 'controls' of component 'c' (first at line 10)"


def test_list_item_not_text() -> None:
    error = fails("""
        components:
          - id: c
            kind: process
            data: [d1, {id: d2}]
        """)
    assert where(error) == ("threatmodel.yaml", 6)
    assert "each item of 'data' in component 'c' must be data asset ids" in error.message


def test_invalid_reference_id_syntax_names_item_line() -> None:
    error = fails("""
        components:
          - id: c
            kind: process
            controls:
              - Ctl One
        """)
    assert where(error) == ("threatmodel.yaml", 7)
    assert "'Ctl One' in 'controls' of component 'c' is not a valid control id" in error.message


# --- references ------------------------------------------------------------------------------

REFS = """
data:
  - id: pii
    classification: confidential
boundaries:
  - id: dmz
  - id: inner
    parent: {parent}
components:
  - id: web
    kind: process
    boundary: {boundary}
    controls: [ctl]
    data: [{data}]
  - id: db
    kind: datastore
flows:
  - id: f
    from: {source}
    to: db
    protocol: https
    controls:
      - {flow_control}
controls:
  - id: ctl
    kind: mfa
triage:
  - threat: TM-1@web
    status: mitigated
    mitigated_by: [{mitigated_by}]
"""
GOOD = {
    "parent": "dmz",
    "boundary": "dmz",
    "data": "pii",
    "source": "web",
    "flow_control": "ctl",
    "mitigated_by": "ctl",
}


def test_reference_template_is_valid() -> None:
    model = load_model_text(HEAD + REFS.format(**GOOD))
    assert model.flows["f"].controls == ("ctl",)


@pytest.mark.parametrize(
    ("key", "bad", "line", "message", "hint"),
    [
        (
            "parent",
            "dmzz",
            9,
            "boundary 'inner' names boundary 'dmzz' in 'parent', but no boundary has that id; "
            "declared boundary ids: dmz, inner",
            "did you mean 'dmz'?",
        ),
        (
            "boundary",
            "wan",
            13,
            "component 'web' names boundary 'wan' in 'boundary', but no boundary has that "
            "id; declared boundary ids: dmz, inner",
            "declare it under 'boundaries:' or fix the id",
        ),
        (
            "data",
            "pi",
            15,
            "component 'web' names data asset 'pi' in 'data', but no data asset has that id; "
            "declared data asset ids: pii",
            "did you mean 'pii'?",
        ),
        (
            "source",
            "webb",
            20,
            "flow 'f' names component 'webb' in 'from', but no component has that id; "
            "declared component ids: db, web",
            "did you mean 'web'?",
        ),
        (
            "flow_control",
            "ctl-x",
            24,
            "flow 'f' names control 'ctl-x' in 'controls', but no control has that id; "
            "declared control ids: ctl",
            None,
        ),
        (
            "mitigated_by",
            "ctl2",
            31,
            "triage entry 'TM-1@web' names control 'ctl2' in 'mitigated_by', but no control "
            "has that id; declared control ids: ctl",
            "did you mean 'ctl'?",
        ),
        (
            "boundary",
            "db",
            13,
            "component 'web' names 'db' in 'boundary', but 'db' is a component (declared at "
            "threatmodel.yaml:16), not a boundary; declared boundary ids: dmz, inner",
            None,
        ),
    ],
)
def test_dangling_references(key: str, bad: str, line: int, message: str, hint: str | None) -> None:
    error = fails(REFS.format(**{**GOOD, key: bad}))
    assert where(error) == ("threatmodel.yaml", line)
    assert error.message == message
    if hint is not None:
        assert error.hint == hint


def test_reference_into_and_from_included_file(tmp_path: Path) -> None:
    # an include may reference elements of the main file and the other way round
    model = load_model_text(
        text("""
        includes: [parts/db.yaml]
        components:
          - id: web
            kind: process
            data: [orders]
        """),
        base_dir=_write(
            tmp_path,
            {
                "parts/db.yaml": """
            data:
              - id: orders
                classification: internal
            flows:
              - id: web-to-db
                from: web
                to: db
                protocol: sql
            components:
              - id: db
                kind: datastore
            """,
            },
        ),
    )
    assert model.flows["web-to-db"].ref == SourceRef("parts/db.yaml", 5)


def test_dangling_reference_in_included_file(tmp_path: Path) -> None:
    error = fails(
        "includes: [parts/flows.yaml]\ncomponents:\n  - id: web\n    kind: process\n",
        {"parts/flows.yaml": "flows:\n  - id: f\n    from: web\n    to: api\n    protocol: http\n"},
        tmp=tmp_path,
    )
    assert where(error) == ("parts/flows.yaml", 4)
    assert "flow 'f' names component 'api' in 'to'" in error.message


# --- duplicate ids ---------------------------------------------------------------------------


def test_duplicate_id_same_kind() -> None:
    error = fails("""
        components:
          - id: web
            kind: process
          - id: web
            kind: datastore
        """)
    assert where(error) == ("threatmodel.yaml", 6)
    assert error.message == (
        "duplicate id 'web': already declared as a component at threatmodel.yaml:4"
    )


def test_duplicate_id_across_kinds() -> None:
    error = fails("""
        data:
          - id: orders
            classification: internal
        components:
          - id: orders
            kind: datastore
        """)
    assert where(error) == ("threatmodel.yaml", 7)
    assert "already declared as a data asset at threatmodel.yaml:4" in error.message


def test_duplicate_id_across_files(tmp_path: Path) -> None:
    error = fails(
        "includes: [a.yaml]\ncontrols:\n  - id: ctl\n    kind: mfa\n",
        {"a.yaml": "# shared\nboundaries:\n  - name: x\n    id: ctl\n"},
        tmp=tmp_path,
    )
    assert where(error) == ("a.yaml", 4)  # the id key of the second declaration
    assert error.message == (
        "duplicate id 'ctl': already declared as a control at threatmodel.yaml:5"
    )


# --- includes --------------------------------------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    return root


def test_include_cycle(tmp_path: Path) -> None:
    error = fails(
        "includes: [a.yaml]\n",
        {"a.yaml": "includes: [sub/b.yaml]\n", "sub/b.yaml": "# b\nincludes: [../a.yaml]\n"},
        tmp=tmp_path,
    )
    assert where(error) == ("sub/b.yaml", 2)
    assert error.message == "include cycle: a.yaml -> sub/b.yaml -> a.yaml"


def test_include_of_the_main_file_is_a_cycle(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "threatmodel.yaml": HEAD + "includes: [x.yaml]\n",
            "x.yaml": "includes:\n  - threatmodel.yaml\n",
        },
    )
    with pytest.raises(ModelError) as caught:
        load_model(tmp_path / "threatmodel.yaml")
    assert where(caught.value) == ("x.yaml", 2)
    assert caught.value.message == (
        f"include cycle: {tmp_path / 'threatmodel.yaml'} -> x.yaml -> threatmodel.yaml"
    )


def test_file_included_twice(tmp_path: Path) -> None:
    error = fails(
        "includes: [a.yaml, b.yaml]\n",
        {
            "a.yaml": "includes: [c.yaml]\n",
            "b.yaml": "# b\n# b\nincludes: [c.yaml]\n",
            "c.yaml": "",
        },
        tmp=tmp_path,
    )
    assert where(error) == ("b.yaml", 3)
    assert error.message == "'c.yaml' is included twice (first at a.yaml:1)"


@pytest.mark.parametrize("include", ["../outside.yaml", "sub/../../outside.yaml"])
def test_include_escaping_the_model_folder(tmp_path: Path, include: str) -> None:
    inner = tmp_path / "model"
    inner.mkdir()
    (tmp_path / "outside.yaml").write_text("", encoding="utf-8")
    error = fails(f"includes:\n  - {include}\n", tmp=inner)
    assert where(error) == ("threatmodel.yaml", 4)
    assert error.message == f"include {include!r} points outside the model's folder"


def test_include_escaping_from_a_subfolder(tmp_path: Path) -> None:
    error = fails(
        "includes: [sub/a.yaml]\n", {"sub/a.yaml": "includes: [../../x.yaml]\n"}, tmp=tmp_path
    )
    assert where(error) == ("sub/a.yaml", 1)
    assert "points outside the model's folder" in error.message


def test_include_through_symlink_leaving_the_folder(tmp_path: Path) -> None:
    inner = tmp_path / "model"
    inner.mkdir()
    (tmp_path / "secret.yaml").write_text("", encoding="utf-8")
    (inner / "link.yaml").symlink_to(tmp_path / "secret.yaml")
    error = fails("includes: [link.yaml]\n", tmp=inner)
    assert where(error) == ("threatmodel.yaml", 3)
    assert "leads outside the model's folder" in error.message


def test_absolute_include_is_refused(tmp_path: Path) -> None:
    error = fails(f"includes: [{tmp_path / 'a.yaml'}]\n", tmp=tmp_path)
    assert where(error) == ("threatmodel.yaml", 3)
    assert "is not a relative path" in error.message


def test_missing_include(tmp_path: Path) -> None:
    error = fails("includes:\n  - nope.yaml\n", tmp=tmp_path)
    assert where(error) == ("threatmodel.yaml", 4)
    assert error.message.startswith("included file 'nope.yaml' does not exist")


def test_includes_need_a_folder() -> None:
    error = fails("includes: [a.yaml]\n")
    assert where(error) == ("threatmodel.yaml", 3)
    assert "without a folder" in error.message


def test_version_and_system_only_in_main_file(tmp_path: Path) -> None:
    error = fails("includes: [a.yaml]\n", {"a.yaml": "data: []\nversion: 1\n"}, tmp=tmp_path)
    assert where(error) == ("a.yaml", 2)
    assert error.message.startswith("'version' belongs in the main model file only")


def test_unknown_key_in_included_file(tmp_path: Path) -> None:
    error = fails("includes: [a.yaml]\n", {"a.yaml": "flow: []\n"}, tmp=tmp_path)
    assert where(error) == ("a.yaml", 1)
    assert "unknown key 'flow' in an included file" in error.message
    assert error.hint == "did you mean 'flows'?"


def test_too_many_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "MAX_FILES", 3)
    error = fails(
        "includes: [a.yaml, b.yaml, c.yaml]\n",
        {"a.yaml": "", "b.yaml": "", "c.yaml": ""},
        tmp=tmp_path,
    )
    assert where(error) == ("threatmodel.yaml", 3)
    assert error.message == "more than 3 files in one model"


# --- boundary nesting ------------------------------------------------------------------------


def test_boundary_parent_cycle() -> None:
    error = fails("""
        boundaries:
          - id: outer
          - id: a
            parent: c
          - id: b
            parent: a
          - id: c
            parent: b
        """)
    assert where(error) == ("threatmodel.yaml", 6)  # 'a' is declared first of the three
    assert error.message == "boundary parents form a cycle: a -> c -> b -> a"


def test_boundary_is_its_own_parent() -> None:
    error = fails("boundaries:\n  - id: x\n\n    parent: x\n")
    assert where(error) == ("threatmodel.yaml", 6)
    assert error.message == "boundary 'x' is its own parent"


# --- triage ----------------------------------------------------------------------------------

TRIAGE = """
controls:
  - id: ctl
    kind: mfa
triage:
  - threat: TM-1@web
"""  # the entry is at line 7, its added keys from line 8


@pytest.mark.parametrize(
    ("entry", "line", "message"),
    [
        (
            "status: mitigated\n",
            7,
            "triage entry 'TM-1@web' has status 'mitigated' but no 'mitigated_by'",
        ),
        (
            "status: mitigated\nmitigated_by: []\n",
            9,
            "triage entry 'TM-1@web' has status 'mitigated' but no 'mitigated_by'",
        ),
        (
            "status: accepted\n",
            7,
            "triage entry 'TM-1@web' has status 'accepted' but no 'justification'",
        ),
        (
            "status: transferred\nticket: X-1\n",
            7,
            "triage entry 'TM-1@web' has status 'transferred' but no 'justification'",
        ),
        (
            "status: false_positive\njustification: '  '\n",
            9,
            "triage entry 'TM-1@web' has status 'false_positive' but no 'justification'",
        ),
        (
            "status: accepted\njustification: ok\nexpires: 2027-02-30\n",
            10,
            "'expires' of triage entry 'TM-1@web' must be a date (YYYY-MM-DD), "
            "got text ('2027-02-30')",
        ),
        (
            "status: accepted\njustification: ok\nexpires: June 2027\n",
            10,
            "'expires' of triage entry 'TM-1@web' must be a date (YYYY-MM-DD), "
            "got text ('June 2027')",
        ),
        (
            "status: accepted\njustification: ok\nexpires: 2027-06-30 12:00:00\n",
            10,
            "'expires' of triage entry 'TM-1@web' must be a date (YYYY-MM-DD), "
            "got a date and time (2027-06-30T12:00:00)",
        ),
        (
            "status: fixed\n",
            8,
            "unknown status 'fixed' in triage entry 'TM-1@web'; valid: accepted, false_positive, "
            "in_progress, mitigated, open, transferred",
        ),
        ("justification: x\n", 7, "triage entry 'TM-1@web' has no 'status'; it is required"),
        ("status: open\nreason: x\n", 9, "unknown key 'reason' in triage entry 'TM-1@web'"),
    ],
)
def test_triage_errors(entry: str, line: int, message: str) -> None:
    error = fails(TRIAGE + textwrap.indent(entry, "    "))
    assert where(error) == ("threatmodel.yaml", line)
    assert error.message.startswith(message)


def test_triage_in_progress_may_name_controls_and_wildcards_are_free_text() -> None:
    model = load_model_text(
        HEAD + TRIAGE.replace("TM-1@web", "'TM-*@Web Shop?'") + "    status: in_progress\n"
        "    mitigated_by: [ctl]\n"
    )
    (entry,) = model.triage
    assert entry.pattern == "TM-*@Web Shop?"
    assert entry.mitigated_by == ("ctl",)
    assert entry.status is ThreatStatus.IN_PROGRESS


@pytest.mark.parametrize(
    ("threat", "line", "message"),
    [
        ("''", 7, "'threat' of triage entry #1 is empty"),
        ("42", 7, "'threat' of triage entry #1 must be a threat id or pattern, got a number (42)"),
    ],
)
def test_triage_threat_pattern_errors(threat: str, line: int, message: str) -> None:
    error = fails(TRIAGE.replace("TM-1@web", threat) + "    status: open\n")
    assert where(error) == ("threatmodel.yaml", line)
    assert error.message == message


def test_triage_needs_threat() -> None:
    error = fails("triage:\n  - status: open\n")
    assert where(error) == ("threatmodel.yaml", 4)
    assert error.message == "triage entry #1 has no 'threat'; it is required"


def test_duplicate_triage_pattern() -> None:
    error = fails(
        TRIAGE + "    status: open\n  - threat: TM-1@web\n    status: accepted\n"
        "    justification: x\n"
    )
    assert where(error) == ("threatmodel.yaml", 9)
    assert error.message == (
        "a second triage entry for 'TM-1@web' (the first, at threatmodel.yaml:7, always wins)"
    )


# --- robustness ------------------------------------------------------------------------------

MINIMAL = (FIXTURES / "minimal.yaml").read_text(encoding="utf-8")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(MINIMAL)),
            st.sampled_from(list(":-[]{}&*!|>'\"#,? \n\tab1\x00\ufeff")),
            st.booleans(),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_mangled_model_loads_or_raises_model_error_with_a_real_line(
    edits: list[tuple[int, str, bool]],
) -> None:
    chars = list(MINIMAL)
    for position, char, insert in edits:
        position = min(position, len(chars))
        if insert:
            chars.insert(position, char)
        elif position < len(chars):
            del chars[position]
    source = "".join(chars)
    failure: ModelError | None = None
    try:
        model = load_model_text(source)
    except ModelError as error:  # anything else (KeyError, RecursionError...) fails the test
        failure = error
    if failure is None:
        assert model.files == ("threatmodel.yaml",)
    else:
        assert failure.file == "threatmodel.yaml"
        assert 0 <= failure.line <= source.count("\n") + 1
        assert failure.message
