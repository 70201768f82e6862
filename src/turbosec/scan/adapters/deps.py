"""deps: known vulnerabilities of pinned dependencies, offline, from a local OSV database.

Reads the project's lockfiles and manifests (requirements files, poetry.lock, uv.lock,
Pipfile.lock, pylock.toml, package-lock.json, yarn.lock, pnpm-lock.yaml) and, when
configured, the packages installed for a Python interpreter; matches every pinned
version against the advisory database (``turbosec db update``, or ``--db PATH``) with OSV
semantics; reports one finding per vulnerability (aliases merged) at the line that pins
the package, with the severity computed from the advisory's CVSS vector and the smallest
upgrade that fixes every advisory of that package.

It runs inside turbosec and never touches the network.  Unpinned and unauditable
requirements (ranges, editable installs, URLs) are reported as warnings naming the line:
they are not guessed.  A malformed lockfile, a missing or corrupt database fail the
scanner (exit 2), never pass it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from turbosec.core.config import Config, DepsConfig
from turbosec.core.errors import ScannerError, TurbosecError
from turbosec.core.finding import Category, Confidence, Finding, Location, Package, parse_cwe
from turbosec.core.severity import Severity
from turbosec.scan.base import InProcessScanner, Parsed
from turbosec.scan.deps import db
from turbosec.scan.deps.cvss import advisory_severity
from turbosec.scan.deps.environment import installed_packages
from turbosec.scan.deps.lockfiles import (
    MAX_LOCKFILE_BYTES,
    Dependency,
    LockfileError,
    ParsedLockfile,
    detect_format,
    parse_file,
)
from turbosec.scan.deps.match import Match, smallest_fix, vulnerabilities
from turbosec.scan.deps.osv import Advisory, canonical_name
from turbosec.scan.target import Target

TOOL = "deps"
MAX_INCLUDE_DEPTH = 20
MAX_MESSAGE_CHARS = 1500
MAX_REFERENCES = 8
_UNKNOWN_SEVERITY = Severity.MEDIUM  # an advisory without a score or a severity word


class DepsScanner(InProcessScanner):
    name = "deps"
    category = Category.DEPENDENCY
    description = "Known vulnerabilities in pinned dependencies, from a local OSV database"
    scope = "project"

    def __init__(self) -> None:
        self._source: db.AdvisorySource | None = None

    def inputs(self, target: Target) -> list[str]:
        return [p for p in target.files if detect_format(p) is not None]

    def applicable(self, target: Target) -> bool:
        return bool(self.inputs(target))

    def version(self) -> str:
        from turbosec import __version__

        if self._source is None:
            return __version__
        return f"{__version__} (advisories {self._source.version[:12]})"

    # ------------------------------------------------------------------------- scan
    def scan(self, target: Target, config: Config) -> Parsed:
        settings = config.deps
        warnings: list[str] = []
        try:
            deps = self._dependencies(target, settings, warnings)
            pinned = [d for d in deps if d.status == "pinned" and d.version]
            if not settings.include_dev:
                pinned = [d for d in pinned if not d.dev]
            if not pinned:
                return Parsed(findings=[], warnings=warnings)
            source = self._open(target, settings)
        except ScannerError:
            raise
        except TurbosecError as exc:
            raise ScannerError(
                TOOL,
                exc.message,
                where=f"scanner {TOOL}: {exc.where}" if exc.where else None,
                hint=exc.hint,
            ) from exc
        warnings.extend(_staleness(source, settings))
        findings: list[Finding] = []
        by_package: dict[tuple[str, str, str], list[Dependency]] = defaultdict(list)
        for dep in pinned:
            key = (dep.ecosystem, canonical_name(dep.ecosystem, dep.name), dep.version or "")
            by_package[key].append(dep)
        for (ecosystem, _canonical, version), sites in by_package.items():
            matches = vulnerabilities(source, ecosystem, sites[0].name, version)
            if not matches:
                continue
            upgrade = smallest_fix(matches)
            for dep in sites:
                for match in matches:
                    findings.append(_finding(dep, match, upgrade, len(matches), target))
        return Parsed(findings=findings, warnings=warnings)

    def _open(self, target: Target, settings: DepsConfig) -> db.AdvisorySource:
        if self._source is None:
            path: Path | None = None
            if settings.db:
                path = Path(settings.db).expanduser()
                if not path.is_absolute():
                    path = target.root / path
            self._source = db.open_source(path)
        return self._source

    def _dependencies(
        self, target: Target, settings: DepsConfig, warnings: list[str]
    ) -> list[Dependency]:
        out: list[Dependency] = []
        done: set[str] = set()
        queue: list[tuple[str, int]] = [(p, 0) for p in self.inputs(target)]
        while queue:
            path, depth = queue.pop(0)
            if path in done:
                continue
            done.add(path)
            parsed = _parse(target, path)
            out.extend(parsed.dependencies)
            warnings.extend(parsed.warnings)
            for included in parsed.includes:
                if depth + 1 > MAX_INCLUDE_DEPTH:
                    raise LockfileError(
                        path, None, "requirement files include each other too deeply"
                    )
                if included not in done:
                    queue.append((included, depth + 1))
        for dep in out:
            if dep.status == "unpinned":
                warnings.append(
                    f"{_where(dep)}: {dep.name} is not pinned to one version ({dep.reason}); "
                    "not audited: pin it (or audit a lockfile) to check it"
                )
            elif dep.status == "unauditable":
                warnings.append(
                    f"{_where(dep)}: {dep.name} cannot be audited ({dep.reason}): "
                    "it is not a released package version"
                )
        for python in settings.python:
            interpreter = python
            candidate = target.root / python
            if not Path(python).is_absolute() and candidate.exists():
                interpreter = str(candidate)
            out.extend(installed_packages(interpreter))
        return out


def _parse(target: Target, path: str) -> ParsedLockfile:
    file = target.root / path
    try:
        resolved = file.resolve()
        resolved.relative_to(target.root)
    except (OSError, ValueError) as exc:
        raise LockfileError(path, None, "is outside the scanned directory") from exc
    try:
        size = file.stat().st_size
        if size > MAX_LOCKFILE_BYTES:
            raise LockfileError(
                path, None, f"is {size:,} bytes; turbosec reads lockfiles up to "
                f"{MAX_LOCKFILE_BYTES:,} bytes"
            )  # fmt: skip
        raw = file.read_bytes()
    except FileNotFoundError as exc:
        raise LockfileError(
            path, None, "is included by another requirements file but does not exist"
        ) from exc
    except OSError as exc:
        raise LockfileError(path, None, f"cannot be read: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise LockfileError(path, line, "is not UTF-8 text") from exc
    fmt = detect_format(path) or "requirements"  # an included file keeps any name
    return parse_file(path, text, fmt)


def _where(dep: Dependency) -> str:
    return f"{dep.path}:{dep.line}" if dep.line else dep.path


def _staleness(source: db.AdvisorySource, settings: DepsConfig) -> list[str]:
    if source.updated_at is None:
        return []
    age = dt.datetime.now(dt.UTC) - source.updated_at
    days = age.total_seconds() / 86400
    if days <= settings.max_age_days:
        return []
    return [
        f"the advisory database is {days:.0f} days old (updated "
        f"{source.updated_at:%Y-%m-%d}); advisories published since are not checked: run "
        "'turbosec db update'"
    ]


def _severity(advisories: Sequence[Advisory]) -> Severity | None:
    """The highest severity any of the merged advisories gives; None when none rates it."""
    found = [s for a in advisories if (s := advisory_severity(a)) is not None]
    return max(found) if found else None


def _cwes(advisories: Sequence[Advisory]) -> tuple[int, ...]:
    """CWE numbers of the advisories (GitHub's records list them as ``cwe_ids``)."""
    ids: list[object] = []
    for adv in advisories:
        value = adv.database_specific.get("cwe_ids")
        if isinstance(value, list):
            ids.extend(value)
    return tuple(dict.fromkeys(parse_cwe(ids)))


def _message(match: Match) -> str:
    for adv in match.advisories:
        text = (adv.summary or adv.details).strip()
        if text:
            if len(text) > MAX_MESSAGE_CHARS:
                text = text[: MAX_MESSAGE_CHARS - 1].rstrip() + "…"
            return text
    return f"{match.name} {match.version} is affected by {match.id}"


def _fix_hint(dep: Dependency, match: Match, upgrade: str | None, count: int) -> str:
    own = ", ".join(match.fixed_versions)
    if upgrade is not None:
        scope = "this advisory" if count == 1 else f"all {count} advisories of this version"
        hint = f"upgrade {dep.name} to {upgrade} (the smallest release that fixes {scope})"
        if own and own != upgrade:
            hint += f"; {match.id} alone is fixed in {own}"
        return hint
    if own:
        return (
            f"{match.id} is fixed in {own}, but no single release fixes every advisory of "
            f"{dep.name} {dep.version}: upgrade to the newest release and re-scan"
        )
    return (
        f"no fixed release of {dep.name} is known for {match.id}: replace the package, or "
        "accept the risk with a reason and an expiry"
    )


def _finding(
    dep: Dependency, match: Match, upgrade: str | None, count: int, target: Target
) -> Finding:
    snippet = None
    if dep.line and not PurePosixPath(dep.path).is_absolute():
        lines = target.lines(dep.path)
        if lines and 0 < dep.line <= len(lines):
            snippet = lines[dep.line - 1].rstrip("\n")[:300]
    severity = _severity(match.advisories)
    message = _message(match)
    if severity is None:
        message += (
            "\n\n(Severity not rated: the advisory gives no CVSS vector or severity; "
            "reported as medium.)"
        )
    references = [f"https://osv.dev/vulnerability/{match.id}"]
    for adv in match.advisories:
        references.extend(r.url for r in adv.references if r.url)
    return Finding(
        tool=TOOL,
        rule_id=match.id,
        title=f"{dep.name} {dep.version} has a known vulnerability ({match.id})",
        message=message,
        severity=severity if severity is not None else _UNKNOWN_SEVERITY,
        category=Category.DEPENDENCY,
        confidence=Confidence.HIGH,
        location=Location(path=dep.path, start_line=dep.line or None, snippet=snippet),
        cwe=_cwes(match.advisories),
        advisories=match.ids,
        package=Package(
            ecosystem=dep.ecosystem,
            name=dep.name,
            version=dep.version,
            fixed_versions=match.fixed_versions,
        ),
        references=tuple(dict.fromkeys(references))[:MAX_REFERENCES],
        fix_hint=_fix_hint(dep, match, upgrade, count),
        raw={
            "ids": list(match.ids),
            "modified": [a.modified for a in match.advisories],
            "dev": dep.dev,
            "direct": dep.direct,
            "severity_rated": severity is not None,
        },
    )
