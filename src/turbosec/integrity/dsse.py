"""DSSE: the Dead Simple Signing Envelope, byte-compatible with the specification.

A DSSE signature covers the *pre-authentication encoding* of the payload and its type::

    PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body

where ``LEN`` is the ASCII decimal byte length (no leading zeros) and ``type`` is the UTF-8
encoding of the payload type.  Binding the type into the signed bytes is what stops a
signature over one kind of document being replayed as another.

The JSON envelope is ``{"payload": b64, "payloadType": str, "signatures": [{"keyid": str,
"sig": b64}]}``.  We write the standard base64 alphabet with padding; we read either
alphabet, padded or not, as the specification requires, but never a mixture of the two.

Verification tries every trusted key for every signature (the ``keyid`` is an unauthenticated
hint: it only orders the attempts) and returns the *set* of keys that verified: the same key
signing twice, or listed twice, counts once toward a threshold.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from turbosec.integrity.errors import FormatError
from turbosec.integrity.keys import PublicKey, SigningKey

MAX_SIGNATURES = 64

_STANDARD = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_URLSAFE = re.compile(r"[A-Za-z0-9\-_]*={0,2}")


def pae(payload_type: str, payload: bytes) -> bytes:
    """The pre-authentication encoding that a DSSE signature covers."""
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(type_bytes), type_bytes, len(payload), payload)


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str, *, what: str, source: str) -> bytes:
    """Decode base64 in the standard or the URL-safe alphabet, with or without padding."""
    if _STANDARD.fullmatch(text):
        altchars = None
    elif _URLSAFE.fullmatch(text):
        altchars = b"-_"
    else:
        raise FormatError(
            f"{what} is not base64 (characters outside one base64 alphabet)",
            where=source,
            hint="the file is damaged or was edited; produce it again",
        )
    bare = text.rstrip("=")
    if len(bare) % 4 == 1 or (len(text) != len(bare) and len(text) % 4 != 0):
        raise FormatError(
            f"{what} is not base64 (wrong length or padding)",
            where=source,
            hint="the file is damaged or truncated; produce it again",
        )
    try:
        return base64.b64decode(bare + "=" * (-len(bare) % 4), altchars=altchars, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise FormatError(f"{what} is not base64: {exc}", where=source) from exc


def reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads`` hook: a repeated key could be read differently by another verifier."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def load_json(data: bytes | str, *, what: str, source: str) -> Any:
    """Parse JSON strictly (no duplicate keys, no NaN), turning errors into FormatError."""
    try:
        return json.loads(
            data, object_pairs_hook=reject_duplicate_keys, parse_constant=_reject_constant
        )
    except (ValueError, RecursionError) as exc:
        raise FormatError(
            f"{what} is not valid JSON: {exc}",
            where=source,
            hint="the file is damaged or truncated; produce it again",
        ) from exc


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


@dataclass(frozen=True)
class Signature:
    sig: bytes
    keyid: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"keyid": self.keyid, "sig": b64encode(self.sig)}


@dataclass(frozen=True)
class Envelope:
    """A DSSE envelope: a typed payload and its signatures."""

    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...]

    def pae(self) -> bytes:
        return pae(self.payload_type, self.payload)

    def to_dict(self) -> dict[str, Any]:
        return {
            "payload": b64encode(self.payload),
            "payloadType": self.payload_type,
            "signatures": [s.to_dict() for s in self.signatures],
        }

    def to_json(self) -> bytes:
        """Compact JSON on one line (an in-toto JSON-lines record)."""
        return json.dumps(self.to_dict(), separators=(",", ":")).encode("utf-8")

    def identity(self) -> tuple[str, bytes, frozenset[bytes]]:
        """What makes two envelopes the same evidence, whatever their encoding."""
        return (self.payload_type, self.payload, frozenset(s.sig for s in self.signatures))

    @classmethod
    def from_dict(cls, data: object, *, source: str) -> Envelope:
        """Validate a parsed JSON envelope; anything unexpected is a FormatError."""
        if not isinstance(data, dict):
            raise FormatError("a DSSE envelope must be a JSON object", where=source)
        unknown = sorted(set(data) - {"payload", "payloadType", "signatures"})
        if unknown:
            raise FormatError(
                f"unknown field(s) in the DSSE envelope: {', '.join(unknown)}", where=source
            )
        payload = data.get("payload")
        payload_type = data.get("payloadType")
        signatures = data.get("signatures")
        if not isinstance(payload, str):
            raise FormatError("the envelope's 'payload' is missing or not a string", where=source)
        if not isinstance(payload_type, str):
            raise FormatError(
                "the envelope's 'payloadType' is missing or not a string", where=source
            )
        if not isinstance(signatures, list) or not signatures:
            raise FormatError("the envelope has no 'signatures'", where=source)
        if len(signatures) > MAX_SIGNATURES:
            raise FormatError(
                f"the envelope has {len(signatures)} signatures (at most {MAX_SIGNATURES})",
                where=source,
            )
        parsed: list[Signature] = []
        for index, entry in enumerate(signatures):
            what = f"signatures[{index}]"
            if not isinstance(entry, dict):
                raise FormatError(f"{what} must be an object", where=source)
            extra = sorted(set(entry) - {"sig", "keyid"})
            if extra:
                raise FormatError(f"unknown field(s) in {what}: {', '.join(extra)}", where=source)
            sig = entry.get("sig")
            keyid = entry.get("keyid", "")
            if not isinstance(sig, str) or not sig:
                raise FormatError(f"{what}.sig is missing or empty", where=source)
            if not isinstance(keyid, str):
                raise FormatError(f"{what}.keyid must be a string", where=source)
            parsed.append(
                Signature(sig=b64decode(sig, what=f"{what}.sig", source=source), keyid=keyid)
            )
        return cls(
            payload_type=payload_type,
            payload=b64decode(payload, what="the payload", source=source),
            signatures=tuple(parsed),
        )

    @classmethod
    def from_json(cls, data: bytes | str, *, source: str) -> Envelope:
        return cls.from_dict(
            load_json(data, what="the DSSE envelope", source=source), source=source
        )


def sign(payload_type: str, payload: bytes, keys: Iterable[SigningKey]) -> Envelope:
    """An envelope over ``payload`` signed by each of ``keys`` (at least one)."""
    message = pae(payload_type, payload)
    signatures = tuple(Signature(sig=k.sign(message), keyid=k.key_id) for k in keys)
    if not signatures:
        raise ValueError("at least one signing key is needed")
    return Envelope(payload_type=payload_type, payload=payload, signatures=signatures)


def add_signature(envelope: Envelope, key: SigningKey) -> Envelope:
    """The same envelope with one more signature (a co-signer)."""
    signature = Signature(sig=key.sign(envelope.pae()), keyid=key.key_id)
    return Envelope(
        payload_type=envelope.payload_type,
        payload=envelope.payload,
        signatures=(*envelope.signatures, signature),
    )


@dataclass(frozen=True)
class SignatureResult:
    """What became of one signature of an envelope."""

    index: int
    keyid: str  # the unauthenticated hint written in the envelope
    verified_by: PublicKey | None  # the trusted key that verified it, if any


@dataclass(frozen=True)
class Verification:
    """The outcome of verifying an envelope against a set of trusted keys."""

    signatures: tuple[SignatureResult, ...]

    @property
    def keys(self) -> dict[str, PublicKey]:
        """The distinct keys (by key id) that verified at least one signature."""
        return {r.verified_by.key_id: r.verified_by for r in self.signatures if r.verified_by}

    @property
    def unverified(self) -> tuple[SignatureResult, ...]:
        return tuple(r for r in self.signatures if r.verified_by is None)

    def meets(self, threshold: int) -> bool:
        return len(self.keys) >= threshold


def verify(envelope: Envelope, trusted: Sequence[PublicKey]) -> Verification:
    """Check every signature against every trusted key (keys named by the hint first)."""
    message = envelope.pae()
    results: list[SignatureResult] = []
    for index, signature in enumerate(envelope.signatures):
        ordered = sorted(trusted, key=lambda k: k.key_id != signature.keyid)
        found = next((k for k in ordered if k.verify(signature.sig, message)), None)
        results.append(SignatureResult(index=index, keyid=signature.keyid, verified_by=found))
    return Verification(signatures=tuple(results))
