"""``turbosec keys generate``, ``sign``, ``attest provenance`` and ``verify``.

Thin: parse the options, call :mod:`turbosec.integrity`, render.  Secrets never come from
the command line (where they would land in shell history and process listings): the
passphrase comes from ``TURBOSEC_KEY_PASSPHRASE`` or an interactive prompt, the signing key
from ``--key FILE`` or ``TURBOSEC_SIGNING_KEY``.

Exit codes: 0 pass, 1 verification failed, 2 usage or input error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.markup import escape

from turbosec.cli.state import AppState
from turbosec.core.errors import TurbosecError
from turbosec.integrity import bundle as bundles
from turbosec.integrity import dsse, keys
from turbosec.integrity.errors import FormatError, PassphraseError, SigningError
from turbosec.integrity.intoto import PAYLOAD_TYPE, file_sha256
from turbosec.integrity.policy import load_policy
from turbosec.integrity.provenance import detect_context, parse_time, provenance_statement
from turbosec.integrity.verify import TIME_NOTE, Report, verify_artifact

EXIT_PASS = 0
EXIT_FAILED = 1
EXIT_ERROR = 2

keys_app = typer.Typer(help="Signing key pairs.", no_args_is_help=True)
attest_app = typer.Typer(
    help="Signed in-toto statements about an artifact (provenance).", no_args_is_help=True
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
) -> None:
    """Sign an artifact: a Sigstore bundle v0.3 with a messageSignature."""
    state = _state(ctx)
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
        envelope = dsse.sign(PAYLOAD_TYPE, statement.to_json(), [signing_key])
        jsonl_path = jsonl or bundles.default_jsonl_path(artifact)
        bundle_path = bundle_out or bundles.default_bundle_path(artifact, "provenance")
        bundles.append_jsonl(jsonl_path, envelope)
        made = bundles.Bundle(key_hint=signing_key.key_id, dsse_envelope=envelope)
        bundles.write_atomic(bundle_path, made.to_json())
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


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def _render_text(state: AppState, report: Report) -> None:
    out = state.console()
    out.print(f"artifact {escape(report.artifact)} sha256:{report.sha256}", soft_wrap=True)
    for check in report.checks:
        mark = "[green]PASS[/green]" if check.passed else "[bold red]FAIL[/bold red]"
        where = f"  [dim]({escape(check.evidence)})[/dim]" if check.evidence else ""
        out.print(f"{mark}  {check.name}: {escape(check.reason)}{where}", soft_wrap=True)
    out.print(f"[dim]note: {escape(TIME_NOTE)}[/dim]", soft_wrap=True)
    if report.passed:
        out.print("[bold green]verification PASSED[/bold green]", soft_wrap=True)
    else:
        out.print(
            f"[bold red]verification FAILED[/bold red]: {len(report.failures)} check(s) failed",
            soft_wrap=True,
        )


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
    state = _state(ctx)
    try:
        loaded = load_policy(policy)
        report = verify_artifact(artifact, loaded, evidence_paths=evidence or None)
    except TurbosecError as exc:
        if output_format is OutputFormat.JSON:
            payload = {
                "passed": False,
                "error": exc.diagnostics(),
                "verifiedAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            typer.echo(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode())
        state.report_error(exc)
        raise typer.Exit(EXIT_ERROR) from exc
    if output_format is OutputFormat.JSON:
        typer.echo(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        _render_text(state, report)
    raise typer.Exit(EXIT_PASS if report.passed else EXIT_FAILED)


app.add_typer(keys_app, name="keys")
app.add_typer(attest_app, name="attest")
app.command("sign")(sign)
app.command("verify")(verify)
