"""Alerts sent to the findings hub (``turbosec hub serve``), never lost while it is down.

``hub:URL#PROJECT`` POSTs alerts to ``URL/api/v1/projects/PROJECT/alerts`` as a JSON
array of :meth:`Alert.to_dict` records (up to :data:`BATCH_SIZE` per request: what waited in
the spool goes out together), with ``Authorization: Bearer <token>``.  The
token is read from ``TURBOSEC_HUB_TOKEN`` (a project token with the ``upload`` scope, as for
``turbosec push``) and never shown.  ``URL`` and ``PROJECT`` default to ``TURBOSEC_HUB_URL``
and ``TURBOSEC_HUB_PROJECT``: ``hub:`` alone uses both.

Delivery is the webhook sink's (:mod:`.webhook`): an on-disk spool written before
:meth:`emit` returns, one background sender in the order alerts were raised, retries with
back-off and jitter on connection errors, timeouts, 5xx, 408, 425 and 429, a bounded spool.
Any other 4xx is final -- a hub that refuses a request (422: not a valid alert; 401: a wrong
or revoked token; 404: no such project) will refuse it again.  The hub refuses a request
whole, so a refused batch of several alerts is sent again one alert per request; an alert
refused on its own is dropped, counted in ``stats.rejected`` and logged with the hub's
status.

The hub stores an alert once per project and ``alert_id``, so an alert sent twice (its
answer was lost, the watcher restarted) is not duplicated there.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
import re
import urllib.parse
from typing import Any

from turbosec.core.event import Alert
from turbosec.watch.sinks.base import SinkError, SinkOptions, check_url, redact_url
from turbosec.watch.sinks.webhook import WebhookSink

logger = logging.getLogger("turbosec.watch.sinks")

ENV_URL = "TURBOSEC_HUB_URL"
ENV_PROJECT = "TURBOSEC_HUB_PROJECT"
ENV_TOKEN = "TURBOSEC_HUB_TOKEN"  # noqa: S105 - the variable's name, not a token
#: Most alerts sent in one request (the hub takes up to 1,000).
BATCH_SIZE = 100
#: A hub project slug (as the hub accepts it).
PROJECT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
_HINT = (
    "write hub:https://hub.example.com#PROJECT (or set TURBOSEC_HUB_URL and TURBOSEC_HUB_PROJECT)"
)


def alerts_url(hub_url: str, project: str) -> str:
    """The hub's alerts endpoint of ``project``."""
    base = hub_url.rstrip("/")
    return f"{base}/api/v1/projects/{urllib.parse.quote(project, safe='')}/alerts"


