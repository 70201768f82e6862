"""Rendering the hub's pages: the Jinja2 environment, its filters, headers and flash messages.

Page modules call :func:`render` (a template, its context, the signed-in user) and
:func:`redirect_after_post`; everything else a page needs is added here, once:

* context: ``request``, ``user`` (a :class:`~turbosec.hub.web.session.WebUser` or None),
  ``csrf_token``, ``flashes`` (list of ``(kind, text)``), ``htmx`` (an htmx request),
  ``fragment`` (render only the ``content`` block: htmx swaps it into ``#main``),
  ``hx_headers`` (the JSON ``base.html`` puts on ``<body hx-headers=...>``), ``path``;
* filters: ``severity_badge``, ``severity_label``, ``status_label``, ``ago``, ``date``,
  ``datetime``, ``number`` (thousands separators), ``days`` (``3.2 days``), ``actor``
  (``user:alice`` → ``alice``, ``token:ci`` → ``token ci``);
* globals: ``static(name)`` (a versioned ``/static/`` URL), ``SEVERITIES``, ``version``;
* headers: the Content-Security-Policy (no inline script or style anywhere: templates use
  classes, htmx is configured through a ``<meta>``), ``X-Frame-Options: DENY``,
  ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin`` and
  ``Cache-Control: no-store`` (pages show findings and, once, new secrets).

Flash messages (a one-shot notice after a POST/redirect/GET) travel in the cookie
``turbosec_flash``: a list of ``[kind, text]`` as base64url JSON, HttpOnly, read and
deleted by the next :func:`render`.  Not in the URL, so no text ends up in logs or
history.  It is not signed: it is only ever displayed (escaped), never trusted.  Secrets
(a new token, a generated password) never go through it: the page that creates them
renders them directly.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal

import orjson
from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from turbosec import __version__
from turbosec.core.severity import Severity
from turbosec.hub.models import Status, utcnow
from turbosec.hub.web.session import CSRF_HEADER, WebUser

TEMPLATES_DIR: Final = Path(__file__).parent / "templates"
STATIC_DIR: Final = Path(__file__).parent / "static"
FLASH_COOKIE: Final = "turbosec_flash"
_MAX_FLASH_BYTES: Final = 2000

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS: Final[Mapping[str, str]] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

FlashKind = Literal["ok", "error"]

# Most severe first, as every table lists them.
SEVERITIES: Final[tuple[Severity, ...]] = tuple(sorted(Severity, reverse=True))
_STATUS_LABELS: Final = {
    Status.OPEN.value: "Open",
    Status.FIXED.value: "Fixed",
    Status.REOPENED.value: "Reopened",
    Status.ACCEPTED.value: "Accepted",
    Status.FALSE_POSITIVE.value: "False positive",
}


# -- filters ------------------------------------------------------------------------------


def _severity(value: object) -> Severity | None:
    if isinstance(value, Severity):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        try:
            return Severity(value)
        except ValueError:
            return None
    if isinstance(value, str):
        try:
            return Severity.parse(value)
        except ValueError:
            return None
    return None


def severity_label(value: object) -> str:
    """``"Critical"`` for 4, ``"critical"`` or ``Severity.CRITICAL``."""
    severity = _severity(value)
    return severity.label.capitalize() if severity is not None else str(value)


def severity_badge(value: object) -> Markup:
    """A coloured badge with the severity's name (the name, not only a colour, for a11y)."""
    severity = _severity(value)
    if severity is None:
        return Markup('<span class="badge">{}</span>').format(value)
    return Markup('<span class="badge sev-{}">{}</span>').format(
        severity.label, severity.label.capitalize()
    )


def status_label(value: object) -> str:
    """``"False positive"`` for ``false_positive`` (a Status or its value)."""
    key = value.value if isinstance(value, Status) else str(value)
    return _STATUS_LABELS.get(key, key.replace("_", " ").capitalize())


def actor(value: str | None) -> str:
    """How the audit trail's actor reads: ``alice`` (user), ``token ci``, ``scan 12``."""
    if not value:
        return "—"
    kind, sep, name = value.partition(":")
    if not sep:
        return value
    if kind == "user":
        return name
    return f"{kind} {name}"


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def ago(value: dt.datetime | dt.date | None, now: dt.datetime | None = None) -> str:
    """``"3 days ago"``, ``"in 2 hours"``, ``"just now"``; ``"never"`` for None."""
    if value is None:
        return "never"
    now = now or utcnow()
    if isinstance(value, dt.datetime):
        seconds = (now - _aware(value)).total_seconds()
    else:
        days = (now.astimezone(dt.UTC).date() - value).days
        if days == 0:
            return "today"
        return _span(abs(days) * 86400, future=days < 0)
    if abs(seconds) < 45:
        return "just now"
    return _span(abs(seconds), future=seconds < 0)


