"""Shared helpers of the integrity tests: real keys made per test, never committed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from turbosec.cli.integrity_cmd import app
from turbosec.integrity import keys

# Variables the commands read: each CLI test starts without them unless it sets them.
CLEAN_ENV: dict[str, str | None] = {
    keys.ENV_PASSPHRASE: None,
    keys.ENV_SIGNING_KEY: None,
    "GITHUB_ACTIONS": None,
    "GITLAB_CI": None,
    "NO_COLOR": "1",
}

COMMIT = "0123456789abcdef0123456789abcdef01234567"
REPO = "https://github.com/acme/app"


@dataclass(frozen=True)
class KeyPair:
    key: keys.SigningKey
    private: Path
    public: Path
    passphrase: str


def make_pair(
    directory: Path, name: str, key_type: keys.KeyType = keys.KeyType.ECDSA_P256
) -> KeyPair:
    passphrase = f"pass-{name}-for-tests"
    key = keys.generate(key_type)
    private, public = keys.write_key_pair(key, directory / name, passphrase.encode())
    return KeyPair(key=key, private=private, public=public, passphrase=passphrase)


@pytest.fixture
def pair_factory(tmp_path: Path) -> Callable[..., KeyPair]:
    def factory(name: str, key_type: keys.KeyType = keys.KeyType.ECDSA_P256) -> KeyPair:
        return make_pair(tmp_path, name, key_type)

    return factory


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    path = tmp_path / "app-1.0.tar.gz"
    path.write_bytes(b"\x1f\x8b release bytes " * 4096)
    return path


def cli(*args: str, env: dict[str, str | None] | None = None, input: str | None = None) -> Result:
    """Run the integrity commands in-process; errors must be handled (no exception leaks)."""
    result = CliRunner().invoke(app, list(args), env={**CLEAN_ENV, **(env or {})}, input=input)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result
