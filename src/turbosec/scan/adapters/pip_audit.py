"""pip-audit: known vulnerabilities in pinned Python requirements.

Runs ``pip-audit -r FILE ... --no-deps --disable-pip -f json`` on every
``requirements*.txt`` (and ``requirements/*.txt``) of the target.  ``--no-deps
--disable-pip`` audits exactly the pinned lines without building a virtual environment
and installing them; pip-audit then refuses unpinned requirements with an error.

pip-audit looks every package up in an online vulnerability service (PyPI's JSON API by
default), so the scanner is off unless enabled in the configuration.  It fails *open* by
itself in two ways that turbosec turns into a :class:`ScannerError`:

* when PyPI answers 404 (a mirror without the JSON API, or a package not published on
  PyPI) it marks the dependency ``skip_reason: "Dependency not found on PyPI and could not
  be audited"``, prints "No known vulnerabilities found" and exits 0;
* when the service is unreachable it exits 1 with a Python traceback on stderr and
  nothing on stdout (exit 1 is also its "vulnerabilities found" code).

Dependencies skipped for other reasons (editable or URL requirements) become warnings.
pip-audit reports no severity: findings are MEDIUM (turbosec's "unknown"), and the
cross-tool merge keeps the higher severity when the offline dependency audit reports the
same advisory.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from turbosec.core.config import ScannerConfig
from turbosec.core.errors import ParseError, ScannerError
from turbosec.core.finding import Category, Confidence, Finding, Location, Package, parse_cwe
from turbosec.core.fingerprint import canonical_package_name, primary_advisory
from turbosec.core.severity import Severity
from turbosec.scan.base import Invocation, Parsed, RunResult, Scanner, decode_json
from turbosec.scan.target import Target

TOOL = "pip-audit"
MAX_REQUEST_TIMEOUT_S = 15  # pip-audit's own default per HTTP request

_REQUIREMENTS = re.compile(r"(?:^|/)(?:requirements[^/]*\.txt|requirements/[^/]+\.txt)$", re.I)
# name, optional extras, operator, version -- one physical line of a requirements file
_REQ_LINE = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?\s*"
    r"(?:(?P<op>===|==|~=|>=|<=|!=|>|<|@)\s*(?P<version>[^\s;,\\#]*))?"
)
_CONSTRAINTS = re.compile(r"(?:^|/)constraints[^/]*\.txt$", re.I)
_UNAUDITED = ("could not be audited", "not found on pypi")
_NETWORK = (
    "ConnectionError",
    "ProxyError",
    "SSLError",
    "ConnectTimeout",
    "ReadTimeout",
    "Max retries exceeded",
    "NameResolutionError",
    "Failed to resolve",
    "Temporary failure in name resolution",
    "Connection refused",
    "Could not connect",
    "network may be blocking",
    "ServiceError",
)
_SERVICE_HINT = (
    "pip-audit looks every package up in an online vulnerability service (PyPI's JSON API "
    "by default), which is unreachable from here or does not know these packages; a build "
    "gate must not read that as 'no vulnerabilities'.  Use the offline dependency audit, "
    "which reads a local OSV database, or mark pip-audit optional "
    "([scanners.pip-audit] optional = true) or disable it (enabled = false)."
)


class PipAuditScanner(Scanner):
    name = "pip-audit"
    program = "pip-audit"
    category = Category.DEPENDENCY
    description = "Known vulnerabilities in pinned requirements (needs PyPI or OSV online)"
    enabled_by_default = False
    scope = "project"  # requirement files include each other (-r, -c)
    # The vulnerability service learns of new advisories every day: cached answers expire.
    cache_max_age_s = 6 * 3600.0

    def requirement_files(self, target: Target) -> list[str]:
        return [p for p in target.files if _REQUIREMENTS.search(p)]

    def inputs(self, target: Target) -> list[str]:
        """Requirement files and the constraint files they may include."""
        return [p for p in target.files if _REQUIREMENTS.search(p) or _CONSTRAINTS.search(p)]

    def applicable(self, target: Target) -> bool:
        return bool(self.requirement_files(target))

    def invocation(self, target: Target, config: ScannerConfig, executable: str) -> Invocation:
        argv: list[str] = [executable]
        for path in self.requirement_files(target):
            argv += ["-r", f"./{path}" if path.startswith("-") else path]  # never an option
        request_timeout = max(1, int(min(float(MAX_REQUEST_TIMEOUT_S), config.timeout)))
        argv += [
            "--no-deps",
            "--disable-pip",
            "-f",
            "json",
            "--desc",
            "on",
            "--aliases",
            "on",
            "--progress-spinner",
            "off",
            "--timeout",
            str(request_timeout),
            *config.args,
        ]
        return Invocation(
            argv=tuple(argv),
            cwd=target.root,
            env={"PIP_DISABLE_PIP_VERSION_CHECK": "1"},
            ok_returncodes=frozenset({0, 1}),
        )

    def parse(self, result: RunResult, target: Target) -> Parsed:
        stderr = result.stderr.decode("utf-8", "replace")
        if not result.stdout.strip():
            _raise_for_empty(result.returncode, stderr)
        data = _decode_json(result.stdout, "stdout")
        if not isinstance(data, Mapping) or not isinstance(data.get("dependencies"), list):
            raise ParseError(
                TOOL,
                "stdout",
                "expected an object with a 'dependencies' list "
                f"(pip-audit -f json), got {_shape(data)}",
            )
        locator = _Locator(target, self.requirement_files(target))
        findings: list[Finding] = []
        warnings: list[str] = []
        unaudited: list[str] = []
        reasons: list[str] = []
        for index, dep in enumerate(data["dependencies"]):
            where = f"dependency #{index}"
            if not isinstance(dep, Mapping) or not isinstance(dep.get("name"), str):
                raise ParseError(TOOL, "stdout", f"{where} is not an object with a 'name'")
            name = dep["name"]
            skip = dep.get("skip_reason")
            if skip is not None:
                text = str(skip)
                if any(marker in text.lower() for marker in _UNAUDITED):
                    unaudited.append(_name_version(name, text))
                    reasons.append(text)
                else:
                    warnings.append(f"{name} was not audited: {text}")
                continue
            version = dep.get("version")
            vulns = dep.get("vulns")
            if not isinstance(version, str) or not isinstance(vulns, list):
                raise ParseError(
                    TOOL, "stdout", f"{where} ({name}) lacks 'version' or a 'vulns' list"
                )
            for number, vuln in enumerate(vulns):
                findings.append(
                    _finding(name, version, vuln, locator, f"{where} ({name}) vuln #{number}")
                )
        if unaudited:
            listed = ", ".join(unaudited)
            raise ScannerError(
                TOOL,
                f"pip-audit could not audit {len(unaudited)} of {len(data['dependencies'])} "
                f"dependencies ({listed}): its vulnerability service answered "
                f"{reasons[0]!r}; those packages were NOT checked for vulnerabilities",
                hint=_SERVICE_HINT,
                stderr_tail=_tail(stderr),
            )
        return Parsed(findings=findings, warnings=warnings)


# ------------------------------------------------------------------------------ helpers
def _tail(stderr: str, lines: int = 15) -> str:
    return "\n".join(stderr.rstrip().splitlines()[-lines:])


def _shape(data: Any) -> str:
    if isinstance(data, Mapping):
        return f"an object with keys {sorted(data)[:8]}"
    return f"a {type(data).__name__}"


def _raise_for_empty(returncode: int, stderr: str) -> None:
    """Explain an empty stdout: the service was unreachable, pip-audit refused, or garbage."""
    if any(marker in stderr for marker in _NETWORK):
        # The useful part of a traceback is its last, unindented line(s).
        summary = [
            line
            for line in stderr.splitlines()
            if line.strip()
            and not line[0].isspace()
            and not line.startswith(("Traceback", "WARNING:", "During handling", "The above"))
        ]
        error = summary[-1] if summary else ""
        kind = re.match(r"^([\w.]+(?:Error|Exception|Timeout))\b", error)
        what = f" ({kind.group(1).rsplit('.', 1)[-1]})" if kind else ""
        raise ScannerError(
            TOOL,
            f"pip-audit could not reach its vulnerability service{what}; no dependency was audited",
            hint=_SERVICE_HINT,
            stderr_tail="\n".join(summary[-3:]) or _tail(stderr),
        )
    errors = [
        line.split(":", 2)[-1].strip() for line in stderr.splitlines() if line.startswith("ERROR:")
    ]
    if returncode != 0 and errors:
        message = "; ".join(errors)
        hint = "fix the requirements file named above"
        if "not pinned" in message:
            hint = (
                "pip-audit runs with --no-deps: pin every requirement to an exact version "
                "(for example with pip-compile), or disable pip-audit for this repository"
            )
        raise ScannerError(
            TOOL,
            f"pip-audit refused the requirements: {message}",
            hint=hint,
            stderr_tail=_tail(stderr),
        )
    raise ParseError(
        TOOL, "stdout", f"empty output (exit code {returncode}): pip-audit printed no JSON"
    )


def _decode_json(stdout: bytes, source: str) -> Any:
    return decode_json(TOOL, source, stdout)


def _name_version(name: str, skip_reason: str) -> str:
    match = re.search(r"\(([^()]+)\)\s*$", skip_reason)
    return f"{name} {match.group(1)}" if match else name


class _Locator:
    """Finds the requirements line that pins a package (PEP 503 names)."""

    def __init__(self, target: Target, files: list[str]) -> None:
        self.target = target
        self.files = files
        self._index: dict[str, list[tuple[str, int, int, str | None]]] | None = None

    def _build(self) -> dict[str, list[tuple[str, int, int, str | None]]]:
        index: dict[str, list[tuple[str, int, int, str | None]]] = {}
        for path in self.files:
            lines = self.target.lines(path) or []
            continued = False
            for number, raw in enumerate(lines, start=1):
                was_continued, continued = continued, raw.rstrip().endswith("\\")
                if was_continued:
                    continue  # a --hash or marker continuation of the previous line
                text = raw.split(" #", 1)[0]
                if not text.strip() or text.lstrip().startswith(("#", "-")):
                    continue
                match = _REQ_LINE.match(text)
                if not match:
                    continue
                pinned = match.group("version") if match.group("op") in ("==", "===") else None
                key = canonical_package_name("PyPI", match.group("name"))
                column = match.start("name") + 1
                index.setdefault(key, []).append((path, number, column, pinned))
        return index

    def locate(self, name: str, version: str) -> Location | None:
        if self._index is None:
            self._index = self._build()
        entries = self._index.get(canonical_package_name("PyPI", name), [])
        chosen = next((e for e in entries if e[3] is not None and _same(e[3], version)), None)
        if chosen is None and entries:
            chosen = entries[0]
        if chosen is None:
            if len(self.files) == 1:
                return Location(path=self.files[0])
            return None
        path, line, column, _ = chosen
        return Location(
            path=path,
            start_line=line,
            start_column=column,
            end_line=line,
            snippet=self.target.snippet(path, line),
        )


def _same(pinned: str, version: str) -> bool:
    def norm(v: str) -> str:
        return v.strip().lower().lstrip("v")

    return norm(pinned) == norm(version)


def _finding(name: str, version: str, vuln: Any, locator: _Locator, where: str) -> Finding:
    if not isinstance(vuln, Mapping) or not isinstance(vuln.get("id"), str):
        raise ParseError(TOOL, "stdout", f"{where} is not an object with an 'id'")
    vuln_id: str = vuln["id"]
    aliases = vuln.get("aliases") or []
    fixes = vuln.get("fix_versions") or []
    if not isinstance(aliases, list) or not isinstance(fixes, list):
        raise ParseError(TOOL, "stdout", f"{where}: 'aliases' or 'fix_versions' is not a list")
    advisories = tuple(dict.fromkeys([vuln_id, *(str(a) for a in aliases)]))
    fixed = tuple(str(v) for v in fixes)
    shown = primary_advisory(advisories) or vuln_id
    description = vuln.get("description")
    text = description.strip() if isinstance(description, str) else ""
    if not text or text == "N/A":
        text = f"{name} {version} is affected by {vuln_id}"
    if fixed:
        also = f" (fixed in {', '.join(fixed)})" if len(fixed) > 1 else ""
        fix_hint = f"upgrade {name} to >= {fixed[0]}{also}"
    else:
        fix_hint = (
            f"no fixed release of {name} is known: replace it, or accept the risk in the "
            "baseline with a reason"
        )
    return Finding(
        tool=TOOL,
        rule_id=vuln_id,
        title=f"{name} {version} has a known vulnerability ({shown})",
        message=text,
        severity=Severity.MEDIUM,
        category=Category.DEPENDENCY,
        confidence=Confidence.HIGH,
        location=locator.locate(name, version),
        cwe=parse_cwe(text),
        advisories=advisories,
        package=Package(ecosystem="PyPI", name=name, version=version, fixed_versions=fixed),
        references=(f"https://osv.dev/vulnerability/{vuln_id}",),
        fix_hint=fix_hint,
        raw={"name": name, "version": version, **dict(vuln)},
    )
