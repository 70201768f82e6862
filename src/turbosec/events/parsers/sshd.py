"""OpenSSH server messages from syslog files, RFC 5424 syslog and the systemd journal.

Line formats (all auto-recognised, line by line):

* traditional syslog (``/var/log/auth.log``, ``/var/log/secure``)::

      Nov 27 10:00:01 host sshd[1234]: Failed password for root from 203.0.113.9 port 50022 ssh2

  The year is not written: it is inferred from a reference time (``now``, the clock by
  default) for the first line -- a date more than a day ahead of it belongs to the previous
  year -- and then follows the file: a month that goes back (December → January) starts a
  new year, a December line right after January ones is a late line of the previous year.
  The time is local time of ``tz`` (default: this machine's zone, daylight saving time
  included).
* high-precision syslog (rsyslog's RFC 3339 file format)::

      2026-11-27T10:00:01.123456+00:00 host sshd[1234]: Accepted publickey for ...

* RFC 5424 (``<38>1 2026-11-27T10:00:01Z host sshd 1234 - - message``) and RFC 3164 with a
  ``<PRI>`` prefix, as read from a network socket;
* ``journalctl -o json`` (and ``-o json-seq``): ``__REALTIME_TIMESTAMP`` (µs since the epoch,
  UTC), ``MESSAGE`` (a string, or an array of bytes), ``_HOSTNAME``, ``SYSLOG_IDENTIFIER``
  (or ``_COMM``), ``_PID``.  The journal's native export format (``-o export``) is not read.

The program must be ``sshd`` or one of its helpers (``sshd-session`` since OpenSSH 9.8,
``sshd-auth`` since 10.0); other programs' lines are skipped.  Each mapped message becomes
one event; ``extra["sshd_msg"]`` says which message it was (``error:``/``fatal:`` prefixes
are ignored; U is the user name, IP the client address, N its port):

==========================================================  ==============================
OpenSSH message                                             event / ``sshd_msg``
==========================================================  ==============================
``Accepted <method> for U from IP port N ssh2[: <key>]``    ``authn_login_success:U``
                                                            ``accepted``
``Failed <method> for [invalid user ]U from IP port N        ``authn_login_fail:U``
ssh2[: <key>]`` (password, publickey, none,                 ``failed``
keyboard-interactive/pam, hostbased...)
``Invalid user U from IP [port N]`` (old: ``Illegal``)      ``authn_login_fail:U``
                                                            ``invalid_user``
``User U from IP not allowed because <reason>``             ``authn_login_fail:U``
(AllowUsers, DenyUsers, groups, locked, shell)              ``not_allowed``
``pam_unix(sshd:auth): authentication failure; ...          ``authn_login_fail[:U]``
rhost=IP [user=U]`` (any ``pam_*(sshd:auth)`` module)       ``pam_auth_failure``
``PAM: Authentication failure for [illegal user ]U from     ``authn_login_fail:U``
IP``                                                        ``pam_error``
``maximum authentication attempts exceeded for [invalid     ``authn_login_fail_max:U``
user ]U from IP port N ssh2 [preauth]``                     ``max_attempts``
``Disconnecting {authenticating|invalid} user U IP port     ``sshd_preauth_disconnect:U``
N: Too many authentication failures [preauth]``             ``too_many_failures``
``Connection {closed|reset} by [{authenticating|invalid}    ``sshd_preauth_disconnect[:U]``
user U ]IP port N [preauth]``                               ``connection_closed``/``_reset``
``Disconnected from [{authenticating|invalid} user U ]IP    ``sshd_preauth_disconnect[:U]``
port N [preauth]``                                          ``disconnected``
``Received disconnect from IP port N:<code>: <text>         ``sshd_preauth_disconnect``
[preauth]`` (code and text in ``detail``)                   ``received_disconnect``
``Timeout before authentication for IP port N``             ``sshd_preauth_disconnect``
                                                            ``timeout``
``Did not receive identification string from IP [port       ``sshd_probe``
N]``                                                        ``no_identification``
``banner exchange: Connection from IP port N: <reason>``    ``sshd_probe``
(``invalid format``...; reason in ``detail``)               ``banner_exchange``
``Unable to negotiate with IP port N: no matching <what>    ``sshd_probe``
found...`` (what: key exchange method, host key type...)    ``no_matching_algorithm``
``Bad protocol version identification '<text>' from IP      ``sshd_probe``
[port N]`` (OpenSSH before 7.x)                             ``bad_version``
``Protocol major versions differ for IP port N: ...``       ``sshd_probe``
                                                            ``version_mismatch``
==========================================================  ==============================

Other fields: ``user`` and the event's single argument are U; ``source_ip`` is IP;
``extra`` has ``port``, ``auth_method`` (accepted/failed), ``invalid_user: true`` when sshd
said so, ``detail``, ``program`` and ``pid``; ``hostname`` is the syslog host, ``appid``
is ``sshd``; ``description`` is the sshd message itself.

``message repeated N times: [ <message>]`` (rsyslog's repeated-message reduction) is read as
``<message>`` with ``repeat = N``.  The pre-authentication disconnects are *not* login
failures: a brute-force session usually logs its ``Failed ...`` lines and then one of them.
Rules decide whether they count (a "scanner" rule does, a "5 failed logins" rule does not).
Post-authentication disconnects, session open/close lines, ``Connection from`` and
everything else sshd writes are skipped.

Addresses: IPv4 and IPv6 as sshd writes them; an IPv4-mapped IPv6 address
(``::ffff:203.0.113.9``) is written as the IPv4 address.  With ``UseDNS yes`` the PAM
``rhost`` may be a host name: it is kept in ``extra["rhost"]`` and ``source_ip`` stays empty.

Restricted to what the rules use (:meth:`SshdParser.restrict`, as ``turbosec watch test``
does), the parser keeps only the kinds of message a loaded rule could match and, through
:meth:`SshdParser.parse_block`, finds their lines in a block of syslog text with one
regular expression instead of reading every line: the commonest one (``Failed ...`` in a
traditional syslog line) is read in a single match.  The events are those the line by line
reading gives for the same lines; lines that are not read are counted skipped.

The parsers read user names attackers chose: every pattern takes the address from the
*end* of the message (after the last `` from ``), so a user name such as
``x from 198.51.100.1 port 22`` cannot put the blame on someone else.
"""

