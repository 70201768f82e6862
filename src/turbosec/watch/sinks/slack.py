"""Alerts to a Slack incoming webhook (or any receiver that speaks its payload).

The payload is ``{"text": ..., "blocks": [...]}``: ``text`` is the one-line fallback Slack
shows in notifications, ``blocks`` a header (severity and title), a section of fields (rule,
group, count, window), the rule's description and a context line (alert id, tags).  Slack
limits are respected: header text 150 characters, field text 2,000, section text 3,000, at
most 10 fields.

Group values come from log lines an attacker writes.  In Slack's ``mrkdwn`` the characters
``&``, ``<`` and ``>`` are escaped (so a user name cannot become ``<!channel>`` or a link),
control characters are escaped and values are shown in code spans.

Delivery, retries and the spool are the webhook sink's (:mod:`.webhook`).
"""

from __future__ import annotations

from typing import Any

from turbosec.core.event import Alert
from turbosec.watch.sinks.stdout import clean, duration, utc_seconds
from turbosec.watch.sinks.webhook import WebhookSink

_HEADER_LIMIT = 150
_FIELD_LIMIT = 2000
_SECTION_LIMIT = 3000


def mrkdwn_escape(text: str) -> str:
    """``text`` safe inside Slack ``mrkdwn``: ``&``, ``<``, ``>`` escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str | None, limit: int = 200) -> str:
    if text is None:
        return "_none_"
    shown = clean(text, limit).replace("`", "'")
    return f"`{mrkdwn_escape(shown)}`" if shown else "_empty_"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_payload(alert: Alert) -> dict[str, Any]:
    """The incoming-webhook JSON for one alert."""
    severity = alert.severity.name
    title = clean(alert.title, 200)
    span = duration((alert.last_seen - alert.first_seen).total_seconds())
    group_text = ", ".join(f"{mrkdwn_escape(clean(k, 60))} {_code(v)}" for k, v in alert.group)
    group_plain = " ".join(f"{clean(k, 60)}={clean(v or '-', 100)}" for k, v in alert.group)
    text = f"[{severity}] {title}" + (f" {group_plain}" if group_plain else "")
    text += f" ({alert.count} events in {span})"
    fields = [
        {"type": "mrkdwn", "text": f"*Rule*\n{_code(alert.rule_id)}"},
        {"type": "mrkdwn", "text": f"*Severity*\n{severity.lower()}"},
        {"type": "mrkdwn", "text": _cut(f"*Group*\n{group_text or '_none_'}", _FIELD_LIMIT)},
        {"type": "mrkdwn", "text": f"*Events*\n{alert.count} in {span}"},
        {"type": "mrkdwn", "text": f"*First seen*\n{utc_seconds(alert.first_seen)}"},
        {"type": "mrkdwn", "text": f"*Last seen*\n{utc_seconds(alert.last_seen)}"},
    ]
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": _cut(f"{severity}: {title}", _HEADER_LIMIT),
                "emoji": False,
            },
        },
        {"type": "section", "fields": fields},
    ]
    if alert.description:
        description = mrkdwn_escape(clean(alert.description, _SECTION_LIMIT))
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _cut(description, 3000)}}
        )
    context = f"alert {_code(alert.alert_id)}"
    if alert.tags:
        context += " · " + " ".join(_code(tag, 80) for tag in alert.tags[:10])
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(context, 3000)}]}
    )
    return {"text": mrkdwn_escape(_cut(text, _SECTION_LIMIT)), "blocks": blocks}


class SlackSink(WebhookSink):
    """A :class:`WebhookSink` that sends :func:`slack_payload` bodies."""

    name = "slack"
    kind = "slack"

    def payload(self, alert: Alert) -> dict[str, Any]:
        return slack_payload(alert)


__all__ = ["SlackSink", "mrkdwn_escape", "slack_payload"]
