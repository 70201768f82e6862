"""Loading threat models: ``threatmodel.yaml`` and the files it includes in, a validated
:class:`~turbosec.threats.model.ThreatModel` out.

The format is described, for editors too, by the JSON Schema of
:mod:`turbosec.threats.schema`.  Reading is strict, because a misspelt key or id silently
ignored would hide a threat:

* YAML goes through a safe loader that keeps the line of every mapping key and list item,
  and refuses aliases and anchors, duplicate keys, keys that are not text (``yes:``, ``1:``)
  and tags other than the standard scalar ones (no ``!!python/...``, no ``!!binary``).
* A file is at most :data:`MAX_FILE_BYTES`; a model at most :data:`MAX_FILES` files.
* Every key must be known, every value of the right type, every name from the closed
  vocabularies of :mod:`turbosec.threats.model`, every reference must resolve, every id must
  be unique across all element kinds and all files.

Anything wrong is a :class:`~turbosec.threats.errors.ModelError` naming the file and the
1-based line (of the offending key or list item), saying what is wrong, listing the valid
alternatives and, when one is close, suggesting it.  The first problem found is reported;
nothing is loaded half.

Includes are loaded depth first in declaration order (the main file, then its first include
and that include's own includes, then its second include...), and every mapping of the
resulting :class:`ThreatModel` lists elements in that order, so the same files always give
the same model.  An included file's name in :class:`SourceRef` is its path relative to the
main model's directory, with ``/`` separators; the main file keeps the name it was given.
"""

from __future__ import annotations

import datetime as dt
import difflib
import posixpath
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, NoReturn

import yaml
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)
from yaml.nodes import ScalarNode

from turbosec.threats.errors import ModelError
from turbosec.threats.model import (
    AUTHENTICATION_METHODS,
    COMPONENT_PROPERTIES,
    CONTROL_KINDS,
    FLOW_PROPERTIES,
    PROTOCOLS,
    Boundary,
    Classification,
    Component,
    ComponentKind,
    Control,
    DataAsset,
    Flow,
    SourceRef,
    ThreatModel,
    ThreatStatus,
    TriageEntry,
)

try:  # libyaml's parser when PyYAML was built with it: several times faster
    from yaml import CSafeLoader as _SafeLoaderBase
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _SafeLoaderBase  # type: ignore[assignment]

__all__ = [
    "BOUNDARY_KEYS",
    "COMPONENT_KEYS",
    "CONTROL_KEYS",
    "DATA_KEYS",
    "EVIDENCE_KEYS",
    "FLOW_KEYS",
    "ID_PATTERN",
    "INCLUDE_KEYS",
    "MAX_FILES",
    "MAX_FILE_BYTES",
    "MODEL_VERSION",
    "NEEDS_JUSTIFICATION",
    "SYSTEM_KEYS",
    "TOP_KEYS",
    "TRIAGE_KEYS",
    "load_model",
    "load_model_text",
]

#: Largest model file read (bytes).
MAX_FILE_BYTES: Final = 4 * 1024 * 1024
#: Most files one model may consist of (the main file and every include).
MAX_FILES: Final = 200
#: Most bytes all files of one model may hold together.
MAX_TOTAL_BYTES: Final = 32 * 1024 * 1024
#: Deepest nesting of YAML mappings and lists (the format needs 4).
MAX_DEPTH: Final = 32
#: The only format version so far.
MODEL_VERSION: Final = 1
#: What an element id looks like (model elements; triage patterns are free text).
ID_REGEX: Final = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
ID_PATTERN: Final = re.compile(ID_REGEX)

# The keys each mapping of the format may hold.
TOP_KEYS: Final = (
    "version",
    "system",
    "includes",
    "data",
    "boundaries",
    "components",
    "flows",
    "controls",
    "triage",
)
INCLUDE_KEYS: Final = TOP_KEYS[2:]
SYSTEM_KEYS: Final = ("name", "owner", "description")
DATA_KEYS: Final = ("id", "name", "classification", "pii", "description", "external_id")
BOUNDARY_KEYS: Final = ("id", "name", "parent", "description", "external_id")
COMPONENT_KEYS: Final = (
    "id",
    "name",
    "kind",
    "boundary",
    "technology",
    "description",
    "properties",
    "controls",
    "data",
    "external_id",
)
FLOW_KEYS: Final = (
    "id",
    "name",
    "from",
    "to",
    "protocol",
    "authentication",
    "data",
    "properties",
    "controls",
    "description",
    "external_id",
)
CONTROL_KEYS: Final = ("id", "kind", "description", "evidence", "external_id")
EVIDENCE_KEYS: Final = ("tests", "tickets")
TRIAGE_KEYS: Final = (
    "threat",
    "status",
    "mitigated_by",
    "justification",
    "ticket",
    "expires",
    "external_id",
)
#: Triage statuses that must say why.
NEEDS_JUSTIFICATION: Final = frozenset(
    {ThreatStatus.ACCEPTED, ThreatStatus.TRANSFERRED, ThreatStatus.FALSE_POSITIVE}
)

