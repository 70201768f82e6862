"""Alert sinks: stdout (human or JSON), a JSON-lines file, webhooks and Slack.

:mod:`.base` names the seam (:class:`Sink`) and builds sinks from their ``--sink`` spelling
(:func:`make_sink`); each sink sits in its own module.
"""

from turbosec.watch.sinks.base import Sink, SinkError, SinkOptions, make_sink, redact_url

__all__ = ["Sink", "SinkError", "SinkOptions", "make_sink", "redact_url"]
