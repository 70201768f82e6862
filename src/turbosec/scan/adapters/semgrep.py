"""Semgrep: pattern and taint rules over Python and JavaScript/TypeScript source.

Runs ``semgrep scan --json`` on the explicit list of the target's source files (so the
configured exclusions apply exactly; explicit targets also bypass ``.semgrepignore``)
with the rule pack bundled in ``turbosec/scan/rules/semgrep`` -- or, when
``scanners.semgrep.rules`` is set, with those local rule files/directories, each passed as
``--config`` (relative paths are resolved against the repository root; registry configs
such as ``p/python`` need the network and are refused).  With custom rules every file of
the target is passed: semgrep itself skips files no rule's language covers.

``--disable-nosem`` keeps matches on lines marked ``# nosemgrep`` (``// nosemgrep``,
``nosemgrep: rule-id``) in the output: semgrep would drop them silently.  turbosec marks
them suppressed itself (:mod:`turbosec.scan.suppress`, the text after the marker being the
reason), so they stay visible in every report without failing the gate.  semgrep 1.185
prints such matches exactly like the others (no ``is_ignored`` flag), so the marker is
read from the file.

Offline: ``--metrics=off``, ``--disable-version-check`` and the environment variables
``SEMGREP_ENABLE_VERSION_CHECK=0`` / ``SEMGREP_SEND_METRICS=off`` (without them semgrep
waits ~90 s for the version server when offline).  ``--no-rewrite-rule-ids`` keeps rule
ids as written (semgrep otherwise prefixes them with the rule directory's path).

Exit codes: 0 scan done (findings or not; 1 only with ``--error``), 2 fatal error,
3 target parse failure (``--strict``), 4 rule parse error, 5 unparsable YAML, 7 missing
or invalid config, 8 invalid language, 13 invalid API key.  Semgrep prints its JSON
document for most of them, so every code is accepted here and :meth:`parse` decides:
anything but 0/1, or an ``errors`` entry of level ``error`` that names no target file
(a rule or configuration problem), fails the run with :class:`ScannerError`; errors about
one file (level ``warn``: a syntax error, a timeout) become warnings.

Output record (``results[]``): ``check_id``, ``path``, ``start``/``end`` with 1-based
``line``/``col`` (end column exclusive, like SARIF) and ``offset``; ``extra`` holds
``message``, ``severity`` (ERROR/WARNING/INFO or CRITICAL/HIGH/MEDIUM/LOW), ``metadata``
(the rule's: ``cwe``, ``owasp``, ``confidence``, ``references``, ``fix-hint``, ``title``),
optional ``fix``, and ``lines`` -- which semgrep OSS replaces with ``"requires login"``,
so the snippet is read from the target instead.

Scheduled runs: the runner calls ``invocation(..., workers=N)``, which adds ``--jobs N`` (the
runner's pool decides how many cores each process gets) and, for the bundled pack, passes it
as one JSON file (:func:`compiled_bundled_rules`: the same rules, written once under the
turbosec cache directory) instead of the directory: semgrep then reads and validates one
file instead of one per rule file (one ``semgrep-core`` start-up each), about a second less
per process.  The runner may also split a large file list into shards run side by side;
:meth:`SemgrepScanner.merge_outputs` joins their ``results``, ``errors`` and scanned paths
into the document of one run, which is then parsed once.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import yaml

from turbosec.core.config import ScannerConfig
from turbosec.core.errors import ParseError, ScannerError
from turbosec.core.finding import Category, Confidence, Finding, Location, parse_cwe
from turbosec.core.severity import Severity
from turbosec.scan import tools
from turbosec.scan.base import (
    Invocation,
    Parsed,
    RunResult,
    Scanner,
    decode_json,
    merge_result_parts,
)
from turbosec.scan.target import Target

TOOL = "semgrep"
SOURCE = "stdout"

#: File types the bundled rule pack covers (semgrep's python, javascript, typescript).
SUFFIXES = (".py", ".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx")
#: semgrep's own per-file, per-rule match timeout (seconds) and how many timeouts on one
#: file make it give up on that file.
PER_FILE_TIMEOUT_S = 30
TIMEOUT_THRESHOLD = 3

_OK_EXIT = frozenset({0, 1})
# Every documented semgrep exit code: the JSON document explains the failure (see parse).
_KNOWN_EXIT = frozenset(range(16))
_REDACTED_LINES = "requires login"
_URL = re.compile(r"^https?://", re.IGNORECASE)


def bundled_rules_dir() -> Path:
    """The directory of turbosec's own semgrep rules, shipped inside the package."""
    pack = resources.files("turbosec.scan.rules").joinpath("semgrep")
    if not isinstance(pack, Path) or not pack.is_dir():
        raise ScannerError(
            TOOL,
            f"the bundled semgrep rule pack is not a directory on disk ({pack})",
            hint="install turbosec from a wheel or source tree (not a zip archive), or set "
            "scanners.semgrep.rules to local rule files",
        )
    return pack


