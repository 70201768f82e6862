"""Loading threat rule files: YAML in, compiled :class:`Rule` objects out.

A rule file is ``{version: 1, rules: [RULE, ...]}``; the keys of a rule are listed in
:data:`RULE_KEYS`.  Files are read defensively: at most :data:`MAX_RULE_FILE` bytes, UTF-8,
YAML through a safe loader that refuses aliases (``*ref``) and duplicate keys and records
the line of every mapping.  Loading is strict: an unknown key, an unknown attribute or
operator, a value of the wrong type, an unknown STRIDE category, classification or control
kind, a template placeholder that does not exist, or a rule id used twice is a
:class:`~turbosec.threats.errors.RuleError` naming the file, the line and the rule.
Conditions are compiled once here (:mod:`.condition`); nothing is evaluated as code.
"""

from __future__ import annotations

import functools
import importlib.resources
import os
import re
import string
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import yaml

from turbosec.core.severity import Severity
from turbosec.threats.errors import RuleError
from turbosec.threats.model import CONTROL_KINDS, Classification, Stride
from turbosec.threats.rules.attributes import attributes_for
from turbosec.threats.rules.condition import (
    Condition,
    ConditionError,
    close_matches,
    compile_condition,
)

__all__ = [
    "BUILTIN_PREFIX",
    "MAX_RULE_FILE",
    "RULE_KEYS",
    "Rule",
    "RuleSet",
    "builtin_rule_files",
    "load_rules",
    "load_rules_text",
    "rule_files",
]

#: Largest rule file read (bytes).
MAX_RULE_FILE = 1024 * 1024
#: How built-in rule files are named in errors and in ``Rule.file``.
BUILTIN_PREFIX = "builtin:"
RULE_SUFFIXES = (".yml", ".yaml")
RULE_KEYS: tuple[str, ...] = (
    "id",
    "title",
    "applies_to",
    "stride",
    "cwe",
    "capec",
    "severity",
    "when",
    "unless_controls",
    "threat_id",
    "explanation",
    "description",
    "mitigation",
    "references",
)
_REQUIRED = ("id", "title", "applies_to", "stride", "severity", "when", "explanation")
_FILE_KEYS = ("version", "rules")
_RULE_ID = re.compile(r"^[A-Z][A-Z0-9-]{2,40}$")
_ID_PLACEHOLDERS: Mapping[str, frozenset[str]] = {
    "component": frozenset({"rule", "component"}),
    "flow": frozenset({"rule", "flow", "source", "target"}),
}
_DEFAULT_THREAT_ID = {"component": "{rule}@{component}", "flow": "{rule}@{flow}"}

#: A compiled template: literal text and placeholder names, alternating.
Template = tuple[tuple[str, str | None], ...]


@dataclass(frozen=True)
class Rule:
    """One compiled rule.  ``file`` is the path as given (``builtin:NAME`` for the pack)."""

    id: str
    title: str
    applies_to: str  # "component" or "flow"
    stride: tuple[Stride, ...]
    cwe: tuple[int, ...]
    capec: tuple[int, ...]
    severity_base: Severity
    # (classification, severity) pairs, ascending by classification
    severity_by_classification: tuple[tuple[Classification, Severity], ...]
    unless_controls: tuple[str, ...]
    threat_id_template: str
    explanation_template: str
    description: str
    mitigation: str
    references: tuple[str, ...]
    file: str
    line: int
    condition: Condition = field(compare=False, repr=False, default=lambda attrs: False)
    threat_id_parts: Template = field(compare=False, repr=False, default=())
    explanation_parts: Template = field(compare=False, repr=False, default=())

    def severity_for(self, classification: Classification) -> Severity:
        """The base severity raised by the highest ``by_classification`` entry at or below
        ``classification``; never lower than the base."""
        result = self.severity_base
        for level, severity in self.severity_by_classification:
            if level > classification:
                break
            result = max(result, severity)
        return result


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def get(self, rule_id: str) -> Rule | None:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        return None


def builtin_rule_files() -> list[Path]:
    """The built-in library: ``turbosec/threats/rules/pack/*.yml``, sorted by name."""
    pack = importlib.resources.files("turbosec.threats.rules").joinpath("pack")
    if not pack.is_dir():
        return []
    return sorted(
        Path(str(entry))
        for entry in pack.iterdir()
        if entry.name.endswith(".yml") and not entry.name.startswith(".") and entry.is_file()
    )


