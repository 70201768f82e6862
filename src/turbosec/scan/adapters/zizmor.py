"""zizmor: security problems in GitHub Actions workflows, composite actions and Dependabot.

Runs ``zizmor --offline --format json`` on the explicit list of files from the target
(so exclusions and ``.gitignore`` are honoured exactly): ``.github/workflows/*.yml|yaml``,
``action.yml|yaml`` anywhere, and ``.github/dependabot.yml|yaml``.  ``--offline``
disables the audits that call the GitHub API (known-vulnerable-actions, impostor-commit,
ref-confusion...) and forbids any other network use.

Exit codes: 0 no findings; 10-14 findings whose highest severity is unknown (10),
informational (11), low (12), medium (13) or high (14); 1 a fatal error (for example a
missing input); 2 bad arguments; 3 "no inputs collected" -- every given file failed to
parse or validate, which turbosec reports as warnings, like a partly unparsable set.

Output: a JSON array of findings.  Each has ``ident`` (the audit), ``desc``, ``url``,
``determinations`` (``severity`` Unknown/Informational/Low/Medium/High, ``confidence``
Unknown/Low/Medium/High, ``persona``), ``locations`` (``symbolic``: file key, route,
annotation and kind Primary/Related/Hidden; ``concrete``: tree-sitter points with
**0-based** ``row``/``column``, end exclusive; ``comments``: the YAML comments on the
location's lines), ``fixes`` and ``ignored``.  Files zizmor cannot parse are reported only
as ``WARN`` lines on stderr.

Ignored findings: zizmor drops findings marked ``# zizmor: ignore[audit]`` unless run with
``--no-ignores``; then it prints them with ``"ignored": true`` and the comment among the
locations' ``comments``, and turbosec reports them with an inline
:class:`~turbosec.core.finding.Suppression` (the text after the marker is the reason), so
they stay visible without failing the gate.  But ``--no-ignores`` also disables the
``rules.<audit>.ignore`` lists of a zizmor configuration file -- and those findings come
out with ``"ignored": false``, indistinguishable from real ones.  So turbosec passes
``--no-ignores`` only when no zizmor configuration can apply: none found by zizmor's own
discovery (``zizmor.yml``/``zizmor.yaml`` in an input's directory, its ``.github`` child
or any parent, up to the first directory holding ``.git``), no ``ZIZMOR_CONFIG`` in the
environment, and no ``--config`` in ``scanners.zizmor.args`` (``--no-config`` turns
discovery off).  With a configuration, findings ignored by comments cannot be shown: zizmor
leaves them out.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from turbosec.core.config import ScannerConfig
from turbosec.core.errors import ParseError, ScannerError
from turbosec.core.finding import Category, Confidence, Finding, Location, Suppression
from turbosec.core.severity import Severity
from turbosec.scan.base import Invocation, Parsed, RunResult, Scanner, decode_json
from turbosec.scan.suppress import INLINE, parse_markers
from turbosec.scan.target import Target

TOOL = "zizmor"

_WORKFLOW = re.compile(r"(?:^|/)\.github/workflows/[^/]+\.ya?ml$")
_DEPENDABOT = re.compile(r"(?:^|/)\.github/dependabot\.ya?ml$")
_ACTION_NAMES = frozenset({"action.yml", "action.yaml"})
# zizmor discovers these next to each input and in its parents (and their .github/).
_CONFIG_NAMES = ("zizmor.yml", "zizmor.yaml")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_NO_INPUTS = "no inputs collected"

# CWE and a fix hint for the audits turbosec users meet most (zizmor gives neither).
_AUDITS: dict[str, tuple[tuple[int, ...], str]] = {
    "artipacked": (
        (522,),
        "set `persist-credentials: false` on actions/checkout unless a later step pushes",
    ),
    "excessive-permissions": (
        (250,),
        "declare `permissions:` with only the scopes each job needs (start from `{}`)",
    ),
    "dangerous-triggers": (
        (829,),
        "avoid pull_request_target/workflow_run, or never check out or run the "
        "contributed code in such a workflow",
    ),
    "template-injection": (
        (94,),
        "pass the expression through `env:` and use the shell variable, quoted, instead",
    ),
    "github-env": (
        (94,),
        "do not write attacker-controllable values to GITHUB_ENV or GITHUB_PATH",
    ),
    "unpinned-uses": ((829,), "pin the action to a full-length commit SHA"),
    "unpinned-images": ((829,), "pin the container image by its sha256 digest"),
    "hardcoded-container-credentials": (
        (798,),
        "move the registry password into a secret and reference it with ${{ secrets.* }}",
    ),
    "insecure-commands": ((94,), "remove ACTIONS_ALLOW_UNSECURE_COMMANDS"),
    "secrets-inherit": ((200,), "pass only the secrets the called workflow needs"),
    "overprovisioned-secrets": ((200,), "reference single secrets, not the whole `secrets`"),
    "unredacted-secrets": ((532,), "do not derive new values from secrets"),
    "bot-conditions": ((290,), "do not trust github.actor to identify a bot"),
    "cache-poisoning": ((349,), "do not restore caches in release workflows"),
    "known-vulnerable-actions": ((1395,), "upgrade the action to a fixed version"),
    "impostor-commit": ((829,), "pin to a commit that belongs to the action's repository"),
    "ref-confusion": ((829,), "pin to a commit SHA instead of an ambiguous ref"),
}


class ZizmorScanner(Scanner):
    name = "zizmor"
    program = "zizmor"
    category = Category.PIPELINE
    description = "GitHub Actions workflows, composite actions and Dependabot configuration"
    scope = "file"  # offline audits look at one workflow/action file at a time

    def config_files(self, target: Target, config: ScannerConfig) -> list[Path]:
        """zizmor's own configuration, which it discovers next to each input and above."""
        found = {p for p in target.files if p.rsplit("/", 1)[-1] in _CONFIG_NAMES}
        found.update(
            f"{d}{n}"
            for d in ("", ".github/")
            for n in _CONFIG_NAMES
            if (target.root / d / n).is_file()
        )
        out = [target.root / p for p in sorted(found)]
        above = config_file(target, self.inputs(target))  # may lie above the scanned root
        if above is not None and above not in out:
            out.append(above)
        if os.environ.get("ZIZMOR_CONFIG"):
            out.append(Path(os.environ["ZIZMOR_CONFIG"]))
        return out

    def inputs(self, target: Target) -> list[str]:
        """The repository files zizmor audits, in the target's (sorted) order."""
        return [
            p
            for p in target.files
            if _WORKFLOW.search(p) or _DEPENDABOT.search(p) or p.rsplit("/", 1)[-1] in _ACTION_NAMES
        ]

    def applicable(self, target: Target) -> bool:
        return bool(self.inputs(target))

    def invocation(self, target: Target, config: ScannerConfig, executable: str) -> Invocation:
        inputs = self.inputs(target)
        argv = [
            executable,
            "--offline",
            "--format",
            "json",
            "--no-progress",
            "--color",
            "never",
        ]
        if not _configured(target, inputs, config.args):
            argv.append("--no-ignores")  # report ignored findings: turbosec marks them
        argv += [
            *config.args,
            "--",  # file names are never options
            *inputs,
        ]
        return Invocation(
            argv=tuple(argv),
            cwd=target.root,
            env={"ZIZMOR_OFFLINE": "true"},
            ok_returncodes=frozenset({0, 3, 10, 11, 12, 13, 14}),
        )

    def parse(self, result: RunResult, target: Target) -> Parsed:
        stderr = _ANSI.sub("", result.stderr.decode("utf-8", "replace"))
        no_inputs = result.returncode == 3 and _NO_INPUTS in stderr
        warnings = _stderr_warnings(stderr, self.inputs(target), no_inputs)
        if result.returncode == 3:
            if no_inputs and not result.stdout.strip():
                warnings.append(
                    "no workflow, action or Dependabot file could be parsed; none was audited"
                )
                return Parsed(findings=[], warnings=warnings)
            raise ScannerError(
                TOOL,
                "stopped without auditing (exit code 3)",
                hint="run the command shown with -v by hand to see why",
                stderr_tail="\n".join(stderr.rstrip().splitlines()[-15:]),
            )
        data = _decode_json(result.stdout, "stdout")
        if not isinstance(data, list):
            raise ParseError(
                TOOL, "stdout", f"expected a JSON array of findings, got {type(data).__name__}"
            )
        findings = [_finding(item, target, f"finding #{i}") for i, item in enumerate(data)]
        return Parsed(findings=findings, warnings=warnings)


