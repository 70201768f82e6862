// Test target for unsafe-deserialization.yaml (semgrep --test); never executed.
const serialize = require("node-serialize");
const { deserialize } = require("serialize-to-js");
const fs = require("fs");

function profile(req, res) {
  const cookie = Buffer.from(req.cookies.profile, "base64").toString();
  // ruleid: turbosec.javascript.deserialization-of-request-data
  const obj = serialize.unserialize(cookie);
  res.send("Hello " + obj.username);
}

function restore(req, res) {
  // ruleid: turbosec.javascript.deserialization-of-request-data
  res.json(deserialize(req.body.state));
}

function loadCache(path) {
  const text = fs.readFileSync(path, "utf8");
  // ruleid: turbosec.javascript.unsafe-deserialization
  return serialize.unserialize(text);
}

function safe(req, res) {
  // ok: turbosec.javascript.deserialization-of-request-data
  const data = JSON.parse(req.body.state);
  // ok: turbosec.javascript.unsafe-deserialization
  const text = serialize.serialize(data);
  res.send(text);
}
