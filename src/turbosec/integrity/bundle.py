"""Where signatures and attestations are stored: Sigstore bundles and in-toto JSON lines.

*Sigstore bundle v0.3* (``application/vnd.dev.sigstore.bundle.v0.3+json``), the protobuf
``dev.sigstore.bundle.v1.Bundle`` in its JSON form, for a key-based signer::

    {"mediaType": "...v0.3+json",
     "verificationMaterial": {"publicKey": {"hint": "<key id>"}, "tlogEntries": []},
     "messageSignature": {"messageDigest": {"algorithm": "SHA2_256", "digest": b64},
                          "signature": b64}}

A plain artifact signature (``turbosec sign``) is a ``messageSignature``: the signature over
the artifact's bytes, next to the artifact's SHA-256.  An attestation bundle carries a
``dsseEnvelope`` instead.  The ``hint`` is the key id, unauthenticated like every hint.
There is no transparency-log entry and no timestamp: signing is offline.

*in-toto JSON lines* (``<artifact>.intoto.jsonl``): one DSSE envelope per line, a line
appended per attestation, the layout in-toto and SLSA tooling read.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from turbosec.integrity.dsse import Envelope, b64decode, b64encode, load_json
from turbosec.integrity.errors import FormatError, SigningError
from turbosec.integrity.intoto import file_sha256
from turbosec.integrity.keys import KeyType, PublicKey, SigningKey

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
# the older spelling of the same version, accepted when reading
_BUNDLE_MEDIA_TYPES = {BUNDLE_MEDIA_TYPE, "application/vnd.dev.sigstore.bundle+json;version=0.3"}
BUNDLE_SUFFIX = ".sigstore.json"
JSONL_SUFFIX = ".intoto.jsonl"

MAX_BUNDLE_BYTES = 16 * 1024 * 1024
MAX_JSONL_BYTES = 64 * 1024 * 1024
# Ed25519 signs the whole message, not a digest: the artifact is read into memory.
MAX_ED25519_MESSAGE = 1024 * 1024 * 1024


@dataclass(frozen=True)
class MessageSignature:
    digest: bytes  # raw SHA-256 of the artifact
    signature: bytes

    @property
    def sha256_hex(self) -> str:
        return self.digest.hex()


@dataclass(frozen=True)
class Bundle:
    """A Sigstore bundle with a public-key hint and exactly one content."""

    key_hint: str
    message_signature: MessageSignature | None = None
    dsse_envelope: Envelope | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "mediaType": BUNDLE_MEDIA_TYPE,
            "verificationMaterial": {"publicKey": {"hint": self.key_hint}, "tlogEntries": []},
        }
        if self.message_signature is not None:
            data["messageSignature"] = {
                "messageDigest": {
                    "algorithm": "SHA2_256",
                    "digest": b64encode(self.message_signature.digest),
                },
                "signature": b64encode(self.message_signature.signature),
            }
        elif self.dsse_envelope is not None:
            data["dsseEnvelope"] = self.dsse_envelope.to_dict()
        return data

    def to_json(self) -> bytes:
        return (json.dumps(self.to_dict(), indent=2) + "\n").encode("utf-8")

    @classmethod
    def from_dict(cls, data: object, *, source: str) -> Bundle:
        if not isinstance(data, dict):
            raise FormatError("a Sigstore bundle must be a JSON object", where=source)
        media = data.get("mediaType")
        if media not in _BUNDLE_MEDIA_TYPES:
            raise FormatError(
                f"bundle mediaType {media!r} is not {BUNDLE_MEDIA_TYPE!r}",
                where=source,
                hint="turbosec reads Sigstore bundles v0.3 signed with a key",
            )
        material = data.get("verificationMaterial")
        if not isinstance(material, dict):
            raise FormatError("the bundle has no verificationMaterial", where=source)
        if "certificate" in material or "x509CertificateChain" in material:
            raise FormatError(
                "the bundle was signed with a certificate (keyless): not supported yet",
                where=source,
                hint="turbosec verifies bundles signed with a key named in the policy",
            )
        public_key = material.get("publicKey")
        hint = public_key.get("hint", "") if isinstance(public_key, dict) else None
        if not isinstance(hint, str):
            raise FormatError(
                "the bundle's verificationMaterial has no publicKey hint", where=source
            )
        has_message = "messageSignature" in data
        has_dsse = "dsseEnvelope" in data
        if has_message == has_dsse:
            raise FormatError(
                "a bundle holds exactly one of messageSignature and dsseEnvelope", where=source
            )
        if has_dsse:
            envelope = Envelope.from_dict(data["dsseEnvelope"], source=f"{source} dsseEnvelope")
            return cls(key_hint=hint, dsse_envelope=envelope)
        return cls(key_hint=hint, message_signature=_message(data["messageSignature"], source))

    @classmethod
    def read(cls, path: Path) -> Bundle:
        data = _read_bounded(path, MAX_BUNDLE_BYTES, "bundle")
        return cls.from_dict(load_json(data, what="the bundle", source=str(path)), source=str(path))


def _message(value: object, source: str) -> MessageSignature:
    if not isinstance(value, dict):
        raise FormatError("messageSignature must be an object", where=source)
    digest = value.get("messageDigest")
    if not isinstance(digest, dict):
        raise FormatError("messageSignature has no messageDigest", where=source)
    if digest.get("algorithm") != "SHA2_256":
        raise FormatError(
            f"messageDigest algorithm {digest.get('algorithm')!r} is not SHA2_256", where=source
        )
    raw_digest, raw_sig = digest.get("digest"), value.get("signature")
    if not isinstance(raw_digest, str) or not isinstance(raw_sig, str) or not raw_sig:
        raise FormatError("messageSignature lacks its digest or signature", where=source)
    decoded = b64decode(raw_digest, what="messageDigest.digest", source=source)
    if len(decoded) != hashlib.sha256().digest_size:
        raise FormatError("messageDigest.digest is not a SHA-256 digest", where=source)
    return MessageSignature(
        digest=decoded, signature=b64decode(raw_sig, what="the signature", source=source)
    )


def _read_bounded(path: Path, limit: int, what: str) -> bytes:
    try:
        size = path.stat().st_size
        if size > limit:
            raise FormatError(
                f"the {what} is {size} bytes, more than the {limit} accepted", where=str(path)
            )
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise FormatError(f"{what} not found", where=str(path)) from exc
    except OSError as exc:
        raise FormatError(f"cannot read the {what}: {exc.strerror}", where=str(path)) from exc


def read_message(path: Path) -> bytes:
    """The artifact's bytes for an Ed25519 signature (bounded)."""
    size = path.stat().st_size
    if size > MAX_ED25519_MESSAGE:
        raise SigningError(
            f"the artifact is {size} bytes: Ed25519 signs the whole artifact in memory "
            f"(at most {MAX_ED25519_MESSAGE} bytes)",
            where=str(path),
            hint="sign large artifacts with an ECDSA P-256 key (it signs the digest)",
        )
    return path.read_bytes()


