"""semgrep adapter: parsing real captured output, the command line, and real runs."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
import pytest

from tests.conftest import DEMO_APP
from tests.scan.adapters.support import span_rows, write_tree
from turbosec.core.config import ScannerConfig
from turbosec.core.errors import ParseError, ScannerError
from turbosec.core.finding import Category, Confidence
from turbosec.core.severity import Severity
from turbosec.scan.adapters.semgrep import SemgrepScanner, bundled_rules_dir
from turbosec.scan.base import Parsed, RunResult
from turbosec.scan.process import run_process
from turbosec.scan.target import Target

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "semgrep"
SRC = FIXTURES / "src"
SYNTAX_WARNING = "web/broken.py: PartialParsing: Syntax error at line web/broken.py:7"

Row = tuple[str, str, int | None, int | None, int | None, int | None, str, str, tuple[int, ...]]


def result(name: str, returncode: int = 0) -> RunResult:
    return RunResult(returncode, (FIXTURES / f"{name}.json").read_bytes(), b"", 0.0)


def rows(parsed: Parsed) -> list[Row]:
    return span_rows(parsed, cwe=True)


DEMO_ROWS: list[Row] = [
    ("turbosec.python.sql-injection", "app.py", 22, 32, 22, 37, "critical", "medium", (89,)),
    ("turbosec.python.command-injection", "app.py", 29, 11, 29, 67, "critical", "medium", (78,)),
    (
        "turbosec.python.deserialization-of-request-data",
        "app.py",
        36,
        25,
        36,
        43,
        "critical",
        "high",
        (502,),
    ),
    ("turbosec.python.unsafe-deserialization", "app.py", 41, 12, 41, 47, "high", "medium", (502,)),
    (
        "turbosec.python.weak-password-hash",
        "app.py",
        46,
        12,
        46,
        42,
        "high",
        "medium",
        (916, 328),
    ),
    ("turbosec.python.flask-debug-mode", "app.py", 56, 5, 56, 40, "high", "high", (489, 94)),
]


# --------------------------------------------------------------------------- fixtures
def test_demo_app_fixture() -> None:
    parsed = SemgrepScanner().parse(result("demo-app"), Target.open(DEMO_APP))
    assert parsed.warnings == []
    assert rows(parsed) == DEMO_ROWS


def test_demo_app_fields() -> None:
    parsed = SemgrepScanner().parse(result("demo-app"), Target.open(DEMO_APP))
    sqli = parsed.findings[0]
    assert sqli.tool == "semgrep"
    assert sqli.category is Category.SAST
    assert sqli.severity is Severity.CRITICAL
    assert sqli.confidence is Confidence.MEDIUM
    assert sqli.title == "SQL injection through a string-built query"
    assert sqli.message.startswith("A SQL statement built by string concatenation")
    assert "\n" not in sqli.message
    assert sqli.references == (
        "https://cwe.mitre.org/data/definitions/89.html",
        "https://cheatsheetseries.owasp.org/cheatsheets/SQL_Injection_Prevention_Cheat_Sheet.html",
        "https://peps.python.org/pep-0249/#paramstyle",
    )
    assert sqli.fix_hint is not None
    assert sqli.fix_hint.startswith("Keep the SQL text constant and pass the values separately")
    assert sqli.fingerprint == ""  # assigned later by the runner
    assert sqli.secret_hash is None
    # semgrep OSS prints "requires login" instead of the lines: the snippet is the file's
    assert sqli.raw is not None
    assert sqli.raw["extra"]["lines"] == "requires login"
    assert sqli.location is not None
    assert sqli.location.snippet == '    return {"rows": DB.execute(query).fetchall()}'
    assert sqli.raw["check_id"] == "turbosec.python.sql-injection"
    assert sqli.raw["extra"]["metadata"]["owasp"] == ["A03:2021 - Injection"]


def test_src_fixture_python_javascript_typescript() -> None:
    parsed = SemgrepScanner().parse(result("src"), Target.open(SRC))
    # the partly unparsable file is a warning, and its parsable part is still scanned
    assert parsed.warnings == [SYNTAX_WARNING]
    js, py = "static/app.js", "web/views.py"
    assert rows(parsed) == [
        ("turbosec.javascript.xss-html-sink", js, 6, 3, 6, 54, "high", "medium", (79,)),
        ("turbosec.javascript.command-injection", js, 10, 3, 10, 67, "critical", "medium", (78,)),
        (
            "turbosec.javascript.deserialization-of-request-data",
            js,
            14,
            39,
            14,
            56,
            "critical",
            "high",
            (502,),
        ),
        (
            "turbosec.javascript.sql-injection",
            "static/query.ts",
            7,
            35,
            7,
            78,
            "critical",
            "medium",
            (89,),
        ),
        (
            "turbosec.python.command-injection",
            "web/broken.py",
            5,
            1,
            5,
            19,
            "critical",
            "medium",
            (78,),
        ),
        (
            "turbosec.python.django-debug-enabled",
            "web/settings.py",
            5,
            1,
            5,
            13,
            "medium",
            "medium",
            (489, 215),
        ),
        ("turbosec.python.command-injection", py, 17, 5, 17, 46, "critical", "medium", (78,)),
        ("turbosec.python.ssrf", py, 24, 25, 24, 44, "high", "medium", (918,)),
        ("turbosec.python.xss-unescaped-markup", py, 30, 12, 30, 71, "high", "medium", (79,)),
        ("turbosec.python.code-injection", py, 40, 12, 40, 28, "critical", "medium", (95,)),
        # marked "# nosemgrep": reported all the same (--disable-nosem); turbosec marks it
        # suppressed after parsing (turbosec.scan.suppress), the adapter does not
        ("turbosec.python.sql-injection", py, 45, 20, 45, 61, "critical", "medium", (89,)),
    ]
    ssrf = next(f for f in parsed.findings if f.rule_id == "turbosec.python.ssrf")
    assert ssrf.location is not None
    assert ssrf.location.snippet == '    return requests.get(request.args["url"], timeout=5).text'
    assert all(f.suppression is None for f in parsed.findings)


def test_legacy_rules_fixture_classic_vocabulary() -> None:
    parsed = SemgrepScanner().parse(result("legacy-rules"), Target.open(SRC))
    assert parsed.warnings == [SYNTAX_WARNING]
    assert rows(parsed) == [
        ("legacy.subprocess-shell", "web/broken.py", 5, 1, 5, 19, "high", "high", (78,)),
        ("legacy.print-call", "web/tools.py", 7, 5, 7, 27, "low", "medium", ()),
        ("legacy.use-requests-timeout", "web/tools.py", 8, 12, 8, 29, "medium", "medium", ()),
        ("legacy.subprocess-shell", "web/views.py", 17, 5, 17, 46, "high", "high", (78,)),
    ]
    shell, printed, timeout, _ = parsed.findings
    # ERROR -> high, WARNING -> medium, INFO -> low; titles from the rule id
    assert (shell.title, printed.title, timeout.title) == (
        "Subprocess shell",
        "Print call",
        "Use requests timeout",
    )
    assert shell.references == (
        "https://docs.python.org/3/library/subprocess.html#security-considerations",
        "https://example.com/rules/legacy.subprocess-shell",
    )
    assert shell.fix_hint is None
    # an autofix becomes the fix hint
    assert timeout.fix_hint == (
        "semgrep suggests replacing the flagged code with: requests.get(url, timeout=10)"
    )
    assert printed.message == "print() left in the code"


def test_rule_parse_error_fails_the_run() -> None:
    with pytest.raises(ScannerError) as caught:
        SemgrepScanner().parse(result("rule-parse-error", 2), Target.open(SRC))
    assert caught.value.scanner == "semgrep"
    assert caught.value.message == (
        "could not run its rules: Rule parse error in rule broken.unbalanced: "
        "Invalid pattern for Python: Stdlib.Parsing.Parse_error"
    )


def test_invalid_rule_schema_fails_the_run() -> None:
    with pytest.raises(ScannerError) as caught:
        SemgrepScanner().parse(result("invalid-rule-schema", 7), Target.open(SRC))
    message = caught.value.message
    assert "InvalidRuleSchemaError: One of these properties is missing: 'message'" in message
    assert "rules/invalid-schema.yaml line 3" in message
    assert "invalid configuration file found" in message


def test_error_level_without_a_path_fails_even_with_exit_0(tmp_path: Path) -> None:
    doc = {"results": [], "errors": [{"level": "error", "type": "Fatal", "message": "boom"}]}
    with pytest.raises(ScannerError, match="Fatal: boom"):
        SemgrepScanner().parse(RunResult(0, orjson.dumps(doc), b"", 0.0), Target.open(tmp_path))


def test_unexpected_exit_code_without_output_fails(tmp_path: Path) -> None:
    res = RunResult(2, b"", b"Fatal error: out of memory\n", 0.0)
    with pytest.raises(ScannerError) as caught:
        SemgrepScanner().parse(res, Target.open(tmp_path))
    assert caught.value.message == "exited with code 2 without a usable report"
    assert caught.value.stderr_tail == "Fatal error: out of memory"


def test_unexpected_exit_code_with_clean_json_still_fails(tmp_path: Path) -> None:
    res = RunResult(13, b'{"results": [], "errors": []}', b"", 0.0)
    with pytest.raises(ScannerError, match="exited with code 13"):
        SemgrepScanner().parse(res, Target.open(tmp_path))


def test_timeout_on_one_file_is_a_warning(tmp_path: Path) -> None:
    doc = {
        "results": [],
        "errors": [
            {
                "code": 3,
                "level": "warn",
                "type": "Timeout",
                "rule_id": "turbosec.python.sql-injection",
                "message": "Timeout when running turbosec.python.sql-injection on big.py",
                "path": "big.py",
            }
        ],
    }
    parsed = SemgrepScanner().parse(
        RunResult(0, orjson.dumps(doc), b"", 0.0), Target.open(tmp_path)
    )
    assert parsed.findings == []
    # the type and rule are not repeated when the message names them
    assert parsed.warnings == [
        "big.py: Timeout when running turbosec.python.sql-injection on big.py"
    ]


def test_absolute_paths_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\nprint(x)\n")
    record = {
        "check_id": "r.x",
        "path": str(tmp_path / "a.py"),
        "start": {"line": 2, "col": 1},
        "end": {"line": 2, "col": 9},
        "extra": {"message": "m", "severity": "BOGUS", "lines": "print(x)", "metadata": []},
    }
    gone = dict(record, path="gone.py")
    doc = {"results": [record, gone], "errors": []}
    parsed = SemgrepScanner().parse(
        RunResult(0, orjson.dumps(doc), b"", 0.0), Target.open(tmp_path)
    )
    first, second = parsed.findings
    assert first.location is not None and second.location is not None
    assert (first.location.path, first.location.snippet) == ("a.py", "print(x)")
    assert first.severity is Severity.MEDIUM  # unknown word: never dropped
    assert first.title == "X"
    # the file is not there: semgrep's own lines are used when they are real
    assert (second.location.path, second.location.snippet) == ("gone.py", "print(x)")


# --------------------------------------------------------------------- malformed output
@pytest.mark.parametrize(
    ("stdout", "needle"),
    [
        (b"", "empty output"),
        (b"  \n", "empty output"),
        ((FIXTURES / "demo-app.json").read_bytes()[:700], "not valid JSON"),
        (b"Traceback (most recent call last):\n", "not valid JSON"),
        (b"[]", "expected a JSON object with 'results', got list"),
        (b'{"errors": []}', "has no 'results' list"),
        (b'{"results": {}, "errors": []}', "has no 'results' list"),
        (b'{"results": [], "errors": {}}', "'errors' is not a list"),
        (b'{"results": [], "errors": [7]}', "errors[0] is not an object"),
        (b'{"results": [42], "errors": []}', "results[0] is a int, not an object"),
        (b'{"results": [{"path": "a.py"}]}', "results[0] has no 'check_id'"),
        (b'{"results": [{"check_id": "x", "extra": {}}]}', "results[0] (x) has no 'path'"),
        (b'{"results": [{"check_id": "x", "path": "a.py"}]}', "has no 'extra' object"),
        (
            b'{"results": [{"check_id": "x", "path": "a.py", "extra": {}}]}',
            "results[0] has no 'start' position",
        ),
        (
            b'{"results": [{"check_id": "x", "path": "a.py", "extra": {},'
            b' "start": {"line": "1"}}]}',
            "results[0].start.line is not a line number",
        ),
    ],
)
def test_malformed_output_is_a_parse_error(stdout: bytes, needle: str, tmp_path: Path) -> None:
    with pytest.raises(ParseError) as caught:
        SemgrepScanner().parse(RunResult(0, stdout, b"", 0.0), Target.open(tmp_path))
    assert caught.value.tool == "semgrep"
    assert caught.value.source == "stdout"
    assert needle in caught.value.message
    assert "semgrep output stdout" in str(caught.value)


# --------------------------------------------------------------- detection and command
def write(root: Path, files: dict[str, str]) -> None:
    write_tree(root, files)


def test_applicable_and_inputs(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "a.py": "",
            "web/b.js": "",
            "web/c.jsx": "",
            "web/d.ts": "",
            "web/e.tsx": "",
            "web/f.mjs": "",
            "web/g.cjs": "",
            "README.md": "",
            "setup.cfg": "",
            "vendor/lib.js": "",
        },
    )
    target = Target.open(tmp_path, exclude=["vendor"])
    assert SemgrepScanner().inputs(target) == [
        "a.py",
        "web/b.js",
        "web/c.jsx",
        "web/d.ts",
        "web/e.tsx",
        "web/f.mjs",
        "web/g.cjs",
    ]
    assert SemgrepScanner().applicable(target)
    assert not SemgrepScanner().applicable(Target.open(tmp_path, exclude=["*.py", "web", "vendor"]))


def test_invocation_with_the_bundled_pack(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": "", "-odd/x.js": "", "notes.txt": ""})
    target = Target.open(tmp_path)
    inv = SemgrepScanner().invocation(
        target, ScannerConfig(args=("--max-target-bytes", "2000000")), "/opt/semgrep"
    )
    pack = bundled_rules_dir()
    assert inv.argv == (
        "/opt/semgrep",
        "scan",
        "--json",
        "--metrics=off",
        "--disable-version-check",
        "--no-rewrite-rule-ids",
        "--disable-nosem",
        "--timeout",
        "30",
        "--timeout-threshold",
        "3",
        "--config",
        str(pack),
        "--max-target-bytes",
        "2000000",
        "--",
        "-odd/x.js",
        "app.py",
    )
    assert inv.cwd == target.root
    assert inv.env == {"SEMGREP_ENABLE_VERSION_CHECK": "0", "SEMGREP_SEND_METRICS": "off"}
    assert {0, 1, 2, 7} <= inv.ok_returncodes  # parse() tells a failed run from a good one
    assert pack.is_dir()
    assert pack.parts[-4:] == ("turbosec", "scan", "rules", "semgrep")
    assert SemgrepScanner().version_argv("/opt/semgrep") == (
        "/opt/semgrep",
        "--version",
        "--disable-version-check",
    )


def test_invocation_short_timeout_caps_semgrep_timeout(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": ""})
    inv = SemgrepScanner().invocation(Target.open(tmp_path), ScannerConfig(timeout=10), "sg")
    assert inv.argv[inv.argv.index("--timeout") + 1] == "10"


def test_invocation_with_configured_rules(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"app.py": "", "notes.txt": "", "rules/mine.yaml": "rules: []\n", "more/x.yml": ""},
    )
    extra = tmp_path.parent / f"{tmp_path.name}-abs.yaml"
    extra.write_text("rules: []\n")
    target = Target.open(tmp_path)
    inv = SemgrepScanner().invocation(
        target, ScannerConfig(rules=("rules/mine.yaml", "more", str(extra))), "sg"
    )
    configs = [inv.argv[i + 1] for i, a in enumerate(inv.argv) if a == "--config"]
    assert configs == [str(target.root / "rules/mine.yaml"), str(target.root / "more"), str(extra)]
    # custom rules may cover any language: every file goes, semgrep skips the others
    assert inv.argv[inv.argv.index("--") + 1 :] == (
        "app.py",
        "more/x.yml",
        "notes.txt",
        "rules/mine.yaml",
    )


def test_missing_rule_file_is_a_scanner_error(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": ""})
    with pytest.raises(ScannerError) as caught:
        SemgrepScanner().invocation(Target.open(tmp_path), ScannerConfig(rules=("p/python",)), "sg")
    assert "'p/python' does not exist" in caught.value.message
    assert caught.value.hint is not None
    assert "registry" in caught.value.hint


# ------------------------------------------------------------------------ real semgrep
def run_real(target: Target, config: ScannerConfig | None = None) -> tuple[int, Parsed]:
    scanner = SemgrepScanner()
    exe = str(Path(sys.executable).parent / scanner.program)
    inv = scanner.invocation(target, config or ScannerConfig(), exe)
    res = run_process(scanner.name, inv.argv, inv.cwd, inv.env, 300)
    assert res.returncode in inv.ok_returncodes, res.stderr.decode()[-2000:]
    return res.returncode, scanner.parse(res, target)


@pytest.mark.scanners
def test_real_semgrep_on_the_demo_app(demo_app: Path) -> None:
    returncode, parsed = run_real(Target.open(demo_app))
    assert returncode == 0
    assert parsed.warnings == []
    assert rows(parsed) == DEMO_ROWS


@pytest.mark.scanners
def test_real_semgrep_on_a_small_project(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "svc/handlers.py": (
                "import subprocess\n"
                "from flask import request\n"
                "\n"
                "def run():\n"
                '    cmd = "convert " + request.args["file"]\n'
                "    return subprocess.run(cmd, shell=True)\n"
                "\n"
                "def safe(name):\n"
                '    return subprocess.run(["convert", name])\n'
            ),
            "web/page.jsx": (
                "export function Bio({ html }) {\n"
                "  return <div dangerouslySetInnerHTML={{ __html: html }} />;\n"
                "}\n"
            ),
            "web/broken.js": "function (( {{{ \n",
            "vendor/lib.py": 'import os\nos.system("rm -rf " + x)\n',
        },
    )
    returncode, parsed = run_real(Target.open(tmp_path, exclude=["vendor"]))
    assert returncode == 0
    assert rows(parsed) == [
        (
            "turbosec.python.command-injection",
            "svc/handlers.py",
            6,
            12,
            6,
            43,
            "critical",
            "medium",
            (78,),
        ),
        (
            "turbosec.javascript.xss-html-sink",
            "web/page.jsx",
            2,
            10,
            2,
            60,
            "high",
            "medium",
            (79,),
        ),
    ]
    assert len(parsed.warnings) == 1
    assert parsed.warnings[0].startswith("web/broken.js: ")


@pytest.mark.scanners
def test_real_semgrep_with_a_broken_rule_fails(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "a.py": "import os\nos.system(x)\n",
            "rules.yaml": (
                "rules:\n  - id: bad\n    languages: [python]\n    severity: ERROR\n"
                "    message: m\n    pattern: os.system($X\n"
            ),
        },
    )
    with pytest.raises(ScannerError, match="Rule parse error in rule bad"):
        run_real(Target.open(tmp_path), ScannerConfig(rules=("rules.yaml",)))
