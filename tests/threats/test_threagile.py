"""Importing a Threagile model (tests/threats/fixtures_threagile/shop.yaml, written from
Threagile's documented schema) into turbosec's model format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from turbosec.threats.errors import ModelError
from turbosec.threats.importers.threagile import import_threagile

FIXTURES = Path(__file__).parent / "fixtures_threagile"
SHOP = FIXTURES / "shop.yaml"


def _convert(path: Path = SHOP) -> dict[str, Any]:
    doc = yaml.safe_load(import_threagile(path))
    assert isinstance(doc, dict)
    return doc


def _by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in items}


def test_output_is_deterministic_and_names_its_source() -> None:
    first = import_threagile(SHOP)
    assert first == import_threagile(SHOP)
    assert first.startswith("# Converted from the Threagile model shop.yaml")
    doc = yaml.safe_load(first)
    assert doc["version"] == 1
    assert doc["system"] == {
        "name": "Pet Shop",
        "owner": "Shop Platform Team",
        "description": "The online pet shop: a storefront, an order service behind it and a "
        "database, with sign-in through the company identity provider.",
    }


def test_data_assets_keep_the_order_of_confidentiality() -> None:
    data = _by_id(_convert()["data"])
    assert {k: v["classification"] for k, v in data.items()} == {
        "catalogue": "public",
        "orders": "confidential",  # Threagile restricted (below its confidential)
        "customer-accounts": "restricted",  # Threagile confidential
        "credentials": "secret",  # Threagile strictly-confidential
    }
    assert data["customer-accounts"]["pii"] is True  # the pii tag
    assert "pii" not in data["orders"]
    assert data["orders"]["name"] == "Orders"
    assert "integrity important" in data["orders"]["description"]


def test_technical_assets_become_components() -> None:
    comps = _by_id(_convert()["components"])
    assert sorted(comps) == [
        "customer-browser",
        "identity-provider",
        "order-queue",
        "order-service",
        "shop-database",
        "storefront",
    ]
    assert comps["customer-browser"]["kind"] == "external_entity"
    assert comps["order-queue"]["kind"] == "queue"  # technology message-queue
    assert comps["shop-database"]["kind"] == "datastore"
    assert comps["storefront"]["properties"] == ["deserializes_untrusted_data", "internet_facing"]
    assert comps["identity-provider"]["properties"] == [
        "authenticates_users",
        "internet_facing",
        "multi_tenant",
    ]
    assert comps["order-service"]["properties"] == ["parses_untrusted_files"]  # accepts xml
    assert comps["shop-database"]["data"] == ["customer-accounts", "orders"]
    assert comps["storefront"]["data"] == ["catalogue", "customer-accounts", "orders"]
    assert (
        "Out of scope in Threagile: Owned and managed by the customer."
        in (comps["customer-browser"]["description"])
    )


def test_encryption_becomes_a_control_without_evidence() -> None:
    doc = _convert()
    comps, controls = _by_id(doc["components"]), _by_id(doc["controls"])
    assert comps["shop-database"]["controls"] == ["ctl-shop-database-encryption-at-rest"]
    control = controls["ctl-shop-database-encryption-at-rest"]
    assert control["kind"] == "encryption_at_rest"
    assert "evidence" not in control
    assert "controls" not in comps["storefront"]  # encryption: none


def test_boundaries_membership_and_nesting() -> None:
    doc = _convert()
    bounds = _by_id(doc["boundaries"])
    assert bounds["web-zone"]["parent"] == "cloud-account"
    assert bounds["service-namespace"]["parent"] == "cloud-account"
    assert "parent" not in bounds["cloud-account"]
    assert "Threagile type: network-cloud-provider." in bounds["cloud-account"]["description"]
    comps = _by_id(doc["components"])
    assert comps["storefront"]["boundary"] == "web-zone"
    assert comps["shop-database"]["boundary"] == "cloud-account"
    assert "boundary" not in comps["customer-browser"]


def test_communication_links_become_flows() -> None:
    doc = _convert()
    flows = _by_id(doc["flows"])
    assert sorted(flows) == [
        "customer-browser-to-identity-provider",
        "customer-browser-to-storefront",
        "order-service-to-order-queue",
        # two links join the same pair: their titles tell them apart
        "order-service-to-shop-database-read-customers",
        "order-service-to-shop-database-store-orders",
        "storefront-to-order-queue",
    ]
    shop = flows["customer-browser-to-storefront"]
    assert (shop["from"], shop["to"], shop["protocol"]) == (
        "customer-browser",
        "storefront",
        "https",
    )
    assert shop["authentication"] == "session"
    assert shop["data"] == ["catalogue", "customer-accounts"]  # sent and received
    assert flows["order-service-to-order-queue"]["protocol"] == "tcp"  # binary
    assert flows["storefront-to-order-queue"]["protocol"] == "tls"  # binary-encrypted
    assert flows["order-service-to-shop-database-store-orders"]["protocol"] == "sql_tls"
    sign_in = flows["customer-browser-to-identity-provider"]
    assert sign_in["authentication"] == "password"
    assert sign_in["properties"] == ["carries_credentials"]
    controls = _by_id(doc["controls"])
    assert [controls[c]["kind"] for c in sign_in["controls"]] == ["mfa"]
    place = flows["storefront-to-order-queue"]
    assert [controls[c]["kind"] for c in place["controls"]] == [
        "authorization",
        "network_segmentation",
    ]
    read = flows["order-service-to-shop-database-read-customers"]
    kinds = [controls[c]["kind"] for c in read["controls"]]
    assert kinds == ["authorization", "encryption_in_transit"]  # vpn
    assert all(len(c) <= 64 for c in controls)


def test_risk_tracking_becomes_triage_with_external_ids() -> None:
    triage = {t["external_id"]: t for t in _convert()["triage"]}
    assert len(triage) == 5
    accepted = triage["missing-waf@storefront"]
    assert accepted["threat"] == "threagile:missing-waf@storefront"
    assert accepted["status"] == "accepted"
    assert accepted["ticket"] == "SHOP-77"
    assert accepted["justification"] == (
        "CDN in front filters requests. Checked by Bob on 2026-09-01."
    )
    # mitigated without evidence is not mitigated in turbosec
    xss = triage["cross-site-scripting@storefront"]
    assert xss["status"] == "in_progress"
    assert "Threagile status: mitigated" in xss["justification"]
    assert triage["missing-vault@order-service"]["status"] == "false_positive"
    assert triage["missing-vault@order-service"]["justification"] == (
        "No justification in the Threagile model."
    )
    unchecked = "sql-nosql-injection@order-service@shop-database@order-service>store-orders"
    assert triage[unchecked]["status"] == "open"


def test_converted_model_loads() -> None:
    loader = pytest.importorskip("turbosec.threats.loader")
    model = loader.load_model_text(import_threagile(SHOP), "threatmodel.yaml")
    assert model.name == "Pet Shop"
    assert model.boundaries["web-zone"].parent == "cloud-account"
    assert model.flows["customer-browser-to-storefront"].authentication == "session"
    assert {t.external_id for t in model.triage} >= {"missing-waf@storefront"}


# --- invalid input -------------------------------------------------------------------------

MINIMAL = """\
title: Tiny
author:
  name: Someone
