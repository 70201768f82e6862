"""Keeping secrets out of findings: redaction and salted hashes."""

from __future__ import annotations

import hashlib
import hmac
import os


def redact(secret: str) -> str:
    """A display form that lets a human recognise a secret without revealing it.

    Long secrets keep their first four and last two characters (``AKIA************LE``),
    short ones are masked entirely.
    """
    if len(secret) >= 12:
        return secret[:4] + "*" * (len(secret) - 6) + secret[-2:]
    return "*" * max(len(secret), 4)


def salted_hash(secret: str, salt: bytes | None = None) -> str:
    """``sha256$<salt hex>$<digest hex>``.

    Verifiable against a candidate secret, useless to a lookup table.
    """
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.sha256(salt + secret.encode("utf-8")).hexdigest()
    return f"sha256${salt.hex()}${digest}"


def matches_salted_hash(candidate: str, stored: str) -> bool:
    try:
        algo, salt_hex, digest = stored.split("$")
    except ValueError:
        return False
    if algo != "sha256":
        return False
    expected = salted_hash(candidate, bytes.fromhex(salt_hex)).split("$")[2]
    return hmac.compare_digest(expected, digest)


def redact_in(text: str, secret: str) -> str:
    """Replace every occurrence of ``secret`` in ``text`` by its redacted form."""
    if not secret:
        return text
    return text.replace(secret, redact(secret))
