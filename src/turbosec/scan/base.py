"""The scanner seam: what every scanner adapter implements.

An adapter knows which files make it applicable, how to run its program (argument list,
environment, timeout, offline flags), how to learn the program's version, and how to turn
the program's output into :class:`~turbosec.core.finding.Finding` objects.  Adapters never
import the scanner: it always runs as a subprocess.

For the incremental cache (:mod:`turbosec.scan.cache`) an adapter also says what its
results depend on: its :attr:`~Scanner.scope` (``"file"``: the findings of a file depend
only on that file, so the scanner can be run on just the changed files; ``"project"``: the
results depend on the inputs together), the repository files it reads
(:meth:`~Scanner.scanned_files`) and the files outside them that shape its results, such as
rule packs (:meth:`~Scanner.config_files`).
"""

from __future__ import annotations

import abc
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import orjson

from turbosec.core.config import Config, ScannerConfig
from turbosec.core.errors import ParseError
from turbosec.core.finding import Category, Finding
from turbosec.scan.target import Target


@dataclass(frozen=True)
class Invocation:
    """How to run a scanner once."""

    argv: tuple[str, ...]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)  # added to the inherited environment
    ok_returncodes: frozenset[int] = frozenset({0})


@dataclass(frozen=True)
class Parsed:
    """What a scanner's output held: findings, and warnings about files it could not scan."""

    findings: list[Finding]
    warnings: list[str] = field(default_factory=list)
    # Secret values the tool revealed; never stored, only used to redact them from every
    # finding of the run (a SAST tool may quote the same string in its message).
    secrets: list[str] = field(default_factory=list, repr=False)


@dataclass(frozen=True)
class RunResult:
    returncode: int
    stdout: bytes
    stderr: bytes
    duration_s: float


class Scanner(abc.ABC):
    """One external security scanner."""

    name: ClassVar[str]
    program: ClassVar[str]
    category: ClassVar[Category]
    description: ClassVar[str] = ""
    install_hint: ClassVar[str] = "pip install 'turbosec[scanners]'"
    # False for scanners that need an online service: they run only when enabled in config.
    enabled_by_default: ClassVar[bool] = True
    # "file": the findings (and warnings) about a file depend only on that file's content, so
    # a run on any subset of the files gives the same results for those files.  "project":
    # the results depend on the inputs together (Terraform modules and tfvars, requirement
    # files including each other); the scanner re-runs when any input changes.
    scope: ClassVar[Literal["file", "project"]] = "project"
    # Cached results older than this are not reused (seconds; None: no limit).  For scanners
    # that ask an online service, whose answers change without any change to the inputs.
    cache_max_age_s: ClassVar[float | None] = None

    def configure(self, config: Config) -> None:
        """Called once with the scan's configuration before :meth:`applicable`.  Default:
        nothing (most scanners learn their settings from their ScannerConfig)."""
        return None

    def inputs(self, target: Target) -> list[str]:
        """The repository files (relative POSIX paths) this scanner reads.  Default: all."""
        return list(target.files)

    def scanned_files(self, target: Target, config: ScannerConfig) -> list[str]:
        """The files a run with ``config`` reads: :meth:`inputs`, unless the configuration
        widens them (semgrep with custom rules is given every file)."""
        return self.inputs(target)

    def config_files(self, target: Target, config: ScannerConfig) -> list[Path]:
        """Files or directories outside the scanned files whose content shapes the results
        (rule packs, configuration files the tool discovers by itself)."""
        return []

    @abc.abstractmethod
    def applicable(self, target: Target) -> bool:
        """True when the target holds files this scanner understands."""

    @abc.abstractmethod
    def invocation(self, target: Target, config: ScannerConfig, executable: str) -> Invocation:
        """The command to run; ``executable`` is the resolved program path."""

    @abc.abstractmethod
    def parse(self, result: RunResult, target: Target) -> Parsed:
        """Turn the program's output into findings.

        Raise :class:`~turbosec.core.errors.ParseError` on output it cannot read, and
        :class:`~turbosec.core.errors.ScannerError` when the output says the tool could not
        do its job (for example: packages it could not audit).
        """

    def version_argv(self, executable: str) -> tuple[str, ...]:
        return (executable, "--version")

    def parse_version(self, output: str) -> str | None:
        match = re.search(r"(\d+\.\d+(?:\.\d+)?(?:[.\-+]?[0-9A-Za-z.]+)?)", output)
        return match.group(1) if match else None


def decode_json(tool: str, source: str, stdout: bytes, *, expect: type | None = None) -> Any:
    """Parse a scanner's JSON output, or raise a ParseError naming the tool and the source.

    ``expect`` (``dict`` or ``list``) checks the document's top-level type.
    """
    if not stdout.strip():
        raise ParseError(tool, source, f"empty output: {tool} printed no JSON")
    try:
        data = orjson.loads(stdout)
    except orjson.JSONDecodeError as exc:
        raise ParseError(
            tool, source, f"not valid JSON ({exc}); the output may be truncated"
        ) from exc
    if expect is dict and not isinstance(data, dict):
        raise ParseError(
            tool, source, f"expected a JSON object with 'results', got {type(data).__name__}"
        )
    if expect is list and not isinstance(data, list):
        raise ParseError(tool, source, f"expected a JSON array, got {type(data).__name__}")
    return data


def merge_result_parts(
    tool: str, source: str, outputs: Sequence[bytes]
) -> tuple[list[Any], list[Any], list[dict[str, Any]]]:
    """The ``results`` and ``errors`` lists of several runs' JSON documents (shards of one
    file list), concatenated in order, and the documents themselves; a ParseError names
    the part that has no ``results`` list or whose ``errors`` is not a list."""
    results: list[Any] = []
    errors: list[Any] = []
    documents: list[dict[str, Any]] = []
    for index, stdout in enumerate(outputs):
        data: dict[str, Any] = decode_json(tool, source, stdout, expect=dict)
        part_results = data.get("results")
        part_errors = data.get("errors", [])
        if not isinstance(part_results, list):
            raise ParseError(tool, source, f"part {index + 1} has no 'results' list")
        if not isinstance(part_errors, list):
            raise ParseError(tool, source, f"part {index + 1}: 'errors' is not a list")
        results.extend(part_results)
        errors.extend(part_errors)
        documents.append(data)
    return results, errors, documents


class InProcessScanner(Scanner):
    """A scanner turbosec implements itself: it runs inside the turbosec process.

    It has no program to find or start; the runner calls :meth:`scan` instead of
    :meth:`~Scanner.invocation` and :meth:`~Scanner.parse`.  It must do bounded work
    (its own size limits) since it cannot be killed by the scanner timeout.
    """

    program: ClassVar[str] = ""
    install_hint: ClassVar[str] = "built into turbosec"

    @abc.abstractmethod
    def scan(self, target: Target, config: Config) -> Parsed:
        """Scan the target.  Raise ScannerError when the scan cannot be done."""

    def version(self) -> str:
        """The version reported for this scanner (turbosec's own, plus its data)."""
        from turbosec import __version__

        return __version__

    def invocation(self, target: Target, config: ScannerConfig, executable: str) -> Invocation:
        raise NotImplementedError(f"{self.name} runs inside turbosec; it has no command")

    def parse(self, result: RunResult, target: Target) -> Parsed:
        raise NotImplementedError(f"{self.name} runs inside turbosec; it has no output")
