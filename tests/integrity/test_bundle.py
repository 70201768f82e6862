"""Sigstore bundle v0.3 and in-toto JSON lines: field names, round trips, damage."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from turbosec.integrity import bundle, dsse, keys
from turbosec.integrity.errors import FormatError, SigningError
from turbosec.integrity.intoto import PAYLOAD_TYPE


@pytest.mark.parametrize("key_type", list(keys.KeyType))
def test_message_signature_bundle_fields(artifact: Path, key_type: keys.KeyType) -> None:
    key = keys.generate(key_type)
    made = bundle.sign_artifact(key, artifact)
    doc = json.loads(made.to_json())
    assert doc["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    assert doc["verificationMaterial"] == {"publicKey": {"hint": key.key_id}, "tlogEntries": []}
    digest = base64.b64decode(doc["messageSignature"]["messageDigest"]["digest"])
    assert doc["messageSignature"]["messageDigest"]["algorithm"] == "SHA2_256"
    assert digest == hashlib.sha256(artifact.read_bytes()).digest()
    signature = base64.b64decode(doc["messageSignature"]["signature"])
    # the signature is over the artifact's bytes, verifiable without turbosec's helpers
    assert key.public.verify(signature, artifact.read_bytes())
    assert set(doc) == {"mediaType", "verificationMaterial", "messageSignature"}

    parsed = bundle.Bundle.from_dict(doc, source="mem")
    assert parsed == made
    assert bundle.verify_message(
        parsed.message_signature,  # type: ignore[arg-type]
        key.public,
        artifact,
        hashlib.sha256(artifact.read_bytes()).hexdigest(),
    )


def test_dsse_bundle_round_trip() -> None:
    key = keys.generate()
    envelope = dsse.sign(PAYLOAD_TYPE, b"{}", [key])
    made = bundle.Bundle(key_hint=key.key_id, dsse_envelope=envelope)
    doc = json.loads(made.to_json())
    assert set(doc["dsseEnvelope"]) == {"payload", "payloadType", "signatures"}
    assert bundle.Bundle.from_dict(doc, source="mem").dsse_envelope == envelope


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(mediaType="application/vnd.dev.sigstore.bundle.v0.1+json"), "v0.3"),
        (lambda d: d.pop("verificationMaterial"), "no verificationMaterial"),
        (
            lambda d: d["verificationMaterial"].update(certificate={"rawBytes": "AA=="}),
            "keyless",
        ),
        (lambda d: d["verificationMaterial"].pop("publicKey"), "no publicKey hint"),
        (lambda d: d.pop("messageSignature"), "exactly one"),
        (lambda d: d.update(dsseEnvelope={}), "exactly one"),
        (
            lambda d: d["messageSignature"]["messageDigest"].update(algorithm="SHA2_512"),
            "not SHA2_256",
        ),
        (lambda d: d["messageSignature"]["messageDigest"].update(digest="AAAA"), "not a SHA-256"),
        (lambda d: d["messageSignature"].update(signature=""), "lacks"),
    ],
)
def test_malformed_bundles_are_rejected(artifact: Path, mutate: object, message: str) -> None:
    doc = json.loads(bundle.sign_artifact(keys.generate(), artifact).to_json())
    mutate(doc)  # type: ignore[operator]
    with pytest.raises(FormatError, match=message):
        bundle.Bundle.from_dict(doc, source="mem")


def test_truncated_bundle_file(tmp_path: Path, artifact: Path) -> None:
    path = tmp_path / "x.sigstore.json"
    data = bundle.sign_artifact(keys.generate(), artifact).to_json()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match="not valid JSON"):
        bundle.Bundle.read(path)


def test_jsonl_appends_one_envelope_per_line(tmp_path: Path) -> None:
    path = tmp_path / "a.intoto.jsonl"
    key = keys.generate()
    first = dsse.sign(PAYLOAD_TYPE, b'{"n": 1}', [key])
    second = dsse.sign(PAYLOAD_TYPE, b'{"n": 2}', [key])
    bundle.append_jsonl(path, first)
    bundle.append_jsonl(path, second)
    lines = path.read_bytes().split(b"\n")
    assert len(lines) == 3 and lines[2] == b""
    assert [e for _, e in bundle.read_jsonl(path)] == [first, second]
    assert [s for s, _ in bundle.read_jsonl(path)] == [f"{path}:1", f"{path}:2"]
    # an unterminated last line written by someone else is not glued to ours
    path.write_bytes(first.to_json())
    bundle.append_jsonl(path, second)
    assert len(bundle.read_jsonl(path)) == 2
    path.write_bytes(first.to_json() + b"\n{not json\n")
    with pytest.raises(FormatError) as info:
        bundle.read_jsonl(path)
    assert info.value.where == f"{path}:2"


def test_discover_finds_the_evidence_next_to_an_artifact(tmp_path: Path) -> None:
    names = [
        "app.tgz",
        "app.tgz.sigstore.json",
        "app.tgz.alice.sigstore.json",
        "app.tgz.intoto.jsonl",
        "app.tgz.sig",
        "app.tgz2.sigstore.json",
        "other.sigstore.json",
    ]
    for name in names:
        (tmp_path / name).write_text("x")
    found = [p.name for p in bundle.discover(tmp_path / "app.tgz")]
    assert found == ["app.tgz.alice.sigstore.json", "app.tgz.intoto.jsonl", "app.tgz.sigstore.json"]


def test_signing_a_missing_artifact_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SigningError, match="artifact not found"):
        bundle.sign_artifact(keys.generate(), tmp_path / "nope")
