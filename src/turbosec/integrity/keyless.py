"""Keyless signing with Sigstore (optional extra ``turbosec[sigstore]``).

In CI with an OIDC identity (GitHub Actions with ``permissions: id-token: write``, GitLab
with an ``id_tokens`` entry named ``SIGSTORE_ID_TOKEN``...), sigstore-python exchanges the
identity token for a short-lived certificate from Fulcio, signs, and records the signature
in Rekor; the result is a Sigstore bundle with a certificate instead of a key hint.

This path needs the public Sigstore services and a CI identity, so it cannot run offline;
turbosec's own ``verify`` checks key-based bundles and refuses certificate bundles (verify
them with a Sigstore verifier and an identity policy).  Every failure is a SigningError
that says what is missing.
"""

from __future__ import annotations

from pathlib import Path

from turbosec.integrity.errors import SigningError
from turbosec.integrity.intoto import file_sha256

EXTRA_HINT = "install the extra: pip install 'turbosec[sigstore]'"
NO_IDENTITY_HINT = (
    "keyless signing runs in CI with an OIDC identity: on GitHub Actions grant "
    "'permissions: id-token: write'; on GitLab add 'id_tokens: SIGSTORE_ID_TOKEN: "
    "{aud: sigstore}' to the job. Elsewhere sign with a key (--key)."
)


def sign_artifact_keyless(artifact: Path, *, staging: bool = False) -> bytes:
    """A Sigstore bundle (JSON bytes) for ``artifact``, signed with the ambient CI identity."""
    try:
        from sigstore.hashes import Hashed
        from sigstore.models import ClientTrustConfig
        from sigstore.oidc import IdentityError, IdentityToken, detect_credential
        from sigstore.sign import SigningContext
        from sigstore_models.common.v1 import HashAlgorithm
    except ImportError as exc:
        raise SigningError(
            f"keyless signing needs sigstore-python ({exc.name} is missing)", hint=EXTRA_HINT
        ) from exc
    digest = bytes.fromhex(file_sha256(artifact))
    try:
        raw = detect_credential()
    except IdentityError as exc:
        raise SigningError(
            f"the CI platform did not give an OIDC identity: {exc}", hint=NO_IDENTITY_HINT
        ) from exc
    if raw is None:
        raise SigningError("no OIDC identity in this environment", hint=NO_IDENTITY_HINT)
    try:
        token = IdentityToken(raw)
        config = ClientTrustConfig.staging() if staging else ClientTrustConfig.production()
        context = SigningContext.from_trust_config(config)
        hashed = Hashed(algorithm=HashAlgorithm.SHA2_256, digest=digest)
        with context.signer(token, cache=False) as signer:
            bundle = signer.sign_artifact(hashed)
    except Exception as exc:  # network, service or token problems: all mean "not signed"
        raise SigningError(
            f"keyless signing failed: {type(exc).__name__}: {exc}",
            where=str(artifact),
            hint="check the network access to the Sigstore services and the identity token",
        ) from exc
    return bundle.to_json().encode("utf-8")
