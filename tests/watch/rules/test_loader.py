"""Loading rule files: files and folders, YAML safety, metadata, and errors that say where."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import pytest

from tests.watch.rules import event, load_text
from turbosec.core.severity import Severity
from turbosec.watch.rules import (
    BUILTIN_PREFIX,
    MAX_RULE_FILE,
    RuleLoadError,
    builtin_paths,
    load_rules,
    rule_files,
)

RULE = """\
title: {title}
name: {name}
logsource: {{product: turbosec}}
detection:
  sel:
    event_type: {event_type}
  condition: sel
"""


def _rule(name: str, event_type: str = "authn_login_fail", title: str = "") -> str:
    return RULE.format(name=name, event_type=event_type, title=title or f"rule {name}")


def test_multi_document_file(tmp_path: Path) -> None:
    text = _rule("one") + "---\n" + _rule("two", "authz_fail") + "---\n"  # trailing empty doc
    rules = load_text(tmp_path, text)
    assert [d.meta.id for d in rules.detections] == ["one", "two"]
    assert rules.detections[1].match(event("authz_fail", "joe"))
    assert all(d.meta.path == str(tmp_path / "rules.yml") for d in rules.detections)


def test_folders_are_walked_for_yml_and_yaml(tmp_path: Path) -> None:
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "a.yml").write_text(_rule("a"))
    (tmp_path / "sub" / "b.yaml").write_text(_rule("b"))
    (tmp_path / "sub" / "deeper" / "c.yml").write_text(_rule("c"))
    (tmp_path / "sub" / "notes.txt").write_text("not a rule")
    (tmp_path / ".hidden" / "d.yml").write_text(_rule("d"))
    (tmp_path / ".e.yml").write_text(_rule("e"))
    rules = load_rules([tmp_path], builtin=False)
    assert sorted(d.meta.id for d in rules.detections) == ["a", "b", "c"]
    # a file named explicitly is read whatever its name; a file reached twice counts once
    explicit = tmp_path / "sub" / "notes.rule"
    explicit.write_text(_rule("f"))
    rules = load_rules([tmp_path, explicit, tmp_path / "a.yml"], builtin=False)
    assert sorted(d.meta.id for d in rules.detections) == ["a", "b", "c", "f"]
    assert rule_files([tmp_path / "sub"]) == [
        tmp_path / "sub" / "b.yaml",
        tmp_path / "sub" / "deeper" / "c.yml",
    ]


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(RuleLoadError, match="no such file or folder") as info:
        load_rules([tmp_path / "nope.yml"], builtin=False)
    assert info.value.path == str(tmp_path / "nope.yml")


def test_references_across_files_by_name_and_id(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(
        _rule("fail") + "---\ntitle: by id\nid: 0f0e0d0c-0b0a-4909-8807-060504030201\n"
        "logsource: {product: turbosec}\ndetection: {s: {event_type: authz_fail}, condition: s}\n"
    )
    (tmp_path / "b.yml").write_text(
        "title: both\nname: both\ncorrelation:\n  type: temporal\n"
        "  rules: [fail, 0F0E0D0C-0B0A-4909-8807-060504030201]\n  timespan: 1m\n"
    )
    rules = load_rules([tmp_path], builtin=False)
    (correlation,) = rules.correlations
    assert correlation.rules == ("fail", "0f0e0d0c-0b0a-4909-8807-060504030201")
    assert [d.generate for d in rules.detections] == [False, False]


def test_file_size_cap(tmp_path: Path) -> None:
    big = tmp_path / "big.yml"
    big.write_text(_rule("a") + "# " + "x" * MAX_RULE_FILE + "\n")
    with pytest.raises(RuleLoadError, match="larger than 1024 KiB") as info:
        load_rules([big], builtin=False)
    assert info.value.path == str(big)
    # just under the cap is fine
    fits = tmp_path / "fits.yml"
    body = _rule("a") + "# "
    fits.write_text(body + "x" * (MAX_RULE_FILE - len(body) - 1) + "\n")
    assert fits.stat().st_size == MAX_RULE_FILE
    assert len(load_rules([fits], builtin=False).detections) == 1


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("title: [unclosed\n", "invalid YAML"),
        (_rule("a") + "level: high\nlevel: low\n", "duplicate key 'level'"),
        ("title: &t x\nname: *t\n", "aliases"),
        ("- just\n- a list\n", "document 1 is a list, not a rule"),
    ],
)
def test_yaml_problems(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(RuleLoadError, match=problem) as info:
        load_text(tmp_path, text)
    assert info.value.path.endswith("rules.yml")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yml"
    path.write_bytes(_rule("a").encode() + b"description: caf\xe9\n")
    with pytest.raises(RuleLoadError, match="not UTF-8"):
        load_rules([path], builtin=False)


_SEL = "logsource: {{product: turbosec}}\ndetection:\n  sel:\n    {item}\n  condition: {cond}\n"


def _detection(item: str, cond: str = "sel", head: str = "title: t\nname: broken\n") -> str:
    return head + _SEL.format(item=item, cond=cond)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (_detection("- just a keyword"), "keyword \\(field-less\\) detection"),
        (_detection("TargetUserName: bob"), "unknown field 'TargetUserName'"),
        (_detection("src_ip: 10.0.0.1"), "did you mean 'source_ip'"),
        (_detection("user|base64: bob"), "modifier 'base64'"),
        (_detection("user|base64offset|contains: bob"), "modifier 'base64offset'"),
        (_detection("user|wide: bob"), "modifier 'wide'"),
        (_detection("user|windash: bob"), "modifier 'windash'"),
        (_detection("user|expand: '%admins%'"), "modifier 'expand'"),
        (_detection("user|fieldref: hostname"), "modifier 'fieldref'"),
        (_detection("user|utf16le: bob"), "Unknown modifier 'utf16le'"),
        (_detection("user|re: '(unclosed'"), "(?i)regular expression"),
        (_detection("user|cidr: 10.0.0.0/33"), "(?i)invalid cidr"),
        (_detection("status|gt: many"), "incompatible to value type of .many."),
        (_detection("user: bob", cond="sel | count() > 5"), "aggregation"),
        (_detection("user: bob", cond="sel and missing"), "missing"),
        (_detection("user: bob", cond="sel and"), "condition .sel and.: Expected end of text"),
        (_detection("user: bob", cond="1 of filter*"), "matches no selection"),
        (
            "title: t\nname: broken\nlogsource: {product: turbosec}\n"
            "detection: {sel: {user: bob}, timeframe: 5m, condition: sel}\n",
            "timeframe",
        ),
        (_detection("user: bob", head="title: t\n"), "neither an id nor a name"),
        (_detection("user: bob", head="title: t\nid: 12\n"), "id 12 must be a UUID"),
        (_detection("user: bob", head="title: t\nid: not-a-uuid\n"), "UUID"),
        (_detection("user: bob", head="title: t\nname: broken\nlevel: severe\n"), "severe"),
        (_detection("user: bob", head="title: t\nname: broken\nconditon: sel\n"), "conditon"),
        (
            _detection("user: bob", head="title: t\nname: broken\ngenerate: true\n"),
            "`generate` belongs in the `correlation` section",
        ),
        (_detection("user: bob", head="action: global\ntitle: t\n"), "collection actions"),
        (
            "title: f\nname: broken\nlogsource: {product: turbosec}\n"
            "filter: {rules: [x], sel: {user: bob}, condition: not sel}\n",
            "filters are not supported",
        ),
        (
            "name: broken\nlogsource: {product: turbosec}\n"
            "detection: {sel: {user: bob}, condition: sel}\n",
            "title",
        ),
    ],
)
def test_unsupported_and_invalid_rules_name_file_rule_and_construct(
    tmp_path: Path, text: str, problem: str
) -> None:
    with pytest.raises(RuleLoadError, match=problem) as info:
        load_text(tmp_path, text)
    assert info.value.path == str(tmp_path / "rules.yml")
    assert info.value.rule is not None
    assert str(tmp_path / "rules.yml") in str(info.value)


def test_rule_named_in_errors(tmp_path: Path) -> None:
    with pytest.raises(RuleLoadError) as info:
        load_text(tmp_path, _rule("good") + "---\n" + _detection("Foo: bar"))
    assert info.value.rule == "broken"
    assert "rule 'broken'" in str(info.value)
    assert "unknown field 'Foo'" in info.value.problem


def test_a_numeric_id_says_what_to_write(tmp_path: Path) -> None:
    text = "title: t\nname: jail\nid: 42\nlogsource: {product: turbosec}\n"
    text += "detection: {sel: {user: bob}, condition: sel}\n"
    with pytest.raises(RuleLoadError) as info:
        load_text(tmp_path, text)
    assert info.value.path == str(tmp_path / "rules.yml")
    assert info.value.rule == "jail"
    assert info.value.problem.startswith("id 42 must be a UUID written as text, not a number")
    assert "id: '42'" in info.value.problem


def test_duplicate_ids_and_names_name_both_files(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(_rule("same"))
    (tmp_path / "b.yml").write_text(_rule("same"))
    with pytest.raises(RuleLoadError, match=r"also used in .*a\.yml") as info:
        load_rules([tmp_path], builtin=False)
    assert info.value.path.endswith("b.yml")
    uuid = "id: 5b3a7c1e-1111-4c1a-9a0e-000000000001\n"
    (tmp_path / "a.yml").write_text(uuid + _rule("x"))
    (tmp_path / "b.yml").write_text(uuid + _rule("y"))
    with pytest.raises(RuleLoadError, match="rule id 5b3a7c1e-1111-4c1a-9a0e-000000000001"):
        load_rules([tmp_path], builtin=False)


def test_metadata(tmp_path: Path) -> None:
    rules = load_text(
        tmp_path,
        """\
