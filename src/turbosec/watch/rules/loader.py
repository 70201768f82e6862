"""Loading rule files: files and folders of Sigma YAML in, a :class:`RuleSet` out.

:func:`load_rules` reads the built-in pack (``rules/pack/*.yml`` inside the package) and
the files and folders it is given (folders recursively: ``*.yml`` and ``*.yaml``, hidden
entries skipped), every document of every file, and compiles them together: a
correlation may reference a rule of another file, by its Sigma ``name`` or ``id``.

Rule files are data from outside, read defensively: at most :data:`MAX_RULE_FILE` bytes a
file, UTF-8, YAML through a safe loader that also refuses duplicate keys (the second one
would silently win) and aliases (``*ref``: a few lines of them can expand into millions of
nodes).  Anything wrong is a :class:`~turbosec.watch.rules.model.RuleLoadError` naming the
file, the rule (its ``name``, ``id`` or title) and the problem -- the first one found;
nothing is loaded half.

A rule that a correlation references does not raise alerts of its own unless every
correlation referencing it says ``generate: true`` (as pySigma decides it: one
correlation without ``generate`` silences the rule).
"""

from __future__ import annotations

import importlib.resources
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaRuleNotFoundError
from sigma.rule import SigmaRule, SigmaRuleBase

from turbosec.watch.rules import sigma as compiler
from turbosec.watch.rules.model import (
    Correlation,
    CorrelationType,
    Detection,
    RuleLoadError,
    RuleSet,
)

__all__ = [
    "BUILTIN_PREFIX",
    "MAX_RULE_FILE",
    "RULE_SUFFIXES",
    "builtin_paths",
    "load_rules",
    "rule_files",
]

#: Largest rule file read (bytes).
MAX_RULE_FILE = 1024 * 1024
#: What a file in a rules folder is called.
RULE_SUFFIXES = (".yml", ".yaml")
#: How built-in rules name their file in ``RuleMeta.path`` and errors.
BUILTIN_PREFIX = "builtin:"


def builtin_paths() -> list[Path]:
    """The built-in pack: the ``*.yml`` files of ``turbosec/watch/rules/pack/``, sorted.

    An empty or missing pack is an empty list.
    """
    pack = importlib.resources.files("turbosec.watch.rules").joinpath("pack")
    if not pack.is_dir():
        return []
    return sorted(
        Path(str(entry))
        for entry in pack.iterdir()
        if entry.name.endswith(".yml") and not entry.name.startswith(".") and entry.is_file()
    )


def rule_files(paths: Sequence[Path]) -> list[Path]:
    """The files ``paths`` stand for: files as given, folders walked for ``*.yml``/``*.yaml``.

    Hidden files and folders are skipped, symbolic links to folders are not followed, a
    file reached twice is listed once.
    """
    found: list[Path] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            found.append(path)

    for path in paths:
        path = Path(path)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if name.startswith(".") or not name.endswith(RULE_SUFFIXES):
                        continue
                    add(Path(root) / name)
        elif path.is_file():
            add(path)
        elif path.exists():
            raise RuleLoadError(str(path), None, "not a regular file or a folder")
        else:
            raise RuleLoadError(str(path), None, "no such file or folder")
    return found


def load_rules(paths: Sequence[Path], *, builtin: bool = True) -> RuleSet:
    """Load and compile the built-in pack (unless ``builtin=False``) and ``paths``."""
    sources: list[tuple[str, Path]] = []
    if builtin:
        sources.extend((BUILTIN_PREFIX + path.name, path) for path in builtin_paths())
    sources.extend((str(path), path) for path in rule_files(paths))
    parsed: list[_Parsed] = []
    for display, path in sources:
        text = _read(path, display)
        for number, document in enumerate(_documents(text, display), start=1):
            parsed.append(_parse(document, display, number))
    return _compile(parsed)


# --- reading ---------------------------------------------------------------------------------


