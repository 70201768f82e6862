"""pip requirements and constraints files.

Reads the file the way pip does, without running pip: backslash continuations are joined
(a dependency's line is the line its requirement starts on), full-line and `` #`` comments
dropped, options recognised.  ``-r`` / ``-c`` includes are returned as repository paths
for the caller to read; index and install options are skipped; anything else must be a
PEP 508 requirement or a URL / path pip accepts, or the file is rejected.

Statuses: ``name==1.2`` and ``name===1.2`` are pinned; any other specifier (``>=1``,
``~=1.0``, ``==1.*``, none at all) is unpinned with the specifier as written as its
reason; editable installs, URLs, VCS links, local paths and archive files are unauditable.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterator

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from turbosec.scan.deps.lockfiles import (
    Collector,
    LockfileError,
    ParsedLockfile,
    excerpt,
    show,
    strip_bom,
)

FORMAT = "requirements"
HINT = (
    "each line must be a requirement such as name==1.2.3 (PEP 508), a URL or path pip "
    "accepts, or a pip option such as -r other.txt; see `pip help install`"
)

# pip's comment rule: "#" at the start of a line or after whitespace (so a URL's
# "#egg=" fragment is not a comment).
_COMMENT = re.compile(r"(^|\s+)#.*$")
_SHORT_OPTIONS = {
    "-r": "--requirement",
    "-c": "--constraint",
    "-e": "--editable",
    "-i": "--index-url",
    "-f": "--find-links",
}
_VALUE_OPTIONS = frozenset(
    {
        "--requirement",
        "--constraint",
        "--editable",
        "--index-url",
        "--extra-index-url",
        "--find-links",
        "--trusted-host",
        "--no-binary",
        "--only-binary",
        "--use-feature",
        "--hash",
        "--global-option",
        "--config-settings",
    }
)
_FLAG_OPTIONS = frozenset({"--no-index", "--pre", "--prefer-binary", "--require-hashes"})
# options pip accepts after a requirement on the same line
_PER_REQUIREMENT = frozenset({"--hash", "--global-option", "--config-settings"})

_VCS_PREFIXES = ("git+", "hg+", "svn+", "bzr+")
_URL_SCHEME = re.compile(r"^(?:https?|ftp|file):", re.I)
_WINDOWS_PATH = re.compile(r"^[A-Za-z]:[\\/]")
_ARCHIVE_SUFFIXES = (
    ".whl",
    ".tar.gz",
    ".tgz",
    ".tar.bz2",
    ".tbz",
    ".tar.xz",
    ".txz",
    ".tar",
    ".zip",
)
_NAMED_URL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\s*(?:\[[^\]]*\])?\s*@")
_SPECIFIER = re.compile(r"^\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*(?:\[[^\]]*\])?(?P<spec>[^;]*)")
_EGG = re.compile(r"[#&]egg=([A-Za-z0-9][A-Za-z0-9._-]*)")


def parse(path: str, text: str) -> ParsedLockfile:
    reader = _Reader(path)
    for number, line in _logical_lines(strip_bom(text)):
        reader.read_line(number, line)
    return reader.collector.result(FORMAT, dict.fromkeys(reader.includes))


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, joined line without comments) for each non-empty logical line."""
    parts: list[str] = []
    first = 0
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        is_comment = _COMMENT.match(line) is not None
        if line.endswith("\\") and not is_comment:
            if not parts:
                first = number
            parts.append(line[:-1])
            continue
        if parts:
            # a comment line ends a continuation and is then dropped with the comment rule
            parts.append(" " + line if is_comment else line)
            joined, start = "".join(parts), first
            parts = []
        else:
            joined, start = line, number
        stripped = _COMMENT.sub("", joined).strip()
        if stripped:
            yield start, stripped
    if parts:
        stripped = _COMMENT.sub("", "".join(parts)).strip()
        if stripped:
            yield first, stripped


