"""Scanner adapters, one module each.  ``REGISTRY`` lists them in run order."""

from __future__ import annotations

from turbosec.scan.base import Scanner


def registry() -> dict[str, type[Scanner]]:
    from turbosec.scan.adapters.bandit import BanditScanner
    from turbosec.scan.adapters.checkov import CheckovScanner
    from turbosec.scan.adapters.deps import DepsScanner
    from turbosec.scan.adapters.detect_secrets import DetectSecretsScanner
    from turbosec.scan.adapters.pip_audit import PipAuditScanner
    from turbosec.scan.adapters.semgrep import SemgrepScanner
    from turbosec.scan.adapters.threats import ThreatsScanner
    from turbosec.scan.adapters.zizmor import ZizmorScanner

    scanners: list[type[Scanner]] = [
        SemgrepScanner,
        BanditScanner,
        DetectSecretsScanner,
        CheckovScanner,
        ZizmorScanner,
        DepsScanner,
        ThreatsScanner,
        PipAuditScanner,
    ]
    return {s.name: s for s in scanners}