from __future__ import annotations

import re
import time as _time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

import orjson

from turbosec.core.event import (
    RAW_LIMIT,
    SecurityEvent,
    bound_text,
    new_event,
    raw_text,
    sensitive_name,
)
from turbosec.events.parsers.base import _TOO_LONG, MAX_LINE, MalformedLine, Parser, ParseStats
from turbosec.events.vocabulary import VOCABULARY

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}
_DESCRIPTION_LIMIT = 1024
_SECONDS = tuple(timedelta(seconds=second) for second in range(60))
# ``name=`` parameters in a line (the same names :func:`redact_text` looks at), and whether
# each name seen so far is harmless: PAM's ``logname= uid= euid= tty= ruser= rhost= user=``
# come on every failure line, and asking :func:`sensitive_name` each time is costly.
_PARAM_NAME = re.compile(r"[A-Za-z0-9_-]*=")
_HARMLESS: dict[str, bool] = {}
_HARMLESS_LIMIT = 4096

_LOGIN_FAIL = "authn_login_fail"
_LOGIN_SUCCESS = "authn_login_success"
_LOGIN_FAIL_MAX = "authn_login_fail_max"
_PREAUTH = "sshd_preauth_disconnect"
_PROBE = "sshd_probe"
_LEVELS = {
    name: VOCABULARY[name].level
    for name in (_LOGIN_FAIL, _LOGIN_SUCCESS, _LOGIN_FAIL_MAX, _PREAUTH, _PROBE)
}