def config_file(target: Target, inputs: Iterable[str]) -> Path | None:
    """The zizmor configuration file zizmor would discover for ``inputs``, if any.

    zizmor's local discovery: from the directory of each input file upwards, a
    ``zizmor.yml``/``zizmor.yaml`` in the directory or in its ``.github`` child, stopping
    after the first directory that holds ``.git`` (or at the filesystem root).
    """
    seen: set[Path] = set()
    for rel in inputs:
        directory = (target.root / rel).parent
        while directory not in seen:
            seen.add(directory)
            for base in (directory, directory / ".github"):
                for name in _CONFIG_NAMES:
                    candidate = base / name
                    if candidate.is_file():
                        return candidate
            if (directory / ".git").exists() or directory.parent == directory:
                break
            directory = directory.parent
    return None


def _configured(target: Target, inputs: list[str], args: Iterable[str]) -> bool:
    """Whether a zizmor configuration (with possible ignore rules) applies to this run."""
    given = list(args)
    if "--no-config" in given:
        return False
    if any(a == "--config" or a.startswith("--config=") for a in given):
        return True
    if os.environ.get("ZIZMOR_CONFIG"):
        return True
    return config_file(target, inputs) is not None


def _ignore_marker(ident: str, locations: list[Any]) -> tuple[str, str | None] | None:
    """The ``zizmor: ignore[...]`` comment naming ``ident``: (marker text, reason)."""
    for loc in locations:
        concrete = loc.get("concrete") if isinstance(loc, Mapping) else None
        comments = concrete.get("comments") if isinstance(concrete, Mapping) else None
        if not isinstance(comments, list):
            continue
        for comment in comments:
            if not isinstance(comment, str):
                continue
            for marker in parse_markers(comment):
                if marker.kind == "zizmor" and ident in marker.ids:
                    return marker.text, marker.reason
    return None


