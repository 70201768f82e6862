"""Deploy-time verification: does this artifact carry the evidence the policy demands?

Verification is offline and fails closed.  It runs in three steps:

1. **Collect** the evidence next to the artifact (``<artifact>.sigstore.json``,
   ``<artifact>.*.sigstore.json``, ``<artifact>.intoto.jsonl``) or the files given.  A file
   that cannot be parsed is a failed check, not something skipped.
2. **Check every piece** of evidence, whether the policy requires its kind or not: a
   signature bundle must name the artifact's digest and verify with a trusted key that is
   valid now; an attestation must be an in-toto statement about this artifact, every one of
   its signatures made by such a key; a provenance must come from an allowed repository,
   ref and builder.  Evidence that fails is never ignored: a forged or replayed file next
   to the artifact is a reason to stop the deployment.
3. **Requirements** (small objects, one per required kind) count the *distinct* trusted keys
   behind the evidence that passed, against the policy's threshold.

Without a transparency log or a timestamp authority the time of signing is not attested,
so a key's validity window is compared with the time of verification.  Rotating a key out
(setting ``not_after``) therefore also retires what it signed; re-sign with the new key.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from turbosec.integrity import dsse, sbom, vsa
from turbosec.integrity.bundle import (
    BUNDLE_SUFFIX,
    JSONL_SUFFIX,
    Bundle,
    MessageSignature,
    discover,
    read_jsonl,
    read_message,
    verify_message,
)
from turbosec.integrity.errors import FormatError, SigningError
from turbosec.integrity.intoto import PAYLOAD_TYPE, Statement, file_sha256
from turbosec.integrity.policy import TrustedKey, VerifyPolicy
from turbosec.integrity.provenance import PREDICATE_TYPE, ProvenanceClaims, rfc3339

TIME_NOTE = (
    "no transparency log or timestamp: the time of signing is not attested, so each key's "
    "validity window is checked against the verification time"
)


@dataclass(frozen=True)
class Check:
    """One line of the verdict: what was checked, whether it passed, and why."""

    name: str
    passed: bool
    reason: str
    evidence: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.name,
            "passed": self.passed,
            "reason": self.reason,
            "evidence": self.evidence,
        }


@dataclass(frozen=True)
class Report:
    """The verdict for one artifact."""

    artifact: str
    sha256: str
    policy: str
    policy_sha256: str
    verified_at: datetime
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.passed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "artifact": {"path": self.artifact, "sha256": self.sha256},
            "policy": {"path": self.policy, "sha256": self.policy_sha256},
            "verifiedAt": self.verified_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "checks": [c.to_dict() for c in self.checks],
            "note": TIME_NOTE,
        }


@dataclass
class Evidence:
    """Everything found for an artifact, and what passed."""

    attestations: list[tuple[str, dsse.Envelope]] = field(default_factory=list)
    # distinct trusted keys (by key id) behind evidence that passed every check, per kind
    accepted: dict[str, dict[str, TrustedKey]] = field(default_factory=dict)
    found: dict[str, int] = field(default_factory=dict)
    # gate verdicts whose signature and subject passed: (claims, signers, source)
    gates: list[tuple[vsa.GateClaims, list[TrustedKey], str]] = field(default_factory=list)

    def accept(self, kind: str, keys: Sequence[TrustedKey]) -> None:
        bucket = self.accepted.setdefault(kind, {})
        for key in keys:
            bucket[key.key_id] = key

    def saw(self, kind: str) -> None:
        self.found[kind] = self.found.get(kind, 0) + 1


@dataclass(frozen=True)
class Context:
    artifact: Path
    sha256: str
    policy: VerifyPolicy
    now: datetime


class Requirement(Protocol):
    """A policy requirement: turns the evidence that passed into one check."""

    @property
    def kind(self) -> str: ...

    def check(self, ctx: Context, evidence: Evidence) -> Check: ...


@dataclass(frozen=True)
class Threshold:
    """At least ``count`` distinct trusted keys stand behind valid evidence of ``kind``."""

    kind: str
    count: int
    missing_hint: str

    def check(self, ctx: Context, evidence: Evidence) -> Check:
        name = f"required {self.kind}"
        keys = evidence.accepted.get(self.kind, {})
        if not evidence.found.get(self.kind):
            return Check(
                name, False, f"no {self.kind} signed by a trusted key found ({self.missing_hint})"
            )
        names = ", ".join(sorted(k.name for k in keys.values())) or "none"
        text = f"{len(keys)} of {self.count} distinct trusted key(s) needed: {names}"
        if len(keys) >= self.count:
            return Check(name, True, text)
        if keys:
            return Check(name, False, f"{text}; the same key signing twice counts once")
        return Check(name, False, f"{text}; no {self.kind} passed every check (see above)")


def requirements(policy: VerifyPolicy, artifact: Path) -> list[Requirement]:
    """The requirement objects a policy asks for, in a stable order."""
    result: list[Requirement] = []
    if "signature" in policy.required:
        result.append(
            Threshold(
                "signature",
                policy.threshold,
                f"looked for a signature bundle like {artifact.name}{BUNDLE_SUFFIX}; "
                "create one with 'turbosec sign'",
            )
        )
    if "provenance" in policy.required:
        result.append(
            Threshold(
                "provenance",
                policy.threshold,
                f"looked in {artifact.name}{JSONL_SUFFIX} and *{BUNDLE_SUFFIX} bundles; "
                "create one with 'turbosec attest provenance'",
            )
        )
    if "sbom" in policy.required:
        result.append(
            Threshold(
                "sbom",
                policy.threshold,
                f"looked in {artifact.name}{JSONL_SUFFIX} and *{BUNDLE_SUFFIX} bundles; "
                "create one with 'turbosec attest sbom'",
            )
        )
    if "gate" in policy.required:
        result.append(GateRequirement(policy.threshold))
    return result


CLOCK_SKEW_S = 300


def _age_text(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds // 60} minutes"


@dataclass(frozen=True)
class GateRequirement:
    """The newest trusted gate verdict about the artifact passed, recently, under an
    accepted policy; and enough distinct keys signed it."""

    count: int
    kind: str = "gate"

    def check(self, ctx: Context, evidence: Evidence) -> Check:
        name = "required gate"
        if not evidence.found.get("gate"):
            return Check(
                name,
                False,
                f"no gate verdict signed by a trusted key found (looked in "
                f"{ctx.artifact.name}{JSONL_SUFFIX} and *{BUNDLE_SUFFIX} bundles; "
                "create one with 'turbosec scan --attest ARTIFACT')",
            )
        if not evidence.gates:
            return Check(name, False, "no gate verdict passed every check (see above)")
        claims, _, source = max(evidence.gates, key=lambda g: g[0].time_verified)
        stamp = rfc3339(claims.time_verified)
        policy = ctx.policy
        if policy.gate_require_passed and not claims.passed:
            return Check(
                name,
                False,
                f"the newest gate verdict for this artifact ({stamp}) is {claims.result}: "
                "the security gate did not pass for exactly this artifact",
                source,
            )
        age = (ctx.now - claims.time_verified).total_seconds()
        if age < -CLOCK_SKEW_S:
            return Check(name, False, f"the gate verdict is dated in the future ({stamp})", source)
        if policy.gate_max_age_s is not None and age > policy.gate_max_age_s:
            return Check(
                name,
                False,
                f"the newest gate verdict ({stamp}) is {_age_text(age)} old, older than the "
                f"policy's max_age of {_age_text(policy.gate_max_age_s)}: scan again",
                source,
            )
        if policy.gate_policies and claims.policy_sha256 not in policy.gate_policies:
            return Check(
                name,
                False,
                f"the gate ran with policy {claims.policy_uri} sha256:{claims.policy_sha256}, "
                "which is not in [gate] allowed_policies",
                source,
            )
        same = [g for g in evidence.gates if g[0].time_verified == claims.time_verified]
        keys: dict[str, TrustedKey] = {}
        for _, signers, _ in same:
            for key in signers:
                keys[key.key_id] = key
        names = ", ".join(sorted(k.name for k in keys.values()))
        text = f"{len(keys)} of {self.count} distinct trusted key(s) needed: {names}"
        if len(keys) < self.count:
            return Check(name, False, f"{text}; the same key signing twice counts once", source)
        return Check(
            name,
            True,
            f"gate {claims.result} at {stamp} ({_age_text(max(age, 0))} ago) under policy "
            f"{claims.policy_uri} sha256:{claims.policy_sha256[:12]}...; {text}",
            source,
        )


def _key_text(key: TrustedKey) -> str:
    return f"trusted key '{key.name}' ({key.key_id[:12]}...)"


def _window_check(key: TrustedKey, ctx: Context, evidence: str, what: str) -> Check | None:
    if key.valid_at(ctx.now):
        return None
    when = ctx.now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Check(
        what,
        False,
        f"signed by {_key_text(key)}, which is outside its validity window "
        f"({key.window()}) at verification time {when}",
        evidence,
    )


def _unverified(ctx: Context, keyid: str, what: str, evidence: str, target: str) -> Check:
    hinted = ctx.policy.trusted(keyid)
    if hinted is not None:
        return Check(
            what,
            False,
            f"the signature does not verify with {_key_text(hinted)}: {target} was altered "
            "after signing, or the signature is damaged",
            evidence,
        )
    label = f"key id {keyid}" if keyid else "no key id"
    return Check(
        what,
        False,
        f"signed by a key the policy does not trust ({label}): no trusted key verifies it",
        evidence,
    )


def _check_signature(
    ctx: Context, source: str, message: MessageSignature, hint: str, evidence: Evidence
) -> list[Check]:
    what = "signature"
    evidence.saw("signature")
    if message.sha256_hex != ctx.sha256:
        return [
            Check(
                what,
                False,
                f"the bundle is for sha256:{message.sha256_hex}, not this artifact "
                f"(sha256:{ctx.sha256}): the artifact changed after signing, or this is "
                "another artifact's bundle",
                source,
            )
        ]
    ordered = sorted(ctx.policy.keys, key=lambda k: k.key_id != hint)
    content = functools.cache(lambda: read_message(ctx.artifact))
    signer = next(
        (
            k
            for k in ordered
            if verify_message(message, k.key, ctx.artifact, ctx.sha256, content=content)
        ),
        None,
    )
    if signer is None:
        return [_unverified(ctx, hint, what, source, "the artifact or its bundle")]
    expired = _window_check(signer, ctx, source, what)
    if expired is not None:
        return [expired]
    evidence.accept("signature", [signer])
    return [
        Check(
            what,
            True,
            f"digest matches the artifact and the signature verifies with {_key_text(signer)}, "
            f"valid now ({signer.window()})",
            source,
        )
    ]


def _check_attestation(
    ctx: Context, source: str, envelope: dsse.Envelope, evidence: Evidence
) -> list[Check]:
    what = "attestation"
    if envelope.payload_type != PAYLOAD_TYPE:
        evidence.saw("attestation")
        return [
            Check(
                what,
                False,
                f"payloadType {envelope.payload_type!r} is not {PAYLOAD_TYPE!r}",
                source,
            )
        ]
    result = dsse.verify(envelope, ctx.policy.public_keys())
    checks: list[Check] = []
    signers: list[TrustedKey] = []
    for sig in result.signatures:
        if sig.verified_by is None:
            checks.append(_unverified(ctx, sig.keyid, what, source, "the payload"))
            continue
        trusted = ctx.policy.trusted(sig.verified_by.key_id)
        assert trusted is not None
        expired = _window_check(trusted, ctx, source, what)
        if expired is not None:
            checks.append(expired)
        elif trusted not in signers:
            signers.append(trusted)
    if not signers:
        evidence.saw("attestation")
        return checks  # nothing trusted: the payload is not even read
    try:
        statement = Statement.from_payload(envelope.payload, source=source)
    except FormatError as exc:
        evidence.saw("attestation")
        return [*checks, Check(what, False, exc.message, source)]
    kind = _KINDS.get(statement.predicate_type, "attestation")
    evidence.saw(kind)
    names = ", ".join(_key_text(k) for k in signers)
    if not statement.names_digest(ctx.sha256):
        digests = ", ".join(f"{s.name or '?'} sha256:{s.sha256 or '-'}" for s in statement.subjects)
        return [
            *checks,
            Check(
                kind,
                False,
                f"the statement is about {digests}, not this artifact (sha256:{ctx.sha256}): "
                "the artifact changed, or the attestation was copied from another artifact",
                source,
            ),
        ]
    if kind == "gate":
        return [*checks, *_gate_checks(ctx, source, statement, signers, evidence)]
    if kind == "sbom":
        try:
            document = sbom.check_document(statement.predicate, source=source)
        except FormatError as exc:
            return [*checks, Check(kind, False, exc.message, source)]
        checks.append(
            Check(
                kind,
                True,
                f"{sbom.summary(document)} about this artifact, signed by {names}",
                source,
            )
        )
        if all(c.passed for c in checks):
            evidence.accept("sbom", signers)
        return checks
    if kind != "provenance":
        checks.append(
            Check(
                what,
                True,
                f"{statement.predicate_type} about this artifact, signed by {names}; "
                "not a kind this policy checks",
                source,
            )
        )
        return checks
    checks.append(Check(kind, True, f"provenance about this artifact signed by {names}", source))
    rule_checks = _provenance_rules(ctx, source, statement)
    checks.extend(rule_checks)
    if all(c.passed for c in checks):
        evidence.accept("provenance", signers)
    return checks


_KINDS = {
    PREDICATE_TYPE: "provenance",
    vsa.PREDICATE_TYPE: "gate",
    sbom.PREDICATE_TYPE: "sbom",
}


def _gate_checks(
    ctx: Context,
    source: str,
    statement: Statement,
    signers: list[TrustedKey],
    evidence: Evidence,
) -> list[Check]:
    names = ", ".join(_key_text(k) for k in signers)
    try:
        claims = vsa.GateClaims.from_statement(statement, source=source)
    except FormatError as exc:
        return [Check("gate", False, exc.message, source)]
    checks = [
        Check(
            "gate",
            True,
            f"gate verdict {claims.result} at {rfc3339(claims.time_verified)} about this "
            f"artifact, signed by {names}",
            source,
        )
    ]
    if claims.report_name and claims.report_sha256:
        report = ctx.artifact.parent / Path(claims.report_name).name
        if report.is_file():
            actual = file_sha256(report)
            if actual != claims.report_sha256:
                checks.append(
                    Check(
                        "gate report",
                        False,
                        f"{report.name} has sha256:{actual}, but the verdict was made on a "
                        f"report with sha256:{claims.report_sha256}: the report was altered",
                        source,
                    )
                )
                return checks
            checks.append(
                Check("gate report", True, f"{report.name} matches the verdict's digest", source)
            )
    evidence.gates.append((claims, signers, source))
    evidence.accept("gate", signers)
    return checks


def _provenance_rules(ctx: Context, source: str, statement: Statement) -> list[Check]:
    try:
        claims = ProvenanceClaims.from_predicate(statement.predicate, source=source)
    except FormatError as exc:
        return [Check("provenance", False, exc.message, source)]
    policy = ctx.policy
    checks = []
    for label, value, patterns in (
        ("source repository", claims.source_repository, policy.repositories),
        ("ref", claims.ref, policy.refs),
        ("builder", claims.builder_id, policy.builders),
    ):
        name = f"provenance {label}"
        if value is None:
            checks.append(Check(name, False, f"the provenance names no {label}", source))
            continue
        matched = patterns.match(value)
        if matched is None:
            allowed = ", ".join(patterns.patterns) or "nothing"
            checks.append(
                Check(name, False, f"{value} is not allowed (allowed: {allowed})", source)
            )
        else:
            extra = f" at commit {claims.commit}" if label == "source repository" else ""
            checks.append(Check(name, True, f"{value}{extra} matches {matched!r}", source))
    return checks


def _collect(paths: Sequence[Path]) -> tuple[Evidence, list[Check], list[tuple[str, Bundle]]]:
    evidence = Evidence()
    problems: list[Check] = []
    bundles: list[tuple[str, Bundle]] = []
    seen: dict[tuple[str, bytes, frozenset[bytes]], str] = {}

    def add_envelope(source: str, envelope: dsse.Envelope) -> None:
        identity = envelope.identity()
        if identity in seen:
            return  # the same attestation, stored both as a bundle and as a JSON line
        seen[identity] = source
        evidence.attestations.append((source, envelope))

    for path in paths:
        try:
            if path.name.endswith(JSONL_SUFFIX):
                for source, envelope in read_jsonl(path):
                    add_envelope(source, envelope)
            else:
                bundle = Bundle.read(path)
                if bundle.dsse_envelope is not None:
                    add_envelope(str(path), bundle.dsse_envelope)
                else:
                    bundles.append((str(path), bundle))
        except FormatError as exc:
            problems.append(Check("evidence", False, exc.message, exc.where or str(path)))
    return evidence, problems, bundles


def verify_artifact(
    artifact: Path,
    policy: VerifyPolicy,
    *,
    evidence_paths: Sequence[Path] | None = None,
    now: datetime | None = None,
) -> Report:
    """Verify ``artifact`` against ``policy``; the evidence is discovered unless given.

    Raises SigningError when the artifact or a named evidence file cannot be read (a usage
    problem); every problem *with* the evidence is a failed check in the report.
    """
    moment = now or datetime.now(UTC)
    sha256 = file_sha256(artifact)
    if evidence_paths is None:
        paths = discover(artifact)
    else:
        paths = list(evidence_paths)
        for path in paths:
            if not path.is_file():
                raise SigningError(
                    "evidence file not found",
                    where=str(path),
                    hint="check the --evidence path, or drop it to use the files next to "
                    "the artifact",
                )
    ctx = Context(artifact=artifact, sha256=sha256, policy=policy, now=moment)
    evidence, checks, bundles = _collect(paths)
    for source, bundle in bundles:
        assert bundle.message_signature is not None
        checks.extend(
            _check_signature(ctx, source, bundle.message_signature, bundle.key_hint, evidence)
        )
    for source, envelope in evidence.attestations:
        checks.extend(_check_attestation(ctx, source, envelope, evidence))
    checks.extend(req.check(ctx, evidence) for req in requirements(policy, artifact))
    return Report(
        artifact=str(artifact),
        sha256=sha256,
        policy=policy.source,
        policy_sha256=policy.sha256,
        verified_at=moment,
        checks=tuple(checks),
    )
