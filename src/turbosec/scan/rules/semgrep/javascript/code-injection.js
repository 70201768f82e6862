// Test target for code-injection.yaml (semgrep --test); never executed.
const vm = require("vm");

function calculate(req, res) {
  // ruleid: turbosec.javascript.code-injection
  res.send(String(eval(req.query.expr)));
}

function makeGetter(field) {
  // ruleid: turbosec.javascript.code-injection
  return new Function("obj", "return obj." + field);
}

function later(req) {
  // ruleid: turbosec.javascript.code-injection
  setTimeout("refresh('" + req.query.panel + "')", 1000);
}

function render(template, data) {
  // ruleid: turbosec.javascript.code-injection
  return eval(`\`${template}\``);
}

function sandbox(code) {
  // ruleid: turbosec.javascript.code-injection
  return vm.runInNewContext(code, {});
}

function safe(req, res) {
  // ok: turbosec.javascript.code-injection
  const data = JSON.parse(req.body.payload);
  // ok: turbosec.javascript.code-injection
  setTimeout(() => res.send(data), 1000);
  // ok: turbosec.javascript.code-injection
  setTimeout(refresh, 500);
  // ok: turbosec.javascript.code-injection
  const two = eval("1 + 1");
  // ok: turbosec.javascript.code-injection
  const three = eval(`1 + 2`);
  // ok: turbosec.javascript.code-injection
  const add = new Function("a", "b", "return a + b");
  return [two, three, add];
}

function refresh() {}
