"""The JSON format is the turbosec.report/v1 document, valid against its shipped schema."""

from __future__ import annotations

from typing import Any

import orjson
from jsonschema import Draft202012Validator

from turbosec.core.finding import Category
from turbosec.core.report import ScanReport, report_schema
from turbosec.report import registry
from turbosec.report.json import JsonFormatter


def _assert_valid(document: Any) -> None:
    schema = report_schema()
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def test_render_is_exactly_to_json(full_report: ScanReport) -> None:
    assert JsonFormatter().render(full_report).encode("utf-8") == full_report.to_json()


def test_full_report_is_valid(full_report: ScanReport) -> None:
    # The fixture holds every kind of finding the schema has to accept.
    # Every scanner category (threat findings come from the threat model: tests/scan and
    # tests/threats cover them in reports).
    assert {f.category for f in full_report.findings} == set(Category) - {Category.THREAT}
    assert any(f.location is None for f in full_report.findings)
    assert any(f.package is not None and f.location for f in full_report.findings)
    assert any(f.secret_hash for f in full_report.findings)
    document = orjson.loads(JsonFormatter().render(full_report))
    _assert_valid(document)
    assert document["schema"] == "turbosec.report/v1"
    assert [t["status"] for t in document["tools"]] == [
        "ok",
        "ok",
        "ok",
        "ok",
        "failed",
        "ok",
        "imported",
        "skipped",
    ]
    unlocated = [f for f in document["findings"] if f["location"] is None]
    assert [f["rule_id"] for f in unlocated] == ["CVE-2023-5363"]


def test_clean_report_is_valid(clean_report: ScanReport) -> None:
    document = orjson.loads(JsonFormatter().render(clean_report))
    _assert_valid(document)
    assert document["findings"] == []
    assert document["verdict"] == {"passed": True, "reasons": [], "fail_on": "high"}


def test_round_trip(full_report: ScanReport) -> None:
    text = JsonFormatter().render(full_report)
    again = ScanReport.from_dict(orjson.loads(text))
    assert again == full_report
    assert JsonFormatter().render(again) == text


def test_registry_names_and_extensions() -> None:
    formats = registry()
    assert {name: f.extensions for name, f in formats.items()} == {
        "sarif": (".sarif", ".sarif.json"),
        "junit": (".xml",),
        "json": (".json",),
        "markdown": (".md",),
    }
    for name, formatter in formats.items():
        assert formatter.name == name
        assert formatter.description
        formatter()  # every format is constructible with no arguments
