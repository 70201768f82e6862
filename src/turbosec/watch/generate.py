"""Labelled security logs: benign traffic with injected attacks, and the alerts they must raise.

The built-in rule pack is only as good as two promises: every attack it is written for
raises its alert, and ordinary traffic raises none.  Both need logs whose truth is known.
This module writes them, deterministically from a seed, in the three formats the parsers
read:

* :func:`generate_owasp` -- an application's OWASP Logging Vocabulary JSON lines (logins,
  sessions, access denials...);
* :func:`generate_sshd` -- an internet-facing server's ``/var/log/auth.log`` (OpenSSH
  connections, PAM, cron, systemd-logind, background scanners);
* :func:`generate_access_log` -- an nginx/Apache combined access log.

Each returns a :class:`LabelledLog`: the lines in time order and the :class:`Label` s, the
``(rule id, group)`` pairs the built-in pack must raise -- exactly those, no more.

How the benign traffic stays benign
-----------------------------------
People mistype passwords, offices sit behind one address, browsers fetch missing favicons:
the benign traffic has all of that, drawn at random.  What it must not do is cross a rule's
threshold by chance, so every *optional* failure (a typo, a 401, a 404) is admitted only
if it keeps the sliding-window counts it adds to under a cap well below the thresholds of
the pack (a few failures per address or account in ten minutes, a handful of distinct
failing accounts per address in an hour, a few dozen 401s per address in five minutes,
a dozen distinct missing paths per address in ten minutes).  A failure that would break a
cap is dropped (the login then succeeds at the first try).  Attacks use their own
addresses and, where it matters, accounts nobody logs in to normally, and their sizes are
chosen well clear of the thresholds, so each attack's labels follow from its shape; the
docstring of each attack says which rules it crosses and why.

Addresses are from the documentation and benchmarking ranges (``192.0.2.0/24``,
``198.51.100.0/24``, ``203.0.113.0/24``, ``198.18.0.0/15``, ``2001:db8::/32``) and
``10.0.0.0/8``; names and passwords are invented.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson

__all__ = [
    "ACCOUNT_TAKEOVER",
    "BRUTE_FORCE_ACCOUNT",
    "BRUTE_FORCE_SOURCE_ACCOUNT",
    "CREDENTIAL_STUFFING",
    "DEFAULT_START",
    "HTTP_AUTH_FLOOD",
    "LOGIN_AFTER_BURST",
    "PACK_ALERTING_RULES",
    "PASSWORD_SPRAYING",
    "SSHD_BRUTE_FORCE",
    "WEB_SCANNER",
    "Group",
    "Label",
    "LabelledLog",
    "access_log_line",
    "generate_access_log",
    "generate_owasp",
    "generate_sshd",
    "owasp_json_line",
    "sshd_line",
]

# The alerting rules of the built-in pack (src/turbosec/watch/rules/pack/*.yml), by id.
BRUTE_FORCE_SOURCE_ACCOUNT = "2ff43c41-8e16-4715-b4cd-734beac4cd48"
BRUTE_FORCE_ACCOUNT = "fe847a3c-b52d-4f21-8707-8ea5e33a1198"
CREDENTIAL_STUFFING = "24adb6e6-d193-45b0-a45c-7a115ab8f9fd"
PASSWORD_SPRAYING = "3f2773c5-3cfc-45f9-a23d-f79c291b7679"  # noqa: S105 (a rule id)
ACCOUNT_TAKEOVER = "1957b719-ffff-4424-a9de-986e8f40a361"
LOGIN_AFTER_BURST = "70db0397-d14b-4240-8dd5-eee6f576afa8"
HTTP_AUTH_FLOOD = "ebfb760b-bad4-45bc-8841-b949d2c1773e"
WEB_SCANNER = "4f7ee9c1-dc4e-4451-a390-748efabdbd1d"
SSHD_BRUTE_FORCE = "bd39ef71-390e-453f-991b-1ba89c6ea6cf"
#: Every rule of the pack that raises alerts (the others are building blocks).
PACK_ALERTING_RULES = frozenset(
    {
        BRUTE_FORCE_SOURCE_ACCOUNT,
        BRUTE_FORCE_ACCOUNT,
        CREDENTIAL_STUFFING,
        PASSWORD_SPRAYING,
        ACCOUNT_TAKEOVER,
        LOGIN_AFTER_BURST,
        HTTP_AUTH_FLOOD,
        WEB_SCANNER,
        SSHD_BRUTE_FORCE,
    }
)

#: A start time with no daylight-saving change in the following weeks in the usual zones
#: (syslog lines are written in local time).
DEFAULT_START = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)

#: An alert's group as :class:`~turbosec.core.event.Alert` has it: ``(field, value)`` pairs.
Group = tuple[tuple[str, str], ...]

_MINUTE = 60.0
_HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class Label:
    """One alert the log must raise: the rule, the group, and the attack that causes it."""

    rule_id: str
    group: Group
    attack: str

    @property
    def key(self) -> tuple[str, Group]:
        return (self.rule_id, self.group)


@dataclass
class LabelledLog:
    """Generated lines (in time order) and the alerts they must raise."""

    format: str
    lines: list[str]
    labels: list[Label]
    attacks: list[str] = field(default_factory=list)

    @property
    def expected(self) -> set[tuple[str, Group]]:
        """The ``(rule id, group)`` pairs the built-in pack must raise, exactly."""
        return {label.key for label in self.labels}

    def text(self) -> str:
        return "".join(line + "\n" for line in self.lines)

    def write(self, path: str | Path) -> Path:
        target = Path(path)
        with open(target, "w", encoding="utf-8", newline="\n") as out:
            for line in self.lines:
                out.write(line)
                out.write("\n")
        return target

    def labels_by_attack(self) -> dict[str, set[tuple[str, Group]]]:
        found: dict[str, set[tuple[str, Group]]] = {}
        for label in self.labels:
            found.setdefault(label.attack, set()).add(label.key)
        return found


def _ip_group(ip: str) -> Group:
    return (("source_ip", ip),)


def _user_group(user: str) -> Group:
    return (("user", user),)


def _ip_user_group(ip: str, user: str) -> Group:
    return (("source_ip", ip), ("user", user))


# --- line formats ---------------------------------------------------------------------------


def _iso_ms(t: float) -> str:
    when = datetime.fromtimestamp(t, UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}+00:00"


_OWASP_LEVELS = {
    "authn_login_success": "INFO",
    "authn_login_successafterfail": "INFO",
    "authn_login_fail": "WARN",
    "authn_login_fail_max": "WARN",
    "authn_login_lock": "WARN",
    "authn_password_change": "INFO",
    "authz_fail": "CRITICAL",
    "input_validation_fail": "WARN",
    "session_created": "INFO",
    "session_logout": "INFO",
    "session_expired": "INFO",
    "session_renewed": "INFO",
    "sensitive_read": "WARN",
    "user_updated": "WARN",
}
_OWASP_URIS = {
    "authn_login_success": ("/login", "POST"),
    "authn_login_successafterfail": ("/login", "POST"),
    "authn_login_fail": ("/login", "POST"),
    "authn_login_fail_max": ("/login", "POST"),
    "authn_login_lock": ("/login", "POST"),
    "authn_password_change": ("/account/password", "POST"),
    "session_created": ("/login", "POST"),
    "session_logout": ("/logout", "POST"),
}


def owasp_json_line(
    t: float,
    event: str,
    ip: str | None,
    *,
    useragent: str
    | None = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    request_uri: str | None = None,
    request_method: str | None = None,
    appid: str = "shop.auth",
    hostname: str = "web-1",
    description: str | None = None,
) -> str:
    """One OWASP vocabulary JSON line as :mod:`turbosec.events.logger` writes it."""
    name = event.split(":", 1)[0]
    uri, method = _OWASP_URIS.get(name, (None, None))
    record = {
        "datetime": _iso_ms(t),
        "appid": appid,
        "event": event,
        "level": _OWASP_LEVELS.get(name, "INFO"),
        "description": description or name.replace("_", " "),
        "source_ip": ip,
        "useragent": useragent,
        "request_uri": request_uri if request_uri is not None else uri,
        "request_method": request_method if request_method is not None else method,
        "hostname": hostname,
    }
    return orjson.dumps(record).decode()


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _syslog_stamp(t: float) -> str:
    # syslog writes local time without a year: "Jun  1 06:00:01"
    when = datetime.fromtimestamp(t)
    return f"{_MONTHS[when.month - 1]} {when.day:2d} {when:%H:%M:%S}"


def sshd_line(t: float, program: str, message: str, *, host: str = "bastion") -> str:
    """One traditional syslog line (``/var/log/auth.log``), in this machine's local time."""
    return f"{_syslog_stamp(t)} {host} {program}: {message}"


