"""Signing keys: generate, store, load, sign and verify.

Two key types, both standard and both understood by other verifiers: ECDSA over NIST P-256
with SHA-256 (the default: what cosign and the Sigstore clients use for self-managed keys;
signatures are DER encoded) and Ed25519.  A private key is stored as PKCS#8 PEM, encrypted
with a passphrase unless the user explicitly asks for a bare key; a public key as
SubjectPublicKeyInfo PEM.

The *key id* is ``base64(sha256(DER SubjectPublicKeyInfo))``: derived from the public key
alone, so every party computes the same id, and it is what goes into the DSSE ``keyid`` and
the Sigstore bundle's ``publicKey.hint``.  It is only a hint: verification never trusts it,
it tries the policy's keys (see :mod:`turbosec.integrity.dsse`).

In CI the private key usually comes from a secret variable rather than a file:
``TURBOSEC_SIGNING_KEY`` holds the PEM and ``TURBOSEC_KEY_PASSPHRASE`` its passphrase.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, utils

from turbosec.integrity.errors import KeyLoadError, PassphraseError, SigningError

ENV_SIGNING_KEY = "TURBOSEC_SIGNING_KEY"
ENV_PASSPHRASE = "TURBOSEC_KEY_PASSPHRASE"  # noqa: S105 (a variable name)

# A PEM key is a few hundred bytes; anything much larger is the wrong file.
MAX_KEY_BYTES = 64 * 1024

_ENCRYPTED_MARKERS = (b"-----BEGIN ENCRYPTED PRIVATE KEY-----", b"Proc-Type: 4,ENCRYPTED")

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKeyObject = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


class KeyType(StrEnum):
    ECDSA_P256 = "ecdsa-p256"
    ED25519 = "ed25519"


def key_id_of(spki_der: bytes) -> str:
    """``base64(sha256(DER SubjectPublicKeyInfo))``, standard alphabet with padding."""
    return base64.b64encode(hashlib.sha256(spki_der).digest()).decode("ascii")


@dataclass(frozen=True)
class PublicKey:
    """A public key that verifies signatures, with its type and key id."""

    key: PublicKeyObject
    key_type: KeyType
    key_id: str

    @classmethod
    def from_object(cls, key: object, *, source: str) -> PublicKey:
        key_type = _type_of_public(key, source)
        assert isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey)
        der = key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return cls(key=key, key_type=key_type, key_id=key_id_of(der))

    @classmethod
    def from_pem(cls, data: bytes, *, source: str) -> PublicKey:
        """Load a SubjectPublicKeyInfo PEM (``-----BEGIN PUBLIC KEY-----``)."""
        if b"PRIVATE KEY-----" in data:
            raise KeyLoadError(
                "this is a private key, where a public key is expected",
                where=source,
                hint="give the .pub file written by 'turbosec keys generate'; never hand a "
                "private key to a verifier",
            )
        if b"-----BEGIN PUBLIC KEY-----" not in data:
            raise KeyLoadError(
                "not a PEM public key (no '-----BEGIN PUBLIC KEY-----' line)",
                where=source,
                hint="give the .pub file written by 'turbosec keys generate' (SPKI PEM)",
            )
        try:
            key = serialization.load_pem_public_key(data)
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise KeyLoadError(
                f"the public key cannot be read: {exc}",
                where=source,
                hint="the PEM is damaged; copy the .pub file again",
            ) from exc
        return cls.from_object(key, source=source)

    def spki_der(self) -> bytes:
        return self.key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def pem(self) -> bytes:
        return self.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def verify(self, signature: bytes, data: bytes) -> bool:
        """True when ``signature`` is this key's signature over ``data``."""
        try:
            if isinstance(self.key, ec.EllipticCurvePublicKey):
                self.key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
            else:
                self.key.verify(signature, data)
        except (InvalidSignature, ValueError):
            return False
        return True

    def verify_sha256_digest(self, signature: bytes, digest: bytes) -> bool:
        """ECDSA only: verify a signature over a message given its SHA-256 digest."""
        if not isinstance(self.key, ec.EllipticCurvePublicKey):
            raise TypeError("only ECDSA keys verify from a digest; Ed25519 needs the message")
        try:
            self.key.verify(signature, digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class SigningKey:
    """A private key that signs, with its public half."""

    key: PrivateKey
    public: PublicKey

    @property
    def key_type(self) -> KeyType:
        return self.public.key_type

    @property
    def key_id(self) -> str:
        return self.public.key_id

    @classmethod
    def from_object(cls, key: object, *, source: str) -> SigningKey:
        if isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
            return cls(key=key, public=PublicKey.from_object(key.public_key(), source=source))
        raise KeyLoadError(
            f"unsupported key type ({_kind(key)}): turbosec signs with ECDSA P-256 or Ed25519",
            where=source,
            hint="generate a supported key with 'turbosec keys generate [--type ed25519]'",
        )

    def sign(self, data: bytes) -> bytes:
        """Sign ``data``: ECDSA P-256 with SHA-256 (DER), or Ed25519."""
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            return self.key.sign(data, ec.ECDSA(hashes.SHA256()))
        return self.key.sign(data)

    def sign_sha256_digest(self, digest: bytes) -> bytes:
        """ECDSA only: the signature over a message whose SHA-256 digest is ``digest``."""
        if not isinstance(self.key, ec.EllipticCurvePrivateKey):
            raise TypeError("only ECDSA keys sign a digest; Ed25519 needs the message")
        return self.key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))

    def private_pem(self, passphrase: bytes | None) -> bytes:
        """PKCS#8 PEM, encrypted with ``passphrase`` (``None``: unencrypted)."""
        encryption: serialization.KeySerializationEncryption
        if passphrase is None:
            encryption = serialization.NoEncryption()
        else:
            if not passphrase:
                raise PassphraseError("an empty passphrase does not protect a key")
            encryption = serialization.BestAvailableEncryption(passphrase)
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )


