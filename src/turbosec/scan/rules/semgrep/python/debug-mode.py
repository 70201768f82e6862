# mypy: ignore-errors
# Test target for debug-mode.yaml (semgrep --test); never imported.
import os

from flask import Flask

app = Flask(__name__)
server = Flask("other")
# ruleid: turbosec.python.flask-debug-mode
server.debug = True

# ruleid: turbosec.python.django-debug-enabled
DEBUG = True


def configure_for_tests():
    # ok: turbosec.python.django-debug-enabled
    DEBUG = True
    return DEBUG


class TestSettings:
    # ok: turbosec.python.django-debug-enabled
    DEBUG = True


def enable_debugging():
    # ruleid: turbosec.python.flask-debug-mode
    app.config["DEBUG"] = True


def run_tool(pipeline):
    # ok: turbosec.python.flask-debug-mode
    pipeline.run(debug=True)


if __name__ == "__main__":
    # ok: turbosec.python.flask-debug-mode
    app.run(debug=os.environ.get("FLASK_DEBUG") == "1")
    # ok: turbosec.python.flask-debug-mode
    app.run(host="127.0.0.1", debug=False)
    # ruleid: turbosec.python.flask-debug-mode
    app.run(host="0.0.0.0", debug=True)
