"""Suppressions: inline markers of every tool, turbosec's own marker, config entries, expiry."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator, Draft202012Validator

from turbosec.core.config import Config, SuppressRule
from turbosec.core.finding import Category, Finding, Location, Suppression
from turbosec.core.report import report_schema
from turbosec.core.severity import Severity
from turbosec.report.json import JsonFormatter
from turbosec.report.sarif import sarif_log
from turbosec.scan.runner import ScanRequest, run_scan
from turbosec.scan.suppress import Marker, apply_suppressions, parse_markers
from turbosec.scan.target import Target

TODAY = datetime.date(2026, 6, 15)


def write(root: Path, files: dict[str, str]) -> Target:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return Target.open(root)


def finding(
    tool: str = "bandit",
    rule_id: str = "B602",
    path: str = "app.py",
    line: int | None = 1,
    end_line: int | None = None,
    **changes: Any,
) -> Finding:
    base: dict[str, Any] = {
        "tool": tool,
        "rule_id": rule_id,
        "title": "t",
        "message": "m",
        "severity": Severity.HIGH,
        "category": Category.SAST,
        "location": Location(path=path, start_line=line, end_line=end_line or line),
        "fingerprint": f"fp-{tool}-{rule_id}-{path}-{line}",
    }
    base.update(changes)
    return Finding(**base)


def apply(
    findings: list[Finding],
    target: Target,
    config: Config | None = None,
    *,
    strict: bool = False,
    today: datetime.date = TODAY,
) -> tuple[list[Finding], list[str]]:
    return apply_suppressions(findings, target, config or Config(), strict=strict, today=today)


def one(findings: list[Finding], target: Target, **kwargs: Any) -> Suppression | None:
    (out,), notices = apply(findings, target, **kwargs)
    assert notices == []
    return out.suppression


# ------------------------------------------------------------------------ marker parsing
@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("x()  # nosec", [Marker("nosec", (), None, "nosec")]),
        (
            "x()  # nosec B602 - input is a constant",
            [Marker("nosec", ("B602",), "input is a constant", "nosec B602")],
        ),
        (
            "x()  #nosec: B602,B607 # why",
            [Marker("nosec", ("B602", "B607"), "why", "nosec B602, B607")],
        ),
        ("x()  # nosemgrep", [Marker("nosemgrep", (), None, "nosemgrep")]),
        (
            "x(); // nosemgrep: a.b-c, d -- reviewed by appsec",
            [Marker("nosemgrep", ("a.b-c", "d"), "reviewed by appsec", "nosemgrep: a.b-c, d")],
        ),
        ("x()  # nosem", [Marker("nosemgrep", (), None, "nosem")]),
        (
            "  #checkov:skip=CKV_AWS_20:public website",
            [Marker("checkov", ("CKV_AWS_20",), "public website", "checkov:skip=CKV_AWS_20")],
        ),
        (
            "- uses: a/b@v1 # zizmor: ignore[unpinned-uses,artipacked]",
            [
                Marker(
                    "zizmor",
                    ("unpinned-uses", "artipacked"),
                    None,
                    "zizmor: ignore[unpinned-uses,artipacked]",
                )
            ],
        ),
        (
            'KEY = "x"  # pragma: allowlist secret',
            [Marker("allowlist", (), None, "pragma: allowlist secret")],
        ),
        (
            "# pragma: allowlist nextline secret: test key",
            [Marker("allowlist-nextline", (), "test key", "pragma: allowlist nextline secret")],
        ),
        (
            "eval(x)  /* turbosec: ignore[B307, turbosec.*] trusted input */",
            [
                Marker(
                    "turbosec",
                    ("B307", "turbosec.*"),
                    "trusted input",
                    "turbosec: ignore[B307, turbosec.*]",
                )
            ],
        ),
        (
            "x()  # nosec B602 # turbosec: ignore[*] both",
            [
                Marker("nosec", ("B602",), None, "nosec B602"),
                Marker("turbosec", ("*",), "both", "turbosec: ignore[*]"),
            ],
        ),
        ("x = 'nosec'  # no marker here", []),
        ("x()  # NOSEC", []),  # bandit's marker is lower case
        ("x()  # nosecurity", []),
    ],
)
def test_parse_markers(line: str, expected: list[Marker]) -> None:
    assert parse_markers(line) == expected


# ----------------------------------------------------------------------- tool markers
def test_nosec_applies_to_bandit_only(tmp_path: Path) -> None:
    target = write(tmp_path, {"app.py": "run(cmd, shell=True)  # nosec B602 - constant\n"})
    bandit = finding("bandit", "B602")
    semgrep = finding("semgrep", "turbosec.python.command-injection")
    out, notices = apply([bandit, semgrep], target)
    assert notices == []
    assert out[0].suppression == Suppression(
        kind="inline", reason="constant", source="app.py:1: nosec B602"
    )
    assert out[1].suppression is None
    assert out[1] is semgrep  # untouched findings are the same objects


@pytest.mark.parametrize(
    ("comment", "rule", "suppressed"),
    [
        ("# nosec", "B602", True),
        ("# nosec B602,B607", "B607", True),
        ("# nosec B602", "B607", False),
        ("# nosec b602", "B602", True),
        ("# nosec subprocess_popen_with_shell_equals_true", "B602", True),  # a test name
        ("# nosec hardcoded_password_string", "B602", False),
    ],
)
def test_nosec_test_ids(tmp_path: Path, comment: str, rule: str, suppressed: bool) -> None:
    target = write(tmp_path, {"app.py": f"x = 1  {comment}\n"})
    raw = {"test_name": "subprocess_popen_with_shell_equals_true"}
    assert (one([finding("bandit", rule, raw=raw)], target) is not None) is suppressed


def test_nosec_inside_a_multi_line_call(tmp_path: Path) -> None:
    # bandit reports the node's range 1-4 and line_number 3 (where shell=True is)
    source = "subprocess.run(\n    cmd,\n    shell=True,  # nosec B602 - fixed argv\n)\n"
    target = write(tmp_path, {"app.py": source})
    f = finding("bandit", "B602", line=1, end_line=4, raw={"line_number": 3})
    sup = one([f], target)
    assert sup is not None
    assert (sup.reason, sup.source) == ("fixed argv", "app.py:3: nosec B602")
    # turbosec's own marker counts only on the first line or a comment line above
    target = write(tmp_path, {"app.py": source.replace("# nosec B602", "# turbosec: ignore[*]")})
    assert one([f], target) is None


@pytest.mark.parametrize(
    ("path", "text", "rule", "suppressed"),
    [
        ("app.py", "x  # nosemgrep\n", "turbosec.python.sql-injection", True),
        ("app.py", "x  # nosemgrep: sql-injection\n", "turbosec.python.sql-injection", True),
        (
            "app.py",
            "x  # nosemgrep: turbosec.python.sql-injection\n",
            "turbosec.python.sql-injection",
            True,
        ),
        ("app.py", "x  # nosemgrep: injection\n", "turbosec.python.sql-injection", False),
        ("app.py", "x  # nosemgrep: other-rule\n", "turbosec.python.sql-injection", False),
        ("web/a.js", "el.innerHTML = t; // nosemgrep\n", "turbosec.javascript.xss", True),
        ("web/a.ts", "q(sql) /* nosemgrep */\n", "turbosec.javascript.sql-injection", True),
    ],
)
def test_nosemgrep(tmp_path: Path, path: str, text: str, rule: str, suppressed: bool) -> None:
    target = write(tmp_path, {path: text})
    assert (one([finding("semgrep", rule, path=path)], target) is not None) is suppressed
    # never for another tool's finding
    assert one([finding("bandit", "B608", path=path)], target) is None


def test_nosemgrep_on_the_comment_line_above(tmp_path: Path) -> None:
    source = (
        "def rows(cursor, user_id):\n"
        "    # nosemgrep: sql-injection - user_id is an int from the session\n"
        '    cursor.execute("SELECT %d" % user_id)\n'
        "    x = 1  # nosemgrep\n"
        "    cursor.execute(q)\n"
    )
    target = write(tmp_path, {"web/views.py": source})
    rule = "turbosec.python.sql-injection"
    sup = one([finding("semgrep", rule, path="web/views.py", line=3)], target)
    assert sup is not None
    assert sup.reason == "user_id is an int from the session"
    assert sup.source == "web/views.py:2: nosemgrep: sql-injection"
    # a marker at the end of a code line above does not reach the next line
    assert one([finding("semgrep", rule, path="web/views.py", line=5)], target) is None


def test_checkov_skip_comment_in_the_resource(tmp_path: Path) -> None:
    source = (
        'resource "aws_s3_bucket" "logs" {\n'
        "  #checkov:skip=CKV_AWS_20:hosts the public website\n"
        '  acl = "public-read"\n'
        "}\n"
    )
    target = write(tmp_path, {"infra/main.tf": source})
    f = finding("checkov", "CKV_AWS_20", path="infra/main.tf", line=1, end_line=4)
    sup = one([f], target)
    assert sup is not None and sup.reason == "hosts the public website"
    other = finding("checkov", "CKV_AWS_18", path="infra/main.tf", line=1, end_line=4)
    assert one([other], target) is None


def test_zizmor_ignore_comment(tmp_path: Path) -> None:
    source = (
        "    steps:\n"
        '      - run: echo "${{ github.event.head_commit.message }}" '
        "# zizmor: ignore[template-injection] only echoed\n"
    )
    target = write(tmp_path, {".github/workflows/ci.yml": source})
    path = ".github/workflows/ci.yml"
    sup = one([finding("zizmor", "template-injection", path=path, line=2)], target)
    assert sup is not None and sup.reason == "only echoed"
    assert one([finding("zizmor", "unpinned-uses", path=path, line=2)], target) is None
    assert one([finding("semgrep", "template-injection", path=path, line=2)], target) is None


def test_allowlist_secret_applies_to_secret_findings(tmp_path: Path) -> None:
    source = (
        'AWS = "AKIA..."  # pragma: allowlist secret - documented example key\n'
        "# pragma: allowlist nextline secret\n"
        'TOKEN = "ghp_..."\n'
        'PASSWORD = "x"  # pragma: allowlist nextline secret\n'
        'OTHER = "y"\n'
    )
    target = write(tmp_path, {"conf.py": source})

    def secret(tool: str, line: int) -> Finding:
        return finding(tool, "aws-access-key", path="conf.py", line=line, category=Category.SECRET)

    sup = one([secret("detect-secrets", 1)], target)
    assert sup is not None and sup.reason == "documented example key"
    assert one([secret("gitleaks", 1)], target) is not None  # any secret scanner
    assert one([secret("detect-secrets", 3)], target) is not None  # nextline, from above
    assert one([secret("detect-secrets", 5)], target) is None  # "nextline" on a code line
    # not for a SAST finding on the same line
    assert one([finding("bandit", "B105", path="conf.py", line=1)], target) is None


# ---------------------------------------------------------------------- turbosec marker
@pytest.mark.parametrize(
    ("path", "text", "tool", "rule", "reason"),
    [
        ("app.py", "x  # turbosec: ignore[B602] constant\n", "bandit", "B602", "constant"),
        ("app.py", "x  # turbosec: ignore[B101, B602] ok\n", "bandit", "B602", "ok"),
        (
            "app.py",
            "x  # turbosec: ignore[turbosec.python.*] reviewed\n",
            "semgrep",
            "turbosec.python.ssrf",
            "reviewed",
        ),
        ("app.py", "x  # turbosec: ignore[*]\n", "pip-audit", "PYSEC-1", None),
        ("web/a.js", "x(); // turbosec: ignore[r1] see SEC-3\n", "semgrep", "r1", "see SEC-3"),
        ("ci.yml", "run: x  # turbosec: ignore[artipacked] fine\n", "zizmor", "artipacked", "fine"),
        (
            "Dockerfile",
            "ADD a b  # turbosec: ignore[CKV_DOCKER_4]\n",
            "checkov",
            "CKV_DOCKER_4",
            None,
        ),
        ("pyproject.toml", 'k = "v"  # turbosec: ignore[S1] toml\n', "trivy", "S1", "toml"),
    ],
)
def test_turbosec_marker_any_tool(
    tmp_path: Path, path: str, text: str, tool: str, rule: str, reason: str | None
) -> None:
    target = write(tmp_path, {path: text})
    sup = one([finding(tool, rule, path=path)], target)
    assert sup is not None
    assert (sup.kind, sup.reason) == ("inline", reason)
    assert sup.source.startswith(f"{path}:1: turbosec: ignore[")


def test_turbosec_marker_rule_must_match(tmp_path: Path) -> None:
    target = write(tmp_path, {"app.py": "x  # turbosec: ignore[B101] asserts are fine\n"})
    assert one([finding("bandit", "B602")], target) is None
    assert one([finding("bandit", "B1011")], target) is None  # a glob, not a prefix


def test_turbosec_marker_above_only_on_a_comment_line(tmp_path: Path) -> None:
    source = (
        "# turbosec: ignore[B602] reviewed with appsec\n"
        "call(cmd, shell=True)\n"
        "x = 1  # turbosec: ignore[B602] applies to this line only\n"
        "call(cmd, shell=True)\n"
    )
    target = write(tmp_path, {"app.py": source})
    out, _ = apply([finding(line=2), finding(line=4)], target)
    assert out[0].suppression is not None
    assert out[0].suppression.source == "app.py:1: turbosec: ignore[B602]"
    assert out[1].suppression is None


def test_unreadable_or_unlocated_findings_are_left_alone(tmp_path: Path) -> None:
    target = write(tmp_path, {"app.py": "x  # nosec\n"})
    missing = finding(path="gone.py")
    no_location = finding(location=None)
    no_line = finding(line=None)
    past_end = finding(line=9)
    out, notices = apply([missing, no_location, no_line, past_end], target)
    assert notices == []
    assert all(f.suppression is None for f in out)


# --------------------------------------------------------------------------- strict mode
def test_strict_mode_needs_a_reason(tmp_path: Path) -> None:
    source = (
        "call(a, shell=True)  # nosec\n"
        "call(b, shell=True)  # nosec B602 - fixed input\n"
        "call(c, shell=True)  # nosec # turbosec: ignore[B602] tracked in SEC-9\n"
    )
    target = write(tmp_path, {"app.py": source})
    findings = [finding(line=1), finding(line=2), finding(line=3)]
    out, notices = apply(findings, target, strict=True)
    assert [f.suppression.reason if f.suppression else None for f in out] == [
        None,
        "fixed input",
        "tracked in SEC-9",
    ]
    assert notices == [
        "inline marker `nosec` without a reason at app.py:1 does not suppress "
        "(--strict-suppressions)",
        "inline marker `nosec` without a reason at app.py:3 does not suppress "
        "(--strict-suppressions)",
    ]
    # not strict: a marker without a reason suppresses
    out, notices = apply(findings, target)
    assert notices == []
    assert all(f.suppression is not None for f in out)
    assert out[0].suppression is not None and out[0].suppression.reason is None


def test_strict_mode_and_suppressions_from_the_tool(tmp_path: Path) -> None:
    target = write(tmp_path, {"main.tf": 'resource "x" "y" {\n}\n'})
    skipped = Suppression(kind="inline", reason=None, source="main.tf: checkov:skip=CKV_X_1")
    with_reason = Suppression(kind="inline", reason="ok", source="main.tf: checkov:skip=CKV_X_2")
    a = finding("checkov", "CKV_X_1", path="main.tf", suppression=skipped)
    b = finding("checkov", "CKV_X_2", path="main.tf", suppression=with_reason)
    out, notices = apply([a, b], target)
    assert (out[0].suppression, out[1].suppression, notices) == (skipped, with_reason, [])
    out, notices = apply([a, b], target, strict=True)
    assert (out[0].suppression, out[1].suppression) == (None, with_reason)
    assert notices == [
        "inline marker main.tf: checkov:skip=CKV_X_1 without a reason at main.tf:1 does not "
        "suppress (--strict-suppressions)"
    ]


def test_strict_mode_leaves_config_suppressions(tmp_path: Path) -> None:
    target = write(tmp_path, {"app.py": "x\n"})
    config = Config(suppress=(SuppressRule(rule="B602", reason="accepted"),))
    out, notices = apply([finding()], target, config, strict=True)
    assert out[0].suppression is not None and out[0].suppression.kind == "config"
    assert notices == []


# ------------------------------------------------------------------------ configuration
def rule(**fields: Any) -> SuppressRule:
    fields.setdefault("reason", "accepted risk")
    return SuppressRule(**fields)


@pytest.mark.parametrize(
    ("selectors", "matches"),
    [
        ({"rule": "B602"}, [True, False, False, False]),
        ({"rule": "B6*"}, [True, True, False, False]),
        ({"rule": "turbosec.python.*"}, [False, False, True, False]),
        ({"path": "app.py"}, [True, True, False, False]),
        ({"path": "web/**"}, [False, False, True, True]),
        ({"path": "*.js"}, [False, False, False, True]),
        ({"fingerprint": "fp-semgrep-r-js-web/a.js-3"}, [False, False, False, True]),
        ({"tool": "semgrep", "path": "web"}, [False, False, True, True]),
        ({"tool": "semgrep", "rule": "B602"}, [False, False, False, False]),
        ({"rule": "B6*", "path": "web/**"}, [False, False, False, False]),
    ],
)
def test_config_selectors(tmp_path: Path, selectors: dict[str, str], matches: list[bool]) -> None:
    target = write(tmp_path, {"app.py": "\n" * 5, "web/v.py": "\n" * 5, "web/a.js": "\n" * 5})
    findings = [
        finding("bandit", "B602", "app.py", 1),
        finding("bandit", "B608", "app.py", 2),
        finding("semgrep", "turbosec.python.ssrf", "web/v.py", 3),
        finding("semgrep", "r-js", "web/a.js", 3),
    ]
    out, notices = apply(findings, target, Config(suppress=(rule(**selectors),)))
    assert [f.suppression is not None for f in out] == matches
    if any(matches):
        assert notices == []
        sup = next(f.suppression for f in out if f.suppression)
        assert sup.kind == "config"
        assert sup.reason == "accepted risk"
        assert sup.source.startswith("[[suppress]] #1 (")
    else:
        assert notices == [
            "suppression #1 (accepted risk) in the configuration matches no finding: remove it"
        ]


def test_first_matching_entry_wins_and_inline_comes_first(tmp_path: Path) -> None:
    target = write(tmp_path, {"app.py": "a\nb  # nosec - inline reason\n"})
    config = Config(
        suppress=(
            rule(rule="B602", reason="first", owner="appsec", expires=datetime.date(2027, 1, 1)),
            rule(path="app.py", reason="second"),
        )
    )
    out, notices = apply([finding(line=1), finding(line=2)], target, config)
    assert out[0].suppression == Suppression(
        kind="config",
        reason="first",
        source="[[suppress]] #1 (rule = B602)",
        expires="2027-01-01",
        owner="appsec",
    )
    assert out[1].suppression is not None
    assert out[1].suppression.kind == "inline"
    # both entries matched something: neither is stale
    assert notices == []


def test_expiry(tmp_path: Path) -> None:
    target = write(tmp_path, {"app.py": "a\nb\n"})
    entry = rule(
        rule="B602", path="app.py", reason="tracked in SEC-1", owner="appsec", expires=TODAY
    )
    config = Config(suppress=(entry,))
    # on the expiry date itself it still suppresses
    out, notices = apply([finding()], target, config, today=TODAY)
    assert out[0].suppression is not None and notices == []
    assert out[0].suppression.expires == TODAY.isoformat()
    # the day after it no longer does, and says so
    later = TODAY + datetime.timedelta(days=1)
    out, notices = apply([finding(), finding(line=2)], target, config, today=later)
    assert [f.suppression for f in out] == [None, None]
    assert notices == [
        "suppression of B602 in app.py (reason 'tracked in SEC-1', owner appsec) expired on "
        "2026-06-15: it no longer suppresses 2 findings"
    ]


def test_expired_entry_names_what_it_matched_and_falls_through(tmp_path: Path) -> None:
    target = write(tmp_path, {"app.py": "a\n", "lib.py": "b\n"})
    config = Config(
        suppress=(
            rule(path="*.py", reason="old", expires=datetime.date(2020, 1, 1)),
            rule(rule="B608", reason="current"),
        )
    )
    out, notices = apply(
        [finding(rule_id="B602"), finding(rule_id="B608", path="lib.py")], target, config
    )
    assert out[0].suppression is None
    assert out[1].suppression is not None and out[1].suppression.reason == "current"
    assert notices == [
        "suppression of B602, B608 in *.py (reason 'old') expired on 2020-01-01: "
        "it no longer suppresses 2 findings"
    ]


def test_stale_entries(tmp_path: Path) -> None:
    target = write(tmp_path, {"app.py": "a\n"})
    config = Config(
        suppress=(
            rule(rule="B602", reason="used"),
            rule(rule="CKV_AWS_20", reason="bucket is public on purpose"),
            rule(path="gone/**", reason="old module", expires=datetime.date(2020, 1, 1)),
        )
    )
    out, notices = apply([finding()], target, config)
    assert out[0].suppression is not None
    # an expired entry that matches nothing is stale, not "expired"
    assert notices == [
        "suppression #2 (bucket is public on purpose) in the configuration matches no "
        "finding: remove it",
        "suppression #3 (old module) in the configuration matches no finding: remove it",
    ]


def test_order_is_kept_and_today_defaults_to_now(tmp_path: Path) -> None:
    target = write(tmp_path, {"app.py": "a  # nosec\nb\nc  # nosec\n"})
    findings = [finding(line=3), finding(line=2), finding(line=1)]
    config = Config(suppress=(rule(rule="B602", expires=datetime.date(2999, 1, 1)),))
    out, notices = apply_suppressions(findings, target, config)
    assert [f.location.start_line for f in out if f.location] == [3, 2, 1]
    assert [f.suppression.kind for f in out if f.suppression] == ["inline", "config", "inline"]
    assert notices == []


# ------------------------------------------------------------------------- end to end
APP = """\
import subprocess
import tempfile


