"""Every file of the built-in pack loads, and every document in it becomes a rule."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from turbosec.watch.rules import BUILTIN_PREFIX, builtin_paths, load_rules

PACK = Path(__file__).resolve().parents[3] / "src" / "turbosec" / "watch" / "rules" / "pack"
PACK_FILES = sorted(PACK.glob("*.yml")) if PACK.is_dir() else []


def test_the_pack_loads_as_a_whole() -> None:
    rules = load_rules([], builtin=True)
    assert [p.name for p in builtin_paths()] == [p.name for p in PACK_FILES]
    assert len(rules.all_meta) == sum(
        sum(1 for doc in yaml.safe_load_all(p.read_text()) if doc) for p in PACK_FILES
    )
    assert all(meta.path.startswith(BUILTIN_PREFIX) for meta in rules.all_meta)


@pytest.mark.parametrize("path", PACK_FILES, ids=[p.name for p in PACK_FILES])
def test_pack_file(path: Path) -> None:
    documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    assert documents, f"{path.name} holds no rule"
    rules = load_rules([], builtin=True)
    mine = [m for m in rules.all_meta if m.path == BUILTIN_PREFIX + path.name]
    assert sorted(m.title for m in mine) == sorted(str(doc["title"]) for doc in documents)
    for meta in mine:
        assert meta.id and meta.title and meta.description, meta
