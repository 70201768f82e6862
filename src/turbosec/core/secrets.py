"""Keeping secrets out of findings: redaction and salted hashes."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from turbosec.core.finding import Finding


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


def scrub(value: Any, secrets: Sequence[str]) -> Any:
    """Redact every known secret inside the strings of a nested JSON-like value."""
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, redact(secret))
        return value
    if isinstance(value, Mapping):
        return {k: scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(scrub(v, secrets) for v in value)
    return value


def scrub_finding(finding: Finding, secrets: Sequence[str]) -> Finding:
    """The finding with every known secret redacted from its texts and raw record."""
    relevant = [s for s in secrets if s]
    if not relevant:
        return finding
    loc = finding.location
    if loc is not None and loc.snippet:
        loc = replace(loc, snippet=scrub(loc.snippet, relevant))
    return replace(
        finding,
        title=scrub(finding.title, relevant),
        message=scrub(finding.message, relevant),
        fix_hint=scrub(finding.fix_hint, relevant),
        location=loc,
        raw=scrub(finding.raw, relevant),
    )
