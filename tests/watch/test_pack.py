"""The built-in rule pack: every injected attack found, no alert on benign traffic.

Logs come from :mod:`turbosec.watch.generate` (seeded, labelled) and go through the real
parsers, the real Sigma loader and the real engine.  The per-rule cases below write the
few lines that must and must not trigger each rule, on both sides of its threshold and
its window.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml

from turbosec.core.event import Alert
from turbosec.events.parsers import ParseStats, get_parser, parse_lines
from turbosec.watch import generate as gen
from turbosec.watch.engine import Engine
from turbosec.watch.generate import (
    DEFAULT_START,
    access_log_line,
    owasp_json_line,
    sshd_line,
)
from turbosec.watch.rules.loader import builtin_paths, load_rules
from turbosec.watch.rules.model import RuleSet

PACK = Path(gen.__file__).resolve().parent / "rules" / "pack"
T0 = DEFAULT_START.timestamp()
Key = tuple[str, tuple[tuple[str, str | None], ...]]


@pytest.fixture(scope="module")
def pack() -> RuleSet:
    return load_rules([], builtin=True)


def _alerts(rules: RuleSet, lines: Sequence[str], fmt: str) -> list[Alert]:
    parser = get_parser(fmt)
    stats = ParseStats()
    events = parse_lines(parser, list(lines), "test.log", stats)
    assert stats.malformed == 0, stats.samples
    engine = Engine(rules)
    out: list[Alert] = []
    for event in events:
        out.extend(engine.process(event))
    return out


def _keys(alerts: Sequence[Alert]) -> set[Key]:
    return {(a.rule_id, a.group) for a in alerts}


# --- the pack itself ------------------------------------------------------------------------


def _documents() -> list[tuple[Path, dict[str, object]]]:
    docs = []
    for path in sorted(PACK.glob("*.yml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            docs.append((path, doc))
    return docs


def test_builtin_paths_are_the_pack_files() -> None:
    names = sorted(Path(p).name for p in builtin_paths())
    assert names == sorted(p.name for p in PACK.glob("*.yml"))
    assert len(names) == 8


@pytest.mark.parametrize("path_doc", _documents(), ids=lambda pd: f"{pd[0].name}:{pd[1]['name']}")
def test_every_rule_is_documented(path_doc: tuple[Path, dict[str, object]]) -> None:
    path, doc = path_doc
    for key in ("title", "id", "name", "description", "level", "tags", "falsepositives"):
        assert doc.get(key), f"{path.name}: rule {doc.get('name')} has no {key}"
    uuid.UUID(str(doc["id"]))
    tags = doc["tags"]
    assert isinstance(tags, list)
    assert any(re.fullmatch(r"attack\.t\d{4}(\.\d{3})?", str(t)) for t in tags), tags
    assert any(re.fullmatch(r"attack\.[a-z_]+", str(t)) for t in tags), tags
    if "correlation" not in doc:
        logsource = doc["logsource"]
        assert isinstance(logsource, dict)
        assert logsource["product"] == "turbosec"
    assert len(str(doc["description"])) > 40


def test_thresholds_are_explained_in_each_file() -> None:
    for path in PACK.glob("*.yml"):
        head = path.read_text(encoding="utf-8").split("\ntitle:", 1)[0]
        assert "Threshold" in head or "threshold" in head or "maxretry" in head, path.name


def test_each_file_loads_on_its_own() -> None:
    for path in PACK.glob("*.yml"):
        rules = load_rules([path], builtin=False)
        assert rules.correlations, path.name


def test_alerting_rules_and_building_blocks(pack: RuleSet) -> None:
    ids = {meta.id for meta in pack.all_meta}
    assert ids >= gen.PACK_ALERTING_RULES
    emitting = {
        c.meta.id
        for c in pack.correlations
        if not pack.referenced.get(c.meta.id) or any(u.generate for u in pack.referenced[c.meta.id])
    }
    assert emitting == gen.PACK_ALERTING_RULES
    assert not [d.meta.id for d in pack.detections if d.generate]


# --- labelled logs: exactly the injected attacks --------------------------------------------


def _check_labelled(pack: RuleSet, log: gen.LabelledLog) -> None:
    alerts = _alerts(pack, log.lines, log.format)
    got = _keys(alerts)
    missing = log.expected - got
    extra = got - log.expected
    by_attack = log.labels_by_attack()
    assert not missing, [
        (attack, key) for attack, keys in by_attack.items() for key in keys if key in missing
    ]
    assert not extra, sorted(extra)
    assert set(by_attack) == set(log.attacks)


@pytest.mark.parametrize("seed", [1, 2])
def test_owasp_json_log(pack: RuleSet, seed: int) -> None:
    log = gen.generate_owasp(seed)
    assert len(log.attacks) == 6
    _check_labelled(pack, log)


@pytest.mark.parametrize("seed", [1, 2])
def test_sshd_log(pack: RuleSet, seed: int) -> None:
    log = gen.generate_sshd(seed)
    assert len(log.attacks) == 5
    _check_labelled(pack, log)


@pytest.mark.parametrize("seed", [1, 2])
def test_access_log(pack: RuleSet, seed: int) -> None:
    log = gen.generate_access_log(seed)
    assert len(log.attacks) == 3
    _check_labelled(pack, log)


@pytest.mark.parametrize("make", [gen.generate_owasp, gen.generate_sshd, gen.generate_access_log])
def test_benign_traffic_alone_raises_nothing(pack: RuleSet, make: object) -> None:
    log = make(7, attacks=False)  # type: ignore[operator]
    assert log.labels == []
    assert _alerts(pack, log.lines, log.format) == []


def test_benign_traffic_has_what_makes_it_hard() -> None:
    """The benign logs hold the traps the rules must not fall into."""
    log = gen.generate_owasp(1, attacks=False)
    fails = [line for line in log.lines if "authn_login_fail:" in line]
    nat = [line for line in log.lines if '"198.51.100.10"' in line and "login_success" in line]
    assert len(fails) > 20
    assert len({re.search(r"login_success\w*:([^,\"]+)", x).group(1) for x in nat}) > 30  # type: ignore[union-attr]
    ssh = gen.generate_sshd(1, attacks=False)
    assert any("Failed password for" in line for line in ssh.lines)
    assert any("198.51.100.20" in line and "Accepted" in line for line in ssh.lines)
    web = gen.generate_access_log(1, attacks=False)
    assert sum(1 for line in web.lines if '" 404 ' in line) > 50
    assert sum(1 for line in web.lines if '" 401 ' in line) > 10


def test_generator_is_deterministic() -> None:
    assert gen.generate_sshd(3).lines == gen.generate_sshd(3).lines
    assert gen.generate_owasp(3).lines != gen.generate_owasp(4).lines


def test_sshd_log_of_a_given_size(pack: RuleSet) -> None:
    log = gen.generate_sshd(5, users=60, lines=20_000, hours=12, persistent=1)
    assert len(log.lines) == 20_000
    assert len(log.labels) == 18
    _check_labelled(pack, log)


# --- per rule: what must and must not trigger -----------------------------------------------


def _fails(
    n: int, *, users: Sequence[str], ips: Sequence[str], every: float, start: float = 0
) -> list[tuple[float, str]]:
    """``n`` failed logins, cycling through users and addresses, one every ``every`` s."""
    out = []
    for i in range(n):
        t = T0 + start + i * every
        out.append(
            (t, owasp_json_line(t, f"authn_login_fail:{users[i % len(users)]}", ips[i % len(ips)]))
        )
    return out


def _success(t: float, user: str, ip: str) -> tuple[float, str]:
    t = T0 + t
    return (t, owasp_json_line(t, f"authn_login_success:{user}", ip))


def _json(pack: RuleSet, items: Sequence[tuple[float, str]]) -> set[Key]:
    return _keys(_alerts(pack, [line for _, line in sorted(items)], "owasp-json"))


IP = "203.0.113.5"


def test_brute_force_one_address(pack: RuleSet) -> None:
    group = (("source_ip", IP), ("user", "joe"))
    assert _json(pack, _fails(10, users=["joe"], ips=[IP], every=50)) == {
        (gen.BRUTE_FORCE_SOURCE_ACCOUNT, group)
    }
    assert _json(pack, _fails(9, users=["joe"], ips=[IP], every=50)) == set()
    # ten failures, but spread over 12 minutes: no ten-minute window holds ten
    assert _json(pack, _fails(10, users=["joe"], ips=[IP], every=80)) == set()


def test_brute_force_one_account_from_many_addresses(pack: RuleSet) -> None:
    bots = [f"192.0.2.{i}" for i in range(1, 21)]
    got = _json(pack, _fails(20, users=["joe"], ips=bots, every=15))
    assert got == {(gen.BRUTE_FORCE_ACCOUNT, (("user", "joe"),))}
    assert _json(pack, _fails(19, users=["joe"], ips=bots, every=15)) == set()


def test_credential_stuffing(pack: RuleSet) -> None:
    users = [f"leaked{i}" for i in range(40)]
    got = _json(pack, _fails(20, users=users, ips=[IP], every=2))
    assert got == {
        (gen.CREDENTIAL_STUFFING, (("source_ip", IP),)),
    }
    assert _json(pack, _fails(19, users=users, ips=[IP], every=2)) == set()
    # the same address failing twenty times for one account is brute force, not stuffing
    got = _json(pack, _fails(20, users=["joe"], ips=[IP], every=2))
    assert (gen.CREDENTIAL_STUFFING, (("source_ip", IP),)) not in got
    # twenty accounts over 16 minutes: at most 13 in any ten minutes
    assert _json(pack, _fails(20, users=users, ips=[IP], every=50)) == set()


def test_password_spraying(pack: RuleSet) -> None:
    users = [f"staff{i}" for i in range(40)]
    got = _json(pack, _fails(30, users=users, ips=[IP], every=100))
    assert got == {(gen.PASSWORD_SPRAYING, (("source_ip", IP),))}
    assert _json(pack, _fails(29, users=users, ips=[IP], every=100)) == set()
    # thirty accounts over two hours: at most 16 in any hour
    assert _json(pack, _fails(30, users=users, ips=[IP], every=240)) == set()
    # a busy office NAT: many accounts log in, a few mistype
    office = []
    for i in range(200):
        office.append(_success(i * 15, f"staff{i}", IP))
        if i % 10 == 0:
            office += _fails(1, users=[f"staff{i}"], ips=[IP], every=1, start=i * 15 - 5)
    assert _json(pack, office) == set()


def test_success_after_failures(pack: RuleSet) -> None:
    group = (("source_ip", IP), ("user", "joe"))
    eight = _fails(8, users=["joe"], ips=[IP], every=20)
    assert _json(pack, [*eight, _success(600, "joe", IP)]) == {(gen.ACCOUNT_TAKEOVER, group)}
    seven = _fails(7, users=["joe"], ips=[IP], every=20)
    assert _json(pack, [*seven, _success(600, "joe", IP)]) == set()
    # the success must follow the burst, from the same address, within twenty minutes
    assert _json(pack, [_success(-60, "joe", IP), *eight]) == set()
    assert _json(pack, [*eight, _success(600, "joe", "198.51.100.99")]) == set()
    assert _json(pack, [*eight, _success(160 + 21 * 60, "joe", IP)]) == set()


def test_login_after_burst_from_a_new_address(pack: RuleSet) -> None:
    bots = [f"192.0.2.{i}" for i in range(1, 11)]
    ten = _fails(10, users=["joe"], ips=bots, every=20)
    got = _json(pack, [*ten, _success(400, "joe", "198.51.100.99")])
    assert got == {(gen.LOGIN_AFTER_BURST, (("user", "joe"),))}
    nine = _fails(9, users=["joe"], ips=bots, every=20)
    assert _json(pack, [*nine, _success(400, "joe", "198.51.100.99")]) == set()
    assert _json(pack, [_success(-30, "joe", "198.51.100.99"), *ten]) == set()
    # the same burst followed by another account's login: nothing
    assert _json(pack, [*ten, _success(400, "ann", "198.51.100.99")]) == set()


def _web(
    pack: RuleSet, requests: Sequence[tuple[str, int]], every: float, ip: str = IP
) -> set[Key]:
    lines = [
        access_log_line(T0 + i * every, ip, "GET", path, status, 153)
        for i, (path, status) in enumerate(requests)
    ]
    return _keys(_alerts(pack, lines, "access-log"))


def test_401_403_flood(pack: RuleSet) -> None:
    flood = {(gen.HTTP_AUTH_FLOOD, (("source_ip", IP),))}
    assert _web(pack, [("/admin/", 401 if i % 2 else 403) for i in range(50)], 4) == flood
    assert _web(pack, [("/admin/", 401) for _ in range(49)], 4) == set()
    assert _web(pack, [("/admin/", 200) for _ in range(200)], 1) == set()
    # fifty over ten minutes: at most 25 in any five minutes
    assert _web(pack, [("/admin/", 401) for _ in range(50)], 12) == set()


def test_scanner(pack: RuleSet) -> None:
    scan = {(gen.WEB_SCANNER, (("source_ip", IP),))}
    assert _web(pack, [(f"/probe{i}.php", 404) for i in range(30)], 1) == scan
    assert _web(pack, [(f"/probe{i}.php", 404) for i in range(29)], 1) == set()
    assert _web(pack, [("/favicon.ico", 404) for _ in range(300)], 1) == set()
    assert _web(pack, [(f"/page{i}", 200) for i in range(300)], 1) == set()
    # thirty distinct over twenty minutes: at most 15 in any ten
    assert _web(pack, [(f"/probe{i}.php", 404) for i in range(30)], 40) == set()


def _ssh(pack: RuleSet, messages: Sequence[str], every: float = 30) -> set[Key]:
    lines = [
        sshd_line(T0 + i * every, f"sshd[{100 + i}]", message) for i, message in enumerate(messages)
    ]
    return _keys(_alerts(pack, lines, "sshd"))


def test_sshd_jail(pack: RuleSet) -> None:
    jail = (gen.SSHD_BRUTE_FORCE, (("source_ip", IP),))
    failed = [f"Failed password for user{i} from {IP} port 4000{i} ssh2" for i in range(5)]
    assert _ssh(pack, failed) == {jail}
    assert _ssh(pack, failed[:4]) == set()
    # five failures over 640 s: at most four in any ten minutes
    assert _ssh(pack, failed, every=160) == set()
    # the PAM line that goes with each "Failed password" does not count twice
    pam = (
        "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh "
        f"ruser= rhost={IP}  user=joe"
    )
    assert _ssh(pack, [pam, failed[0], pam, failed[1], pam, failed[2], pam, failed[3]]) == set()
    # a client offering keys the server does not accept is not guessing ...
    keys = [
        f"Failed publickey for joe from {IP} port 4100{i} ssh2: RSA SHA256:abc{i}" for i in range(6)
    ]
    assert _ssh(pack, keys) == set()
    # ... unless the user does not exist (fail2ban counts those too)
    bad_keys = [
        f"Failed publickey for invalid user x{i} from {IP} port 4200{i} ssh2" for i in range(5)
    ]
    assert jail in _ssh(pack, bad_keys)
    # an unknown user costs two failures: "Invalid user", then "Failed password for invalid user"
    invalid = []
    for i in range(3):
        invalid += [
            f"Invalid user nobody{i} from {IP} port 4300{i}",
            f"Failed password for invalid user nobody{i} from {IP} port 4300{i} ssh2",
        ]
    assert _ssh(pack, invalid[:4]) == set()
    assert _ssh(pack, invalid[:5]) == {jail}
    maximum = (
        f"error: maximum authentication attempts exceeded for root from {IP} port 4400 ssh2 "
        "[preauth]"
    )
    assert _ssh(pack, [*failed[:4], maximum]) == {jail}
    # pre-authentication disconnects and probes are not failures
    closed = [
        f"Connection closed by authenticating user root {IP} port 4500{i} [preauth]"
        for i in range(9)
    ]
    assert _ssh(pack, closed) == set()


def test_sshd_jail_counts_sshd_only(pack: RuleSet) -> None:
    # five failures of a web application's login for five accounts: not the sshd jail
    got = _json(pack, _fails(5, users=["a", "b", "c", "d", "e"], ips=[IP], every=30))
    assert got == set()