def access_log_line(
    t: float,
    ip: str,
    method: str,
    path: str,
    status: int,
    size: int,
    *,
    user: str | None = None,
    referer: str = "-",
    useragent: str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36",
) -> str:
    """One combined-format access log line (time in UTC)."""
    when = datetime.fromtimestamp(t, UTC)
    stamp = f"{when.day:02d}/{_MONTHS[when.month - 1]}/{when:%Y:%H:%M:%S} +0000"
    return (
        f'{ip} - {user or "-"} [{stamp}] "{method} {path} HTTP/1.1" {status} {size} '
        f'"{referer}" "{useragent}"'
    )


# --- sliding-window caps for benign traffic -------------------------------------------------


class _Caps:
    """Admits optional failures only while trailing-window counts stay under caps.

    Items are offered in time order.  A cap on ``key`` with ``window`` and ``limit``
    holds when every window of that length contains at most ``limit`` admitted items
    (or distinct values): checking the trailing window at each admission is enough,
    because any window's content is the trailing window of its last item.
    """

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str], deque[float]] = {}
        self._values: dict[tuple[str, str], deque[tuple[float, str]]] = {}

    def count_ok(self, name: str, key: str, t: float, window: float, limit: int, n: int) -> bool:
        times = self._counts.get((name, key))
        if times is None:
            return n <= limit
        while times and times[0] <= t - window:
            times.popleft()
        return len(times) + n <= limit

    def add_count(self, name: str, key: str, t: float, n: int = 1) -> None:
        times = self._counts.setdefault((name, key), deque())
        times.extend([t] * n)

    def distinct_ok(
        self, name: str, key: str, t: float, window: float, limit: int, value: str
    ) -> bool:
        seen = self._values.get((name, key))
        if seen is None:
            return limit >= 1
        while seen and seen[0][0] <= t - window:
            seen.popleft()
        values = {v for _, v in seen}
        values.add(value)
        return len(values) <= limit

    def add_value(self, name: str, key: str, t: float, value: str) -> None:
        self._values.setdefault((name, key), deque()).append((t, value))


# Benign caps on login failures (the pack's thresholds in brackets).  The windows are
# two minutes longer than the rules' so that failures written a little before the moment
# they were admitted cannot slip past a cap.
_FAIL_PER_ADDRESS_10M = 3  # sshd jail [5]
_FAIL_PER_ACCOUNT_10M = 4  # take-over burst [8], brute force [10, 20], account burst [10]
_FAILING_ACCOUNTS_PER_ADDRESS_10M = 5  # credential stuffing [20]
_FAILING_ACCOUNTS_PER_ADDRESS_1H = 12  # password spraying [30]
_DENIED_PER_ADDRESS_5M = 30  # 401/403 flood [50]
_MISSING_PATHS_PER_ADDRESS_10M = 15  # web scanner [30]
_MARGIN = 2 * _MINUTE


def _login_failure_ok(caps: _Caps, t: float, ip: str, user: str, n: int) -> bool:
    return (
        caps.count_ok("ip", ip, t, 10 * _MINUTE + _MARGIN, _FAIL_PER_ADDRESS_10M, n)
        and caps.count_ok("user", user, t, 10 * _MINUTE + _MARGIN, _FAIL_PER_ACCOUNT_10M, n)
        and caps.distinct_ok(
            "ip10", ip, t, 10 * _MINUTE + _MARGIN, _FAILING_ACCOUNTS_PER_ADDRESS_10M, user
        )
        and caps.distinct_ok("ip60", ip, t, _HOUR + _MARGIN, _FAILING_ACCOUNTS_PER_ADDRESS_1H, user)
    )