#: The bundled pack is small; a bigger rule file there is a packaging mistake.
MAX_RULE_FILE_BYTES = 4 * 1024 * 1024


def compiled_bundled_rules(home: Path | None = None) -> Path | None:
    """The bundled rule pack as one JSON rule file (the same rules), or None if not writable.

    Written once per pack content to ``<turbosec cache>/rules/semgrep-bundled-<digest>.json``
    (``home``: the turbosec cache directory, by default the parent of the tools home).
    """
    pack = bundled_rules_dir()
    files = sorted(p for p in pack.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    digest = hashlib.sha256()
    texts: list[bytes] = []
    for path in files:
        data = path.read_bytes()
        if len(data) > MAX_RULE_FILE_BYTES:
            return None
        digest.update(path.relative_to(pack).as_posix().encode("utf-8") + b"\0")
        digest.update(hashlib.sha256(data).digest())
        texts.append(data)
    # absolute: semgrep runs in the repository, and XDG_CACHE_HOME may be relative
    directory = (home or tools.tools_home().parent).absolute() / "rules"
    out = directory / f"semgrep-bundled-{digest.hexdigest()[:24]}.json"
    if out.is_file():
        return out
    rules: list[Any] = []
    for path, data in zip(files, texts, strict=True):
        document = yaml.safe_load(data)
        if not isinstance(document, Mapping) or not isinstance(document.get("rules"), list):
            raise ScannerError(
                TOOL,
                f"the bundled rule file {path} has no 'rules' list",
                hint="reinstall turbosec: its bundled semgrep rule pack is damaged",
            )
        rules.extend(document["rules"])
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".semgrep-bundled-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(orjson.dumps({"rules": rules}))
            os.replace(tmp, out)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        return None
    return out


class SemgrepScanner(Scanner):
    name = "semgrep"
    program = "semgrep"
    category = Category.SAST
    description = "Python and JavaScript/TypeScript code: injection, deserialisation, crypto, XSS"
    scope = "file"  # semgrep OSS rules (patterns and taint) are intra-file
    # For the runner's scheduling: seconds per process (the Python CLI and the rules), seconds
    # per MB of input on one core, and invocation() takes ``workers``.  Measured on the
    # Django sdist: a second process costs about 2 s more than one run over both halves.
    startup_s = 2.5
    seconds_per_mb = 1.3
    accepts_workers = True

    def inputs(self, target: Target) -> list[str]:
        return target.matching(suffixes=SUFFIXES)

    def scanned_files(self, target: Target, config: ScannerConfig) -> list[str]:
        return list(target.files) if config.rules else self.inputs(target)

    def config_files(self, target: Target, config: ScannerConfig) -> list[Path]:
        return [Path(p) for p in self.rule_configs(target, config)]

    def applicable(self, target: Target) -> bool:
        return bool(self.inputs(target))

    def rule_configs(self, target: Target, config: ScannerConfig) -> list[str]:
        """The ``--config`` values: the bundled pack, or the configured local rules."""
        if not config.rules:
            return [str(bundled_rules_dir())]
        out: list[str] = []
        for entry in config.rules:
            path = Path(entry).expanduser()
            if not path.is_absolute():
                path = target.root / path
            if not path.exists():
                raise ScannerError(
                    TOOL,
                    f"the rule file or directory {entry!r} does not exist (looked for {path})",
                    hint="scanners.semgrep.rules names local YAML rule files or directories, "
                    "relative to the repository root; registry configs such as p/python "
                    "need the network and are not supported",
                )
            out.append(str(path))
        return out

    def invocation(
        self,
        target: Target,
        config: ScannerConfig,
        executable: str,
        workers: int | None = None,
    ) -> Invocation:
        """``workers``: semgrep's ``--jobs`` (None: its default, from the cores it sees)."""
        files = list(target.files) if config.rules else self.inputs(target)
        timeout = max(1, min(PER_FILE_TIMEOUT_S, int(config.timeout)))
        argv = [
            executable,
            "scan",
            "--json",
            "--metrics=off",
            "--disable-version-check",
            "--no-rewrite-rule-ids",
            "--disable-nosem",  # report "nosemgrep" lines: turbosec marks them suppressed
            "--timeout",
            str(timeout),
            "--timeout-threshold",
            str(TIMEOUT_THRESHOLD),
        ]
        if workers is not None:
            argv += ["--jobs", str(max(1, workers))]
        configs = self.rule_configs(target, config)
        if workers is not None and not config.rules:
            compiled = compiled_bundled_rules()
            if compiled is not None:
                configs = [str(compiled)]
        for rules in configs:
            argv += ["--config", rules]
        argv += [*config.args, "--", *files]  # after "--" file names are never options
        return Invocation(
            argv=tuple(argv),
            cwd=target.root,
            env={"SEMGREP_ENABLE_VERSION_CHECK": "0", "SEMGREP_SEND_METRICS": "off"},
            ok_returncodes=_KNOWN_EXIT,
        )

    def version_argv(self, executable: str) -> tuple[str, ...]:
        return (executable, "--version", "--disable-version-check")

    def merge_outputs(self, outputs: Sequence[bytes]) -> bytes:
        """The document of one run over the files of several runs (shards of the list)."""
        results, errors, documents = merge_result_parts(TOOL, SOURCE, outputs)
        scanned: list[Any] = []
        for data in documents:
            paths = data.get("paths")
            if isinstance(paths, Mapping) and isinstance(paths.get("scanned"), list):
                scanned.extend(paths["scanned"])
        return orjson.dumps({"results": results, "errors": errors, "paths": {"scanned": scanned}})

    def parse(self, result: RunResult, target: Target) -> Parsed:
        if result.returncode not in _OK_EXIT and not result.stdout.strip():
            raise _failed(result.returncode, [], result.stderr)
        data = _decode_json(result.stdout)
        results = data.get("results")
        errors = data.get("errors", [])
        if not isinstance(results, list):
            raise ParseError(TOOL, SOURCE, "the document has no 'results' list")
        if not isinstance(errors, list):
            raise ParseError(TOOL, SOURCE, "'errors' is not a list")

        warnings: list[str] = []
        fatal: list[str] = []
        for index, error in enumerate(errors):
            if not isinstance(error, Mapping):
                raise ParseError(TOOL, SOURCE, f"errors[{index}] is not an object")
            text = _error_text(error)
            path = error.get("path")
            level = str(error.get("level") or "error").lower()
            if level == "error" and not (isinstance(path, str) and path):
                fatal.append(text)
            elif isinstance(path, str) and path:
                warnings.append(f"{target.relpath(path)}: {text}")
            else:
                warnings.append(text)
        if fatal or result.returncode not in _OK_EXIT:
            raise _failed(result.returncode, fatal, result.stderr)

        findings = [_finding(r, target, f"results[{i}]") for i, r in enumerate(results)]
        return Parsed(findings=findings, warnings=warnings)


def _failed(returncode: int, problems: list[str], stderr: bytes) -> ScannerError:
    tail = "\n".join(stderr.decode("utf-8", "replace").rstrip().splitlines()[-15:])
    if problems:
        return ScannerError(
            TOOL,
            "could not run its rules: " + "; ".join(problems),
            hint="fix the rule or configuration named here (the files listed in "
            "scanners.semgrep.rules, or turbosec's bundled pack)",
            stderr_tail=tail or None,
        )
    return ScannerError(
        TOOL,
        f"exited with code {returncode} without a usable report",
        hint="run the command shown with -v by hand to see why it failed",
        stderr_tail=tail or None,
    )


def _decode_json(stdout: bytes) -> dict[str, Any]:
    data: dict[str, Any] = decode_json(TOOL, SOURCE, stdout, expect=dict)
    return data


def _error_text(error: Mapping[str, Any]) -> str:
    """One line: the error's type, rule and message (two lines of it for rule errors).

    Messages about a target file stop at their first line: the next ones quote the file's
    source, which may hold anything.
    """
    kind = error.get("type")
    if isinstance(kind, list) and kind:  # e.g. ["PartialParsing", [spans...]]
        kind = kind[0]
    message = error.get("message") or error.get("long_msg") or error.get("short_msg") or ""
    lines = [
        line.strip()
        for line in str(message).splitlines()
        if line.strip() and not line.strip().startswith("-----")
    ]
    text = " ".join(lines[: 1 if error.get("path") else 2]).rstrip(":").strip()
    parts: list[str] = []
    if kind and not text.lower().startswith(str(kind).lower()):
        parts.append(str(kind))
    rule = error.get("rule_id")
    if isinstance(rule, str) and rule and rule not in text:
        parts.append(f"rule {rule}")
    if text:
        parts.append(text)
    spans = error.get("spans")
    if not error.get("path") and isinstance(spans, list) and spans:
        span = spans[0]
        if isinstance(span, Mapping) and isinstance(span.get("file"), str):
            start = span.get("start")
            line = start.get("line") if isinstance(start, Mapping) else None
            parts.append(f"in {span['file']}" + (f" line {line}" if line else ""))
    return ": ".join(parts) or "unknown error"


def _position(value: Any, where: str, field: str) -> tuple[int, int | None]:
    if not isinstance(value, Mapping):
        raise ParseError(TOOL, SOURCE, f"{where} has no '{field}' position")
    line = value.get("line")
    col = value.get("col")
    if not isinstance(line, int) or isinstance(line, bool) or line < 1:
        raise ParseError(TOOL, SOURCE, f"{where}.{field}.line is not a line number")
    return line, col if isinstance(col, int) and not isinstance(col, bool) and col > 0 else None


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            if isinstance(item, str):
                yield item


def _title(metadata: Mapping[str, Any], check_id: str) -> str:
    title = metadata.get("title") or metadata.get("shortDescription")
    if isinstance(title, str) and title.strip():
        return title.strip()
    words = check_id.rsplit(".", 1)[-1].replace("-", " ").replace("_", " ").strip()
    return (words[:1].upper() + words[1:]) if words else check_id


def _references(metadata: Mapping[str, Any]) -> tuple[str, ...]:
    refs: list[str] = []
    for key in ("references", "source", "source-rule-url", "shortlink"):
        refs.extend(r.strip() for r in _strings(metadata.get(key)) if _URL.match(r.strip()))
    return tuple(dict.fromkeys(refs))


def _fix_hint(metadata: Mapping[str, Any], extra: Mapping[str, Any]) -> str | None:
    for key in ("fix-hint", "fix_hint", "remediation"):
        value = metadata.get(key)
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())
    fix = extra.get("fix")
    if isinstance(fix, str) and fix.strip():
        return f"semgrep suggests replacing the flagged code with: {fix.strip()}"
    return None