_ID_RULE = (
    "an id is 1 to 64 characters: lower-case letters, digits, '_', '.' and '-', "
    "starting with a letter or digit"
)
_DATE_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SCALAR_TAGS: Final = frozenset(
    "tag:yaml.org,2002:" + name for name in ("str", "int", "float", "bool", "null", "timestamp")
)
_STR_TAG: Final = "tag:yaml.org,2002:str"
_MAP_TAG: Final = "tag:yaml.org,2002:map"
_MERGE_TAG: Final = "tag:yaml.org,2002:merge"
_SEQ_TAG: Final = "tag:yaml.org,2002:seq"
_MAX_LISTED = 40  # alternatives listed in a message


# --- public API ----------------------------------------------------------------------------


def load_model(path: Path, *, name: str | None = None) -> ThreatModel:
    """Load and validate the model at ``path`` and the files it includes.

    ``name`` is how messages and :class:`SourceRef` call the main file (default: ``path``
    as given), e.g. its repository-relative path when ``path`` is absolute."""
    path = Path(path)
    name = name or str(path)
    text = _read_file(path, name, None)
    return _Loader(path.parent, path).load(text, name)


def load_model_text(
    text: str, name: str = "threatmodel.yaml", *, base_dir: Path | None = None
) -> ThreatModel:
    """Load and validate a model given as text; ``name`` is how messages and
    :class:`SourceRef` call it.  Its includes are resolved against ``base_dir``; without
    one a model that includes files is an error."""
    if len(text) > MAX_FILE_BYTES or len(text.encode("utf-8")) > MAX_FILE_BYTES:
        raise _too_large(name)
    main = Path(base_dir) / Path(name).name if base_dir is not None else None
    return _Loader(Path(base_dir) if base_dir is not None else None, main).load(text, name)


# --- YAML with lines ------------------------------------------------------------------------


class _Map(dict[str, Any]):
    """A YAML mapping that remembers its own line and the line of each key."""

    __slots__ = ("key_lines", "line")

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[str, int] = {}


class _Seq(list[Any]):
    """A YAML list that remembers its own line and the line of each item."""

    __slots__ = ("item_lines", "line")

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.item_lines: list[int] = []


_NO_KEY: Final = object()


