"""A cache of compiled rule sets, so that loading known rules needs neither YAML nor pySigma.

Reading rules with pySigma costs more than replaying a big log through them (importing it
alone takes a large part of ``turbosec watch test``'s start-up).  After a rule set was
compiled, :func:`store` writes what it is made of -- each detection's metadata and its
logic in the plain form of :mod:`~turbosec.watch.rules.matcher`, each correlation -- as
one JSON file, named after the :func:`key_of` the rule files: a SHA-256 over this cache's
format, turbosec's and pySigma's versions and every file's name and text.  :func:`load`
compiles that again (the matcher only): same files, same rules.  Any change to a file --
or to turbosec or pySigma -- gives another key, hence a miss and a fresh compilation.

The cache holds no code: plain data, read with a JSON parser, every piece checked while it
is compiled; a file that is unreadable, malformed, for another key or larger than
:data:`MAX_CACHE_FILE` is a miss (and is rewritten).  At most :data:`MAX_ENTRIES` rule
sets are kept (the oldest written go first).  Writing is best effort (an
unwritable folder only costs the next start-up), atomic (a temporary file renamed).

Where: :func:`default_dir` -- ``$TURBOSEC_HOME/cache/watch-rules``, else
``$XDG_CACHE_HOME/turbosec/watch-rules``, else ``~/.cache/turbosec/watch-rules``;
``TURBOSEC_RULE_CACHE=off`` turns the cache off.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import orjson

from turbosec import __version__
from turbosec.core.severity import Severity
from turbosec.watch.rules.matcher import CompileError, detection_from_plain
from turbosec.watch.rules.model import (
    Condition,
    Correlation,
    CorrelationType,
    Detection,
    Op,
    RuleMeta,
    RuleSet,
)

if TYPE_CHECKING:
    from turbosec.watch.rules.parsing import DetectionRecord

__all__ = ["FORMAT", "MAX_CACHE_FILE", "MAX_ENTRIES", "default_dir", "key_of", "load", "store"]

#: Version of the cache file's layout (and of the plain form).
FORMAT = 1
#: Largest cache file read (bytes).
MAX_CACHE_FILE = 16 * 1024 * 1024
#: Most rule sets kept; writing one more removes the oldest.
MAX_ENTRIES = 64


def default_dir(env: Mapping[str, str] | None = None) -> Path | None:
    """The cache folder, or ``None`` when ``TURBOSEC_RULE_CACHE=off``."""
    env = os.environ if env is None else env
    if env.get("TURBOSEC_RULE_CACHE", "").strip().lower() in ("off", "0", "no", "false"):
        return None
    if env.get("TURBOSEC_HOME"):
        return Path(env["TURBOSEC_HOME"]).expanduser() / "cache" / "watch-rules"
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]).expanduser() / "turbosec" / "watch-rules"
    return Path.home() / ".cache" / "turbosec" / "watch-rules"


def _pysigma_version() -> str:
    """pySigma's installed version, from its distribution's folder name (no import)."""
    spec = importlib.util.find_spec("sigma")
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        with contextlib.suppress(OSError):
            for entry in os.scandir(Path(location).parent):
                name = entry.name.lower()
                if name.startswith("pysigma-") and name.endswith(".dist-info"):
                    return entry.name[len("pysigma-") : -len(".dist-info")]
    return "unknown"


def key_of(texts: Sequence[tuple[str, str]]) -> str:
    """The cache key of rule files: ``(name, text)`` of each, in loading order."""
    digest = hashlib.sha256()
    header = f"turbosec-watch-rules {FORMAT} {__version__} pySigma {_pysigma_version()}"
    digest.update(header.encode())
    for name, text in texts:
        for part in (name.encode(), text.encode("utf-8", "surrogatepass")):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    return digest.hexdigest()


def _path(folder: Path, key: str) -> Path:
    return folder / f"{key}.json"


# --- writing ---------------------------------------------------------------------------------


def _meta(meta: RuleMeta) -> dict[str, Any]:
    return {
        "id": meta.id,
        "name": meta.name,
        "title": meta.title,
        "severity": meta.severity.name,
        "description": meta.description,
        "tags": list(meta.tags),
        "falsepositives": list(meta.falsepositives),
        "references": list(meta.references),
        "path": meta.path,
        "status": meta.status,
    }


def _correlation(rule: Correlation) -> dict[str, Any]:
    condition = rule.condition
    return {
        "meta": _meta(rule.meta),
        "type": rule.type.value,
        "rules": list(rule.rules),
        "group_by": list(rule.group_by),
        "timespan": rule.timespan,
        "condition": None
        if condition is None
        else {"op": condition.op.value, "value": condition.value, "field": condition.field},
        "aliases": {name: dict(per_rule) for name, per_rule in rule.aliases.items()},
        "generate": rule.generate,
    }


def store(folder: Path, key: str, rules: RuleSet, records: Sequence[DetectionRecord]) -> bool:
    """Write a compiled rule set under ``key``; ``False`` when it could not be written."""
    document = {
        "format": FORMAT,
        "key": key,
        "detections": [
            {
                "meta": _meta(record.detection.meta),
                "generate": record.detection.generate,
                "plain": record.plain,
            }
            for record in records
        ],
        "correlations": [_correlation(rule) for rule in rules.correlations],
    }
    try:
        data = orjson.dumps(document)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".rules-", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, _path(folder, key))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except (OSError, TypeError):
        return False
    _prune(folder)
    return True


def _prune(folder: Path) -> None:
    """Keep the :data:`MAX_ENTRIES` most recently written rule sets."""
    with contextlib.suppress(OSError):
        entries = sorted(
            (entry.stat().st_mtime, entry.path)
            for entry in os.scandir(folder)
            if entry.name.endswith(".json") and entry.is_file()
        )
        for _, path in entries[:-MAX_ENTRIES]:
            with contextlib.suppress(OSError):
                os.unlink(path)


# --- reading ---------------------------------------------------------------------------------


def _text_tuple(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TypeError("expected a list of texts")
    return tuple(value)


def _optional_text(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError("expected a text or null")
    return value


def _read_meta(data: Mapping[str, Any]) -> RuleMeta:
    for name in ("id", "title", "description", "path"):
        if not isinstance(data[name], str):
            raise TypeError(f"meta {name} is not a text")
    return RuleMeta(
        id=data["id"],
        name=_optional_text(data["name"]),
        title=data["title"],
        severity=Severity[data["severity"]],
        description=data["description"],
        tags=_text_tuple(data["tags"]),
        falsepositives=_text_tuple(data["falsepositives"]),
        references=_text_tuple(data["references"]),
        path=data["path"],
        status=_optional_text(data["status"]),
    )


def _read_correlation(data: Mapping[str, Any]) -> Correlation:
    raw = data["condition"]
    condition = None
    if raw is not None:
        value = raw["value"]
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("condition value is not a whole number")
        condition = Condition(op=Op(raw["op"]), value=value, field=_optional_text(raw["field"]))
    aliases = {
        str(name): MappingProxyType({str(k): str(v) for k, v in per_rule.items()})
        for name, per_rule in data["aliases"].items()
    }
    timespan = data["timespan"]
    if isinstance(timespan, bool) or not isinstance(timespan, int | float) or timespan <= 0:
        raise TypeError("timespan is not a positive number")
    return Correlation(
        meta=_read_meta(data["meta"]),
        type=CorrelationType(data["type"]),
        rules=_text_tuple(data["rules"]),
        group_by=_text_tuple(data["group_by"]),
        timespan=float(timespan),
        condition=condition,
        aliases=MappingProxyType(aliases),
        generate=bool(data["generate"]),
    )


def load(folder: Path, key: str) -> RuleSet | None:
    """The rule set stored under ``key``, compiled again; ``None`` on any miss."""
    try:
        with open(_path(folder, key), "rb") as handle:
            data = handle.read(MAX_CACHE_FILE + 1)
    except OSError:
        return None
    if len(data) > MAX_CACHE_FILE:
        return None
    try:
        document = orjson.loads(data)
        if document["format"] != FORMAT or document["key"] != key:
            return None
        detections: list[Detection] = [
            detection_from_plain(
                _read_meta(item["meta"]), item["plain"], generate=bool(item["generate"])
            )
            for item in document["detections"]
        ]
        correlations = [_read_correlation(item) for item in document["correlations"]]
        return RuleSet.build(detections, correlations)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, CompileError):
        return None  # JSONDecodeError and RuleLoadError are ValueErrors
