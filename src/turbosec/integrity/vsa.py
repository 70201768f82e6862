"""The gate's verdict as a SLSA Verification Summary Attestation (VSA v1).

``turbosec scan --attest ARTIFACT`` turns the verdict of the security gate into an in-toto
statement about the artifact, predicate type ``https://slsa.dev/verification_summary/v1``:

* ``subject``: the artifact's name and SHA-256: the verdict is about exactly this file;
* ``verifier.id``: :data:`VERIFIER_ID`, with turbosec's version;
* ``timeVerified``: when the gate decided (a deploy policy bounds its age);
* ``resourceUri``: the artifact as named in the request (``file:<name>``);
* ``policy``: the gate policy that was applied: its source (the configuration file, or
  turbosec's defaults) and the SHA-256 of the *effective* policy (canonical JSON of the
  configuration after command-line overrides);
* ``inputAttestations``: the scan report of the same run (its file name and SHA-256), so the
  findings behind the verdict can be produced and checked later;
* ``verificationResult``: ``PASSED`` or ``FAILED``; ``verifiedLevels``: ``[TURBOSEC_GATE]``
  when passed, ``[FAILED]`` otherwise (custom levels are allowed by the specification as
  long as they do not start with ``SLSA_``).

:class:`GateClaims` reads such a predicate back, strictly: a VSA from another verifier, or
one whose shape we do not know, is a FormatError rather than a half-checked verdict.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from turbosec.integrity.errors import FormatError
from turbosec.integrity.intoto import Statement, statement_for
from turbosec.integrity.provenance import rfc3339

PREDICATE_TYPE = "https://slsa.dev/verification_summary/v1"
VERIFIER_ID = "https://github.com/turbosec/turbosec/blob/main/docs/integrity.md#gate-verifier-v1"
PASSED_LEVEL = "TURBOSEC_GATE"
RESULTS = ("PASSED", "FAILED")

_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class GateVerdict:
    """What the gate decided, and on what grounds."""

    passed: bool
    time_verified: datetime
    policy_uri: str
    policy_sha256: str
    report_name: str
    report_sha256: str
    turbosec_version: str
    reasons: tuple[str, ...] = ()

    def predicate(self, artifact_name: str) -> dict[str, Any]:
        result = "PASSED" if self.passed else "FAILED"
        return {
            "verifier": {"id": VERIFIER_ID, "version": {"turbosec": self.turbosec_version}},
            "timeVerified": rfc3339(self.time_verified),
            "resourceUri": f"file:{artifact_name}",
            "policy": {"uri": self.policy_uri, "digest": {"sha256": self.policy_sha256}},
            "inputAttestations": [
                {"uri": self.report_name, "digest": {"sha256": self.report_sha256}}
            ],
            "verificationResult": result,
            "verifiedLevels": [PASSED_LEVEL] if self.passed else ["FAILED"],
        }


def gate_statement(artifact_name: str, artifact_sha256: str, verdict: GateVerdict) -> Statement:
    """The in-toto statement carrying the gate's verdict about one artifact."""
    return statement_for(
        [(artifact_name, artifact_sha256)], PREDICATE_TYPE, verdict.predicate(artifact_name)
    )


def _digest(value: object, what: str, source: str) -> str:
    if not isinstance(value, dict):
        raise FormatError(f"the gate verdict's {what} has no digest", where=source)
    sha = value.get("sha256")
    if not isinstance(sha, str) or not _HEX_SHA256.fullmatch(sha):
        raise FormatError(
            f"the gate verdict's {what} digest has no sha256 of 64 hex digits", where=source
        )
    return sha


@dataclass(frozen=True)
class GateClaims:
    """What a verification policy checks in a gate VSA."""

    result: str
    time_verified: datetime
    policy_uri: str
    policy_sha256: str
    report_name: str | None
    report_sha256: str | None
    verifier_version: str | None

    @property
    def passed(self) -> bool:
        return self.result == "PASSED"

    @classmethod
    def from_statement(cls, statement: Statement, *, source: str) -> GateClaims:
        if statement.predicate_type != PREDICATE_TYPE:
            raise FormatError(
                f"predicateType {statement.predicate_type!r} is not {PREDICATE_TYPE!r}",
                where=source,
            )
        return cls.from_predicate(statement.predicate, source=source)

    @classmethod
    def from_predicate(cls, data: Mapping[str, Any], *, source: str) -> GateClaims:
        verifier = data.get("verifier")
        if not isinstance(verifier, dict) or verifier.get("id") != VERIFIER_ID:
            found = verifier.get("id") if isinstance(verifier, dict) else None
            raise FormatError(
                f"verification summary by verifier {found!r}, not turbosec's gate",
                where=source,
                hint=f"turbosec checks gate verdicts whose verifier.id is {VERIFIER_ID}",
            )
        version = verifier.get("version")
        turbosec_version = version.get("turbosec") if isinstance(version, dict) else None
        result = data.get("verificationResult")
        if result not in RESULTS:
            raise FormatError(
                f"verificationResult {result!r} is neither PASSED nor FAILED", where=source
            )
        levels = data.get("verifiedLevels")
        if not isinstance(levels, list) or not all(isinstance(x, str) for x in levels):
            raise FormatError("verifiedLevels must be a list of strings", where=source)
        if result == "PASSED" and "FAILED" in levels:
            raise FormatError(
                "verificationResult PASSED contradicts verifiedLevels FAILED", where=source
            )
        stamp = data.get("timeVerified")
        if not isinstance(stamp, str):
            raise FormatError("the gate verdict has no timeVerified", where=source)
        try:
            moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError as exc:
            raise FormatError(f"timeVerified {stamp!r} is not a timestamp", where=source) from exc
        if moment.tzinfo is None:
            raise FormatError(f"timeVerified {stamp!r} has no time zone", where=source)
        policy = data.get("policy")
        if not isinstance(policy, dict):
            raise FormatError("the gate verdict names no policy", where=source)
        policy_uri = policy.get("uri")
        if not isinstance(policy_uri, str):
            raise FormatError("the gate verdict's policy has no uri", where=source)
        policy_sha = _digest(policy.get("digest"), "policy", source)
        inputs = data.get("inputAttestations") or []
        if not isinstance(inputs, list):
            raise FormatError("inputAttestations must be a list", where=source)
        report_name = report_sha = None
        if inputs:
            first = inputs[0]
            if not isinstance(first, dict) or not isinstance(first.get("uri"), str):
                raise FormatError("inputAttestations[0] has no uri", where=source)
            report_name = first["uri"]
            report_sha = _digest(first.get("digest"), "scan report", source)
        return cls(
            result=str(result),
            time_verified=moment,
            policy_uri=policy_uri,
            policy_sha256=policy_sha,
            report_name=report_name,
            report_sha256=report_sha,
            verifier_version=turbosec_version if isinstance(turbosec_version, str) else None,
        )
