"""Writing security events: a JSON formatter for :mod:`logging`, a helper, a structlog processor.

An application logs what happens at its trust boundaries with :class:`SecurityLogger`::

    security = SecurityLogger(appid="shop.auth")
    security.login_fail(username, request=request)
    security.authz_fail(user.id, "/admin/users", request=request)
    security.emit("malicious_attack_tool", ip, "sqlmap", useragent)

and a handler with :class:`OwaspJsonFormatter` writes one JSON object per line in the
OWASP Logging Vocabulary's format::

    {"datetime": "2026-11-27T10:00:01.123+00:00", "appid": "shop.auth",
     "event": "authn_login_fail:joe", "level": "WARN", "description": "...",
     "source_ip": "203.0.113.9", "useragent": "...", "request_uri": "/login",
     "request_method": "POST", "hostname": "web-1"}

which ``turbosec watch`` reads back (:mod:`turbosec.events.parsers.owasp_json`).

Secrets never reach the log: a field whose *name* says it holds a secret (``password``,
``token``, ``api_key``, ``authorization``, ``cookie``, ``session_id``...) or whose *value*
looks like one (a bearer token, a JWT, ``?token=...``, a known API key format) is refused
with :class:`SecretFieldError` (a ``ValueError`` naming the field) -- before anything is
written.  ``allow_fields`` lifts the rule for names that are not secrets in an application.

structlog users add :class:`OwaspProcessor` (or :data:`owasp_processor`) to their processor
chain: ``log.warning("authn_login_fail", user="joe", source_ip=ip)`` then renders to the same
shape.  structlog itself stays optional: nothing here imports it at module level.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
from collections.abc import Iterable, Mapping, MutableMapping
from datetime import UTC, datetime, tzinfo
from typing import Any, TextIO

import orjson

from turbosec.core.event import Level, bound_text
from turbosec.events.vocabulary import EventSpec, format_event, lookup, split_event

#: Logger name :class:`SecurityLogger` writes to unless told otherwise.
DEFAULT_LOGGER = "turbosec.security"

#: The vocabulary's fields, in the order they are written.
CORE_FIELDS = (
    "datetime",
    "appid",
    "event",
    "level",
    "description",
    "source_ip",
    "useragent",
    "request_uri",
    "request_method",
    "hostname",
)
_HTTP_FIELDS = ("source_ip", "useragent", "request_uri", "request_method")
_USERAGENT_LIMIT = 512
_URI_LIMIT = 2048


class SecretFieldError(ValueError):
    """A security event was asked to carry a secret; nothing was logged."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(
            f"security event field {field!r} {reason}: security logs must never carry "
            "passwords, tokens, keys, cookies or session ids. Log an identifier instead "
            f"(a user id, a token id), or, if {field!r} is not a secret in this application, "
            "list it in allow_fields."
        )


# --- the secrets rule ------------------------------------------------------------------------

#: Field names (lower case, ``-``/``_`` removed) refused outright.
_SECRET_NAMES = frozenset(
    {"pwd", "pass", "token", "auth", "jwt", "sid", "otp", "pin", "cvv", "cvc", "pan"}
)
#: Substrings of a field name (normalised likewise) that mark it a secret.
_SECRET_NAME_PARTS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "apikey",
    "authorization",
    "cookie",
    "sessionid",
    "sessionkey",
    "privatekey",
    "credential",
    "bearer",
)
_SECRET_VALUE = re.compile(
    r"(?P<bearer>\b(?i:bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,})"
    r"|(?P<jwt>\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*)"
    r"|(?P<param>[?&;](?i:pass(?:word|wd)?|pwd|secret|token|access_token|refresh_token|"
    r"id_token|api_?key|apikey|auth|session_?id|sid|jsessionid|phpsessid|signature|sig|"
    r"x-amz-signature|code|otp)=[^&;\s]+)"
    r"|(?P<apikey>\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|"
    r"glpat-[A-Za-z0-9_-]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|(?:AKIA|ASIA)[0-9A-Z]{16}|"
    r"[sr]k_live_[A-Za-z0-9]{16,}|AIza[0-9A-Za-z_-]{35}))"
    r"|(?P<pem>-----BEGIN [A-Z ]*PRIVATE KEY-----)"
)
_VALUE_REASONS = {
    "bearer": "looks like an Authorization header value (Bearer/Basic credentials)",
    "jwt": "looks like a JSON Web Token",
    "param": "carries a secret query or form parameter (password=, token=, ...)",
    "apikey": "looks like an API key or access token",
    "pem": "contains a private key",
}