def _span(seconds: float, *, future: bool) -> str:
    for unit, size in (("year", 365 * 86400), ("month", 30 * 86400), ("day", 86400)):
        if seconds >= size:
            return _phrase(int(seconds // size), unit, future)
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size:
            return _phrase(int(seconds // size), unit, future)
    return _phrase(max(1, int(seconds)), "second", future)


def _phrase(count: int, unit: str, future: bool) -> str:
    text = f"{count} {unit}{'' if count == 1 else 's'}"
    return f"in {text}" if future else f"{text} ago"


def format_date(value: dt.datetime | dt.date | None) -> str:
    """ISO date (``2024-06-15``, UTC for datetimes): unambiguous in every locale."""
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        return _aware(value).astimezone(dt.UTC).date().isoformat()
    return value.isoformat()


def format_datetime(value: dt.datetime | None) -> str:
    """``2024-06-15 12:00 UTC``."""
    if value is None:
        return "—"
    return _aware(value).astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def number(value: int | float | None) -> str:
    """``12,345``; ``—`` for None."""
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def days(value: float | None) -> str:
    """A duration in days, rounded for reading: ``0.4 days``, ``3.2 days``, ``41 days``."""
    if value is None:
        return "—"
    if value < 10:
        text = f"{value:.1f}"
        return f"{text} day" if text == "1.0" else f"{text} days"
    rounded = round(value)
    return f"{rounded:,} days"


def static_url(name: str) -> str:
    """``/static/<name>?v=<version>``: a new release is fetched anew by browsers."""
    return f"/static/{name}?v={__version__}"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(
        severity_badge=severity_badge,
        severity_label=severity_label,
        status_label=status_label,
        ago=ago,
        date=format_date,
        datetime=format_datetime,
        number=number,
        days=days,
        actor=actor,
    )
    env.globals.update(static=static_url, SEVERITIES=SEVERITIES, version=__version__)
    return env


templates: Final = _environment()


# -- flash messages -----------------------------------------------------------------------


def _read_flashes(request: Request) -> list[tuple[str, str]]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw or len(raw) > _MAX_FLASH_BYTES * 2:
        return []
    try:
        value = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError):
        return []
    out: list[tuple[str, str]] = []
    if isinstance(value, list):
        for item in value[:5]:
            if (
                isinstance(item, list)
                and len(item) == 2
                and item[0] in ("ok", "error")
                and isinstance(item[1], str)
            ):
                out.append((item[0], item[1][:500]))
    return out


def flash(
    response: Response, text: str, kind: FlashKind = "ok", request: Request | None = None
) -> None:
    """Show ``text`` once, on the next page rendered (the page a redirect leads to).

    Several calls on one response keep only the last; pass ``request`` to keep messages
    that were not shown yet.
    """
    messages = _read_flashes(request) if request is not None else []
    messages.append((kind, text[:500]))
    data = orjson.dumps([list(m) for m in messages[-5:]])
    value = base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")
    secure = request is not None and request.url.scheme == "https"
    response.set_cookie(
        FLASH_COOKIE, value, max_age=60, path="/", httponly=True, samesite="lax", secure=secure
    )


# -- responses ----------------------------------------------------------------------------


def is_htmx(request: Request) -> bool:
    """An htmx request (``HX-Request: true``); history restores count as full pages."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def apply_security_headers(response: Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    response.headers["Cache-Control"] = "no-store"


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any],
    *,
    user: WebUser | None,
    status: int = 200,
    fragment: bool = False,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render template ``name`` as a page (``fragment``: only its ``content`` block)."""
    flashes = _read_flashes(request)
    csrf = user.csrf_token if user is not None else ""
    full: dict[str, Any] = {
        "request": request,
        "user": user,
        "csrf_token": csrf,
        "flashes": flashes,
        "htmx": is_htmx(request),
        "fragment": fragment,
        "path": request.url.path,
        "hx_headers": orjson.dumps({CSRF_HEADER: csrf}).decode("ascii") if csrf else "",
        "now": utcnow(),
    }
    full.update(context)
    html = templates.get_template(name).render(full)
    response = HTMLResponse(html, status_code=status, headers=dict(headers or {}))
    apply_security_headers(response)
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(FLASH_COOKIE, path="/", httponly=True, samesite="lax")
    return response


def redirect_after_post(url: str) -> RedirectResponse:
    """``303 See Other`` to ``url`` (a path of this site): POST/redirect/GET."""
    if not url.startswith("/") or url.startswith("//"):
        raise ValueError(f"redirect_after_post takes a path of this site, not {url!r}")
    response = RedirectResponse(url, status_code=303)
    apply_security_headers(response)
    return response
