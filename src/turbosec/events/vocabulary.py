"""The OWASP Logging Vocabulary: event names, the arguments each carries, default levels.

An event is written ``name[:arg1,arg2,...]``, e.g. ``authn_login_fail:joe`` or
``authz_fail:joe,/admin/users``.  The table below follows the OWASP Application Logging
Vocabulary Cheat Sheet (categories AUTHN, AUTHZ, CRYPT, EXCESS, UPLOAD, INPUT, MALICIOUS,
MCP, PRIVILEGE, DATA/``sensitive_*``, SEQUENCE, SESSION, SYS, USER), including its later
additions (``session_logout``, ``input_validation_discrete_fail``, ``malicious_sqli``,
``malicious_csrf``, ``malicious_csp_violation``, ``excess_sessions_exceeded``, ``crypt_*``,
``mcp_*``).  The cheat sheet has no ``file_*`` category: file events are ``upload_*``,
``privilege_permissions_changed`` and ``sensitive_*`` (whose object may be a file).

Argument names are the cheat sheet's: ``userid`` is the acting user, ``userid|ip`` a user
or, when nobody is logged in, the client address.  The last argument of a *variadic* event
takes the rest of the list (``user_created:admin,joe,role:editor,team:blue``).

turbosec adds a few names of its own for what log parsers read that has no vocabulary
name (``standard=False``): ``http_request`` (one request from a web server access log),
``sshd_probe`` (a pre-authentication protocol probe) and ``sshd_preauth_disconnect`` (a
connection that ended before authentication completed).  They never collide with the
vocabulary's prefixes.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from turbosec.core.event import Level


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One event name of the vocabulary."""

    name: str
    category: str
    args: tuple[str, ...]
    level: Level
    summary: str
    variadic: bool = False
    standard: bool = True

    #: Index of the argument naming the acting user (``userid`` or ``userid|ip``), or -1.
    user_arg: int = field(init=False, compare=False, repr=False)
    #: Whether that argument may hold a client address instead (``userid|ip``).
    user_or_ip: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        index = next((i for i, arg in enumerate(self.args) if arg in ("userid", "userid|ip")), -1)
        object.__setattr__(self, "user_arg", index)
        object.__setattr__(self, "user_or_ip", index >= 0 and self.args[index] == "userid|ip")

    @property
    def signature(self) -> str:
        """``name[:arg1,arg2]`` as the cheat sheet writes it."""
        if not self.args:
            return self.name
        tail = "..." if self.variadic else ""
        return f"{self.name}[:{','.join(self.args)}{tail}]"


_I, _W, _C = Level.INFO, Level.WARN, Level.CRITICAL

