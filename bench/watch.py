"""Benchmark of ``turbosec watch``: against fail2ban on an sshd log, JSON throughput, latency.

One command (``.venv/bin/python bench/watch.py``), three parts:

1. **sshd, against fail2ban.**  A labelled 200,000-line ``auth.log``
   (:func:`turbosec.watch.generate.generate_sshd`: brute-forcing addresses, a user-name
   dictionary, a MaxAuthTries guesser, a sprayer, a take-over, many normal users,
   internet background noise, cron).  ``fail2ban-regex`` with Debian's ``sshd`` filter
   (default mode) and ``turbosec watch test`` with the equivalent rule
   (``rules/pack/sshd_jail.yml``: 5 failures within 10 minutes per address) read the same
   file; the wall time of each process (start-up included) gives lines/s, and the ratio.
   turbosec's timed runs find the compiled rule in its rule cache (the first run fills
   it, as any first run does); one more run with ``TURBOSEC_RULE_CACHE=off`` is reported
   beside them (the cost of compiling the rule with pySigma at start-up).
   The addresses each flags must be the same: fail2ban-regex prints every failure it
   counts with ``-o row`` (address, time); the addresses with 5 of them within 600 s
   are what its sshd jail (maxretry 5, findtime 10m) bans.  turbosec's are the groups of
   its alerts.  Both are also checked against the generator's labels.
2. **OWASP JSON throughput.**  1,000,000 OWASP JSON events (an application's logins,
   sessions, denials, with the generator's injected attacks) through the whole built-in
   pack with ``turbosec watch test builtin``: events/s of the process (start-up
   included) and of the replay itself, and the alerts checked against the labels.  Every
   line counts as an event read: the replay decodes those whose type a rule reads and
   leaves out the others after reading their name (both counts are recorded).
3. **Alert latency.**  A writer appends OWASP JSON lines to a file at 50,000 events/s
   (chunks every 10 ms), with a brute force (10 failures for a fresh address and account)
   every 0.1 s among benign traffic, while ``turbosec watch FILE --sink file:alerts.jsonl``
   follows the file.  The latency of an alert is the time from the append of the line
   that completes it (the tenth failure) to the alert's appearance in the alerts file
   (polled every 2 ms); the p50/p99/max are reported.

Setup: when ``fail2ban-regex`` is missing, ``apt-get install -y fail2ban`` is run (10
minute timeout).  Targets (issue 6): turbosec >= 10 x fail2ban's lines/s with the same
addresses; >= 150,000 JSON events/s; p99 latency <= 500 ms.  Results:
``bench/results/watch.json``; scratch files in ``bench/work/watch/``.

Exit code: 0 every target met and every check passed, 1 otherwise, 2 a step failed.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson

from turbosec.watch import generate as gen

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work" / "watch"
RESULTS = ROOT / "bench" / "results" / "watch.json"
VENV_BIN = Path(sys.executable).parent
TURBOSEC = str(VENV_BIN / "turbosec")
SSHD_RULE = ROOT / "src" / "turbosec" / "watch" / "rules" / "pack" / "sshd_jail.yml"
FAIL2BAN_REGEX = "fail2ban-regex"
TIMEOUT_S = 1800.0
SSHD_LINES = 200_000
JSON_EVENTS = 1_000_000
RATE = 50_000
TARGET_RATIO = 10.0
TARGET_JSON = 150_000.0
TARGET_P99_MS = 500.0
FINDTIME = 600.0
MAXRETRY = 5
_ROW = re.compile(r"^\['([^']+)',\s+([0-9.]+),")


def _env() -> dict[str, str]:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: compiled modules are cached
    return env


def _run(
    argv: list[str], env: dict[str, str] | None = None, **kwargs: Any
) -> tuple[subprocess.CompletedProcess[bytes], float]:
    start = time.perf_counter()
    done = subprocess.run(
        argv, capture_output=True, timeout=TIMEOUT_S, check=False, env=env or _env(), **kwargs
    )
    return done, time.perf_counter() - start


def ensure_fail2ban() -> str | None:
    found = shutil.which(FAIL2BAN_REGEX)
    if found:
        return found
    print("fail2ban-regex not found: apt-get install -y fail2ban", flush=True)
    try:
        subprocess.run(
            ["apt-get", "install", "-y", "fail2ban"],
            timeout=600,
            check=False,
            env={**_env(), "DEBIAN_FRONTEND": "noninteractive"},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"cannot install fail2ban: {exc}", file=sys.stderr)
    return shutil.which(FAIL2BAN_REGEX)


def jail_addresses(failures: dict[str, list[float]]) -> set[str]:
    """Addresses with MAXRETRY failures within FINDTIME seconds (closed window)."""
    flagged = set()
    for address, times in failures.items():
        times.sort()
        for i in range(MAXRETRY - 1, len(times)):
            if times[i] - times[i - MAXRETRY + 1] <= FINDTIME:
                flagged.add(address)
                break
    return flagged


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


# --- part 1: sshd against fail2ban ----------------------------------------------------------


def part_sshd(fail2ban: str, repeat: int) -> dict[str, Any]:
    # two days of a server exposed to the internet: two addresses guessing root's password
    # all along fill most of it, as they do in real life
    log = gen.generate_sshd(2026, users=60, hours=48, lines=SSHD_LINES, persistent=2)
    path = log.write(WORK / "auth.log")
    lines = len(log.lines)
    expected = {
        dict(label.group)["source_ip"]
        for label in log.labels
        if label.rule_id == gen.SSHD_BRUTE_FORCE
    }
    print(f"auth.log: {lines:,} lines, {len(log.attacks)} attacks, "
          f"{len(expected)} addresses the sshd jail must flag", flush=True)  # fmt: skip

    version = _run([fail2ban, "--version"])[0].stdout.decode().strip().splitlines()[:1]
    f2b_times = []
    for _ in range(repeat):
        done, seconds = _run(
            [fail2ban, "--print-no-missed", "--print-no-ignored", str(path), "sshd"]
        )
        if done.returncode != 0:
            raise RuntimeError(f"fail2ban-regex failed: {done.stderr.decode()[-2000:]}")
        f2b_times.append(seconds)
    summary = done.stdout.decode()
    matched = re.search(r"Lines: (\d+) lines, (\d+) ignored, (\d+) matched, (\d+) missed", summary)
    done, rows_s = _run([fail2ban, "-o", "row", str(path), "sshd"])
    failures: dict[str, list[float]] = defaultdict(list)
    for line in done.stdout.decode().splitlines():
        m = _ROW.match(line)
        if m:
            failures[m.group(1)].append(float(m.group(2)))
    f2b_flagged = jail_addresses(failures)

    ts_times = []
    ts_inprocess = []
    for _ in range(repeat):
        done, seconds = _run([TURBOSEC, "watch", "test", str(SSHD_RULE), str(path), "--json"])
        if done.returncode != 0:
            raise RuntimeError(f"turbosec watch test failed: {done.stderr.decode()[-2000:]}")
        ts_times.append(seconds)
        document = orjson.loads(done.stdout)
        ts_inprocess.append(document["stats"]["seconds"])
    ts_flagged = {a["group"]["source_ip"] for a in document["alerts"]}
    # the timed runs find the compiled rule in turbosec's rule cache (the first one fills
    # it); one more run with the cache off shows the cost of compiling it with pySigma
    cold_done, cold_s = _run(
        [TURBOSEC, "watch", "test", str(SSHD_RULE), str(path), "--json"],
        env={**_env(), "TURBOSEC_RULE_CACHE": "off"},
    )
    if cold_done.returncode != 0:
        raise RuntimeError(f"turbosec watch test failed: {cold_done.stderr.decode()[-2000:]}")
    f2b_s = statistics.median(f2b_times)
    ts_s = statistics.median(ts_times)
    result = {
        "lines": lines,
        "attacks": log.attacks,
        "fail2ban": {
            "version": version[0] if version else None,
            "command": f"fail2ban-regex --print-no-missed --print-no-ignored {path.name} sshd",
            "seconds": [round(t, 3) for t in f2b_times],
            "lines_per_s": round(lines / f2b_s, 1),
            "summary": matched.group(0) if matched else None,
            "failures_counted": sum(len(v) for v in failures.values()),
            "row_output_seconds": round(rows_s, 3),
            "flagged": sorted(f2b_flagged),
        },
        "turbosec": {
            "command": f"turbosec watch test {SSHD_RULE.relative_to(ROOT)} {path.name} --json",
            "seconds": [round(t, 3) for t in ts_times],
            "in_process_seconds": [round(t, 3) for t in ts_inprocess],
            "lines_per_s": round(lines / ts_s, 1),
            "in_process_lines_per_s": round(lines / statistics.median(ts_inprocess), 1),
            "alerts": len(document["alerts"]),
            "flagged": sorted(ts_flagged),
            "rule_cache_off_seconds": round(cold_s, 3),
            "rule_cache_off_lines_per_s": round(lines / cold_s, 1),
        },
        "ratio": round((lines / ts_s) / (lines / f2b_s), 2),
        "ratio_rule_cache_off": round(f2b_s / cold_s, 2),
        "same_addresses": ts_flagged == f2b_flagged,
        "labels_match": ts_flagged == expected,
        "expected": sorted(expected),
    }
    return result


# --- part 2: OWASP JSON throughput ----------------------------------------------------------


def part_json(repeat: int) -> dict[str, Any]:
    log = gen.generate_owasp(2026, min_lines=JSON_EVENTS, hours=24)
    lines = log.lines[:JSON_EVENTS] if len(log.lines) > JSON_EVENTS else log.lines
    # cutting the tail off keeps every attack: they sit in the first three quarters
    path = WORK / "app.jsonl"
    with open(path, "w", encoding="utf-8") as out:
        out.write("".join(line + "\n" for line in lines))
    print(f"app.jsonl: {len(lines):,} events", flush=True)
    times, inprocess = [], []
    for _ in range(repeat):
        done, seconds = _run([TURBOSEC, "watch", "test", "builtin", str(path), "--json"])
        if done.returncode != 0:
            raise RuntimeError(f"turbosec watch test failed: {done.stderr.decode()[-2000:]}")
        document = orjson.loads(done.stdout)
        times.append(seconds)
        inprocess.append(document["stats"]["seconds"])
    # Every line of the file is an event the replay has to account for: decoded (a rule
    # reads its type) or left out after reading its name (no rule reads that type).
    parse = document["stats"]["parse"]
    events = parse["lines"] - parse["malformed"]
    got = {(a["rule_id"], tuple(a["group"].items())) for a in document["alerts"]}
    wall = statistics.median(times)
    return {
        "events": events,
        "events_decoded": parse["events"],
        "events_left_out": parse["unused"],
        "lines": len(lines),
        "seconds": [round(t, 3) for t in times],
        "in_process_seconds": [round(t, 3) for t in inprocess],
        "events_per_s": round(events / wall, 1),
        "in_process_events_per_s": round(events / statistics.median(inprocess), 1),
        "alerts": len(document["alerts"]),
        "labels_match": got == log.expected,
        "rules": 21,
    }


# --- part 3: latency ------------------------------------------------------------------------


def _latency_lines(seconds: float) -> tuple[list[str], dict[tuple[str, str], int]]:
    """Benign logins with a 10-failure brute force every 0.1 s; the completing line of each."""
    import random

    rng = random.Random(7)
    total = int(seconds * RATE)
    t0 = gen.DEFAULT_START.timestamp()
    step = 1.0 / RATE
    users = [f"user{i}" for i in range(20_000)]
    lines: list[str] = []
    completing: dict[tuple[str, str], int] = {}
    attack_every = RATE // 10
    attack = 0
    pending: list[tuple[int, str, str, int]] = []  # (line index, ip, user, failure number)
    for i in range(total):
        t = t0 + i * step
        if i % attack_every == 0:
            attack += 1
            ip = f"203.0.{(attack >> 8) & 255}.{attack & 255}"
            user = f"victim{attack}"
            for k in range(10):
                pending.append((i + k * 20, ip, user, k))
        if pending and pending[0][0] == i:
            _, ip, user, k = pending.pop(0)
            lines.append(gen.owasp_json_line(t, f"authn_login_fail:{user}", ip))
            if k == 9:
                completing[(ip, user)] = i
            continue
        user = users[rng.randrange(len(users))]
        ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        roll = rng.random()
        # about the mix of an application's security log (see generate_owasp)
        if roll < 0.30:
            event = f"authn_login_success:{user}"
        elif roll < 0.60:
            event = f"session_created:{user}"
        elif roll < 0.85:
            event = f"session_logout:{user}"
        elif roll < 0.92:
            event = f"input_validation_fail:(email),{user}"
        elif roll < 0.97:
            event = f"authz_fail:{user},/admin"
        else:
            event = f"authn_login_fail:{user}"
        lines.append(gen.owasp_json_line(t, event, ip))
    return lines, completing


def part_latency(seconds: float) -> dict[str, Any]:
    lines, completing = _latency_lines(seconds)
    data = [(line + "\n").encode() for line in lines]
    path = WORK / "live.jsonl"
    alerts_path = WORK / "live-alerts.jsonl"
    for stale in (path, alerts_path):
        stale.unlink(missing_ok=True)
    path.touch()
    proc = subprocess.Popen(
        [TURBOSEC, "-q", "watch", str(path), "--from-start", "--sink", f"file:{alerts_path}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=_env(),
    )
    time.sleep(2.0)  # start-up (imports, rules) is not part of the latency
    appended = [0.0] * len(lines)
    chunk = RATE // 100  # every 10 ms
    seen: dict[str, float] = {}
    stop = threading.Event()

    def watch_alerts() -> None:
        offset = 0
        buffer = b""
        while not stop.is_set():
            try:
                with open(alerts_path, "rb") as handle:
                    handle.seek(offset)
                    data_read = handle.read()
            except FileNotFoundError:
                data_read = b""
            now = time.perf_counter()
            if data_read:
                offset += len(data_read)
                buffer += data_read
                *complete, buffer = buffer.split(b"\n")
                for raw in complete:
                    if raw.strip():
                        alert = orjson.loads(raw)
                        group = alert["group"]
                        key = f"{group.get('source_ip')}|{group.get('user')}|{alert['rule_id']}"
                        seen.setdefault(key, now)
            time.sleep(0.002)

    reader = threading.Thread(target=watch_alerts, daemon=True)
    reader.start()
    start = time.perf_counter()
    behind = 0.0
    with open(path, "ab", buffering=0) as out:
        for k in range(0, len(data), chunk):
            due = start + (k // chunk) * 0.01
            now = time.perf_counter()
            if now < due:
                time.sleep(due - now)
            else:
                behind = max(behind, now - due)
            out.write(b"".join(data[k : k + chunk]))
            stamp = time.perf_counter()
            for i in range(k, min(k + chunk, len(data))):
                appended[i] = stamp
    write_s = time.perf_counter() - start
    deadline = time.perf_counter() + 30
    wanted = {f"{ip}|{user}|{gen.BRUTE_FORCE_SOURCE_ACCOUNT}" for ip, user in completing}
    while time.perf_counter() < deadline and not wanted <= set(seen):
        time.sleep(0.05)
    stop.set()
    reader.join(timeout=5)
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    latencies = []
    missing = 0
    for (ip, user), index in completing.items():
        key = f"{ip}|{user}|{gen.BRUTE_FORCE_SOURCE_ACCOUNT}"
        if key not in seen:
            missing += 1
            continue
        latencies.append((seen[key] - appended[index]) * 1000)
    latencies.sort()

    def pct(p: float) -> float | None:
        if not latencies:
            return None
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1)

    extra = {k for k in seen if not k.endswith(gen.BRUTE_FORCE_SOURCE_ACCOUNT)}
    return {
        "events": len(lines),
        "rate_target": RATE,
        "rate_achieved": round(len(lines) / write_s, 1),
        "writer_max_behind_ms": round(behind * 1000, 1),
        "attacks": len(completing),
        "alerts_seen": len(latencies),
        "alerts_missing": missing,
        "other_alerts": sorted(extra)[:10],
        "latency_ms": {
            "p50": pct(0.50),
            "p90": pct(0.90),
            "p99": pct(0.99),
            "max": round(latencies[-1], 1) if latencies else None,
        },
        "watcher_exit": proc.returncode,
        "watcher_stderr_tail": err.decode()[-500:],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per tool (median)")
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    parser.add_argument("--skip", action="append", default=[], choices=["sshd", "json", "latency"])
    args = parser.parse_args(argv)
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    load_before = load_average()
    result: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_before": load_before,
        },
    }
    ok = True
    try:
        if "sshd" not in args.skip:
            fail2ban = ensure_fail2ban()
            if fail2ban is None:
                print("fail2ban-regex is not available", file=sys.stderr)
                return 2
            sshd = part_sshd(fail2ban, args.repeat)
            result["sshd"] = sshd
            f2b, ts = sshd["fail2ban"], sshd["turbosec"]
            print(f"fail2ban-regex  {f2b['lines_per_s']:>12,.0f} lines/s  "
                  f"(median {statistics.median(f2b['seconds']):.2f} s)")  # fmt: skip
            print(f"turbosec        {ts['lines_per_s']:>12,.0f} lines/s  "
                  f"(median {statistics.median(ts['seconds']):.2f} s, start-up included; "
                  f"{ts['in_process_lines_per_s']:,.0f} lines/s in-process)")  # fmt: skip
            print(f"                (rule cache off: {ts['rule_cache_off_lines_per_s']:,.0f} "
                  f"lines/s in {ts['rule_cache_off_seconds']:.2f} s, "
                  f"{sshd['ratio_rule_cache_off']:.1f} x)")  # fmt: skip
            met = sshd["ratio"] >= TARGET_RATIO
            print(f"ratio           {sshd['ratio']:>12.1f} x  (target >= {TARGET_RATIO:g} x: "
                  f"{'met' if met else 'MISSED'})")  # fmt: skip
            print(f"same addresses flagged: {sshd['same_addresses']} "
                  f"(fail2ban {len(f2b['flagged'])}, turbosec {len(ts['flagged'])}); "
                  f"equal to the labels: {sshd['labels_match']}")  # fmt: skip
            sshd["target_met"] = met
            ok = ok and met and sshd["same_addresses"] and sshd["labels_match"]
        if "json" not in args.skip:
            js = part_json(args.repeat)
            result["json"] = js
            met = js["events_per_s"] >= TARGET_JSON
            print(f"OWASP JSON      {js['events_per_s']:>12,.0f} events/s  "
                  f"(median {statistics.median(js['seconds']):.2f} s for {js['events']:,} events, "
                  f"start-up included; {js['in_process_events_per_s']:,.0f} events/s in-process; "
                  f"target >= {TARGET_JSON:,.0f}: {'met' if met else 'MISSED'})")  # fmt: skip
            print(f"                {js['events_decoded']:,} decoded, {js['events_left_out']:,} "
                  "left out unread (no rule reads their event type)")  # fmt: skip
            print(f"alerts equal to the labels: {js['labels_match']} ({js['alerts']} alerts)")
            js["target_met"] = met
            ok = ok and met and js["labels_match"]
        if "latency" not in args.skip:
            lat = part_latency(args.latency_seconds)
            result["latency"] = lat
            p99 = lat["latency_ms"]["p99"]
            met = p99 is not None and p99 <= TARGET_P99_MS and lat["alerts_missing"] == 0
            print(f"latency         p50 {lat['latency_ms']['p50']} ms, p99 {p99} ms, max "
                  f"{lat['latency_ms']['max']} ms over {lat['alerts_seen']} alerts at "
                  f"{lat['rate_achieved']:,.0f} events/s ({lat['alerts_missing']} missing; "
                  f"target p99 <= {TARGET_P99_MS:g} ms: {'met' if met else 'MISSED'})")  # fmt: skip
            lat["target_met"] = met
            ok = ok and met
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        print(f"step failed: {exc}", file=sys.stderr)
        return 2
    result["machine"]["load_after"] = load_average()
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, cwd=ROOT, timeout=30, check=False
    )
    result["turbosec_commit"] = commit.stdout.decode().strip() or None
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"wrote {RESULTS.relative_to(ROOT)} (load average before {load_before}, "
          f"after {result['machine']['load_after']})")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
