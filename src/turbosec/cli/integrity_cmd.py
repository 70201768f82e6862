"""``turbosec keys generate``, ``sign``, ``attest provenance|sbom|gate`` and ``verify``.

Thin: parse the options, call :mod:`turbosec.integrity`, render.  Secrets never come from
the command line (where they would land in shell history and process listings): the
passphrase comes from ``TURBOSEC_KEY_PASSPHRASE`` or an interactive prompt, the signing key
from ``--key FILE`` or ``TURBOSEC_SIGNING_KEY``.

Exit codes: 0 pass, 1 verification failed, 2 usage or input error.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape

from turbosec.cli.state import AppState
from turbosec.core.errors import TurbosecError, UsageError
from turbosec.integrity import bundle as bundles
from turbosec.integrity import dsse, keys
from turbosec.integrity.errors import FormatError, PassphraseError, SigningError
from turbosec.integrity.intoto import PAYLOAD_TYPE, Statement, file_sha256
from turbosec.integrity.provenance import detect_context, parse_time, provenance_statement
from turbosec.integrity.vsa import GateVerdict, gate_statement

GATE_REPORT_SUFFIX = ".gate-report.json"

EXIT_PASS = 0
EXIT_FAILED = 1
EXIT_ERROR = 2

keys_app = typer.Typer(help="Signing key pairs.", no_args_is_help=True)
attest_app = typer.Typer(
    help="Signed in-toto statements about an artifact (provenance, SBOM, gate verdict).",
    no_args_is_help=True,
)

# All four commands on one app: what the tests drive, and a model for registering them.
app = typer.Typer(
    help="Sign artifacts, attest their provenance, verify them before deploying.\n\n"
    "Exit codes: 0 pass, 1 verification failed, 2 usage or input error.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _state(ctx: typer.Context) -> AppState:
    obj = ctx.find_root().obj
    if isinstance(obj, AppState):
        return obj
    state = AppState()
    ctx.find_root().obj = state
    return state


@contextmanager
def _handled(state: AppState) -> Iterator[None]:
    """A user-caused error is one readable paragraph and exit 2, under any parent app."""
    try:
        yield
    except TurbosecError as exc:
        state.report_error(exc)
        raise typer.Exit(EXIT_ERROR) from exc


def _prompt_secret(label: str, *, confirm: bool) -> bytes:
    try:
        value: str = typer.prompt(label, hide_input=True, confirmation_prompt=confirm)
    except typer.Abort as exc:
        raise PassphraseError(
            "no passphrase was given",
            where=keys.ENV_PASSPHRASE,
            hint=f"set {keys.ENV_PASSPHRASE}, or type the passphrase when asked",
        ) from exc
    return value.encode("utf-8")


def _new_passphrase(no_passphrase: bool) -> bytes | None:
    if no_passphrase:
        return None
    if keys.ENV_PASSPHRASE in os.environ:
        value = os.environ[keys.ENV_PASSPHRASE]
        if not value:
            raise PassphraseError(
                "the passphrase is empty",
                where=keys.ENV_PASSPHRASE,
                hint="set a real passphrase, or pass --no-passphrase to write an "
                "unencrypted key on purpose",
            )
        return value.encode("utf-8")
    secret = _prompt_secret("Passphrase for the new private key", confirm=True)
    if not secret:
        raise PassphraseError(
            "an empty passphrase does not protect a key",
            hint="type a passphrase, or pass --no-passphrase to write an unencrypted key",
        )
    return secret


def _signing_key(path: Path | None) -> keys.SigningKey:
    pem, source = keys.signing_key_pem(path, os.environ)

    def passphrase() -> bytes:
        from_env = keys.passphrase_from_env(os.environ)
        if from_env is not None:
            return from_env
        return _prompt_secret(f"Passphrase for {source}", confirm=False)

    return keys.load_signing_key(pem, passphrase, source=source)


KeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--key",
        "-k",
        metavar="FILE",
        help=f"Private key (PEM). Default: the PEM text in ${keys.ENV_SIGNING_KEY}. "
        f"Passphrase: ${keys.ENV_PASSPHRASE} or a prompt.",
        dir_okay=False,
        show_default=False,
    ),
]


@keys_app.command("generate")
def keys_generate(
    ctx: typer.Context,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            metavar="PREFIX",
            help="Writes PREFIX.key (private, mode 0600) and PREFIX.pub (public).",
        ),
    ],
    key_type: Annotated[
        keys.KeyType, typer.Option("--type", "-t", help="Key algorithm.")
    ] = keys.KeyType.ECDSA_P256,
    no_passphrase: Annotated[
        bool,
        typer.Option(
            "--no-passphrase", help="Write the private key unencrypted (explicit opt-out)."
        ),
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing pair.")] = False,
) -> None:
    """Create a signing key pair. The passphrase comes from $TURBOSEC_KEY_PASSPHRASE or a
    prompt (asked twice); an empty passphrase is refused."""
    state = _state(ctx)
    with _handled(state):
        passphrase = _new_passphrase(no_passphrase)
        key = keys.generate(key_type)
        private, public = keys.write_key_pair(key, out, passphrase, overwrite=force)
    out_console = state.console()
    protection = "encrypted" if passphrase else "NOT encrypted"
    out_console.print(
        f"private key: {escape(str(private))} ({protection}, mode 0600)", soft_wrap=True
    )
    out_console.print(f"public key:  {escape(str(public))}", soft_wrap=True)
    out_console.print(f"key id:      {key.key_id}  ({key.key_type.value})", soft_wrap=True)
    if passphrase is None:
        state.console(stderr=True).print(
            "[yellow]warning:[/yellow] the private key is not encrypted: anyone who can read "
            "the file can sign as you"
        )


def _check_output(path: Path, key: keys.SigningKey, force: bool) -> None:
    """Replacing a bundle of the same key is re-signing; another key's is a co-signature."""
    if force or not path.exists():
        return
    try:
        existing = bundles.Bundle.read(path)
    except FormatError as exc:
        raise SigningError(
            "a file that is not a readable signature bundle is in the way",
            where=str(path),
            hint="remove it, choose --output, or pass --force",
        ) from exc
    if existing.message_signature is None or existing.key_hint != key.key_id:
        raise SigningError(
            "the bundle there was made by another key; refusing to replace a co-signer's signature",
            where=str(path),
            hint="write this signature elsewhere with --output ARTIFACT.NAME.sigstore.json "
            "(found by 'turbosec verify'), or pass --force",
        )


