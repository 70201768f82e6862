"""The gate's verdict as a signed SLSA VSA, SBOM attestations, and what verify makes of them.

The scans here are real: ``turbosec scan`` runs bandit on a repository written by the test,
and the verdict is attested from that same run.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from google.protobuf import json_format
from in_toto_attestation.predicates.vsa.v1 import vsa_pb2
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement as ItaStatement

from tests.integrity.conftest import KeyPair, cli
from turbosec.cli.main import run
from turbosec.integrity import bundle, dsse, keys, sbom, vsa
from turbosec.integrity.intoto import Statement, file_sha256
from turbosec.integrity.policy import load_policy
from turbosec.integrity.verify import verify_artifact

VULNERABLE = "import subprocess\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n"

# Under CI the scanners are installed: a missing bandit there is a failure, not a skip.
needs_bandit = pytest.mark.skipif(
    shutil.which("bandit") is None and not os.environ.get("CI"),
    reason="bandit is not installed (turbosec[scanners])",
)


@pytest.fixture
def alice(pair_factory: Callable[..., KeyPair]) -> KeyPair:
    return pair_factory("alice")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "app.py").write_text("def add(a, b):\n    return a + b\n")
    return root


def scan_attest(
    monkeypatch: pytest.MonkeyPatch, repo: Path, artifact: Path, pair: KeyPair, *extra: str
) -> int:
    monkeypatch.setenv(keys.ENV_PASSPHRASE, pair.passphrase)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv(keys.ENV_SIGNING_KEY, raising=False)
    return run(
        ["scan", str(repo), "--scanner", "bandit", "--no-cache", "--no-baseline",
         "--attest", str(artifact), "--attest-key", str(pair.private), *extra]
    )  # fmt: skip


def write_policy(tmp_path: Path, pairs: list[KeyPair], gate: str = 'max_age = "1h"') -> Path:
    text = 'required = ["gate"]\n'
    for pair in pairs:
        text += f'[[keys]]\nname = "{pair.public.stem}"\npath = "{pair.public.name}"\n'
    text += f"[gate]\n{gate}\n"
    path = tmp_path / "verify.toml"
    path.write_text(text)
    return path


def gate_statement_of(artifact: Path) -> tuple[Statement, dict[str, object]]:
    made = bundle.Bundle.read(bundle.default_bundle_path(artifact, "gate"))
    assert made.dsse_envelope is not None
    payload = made.dsse_envelope.payload
    return Statement.from_payload(payload, source="test"), json.loads(payload)


def failures(report: object) -> list[str]:
    return [f"{c.name}: {c.reason}" for c in report.failures]  # type: ignore[attr-defined]


@needs_bandit
def test_scan_attest_writes_a_vsa_that_verify_accepts(
    tmp_path: Path, repo: Path, artifact: Path, alice: KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert scan_attest(monkeypatch, repo, artifact, alice) == 0
    statement, raw = gate_statement_of(artifact)
    assert statement.predicate_type == vsa.PREDICATE_TYPE
    assert statement.names_digest(file_sha256(artifact))
    predicate = statement.predicate
    assert predicate["verificationResult"] == "PASSED"
    assert predicate["verifiedLevels"] == [vsa.PASSED_LEVEL]
    assert predicate["verifier"]["id"] == vsa.VERIFIER_ID
    report_path = artifact.with_name(artifact.name + ".gate-report.json")
    report = json.loads(report_path.read_text())
    assert report["verdict"]["passed"] is True
    assert [t["name"] for t in report["tools"] if t["status"] == "ok"] == ["bandit"]
    assert predicate["inputAttestations"] == [
        {"uri": report_path.name, "digest": {"sha256": file_sha256(report_path)}}
    ]
    # The statement and predicate are what the in-toto attestation framework defines.
    parsed = json_format.Parse(json.dumps(raw), statement_pb2.Statement())
    ItaStatement.copy_from_pb(parsed).validate()
    # The framework's VSA v1 message lags the SLSA specification (authoritative) in two
    # places: verifiedLevels is one string there but an array in the specification
    # (in-toto/attestation issue #425), and verifier.version (a map of component to version
    # in the specification) is missing.  Every other field is parsed strictly by the
    # message; those two are checked against the specification's shapes.
    checked = {k: v for k, v in predicate.items() if k != "verifiedLevels"}
    checked["verifier"] = {"id": predicate["verifier"]["id"]}
    json_format.Parse(json.dumps(checked), vsa_pb2.VerificationSummary())
    assert isinstance(predicate["verifiedLevels"], list)
    assert all(isinstance(v, str) for v in predicate["verifier"]["version"].values())
    # The JSON lines file holds the same envelope.
    lines = bundle.default_jsonl_path(artifact).read_text().splitlines()
    assert len(lines) == 1

    result = cli("verify", str(artifact), "--policy", str(write_policy(tmp_path, [alice])))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "PASS  required gate: gate PASSED" in result.stdout
    assert "PASS  gate report:" in result.stdout


@needs_bandit
def test_failed_gate_is_attested_failed_and_rejected(
    tmp_path: Path, repo: Path, artifact: Path, alice: KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / "tasks.py").write_text(VULNERABLE)
    assert scan_attest(monkeypatch, repo, artifact, alice, "--fail-on", "high") == 1
    statement, _ = gate_statement_of(artifact)
    assert statement.predicate["verificationResult"] == "FAILED"
    assert statement.predicate["verifiedLevels"] == ["FAILED"]
    report = load_policy(write_policy(tmp_path, [alice]))
    verdict = verify_artifact(artifact, report)
    assert not verdict.passed
    assert any(
        "required gate" in f and "is FAILED: the security gate did not pass" in f
        for f in failures(verdict)
    ), failures(verdict)


@needs_bandit
def test_gate_verdict_of_another_artifact_is_a_replay(
    tmp_path: Path, repo: Path, artifact: Path, alice: KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other" / artifact.name
    other.parent.mkdir()
    other.write_bytes(b"a different build")
    assert scan_attest(monkeypatch, repo, other, alice) == 0
    # Copy the passing verdict of the other build next to this artifact.
    for name in (".gate.sigstore.json", ".intoto.jsonl"):
        shutil.copy(other.with_name(other.name + name), artifact.with_name(artifact.name + name))
    verdict = verify_artifact(artifact, load_policy(write_policy(tmp_path, [alice])))
    assert not verdict.passed
    text = failures(verdict)
    assert any(
        f.startswith("gate: the statement is about") and "not this artifact" in f for f in text
    )
    assert any(f.startswith("required gate: no gate verdict passed every check") for f in text)


@needs_bandit
def test_stale_verdict_tampered_report_and_unknown_policy_are_rejected(
    tmp_path: Path, repo: Path, artifact: Path, alice: KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert scan_attest(monkeypatch, repo, artifact, alice) == 0
    policy = load_policy(write_policy(tmp_path, [alice], 'max_age = "2h"'))
    later = datetime.now(UTC) + timedelta(hours=3)
    old = verify_artifact(artifact, policy, now=later)
    assert any("older than the policy's max_age of 2.0 hours" in f for f in failures(old))
    assert verify_artifact(artifact, policy, now=later - timedelta(hours=2)).passed

    other_policy = load_policy(
        write_policy(tmp_path, [alice], f'max_age = "2h"\nallowed_policies = ["{"0" * 64}"]')
    )
    assert any(
        "not in [gate] allowed_policies" in f
        for f in failures(verify_artifact(artifact, other_policy))
    )

    report = artifact.with_name(artifact.name + ".gate-report.json")
    report.write_text(report.read_text().replace('"passed": true', '"passed": false', 1))
    tampered = verify_artifact(artifact, policy)
    assert any(f.startswith("gate report:") and "was altered" in f for f in failures(tampered))


@needs_bandit
def test_gate_threshold_counts_distinct_keys(
    tmp_path: Path,
    repo: Path,
    artifact: Path,
    pair_factory: Callable[..., KeyPair],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alice, bob = pair_factory("alice"), pair_factory("bob")
    assert scan_attest(monkeypatch, repo, artifact, alice) == 0
    path = write_policy(tmp_path, [alice, bob])
    path.write_text(
        path.read_text().replace('required = ["gate"]', 'required = ["gate"]\nthreshold = 2')
    )
    verdict = verify_artifact(artifact, load_policy(path))
    assert any("1 of 2 distinct trusted key(s)" in f for f in failures(verdict))


def test_scan_attest_checks_its_key_before_scanning(
    repo: Path, artifact: Path, alice: KeyPair, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv(keys.ENV_PASSPHRASE, "wrong passphrase")
    code = run(
        ["scan", str(repo), "--no-scanners", "--attest", str(artifact),
         "--attest-key", str(alice.private)]
    )  # fmt: skip
    assert code == 2
    assert "passphrase" in capsys.readouterr().err.lower()
    assert not bundle.default_bundle_path(artifact, "gate").exists()
    assert run(["scan", str(repo), "--no-scanners", "--attest-key", str(alice.private)]) == 2


def test_attest_gate_runs_the_gate(
    tmp_path: Path, repo: Path, artifact: Path, alice: KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(keys.ENV_PASSPHRASE, alice.passphrase)
    code = run(["attest", "gate", str(artifact), str(repo), "--key", str(alice.private)])
    assert code == 0
    statement, _ = gate_statement_of(artifact)
    assert statement.predicate["verificationResult"] == "PASSED"
    assert verify_artifact(artifact, load_policy(write_policy(tmp_path, [alice]))).passed


def test_foreign_vsa_is_not_taken_for_a_gate_verdict(
    tmp_path: Path, artifact: Path, alice: KeyPair
) -> None:
    predicate = vsa.GateVerdict(
        passed=True,
        time_verified=datetime.now(UTC),
        policy_uri="p",
        policy_sha256="a" * 64,
        report_name="r.json",
        report_sha256="b" * 64,
        turbosec_version="0",
    ).predicate(artifact.name)
    predicate["verifier"] = {"id": "https://verifier.example.com"}
    statement = Statement.from_dict(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": artifact.name, "digest": {"sha256": file_sha256(artifact)}}],
            "predicateType": vsa.PREDICATE_TYPE,
            "predicate": predicate,
        },
        source="t",
    )
    envelope = dsse.sign("application/vnd.in-toto+json", statement.to_json(), [alice.key])
    bundle.append_jsonl(bundle.default_jsonl_path(artifact), envelope)
    verdict = verify_artifact(artifact, load_policy(write_policy(tmp_path, [alice])))
    assert any("not turbosec's gate" in f for f in failures(verdict))


def test_sbom_attestation_from_lockfiles_verifies(
    tmp_path: Path, artifact: Path, alice: KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("Django==4.2.1\nrequests==2.31.0\nflask>=2\n")
    saved = tmp_path / "sbom.json"
    result = cli(
        "attest", "sbom", str(artifact), "--key", str(alice.private),
        "--lockfile", str(requirements), "--save", str(saved),
        env={keys.ENV_PASSPHRASE: alice.passphrase},
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    document = json.loads(saved.read_text())
    assert document["bomFormat"] == "CycloneDX" and document["specVersion"] == "1.6"
    assert sorted(c["purl"] for c in document["components"]) == [
        "pkg:pypi/django@4.2.1",
        "pkg:pypi/requests@2.31.0",
    ]  # flask is not pinned: it is not in the SBOM
    hashes = document["metadata"]["component"]["hashes"]
    assert hashes == [{"alg": "SHA-256", "content": file_sha256(artifact)}]
    policy = tmp_path / "sbom.toml"
    policy.write_text(
        f'required = ["sbom"]\n[[keys]]\nname = "alice"\npath = "{alice.public.name}"\n'
    )
    verdict = cli("verify", str(artifact), "--policy", str(policy))
    assert verdict.exit_code == 0, verdict.stdout
    assert "CycloneDX 1.6 SBOM with 2 component(s) about this artifact" in verdict.stdout


def test_sbom_from_another_tool_is_checked(tmp_path: Path, artifact: Path, alice: KeyPair) -> None:
    spdx = tmp_path / "spdx.json"
    spdx.write_text('{"spdxVersion": "SPDX-2.3"}')
    result = cli(
        "attest", "sbom", str(artifact), "--key", str(alice.private), "--sbom", str(spdx),
        env={keys.ENV_PASSPHRASE: alice.passphrase},
    )  # fmt: skip
    assert result.exit_code == 2
    assert "bomFormat is None, not 'CycloneDX'" in result.stderr
    good = tmp_path / "bom.json"
    good.write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": []}))
    result = cli(
        "attest", "sbom", str(artifact), "--key", str(alice.private), "--sbom", str(good),
        env={keys.ENV_PASSPHRASE: alice.passphrase},
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr


def test_sbom_predicate_that_is_not_cyclonedx_fails_verification(
    tmp_path: Path, artifact: Path, alice: KeyPair
) -> None:
    statement = sbom.sbom_statement(artifact.name, file_sha256(artifact), {"bomFormat": "SPDX"})
    envelope = dsse.sign("application/vnd.in-toto+json", statement.to_json(), [alice.key])
    bundle.append_jsonl(bundle.default_jsonl_path(artifact), envelope)
    policy = tmp_path / "sbom.toml"
    policy.write_text(
        f'required = ["sbom"]\n[[keys]]\nname = "alice"\npath = "{alice.public.name}"\n'
    )
    verdict = verify_artifact(artifact, load_policy(policy))
    assert any(f.startswith("sbom: bomFormat is 'SPDX'") for f in failures(verdict))
    assert any(f.startswith("required sbom:") for f in failures(verdict))


def test_built_sbom_is_deterministic() -> None:
    packages = [sbom.Package("npm", "@scope/pkg", "1.0.0"), sbom.Package("PyPI", "Py_Yaml", "6.0")]
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    one = sbom.build_sbom(
        packages, artifact_name="a", artifact_sha256="c" * 64, timestamp=moment, tool_version="1"
    )
    two = sbom.build_sbom(
        list(reversed(packages)),
        artifact_name="a",
        artifact_sha256="c" * 64,
        timestamp=moment,
        tool_version="1",
    )
    assert one == two
    assert [c["purl"] for c in one["components"]] == [
        "pkg:npm/%40scope/pkg@1.0.0",
        "pkg:pypi/py-yaml@6.0",
    ]