def _add_login_failure(caps: _Caps, t: float, ip: str, user: str, n: int) -> None:
    caps.add_count("ip", ip, t, n)
    caps.add_count("user", user, t, n)
    caps.add_value("ip10", ip, t, user)
    caps.add_value("ip60", ip, t, user)


# --- populations ----------------------------------------------------------------------------

_FIRST = (
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "mallory",
    "niaj",
    "olivia",
    "peggy",
    "rupert",
    "sybil",
    "trent",
    "victor",
    "walter",
    "yvonne",
    "zoe",
    "amir",
    "bea",
    "chen",
    "dana",
    "eli",
    "fatima",
    "gus",
    "hana",
    "igor",
    "jun",
    "kofi",
    "lena",
    "marco",
    "nora",
    "omar",
    "priya",
    "quinn",
    "rosa",
    "sami",
    "tomas",
    "uma",
    "vera",
    "wei",
    "xena",
    "yusuf",
)


def _user_names(rng: random.Random, count: int, taken: Iterable[str] = ()) -> list[str]:
    names: list[str] = []
    seen = set(taken)
    index = 0
    while len(names) < count:
        first = _FIRST[index % len(_FIRST)]
        name = first if index < len(_FIRST) else f"{first}{index // len(_FIRST)}"
        index += 1
        if name not in seen:
            seen.add(name)
            names.append(name)
    rng.shuffle(names)
    return names


def _home_address(rng: random.Random, index: int) -> str:
    if index % 17 == 0:
        return f"2001:db8:{index // 65536:x}:{index % 65536:x}::{rng.randrange(1, 65535):x}"
    return f"10.{(index >> 16) & 255}.{(index >> 8) & 255}.{index & 255 or 1}"


@dataclass
class _Login:
    """A benign login: optional failures (typos) before the success."""

    t: float
    user: str
    ip: str
    typos: int = 0  # password typos (one failure line each)
    wrong_name: bool = False  # a mistyped user name first (sshd: two failure lines)
    publickey: bool = False
    session_minutes: float = 30.0


def _benign_logins(
    rng: random.Random,
    users: Sequence[str],
    start: float,
    end: float,
    *,
    nat_ip: str | None,
    nat_users: int,
    typo_rate: float = 0.10,
    first_index: int = 0,
) -> list[_Login]:
    """Logins of every user, spaced by at least 40 minutes per user, typos drawn at random."""
    logins: list[_Login] = []
    for index, user in enumerate(users):
        behind_nat = nat_ip is not None and index < nat_users
        home = _home_address(rng, first_index + index + 1)
        mobile = _home_address(rng, first_index + index + 100_000)
        t = start + rng.uniform(0, 3 * _HOUR)
        publickey = rng.random() < 0.5
        while t < end:
            ip = home if rng.random() < 0.8 else mobile
            if behind_nat and nat_ip is not None:
                ip = nat_ip
            login = _Login(t, user, ip, publickey=publickey)
            login.session_minutes = rng.uniform(2, 90)
            roll = rng.random()
            if roll < typo_rate:
                login.typos = 1 if roll < typo_rate * 0.75 else 2
            elif roll < typo_rate * 1.15:
                login.wrong_name = True
            logins.append(login)
            t += rng.uniform(40 * _MINUTE, 6 * _HOUR)
    return logins


def _admit_typos(logins: list[_Login], caps: _Caps, *, sshd: bool) -> None:
    """Drop the typos that would push a benign count over its cap (time order)."""
    logins.sort(key=lambda login: login.t)
    for login in logins:
        if login.typos and not (sshd and login.publickey):
            if _login_failure_ok(caps, login.t, login.ip, login.user, login.typos):
                _add_login_failure(caps, login.t, login.ip, login.user, login.typos)
            else:
                login.typos = 0
        else:
            login.typos = 0
        if login.wrong_name:
            wrong = login.user[::-1] + "x"
            n = 2 if sshd else 1
            if _login_failure_ok(caps, login.t, login.ip, wrong, n):
                _add_login_failure(caps, login.t, login.ip, wrong, n)
            else:
                login.wrong_name = False


class _Lines:
    """Lines with their times; sorted by (time, order of creation) at the end."""

    def __init__(self) -> None:
        self._items: list[tuple[float, int, str]] = []

    def add(self, t: float, line: str) -> None:
        self._items.append((t, len(self._items), line))

    def __len__(self) -> int:
        return len(self._items)

    def sorted_lines(self) -> list[str]:
        self._items.sort()
        return [line for _, _, line in self._items]


# --- OWASP JSON -----------------------------------------------------------------------------


def generate_owasp(
    seed: int = 1,
    *,
    users: int = 150,
    nat_users: int = 60,
    hours: float = 10.0,
    start: datetime = DEFAULT_START,
    attacks: bool = True,
    min_lines: int = 0,
) -> LabelledLog:
    """An application's security events (OWASP JSON lines) with injected attacks.

    Benign: ``users`` people logging in several times a day, ``nat_users`` of them behind
    one office address (198.51.100.10), typos (one or two failures before the success),
    a mistyped user name now and then, sessions created and ended, the odd access denial
    and input validation failure, a service account retrying an outdated password every
    five minutes, and one person who needs five attempts.

    With ``min_lines``, more users are added (each with their own address) until the log
    has at least that many lines (the benchmark's million events).
    """
    rng = random.Random(seed)  # noqa: S311 (test data, not secrets)
    t0 = start.timestamp()
    end = t0 + hours * _HOUR
    out = _Lines()
    labels: list[Label] = []
    attack_names: list[str] = []
    caps = _Caps()
    victims = {"admin", "finance", "payroll", "ops", "svc-backup", "forgetful"}
    names = _user_names(rng, users, victims)
    nat_ip = "198.51.100.10"

    if attacks:
        _owasp_attacks(rng, t0, hours, names, out, labels, attack_names)

    # The service account with an outdated password: one failure every five minutes for
    # two hours, from its own host.  Per account, at most 3 in any ten minutes.
    t = t0 + 1.5 * _HOUR
    while t < t0 + 3.5 * _HOUR:
        out.add(
            t,
            owasp_json_line(
                t, "authn_login_fail:svc-backup", "10.200.0.5", useragent="backup-agent/2.1"
            ),
        )
        t += 5 * _MINUTE
    # Five attempts, then the right password: below the take-over burst (8).
    t = t0 + 4 * _HOUR
    for i in range(5):
        out.add(t + i * 20, owasp_json_line(t + i * 20, "authn_login_fail:forgetful", "10.200.0.9"))
    out.add(t + 130, owasp_json_line(t + 130, "authn_login_success:forgetful", "10.200.0.9"))

    def add_logins(batch_names: Sequence[str], nat: int, first_index: int) -> None:
        logins = _benign_logins(
            rng, batch_names, t0, end, nat_ip=nat_ip if nat else None, nat_users=nat,
            first_index=first_index,
        )  # fmt: skip
        _admit_typos(logins, caps, sshd=False)
        for login in logins:
            _render_owasp_login(rng, login, out)

    add_logins(names, nat_users, 0)
    extra_index = users
    while min_lines and len(out) < min_lines:
        more = _user_names(rng, 200, victims | set(names))
        names.extend(more)
        add_logins(more, 0, extra_index)
        extra_index += 200
    return LabelledLog("owasp-json", out.sorted_lines(), labels, attack_names)