data_assets:
  Things:
    id: things
    confidentiality: internal
technical_assets:
  Client:
    id: client
    type: external-entity
    communication_links:
      Call:
        target: api
        protocol: https
        data_assets_sent: [things]
  API:
    id: api
    type: process
trust_boundaries:
  Outer:
    id: outer
    technical_assets_inside: [api]
    trust_boundaries_nested: [inner]
  Inner:
    id: inner
    technical_assets_inside: []
    trust_boundaries_nested: []
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "model.yaml"
    path.write_text(text)
    return path


def _error(tmp_path: Path, text: str) -> ModelError:
    with pytest.raises(ModelError) as info:
        import_threagile(_write(tmp_path, text))
    return info.value


def test_minimal_model_converts(tmp_path: Path) -> None:
    doc = yaml.safe_load(import_threagile(_write(tmp_path, MINIMAL)))
    assert [f["id"] for f in doc["flows"]] == ["client-to-api"]
    assert "triage" not in doc and "controls" not in doc


def test_unknown_protocol_is_an_error_naming_the_link(tmp_path: Path) -> None:
    err = _error(tmp_path, MINIMAL.replace("protocol: https", "protocol: unknown-protocol"))
    assert "communication link 'Call' of 'client'" in err.message
    assert "'unknown-protocol'" in err.message
    assert err.line == 15
    assert str(err).startswith(f"{tmp_path / 'model.yaml'}:15:")


