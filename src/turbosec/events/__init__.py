"""Security events in the OWASP Logging Vocabulary: write them, and read them back.

Applications log with :class:`SecurityLogger` (standard :mod:`logging`) and
:class:`OwaspJsonFormatter`, or with structlog through :class:`OwaspProcessor`; see
``docs/events.md``.  ``turbosec watch`` reads those lines, OpenSSH logs and web server
access logs with the parsers in :mod:`turbosec.events.parsers` (imported on demand, not
here: an application that only logs does not load them).
"""

from turbosec.core.event import Alert, Level, SecurityEvent
from turbosec.events.logger import (
    OwaspJsonFormatter,
    OwaspProcessor,
    SecretFieldError,
    SecurityLogger,
    owasp_processor,
    request_fields,
    security_handler,
    structlog_processors,
)
from turbosec.events.vocabulary import (
    VOCABULARY,
    EventSpec,
    format_event,
    lookup,
    split_event,
)

__all__ = [
    "VOCABULARY",
    "Alert",
    "EventSpec",
    "Level",
    "OwaspJsonFormatter",
    "OwaspProcessor",
    "SecretFieldError",
    "SecurityEvent",
    "SecurityLogger",
    "format_event",
    "lookup",
    "owasp_processor",
    "request_fields",
    "security_handler",
    "split_event",
    "structlog_processors",
]
