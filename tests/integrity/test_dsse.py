"""DSSE: PAE bytes against the specification's vectors, envelopes, base64, thresholds."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, utils

from turbosec.integrity import dsse, keys
from turbosec.integrity.errors import FormatError

INTOTO = "application/vnd.in-toto+json"
STATEMENT_B64 = "eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEifQ=="

# From the DSSE specification (secure-systems-lab/dsse protocol.md, "Test Vectors"):
# an ECDSA P-256 key given by its coordinates and the raw r||s signature over the PAE of
# "hello world" with type "http://example.com/HelloWorld".
SPEC_X = 46950820868899156662930047687818585632848591499744589407958293238635476079160
SPEC_Y = 5640078356564379163099075877009565129882514886557779369047442380624545832820
SPEC_SIG = (
    "A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA=="
)

# From secure-systems-lab/dsse testvectors/vectors.json: Ed25519 keys (the RFC 8032 test
# seeds), the expected PAE bytes in hex, and signatures made by the reference implementation.
SEED_A = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
SEED_B = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"
SIG_A = "2WAfaHm5jluo0w+0rk8uVkluELJYWjSmU9x7EUzx+AyteDGJ4/nqyJXfmAUVFIAoQafWm7AxBZNw5M9ixNHiCA=="
SIG_B = "c1+67/aT0yqEpwx8PsVY3MLHsj9D0CZ014/Fv/QlG59P+9CobUZ7xECJ/V3USG0Ob9CiE5LjReEZUzNF2l7eBw=="
PAE_VECTORS = [
    (  # single-signature
        INTOTO,
        STATEMENT_B64,
        "445353457631203238206170706c69636174696f6e2f766e642e696e2d746f746f2b6a736f6e2034"
        "33207b225f74797065223a2268747470733a2f2f696e2d746f746f2e696f2f53746174656d656e74"
        "2f7631227d",
    ),
    (  # url-safe-base64 payload
        INTOTO,
        "-_-_Pj8=",
        "445353457631203238206170706c69636174696f6e2f766e642e696e2d746f746f2b6a736f6e2035"
        "20fbffbf3e3f",
    ),
    (  # non-ascii-payload-type: LEN is 29 bytes, not 28 characters
        "application/vnd.exämple+json",
        STATEMENT_B64,
        "445353457631203239206170706c69636174696f6e2f766e642e6578c3a46d706c652b6a736f6e20"
        "3433207b225f74797065223a2268747470733a2f2f696e2d746f746f2e696f2f53746174656d656e"
        "742f7631227d",
    ),
    (
        INTOTO,
        "",
        "445353457631203238206170706c69636174696f6e2f766e642e696e2d746f746f2b6a736f6e203020",
    ),
    (
        "",
        STATEMENT_B64,
        "445353457631203020203433207b225f74797065223a2268747470733a2f2f696e2d746f746f2e696f2f53746174656d656e742f7631227d",
    ),
]


def _vector_key(seed: str) -> keys.PublicKey:
    private = ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed))
    return keys.PublicKey.from_object(private.public_key(), source="vector")


def test_pae_matches_the_specification_example() -> None:
    message = dsse.pae("http://example.com/HelloWorld", b"hello world")
    assert message == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    # and the specification's signature verifies over exactly these bytes
    public = ec.EllipticCurvePublicNumbers(SPEC_X, SPEC_Y, ec.SECP256R1()).public_key()
    raw = base64.b64decode(SPEC_SIG)
    der = utils.encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
    key = keys.PublicKey.from_object(public, source="spec")
    assert key.verify(der, message)
    assert not key.verify(der, dsse.pae("http://example.com/HelloWorld", b"hello world!"))


@pytest.mark.parametrize(("payload_type", "payload_b64", "expected_hex"), PAE_VECTORS)
def test_pae_matches_the_test_vectors(
    payload_type: str, payload_b64: str, expected_hex: str
) -> None:
    payload = dsse.b64decode(payload_b64, what="payload", source="vector")
    assert dsse.pae(payload_type, payload) == bytes.fromhex(expected_hex)


def test_reference_signatures_verify_and_threshold_counts_unique_keys() -> None:
    a, b = _vector_key(SEED_A), _vector_key(SEED_B)
    assert a.key_id != b.key_id
    envelope = dsse.Envelope.from_dict(
        {
            "payload": STATEMENT_B64,
            "payloadType": INTOTO,
            "signatures": [{"sig": SIG_A, "keyid": "A"}, {"sig": SIG_B, "keyid": "B"}],
        },
        source="vector",
    )
    result = dsse.verify(envelope, [a, b])
    assert set(result.keys) == {a.key_id, b.key_id} and result.meets(2)
    # one key twice (the vector "threshold-two-one-key-twice"): one unique key
    twice = dsse.Envelope.from_dict(
        {
            "payload": STATEMENT_B64,
            "payloadType": INTOTO,
            "signatures": [{"sig": SIG_A, "keyid": "A"}, {"sig": SIG_A, "keyid": "A"}],
        },
        source="vector",
    )
    assert list(dsse.verify(twice, [a, b]).keys) == [a.key_id]
    assert not dsse.verify(twice, [a, b]).meets(2)
    # without key ids, both signers are still found (the hint is only a hint)
    anonymous = dsse.Envelope.from_dict(
        {
            "payload": STATEMENT_B64,
            "payloadType": INTOTO,
            "signatures": [{"sig": SIG_B}, {"sig": SIG_A}],
        },
        source="vector",
    )
    assert dsse.verify(anonymous, [a, b]).meets(2)
    # the payload type is signed: claiming another type breaks the signature
    swapped = dsse.Envelope(
        payload_type="application/vnd.example.other+json",
        payload=envelope.payload,
        signatures=envelope.signatures[:1],
    )
    assert dsse.verify(swapped, [a, b]).keys == {}


def test_reference_url_safe_vector_verifies() -> None:
    envelope = dsse.Envelope.from_dict(
        {
            "payload": "-_-_Pj8=",
            "payloadType": INTOTO,
            "signatures": [
                {
                    "sig": "P-_KHICeR7tI6S_YyejJTRtrXhcQyQ2LYPaL8h90KjC9qN8HU_svOQ6TuDOT1HIrsGW88"
                    "6DbWNWcCmX5twLrAw==",
                    "keyid": "A",
                }
            ],
        },
        source="vector",
    )
    assert envelope.payload == bytes.fromhex("fbffbf3e3f")
    assert dsse.verify(envelope, [_vector_key(SEED_A)]).meets(1)


@pytest.mark.parametrize("key_type", list(keys.KeyType))
def test_round_trip_and_tampering(key_type: keys.KeyType) -> None:
    signer = keys.generate(key_type)
    other = keys.generate(key_type)
    envelope = dsse.sign(INTOTO, b'{"hello": "world"}', [signer])
    assert envelope.signatures[0].keyid == signer.key_id
    parsed = dsse.Envelope.from_json(envelope.to_json(), source="mem")
    assert parsed == envelope
    assert set(dsse.verify(parsed, [other.public, signer.public]).keys) == {signer.key_id}
    # wrong key
    assert dsse.verify(parsed, [other.public]).keys == {}
    # tampered payload
    data = json.loads(envelope.to_json())
    data["payload"] = base64.b64encode(b'{"hello": "World"}').decode()
    tampered = dsse.Envelope.from_dict(data, source="mem")
    result = dsse.verify(tampered, [signer.public])
    assert result.keys == {} and len(result.unverified) == 1


def test_same_key_signing_twice_or_listed_twice_counts_once() -> None:
    signer = keys.generate()
    envelope = dsse.add_signature(dsse.sign(INTOTO, b"{}", [signer]), signer)
    assert len(envelope.signatures) == 2
    result = dsse.verify(envelope, [signer.public, signer.public])
    assert len(result.keys) == 1 and result.meets(1) and not result.meets(2)
    second = keys.generate(keys.KeyType.ED25519)
    both = dsse.add_signature(envelope, second)
    assert dsse.verify(both, [signer.public, second.public]).meets(2)


@pytest.mark.parametrize("key_type", list(keys.KeyType))
def test_both_base64_alphabets_with_and_without_padding(key_type: keys.KeyType) -> None:
    signer = keys.generate(key_type)
    payload = bytes(range(256))  # exercises the characters that differ (+/ versus -_)
    envelope = dsse.sign(INTOTO, payload, [signer])
    sig = envelope.signatures[0].sig
    std = base64.b64encode(payload).decode()
    url = base64.urlsafe_b64encode(payload).decode()
    assert std != url
    for payload_text, sig_text in (
        (std, base64.b64encode(sig).decode()),
        (url, base64.urlsafe_b64encode(sig).decode()),
        (url.rstrip("="), base64.urlsafe_b64encode(sig).decode().rstrip("=")),
        (std.rstrip("="), base64.b64encode(sig).decode().rstrip("=")),
    ):
        parsed = dsse.Envelope.from_dict(
            {
                "payload": payload_text,
                "payloadType": INTOTO,
                "signatures": [{"keyid": signer.key_id, "sig": sig_text}],
            },
            source="mem",
        )
        assert parsed.payload == payload
        assert dsse.verify(parsed, [signer.public]).meets(1)


@pytest.mark.parametrize(
    "text",
    ["ab+_", "a", "ab=", "abcd=", "==", "ab c", "ab\ncd", "ab==cd", "Zm9v!"],
)
def test_bad_base64_is_rejected(text: str) -> None:
    with pytest.raises(FormatError, match="not base64"):
        dsse.b64decode(text, what="payload", source="mem")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("[]", "must be a JSON object"),
        ('{"payload": "", "payloadType": "t"}', "no 'signatures'"),
        ('{"payload": "", "payloadType": "t", "signatures": []}', "no 'signatures'"),
        ('{"payloadType": "t", "signatures": [{"sig": "AA=="}]}', "'payload'"),
        ('{"payload": "", "signatures": [{"sig": "AA=="}]}', "'payloadType'"),
        ('{"payload": "", "payloadType": "t", "signatures": [{"sig": ""}]}', "sig is missing"),
        (
            '{"payload": "", "payloadType": "t", "signatures": [{"sig": "AA==", "keyid": 3}]}',
            "keyid",
        ),
        (
            '{"payload": "", "payloadType": "t", "signatures": [{"sig": "AA=="}], "x": 1}',
            "unknown field",
        ),
        (
            '{"payload": "", "payloadType": "t", "payloadType": "u", "signatures": []}',
            "duplicate key",
        ),
        (
            '{"payload": "", "payloadType": "t", "signatures": [{"sig": "AA==", "keyid"',
            "not valid JSON",
        ),
    ],
)
def test_malformed_envelopes_are_rejected(document: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        dsse.Envelope.from_json(document, source="mem")


def test_envelope_json_is_one_line(tmp_path: Path) -> None:
    envelope = dsse.sign(INTOTO, b"{}\n{}", [keys.generate()])
    assert b"\n" not in envelope.to_json()
