"""The demo app's login, logging security events with turbosec.events.

Every login attempt writes one OWASP Logging Vocabulary event (``authn_login_success`` or
``authn_login_fail``) as a JSON line to ``security-events.jsonl``, which
``turbosec watch security-events.jsonl`` reads.  Serve the app with this login:
``python security_log.py``.
"""

import hmac
import logging

from flask import request

from app import DB, app, hash_password
from turbosec.events import OwaspJsonFormatter, SecurityLogger

security = SecurityLogger(appid="demo-app")

_events = logging.FileHandler("security-events.jsonl")
_events.setFormatter(OwaspJsonFormatter(appid="demo-app"))
logging.getLogger("turbosec.security").addHandler(_events)
logging.getLogger("turbosec.security").setLevel(logging.INFO)


def credentials_match(name, attempt):
    row = DB.execute("SELECT password_hash FROM users WHERE name = ?", (name,)).fetchone()
    return row is not None and hmac.compare_digest(row[0], hash_password(attempt))


@app.route("/login", methods=["POST"])
def login():
    name = request.form.get("name", "")
    if credentials_match(name, request.form.get("password", "")):
        security.login_success(name, request=request)
        return {"ok": True}
    security.login_fail(name, request=request)
    return {"ok": False}, 401


if __name__ == "__main__":
    app.run()
