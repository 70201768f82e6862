"""Benchmark of the findings hub: importing a 50,000-finding report over HTTP.

One command (``.venv/bin/python bench/hub.py``):

1. builds a realistic ``turbosec.report/v1`` report of 50,000 findings: the templates are
   the findings turbosec's own adapters read from real scanner outputs committed under
   ``tests/fixtures`` (bandit, semgrep, detect-secrets, checkov, zizmor) plus dependency
   findings from the OSV data set, copied onto a large synthetic tree of paths and lines,
   each copy with its own fingerprint;
2. starts a real hub (``turbosec hub serve``) on 127.0.0.1, once on a SQLite file and once
   on the machine's PostgreSQL (a fresh schema of database ``test``), creates a project and
   an upload token with the ``turbosec hub`` commands;
3. uploads over HTTP (gzip, as ``turbosec push`` does): the report (first import), the same
   report again (unchanged re-import: must give 0 new / 0 fixed), then a report in which
   5% of the findings are replaced by new ones (5% new, 5% fixed);
4. prints seconds and findings/s for each step with the targets of the issue (first import
   ≤ 5 s on SQLite, ≤ 10 s on PostgreSQL; unchanged re-import ≤ 5 s) and writes
   ``bench/results/hub.json``.

The reference hub (a seven-service deployment) cannot run on this machine; its published
figures are quoted in the output for comparison, not measured here.

Exit code: 0 every target met and counts right, 1 a target missed or a count wrong,
2 a step failed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gzip
import hashlib
import os
import platform
import random
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work" / "hub"
RESULTS = ROOT / "bench" / "results" / "hub.json"
FIXTURES = ROOT / "tests" / "fixtures"
VENV_BIN = Path(sys.executable).parent
PG_URL = os.environ.get("TURBOSEC_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
FINDINGS = 50_000
CHANGED = 0.05
TIMEOUT_S = 600.0
TARGETS = {"sqlite": {"first": 5.0, "unchanged": 5.0}, "postgresql": {"first": 10.0}}
REFERENCE = (
    "reference hub (published figures, not run here): a 13k-finding re-import took 116 s, "
    "26 s after optimisation; 50k-finding uploads time out"
)


# --------------------------------------------------------------------------- the report
def templates() -> list[dict[str, Any]]:
    """Findings read by turbosec's adapters from real scanner outputs (fixtures)."""
    from turbosec.scan.adapters.bandit import BanditScanner
    from turbosec.scan.adapters.checkov import CheckovScanner
    from turbosec.scan.adapters.detect_secrets import DetectSecretsScanner
    from turbosec.scan.adapters.semgrep import SemgrepScanner
    from turbosec.scan.base import RunResult
    from turbosec.scan.target import Target

    demo = Target.open(ROOT / "examples" / "demo-app")
    out: list[dict[str, Any]] = []
    for scanner, name in (
        (BanditScanner(), "bandit/demo-app.json"),
        (BanditScanner(), "bandit/src.json"),
        (SemgrepScanner(), "semgrep/demo-app.json"),
        (DetectSecretsScanner(), "detect-secrets/demo-app.json"),
        (CheckovScanner(), "checkov/demo-app.json"),
    ):
        raw = (FIXTURES / name).read_bytes()
        try:
            parsed = scanner.parse(RunResult(1, raw, b"", 0.0), demo)
        except Exception as exc:  # a fixture the adapter reads differently: skip, say so
            print(f"template {name} skipped: {exc}", file=sys.stderr)
            continue
        out.extend(f.to_dict() for f in parsed.findings)
    out.extend(_dependency_templates())
    if not out:
        raise SystemExit("no finding templates could be read from tests/fixtures")
    return out


def _dependency_templates() -> list[dict[str, Any]]:
    from turbosec.core.config import parse_config
    from turbosec.scan.adapters.deps import DepsScanner
    from turbosec.scan.target import Target

    demo = ROOT / "examples" / "demo-app"
    config = parse_config({"deps": {"db": str(demo / "advisories")}}, "bench")
    return [f.to_dict() for f in DepsScanner().scan(Target.open(demo), config).findings]


def make_findings(tmpl: list[dict[str, Any]], count: int, salt: str) -> list[dict[str, Any]]:
    """``count`` findings over a synthetic tree; the same salt gives the same findings."""
    rng = random.Random(salt)
    out = []
    for i in range(count):
        base = tmpl[i % len(tmpl)]
        f = dict(base)
        loc = dict(f["location"]) if f.get("location") else {"path": "x.py"}
        suffix = Path(loc["path"]).suffix or ".py"
        loc["path"] = f"services/svc{i % 97:02d}/pkg{(i // 97) % 53:02d}/mod{i % 31}{suffix}"
        loc["start_line"] = rng.randint(1, 4000)
        if loc.get("end_line") is not None:
            loc["end_line"] = loc["start_line"] + rng.randint(0, 3)
        f["location"] = loc
        f["fingerprint"] = hashlib.sha256(f"{salt}:{i}".encode()).hexdigest()[:32]
        out.append(f)
    return out


