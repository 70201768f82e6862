# mypy: ignore-errors
# Test target for unsafe-deserialization.yaml (semgrep --test); never imported.
import json
import marshal
import pickle
from pickle import loads

import jsonpickle
import yaml
from flask import Flask, request

app = Flask(__name__)


@app.route("/session", methods=["POST"])
def restore_session():
    # ruleid: turbosec.python.deserialization-of-request-data
    return pickle.loads(request.get_data())


@app.route("/state", methods=["POST"])
def restore_state():
    blob = request.files["state"].read()
    # ruleid: turbosec.python.deserialization-of-request-data
    state = loads(blob)
    return {"keys": sorted(state)}


@app.route("/config", methods=["POST"])
def upload_config():
    text = request.form["config"]
    # ruleid: turbosec.python.deserialization-of-request-data
    return yaml.load(text, Loader=yaml.Loader)


@app.route("/object", methods=["POST"])
def decode_object():
    # ruleid: turbosec.python.deserialization-of-request-data
    return jsonpickle.decode(request.args["o"])


def load_settings(text):
    # ruleid: turbosec.python.unsafe-deserialization
    return yaml.load(text, Loader=yaml.Loader)


def load_cache(path):
    with open(path, "rb") as fh:
        # ruleid: turbosec.python.unsafe-deserialization
        return pickle.load(fh)


def load_code(data):
    # ruleid: turbosec.python.unsafe-deserialization
    return marshal.loads(data)


def load_all(stream):
    # ruleid: turbosec.python.unsafe-deserialization
    return list(yaml.unsafe_load_all(stream))


@app.route("/safe", methods=["POST"])
def safe_formats():
    # ok: turbosec.python.deserialization-of-request-data
    body = json.loads(request.get_data())
    # ok: turbosec.python.deserialization-of-request-data
    settings = yaml.safe_load(request.form["config"])
    # ok: turbosec.python.deserialization-of-request-data
    more = yaml.load(request.form["more"], Loader=yaml.SafeLoader)
    return {"body": body, "settings": settings, "more": more}


def safe_yaml(text):
    # ok: turbosec.python.unsafe-deserialization
    a = yaml.safe_load(text)
    # ok: turbosec.python.unsafe-deserialization
    b = yaml.load(text, Loader=yaml.SafeLoader)
    # ok: turbosec.python.unsafe-deserialization
    c = yaml.load(text, Loader=yaml.CSafeLoader)
    # ok: turbosec.python.unsafe-deserialization
    d = pickle.dumps(text)
    return a, b, c, d
