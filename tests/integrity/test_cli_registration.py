"""The commands under a parent app registered as turbosec's main app will register them, and
in a real process: exit codes 0 / 1 / 2 survive both."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import typer
from typer.testing import CliRunner

from tests.integrity.conftest import CLEAN_ENV, make_pair
from turbosec.cli import integrity_cmd
from turbosec.cli.state import AppState
from turbosec.integrity import keys


def _parent() -> typer.Typer:
    parent = typer.Typer(no_args_is_help=True)

    @parent.callback()
    def main(ctx: typer.Context) -> None:
        ctx.obj = AppState(no_color=True)

    parent.add_typer(integrity_cmd.keys_app, name="keys")
    parent.add_typer(integrity_cmd.attest_app, name="attest")
    parent.command("sign")(integrity_cmd.sign)
    parent.command("verify")(integrity_cmd.verify)
    return parent


def test_registered_under_a_parent_app(tmp_path: Path) -> None:
    parent = _parent()
    runner = CliRunner()
    env = {**CLEAN_ENV, keys.ENV_PASSPHRASE: "pw"}
    made = runner.invoke(parent, ["keys", "generate", "--out", str(tmp_path / "k")], env=env)
    assert made.exit_code == 0, made.output
    artifact = tmp_path / "a.bin"
    artifact.write_bytes(b"x")
    signed = runner.invoke(
        parent, ["sign", str(artifact), "--key", str(tmp_path / "k.key")], env=env
    )
    assert signed.exit_code == 0, signed.output
    policy = tmp_path / "verify.toml"
    policy.write_text('required = ["signature"]\n[[keys]]\nname = "k"\npath = "k.pub"\n')
    ok = runner.invoke(parent, ["verify", str(artifact), "--policy", str(policy)], env=env)
    assert ok.exit_code == 0, ok.output
    artifact.write_bytes(b"y")
    bad = runner.invoke(parent, ["verify", str(artifact), "--policy", str(policy)], env=env)
    assert bad.exit_code == 1
    # standalone_mode=False, as turbosec's run() calls its app: the code is returned
    code = parent(args=["verify", str(artifact), "--policy", str(policy)], standalone_mode=False)
    assert code == 1


def test_real_process_exit_codes(tmp_path: Path) -> None:
    pair = make_pair(tmp_path, "k")
    artifact = tmp_path / "a.bin"
    artifact.write_bytes(b"payload")
    policy = tmp_path / "verify.toml"
    policy.write_text('required = ["signature"]\n[[keys]]\nname = "k"\npath = "k.pub"\n')
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
    env[keys.ENV_SIGNING_KEY] = pair.private.read_text()
    env[keys.ENV_PASSPHRASE] = pair.passphrase
    program = "from turbosec.cli.integrity_cmd import app; app(prog_name='turbosec')"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", program, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    assert run("sign", str(artifact)).returncode == 0
    assert run("verify", str(artifact), "--policy", str(policy)).returncode == 0
    artifact.write_bytes(b"payload!")
    failed = run("verify", str(artifact), "--policy", str(policy))
    assert failed.returncode == 1 and "verification FAILED" in failed.stdout
    usage = run("verify", str(artifact))
    assert usage.returncode == 2 and "--policy" in usage.stderr
    del env[keys.ENV_PASSPHRASE]
    locked = run("sign", str(artifact), "--force")
    assert locked.returncode == 2
    assert "no passphrase was given" in locked.stderr
