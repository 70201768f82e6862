"""Bandit: security problems in Python code, one AST plugin per test id (B101...B703).

Runs ``bandit --format json --quiet --ignore-nosec --exclude "" -- FILES`` on the explicit
list of the target's ``.py`` files (so the configured exclusions apply exactly).
``--ignore-nosec`` keeps findings on ``# nosec`` lines in the output (bandit would
otherwise drop them and only count them in ``metrics._totals.nosec``): turbosec marks them
suppressed itself (:mod:`turbosec.scan.suppress`), with the text after the marker as the
reason, so they stay visible in every report without failing the gate.  ``--exclude ""``
matters: bandit's default exclusions (``.svn,CVS,.bzr,.hg,.git,__pycache__,.tox,.eggs,
*.egg``) are compared as *substrings* of every path, even of files named explicitly, so
without it bandit silently skips e.g. every file under ``.github/`` or any file whose path
contains ``CVS``.  Bandit needs no network.

Exit codes: 0 no issue found (files that could not be parsed do not change it), 1 issues
found, 2 bad arguments or configuration (no JSON then).

Output record (``results[]``): ``test_id``, ``test_name``, ``filename`` (``./``-prefixed),
``line_number``, ``line_range`` (the flagged node's lines; ``line_number`` may lie inside
it), ``col_offset``/``end_col_offset`` (**0-based**, on the first and the last line of the
range, the end exclusive), ``issue_severity`` and ``issue_confidence``
(LOW/MEDIUM/HIGH/UNDEFINED), ``issue_text``, ``issue_cwe`` (``{"id", "link"}``),
``more_info`` (documentation URL) and ``code`` (numbered context lines, left out of
``raw``: the snippet is read from the file instead, and the context lines around a finding
can hold a secret no plugin flagged).  ``errors[]``
holds ``{"filename", "reason"}`` for files bandit could not scan (a syntax error):
turbosec reports those as warnings.

The hard-coded password tests (B105/B106/B107) print the literal in ``issue_text``
(``Possible hardcoded password: 'hunter2'``): turbosec redacts every such literal from
every message, snippet and raw record, like any other secret.

Bandit checks one file at a time (one process, one core), so the runner may split a large
file list into shards run side by side: :meth:`BanditScanner.merge_outputs` joins their
documents (``results`` and ``errors``) into the one a single run prints, which is then
parsed once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from turbosec.core.config import ScannerConfig
from turbosec.core.errors import ParseError
from turbosec.core.finding import Category, Confidence, Finding, Location, parse_cwe
from turbosec.core.secrets import redact_in
from turbosec.core.severity import Severity
from turbosec.scan.base import (
    Invocation,
    Parsed,
    RunResult,
    Scanner,
    decode_json,
    merge_result_parts,
)
from turbosec.scan.target import Target

TOOL = "bandit"
SOURCE = "stdout"
SUFFIXES = (".py",)

_PASSWORD_TEXT = re.compile(r"hardcoded password: '(?P<secret>.*)'\s*$", re.DOTALL)

# Bandit gives no remediation; hints for the tests turbosec users meet most.
_FIX_HINTS: dict[str, str] = {
    "B102": "do not exec() strings built from data; map names to functions instead",
    "B104": "bind to 127.0.0.1 (or a configured address) instead of all interfaces",
    "B105": "load the password from the environment or a secrets manager, not the code",
    "B106": "load the password from the environment or a secrets manager, not the code",
    "B107": "do not give passwords default values; read them from configuration",
    "B201": "remove debug=True; enable the debugger only locally through FLASK_DEBUG",
    "B301": "never unpickle data from outside the process; use JSON for data exchange",
    "B307": "use ast.literal_eval() for literals; never eval() data",
    "B324": "use hashlib.sha256 or stronger (or pass usedforsecurity=False for checksums); "
    "hash passwords with argon2, bcrypt or hashlib.scrypt",
    "B501": "keep certificate verification on (verify=True, the default)",
    "B506": "use yaml.safe_load() or Loader=yaml.SafeLoader",
    "B602": "pass the command as a list without shell=True",
    "B605": "use subprocess.run([...]) with an argument list instead of a shell",
    "B608": "pass values as bound query parameters instead of building the SQL text",
    "B701": "create the jinja2 Environment with autoescape=True (or select_autoescape())",
}


class BanditScanner(Scanner):
    name = "bandit"
    program = "bandit"
    category = Category.SAST
    description = "Python code: AST checks for injection, unsafe calls, weak crypto, secrets"
    scope = "file"  # each file's AST is checked on its own
    # Rough cost, for the runner's scheduling: seconds per process, seconds per MB of input
    # (one core; measured on the Django sdist, see bench/README.md).
    startup_s = 0.3
    seconds_per_mb = 1.5

    def inputs(self, target: Target) -> list[str]:
        return target.matching(suffixes=SUFFIXES)

    def applicable(self, target: Target) -> bool:
        return bool(self.inputs(target))

    def invocation(self, target: Target, config: ScannerConfig, executable: str) -> Invocation:
        argv = [
            executable,
            "--format",
            "json",
            "--quiet",
            "--ignore-nosec",  # report "# nosec" lines: turbosec marks them suppressed
            "--exclude",
            "",  # no default path exclusions: turbosec already chose the files
            *config.args,
            "--",  # file names are never options
            *self.inputs(target),
        ]
        return Invocation(argv=tuple(argv), cwd=target.root, ok_returncodes=frozenset({0, 1}))

    def merge_outputs(self, outputs: Sequence[bytes]) -> bytes:
        """The document of one run over the files of several runs (shards of the list)."""
        results, errors, _ = merge_result_parts(TOOL, SOURCE, outputs)
        return orjson.dumps({"errors": errors, "results": results})

    def parse(self, result: RunResult, target: Target) -> Parsed:
        data = _decode_json(result.stdout)
        results = data.get("results")
        errors = data.get("errors", [])
        if not isinstance(results, list):
            raise ParseError(TOOL, SOURCE, "the document has no 'results' list")
        if not isinstance(errors, list):
            raise ParseError(TOOL, SOURCE, "'errors' is not a list")
        warnings: list[str] = []
        for index, error in enumerate(errors):
            if not isinstance(error, Mapping):
                raise ParseError(TOOL, SOURCE, f"errors[{index}] is not an object")
            filename = error.get("filename")
            reason = str(error.get("reason") or "could not be scanned")
            if isinstance(filename, str) and filename:
                warnings.append(f"{target.relpath(filename)}: {reason}")
            else:
                warnings.append(reason)
        # Passwords bandit printed (B105-B107) are redacted from every finding: the same
        # literal can sit in another finding's snippet.
        secrets = sorted(
            {
                m.group("secret")
                for r in results
                if isinstance(r, Mapping) and isinstance(r.get("issue_text"), str)
                for m in [_PASSWORD_TEXT.search(r["issue_text"])]
                if m and m.group("secret")
            },
            key=len,
            reverse=True,
        )
        findings = [_finding(r, target, f"results[{i}]", secrets) for i, r in enumerate(results)]
        return Parsed(findings=findings, warnings=warnings)


def _decode_json(stdout: bytes) -> dict[str, Any]:
    data: dict[str, Any] = decode_json(TOOL, SOURCE, stdout, expect=dict)
    return data


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _title(test_name: str | None, issue_text: str, test_id: str) -> str:
    if test_name and test_name != "blacklist":
        words = test_name.replace("_", " ")
        return words[:1].upper() + words[1:]
    # blacklist findings share one test name; their text says what was flagged
    first = issue_text.split(". ")[0].rstrip(".").strip()
    return first or test_id


def _redact_all(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = redact_in(text, secret)
    return text


def _finding(record: Any, target: Target, where: str, secrets: list[str]) -> Finding:
    if not isinstance(record, Mapping):
        raise ParseError(TOOL, SOURCE, f"{where} is a {type(record).__name__}, not an object")
    test_id = _text(record.get("test_id"))
    filename = _text(record.get("filename"))
    line = _int(record.get("line_number"))
    if test_id is None:
        raise ParseError(TOOL, SOURCE, f"{where} has no 'test_id'")
    if filename is None:
        raise ParseError(TOOL, SOURCE, f"{where} ({test_id}) has no 'filename'")
    if line is None or line < 1:
        raise ParseError(TOOL, SOURCE, f"{where} ({test_id}) has no valid 'line_number'")

    path = target.relpath(filename)
    # The flagged node spans line_range; col_offset is on its first line and
    # end_col_offset on its last.  line_number can be a line inside the span (for a call
    # written over several lines, the line of the offending argument).
    line_range = record.get("line_range")
    span = [n for n in line_range if _int(n)] if isinstance(line_range, list) else []
    start_line = min(span) if span and min(span) <= line else line
    end_line = max([line, *span])
    col = _int(record.get("col_offset"))
    end_col = _int(record.get("end_col_offset"))
    snippet = target.snippet(path, start_line, end_line)

    issue_text = _text(record.get("issue_text")) or test_id
    # "code" is a copy of the lines around the finding: it can show any secret written next
    # to it (the demo app's AWS key id sits above a B105 line), and the snippet replaces it.
    raw = {key: value for key, value in record.items() if key != "code"}
    if secrets:
        issue_text = _redact_all(issue_text, secrets)
        snippet = _redact_all(snippet, secrets) if snippet is not None else None
        raw["issue_text"] = issue_text

    cwe_record = record.get("issue_cwe")
    references = [_text(record.get("more_info"))]
    if isinstance(cwe_record, Mapping):
        references.append(_text(cwe_record.get("link")))
    severity = _text(record.get("issue_severity"))
    confidence = _text(record.get("issue_confidence"))
    return Finding(
        tool=TOOL,
        rule_id=test_id,
        title=_title(_text(record.get("test_name")), issue_text, test_id),
        message=issue_text,
        severity=Severity.from_tool(TOOL, severity),
        category=Category.SAST,
        confidence=Confidence.parse(confidence),
        location=Location(
            path=path,
            start_line=start_line,
            start_column=col + 1 if col is not None and col >= 0 else None,
            end_line=end_line,
            # 0-based exclusive -> 1-based exclusive, as semgrep and SARIF count
            end_column=end_col + 1 if end_col is not None and end_col >= 0 else None,
            snippet=snippet,
        ),
        cwe=tuple(c for c in parse_cwe(cwe_record) if c > 0),
        references=tuple(dict.fromkeys(r for r in references if r)),
        fix_hint=_FIX_HINTS.get(test_id),
        raw=raw,
    )
