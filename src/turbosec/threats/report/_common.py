"""What every report format shares: orderings, counts, grouping and clean text.

Every list a report shows is sorted here by a total order (ids break ties), so the same
:class:`Analysis` always renders byte-identically whatever order its inputs came in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from turbosec.core.severity import Severity
from turbosec.threats.model import (
    Analysis,
    AssessedThreat,
    Boundary,
    Component,
    ControlEvidence,
    TestOutcome,
    ThreatModel,
    ThreatStatus,
)

# Report order: what needs work first.
STATUS_ORDER: tuple[ThreatStatus, ...] = (
    ThreatStatus.OPEN,
    ThreatStatus.IN_PROGRESS,
    ThreatStatus.MITIGATED,
    ThreatStatus.ACCEPTED,
    ThreatStatus.TRANSFERRED,
    ThreatStatus.FALSE_POSITIVE,
)
_STATUS_RANK = {status: i for i, status in enumerate(STATUS_ORDER)}
SEVERITY_ORDER: tuple[Severity, ...] = tuple(sorted(Severity, reverse=True))

STATUS_LABELS: Mapping[ThreatStatus, str] = {
    ThreatStatus.OPEN: "Open",
    ThreatStatus.IN_PROGRESS: "In progress",
    ThreatStatus.MITIGATED: "Mitigated",
    ThreatStatus.ACCEPTED: "Accepted",
    ThreatStatus.TRANSFERRED: "Transferred",
    ThreatStatus.FALSE_POSITIVE: "False positive",
}
KIND_LABELS: Mapping[str, str] = {
    "external_entity": "external entity",
    "process": "process",
    "datastore": "data store",
    "queue": "queue",
}

# Terminal escape sequences (CSI and OSC), dropped whole.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")
# C0/C1 controls, DEL and the Unicode bidi controls ("Trojan Source"); a report never
# carries them, whatever the format.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def clean(text: object, *, limit: int | None = None) -> str:
    """Model text as one line: controls and line breaks become spaces, runs of whitespace
    collapse, and the text is cut to ``limit`` characters (with an ellipsis)."""
    value = str(text)
    if not value.isprintable():  # the common case, printable text, skips both patterns
        value = _CONTROL.sub(" ", _ANSI.sub("", value))
    value = " ".join(value.split())
    if limit is not None and len(value) > limit:
        value = value[: max(limit - 1, 0)].rstrip() + "…"
    return value


def cwe_url(cwe: int) -> str:
    return f"https://cwe.mitre.org/data/definitions/{int(cwe)}.html"


def capec_url(capec: int) -> str:
    return f"https://capec.mitre.org/data/definitions/{int(capec)}.html"


def threat_sort_key(item: AssessedThreat) -> tuple[int, int, str]:
    """Most severe first, then open before closed, then by id."""
    return (-int(item.threat.severity), _STATUS_RANK.get(item.status, 99), item.threat.id)


@dataclass(frozen=True, slots=True)
class Counts:
    """Threat counts by effective status and severity."""

    cells: Mapping[tuple[ThreatStatus, Severity], int]
    total: int
    open: int

    def get(self, status: ThreatStatus, severity: Severity) -> int:
        return self.cells.get((status, severity), 0)

    def by_status(self, status: ThreatStatus) -> int:
        return sum(self.get(status, sev) for sev in SEVERITY_ORDER)

    def by_severity(self, severity: Severity) -> int:
        return sum(self.get(status, severity) for status in STATUS_ORDER)

    def open_by_severity(self, severity: Severity) -> int:
        return self.get(ThreatStatus.OPEN, severity) + self.get(ThreatStatus.IN_PROGRESS, severity)


def count(threats: Iterable[AssessedThreat]) -> Counts:
    cells: dict[tuple[ThreatStatus, Severity], int] = {}
    total = 0
    opened = 0
    for item in threats:
        key = (item.status, item.threat.severity)
        cells[key] = cells.get(key, 0) + 1
        total += 1
        if item.is_open:
            opened += 1
    return Counts(cells, total, opened)


@dataclass(frozen=True, slots=True)
class ComponentGroup:
    """The threats of one component (``component`` is None when the model lacks the id)."""

    component_id: str
    component: Component | None
    threats: tuple[AssessedThreat, ...]


def group_by_component(analysis: Analysis) -> list[ComponentGroup]:
    """Threats grouped by their component, components in id order, threats by
    :func:`threat_sort_key`.  Components without threats are left out."""
    groups: dict[str, list[AssessedThreat]] = {}
    for item in analysis.threats:
        groups.setdefault(item.threat.component_id, []).append(item)
    components = analysis.model.components
    return [
        ComponentGroup(cid, components.get(cid), tuple(sorted(groups[cid], key=threat_sort_key)))
        for cid in sorted(groups)
    ]


def boundary_path(model: ThreatModel, boundary_id: str | None) -> list[Boundary]:
    """The boundaries enclosing ``boundary_id``, outermost first (cycle-safe)."""
    path: list[Boundary] = []
    seen: set[str] = set()
    current = boundary_id
    while current and current not in seen:
        seen.add(current)
        boundary = model.boundaries.get(current)
        if boundary is None:
            break
        path.append(boundary)
        current = boundary.parent
    path.reverse()
    return path


def boundary_label(model: ThreatModel, boundary_id: str | None) -> str:
    """``Outer > Inner`` by boundary names, or ``none``."""
    path = boundary_path(model, boundary_id)
    if not path:
        return clean(boundary_id) if boundary_id else "none"
    return " > ".join(clean(b.name or b.id) for b in path)


def control_kind(model: ThreatModel, control_id: str) -> str:
    control = model.controls.get(control_id)
    return control.kind if control is not None else ""


def evidence_summary(evidence: ControlEvidence) -> str:
    """``proven`` or why not, in a few words."""
    if evidence.proven:
        return "proven"
    if not evidence.tests:
        return "not proven: no test linked"
    bad = [t for t in evidence.tests if t.outcome is not TestOutcome.PASSED]
    outcomes = sorted({t.outcome.value for t in bad})
    return "not proven: " + ", ".join(outcomes)


def sorted_strings(values: Iterable[str]) -> list[str]:
    return sorted(set(values))


def stride_labels(values: Sequence[object]) -> list[str]:
    """STRIDE values as their names, in the order S, T, R, I, D, E."""
    order = {
        "spoofing": 0,
        "tampering": 1,
        "repudiation": 2,
        "information_disclosure": 3,
        "denial_of_service": 4,
        "elevation_of_privilege": 5,
    }
    names = {str(getattr(v, "value", v)) for v in values}
    return sorted(names, key=lambda n: (order.get(n, 99), n))