def report(findings: list[dict[str, Any]], commit: str) -> bytes:
    from turbosec import __version__

    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    tools = sorted({f["tool"] for f in findings})
    doc = {
        "schema": "turbosec.report/v1",
        "turbosec_version": __version__,
        "repo": {"name": "bench", "commit": commit, "branch": "main", "remote": None},
        "started_at": now,
        "finished_at": now,
        "duration_s": 1.0,
        "tools": [
            {"name": t, "version": "1", "status": "ok", "duration_s": 0.1, "findings": 0}
            for t in tools
        ],
        "findings": findings,
        "verdict": {"passed": False, "reasons": ["bench"], "fail_on": "critical"},
        "errors": [],
        "baseline": None,
        "fixed": [],
        "notices": [],
    }
    return orjson.dumps(doc)


# ------------------------------------------------------------------------------ the hub
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(VENV_BIN / "turbosec"), *args], capture_output=True, text=True, env=env,
        timeout=TIMEOUT_S, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"turbosec {' '.join(args[:3])} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


@contextlib.contextmanager
def hub(db: str, env: dict[str, str]) -> Iterator[str]:
    port = _free_port()
    log = (WORK / f"hub-{port}.log").open("wb")
    proc = subprocess.Popen(
        [str(VENV_BIN / "turbosec"), "hub", "serve", "--host", "127.0.0.1", "--port",
         str(port), "--db", db],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v1/health", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the hub did not start; see {log.name}") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def upload(url: str, project: str, token: str, body: bytes) -> tuple[float, dict[str, Any]]:
    data = gzip.compress(body, compresslevel=6)
    request = urllib.request.Request(
        f"{url}/api/v1/projects/{project}/scans",
        data=data,
        method="POST",
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        },
    )
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as resp:
        answer = orjson.loads(resp.read())
    return time.perf_counter() - start, answer


def run_backend(name: str, db: str, bodies: dict[str, bytes], env: dict[str, str]) -> dict:
    env = {**env, "TURBOSEC_HUB_DB": db}
    _cli("hub", "migrate", "--db", db, env=env)
    _cli("hub", "project", "create", "bench", "--db", db, env=env)
    out = _cli("hub", "token", "create", "--project", "bench", "--scope", "upload",
               "--db", db, env=env)  # fmt: skip
    token = next(w for w in out.split() if w.startswith("tsh_"))
    steps: dict[str, Any] = {}
    with hub(db, env) as url:
        for step in ("first", "unchanged", "changed"):
            seconds, answer = upload(url, "bench", token, bodies[step])
            counts = {k: answer.get(k) for k in ("new", "unchanged", "fixed", "reopened")}
            steps[step] = {
                "seconds": round(seconds, 3),
                "findings_per_s": round(FINDINGS / seconds),
                "counts": counts,
            }
            print(f"{name:10} {step:9} {seconds:7.2f} s  {FINDINGS / seconds:9,.0f} findings/s"
                  f"  {counts}")  # fmt: skip
    return steps


def _pg_schema_url() -> tuple[str, str]:
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    dsn = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{PG_URL}?options=-csearch_path%3D{schema}", schema


def _pg_drop(schema: str) -> None:
    import psycopg

    dsn = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-postgresql", action="store_true", help="SQLite only")
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    tmpl = templates()
    first = make_findings(tmpl, FINDINGS, "base")
    changed_n = int(FINDINGS * CHANGED)
    changed = first[changed_n:] + make_findings(tmpl, changed_n, "changed")
    bodies = {
        "first": report(first, "a" * 40),
        "unchanged": report(first, "b" * 40),
        "changed": report(changed, "c" * 40),
    }
    print(f"{FINDINGS:,} findings from {len(tmpl)} templates; report "
          f"{len(bodies['first']) / 1e6:.1f} MB JSON")  # fmt: skip
    env = {**os.environ, "NO_COLOR": "1", "CI": "true"}
    results: dict[str, Any] = {}
    sqlite_file = WORK / "hub.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{sqlite_file}{suffix}").unlink(missing_ok=True)
    results["sqlite"] = run_backend("sqlite", str(sqlite_file), bodies, env)
    if not args.no_postgresql:
        url, schema = _pg_schema_url()
        try:
            results["postgresql"] = run_backend("postgresql", url, bodies, env)
        finally:
            _pg_drop(schema)

    expected = {
        "first": {"new": FINDINGS, "unchanged": 0, "fixed": 0, "reopened": 0},
        "unchanged": {"new": 0, "unchanged": FINDINGS, "fixed": 0, "reopened": 0},
        "changed": {
            "new": changed_n, "unchanged": FINDINGS - changed_n, "fixed": changed_n,
            "reopened": 0,
        },
    }  # fmt: skip
    ok = True
    for backend, steps in results.items():
        for step, data in steps.items():
            if data["counts"] != expected[step]:
                ok = False
                print(f"{backend} {step}: counts {data['counts']} != {expected[step]}")
            target = TARGETS.get(backend, {}).get(step)
            if target is not None:
                data["target_s"] = target
                data["target_met"] = data["seconds"] <= target
                ok = ok and data["target_met"]
    print(REFERENCE)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_bytes(
        orjson.dumps(
            {
                "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
                "findings": FINDINGS,
                "changed_fraction": CHANGED,
                "report_bytes": len(bodies["first"]),
                "results": results,
                "reference": REFERENCE,
                "all_met": ok,
            },
            option=orjson.OPT_INDENT_2,
        )
        + b"\n"
    )
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
