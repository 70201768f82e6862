"""Importers of reports produced elsewhere, one module each."""

from __future__ import annotations

from turbosec.scan.importers.base import Importer


def registry() -> dict[str, type[Importer]]:
    from turbosec.scan.importers.gitleaks import GitleaksImporter
    from turbosec.scan.importers.osv_scanner import OsvScannerImporter
    from turbosec.scan.importers.sarif import SarifImporter
    from turbosec.scan.importers.trivy import TrivyImporter

    importers: list[type[Importer]] = [
        SarifImporter,
        TrivyImporter,
        OsvScannerImporter,
        GitleaksImporter,
    ]
    return {i.name: i for i in importers}
