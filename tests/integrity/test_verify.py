"""``turbosec sign``, ``attest provenance`` and ``verify`` end to end, with real keys and
files: the passing path, and each way verification must fail closed with its reason."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integrity.conftest import COMMIT, REPO, KeyPair, cli
from turbosec.integrity import bundle, dsse, keys
from turbosec.integrity.intoto import PAYLOAD_TYPE, file_sha256
from turbosec.integrity.policy import load_policy
from turbosec.integrity.provenance import detect_context, provenance_statement
from turbosec.integrity.verify import verify_artifact

BUILDER = "https://ci.example.com/runners/linux"


def sign(artifact: Path, pair: KeyPair, *extra: str) -> None:
    result = cli(
        "sign", str(artifact), "--key", str(pair.private), *extra,
        env={keys.ENV_PASSPHRASE: pair.passphrase},
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr


def attest(artifact: Path, pair: KeyPair, ref: str = "refs/heads/main", **flags: str) -> None:
    options = {"--source-uri": REPO, "--commit": COMMIT, "--builder-id": BUILDER, **flags}
    args = [a for item in options.items() for a in item]
    result = cli(
        "attest", "provenance", str(artifact), "--key", str(pair.private), "--ref", ref, *args,
        env={keys.ENV_PASSPHRASE: pair.passphrase},
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr


def write_policy(
    tmp_path: Path,
    pairs: list[KeyPair],
    *,
    required: str = '["signature", "provenance"]',
    threshold: int = 1,
    windows: dict[str, str] | None = None,
    refs: str = '["refs/heads/main", "refs/tags/v*"]',
) -> Path:
    text = f"required = {required}\nthreshold = {threshold}\n"
    for pair in pairs:
        name = pair.public.stem
        text += f'[[keys]]\nname = "{name}"\npath = "{pair.public.name}"\n'
        text += (windows or {}).get(name, "") + "\n"
    text += (
        "[provenance]\n"
        'allowed_repositories = ["https://github.com/acme/*"]\n'
        f"allowed_refs = {refs}\n"
        f'allowed_builders = ["{BUILDER}"]\n'
    )
    path = tmp_path / "verify.toml"
    path.write_text(text)
    return path


def verify(artifact: Path, policy: Path, *extra: str) -> tuple[int, str, str]:
    result = cli("verify", str(artifact), "--policy", str(policy), *extra)
    return result.exit_code, result.stdout, result.stderr


def failed_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("FAIL")]


@pytest.fixture
def alice(pair_factory: Callable[..., KeyPair]) -> KeyPair:
    return pair_factory("alice")


@pytest.fixture
def ci(pair_factory: Callable[..., KeyPair]) -> KeyPair:
    return pair_factory("ci", keys.KeyType.ED25519)


@pytest.fixture
def signed(tmp_path: Path, artifact: Path, alice: KeyPair, ci: KeyPair) -> Path:
    """An artifact signed by alice with provenance attested by ci, and a policy trusting both."""
    sign(artifact, alice)
    attest(artifact, ci)
    write_policy(tmp_path, [alice, ci])
    return artifact


def test_signed_and_attested_artifact_passes(tmp_path: Path, signed: Path) -> None:
    code, out, err = verify(signed, tmp_path / "verify.toml")
    assert code == 0, out + err
    assert "verification PASSED" in out
    assert failed_lines(out) == []
    assert "PASS  signature: digest matches the artifact" in out
    assert "PASS  provenance ref: refs/heads/main matches 'refs/heads/main'" in out
    assert "PASS  required signature: 1 of 1 distinct trusted key(s) needed: alice" in out
    assert "PASS  required provenance: 1 of 1 distinct trusted key(s) needed: ci" in out
    assert "time of signing is not attested" in out


def test_json_output_for_admission_controllers(tmp_path: Path, signed: Path) -> None:
    code, out, _ = verify(signed, tmp_path / "verify.toml", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["passed"] is True
    assert doc["artifact"]["sha256"] == file_sha256(signed)
    assert len(doc["policy"]["sha256"]) == 64
    assert {c["check"] for c in doc["checks"]} >= {"signature", "required provenance"}
    assert all(c["passed"] for c in doc["checks"])


def test_tampered_artifact(tmp_path: Path, signed: Path) -> None:
    signed.write_bytes(signed.read_bytes() + b"backdoor")
    code, out, _ = verify(signed, tmp_path / "verify.toml")
    assert code == 1
    assert "verification FAILED" in out
    fails = "\n".join(failed_lines(out))
    assert "the artifact changed after signing" in fails
    assert "the statement is about app-1.0.tar.gz sha256:" in fails
    assert "FAIL  required signature: 0 of 1" in fails


def test_tampered_payload(tmp_path: Path, signed: Path) -> None:
    jsonl = bundle.default_jsonl_path(signed)
    record = json.loads(jsonl.read_text())
    payload = base64.b64decode(record["payload"]).replace(b"refs/heads/main", b"refs/heads/mainx")
    record["payload"] = base64.b64encode(payload).decode()
    jsonl.write_text(json.dumps(record) + "\n")
    bundle.default_bundle_path(signed, "provenance").unlink()
    code, out, _ = verify(signed, tmp_path / "verify.toml")
    assert code == 1
    fails = failed_lines(out)
    assert any(
        "does not verify with trusted key 'ci'" in line and "the payload was altered" in line
        for line in fails
    ), out
    assert any("required provenance" in line for line in fails)


def test_signature_by_an_untrusted_key(
    tmp_path: Path,
    artifact: Path,
    alice: KeyPair,
    ci: KeyPair,
    pair_factory: Callable[..., KeyPair],
) -> None:
    mallory = pair_factory("mallory")
    sign(artifact, mallory)
    attest(artifact, mallory)
    write_policy(tmp_path, [alice, ci])
    code, out, _ = verify(artifact, tmp_path / "verify.toml")
    assert code == 1
    fails = "\n".join(failed_lines(out))
    assert f"signed by a key the policy does not trust (key id {mallory.key.key_id})" in fails
    assert "FAIL  required signature: 0 of 1" in fails


@pytest.mark.parametrize(
    ("window", "shown"),
    [
        ("not_after = 2020-01-01T00:00:00Z", "any time .. 2020-01-01T00:00:00Z"),
        ("not_before = 2999-01-01", "2999-01-01T00:00:00Z .. no end"),
    ],
)
def test_key_outside_its_validity_window(
    tmp_path: Path, signed: Path, alice: KeyPair, ci: KeyPair, window: str, shown: str
) -> None:
    policy = write_policy(tmp_path, [alice, ci], windows={"alice": window})
    code, out, _ = verify(signed, policy)
    assert code == 1
    fails = "\n".join(failed_lines(out))
    assert f"trusted key 'alice' ({alice.key.key_id[:12]}...), which is outside its" in fails
    assert f"validity window ({shown}) at verification time" in fails


def test_threshold_two_is_not_met_by_one_key_signing_twice(
    tmp_path: Path, artifact: Path, alice: KeyPair, pair_factory: Callable[..., KeyPair]
) -> None:
    bob = pair_factory("bob")
    sign(artifact, alice)
    sign(artifact, alice, "--output", str(tmp_path / f"{artifact.name}.again.sigstore.json"))
    policy = write_policy(tmp_path, [alice, bob], required='["signature"]', threshold=2)
    code, out, _ = verify(artifact, policy)
    assert code == 1
    assert "FAIL  required signature: 1 of 2 distinct trusted key(s) needed: alice" in out
    assert "the same key signing twice counts once" in out
    # a second, distinct key meets it (replacing alice's duplicate needs --force)
    again = str(tmp_path / f"{artifact.name}.again.sigstore.json")
    sign(artifact, bob, "--output", again, "--force")
    code, out, _ = verify(artifact, policy)
    assert code == 0, out
    assert "2 of 2 distinct trusted key(s) needed: alice, bob" in out


def test_threshold_counts_dsse_signatures_by_distinct_keys(
    tmp_path: Path, artifact: Path, alice: KeyPair, ci: KeyPair
) -> None:
    ctx = detect_context(
        {}, source_repository=REPO, commit=COMMIT, ref="refs/heads/main", builder_id=BUILDER
    )
    statement = provenance_statement([(artifact.name, file_sha256(artifact))], ctx)
    twice = dsse.add_signature(dsse.sign(PAYLOAD_TYPE, statement.to_json(), [alice.key]), alice.key)
    bundle.append_jsonl(bundle.default_jsonl_path(artifact), twice)
    policy = load_policy(
        write_policy(tmp_path, [alice, ci], required='["provenance"]', threshold=2)
    )
    report = verify_artifact(artifact, policy)
    assert not report.passed
    assert [c.reason for c in report.failures] == [
        "1 of 2 distinct trusted key(s) needed: alice; the same key signing twice counts once"
    ]
    both = dsse.add_signature(twice, ci.key)
    bundle.default_jsonl_path(artifact).write_bytes(both.to_json() + b"\n")
    assert verify_artifact(artifact, policy).passed


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"ref": "refs/heads/feature"}, "provenance ref: refs/heads/feature is not allowed"),
        (
            {"--source-uri": "https://github.com/evil/app"},
            "provenance source repository: https://github.com/evil/app is not allowed",
        ),
        (
            {"--builder-id": "https://laptop.example.com"},
            "provenance builder: https://laptop.example.com is not allowed",
        ),
    ],
)
def test_provenance_from_a_disallowed_place(
    tmp_path: Path,
    artifact: Path,
    alice: KeyPair,
    ci: KeyPair,
    flags: dict[str, str],
    message: str,
) -> None:
    sign(artifact, alice)
    attest(artifact, ci, **flags)
    code, out, _ = verify(artifact, write_policy(tmp_path, [alice, ci]))
    assert code == 1
    fails = "\n".join(failed_lines(out))
    assert message in fails
    assert "FAIL  required provenance: 0 of 1" in fails


def test_truncated_bundle_fails_closed(tmp_path: Path, signed: Path) -> None:
    path = bundle.default_bundle_path(signed)
    path.write_bytes(path.read_bytes()[:100])
    code, out, _ = verify(signed, tmp_path / "verify.toml")
    assert code == 1
    fails = "\n".join(failed_lines(out))
    assert "FAIL  evidence: the bundle is not valid JSON" in fails
    assert "no signature signed by a trusted key found" in fails


def test_wrong_payload_type_fails(tmp_path: Path, signed: Path, ci: KeyPair) -> None:
    other = dsse.sign("application/json", b"{}", [ci.key])
    bundle.append_jsonl(bundle.default_jsonl_path(signed), other)
    code, out, _ = verify(signed, tmp_path / "verify.toml")
    assert code == 1
    assert "payloadType 'application/json' is not 'application/vnd.in-toto+json'" in out


def test_attestation_of_another_artifact_is_a_replay(
    tmp_path: Path, signed: Path, ci: KeyPair
) -> None:
    other = tmp_path / "other.bin"
    other.write_bytes(b"another build")
    attest(other, ci)
    with bundle.default_jsonl_path(signed).open("ab") as handle:
        handle.write(bundle.default_jsonl_path(other).read_bytes())
    code, out, _ = verify(signed, tmp_path / "verify.toml")
    assert code == 1
    fails = "\n".join(failed_lines(out))
    assert f"the statement is about other.bin sha256:{file_sha256(other)}, not this" in fails
    assert "copied from another artifact" in fails


def test_missing_required_attestation(tmp_path: Path, artifact: Path, alice: KeyPair) -> None:
    sign(artifact, alice)
    code, out, _ = verify(artifact, write_policy(tmp_path, [alice]))
    assert code == 1
    assert "FAIL  required provenance: no provenance signed by a trusted key found" in out
    assert "turbosec attest provenance" in out


def test_evidence_option_restricts_the_files(tmp_path: Path, signed: Path) -> None:
    policy = tmp_path / "verify.toml"
    only_sig = str(bundle.default_bundle_path(signed))
    code, out, _ = verify(signed, policy, "--evidence", only_sig)
    assert code == 1 and "no provenance signed by a trusted key found" in out
    code, out, _ = verify(
        signed, policy, "-e", only_sig, "-e", str(bundle.default_bundle_path(signed, "provenance"))
    )
    assert code == 0, out


def test_usage_errors_exit_2(tmp_path: Path, signed: Path) -> None:
    code, _, err = verify(signed, tmp_path / "nope.toml")
    assert code == 2 and "policy file not found" in err
    code, _, err = verify(tmp_path / "missing.bin", tmp_path / "verify.toml")
    assert code == 2 and "artifact not found" in err
    code, out, err = verify(signed, tmp_path / "verify.toml", "-e", str(tmp_path / "x.json"))
    assert code == 2 and "evidence file not found" in err
    (tmp_path / "bad.toml").write_text('required = ["signature"]\nkeyz = []\n')
    code, out, err = verify(signed, tmp_path / "bad.toml", "--format", "json")
    assert code == 2
    assert json.loads(out)["passed"] is False
    assert "unknown key 'keyz'" in json.loads(out)["error"]


def test_sign_protects_a_co_signers_bundle(
    tmp_path: Path, artifact: Path, alice: KeyPair, pair_factory: Callable[..., KeyPair]
) -> None:
    bob = pair_factory("bob")
    sign(artifact, alice)
    sign(artifact, alice)  # re-signing with the same key replaces its own bundle
    result = cli(
        "sign", str(artifact), "--key", str(bob.private),
        env={keys.ENV_PASSPHRASE: bob.passphrase},
    )  # fmt: skip
    assert result.exit_code == 2
    assert "refusing to replace a co-signer's signature" in result.stderr
    assert bundle.Bundle.read(bundle.default_bundle_path(artifact)).key_hint == alice.key.key_id


def test_sign_with_key_from_environment_and_wrong_passphrase(
    tmp_path: Path, artifact: Path, alice: KeyPair
) -> None:
    env = {keys.ENV_SIGNING_KEY: alice.private.read_text(), keys.ENV_PASSPHRASE: "wrong"}
    result = cli("sign", str(artifact), env=env)
    assert result.exit_code == 2
    assert "$TURBOSEC_SIGNING_KEY: cannot decrypt the key: wrong passphrase" in result.stderr
    result = cli("sign", str(artifact), env={**env, keys.ENV_PASSPHRASE: alice.passphrase})
    assert result.exit_code == 0, result.stderr
    assert alice.key.key_id in result.stdout
    # no passphrase in the environment: asked for, once
    bundle.default_bundle_path(artifact).unlink()
    result = cli("sign", str(artifact), "--key", str(alice.private), input=alice.passphrase + "\n")
    assert result.exit_code == 0, result.stderr
    assert "Passphrase for" in result.stdout


def test_attest_without_ci_or_flags_names_what_is_missing(artifact: Path, alice: KeyPair) -> None:
    result = cli(
        "attest", "provenance", str(artifact), "--key", str(alice.private),
        env={keys.ENV_PASSPHRASE: alice.passphrase},
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--source-uri, --commit, --builder-id" in result.stderr
    assert not bundle.default_jsonl_path(artifact).exists()


def test_attest_in_github_actions_needs_no_flags(
    tmp_path: Path, artifact: Path, alice: KeyPair, ci: KeyPair
) -> None:
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/app",
        "GITHUB_SHA": COMMIT,
        "GITHUB_REF": "refs/tags/v1.0.0",
        "GITHUB_RUN_ID": "1",
        "RUNNER_ENVIRONMENT": "github-hosted",
        keys.ENV_PASSPHRASE: ci.passphrase,
    }
    result = cli("attest", "provenance", str(artifact), "--key", str(ci.private), env=env)
    assert result.exit_code == 0, result.stderr
    assert "(github-actions)" in result.stdout
    sign(artifact, alice)
    policy = write_policy(tmp_path, [alice, ci])
    policy.write_text(
        policy.read_text().replace(BUILDER, "https://github.com/actions/runner/github-hosted")
    )
    code, out, _ = verify(artifact, policy)
    assert code == 0, out
    assert "refs/tags/v1.0.0 matches 'refs/tags/v*'" in out


def test_keyless_signing_without_an_oidc_identity_says_what_is_missing(
    artifact: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Sigstore services cannot be reached from here, and there is no CI identity: what
    can be checked is that turbosec asks the real sigstore-python for an ambient identity
    and explains what to do when there is none (nothing is written)."""
    pytest.importorskip("sigstore", reason="the sigstore extra is not installed")
    for name in ("GITHUB_ACTIONS", "GITLAB_CI", "SIGSTORE_ID_TOKEN", "BUILDKITE", "CIRCLECI"):
        monkeypatch.delenv(name, raising=False)
    result = cli("sign", str(artifact), "--keyless")
    assert result.exit_code == 2
    assert "no OIDC identity in this environment" in result.stderr
    assert "id-token: write" in result.stderr
    assert not bundle.default_bundle_path(artifact).exists()
    # On GitHub Actions without the id-token permission, sigstore-python's detector fails.
    result = cli("sign", str(artifact), "--keyless", env={"GITHUB_ACTIONS": "true"})
    assert result.exit_code == 2
    assert "did not give an OIDC identity" in result.stderr


def test_keyless_and_key_are_exclusive(artifact: Path, alice: KeyPair) -> None:
    result = cli("sign", str(artifact), "--keyless", "--key", str(alice.private))
    assert result.exit_code == 2 and "exclusive" in result.stderr
    result = cli("sign", str(artifact), "--staging", "--key", str(alice.private))
    assert result.exit_code == 2 and "--staging only applies to --keyless" in result.stderr
