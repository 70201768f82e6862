// Test target for ssrf.yaml (semgrep --test); never executed.
const axios = require("axios");
const http = require("http");
const express = require("express");

const app = express();

app.get("/preview", async (req, res) => {
  const url = req.query.url;
  // ruleid: turbosec.javascript.ssrf
  const page = await fetch(url);
  res.send(await page.text());
});

app.post("/webhook", async (req, res) => {
  // ruleid: turbosec.javascript.ssrf
  await axios.post(req.body.callback, { ok: true });
  res.sendStatus(204);
});

app.get("/proxy", (req, res) => {
  // ruleid: turbosec.javascript.ssrf
  http.get("http://" + req.query.host + "/status", (upstream) => upstream.pipe(res));
});

app.get("/user/:id", async (req, res) => {
  // ok: turbosec.javascript.ssrf
  const a = await fetch("https://api.example.com/users/" + req.params.id);
  // ok: turbosec.javascript.ssrf
  const b = await axios.get(`https://api.example.com/users/${req.params.id}/avatar`);
  // ok: turbosec.javascript.ssrf
  const c = await fetch("https://api.example.com/status");
  res.json([await a.json(), b.data, await c.json()]);
});
