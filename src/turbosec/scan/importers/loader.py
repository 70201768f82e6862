"""Reading a report file given to ``turbosec scan --import``.

``load_import("FILE", target)`` reads FILE (plain or gzip-compressed, at most
:data:`MAX_IMPORT_BYTES` after decompression), parses it as JSON and hands it to the one
importer whose ``detect()`` recognises it.  ``load_import("FORMAT:FILE", target)`` skips
detection; the prefix counts as a format only when it is a registered importer name, so
paths that contain ``:`` still work.

Every problem a user can cause (missing file, empty file, truncated JSON, a document in an
unknown or ambiguous format, a document whose shape does not fit) is a
:class:`~turbosec.core.errors.ParseError` naming the file, never a traceback.

:class:`Shape` gives importers checked access to the parsed document: a field of the wrong
type becomes a ParseError that names the importer, the file and the JSON path.
"""

from __future__ import annotations

import codecs
import zlib
from pathlib import Path
from typing import Any

import orjson

from turbosec.core.errors import ParseError
from turbosec.scan.importers import registry
from turbosec.scan.importers.base import Imported, Importer
from turbosec.scan.target import Target

MAX_IMPORT_BYTES = 256 * 1024 * 1024
"""Largest report accepted, counted after gzip decompression."""

_GZIP_MAGIC = b"\x1f\x8b"
_AUTO = "import"  # the "tool" named in errors raised before a format is known


def load_import(spec: str, target: Target) -> Imported:
    """Read one report named on the command line (``FILE`` or ``FORMAT:FILE``)."""
    importers = registry()
    forced, path = split_spec(spec, importers)
    tool = forced or _AUTO
    source = str(path)
    document = parse_json(read_report(path, tool), tool, source)
    importer = importers[forced]() if forced is not None else _detect(document, importers, source)
    return importer.parse(document, source, target)


def split_spec(
    spec: str, importers: dict[str, type[Importer]] | None = None
) -> tuple[str | None, Path]:
    """Split ``FORMAT:FILE`` into its parts; ``(None, FILE)`` when there is no format prefix.

    A prefix is a format only when it names a registered importer (case-insensitive), so
    ``C:\\reports\\x.json`` or ``out:2024.json`` are plain paths.  Should a file literally
    named ``sarif:x.json`` exist while ``x.json`` does not, the whole spec is the path.
    """
    names = importers if importers is not None else registry()
    if not spec.strip():
        raise ParseError(_AUTO, repr(spec), "no file given", hint=_usage_hint(names))
    prefix, sep, rest = spec.partition(":")
    key = prefix.strip().lower()
    if sep and key in names:
        if not rest:
            raise ParseError(
                key, repr(spec), "no file given after the format name", hint=_usage_hint(names)
            )
        whole = Path(spec).expanduser()
        part = Path(rest).expanduser()
        if not part.exists() and whole.is_file():
            return None, whole
        return key, part
    return None, Path(spec).expanduser()


def read_report(path: Path, tool: str = _AUTO, limit: int | None = None) -> bytes:
    """The report's bytes: gunzipped when compressed, a UTF-8/UTF-16 BOM turned into UTF-8."""
    limit = MAX_IMPORT_BYTES if limit is None else limit
    source = str(path)
    try:
        if not path.exists():
            raise ParseError(
                tool,
                source,
                "no such file",
                hint="check the path given to --import (relative to the current directory)",
            )
        if path.is_dir():
            raise ParseError(
                tool,
                source,
                "is a directory, not a report file",
                hint="give the report file itself to --import",
            )
        size = path.stat().st_size
        if size > limit:
            raise ParseError(
                tool,
                source,
                f"file is {_mib(size)}, above the import limit of {_mib(limit)}",
                hint=_limit_hint(),
            )
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ParseError(
            tool,
            source,
            f"cannot read the file: {reason}",
            hint="check that the file exists and is readable",
        ) from None
    if len(data) > limit:
        raise ParseError(
            tool,
            source,
            f"file is larger than the import limit of {_mib(limit)}",
            hint=_limit_hint(),
        )
    if data.startswith(_GZIP_MAGIC):
        data = _gunzip(data, tool, source, limit)
    return _to_utf8(data, tool, source)


def parse_json(data: bytes, tool: str, source: str) -> Any:
    """Parse JSON with orjson; empty, truncated or invalid input is a ParseError."""
    stripped = data.strip()
    if not stripped:
        raise ParseError(
            tool,
            source,
            "file is empty",
            hint="the tool wrote no report: check that it ran to completion and "
            "was asked for JSON (or SARIF) output",
        )
    try:
        return orjson.loads(stripped)
    except orjson.JSONDecodeError as exc:
        if "end of data" in str(exc):  # orjson: the input stopped mid-document
            raise ParseError(
                tool,
                source,
                f"JSON ends early (truncated after {len(stripped)} bytes)",
                hint="the report is incomplete: re-run the tool and "
                "make sure the file is fully written or copied",
            ) from None
        raise ParseError(
            tool,
            source,
            f"not valid JSON: {exc}",
            hint="give a JSON (or SARIF) report; text or table output cannot be imported",
        ) from None


