// Test target for command-injection.yaml (semgrep --test); never executed.
const cp = require("child_process");
const { exec, execSync, spawn } = require("child_process");
import * as child from "node:child_process";
import { exec as run } from "node:child_process";

const BACKUP = "tar czf /tmp/backup.tgz /srv/data";

function handler(req, res) {
  // ruleid: turbosec.javascript.command-injection
  cp.exec("ping -c 1 " + req.query.host, (err, out) => {
    // ok: turbosec.javascript.command-injection
    res.send(out);
  });
  // ruleid: turbosec.javascript.command-injection
  exec(`ls -l ${req.query.dir}`);
  // ruleid: turbosec.javascript.command-injection
  execSync(req.body.cmd);
  // ruleid: turbosec.javascript.command-injection
  child.exec("git log " + req.query.branch);
  // ruleid: turbosec.javascript.command-injection
  run("whois " + req.query.domain);
  // ruleid: turbosec.javascript.command-injection
  spawn(req.body.cmd, { shell: true });
  // ruleid: turbosec.javascript.command-injection
  cp.execFile(req.body.tool, ["--version"], { shell: true });
  // ruleid: turbosec.javascript.command-injection
  require("child_process").exec("nslookup " + req.query.name);
}

function safe(req) {
  // ok: turbosec.javascript.command-injection
  cp.execFile("ping", ["-c", "1", req.query.host]);
  // ok: turbosec.javascript.command-injection
  spawn("git", ["log", req.query.branch]);
  // ok: turbosec.javascript.command-injection
  exec("ls -l | wc -l");
  // ok: turbosec.javascript.command-injection
  cp.exec(BACKUP);
  // ok: turbosec.javascript.command-injection
  req.db.exec("VACUUM " + req.query.table);
}
