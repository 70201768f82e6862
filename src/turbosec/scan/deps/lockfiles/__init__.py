"""Lockfile and manifest parsers: which package versions a project pins, and where.

Each format is one module exposing ``parse(path: str, text: str) -> ParsedLockfile``;
:data:`FORMATS` maps a format name to its module path and the file-name patterns it
claims.  A parser never guesses: a requirement without an exact pin is reported as
``unpinned``, an editable / URL / VCS / local-path requirement as ``unauditable``; both
carry a human reason.  Malformed input raises :class:`LockfileError` naming the file and
the 1-based line.
"""

from __future__ import annotations

import bisect
import fnmatch
import importlib
import json
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Literal, Protocol

import orjson
import yaml

from turbosec.core.errors import TurbosecError

Status = Literal["pinned", "unpinned", "unauditable"]

MAX_LOCKFILE_BYTES = 64 * 1024 * 1024


class LockfileError(TurbosecError):
    """A lockfile or manifest cannot be read; names the file and the line."""

    def __init__(self, path: str, line: int | None, message: str, *, hint: str | None = None):
        where = f"{path}:{line}" if line else path
        super().__init__(
            message,
            where=where,
            hint=hint or "fix the file (or regenerate it with its package manager) and retry",
        )
        self.path = path
        self.line = line


@dataclass(frozen=True, slots=True)
class Dependency:
    """One package a lockfile or manifest names."""

    ecosystem: Literal["PyPI", "npm"]
    name: str  # as written in the file (not normalised)
    version: str | None  # the exact pinned version; None unless status == "pinned"
    path: str  # the file, relative POSIX path as given to parse()
    line: int  # 1-based line that pins (or names) the package; 0 when unknown
    status: Status = "pinned"
    reason: str = ""  # for unpinned / unauditable: why, e.g. "editable install", ">=1.0"
    dev: bool = False  # a development-only dependency, when the format says so
    direct: bool | None = None  # a direct dependency of the project (None: unknown)


@dataclass(frozen=True, slots=True)
class ParsedLockfile:
    path: str
    format: str  # a key of FORMATS
    dependencies: tuple[Dependency, ...]
    # relative POSIX paths of other files this one includes (``-r``/``-c`` in requirements)
    includes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)


class Parser(Protocol):
    def __call__(self, path: str, text: str) -> ParsedLockfile: ...


# format name → (module under turbosec.scan.deps.lockfiles, file-name glob patterns).  A
# pattern with a "/" matches the last two path parts; one starting with "/" only a file at
# the repository root.  ``constraints*.txt`` is taken at the root only: deeper down the name
# is as often a document (Django's ``docs/ref/models/constraints.txt``), and a constraints
# file a requirements file uses is read anyway, through its ``-c`` line.
FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "requirements": (
        "requirements",
        ("requirements*.txt", "*requirements.txt", "requirements/*.txt", "/constraints*.txt"),
    ),
    "poetry.lock": ("poetry", ("poetry.lock",)),
    "uv.lock": ("uv", ("uv.lock",)),
    "Pipfile.lock": ("pipfile", ("Pipfile.lock",)),
    "pylock.toml": ("pylock", ("pylock.toml", "pylock.*.toml")),
    "package-lock.json": ("npm", ("package-lock.json", "npm-shrinkwrap.json")),
    "yarn.lock": ("yarn", ("yarn.lock",)),
    "pnpm-lock.yaml": ("pnpm", ("pnpm-lock.yaml",)),
}


def detect_format(path: str) -> str | None:
    """The format of a repository file by its name, or None.  Paths under node_modules
    or a virtual environment are never lockfiles of the project."""
    parts = PurePosixPath(path).parts
    if any(p in ("node_modules", ".venv", "venv", "site-packages", ".tox") for p in parts[:-1]):
        return None
    name = parts[-1] if parts else ""
    tail2 = "/".join(parts[-2:])
    for fmt, (_module, patterns) in FORMATS.items():
        for pattern in patterns:
            if pattern.startswith("/"):
                if len(parts) != 1:
                    continue
                pattern = pattern[1:]
            subject = tail2 if "/" in pattern else name
            if fnmatch.fnmatchcase(subject.lower(), pattern.lower()):
                return fmt
    return None


def parser_for(fmt: str) -> Parser:
    module_name, _patterns = FORMATS[fmt]
    module = importlib.import_module(f"{__name__}.{module_name}")
    parse: Parser = module.parse
    return parse


def parse_file(path: str, text: str, fmt: str | None = None) -> ParsedLockfile:
    """Parse ``text`` (the content of repository file ``path``) in its detected format."""
    chosen = fmt or detect_format(path)
    if chosen is None:
        raise LockfileError(path, None, "not a lockfile or manifest turbosec knows")
    return parser_for(chosen)(path, text)


# ---------------------------------------------------------------------------------------
# Helpers shared by the format modules.