def _render_owasp_login(rng: random.Random, login: _Login, out: _Lines) -> None:
    t, user, ip = login.t, login.user, login.ip
    step = -rng.uniform(5, 15)
    offset = 0.0
    for _ in range(login.typos):
        offset += step
        out.add(t + offset, owasp_json_line(t + offset, f"authn_login_fail:{user}", ip))
    if login.wrong_name:
        offset += step
        wrong = user[::-1] + "x"
        out.add(t + offset, owasp_json_line(t + offset, f"authn_login_fail:{wrong}", ip))
    event = "authn_login_successafterfail" if login.typos else "authn_login_success"
    args = f"{user},{login.typos}" if login.typos else user
    out.add(t, owasp_json_line(t, f"{event}:{args}", ip))
    out.add(t + 0.05, owasp_json_line(t + 0.05, f"session_created:{user}", ip))
    roll = rng.random()
    if roll < 0.04:
        tt = t + rng.uniform(10, 300)
        out.add(
            tt,
            owasp_json_line(
                tt, f"authz_fail:{user},/admin/reports", ip, request_uri="/admin/reports",
                request_method="GET",
            ),
        )  # fmt: skip
    elif roll < 0.10:
        tt = t + rng.uniform(10, 300)
        out.add(
            tt,
            owasp_json_line(
                tt, f"input_validation_fail:(date_of_birth),{user}", ip,
                request_uri="/account/profile", request_method="POST",
            ),
        )  # fmt: skip
    elif roll < 0.13:
        tt = t + rng.uniform(10, 300)
        out.add(
            tt, owasp_json_line(tt, f"sensitive_read:{user},invoice-{rng.randrange(10**6)}", ip)
        )
    end = t + login.session_minutes * _MINUTE
    if rng.random() < 0.6:
        out.add(end, owasp_json_line(end, f"session_logout:{user}", ip))
    else:
        out.add(end, owasp_json_line(end, f"session_expired:{user},idle", ip))


def _owasp_attacks(
    rng: random.Random,
    t0: float,
    hours: float,
    names: Sequence[str],
    out: _Lines,
    labels: list[Label],
    attack_names: list[str],
) -> None:
    span = hours * _HOUR

    def at(share: float) -> float:
        return t0 + share * span

    def fail(t: float, user: str, ip: str, ua: str = "python-requests/2.32") -> None:
        out.add(t, owasp_json_line(t, f"authn_login_fail:{user}", ip, useragent=ua))

    def success(t: float, user: str, ip: str, ua: str = "python-requests/2.32") -> None:
        out.add(t, owasp_json_line(t, f"authn_login_success:{user}", ip, useragent=ua))
        out.add(t + 0.05, owasp_json_line(t + 0.05, f"session_created:{user}", ip, useragent=ua))

    # Brute force on "admin" from one address: 40 failures, one every 12 s (8 minutes).
    # Per address and account 40 >= 10; per account 40 within 8 minutes >= 20.
    name, ip, t = "brute-force-one-address", "203.0.113.10", at(0.10)
    attack_names.append(name)
    for i in range(40):
        fail(t + i * 12, "admin", ip)
    labels += [
        Label(BRUTE_FORCE_SOURCE_ACCOUNT, _ip_user_group(ip, "admin"), name),
        Label(BRUTE_FORCE_ACCOUNT, _user_group("admin"), name),
    ]

    # Distributed brute force on "finance": 15 addresses, 2 failures each, one failure
    # every 12 s (6 minutes).  Per account 30 >= 20; per address 2, far below anything.
    name, t = "brute-force-distributed", at(0.20)
    attack_names.append(name)
    bots = [f"192.0.2.{20 + i}" for i in range(15)]
    for i in range(30):
        fail(t + i * 12, "finance", bots[i % len(bots)])
    labels.append(Label(BRUTE_FORCE_ACCOUNT, _user_group("finance"), name))

    # Credential stuffing: 150 leaked accounts, one attempt each, two a second; three of
    # the leaked pairs work.  150 distinct accounts in 75 s: >= 20 in 10 min, >= 30 in 1 h.
    name, ip, t = "credential-stuffing", "203.0.113.20", at(0.30)
    attack_names.append(name)
    winners = {37, 81, 122}
    for i in range(150):
        user = f"customer{i:04d}@mail.example"
        if i in winners:
            success(t + i * 0.5, user, ip)
        else:
            fail(t + i * 0.5, user, ip)
    labels += [
        Label(CREDENTIAL_STUFFING, _ip_group(ip), name),
        Label(PASSWORD_SPRAYING, _ip_group(ip), name),
    ]

    # Password spraying: 45 real accounts, one attempt each, one every 100 s (75 min).
    # Distinct accounts in the first hour: 36 >= 30; in ten minutes: 6 < 20 (no stuffing);
    # per account one failure.
    name, ip, t = "password-spraying", "203.0.113.30", at(0.40)
    attack_names.append(name)
    sprayed = list(names[-45:]) if len(names) >= 45 else list(names)
    for i, user in enumerate(sprayed):
        fail(t + i * 100, user, ip)
    labels.append(Label(PASSWORD_SPRAYING, _ip_group(ip), name))

    # Take-over: 12 failures for "payroll" from one address, one every 15 s, then a
    # success a minute later.  Per address and account 12 >= 10 (brute force) and >= 8
    # (take-over burst); per account 12 >= 10 (account burst) then a success.
    name, ip, t = "account-takeover", "203.0.113.40", at(0.55)
    attack_names.append(name)
    for i in range(12):
        fail(t + i * 15, "payroll", ip)
    success(t + 11 * 15 + 60, "payroll", ip)
    labels += [
        Label(BRUTE_FORCE_SOURCE_ACCOUNT, _ip_user_group(ip, "payroll"), name),
        Label(ACCOUNT_TAKEOVER, _ip_user_group(ip, "payroll"), name),
        Label(LOGIN_AFTER_BURST, _user_group("payroll"), name),
    ]

    # A burst on "ops" from 12 addresses (one failure each, every 20 s), then a login from
    # an address that took no part, three minutes later.  Per account 12 >= 10 then a
    # success; per account 12 < 20 (no brute force alert); per address one failure.
    name, t = "login-after-burst-new-address", at(0.70)
    attack_names.append(name)
    for i in range(12):
        fail(t + i * 20, "ops", f"192.0.2.{50 + i}")
    success(t + 11 * 20 + 180, "ops", "203.0.113.50", ua="Mozilla/5.0 (Macintosh)")
    labels.append(Label(LOGIN_AFTER_BURST, _user_group("ops"), name))