# Each pattern is matched at the start of the message.  User names are greedy (.*) and the
# address comes from the fixed tail, see the module docstring.
_FAILED = re.compile(
    r"Failed (\S+) for (invalid user )?(.*) from (\S+) port (\d+)(?: ssh\d?)?(?:: .*)?$"
)
_ACCEPTED = re.compile(r"Accepted (\S+) for (.*) from (\S+) port (\d+)(?: ssh\d?)?(?:: .*)?$")
_INVALID = re.compile(r"(?:Invalid|Illegal) user (.*) from (\S+?)(?: port (\d+))?$")
_NOT_ALLOWED = re.compile(r"User (.*) from (\S+) not allowed because (.+)$")
_PAM_ERROR = re.compile(
    r"PAM: Authentication failure for ((?:illegal|invalid) user )?(.*) from (\S+)$"
)
_MAX = re.compile(
    r"maximum authentication attempts exceeded for (invalid user )?(.*) from (\S+) port (\d+)"
    r"(?: ssh\d?)?(?: \[preauth\])?$"
)
_DISCONNECTING = re.compile(
    r"Disconnecting (?:(authenticating|invalid) user (.*) )?(\S+) port (\d+): "
    r"Too many authentication failures(?: \[preauth\])?$"
)
_CLOSED = re.compile(
    r"Connection (closed|reset) by (?:(authenticating|invalid) user (.*) )?(\S+) port (\d+)"
    r" \[preauth\]$"
)
_DISCONNECTED = re.compile(
    r"Disconnected from (?:(authenticating|invalid) user (.*) )?(\S+) port (\d+) \[preauth\]$"
)
_RECEIVED = re.compile(r"Received disconnect from (\S+) port (\d+):\s*(\d+): ?(.*?) \[preauth\]$")
_TIMEOUT = re.compile(r"Timeout before authentication for (\S+) port (\d+)$")
_NO_IDENT = re.compile(r"Did not receive identification string from (\S+?)(?: port (\d+))?$")
_BANNER = re.compile(r"banner exchange: Connection from (\S+) port (\d+): (.+?)(?: \[preauth\])?$")
_NEGOTIATE = re.compile(r"Unable to negotiate with (\S+) port (\d+): no matching (.+?) found")
_BAD_VERSION = re.compile(
    r"Bad protocol version identification '(.*)' from (\S+?)(?: port (\d+))?$"
)
_VERSIONS_DIFFER = re.compile(r"Protocol major versions differ for (\S+) port (\d+)")
_REPEATED = re.compile(r"message repeated (\d+) times: \[ ?(.*)\]$")
#: The commonest line of all, ``Failed <method> for ...`` in a traditional syslog line with
#: a host name and ``sshd[PID]``, read in one match by :meth:`SshdParser.parse_block`.  What
#: it matches, :meth:`SshdParser.parse` reads the same way (a test pins that): the host
#: does not end with ``:``, the tag holds no ``: ``, the message is ``_FAILED``'s.
_FAST_FAILED = re.compile(
    r"([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) (\S*[^\s:]) (sshd[\w-]*)\[(\d+)\]: "
    r"(Failed (\S+) for (invalid user )?(.*) from (\S+) port (\d+)(?: ssh\d?)?(?:: .*)?)"
)

#: Every ``sshd_msg`` kind: its event and the first word(s) of the messages that give it
#: (regular expressions; :func:`_classify` decides on the message's first word).
_KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "failed": (_LOGIN_FAIL, ("Failed ",)),
    "invalid_user": (_LOGIN_FAIL, ("Invalid ", "Illegal ")),
    "not_allowed": (_LOGIN_FAIL, ("User ",)),
    "pam_auth_failure": (_LOGIN_FAIL, (r"pam_\S*\(sshd:auth\): ",)),
    "pam_error": (_LOGIN_FAIL, ("PAM: ",)),
    "accepted": (_LOGIN_SUCCESS, ("Accepted ",)),
    "max_attempts": (_LOGIN_FAIL_MAX, ("maximum ",)),
    "too_many_failures": (_PREAUTH, ("Disconnecting ",)),
    "connection_closed": (_PREAUTH, ("Connection ",)),
    "connection_reset": (_PREAUTH, ("Connection ",)),
    "disconnected": (_PREAUTH, ("Disconnected ",)),
    "received_disconnect": (_PREAUTH, ("Received ",)),
    "timeout": (_PREAUTH, ("Timeout ",)),
    "no_identification": (_PROBE, ("Did ",)),
    "banner_exchange": (_PROBE, ("banner ",)),
    "no_matching_algorithm": (_PROBE, ("Unable ",)),
    "bad_version": (_PROBE, ("Bad ",)),
    "version_mismatch": (_PROBE, ("Protocol ",)),
}
#: Messages that wrap another one (``error: ...``, ``message repeated N times: [ ...]``).
_WRAPPERS = ("message ",)

# (event, user, ip, port, sshd_msg, auth_method, invalid_user, detail, repeat)
_Hit = tuple[str, str | None, str | None, int | None, str, str | None, bool, str | None, int]


def _ip(text: str) -> str:
    if text.startswith("::ffff:") and "." in text:
        return text[7:]
    return text


def _port(text: str | None) -> int | None:
    return int(text) if text else None


