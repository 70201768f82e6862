"""Open threats as core findings, so the build gate and the hub treat them like any other.

A threat finding points at the model line that declared its element.  Its fingerprint comes
from the threat id alone (rule id plus element ids), so it survives edits of the model file
that move lines or rename unrelated elements.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path, PurePosixPath

from turbosec.core.finding import Category, Confidence, Finding, Location
from turbosec.core.fingerprint import FINGERPRINT_VERSION
from turbosec.core.severity import Severity
from turbosec.threats.model import Analysis, AssessedThreat, SourceRef

TOOL = "threats"


def threat_fingerprint(threat_id: str) -> str:
    """The finding fingerprint of a threat: 32 hex digits, from the threat id only."""
    digest = hashlib.sha256()
    for part in (FINGERPRINT_VERSION, TOOL, threat_id):
        digest.update(part.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()[:32]


def model_file_path(analysis: Analysis, ref: SourceRef, root: Path | None = None) -> str:
    """The repository-relative POSIX path of the model file ``ref`` points into.

    ``ref.file`` is the main model path as given, or an include's path relative to the
    main model's directory.  With ``root``, an absolute path under it is made relative.
    """
    main = PurePosixPath(analysis.model.path.replace("\\", "/"))
    name = PurePosixPath(ref.file.replace("\\", "/"))
    if ref.file != analysis.model.path and not name.is_absolute():
        name = main.parent / name
    if root is not None and name.is_absolute():
        with contextlib.suppress(ValueError):
            name = PurePosixPath(Path(name).resolve().relative_to(root.resolve()).as_posix())
    text = name.as_posix()
    while text.startswith("./"):
        text = text[2:]
    return text


def _message(item: AssessedThreat) -> str:
    threat = item.threat
    explanation = threat.explanation.strip()
    if explanation and not explanation.endswith((".", "!", "?")):
        explanation += "."
    return f"{explanation} {item.reason}".strip()


def to_findings(
    analysis: Analysis,
    *,
    min_severity: Severity = Severity.INFO,
    root: Path | None = None,
) -> list[Finding]:
    """One finding per open (or in-progress) threat at or above ``min_severity``.

    Ordered by threat id.  ``root`` (optional) turns absolute model paths into
    repository-relative ones.
    """
    findings: list[Finding] = []
    for item in sorted(analysis.threats, key=lambda a: a.threat.id):
        threat = item.threat
        if not item.is_open or threat.severity < min_severity:
            continue
        findings.append(
            Finding(
                tool=TOOL,
                rule_id=threat.rule_id,
                title=threat.title,
                message=_message(item),
                severity=threat.severity,
                category=Category.THREAT,
                confidence=Confidence.MEDIUM,
                location=Location(
                    path=model_file_path(analysis, threat.ref, root),
                    start_line=threat.ref.line or None,
                ),
                cwe=threat.cwe,
                references=threat.references,
                fix_hint=threat.mitigation or None,
                raw={
                    "threat_id": threat.id,
                    "status": item.status.value,
                    "element": f"{threat.element_kind}:{threat.element_id}",
                    "reason": item.reason,
                },
                fingerprint=threat_fingerprint(threat.id),
            )
        )
    return findings