# name, category, arguments, default level, summary (our words), variadic
_TABLE: tuple[tuple[str, str, tuple[str, ...], Level, str, bool], ...] = (
    # -- authentication
    ("authn_login_success", "authn", ("userid",), _I, "a user logged in", False),
    (
        "authn_login_successafterfail",
        "authn",
        ("userid", "retries"),
        _I,
        "a user logged in after failed attempts",
        False,
    ),
    ("authn_login_fail", "authn", ("userid",), _W, "a login attempt failed", False),
    (
        "authn_login_fail_max",
        "authn",
        ("userid", "maxlimit"),
        _W,
        "a user reached the limit of failed logins",
        False,
    ),
    (
        "authn_login_lock",
        "authn",
        ("userid", "reason"),
        _W,
        "an account was locked (maxretries, suspicious, customer, other)",
        False,
    ),
    ("authn_password_change", "authn", ("userid",), _I, "a password was changed", False),
    (
        "authn_password_change_fail",
        "authn",
        ("userid",),
        _C,
        "a password change failed",
        False,
    ),
    (
        "authn_impossible_travel",
        "authn",
        ("userid", "region1", "region2"),
        _C,
        "a user appeared in two places too far apart",
        False,
    ),
    (
        "authn_token_created",
        "authn",
        ("userid", "entitlements"),
        _I,
        "a service token was created",
        True,
    ),
    (
        "authn_token_revoked",
        "authn",
        ("userid", "tokenid"),
        _I,
        "a token was revoked",
        False,
    ),
    (
        "authn_token_reuse",
        "authn",
        ("userid", "tokenid"),
        _C,
        "a revoked token was used again",
        False,
    ),
    ("authn_token_delete", "authn", ("appid",), _W, "a token was deleted", False),
    # -- authorisation
    (
        "authz_fail",
        "authz",
        ("userid", "resource"),
        _C,
        "access to a resource was denied",
        False,
    ),
    (
        "authz_change",
        "authz",
        ("userid", "from", "to"),
        _W,
        "a user's entitlements changed",
        False,
    ),
    ("authz_admin", "authz", ("userid", "event"), _W, "an administrator acted", False),
    # -- encryption
    ("crypt_decrypt_fail", "crypt", ("userid",), _W, "decryption failed", False),
    ("crypt_encrypt_fail", "crypt", ("userid",), _W, "encryption failed", False),
    # -- excessive use
    (
        "excess_rate_limit_exceeded",
        "excess",
        ("userid", "max"),
        _W,
        "a rate limit was exceeded",
        False,
    ),
    (
        "excess_sessions_exceeded",
        "excess",
        ("userid", "max"),
        _W,
        "a user exceeded the concurrent session limit",
        False,
    ),
    # -- file upload
    (
        "upload_complete",
        "upload",
        ("userid", "filename", "type"),
        _I,
        "a file upload completed",
        False,
    ),
    (
        "upload_stored",
        "upload",
        ("filename", "from", "to"),
        _I,
        "an uploaded file was stored under a new name",
        False,
    ),
    (
        "upload_validation",
        "upload",
        ("filename", "check"),
        _I,
        "an uploaded file was validated (check:FAILED|incomplete|passed)",
        False,
    ),
    ("upload_delete", "upload", ("userid", "fileid"), _I, "an uploaded file was deleted", False),
    # -- input validation
    (
        "input_validation_fail",
        "input",
        ("fields", "userid"),
        _W,
        "server-side input validation failed",
        False,
    ),
    (
        "input_validation_discrete_fail",
        "input",
        ("field", "userid"),
        _W,
        "a value outside a fixed list of choices was submitted",
        False,
    ),
    # -- malicious behaviour
    (
        "malicious_excess_404",
        "malicious",
        ("userid|ip", "useragent"),
        _W,
        "many requests for resources that do not exist",
        False,
    ),
    (
        "malicious_extraneous",
        "malicious",
        ("userid|ip", "inputname", "useragent"),
        _C,
        "a request carried an input the handler does not expect",
        False,
    ),
    (
        "malicious_attack_tool",
        "malicious",
        ("userid|ip", "toolname", "useragent"),
        _C,
        "traffic from a known attack tool",
        False,
    ),
    (
        "malicious_sqli",
        "malicious",
        ("userid|ip", "parameter", "ruleid", "useragent"),
        _C,
        "input matched an SQL injection signature",
        False,
    ),
    (
        "malicious_cors",
        "malicious",
        ("userid|ip", "useragent", "referer"),
        _C,
        "a cross-origin request from an origin that is not allowed",
        False,
    ),
    (
        "malicious_direct_reference",
        "malicious",
        ("userid|ip", "useragent"),
        _C,
        "direct access to an object without entitlement",
        False,
    ),
    (
        "malicious_csrf",
        "malicious",
        ("userid|ip",),
        _W,
        "a state-changing request without a valid anti-CSRF token",
        False,
    ),
    (
        "malicious_csp_violation",
        "malicious",
        ("userid|ip", "effective_directive", "blocked_uri", "useragent"),
        _W,
        "a browser reported a Content-Security-Policy violation",
        False,
    ),
    # -- MCP servers
    ("mcp_prompt_injection", "mcp", ("userid",), _W, "a prompt injection was detected", False),
    (
        "mcp_resource_exhaustion",
        "mcp",
        ("userid",),
        _W,
        "a request pattern meant to exhaust resources",
        False,
    ),
    ("mcp_tool_poisoning", "mcp", ("userid",), _W, "a tool looks tampered with", False),
    # -- privilege changes
    (
        "privilege_permissions_changed",
        "privilege",
        ("userid", "object", "fromlevel", "tolevel"),
        _W,
        "permissions on a file or object changed",
        False,
    ),
    # -- sensitive data
    ("sensitive_create", "data", ("userid", "object"), _W, "sensitive data was created", False),
    ("sensitive_read", "data", ("userid", "object"), _W, "sensitive data was read", False),
    ("sensitive_update", "data", ("userid", "object"), _W, "sensitive data was changed", False),
    ("sensitive_delete", "data", ("userid", "object"), _W, "sensitive data was deleted", False),
    # -- sequence errors
    (
        "sequence_fail",
        "sequence",
        ("userid",),
        _C,
        "a step of a business flow was reached out of order",
        False,
    ),
    # -- sessions
    ("session_created", "session", ("userid",), _I, "an authenticated session started", False),
    ("session_renewed", "session", ("userid",), _I, "a session was extended", False),
    ("session_expired", "session", ("userid", "reason"), _I, "a session expired", False),
    ("session_logout", "session", ("userid",), _I, "a user logged out", False),
    (
        "session_use_after_expire",
        "session",
        ("userid",),
        _C,
        "an expired session was used",
        False,
    ),
    # -- system
    ("sys_startup", "sys", ("userid",), _W, "the system started", False),
    ("sys_shutdown", "sys", ("userid",), _W, "the system shut down", False),
    ("sys_restart", "sys", ("userid",), _W, "the system restarted", False),
    ("sys_crash", "sys", ("reason",), _W, "the system crashed", False),
    (
        "sys_monitor_disabled",
        "sys",
        ("userid", "monitor"),
        _W,
        "a monitoring agent was stopped",
        False,
    ),
    (
        "sys_monitor_enabled",
        "sys",
        ("userid", "monitor"),
        _W,
        "a monitoring agent was started",
        False,
    ),
    # -- user management
    (
        "user_created",
        "user",
        ("userid", "newuserid", "attributes"),
        _W,
        "a user account was created",
        True,
    ),
    (
        "user_updated",
        "user",
        ("userid", "onuserid", "attributes"),
        _W,
        "a user account was changed",
        True,
    ),
    ("user_archived", "user", ("userid", "onuserid"), _W, "a user account was archived", False),
    ("user_deleted", "user", ("userid", "onuserid"), _W, "a user account was deleted", False),
)

