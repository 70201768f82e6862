"""Third-party verification: securesystemslib's DSSE implementation and ours agree.

securesystemslib (the library behind python-tuf and in-toto) verifies envelopes we sign, for
both key types, with keys built from our PEM files; and we verify envelopes it signs.
"""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization

from turbosec.integrity import dsse, keys
from turbosec.integrity.intoto import PAYLOAD_TYPE, statement_for

ssl_dsse = pytest.importorskip("securesystemslib.dsse", reason="securesystemslib is not installed")
ssl_signer = pytest.importorskip("securesystemslib.signer")
ssl_exceptions = pytest.importorskip("securesystemslib.exceptions")

SCHEMES = {keys.KeyType.ECDSA_P256: "ecdsa-sha2-nistp256", keys.KeyType.ED25519: "ed25519"}


def _ssl_public(pair: keys.SigningKey) -> object:
    """A securesystemslib key built from our public PEM, with our key id."""
    public = serialization.load_pem_public_key(pair.public.pem())
    return ssl_signer.SSlibKey.from_crypto(public, keyid=pair.key_id, scheme=SCHEMES[pair.key_type])


def _payload() -> bytes:
    return statement_for(
        [("app.whl", "ab" * 32)], "https://example.com/predicate/v1", {"ok": True}
    ).to_json()


@pytest.mark.parametrize("key_type", list(keys.KeyType))
def test_securesystemslib_verifies_our_envelopes(key_type: keys.KeyType) -> None:
    ours = keys.generate(key_type)
    # through our PEM files, as a third party would receive the key
    loaded = keys.load_signing_key(ours.private_pem(b"pw"), b"pw", source="mem")
    envelope = dsse.sign(PAYLOAD_TYPE, _payload(), [loaded])
    theirs = ssl_dsse.Envelope.from_dict(json.loads(envelope.to_json()))
    assert theirs.pae() == envelope.pae()
    accepted = theirs.verify([_ssl_public(loaded)], 1)
    assert list(accepted) == [loaded.key_id]

    # and it rejects a tampered payload (the check above can fail)
    data = json.loads(envelope.to_json())
    data["payload"] = dsse.b64encode(_payload().replace(b"true", b"false"))
    with pytest.raises(ssl_exceptions.VerificationError):
        ssl_dsse.Envelope.from_dict(data).verify([_ssl_public(loaded)], 1)


@pytest.mark.parametrize("key_type", list(keys.KeyType))
def test_we_verify_envelopes_signed_by_securesystemslib(key_type: keys.KeyType) -> None:
    ours = keys.generate(key_type)
    public = _ssl_public(ours)
    signer = ssl_signer.CryptoSigner(ours.key, public)
    theirs = ssl_dsse.Envelope(payload=_payload(), payload_type=PAYLOAD_TYPE, signatures={})
    theirs.sign(signer)
    document = json.dumps(theirs.to_dict())
    envelope = dsse.Envelope.from_json(document, source="securesystemslib")
    result = dsse.verify(envelope, [ours.public])
    assert set(result.keys) == {ours.key_id}
    assert not dsse.verify(envelope, [keys.generate(key_type).public]).keys
