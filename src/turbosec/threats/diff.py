"""What changed between two threat models: elements, threats, triage and evidence.

``turbosec threats diff OLD NEW`` compares two analyses (each a model with its derived and
assessed threats) and prints the difference as Markdown for a pull-request comment:

* elements (data, boundaries, components, flows, controls, triage entries) added, removed,
  or changed field by field -- a change of declaration line alone is not a change;
* threats added and removed (a threat id is built from the rule and element ids, so a
  threat appears or disappears only when its element or the facts it rests on do);
* threats whose severity, effective status or evidence (each test a mitigation relies on:
  passed, failed, missing...) changed.

:func:`load_model_at_revision` reads a model as it was in a git revision: the main file and
every include come from ``git show REV:PATH`` into a temporary directory that mirrors their
paths, and the loader reads them from there.

Everything is sorted so the same two analyses always give byte-identical Markdown.
"""

from __future__ import annotations

import dataclasses
import enum
import posixpath
import re
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from turbosec.core.errors import TurbosecError
from turbosec.report.markdown import escape_markdown
from turbosec.threats.errors import ModelError
from turbosec.threats.model import Analysis, AssessedThreat, ThreatModel, TriageEntry

GIT_TIMEOUT_S = 30.0
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_INCLUDES = 500
# A pull-request comment has a size limit: tables stop after this many rows.
MAX_ROWS = 200

ELEMENT_KINDS: tuple[str, ...] = ("data", "boundaries", "components", "flows", "controls")
_ELEMENT_LABELS = {
    "data": "Data",
    "boundaries": "Boundaries",
    "components": "Components",
    "flows": "Flows",
    "controls": "Controls",
    "triage": "Triage",
}


class RevisionError(TurbosecError):
    """A model could not be read from a git revision."""


@dataclass(frozen=True, slots=True, order=True)
class FieldChange:
    """One field of one element or threat: its old and new value as text."""

    field: str
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class ElementChange:
    id: str
    changes: tuple[FieldChange, ...]


