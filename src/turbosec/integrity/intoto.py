"""in-toto Statement v1: the signed claim "this predicate is about these artifacts".

A statement names its subjects by digest (we always give ``sha256``), says what kind of
claim it makes (``predicateType``) and carries the claim (``predicate``).  It travels as the
payload of a DSSE envelope of type ``application/vnd.in-toto+json``.

Parsing is strict: a statement that is not exactly a v1 statement (another ``_type``, a
subject without a usable digest, a predicate that is not an object) is a FormatError, so the
verifier fails closed instead of guessing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from turbosec.integrity.dsse import load_json
from turbosec.integrity.errors import FormatError, SigningError

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"

_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Subject:
    name: str
    digest: Mapping[str, str]

    @property
    def sha256(self) -> str | None:
        return self.digest.get("sha256")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "digest": dict(self.digest)}


@dataclass(frozen=True)
class Statement:
    subjects: tuple[Subject, ...]
    predicate_type: str
    predicate: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "_type": STATEMENT_TYPE,
            "subject": [s.to_dict() for s in self.subjects],
            "predicateType": self.predicate_type,
            "predicate": dict(self.predicate),
        }

    def to_json(self) -> bytes:
        """The payload bytes: compact UTF-8 JSON with sorted keys."""
        return json.dumps(
            self.to_dict(), separators=(",", ":"), sort_keys=True, ensure_ascii=False
        ).encode("utf-8")

    def names_digest(self, sha256_hex: str) -> bool:
        """True when one of the subjects is the artifact with this SHA-256 digest."""
        return any(s.sha256 == sha256_hex for s in self.subjects)

    @classmethod
    def from_payload(cls, payload: bytes, *, source: str) -> Statement:
        data = load_json(payload, what="the in-toto statement", source=source)
        return cls.from_dict(data, source=source)

    @classmethod
    def from_dict(cls, data: object, *, source: str) -> Statement:
        if not isinstance(data, dict):
            raise FormatError("the in-toto statement must be a JSON object", where=source)
        kind = data.get("_type")
        if kind != STATEMENT_TYPE:
            raise FormatError(
                f"the statement's _type is {kind!r}, not {STATEMENT_TYPE!r}",
                where=source,
                hint="only in-toto Statement v1 is accepted",
            )
        unknown = sorted(set(data) - {"_type", "subject", "predicateType", "predicate"})
        if unknown:
            raise FormatError(
                f"unknown field(s) in the statement: {', '.join(unknown)}", where=source
            )
        predicate_type = data.get("predicateType")
        if not isinstance(predicate_type, str) or not predicate_type:
            raise FormatError("the statement has no predicateType", where=source)
        predicate = data.get("predicate", {})
        if not isinstance(predicate, dict):
            raise FormatError("the statement's predicate must be an object", where=source)
        raw_subjects = data.get("subject")
        if not isinstance(raw_subjects, list) or not raw_subjects:
            raise FormatError("the statement has no subject", where=source)
        subjects = tuple(_subject(s, i, source) for i, s in enumerate(raw_subjects))
        return cls(subjects=subjects, predicate_type=predicate_type, predicate=predicate)


def _subject(item: object, index: int, source: str) -> Subject:
    what = f"subject[{index}]"
    if not isinstance(item, dict):
        raise FormatError(f"{what} must be an object", where=source)
    name = item.get("name", "")
    digest = item.get("digest")
    if not isinstance(name, str):
        raise FormatError(f"{what}.name must be a string", where=source)
    if not isinstance(digest, dict) or not digest:
        raise FormatError(f"{what} has no digest", where=source)
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in digest.items()):
        raise FormatError(f"{what}.digest must map algorithm names to strings", where=source)
    sha = digest.get("sha256")
    if sha is not None and not _HEX_SHA256.fullmatch(sha):
        raise FormatError(f"{what}.digest.sha256 is not 64 lowercase hex digits", where=source)
    return Subject(name=name, digest=dict(digest))


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in chunks (artifacts can be large)."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except FileNotFoundError as exc:
        raise SigningError(
            "artifact not found", where=str(path), hint="check the path of the artifact"
        ) from exc
    except IsADirectoryError as exc:
        raise SigningError(
            "the artifact is a directory",
            where=str(path),
            hint="sign a file (archive the directory first)",
        ) from exc
    except OSError as exc:
        raise SigningError(
            f"cannot read the artifact: {exc.strerror}",
            where=str(path),
            hint="check the path and its permissions",
        ) from exc
    return digest.hexdigest()


def statement_for(
    artifacts: Sequence[tuple[str, str]], predicate_type: str, predicate: Mapping[str, Any]
) -> Statement:
    """A statement about ``(name, sha256_hex)`` artifacts."""
    return Statement(
        subjects=tuple(Subject(name=n, digest={"sha256": d}) for n, d in artifacts),
        predicate_type=predicate_type,
        predicate=predicate,
    )
