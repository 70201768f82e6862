from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO_APP = REPO_ROOT / "examples" / "demo-app"
SHARED = REPO_ROOT.parent / "shared"
SARIF_SCHEMA = SHARED / "data" / "schemas" / "sarif-schema-2.1.0.json"
OSV_PYPI = SHARED / "data" / "osv-pypi" / "vulns"  # 2,661 real OSV advisories (YAML)


@pytest.fixture
def demo_app(tmp_path: Path) -> Path:
    """A private copy of the demo app (tests never write into the repository)."""
    dest = tmp_path / "demo-app"
    shutil.copytree(DEMO_APP, dest)
    return dest


@pytest.fixture(scope="session")
def sarif_schema() -> dict[str, object]:
    import json

    if not SARIF_SCHEMA.is_file():
        pytest.fail(
            f"the SARIF 2.1.0 schema is missing at {SARIF_SCHEMA}; the shared/ folder must "
            "sit next to the repository"
        )
    data: dict[str, object] = json.loads(SARIF_SCHEMA.read_text())
    return data