@dataclass(frozen=True, slots=True)
class ElementDiff:
    """The difference for one kind of element (``components``, ``flows``...)."""

    kind: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[ElementChange, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


@dataclass(frozen=True, slots=True)
class ThreatSummary:
    id: str
    title: str
    severity: str
    status: str
    component_id: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ThreatChange:
    id: str
    title: str
    component_id: str
    changes: tuple[FieldChange, ...]


@dataclass(frozen=True, slots=True)
class ModelDiff:
    old_name: str
    new_name: str
    old_label: str  # where the old model came from (a path or REV:PATH)
    new_label: str
    elements: tuple[ElementDiff, ...]  # data, boundaries, components, flows, controls, triage
    threats_added: tuple[ThreatSummary, ...] = ()
    threats_removed: tuple[ThreatSummary, ...] = ()
    threats_changed: tuple[ThreatChange, ...] = ()
    open_before: int = 0
    open_after: int = 0

    def element(self, kind: str) -> ElementDiff:
        for item in self.elements:
            if item.kind == kind:
                return item
        raise KeyError(kind)

    @property
    def empty(self) -> bool:
        return (
            all(e.empty for e in self.elements)
            and not self.threats_added
            and not self.threats_removed
            and not self.threats_changed
        )


# --- comparing ----------------------------------------------------------------------------


def _text(value: Any) -> str:
    """A field value as stable, comparable text."""
    if value is None:
        return ""
    if isinstance(value, enum.Enum):
        label = getattr(value, "label", None)
        return str(label) if isinstance(label, str) else str(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, frozenset | set):
        return ", ".join(sorted(_text(v) for v in value))
    if isinstance(value, tuple | list):
        return ", ".join(_text(v) for v in value)
    return str(value)


_FIELD_NAMES = {"source": "from", "target": "to"}


def _element_fields(element: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for f in dataclasses.fields(element):
        if f.name in ("id", "ref"):
            continue
        out[_FIELD_NAMES.get(f.name, f.name)] = _text(getattr(element, f.name))
    return out


def _field_changes(old: Any, new: Any) -> tuple[FieldChange, ...]:
    before, after = _element_fields(old), _element_fields(new)
    return tuple(
        FieldChange(name, before.get(name, ""), after.get(name, ""))
        for name in sorted(set(before) | set(after))
        if before.get(name, "") != after.get(name, "")
    )


def _diff_mapping(kind: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> ElementDiff:
    added = tuple(sorted(set(new) - set(old)))
    removed = tuple(sorted(set(old) - set(new)))
    changed = []
    for key in sorted(set(old) & set(new)):
        changes = _field_changes(old[key], new[key])
        if changes:
            changed.append(ElementChange(key, changes))
    return ElementDiff(kind, added, removed, tuple(changed))


def _triage_by_pattern(entries: Iterable[TriageEntry]) -> dict[str, TriageEntry]:
    # The first entry for a pattern is the one that decides (later ones never match first).
    out: dict[str, TriageEntry] = {}
    for entry in entries:
        out.setdefault(entry.pattern, entry)
    return out


def _evidence(at: AssessedThreat) -> dict[str, str]:
    """``control / test`` -> outcome, for every test a threat's mitigation relies on."""
    out: dict[str, str] = {}
    for control in at.controls:
        if not control.tests:
            out[f"evidence {control.control_id}"] = "no tests"
        for test in control.tests:
            out[f"evidence {control.control_id} {test.node_id}"] = test.outcome.value
    return out


def _summary(at: AssessedThreat) -> ThreatSummary:
    t = at.threat
    return ThreatSummary(
        id=t.id,
        title=t.title,
        severity=t.severity.label,
        status=at.status.value,
        component_id=t.component_id,
        reason=at.reason,
    )


def _threat_changes(old: AssessedThreat, new: AssessedThreat) -> tuple[FieldChange, ...]:
    changes: list[FieldChange] = []
    pairs = {
        "severity": (old.threat.severity.label, new.threat.severity.label),
        "status": (old.status.value, new.status.value),
        "declared status": (
            _text(old.declared_status) or "none",
            _text(new.declared_status) or "none",
        ),
        "title": (old.threat.title, new.threat.title),
    }
    for name, (before, after) in pairs.items():
        if before != after:
            changes.append(FieldChange(name, before, after))
    ev_old, ev_new = _evidence(old), _evidence(new)
    for key in sorted(set(ev_old) | set(ev_new)):
        before, after = ev_old.get(key, "not relied on"), ev_new.get(key, "not relied on")
        if before != after:
            changes.append(FieldChange(key, before, after))
    return tuple(changes)


def diff_models(old: ThreatModel, new: ThreatModel) -> tuple[ElementDiff, ...]:
    """The element part of a diff (no threats): data, boundaries, components, flows,
    controls and triage entries."""
    pairs: tuple[tuple[str, Mapping[str, Any], Mapping[str, Any]], ...] = (
        ("data", old.data, new.data),
        ("boundaries", old.boundaries, new.boundaries),
        ("components", old.components, new.components),
        ("flows", old.flows, new.flows),
        ("controls", old.controls, new.controls),
        ("triage", _triage_by_pattern(old.triage), _triage_by_pattern(new.triage)),
    )
    return tuple(_diff_mapping(kind, before, after) for kind, before, after in pairs)


def diff_analyses(old: Analysis, new: Analysis) -> ModelDiff:
    """Compare two analyses: elements of their models, threats, statuses and evidence."""
    old_threats = {at.threat.id: at for at in old.threats}
    new_threats = {at.threat.id: at for at in new.threats}
    added = tuple(_summary(new_threats[i]) for i in sorted(set(new_threats) - set(old_threats)))
    removed = tuple(_summary(old_threats[i]) for i in sorted(set(old_threats) - set(new_threats)))
    changed = []
    for tid in sorted(set(old_threats) & set(new_threats)):
        changes = _threat_changes(old_threats[tid], new_threats[tid])
        if changes:
            t = new_threats[tid].threat
            changed.append(ThreatChange(tid, t.title, t.component_id, changes))
    return ModelDiff(
        old_name=old.model.name,
        new_name=new.model.name,
        old_label=old.model.path,
        new_label=new.model.path,
        elements=diff_models(old.model, new.model),
        threats_added=added,
        threats_removed=removed,
        threats_changed=tuple(changed),
        open_before=sum(1 for at in old.threats if at.is_open),
        open_after=sum(1 for at in new.threats if at.is_open),
    )


# --- Markdown -----------------------------------------------------------------------------


def md_escape(text: str, limit: int = 300) -> str:
    """Text safe inside a Markdown table cell: one inert line (no table, link, emphasis,
    HTML or @mention), at most ``limit`` characters."""
    return escape_markdown(str(text), limit=limit)


# Printable ASCII without space, backslash, backtick and pipe: safe inside a code span.
_CODE_SAFE = re.compile(r"^[!-~]+$")


def md_code(text: str) -> str:
    """An identifier as inline code (escaped text when it cannot be a code span)."""
    text = str(text)
    if not text:
        return ""
    if len(text) > 300 or not _CODE_SAFE.match(text) or any(c in text for c in "`|\\"):
        return md_escape(text)
    return f"`{text}`"


# Fields holding lists: a change is shown as the items removed (before) and added (after).
_LIST_FIELDS = frozenset({"properties", "controls", "data", "tests", "tickets", "mitigated_by"})


def _field_label(name: str) -> str:
    """``evidence CONTROL TEST`` with the ids as code; other field names as text."""
    if name.startswith("evidence "):
        return "evidence " + " ".join(md_code(part) for part in name.split(" ")[1:])
    return md_escape(name)


def _change_cells(change: FieldChange) -> list[str]:
    if change.field in _LIST_FIELDS:
        before = [i for i in change.old.split(", ") if i]
        after = [i for i in change.new.split(", ") if i]
        removed = [md_code(i) for i in before if i not in after]
        added = [md_code(i) for i in after if i not in before]
        return [md_escape(change.field), ", ".join(removed), ", ".join(added)]
    return [_field_label(change.field), md_escape(change.old), md_escape(change.new)]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], lines: list[str]) -> None:
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join("---" for _ in header) + "|")
    for row in rows[:MAX_ROWS]:
        lines.append("| " + " | ".join(row) + " |")
    if len(rows) > MAX_ROWS:
        lines.append("")
        lines.append(f"… and {len(rows) - MAX_ROWS} more.")
    lines.append("")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def render_diff_markdown(diff: ModelDiff) -> str:
    """The diff as Markdown for a pull-request comment (deterministic)."""
    lines: list[str] = []
    title = (
        diff.new_name if diff.new_name == diff.old_name else (f"{diff.old_name} → {diff.new_name}")
    )
    lines.append(f"## Threat model changes: {md_escape(title)}")
    lines.append("")
    if diff.old_label or diff.new_label:
        lines.append(f"Comparing {md_code(diff.old_label)} with {md_code(diff.new_label)}.")
        lines.append("")
    delta = diff.open_after - diff.open_before
    sign = "+" if delta > 0 else ""
    lines.append(
        f"**Threats:** {len(diff.threats_added)} added, {len(diff.threats_removed)} removed, "
        f"{len(diff.threats_changed)} changed. **Open threats:** {diff.open_before} → "
        f"{diff.open_after} ({sign}{delta})."
    )
    counts = []
    for e in diff.elements:
        if not e.empty:
            counts.append(
                f"{_ELEMENT_LABELS.get(e.kind, e.kind).lower()} {len(e.added)} added, "
                f"{len(e.removed)} removed, {len(e.changed)} changed"
            )
    lines.append(f"**Model:** {'; '.join(counts)}." if counts else "**Model:** no changes.")
    lines.append("")
    if diff.empty:
        lines.append("No changes to the threat model or its threats.")
        return "\n".join(lines).rstrip("\n") + "\n"

    if diff.threats_added:
        lines.append(f"### Threats added ({len(diff.threats_added)})")
        lines.append("")
        rows = [
            [md_code(t.id), md_escape(t.title), t.severity, t.status, md_code(t.component_id)]
            for t in _by_severity(diff.threats_added)
        ]
        _table(["threat", "title", "severity", "status", "component"], rows, lines)
    if diff.threats_removed:
        lines.append(f"### Threats removed ({len(diff.threats_removed)})")
        lines.append("")
        rows = [
            [md_code(t.id), md_escape(t.title), t.severity, t.status, md_code(t.component_id)]
            for t in _by_severity(diff.threats_removed)
        ]
        _table(["threat", "title", "severity", "was", "component"], rows, lines)
    if diff.threats_changed:
        lines.append(f"### Threats changed ({len(diff.threats_changed)})")
        lines.append("")
        rows = [[md_code(t.id), *_change_cells(c)] for t in diff.threats_changed for c in t.changes]
        _table(["threat", "what", "before", "after"], rows, lines)

    for e in diff.elements:
        if e.empty:
            continue
        label = _ELEMENT_LABELS.get(e.kind, e.kind)
        lines.append(f"### {label}")
        lines.append("")
        rows = [[md_code(i), "added", "", ""] for i in e.added]
        rows += [[md_code(i), "removed", "", ""] for i in e.removed]
        rows += [[md_code(c.id), *_change_cells(f)] for c in e.changed for f in c.changes]
        _table(["id", "change", "before (or removed)", "after (or added)"], rows, lines)
    return "\n".join(lines).rstrip("\n") + "\n"


_SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


def _by_severity(items: Iterable[ThreatSummary]) -> list[ThreatSummary]:
    return sorted(items, key=lambda t: (_SEVERITY_ORDER.get(t.severity, 9), t.id))


# --- models from git ----------------------------------------------------------------------


def _git(repo: Path, args: Sequence[str]) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", "-C", str(repo), *args],
            capture_output=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError:
        raise RevisionError(
            "git is not installed or not on PATH",
            where=str(repo),
            hint="install git, or compare two model files instead of revisions",
        ) from None
    except subprocess.TimeoutExpired:
        raise RevisionError(
            f"git {' '.join(args)} did not finish within {GIT_TIMEOUT_S:g} s", where=str(repo)
        ) from None


def _first_line(data: bytes) -> str:
    text = data.decode("utf-8", "replace").strip()
    return text.splitlines()[0] if text else ""


def _includes_of(text: str, label: str) -> list[str]:
    """The ``includes`` of a model file (only that key is read here; the loader checks all)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        raise ModelError(label, line, f"not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        return []
    includes = doc.get("includes") or []
    if not isinstance(includes, list):
        return []
    return [i for i in includes if isinstance(i, str)]


def load_model_at_revision(repo: Path, revision: str, path: str) -> ThreatModel:
    """The model at ``path`` (relative to the repository root) as it was in ``revision``.

    The main file and its includes are read with ``git show REV:PATH`` and written into a
    temporary directory with the same relative paths, which the loader then reads.  Errors
    name ``REV:PATH``.
    """
    if not revision or revision.startswith("-"):
        raise RevisionError(f"invalid revision {revision!r}", where=str(repo))
    rel = posixpath.normpath(PurePosixPath(path.replace("\\", "/")).as_posix()).lstrip("/")
    if rel.startswith("../") or rel in ("..", "."):
        raise RevisionError(
            f"model path {path!r} is outside the repository", where=f"{revision}:{path}"
        )
    probe = _git(repo, ["rev-parse", "--verify", "--quiet", "--end-of-options",
                        f"{revision}^{{commit}}"])  # fmt: skip
    if probe.returncode != 0:
        raise RevisionError(
            f"unknown revision {revision!r} in {Path(repo).resolve()}",
            where=f"{revision}:{rel}",
            hint="name a commit, branch or tag that exists (git log --oneline lists them); "
            "in CI, fetch enough history (for example fetch-depth: 0)",
        )
    commit = probe.stdout.decode().strip()

    with tempfile.TemporaryDirectory(prefix="turbosec-model-") as tmp:
        root = Path(tmp)
        pending = [(rel, "")]
        seen: set[str] = set()
        while pending:
            current, included_from = pending.pop(0)
            if current in seen:
                continue
            seen.add(current)
            if len(seen) > MAX_INCLUDES:
                raise RevisionError(
                    f"more than {MAX_INCLUDES} model files", where=f"{revision}:{rel}"
                )
            shown = _git(repo, ["show", f"{commit}:{current}"])
            if shown.returncode != 0:
                where = f"{revision}:{current}"
                if included_from:
                    message = (
                        f"{current} (included from {included_from}) does not exist in "
                        f"revision {revision}"
                    )
                else:
                    message = f"{current} does not exist in revision {revision}"
                raise RevisionError(
                    message,
                    where=where,
                    hint=f"git said: {_first_line(shown.stderr)}"
                    if shown.stderr
                    else "check the path (relative to the repository root)",
                )
            if len(shown.stdout) > MAX_FILE_BYTES:
                raise ModelError(
                    f"{revision}:{current}", 0, f"file larger than {MAX_FILE_BYTES} bytes"
                )
            target = root / current
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(shown.stdout)
            text = shown.stdout.decode("utf-8", "replace")
            for inc in _includes_of(text, f"{revision}:{current}"):
                joined = posixpath.normpath(posixpath.join(posixpath.dirname(current), inc))
                if joined.startswith("../") or joined == ".." or posixpath.isabs(inc):
                    continue  # outside the repository: the loader reports it
                pending.append((joined, current))
        from turbosec.threats.loader import load_model  # only needed here

        try:
            model = load_model(root / rel)
        except ModelError as exc:
            raise _relabel(exc, root, revision, posixpath.dirname(rel)) from None
        return _relabel_model(model, root, revision, rel)


def _relabel_path(text: str, root: Path, revision: str) -> str:
    prefix = str(root) + "/"
    if text.startswith(prefix):
        return f"{revision}:{text[len(prefix) :]}"
    return text


def _relabel(exc: ModelError, root: Path, revision: str, model_dir: str) -> ModelError:
    file = _relabel_path(exc.file, root, revision)
    if file == exc.file:  # relative to the main model's directory
        file = f"{revision}:{posixpath.join(model_dir, exc.file) if model_dir else exc.file}"
    message = exc.message.replace(str(root) + "/", f"{revision}:")
    hint = exc.hint.replace(str(root) + "/", f"{revision}:") if exc.hint else exc.hint
    return ModelError(file, exc.line, message, hint=hint)


def _relabel_model(model: ThreatModel, root: Path, revision: str, rel: str) -> ThreatModel:
    """The model with every temporary path replaced by ``REV:PATH``."""

    def ref(item: Any) -> Any:
        file = _relabel_path(item.ref.file, root, revision)
        if file == item.ref.file:
            return item
        return dataclasses.replace(item, ref=dataclasses.replace(item.ref, file=file))

    def each(mapping: Mapping[str, Any]) -> dict[str, Any]:
        return {key: ref(value) for key, value in mapping.items()}

    return dataclasses.replace(
        model,
        path=f"{revision}:{rel}",
        files=tuple(_relabel_path(f, root, revision) for f in model.files),
        data=each(model.data),
        boundaries=each(model.boundaries),
        components=each(model.components),
        flows=each(model.flows),
        controls=each(model.controls),
        triage=tuple(ref(t) for t in model.triage),
    )


__all__ = [
    "ElementChange",
    "ElementDiff",
    "FieldChange",
    "ModelDiff",
    "RevisionError",
    "ThreatChange",
    "ThreatSummary",
    "diff_analyses",
    "diff_models",
    "load_model_at_revision",
    "md_escape",
    "render_diff_markdown",
]
