"""The deploy-time verification policy (``verify.toml``): whom to trust, what to require.

The file is validated with pydantic in strict mode: an unknown key is an error naming the
key, a string where a number is expected is an error, a local (zone-less) time is an error.
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
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from turbosec.integrity.errors import KeyLoadError, PolicyError
from turbosec.integrity.keys import PublicKey, read_key_file

MAX_POLICY_BYTES = 1_000_000

SUPPORTED_REQUIREMENTS = ("signature", "provenance")
RESERVED_REQUIREMENTS = ("gate", "sbom")

_HINT = "see docs/integrity.md for the keys of a verification policy"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class KeyEntry(_Strict):
    """One ``[[keys]]`` entry: a trusted public key and the window in which it is valid."""

    name: str = Field(min_length=1, description="how checks refer to this key")
    path: str | None = Field(default=None, description="SPKI PEM file, relative to the policy file")
    pem: str | None = Field(default=None, description="the SPKI PEM text inline")
    not_before: datetime | date | None = Field(
        default=None, description="not trusted before (a date means 00:00 UTC that day)"
    )
    not_after: datetime | date | None = Field(
        default=None, description="not trusted after (a date means 00:00 UTC that day)"
    )

    @field_validator("not_before", "not_after")
    @classmethod
    def _aware(cls, value: datetime | date | None) -> datetime | date | None:
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError(
                "a time without a time zone is ambiguous: add Z (UTC) or an offset, "
                "e.g. 2026-01-01T00:00:00Z"
            )
        return value


class ProvenanceRules(_Strict):
    """``[provenance]``: what a provenance must say to be accepted."""

    allowed_repositories: list[str] = Field(
        default_factory=list, description="source repository URIs (patterns)"
    )
    allowed_refs: list[str] = Field(
        default_factory=list, description="full git refs (patterns), e.g. refs/heads/main"
    )
    allowed_builders: list[str] = Field(default_factory=list, description="builder ids (patterns)")


class PolicyFile(_Strict):
    """The TOML document as written."""

    required: list[Literal["signature", "provenance", "gate", "sbom"]] = Field(
        min_length=1, description="evidence that must be present and valid"
    )
    threshold: int = Field(default=1, ge=1, le=64, description="distinct trusted keys needed")
    keys: list[KeyEntry] = Field(min_length=1, description="[[keys]] trusted public keys")
    provenance: ProvenanceRules = ProvenanceRules()


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


def _format_loc(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "(top level)"


def parse_policy(data: dict[str, Any], source: str, base: Path) -> VerifyPolicy:
    """Validate a parsed TOML mapping; ``base`` is the directory key paths are relative to."""
    try:
        doc = PolicyFile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = _format_loc(tuple(err["loc"]))
            if err["type"] == "extra_forbidden":
                problems.append(f"unknown key '{key}'")
            elif err["type"] == "literal_error" and err["loc"][:1] == ("required",):
                problems.append(
                    f"'{key}': {err['input']!r} is not a kind of evidence "
                    f"(known: {', '.join(SUPPORTED_REQUIREMENTS + RESERVED_REQUIREMENTS)})"
                )
            else:
                problems.append(f"'{key}': {err['msg']}")
        raise PolicyError(
            "invalid verification policy: " + "; ".join(problems), where=source, hint=_HINT
        ) from exc
    reserved = [r for r in doc.required if r in RESERVED_REQUIREMENTS]
    if reserved:
        raise PolicyError(
            f"required = {reserved}: not yet supported by this version of turbosec",
            where=source,
            hint="for now require 'signature' and/or 'provenance'",
        )
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
    )


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