def _type_of_public(key: object, source: str) -> KeyType:
    if isinstance(key, ed25519.Ed25519PublicKey):
        return KeyType.ED25519
    if isinstance(key, ec.EllipticCurvePublicKey):
        if isinstance(key.curve, ec.SECP256R1):
            return KeyType.ECDSA_P256
        raise KeyLoadError(
            f"ECDSA key on curve {key.curve.name}: only P-256 (secp256r1) is supported",
            where=source,
            hint="generate a supported key with 'turbosec keys generate'",
        )
    raise KeyLoadError(
        f"unsupported key type ({_kind(key)}): turbosec signs with ECDSA P-256 or Ed25519",
        where=source,
        hint="generate a supported key with 'turbosec keys generate [--type ed25519]'",
    )


def _kind(key: object) -> str:
    name = type(key).__name__.removeprefix("_")
    for suffix in ("PrivateKey", "PublicKey"):
        name = name.removesuffix(suffix)
    return name or "unknown"


def generate(key_type: KeyType = KeyType.ECDSA_P256) -> SigningKey:
    """A fresh key pair of ``key_type``."""
    private: PrivateKey
    if key_type is KeyType.ED25519:
        private = ed25519.Ed25519PrivateKey.generate()
    else:
        private = ec.generate_private_key(ec.SECP256R1())
    return SigningKey.from_object(private, source="generated key")


def is_encrypted(pem: bytes) -> bool:
    """True when the PEM private key needs a passphrase."""
    return any(marker in pem for marker in _ENCRYPTED_MARKERS)


PassphraseProvider = Callable[[], bytes]


