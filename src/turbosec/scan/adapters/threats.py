"""threats: the repository's threat model as part of the build gate.

When the repository holds a threat model (``threatmodel.yaml``, or ``threats.model`` in the
configuration), the gate derives its threats with the rule library, gathers the evidence of
the mitigations (``pytest --collect-only`` proves the tests exist; the JUnit reports named by
``threats.junit`` prove they passed) and reports every threat that is still open as a finding
of category ``threat`` at the model line that declared the element.  The policy then treats
them like any other finding: an open threat at or above the threshold fails the gate.

It runs inside turbosec.  A malformed model, an unknown rule attribute or evidence that
cannot be gathered (pytest cannot collect) fail the scanner, never pass it.  A JUnit pattern
that matches no file is a warning, and the mitigations it would have proven stay open.
"""

from __future__ import annotations

import datetime as dt
import glob
from pathlib import Path

from turbosec.core.config import Config
from turbosec.core.errors import ScannerError, TurbosecError
from turbosec.core.finding import Category
from turbosec.scan.base import InProcessScanner, Parsed
from turbosec.scan.target import Target

MAX_JUNIT_FILES = 200


class ThreatsScanner(InProcessScanner):
    name = "threats"
    category = Category.THREAT
    description = "Open threats of the repository's threat model (turbosec threats)"
    scope = "project"

    def __init__(self) -> None:
        self._model = "threatmodel.yaml"

    def configure(self, config: Config) -> None:
        self._model = config.threats.model

    def inputs(self, target: Target) -> list[str]:
        return [self._model] if self.applicable(target) else []

    def applicable(self, target: Target) -> bool:
        return (target.root / self._model).is_file()

    def scan(self, target: Target, config: Config) -> Parsed:
        from turbosec.threats.assess import analyze
        from turbosec.threats.findings import model_file_path, to_findings

        settings = config.threats
        root = target.root
        model = root / settings.model
        if not model.is_file():
            return Parsed(findings=[])
        warnings: list[str] = []
        junit: list[Path] = []
        for pattern in settings.junit:
            matched = sorted(glob.glob(str(root / pattern), recursive=True))
            if not matched:
                warnings.append(
                    f"no JUnit report matches {pattern!r}: mitigations cannot be "
                    "proven to pass, so they stay open"
                )
            junit.extend(Path(m) for m in matched if Path(m).is_file())
        if len(junit) > MAX_JUNIT_FILES:
            raise ScannerError(
                self.name,
                f"{len(junit)} JUnit reports match threats.junit (limit {MAX_JUNIT_FILES})",
                hint="narrow the patterns to the reports of the test run",
            )
        try:
            analysis = analyze(
                model,
                rule_paths=[root / r for r in settings.rules],
                builtin_rules=settings.builtin_rules,
                junit=junit,
                collect=settings.collect,
                root=root,
                today=dt.date.today(),
                display_name=Path(settings.model).as_posix(),
            )
        except TurbosecError as exc:
            raise ScannerError(
                self.name,
                exc.message,
                where=exc.where,
                hint=exc.hint or "run 'turbosec threats check' to see the problem",
            ) from exc
        warnings.extend(analysis.warnings)
        if analysis.evidence is not None:
            warnings.extend(analysis.evidence.warnings)
        for entry in analysis.stale_triage:
            where = f"{model_file_path(analysis, entry.ref, root)}:{entry.ref.line}"
            warnings.append(f"triage entry {entry.pattern!r} ({where}) matches no threat")
        return Parsed(findings=to_findings(analysis, root=root), warnings=warnings)
