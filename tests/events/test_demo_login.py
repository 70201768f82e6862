"""The demo app's login logs its attempts through turbosec.events (examples/demo-app)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

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

DRIVER = """
import security_log
from flask import request

security_log.DB.execute("CREATE TABLE users (name TEXT, password_hash TEXT)")
security_log.DB.execute(
    "INSERT INTO users VALUES (?, ?)", ("joe", security_log.hash_password("correct horse"))
)
login = security_log.app.routes["/login"]
request.form = {"name": "joe", "password": "wrong"}
print(login())
request.form = {"name": "joe", "password": "correct horse"}
print(login())
"""


def test_demo_login_writes_owasp_events(demo_app: Path, tmp_path: Path) -> None:
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "flask.py").write_text(textwrap.dedent(FLASK_STUB))
    src = Path(__file__).resolve().parents[2] / "src"
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER],
        cwd=demo_app,
        env={"PYTHONPATH": f"{demo_app}:{stubs}:{src}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["({'ok': False}, 401)", "{'ok': True}"]
    lines = (demo_app / "security-events.jsonl").read_text().splitlines()
    fail, success = (json.loads(line) for line in lines)
    assert fail["event"] == "authn_login_fail:joe"
    assert fail["level"] == "WARN"
    assert success["event"] == "authn_login_success:joe"
    for record in (fail, success):
        assert record["appid"] == "demo-app"
        assert record["source_ip"] == "203.0.113.9"
        assert record["useragent"] == "demo-test/1.0"
        assert record["request_uri"] == "/login"
        assert record["request_method"] == "POST"
    assert "correct horse" not in "\n".join(lines)
