"""Evidence for the controls of the demo app's threat model (examples/demo-app/threatmodel.yaml).

Each test runs the demo app's own code (``security_log.py``'s ``/login`` view, through a
stand-in for Flask, which is not a turbosec dependency) in a private copy of the app and
checks what the control in the model promises:

* ``ctl-login-security-events`` (audit_logging): every login attempt, failed or not, is
  written as an OWASP Logging Vocabulary event with who, from where and when -- and never
  with the password;
* ``ctl-login-failure-monitoring`` (monitoring): ``turbosec watch``'s built-in rules raise a
  brute-force alert from those events when one account fails too often from one address,
  and not for a user who mistypes a password twice.

The deliberate flaws of the demo (SQL injection, command injection, pickle, MD5, debug
mode, hard-coded secrets) have no control: their threats stay open in the model.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import yaml

from turbosec.watch.rules.loader import load_rules
from turbosec.watch.runner import replay

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "examples" / "demo-app" / "threatmodel.yaml"
GOOD_PHRASE = "correct horse battery"  # what the demo user types to log in
WRONG_PHRASE = "Tr0ub4dor&3-wrong"

# Flask is not a turbosec dependency: a stand-in with the few names the demo uses.
FLASK_STUB = """
class Flask:
    def __init__(self, name):
        self.routes = {}

    def route(self, path, methods=None):
        def register(view):
            self.routes[path] = view
            return view
        return register


class _Request:
    form = {}
    remote_addr = "203.0.113.9"
    headers = {"User-Agent": "demo-test/1.0"}
    path = "/login"
    method = "POST"


request = _Request()
"""

# Runs in the demo app's directory: creates the user table, then replays the attempts given
# as JSON on argv[1] ([[name, password, address], ...]); prints each response.
DRIVER = """
import json
import sys

import security_log
from flask import request

security_log.DB.execute("CREATE TABLE users (name TEXT, password_hash TEXT)")
security_log.DB.execute(
    "INSERT INTO users VALUES (?, ?)", ("joe", security_log.hash_password(sys.argv[2]))
)
login = security_log.app.routes["/login"]
for name, password, address in json.loads(sys.argv[1]):
    request.form = {"name": name, "password": password}
    request.remote_addr = address
    print(json.dumps(login()))
"""


def _login(demo_app: Path, tmp_path: Path, attempts: list[tuple[str, str, str]]) -> list[Any]:
    """Run the demo's /login view for each attempt; the parsed responses."""
    stubs = tmp_path / "stubs"
    stubs.mkdir(exist_ok=True)
    (stubs / "flask.py").write_text(textwrap.dedent(FLASK_STUB))
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(attempts), GOOD_PHRASE],
        cwd=demo_app,
        env={"PYTHONPATH": f"{demo_app}:{stubs}:{REPO / 'src'}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def _events(demo_app: Path) -> list[dict[str, Any]]:
    path = demo_app / "security-events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_model_names_these_tests_as_evidence() -> None:
    """The model's controls point at the tests of this file, and at nothing missing."""
    model = yaml.safe_load(MODEL.read_text())
    here = Path(__file__).relative_to(REPO).as_posix()
    names = {name for name in dir(sys.modules[__name__]) if name.startswith("test_")}
    cited = {
        test.split("::", 1)[1]
        for control in model["controls"]
        for test in control.get("evidence", {}).get("tests", [])
        if test.startswith(f"{here}::")
    }
    assert cited, "the demo model cites no test of this file"
    assert cited <= names


def test_failed_login_is_logged_as_authn_login_fail(demo_app: Path, tmp_path: Path) -> None:
    responses = _login(demo_app, tmp_path, [("joe", WRONG_PHRASE, "203.0.113.9")])
    assert responses == [[{"ok": False}, 401]]
    (event,) = _events(demo_app)
    assert event["event"] == "authn_login_fail:joe"
    assert event["level"] == "WARN"
    assert event["appid"] == "demo-app"
    assert event["source_ip"] == "203.0.113.9"
    assert event["request_uri"] == "/login"
    assert event["request_method"] == "POST"
    assert event["datetime"]  # when


def test_unknown_user_login_is_logged_as_a_failure(demo_app: Path, tmp_path: Path) -> None:
    responses = _login(demo_app, tmp_path, [("mallory", WRONG_PHRASE, "198.51.100.7")])
    assert responses == [[{"ok": False}, 401]]
    (event,) = _events(demo_app)
    assert event["event"] == "authn_login_fail:mallory"
    assert event["source_ip"] == "198.51.100.7"


def test_successful_login_is_logged_as_authn_login_success(demo_app: Path, tmp_path: Path) -> None:
    responses = _login(demo_app, tmp_path, [("joe", GOOD_PHRASE, "203.0.113.9")])
    assert responses == [{"ok": True}]
    (event,) = _events(demo_app)
    assert event["event"] == "authn_login_success:joe"
    assert event["appid"] == "demo-app"
    assert event["source_ip"] == "203.0.113.9"


def test_login_events_never_contain_the_password(demo_app: Path, tmp_path: Path) -> None:
    _login(
        demo_app,
        tmp_path,
        [("joe", WRONG_PHRASE, "203.0.113.9"), ("joe", GOOD_PHRASE, "203.0.113.9")],
    )
    text = (demo_app / "security-events.jsonl").read_text()
    assert len(text.splitlines()) == 2
    assert GOOD_PHRASE not in text
    assert WRONG_PHRASE not in text


def _brute_force_alerts(demo_app: Path) -> list[Any]:
    rules = load_rules([], builtin=True)
    result = replay(rules, [str(demo_app / "security-events.jsonl")])
    return [a for a in result.alerts if "brute" in a.title.lower()]


def test_repeated_login_failures_raise_a_brute_force_alert(demo_app: Path, tmp_path: Path) -> None:
    attempts = [("joe", f"{WRONG_PHRASE}{i}", "203.0.113.66") for i in range(12)]
    _login(demo_app, tmp_path, attempts)
    alerts = _brute_force_alerts(demo_app)
    assert alerts, "twelve failed logins for one account from one address raised no alert"
    groups = [a.group_dict for a in alerts]
    assert any(g.get("source_ip") == "203.0.113.66" for g in groups), groups
    assert all(a.count >= 10 for a in alerts)


def test_a_mistyped_password_raises_no_alert(demo_app: Path, tmp_path: Path) -> None:
    attempts = [
        ("joe", WRONG_PHRASE, "203.0.113.9"),
        ("joe", WRONG_PHRASE, "203.0.113.9"),
        ("joe", GOOD_PHRASE, "203.0.113.9"),
    ]
    _login(demo_app, tmp_path, attempts)
    assert len(_events(demo_app)) == 3
    assert _brute_force_alerts(demo_app) == []


# --- the model and its evidence, end to end -------------------------------------------------

MITIGATED = {"TM-AUTH-007@web", "TM-EXT-002@user-to-web-login"}


def _junit(path: Path, model: dict[str, Any], failed: str = "") -> Path:
    """A JUnit report, as pytest writes it, in which every test the model cites passed
    (except ``failed``)."""
    cases = []
    for control in model["controls"]:
        for node_id in control.get("evidence", {}).get("tests", []):
            file, _, name = node_id.partition("::")
            classname = file.removesuffix(".py").replace("/", ".")
            body = '<failure message="assert False">boom</failure>' if name == failed else ""
            cases.append(f'<testcase classname="{classname}" name="{name}">{body}</testcase>')
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">'
        + "".join(cases)
        + "</testsuite></testsuites>"
    )
    return path


