# mypy: ignore-errors
# Test target for ssrf.yaml (semgrep --test); never imported.
import urllib.request

import httpx
import requests
from flask import Flask, request

app = Flask(__name__)


@app.route("/preview")
def preview():
    url = request.args.get("url")
    # ruleid: turbosec.python.ssrf
    page = requests.get(url, timeout=5)
    return page.text


@app.route("/webhook", methods=["POST"])
def webhook():
    target = request.get_json()["callback"]
    # ruleid: turbosec.python.ssrf
    requests.post(url=target, json={"ok": True}, timeout=5)
    return "", 204


@app.route("/proxy")
def proxy():
    # ruleid: turbosec.python.ssrf
    with urllib.request.urlopen(request.args["u"]) as resp:
        return resp.read()


@app.route("/image")
def image():
    host = request.headers.get("X-Image-Host")
    # ruleid: turbosec.python.ssrf
    return httpx.get("https://" + host + "/logo.png").content


def django_view(request):
    # ruleid: turbosec.python.ssrf
    return requests.request("GET", request.GET["feed"], timeout=5).text


@app.route("/user")
def user_profile():
    user_id = request.args["id"]
    # ok: turbosec.python.ssrf
    a = requests.get("https://api.example.com/users/" + user_id, timeout=5)
    # ok: turbosec.python.ssrf
    b = requests.get(f"https://api.example.com/users/{user_id}/avatar", timeout=5)
    # ok: turbosec.python.ssrf
    c = requests.get("https://api.example.com/status", timeout=5)
    return {"a": a.text, "b": b.text, "c": c.text}
