"""Log parsers: each reads one format into :class:`~turbosec.core.event.SecurityEvent`.

``base`` names the seam, one module per format implements it, ``detect`` picks one.
"""

from turbosec.events.parsers.access_log import AccessLogParser
from turbosec.events.parsers.base import (
    MAX_LINE,
    MalformedLine,
    MalformedSample,
    Parser,
    ParseStats,
    parse_file,
    parse_lines,
    read_lines,
)
from turbosec.events.parsers.detect import (
    PARSERS,
    Detection,
    detect_format,
    get_parser,
)
from turbosec.events.parsers.owasp_json import OwaspJsonParser
from turbosec.events.parsers.sshd import SshdParser

__all__ = [
    "MAX_LINE",
    "PARSERS",
    "AccessLogParser",
    "Detection",
    "MalformedLine",
    "MalformedSample",
    "OwaspJsonParser",
    "ParseStats",
    "Parser",
    "SshdParser",
    "detect_format",
    "get_parser",
    "parse_file",
    "parse_lines",
    "read_lines",
]
