"""detect-secrets: hard-coded credentials (provider keys, private keys, keyword assignments,
high-entropy strings).

Runs ``detect-secrets scan --all-files --no-verify -- FILES`` on the explicit list of every
file of the target.  ``--all-files`` is needed because without it detect-secrets keeps only
files git tracks (untracked files named on the command line are silently skipped);
``--no-verify`` (``-n``) turns off the plugins' network calls that test a secret against
its provider.  ``--disable-filter detect_secrets.filters.allowlist.is_line_allowlisted``
keeps secrets on lines marked ``pragma: allowlist secret`` (or below ``pragma: allowlist
nextline secret``) in the output, which detect-secrets would otherwise drop silently:
turbosec marks them suppressed itself (:mod:`turbosec.scan.suppress`), so an allowlisted
secret is still reported (redacted, as always) but does not fail the gate.  The filter
exists under that name in Yelp's detect-secrets and in Bridgecrew's fork (verified with
``bc-detect-secrets`` 1.5.52: it disappears from ``filters_used`` and the allowlisted lines
are reported).  The installed program may be Yelp's detect-secrets or Bridgecrew's fork
(``bc-detect-secrets``, pulled in by checkov, which reports versions like ``1.5.52``);
both print the same document.

Exit code: 0 whenever the scan ran (findings or not); anything else is a failure.  Paths
that do not exist or cannot be decoded are skipped silently.

Output: ``{"version", "plugins_used", "filters_used", "results": {FILE: [record...]},
"generated_at"}``; a record holds ``type`` (the plugin's secret type such as
``AWS Access Key``), ``filename``, ``line_number`` (1-based), ``hashed_secret`` (an
**unsalted SHA-1** of the secret), ``is_verified`` and, in this fork, ``is_added`` /
``is_removed``.  The secret itself is not printed: turbosec finds it in the reported line
by hashing candidate substrings, then keeps only its redacted form (snippet, message) and
a salted hash (``secret_hash``).  The unsalted ``hashed_secret`` is dropped from ``raw``:
a SHA-1 of a short or guessable secret is as good as the secret.

Parallelism: detect-secrets starts a pool of one process per core by itself.  When the
runner schedules the work (``invocation(..., workers=N)``) it passes ``--cores N`` (a
main-parser option, before ``scan``) and may split a large file list into shards run side
by side; :meth:`DetectSecretsScanner.merge_outputs` joins their ``results`` (per file) into
the document of one run, which is then parsed once.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from turbosec.core.config import ScannerConfig
from turbosec.core.errors import ParseError
from turbosec.core.finding import Category, Confidence, Finding, Location
from turbosec.core.secrets import redact, redact_in, salted_hash
from turbosec.core.severity import Severity
from turbosec.scan.base import Invocation, Parsed, RunResult, Scanner, decode_json
from turbosec.scan.target import Target

TOOL = "detect-secrets"
SOURCE = "stdout"
#: detect-secrets' filter that drops lines marked ``pragma: allowlist secret``.
ALLOWLIST_FILTER = "detect_secrets.filters.allowlist.is_line_allowlisted"

#: Lines longer than this are not searched exhaustively for the hashed secret.
MAX_EXHAUSTIVE_LINE = 2048
#: The longest secret the exhaustive search tries (private-key markers, tokens, keys).
MAX_SECRET_LENGTH = 256
#: The most lines a multi-line secret (a private key body) is looked for across.
MAX_SECRET_LINES = 200
#: Longest redacted form of a secret put in a message (private keys are kilobytes).
MAX_SHOWN = 48
#: Snippets of long lines (minified code) are cut to this many characters around the secret.
MAX_SNIPPET = 240

_CRITICAL = Severity.CRITICAL
_HIGH = Severity.HIGH

# secret type -> (severity, confidence); unknown types (custom plugins) are HIGH / MEDIUM.
_TYPES: dict[str, tuple[Severity, Confidence]] = {
    "AWS Access Key": (_CRITICAL, Confidence.HIGH),
    "Azure Storage Account access key": (_CRITICAL, Confidence.HIGH),
    "Artifactory Credentials": (_CRITICAL, Confidence.MEDIUM),
    "Cloudant Credentials": (_CRITICAL, Confidence.MEDIUM),
    "Discord Bot Token": (_CRITICAL, Confidence.HIGH),
    "GitHub Token": (_CRITICAL, Confidence.HIGH),
    "GitLab Token": (_CRITICAL, Confidence.HIGH),
    "IBM Cloud IAM Key": (_CRITICAL, Confidence.MEDIUM),
    "IBM COS HMAC Credentials": (_CRITICAL, Confidence.MEDIUM),
    "Mailchimp Access Key": (_CRITICAL, Confidence.HIGH),
    "NPM tokens": (_CRITICAL, Confidence.HIGH),
    "OpenAI Token": (_CRITICAL, Confidence.HIGH),
    "Private Key": (_CRITICAL, Confidence.HIGH),
    "PyPI Token": (_CRITICAL, Confidence.HIGH),
    "SendGrid API Key": (_CRITICAL, Confidence.HIGH),
    "Slack Token": (_CRITICAL, Confidence.HIGH),
    "SoftLayer Credentials": (_CRITICAL, Confidence.MEDIUM),
    "Square OAuth Secret": (_CRITICAL, Confidence.HIGH),
    "Stripe Access Key": (_CRITICAL, Confidence.HIGH),
    "Telegram Bot Token": (_CRITICAL, Confidence.HIGH),
    "Twilio API Key": (_CRITICAL, Confidence.HIGH),
    "Basic Auth Credentials": (_HIGH, Confidence.MEDIUM),
    "JSON Web Token": (_HIGH, Confidence.MEDIUM),
    "Secret Keyword": (_HIGH, Confidence.MEDIUM),
    "Base64 High Entropy String": (Severity.MEDIUM, Confidence.LOW),
    "Hex High Entropy String": (Severity.LOW, Confidence.LOW),
    "Public IP (ipv4)": (Severity.LOW, Confidence.LOW),
}
_UNKNOWN_TYPE = (_HIGH, Confidence.MEDIUM)

_CWE_CREDENTIALS = 798  # Use of Hard-coded Credentials
_CWE_EXPOSURE = 200  # Exposure of Sensitive Information (public IP addresses)
_REFERENCES = (
    "https://cwe.mitre.org/data/definitions/798.html",
    "https://cheatsheetseries.owasp.org/cheatsheets/Secrets_Management_Cheat_Sheet.html",
)
_FIX_PROVIDER = (
    "Revoke and rotate this credential at its provider now (it is in the repository's "
    "history), then load it from the environment or a secrets manager instead of the code."
)
_FIX_GENERIC = (
    "If this is a real secret, rotate it and load it from the environment or a secrets "
    "manager; if it is not, mark the line with `# pragma: allowlist secret`."
)

# Detectors whose regex captures only the token's prefix (``(ghp|gho|...)_...``): the
# hashed "secret" is then ``ghp`` and the whole token is the run of token characters.
_PREFIX_CAPTURED = frozenset({"GitHub Token", "GitLab Token"})
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_\-]*")

_QUOTED = re.compile(r"""(["'`])(.*?)(?<!\\)\1""")
_TOKEN = re.compile(r"[^\s\"'`,;()\[\]{}<>]+")
_WORD = re.compile(r"[A-Za-z0-9_\-+/=.~:@]+")
_SPLIT = re.compile(r"[=:@/]")


class DetectSecretsScanner(Scanner):
    name = "detect-secrets"
    program = "detect-secrets"
    category = Category.SECRET
    description = "hard-coded credentials: provider keys and tokens, private keys, passwords"
    scope = "file"  # plugins and filters look at one file's lines at a time
    # For the runner's scheduling: seconds per process, seconds per MB (one core), and
    # invocation() takes ``workers``.
    startup_s = 0.3
    seconds_per_mb = 2.2
    accepts_workers = True

    def inputs(self, target: Target) -> list[str]:
        return list(target.files)

    def applicable(self, target: Target) -> bool:
        return bool(target.files)

    def invocation(
        self,
        target: Target,
        config: ScannerConfig,
        executable: str,
        workers: int | None = None,
    ) -> Invocation:
        """``workers``: how many processes its pool may use (None: one per core, its default)."""
        argv = [executable]
        if workers is not None:
            argv += ["--cores", str(max(1, workers))]
        argv += [
            "scan",
            "--all-files",  # also files git does not track yet
            "--no-verify",  # no network calls to providers
            "--disable-filter",  # report allowlisted lines: turbosec marks them suppressed
            ALLOWLIST_FILTER,
            *config.args,
            "--",  # file names are never options
            *target.files,
        ]
        return Invocation(argv=tuple(argv), cwd=target.root, ok_returncodes=frozenset({0}))

    def merge_outputs(self, outputs: Sequence[bytes]) -> bytes:
        """The document of one run over the files of several runs (shards of the list)."""
        merged: dict[str, Any] = {}
        results: dict[str, Any] = {}
        for index, stdout in enumerate(outputs):
            data = _decode_json(stdout)
            part = data.get("results")
            if not isinstance(part, Mapping):
                raise ParseError(TOOL, SOURCE, f"part {index + 1} has no 'results' object")
            for filename, entries in part.items():
                if filename in results:
                    raise ParseError(
                        TOOL, SOURCE, f"{filename!r} is reported by two parts of the run"
                    )
                results[filename] = entries
            if not merged:
                merged = {k: v for k, v in data.items() if k != "results"}
        merged["results"] = dict(sorted(results.items()))
        return orjson.dumps(merged)

    def parse(self, result: RunResult, target: Target) -> Parsed:
        data = _decode_json(result.stdout)
        results = data.get("results")
        if not isinstance(results, Mapping):
            raise ParseError(
                TOOL, SOURCE, "the document has no 'results' object (file name -> secrets)"
            )
        records: list[_Record] = []
        for filename, entries in results.items():
            if not isinstance(entries, list):
                raise ParseError(TOOL, SOURCE, f"results[{filename!r}] is not a list")
            for index, entry in enumerate(entries):
                records.append(_record(entry, str(filename), target, f"{filename}[{index}]"))

        # Every secret found in a file is redacted from every snippet of that file, and a
        # line holding a secret that could not be found is not shown at all.
        in_file: dict[str, set[str]] = defaultdict(set)
        lost: set[tuple[str, int]] = set()
        for rec in records:
            if rec.secret is not None:
                in_file[rec.path].add(rec.secret)
            else:
                lost.add((rec.path, rec.line))
        findings = [_finding(rec, _snippet(rec, in_file[rec.path], lost)) for rec in records]
        # The values go to the runner only, which redacts them from every other finding of
        # the run (a SAST rule may flag or quote the same line); they are never stored.
        revealed = sorted({rec.secret for rec in records if rec.secret}, key=len, reverse=True)
        return Parsed(findings=findings, secrets=revealed)


@dataclass
class _Record:
    raw: dict[str, Any]
    kind: str
    path: str
    line: int  # first line of the secret (the reported line unless found next to it)
    end_line: int  # last line: private key bodies span several lines
    verified: bool
    secret: str | None  # None: not found in the file
    text: str | None  # the whole line(s) holding the secret


def _decode_json(stdout: bytes) -> dict[str, Any]:
    data: dict[str, Any] = decode_json(TOOL, SOURCE, stdout, expect=dict)
    return data


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def _candidates(line: str) -> Iterator[str]:
    """Likely secrets first: quoted strings, tokens, their pieces."""
    stripped = line.strip()
    yield stripped
    for match in _QUOTED.finditer(line):
        yield match.group(2)
    for regex in (_TOKEN, _WORD):
        for match in regex.finditer(line):
            token = match.group(0)
            yield token
            yield token.rstrip(".,;:")
            yield from _SPLIT.split(token)


def locate_secret(line: str, hashed: str, *, exhaustive: bool = True) -> str | None:
    """The substring of ``line`` whose SHA-1 is ``hashed`` (detect-secrets' hash), or None.

    Likely candidates are tried first; with ``exhaustive`` every substring (up to
    ``MAX_SECRET_LENGTH`` characters, on lines up to ``MAX_EXHAUSTIVE_LINE``) follows.
    """
    wanted = hashed.lower()
    seen: set[str] = set()
    for candidate in _candidates(line):
        if candidate and candidate not in seen:
            seen.add(candidate)
            if _sha1(candidate) == wanted:
                return candidate
    if not exhaustive or len(line) > MAX_EXHAUSTIVE_LINE:
        return None
    # Exhaustive: every substring up to MAX_SECRET_LENGTH, hashing incrementally.
    encoded = [ch.encode("utf-8") for ch in line]
    for start in range(len(line)):
        digest = hashlib.sha1(usedforsecurity=False)
        for end in range(start, min(len(line), start + MAX_SECRET_LENGTH)):
            digest.update(encoded[end])
            if digest.copy().hexdigest() == wanted:
                return line[start : end + 1]
    return None


def _record(entry: Any, filename: str, target: Target, where: str) -> _Record:
    if not isinstance(entry, Mapping):
        raise ParseError(TOOL, SOURCE, f"{where} is a {type(entry).__name__}, not an object")
    kind = entry.get("type")
    line = entry.get("line_number")
    hashed = entry.get("hashed_secret")
    if not isinstance(kind, str) or not kind:
        raise ParseError(TOOL, SOURCE, f"{where} has no secret 'type'")
    if not isinstance(line, int) or isinstance(line, bool) or line < 1:
        raise ParseError(TOOL, SOURCE, f"{where} ({kind}) has no valid 'line_number'")
    if not isinstance(hashed, str) or not re.fullmatch(r"[0-9a-fA-F]{40}", hashed):
        raise ParseError(TOOL, SOURCE, f"{where} ({kind}) has no SHA-1 'hashed_secret'")
    reported = entry.get("filename")
    path = target.relpath(reported if isinstance(reported, str) and reported else filename)
    raw = {k: v for k, v in entry.items() if k != "hashed_secret"}
    record = _Record(
        raw=raw,
        kind=kind,
        path=path,
        line=line,
        end_line=line,
        verified=entry.get("is_verified") is True,
        secret=None,
        text=None,
    )
    content = target.lines(path)
    if content is None:
        return record
    if line <= len(content):
        record.text = content[line - 1]
    found = _find(content, line, hashed.lower())
    if found is not None:
        record.line, record.end_line, record.secret = found
        record.text = "\n".join(content[record.line - 1 : record.end_line])
        if record.line == record.end_line:
            record.secret = _whole_token(kind, record.secret, record.text)
    return record


def _find(content: list[str], line: int, hashed: str) -> tuple[int, int, str] | None:
    """Where the secret hashed as ``hashed`` is: (first line, last line, secret)."""
    # one line: the reported line first, then its neighbours (line splitting may differ)
    for number in (line, line - 1, line + 1, line - 2, line + 2):
        if 1 <= number <= len(content):
            secret = locate_secret(content[number - 1], hashed, exhaustive=number == line)
            if secret is not None:
                return number, number, secret
    # whole lines joined by newlines: the body of a private key
    for first in (line, line + 1, line - 1):
        if not 1 <= first <= len(content):
            continue
        digest = hashlib.sha1(usedforsecurity=False)
        for last in range(first, min(len(content), first + MAX_SECRET_LINES - 1) + 1):
            if last > first:
                digest.update(b"\n")
            digest.update(content[last - 1].encode("utf-8"))
            if last > first and digest.copy().hexdigest() == hashed:
                return first, last, "\n".join(content[first - 1 : last])
    return None


def _whole_token(kind: str, secret: str, line: str) -> str:
    """The whole token when the detector's match covers only part of it.

    GitHub and GitLab detectors hash just the captured prefix (``ghp`` of ``ghp_...``);
    other regexes stop after a fixed length inside a longer run of letters and digits
    (``sk_live_`` + 24 characters).  Redacting only the match would show the rest.
    """
    at = line.find(secret)
    if at < 0:
        return secret
    start, end = at, at + len(secret)
    if kind in _PREFIX_CAPTURED or (len(secret) < 8 and line[end : end + 1] in ("_", "-")):
        match = _TOKEN_CHARS.match(line, end)
        end = match.end() if match else end
    if secret[-1].isalnum():
        while end < len(line) and line[end].isalnum():
            end += 1
    if secret[0].isalnum():
        while start > 0 and line[start - 1].isalnum():
            start -= 1
    return line[start:end]


def _display(secret: str) -> str:
    """The redacted form for a message: at most ``MAX_SHOWN`` characters long."""
    shown = redact(secret)
    if len(shown) > MAX_SHOWN:
        shown = shown[:4] + "*" * (MAX_SHOWN - 6) + shown[-2:]
    return shown


def _mask(text: str) -> str:
    """Every visible character hidden; indentation kept."""
    body = text.lstrip()
    return text[: len(text) - len(body)] + re.sub(r"\S", "*", body)


def _shorten(text: str, focus: int) -> str:
    if len(text) <= MAX_SNIPPET:
        return text
    start = max(0, min(focus - MAX_SNIPPET // 3, len(text) - MAX_SNIPPET))
    end = start + MAX_SNIPPET
    return ("…" if start > 0 else "") + text[start:end] + ("…" if end < len(text) else "")


def _snippet(rec: _Record, secrets: set[str], lost: set[tuple[str, int]]) -> str | None:
    if rec.text is None:
        return None
    if any((rec.path, n) in lost for n in range(rec.line, rec.end_line + 1)):
        return _shorten(_mask(rec.text), 0)
    redacted = rec.text
    for secret in sorted(secrets, key=len, reverse=True):
        redacted = redact_in(redacted, secret)
    focus = rec.text.find(rec.secret) if rec.secret else 0
    return _shorten(redacted, max(focus, 0))


def _finding(rec: _Record, snippet: str | None) -> Finding:
    severity, confidence = _TYPES.get(rec.kind, _UNKNOWN_TYPE)
    if rec.verified:
        severity, confidence = Severity.CRITICAL, Confidence.HIGH
    start_column = end_column = None
    if rec.secret is not None and rec.text is not None:
        at = rec.text.find(rec.secret)
        if at >= 0:
            end = at + len(rec.secret)
            # 1-based columns within the first and the last line; the end is exclusive
            start_column = at - (rec.text.rfind("\n", 0, at) + 1) + 1
            end_column = end - (rec.text.rfind("\n", 0, end) + 1) + 1
        shown = _display(rec.secret)
        message = f"{rec.kind} hard-coded in the source: {shown}"
    else:
        message = f"{rec.kind} hard-coded in the source (the value could not be shown redacted)"
    if rec.verified:
        message += "; the provider confirmed it is live"
    provider = severity is Severity.CRITICAL
    slug = re.sub(r"[^a-z0-9]+", "-", rec.kind.lower()).strip("-") or "secret"
    return Finding(
        tool=TOOL,
        rule_id=slug,
        title=rec.kind,
        message=message,
        severity=severity,
        category=Category.SECRET,
        confidence=confidence,
        location=Location(
            path=rec.path,
            start_line=rec.line,
            start_column=start_column,
            end_line=rec.end_line,
            end_column=end_column,
            snippet=snippet,
        ),
        cwe=(_CWE_EXPOSURE,) if rec.kind == "Public IP (ipv4)" else (_CWE_CREDENTIALS,),
        references=_REFERENCES,
        fix_hint=_FIX_PROVIDER if provider else _FIX_GENERIC,
        secret_hash=salted_hash(rec.secret) if rec.secret is not None else None,
        raw=rec.raw,
    )