def _stderr_warnings(stderr: str, inputs: list[str], nothing_audited: bool) -> list[str]:
    """Warnings about inputs zizmor skipped, naming the file where possible.

    zizmor logs ``WARN ... failed to parse input: <reason>`` (without the file name) or
    ``failed to validate file://<path> as workflow: ...``, and ``INFO ... completed <path>``
    for each audited input; the inputs never completed are the skipped ones.
    """
    reasons: list[str] = []
    completed: set[str] = set()
    for line in stderr.splitlines():
        text = line.strip()
        if text.startswith("WARN"):
            at = text.find("failed to ")
            reasons.append(text[at:] if at >= 0 else text[len("WARN") :].strip())
        elif text.startswith("INFO") and " completed " in text:
            completed.add(text.rsplit(" completed ", 1)[1].strip())
    if not completed and not nothing_audited:
        return [f"zizmor: {r}" for r in reasons]  # no progress lines (for example with -q)
    skipped = [p for p in inputs if p not in completed]
    out: list[str] = []
    unmatched: list[str] = []
    for path in skipped:
        named = next((r for r in reasons if f"file://{path} " in r or f" {path}:" in r), None)
        if named is not None:
            reasons.remove(named)
            out.append(f"did not audit {path}: {named}")
        else:
            unmatched.append(path)
    if len(unmatched) == len(reasons):
        out.extend(f"did not audit {p}: {r}" for p, r in zip(unmatched, reasons, strict=True))
    else:
        out.extend(f"did not audit {p}: zizmor could not parse or validate it" for p in unmatched)
        out.extend(f"zizmor: {r}" for r in reasons)
    return out


def _decode_json(stdout: bytes, source: str) -> Any:
    return decode_json(TOOL, source, stdout)


def _primary(locations: list[Any]) -> Mapping[str, Any] | None:
    def kind(loc: Any) -> str:
        symbolic = loc.get("symbolic") if isinstance(loc, Mapping) else None
        value = symbolic.get("kind") if isinstance(symbolic, Mapping) else None
        return value if isinstance(value, str) else ""

    usable = [loc for loc in locations if isinstance(loc, Mapping)]
    for wanted in ("Primary", None):
        for loc in usable:
            if wanted is None and kind(loc) != "Hidden":
                return loc
            if wanted is not None and kind(loc) == wanted:
                return loc
    return usable[0] if usable else None


def _key_path(key: Any) -> str | None:
    """The file of a symbolic key: ``{"Local": {"verbatim_path": "..."}}`` (remote: None)."""
    if not isinstance(key, Mapping):
        return None
    for variant in key.values():
        if isinstance(variant, Mapping):
            for field in ("verbatim_path", "given_path", "path"):
                value = variant.get(field)
                if isinstance(value, str) and value:
                    return value
    return None


def _point(value: Any) -> tuple[int, int] | None:
    if not isinstance(value, Mapping):
        return None
    row, column = value.get("row"), value.get("column")
    if isinstance(row, int) and isinstance(column, int) and row >= 0 and column >= 0:
        return row, column
    return None


def _route(symbolic: Mapping[str, Any]) -> str:
    route = symbolic.get("route")
    steps = route.get("route") if isinstance(route, Mapping) else None
    if not isinstance(steps, list):
        return ""
    out = ""
    for step in steps:
        if not isinstance(step, Mapping):
            continue
        if "Key" in step:
            out += ("." if out else "") + str(step["Key"])
        elif "Index" in step:
            out += f"[{step['Index']}]"
    return out