# More dependencies than this in one file is not a real project: refuse rather than grind.
MAX_DEPENDENCIES = 200_000
EXCERPT_CHARS = 80  # quoting a file's text in an error message
REASON_CHARS = 200  # a location (URL, path) shown in a reason or standing in for a name

_URL_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column \d+\)\s*$")
_TOML_AT_END = re.compile(r"\s*\(at end of document\)\s*$")


def redact(text: str) -> str:
    """``text`` with the user-info of any URL in it (tokens, passwords) replaced by ``***``."""
    return _URL_USERINFO.sub(lambda m: m.group(0) if m.group(0) == "git@" else "***@", text)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``text`` fit to quote in a message or a reason: credentials hidden, one line, bounded."""
    flat = " ".join(redact(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def show(text: str) -> str:
    """A location fit for a dependency's reason: credentials hidden, one line, bounded."""
    return excerpt(text, REASON_CHARS)


class Collector:
    """A parser's dependencies in file order; refuses more than :data:`MAX_DEPENDENCIES`."""

    def __init__(self, path: str, ecosystem: Literal["PyPI", "npm"]) -> None:
        self.path = path
        self.ecosystem: Literal["PyPI", "npm"] = ecosystem
        self.dependencies: list[Dependency] = []
        self.warnings: list[str] = []

    def add(
        self,
        name: str,
        line: int,
        *,
        version: str | None = None,
        status: Status = "pinned",
        reason: str = "",
        dev: bool = False,
        direct: bool | None = None,
    ) -> None:
        limit = MAX_DEPENDENCIES
        if len(self.dependencies) >= limit:
            raise LockfileError(
                self.path,
                line or None,
                f"more than {limit:,} dependencies in one file",
                hint="a project lockfile has far fewer; check that the file is not generated "
                "test data or corrupted",
            )
        self.dependencies.append(
            Dependency(
                ecosystem=self.ecosystem,
                name=name,
                version=version if status == "pinned" else None,
                path=self.path,
                line=line,
                status=status,
                reason=reason,
                dev=dev,
                direct=direct,
            )
        )

    def result(self, fmt: str, includes: Iterable[str] = ()) -> ParsedLockfile:
        return ParsedLockfile(
            path=self.path,
            format=fmt,
            dependencies=tuple(self.dependencies),
            includes=tuple(includes),
            warnings=tuple(self.warnings),
        )


class LineIndex:
    """Maps character offsets of a text to 1-based line numbers."""

    def __init__(self, text: str) -> None:
        self._starts = [0]
        self._starts.extend(m.end() for m in re.finditer("\n", text))

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self._starts, offset)


def strip_bom(text: str) -> str:
    return text[1:] if text.startswith("\ufeff") else text


def load_toml(path: str, text: str, *, hint: str) -> dict[str, Any]:
    """Parse TOML with :mod:`tomllib`; a syntax error becomes a :class:`LockfileError`."""
    try:
        return tomllib.loads(strip_bom(text))
    except tomllib.TOMLDecodeError as exc:
        detail = str(exc)
        line: int | None = None
        if m := _TOML_POSITION.search(detail):
            line = int(m.group(1))
            detail = detail[: m.start()]
        elif m := _TOML_AT_END.search(detail):
            line = text.count("\n") + 1
            detail = detail[: m.start()]
        raise LockfileError(path, line, f"not valid TOML: {detail}", hint=hint) from None
    except RecursionError:
        raise LockfileError(path, None, "TOML nested too deeply", hint=hint) from None


def load_json(path: str, text: str, *, hint: str) -> Any:
    """Parse JSON with orjson; a syntax error becomes a :class:`LockfileError`."""
    try:
        return orjson.loads(strip_bom(text))
    except orjson.JSONDecodeError as exc:
        raise LockfileError(path, exc.lineno, f"not valid JSON: {exc.msg}", hint=hint) from None


def _text_loader() -> type[Any]:
    """A YAML *safe* loader (libyaml's when available) that keeps numbers and dates as the
    text written: ``version: 1.10`` stays ``"1.10"``, ``lockfileVersion: 5.4`` stays
    ``"5.4"``.  Booleans and null are still resolved."""
    base: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    as_text = {
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
        "tag:yaml.org,2002:timestamp",
    }
    resolvers = {
        first: [(tag, rx) for tag, rx in candidates if tag not in as_text]
        for first, candidates in base.yaml_implicit_resolvers.items()
    }
    return type("TextSafeLoader", (base,), {"yaml_implicit_resolvers": resolvers})


_TextSafeLoader = _text_loader()


def load_yaml(path: str, text: str, *, hint: str) -> tuple[Any, Any]:
    """Parse YAML with a safe loader; returns ``(data, root node)`` (the node graph carries
    line numbers).  A syntax error becomes a :class:`LockfileError`."""
    loader = _TextSafeLoader(strip_bom(text))
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "syntax error"
        raise LockfileError(path, line, f"not valid YAML: {problem}", hint=hint) from None
    except yaml.YAMLError as exc:
        raise LockfileError(path, None, f"not valid YAML: {excerpt(str(exc))}", hint=hint) from None
    except RecursionError:
        raise LockfileError(path, None, "YAML nested too deeply", hint=hint) from None
    finally:
        loader.dispose()
    return data, node