def test_protocol_outside_threagiles_list_is_an_error(tmp_path: Path) -> None:
    err = _error(tmp_path, MINIMAL.replace("protocol: https", "protocol: pigeon"))
    assert "'pigeon'" in err.message and err.line == 15


def test_unknown_link_target(tmp_path: Path) -> None:
    err = _error(tmp_path, MINIMAL.replace("target: api", "target: apj"))
    assert "targets unknown technical asset 'apj'" in err.message
    assert err.line == 14


def test_unknown_data_asset(tmp_path: Path) -> None:
    err = _error(tmp_path, MINIMAL.replace("[things]", "[thing]"))
    assert "unknown data asset 'thing'" in err.message
    assert err.line == 16


def test_unknown_asset_type(tmp_path: Path) -> None:
    err = _error(tmp_path, MINIMAL.replace("type: process", "type: service"))
    assert "unknown technical asset type 'service'" in err.message
    assert err.line == 19
    assert err.hint is not None and "external-entity" in err.hint


def test_unknown_confidentiality(tmp_path: Path) -> None:
    err = _error(tmp_path, MINIMAL.replace("confidentiality: internal", "confidentiality: top"))
    assert "unknown confidentiality 'top'" in err.message and err.line == 7


def test_asset_in_two_boundaries(tmp_path: Path) -> None:
    text = MINIMAL.replace("technical_assets_inside: []", "technical_assets_inside: [api]")
    err = _error(tmp_path, text)
    assert "'api' is inside two trust boundaries" in err.message


def test_boundary_nesting_cycle(tmp_path: Path) -> None:
    text = MINIMAL.replace("trust_boundaries_nested: []", "trust_boundaries_nested: [outer]")
    err = _error(tmp_path, text)
    assert "cycle" in err.message


def test_boundary_nested_twice_and_unknown_nested(tmp_path: Path) -> None:
    err = _error(tmp_path, MINIMAL.replace("nested: [inner]", "nested: [inner, inner2]"))
    assert "unknown trust boundary 'inner2'" in err.message
    twice = MINIMAL + (
        "  Third:\n    id: third\n    technical_assets_inside: []\n"
        "    trust_boundaries_nested: [inner]\n"
    )
    err = _error(tmp_path, twice)
    assert "'inner' is nested in two trust boundaries" in err.message


def test_boolean_with_wrong_type(tmp_path: Path) -> None:
    err = _error(tmp_path, MINIMAL.replace("type: process", "type: process\n    internet: yes-ish"))
    assert "internet must be true or false" in err.message


def test_missing_author_and_title(tmp_path: Path) -> None:
    err = _error(tmp_path, MINIMAL.replace("author:\n  name: Someone\n", ""))
    assert "author is missing" in err.message
    err = _error(tmp_path, MINIMAL.replace("title: Tiny\n", ""))
    assert err.message == "title is missing"


def test_not_a_mapping_aliases_duplicates_and_includes(tmp_path: Path) -> None:
    assert "must be a YAML mapping" in _error(tmp_path, "- a\n- b\n").message
    alias = MINIMAL.replace("title: Tiny", "title: &t Tiny\nowner_copy: *t")
    assert "aliases" in _error(tmp_path, alias).message
    dup = MINIMAL.replace("    id: api\n", "    id: api\n    id: api2\n")
    err = _error(tmp_path, dup)
    assert "duplicate key 'id'" in err.message and err.line == 19
    assert "not valid YAML" in _error(tmp_path, "title: [unclosed\n").message