class _ModelYamlLoader(_SafeLoaderBase):
    """A safe loader that builds :class:`_Map`/:class:`_Seq` trees straight from the parser's
    events, so that every key and item keeps its line.

    Building from events (rather than composing nodes first) is what lets it see anchors,
    which composed nodes no longer carry, and keeps the work to one pass with no recursion:
    a deeply nested document is an error, not a crash.
    """

    def build(self, file: str) -> Any:
        self._expect(StreamStartEvent, file)
        if self.check_event(StreamEndEvent):
            return None
        self._expect(DocumentStartEvent, file)
        value = self._build_value(file)
        self._expect(DocumentEndEvent, file)
        if not self.check_event(StreamEndEvent):
            event: Any = self.peek_event()
            raise ModelError(
                file,
                event.start_mark.line + 1,
                "a second YAML document ('---'); a model file holds one document",
                hint="move the second document into its own file and include it",
            )
        return value

    def _expect(self, kind: type, file: str) -> None:
        event: Any = self.get_event()
        if not isinstance(event, kind):  # pragma: no cover - the parser guarantees the order
            raise ModelError(file, event.start_mark.line + 1, "unexpected YAML structure")

    def _build_value(self, file: str) -> Any:
        stack: list[list[Any]] = []  # [container, pending key, pending key's line]
        while True:
            event: Any = self.get_event()
            line = event.start_mark.line + 1
            kind = type(event)
            if kind is AliasEvent:
                raise ModelError(
                    file,
                    line,
                    f"YAML alias '*{event.anchor}' is not allowed in a threat model",
                    hint="write the value out in full",
                )
            if getattr(event, "anchor", None) is not None:
                raise ModelError(
                    file,
                    line,
                    f"YAML anchor '&{event.anchor}' is not allowed in a threat model",
                    hint="remove the anchor and write values out in full",
                )
            value: Any
            if kind is ScalarEvent:
                value = self._scalar(event, line, file)
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                tag = event.tag
                expected = _MAP_TAG if kind is MappingStartEvent else _SEQ_TAG
                if tag is not None and tag != expected:
                    raise ModelError(
                        file,
                        line,
                        f"YAML tag {_tag_name(tag)!r} is not allowed in a threat model",
                        hint="remove the tag",
                    )
                if len(stack) >= MAX_DEPTH:
                    raise ModelError(
                        file, line, f"nested deeper than {MAX_DEPTH} levels; this is not a model"
                    )
                container = _Map(line) if kind is MappingStartEvent else _Seq(line)
                stack.append([container, _NO_KEY, 0])
                continue
            else:  # MappingEndEvent or SequenceEndEvent
                value = stack.pop()[0]
                line = value.line
            if not stack:
                return value
            frame = stack[-1]
            container = frame[0]
            if type(container) is _Seq:
                container.append(value)
                container.item_lines.append(line)
            elif frame[1] is _NO_KEY:
                if type(value) is not str:
                    raise ModelError(
                        file,
                        line,
                        f"a mapping key must be text, got {_describe(value)}",
                        hint="quote the key (YAML reads yes/no/on/off as true/false and "
                        "digits as numbers)",
                    )
                if value in container:
                    raise ModelError(
                        file,
                        line,
                        f"duplicate key {value!r} (first at line {container.key_lines[value]})",
                        hint="a later key would silently replace the earlier one; keep one",
                    )
                frame[1] = value
                frame[2] = line
            else:
                container[frame[1]] = value
                container.key_lines[frame[1]] = frame[2]
                frame[1] = _NO_KEY

    def _scalar(self, event: Any, line: int, file: str) -> Any:
        tag = event.tag
        text = event.value
        explicit = tag is not None
        if tag is None:
            tag = self.resolve(ScalarNode, text, event.implicit)  # type: ignore[no-untyped-call]
        elif tag not in _SCALAR_TAGS:
            raise ModelError(
                file,
                line,
                f"YAML tag {_tag_name(tag)!r} is not allowed in a threat model",
                hint="remove the tag; only plain text, numbers, true/false, null and dates "
                "are read",
            )
        if tag == _STR_TAG:
            return text
        if tag == _MERGE_TAG:
            raise ModelError(
                file,
                line,
                "YAML merge keys ('<<') are not allowed in a threat model",
                hint="write the keys out in full",
            )
        if tag not in _SCALAR_TAGS:  # the resolver's '=' (value) tag: plain text here
            return text
        node = ScalarNode(tag, text, event.start_mark, event.end_mark, event.style)
        try:
            return self.yaml_constructors[tag](self, node)
        except (ValueError, TypeError, OverflowError, yaml.YAMLError):
            if explicit:
                kind = tag.rsplit(":", 1)[1]
                raise ModelError(file, line, f"{text!r} is not a valid {kind}") from None
            return text  # e.g. 2027-02-30 looks like a date but is not: keep the text