def sign(
    ctx: typer.Context,
    artifact: Annotated[
        Path, typer.Argument(help="The file to sign.", dir_okay=False, show_default=False)
    ],
    key: KeyOpt = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Bundle to write (default: ARTIFACT.sigstore.json).",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a bundle made by another key.")
    ] = False,
    keyless: Annotated[
        bool,
        typer.Option(
            "--keyless",
            help="Sign with Sigstore's keyless flow (CI OIDC identity, Fulcio, Rekor; needs "
            "turbosec[sigstore] and network access) instead of a key.",
        ),
    ] = False,
    staging: Annotated[
        bool, typer.Option("--staging", help="With --keyless: Sigstore's staging instance.")
    ] = False,
) -> None:
    """Sign an artifact: a Sigstore bundle v0.3 with a messageSignature."""
    state = _state(ctx)
    if keyless:
        with _handled(state):
            if key is not None:
                raise UsageError("--keyless and --key are exclusive", hint="choose one")
            from turbosec.integrity.keyless import sign_artifact_keyless

            target = output or bundles.default_bundle_path(artifact)
            bundles.write_atomic(target, sign_artifact_keyless(artifact, staging=staging))
        state.console().print(f"bundle: {escape(str(target))} (keyless)", soft_wrap=True)
        return
    if staging:
        with _handled(state):
            raise UsageError("--staging only applies to --keyless")
    with _handled(state):
        signing_key = _signing_key(key)
        target = output or bundles.default_bundle_path(artifact)
        _check_output(target, signing_key, force)
        made = bundles.sign_artifact(signing_key, artifact)
        bundles.write_atomic(target, made.to_json())
    assert made.message_signature is not None
    out = state.console()
    out.print(
        f"signed {escape(str(artifact))} sha256:{made.message_signature.sha256_hex}", soft_wrap=True
    )
    out.print(f"bundle: {escape(str(target))} (key id {signing_key.key_id})", soft_wrap=True)


