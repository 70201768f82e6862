"""Interoperability with sigstore-js: ``@sigstore/verify`` accepts turbosec's bundles.

The npm packages (pinned in sigstore_js/package-lock.json) are installed by ``.ci/run``
into a directory outside the source tree; see the ``sigstore_js`` fixture.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from turbosec.integrity import bundle, dsse, keys
from turbosec.integrity.intoto import PAYLOAD_TYPE, statement_for

HERE = Path(__file__).parent / "sigstore_js"


@pytest.fixture(scope="module")
def sigstore_js() -> tuple[str, Path]:
    """Node.js and a directory holding the pinned npm packages.

    ``.ci/run`` installs them (``npm ci`` from sigstore_js/package-lock.json) and names the
    directory in TURBOSEC_SIGSTORE_JS; the tests themselves never touch a registry.  Under
    CI a missing installation fails the run; elsewhere the tests are skipped with the reason.
    """
    node = shutil.which("node")
    where = os.environ.get("TURBOSEC_SIGSTORE_JS")
    problem = None
    if node is None:
        problem = "Node.js is not installed: @sigstore/verify cannot run"
    elif not where:
        problem = (
            "TURBOSEC_SIGSTORE_JS is not set: run `npm ci --prefix DIR` with "
            "tests/integrity/sigstore_js/package*.json copied into DIR, then set it to DIR"
        )
    elif not (Path(where) / "node_modules" / "@sigstore" / "verify").is_dir():
        problem = f"{where} has no node_modules/@sigstore/verify: run `npm ci` there"
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    assert node is not None and where is not None
    workdir = Path(where)
    shutil.copy(HERE / "verify_bundle.js", workdir / "verify_bundle.js")
    return node, workdir


def _verify(js: tuple[str, Path], bundle_path: Path, key: Path, artifact: Path | None) -> str:
    node, workdir = js
    args = [node, str(workdir / "verify_bundle.js"), str(bundle_path), str(key)]
    if artifact is not None:
        args.append(str(artifact))
    proc = subprocess.run(
        args, cwd=workdir, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.stdout.strip(), proc.stderr
    return proc.stdout.strip()


def _public(tmp_path: Path, name: str, key: keys.SigningKey) -> Path:
    path = tmp_path / f"{name}.pub"
    path.write_bytes(key.public.pem())
    return path


def test_message_signature_bundle(
    sigstore_js: tuple[str, Path], tmp_path: Path, artifact: Path
) -> None:
    key = keys.generate(keys.KeyType.ECDSA_P256)
    path = bundle.default_bundle_path(artifact)
    bundle.write_atomic(path, bundle.sign_artifact(key, artifact).to_json())
    good, wrong = _public(tmp_path, "good", key), _public(tmp_path, "wrong", keys.generate())
    assert _verify(sigstore_js, path, good, artifact) == "OK"
    assert _verify(sigstore_js, path, wrong, artifact).startswith("REJECT")
    artifact.write_bytes(artifact.read_bytes() + b"!")
    assert _verify(sigstore_js, path, good, artifact).startswith("REJECT")


@pytest.mark.parametrize("key_type", list(keys.KeyType))
def test_dsse_bundle(sigstore_js: tuple[str, Path], tmp_path: Path, key_type: keys.KeyType) -> None:
    key = keys.generate(key_type)
    payload = statement_for([("a.bin", "ab" * 32)], "https://slsa.dev/provenance/v1", {}).to_json()
    envelope = dsse.sign(PAYLOAD_TYPE, payload, [key])
    path = tmp_path / "a.bin.provenance.sigstore.json"
    bundle.write_atomic(path, bundle.Bundle(key.key_id, dsse_envelope=envelope).to_json())
    good = _public(tmp_path, "good", key)
    assert _verify(sigstore_js, path, good, None) == "OK"
    assert _verify(sigstore_js, path, _public(tmp_path, "w", keys.generate(key_type)), None) != "OK"
    doc = json.loads(path.read_text())
    doc["dsseEnvelope"]["payload"] = base64.b64encode(payload.replace(b"a.bin", b"b.bin")).decode()
    path.write_text(json.dumps(doc))
    assert _verify(sigstore_js, path, good, None).startswith("REJECT")
