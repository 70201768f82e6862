"""A deliberately vulnerable demo web app (see README.md). Never deploy it."""

import hashlib
import pickle
import sqlite3
import subprocess

import yaml
from flask import Flask, request

from settings import API_TOKEN

app = Flask(__name__)
DB = sqlite3.connect("demo.db", check_same_thread=False)


@app.route("/user")
def find_user():
    name = request.args.get("name", "")
    # DEMO-VULN: SQL injection, the query is built from user input.
    query = "SELECT id, email FROM users WHERE name = '" + name + "'"
    return {"rows": DB.execute(query).fetchall()}


@app.route("/ping")
def ping():
    host = request.args.get("host", "127.0.0.1")
    # DEMO-VULN: command injection through a shell.
    out = subprocess.check_output("ping -c 1 " + host, shell=True)
    return out


@app.route("/session", methods=["POST"])
def restore_session():
    # DEMO-VULN: unsafe deserialisation of client data.
    return pickle.loads(request.get_data())


def load_settings(text):
    # DEMO-VULN: yaml.load without a safe loader.
    return yaml.load(text, Loader=yaml.Loader)


def hash_password(password):
    # DEMO-VULN: weak, unsalted password hash.
    return hashlib.md5(password.encode()).hexdigest()


@app.route("/status")
def status():
    return {"token_configured": bool(API_TOKEN)}


if __name__ == "__main__":
    # DEMO-VULN: debug mode exposes an interactive debugger.
    app.run(host="0.0.0.0", debug=True)