def _normal(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


def secret_name_reason(name: str) -> str | None:
    """Why a field called ``name`` may not be logged, or ``None`` when it may."""
    key = _normal(name)
    if key in _SECRET_NAMES or key.endswith("token"):
        return "is named like a secret"
    for part in _SECRET_NAME_PARTS:
        if part in key:
            return "is named like a secret"
    return None


def secret_value_reason(value: object, _depth: int = 0) -> str | None:
    """Why ``value`` may not be logged (it looks like a secret), or ``None``.

    Strings are searched; lists, tuples and mappings are searched element by element (three
    levels deep), mapping keys with :func:`secret_name_reason`.
    """
    if isinstance(value, str):
        if len(value) < 8:
            return None
        match = _SECRET_VALUE.search(value)
        return _VALUE_REASONS[match.lastgroup or "param"] if match else None
    if _depth >= 3:
        return None
    if isinstance(value, Mapping):
        for key, item in value.items():
            reason = secret_name_reason(str(key))
            if reason is not None:
                return f"holds a member {key!r} that {reason}"
            reason = secret_value_reason(item, _depth + 1)
            if reason is not None:
                return reason
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            reason = secret_value_reason(item, _depth + 1)
            if reason is not None:
                return reason
    return None


def check_fields(fields: Mapping[str, object], allow: Iterable[str] = ()) -> None:
    """Raise :class:`SecretFieldError` for the first field that would leak a secret."""
    allowed = {_normal(name) for name in allow}
    for name, value in fields.items():
        if _normal(name) in allowed:
            continue
        reason = secret_name_reason(name)
        if reason is None:
            reason = secret_value_reason(value)
        if reason is not None:
            raise SecretFieldError(name, reason)


# --- building the record ---------------------------------------------------------------------


def request_fields(request: object) -> dict[str, str]:
    """``source_ip``, ``useragent``, ``request_uri``, ``request_method`` of a web request.

    Understands Flask/Werkzeug, Django and Starlette/FastAPI request objects, WSGI environ
    mappings and ASGI scopes, by duck typing (none of them is imported).  ``request_uri`` is the
    path only: query strings often carry tokens.  The client address is the peer address
    the server saw; a proxy's ``X-Forwarded-For`` is not trusted here -- pass
    ``source_ip=`` yourself when a trusted proxy sets it.
    """
    ip: object = None
    agent: object = None
    path: object = None
    method: object = None
    if isinstance(request, Mapping) and not hasattr(request, "method"):
        if request.get("type") in ("http", "websocket"):  # an ASGI scope
            client = request.get("client")
            ip = client[0] if isinstance(client, list | tuple) and client else None
            for name, value in request.get("headers") or ():
                if bytes(name).lower() == b"user-agent":
                    agent = bytes(value).decode("latin-1")
            path = request.get("path")
            method = request.get("method")
        else:
            ip, agent, path, method = _from_environ(request)
    else:
        meta = getattr(request, "META", None)  # Django
        if isinstance(meta, Mapping):
            ip, agent, path, method = _from_environ(meta)
        ip = getattr(request, "remote_addr", None) or ip  # Werkzeug / Flask
        client = getattr(request, "client", None)  # Starlette / FastAPI
        if ip is None and client is not None:
            ip = getattr(client, "host", None)
        headers = getattr(request, "headers", None)
        if agent is None and headers is not None and hasattr(headers, "get"):
            agent = headers.get("User-Agent") or headers.get("user-agent")
        url = getattr(request, "url", None)
        path = getattr(request, "path", None) or getattr(url, "path", None) or path
        method = getattr(request, "method", None) or method
    out: dict[str, str] = {}
    if ip:
        out["source_ip"] = str(ip)
    if agent:
        out["useragent"] = bound_text(str(agent), _USERAGENT_LIMIT)
    if path:
        out["request_uri"] = bound_text(str(path).split("?", 1)[0], _URI_LIMIT)
    if method:
        out["request_method"] = str(method).upper()
    return out


def _from_environ(environ: Mapping[str, Any]) -> tuple[object, object, object, object]:
    return (
        environ.get("REMOTE_ADDR"),
        environ.get("HTTP_USER_AGENT"),
        environ.get("PATH_INFO"),
        environ.get("REQUEST_METHOD"),
    )


def _describe(spec: EventSpec, args: tuple[object, ...]) -> str:
    if not args:
        return spec.summary
    named = ", ".join(f"{name}={value}" for name, value in zip(spec.args, args, strict=False))
    surplus = args[len(spec.args) :]
    if surplus:
        named += "," + ",".join(str(a) for a in surplus)
    return f"{spec.summary} ({named})"


def _iso(when: datetime, tz: tzinfo | None) -> str:
    local = when.astimezone(tz) if tz is not None else when.astimezone()
    return local.isoformat(timespec="milliseconds")


class SecurityLogger:
    """Emit OWASP Logging Vocabulary events through a :mod:`logging` logger.

    ``logger`` is a :class:`logging.Logger` or a logger name (default
    ``turbosec.security``); attach a handler with :class:`OwaspJsonFormatter` to it (see
    :func:`security_handler`).  ``appid`` and ``hostname`` go into every event (the
    formatter fills them when they are left ``None``).  ``allow_fields`` names fields that
    look like secrets by name but are not.  ``custom_events`` adds the application's own
    event names; any other name is refused.

    Every method validates before it writes: an unknown event name, too many arguments or
    a secret raise ``ValueError`` and nothing is logged.
    """

    def __init__(
        self,
        logger: logging.Logger | str = DEFAULT_LOGGER,
        *,
        appid: str | None = None,
        hostname: str | None = None,
        allow_fields: Iterable[str] = (),
        custom_events: Iterable[EventSpec] = (),
    ) -> None:
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger
        self.appid = appid
        self.hostname = hostname
        self.allow_fields = frozenset(allow_fields)
        self.custom_events: dict[str, EventSpec] = {spec.name: spec for spec in custom_events}

    # -- the generic entry point

    def spec(self, event: str) -> EventSpec:
        """The spec of ``event`` or a ``ValueError`` saying it is not in the vocabulary."""
        name, _ = split_event(event, self.custom_events)
        spec = lookup(name, self.custom_events)
        if spec is None:
            raise ValueError(
                f"{event!r} is not an OWASP Logging Vocabulary event name (e.g. "
                "authn_login_fail, authz_fail, input_validation_fail); see "
                "turbosec.events.VOCABULARY, or declare it with custom_events="
            )
        return spec

    def record(
        self,
        event: str,
        *args: object,
        level: Level | str | int | None = None,
        description: str | None = None,
        request: object | None = None,
        **fields: object,
    ) -> dict[str, Any]:
        """The validated record :meth:`emit` would write, without ``datetime`` (for tests).

        ``event`` may already carry its arguments (``"authn_login_fail:joe"``) when
        ``args`` is empty.
        """
        spec = self.spec(event)
        if not args and ":" in event:
            args = split_event(event, self.custom_events)[1]
        if len(args) > len(spec.args) and not spec.variadic:
            raise ValueError(
                f"{spec.name} takes at most {len(spec.args)} argument(s) "
                f"({spec.signature}), got {len(args)}"
            )
        values: dict[str, object] = {}
        if request is not None:
            values.update(request_fields(request))
        values.update(fields)
        check_fields(values, self.allow_fields)
        for index, arg in enumerate(args):
            reason = secret_value_reason(arg)
            if reason is not None:
                name = spec.args[min(index, len(spec.args) - 1)]
                raise SecretFieldError(f"{spec.name} argument {index + 1} ({name})", reason)
        if description is not None and secret_value_reason(description) is not None:
            raise SecretFieldError("description", str(secret_value_reason(description)))
        resolved = Level.parse(level) if level is not None else spec.level
        out: dict[str, Any] = {
            "appid": values.pop("appid", self.appid),
            "event": format_event(spec.name, args),
            "level": resolved.value,
            "description": description if description is not None else _describe(spec, args),
        }
        for name in _HTTP_FIELDS:
            out[name] = values.pop(name, None)
        out["hostname"] = values.pop("hostname", self.hostname)
        out.update(values)
        return out

    def emit(
        self,
        event: str,
        *args: object,
        level: Level | str | int | None = None,
        description: str | None = None,
        request: object | None = None,
        **fields: object,
    ) -> None:
        """Log ``event`` with its vocabulary ``args`` and any extra ``fields``.

        ``level`` defaults to the vocabulary's level for the event.  ``request`` (a Flask,
        Django, Starlette request or a WSGI environ) fills ``source_ip``, ``useragent``,
        ``request_uri`` and ``request_method``; explicit fields win.
        """
        data = self.record(
            event, *args, level=level, description=description, request=request, **fields
        )
        levelno = Level(data["level"]).levelno
        if self.logger.isEnabledFor(levelno):
            self.logger.log(levelno, data["description"], extra={"owasp": data}, stacklevel=2)

    # -- authentication

    def login_success(self, user: str, **fields: Any) -> None:
        self.emit("authn_login_success", user, **fields)

    def login_success_after_fail(self, user: str, retries: int, **fields: Any) -> None:
        self.emit("authn_login_successafterfail", user, retries, **fields)

    def login_fail(self, user: str, **fields: Any) -> None:
        self.emit("authn_login_fail", user, **fields)

    def login_fail_max(self, user: str, max_limit: int, **fields: Any) -> None:
        self.emit("authn_login_fail_max", user, max_limit, **fields)

    def login_lock(self, user: str, reason: str = "maxretries", **fields: Any) -> None:
        self.emit("authn_login_lock", user, reason, **fields)

    def password_change(self, user: str, **fields: Any) -> None:
        self.emit("authn_password_change", user, **fields)

    def password_change_fail(self, user: str, **fields: Any) -> None:
        self.emit("authn_password_change_fail", user, **fields)

    def token_created(self, user: str, *entitlements: str, **fields: Any) -> None:
        self.emit("authn_token_created", user, *entitlements, **fields)

    def token_revoked(self, user: str, token_id: str, **fields: Any) -> None:
        self.emit("authn_token_revoked", user, token_id, **fields)

    def token_reuse(self, user: str, token_id: str, **fields: Any) -> None:
        self.emit("authn_token_reuse", user, token_id, **fields)

    # -- authorisation

    def authz_fail(self, user: str, resource: str, **fields: Any) -> None:
        self.emit("authz_fail", user, resource, **fields)

    def authz_change(self, user: str, old: str, new: str, **fields: Any) -> None:
        self.emit("authz_change", user, old, new, **fields)

    def authz_admin(self, user: str, action: str, **fields: Any) -> None:
        self.emit("authz_admin", user, action, **fields)

    # -- excessive use, input, malicious behaviour

    def rate_limit_exceeded(self, user: str, limit: int, **fields: Any) -> None:
        self.emit("excess_rate_limit_exceeded", user, limit, **fields)

    def input_validation_fail(self, field: str | Iterable[str], user: str, **fields: Any) -> None:
        """``field`` is one field name or several (written ``(zip,date_of_birth)``)."""
        names = [field] if isinstance(field, str) else list(field)
        text = names[0] if len(names) == 1 else "(" + ",".join(names) + ")"
        self.emit("input_validation_fail", text, user, **fields)

    def malicious_excess_404(self, user_or_ip: str, useragent: str, **fields: Any) -> None:
        self.emit("malicious_excess_404", user_or_ip, useragent, **fields)

    def malicious_extraneous(
        self, user_or_ip: str, input_name: str, useragent: str, **fields: Any
    ) -> None:
        self.emit("malicious_extraneous", user_or_ip, input_name, useragent, **fields)

    def malicious_attack_tool(
        self, user_or_ip: str, tool: str, useragent: str, **fields: Any
    ) -> None:
        self.emit("malicious_attack_tool", user_or_ip, tool, useragent, **fields)

    def malicious_direct_reference(self, user_or_ip: str, useragent: str, **fields: Any) -> None:
        self.emit("malicious_direct_reference", user_or_ip, useragent, **fields)

    def sequence_fail(self, user: str, **fields: Any) -> None:
        self.emit("sequence_fail", user, **fields)

    # -- sessions

    def session_created(self, user: str, **fields: Any) -> None:
        self.emit("session_created", user, **fields)

    def session_renewed(self, user: str, **fields: Any) -> None:
        self.emit("session_renewed", user, **fields)

    def session_expired(self, user: str, reason: str, **fields: Any) -> None:
        self.emit("session_expired", user, reason, **fields)

    def session_logout(self, user: str, **fields: Any) -> None:
        self.emit("session_logout", user, **fields)

    def session_use_after_expire(self, user: str, **fields: Any) -> None:
        self.emit("session_use_after_expire", user, **fields)

    # -- user management

    def user_created(self, user: str, new_user: str, *attributes: str, **fields: Any) -> None:
        self.emit("user_created", user, new_user, *attributes, **fields)

    def user_updated(self, user: str, on_user: str, *attributes: str, **fields: Any) -> None:
        self.emit("user_updated", user, on_user, *attributes, **fields)

    def user_archived(self, user: str, on_user: str, **fields: Any) -> None:
        self.emit("user_archived", user, on_user, **fields)

    def user_deleted(self, user: str, on_user: str, **fields: Any) -> None:
        self.emit("user_deleted", user, on_user, **fields)

    # -- system

    def sys_startup(self, user: str, **fields: Any) -> None:
        self.emit("sys_startup", user, **fields)

    def sys_shutdown(self, user: str, **fields: Any) -> None:
        self.emit("sys_shutdown", user, **fields)

    def sys_crash(self, reason: str, **fields: Any) -> None:
        self.emit("sys_crash", reason, **fields)


class OwaspJsonFormatter(logging.Formatter):
    """One JSON object per line in the OWASP Logging Vocabulary's format.

    Records written by :class:`SecurityLogger` carry their event; the formatter adds
    ``datetime`` (ISO 8601 with the UTC offset, milliseconds; in ``tz``, UTC by default,
    ``None`` for the machine's local zone) and fills ``appid``/``hostname`` when the event
    left them empty.  Any other record (a plain ``logger.warning(...)`` reaching the same
    handler) is written in the same shape with ``"event": null`` -- or with its event when
    it was logged with ``extra={"event": "authn_login_fail:joe", ...}``; fields of such a
    record that break the secrets rule are dropped and listed under ``refused_fields``
    (a formatter must not raise).
    """

    def __init__(
        self,
        *,
        appid: str | None = None,
        hostname: str | None = None,
        tz: tzinfo | None = UTC,
        allow_fields: Iterable[str] = (),
    ) -> None:
        super().__init__()
        self.appid = appid
        self.hostname = hostname if hostname is not None else socket.gethostname()
        self.tz = tz
        self.allow_fields = frozenset(allow_fields)

    def format(self, record: logging.LogRecord) -> str:
        data = getattr(record, "owasp", None)
        if not isinstance(data, dict):
            data = self._plain(record)
        when = datetime.fromtimestamp(record.created, UTC)
        out: dict[str, Any] = {"datetime": _iso(when, self.tz)}
        out["appid"] = data.get("appid") or self.appid
        for name in CORE_FIELDS[2:-1]:
            out[name] = data.get(name)
        out["hostname"] = data.get("hostname") or self.hostname
        for name, value in data.items():
            if name not in out:
                out[name] = value
        return orjson.dumps(out, default=str).decode()

    def _plain(self, record: logging.LogRecord) -> dict[str, Any]:
        event = getattr(record, "event", None)
        data: dict[str, Any] = {
            "event": str(event) if event is not None else None,
            "level": Level.parse(record.levelno).value,
            "description": record.getMessage(),
            "logger": record.name,
        }
        refused: list[str] = []
        for name in ("appid", "hostname", *_HTTP_FIELDS, "user", "status"):
            value = getattr(record, name, None)
            if value is None:
                continue
            if _normal(name) not in self.allow_fields and secret_value_reason(value):
                refused.append(name)
                continue
            data[name] = value
        if secret_value_reason(data["description"]):
            data["description"] = "[REFUSED: the message looked like it carried a secret]"
            refused.append("description")
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        if refused:
            data["refused_fields"] = refused
        return data


def security_handler(
    stream: TextIO | None = None,
    *,
    appid: str | None = None,
    hostname: str | None = None,
    tz: tzinfo | None = UTC,
) -> logging.Handler:
    """A stream handler (stderr by default) writing :class:`OwaspJsonFormatter` lines."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(OwaspJsonFormatter(appid=appid, hostname=hostname, tz=tz))
    return handler


# --- structlog -------------------------------------------------------------------------------

_STRUCTLOG_META = ("timestamp", "level", "logger", "logger_name")


class OwaspProcessor:
    """A structlog processor turning ``event=<vocabulary name>`` entries into OWASP records.

    ``log.warning("authn_login_fail", user="joe", source_ip="203.0.113.9")`` (or
    ``log.warning("authn_login_fail:joe", ...)``) becomes the dict :class:`OwaspJsonFormatter`
    would write; the arguments come from the event string, an ``args`` list, or keywords
    named after the vocabulary's arguments (``userid``, ``resource``...; ``user`` for
    ``userid``).  The level is structlog's method name unless the entry carries ``level``.
    Entries whose event is not a vocabulary name pass through untouched, so one chain
    serves ordinary and security logging.  Secrets raise :class:`SecretFieldError`.
    """

    def __init__(
        self,
        *,
        appid: str | None = None,
        hostname: str | None = None,
        tz: tzinfo | None = UTC,
        allow_fields: Iterable[str] = (),
        custom_events: Iterable[EventSpec] = (),
    ) -> None:
        self._logger = SecurityLogger(
            logging.getLogger(DEFAULT_LOGGER),
            appid=appid,
            hostname=hostname if hostname is not None else socket.gethostname(),
            allow_fields=allow_fields,
            custom_events=custom_events,
        )
        self.tz = tz

    def __call__(
        self, logger: object, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        event = event_dict.get("event")
        if not isinstance(event, str):
            return event_dict
        name, args = split_event(event, self._logger.custom_events)
        spec = lookup(name, self._logger.custom_events)
        if spec is None:
            return event_dict
        fields = dict(event_dict)
        del fields["event"]
        private = {k: fields.pop(k) for k in list(fields) if k.startswith("_")}
        stamp = fields.pop("timestamp", None)
        level = fields.pop("level", None) or method_name
        for meta in _STRUCTLOG_META:
            fields.pop(meta, None)
        listed = fields.pop("args", None)
        if not args and isinstance(listed, list | tuple):
            args = tuple(str(a) for a in listed)
        if not args:
            args = self._args_from_keywords(spec, fields)
        try:
            resolved: Level | None = Level.parse(level)
        except ValueError:
            resolved = None
        description = fields.pop("description", None)
        data = self._logger.record(
            spec.name,
            *args,
            level=resolved,
            description=None if description is None else str(description),
            **fields,
        )
        when = datetime.now(UTC)
        if isinstance(stamp, str):
            with contextlib.suppress(ValueError):
                when = datetime.fromisoformat(stamp)
        elif isinstance(stamp, int | float):
            when = datetime.fromtimestamp(stamp, UTC)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        out: dict[str, Any] = {"datetime": _iso(when, self.tz), **data}
        out.update(private)
        return out

    @staticmethod
    def _args_from_keywords(spec: EventSpec, fields: dict[str, Any]) -> tuple[str, ...]:
        found: list[str] = []
        for index, arg in enumerate(spec.args):
            keys = arg.split("|")
            if arg.startswith("userid"):
                keys = [*keys, "user", "user_id"]
            value = None
            for key in keys:
                if key in fields:
                    value = fields.pop(key)
                    break
            if value is None:
                if index == spec.user_arg and spec.user_or_ip and "source_ip" in fields:
                    value = fields["source_ip"]
                else:
                    break
            found.append(str(value))
        return tuple(found)


#: A ready :class:`OwaspProcessor` with default settings.
owasp_processor = OwaspProcessor()


def structlog_processors(
    *,
    appid: str | None = None,
    hostname: str | None = None,
    allow_fields: Iterable[str] = (),
) -> list[Any]:
    """A structlog processor chain that renders vocabulary events as OWASP JSON lines.

    ``structlog.configure(processors=structlog_processors(appid="shop"))``.  Imports
    structlog here, on use: the rest of this module works without it.
    """
    try:
        import structlog
    except ImportError as exc:  # pragma: no cover - exercised by monkeypatching in tests
        raise ImportError(
            "structlog_processors() needs structlog (pip install structlog); "
            "SecurityLogger and OwaspJsonFormatter work with the standard logging module "
            "without it"
        ) from exc

    def _dumps(data: Any, **_: Any) -> str:
        return orjson.dumps(data, default=str).decode()

    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        OwaspProcessor(appid=appid, hostname=hostname, allow_fields=allow_fields),
        structlog.processors.JSONRenderer(serializer=_dumps),
    ]


__all__ = [
    "CORE_FIELDS",
    "DEFAULT_LOGGER",
    "OwaspJsonFormatter",
    "OwaspProcessor",
    "SecretFieldError",
    "SecurityLogger",
    "check_fields",
    "owasp_processor",
    "request_fields",
    "secret_name_reason",
    "secret_value_reason",
    "security_handler",
    "structlog_processors",
]
