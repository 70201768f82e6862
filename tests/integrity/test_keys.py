"""Key pairs: generation, storage, the key id, and every way loading a key can go wrong."""

from __future__ import annotations

import base64
import hashlib
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.integrity.conftest import cli, make_pair
from turbosec.integrity import keys
from turbosec.integrity.errors import KeyLoadError, PassphraseError, SigningError


@pytest.mark.parametrize("key_type", ["ecdsa-p256", "ed25519"])
def test_generate_writes_encrypted_pkcs8_and_spki(tmp_path: Path, key_type: str) -> None:
    result = cli(
        "keys",
        "generate",
        "--type",
        key_type,
        "--out",
        str(tmp_path / "release"),
        env={keys.ENV_PASSPHRASE: "correct horse"},
    )
    assert result.exit_code == 0, result.stderr
    private = (tmp_path / "release.key").read_bytes()
    public = (tmp_path / "release.pub").read_bytes()
    assert private.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert public.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert stat.S_IMODE((tmp_path / "release.key").stat().st_mode) == 0o600
    # the passphrase really protects it
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(private, password=None)
    loaded = keys.load_signing_key(private, b"correct horse", source="release.key")
    assert loaded.key_type.value == key_type
    assert loaded.key_id in result.stdout


def test_key_id_is_base64_sha256_of_der_spki_computed_by_openssl(tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed: the independent key id check cannot run")
    pair = make_pair(tmp_path, "k")
    der = subprocess.run(
        [openssl, "pkey", "-pubin", "-in", str(pair.public), "-outform", "DER"],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    assert pair.key.key_id == base64.b64encode(hashlib.sha256(der).digest()).decode()
    assert keys.PublicKey.from_pem(pair.public.read_bytes(), source="k.pub").key_id == (
        pair.key.key_id
    )


def test_prompt_asks_twice_and_refuses_mismatch_then_eof(tmp_path: Path) -> None:
    ok = cli("keys", "generate", "--out", str(tmp_path / "a"), input="s3cret\ns3cret\n")
    assert ok.exit_code == 0
    assert "Repeat for confirmation" in ok.stdout
    keys.load_signing_key((tmp_path / "a.key").read_bytes(), b"s3cret", source="a.key")

    bad = cli("keys", "generate", "--out", str(tmp_path / "b"), input="one\ntwo\n")
    assert bad.exit_code == 2
    assert "no passphrase was given" in bad.stderr
    assert not (tmp_path / "b.key").exists()


def test_empty_passphrase_refused_unless_explicit_opt_out(tmp_path: Path) -> None:
    refused = cli("keys", "generate", "--out", str(tmp_path / "a"), env={keys.ENV_PASSPHRASE: ""})
    assert refused.exit_code == 2
    assert "passphrase is empty" in refused.stderr
    assert "--no-passphrase" in refused.stderr
    assert not (tmp_path / "a.key").exists()

    bare = cli("keys", "generate", "--out", str(tmp_path / "b"), "--no-passphrase")
    assert bare.exit_code == 0
    assert "NOT encrypted" in bare.stdout and "not encrypted" in bare.stderr
    assert (tmp_path / "b.key").read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE((tmp_path / "b.key").stat().st_mode) == 0o600


def test_refuses_to_replace_a_key_pair_without_force(tmp_path: Path) -> None:
    env = {keys.ENV_PASSPHRASE: "pw"}
    assert cli("keys", "generate", "--out", str(tmp_path / "k"), env=env).exit_code == 0
    first = (tmp_path / "k.pub").read_bytes()
    again = cli("keys", "generate", "--out", str(tmp_path / "k"), env=env)
    assert again.exit_code == 2 and "refusing to replace a key" in again.stderr
    assert (tmp_path / "k.pub").read_bytes() == first
    forced = cli("keys", "generate", "--out", str(tmp_path / "k"), "--force", env=env)
    assert forced.exit_code == 0
    assert (tmp_path / "k.pub").read_bytes() != first
    assert stat.S_IMODE((tmp_path / "k.key").stat().st_mode) == 0o600


def test_wrong_passphrase_is_a_clear_error(tmp_path: Path) -> None:
    pair = make_pair(tmp_path, "k")
    with pytest.raises(PassphraseError, match="wrong passphrase"):
        keys.load_signing_key(pair.private.read_bytes(), b"not it", source="k.key")
    with pytest.raises(PassphraseError, match="is encrypted and no passphrase"):
        keys.load_signing_key(pair.private.read_bytes(), None, source="k.key")


def test_passphrase_is_asked_only_for_an_encrypted_key(tmp_path: Path) -> None:
    asked: list[int] = []

    def provider() -> bytes:
        asked.append(1)
        return b"unused"

    bare = keys.generate()
    pem = bare.private_pem(None)
    assert keys.load_signing_key(pem, provider, source="x").key_id == bare.key_id
    assert asked == []


def test_corrupt_and_wrong_kind_of_pem_are_named(tmp_path: Path) -> None:
    pair = make_pair(tmp_path, "k")
    text = pair.private.read_bytes()
    lines = text.splitlines()
    truncated = b"\n".join([*lines[:3], lines[-1]]) + b"\n"
    with pytest.raises(KeyLoadError, match=r"wrong passphrase|cannot be read"):
        keys.load_signing_key(truncated, pair.passphrase.encode(), source="k.key")
    with pytest.raises(KeyLoadError, match="this is a public key"):
        keys.load_signing_key(pair.public.read_bytes(), None, source="k.pub")
    with pytest.raises(KeyLoadError, match="not a PEM private key"):
        keys.load_signing_key(b"hello", None, source="junk")
    with pytest.raises(KeyLoadError, match="this is a private key"):
        keys.PublicKey.from_pem(text, source="k.key")
    bare = keys.generate().private_pem(None)
    garbled = bare.replace(bare.splitlines()[1][:8], b"!!!!!!!!")
    with pytest.raises(KeyLoadError, match="cannot be read"):
        keys.load_signing_key(garbled, None, source="garbled")


def test_unsupported_key_types_are_refused(tmp_path: Path) -> None:
    rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(KeyLoadError, match=r"unsupported key type \(RSA\)"):
        keys.load_signing_key(rsa_pem, None, source="rsa.key")
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(KeyLoadError, match="only P-256"):
        keys.load_signing_key(
            p384.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            None,
            source="p384.key",
        )
    p384_pub = p384.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(KeyLoadError, match="only P-256"):
        keys.PublicKey.from_pem(p384_pub, source="p384.pub")


def test_signing_key_from_environment_including_flattened_newlines(tmp_path: Path) -> None:
    pair = make_pair(tmp_path, "ci")
    pem = pair.private.read_text()
    for value in (pem, pem.replace("\n", "\\n")):
        data, source = keys.signing_key_pem(None, {keys.ENV_SIGNING_KEY: value})
        assert source == "$TURBOSEC_SIGNING_KEY"
        key = keys.load_signing_key(data, pair.passphrase.encode(), source=source)
        assert key.key_id == pair.key.key_id
    with pytest.raises(KeyLoadError, match="no signing key"):
        keys.signing_key_pem(None, {})
    with pytest.raises(KeyLoadError, match="key file not found"):
        keys.signing_key_pem(tmp_path / "missing.key", {})


def test_private_pem_refuses_empty_passphrase() -> None:
    with pytest.raises(PassphraseError):
        keys.generate().private_pem(b"")


def test_write_key_pair_into_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SigningError, match="cannot write the key pair"):
        keys.write_key_pair(keys.generate(), tmp_path / "nope" / "k", b"pw")
