"""detect-secrets adapter: parsing real captured output, locating and redacting secrets,
the command line, and real runs.  Every secret in these tests is fake."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import orjson
import pytest

from tests.conftest import DEMO_APP
from tests.scan.adapters.support import span_rows, write_tree
from turbosec.core.config import ScannerConfig, load_config
from turbosec.core.errors import ParseError
from turbosec.core.finding import Category, Confidence, Finding
from turbosec.core.secrets import matches_salted_hash
from turbosec.core.severity import Severity
from turbosec.scan.adapters.detect_secrets import (
    MAX_EXHAUSTIVE_LINE,
    DetectSecretsScanner,
    locate_secret,
)
from turbosec.scan.base import Parsed, RunResult
from turbosec.scan.process import run_process
from turbosec.scan.target import Target

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "detect-secrets"
SRC = FIXTURES / "src"

Row = tuple[str, str, int | None, int | None, int | None, int | None, str, str]

DEMO_SECRETS = {
    "AKIAQ4DEMOFAKEKEY7XZ",
    "hQ9v+demo/Fake+Secret+Key+0123456789abcdEF",
    "ghp_DemoFakeToken0123456789abcdefghijklmn",
}
SRC_SECRETS = {
    "AKIAIOSFODNN7EXAMPLE",
    "sk_live_TurbosecFakeKey0000000000",
    "xoxb-000000000000-000000000000-TurbosecFakeSlackToken00",
    "glpat-TurbosecFakeToken000000",
    "Fake-Db-Passw0rd",
    "hunter2-but-fake",
    "AKIAIOSFODNN7FAKE123",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYFAKEKEY999",
    "Fake-Yaml-Passw0rd",
    "8f14e45fceea167a5a36dedd4bea2543fa0b5f2e",
    "TurbosecFakePrivateKeyBodyNotARealKey",
    "ThisIsNotAKeyJustTextThatLooksLikeBase64",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ0dXJib3NlYy10ZXN0In0.ZmFrZS1zaWduYXR1cmU",
    "ghp_TurbosecFakeGitHubToken000000000000000",
}


def result(name: str) -> RunResult:
    return RunResult(0, (FIXTURES / f"{name}.json").read_bytes(), b"", 0.0)


def rows(parsed: Parsed) -> list[Row]:
    return span_rows(parsed)


def assert_no_secret(findings: list[Finding], secrets: set[str]) -> None:
    """No secret, nor a long piece of one, nor its unsalted SHA-1, in any output."""
    dumped = orjson.dumps([f.to_dict() for f in findings]).decode()
    for secret in secrets:
        assert secret not in dumped
        assert secret[4:-2] not in dumped  # what redaction hides
        assert hashlib.sha1(secret.encode()).hexdigest() not in dumped
    assert "hashed_secret" not in dumped


DEMO_ROWS: list[Row] = [
    ("aws-access-key", "settings.py", 3, 22, 3, 42, "critical", "high"),
    ("base64-high-entropy-string", "settings.py", 4, 26, 4, 68, "medium", "low"),
    ("secret-keyword", "settings.py", 4, 26, 4, 68, "high", "medium"),
    ("base64-high-entropy-string", "settings.py", 5, 14, 5, 55, "medium", "low"),
    ("secret-keyword", "settings.py", 5, 14, 5, 55, "high", "medium"),
    ("github-token", "settings.py", 5, 14, 5, 55, "critical", "high"),
]


# --------------------------------------------------------------------------- fixtures
def test_demo_app_fixture() -> None:
    parsed = DetectSecretsScanner().parse(result("demo-app"), Target.open(DEMO_APP))
    assert parsed.warnings == []
    assert rows(parsed) == DEMO_ROWS
    assert_no_secret(parsed.findings, DEMO_SECRETS)
    # the values go to the runner (to redact them from other tools' findings), nowhere else
    assert set(parsed.secrets) == DEMO_SECRETS
    assert not any(secret in repr(parsed) for secret in DEMO_SECRETS)  # not in logs/reprs


def test_demo_app_fields() -> None:
    parsed = DetectSecretsScanner().parse(result("demo-app"), Target.open(DEMO_APP))
    aws = parsed.findings[0]
    assert aws.tool == "detect-secrets"
    assert aws.category is Category.SECRET
    assert aws.severity is Severity.CRITICAL
    assert aws.confidence is Confidence.HIGH
    assert aws.title == "AWS Access Key"
    assert aws.message == "AWS Access Key hard-coded in the source: AKIA**************XZ"
    assert aws.cwe == (798,)
    assert aws.references[0] == "https://cwe.mitre.org/data/definitions/798.html"
    assert aws.fix_hint is not None and aws.fix_hint.startswith("Revoke and rotate")
    assert aws.fingerprint == ""
    assert aws.location is not None
    assert aws.location.snippet == 'AWS_ACCESS_KEY_ID = "AKIA**************XZ"'
    # a salted hash that verifies against the real value, and the record minus its hash
    assert aws.secret_hash is not None
    assert matches_salted_hash("AKIAQ4DEMOFAKEKEY7XZ", aws.secret_hash)
    assert not matches_salted_hash("AKIAQ4DEMOFAKEKEY7XY", aws.secret_hash)
    assert aws.raw == {
        "type": "AWS Access Key",
        "filename": "settings.py",
        "is_verified": False,
        "line_number": 3,
        "is_added": False,
        "is_removed": False,
    }
    keyword = parsed.findings[2]
    assert keyword.fix_hint is not None and "allowlist secret" in keyword.fix_hint


def test_github_token_prefix_hash_covers_the_whole_token() -> None:
    # detect-secrets hashes only "ghp" for a GitHub token; the finding is about the token
    parsed = DetectSecretsScanner().parse(result("demo-app"), Target.open(DEMO_APP))
    github = parsed.findings[-1]
    assert github.raw is not None and github.raw["type"] == "GitHub Token"
    assert github.message == (
        "GitHub Token hard-coded in the source: ghp_***********************************mn"
    )
    assert github.location is not None
    assert github.location.snippet == 'API_TOKEN = "ghp_***********************************mn"'
    assert github.secret_hash is not None
    assert matches_salted_hash("ghp_DemoFakeToken0123456789abcdefghijklmn", github.secret_hash)


def test_src_fixture() -> None:
    parsed = DetectSecretsScanner().parse(result("src"), Target.open(SRC))
    assert parsed.warnings == []
    cfg = "config/settings.py"
    assert rows(parsed) == [
        ("secret-keyword", "config/app.yaml", 4, 13, 4, 31, "high", "medium"),
        ("hex-high-entropy-string", "config/app.yaml", 6, 16, 6, 56, "low", "low"),
        ("aws-access-key", cfg, 3, 22, 3, 42, "critical", "high"),
        ("stripe-access-key", cfg, 4, 15, 4, 48, "critical", "high"),
        ("secret-keyword", cfg, 5, 16, 5, 71, "high", "medium"),
        ("slack-token", cfg, 5, 16, 5, 71, "critical", "high"),
        ("secret-keyword", cfg, 6, 17, 6, 46, "high", "medium"),
        ("gitlab-token", cfg, 6, 17, 6, 46, "critical", "high"),
        ("basic-auth-credentials", cfg, 7, 32, 7, 48, "high", "medium"),
        ("secret-keyword", cfg, 8, 13, 8, 29, "high", "medium"),
        ("base64-high-entropy-string", cfg, 9, 50, 9, 90, "medium", "low"),
        ("secret-keyword", cfg, 9, 50, 9, 90, "high", "medium"),
        ("aws-access-key", cfg, 9, 16, 9, 36, "critical", "high"),
        # hashed as the body lines 2-3 joined by a newline
        ("private-key", "keys/id_rsa_fake", 2, 1, 3, 78, "critical", "high"),
        ("json-web-token", "web/auth.js", 2, 18, 2, 106, "high", "medium"),
        ("github-token", "web/bundle.min.js", 2, 549, 2, 591, "critical", "high"),
    ]
    assert_no_secret(parsed.findings, SRC_SECRETS)
    assert all(f.secret_hash for f in parsed.findings)


def test_src_snippets() -> None:
    parsed = DetectSecretsScanner().parse(result("src"), Target.open(SRC))
    snippets = {(f.rule_id, f.location.start_line): f.location.snippet for f in parsed.findings}
    # the regex stops after 24 characters of a longer run: the whole run is redacted
    assert snippets[("stripe-access-key", 4)] == 'STRIPE_KEY = "sk_l***************************00"'
    assert snippets[("basic-auth-credentials", 7)] == (
        'DATABASE_URL = "postgres://app:Fake**********rd@db.internal:5432/app"'
    )
    # two secrets on one line: every snippet of the line hides both
    both = (
        'BOTH = {"id": "AKIA**************23", '
        '"secret": "wJal**********************************99"}'
    )
    assert snippets[("aws-access-key", 9)] == both
    assert snippets[("secret-keyword", 9)] == both
    key = snippets[("private-key", 2)]
    assert key is not None
    assert key.startswith("Turb***") and key.endswith("AA") and "\n" not in key
    # a ~1,100-character minified line is cut around the secret
    bundle = snippets[("github-token", 2)]
    assert bundle is not None
    assert len(bundle) == 242 and bundle.startswith("…") and bundle.endswith("…")
    assert 'var gh="ghp_************************************00";' in bundle
    private = next(f for f in parsed.findings if f.rule_id == "private-key")
    assert private.message == (
        "Private Key hard-coded in the source: Turb******************************************AA"
    )


def test_clean_fixture() -> None:
    parsed = DetectSecretsScanner().parse(result("clean"), Target.open(SRC))
    assert (parsed.findings, parsed.warnings) == ([], [])


def record(path: str, line: int, secret: str, kind: str = "Secret Keyword") -> dict[str, object]:
    return {
        "type": kind,
        "filename": path,
        "hashed_secret": hashlib.sha1(secret.encode()).hexdigest(),
        "is_verified": False,
        "line_number": line,
    }


def parse_records(tmp_path: Path, records: list[dict[str, object]]) -> Parsed:
    results: dict[str, list[dict[str, object]]] = {}
    for rec in records:
        results.setdefault(str(rec["filename"]), []).append(rec)
    doc = {"version": "1.5.52", "results": results}
    return DetectSecretsScanner().parse(
        RunResult(0, orjson.dumps(doc), b"", 0.0), Target.open(tmp_path)
    )


def test_secret_not_found_is_reported_fully_masked(tmp_path: Path) -> None:
    (tmp_path / "conf.ini").write_text("[db]\n  password = Fake-Ini-Secret-1 ; other = x\n")
    parsed = parse_records(
        tmp_path,
        [
            record("conf.ini", 2, "Fake-Ini-Secret-1"),
            record("conf.ini", 2, "a value that is not in the file", "Custom Detector"),
        ],
    )
    found, lost = parsed.findings
    assert lost.message == (
        "Custom Detector hard-coded in the source (the value could not be shown redacted)"
    )
    assert (lost.severity, lost.confidence) == (Severity.HIGH, Confidence.MEDIUM)
    assert lost.secret_hash is None
    assert lost.location is not None
    assert (lost.location.start_line, lost.location.start_column) == (2, None)
    # one secret of the line could not be found: no snippet of that line shows anything
    masked = "  ******** * ***************** * ***** * *"
    assert lost.location.snippet == masked
    assert found.location is not None and found.location.snippet == masked
    assert found.message == "Secret Keyword hard-coded in the source: Fake***********-1"
    assert_no_secret(parsed.findings, {"Fake-Ini-Secret-1"})


def test_secret_on_a_neighbouring_line_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "a.env").write_text("A=1\nTOKEN=Fake-Env-Token-77\nB=2\n")
    parsed = parse_records(
        tmp_path,
        [record("a.env", 3, "Fake-Env-Token-77"), record("gone.env", 1, "whatever")],
    )
    moved, gone = parsed.findings
    assert moved.location is not None
    assert (moved.location.start_line, moved.location.start_column) == (2, 7)
    assert moved.location.snippet == "TOKEN=Fake***********77"
    assert gone.location is not None
    assert (gone.location.path, gone.location.snippet, gone.secret_hash) == (
        "gone.env",
        None,
        None,
    )


def test_verified_secret_is_critical(tmp_path: Path) -> None:
    (tmp_path / "k.txt").write_text("key: Fake-Verified-Key-123\n")
    rec = record("k.txt", 1, "Fake-Verified-Key-123", "Base64 High Entropy String")
    rec["is_verified"] = True
    (finding,) = parse_records(tmp_path, [rec]).findings
    assert (finding.severity, finding.confidence) == (Severity.CRITICAL, Confidence.HIGH)
    assert finding.message.endswith("; the provider confirmed it is live")


def test_public_ip_is_low_exposure(tmp_path: Path) -> None:
    (tmp_path / "hosts").write_text("server 203.0.113.77\n")
    (finding,) = parse_records(
        tmp_path, [record("hosts", 1, "203.0.113.77", "Public IP (ipv4)")]
    ).findings
    assert (finding.rule_id, finding.severity, finding.cwe) == (
        "public-ip-ipv4",
        Severity.LOW,
        (200,),
    )


def test_locate_secret() -> None:
    def sha1(text: str) -> str:
        return hashlib.sha1(text.encode()).hexdigest()

    assert locate_secret('x = "Fake-Quoted-Value"', sha1("Fake-Quoted-Value")) == (
        "Fake-Quoted-Value"
    )
    assert locate_secret("url=https://u:Fake-Pw-9@h/", sha1("Fake-Pw-9")) == "Fake-Pw-9"
    # not a token on its own: found by the exhaustive search
    assert locate_secret("prefixFAKESECRETsuffix", sha1("FAKESECRET")) == "FAKESECRET"
    assert locate_secret("héllo wörld=ünïcode-fäke", sha1("ünïcode-fäke")) == "ünïcode-fäke"
    assert locate_secret("nothing here", sha1("absent")) is None
    long_line = "a" * MAX_EXHAUSTIVE_LINE + "bFAKEc"
    assert locate_secret(long_line, sha1("FAKE")) is None


# --------------------------------------------------------------------- malformed output
GOOD_HASH = "a" * 40


@pytest.mark.parametrize(
    ("stdout", "needle"),
    [
        (b"", "empty output"),
        ((FIXTURES / "demo-app.json").read_bytes()[:1500], "not valid JSON"),
        (b"usage: detect-secrets [-h]\n", "not valid JSON"),
        (b'[{"results": {}}]', "expected a JSON object with 'results', got list"),
        (b'{"version": "1.5.52"}', "has no 'results' object"),
        (b'{"results": []}', "has no 'results' object"),
        (b'{"results": {"a.py": {}}}', "results['a.py'] is not a list"),
        (b'{"results": {"a.py": ["x"]}}', "a.py[0] is a str, not an object"),
        (b'{"results": {"a.py": [{"line_number": 1}]}}', "a.py[0] has no secret 'type'"),
        (
            b'{"results": {"a.py": [{"type": "T", "line_number": 0}]}}',
            "a.py[0] (T) has no valid 'line_number'",
        ),
        (
            b'{"results": {"a.py": [{"type": "T", "line_number": 1, "hashed_secret": "zz"}]}}',
            "a.py[0] (T) has no SHA-1 'hashed_secret'",
        ),
    ],
)
def test_malformed_output_is_a_parse_error(stdout: bytes, needle: str, tmp_path: Path) -> None:
    with pytest.raises(ParseError) as caught:
        DetectSecretsScanner().parse(RunResult(0, stdout, b"", 0.0), Target.open(tmp_path))
    assert caught.value.tool == "detect-secrets"
    assert caught.value.source == "stdout"
    assert needle in caught.value.message
    assert "detect-secrets output stdout" in str(caught.value)


# --------------------------------------------------------------- detection and command
def write(root: Path, files: dict[str, str]) -> None:
    write_tree(root, files)


def test_applicable(tmp_path: Path) -> None:
    assert not DetectSecretsScanner().applicable(Target.open(tmp_path))
    write(tmp_path, {"notes.txt": ""})
    assert DetectSecretsScanner().applicable(Target.open(tmp_path))
    assert not DetectSecretsScanner().applicable(Target.open(tmp_path, exclude=["*.txt"]))


def test_invocation(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": "", "-odd.env": "", "vendor/x.js": "", ".env": ""})
    target = Target.open(tmp_path, exclude=["vendor"])
    inv = DetectSecretsScanner().invocation(
        target, ScannerConfig(args=("--disable-plugin", "HexHighEntropyString")), "/opt/ds"
    )
    assert inv.argv == (
        "/opt/ds",
        "scan",
        "--all-files",
        "--no-verify",
        "--disable-filter",
        "detect_secrets.filters.allowlist.is_line_allowlisted",
        "--disable-plugin",
        "HexHighEntropyString",
        "--",
        "-odd.env",
        ".env",
        "app.py",
    )
    assert inv.cwd == target.root
    assert inv.env == {}
    assert inv.ok_returncodes == frozenset({0})


# ----------------------------------------------------------------- real detect-secrets
def run_real(target: Target) -> tuple[int, Parsed]:
    scanner = DetectSecretsScanner()
    exe = str(Path(sys.executable).parent / scanner.program)
    inv = scanner.invocation(target, ScannerConfig(), exe)
    res = run_process(scanner.name, inv.argv, inv.cwd, inv.env, 120)
    assert res.returncode in inv.ok_returncodes, res.stderr.decode()[-2000:]
    return res.returncode, scanner.parse(res, target)


@pytest.mark.scanners
def test_real_detect_secrets_on_the_demo_app(demo_app: Path) -> None:
    # as the gate scans it: with the demo's exclusions (its advisory records)
    exclude = load_config(None, demo_app).config.exclude
    returncode, parsed = run_real(Target.open(demo_app, exclude))
    assert returncode == 0
    assert rows(parsed) == DEMO_ROWS
    assert_no_secret(parsed.findings, DEMO_SECRETS)


@pytest.mark.scanners
def test_real_detect_secrets_on_a_small_project(tmp_path: Path) -> None:
    # fake values, assembled at run time so this test file holds no secret-shaped literal
    aws = "AKIA" + "TURBOSECFAKE" + "0042"
    token = "ghp_" + "TurbosecFake" + "0" * 24
    write(
        tmp_path,
        {
            "deploy/env.sh": f"export AWS_ACCESS_KEY_ID={aws}\n",
            "src/client.py": f'HEADERS = {{"Authorization": "token {token}"}}\n',
            "src/clean.py": "print('nothing to see')\n",
            "vendor/leak.py": f'KEY = "{aws}"\n',
        },
    )
    returncode, parsed = run_real(Target.open(tmp_path, exclude=["vendor"]))
    assert returncode == 0
    assert rows(parsed) == [
        ("aws-access-key", "deploy/env.sh", 1, 26, 1, 46, "critical", "high"),
        ("github-token", "src/client.py", 1, 36, 1, 76, "critical", "high"),
    ]
    assert_no_secret(parsed.findings, {aws, token})
    github = parsed.findings[1]
    assert github.location is not None
    assert github.location.snippet == (
        'HEADERS = {"Authorization": "token ghp_**********************************00"}'
    )
    assert github.secret_hash is not None and matches_salted_hash(token, github.secret_hash)


@pytest.mark.scanners
def test_real_detect_secrets_reports_allowlisted_lines(tmp_path: Path) -> None:
    """``pragma: allowlist secret`` no longer hides a secret: turbosec marks it suppressed."""
    aws = "AKIA" + "TURBOSECFAKE" + "0077"
    token = "ghp_" + "TurbosecFake" + "7" * 24
    write(
        tmp_path,
        {
            "conf.py": (
                f'AWS = "{aws}"  # pragma: allowlist secret - fake key for the tests\n'
                "# pragma: allowlist nextline secret\n"
                f'TOKEN = "{token}"\n'
            ),
        },
    )
    returncode, parsed = run_real(Target.open(tmp_path))
    assert returncode == 0
    assert sorted({(r[0], r[2]) for r in rows(parsed)}) == [
        ("aws-access-key", 1),
        ("github-token", 3),
        ("secret-keyword", 3),  # TOKEN = "..."
    ]
    assert_no_secret(parsed.findings, {aws, token})
    # the adapter reports them; turbosec.scan.suppress marks them (tests/scan/test_suppress.py)
    assert all(f.suppression is None for f in parsed.findings)