#: turbosec's own names for parsed log lines the vocabulary has no name for.
_EXTENSIONS: tuple[tuple[str, str, tuple[str, ...], Level, str, bool], ...] = (
    ("http_request", "turbosec", (), _I, "one request from a web server access log", False),
    (
        "sshd_probe",
        "turbosec",
        (),
        _I,
        "an SSH client that never reached authentication (scanner, bad protocol, no common "
        "algorithm)",
        False,
    ),
    (
        "sshd_preauth_disconnect",
        "turbosec",
        ("userid",),
        _I,
        "an SSH connection that ended before authentication completed",
        False,
    ),
)


def _build() -> dict[str, EventSpec]:
    table: dict[str, EventSpec] = {}
    for name, category, args, level, summary, variadic in _TABLE:
        table[name] = EventSpec(name, category, args, level, summary, variadic, True)
    for name, category, args, level, summary, variadic in _EXTENSIONS:
        table[name] = EventSpec(name, category, args, level, summary, variadic, False)
    return table


#: Every known event name, the vocabulary's and turbosec's own.
VOCABULARY: Mapping[str, EventSpec] = MappingProxyType(_build())

#: Spellings seen in the cheat sheet's own examples, mapped to the canonical name.
ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "malicious_excess404": "malicious_excess_404",
        "permissions_changed": "privilege_permissions_changed",
    }
)