def rule_files(paths: Sequence[Path]) -> list[Path]:
    """Files as given; folders walked (sorted, hidden entries skipped) for ``*.yml``/``*.yaml``."""
    found: list[Path] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            found.append(path)

    for given in paths:
        path = Path(given)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith(".") and name.endswith(RULE_SUFFIXES):
                        add(Path(root) / name)
        elif path.is_file():
            add(path)
        elif path.exists():
            raise RuleError(str(path), "not a regular file or a folder")
        else:
            raise RuleError(str(path), "no such file or folder", hint="check the --rules path")
    return found


def load_rules(paths: Sequence[Path] = (), *, builtin: bool = True) -> RuleSet:
    """Load the built-in library (unless ``builtin=False``) and the rule files and folders
    ``paths``.  Raises :class:`RuleError` on the first problem; nothing is loaded half."""
    sources: list[tuple[str, Path]] = []
    if builtin:
        sources.extend((BUILTIN_PREFIX + path.name, path) for path in builtin_rule_files())
    builtin_count = len(sources)
    sources.extend((str(path), path) for path in rule_files(paths))
    rules: list[Rule] = []
    for display, path in sources[:builtin_count]:
        stat = path.stat()
        rules.extend(_builtin_file(display, str(path), stat.st_mtime_ns, stat.st_size))
    for display, path in sources[builtin_count:]:
        rules.extend(parse_rule_file(_read(path, display), display))
    return _rule_set(rules)


@functools.lru_cache(maxsize=64)
def _builtin_file(display: str, path: str, mtime_ns: int, size: int) -> tuple[Rule, ...]:
    """A built-in file's rules, parsed once per process (rules are immutable)."""
    return tuple(parse_rule_file(_read(Path(path), display), display))


def load_rules_text(text: str, name: str = "rules.yml") -> RuleSet:
    """Load the rules of one file's ``text`` (no built-in rules)."""
    return _rule_set(parse_rule_file(text, name))


def _rule_set(rules: list[Rule]) -> RuleSet:
    first: dict[str, Rule] = {}
    for rule in rules:
        other = first.get(rule.id)
        if other is not None:
            raise RuleError(
                rule.file,
                f"rule id {rule.id} is already used at {other.file}:{other.line}",
                rule=rule.id,
                line=rule.line,
                hint="rule ids must be unique across all loaded rule files; rename one",
            )
        first[rule.id] = rule
    return RuleSet(tuple(rules))


# --- reading -------------------------------------------------------------------------------