# --- sshd auth.log --------------------------------------------------------------------------

_BOT_NAMES = (
    "root",
    "admin",
    "test",
    "user",
    "ubuntu",
    "oracle",
    "postgres",
    "git",
    "ftpuser",
    "guest",
    "pi",
    "support",
    "deploy",
    "jenkins",
    "hadoop",
    "mysql",
    "nagios",
    "minecraft",
    "steam",
    "teamspeak",
    "test1",
    "administrator",
    "www",
    "dev",
)


class _Sshd:
    """Writes OpenSSH connections as a Debian/Ubuntu auth.log has them."""

    def __init__(self, rng: random.Random, out: _Lines, host: str = "bastion") -> None:
        self.rng = rng
        self.out = out
        self.host = host
        self.pid = 2000
        self.session = 100

    def _next_pid(self) -> int:
        self.pid += self.rng.randint(1, 40)
        return self.pid

    def line(self, t: float, message: str, pid: int | None = None, program: str = "sshd") -> None:
        tag = f"{program}[{pid}]" if pid is not None else program
        self.out.add(t, sshd_line(t, tag, message, host=self.host))

    def _port(self) -> int:
        return self.rng.randint(32768, 60999)

    def failures(
        self,
        t: float,
        user: str,
        ip: str,
        count: int,
        *,
        invalid: bool = False,
        spacing: float = 2.5,
        closing: str = "closed",
        max_exceeded: bool = False,
    ) -> float:
        """One connection with ``count`` failed passwords; returns the time it ended."""
        pid, port = self._next_pid(), self._port()
        if invalid:
            self.line(t, f"Invalid user {user} from {ip} port {port}", pid)
        for i in range(count):
            tt = t + 0.5 + i * spacing
            if invalid:
                self.line(tt, "pam_unix(sshd:auth): check pass; user unknown", pid)
                self.line(
                    tt,
                    "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
                    f"tty=ssh ruser= rhost={ip}",
                    pid,
                )
                self.line(
                    tt + 2,
                    f"Failed password for invalid user {user} from {ip} port {port} ssh2",
                    pid,
                )
            else:
                self.line(
                    tt,
                    "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
                    f"tty=ssh ruser= rhost={ip}  user={user}",
                    pid,
                )
                self.line(tt + 2, f"Failed password for {user} from {ip} port {port} ssh2", pid)
        end = t + 0.5 + count * spacing + 2
        who = f"invalid user {user}" if invalid else f"authenticating user {user}"
        if max_exceeded:
            target = f"invalid user {user}" if invalid else user
            self.line(
                end,
                f"error: maximum authentication attempts exceeded for {target} from {ip} "
                f"port {port} ssh2 [preauth]",
                pid,
            )
            self.line(
                end,
                f"Disconnecting {who} {ip} port {port}: Too many authentication failures [preauth]",
                pid,
            )
        elif closing == "closed":
            self.line(end, f"Connection closed by {who} {ip} port {port} [preauth]", pid)
        else:
            self.line(end, f"Received disconnect from {ip} port {port}:11: Bye Bye [preauth]", pid)
            self.line(end, f"Disconnected from {who} {ip} port {port} [preauth]", pid)
        return end

    def login(self, login: _Login) -> None:
        """A benign login: typos (if any) then the success and the session."""
        rng = self.rng
        t, user, ip = login.t, login.user, login.ip
        start = t - 4 * (login.typos + 1) - (12 if login.wrong_name else 0)
        if login.wrong_name:
            wrong = user[::-1] + "x"
            self.failures(start, wrong, ip, 1, invalid=True)
            start += 12
        pid, port = self._next_pid(), self._port()
        for i in range(login.typos):
            tt = start + i * 4
            self.line(
                tt,
                "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh "
                f"ruser= rhost={ip}  user={user}",
                pid,
            )
            self.line(tt + 2, f"Failed password for {user} from {ip} port {port} ssh2", pid)
        if login.publickey:
            key = "".join(
                rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
                for _ in range(43)
            )
            self.line(
                t,
                f"Accepted publickey for {user} from {ip} port {port} ssh2: ED25519 SHA256:{key}",
                pid,
            )
        else:
            self.line(t, f"Accepted password for {user} from {ip} port {port} ssh2", pid)
        uid = 1000 + sum(map(ord, user)) % 5000
        self.line(
            t, f"pam_unix(sshd:session): session opened for user {user}(uid={uid}) by (uid=0)", pid
        )
        self.session += 1
        session = self.session
        self.line(t, f"New session {session} of user {user}.", 612, "systemd-logind")
        end = t + login.session_minutes * _MINUTE
        self.line(end, f"Received disconnect from {ip} port {port}:11: disconnected by user", pid)
        self.line(end, f"Disconnected from user {user} {ip} port {port}", pid)
        self.line(end, f"pam_unix(sshd:session): session closed for user {user}", pid)
        self.line(
            end,
            f"Session {session} logged out. Waiting for processes to exit.",
            612,
            "systemd-logind",
        )
        self.line(end + 0.2, f"Removed session {session}.", 612, "systemd-logind")

    def probe(self, t: float, ip: str) -> None:
        """A scanner that never tries a password."""
        pid, port = self._next_pid(), self._port()
        roll = self.rng.random()
        if roll < 0.4:
            self.line(t, f"Connection closed by {ip} port {port} [preauth]", pid)
        elif roll < 0.7:
            self.line(t, f"Did not receive identification string from {ip} port {port}", pid)
        elif roll < 0.85:
            self.line(t, f"banner exchange: Connection from {ip} port {port}: invalid format", pid)
        else:
            self.line(
                t,
                f"Unable to negotiate with {ip} port {port}: no matching key exchange method "
                "found. Their offer: diffie-hellman-group1-sha1 [preauth]",
                pid,
            )

    def cron(self, t: float) -> None:
        pid = self._next_pid()
        self.line(
            t, "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)", pid, "CRON"
        )
        self.line(t + 0.4, "pam_unix(cron:session): session closed for user root", pid, "CRON")