class HubSink(WebhookSink):
    """Each alert to the hub's ``POST /api/v1/projects/{project}/alerts``; see the module docs."""

    name = "hub"
    kind = "hub"
    batch_size = BATCH_SIZE

    def __init__(
        self,
        hub_url: str,
        project: str,
        *,
        token: str | None = None,
        options: SinkOptions | None = None,
    ) -> None:
        opts = options or SinkOptions()
        where = f"hub sink {redact_url(hub_url)}"
        parts = check_url(hub_url, kind=self.kind)
        if parts.username is not None or parts.password is not None:
            raise SinkError(
                "the hub URL carries a user name or password",
                where=where,
                hint=f"remove them: the hub takes a token from {ENV_TOKEN}",
            )
        if parts.query or parts.fragment:
            raise SinkError("the hub URL has a query or fragment", where=where, hint=_HINT)
        if not PROJECT_PATTERN.match(project):
            raise SinkError(
                f"{project[:100]!r} is not a hub project name",
                where=where,
                hint="a project slug: lowercase letters, digits, '.', '_' or '-'",
            )
        value = token if token is not None else os.environ.get(ENV_TOKEN, "")
        value = value.strip()
        if not value:
            raise SinkError(
                f"no hub token: {ENV_TOKEN} is not set",
                where=where,
                hint="create one with 'turbosec hub token create --project "
                f"{project} --scope upload' and put it in {ENV_TOKEN}",
            )
        if any(ord(c) < 0x21 or ord(c) > 0x7E for c in value):
            raise SinkError(
                f"the token in {ENV_TOKEN} holds spaces or control characters",
                where=where,
                hint="set the token exactly as 'turbosec hub token create' printed it",
            )
        self.project = project
        headers = {**opts.headers, "Authorization": f"Bearer {value}"}
        super().__init__(
            alerts_url(hub_url, project), options=dataclasses.replace(opts, headers=headers)
        )
        self._secrets.append(value)
        self.display = f"{redact_url(hub_url)} project {project}"

    def payload(self, alert: Alert) -> Any:
        """One alert as a batch of one; :meth:`_deliver_all` joins spooled batches."""
        return [alert.to_dict()]

    def _headers_for(self, alert_id: str) -> dict[str, str]:
        """No per-alert idempotency headers: a request holds a batch (the hub recognises
        each alert by its id)."""
        return dict(self._headers)

    # --- the delivery thread: the webhook sink's loop, with batches ---------------------

    def _deliver_all(self) -> None:
        """Deliver the spool oldest first, up to :data:`BATCH_SIZE` alerts per request.

        Retries, back-off and order are the webhook sink's.  The hub refuses a request
        whole, so when it refuses a batch of several alerts, they are sent again one by one:
        only the alert it refuses alone is dropped.
        """
        attempt = 0
        alone_until = 0  # sequence numbers up to this one go one per request
        while True:
            with self._cond:
                while not self._stop.is_set() and self.spool.head() is None:
                    self._cond.wait()
                if self._stop.is_set():
                    return
                head = self.spool.head()
                assert head is not None
                size = 1 if head.seq <= alone_until else self.batch_size
                entries = list(itertools.islice(self.spool.entries, size))
                self._inflight = head.seq
                bodies = [(entry, self.spool.read(entry)) for entry in entries]
            present = [(entry, body) for entry, body in bodies if body is not None]
            for entry, body in bodies:
                if body is None:
                    with self._cond:
                        self.spool.remove(entry)
            if not present:
                with self._cond:
                    self._inflight = None
                continue
            joined = _join([body for _entry, body in present])
            result = self._post(joined, present[0][0].alert_id)
            with self._cond:
                self._inflight = None
                if result.final and len(present) > 1:
                    alone_until = present[-1][0].seq
                    attempt = 0
                    continue
                if result.ok or result.final:
                    for entry, _body in present:
                        self.spool.remove(entry)
                    self.stats.spooled = len(self.spool)
                    if result.ok:
                        self.stats.delivered += len(present)
                        if self._failing:
                            logger.warning(
                                "%s %s: the hub answers again; delivering %d spooled alerts",
                                self.kind,
                                self.display,
                                len(self.spool),
                            )
                    else:
                        self.stats.rejected += 1
                        self.stats.last_error = result.reason
                        logger.warning(
                            "%s %s: alert %s dropped: %s",
                            self.kind,
                            self.display,
                            present[0][0].alert_id,
                            result.reason,
                        )
                    self._failing = False
                    attempt = 0
                    self._cond.notify_all()
                    continue
                attempt += 1
                self.stats.retries += 1
                self.stats.last_error = result.reason
                self.stats.last_retry_after = result.retry_after
                if not self._failing:
                    logger.warning(
                        "%s %s: delivery failed (%s); alerts are kept in %s and retried",
                        self.kind,
                        self.display,
                        result.reason,
                        self.spool.directory,
                    )
                self._failing = True
                self._cond.notify_all()
            self._stop.wait(self._delay(attempt, result.retry_after))


def _join(bodies: list[bytes]) -> bytes:
    """JSON arrays (one per spooled alert) as one array."""
    if len(bodies) == 1:
        return bodies[0]
    items = [body.strip()[1:-1].strip() for body in bodies]
    return b"[" + b",".join(item for item in items if item) + b"]"


def parse_spec(rest: str, env: dict[str, str] | None = None) -> tuple[str, str]:
    """``URL#PROJECT`` (after ``hub:``) as (URL, PROJECT), with the environment's defaults."""
    environ = os.environ if env is None else env
    url, _sep, project = rest.strip().partition("#")
    url = url or environ.get(ENV_URL, "")
    project = project or environ.get(ENV_PROJECT, "")
    if not url:
        raise SinkError(f"no hub URL (and {ENV_URL} is not set)", where="--sink hub:", hint=_HINT)
    if not project:
        raise SinkError(
            f"no hub project (and {ENV_PROJECT} is not set)",
            where=f"--sink hub:{redact_url(url)}",
            hint=_HINT,
        )
    return url, project


def sink_from_spec(rest: str, *, options: SinkOptions | None = None) -> HubSink:
    """The sink ``--sink hub:REST`` names."""
    url, project = parse_spec(rest)
    return HubSink(url, project, options=options)


__all__ = [
    "ENV_PROJECT",
    "ENV_TOKEN",
    "ENV_URL",
    "HubSink",
    "alerts_url",
    "parse_spec",
    "sink_from_spec",
]
