"""Loading rule files: strict parsing, errors naming file, line and rule."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from turbosec.core.severity import Severity
from turbosec.threats.errors import RuleError
from turbosec.threats.model import Classification, Stride
from turbosec.threats.rules import builtin_rule_files, load_rules, load_rules_text
from turbosec.threats.rules.loader import MAX_RULE_FILE

GOOD = """\
version: 1
rules:
  - id: TEAM-001
    title: Reporting job writes without validation
    applies_to: component
    stride: [tampering]
    cwe: [20]
    capec: [153]
    severity:
      base: low
      by_classification: {confidential: high}
    when:
      all:
        - {attr: component.kind, eq: process}
        - {attr: component.technology, eq: cobol}
    unless_controls: [input_validation]
    explanation: "{component} runs {technology} in boundary {boundary}."
    description: A description.
    mitigation: A mitigation.
    references: [https://cwe.mitre.org/data/definitions/20.html]
"""


def rule_text(**fields: str) -> str:
    """A one-rule file whose fields are replaced or added (YAML flow values)."""
    base = {
        "id": "TEAM-001",
        "title": "A title",
        "applies_to": "component",
        "stride": "[tampering]",
        "severity": "medium",
        "when": "{attr: component.kind, eq: process}",
        "explanation": '"{component} fired."',
    }
    base.update(fields)
    lines = ["version: 1", "rules:"]
    first = True
    for key, value in base.items():
        if value is None:
            continue
        lines.append(f"  {'- ' if first else '  '}{key}: {value}")
        first = False
    return "\n".join(lines) + "\n"


def error_of(text: str, name: str = "team.yml") -> RuleError:
    with pytest.raises(RuleError) as caught:
        load_rules_text(text, name)
    return caught.value


def test_good_rule_is_compiled() -> None:
    (rule,) = load_rules_text(GOOD, "team.yml").rules
    assert rule.id == "TEAM-001"
    assert rule.applies_to == "component"
    assert rule.stride == (Stride.TAMPERING,)
    assert rule.cwe == (20,) and rule.capec == (153,)
    assert rule.severity_base is Severity.LOW
    assert rule.severity_by_classification == ((Classification.CONFIDENTIAL, Severity.HIGH),)
    assert rule.unless_controls == ("input_validation",)
    assert rule.threat_id_template == "{rule}@{component}"
    assert rule.file == "team.yml" and rule.line == 3
    assert rule.condition({"component.kind": "process", "component.technology": "cobol"})
    assert not rule.condition({"component.kind": "process", "component.technology": "java"})


def test_severity_never_lowered_and_uses_highest_entry_at_or_below() -> None:
    text = rule_text(
        severity="{base: medium, by_classification: {internal: low, restricted: high}}"
    )
    (rule,) = load_rules_text(text).rules
    assert rule.severity_for(Classification.PUBLIC) is Severity.MEDIUM
    assert rule.severity_for(Classification.INTERNAL) is Severity.MEDIUM  # never lowered
    assert rule.severity_for(Classification.CONFIDENTIAL) is Severity.MEDIUM
    assert rule.severity_for(Classification.RESTRICTED) is Severity.HIGH
    assert rule.severity_for(Classification.SECRET) is Severity.HIGH


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"titel": "x"}, "unknown key 'titel'; did you mean title?"),
        ({"id": "lower-case"}, "must match"),
        ({"applies_to": "boundary"}, "applies_to must be 'component' or 'flow'"),
        ({"stride": "[spoofng]"}, "unknown STRIDE category 'spoofng'; did you mean spoofing?"),
        ({"stride": "[]"}, "'stride' needs at least one category"),
        ({"cwe": "[CWE-20]"}, "'cwe' must be a list of int"),
        ({"severity": "urgent"}, "unknown severity 'urgent'"),
        ({"severity": "{base: low, by_classification: {topsecret: high}}"}, "topsecret"),
        ({"unless_controls": "[input_validaton]"}, "did you mean input_validation?"),
        ({"unless_controls": "input_validation"}, "'unless_controls' must be a list"),
        ({"when": "{attr: component.internet_facng, eq: true}"}, "did you mean"),
        ({"when": "{attr: flow.encrypted, eq: true}"}, "unknown attribute 'flow.encrypted'"),
        ({"when": "{attr: component.kind, equals: process}"}, "unknown operator 'equals'"),
        ({"when": "{attr: component.kind, eq: process, ne: queue}"}, "exactly one operator"),
        ({"when": "{attr: component.kind}"}, "exactly one operator"),
        ({"when": "{attr: component.kind, in: process}"}, "needs a non-empty list"),
        ({"when": "{attr: component.kind, eq: lambda}"}, "not a possible value"),
        ({"when": "{attr: component.internet_facing, eq: yes_please}"}, "true or false"),
        ({"when": "{attr: component.max_classification, gte: topsecret}"}, "classification"),
        ({"when": "{attr: component.kind, gte: process}"}, "does not apply"),
        ({"when": "{attr: component.properties, contains: flying}"}, "not a possible value"),
        ({"when": "{attr: component.properties, eq: [uses_sql]}"}, "does not apply"),
        ({"when": "{attr: component.inbound_count, gte: true}"}, "is a number"),
        ({"when": "{attr: component.kind, is_empty: 1}"}, "is_empty takes true or false"),
        ({"when": "{all: []}"}, "non-empty list"),
        ({"when": "{all: [{attr: component.kind, eq: process}], any: []}"}, "no other key"),
        ({"when": "{kind: process}"}, "needs all, any, not or attr"),
        ({"when": "process"}, "must be a mapping"),
        ({"threat_id": '"{rule}@{flow}"'}, "unknown placeholder {flow}"),
        ({"threat_id": '"{component}"'}, "must contain {rule}"),
        ({"threat_id": '"{rule}@{component!r}"'}, "format or conversion"),
        ({"threat_id": '"{rule}@{component.__class__}"'}, "unknown placeholder"),
        ({"explanation": '"{component} has {colour}"'}, "unknown placeholder {colour}"),
        ({"explanation": '"{source} fired"'}, "unknown placeholder {source}"),
        ({"explanation": '"{"'}, "not a valid template"),
        ({"explanation": None}, "missing 'explanation'"),
        ({"when": None}, "missing 'when'"),
    ],
)
def test_rule_errors(fields: dict[str, str], message: str) -> None:
    error = error_of(rule_text(**fields))
    assert message in error.message
    assert error.file == "team.yml"
    assert error.line >= 3
    if "id" not in fields:
        assert error.rule == "TEAM-001"
        assert "(rule TEAM-001)" in str(error)


def test_condition_error_points_at_the_offending_line() -> None:
    text = textwrap.dedent(
        """\
        version: 1
        rules:
          - id: TEAM-002
            title: t
            applies_to: flow
            stride: [spoofing]
            severity: low
            explanation: "{flow}"
            when:
              all:
                - {attr: flow.crosses_boundary, eq: true}
                - any:
                    - {attr: flow.authentication, eq: none}
                    - {attr: flow.target.internet_facing, eq: "yes"}
        """
    )
    error = error_of(text)
    assert error.line == 14
    assert error.rule == "TEAM-002"
    assert str(error).startswith("team.yml:14 (rule TEAM-002): ")


def test_flow_rules_see_source_and_target_attributes() -> None:
    text = rule_text(
        applies_to="flow",
        when="{attr: flow.target.max_classification, gte: confidential}",
        explanation='"{flow} {source} {target} {target_boundary} {protocol}"',
    )
    (rule,) = load_rules_text(text).rules
    assert rule.threat_id_template == "{rule}@{flow}"


def test_flow_threat_id_may_name_both_ends() -> None:
    text = rule_text(
        applies_to="flow",
        when="{attr: flow.encrypted, eq: false}",
        threat_id='"{rule}@{source}->{target}"',
        explanation='"{flow}"',
    )
    assert load_rules_text(text).rules[0].threat_id_template == "{rule}@{source}->{target}"
    bad = rule_text(
        applies_to="flow",
        when="{attr: flow.encrypted, eq: false}",
        threat_id='"{rule}@{source}"',
        explanation='"{flow}"',
    )
    assert "element's id" in error_of(bad).message


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("version: 1\nrules:\n  - &a {id: X}\n  - *a\n", "aliases", 3),
        ("version: 1\nversion: 1\nrules: []\n", "duplicate key 'version'", 2),
        ("version: 1\nrules:\n  - {id: TEAM-1, <<: {title: t}}\n", "merge keys", 3),
        ("rules: []\n", "missing 'version: 1'", 1),
        ("version: 2\nrules: []\n", "unsupported version 2", 1),
        ("version: 1\nrules: {}\n", "'rules' must be a list", 2),
        ("version: 1\nrules: []\nextra: 1\n", "unknown key 'extra'", 3),
        ("- a\n- b\n", "must be a mapping", 1),
        ("version: 1\nrules: [\n", "invalid YAML", 0),
        ("version: 1\nrules:\n  - just text\n", "each rule must be a mapping", 2),
    ],
)
def test_file_errors(text: str, message: str, line: int) -> None:
    error = error_of(text)
    assert message in error.message
    if line:
        assert error.line == line


def test_duplicate_rule_ids_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(rule_text(), encoding="utf-8")
    (tmp_path / "b.yaml").write_text(rule_text(), encoding="utf-8")
    with pytest.raises(RuleError) as caught:
        load_rules([tmp_path], builtin=False)
    error = caught.value
    assert error.file == str(tmp_path / "b.yaml")
    assert f"already used at {tmp_path / 'a.yml'}:3" in error.message
    assert error.rule == "TEAM-001"


def test_user_rule_cannot_reuse_a_builtin_id(tmp_path: Path) -> None:
    path = tmp_path / "mine.yml"
    path.write_text(rule_text(id="TM-FLOW-001"), encoding="utf-8")
    with pytest.raises(RuleError, match=r"already used at builtin:flows\.yml"):
        load_rules([path])


def test_folders_are_walked_and_hidden_entries_skipped(tmp_path: Path) -> None:
    (tmp_path / "one.yml").write_text(rule_text(id="TEAM-001"), encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "two.yaml").write_text(rule_text(id="TEAM-002"), encoding="utf-8")
    (tmp_path / ".hidden.yml").write_text("not: [valid", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("ignored", encoding="utf-8")
    only_user = load_rules([tmp_path], builtin=False)
    assert [rule.id for rule in only_user] == ["TEAM-001", "TEAM-002"]
    assert only_user.rules[1].file == str(tmp_path / "sub" / "two.yaml")
    combined = load_rules([tmp_path / "one.yml"])
    builtin_count = len(load_rules())
    assert len(combined) == builtin_count + 1
    assert combined.get("TEAM-001") is not None


def test_missing_and_oversized_files(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="no such file or folder"):
        load_rules([tmp_path / "absent.yml"], builtin=False)
    big = tmp_path / "big.yml"
    big.write_text("#" * (MAX_RULE_FILE + 1), encoding="utf-8")
    with pytest.raises(RuleError, match="larger than"):
        load_rules([big], builtin=False)
    binary = tmp_path / "bin.yml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(RuleError, match="not UTF-8"):
        load_rules([binary], builtin=False)


def test_deeply_nested_yaml_is_an_error_not_a_crash() -> None:
    text = "version: 1\nrules: " + "[" * 900 + "]" * 900 + "\n"
    message = error_of(text).message
    assert message.startswith("invalid YAML:") and "nest" in message


def test_builtin_files_and_names() -> None:
    files = builtin_rule_files()
    assert [f.name for f in files] == sorted(f.name for f in files)
    rules = load_rules()
    assert {rule.file for rule in rules} == {f"builtin:{f.name}" for f in files}
    assert len(load_rules(builtin=False)) == 0