def _classify(msg: str, depth: int = 0) -> _Hit | None:
    """What an sshd message means, or ``None`` when it is not one of the mapped ones."""
    space = msg.find(" ")
    head = msg[:space] if space > 0 else msg
    if head == "Failed":
        m = _FAILED.match(msg)
        if m is None:
            if " for " in msg and " from " in msg:
                raise MalformedLine("unreadable sshd 'Failed' message")
            return None
        method, invalid, user, ip, port = m.groups()
        return (_LOGIN_FAIL, user, _ip(ip), int(port), "failed", method, bool(invalid), None, 1)
    if head == "Connection":
        m = _CLOSED.match(msg)
        if m is None:
            return None
        how, state, user, ip, port = m.groups()
        kind = "connection_closed" if how == "closed" else "connection_reset"
        return (_PREAUTH, user, _ip(ip), int(port), kind, None, state == "invalid", None, 1)
    if head in ("Invalid", "Illegal"):
        m = _INVALID.match(msg)
        if m is None:
            if msg.startswith(("Invalid user ", "Illegal user ")):
                raise MalformedLine("unreadable sshd 'Invalid user' message")
            return None
        user, ip, port = m.groups()
        return (_LOGIN_FAIL, user, _ip(ip), _port(port), "invalid_user", None, True, None, 1)
    if head == "Disconnected":
        m = _DISCONNECTED.match(msg)
        if m is None:
            return None
        state, user, ip, port = m.groups()
        return (
            _PREAUTH,
            user,
            _ip(ip),
            int(port),
            "disconnected",
            None,
            state == "invalid",
            None,
            1,
        )
    if head == "Received":
        m = _RECEIVED.match(msg)
        if m is None:
            return None
        ip, port, code, text = m.groups()
        detail = f"{code}: {text}" if text else code
        return (_PREAUTH, None, _ip(ip), int(port), "received_disconnect", None, False, detail, 1)
    if head.startswith("pam_") and head.endswith("(sshd:auth):"):
        if "authentication failure;" not in msg:
            return None
        return _pam_failure(msg)
    if head == "Accepted":
        m = _ACCEPTED.match(msg)
        if m is None:
            if msg.startswith("Accepted ") and " for " in msg and " from " in msg:
                raise MalformedLine("unreadable sshd 'Accepted' message")
            return None
        method, user, ip, port = m.groups()
        return (_LOGIN_SUCCESS, user, _ip(ip), int(port), "accepted", method, False, None, 1)
    if head == "maximum":
        m = _MAX.match(msg)
        if m is None:
            return None
        invalid, user, ip, port = m.groups()
        return (
            _LOGIN_FAIL_MAX,
            user,
            _ip(ip),
            int(port),
            "max_attempts",
            None,
            bool(invalid),
            None,
            1,
        )
    if head == "Disconnecting":
        m = _DISCONNECTING.match(msg)
        if m is None:
            return None
        state, user, ip, port = m.groups()
        return (
            _PREAUTH,
            user,
            _ip(ip),
            int(port),
            "too_many_failures",
            None,
            state == "invalid",
            None,
            1,
        )
    if head == "User":
        m = _NOT_ALLOWED.match(msg)
        if m is None:
            return None
        user, ip, reason = m.groups()
        return (_LOGIN_FAIL, user, _ip(ip), None, "not_allowed", None, False, reason, 1)
    if head == "PAM:":
        m = _PAM_ERROR.match(msg)
        if m is None:
            return None
        invalid, user, ip = m.groups()
        return (_LOGIN_FAIL, user, _ip(ip), None, "pam_error", None, bool(invalid), None, 1)
    if head == "Did":
        m = _NO_IDENT.match(msg)
        if m is None:
            return None
        ip, port = m.groups()
        return (_PROBE, None, _ip(ip), _port(port), "no_identification", None, False, None, 1)
    if head == "banner":
        m = _BANNER.match(msg)
        if m is None:
            return None
        ip, port, reason = m.groups()
        return (_PROBE, None, _ip(ip), int(port), "banner_exchange", None, False, reason, 1)
    if head == "Unable":
        m = _NEGOTIATE.match(msg)
        if m is None:
            return None
        ip, port, what = m.groups()
        return (_PROBE, None, _ip(ip), int(port), "no_matching_algorithm", None, False, what, 1)
    if head == "Timeout":
        m = _TIMEOUT.match(msg)
        if m is None:
            return None
        ip, port = m.groups()
        return (_PREAUTH, None, _ip(ip), int(port), "timeout", None, False, None, 1)
    if head == "Bad":
        m = _BAD_VERSION.match(msg)
        if m is None:
            return None
        text, ip, port = m.groups()
        return (_PROBE, None, _ip(ip), _port(port), "bad_version", None, False, text[:200], 1)
    if head == "Protocol":
        m = _VERSIONS_DIFFER.match(msg)
        if m is None:
            return None
        ip, port = m.groups()
        return (_PROBE, None, _ip(ip), int(port), "version_mismatch", None, False, None, 1)
    if head in ("error:", "fatal:") and depth == 0:
        return _classify(msg[space + 1 :], 1)
    if head == "message" and depth == 0:
        m = _REPEATED.match(msg)
        if m is None:
            return None
        inner = _classify(m.group(2), 1)
        if inner is None:
            return None
        return (*inner[:8], max(1, int(m.group(1))))
    return None


