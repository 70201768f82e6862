"""Benchmark of the offline dependency audit: ``turbosec scan --scanner deps`` vs pip-audit.

One command (``.venv/bin/python bench/deps.py``):

1. builds a ``requirements.txt`` of 500 real PyPI packages at real versions, picked
   deterministically from the OSV PyPI data set in ``../shared/data/osv-pypi`` (half at a
   version an advisory lists as affected, half at the newest version an advisory names
   as fixed), so the audit has real hits and real misses;
2. builds turbosec's advisory database from a zip of that data set with
   ``turbosec db update --from PyPI=...`` (timed once: the one-off cost);
3. times ``turbosec scan --scanner deps --no-cache`` on the file, several runs (the warm
   index: database built, files in the page cache), and the in-process part alone (open
   the database, parse the file, match 500 packages);
4. runs pip-audit on the same file with the options turbosec's adapter uses, and records
   what happened: it needs an online vulnerability service, which is unreachable here, so
   its wall time is that of a failure, reported as such, never as a comparison;
5. checks the findings against a second, independent matcher run: the records loaded
   in memory with ``load_records`` and matched one by one;
6. prints the numbers and the target (≤ 0.5 s for 500 packages with a warm index) and
   writes ``bench/results/deps.json``.

Exit code: 0 target met, 1 target missed or findings differ, 2 a step failed.
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
import zipfile
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work" / "deps"
RESULTS = ROOT / "bench" / "results" / "deps.json"
DATA = ROOT.parent / "shared" / "data" / "osv-pypi" / "vulns"
VENV_BIN = Path(sys.executable).parent
PACKAGES = 500
TARGET_S = 0.5
TIMEOUT_S = 600.0


def _run(argv: list[str], **kwargs: Any) -> tuple[subprocess.CompletedProcess[bytes], float]:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, timeout=TIMEOUT_S, check=False, **kwargs)
    return done, time.perf_counter() - start


def build_requirements(path: Path) -> list[tuple[str, str]]:
    """500 (name, version) pairs from the data set: real names, real versions."""
    from packaging.version import InvalidVersion, Version

    from turbosec.scan.deps.osv import load_records

    by_name: dict[str, dict[str, set[str]]] = {}
    for adv in load_records(DATA):
        for aff in adv.affected:
            if aff.ecosystem != "PyPI":
                continue
            entry = by_name.setdefault(aff.name.lower(), {"listed": set(), "fixed": set()})
            entry["listed"].update(aff.versions)
            for rng in aff.ranges:
                entry["fixed"].update(e.value for e in rng.events if e.kind == "fixed")

    def newest(values: set[str]) -> str | None:
        parsed = []
        for value in values:
            try:
                parsed.append((Version(value), value))
            except InvalidVersion:
                continue
        return max(parsed)[1] if parsed else None

    chosen: list[tuple[str, str]] = []
    for index, name in enumerate(sorted(by_name)):
        entry = by_name[name]
        version = newest(entry["fixed"]) if index % 2 else newest(entry["listed"])
        version = version or newest(entry["listed"] | entry["fixed"])
        if version is not None:
            chosen.append((name, version))
        if len(chosen) == PACKAGES:
            break
    path.write_text("".join(f"{n}=={v}\n" for n, v in chosen))
    return chosen


def zip_data(archive: Path) -> None:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(DATA.rglob("*.yaml")):
            zf.write(file, file.relative_to(DATA).as_posix())


def reference_findings(requirements: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """(package, advisory id) pairs from records matched in memory: an independent path."""
    from turbosec.scan.deps.match import vulnerabilities
    from turbosec.scan.deps.osv import AdvisoryIndex, load_records

    index = AdvisoryIndex(load_records(DATA))
    return {
        (name, m.id)
        for name, version in requirements
        for m in vulnerabilities(index, "PyPI", name, version)
    }


def in_process(db_dir: Path, repo: Path) -> tuple[float, int]:
    """Open the database, parse the file, match: the scanner's own work, in this process."""
    from turbosec.core.config import parse_config
    from turbosec.scan.adapters.deps import DepsScanner
    from turbosec.scan.target import Target

    config = parse_config({"deps": {"db": str(db_dir)}}, "bench")
    target = Target.open(repo)
    start = time.perf_counter()
    parsed = DepsScanner().scan(target, config)
    return time.perf_counter() - start, len(parsed.findings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed turbosec runs (median)")
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"data set not found: {DATA}", file=sys.stderr)
        return 2
    shutil.rmtree(WORK, ignore_errors=True)
    repo = WORK / "repo"
    repo.mkdir(parents=True)
    requirements = build_requirements(repo / "requirements.txt")
    archive = WORK / "pypi-all.zip"
    zip_data(archive)
    db_dir = WORK / "db"
    turbosec = str(VENV_BIN / "turbosec")
    env = {**os.environ, "NO_COLOR": "1", "CI": "true"}
    # As installed for a user: Python caches compiled modules.  (Where the environment
    # turns that off, every run would compile turbosec and its libraries again.)
    env.pop("PYTHONDONTWRITEBYTECODE", None)

    done, build_s = _run(
        [turbosec, "db", "update", "--from", f"PyPI={archive}", "--db-dir", str(db_dir)], env=env
    )
    if done.returncode != 0:
        print(done.stderr.decode(errors="replace"), file=sys.stderr)
        return 2

    scan_argv = [
        turbosec, "scan", str(repo), "--scanner", "deps", "--no-cache", "--db", str(db_dir),
        "--fail-on", "never", "--format", "json", "--output", str(WORK / "report.json"),
    ]  # fmt: skip
    times: list[float] = []
    for _ in range(args.runs + 1):  # the first run warms the page cache; not counted
        done, seconds = _run(scan_argv, env=env)
        if done.returncode != 0:
            print(done.stderr.decode(errors="replace"), file=sys.stderr)
            return 2
        times.append(seconds)
    times = times[1:]
    report = orjson.loads((WORK / "report.json").read_bytes())
    got = {(f["package"]["name"].lower(), f["rule_id"]) for f in report["findings"] if f["package"]}
    expected = reference_findings(requirements)
    same = got == expected
    work_s, count = in_process(db_dir, repo)

    startup_s = min(_run([turbosec, "--version"], env=env)[1] for _ in range(3))
    pip_audit = shutil.which("pip-audit", path=str(VENV_BIN)) or shutil.which("pip-audit")
    pa: dict[str, Any] = {"available": pip_audit is not None}
    if pip_audit:
        done, seconds = _run(
            [
                pip_audit, "-r", str(repo / "requirements.txt"), "--no-deps", "--disable-pip",
                "-f", "json", "--progress-spinner", "off", "--timeout", "15",
            ],
            env={**env, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        )  # fmt: skip
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        vulns = audited = None
        skipped: list[str] = []
        if done.stdout.strip():
            try:
                deps = orjson.loads(done.stdout)["dependencies"]
                vulns = sum(len(d.get("vulns", [])) for d in deps)
                skipped = [d["skip_reason"] for d in deps if d.get("skip_reason")]
                audited = len(deps) - len(skipped)
            except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
                vulns = None
        pa.update(
            seconds=round(seconds, 3), exit_code=done.returncode, last_line=tail[0][:300],
            vulnerabilities=vulns, audited=audited, skipped=len(skipped),
            skip_reason_sample=skipped[0][:200] if skipped else None,
            completed=audited == len(requirements),
        )  # fmt: skip

    median = statistics.median(times)
    result = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "packages": len(requirements),
        "advisories": 2661,
        "findings": len(got),
        "findings_match_reference": same,
        "db_build_s": round(build_s, 3),
        "turbosec_scan_s": {
            "median": round(median, 3),
            "min": round(min(times), 3),
            "runs": [round(t, 3) for t in times],
        },
        "turbosec_startup_s": round(startup_s, 3),
        "in_process_s": round(work_s, 4),
        "in_process_findings": count,
        "pip_audit": pa,
        "target_s": TARGET_S,
        "target_met": median <= TARGET_S,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")

    print(f"{len(requirements)} packages, 2,661 advisories; {len(got)} findings")
    print(f"database build (one-off)       {build_s:7.2f} s")
    print(f"turbosec scan --scanner deps   {median:7.3f} s median of {len(times)} "
          f"(min {min(times):.3f} s; target <= {TARGET_S} s: "
          f"{'met' if median <= TARGET_S else 'MISSED'})")  # fmt: skip
    print(f"  of which process start-up    {startup_s:7.3f} s (turbosec --version)")
    print(f"  scanner work in-process      {work_s:7.3f} s")
    if pa.get("available"):
        if pa["completed"]:
            state = f"completed, {pa['vulnerabilities']} vulnerabilities"
        elif pa.get("audited") is not None:
            state = (
                f"audited {pa['audited']} of {len(requirements)} packages "
                f"({pa['skipped']} skipped: {pa['skip_reason_sample']!r}); "
                f"exit {pa['exit_code']}, no comparison possible"
            )
        else:
            state = f"FAILED (exit {pa['exit_code']}): {pa['last_line']}"
        print(f"pip-audit, same file           {pa['seconds']:7.2f} s  {state}")
        if pa["completed"]:
            print(f"  ratio turbosec/pip-audit     {median / pa['seconds']:7.3f}")
    else:
        print("pip-audit: not installed")
    print(f"findings equal to the in-memory reference matcher: {same}")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0 if same and median <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
