"""Shared fixtures for the importer tests: the fixture files and a target to resolve them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from importer_support import FIXTURES, SRC

from turbosec.scan.importers.base import Imported
from turbosec.scan.importers.loader import load_import
from turbosec.scan.target import Target


@pytest.fixture
def target() -> Target:
    return Target.open(SRC)


@pytest.fixture
def fixture_doc() -> Callable[[str], Any]:
    def read(name: str) -> Any:
        return orjson.loads((FIXTURES / name).read_bytes())

    return read


@pytest.fixture
def load(target: Target) -> Callable[[str], Imported]:
    def run(name: str) -> Imported:
        return load_import(str(FIXTURES / name), target)

    return run


@pytest.fixture
def write_doc(tmp_path: Path) -> Callable[[Any, str], Path]:
    """Write a (modified) document to a temporary file and return its path."""

    def write(document: Any, name: str = "report.json") -> Path:
        path = tmp_path / name
        path.write_bytes(orjson.dumps(document))
        return path

    return write
