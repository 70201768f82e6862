"""Helpers for the rule tests: rules compiled from inline YAML, events built in one line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.rule import SigmaRule

from turbosec.core.event import SecurityEvent
from turbosec.watch.rules import Detection, RuleSet, load_rules
from turbosec.watch.rules.sigma import compile_detection

T0 = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)


def event(name: str = "authn_login_fail", *args: str, **fields: Any) -> SecurityEvent:
    """A security event; ``name`` may carry its arguments (``authn_login_fail:joe``)."""
    if ":" in name and not args:
        name, _, rest = name.partition(":")
        args = tuple(rest.split(","))
    return SecurityEvent(time=fields.pop("time", T0), event=name, args=args, **fields)


def rule_doc(detection: dict[str, Any], **meta: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "title": "test rule",
        "name": "test_rule",
        "logsource": {"product": "turbosec"},
        "detection": detection,
    }
    doc.update(meta)
    return doc


def compile_yaml(text: str, name: str = "test_rule") -> Detection:
    """Compile one detection rule given as YAML: a whole rule or just its ``detection``
    (no file: fast enough for many cases)."""
    data = yaml.safe_load(text)
    if "detection" not in data:
        data = rule_doc(data, name=name)
    (rule,) = SigmaCollection.from_dicts([data]).rules
    assert isinstance(rule, SigmaRule)
    return compile_detection(rule, "<test>")


def load_text(tmp_path: Path, text: str, name: str = "rules.yml") -> RuleSet:
    """Write ``text`` to a rule file and load it (without the built-in pack)."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_rules([path], builtin=False)
