"""Benchmark of deploy-time verification: ``turbosec verify`` with four kinds of evidence.

One command (``.venv/bin/python bench/verify.py``):

1. makes a 20 MiB artifact and a fresh ECDSA P-256 key pair (never kept);
2. produces the evidence with turbosec's own commands, as a pipeline would: ``turbosec
   sign``, ``turbosec attest provenance``, ``turbosec attest sbom`` (from a 60-package
   requirements file) and ``turbosec scan --attest`` (the gate's verdict from a real run);
3. times ``turbosec verify ARTIFACT --policy verify.toml`` (signature + provenance + gate +
   sbom required) as a subprocess, interpreter start included, several runs, and the bare
   interpreter start (``python -c pass``) for scale;
4. as the reference, times Sigstore's JavaScript verifier ``@sigstore/verify`` (pinned by
   ``tests/integrity/sigstore_js/package-lock.json``) verifying the same four bundles, one
   ``node`` process per bundle, thresholds 0 (the key-based offline case). It checks
   signatures only, no policy: a lower bound for what a deploy step would run;
5. prints the figures and the target (≤ 0.3 s wall for the whole verify) and writes
   ``bench/results/verify.json``.

``TURBOSEC_SIGSTORE_JS`` names an installed copy of the pinned verifier (as ``.ci/run``
makes); without it, the benchmark installs one with ``npm ci`` under ``bench/work``.

Exit code: 0 target met, 1 target missed, 2 a step failed.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work" / "verify"
RESULTS = ROOT / "bench" / "results" / "verify.json"
SIGSTORE_JS_SRC = ROOT / "tests" / "integrity" / "sigstore_js"
VENV_BIN = Path(sys.executable).parent
TARGET_S = 0.3
TIMEOUT_S = 600.0
PASSPHRASE = "bench-only-passphrase"
COMMIT = "0123456789abcdef0123456789abcdef01234567"

PACKAGES = [
    "django==4.2.11", "requests==2.31.0", "urllib3==2.2.1", "certifi==2024.2.2",
    "idna==3.6", "charset-normalizer==3.3.2", "sqlparse==0.4.4", "asgiref==3.7.2",
    "pyyaml==6.0.1", "jinja2==3.1.3", "markupsafe==2.1.5", "click==8.1.7",
    "flask==3.0.2", "werkzeug==3.0.1", "itsdangerous==2.1.2", "blinker==1.7.0",
    "gunicorn==21.2.0", "packaging==24.0", "six==1.16.0", "python-dateutil==2.9.0",
    "pytz==2024.1", "attrs==23.2.0", "cffi==1.16.0", "pycparser==2.21",
    "cryptography==42.0.5", "pyjwt==2.8.0", "redis==5.0.3", "celery==5.3.6",
    "kombu==5.3.5", "vine==5.1.0", "billiard==4.2.0", "amqp==5.2.0",
    "psycopg==3.1.18", "sqlalchemy==2.0.28", "alembic==1.13.1", "mako==1.3.2",
    "greenlet==3.0.3", "typing-extensions==4.10.0", "pydantic==2.6.4",
    "pydantic-core==2.16.3", "annotated-types==0.6.0", "anyio==4.3.0",
    "sniffio==1.3.1", "h11==0.14.0", "httpcore==1.0.4", "httpx==0.27.0",
    "starlette==0.36.3", "fastapi==0.110.0", "uvicorn==0.28.0", "orjson==3.9.15",
    "rich==13.7.1", "pygments==2.17.2", "markdown-it-py==3.0.0", "mdurl==0.1.2",
    "boto3==1.34.69", "botocore==1.34.69", "jmespath==1.0.1", "s3transfer==0.10.1",
    "pillow==10.2.0", "numpy==1.26.4",
]  # fmt: skip


class StepError(RuntimeError):
    pass


def _run(
    argv: list[str], *, cwd: Path, env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)
) -> tuple[subprocess.CompletedProcess[bytes], float]:
    start = time.perf_counter()
    done = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, timeout=TIMEOUT_S, check=False
    )
    elapsed = time.perf_counter() - start
    if done.returncode not in ok:
        raise StepError(
            f"{' '.join(argv[:4])}... exited {done.returncode}:\n"
            + done.stdout.decode(errors="replace")[-2000:]
            + done.stderr.decode(errors="replace")[-2000:]
        )
    return done, elapsed


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GITLAB_", "CI_"))}
    env.update(
        TURBOSEC_KEY_PASSPHRASE=PASSPHRASE,
        NO_COLOR="1",
        PYTHONDONTWRITEBYTECODE="1",
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    env.pop("TURBOSEC_SIGNING_KEY", None)
    env.pop("CI", None)
    return env


def prepare(work: Path) -> tuple[Path, Path, list[Path]]:
    """The artifact, the policy and the four bundles, made with turbosec's commands."""
    if work.exists():
        shutil.rmtree(work)
    (work / "repo").mkdir(parents=True)
    env = _env()
    turbosec = str(VENV_BIN / "turbosec")
    artifact = work / "app-1.0.tar.gz"
    artifact.write_bytes(os.urandom(20 * 1024 * 1024))
    (work / "requirements.txt").write_text("\n".join(PACKAGES) + "\n")
    (work / "repo" / "app.py").write_text("def handler(event):\n    return {'ok': True}\n")
    _run([turbosec, "keys", "generate", "--out", "release"], cwd=work, env=env)
    _run([turbosec, "sign", artifact.name, "--key", "release.key"], cwd=work, env=env)
    _run(
        [turbosec, "attest", "provenance", artifact.name, "--key", "release.key",
         "--source-uri", "https://github.com/acme/app", "--commit", COMMIT,
         "--ref", "refs/heads/main", "--builder-id", "https://ci.example.com/runner"],
        cwd=work, env=env,
    )  # fmt: skip
    _run(
        [turbosec, "attest", "sbom", artifact.name, "--key", "release.key",
         "--lockfile", "requirements.txt"],
        cwd=work, env=env,
    )  # fmt: skip
    _run(
        [turbosec, "scan", "repo", "--scanner", "bandit", "--no-cache",
         "--attest", artifact.name, "--attest-key", "release.key"],
        cwd=work, env=env,
    )  # fmt: skip
    policy = work / "verify.toml"
    policy.write_text(
        'required = ["signature", "provenance", "gate", "sbom"]\n'
        '[[keys]]\nname = "release"\npath = "release.pub"\n'
        "[provenance]\n"
        'allowed_repositories = ["https://github.com/acme/*"]\n'
        'allowed_refs = ["refs/heads/main"]\n'
        'allowed_builders = ["https://ci.example.com/*"]\n'
        '[gate]\nmax_age = "24h"\n'
    )
    bundles = [
        work / f"{artifact.name}.sigstore.json",
        *(
            work / f"{artifact.name}.{kind}.sigstore.json"
            for kind in ("provenance", "sbom", "gate")
        ),
    ]
    for bundle in bundles:
        if not bundle.is_file():
            raise StepError(f"{bundle.name} was not written")
    return artifact, policy, bundles