def _pam_failure(msg: str) -> _Hit:
    start = msg.find(" rhost=")
    if start < 0:
        raise MalformedLine("PAM authentication failure without rhost")
    start += 7
    end = msg.find(" ", start)
    rhost = msg[start:] if end < 0 else msg[start:end]
    user = None
    at = msg.find(" user=", start)
    if at >= 0:
        user = msg[at + 6 :].strip() or None
    ip: str | None = _ip(rhost) if rhost else None
    detail = None
    if ip is not None and not _looks_numeric(ip):
        detail, ip = f"rhost={ip}", None
    return (_LOGIN_FAIL, user, ip, None, "pam_auth_failure", None, False, detail, 1)


def _raw(line: str) -> str:
    """:func:`raw_text` of ``line``, without its cost when nothing can need redacting.

    The result is the same: a line whose ``name=`` parameters are all harmless names and
    that holds no JWT or bearer/basic marker is returned as it is.
    """
    if len(line) > RAW_LIMIT:
        return raw_text(line)
    if "=" in line:
        harmless = _HARMLESS
        for name in _PARAM_NAME.findall(line):
            known = harmless.get(name)
            if known is None:
                if len(harmless) >= _HARMLESS_LIMIT:
                    harmless.clear()
                known = harmless[name] = not sensitive_name(name[:-1])
            if not known:
                return raw_text(line)
    if "eyJ" in line or "earer" in line or "asic" in line or "EARER" in line or "ASIC" in line:
        return raw_text(line)
    return line


def _looks_numeric(address: str) -> bool:
    """An IPv4 or IPv6 literal (cheap test: digits, dots, hex and colons only)."""
    if ":" in address:
        return True
    return address.replace(".", "").isdigit()


