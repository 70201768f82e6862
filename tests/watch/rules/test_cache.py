"""The compiled rule set cache: same rules from the cache, misses on any change."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from tests.watch.rules import event
from turbosec.watch.rules import cache as module
from turbosec.watch.rules import load_rules
from turbosec.watch.rules.cache import default_dir, key_of
from turbosec.watch.rules.model import RuleSet

RULES = """\
title: bad logins
name: bad_login
id: 6f1f4f8e-8f7b-4a53-9d53-2f1f1f0a0b01
level: low
tags: [attack.t1110]
logsource: {product: turbosec}
detection:
  sel: {event_type: authn_login_fail}
  web: {request_uri|re: '^/(admin|login)', status|gte: 400, source_ip|cidr: 10.0.0.0/8}
  star: {user|contains|cased: 'Adm*n', useragent: 'curl/?.*'}
  quiet: {hostname: null, extra.port|exists: true}
  condition: sel and not 1 of star* or (web and not quiet)
---
title: many bad logins
id: 6f1f4f8e-8f7b-4a53-9d53-2f1f1f0a0b02
level: high
correlation:
  type: value_count
  rules: [bad_login]
  group-by: [ip]
  aliases:
    ip: {bad_login: source_ip}
  timespan: 5m
  condition: {gte: 3, field: user}
"""

EVENTS = [
    event("authn_login_fail", user="joe", source_ip="10.1.2.3"),
    event("authn_login_fail", user="xAdm*nx", source_ip="10.1.2.3"),
    event("authn_login_fail", user="joe", useragent="curl/8.1"),
    event("authz_fail", request_uri="/admin/x", status=403, source_ip="10.9.9.9"),
    event("authz_fail", request_uri="/admin/x", status=403, source_ip="192.0.2.1"),
    event("authz_fail", request_uri="/admin/x", status=403, source_ip="10.9.9.9", hostname="h"),
    event("authz_fail", request_uri="/x", status=500, source_ip="10.9.9.9"),
]


def _shape(rules: RuleSet) -> object:
    return (
        [
            (d.meta, d.event_types, d.generate, [d.match(e) for e in EVENTS])
            for d in rules.detections
        ],
        list(rules.correlations),
        {k: [d.meta.id for d in v] for k, v in rules.by_type.items()},
        [d.meta.id for d in rules.any_type],
    )


def test_a_cached_rule_set_is_the_same_rule_set(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(RULES, encoding="utf-8")
    cache = tmp_path / "cache"
    fresh = load_rules([path], builtin=False)
    first = load_rules([path], builtin=False, cache_dir=cache)
    (stored,) = cache.iterdir()
    cached = load_rules([path], builtin=False, cache_dir=cache)
    assert _shape(first) == _shape(fresh) == _shape(cached)
    assert [d.match(e) for d in cached.detections for e in EVENTS].count(True) >= 3
    # the built-in pack too, with its correlations of correlations
    pack = load_rules([], cache_dir=cache)
    assert _shape(load_rules([], cache_dir=cache)) == _shape(pack) == _shape(load_rules([]))
    assert len(list(cache.iterdir())) == 2
    assert stored.stat().st_mode & 0o077 == 0


def test_a_changed_file_misses_and_a_broken_cache_is_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(RULES, encoding="utf-8")
    cache = tmp_path / "cache"
    load_rules([path], builtin=False, cache_dir=cache)
    (stored,) = cache.iterdir()
    path.write_text(RULES.replace("level: low", "level: critical"), encoding="utf-8")
    changed = load_rules([path], builtin=False, cache_dir=cache)
    assert str(changed.detections[0].meta.severity) == "critical"
    assert len(list(cache.iterdir())) == 2
    path.write_text(RULES, encoding="utf-8")
    for broken in (b"{not json", b"[]", orjson.dumps({"format": 1, "key": "other"}), b""):
        stored.write_bytes(broken)
        again = load_rules([path], builtin=False, cache_dir=cache)
        assert _shape(again) == _shape(load_rules([path], builtin=False))
        assert orjson.loads(stored.read_bytes())["key"] == stored.stem
    # a well-formed file whose rule logic was tampered with is a miss, not a wrong rule
    document = orjson.loads(stored.read_bytes())
    document["detections"][0]["plain"]["conditions"] = [["id", "missing"]]
    stored.write_bytes(orjson.dumps(document))
    assert _shape(load_rules([path], builtin=False, cache_dir=cache)) == _shape(
        load_rules([path], builtin=False)
    )


def test_the_key_covers_names_and_texts() -> None:
    one = key_of([("a.yml", "x: 1")])
    assert one == key_of([("a.yml", "x: 1")])
    assert len({one, key_of([("b.yml", "x: 1")]), key_of([("a.yml", "x: 2")])}) == 3
    assert key_of([("a.yml", "x"), ("b.yml", "")]) != key_of([("a.yml", ""), ("b.yml", "x")])


def test_where_the_cache_lives() -> None:
    assert default_dir({"TURBOSEC_HOME": "/t"}) == Path("/t/cache/watch-rules")
    assert default_dir({"XDG_CACHE_HOME": "/x"}) == Path("/x/turbosec/watch-rules")
    assert default_dir({}) == Path.home() / ".cache" / "turbosec" / "watch-rules"
    assert default_dir({"TURBOSEC_RULE_CACHE": "off", "TURBOSEC_HOME": "/t"}) is None


def test_a_cache_hit_does_not_start_pysigma_or_a_yaml_parser(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(RULES, encoding="utf-8")
    code = (
        "import sys; from pathlib import Path; from turbosec.watch.rules import load_rules; "
        f"load_rules([Path({str(path)!r})], builtin=False, cache_dir=Path({str(tmp_path)!r})); "
        "print(sorted(m for m in sys.modules if m == 'yaml' or m.split('.')[0] == 'sigma'))"
    )
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    runs = [
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, timeout=60, check=True, env=env
        ).stdout.decode()
        for _ in range(2)
    ]
    assert "sigma" in runs[0]  # the first load compiles the rules
    assert runs[1].strip() == "[]"


def test_the_cache_keeps_the_newest_rule_sets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(module, "MAX_ENTRIES", 2)
    folder = tmp_path / "cache"
    for level in ("low", "medium", "high"):
        path = tmp_path / f"{level}.yml"
        path.write_text(RULES.replace("level: low", f"level: {level}"), encoding="utf-8")
        load_rules([path], builtin=False, cache_dir=folder)
        time.sleep(0.01)
    kept = sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime)
    assert len(kept) == 2
    assert '"severity":"HIGH"' in kept[-1].read_text(encoding="utf-8")