CATEGORIES: tuple[str, ...] = tuple(dict.fromkeys(spec.category for spec in VOCABULARY.values()))


def canonical_name(name: str) -> str:
    """The canonical spelling of an event name: lower case, aliases resolved.

    The cheat sheet writes category prefixes in capitals in one example
    (``AUTHN_login_success``); names compare case-insensitively.
    """
    if name in VOCABULARY:
        return name
    low = name.strip().lower()
    return ALIASES.get(low, low)


def lookup(name: str, extra: Mapping[str, EventSpec] | None = None) -> EventSpec | None:
    """The spec of an event name (case-insensitive, aliases resolved), or ``None``."""
    spec = VOCABULARY.get(name)
    if spec is not None:
        return spec
    key = canonical_name(name)
    spec = VOCABULARY.get(key)
    if spec is None and extra:
        spec = extra.get(key)
    return spec


def split_args(text: str, spec: EventSpec | None = None) -> tuple[str, ...]:
    """Split an argument list at the commas outside parentheses and brackets.

    ``(zip,date_of_birth),joe`` gives ``("(zip,date_of_birth)", "joe")``.  With a ``spec``,
    surplus arguments are joined back into the last one (a variadic attribute list, a user
    agent with commas), so an event never has more arguments than its spec names.
    """
    if not text:
        return ()
    if "," not in text:
        return (text.strip(),)
    if "(" not in text and "[" not in text:
        parts = text.split(",")
    else:
        parts = []
        depth = 0
        start = 0
        for index, char in enumerate(text):
            if char in "([":
                depth += 1
            elif char in ")]" and depth:
                depth -= 1
            elif char == "," and not depth:
                parts.append(text[start:index])
                start = index + 1
        parts.append(text[start:])
    if spec is not None and spec.args and len(parts) > len(spec.args):
        keep = len(spec.args) - 1
        parts = [*parts[:keep], ",".join(parts[keep:])]
    return tuple(part.strip() for part in parts)


def split_event(
    text: str, extra: Mapping[str, EventSpec] | None = None
) -> tuple[str, tuple[str, ...]]:
    """``"authn_login_fail:joe"`` → ``("authn_login_fail", ("joe",))``; names canonicalised."""
    colon = text.find(":")
    if colon < 0:
        return canonical_name(text), ()
    name = canonical_name(text[:colon])
    spec = VOCABULARY.get(name)
    if spec is None and extra:
        spec = extra.get(name)
    return name, split_args(text[colon + 1 :], spec)


def format_event(name: str, args: Iterable[object] = ()) -> str:
    """``("authz_fail", ["joe", "/admin"])`` → ``"authz_fail:joe,/admin"``.

    An argument with a comma outside parentheses is wrapped in parentheses so that it reads
    back as one argument (a user agent's ``(KHTML, like Gecko)`` already does).
    """
    parts = []
    for arg in args:
        text = "" if arg is None else str(arg)
        if "," in text and len(split_args(text)) > 1:
            text = f"({text})"
        parts.append(text)
    if not parts:
        return name
    return name + ":" + ",".join(parts)


def looks_like_ip(text: str) -> bool:
    """Whether ``text`` is an IPv4 or IPv6 address (zone ids allowed)."""
    if not text or len(text) > 64:
        return False
    try:
        ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    return True


__all__ = [
    "ALIASES",
    "CATEGORIES",
    "VOCABULARY",
    "EventSpec",
    "canonical_name",
    "format_event",
    "looks_like_ip",
    "lookup",
    "split_args",
    "split_event",
]
