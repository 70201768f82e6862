"""Scan reports shaped like real gate runs, for every output format.

The findings follow what the adapters produce from real tool output (bandit, semgrep,
detect-secrets, pip-audit, zizmor, an imported trivy report); one scanner (checkov)
failed with a traceback that holds terminal escape sequences.  Text fields carry the
characters that break naive formatters: Markdown and HTML syntax, XML specials, workflow
command syntax, newlines, unicode outside the BMP, and a right-to-left override.
"""

from __future__ import annotations

from turbosec.core.finding import Category, Confidence, Finding, Location, Package
from turbosec.core.fingerprint import assign_fingerprints
from turbosec.core.report import RepoInfo, ScanReport, ToolRun, ToolStatus, Verdict
from turbosec.core.severity import Severity

NASTY_MESSAGE = (
    "User input flows into `cursor.execute()` | <script>alert('x')</script> & "
    "[click](https://evil.example) ![img](https://evil.example/t.png) @octocat $x^2$ "
    "**bold** ~~gone~~ 100% done,\nsecond line:: with ::error::injected\r\n"
    "::set-output name=x::y [bold red]rich markup[/] \x1b[31mred\x1b[0m "
    "unicode: Ünïcødé ✓ 🐍 \u202eevil"
)


def _findings() -> list[Finding]:
    findings = [
        Finding(
            tool="semgrep",
            rule_id="python.django.security.injection.sql.sql-injection-using-raw",
            title="SQL injection: user input in a raw query",
            message=NASTY_MESSAGE,
            severity=Severity.CRITICAL,
            category=Category.SAST,
            confidence=Confidence.HIGH,
            location=Location(
                path="app/views.py",
                start_line=42,
                start_column=9,
                end_line=43,
                end_column=31,
                snippet='cursor.execute("SELECT * FROM t WHERE id = %s" % request.GET["id"])',
            ),
            cwe=(89,),
            references=(
                "https://owasp.org/Top10/A03_2021-Injection",
                "not a url <b>bold</b>",
            ),
            fix_hint="Use parameterised queries: cursor.execute(sql, [value]) — never `%`.",
            also_reported_by=("bandit",),
        ),
        Finding(
            tool="bandit",
            rule_id="B602",
            title="subprocess call with shell=True identified, security issue.",
            message="subprocess call with shell=True identified, security issue.",
            severity=Severity.HIGH,
            category=Category.SAST,
            confidence=Confidence.HIGH,
            location=Location(
                path="app/tasks.py", start_line=17, start_column=5, end_line=17, end_column=44
            ),
            cwe=(78,),
            references=(
                "https://bandit.readthedocs.io/en/1.7.9/plugins/b602_subprocess_popen_with_shell_equals_true.html",
            ),
            fix_hint="Pass the command as a list and drop shell=True.",
        ),
        Finding(
            tool="bandit",
            rule_id="B602",
            title="subprocess call with shell=True identified, security issue.",
            message="subprocess call with shell=True identified, security issue.",
            severity=Severity.MEDIUM,
            category=Category.SAST,
            confidence=Confidence.MEDIUM,
            location=Location(path="app/tasks.py", start_line=30, start_column=5),
            cwe=(78,),
        ),
        Finding(
            tool="bandit",
            rule_id="B105",
            title="Possible hardcoded password: 'hunter2'",
            message="Possible hardcoded password: 'hunter2'",
            severity=Severity.LOW,
            category=Category.SAST,
            confidence=Confidence.MEDIUM,
            location=Location(path="app/settings dev/config #1.py", start_line=3, start_column=12),
            cwe=(259,),
        ),
        Finding(
            tool="semgrep",
            rule_id="yaml.github-actions.security.run-shell-injection.run-shell-injection",
            title="Untrusted GitHub context used in a run: step",
            message="${{ github.event.pull_request.title }} is interpolated into a shell script",
            severity=Severity.HIGH,
            category=Category.PIPELINE,
            confidence=Confidence.HIGH,
            location=Location(
                path=".github/workflows/ci.yml",
                start_line=24,
                start_column=9,
                end_line=26,
                end_column=3,
            ),
            cwe=(78,),
            fix_hint="Pass the value through an env: variable and quote it in the script.",
        ),
        Finding(
            tool="semgrep",
            rule_id="python.lang.best-practice.open-never-closed",
            title="file object opened without a with statement",
            message="file object opened without a with statement",
            severity=Severity.INFO,
            category=Category.SAST,
            confidence=Confidence.LOW,
            location=Location(path="app/util.py", start_line=5, start_column=1, end_column=20),
        ),
        Finding(
            tool="detect-secrets",
            rule_id="AWS Access Key",
            title="AWS Access Key",
            message="AWS Access Key: AKIA************MPLE",
            severity=Severity.HIGH,
            category=Category.SECRET,
            confidence=Confidence.HIGH,
            location=Location(
                path="config/aws.env", start_line=2, snippet="AWS_KEY=AKIA************MPLE"
            ),
            cwe=(798,),
            fix_hint="Revoke the key, then load it from the environment or a secret store.",
            secret_hash="sha256$" + "ab" * 8 + "$" + "0f" * 32,
        ),
        Finding(
            tool="pip-audit",
            rule_id="PYSEC-2019-217",
            title="jinja2 2.10: sandbox escape via str.format",
            message="In Pallets Jinja before 2.10.1, str.format_map allows a sandbox escape.",
            severity=Severity.HIGH,
            category=Category.DEPENDENCY,
            confidence=Confidence.HIGH,
            location=Location(path="requirements.txt"),
            advisories=("PYSEC-2019-217", "CVE-2019-10906", "GHSA-462w-v97r-4m45"),
            package=Package("PyPI", "jinja2", "2.10", ("2.10.1",)),
            fix_hint="Upgrade jinja2 to 2.10.1 or later.",
        ),
        Finding(
            tool="trivy",
            rule_id="DS002",
            title="Image user should not be 'root'",
            message="Specify at least 1 USER command in Dockerfile with non-root user as argument",
            severity=Severity.HIGH,
            category=Category.IAC,
            confidence=Confidence.MEDIUM,
            location=Location(path="Dockerfile", start_line=1, end_line=12),
            references=("https://avd.aquasec.com/misconfig/ds002",),
            fix_hint="Add 'USER <non root user name>' line to the Dockerfile",
        ),
        Finding(
            tool="trivy",
            rule_id="CVE-2023-5363",
            title="openssl: incorrect cipher key and IV length processing",
            message="Issue summary: A bug has been identified in the processing of key lengths.",
            severity=Severity.MEDIUM,
            category=Category.DEPENDENCY,
            confidence=Confidence.HIGH,
            location=None,
            advisories=("CVE-2023-5363",),
            package=Package("debian", "libssl3", "3.0.11-1~deb12u1", ("3.0.11-1~deb12u2",)),
        ),
    ]
    return assign_fingerprints(findings, None)