def generate_sshd(
    seed: int = 1,
    *,
    users: int = 120,
    office_users: int = 12,
    hours: float = 10.0,
    start: datetime = DEFAULT_START,
    attacks: bool = True,
    lines: int = 0,
    host: str = "bastion",
    persistent: int = 0,
) -> LabelledLog:
    """An internet-facing SSH server's auth.log with injected attacks.

    Benign: ``users`` people logging in with a password or a key (typos, a mistyped user
    name now and then), ``office_users`` of them behind one office address
    (198.51.100.20), cron every five minutes, and the internet's background: scanners
    that connect without trying a password, and bots that try one or two common names
    from an address never seen again.

    With ``lines``, benign users and cron are added until the log has exactly that many
    lines (the benchmark's 200,000).  ``persistent`` adds that many addresses guessing
    root's password all along, a connection of four attempts about every 40 seconds:
    what fills the auth.log of a server exposed to the internet (each is flagged by the
    sshd jail and the brute force rules).
    """
    rng = random.Random(seed)  # noqa: S311 (test data, not secrets)
    t0 = start.timestamp()
    end = t0 + hours * _HOUR
    out = _Lines()
    writer = _Sshd(rng, out, host)
    labels: list[Label] = []
    attack_names: list[str] = []
    caps = _Caps()
    victims = {"root", "admin", "deploy"} | set(_BOT_NAMES)
    names = _user_names(rng, users, victims)

    if attacks:
        _sshd_attacks(writer, t0, hours, names, labels, attack_names)
    for index in range(persistent):
        # Four attempts a connection, one connection every 30 to 50 s: >= 5 failures in
        # any ten minutes (sshd jail), >= 10 for root from the address (brute force), >= 20
        # for root from all addresses.
        name, ip = f"sshd-persistent-{index + 1}", f"203.0.113.{100 + index}"
        attack_names.append(name)
        t = t0 + rng.uniform(0, 600)
        while t < end - 60:
            writer.failures(
                t, "root", ip, 4, closing="received" if rng.random() < 0.5 else "closed"
            )
            t += rng.uniform(30, 50)
        labels += [
            Label(SSHD_BRUTE_FORCE, _ip_group(ip), name),
            Label(BRUTE_FORCE_SOURCE_ACCOUNT, _ip_user_group(ip, "root"), name),
            Label(BRUTE_FORCE_ACCOUNT, _user_group("root"), name),
        ]

    # Background bots: every 2 to 6 minutes a new address tries one or two common names.
    # They are capped like benign failures (per account too: a dozen bots trying "root"
    # within ten minutes would be a distributed brute force).
    t = t0 + rng.uniform(0, 120)
    bot = 0
    while t < end:
        bot += 1
        ip = f"198.18.{(bot >> 8) & 255}.{bot & 255 or 1}"
        if rng.random() < 0.5:
            writer.probe(t, ip)
        else:
            user = rng.choice(_BOT_NAMES)
            invalid = user not in ("root",)
            n = (2 if invalid else 1) * rng.randint(1, 2)
            if _login_failure_ok(caps, t, ip, user, n):
                _add_login_failure(caps, t, ip, user, n)
                writer.failures(
                    t, user, ip, n // (2 if invalid else 1), invalid=invalid, closing="received"
                )
            else:
                writer.probe(t, ip)
        t += rng.uniform(2 * _MINUTE, 6 * _MINUTE)

    def add_logins(batch: Sequence[str], office: int, first_index: int) -> None:
        logins = _benign_logins(
            rng, batch, t0, end, nat_ip="198.51.100.20" if office else None,
            nat_users=office, first_index=first_index,
        )  # fmt: skip
        _admit_typos(logins, caps, sshd=True)
        for login in logins:
            writer.login(login)

    add_logins(names, office_users, 0)
    t = t0
    while t < end:
        writer.cron(t + 1)
        t += 5 * _MINUTE
    if lines:
        # More users, a batch at a time, while a batch still fits; then cron runs (two
        # lines each, one line when a single one is missing) up to the exact count.
        index = users
        per_batch = 0
        while len(out) + per_batch < lines:
            more = _user_names(rng, 10, victims | set(names))
            names.extend(more)
            before = len(out)
            add_logins(more, 0, index)
            index += 10
            per_batch = max(per_batch, len(out) - before)
        if len(out) > lines:
            raise ValueError(
                f"{len(out)} lines for {users} users over {hours} hours already: ask for "
                "fewer users or hours, or more lines"
            )
        while lines - len(out) >= 2:
            writer.cron(rng.uniform(t0, end))
        if len(out) < lines:
            t = rng.uniform(t0, end)
            writer.line(
                t, "pam_unix(cron:session): session closed for user root", writer.pid, "CRON"
            )
    return LabelledLog("sshd", out.sorted_lines(), labels, attack_names)