def _finding(record: Any, target: Target, where: str) -> Finding:
    if not isinstance(record, Mapping):
        raise ParseError(TOOL, SOURCE, f"{where} is a {type(record).__name__}, not an object")
    check_id = record.get("check_id")
    path = record.get("path")
    extra = record.get("extra")
    if not isinstance(check_id, str) or not check_id:
        raise ParseError(TOOL, SOURCE, f"{where} has no 'check_id'")
    if not isinstance(path, str) or not path:
        raise ParseError(TOOL, SOURCE, f"{where} ({check_id}) has no 'path'")
    if not isinstance(extra, Mapping):
        raise ParseError(TOOL, SOURCE, f"{where} ({check_id}) has no 'extra' object")
    start_line, start_col = _position(record.get("start"), where, "start")
    end_line: int | None
    end_col: int | None
    if record.get("end") is None:
        end_line, end_col = start_line, None
    else:
        end_line, end_col = _position(record.get("end"), where, "end")
    metadata = extra.get("metadata")
    if not isinstance(metadata, Mapping):
        metadata = {}

    relpath = target.relpath(path)
    snippet = target.snippet(relpath, start_line, end_line)
    lines = extra.get("lines")
    if snippet is None and isinstance(lines, str) and lines.strip() != _REDACTED_LINES:
        snippet = lines.rstrip("\n")
    message = extra.get("message")
    severity_word = extra.get("severity")
    confidence_word = metadata.get("confidence")
    title = _title(metadata, check_id)
    return Finding(
        tool=TOOL,
        rule_id=check_id,
        title=title,
        message=" ".join(message.split()) if isinstance(message, str) and message else title,
        severity=Severity.from_tool(
            TOOL, severity_word if isinstance(severity_word, str) else None
        ),
        category=Category.SAST,
        confidence=Confidence.parse(confidence_word if isinstance(confidence_word, str) else None),
        location=Location(
            path=relpath,
            start_line=start_line,
            start_column=start_col,
            end_line=end_line,
            end_column=end_col,
            snippet=snippet,
        ),
        cwe=tuple(c for c in parse_cwe(metadata.get("cwe")) if c > 0),
        references=_references(metadata),
        fix_hint=_fix_hint(metadata, extra),
        raw=dict(record),
    )
