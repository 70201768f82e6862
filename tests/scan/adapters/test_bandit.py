"""bandit adapter: parsing real captured output, the command line, and real runs."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
import pytest

from tests.conftest import DEMO_APP
from tests.scan.adapters.support import span_rows, write_tree
from turbosec.core.config import ScannerConfig
from turbosec.core.errors import ParseError
from turbosec.core.finding import Category, Confidence
from turbosec.core.severity import Severity
from turbosec.scan.adapters.bandit import BanditScanner
from turbosec.scan.base import Parsed, RunResult
from turbosec.scan.process import run_process
from turbosec.scan.target import Target

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bandit"
SRC = FIXTURES / "src"

Row = tuple[str, str, int | None, int | None, int | None, int | None, str, str, tuple[int, ...]]


def result(name: str, returncode: int = 1) -> RunResult:
    return RunResult(returncode, (FIXTURES / f"{name}.json").read_bytes(), b"", 0.0)


def rows(parsed: Parsed) -> list[Row]:
    return span_rows(parsed, cwe=True)


DEMO_ROWS: list[Row] = [
    ("B403", "app.py", 4, 1, 4, 14, "low", "high", (502,)),
    ("B404", "app.py", 6, 1, 6, 18, "low", "high", (78,)),
    ("B608", "app.py", 21, 13, 21, 57, "medium", "low", (89,)),
    ("B602", "app.py", 29, 11, 29, 67, "high", "high", (78,)),
    ("B301", "app.py", 36, 12, 36, 44, "medium", "high", (502,)),
    ("B506", "app.py", 41, 12, 41, 47, "medium", "high", (20,)),
    ("B324", "app.py", 46, 12, 46, 42, "high", "high", (327,)),
    ("B201", "app.py", 56, 5, 56, 40, "high", "medium", (94,)),
    ("B104", "app.py", 56, 18, 56, 27, "medium", "medium", (605,)),
    ("B105", "settings.py", 4, 25, 4, 69, "low", "medium", (259,)),
    ("B105", "settings.py", 5, 13, 5, 56, "low", "medium", (259,)),
]
DEMO_SECRETS = (
    "AKIAQ4DEMOFAKEKEY7XZ",  # not flagged by bandit, but on the line above a B105 finding
    "hQ9v+demo/Fake+Secret+Key+0123456789abcdEF",
    "ghp_DemoFakeToken0123456789abcdefghijklmn",
)


# --------------------------------------------------------------------------- fixtures
def test_demo_app_fixture() -> None:
    parsed = BanditScanner().parse(result("demo-app"), Target.open(DEMO_APP))
    assert parsed.warnings == []
    assert rows(parsed) == DEMO_ROWS


def test_demo_app_fields() -> None:
    parsed = BanditScanner().parse(result("demo-app"), Target.open(DEMO_APP))
    shell = next(f for f in parsed.findings if f.rule_id == "B602")
    assert shell.tool == "bandit"
    assert shell.category is Category.SAST
    assert shell.severity is Severity.HIGH
    assert shell.confidence is Confidence.HIGH
    assert shell.title == "Subprocess popen with shell equals true"
    assert shell.message == "subprocess call with shell=True identified, security issue."
    assert shell.references == (
        "https://bandit.readthedocs.io/en/1.9.4/plugins/"
        "b602_subprocess_popen_with_shell_equals_true.html",
        "https://cwe.mitre.org/data/definitions/78.html",
    )
    assert shell.fix_hint == "pass the command as a list without shell=True"
    assert shell.fingerprint == ""
    assert shell.location is not None
    assert shell.location.snippet == (
        '    out = subprocess.check_output("ping -c 1 " + host, shell=True)'
    )
    assert shell.raw is not None
    assert shell.raw["test_name"] == "subprocess_popen_with_shell_equals_true"
    assert shell.raw["filename"] == "./app.py"
    assert "code" not in shell.raw  # context lines: the snippet replaces them
    # blacklist findings share the test name "blacklist": the title comes from the text
    pickle_import = parsed.findings[0]
    assert pickle_import.title == (
        "Consider possible security implications associated with pickle module"
    )
    assert pickle_import.fix_hint is None


def test_hardcoded_password_text_is_redacted() -> None:
    parsed = BanditScanner().parse(result("demo-app"), Target.open(DEMO_APP))
    passwords = [f for f in parsed.findings if f.rule_id == "B105"]
    assert [f.message for f in passwords] == [
        "Possible hardcoded password: 'hQ9v************************************EF'",
        "Possible hardcoded password: 'ghp_***********************************mn'",
    ]
    assert passwords[0].location is not None
    assert passwords[0].location.snippet == (
        'AWS_SECRET_ACCESS_KEY = "hQ9v************************************EF"'
    )
    dumped = orjson.dumps([f.to_dict() for f in parsed.findings]).decode()
    for secret in DEMO_SECRETS:
        assert secret not in dumped


def test_src_fixture() -> None:
    parsed = BanditScanner().parse(result("src"), Target.open(SRC))
    assert parsed.warnings == ["app/syntax_error.py: syntax error while parsing AST from file"]
    service = "app/service.py"
    assert rows(parsed) == [
        # found only because bandit's default exclusions are switched off ('.git' in '.github')
        ("B605", ".github/scripts/release.py", 5, 1, 5, 42, "high", "high", (78,)),
        ("B404", service, 4, 1, 4, 18, "low", "high", (78,)),
        ("B105", service, 7, 15, 7, 40, "low", "medium", (259,)),
        # a call over lines 12-16: bandit's line_number is 14, the node starts on line 12
        ("B602", service, 12, 12, 16, 6, "high", "high", (78,)),
        ("B324", service, 24, 12, 24, 30, "high", "high", (327,)),
        ("B306", service, 28, 12, 28, 29, "medium", "high", (377,)),
        # "# nosec B602 - ..." does not hide it (--ignore-nosec): turbosec marks it suppressed
        ("B602", service, 32, 12, 32, 48, "high", "high", (78,)),
    ]
    multi = parsed.findings[3]
    assert multi.location is not None
    assert multi.location.snippet == (
        "    return subprocess.run(\n        command,\n        shell=True,\n"
        "        check=True,\n    )"
    )
    assert multi.raw is not None and multi.raw["line_number"] == 14
    password = parsed.findings[2]
    assert password.message == "Possible hardcoded password: 'Fake*****************ts'"
    assert password.raw is not None
    assert "Fake-Passw0rd-For-Tests" not in orjson.dumps(password.to_dict()).decode()


def test_clean_fixture() -> None:
    parsed = BanditScanner().parse(result("clean", 0), Target.open(SRC))
    assert (parsed.findings, parsed.warnings) == ([], [])


def test_odd_records_do_not_crash(tmp_path: Path) -> None:
    doc = {
        "results": [
            {
                "test_id": "B999",
                "filename": "x.py",
                "line_number": 3,
                "issue_severity": "UNDEFINED",
                "issue_confidence": "UNDEFINED",
                "issue_cwe": {"id": 0, "link": ""},
            }
        ],
        "errors": [{"reason": "no file name"}],
    }
    parsed = BanditScanner().parse(RunResult(1, orjson.dumps(doc), b"", 0.0), Target.open(tmp_path))
    (finding,) = parsed.findings
    assert (finding.severity, finding.confidence) == (Severity.INFO, Confidence.MEDIUM)
    assert (finding.title, finding.message, finding.cwe, finding.references) == (
        "B999",
        "B999",
        (),
        (),
    )
    assert finding.location is not None
    assert (finding.location.start_line, finding.location.start_column) == (3, None)
    assert finding.location.snippet is None  # the file does not exist
    assert parsed.warnings == ["no file name"]


# --------------------------------------------------------------------- malformed output
@pytest.mark.parametrize(
    ("stdout", "needle"),
    [
        (b"", "empty output"),
        ((FIXTURES / "demo-app.json").read_bytes()[:500], "not valid JSON"),
        (b"[main]\tERROR\tunrecognized arguments\n", "not valid JSON"),
        (b'[{"results": []}]', "expected a JSON object with 'results', got list"),
        (b'{"errors": []}', "has no 'results' list"),
        (b'{"results": {}}', "has no 'results' list"),
        (b'{"results": [], "errors": "none"}', "'errors' is not a list"),
        (b'{"results": [], "errors": [1]}', "errors[0] is not an object"),
        (b'{"results": ["B101"]}', "results[0] is a str, not an object"),
        (b'{"results": [{"filename": "a.py"}]}', "results[0] has no 'test_id'"),
        (b'{"results": [{"test_id": "B1", "line_number": 1}]}', "(B1) has no 'filename'"),
        (
            b'{"results": [{"test_id": "B1", "filename": "a.py", "line_number": "1"}]}',
            "(B1) has no valid 'line_number'",
        ),
    ],
)
def test_malformed_output_is_a_parse_error(stdout: bytes, needle: str, tmp_path: Path) -> None:
    with pytest.raises(ParseError) as caught:
        BanditScanner().parse(RunResult(1, stdout, b"", 0.0), Target.open(tmp_path))
    assert caught.value.tool == "bandit"
    assert caught.value.source == "stdout"
    assert needle in caught.value.message
    assert "bandit output stdout" in str(caught.value)


# --------------------------------------------------------------- detection and command
def write(root: Path, files: dict[str, str]) -> None:
    write_tree(root, files)


def test_applicable(tmp_path: Path) -> None:
    write(tmp_path, {"a.py": "", "b.pyw": "", "web/c.js": "", "vendor/d.py": ""})
    target = Target.open(tmp_path, exclude=["vendor"])
    assert BanditScanner().inputs(target) == ["a.py"]
    assert BanditScanner().applicable(target)
    assert not BanditScanner().applicable(Target.open(tmp_path, exclude=["*.py"]))


def test_invocation(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": "", "-odd.py": "", ".github/x.py": "", "web/a.js": ""})
    target = Target.open(tmp_path)
    inv = BanditScanner().invocation(target, ScannerConfig(args=("--skip", "B101")), "/opt/b")
    assert inv.argv == (
        "/opt/b",
        "--format",
        "json",
        "--quiet",
        "--ignore-nosec",
        "--exclude",
        "",
        "--skip",
        "B101",
        "--",
        "-odd.py",
        ".github/x.py",
        "app.py",
    )
    assert inv.cwd == target.root
    assert inv.env == {}
    assert inv.ok_returncodes == frozenset({0, 1})


# ------------------------------------------------------------------------- real bandit
def run_real(target: Target) -> tuple[int, Parsed]:
    scanner = BanditScanner()
    exe = str(Path(sys.executable).parent / scanner.program)
    inv = scanner.invocation(target, ScannerConfig(), exe)
    res = run_process(scanner.name, inv.argv, inv.cwd, inv.env, 120)
    assert res.returncode in inv.ok_returncodes, res.stderr.decode()[-2000:]
    return res.returncode, scanner.parse(res, target)


@pytest.mark.scanners
def test_real_bandit_on_the_demo_app(demo_app: Path) -> None:
    returncode, parsed = run_real(Target.open(demo_app))
    assert returncode == 1
    assert parsed.warnings == []
    assert rows(parsed) == DEMO_ROWS
    dumped = orjson.dumps([f.to_dict() for f in parsed.findings]).decode()
    for secret in DEMO_SECRETS:
        assert secret not in dumped


@pytest.mark.scanners
def test_real_bandit_on_a_small_project(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "tools/.github_helpers/run.py": "import os\nos.system(cmd)\n",
            "src/ok.py": "def add(a, b):\n    return a + b\n",
            "src/bad.py": "def f(:\n",
            "vendor/lib.py": "eval(x)\n",
        },
    )
    returncode, parsed = run_real(Target.open(tmp_path, exclude=["vendor"]))
    assert returncode == 1
    assert rows(parsed) == [
        ("B605", "tools/.github_helpers/run.py", 2, 1, 2, 15, "high", "high", (78,)),
    ]
    assert parsed.warnings == ["src/bad.py: syntax error while parsing AST from file"]

    returncode, parsed = run_real(Target.open(tmp_path, exclude=["vendor", "tools", "bad.py"]))
    assert (returncode, parsed.findings, parsed.warnings) == (0, [], [])