def test_duplicate_ids_within_a_kind(tmp_path: Path) -> None:
    err = _error(tmp_path, MINIMAL.replace("    id: api\n", "    id: client\n"))
    assert "duplicate technical asset id 'client'" in err.message


def test_ids_clash_across_kinds_and_are_normalised(tmp_path: Path) -> None:
    text = MINIMAL.replace("id: things", "id: API").replace("[things]", "[API]")
    doc = yaml.safe_load(import_threagile(_write(tmp_path, text)))
    # the data asset came first and keeps 'api'; the technical asset gets a suffix
    assert [d["id"] for d in doc["data"]] == ["api"]
    assert sorted(c["id"] for c in doc["components"]) == ["api-asset", "client"]
    assert doc["flows"][0]["to"] == "api-asset"


def test_file_too_large_or_missing(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot read"):
        import_threagile(tmp_path / "absent.yaml")
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (4 * 1024 * 1024 + 1))
    with pytest.raises(ModelError, match="larger than"):
        import_threagile(big)


# --- includes ------------------------------------------------------------------------------

ASSETS_PART = MINIMAL[MINIMAL.index("technical_assets:") : MINIMAL.index("trust_boundaries:")]
MAIN_PART = MINIMAL.replace(ASSETS_PART, "")


def _split(tmp_path: Path, assets: str = ASSETS_PART, extra: str = "") -> Path:
    (tmp_path / "parts").mkdir(exist_ok=True)
    (tmp_path / "parts" / "assets.yaml").write_text(assets)
    (tmp_path / "parts" / "risks.yaml").write_text(
        "risk_tracking:\n  missing-waf@api:\n    status: accepted\n    justification: CDN\n"
    )
    main = tmp_path / "main.yaml"
    main.write_text("includes: [parts/assets.yaml, parts/risks.yaml]\n" + extra + MAIN_PART)
    return main


def test_includes_are_merged(tmp_path: Path) -> None:
    single = yaml.safe_load(import_threagile(_write(tmp_path, MINIMAL)))
    text = import_threagile(_split(tmp_path))
    assert text.startswith(
        "# Converted from the Threagile model main.yaml (with parts/assets.yaml, parts/risks.yaml)"
    )
    split = yaml.safe_load(text)
    assert split.pop("triage") == [
        {
            "threat": "threagile:missing-waf@api",
            "status": "accepted",
            "justification": "CDN.",
            "external_id": "missing-waf@api",
        }
    ]
    assert split == single


def test_error_in_an_included_file_names_that_file_and_line(tmp_path: Path) -> None:
    main = _split(tmp_path, ASSETS_PART.replace("protocol: https", "protocol: pigeon"))
    with pytest.raises(ModelError) as info:
        import_threagile(main)
    assert info.value.file.endswith("parts/assets.yaml")
    assert info.value.line == 8  # the protocol line of the included file


def test_an_entry_defined_in_two_files_is_an_error(tmp_path: Path) -> None:
    twice = "technical_assets:\n  API:\n    id: api2\n    type: process\n"
    main = _split(tmp_path, extra=twice)
    with pytest.raises(ModelError) as info:
        import_threagile(main)
    assert "technical_assets entry 'API' is also defined in" in info.value.message
    assert info.value.file.endswith("parts/assets.yaml")


def test_includes_may_not_leave_the_directory_or_repeat(tmp_path: Path) -> None:
    inner = tmp_path / "model"
    inner.mkdir()
    (tmp_path / "outside.yaml").write_text("data_assets: {}\n")
    main = inner / "main.yaml"
    main.write_text("includes: [../outside.yaml]\n" + MINIMAL)
    with pytest.raises(ModelError, match="leaves the model's directory"):
        import_threagile(main)
    (inner / "loop.yaml").write_text("includes: [main.yaml]\n")
    main.write_text("includes: [loop.yaml]\n" + MINIMAL)
    with pytest.raises(ModelError, match="included twice"):
        import_threagile(main)