title: Admin login from outside
id: 5b3a7c1e-1111-4c1a-9a0e-0000000000aa
name: admin_outside
status: experimental
description: |
  An administrator logged in from an address outside the office.
author: someone
date: 2026-01-02
references: [https://example.org/runbook]
tags: [attack.initial_access, attack.t1078]
falsepositives: [Travel]
logsource: {product: turbosec, service: shop}
detection:
  sel: {event_type: authn_login_success, user: admin}
  office: {source_ip|cidr: 192.0.2.0/24}
  condition: sel and not office
level: critical
""",
    )
    (detection,) = rules.detections
    meta = detection.meta
    assert meta.id == "5b3a7c1e-1111-4c1a-9a0e-0000000000aa"
    assert meta.name == "admin_outside"
    assert meta.title == "Admin login from outside"
    assert meta.severity is Severity.CRITICAL
    assert meta.description == "An administrator logged in from an address outside the office."
    assert meta.tags == ("attack.initial_access", "attack.t1078")
    assert meta.falsepositives == ("Travel",)
    assert meta.references == ("https://example.org/runbook",)
    assert meta.status == "experimental"
    assert detection.generate is True
    assert detection.event_types == frozenset({"authn_login_success"})
    assert detection.match(event("authn_login_success", "admin", user="admin", source_ip="1.2.3.4"))
    assert not detection.match(
        event("authn_login_success", "admin", user="admin", source_ip="192.0.2.9")
    )


@pytest.mark.parametrize(
    ("level", "severity"),
    [
        ("level: informational\n", Severity.INFO),
        ("level: low\n", Severity.LOW),
        ("level: medium\n", Severity.MEDIUM),
        ("level: high\n", Severity.HIGH),
        ("level: critical\n", Severity.CRITICAL),
        ("", Severity.MEDIUM),  # no level: medium (documented default)
    ],
)
def test_levels(tmp_path: Path, level: str, severity: Severity) -> None:
    rules = load_text(tmp_path, _rule("a") + level)
    assert rules.detections[0].meta.severity is severity


def test_builtin_pack_paths() -> None:
    paths = builtin_paths()
    assert paths == sorted(paths)
    assert all(p.suffix == ".yml" and p.is_file() for p in paths)
    pack = Path(str(importlib.resources.files("turbosec.watch.rules").joinpath("pack")))
    if pack.is_dir():
        assert paths == sorted(p for p in pack.iterdir() if p.suffix == ".yml")


def test_builtin_rules_are_loaded_unless_disabled(tmp_path: Path) -> None:
    path = tmp_path / "mine.yml"
    path.write_text(_rule("mine_only"))
    without = load_rules([path], builtin=False)
    assert [d.meta.id for d in without.detections] == ["mine_only"]
    with_pack = load_rules([path])
    builtin = [m for m in with_pack.all_meta if m.path.startswith(BUILTIN_PREFIX)]
    assert len(builtin) == len(load_rules([], builtin=True).all_meta)
    assert {m.path for m in builtin} == {BUILTIN_PREFIX + p.name for p in builtin_paths()}
    assert "mine_only" in {m.id for m in with_pack.all_meta}


@pytest.mark.parametrize("layout", ["missing", "empty"])
def test_missing_or_empty_pack_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str
) -> None:
    fake_package = tmp_path / "package"
    fake_package.mkdir()
    if layout == "empty":
        (fake_package / "pack").mkdir()
    monkeypatch.setattr(importlib.resources, "files", lambda _name: fake_package)
    assert builtin_paths() == []
    rules = load_rules([], builtin=True)
    assert rules.detections == () and rules.correlations == ()
