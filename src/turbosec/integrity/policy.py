"""The deploy-time verification policy (``verify.toml``): whom to trust, what to require.

The file is validated strictly, by hand rather than with pydantic so that ``turbosec verify``
starts quickly: an unknown key is an error naming the key, a string where a number is
expected is an error, a local (zone-less) time is an error; every mistake is listed at once.
Loading resolves it into a :class:`VerifyPolicy`: the trusted public keys (read and checked),
their validity windows, the required evidence, the threshold of distinct keys and compiled
patterns for the provenance rules.  Every mistake that would make the policy impossible to
satisfy, or silently weaker than it reads (the same key listed twice, a threshold larger
than the number of keys, a branch name without ``refs/heads/``), is a load error: it is
better to stop a deployment pipeline at configuration time than to learn at 2 a.m. that
every release is rejected, or that none is checked.

Patterns (repositories, refs, builder ids): ``*`` matches within one path segment (not
``/``), ``**`` matches anything, ``?`` one character other than ``/``; everything else is
literal.  ``["**"]`` explicitly allows any value.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from turbosec.integrity.errors import KeyLoadError, PolicyError
from turbosec.integrity.keys import PublicKey, read_key_file

MAX_POLICY_BYTES = 1_000_000

SUPPORTED_REQUIREMENTS = ("signature", "provenance", "gate", "sbom")

_DURATION = re.compile(r"\s*(\d{1,7})\s*([smhd])\s*")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")

_HINT = "see docs/integrity.md for the keys of a verification policy"


@dataclass(frozen=True)
class KeyEntry:
    """One ``[[keys]]`` entry: a trusted public key and the window in which it is valid."""

    name: str  # how checks refer to this key
    path: str | None = None  # SPKI PEM file, relative to the policy file
    pem: str | None = None  # the SPKI PEM text inline
    not_before: datetime | date | None = None  # a date means 00:00 UTC that day
    not_after: datetime | date | None = None


@dataclass(frozen=True)
class ProvenanceRules:
    """``[provenance]``: what a provenance must say to be accepted (patterns)."""

    allowed_repositories: list[str] = field(default_factory=list)
    allowed_refs: list[str] = field(default_factory=list)  # full git refs
    allowed_builders: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class GateRules:
    """``[gate]``: which gate verdicts are accepted."""

    max_age: str | None = None  # oldest accepted verdict, e.g. '24h', '7d', '90m'
    require_passed: bool = True
    allowed_policies: list[str] = field(default_factory=list)  # SHA-256 of gate policies


@dataclass(frozen=True)
class PolicyFile:
    """The TOML document as written, checked for keys and types."""

    required: list[str]
    keys: list[KeyEntry]
    threshold: int = 1
    provenance: ProvenanceRules = field(default_factory=ProvenanceRules)
    gate: GateRules = field(default_factory=GateRules)


class _Problems:
    """Every mistake in the document, collected so that one run names them all."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, text: str) -> None:
        self.items.append(text)

    def table(self, value: Any, where: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.add(f"'{where}': must be a table")
            return {}
        prefix = f"{where}." if where else ""
        for key in value:
            if key not in allowed:
                self.add(f"unknown key '{prefix}{key}'")
        return value

    def text(self, table: dict[str, Any], key: str, where: str, *, required: bool) -> str | None:
        value = table.get(key)
        if value is None:
            if required:
                self.add(f"'{where}{key}': missing")
            return None
        if not isinstance(value, str):
            self.add(f"'{where}{key}': must be a string, not {_toml_type(value)}")
            return None
        if required and not value:
            self.add(f"'{where}{key}': must not be empty")
        return value

    def strings(self, table: dict[str, Any], key: str, where: str) -> list[str]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.add(f"'{where}{key}': must be a list of strings")
            return []
        return list(value)

    def moment(self, table: dict[str, Any], key: str, where: str) -> datetime | date | None:
        value = table.get(key)
        if value is None:
            return None
        if isinstance(value, datetime):
            if value.tzinfo is None:
                self.add(
                    f"'{where}{key}': a time without a time zone is ambiguous: add Z (UTC) or "
                    "an offset, e.g. 2026-01-01T00:00:00Z"
                )
                return None
            return value
        if isinstance(value, date):
            return value
        self.add(
            f"'{where}{key}': must be a TOML date (2026-01-01) or date-time with a zone, "
            f"not {_toml_type(value)}"
        )
        return None


def _toml_type(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def _document(data: dict[str, Any]) -> tuple[PolicyFile | None, list[str]]:
    """Check keys and types of the parsed TOML; returns the document or the problems."""
    problems = _Problems()
    top = problems.table(data, "", ("required", "threshold", "keys", "provenance", "gate"))
    required = top.get("required")
    kinds: list[str] = []
    if required is None:
        problems.add("'required': missing (say which evidence must be present)")
    elif not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        problems.add("'required': must be a list of strings")
    elif not required:
        problems.add("'required': must name at least one kind of evidence")
    else:
        for index, kind in enumerate(required):
            if kind not in SUPPORTED_REQUIREMENTS:
                problems.add(
                    f"'required[{index}]': {kind!r} is not a kind of evidence "
                    f"(known: {', '.join(SUPPORTED_REQUIREMENTS)})"
                )
            elif kind not in kinds:
                kinds.append(kind)
    threshold = top.get("threshold", 1)
    if isinstance(threshold, bool) or not isinstance(threshold, int):
        problems.add(f"'threshold': must be an integer, not {_toml_type(threshold)}")
        threshold = 1
    elif not 1 <= threshold <= 64:
        problems.add(f"'threshold': must be between 1 and 64, not {threshold}")
    raw_keys = top.get("keys")
    entries: list[KeyEntry] = []
    if raw_keys is None:
        problems.add("'keys': missing: add at least one [[keys]] entry")
    elif not isinstance(raw_keys, list) or not raw_keys:
        problems.add("'keys': must be one or more [[keys]] tables")
    else:
        for index, raw in enumerate(raw_keys):
            where = f"keys[{index}]"
            entry = problems.table(raw, where, ("name", "path", "pem", "not_before", "not_after"))
            prefix = f"{where}."
            entries.append(
                KeyEntry(
                    name=problems.text(entry, "name", prefix, required=True) or "",
                    path=problems.text(entry, "path", prefix, required=False),
                    pem=problems.text(entry, "pem", prefix, required=False),
                    not_before=problems.moment(entry, "not_before", prefix),
                    not_after=problems.moment(entry, "not_after", prefix),
                )
            )
    prov = problems.table(
        top.get("provenance", {}),
        "provenance",
        ("allowed_repositories", "allowed_refs", "allowed_builders"),
    )
    provenance = ProvenanceRules(
        allowed_repositories=problems.strings(prov, "allowed_repositories", "provenance."),
        allowed_refs=problems.strings(prov, "allowed_refs", "provenance."),
        allowed_builders=problems.strings(prov, "allowed_builders", "provenance."),
    )
    gate_table = problems.table(
        top.get("gate", {}), "gate", ("max_age", "require_passed", "allowed_policies")
    )
    require_passed = gate_table.get("require_passed", True)
    if not isinstance(require_passed, bool):
        problems.add(
            f"'gate.require_passed': must be true or false, not {_toml_type(require_passed)}"
        )
        require_passed = True
    gate = GateRules(
        max_age=problems.text(gate_table, "max_age", "gate.", required=False),
        require_passed=require_passed,
        allowed_policies=problems.strings(gate_table, "allowed_policies", "gate."),
    )
    if problems.items:
        return None, problems.items
    return (
        PolicyFile(
            required=kinds, keys=entries, threshold=threshold, provenance=provenance, gate=gate
        ),
        [],
    )


def parse_duration(text: str) -> int | None:
    """Seconds in '90s', '15m', '24h', '7d'; None when the text is not such a duration."""
    match = _DURATION.fullmatch(text)
    if match is None:
        return None
    return int(match.group(1)) * _UNITS[match.group(2)]


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a policy pattern: ``**`` anything, ``*`` / ``?`` within a path segment."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out), re.DOTALL)


@dataclass(frozen=True)
class Patterns:
    """A list of policy patterns; a value is allowed when one of them matches it whole."""

    patterns: tuple[str, ...]
    compiled: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "compiled", tuple(glob_regex(p) for p in self.patterns))

    def match(self, value: str) -> str | None:
        """The first pattern matching ``value``, or None."""
        for pattern, regex in zip(self.patterns, self.compiled, strict=True):
            if regex.fullmatch(value):
                return pattern
        return None


@dataclass(frozen=True)
class TrustedKey:
    name: str
    key: PublicKey
    not_before: datetime | None
    not_after: datetime | None

    @property
    def key_id(self) -> str:
        return self.key.key_id

    def valid_at(self, moment: datetime) -> bool:
        if self.not_before is not None and moment < self.not_before:
            return False
        return not (self.not_after is not None and moment > self.not_after)

    def window(self) -> str:
        start = _text(self.not_before) if self.not_before else "any time"
        end = _text(self.not_after) if self.not_after else "no end"
        return f"{start} .. {end}"


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class VerifyPolicy:
    """A loaded, checked policy."""

    source: str
    sha256: str  # of the policy file's bytes, so a verdict can name the policy it applied
    required: frozenset[str]
    threshold: int
    keys: tuple[TrustedKey, ...]
    repositories: Patterns
    refs: Patterns
    builders: Patterns
    gate_max_age_s: int | None = None
    gate_require_passed: bool = True
    gate_policies: frozenset[str] = frozenset()

    def public_keys(self) -> list[PublicKey]:
        return [k.key for k in self.keys]

    def trusted(self, key_id: str) -> TrustedKey | None:
        return next((k for k in self.keys if k.key_id == key_id), None)


def _moment(value: datetime | date | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time(0, 0), tzinfo=UTC)


def parse_policy(data: dict[str, Any], source: str, base: Path) -> VerifyPolicy:
    """Validate a parsed TOML mapping; ``base`` is the directory key paths are relative to."""
    doc, problems = _document(data)
    if doc is None:
        raise PolicyError(
            "invalid verification policy: " + "; ".join(problems), where=source, hint=_HINT
        )
    gate_max_age = _gate_rules(doc, source)
    keys = tuple(_trusted_key(entry, index, source, base) for index, entry in enumerate(doc.keys))
    _check_keys(keys, source)
    if doc.threshold > len(keys):
        raise PolicyError(
            f"threshold {doc.threshold} can never be met: the policy trusts {len(keys)} key(s)",
            where=source,
            hint="lower the threshold or add [[keys]]; the same key signing twice counts once",
        )
    rules = doc.provenance
    if "provenance" in doc.required:
        empty = [
            name
            for name, values in (
                ("allowed_repositories", rules.allowed_repositories),
                ("allowed_refs", rules.allowed_refs),
                ("allowed_builders", rules.allowed_builders),
            )
            if not values
        ]
        if empty:
            raise PolicyError(
                f"provenance is required but [provenance] {', '.join(empty)} is empty",
                where=source,
                hint='list what is allowed; write ["**"] to accept any value explicitly',
            )
    for ref in rules.allowed_refs:
        if not (ref.startswith("refs/") or ref.startswith("**")):
            raise PolicyError(
                f"[provenance] allowed_refs entry {ref!r} is not a full git ref",
                where=source,
                hint=f"write refs/heads/{ref} for a branch or refs/tags/{ref} for a tag",
            )
    return VerifyPolicy(
        source=source,
        sha256="",
        required=frozenset(doc.required),
        threshold=doc.threshold,
        keys=keys,
        repositories=Patterns(tuple(rules.allowed_repositories)),
        refs=Patterns(tuple(rules.allowed_refs)),
        builders=Patterns(tuple(rules.allowed_builders)),
        gate_max_age_s=gate_max_age,
        gate_require_passed=doc.gate.require_passed,
        gate_policies=frozenset(doc.gate.allowed_policies),
    )


def _gate_rules(doc: PolicyFile, source: str) -> int | None:
    """Check ``[gate]``; returns the maximum age in seconds."""
    rules = doc.gate
    max_age = None
    if rules.max_age is not None:
        max_age = parse_duration(rules.max_age)
        if max_age is None or max_age <= 0:
            raise PolicyError(
                f"[gate] max_age {rules.max_age!r} is not a duration",
                where=source,
                hint="write a number and a unit: '90m', '24h' or '7d'",
            )
    elif "gate" in doc.required:
        raise PolicyError(
            "gate is required but [gate] max_age is not set",
            where=source,
            hint="say how old a gate verdict may be, e.g. max_age = '24h'",
        )
    for digest in rules.allowed_policies:
        if not _HEX_SHA256.fullmatch(digest):
            raise PolicyError(
                f"[gate] allowed_policies entry {digest!r} is not a SHA-256 (64 lowercase hex)",
                where=source,
                hint="copy the digest 'turbosec scan --attest' prints for the policy",
            )
    return max_age


def _trusted_key(entry: KeyEntry, index: int, source: str, base: Path) -> TrustedKey:
    where = f"{source} keys[{index}] ({entry.name})"
    if (entry.path is None) == (entry.pem is None):
        raise PolicyError(
            "a key needs exactly one of 'path' and 'pem'",
            where=where,
            hint="path = \"release.pub\" (relative to the policy file) or pem = '''...'''",
        )
    try:
        if entry.path is not None:
            path = Path(entry.path).expanduser()
            if not path.is_absolute():
                path = base / path
            key = PublicKey.from_pem(read_key_file(path), source=f"{where} {path}")
        else:
            assert entry.pem is not None
            key = PublicKey.from_pem(entry.pem.encode("utf-8"), source=where)
    except KeyLoadError as exc:
        located = exc.where or where
        if not located.startswith(where):
            located = f"{where}: {located}"
        raise PolicyError(exc.message, where=located, hint=exc.hint) from exc
    not_before, not_after = _moment(entry.not_before), _moment(entry.not_after)
    if not_before and not_after and not_before >= not_after:
        raise PolicyError(
            "not_before is not earlier than not_after: the key would never be valid",
            where=where,
            hint="check the dates of the key's validity window",
        )
    return TrustedKey(name=entry.name, key=key, not_before=not_before, not_after=not_after)


def _check_keys(keys: tuple[TrustedKey, ...], source: str) -> None:
    names: dict[str, int] = {}
    ids: dict[str, str] = {}
    for key in keys:
        if key.name in names:
            raise PolicyError(
                f"two keys are named {key.name!r}", where=source, hint="give each key its own name"
            )
        names[key.name] = 1
        if key.key_id in ids:
            raise PolicyError(
                f"keys {ids[key.key_id]!r} and {key.name!r} are the same public key",
                where=source,
                hint="list each key once (a key counts once toward the threshold anyway); "
                "to rotate, add the new key with its own not_before",
            )
        ids[key.key_id] = key.name


def load_policy(path: Path) -> VerifyPolicy:
    """Read and validate a policy file."""
    source = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_POLICY_BYTES:
            raise PolicyError(
                f"policy file is {size} bytes, larger than {MAX_POLICY_BYTES}",
                where=source,
                hint="a verification policy is a few kilobytes; check the file name",
            )
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise PolicyError(
            "policy file not found", where=source, hint="pass an existing file to --policy"
        ) from exc
    except IsADirectoryError as exc:
        raise PolicyError("the policy is a directory", where=source, hint=_HINT) from exc
    except OSError as exc:
        raise PolicyError(
            f"cannot read: {exc.strerror}", where=source, hint="check the path and permissions"
        ) from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PolicyError("not UTF-8 text", where=source, hint="save the file as UTF-8") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(
            f"not valid TOML: {exc}", where=source, hint="fix the TOML syntax at that position"
        ) from exc
    return replace(parse_policy(data, source, path.parent), sha256=hashlib.sha256(raw).hexdigest())