def _read(path: Path, display: str) -> str:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_RULE_FILE + 1)
    except OSError as exc:
        raise RuleError(display, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_RULE_FILE:
        raise RuleError(
            display,
            f"larger than {MAX_RULE_FILE // 1024} KiB",
            hint="split the rules into several files",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RuleError(display, f"not UTF-8 text (byte {exc.start})") from None


class _Map(dict[Any, Any]):
    """A YAML mapping that knows its line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[Any, int]


_SafeBase: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeBase):  # type: ignore[misc]
    """The safe loader (the C one when available) refusing aliases, merge keys and duplicate
    keys, and building :class:`_Map` mappings carrying line numbers.

    An alias makes the composed document reuse a node; constructing any node a second time
    is therefore refused, before anything is expanded.
    """

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        if node in self.constructed_objects or node in self.recursive_objects:
            raise yaml.constructor.ConstructorError(
                None, None, "YAML aliases (*name) are not allowed in rule files", node.start_mark
            )
        return super().construct_object(node, deep=deep)


def _construct_map(loader: Any, node: yaml.MappingNode) -> Iterator[_Map]:
    result = _Map()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    yield result
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            raise yaml.constructor.ConstructorError(
                None, None, "merge keys (<<) are not allowed in rule files", key_node.start_mark
            )
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in result
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, f"unhashable key {key!r}", key_node.start_mark
            ) from None
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)


def _yaml(text: str, display: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        problem = exc.problem or exc.context or "malformed YAML"
        raise RuleError(display, f"invalid YAML: {problem}", line=line) from None
    except yaml.YAMLError as exc:
        raise RuleError(display, f"invalid YAML: {exc}") from None
    except RecursionError:
        raise RuleError(display, "invalid YAML: nested too deeply") from None


# --- parsing -------------------------------------------------------------------------------


def parse_rule_file(text: str, display: str) -> list[Rule]:
    """The rules of one rule file's ``text``; ``display`` names the file in errors."""
    document = _yaml(text, display)
    if not isinstance(document, _Map):
        raise RuleError(display, "a rule file must be a mapping {version: 1, rules: [...]}", line=1)
    for key in document:
        if key not in _FILE_KEYS:
            raise RuleError(
                display,
                f"unknown key {key!r}{close_matches(str(key), _FILE_KEYS)}",
                line=document.key_lines.get(key, 0),
                hint="a rule file has only 'version' and 'rules'",
            )
    if "version" not in document:
        raise RuleError(display, "missing 'version: 1'", line=1)
    if document["version"] != 1 or isinstance(document["version"], bool):
        raise RuleError(
            display,
            f"unsupported version {document['version']!r}; this turbosec reads version 1",
            line=document.key_lines["version"],
        )
    items = document.get("rules")
    if not isinstance(items, list):
        raise RuleError(
            display, "'rules' must be a list of rules", line=document.key_lines.get("rules", 1)
        )
    rules = [_parse_rule(item, display, document.key_lines["rules"]) for item in items]
    return rules


class _Ctx:
    """Error reporting for one rule."""

    def __init__(self, display: str, item: _Map) -> None:
        self.display = display
        self.item = item
        rule_id = item.get("id")
        self.rule = rule_id if isinstance(rule_id, str) else None

    def fail(self, message: str, key: str | None = None, *, hint: str | None = None) -> NoReturn:
        line = self.item.line
        if key is not None:
            line = self.item.key_lines.get(key, line)
        raise RuleError(self.display, message, rule=self.rule, line=line, hint=hint)

    def text(self, key: str, *, required: bool = False) -> str:
        value = self.item.get(key)
        if value is None:
            if required:
                self.fail(f"missing '{key}'")
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            self.fail(f"'{key}' must be non-empty text", key)
        return value.strip()

    def list_of(self, key: str, kind: type) -> list[Any]:
        value = self.item.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(f"'{key}' must be a list", key)
        for element in value:
            if not isinstance(element, kind) or isinstance(element, bool):
                self.fail(f"'{key}' must be a list of {kind.__name__}; found {element!r}", key)
        return value


def _parse_rule(item: Any, display: str, default_line: int) -> Rule:
    if not isinstance(item, _Map):
        raise RuleError(display, "each rule must be a mapping", line=default_line)
    ctx = _Ctx(display, item)
    for key in item:
        if key not in RULE_KEYS:
            ctx.fail(
                f"unknown key {key!r}{close_matches(str(key), RULE_KEYS)}",
                str(key) if isinstance(key, str) else None,
                hint="rule keys: " + ", ".join(RULE_KEYS),
            )
    for key in _REQUIRED:
        if key not in item:
            ctx.fail(f"missing '{key}'")
    rule_id = item["id"]
    if not isinstance(rule_id, str) or not _RULE_ID.match(rule_id):
        ctx.fail(
            f"rule id {rule_id!r} must match {_RULE_ID.pattern}",
            "id",
            hint="for example TM-AUTH-001",
        )
    title = ctx.text("title", required=True)
    applies_to = item["applies_to"]
    if applies_to not in ("component", "flow"):
        ctx.fail(f"applies_to must be 'component' or 'flow', not {applies_to!r}", "applies_to")

    stride_names = ctx.list_of("stride", str)
    if not stride_names:
        ctx.fail("'stride' needs at least one category", "stride")
    stride: list[Stride] = []
    for name in stride_names:
        try:
            stride.append(Stride(name))
        except ValueError:
            names = [s.value for s in Stride]
            ctx.fail(
                f"unknown STRIDE category {name!r}{close_matches(name, names)}",
                "stride",
                hint="categories: " + ", ".join(names),
            )
    cwe = ctx.list_of("cwe", int)
    capec = ctx.list_of("capec", int)
    for key, numbers in (("cwe", cwe), ("capec", capec)):
        if any(number <= 0 for number in numbers):
            ctx.fail(f"'{key}' ids are positive numbers", key)

    base, by_class = _severity(ctx, item["severity"])

    unless = ctx.list_of("unless_controls", str)
    for kind in unless:
        if kind not in CONTROL_KINDS:
            ctx.fail(
                f"unknown control kind {kind!r}{close_matches(kind, tuple(CONTROL_KINDS))}",
                "unless_controls",
                hint="control kinds: " + ", ".join(CONTROL_KINDS),
            )

    catalog = attributes_for(applies_to)
    when_line = item.key_lines.get("when", item.line)
    try:
        condition = compile_condition(item["when"], catalog, line=when_line)
    except ConditionError as exc:
        raise RuleError(
            display, exc.message, rule=ctx.rule, line=exc.line or when_line, hint=exc.hint
        ) from None

    threat_id = item.get("threat_id", _DEFAULT_THREAT_ID[applies_to])
    if not isinstance(threat_id, str):
        ctx.fail("'threat_id' must be a template string", "threat_id")
    id_parts = _template(ctx, "threat_id", threat_id, _ID_PLACEHOLDERS[applies_to])
    used = {name for _, name in id_parts if name}
    element = {"component"} if applies_to == "component" else {"flow"}
    if "rule" not in used or not (used & element or {"source", "target"} <= used):
        ctx.fail(
            f"threat_id {threat_id!r} must contain {{rule}} and the element's id",
            "threat_id",
            hint=f"use {_DEFAULT_THREAT_ID[applies_to]!r}",
        )
    explanation = ctx.text("explanation", required=True)
    allowed = _ID_PLACEHOLDERS[applies_to] | explanation_names(applies_to)
    explanation_parts = _template(ctx, "explanation", explanation, allowed)

    references = ctx.list_of("references", str)
    return Rule(
        id=rule_id,
        title=title,
        applies_to=applies_to,
        stride=tuple(stride),
        cwe=tuple(cwe),
        capec=tuple(capec),
        severity_base=base,
        severity_by_classification=by_class,
        unless_controls=tuple(unless),
        threat_id_template=threat_id,
        explanation_template=explanation,
        description=ctx.text("description"),
        mitigation=ctx.text("mitigation"),
        references=tuple(references),
        file=display,
        line=item.line,
        condition=condition,
        threat_id_parts=id_parts,
        explanation_parts=explanation_parts,
    )


def _severity(
    ctx: _Ctx, value: Any
) -> tuple[Severity, tuple[tuple[Classification, Severity], ...]]:
    def parse(text: Any) -> Severity:
        if not isinstance(text, str):
            ctx.fail(f"severity must be a name, not {text!r}", "severity")
        try:
            return Severity.parse(text)
        except ValueError as exc:
            ctx.fail(str(exc), "severity")

    if isinstance(value, str):
        return parse(value), ()
    if not isinstance(value, Mapping):
        ctx.fail("severity must be a name or {base: ..., by_classification: {...}}", "severity")
    for key in value:
        if key not in ("base", "by_classification"):
            ctx.fail(
                f"unknown severity key {key!r}",
                "severity",
                hint="severity has 'base' and 'by_classification'",
            )
    if "base" not in value:
        ctx.fail("severity needs 'base'", "severity")
    base = parse(value["base"])
    raw = value.get("by_classification") or {}
    if not isinstance(raw, Mapping):
        ctx.fail("by_classification must map classification names to severities", "severity")
    pairs: list[tuple[Classification, Severity]] = []
    for name, severity in raw.items():
        try:
            level = Classification.parse(str(name))
        except ValueError as exc:
            ctx.fail(f"by_classification: {exc}", "severity")
        pairs.append((level, parse(severity)))
    pairs.sort()
    return base, tuple(pairs)


def explanation_names(applies_to: str) -> frozenset[str]:
    """Placeholder names an explanation may use besides the id placeholders: the rule's
    attributes without their prefix (``flow.source.boundary`` → ``source_boundary``)."""
    names: set[str] = set()
    for full in attributes_for(applies_to):
        short = full.split(".", 1)[1]
        names.add(short.replace(".", "_"))
    return frozenset(names)


def _template(ctx: _Ctx, key: str, text: str, allowed: frozenset[str]) -> Template:
    parts: list[tuple[str, str | None]] = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        ctx.fail(f"'{key}' is not a valid template: {exc}", key, hint="write {{ for a brace")
    for literal, name, spec, conversion in parsed:
        if name is None:
            parts.append((literal, None))
            continue
        if spec or conversion:
            ctx.fail(f"'{key}': placeholder {{{name}}} may not carry a format or conversion", key)
        if name not in allowed:
            ctx.fail(
                f"'{key}': unknown placeholder {{{name}}}{close_matches(name, allowed)}",
                key,
                hint="placeholders: " + ", ".join(sorted(allowed)),
            )
        parts.append((literal, name))
    return tuple(parts)