def _tools() -> tuple[ToolRun, ...]:
    return (
        ToolRun("bandit", "1.7.9", ToolStatus.OK, 0.84, 3, command=("bandit", "-r", ".")),
        ToolRun("semgrep", "1.85.0", ToolStatus.OK, 6.2, 3),
        ToolRun("detect-secrets", "1.5.0", ToolStatus.OK, 1.1, 1),
        ToolRun("pip-audit", "2.7.3", ToolStatus.OK, 3.4, 1),
        ToolRun(
            "checkov",
            "3.2.255",
            ToolStatus.FAILED,
            12.5,
            0,
            error=(
                "checkov exited with code 1:\nTraceback (most recent call last):\n"
                '  File "<frozen runpy>", line 198\n'
                '\x1b[31mValueError\x1b[0m: bad <input> & "quote"'
            ),
            command=("checkov", "-d", ".", "-o", "json"),
        ),
        ToolRun("zizmor", "1.1.1", ToolStatus.OK, 0.2, 0),
        ToolRun("trivy", "0.52.0", ToolStatus.IMPORTED, 0.0, 2),
        ToolRun("gitleaks", None, ToolStatus.SKIPPED, 0.0, 0, error="not enabled"),
    )


def make_report(
    findings: list[Finding] | None = None,
    tools: tuple[ToolRun, ...] | None = None,
    verdict: Verdict | None = None,
    errors: tuple[str, ...] = (),
) -> ScanReport:
    return ScanReport(
        repo=RepoInfo(
            name="acme/shop",
            commit="3f2c9a1b7e4d5c6a8b9f0e1d2c3b4a5968776655",
            branch="feature/checkout",
            remote="https://ci-bot:ghp_secrettoken@github.com/acme/shop.git",
        ),
        started_at="2025-11-27T10:15:00+00:00",
        finished_at="2025-11-27T10:15:14.500000+00:00",
        duration_s=14.5,
        tools=_tools() if tools is None else tools,
        findings=tuple(_findings() if findings is None else findings),
        verdict=verdict,
        turbosec_version="0.1.0",
        errors=errors,
    )