class _Reader:
    def __init__(self, path: str) -> None:
        self.path = path
        self.collector = Collector(path, "PyPI")
        self.includes: list[str] = []

    def error(self, number: int, message: str) -> LockfileError:
        return LockfileError(self.path, number, message, hint=HINT)

    def read_line(self, number: int, line: str) -> None:
        if line.startswith("-"):
            for option, value in self.options(number, line):
                if option in ("--requirement", "--constraint") and value is not None:
                    self.include(number, option, value)
                elif option == "--editable" and value is not None:
                    self.add_location(number, value, editable=True)
            return
        tokens = line.split()
        cut = next((i for i, t in enumerate(tokens) if t.startswith("-")), len(tokens))
        requirement = " ".join(tokens[:cut])
        for option, _value in self.options(number, " ".join(tokens[cut:])):
            if option not in _PER_REQUIREMENT:
                raise self.error(
                    number, f"option {option} must be on its own line, not after a requirement"
                )
        self.requirement(number, requirement)

    def options(self, number: int, text: str) -> list[tuple[str, str | None]]:
        try:
            tokens = shlex.split(text)
        except ValueError as exc:
            raise self.error(number, f"cannot split options {excerpt(text)!r}: {exc}") from None
        found: list[tuple[str, str | None]] = []
        i = 0
        while i < len(tokens):
            token = tokens[i]
            i += 1
            if token.startswith("--"):
                option, equals, value = token.partition("=")
                has_value = bool(equals)
            elif token.startswith("-") and token[:2] in _SHORT_OPTIONS:
                option, value = _SHORT_OPTIONS[token[:2]], token[2:]
                has_value = bool(value)
            elif token.startswith("-"):
                raise self.error(number, f"unknown pip option {excerpt(token)!r}")
            else:
                raise self.error(
                    number, f"unexpected {excerpt(token)!r} in option line {excerpt(text)!r}"
                )
            if option in _FLAG_OPTIONS:
                if has_value:
                    raise self.error(number, f"option {option} takes no value")
                found.append((option, None))
            elif option in _VALUE_OPTIONS:
                if not has_value:
                    if i >= len(tokens):
                        raise self.error(number, f"option {option} needs a value")
                    value = tokens[i]
                    i += 1
                found.append((option, value))
            else:
                raise self.error(number, f"unknown pip option {excerpt(option)!r}")
        return found

    def include(self, number: int, option: str, value: str) -> None:
        if _URL_SCHEME.match(value) or value.startswith("/") or _WINDOWS_PATH.match(value):
            self.collector.warnings.append(
                f"{self.path}:{number}: {option} {excerpt(value)} is not a file in the "
                "repository; not followed"
            )
            return
        target = posixpath.normpath(posixpath.join(posixpath.dirname(self.path), value))
        if target == ".." or target.startswith("../"):
            self.collector.warnings.append(
                f"{self.path}:{number}: {option} {excerpt(value)} is outside the repository; "
                "not followed"
            )
            return
        self.includes.append(target)

    def requirement(self, number: int, text: str) -> None:
        if not _NAMED_URL.match(text):
            location = re.split(r";\s", text, maxsplit=1)[0].strip()
            if _is_location(location):
                self.add_location(number, location, editable=False)
                return
        try:
            req = Requirement(text)
        except InvalidRequirement:
            raise self.error(number, f"not a valid requirement: {excerpt(text)!r}") from None
        if req.url:
            self.collector.add(
                req.name, number, status="unauditable", reason=_location_reason(req.url)
            )
            return
        version = _exact_version(req)
        if version is not None:
            self.collector.add(req.name, number, version=version)
            return
        written = _SPECIFIER.match(text)
        spec = "".join(written.group("spec").split()) if written else ""
        spec = spec.removeprefix("(").removesuffix(")")
        self.collector.add(
            req.name, number, status="unpinned", reason=spec or "no version specifier"
        )

    def add_location(self, number: int, location: str, *, editable: bool) -> None:
        reason = f"editable install: {show(location)}" if editable else _location_reason(location)
        self.collector.add(_location_name(location), number, status="unauditable", reason=reason)


def _exact_version(req: Requirement) -> str | None:
    """The one version ``req`` allows, when its specifier is an exact pin."""
    specs = list(req.specifier)
    exact = [
        s
        for s in specs
        if s.operator == "===" or (s.operator == "==" and not s.version.endswith(".*"))
    ]
    if len(exact) != 1:
        return None
    pin = exact[0]
    if len(specs) == 1:
        return pin.version
    if pin.operator == "===":
        return None
    try:
        allowed = req.specifier.contains(Version(pin.version), prereleases=True)
    except InvalidVersion:
        return None
    return pin.version if allowed else None


def _is_location(text: str) -> bool:
    lowered = text.lower()
    return (
        lowered.startswith(_VCS_PREFIXES)
        or _URL_SCHEME.match(text) is not None
        or text.startswith((".", "/", "~"))
        or "/" in text
        or "\\" in text
        or lowered.endswith(_ARCHIVE_SUFFIXES)
    )


def _location_reason(location: str) -> str:
    lowered = location.lower()
    shown = show(location)
    if lowered.startswith(_VCS_PREFIXES):
        return f"VCS source: {shown}"
    if lowered.startswith("file:"):
        return f"local path: {shown}"
    if _URL_SCHEME.match(location):
        return f"direct URL: {shown}"
    if lowered.endswith(_ARCHIVE_SUFFIXES):
        return f"local archive: {shown}"
    return f"local path: {shown}"


def _location_name(location: str) -> str:
    """The project name a URL or path names (its ``#egg=`` fragment or its wheel / sdist
    file name), else the location itself as written."""
    if egg := _EGG.search(location):
        return egg.group(1)
    filename = re.split(r"[?#]", location, maxsplit=1)[0].rstrip("/\\")
    filename = re.split(r"[/\\]", filename)[-1]
    try:
        if filename.lower().endswith(".whl"):
            parse_wheel_filename(filename)
            return filename.split("-", 1)[0]
        parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename):
        return show(location)
    return filename.rpartition("-")[0]  # an sdist's name as written, before "-<version>"