def _read(path: Path, display: str) -> str:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_RULE_FILE + 1)
    except OSError as exc:
        raise RuleLoadError(display, None, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_RULE_FILE:
        raise RuleLoadError(
            display, None, f"larger than {MAX_RULE_FILE // 1024} KiB; split it into several files"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RuleLoadError(display, None, f"not UTF-8 text (byte {exc.start})") from None


class _RuleYamlLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate keys and aliases."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases (*name) are not allowed in rule files", event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: the base class reports it
                break
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _documents(text: str, display: str) -> Iterator[Mapping[str, Any]]:
    try:
        documents = list(yaml.load_all(text, Loader=_RuleYamlLoader))
    except yaml.YAMLError as exc:
        raise RuleLoadError(display, None, f"invalid YAML: {exc}") from None
    for number, document in enumerate(documents, start=1):
        if document is None:  # an empty document (a trailing ---)
            continue
        if not isinstance(document, dict):
            raise RuleLoadError(
                display,
                None,
                f"document {number} is a {type(document).__name__}, not a rule (a YAML map)",
            )
        yield document


# --- parsing -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Parsed:
    path: str
    label: str | None
    raw: Mapping[str, Any]
    rule: SigmaRuleBase
    rule_id: str = ""


def _parse(document: Mapping[str, Any], display: str, number: int) -> _Parsed:
    label = compiler.rule_label(document) or f"document {number}"
    try:
        compiler.check_rule_keys(document)
        given = dict(document)
        correlation = given.get("correlation")
        if correlation is not None:
            given["correlation"] = _for_pysigma(correlation)
        collection = SigmaCollection.from_dicts([given])
        (rule,) = collection.rules
    except Exception as exc:  # pySigma reports malformed rules with many exception types
        raise compiler.load_error(display, label, exc) from None
    if not isinstance(rule, SigmaRule | SigmaCorrelationRule):
        raise RuleLoadError(display, label, f"{type(rule).__name__} documents are not supported")
    return _Parsed(path=display, label=label, raw=document, rule=rule)


def _for_pysigma(correlation: Any) -> Any:
    """The ``correlation`` section as pySigma 0.11 accepts it.

    Its condition is read by :func:`compiler.correlation_condition` (which knows ``neq``
    and checks temporal rules); pySigma gets an equivalent that it can parse.
    """
    if not isinstance(correlation, Mapping):
        raise compiler.CompileError("`correlation` must be a map")
    kind = correlation.get("type")
    rules = correlation.get("rules")
    if isinstance(kind, str) and kind in {t.value for t in CorrelationType}:
        count = 1 if isinstance(rules, str) else len(rules) if isinstance(rules, list) else 0
        compiler.correlation_condition(correlation.get("condition"), CorrelationType(kind), count)
    condition = correlation.get("condition")
    if isinstance(condition, Mapping) and "neq" in condition:
        copy = dict(correlation)
        copy["condition"] = {("eq" if k == "neq" else k): v for k, v in condition.items()}
        return copy
    return correlation


# --- compiling -------------------------------------------------------------------------------


def _compile(parsed: Sequence[_Parsed]) -> RuleSet:
    by_id: dict[str, _Parsed] = {}
    by_name: dict[str, _Parsed] = {}
    for item in parsed:
        try:
            item.rule_id = compiler.rule_meta(item.rule, item.path).id
        except compiler.CompileError as exc:
            raise compiler.load_error(item.path, item.label, exc) from None
        other = by_id.get(item.rule_id)
        if other is not None:
            raise RuleLoadError(
                item.path, item.label, f"rule id {item.rule_id} is also used in {other.path}"
            )
        by_id[item.rule_id] = item
        name = item.rule.name
        if name:
            other = by_name.get(name)
            if other is not None:
                raise RuleLoadError(
                    item.path, item.label, f"rule name {name!r} is also used in {other.path}"
                )
            by_name[name] = item

    collection = SigmaCollection([item.rule for item in parsed])
    id_of = {id(item.rule): item.rule_id for item in parsed}

    def resolve(reference: str) -> str:
        if not isinstance(reference, str) or not reference:
            raise compiler.CompileError(f"rule reference {reference!r} must be a name or an id")
        try:
            target = collection[reference]
        except (SigmaRuleNotFoundError, KeyError, ValueError):
            raise compiler.CompileError(
                f"references unknown rule {reference!r} (no rule has that name or id)"
            ) from None
        return id_of[id(target)]

    correlations: list[Correlation] = []
    for item in parsed:
        if isinstance(item.rule, SigmaCorrelationRule):
            section = item.raw.get("correlation")
            assert isinstance(section, Mapping)
            try:
                correlations.append(
                    compiler.compile_correlation(item.rule, section, item.path, resolve)
                )
            except compiler.CompileError as exc:
                raise compiler.load_error(item.path, item.label, exc) from None

    silenced = {ref for c in correlations if not c.generate for ref in c.rules}
    detections: list[Detection] = []
    for item in parsed:
        if isinstance(item.rule, SigmaRule):
            try:
                detections.append(
                    compiler.compile_detection(
                        item.rule, item.path, generate=item.rule_id not in silenced
                    )
                )
            except (compiler.CompileError, ValueError) as exc:  # incl. pySigma's SigmaError
                raise compiler.load_error(item.path, item.label, exc) from None
    return RuleSet.build(detections, correlations)
