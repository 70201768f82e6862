"""Benchmark of ``turbosec threats``: analysis and reports of a 50-component, 120-flow model.

One command (``.venv/bin/python bench/threats.py``):

1. **Model.**  :func:`turbosec.threats.generate.generate_model` writes a realistic model of
   ``--components`` components (default 50) and ``--flows`` flows (default 120): nested
   trust boundaries, external entities, processes, datastores, queues, classified data,
   controls with evidence test ids, triage entries with wildcards.  It goes to
   ``bench/work/threats/threatmodel.yaml``.
2. **Warm, in-process.**  The pipeline -- load the model, load the built-in rules, derive
   the threats, assess them (triage and expiry; no evidence collection, which runs pytest
   and is the project's own test time), render Markdown and HTML -- is run ``--repeat``
   times (default 7) in this interpreter; the median of each step and of the whole is
   reported.
3. **Cold.**  The same pipeline once in a fresh interpreter (``python bench/threats.py
   --child MODEL``), timed from before the first turbosec import: what one ``turbosec
   threats check`` pays besides interpreter start-up.  The wall time of the whole child
   process is printed too.  A first child primes the bytecode cache (as an installed
   package would have it; reported, not judged), then two children run with different
   ``PYTHONHASHSEED`` values and the slower one is judged.
4. **Determinism.**  Two in-process runs and the two children must give byte-identical
   Markdown and HTML (SHA-256 compared) and identical threat ids.

Target (issue 8): analysis and Markdown + HTML report in **<= 1 s**; judged on the cold
run (imports included), the warm median is shown for information.  Reference: pytm, when
importable in this environment; it is not installed here (and is not downloaded), so the
issue's figure for it (pytm 1.4 needs over two minutes to report a 10-service model) is
quoted instead of measured.  Results: ``bench/results/threats.json``.

Exit code: 0 target met and output deterministic, 1 otherwise, 2 a step failed.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work" / "threats"
RESULTS = ROOT / "bench" / "results" / "threats.json"
TIMEOUT_S = 600.0
TARGET_S = 1.0
TODAY = datetime.date(2026, 11, 28)  # fixed: expiry decisions must not depend on the day
PYTM_REFERENCE = "pytm 1.4: over 2 minutes to report a 10-service model (issue 8)"
STEPS = ("load", "rules", "derive", "assess", "markdown", "html")


def pipeline(model_path: Path) -> dict[str, Any]:
    """Run every step once; seconds per step, output digests and threat ids."""
    times: dict[str, float] = {}
    start = time.perf_counter()
    from turbosec.threats.assess import assess
    from turbosec.threats.loader import load_model
    from turbosec.threats.report.html import render_html
    from turbosec.threats.report.markdown import render_markdown
    from turbosec.threats.rules import derive_threats, load_rules

    times["imports"] = time.perf_counter() - start
    t = time.perf_counter()
    model = load_model(model_path)
    times["load"] = time.perf_counter() - t
    t = time.perf_counter()
    rules = load_rules()
    times["rules"] = time.perf_counter() - t
    t = time.perf_counter()
    threats = derive_threats(model, rules)
    times["derive"] = time.perf_counter() - t
    t = time.perf_counter()
    analysis = assess(model, threats, None, today=TODAY)
    times["assess"] = time.perf_counter() - t
    t = time.perf_counter()
    markdown = render_markdown(analysis)
    times["markdown"] = time.perf_counter() - t
    t = time.perf_counter()
    html = render_html(analysis)
    times["html"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - start
    return {
        "seconds": times,
        "rules": len(rules),
        "components": len(model.components),
        "flows": len(model.flows),
        "threats": len(analysis.threats),
        "open": sum(1 for a in analysis.threats if a.is_open),
        "markdown_sha256": hashlib.sha256(markdown.encode()).hexdigest(),
        "html_sha256": hashlib.sha256(html.encode()).hexdigest(),
        "markdown_bytes": len(markdown.encode()),
        "html_bytes": len(html.encode()),
        "ids_sha256": hashlib.sha256(
            "\n".join(a.threat.id for a in analysis.threats).encode()
        ).hexdigest(),
    }


def child(model_path: str) -> int:
    import orjson

    result = pipeline(Path(model_path))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


def cold_run(model: Path, hash_seed: str) -> dict[str, Any]:
    import orjson

    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: compiled modules are cached
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", str(model)],
        capture_output=True,
        timeout=TIMEOUT_S,
        check=False,
        env=env,
        cwd=ROOT,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"cold run failed: {done.stderr.decode(errors='replace')[-2000:]}")
    result: dict[str, Any] = orjson.loads(done.stdout.splitlines()[-1])
    result["process_wall_seconds"] = wall
    result["hash_seed"] = hash_seed
    return result


def pytm_status() -> dict[str, Any]:
    found = importlib.util.find_spec("pytm") is not None
    return {
        "available": found,
        "measured": False,
        "reference": PYTM_REFERENCE,
        "note": "pytm is importable but no pytm model of the generated system is written yet"
        if found
        else "pytm is not installed in this environment (not downloaded for the benchmark); "
        "the issue's figure is quoted",
    }


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--components", type=int, default=50)
    parser.add_argument("--flows", type=int, default=120)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=7, help="warm runs (median)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child)

    import orjson

    from turbosec.threats.generate import generate_model

    WORK.mkdir(parents=True, exist_ok=True)
    load_before = load_average()
    model_path = WORK / "threatmodel.yaml"
    text = generate_model(args.components, args.flows, seed=args.seed)
    if generate_model(args.components, args.flows, seed=args.seed) != text:
        print("the generator is not deterministic", file=sys.stderr)
        return 1
    model_path.write_text(text)
    print(
        f"model: {model_path.relative_to(ROOT)} ({args.components} components, "
        f"{args.flows} flows, {len(text.splitlines()):,} lines)"
    )
    try:
        # The first fresh interpreter writes the bytecode cache of modules changed since the
        # last run (an installed package ships it); it is reported, not judged.
        priming = cold_run(model_path, "0")
        cold = [cold_run(model_path, seed) for seed in ("1", "2")]
        warm = [pipeline(model_path) for _ in range(max(1, args.repeat))]
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        print(f"step failed: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a turbosec error in the pipeline: report it, do not hide it
        print(f"step failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2

    first = warm[0]
    medians = {
        step: statistics.median(run["seconds"][step] for run in warm) for step in (*STEPS, "total")
    }
    keys = ("markdown_sha256", "html_sha256", "ids_sha256")
    runs = [*warm, priming, *cold]
    deterministic = all(run[k] == first[k] for run in runs for k in keys)
    slowest = max(cold, key=lambda run: run["seconds"]["total"])
    cold_total = slowest["seconds"]["total"]
    met = cold_total <= TARGET_S

    print(
        f"rules {first['rules']}, threats {first['threats']} ({first['open']} open), "
        f"Markdown {first['markdown_bytes']:,} bytes, HTML {first['html_bytes']:,} bytes"
    )
    print("step        warm median   cold (slower of 2)")
    for step in ("imports", *STEPS, "total"):
        warm_s = medians.get(step)
        warm_txt = f"{warm_s * 1000:9.1f} ms" if warm_s is not None else "         -   "
        print(f"{step:<10} {warm_txt}   {slowest['seconds'][step] * 1000:9.1f} ms")
    print(
        f"cold process wall time (interpreter start-up included): "
        f"{cold[0]['process_wall_seconds']:.2f} s / {cold[1]['process_wall_seconds']:.2f} s; "
        f"priming run {priming['seconds']['total']:.3f} s in-process"
    )
    print(
        f"target: analysis + Markdown + HTML <= {TARGET_S:g} s cold: {cold_total:.3f} s "
        f"({'met' if met else 'MISSED'}; {cold_total / TARGET_S:.2f} x the budget)"
    )
    print(
        f"deterministic (byte-identical Markdown and HTML, identical ids over "
        f"{len(runs)} runs, 2 hash seeds): {deterministic}"
    )
    pytm = pytm_status()
    print(f"reference: {pytm['reference']} -- {pytm['note']}")

    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, cwd=ROOT, timeout=30, check=False
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "src"],
        capture_output=True,
        cwd=ROOT,
        timeout=30,
        check=False,
    )
    result: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_before": load_before,
            "load_after": load_average(),
        },
        "turbosec_commit": commit.stdout.decode().strip() or None,
        "src_modified": bool(dirty.stdout.strip()),
        "model": {
            "components": first["components"],
            "flows": first["flows"],
            "seed": args.seed,
            "lines": len(text.splitlines()),
        },
        "rules": first["rules"],
        "threats": first["threats"],
        "open_threats": first["open"],
        "markdown_bytes": first["markdown_bytes"],
        "html_bytes": first["html_bytes"],
        "warm": {
            "repeat": len(warm),
            "median_seconds": medians,
            "runs": [run["seconds"] for run in warm],
        },
        "cold": [
            {
                "seconds": run["seconds"],
                "process_wall_seconds": run["process_wall_seconds"],
                "hash_seed": run["hash_seed"],
                "priming": run is priming,
            }
            for run in (priming, *cold)
        ],
        "cold_judged_seconds": cold_total,
        "target_seconds": TARGET_S,
        "target_met": met,
        "deterministic": deterministic,
        "digests": {k: first[k] for k in keys},
        "reference": pytm,
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")
    shown = args.results.relative_to(ROOT) if args.results.is_relative_to(ROOT) else args.results
    print(f"wrote {shown}")
    return 0 if met and deterministic else 1


if __name__ == "__main__":
    sys.exit(main())
