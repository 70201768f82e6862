"""Paths and helpers shared by the importer tests (a plain module: conftest is not imported)."""

from __future__ import annotations

import re
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "importers"
SRC = FIXTURES / "src"


def fake_secrets() -> dict[str, str]:
    """The fake credentials planted in the fixture repository (read, never repeated here)."""
    text = (SRC / "secrets" / "settings.py").read_text()
    found = dict(re.findall(r'^([A-Z_]+) = "([^"]+)"$', text, re.MULTILINE))
    return {"github": found["GITHUB_TOKEN"], "api_key": found["PAYMENTS_API_KEY"]}