def _detect(document: Any, importers: dict[str, type[Importer]], source: str) -> Importer:
    candidates = [cls() for cls in importers.values()]
    matches = [imp for imp in candidates if imp.detect(document)]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(importers)
    if not matches:
        raise ParseError(
            _AUTO,
            source,
            f"not a report format turbosec can import (known formats: {known})",
            hint=_usage_hint(importers),
        )
    names = ", ".join(imp.name for imp in matches)
    raise ParseError(
        _AUTO, source, f"document fits more than one format ({names})", hint=_usage_hint(importers)
    )


def _usage_hint(importers: dict[str, type[Importer]]) -> str:
    known = ", ".join(importers)
    first = next(iter(importers), "sarif")
    return (
        f"name the format with FORMAT:FILE, for example --import {first}:report.json "
        f"(known formats: {known})"
    )


def _limit_hint() -> str:
    return (
        "filter the report before importing (for example only failing results or one "
        "scan target per file) or split it into several files"
    )


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB" if size >= 1024 * 1024 else f"{size} bytes"


def _gunzip(data: bytes, tool: str, source: str, limit: int) -> bytes:
    """Decompress every gzip member, never producing more than ``limit`` bytes."""
    out = bytearray()
    rest = data
    while rest:
        decomp = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            chunk = decomp.decompress(rest, limit + 1 - len(out))
        except zlib.error as exc:
            raise ParseError(
                tool, source, f"corrupt gzip data: {exc}", hint="re-create the compressed report"
            ) from None
        out += chunk
        if len(out) > limit or decomp.unconsumed_tail:
            raise ParseError(
                tool,
                source,
                f"decompressed report is larger than the import limit of {_mib(limit)}",
                hint=_limit_hint(),
            )
        if not decomp.eof:
            raise ParseError(
                tool,
                source,
                "gzip data ends early (truncated file)",
                hint="re-create or re-copy the compressed report",
            )
        rest = decomp.unused_data
        if rest and not rest.startswith(_GZIP_MAGIC):
            if rest.strip(b"\x00"):
                raise ParseError(
                    tool,
                    source,
                    "unexpected bytes after the gzip data",
                    hint="re-create the compressed report",
                )
            break
    return bytes(out)


def _to_utf8(data: bytes, tool: str, source: str) -> bytes:
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :]
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Windows PowerShell 5 redirects (`tool > out.json`) write UTF-16 with a BOM.
        try:
            return data.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            raise ParseError(
                tool,
                source,
                "file starts with a UTF-16 marker but is not valid UTF-16",
                hint="save the report as UTF-8",
            ) from None
    return data


def repo_path(target: Target, reported: str) -> str:
    """A path from a report made elsewhere, as a repository-relative POSIX path."""
    return target.relpath(reported)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class Shape:
    """Checked access to a parsed JSON document for one importer and one file."""

    def __init__(self, tool: str, source: str) -> None:
        self.tool = tool
        self.source = source

    def error(self, path: str, message: str, hint: str | None = None) -> ParseError:
        where = f"{path}: " if path else ""
        return ParseError(self.tool, self.source, f"{where}{message}", hint=hint)

    def obj(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(path, f"expected an object, found {_kind(value)}")
        return value

    def opt_obj(self, value: Any, path: str) -> dict[str, Any]:
        """An object, or ``{}`` when the field is absent/null."""
        return {} if value is None else self.obj(value, path)

    def arr(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.error(path, f"expected a list, found {_kind(value)}")
        return value

    def opt_arr(self, value: Any, path: str) -> list[Any]:
        """A list, or ``[]`` when the field is absent/null."""
        return [] if value is None else self.arr(value, path)

    def opt_str(self, value: Any, path: str) -> str | None:
        """A string (numbers are written out), ``None`` when absent/null or empty."""
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.error(path, f"expected a string, found {_kind(value)}")
        text = str(value)
        return text if text.strip() else None

    def str_list(self, value: Any, path: str) -> list[str]:
        """A list of strings (null entries dropped); absent/null is ``[]``."""
        out: list[str] = []
        for index, item in enumerate(self.opt_arr(value, path)):
            text = self.opt_str(item, f"{path}[{index}]")
            if text is not None:
                out.append(text)
        return out

    def opt_int(self, value: Any, path: str) -> int | None:
        """A whole number (``12``, ``12.0`` or ``"12"``), ``None`` when absent/null."""
        if value is None:
            return None
        if isinstance(value, bool):
            raise self.error(path, "expected a number, found a boolean")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and value.strip().isdigit():
            return int(value.strip())
        raise self.error(path, f"expected a whole number, found {_kind(value)}")

    def positive(self, value: Any, path: str) -> int | None:
        """A 1-based line/column: zero and negative values mean 'unknown'."""
        number = self.opt_int(value, path)
        return number if number is not None and number > 0 else None