def _sshd_attacks(
    writer: _Sshd,
    t0: float,
    hours: float,
    names: Sequence[str],
    labels: list[Label],
    attack_names: list[str],
) -> None:
    span = hours * _HOUR

    def at(share: float) -> float:
        return t0 + share * span

    # A root password guesser: 20 connections of 4 attempts, one connection every 15 s
    # (80 failures in 5 minutes).  Per address >= 5 (sshd jail), per address and account
    # >= 10, per account >= 20.
    name, ip, t = "sshd-root-guesser", "203.0.113.60", at(0.10)
    attack_names.append(name)
    for i in range(20):
        writer.failures(t + i * 15, "root", ip, 4)
    labels += [
        Label(SSHD_BRUTE_FORCE, _ip_group(ip), name),
        Label(BRUTE_FORCE_SOURCE_ACCOUNT, _ip_user_group(ip, "root"), name),
        Label(BRUTE_FORCE_ACCOUNT, _user_group("root"), name),
    ]

    # A dictionary of user names that do not exist: 60 names, one attempt each, one every
    # 10 s.  Two failure lines per attempt ("Invalid user", "Failed password for invalid
    # user"): sshd jail; 60 distinct accounts in 10 minutes: credential stuffing and
    # spraying; per account 2 lines (no brute force).
    name, ip, t = "sshd-user-dictionary", "203.0.113.61", at(0.25)
    attack_names.append(name)
    for i in range(60):
        writer.failures(t + i * 10, f"scan{i:02d}", ip, 1, invalid=True)
    labels += [
        Label(SSHD_BRUTE_FORCE, _ip_group(ip), name),
        Label(CREDENTIAL_STUFFING, _ip_group(ip), name),
        Label(PASSWORD_SPRAYING, _ip_group(ip), name),
    ]

    # A guesser that uses up MaxAuthTries on "admin" (which does not exist): 5 connections
    # of 6 attempts ending in "maximum authentication attempts exceeded", one every 90 s.
    # Per address and account 35 failures (7 a connection), per account >= 20.
    name, ip, t = "sshd-maxauthtries", "203.0.113.62", at(0.40)
    attack_names.append(name)
    for i in range(5):
        writer.failures(t + i * 90, "admin", ip, 6, invalid=True, max_exceeded=True)
    labels += [
        Label(SSHD_BRUTE_FORCE, _ip_group(ip), name),
        Label(BRUTE_FORCE_SOURCE_ACCOUNT, _ip_user_group(ip, "admin"), name),
        Label(BRUTE_FORCE_ACCOUNT, _user_group("admin"), name),
    ]

    # A sprayer: one password for each of 60 real accounts, one a minute.  10 failures in
    # any ten minutes: sshd jail; 60 distinct accounts in an hour: spraying; 10 distinct
    # in ten minutes: no credential stuffing.
    name, ip, t = "sshd-sprayer", "203.0.113.63", at(0.50)
    attack_names.append(name)
    sprayed = list(names[:60])
    for i, user in enumerate(sprayed):
        writer.failures(t + i * 60, user, ip, 1)
    labels += [
        Label(SSHD_BRUTE_FORCE, _ip_group(ip), name),
        Label(PASSWORD_SPRAYING, _ip_group(ip), name),
    ]

    # A take-over: 3 connections of 4 failures on "deploy" (one every 30 s), then the
    # password works.
    name, ip, t = "sshd-takeover", "203.0.113.64", at(0.75)
    attack_names.append(name)
    for i in range(3):
        writer.failures(t + i * 30, "deploy", ip, 4)
    writer.login(_Login(t + 150, "deploy", ip, session_minutes=20))
    labels += [
        Label(SSHD_BRUTE_FORCE, _ip_group(ip), name),
        Label(BRUTE_FORCE_SOURCE_ACCOUNT, _ip_user_group(ip, "deploy"), name),
        Label(ACCOUNT_TAKEOVER, _ip_user_group(ip, "deploy"), name),
        Label(LOGIN_AFTER_BURST, _user_group("deploy"), name),
    ]


# --- access log -----------------------------------------------------------------------------

_PAGES = [f"/products/{i}" for i in range(120)] + [
    "/", "/about", "/contact", "/cart", "/search?q=shoes", "/blog", "/blog/2026/05/sale",
    "/help/shipping", "/help/returns", "/account",
]  # fmt: skip
_ASSETS = ["/static/app.css", "/static/app.js", "/static/logo.svg", "/static/font.woff2"]
_MISSING = [
    "/favicon.ico", "/apple-touch-icon.png", "/apple-touch-icon-precomposed.png",
    "/blog/2019/old-post", "/static/app.old.js", "/products/9999",
]  # fmt: skip
_WORDS = (
    "admin",
    "backup",
    "backups",
    "bak",
    "config",
    "db",
    "dump",
    "old",
    "test",
    "tmp",
    "upload",
    "uploads",
    "wp-admin",
    "phpmyadmin",
    "server-status",
    ".git",
    ".env",
    ".svn",
    "cgi-bin",
    "console",
    "manager",
    "api",
    "private",
    "secret",
    "install",
    "setup",
    "debug",
    "logs",
    "log",
    "vendor",
    "node_modules",
    "storage",
    "data",
    "files",
    "dev",
    "staging",
)
_EXTENSIONS = ("", ".php", ".zip", ".tar.gz", ".sql", ".bak", ".old", "/", ".txt", ".json")
_BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
)


@dataclass
class _Request:
    t: float
    ip: str
    path: str
    status: int
    user: str | None = None
    useragent: str = _BROWSERS[0]
    method: str = "GET"
    optional: bool = False  # a benign 401/403/404 admitted only under the caps