def _analyze(model_path: Path, junit: Path, *, collect: bool = False) -> dict[str, Any]:
    """Threats by id; ``collect`` also proves the tests exist (pytest --collect-only)."""
    from turbosec.threats.assess import analyze

    analysis = analyze(model_path, junit=[junit], root=REPO, collect=collect)
    return {a.threat.id: a for a in analysis.threats}


def test_model_mitigates_only_what_the_login_controls_cover(tmp_path: Path) -> None:
    model = yaml.safe_load(MODEL.read_text())
    threats = _analyze(MODEL, _junit(tmp_path / "junit.xml", model))
    mitigated = {tid for tid, a in threats.items() if a.status.value == "mitigated"}
    assert mitigated == MITIGATED
    # the deliberate flaws stay open
    for tid in ("TM-PROC-004@web", "TM-PROC-005@web", "TM-PROC-006@web", "TM-LOG-003@web"):
        assert threats[tid].is_open, tid


def test_model_failing_evidence_reopens_the_threat(tmp_path: Path) -> None:
    model = yaml.safe_load(MODEL.read_text())
    name = "test_repeated_login_failures_raise_a_brute_force_alert"
    threats = _analyze(MODEL, _junit(tmp_path / "junit.xml", model, failed=name))
    reopened = threats["TM-AUTH-007@web"]
    assert reopened.is_open
    assert "ctl-login-failure-monitoring" in reopened.reason
    assert name in reopened.reason


def test_model_removed_test_reopens_the_threat_naming_it(tmp_path: Path) -> None:
    """Acceptance (issue 8): removing the test that proves a mitigation opens the threat,
    naming the threat, the control and the missing test."""
    model = yaml.safe_load(MODEL.read_text())
    junit = _junit(tmp_path / "junit.xml", model)
    gone = "tests/demo_app/test_security_controls.py::test_login_events_never_contained_x"
    text = MODEL.read_text().replace(
        "tests/demo_app/test_security_controls.py::test_login_events_never_contain_the_password",
        gone,
    )
    assert gone in text
    copy = tmp_path / "threatmodel.yaml"
    copy.write_text(text)
    threats = _analyze(copy, junit, collect=True)
    reopened = threats["TM-EXT-002@user-to-web-login"]
    assert reopened.is_open
    assert "TM-EXT-002@user-to-web-login" in reopened.reason
    assert "ctl-login-security-events" in reopened.reason
    assert f"test {gone} is missing" in reopened.reason
    assert threats["TM-AUTH-007@web"].status.value == "mitigated"  # untouched