@attest_app.command("provenance")
def attest_provenance(
    ctx: typer.Context,
    artifact: Annotated[
        Path, typer.Argument(help="The built file.", dir_okay=False, show_default=False)
    ],
    key: KeyOpt = None,
    source_uri: Annotated[
        str | None,
        typer.Option(
            "--source-uri",
            metavar="URI",
            help="Source repository (default: from the CI environment).",
            show_default=False,
        ),
    ] = None,
    commit: Annotated[
        str | None,
        typer.Option("--commit", metavar="SHA", help="Full git commit id.", show_default=False),
    ] = None,
    ref: Annotated[
        str | None,
        typer.Option(
            "--ref", metavar="REF", help="Full git ref, e.g. refs/heads/main.", show_default=False
        ),
    ] = None,
    builder_id: Annotated[
        str | None,
        typer.Option(
            "--builder-id", metavar="URI", help="Build platform id (URI).", show_default=False
        ),
    ] = None,
    invocation_id: Annotated[
        str | None,
        typer.Option(
            "--invocation-id", metavar="ID", help="This build's run id/URL.", show_default=False
        ),
    ] = None,
    started_on: Annotated[
        str | None,
        typer.Option(
            "--started-on",
            metavar="TIME",
            help="When the build started (ISO 8601 with zone).",
            show_default=False,
        ),
    ] = None,
    jsonl: Annotated[
        Path | None,
        typer.Option(
            "--jsonl",
            metavar="FILE",
            help="JSON-lines file to append to (default: ARTIFACT.intoto.jsonl).",
            show_default=False,
        ),
    ] = None,
    bundle_out: Annotated[
        Path | None,
        typer.Option(
            "--bundle",
            metavar="FILE",
            help="Bundle to write (default: ARTIFACT.provenance.sigstore.json).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Attest where ARTIFACT was built: SLSA provenance v1 in a signed in-toto statement,
    filled from GitHub Actions or GitLab CI variables, or from the flags (flags win)."""
    state = _state(ctx)
    with _handled(state):
        started = parse_time(started_on, what="--started-on") if started_on else None
        build = detect_context(
            os.environ,
            source_repository=source_uri,
            commit=commit,
            ref=ref,
            builder_id=builder_id,
            invocation_id=invocation_id,
            started_on=started,
        )
        signing_key = _signing_key(key)
        sha256 = file_sha256(artifact)
        statement = provenance_statement([(artifact.name, sha256)], build)
        jsonl_path, bundle_path = write_attestation(
            artifact, statement, signing_key, "provenance", jsonl=jsonl, bundle_out=bundle_out
        )
    out = state.console()
    out.print(
        f"provenance for {escape(str(artifact))} sha256:{sha256}: "
        f"{escape(build.source_repository)} {escape(build.ref or '(no ref)')} "
        f"at {build.commit}, builder {escape(build.builder_id)} ({build.ci})",
        soft_wrap=True,
    )
    out.print(
        f"appended to {escape(str(jsonl_path))}; bundle {escape(str(bundle_path))}", soft_wrap=True
    )


def write_attestation(
    artifact: Path,
    statement: Statement,
    signing_key: keys.SigningKey,
    kind: str,
    *,
    jsonl: Path | None = None,
    bundle_out: Path | None = None,
) -> tuple[Path, Path]:
    """Sign ``statement`` and store it both ways: appended to ``ARTIFACT.intoto.jsonl`` and
    as ``ARTIFACT.<kind>.sigstore.json`` (replaced)."""
    envelope = dsse.sign(PAYLOAD_TYPE, statement.to_json(), [signing_key])
    jsonl_path = jsonl or bundles.default_jsonl_path(artifact)
    bundle_path = bundle_out or bundles.default_bundle_path(artifact, kind)
    bundles.append_jsonl(jsonl_path, envelope)
    made = bundles.Bundle(key_hint=signing_key.key_id, dsse_envelope=envelope)
    bundles.write_atomic(bundle_path, made.to_json())
    return jsonl_path, bundle_path


@dataclass(frozen=True)
class GateAttestation:
    """``turbosec scan --attest``: what to attest, prepared before the scan runs so that a
    missing key or artifact stops the command before minutes of scanning."""

    artifact: Path
    sha256: str
    key: keys.SigningKey
    report_path: Path

    @classmethod
    def prepare(
        cls, artifact: Path, key_path: Path | None, report_path: Path | None
    ) -> GateAttestation:
        signing_key = _signing_key(key_path)
        sha256 = file_sha256(artifact)
        report = report_path or artifact.with_name(artifact.name + GATE_REPORT_SUFFIX)
        return cls(artifact=artifact, sha256=sha256, key=signing_key, report_path=report)

    def write(
        self, report_json: bytes, *, passed: bool, policy_uri: str, policy_sha256: str
    ) -> tuple[GateVerdict, Path, Path]:
        """Write the scan report, then the signed verdict bound to its digest."""
        from turbosec import __version__

        if file_sha256(self.artifact) != self.sha256:
            raise SigningError(
                "the artifact changed while the gate was running",
                where=str(self.artifact),
                hint="build the artifact before the scan and leave it alone until it is attested",
            )
        bundles.write_atomic(self.report_path, report_json)
        verdict = GateVerdict(
            passed=passed,
            time_verified=datetime.now(UTC),
            policy_uri=policy_uri,
            policy_sha256=policy_sha256,
            report_name=self.report_path.name,
            report_sha256=hashlib.sha256(report_json).hexdigest(),
            turbosec_version=__version__,
        )
        statement = gate_statement(self.artifact.name, self.sha256, verdict)
        jsonl_path, bundle_path = write_attestation(self.artifact, statement, self.key, "gate")
        return verdict, jsonl_path, bundle_path


@attest_app.command("gate")
def attest_gate(
    ctx: typer.Context,
    artifact: Annotated[
        Path, typer.Argument(help="The built file.", dir_okay=False, show_default=False)
    ],
    path: Annotated[Path, typer.Argument(help="The repository to scan.", file_okay=False)] = Path(
        "."
    ),
    key: KeyOpt = None,
    fail_on: Annotated[
        str | None,
        typer.Option("--fail-on", help="Override the gate's fail threshold.", show_default=False),
    ] = None,
) -> None:
    """Run the security gate on PATH and attest its verdict about ARTIFACT (the same as
    'turbosec scan PATH --attest ARTIFACT'): the verdict comes from this run, never from a
    report a later step could swap."""
    from turbosec.cli.main import run

    state = _state(ctx)
    argv: list[str] = []
    if state.config_path is not None:
        argv += ["--config", str(state.config_path)]
    if state.quiet:
        argv.append("--quiet")
    argv += ["scan", str(path), "--attest", str(artifact)]
    if key is not None:
        argv += ["--attest-key", str(key)]
    if fail_on is not None:
        argv += ["--fail-on", fail_on]
    raise typer.Exit(run(argv))


@attest_app.command("sbom")
def attest_sbom(
    ctx: typer.Context,
    artifact: Annotated[
        Path, typer.Argument(help="The built file.", dir_okay=False, show_default=False)
    ],
    key: KeyOpt = None,
    sbom_file: Annotated[
        Path | None,
        typer.Option(
            "--sbom",
            metavar="FILE",
            help="A CycloneDX JSON SBOM made by another tool (default: build one from the "
            "lockfiles).",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    lockfiles: Annotated[
        list[Path] | None,
        typer.Option(
            "--lockfile",
            "-l",
            metavar="FILE",
            help="Lockfile or requirements file to take packages from (repeatable; default: "
            "those found at the top of the current directory).",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    save: Annotated[
        Path | None,
        typer.Option(
            "--save", metavar="FILE", help="Also write the SBOM to FILE.", show_default=False
        ),
    ] = None,
) -> None:
    """Attest what ARTIFACT is made of: a CycloneDX SBOM (predicate https://cyclonedx.org/bom)
    in a signed in-toto statement."""
    from turbosec import __version__
    from turbosec.integrity import sbom

    state = _state(ctx)
    with _handled(state):
        if sbom_file is not None and lockfiles:
            raise UsageError(
                "--sbom and --lockfile both say where the SBOM comes from",
                hint="give one of them",
            )
        signing_key = _signing_key(key)
        sha256 = file_sha256(artifact)
        if sbom_file is not None:
            document = sbom.load_document(sbom_file)
            origin = str(sbom_file)
        else:
            files = list(lockfiles or _default_lockfiles(Path(".")))
            packages = _packages_from(files)
            document = sbom.build_sbom(
                packages,
                artifact_name=artifact.name,
                artifact_sha256=sha256,
                timestamp=datetime.now(UTC).replace(microsecond=0),
                tool_version=__version__,
            )
            origin = ", ".join(str(f) for f in files)
        if save is not None:
            bundles.write_atomic(save, orjson.dumps(document, option=orjson.OPT_INDENT_2))
        statement = sbom.sbom_statement(artifact.name, sha256, document)
        jsonl_path, bundle_path = write_attestation(artifact, statement, signing_key, "sbom")
    out = state.console()
    out.print(
        f"SBOM for {escape(str(artifact))} sha256:{sha256}: {escape(sbom.summary(document))} "
        f"from {escape(origin)}",
        soft_wrap=True,
    )
    out.print(
        f"appended to {escape(str(jsonl_path))}; bundle {escape(str(bundle_path))}", soft_wrap=True
    )


def _default_lockfiles(root: Path) -> list[Path]:
    from turbosec.scan.deps.lockfiles import detect_format

    found = sorted(p for p in root.iterdir() if p.is_file() and detect_format(p.name))
    if not found:
        raise UsageError(
            f"no lockfile or requirements file in {root.resolve()}",
            hint="pass --lockfile FILE, or --sbom FILE with a CycloneDX SBOM made elsewhere",
        )
    return found


def _packages_from(files: list[Path]) -> list[Any]:
    from turbosec.integrity.sbom import Package
    from turbosec.scan.deps.lockfiles import MAX_LOCKFILE_BYTES, detect_format, parse_file

    packages: list[Package] = []
    for path in files:
        if detect_format(path.name) is None:
            raise UsageError(
                "not a lockfile or requirements file turbosec can read",
                where=str(path),
                hint="see docs/deps.md for the supported files",
            )
        try:
            if path.stat().st_size > MAX_LOCKFILE_BYTES:
                raise UsageError(f"larger than {MAX_LOCKFILE_BYTES} bytes", where=str(path))
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise UsageError("lockfile not found", where=str(path)) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read the lockfile: {exc}", where=str(path)) from exc
        parsed = parse_file(path.as_posix(), text)
        for dep in parsed.dependencies:
            if dep.status == "pinned" and dep.version:
                packages.append(Package(dep.ecosystem, dep.name, dep.version))
    return packages


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def verify(
    ctx: typer.Context,
    artifact: Annotated[
        Path, typer.Argument(help="The file to verify.", dir_okay=False, show_default=False)
    ],
    policy: Annotated[
        Path,
        typer.Option(
            "--policy", "-p", metavar="FILE", help="Verification policy (TOML).", dir_okay=False
        ),
    ],
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="text, or json for admission control.")
    ] = OutputFormat.TEXT,
    evidence: Annotated[
        list[Path] | None,
        typer.Option(
            "--evidence",
            "-e",
            metavar="FILE",
            help="Bundle or .intoto.jsonl to use instead of the files next to the artifact "
            "(repeatable).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Verify ARTIFACT offline against a policy: every check printed with its reason.
    Exit 0 passed, 1 failed, 2 usage or input error."""
    from turbosec.cli.verify_run import run_verify

    code = run_verify(
        _state(ctx),
        artifact,
        policy,
        json_output=output_format is OutputFormat.JSON,
        evidence=evidence,
    )
    raise typer.Exit(code)


app.add_typer(keys_app, name="keys")
app.add_typer(attest_app, name="attest")
app.command("sign")(sign)
app.command("verify")(verify)