def generate_access_log(
    seed: int = 1,
    *,
    clients: int = 250,
    nat_sessions: int = 120,
    hours: float = 8.0,
    start: datetime = DEFAULT_START,
    attacks: bool = True,
) -> LabelledLog:
    """A web server's combined access log with injected attacks.

    Benign: ``clients`` browsing sessions (pages, then assets, often 304), a missing
    favicon or an old link now and then, a basic-auth intranet (a 401, then the
    credentials), ``nat_sessions`` sessions from one office address (198.51.100.30), a
    single-page application polling with an expired token for a few minutes, a health
    check every 30 s and a crawler following some broken links.
    """
    rng = random.Random(seed)  # noqa: S311 (test data, not secrets)
    t0 = start.timestamp()
    end = t0 + hours * _HOUR
    requests: list[_Request] = []
    labels: list[Label] = []
    attack_names: list[str] = []

    def session(ip: str, t: float, ua: str) -> None:
        pages = rng.randint(3, 25)
        first = True
        for _ in range(pages):
            path = rng.choice(_PAGES)
            requests.append(_Request(t, ip, path, 200, useragent=ua))
            for asset in _ASSETS:
                status = 200 if first or rng.random() < 0.2 else 304
                requests.append(
                    _Request(t + rng.uniform(0.05, 0.5), ip, asset, status, useragent=ua)
                )
            if first and rng.random() < 0.6:
                requests.append(
                    _Request(t + 0.3, ip, "/favicon.ico", 404, useragent=ua, optional=True)
                )
            if rng.random() < 0.03:
                requests.append(
                    _Request(t + 1, ip, rng.choice(_MISSING), 404, useragent=ua, optional=True)
                )
            if rng.random() < 0.05:
                user = f"staff{rng.randrange(40)}"
                requests.append(_Request(t + 1, ip, "/intranet/", 401, useragent=ua, optional=True))
                requests.append(_Request(t + 6, ip, "/intranet/", 200, user=user, useragent=ua))
            first = False
            t += rng.uniform(3, 90)

    for index in range(clients):
        ip = _home_address(rng, index + 1)
        session(ip, t0 + rng.uniform(0, hours * _HOUR - 1800), rng.choice(_BROWSERS))
    for _ in range(nat_sessions):
        session("198.51.100.30", t0 + rng.uniform(0, hours * _HOUR - 1800), rng.choice(_BROWSERS))
    # A single-page application with an expired token: 16 polls, 15 s apart, all 401.
    for i in range(16):
        requests.append(
            _Request(t0 + 2 * _HOUR + i * 15, "10.7.7.7", "/api/notifications", 401, optional=True)
        )
    # A health check every 30 s.
    t = t0
    while t < end:
        requests.append(_Request(t, "10.0.0.2", "/healthz", 200, useragent="kube-probe/1.30"))
        t += 30
    # A crawler: 200 pages in 20 minutes, 12 distinct broken links among them.
    crawler = "198.51.100.40"
    for i in range(200):
        tt = t0 + 3 * _HOUR + i * 6
        if i % 16 == 5:
            path, status = f"/blog/archive/{i}", 404
        else:
            path, status = _PAGES[i % len(_PAGES)], 200
        requests.append(
            _Request(
                tt,
                crawler,
                path,
                status,
                useragent="ExampleBot/1.0 (+https://bot.example)",
                optional=status == 404,
            )
        )

    if attacks:
        _access_attacks(rng, t0, hours, requests, labels, attack_names)

    requests.sort(key=lambda r: r.t)
    caps = _Caps()
    out = _Lines()
    for request in requests:
        if request.optional:
            if request.status in (401, 403):
                if not caps.count_ok(
                    "denied",
                    request.ip,
                    request.t,
                    5 * _MINUTE + _MARGIN,
                    _DENIED_PER_ADDRESS_5M,
                    1,
                ):
                    continue
                caps.add_count("denied", request.ip, request.t)
            elif request.status == 404:
                window = 10 * _MINUTE + _MARGIN
                if not caps.distinct_ok(
                    "missing",
                    request.ip,
                    request.t,
                    window,
                    _MISSING_PATHS_PER_ADDRESS_10M,
                    request.path,
                ):
                    continue
                caps.add_value("missing", request.ip, request.t, request.path)
        size = (
            0
            if request.status == 304
            else (153 if request.status >= 400 else rng.randint(400, 90_000))
        )
        out.add(
            request.t,
            access_log_line(
                request.t, request.ip, request.method, request.path, request.status, size,
                user=request.user, useragent=request.useragent,
            ),
        )  # fmt: skip
    return LabelledLog("access-log", out.sorted_lines(), labels, attack_names)


def _access_attacks(
    rng: random.Random,
    t0: float,
    hours: float,
    requests: list[_Request],
    labels: list[Label],
    attack_names: list[str],
) -> None:
    span = hours * _HOUR

    # Basic authentication guessed: 300 requests to /intranet/ answered 401 in 3 minutes.
    name, ip, t = "http-basic-auth-guessing", "203.0.113.70", t0 + 0.15 * span
    attack_names.append(name)
    for i in range(300):
        requests.append(
            _Request(t + i * 0.6, ip, "/intranet/", 401, user=f"guess{i % 20}", useragent="hydra")
        )
    labels.append(Label(HTTP_AUTH_FLOOD, _ip_group(ip), name))

    # API keys guessed: 120 requests answered 403 in 4 minutes.
    name, ip, t = "http-api-key-guessing", "203.0.113.71", t0 + 0.35 * span
    attack_names.append(name)
    for i in range(120):
        requests.append(
            _Request(t + i * 2, ip, f"/api/v1/accounts/{1000 + i}", 403, useragent="curl/8.5.0")
        )
    labels.append(Label(HTTP_AUTH_FLOOD, _ip_group(ip), name))

    # A content-discovery scanner: 400 distinct paths in 5 minutes, mostly 404, ten 403
    # (below the flood), ten found.
    name, ip, t = "web-scanner", "203.0.113.72", t0 + 0.60 * span
    attack_names.append(name)
    paths = [f"/{word}{ext}" for word in _WORDS for ext in _EXTENSIONS]
    rng.shuffle(paths)
    for i, path in enumerate(paths[:400]):
        if i % 40 == 3:
            status = 403
        elif i % 40 == 7:
            status = 301
        else:
            status = 404
        requests.append(_Request(t + i * 0.75, ip, path, status, useragent="gobuster/3.6"))
    labels.append(Label(WEB_SCANNER, _ip_group(ip), name))
