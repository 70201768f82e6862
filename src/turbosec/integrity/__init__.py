"""Pipeline integrity: sign artifacts, attest how they were built, verify before deploying.

The public API, in the order a pipeline uses it::

    from turbosec import integrity

    key = integrity.generate(integrity.KeyType.ECDSA_P256)
    bundle = integrity.sign_artifact(key, Path("dist/app.whl"))          # messageSignature
    ctx = integrity.detect_context(os.environ)                           # CI or flags
    statement = integrity.provenance_statement([("app.whl", sha256)], ctx)
    envelope = integrity.dsse_sign(integrity.PAYLOAD_TYPE, statement.to_json(), [key])
    report = integrity.verify_artifact(Path("app.whl"), integrity.load_policy(Path("verify.toml")))

The modules: :mod:`.keys` (key pairs and key ids), :mod:`.dsse` (envelopes and PAE),
:mod:`.intoto` (statements), :mod:`.provenance` (SLSA v1 predicate), :mod:`.bundle` (Sigstore
bundles v0.3 and in-toto JSON lines), :mod:`.policy` (verify.toml), :mod:`.verify` (checks).
Formats follow the public specifications byte for byte, so other verifiers accept our
output and we accept theirs.
"""

from turbosec.integrity.bundle import (
    BUNDLE_MEDIA_TYPE,
    Bundle,
    MessageSignature,
    append_jsonl,
    default_bundle_path,
    default_jsonl_path,
    discover,
    read_jsonl,
    sign_artifact,
    write_atomic,
)
from turbosec.integrity.dsse import Envelope, Signature, pae
from turbosec.integrity.dsse import sign as dsse_sign
from turbosec.integrity.dsse import verify as dsse_verify
from turbosec.integrity.errors import (
    FormatError,
    IntegrityError,
    KeyLoadError,
    PassphraseError,
    PolicyError,
    SigningError,
)
from turbosec.integrity.intoto import PAYLOAD_TYPE, Statement, Subject, file_sha256
from turbosec.integrity.keys import (
    ENV_PASSPHRASE,
    ENV_SIGNING_KEY,
    KeyType,
    PublicKey,
    SigningKey,
    generate,
    key_id_of,
    load_signing_key,
)
from turbosec.integrity.policy import TrustedKey, VerifyPolicy, load_policy
from turbosec.integrity.provenance import (
    BUILD_TYPE,
    PREDICATE_TYPE,
    BuildContext,
    ProvenanceClaims,
    detect_context,
    provenance_statement,
)
from turbosec.integrity.verify import Check, Report, verify_artifact

__all__ = [
    "BUILD_TYPE",
    "BUNDLE_MEDIA_TYPE",
    "ENV_PASSPHRASE",
    "ENV_SIGNING_KEY",
    "PAYLOAD_TYPE",
    "PREDICATE_TYPE",
    "BuildContext",
    "Bundle",
    "Check",
    "Envelope",
    "FormatError",
    "IntegrityError",
    "KeyLoadError",
    "KeyType",
    "MessageSignature",
    "PassphraseError",
    "PolicyError",
    "ProvenanceClaims",
    "PublicKey",
    "Report",
    "Signature",
    "SigningError",
    "SigningKey",
    "Statement",
    "Subject",
    "TrustedKey",
    "VerifyPolicy",
    "append_jsonl",
    "default_bundle_path",
    "default_jsonl_path",
    "detect_context",
    "discover",
    "dsse_sign",
    "dsse_verify",
    "file_sha256",
    "generate",
    "key_id_of",
    "load_policy",
    "load_signing_key",
    "pae",
    "provenance_statement",
    "read_jsonl",
    "sign_artifact",
    "verify_artifact",
    "write_atomic",
]