class SshdParser(Parser):
    """OpenSSH server messages; see the module docstring for formats and the mapping."""

    name = "sshd"
    description = "OpenSSH server logs: syslog/auth.log, RFC 5424, journalctl -o json"
    required_text = "sshd"

    def __init__(self, *, now: datetime | None = None, tz: tzinfo | None = None) -> None:
        self.now = now
        self.tz = tz
        self._year: int | None = None
        self._last_month = 0
        self._stamp = ""
        self._stamp_time = _EPOCH
        self._stamp_minute = ""  # "Nov 27 10:00" of the last stamp worked out, and its time
        self._stamp_minute_time = _EPOCH
        self._iso = ""
        self._iso_time = _EPOCH
        self._minute: tuple[int, ...] = ()
        self._minute_time = _EPOCH
        self._wanted: frozenset[str] | None = None  # sshd_msg kinds kept (None: all)
        self._needle: re.Pattern[str] | None = None
        self._unused = 0  # events left out by the restriction

    # -- restriction to what the rules can use

    def restrict(self, could_use: Callable[[Mapping[str, str | None]], bool]) -> bool:
        """Keep only the kinds of message a rule could match (by event type, ``appid``,
        level and ``extra.sshd_msg``, which the message's kind decides).

        :meth:`parse_block` then reads only the syslog lines whose message starts with
        one of those kinds' first words (or ``error:``/``fatal:``/``message repeated``,
        which wrap another message); the other lines are counted skipped (``unused``)
        without being read, so a malformed line among them is not noticed.
        """
        wanted = frozenset(
            kind
            for kind, (event, _) in _KINDS.items()
            if could_use(
                {
                    "event_type": event,
                    "appid": "sshd",
                    "level": _LEVELS[event].value,
                    "extra.sshd_msg": kind,
                }
            )
        )
        heads = sorted({head for kind in wanted for head in _KINDS[kind][1]})
        heads += [re.escape(word) for word in _WRAPPERS]
        self._wanted = wanted
        self._needle = re.compile(r": (?:(?:error|fatal): )?(?:" + "|".join(heads) + ")")
        return True

    def parse_block(
        self, text: str, source: str, stats: ParseStats, *, first_line: int = 1
    ) -> list[SecurityEvent] | None:
        """The lines of ``text`` a restricted parser needs, found with one regular
        expression over the block; every line counted.  ``None`` (use the line by line
        way) when not restricted, or when the block has lines that are not plain syslog
        (``<PRI>``, journal JSON) or NUL bytes."""
        needle = self._needle
        if needle is None or "\x00" in text or text[:1] in ("<", "{", "\x1e"):
            return None
        if "\n<" in text or "\n{" in text or "\n\x1e" in text:
            return None
        events: list[SecurityEvent] = []
        append = events.append
        parse = self.parse
        fast_failed = _FAST_FAILED.fullmatch
        fail_level = _LEVELS[_LOGIN_FAIL]
        failed = "failed" in (self._wanted or ())
        find = text.find
        rfind = text.rfind
        count = text.count
        malformed = stats.malformed
        unused = self._unused
        number = first_line
        counted = 0  # text[:counted] holds number - first_line line ends
        line_end = -1
        examined = 0
        for match in needle.finditer(text):
            at = match.start()
            if at < line_end:
                continue  # another hit in the line just read
            start = rfind("\n", 0, at) + 1
            line_end = find("\n", at)
            if line_end < 0:
                line_end = len(text)
            number += count("\n", counted, start)
            counted = start
            examined += 1
            line = text[start:line_end]
            if line[-1:] == "\r":
                line = line[:-1]
            where = f"{source}:{number}"
            if len(line) > MAX_LINE:
                stats.add_malformed(where, _TOO_LONG, line)
                continue
            event: SecurityEvent | None
            try:
                fast = fast_failed(line) if failed else None
                if fast is not None:
                    # what parse() and _event() make of the line, in one go
                    stamp, host, program, pid, msg, method, invalid, user, ip, port = fast.groups()
                    when = self._stamp_time if stamp == self._stamp else self._syslog_stamp(stamp)
                    extra: dict[str, Any] = {
                        "sshd_msg": "failed",
                        "port": int(port),
                        "auth_method": method,
                    }
                    if invalid:
                        extra["invalid_user"] = True
                    extra["program"] = program
                    extra["pid"] = int(pid)
                    if len(msg) > _DESCRIPTION_LIMIT:
                        msg = bound_text(msg, _DESCRIPTION_LIMIT)
                    event = new_event(
                        when, _LOGIN_FAIL, (user,), fail_level, msg, _ip(ip), user,
                        None, None, None, None, host, "sshd", where, _raw(line), 1, extra,
                    )  # fmt: skip
                else:
                    event = parse(line, where)
            except MalformedLine as exc:
                stats.add_malformed(where, exc.reason, line)
                continue
            if event is not None:
                append(event)
        lines = count("\n") + 1
        stats.lines += lines
        stats.events += len(events)
        stats.skipped += lines - len(events) - (stats.malformed - malformed)
        stats.unused += lines - examined + self._unused - unused
        return events

    # -- detection

    def detect(self, sample_lines: Sequence[str]) -> float:
        seen = hits = sshd = 0
        for line in sample_lines:
            text = line.strip()
            if not text:
                continue
            seen += 1
            if _looks_like_syslog(text):
                hits += 1
                if "sshd" in text:
                    sshd += 1
        if not seen:
            return 0.0
        share = hits / seen
        return share if sshd else share * 0.9

    # -- parsing

    def parse(self, line: str, source: str) -> SecurityEvent | None:
        if "sshd" not in line:
            return None
        first = line[0]
        if first == "{" or first == "\x1e":
            return self._journal(line, source)
        body = line
        if first == "<":
            end = line.find(">", 1, 6)
            if end < 0 or not line[1:end].isdigit():
                raise MalformedLine("bad syslog priority")
            body = line[end + 1 :]
            if body[:2] == "1 ":
                return self._rfc5424(body[2:], line, source)
        if "0" <= body[:1] <= "9":
            space = body.find(" ")
            host_end = body.find(" ", space + 1)
            if space < 0 or host_end < 0:
                raise MalformedLine("not a syslog line")
            stamp = body[:space]
            host: str | None = body[space + 1 : host_end]
            rest = body[host_end + 1 :]
            iso = True
        else:
            if len(body) < 17 or body[3] != " " or body[15] != " ":
                raise MalformedLine("not a syslog line")
            host_end = body.find(" ", 16)
            if host_end < 0:
                raise MalformedLine("not a syslog line")
            stamp = body[:15]
            host = body[16:host_end]
            rest = body[host_end + 1 :]
            iso = False
        if host is not None and host.endswith(":"):  # no host name: "Nov 27 10:00:01 sshd[1]: ..."
            rest = host + " " + rest
            host = None
        colon = rest.find(": ")
        if colon < 0:
            return None
        tag = rest[:colon]
        if not tag.startswith("sshd"):
            return None
        msg = rest[colon + 2 :]
        hit = _classify(msg)
        if hit is None:
            return None
        if self._wanted is not None and hit[4] not in self._wanted:
            self._unused += 1
            return None
        if iso:
            when = self._iso_stamp(stamp)
        elif stamp == self._stamp:
            when = self._stamp_time
        else:
            when = self._syslog_stamp(stamp)
        bracket = tag.find("[")
        if bracket < 0:
            program, pid = tag, None
        else:
            program, pid = tag[:bracket], tag[bracket + 1 : -1]
        return self._event(hit, when, host, program, pid, msg, line, source)

    def _event(
        self,
        hit: _Hit,
        when: datetime,
        host: str | None,
        program: str,
        pid: str | None,
        msg: str,
        line: str,
        source: str,
    ) -> SecurityEvent:
        event, user, ip, port, kind, method, invalid, detail, repeat = hit
        extra: dict[str, Any] = {"sshd_msg": kind}
        if port is not None:
            extra["port"] = port
        if method is not None:
            extra["auth_method"] = method
        if invalid:
            extra["invalid_user"] = True
        if detail is not None:
            extra["detail"] = detail
        extra["program"] = program
        if pid:
            extra["pid"] = int(pid) if pid.isdigit() else pid
        if len(msg) > _DESCRIPTION_LIMIT:
            msg = bound_text(msg, _DESCRIPTION_LIMIT)
        return new_event(
            when,
            event,
            (user,) if user is not None else (),
            _LEVELS[event],
            msg,
            ip,
            user,
            None,
            None,
            None,
            None,
            host,
            "sshd",
            source,
            _raw(line),
            repeat,
            extra,
        )

    def _rfc5424(self, body: str, line: str, source: str) -> SecurityEvent | None:
        parts = body.split(" ", 5)
        if len(parts) < 6:
            raise MalformedLine("truncated RFC 5424 header")
        stamp, host, app, procid, _msgid, rest = parts
        if not app.startswith("sshd"):
            return None
        if rest.startswith("-"):
            msg = rest[2:]
        elif rest.startswith("["):
            end = _end_of_structured_data(rest)
            if end < 0:
                raise MalformedLine("unterminated RFC 5424 structured data")
            msg = rest[end + 1 :].removeprefix(" ")
        else:
            raise MalformedLine("bad RFC 5424 structured data")
        if msg.startswith("\ufeff"):
            msg = msg[1:]
        hit = _classify(msg)
        if hit is None:
            return None
        if self._wanted is not None and hit[4] not in self._wanted:
            self._unused += 1
            return None
        if stamp == "-":
            raise MalformedLine("RFC 5424 line without a timestamp")
        when = self._iso_stamp(stamp)
        return self._event(
            hit,
            when,
            None if host == "-" else host,
            app,
            None if procid == "-" else procid,
            msg,
            line,
            source,
        )

    def _journal(self, line: str, source: str) -> SecurityEvent | None:
        try:
            data = orjson.loads(line.lstrip("\x1e"))
        except orjson.JSONDecodeError:
            raise MalformedLine("invalid JSON") from None
        if type(data) is not dict:
            raise MalformedLine("not a JSON object")
        ident = data.get("SYSLOG_IDENTIFIER") or data.get("_COMM")
        if not isinstance(ident, str) or not ident.startswith("sshd"):
            return None
        msg = data.get("MESSAGE")
        if isinstance(msg, list):
            try:
                msg = bytes(msg).decode("utf-8", "replace")
            except (TypeError, ValueError):
                raise MalformedLine("journal MESSAGE is not text or bytes") from None
        if not isinstance(msg, str):
            raise MalformedLine("journal entry without MESSAGE")
        hit = _classify(msg)
        if hit is None:
            return None
        if self._wanted is not None and hit[4] not in self._wanted:
            self._unused += 1
            return None
        stamp = data.get("__REALTIME_TIMESTAMP")
        try:
            when = _EPOCH + timedelta(microseconds=int(stamp))  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):
            raise MalformedLine("journal entry without a valid __REALTIME_TIMESTAMP") from None
        host = data.get("_HOSTNAME")
        pid = data.get("_PID") or data.get("SYSLOG_PID")
        return self._event(
            hit,
            when,
            host if isinstance(host, str) else None,
            ident,
            str(pid) if pid is not None else None,
            msg,
            line,
            source,
        )

    # -- timestamps

    def _iso_stamp(self, stamp: str) -> datetime:
        if stamp == self._iso:
            return self._iso_time
        try:
            when = datetime.fromisoformat(stamp)
        except ValueError:
            raise MalformedLine("bad ISO 8601 timestamp") from None
        if when.tzinfo is None:
            naive = when
            when = self._to_utc(
                naive.year, naive.month, naive.day, naive.hour, naive.minute, naive.second
            ).replace(microsecond=naive.microsecond)
        elif when.tzinfo is not UTC:
            when = when.astimezone(UTC)
        self._iso = stamp
        self._iso_time = when
        return when

    def _syslog_stamp(self, stamp: str) -> datetime:
        if stamp == self._stamp:
            return self._stamp_time
        if stamp[:12] == self._stamp_minute and stamp[12] == ":" and stamp[13:15].isdecimal():
            # the same minute as the last one worked out: the year and the zone's offset
            # cannot have changed (both are decided per month and per minute)
            second = int(stamp[13:15])
            if second < 60:
                when = self._stamp_minute_time + _SECONDS[second]
                self._stamp = stamp
                self._stamp_time = when
                return when
        month = _MONTHS.get(stamp[:3])
        if month is None or stamp[6] != " " or stamp[9] != ":" or stamp[12] != ":":
            raise MalformedLine("bad syslog timestamp")
        try:
            day = int(stamp[4:6])
            hour = int(stamp[7:9])
            minute = int(stamp[10:12])
            second = int(stamp[13:15])
        except ValueError:
            raise MalformedLine("bad syslog timestamp") from None
        try:
            year = self._year_for(month, day)
            when = self._to_utc(year, month, day, hour, minute, second)
        except (ValueError, OverflowError):
            raise MalformedLine("invalid date in syslog timestamp") from None
        self._stamp = stamp
        self._stamp_time = when
        if 0 <= second <= 59:
            self._stamp_minute = stamp[:12]
            self._stamp_minute_time = when - _SECONDS[second]
        return when

    def _to_utc(
        self, year: int, month: int, day: int, hour: int, minute: int, second: int
    ) -> datetime:
        tz = self.tz
        if tz is UTC:
            return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        if tz is None:
            # Local time: one mktime per minute (zones change offset on whole minutes).
            key = (year, month, day, hour, minute)
            if key == self._minute and 0 <= second <= 59:
                return self._minute_time + _SECONDS[second]
            datetime(year, month, day, hour, minute, second)  # validates the date
            epoch = _time.mktime((year, month, day, hour, minute, 0, 0, 0, -1))
            self._minute = key
            self._minute_time = _EPOCH + timedelta(seconds=epoch)
            return self._minute_time + timedelta(seconds=second)
        return datetime(year, month, day, hour, minute, second, tzinfo=tz).astimezone(UTC)

    def _year_for(self, month: int, day: int) -> int:
        if self._year is None:
            self._year = self._first_year(month, day)
            self._last_month = month
            return self._year
        last = self._last_month
        if month == last:
            return self._year
        if month > last:
            if last == 1 and month == 12:  # a late December line after January ones
                return self._year - 1
            self._last_month = month
            return self._year
        if last - month == 1:  # a late line from the end of the previous month
            return self._year
        self._year += 1  # the log went on into a new year
        self._last_month = month
        return self._year

    def _first_year(self, month: int, day: int) -> int:
        ref = self.now
        if ref is None:
            ref = datetime.now(self.tz) if self.tz is not None else datetime.now()
        elif ref.tzinfo is not None:
            ref = ref.astimezone(self.tz) if self.tz is not None else ref.astimezone()
        year = ref.year
        seen = date(year, month, min(day, 28 if month == 2 else day))
        if (seen - ref.date()).days > 1:
            year -= 1
        if month == 2 and day == 29:
            while not _leap(year):
                year -= 1
        return year


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _end_of_structured_data(text: str) -> int:
    """Index of the ``]`` closing the last SD element at the start of ``text``, or -1."""
    index = 0
    while index < len(text) and text[index] == "[":
        index += 1
        while index < len(text):
            char = text[index]
            if char == "\\":
                index += 2
                continue
            if char == "]":
                break
            index += 1
        else:
            return -1
        index += 1
    return index - 1 if index > 0 else -1


_SYSLOG_HEAD = re.compile(
    r"(?:<\d{1,3}>)?(?:"
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d \S+ \S+"
    r"|1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S* \S+ \S+ \S+ \S+ "
    r"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S* \S+ \S+"
    r")"
)


def _looks_like_syslog(text: str) -> bool:
    if text[0] in "{\x1e":
        if "__REALTIME_TIMESTAMP" not in text or "MESSAGE" not in text:
            return False
        try:
            data = orjson.loads(text.lstrip("\x1e"))
        except orjson.JSONDecodeError:
            return False
        return isinstance(data, dict) and "__REALTIME_TIMESTAMP" in data
    return _SYSLOG_HEAD.match(text) is not None


__all__ = ["SshdParser"]