def _parse_yaml(text: str, file: str) -> Any:
    loader = _ModelYamlLoader(text)
    try:
        return loader.build(file)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        line = min(line, text.count("\n") + 1)  # the parser may point past the last line
        problem = exc.problem or exc.context or "syntax error"
        raise ModelError(
            file,
            line,
            f"invalid YAML: {problem}",
            hint="check the indentation and quoting around this line",
        ) from None
    except yaml.YAMLError as exc:
        raise ModelError(file, 0, f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()


# --- reading files --------------------------------------------------------------------------


def _too_large(file: str, line: int = 0) -> ModelError:
    return ModelError(
        file,
        line,
        f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; a threat model file is never this big",
        hint="split the model into several files with 'includes'",
    )


def _read_file(path: Path, file: str, at: SourceRef | None) -> str:
    where_file, where_line = (at.file, at.line) if at else (file, 0)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        what = f"included file {file!r}" if at else "the threat model"
        raise ModelError(
            where_file,
            where_line,
            f"{what} does not exist (looked for {path})",
            hint="check the path" if at else "create threatmodel.yaml or pass the model's path",
        ) from None
    except IsADirectoryError:
        raise ModelError(where_file, where_line, f"{path} is a folder, not a model file") from None
    except OSError as exc:
        raise ModelError(
            where_file, where_line, f"cannot read {path}: {exc.strerror or exc}"
        ) from None
    if len(data) > MAX_FILE_BYTES:
        raise _too_large(file)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ModelError(
            file, 0, f"not UTF-8 text (byte {exc.start})", hint="save the file as UTF-8"
        ) from None


# --- messages ------------------------------------------------------------------------------


def _tag_name(tag: str) -> str:
    """``tag:yaml.org,2002:binary`` as it is written in YAML: ``!!binary``."""
    prefix = "tag:yaml.org,2002:"
    return "!!" + tag[len(prefix) :] if tag.startswith(prefix) else tag


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"true/false ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, dt.datetime):
        return f"a date and time ({value.isoformat()})"
    if isinstance(value, dt.date):
        return f"a date ({value.isoformat()})"
    if isinstance(value, str):
        return f"text ({value!r})"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__  # pragma: no cover - the loader builds nothing else


def _listing(names: Iterable[str]) -> str:
    ordered = sorted(names)
    if not ordered:
        return "(none)"
    if len(ordered) > _MAX_LISTED:
        return ", ".join(ordered[:_MAX_LISTED]) + f", ... ({len(ordered)} in all)"
    return ", ".join(ordered)


def _suggest(value: str, names: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(value, list(names), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


# --- validating -----------------------------------------------------------------------------


class _Entry:
    """One mapping of the model being read: typed access to its keys, errors that say where."""

    __slots__ = ("file", "m", "what")

    def __init__(self, m: _Map, what: str, file: str) -> None:
        self.m = m
        self.what = what
        self.file = file

    def line(self, key: str) -> int:
        return self.m.key_lines.get(key, self.m.line)

    def ref(self, key: str | None = None) -> SourceRef:
        return SourceRef(self.file, self.line(key) if key else self.m.line)

    def fail(self, key: str | None, message: str, hint: str | None = None) -> NoReturn:
        raise ModelError(self.file, self.line(key) if key else self.m.line, message, hint=hint)

    def check_keys(self, allowed: Collection[str]) -> None:
        for key in self.m:
            if key not in allowed:
                self.fail(
                    key,
                    f"unknown key {key!r} in {self.what}; valid keys: {_listing(allowed)}",
                    hint=_suggest(key, allowed) or "remove it or fix its spelling",
                )

    def missing(self, key: str, hint: str | None = None) -> NoReturn:
        self.fail(None, f"{self.what} has no {key!r}; it is required", hint=hint)

    def get(self, key: str, expected: str, types: type | tuple[type, ...]) -> Any:
        """The value of ``key`` (None when absent or null), checked against ``types``."""
        value = self.m.get(key)
        if value is None:
            return None
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in _tuple(types)):
            hint = None
            if isinstance(value, int | float | dt.date) and expected == "text":
                hint = "quote it"
            elif isinstance(value, str) and expected.startswith("a list"):
                hint = f"write a list: '{key}: [{value}]'"
            self.fail(
                key,
                f"{key!r} of {self.what} must be {expected}, got {_describe(value)}",
                hint=hint,
            )
        return value

    def text(self, key: str, *, required: bool = False, default: str = "") -> str:
        value = self.get(key, "text", str)
        if value is None:
            if required:
                self.missing(key)
            return default
        if required and not value.strip():
            self.fail(key, f"{key!r} of {self.what} is empty; it is required")
        return str(value)

    def boolean(self, key: str) -> bool:
        value = self.get(key, "true or false", bool)
        return bool(value)

    def choice(self, key: str, valid: Collection[str], noun: str, *, required: bool) -> str | None:
        value = self.get(key, "text", str)
        if value is None:
            if required:
                self.missing(key, hint=f"{noun} is one of: {_listing(valid)}")
            return None
        if value not in valid:
            self.fail(
                key,
                f"unknown {noun} {value!r} in {self.what}; valid: {_listing(valid)}",
                hint=_suggest(value, valid),
            )
        return str(value)

    def ident(self, key: str, noun: str) -> str | None:
        """An optional reference to one element: its id, syntax checked."""
        value = self.get(key, f"the id of a {noun}", str)
        if value is None:
            return None
        self._check_id(key, value, noun)
        return str(value)

    def _check_id(self, key: str, value: str, noun: str, line: int | None = None) -> None:
        if not ID_PATTERN.fullmatch(value):
            raise ModelError(
                self.file,
                line or self.line(key),
                f"{value!r} in {key!r} of {self.what} is not a valid {noun} id",
                hint=_ID_RULE,
            )

    def items(self, key: str, expected: str) -> Iterator[tuple[str, int]]:
        """The items of an optional list of non-empty texts, with their lines; no repeats."""
        value = self.get(key, f"a list of {expected}", list)
        if value is None:
            return
        seen: dict[str, int] = {}
        for item, line in zip(value, value.item_lines, strict=True):
            if not isinstance(item, str) or not item.strip():
                raise ModelError(
                    self.file,
                    line,
                    f"each item of {key!r} in {self.what} must be {expected}, "
                    f"got {_describe(item)}",
                )
            if item in seen:
                raise ModelError(
                    self.file,
                    line,
                    f"{item!r} is listed twice in {key!r} of {self.what} "
                    f"(first at line {seen[item]})",
                    hint="remove the repetition",
                )
            seen[item] = line
            yield item, line

    def id_items(self, key: str, noun: str) -> list[tuple[str, int]]:
        found = list(self.items(key, f"{noun} ids"))
        for value, line in found:
            self._check_id(key, value, noun, line)
        return found

    def names(self, key: str, valid: Collection[str], noun: str) -> list[str]:
        found = []
        for value, line in self.items(key, f"{noun} names"):
            if value not in valid:
                raise ModelError(
                    self.file,
                    line,
                    f"unknown {noun} {value!r} in {self.what}; valid: {_listing(valid)}",
                    hint=_suggest(value, valid),
                )
            found.append(value)
        return found


def _tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


@dataclass(frozen=True, slots=True)
class _Reference:
    """A reference to check once every file is loaded: ``value`` must name a ``kind``."""

    kind: str
    value: str
    ref: SourceRef
    owner: str
    key: str


@dataclass(frozen=True, slots=True)
class _Pending:
    """A file waiting to be loaded: where it is and who included it."""

    display: str  # relative to the main model's directory
    path: Path
    resolved: Path
    chain: tuple[tuple[Path, str], ...]  # (resolved path, display) of the including files
    at: SourceRef  # the include list item


_SECTION_KIND: Final = {
    "data": "data asset",
    "boundaries": "boundary",
    "components": "component",
    "flows": "flow",
    "controls": "control",
}
_KIND_SECTION: Final = {kind: section for section, kind in _SECTION_KIND.items()}


@dataclass(slots=True)
class _Loader:
    base_dir: Path | None
    main_path: Path | None
    files: list[str] = field(default_factory=list)
    loaded: dict[Path, SourceRef] = field(default_factory=dict)  # resolved -> included at
    total: int = 0
    data: dict[str, DataAsset] = field(default_factory=dict)
    boundaries: dict[str, Boundary] = field(default_factory=dict)
    components: dict[str, Component] = field(default_factory=dict)
    flows: dict[str, Flow] = field(default_factory=dict)
    controls: dict[str, Control] = field(default_factory=dict)
    triage: list[TriageEntry] = field(default_factory=list)
    triage_seen: dict[str, SourceRef] = field(default_factory=dict)
    ids: dict[str, tuple[str, SourceRef]] = field(default_factory=dict)  # id -> (kind, ref)
    references: list[_Reference] = field(default_factory=list)
    parent_lines: dict[str, SourceRef] = field(default_factory=dict)
    external_ids: dict[str, str] = field(default_factory=dict)

    # -- files ---------------------------------------------------------------------------

    def load(self, text: str, name: str) -> ThreatModel:
        self.total = len(text)
        doc = _parse_yaml(text, name)
        if doc is None:
            raise ModelError(
                name, 0, "the model is empty", hint="start with 'version: 1' and a 'system:'"
            )
        if not isinstance(doc, _Map):
            raise ModelError(
                name,
                1,
                f"a threat model is a YAML mapping (key: value lines), got {_describe(doc)}",
            )
        self.files.append(name)
        top = _Entry(doc, "the model", name)
        top.check_keys(TOP_KEYS)
        version = doc.get("version")
        if "version" not in doc:
            top.missing("version", hint="add 'version: 1' at the top")
        if type(version) is not int or version != MODEL_VERSION:
            top.fail(
                "version",
                f"unsupported model version {version!r}; this turbosec reads version "
                f"{MODEL_VERSION}",
                hint=f"write 'version: {MODEL_VERSION}'",
            )
        system = top.get("system", "a mapping with name and owner", dict)
        if system is None:
            top.missing("system", hint="add 'system:' with 'name:' and 'owner:'")
        entry = _Entry(system, "'system'", name)
        entry.check_keys(SYSTEM_KEYS)
        sys_name = entry.text("name", required=True)
        owner = entry.text("owner", required=True)
        description = entry.text("description")

        main_resolved = self.main_path.resolve() if self.main_path is not None else None
        chain: tuple[tuple[Path, str], ...] = (
            ((main_resolved, name),) if main_resolved is not None else ()
        )
        pending = self._sections(doc, name, "", chain)
        self._load_includes(pending)
        self._check_references()
        self._check_boundary_nesting()
        return ThreatModel(
            name=sys_name,
            owner=owner,
            path=name,
            files=tuple(self.files),
            data=self.data,
            boundaries=self.boundaries,
            components=self.components,
            flows=self.flows,
            controls=self.controls,
            triage=tuple(self.triage),
            description=description,
            external_ids=self.external_ids,
        )

    def _load_includes(self, pending: list[_Pending]) -> None:
        stack = list(reversed(pending))
        while stack:
            item = stack.pop()
            chain_paths = [resolved for resolved, _ in item.chain]
            if item.resolved in chain_paths:
                start = chain_paths.index(item.resolved)
                cycle = [display for _, display in item.chain[start:]] + [item.display]
                raise ModelError(
                    item.at.file,
                    item.at.line,
                    f"include cycle: {' -> '.join(cycle)}",
                    hint="remove one of these includes",
                )
            if item.resolved in self.loaded:
                first = self.loaded[item.resolved]
                raise ModelError(
                    item.at.file,
                    item.at.line,
                    f"{item.display!r} is included twice (first at {first})",
                    hint="include each file once",
                )
            if len(self.files) >= MAX_FILES:
                raise ModelError(
                    item.at.file,
                    item.at.line,
                    f"more than {MAX_FILES} files in one model",
                    hint="merge small files",
                )
            text = _read_file(item.path, item.display, item.at)
            self.total += len(text)
            if self.total > MAX_TOTAL_BYTES:
                raise ModelError(
                    item.at.file,
                    item.at.line,
                    f"the model's files hold more than {MAX_TOTAL_BYTES // (1024 * 1024)} MiB",
                )
            self.loaded[item.resolved] = item.at
            self.files.append(item.display)
            doc = _parse_yaml(text, item.display)
            if doc is None:
                continue  # an empty file adds nothing
            if not isinstance(doc, _Map):
                raise ModelError(
                    item.display,
                    1,
                    f"an included model file is a YAML mapping (key: value lines), got "
                    f"{_describe(doc)}",
                )
            for key in ("version", "system"):
                if key in doc:
                    raise ModelError(
                        item.display,
                        doc.key_lines[key],
                        f"{key!r} belongs in the main model file only; an included file holds "
                        f"{', '.join(INCLUDE_KEYS)}",
                        hint=f"remove {key!r} from this file",
                    )
            _Entry(doc, "an included file", item.display).check_keys(INCLUDE_KEYS)
            rel_dir = posixpath.dirname(item.display)
            chain = (*item.chain, (item.resolved, item.display))
            stack.extend(reversed(self._sections(doc, item.display, rel_dir, chain)))

    def _sections(
        self, doc: _Map, file: str, rel_dir: str, chain: tuple[tuple[Path, str], ...]
    ) -> list[_Pending]:
        top = _Entry(doc, f"{file!r}", file)
        for entry in self._elements(top, "data"):
            self._data(entry)
        for entry in self._elements(top, "boundaries"):
            self._boundary(entry)
        for entry in self._elements(top, "components"):
            self._component(entry)
        for entry in self._elements(top, "flows"):
            self._flow(entry)
        for entry in self._elements(top, "controls"):
            self._control(entry)
        for entry in self._elements(top, "triage"):
            self._triage(entry)
        return self._includes(top, rel_dir, chain)

    def _includes(
        self, top: _Entry, rel_dir: str, chain: tuple[tuple[Path, str], ...]
    ) -> list[_Pending]:
        found: list[_Pending] = []
        for value, line in top.items("includes", "relative paths of model files"):
            at = SourceRef(top.file, line)
            if self.base_dir is None:
                raise ModelError(
                    top.file,
                    line,
                    "this model includes files but was given as text without a folder to find "
                    "them in",
                    hint="load the model from its file, or pass base_dir",
                )
            if posixpath.isabs(value) or Path(value).is_absolute() or "\\" in value:
                raise ModelError(
                    top.file,
                    line,
                    f"include {value!r} is not a relative path with '/' separators",
                    hint="write the path relative to the including file",
                )
            display = posixpath.normpath(posixpath.join(rel_dir, value))
            if display == ".." or display.startswith("../") or display == ".":
                raise ModelError(
                    top.file,
                    line,
                    f"include {value!r} points outside the model's folder",
                    hint="included files must sit in the main model's folder or below it",
                )
            path = self.base_dir / display
            resolved = path.resolve()
            root = self.base_dir.resolve()
            if not resolved.is_relative_to(root):
                raise ModelError(
                    top.file,
                    line,
                    f"include {value!r} leads outside the model's folder (to {resolved})",
                    hint="included files must sit in the main model's folder or below it; "
                    "a symbolic link may not lead out of it",
                )
            found.append(_Pending(display, path, resolved, chain, at))
        return found

    # -- elements ------------------------------------------------------------------------

    def _elements(self, top: _Entry, section: str) -> Iterator[_Entry]:
        items = top.get(section, "a list", list)
        if items is None:
            return
        kind = _SECTION_KIND.get(section, "triage entry")
        for number, (item, line) in enumerate(zip(items, items.item_lines, strict=True), 1):
            if not isinstance(item, _Map):
                raise ModelError(
                    top.file,
                    line,
                    f"each entry of {section!r} must be a mapping (key: value lines), "
                    f"got {_describe(item)}",
                )
            if section == "triage":
                yield _Entry(item, f"triage entry #{number}", top.file)
                continue
            entry = _Entry(item, f"{kind} #{number}", top.file)
            if "id" not in item:
                entry.missing("id", hint=_ID_RULE)
            value = entry.get("id", "text", str)
            if value is None:
                entry.missing("id", hint=_ID_RULE)
            if not ID_PATTERN.fullmatch(value):
                entry.fail("id", f"invalid {kind} id {value!r}", hint=_ID_RULE)
            entry.what = f"{kind} {value!r}"
            entry.check_keys(_KEYS[section])
            self._declare(entry, value, kind)
            external = entry.text("external_id")
            if external:
                self.external_ids[value] = external
            yield entry

    def _declare(self, entry: _Entry, ident: str, kind: str) -> None:
        first = self.ids.get(ident)
        if first is not None:
            first_kind, first_ref = first
            entry.fail(
                "id",
                f"duplicate id {ident!r}: already declared as a {first_kind} at {first_ref}",
                hint="ids must be unique across data, boundaries, components, flows and controls",
            )
        self.ids[ident] = (kind, entry.ref())

    def _refer(self, entry: _Entry, key: str, kind: str, value: str, line: int) -> None:
        self.references.append(
            _Reference(kind, value, SourceRef(entry.file, line), entry.what, key)
        )

    def _data(self, entry: _Entry) -> None:
        ident = entry.m["id"]
        label = entry.choice(
            "classification", [c.label for c in Classification], "classification", required=True
        )
        assert label is not None
        self.data[ident] = DataAsset(
            id=ident,
            name=entry.text("name", default=ident) or ident,
            classification=Classification.parse(label),
            pii=entry.boolean("pii"),
            ref=entry.ref(),
            description=entry.text("description"),
        )

    def _boundary(self, entry: _Entry) -> None:
        ident = entry.m["id"]
        parent = entry.ident("parent", "boundary")
        if parent is not None:
            self._refer(entry, "parent", "boundary", parent, entry.line("parent"))
            self.parent_lines[ident] = entry.ref("parent")
        self.boundaries[ident] = Boundary(
            id=ident,
            name=entry.text("name", default=ident) or ident,
            ref=entry.ref(),
            parent=parent,
            description=entry.text("description"),
        )

    def _component(self, entry: _Entry) -> None:
        ident = entry.m["id"]
        kind = entry.choice(
            "kind", [k.value for k in ComponentKind], "component kind", required=True
        )
        boundary = entry.ident("boundary", "boundary")
        if boundary is not None:
            self._refer(entry, "boundary", "boundary", boundary, entry.line("boundary"))
        properties = entry.names("properties", COMPONENT_PROPERTIES, "component property")
        controls = self._id_refs(entry, "controls", "control")
        data = self._id_refs(entry, "data", "data asset")
        self.components[ident] = Component(
            id=ident,
            name=entry.text("name", default=ident) or ident,
            kind=ComponentKind(str(kind)),
            ref=entry.ref(),
            boundary=boundary,
            technology=entry.text("technology"),
            description=entry.text("description"),
            properties=frozenset(properties),
            controls=controls,
            data=data,
        )

    def _flow(self, entry: _Entry) -> None:
        ident = entry.m["id"]
        ends = []
        for key in ("from", "to"):
            value = entry.ident(key, "component")
            if value is None:
                entry.missing(key, hint=f"'{key}:' names a component id")
            self._refer(entry, key, "component", value, entry.line(key))
            ends.append(value)
        protocol = entry.choice("protocol", PROTOCOLS, "protocol", required=True)
        authentication = entry.choice(
            "authentication", AUTHENTICATION_METHODS, "authentication method", required=False
        )
        properties = entry.names("properties", FLOW_PROPERTIES, "flow property")
        self.flows[ident] = Flow(
            id=ident,
            source=ends[0],
            target=ends[1],
            protocol=str(protocol),
            ref=entry.ref(),
            name=entry.text("name"),
            authentication=authentication or "none",
            description=entry.text("description"),
            properties=frozenset(properties),
            controls=self._id_refs(entry, "controls", "control"),
            data=self._id_refs(entry, "data", "data asset"),
        )

    def _control(self, entry: _Entry) -> None:
        ident = entry.m["id"]
        kind = entry.choice("kind", CONTROL_KINDS, "control kind", required=True)
        tests: tuple[str, ...] = ()
        tickets: tuple[str, ...] = ()
        evidence = entry.get("evidence", "a mapping with 'tests' and 'tickets'", dict)
        if evidence is not None:
            inner = _Entry(evidence, f"the evidence of control {ident!r}", entry.file)
            inner.check_keys(EVIDENCE_KEYS)
            tests = tuple(value for value, _ in inner.items("tests", "pytest node ids"))
            tickets = tuple(value for value, _ in inner.items("tickets", "ticket references"))
        self.controls[ident] = Control(
            id=ident,
            kind=str(kind),
            ref=entry.ref(),
            description=entry.text("description"),
            tests=tests,
            tickets=tickets,
        )

    def _triage(self, entry: _Entry) -> None:
        pattern = entry.get("threat", "a threat id or pattern", str)
        if pattern is None:
            entry.missing("threat", hint="'threat:' is a threat id, * and ? match any text")
        if not pattern.strip():
            entry.fail("threat", f"'threat' of {entry.what} is empty")
        entry.what = f"triage entry {pattern!r}"
        entry.check_keys(TRIAGE_KEYS)
        first = self.triage_seen.get(pattern)
        if first is not None:
            entry.fail(
                "threat",
                f"a second triage entry for {pattern!r} (the first, at {first}, always wins)",
                hint="merge the two entries",
            )
        self.triage_seen[pattern] = entry.ref("threat")
        status = ThreatStatus(
            str(entry.choice("status", [s.value for s in ThreatStatus], "status", required=True))
        )
        mitigated_by = self._id_refs(entry, "mitigated_by", "control")
        if status is ThreatStatus.MITIGATED and not mitigated_by:
            entry.fail(
                "mitigated_by" if "mitigated_by" in entry.m else None,
                f"{entry.what} has status 'mitigated' but no 'mitigated_by'",
                hint="list the control ids that mitigate it: 'mitigated_by: [ctl-...]'",
            )
        justification = entry.text("justification")
        if status in NEEDS_JUSTIFICATION and not justification.strip():
            entry.fail(
                "justification" if "justification" in entry.m else None,
                f"{entry.what} has status {status.value!r} but no 'justification'",
                hint="say why in 'justification:' (who decided, and on what grounds)",
            )
        self.triage.append(
            TriageEntry(
                pattern=pattern,
                status=status,
                ref=entry.ref(),
                mitigated_by=mitigated_by,
                justification=justification,
                ticket=entry.text("ticket"),
                expires=self._date(entry, "expires"),
                external_id=entry.text("external_id"),
            )
        )

    def _date(self, entry: _Entry, key: str) -> dt.date | None:
        value = entry.m.get(key)
        if value is None:
            return None
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        if isinstance(value, str) and _DATE_PATTERN.fullmatch(value.strip()):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
        entry.fail(
            key,
            f"{key!r} of {entry.what} must be a date (YYYY-MM-DD), got {_describe(value)}",
            hint="write a real calendar date such as 2027-06-30",
        )

    def _id_refs(self, entry: _Entry, key: str, kind: str) -> tuple[str, ...]:
        found = entry.id_items(key, kind)
        for value, line in found:
            self._refer(entry, key, kind, value, line)
        return tuple(value for value, _ in found)

    # -- whole-model checks --------------------------------------------------------------

    def _check_references(self) -> None:
        for reference in self.references:
            declared = self.ids.get(reference.value)
            if declared is not None and declared[0] == reference.kind:
                continue
            if declared is not None:
                message = (
                    f"{reference.owner} names {reference.value!r} in {reference.key!r}, but "
                    f"{reference.value!r} is a {declared[0]} (declared at {declared[1]}), "
                    f"not a {reference.kind}"
                )
                hint = None
            else:
                message = (
                    f"{reference.owner} names {reference.kind} {reference.value!r} in "
                    f"{reference.key!r}, but no {reference.kind} has that id"
                )
                hint = None
            candidates = [i for i, (kind, _) in self.ids.items() if kind == reference.kind]
            message += f"; declared {reference.kind} ids: {_listing(candidates)}"
            hint = _suggest(reference.value, candidates) or (
                f"declare it under '{_KIND_SECTION[reference.kind]}:' or fix the id"
            )
            raise ModelError(reference.ref.file, reference.ref.line, message, hint=hint)

    def _check_boundary_nesting(self) -> None:
        order = {ident: number for number, ident in enumerate(self.boundaries)}
        done: set[str] = set()
        for start in self.boundaries:
            path: list[str] = []
            current: str | None = start
            while current is not None and current not in done:
                if current in path:
                    cycle = path[path.index(current) :]
                    first = min(cycle, key=order.__getitem__)
                    at = cycle.index(first)
                    cycle = [*cycle[at:], *cycle[:at], first]
                    ref = self.parent_lines[first]
                    if len(cycle) == 2:
                        message = f"boundary {first!r} is its own parent"
                    else:
                        message = f"boundary parents form a cycle: {' -> '.join(cycle)}"
                    raise ModelError(
                        ref.file,
                        ref.line,
                        message,
                        hint="a boundary must sit inside another one, never inside itself",
                    )
                path.append(current)
                current = self.boundaries[current].parent
            done.update(path)


_KEYS: Final = {
    "data": DATA_KEYS,
    "boundaries": BOUNDARY_KEYS,
    "components": COMPONENT_KEYS,
    "flows": FLOW_KEYS,
    "controls": CONTROL_KEYS,
}