def scratch():
    return tempfile.mktemp()  # nosec B306 - name only, never opened


def run(cmd):
    subprocess.call(cmd, shell=True)  # turbosec: ignore[RULES] cmd comes from a constant table
""".replace("RULES", "B602, turbosec.python.command-injection")

JS = """\
function show(text) {
  document.getElementById("m").innerHTML = text; // nosemgrep: RULE -- escaped by the caller
}
""".replace("RULE", "turbosec.javascript.xss-html-sink")


@pytest.mark.scanners
def test_end_to_end_with_bandit_and_semgrep(
    tmp_path: Path, sarif_schema: dict[str, object]
) -> None:
    root = tmp_path / "project"
    write(root, {"app.py": APP, "web/show.js": JS})
    config = Config(fail_on="medium")
    request = ScanRequest(root=root, config=config, only=("bandit", "semgrep"), today=TODAY)
    outcome = run_scan(request)
    assert outcome.failures == []
    report = outcome.report
    assert outcome.exit_code == 0, report.verdict
    assert report.verdict is not None and report.verdict.passed

    document = json.loads(JsonFormatter().render(report))
    validator = Draft202012Validator(report_schema())
    assert list(validator.iter_errors(document)) == []
    by_line = {
        (f["location"]["path"], f["location"]["start_line"], f["rule_id"]): f
        for f in document["findings"]
    }
    nosec = by_line[("app.py", 6, "B306")]
    assert nosec["suppression"] == {
        "kind": "inline",
        "reason": "name only, never opened",
        "source": "app.py:6: nosec B306",
        "expires": None,
        "owner": None,
    }
    # bandit B602 and semgrep's command injection are one problem (CWE-78, same line):
    # the marker names both rules, so whichever is kept is suppressed
    shell = [f for (path, line, _), f in by_line.items() if (path, line) == ("app.py", 10)]
    assert len(shell) == 1
    assert shell[0]["suppression"]["reason"] == "cmd comes from a constant table"
    assert shell[0]["suppression"]["source"].startswith("app.py:10: turbosec: ignore[")
    xss = by_line[("web/show.js", 2, "turbosec.javascript.xss-html-sink")]
    assert xss["suppression"]["reason"] == "escaped by the caller"
    # the only unsuppressed finding is bandit's low "import subprocess" (B404)
    assert [f["rule_id"] for f in document["findings"] if f["suppression"] is None] == ["B404"]

    sarif = sarif_log(report)
    errors = list(Draft4Validator(sarif_schema).iter_errors(sarif))
    assert errors == []
    suppressed = {
        r["ruleId"]: r["suppressions"]
        for run in sarif["runs"]
        for r in run.get("results", [])
        if r.get("suppressions")
    }
    assert suppressed["B306"] == [
        {
            "kind": "inSource",
            "status": "accepted",
            "justification": "name only, never opened",
            "properties": {"source": "app.py:6: nosec B306"},
        }
    ]
    assert suppressed[shell[0]["rule_id"]][0]["justification"] == (
        "cmd comes from a constant table"
    )
    assert suppressed["turbosec.javascript.xss-html-sink"][0]["kind"] == "inSource"

    # Without the markers the same project fails the gate.
    stripped = "".join(line.split("  #")[0] + "\n" for line in APP.splitlines())
    write(root, {"app.py": stripped, "web/show.js": JS.replace("// nosemgrep", "//")})
    failed = run_scan(request)
    assert failed.exit_code == 1
    assert all(f.suppression is None for f in failed.report.findings)


def test_applying_twice_gives_the_same_result(tmp_path: Path) -> None:
    target = write(tmp_path, {"app.py": "a  # nosec - fine\nb\n"})
    config = Config(suppress=(rule(rule="B602", expires=datetime.date(2026, 7, 1)),))
    first, _ = apply([finding(line=1), finding(line=2)], target, config)
    again, notices = apply(first, target, config)
    assert again == first and notices == []
    # a configuration suppression carried over from an earlier pass is judged afresh
    later, notices = apply(first, target, config, today=datetime.date(2026, 8, 1))
    assert later[0].suppression == first[0].suppression  # inline: unchanged
    assert later[1].suppression is None
    assert len(notices) == 1 and "expired on 2026-07-01" in notices[0]


def test_a_tool_marker_does_not_silence_the_other_tools_of_a_merged_finding(
    tmp_path: Path,
) -> None:
    # de-duplication kept bandit's finding and folded semgrep's into it
    merged = finding("bandit", "B324", also_reported_by=("semgrep",))
    target = write(tmp_path, {"app.py": "hashlib.md5(x)  # nosec - checksum only\n"})
    assert one([merged], target) is None
    target = write(tmp_path, {"app.py": "hashlib.md5(x)  # nosec - checksum # nosemgrep\n"})
    sup = one([merged], target)
    assert sup is not None and sup.reason == "checksum"
    # a tool without a marker of its own can only be covered by turbosec's marker
    imported = finding("bandit", "B324", also_reported_by=("trivy",))
    assert one([imported], target) is None
    target = write(tmp_path, {"app.py": "hashlib.md5(x)  # turbosec: ignore[B324] checksum\n"})
    assert one([imported], target) is not None


def test_partial_runs_judge_staleness_only_for_the_tools_that_ran(tmp_path: Path) -> None:
    from turbosec.core.config import parse_config
    from turbosec.scan.suppress import apply_suppressions as apply
    from turbosec.scan.target import Target as _Target

    config = parse_config(
        {
            "suppress": [
                {"rule": "CKV_AWS_20", "tool": "checkov", "reason": "legacy bucket"},
                {"rule": "B999", "tool": "bandit", "reason": "gone"},
                {"rule": "X1", "reason": "no tool named"},
            ]
        },
        "turbosec.toml",
    )
    target = _Target.open(tmp_path)
    _, full = apply([], target, config)
    assert len([n for n in full if "matches no finding" in n]) == 3
    _, partial = apply([], target, config, ran={"bandit"})
    stale = [n for n in partial if "matches no finding" in n]
    assert stale == ["suppression #2 (gone) in the configuration matches no finding: remove it"]