def load_signing_key(
    pem: bytes, passphrase: PassphraseProvider | bytes | None, *, source: str
) -> SigningKey:
    """Load a PEM private key; ``passphrase`` (a value or a callable) is used only when the
    key is encrypted, so a prompt is shown only when one is needed."""
    if b"-----BEGIN PUBLIC KEY-----" in pem and b"PRIVATE KEY-----" not in pem:
        raise KeyLoadError(
            "this is a public key, where the private (signing) key is expected",
            where=source,
            hint="sign with the .key file written by 'turbosec keys generate'",
        )
    if b"PRIVATE KEY-----" not in pem:
        raise KeyLoadError(
            "not a PEM private key (no '-----BEGIN ... PRIVATE KEY-----' line)",
            where=source,
            hint="give the .key file written by 'turbosec keys generate', or put its whole "
            f"PEM text in {ENV_SIGNING_KEY}",
        )
    secret: bytes | None = None
    if is_encrypted(pem):
        secret = passphrase() if callable(passphrase) else passphrase
        if not secret:
            raise PassphraseError(
                "the key is encrypted and no passphrase was given",
                where=source,
                hint=f"set {ENV_PASSPHRASE}, or run interactively to be asked for it",
            )
    try:
        key = serialization.load_pem_private_key(pem, password=secret)
    except ValueError as exc:
        if secret is not None:
            raise PassphraseError(
                "cannot decrypt the key: wrong passphrase (or the file is damaged)",
                where=source,
                hint=f"check {ENV_PASSPHRASE} or the passphrase you typed",
            ) from exc
        raise KeyLoadError(
            f"the private key cannot be read: {exc}",
            where=source,
            hint="the PEM is damaged or truncated; copy the key again",
        ) from exc
    except (TypeError, UnsupportedAlgorithm) as exc:
        raise KeyLoadError(
            f"the private key cannot be read: {exc}",
            where=source,
            hint="give a PKCS#8 PEM key written by 'turbosec keys generate'",
        ) from exc
    return SigningKey.from_object(key, source=source)


def read_key_file(path: Path) -> bytes:
    """The bytes of a key file, refusing missing, unreadable or oversized files."""
    try:
        size = path.stat().st_size
        if size > MAX_KEY_BYTES:
            raise KeyLoadError(
                f"the file is {size} bytes: too large to be a PEM key",
                where=str(path),
                hint="check the file name",
            )
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise KeyLoadError(
            "key file not found",
            where=str(path),
            hint="check the path, or create a key pair with 'turbosec keys generate'",
        ) from exc
    except OSError as exc:
        raise KeyLoadError(
            f"cannot read the key file: {exc.strerror}",
            where=str(path),
            hint="check the path and its permissions",
        ) from exc


def signing_key_pem(path: Path | None, environ: Mapping[str, str]) -> tuple[bytes, str]:
    """The PEM of the signing key and a description of where it came from.

    ``path`` when given; else the ``TURBOSEC_SIGNING_KEY`` variable (the whole PEM text;
    a value whose line breaks were flattened to ``\\n`` by a secret store is repaired).
    """
    if path is not None:
        return read_key_file(path), str(path)
    value = environ.get(ENV_SIGNING_KEY, "")
    if not value.strip():
        raise KeyLoadError(
            "no signing key: neither --key nor the environment variable was given",
            where=ENV_SIGNING_KEY,
            hint=f"pass --key PREFIX.key, or put the PEM text of the key in {ENV_SIGNING_KEY}",
        )
    if "\n" not in value.strip() and "\\n" in value:
        value = value.replace("\\n", "\n")
    data = value.encode("utf-8")
    if len(data) > MAX_KEY_BYTES:
        raise KeyLoadError("the value is too large to be a PEM key", where=ENV_SIGNING_KEY)
    return data, f"${ENV_SIGNING_KEY}"


def passphrase_from_env(environ: Mapping[str, str]) -> bytes | None:
    value = environ.get(ENV_PASSPHRASE)
    return value.encode("utf-8") if value else None


def write_key_pair(
    key: SigningKey, prefix: Path, passphrase: bytes | None, *, overwrite: bool = False
) -> tuple[Path, Path]:
    """Write ``PREFIX.key`` (mode 0600, created so that no other user can ever read it) and
    ``PREFIX.pub``.  Refuses to replace existing files unless ``overwrite``."""
    private_path = prefix.with_name(prefix.name + ".key")
    public_path = prefix.with_name(prefix.name + ".pub")
    if not overwrite:
        for path in (private_path, public_path):
            if path.exists():
                raise SigningError(
                    "file exists; refusing to replace a key",
                    where=str(path),
                    hint="choose another --out prefix, or pass --force to replace the pair",
                )
    private_pem = key.private_pem(passphrase)
    try:
        if overwrite:
            private_path.unlink(missing_ok=True)
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o600)  # whatever the umask
            os.write(fd, private_pem)
        finally:
            os.close(fd)
        public_path.write_bytes(key.public.pem())
    except OSError as exc:
        raise SigningError(
            f"cannot write the key pair: {exc.strerror}",
            where=str(exc.filename or prefix),
            hint="check that the directory exists and is writable",
        ) from exc
    return private_path, public_path
