"""The sink seam: where ``turbosec watch`` delivers its alerts.

A :class:`Sink` takes alerts one at a time (:meth:`Sink.emit`), makes them durable on
:meth:`Sink.flush` and releases what it holds on :meth:`Sink.close`.  ``emit`` is called
from the detection loop, so no sink may wait on the network there: the webhook sinks write
the alert to an on-disk spool and deliver it from a background thread.

:func:`make_sink` builds a sink from the ``--sink`` spelling:

``stdout``          one human-readable line per alert
``json``            one JSON object per line on stdout
``file:PATH``       JSON lines appended to ``PATH`` (skips alerts already in the file)
``webhook:URL``     JSON POST of each alert, retried, spooled while the receiver is down
``slack:URL``       the same delivery with a Slack incoming-webhook payload
``hub:URL#PROJECT`` alerts to a findings hub project (token from TURBOSEC_HUB_TOKEN),
                    spooled and retried like webhook:, sent in batches

Responses (running a command, a blocklist file) are configured separately, see
:mod:`turbosec.watch.response`.
"""

from __future__ import annotations

import hashlib
import os
import sys
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TextIO, runtime_checkable

from turbosec.core.errors import TurbosecError
from turbosec.core.event import Alert


class SinkError(TurbosecError):
    """A sink cannot be built or used (bad spec, bad URL, spool in use...)."""


@runtime_checkable
class Sink(Protocol):
    """Somewhere alerts go."""

    name: str

    def emit(self, alert: Alert) -> None:
        """Take one alert; must return quickly (no network waits)."""

    def flush(self) -> None:
        """Make what was emitted durable (written, synced, or spooled on disk)."""

    def close(self) -> None:
        """Flush and release files, threads and connections."""


@dataclass(frozen=True)
class SinkOptions:
    """Settings shared by the sinks; each uses the ones that concern it.

    ``stream`` is where ``stdout``/``json`` write (default ``sys.stdout``).  ``state_dir``
    holds the webhook spools (one folder per URL); ``spool_dir`` forces one folder.
    ``timeout`` bounds each HTTP request; back-off starts at ``backoff_initial`` seconds and
    doubles up to ``backoff_max``; a receiver's ``Retry-After`` is honoured up to
    ``retry_after_max``.  The spool keeps at most ``spool_max_files`` alerts and
    ``spool_max_bytes`` bytes: beyond, the oldest are dropped (counted, warned).
    ``close_timeout`` is how long :meth:`Sink.close` keeps delivering spooled alerts to a
    receiver that answers; what is left stays in the spool for the next run.  ``headers``
    are sent with every webhook request (e.g. ``Authorization``).
    """

    stream: TextIO | None = None
    state_dir: Path | None = None
    spool_dir: Path | None = None
    timeout: float = 5.0
    backoff_initial: float = 0.5
    backoff_max: float = 60.0
    retry_after_max: float = 600.0
    spool_max_files: int = 10_000
    spool_max_bytes: int = 64 * 1024 * 1024
    close_timeout: float = 5.0
    headers: Mapping[str, str] = field(default_factory=dict)
    dedupe_tail_bytes: int = 4 * 1024 * 1024


def default_state_dir() -> Path:
    """``$XDG_STATE_HOME/turbosec/watch`` (``~/.local/state/turbosec/watch``)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "turbosec" / "watch"


def spool_dir_for(kind: str, url: str, options: SinkOptions) -> Path:
    """The spool folder of one webhook: named by kind and a digest of the URL."""
    if options.spool_dir is not None:
        return options.spool_dir
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    return (options.state_dir or default_state_dir()) / "spool" / f"{kind}-{digest}"


def redact_url(url: str) -> str:
    """A URL safe to print: scheme, host and port only.

    Webhook URLs carry their secret in the user info, the path (Slack's
    ``/services/T…/B…/secret``) or the query (``?token=``), so none of those is shown.
    """
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or "?"
        port = parts.port
    except ValueError:
        return "<unparsable URL>"
    if ":" in host:
        host = f"[{host}]"
    shown = f"{parts.scheme}://{host}" + (f":{port}" if port else "")
    if (parts.path and parts.path != "/") or parts.query:
        shown += "/…"
    return shown


def check_url(url: str, *, kind: str) -> urllib.parse.SplitResult:
    """Parse and check a webhook URL: http or https, with a host."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise SinkError(
            "the URL cannot be parsed",
            where=f"{kind} sink {redact_url(url)}",
            hint="give a full URL such as https://hooks.example.com/alerts",
        ) from None
    if parts.scheme not in ("http", "https"):
        raise SinkError(
            f"only http and https URLs are accepted, not {parts.scheme or 'a bare path'!r}",
            where=f"{kind} sink {redact_url(url)}",
            hint="give a full URL such as https://hooks.example.com/alerts",
        )
    if not parts.hostname:
        raise SinkError(
            "the URL has no host",
            where=f"{kind} sink {redact_url(url)}",
            hint="give a full URL such as https://hooks.example.com/alerts",
        )
    return parts


def make_sink(spec: str, *, options: SinkOptions | None = None) -> Sink:
    """Build the sink ``spec`` names (see the module documentation for the spellings)."""
    opts = options or SinkOptions()
    kind, sep, rest = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "stdout" and not sep:
        from turbosec.watch.sinks.stdout import HumanSink

        return HumanSink(opts.stream or sys.stdout)
    if kind == "json" and not sep:
        from turbosec.watch.sinks.stdout import JsonSink

        return JsonSink(opts.stream or sys.stdout)
    if kind == "file" and rest:
        from turbosec.watch.sinks.jsonl import JsonlFileSink

        return JsonlFileSink(Path(rest), tail_bytes=opts.dedupe_tail_bytes)
    if kind == "webhook" and rest:
        from turbosec.watch.sinks.webhook import WebhookSink

        return WebhookSink(rest, options=opts)
    if kind == "slack" and rest:
        from turbosec.watch.sinks.slack import SlackSink

        return SlackSink(rest, options=opts)
    if kind == "hub":
        from turbosec.watch.sinks.hub import sink_from_spec

        return sink_from_spec(rest, options=opts)
    shown = kind if kind in ("webhook", "slack", "hub") else spec[:80]
    raise SinkError(
        f"unknown sink {shown!r}",
        where="--sink",
        hint="use stdout, json, file:PATH, webhook:URL, slack:URL or hub:URL#PROJECT",
    )


__all__ = [
    "Sink",
    "SinkError",
    "SinkOptions",
    "check_url",
    "default_state_dir",
    "make_sink",
    "redact_url",
    "spool_dir_for",
]