def sign_artifact(key: SigningKey, artifact: Path) -> Bundle:
    """A ``messageSignature`` bundle: ``key``'s signature over the artifact's bytes."""
    sha = bytes.fromhex(file_sha256(artifact))
    if key.key_type is KeyType.ECDSA_P256:
        signature = key.sign_sha256_digest(sha)
    else:
        signature = key.sign(read_message(artifact))
    return Bundle(key_hint=key.key_id, message_signature=MessageSignature(sha, signature))


def verify_message(
    message: MessageSignature,
    key: PublicKey,
    artifact: Path,
    artifact_sha256: str,
    content: Callable[[], bytes] | None = None,
) -> bool:
    """True when ``message`` is ``key``'s signature over the artifact (whose digest is given).

    The signature is checked against the artifact itself, never against the digest written
    in the bundle alone: the caller compares that digest separately to say which failed.
    Ed25519 needs the artifact's bytes: ``content`` supplies them (read once by a caller
    trying several keys), else the file is read.
    """
    if key.key_type is KeyType.ECDSA_P256:
        return key.verify_sha256_digest(message.signature, bytes.fromhex(artifact_sha256))
    data = content() if content is not None else read_message(artifact)
    return key.verify(message.signature, data)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a reader never sees half a file."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise SigningError(
            f"cannot write: {exc.strerror}",
            where=str(path),
            hint="check that the directory exists and is writable",
        ) from exc


def append_jsonl(path: Path, envelope: Envelope) -> None:
    """Append one envelope as one line of an in-toto JSON-lines file."""
    line = envelope.to_json() + b"\n"
    try:
        prefix = b""
        if path.exists() and path.stat().st_size:
            with path.open("rb") as handle:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":
                    prefix = b"\n"  # never glue a record onto an unterminated last line
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, prefix + line)
        finally:
            os.close(fd)
    except OSError as exc:
        raise SigningError(
            f"cannot append the attestation: {exc.strerror}",
            where=str(path),
            hint="check that the directory exists and is writable",
        ) from exc


def read_jsonl(path: Path) -> list[tuple[str, Envelope]]:
    """The envelopes of an in-toto JSON-lines file, each with its ``path:line`` source.

    Blank lines are skipped; any other line that is not an envelope is a FormatError.
    """
    data = _read_bounded(path, MAX_JSONL_BYTES, "attestations file")
    envelopes: list[tuple[str, Envelope]] = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        source = f"{path}:{number}"
        envelopes.append((source, Envelope.from_json(line, source=source)))
    return envelopes


def default_bundle_path(artifact: Path, kind: str | None = None) -> Path:
    """``<artifact>.sigstore.json`` or, for an attestation, ``<artifact>.<kind>.sigstore.json``."""
    suffix = f".{kind}{BUNDLE_SUFFIX}" if kind else BUNDLE_SUFFIX
    return artifact.with_name(artifact.name + suffix)


def default_jsonl_path(artifact: Path) -> Path:
    return artifact.with_name(artifact.name + JSONL_SUFFIX)


def discover(artifact: Path) -> list[Path]:
    """The evidence files next to an artifact: ``<artifact>.sigstore.json``,
    ``<artifact>.*.sigstore.json`` and ``<artifact>.intoto.jsonl``, sorted."""
    directory = artifact.parent
    name = artifact.name
    found: list[Path] = []
    try:
        entries = list(directory.iterdir())
    except OSError:
        return found
    for entry in entries:
        candidate = entry.name
        if not candidate.startswith(name + "."):
            continue
        rest = candidate[len(name) :]
        if rest == JSONL_SUFFIX or rest.endswith(BUNDLE_SUFFIX):
            found.append(entry)
    return sorted(found)
