"""verify.toml: strict validation, key loading, and mistakes caught at load time."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integrity.conftest import make_pair
from turbosec.integrity.errors import PolicyError
from turbosec.integrity.policy import Patterns, load_policy

PROVENANCE = """
[provenance]
allowed_repositories = ["https://github.com/acme/*"]
allowed_refs = ["refs/heads/main", "refs/tags/v*"]
allowed_builders = ["**"]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "verify.toml"
    path.write_text(text)
    return path


def _key(path: str = "k.pub", name: str = "release", extra: str = "") -> str:
    return f'[[keys]]\nname = "{name}"\npath = "{path}"\n{extra}\n'


def test_a_full_policy_loads(tmp_path: Path) -> None:
    a = make_pair(tmp_path, "k")
    b = make_pair(tmp_path, "ci")
    inline = b.public.read_text()
    policy = load_policy(
        _write(
            tmp_path,
            'required = ["signature", "provenance"]\nthreshold = 2\n'
            + _key(extra="not_before = 2024-01-01\nnot_after = 2030-01-01T00:00:00+02:00")
            + f"[[keys]]\nname = \"ci\"\npem = '''\n{inline}'''\n"
            + PROVENANCE,
        )
    )
    assert policy.required == {"signature", "provenance"}
    assert policy.threshold == 2
    assert [k.name for k in policy.keys] == ["release", "ci"]
    assert policy.keys[0].key_id == a.key.key_id and policy.keys[1].key_id == b.key.key_id
    assert policy.keys[0].window() == "2024-01-01T00:00:00Z .. 2029-12-31T22:00:00Z"
    assert len(policy.sha256) == 64


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('required = ["signature"]\nthreshhold = 1\n' + _key(), "unknown key 'threshhold'"),
        ('required = ["signature"]\n' + _key(extra='pth = "x"'), r"unknown key 'keys\[0\]\.pth'"),
        ('required = ["signature"]\nthreshold = "1"\n' + _key(), "'threshold'"),
        ('required = ["signature"]\nthreshold = 0\n' + _key(), "'threshold'"),
        ('required = ["signatures"]\n' + _key(), "not a kind of evidence"),
        ("required = []\n" + _key(), "'required'"),
        ('required = ["signature"]\n', "'keys'"),
        ('required = ["signature", "gate"]\n' + _key(), "max_age is not set"),
        ('required = ["gate"]\n' + _key() + '[gate]\nmax_age = "soon"\n', "not a duration"),
        ('required = ["gate"]\n' + _key() + '[gate]\nmax_age = "0h"\n', "not a duration"),
        (
            'required = ["gate"]\n'
            + _key()
            + '[gate]\nmax_age = "1d"\nallowed_policies = ["ab"]\n',
            "not a SHA-256",
        ),
        ('required = ["gate"]\n' + _key() + '[gate]\nmaxage = "1d"\n', "unknown key 'gate.maxage'"),
        ('required = ["signature"]\nthreshold = 2\n' + _key(), "can never be met"),
        (
            'required = ["signature"]\n' + _key(extra="not_after = 2030-01-01T00:00:00"),
            "without a time zone",
        ),
        (
            'required = ["signature"]\n'
            + _key(extra="not_before = 2030-01-01\nnot_after = 2029-01-01"),
            "never be valid",
        ),
        ('required = ["signature"]\n[[keys]]\nname = "x"\n', "exactly one of 'path' and 'pem'"),
        ('required = ["signature"]\n' + _key(path="missing.pub"), "key file not found"),
        ('required = ["signature"]\n' + _key(path="k.key"), "this is a private key"),
        ('required = ["signature"]\n' + _key() + _key(name="again"), "same public key"),
        (
            'required = ["signature"]\n' + _key() + _key(path="ci.pub"),
            "two keys are named 'release'",
        ),
        ('required = ["provenance"]\n' + _key(), "allowed_repositories, allowed_refs"),
        (
            'required = ["provenance"]\n'
            + _key()
            + PROVENANCE.replace('"refs/heads/main"', '"main"'),
            "refs/heads/main for a branch",
        ),
        ("required = [\n", "not valid TOML"),
    ],
)
def test_policy_mistakes_are_named(tmp_path: Path, body: str, message: str) -> None:
    make_pair(tmp_path, "k")
    make_pair(tmp_path, "ci")
    with pytest.raises(PolicyError, match=message) as info:
        load_policy(_write(tmp_path, body))
    assert "verify.toml" in info.value.diagnostics()


def test_gate_and_sbom_requirements_load(tmp_path: Path) -> None:
    make_pair(tmp_path, "k")
    digest = "ab" * 32
    policy = load_policy(
        _write(
            tmp_path,
            'required = ["gate", "sbom"]\n'
            + _key()
            + f'[gate]\nmax_age = "36h"\nallowed_policies = ["{digest}"]\n',
        )
    )
    assert policy.required == {"gate", "sbom"}
    assert policy.gate_max_age_s == 36 * 3600
    assert policy.gate_require_passed is True
    assert policy.gate_policies == {digest}


def test_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="policy file not found"):
        load_policy(tmp_path / "nope.toml")


def test_patterns() -> None:
    repos = Patterns(("https://github.com/acme/*",))
    assert repos.match("https://github.com/acme/app") == "https://github.com/acme/*"
    assert repos.match("https://github.com/acme/app/evil") is None
    assert repos.match("https://github.com/acmeco/app") is None
    assert repos.match("https://github.com/acme/") == "https://github.com/acme/*"
    refs = Patterns(("refs/heads/main", "refs/tags/v?.*", "refs/heads/release/**"))
    assert refs.match("refs/heads/main") == "refs/heads/main"
    assert refs.match("refs/heads/main2") is None
    assert refs.match("refs/tags/v1.2") == "refs/tags/v?.*"
    assert refs.match("refs/tags/v10.2") is None
    assert refs.match("refs/heads/release/2025/06") == "refs/heads/release/**"
    assert Patterns(("a.b",)).match("aXb") is None  # '.' is literal
    assert Patterns(("**",)).match("anything/at/all") == "**"