def _location(loc: Mapping[str, Any] | None, target: Target) -> Location | None:
    if loc is None:
        return None
    symbolic = loc.get("symbolic")
    if not isinstance(symbolic, Mapping):
        return None
    reported = _key_path(symbolic.get("key"))
    if reported is None:
        return None
    path = target.relpath(reported)
    concrete = loc.get("concrete")
    span = concrete.get("location") if isinstance(concrete, Mapping) else None
    start = _point(span.get("start_point")) if isinstance(span, Mapping) else None
    end = _point(span.get("end_point")) if isinstance(span, Mapping) else None
    if start is None:
        return Location(path=path)
    start_line, start_column = start[0] + 1, start[1] + 1
    end_line: int | None = None
    end_column: int | None = None
    if end is not None:
        if end[1] == 0 and end[0] > start[0]:
            end_line = end[0]  # ends at the start of the next line: the span's last line
        else:
            end_line, end_column = end[0] + 1, end[1] + 1  # 1-based, exclusive like SARIF
    return Location(
        path=path,
        start_line=start_line,
        start_column=start_column,
        end_line=end_line,
        end_column=end_column,
        snippet=target.snippet(path, start_line, end_line),
    )


def _detail(loc: Mapping[str, Any] | None) -> str:
    """What exactly is flagged: a sub-feature such as the injected expression."""
    if loc is None:
        return ""
    symbolic = loc.get("symbolic")
    kind = symbolic.get("feature_kind") if isinstance(symbolic, Mapping) else None
    if isinstance(kind, Mapping):
        sub = kind.get("Subfeature")
        fragment = sub.get("fragment") if isinstance(sub, Mapping) else None
        if isinstance(fragment, Mapping):
            for value in fragment.values():
                if isinstance(value, str) and value:
                    return value
        elif isinstance(fragment, str) and fragment:
            return fragment
    return ""


def _finding(item: Any, target: Target, where: str) -> Finding:
    if not isinstance(item, Mapping):
        raise ParseError(TOOL, "stdout", f"{where} is a {type(item).__name__}, not an object")
    ident = item.get("ident")
    if not isinstance(ident, str) or not ident:
        raise ParseError(TOOL, "stdout", f"{where} has no 'ident'")
    determinations = item.get("determinations")
    locations = item.get("locations")
    if not isinstance(determinations, Mapping) or not isinstance(locations, list):
        raise ParseError(TOOL, "stdout", f"{where} ({ident}) lacks 'determinations' or 'locations'")
    severity_word = determinations.get("severity")
    confidence_word = determinations.get("confidence")
    severity = Severity.from_tool(TOOL, severity_word if isinstance(severity_word, str) else None)
    confidence = Confidence.parse(
        confidence_word if isinstance(confidence_word, str) else None, Confidence.MEDIUM
    )
    desc = item.get("desc")
    title = desc if isinstance(desc, str) and desc else ident

    primary = _primary(locations)
    symbolic = primary.get("symbolic") if primary is not None else None
    annotation = symbolic.get("annotation") if isinstance(symbolic, Mapping) else None
    message = annotation if isinstance(annotation, str) and annotation else title
    detail = _detail(primary)
    if detail:
        message += f": {detail}"
    route = _route(symbolic) if isinstance(symbolic, Mapping) else ""
    if route:
        message += f" (at {route})"

    known = _AUDITS.get(ident)
    fixes = item.get("fixes")
    fix_list = [f for f in fixes if isinstance(f, Mapping)] if isinstance(fixes, list) else []
    fix_titles = [str(f["title"]) for f in fix_list if f.get("title")]
    if fix_titles:
        safe = any(f.get("disposition") == "safe" for f in fix_list)
        how = (
            "`zizmor --fix` applies this" if safe else "`zizmor --fix=all` applies this; review it"
        )
        fix_hint: str | None = "; ".join(fix_titles) + f" ({how})"
    elif known is not None:
        fix_hint = known[1]
    else:
        fix_hint = None
    url = item.get("url")
    location = _location(primary, target)
    suppression: Suppression | None = None
    if item.get("ignored") is True:
        found = _ignore_marker(ident, locations)
        text, reason = found if found is not None else (f"zizmor: ignore[{ident}]", None)
        where = location.path if location is not None else "zizmor"
        suppression = Suppression(kind=INLINE, reason=reason, source=f"{where}: {text}")
    return Finding(
        tool=TOOL,
        rule_id=ident,
        title=title,
        message=message,
        severity=severity,
        category=Category.PIPELINE,
        confidence=confidence,
        location=location,
        cwe=known[0] if known is not None else (),
        references=(url,) if isinstance(url, str) and url else (),
        fix_hint=fix_hint,
        raw=dict(item),
        suppression=suppression,
    )
