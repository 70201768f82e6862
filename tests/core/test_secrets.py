from __future__ import annotations

from turbosec.core.finding import Category, Finding, Location
from turbosec.core.secrets import matches_salted_hash, redact, salted_hash, scrub_finding
from turbosec.core.severity import Severity

SECRET = "ghp_DemoFakeToken0123456789abcdefghijklmn"


def test_redact_keeps_only_edges() -> None:
    shown = redact(SECRET)
    assert shown.startswith("ghp_") and shown.endswith("mn")
    assert "DemoFake" not in shown
    assert redact("short") == "*****"


def test_salted_hash_verifies_and_differs_per_salt() -> None:
    a, b = salted_hash(SECRET), salted_hash(SECRET)
    assert a != b
    assert matches_salted_hash(SECRET, a) and matches_salted_hash(SECRET, b)
    assert not matches_salted_hash("other", a)
    assert not matches_salted_hash(SECRET, "garbage")


def test_scrub_finding_removes_secret_everywhere() -> None:
    f = Finding(
        tool="bandit",
        rule_id="B105",
        title=f"Possible hardcoded password: '{SECRET}'",
        message=f"Possible hardcoded password: '{SECRET}'",
        severity=Severity.LOW,
        category=Category.SAST,
        location=Location(path="s.py", start_line=1, snippet=f'TOKEN = "{SECRET}"'),
        raw={"code": f'1 TOKEN = "{SECRET}"\n', "nested": [{"x": SECRET}]},
    )
    clean = scrub_finding(f, [SECRET])
    assert SECRET not in repr(clean.to_dict())
    assert redact(SECRET) in clean.message