def yaml_key_lines(node: Any, *keys: str) -> dict[str, int]:
    """The 1-based line of each key of the mapping at ``keys`` below the root ``node``."""
    current = node
    for key in keys:
        current = _yaml_child(current, key)
        if current is None:
            return {}
    lines: dict[str, int] = {}
    if isinstance(current, yaml.MappingNode):
        for key_node, _value in current.value:
            if isinstance(key_node, yaml.ScalarNode):
                lines.setdefault(str(key_node.value), key_node.start_mark.line + 1)
    return lines


def _yaml_child(node: Any, key: str) -> Any:
    if not isinstance(node, yaml.MappingNode):
        return None
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return value_node
    return None


def toml_table_lines(text: str, array: str, key: str = "name") -> list[int]:
    """For each ``[[array]]`` header in a TOML text, the line of its ``key = ...`` entry
    (the header's own line when the table has no such key), in file order.  tomllib keeps
    no positions; lockfile writers put headers at the start of a line, as scanned here."""
    header = re.compile(rf'^\[\[\s*(?:{re.escape(array)}|"{re.escape(array)}")\s*\]\]', re.M)
    any_header = re.compile(r"^\[", re.M)
    key_line = re.compile(rf'^[ \t]*(?:{re.escape(key)}|"{re.escape(key)}")[ \t]*=', re.M)
    index = LineIndex(text)
    lines: list[int] = []
    for m in header.finditer(text):
        end_m = any_header.search(text, m.end())
        end = end_m.start() if end_m else len(text)
        found = key_line.search(text, m.end(), end)
        lines.append(index.line(found.start() if found else m.start()))
    return lines


class JsonKeyFinder:
    """Finds, moving forward through a JSON text, the line of each ``"key": {`` in turn.
    Callers look keys up in document order, so a nested key of an earlier object is
    never mistaken for a later one."""

    _OPEN_OBJECT = re.compile(r"\s*:\s*\{")

    def __init__(self, text: str, start: int = 0) -> None:
        self.text = text
        self.cursor = start
        self._index = LineIndex(text)

    def find(self, key: str) -> int:
        """The line of the next ``"key": {`` after the cursor (0 when absent)."""
        plain = json.dumps(key, ensure_ascii=False)
        # as most writers quote it, with "/" escaped, and with non-ASCII escaped
        spellings = (plain, plain.replace("/", "\\/"), json.dumps(key, ensure_ascii=True))
        for quoted in dict.fromkeys(spellings):
            at = self.cursor
            while (at := self.text.find(quoted, at)) >= 0:
                end = at + len(quoted)
                if self._OPEN_OBJECT.match(self.text, end):
                    self.cursor = end
                    return self._index.line(at)
                at = end
        return 0


def mapping(path: str, value: Any, what: str, line: int | None, *, hint: str) -> dict[str, Any]:
    """``value`` when it is a table / object / mapping, else a :class:`LockfileError`."""
    if not isinstance(value, dict):
        raise LockfileError(
            path, line, f"{what} is {type_name(value)}, expected a table of keys", hint=hint
        )
    return value


def type_name(value: Any) -> str:
    """How a message names the type of a parsed value ("a string", "a list", ...)."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string" if value.strip() else "an empty string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


def require_str(
    path: str, entry: dict[str, Any], key: str, what: str, line: int, *, hint: str
) -> str:
    """``entry[key]`` when it is a non-empty string, else a :class:`LockfileError` that
    names the entry (``what``) and the missing or mistyped key."""
    value = entry.get(key)
    if value is None:
        raise LockfileError(path, line or None, f'{what} has no "{key}"', hint=hint)
    if not isinstance(value, str) or not value.strip():
        raise LockfileError(
            path,
            line or None,
            f'{what} has {type_name(value)} as "{key}", expected a non-empty string',
            hint=hint,
        )
    return value


def toml_key_line(text: str, key: str, *, top_level: bool = False) -> int | None:
    """The line of the first ``key = ...`` in a TOML text (only before the first table
    header when ``top_level``), or None."""
    end = len(text)
    if top_level and (header := re.search(r"^\[", text, re.M)):
        end = header.start()
    pattern = re.compile(rf'^[ \t]*(?:{re.escape(key)}|"{re.escape(key)}")[ \t]*=', re.M)
    found = pattern.search(text, 0, end)
    return text.count("\n", 0, found.start()) + 1 if found else None


def json_key_line(text: str, key: str) -> int | None:
    """The line of the first ``"key":`` in a JSON text, or None."""
    found = re.search(re.escape(json.dumps(key)) + r"\s*:", text)
    return text.count("\n", 0, found.start()) + 1 if found else None