def sigstore_js(work: Path) -> Path | None:
    """A directory with the pinned @sigstore/verify installed, or None without node/npm."""
    given = os.environ.get("TURBOSEC_SIGSTORE_JS")
    if given and (Path(given) / "node_modules" / "@sigstore" / "verify").is_dir():
        return Path(given)
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        return None
    target = ROOT / "bench" / "work" / "sigstore-js"
    if not (target / "node_modules" / "@sigstore" / "verify").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(SIGSTORE_JS_SRC / name, target / name)
        _run([npm, "ci", "--prefix", str(target), "--no-audit", "--no-fund", "--silent"], cwd=work)
    return target


def timings(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median_s": round(statistics.median(ordered), 4),
        "min_s": round(ordered[0], 4),
        "p90_s": round(ordered[max(0, int(len(ordered) * 0.9) - 1)], 4),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each command")
    args = parser.parse_args()
    try:
        artifact, policy, bundles = prepare(WORK)
        env = _env()
        turbosec = str(VENV_BIN / "turbosec")
        verify_argv = [turbosec, "verify", artifact.name, "--policy", policy.name]
        done, _ = _run(verify_argv, cwd=WORK, env=env)  # warm the page cache
        checks = [
            line for line in done.stdout.decode().splitlines() if line[:4] in ("PASS", "FAIL")
        ]
        ours = [_run(verify_argv, cwd=WORK, env=env)[1] for _ in range(args.runs)]
        python = [
            _run([sys.executable, "-c", "pass"], cwd=WORK, env=env)[1] for _ in range(args.runs)
        ]
        reference: dict[str, Any] = {"tool": "@sigstore/verify (node), one process per bundle"}
        js_dir = sigstore_js(WORK)
        if js_dir is None:
            reference["unavailable"] = "node or npm not found"
        else:
            script = js_dir / "verify_bundle.js"
            shutil.copy(SIGSTORE_JS_SRC / "verify_bundle.js", script)
            node = shutil.which("node") or "node"
            per_run: list[float] = []
            for _ in range(args.runs):
                total = 0.0
                for bundle in bundles:
                    extra = [str(artifact)] if bundle.name.endswith(".gz.sigstore.json") else []
                    argv = [node, str(script), str(bundle), str(WORK / "release.pub"), *extra]
                    out, elapsed = _run(argv, cwd=WORK)
                    if out.stdout.decode().strip() != "OK":
                        raise StepError(f"@sigstore/verify rejected {bundle.name}: {out.stdout!r}")
                    total += elapsed
                per_run.append(total)
            reference.update(timings(per_run))
            reference["bundles"] = len(bundles)
            reference["package_lock"] = "tests/integrity/sigstore_js/package-lock.json"
    except (StepError, subprocess.TimeoutExpired, OSError) as exc:
        print(f"benchmark step failed: {exc}", file=sys.stderr)
        return 2

    ours_t = timings(ours)
    result: dict[str, Any] = {
        "benchmark": "verify",
        "when": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_1m": round(os.getloadavg()[0], 2),
        },
        "artifact_bytes": artifact.stat().st_size,
        "evidence": ["signature", "provenance", "sbom", "gate"],
        "checks": len(checks),
        "turbosec_verify": ours_t,
        "python_start": timings(python),
        "reference": reference,
        "target_s": TARGET_S,
        "target_met": ours_t["median_s"] <= TARGET_S,
    }
    if "median_s" in reference:
        result["ratio_vs_reference"] = round(ours_t["median_s"] / reference["median_s"], 2)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")

    print(f"artifact: {artifact.stat().st_size} bytes; evidence: signature, provenance, sbom, gate")
    print(f"checks printed by turbosec verify: {len(checks)} (all PASS)")
    print(
        f"turbosec verify (whole command): median {ours_t['median_s']:.3f} s, "
        f"min {ours_t['min_s']:.3f} s, p90 {ours_t['p90_s']:.3f} s  (target {TARGET_S} s)"
    )
    print(f"python -c pass: median {result['python_start']['median_s']:.3f} s")
    if "median_s" in reference:
        print(
            f"@sigstore/verify, 4 bundles, signatures only: median {reference['median_s']:.3f} s "
            f"-> turbosec/reference = {result['ratio_vs_reference']}"
        )
    else:
        print(f"reference not run: {reference.get('unavailable')}")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0 if result["target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
