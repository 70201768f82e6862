"""Loading OSV records from a directory or a zip, safely."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.conftest import OSV_PYPI
from turbosec.scan.deps.osv import AdvisoryError, AdvisoryIndex, canonical_name, load_records

DATA = OSV_PYPI

RECORD = {
    "id": "TEST-2024-1",
    "modified": "2024-01-01T00:00:00Z",
    "aliases": ["CVE-2024-0001"],
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "Some_Pkg"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0"}]}],
        }
    ],
}


def _data() -> Path:
    if not DATA.is_dir():
        pytest.fail(f"OSV PyPI data set missing: expected YAML advisories under {DATA}")
    return DATA


def test_directory_and_zip_load_the_same_records(tmp_path: Path) -> None:
    src = _data()
    packages = ["pyyaml", "jinja2", "requests", "flask", "django"]
    archive = tmp_path / "pypi.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for pkg in packages:
            for f in sorted((src / pkg).glob("*.yaml")):
                zf.write(f, f"vulns/{pkg}/{f.name}")
    subset = tmp_path / "dir"
    for pkg in packages:
        (subset / pkg).mkdir(parents=True)
        for f in (src / pkg).glob("*.yaml"):
            (subset / pkg / f.name).write_bytes(f.read_bytes())
    from_dir = load_records(subset)
    from_zip = load_records(archive)
    assert len(from_dir) > 100
    assert sorted(from_dir, key=lambda a: a.id) == sorted(from_zip, key=lambda a: a.id)


def test_whole_data_set_loads_and_indexes() -> None:
    records = load_records(_data())
    assert len(records) == 2661
    index = AdvisoryIndex(records)
    ids = {a.id for a in index.lookup("PyPI", "PyYAML")}
    assert ids == {"PYSEC-2018-49", "PYSEC-2020-176", "PYSEC-2020-96", "PYSEC-2021-142"}
    assert index.lookup("pypi", "py_yaml") == ()  # PEP 503 does not drop separators
    assert sum(1 for a in records if a.withdrawn) == 10


def test_json_and_yml_records_in_nested_directories(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "x.json").write_text(json.dumps(RECORD))
    other = dict(RECORD, id="TEST-2024-2")
    import yaml

    (tmp_path / "a" / "y.yml").write_text(yaml.safe_dump(other))
    (tmp_path / "README.md").write_text("not a record")
    records = load_records(tmp_path)
    assert sorted(a.id for a in records) == ["TEST-2024-1", "TEST-2024-2"]
    assert records[0].aliases == ("CVE-2024-0001",)


@pytest.mark.parametrize(
    "member", ["../evil.json", "/abs.json", "vulns/../../evil.json", "C:/x.json"]
)
def test_zip_slip_member_names_are_rejected(tmp_path: Path, member: str) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ok.json", json.dumps(RECORD))
        zf.writestr(member, json.dumps(RECORD))
    with pytest.raises(AdvisoryError) as err:
        load_records(archive)
    text = str(err.value)
    assert "unsafe member name" in text
    assert member in text
    assert str(archive) in text
    assert not (tmp_path.parent / "evil.json").exists()


def test_oversized_member_is_rejected_by_declared_size(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.json", b" " * 200_000 + json.dumps(RECORD).encode())
    assert archive.stat().st_size < 5_000  # compresses very well: a small bomb
    with pytest.raises(AdvisoryError, match="larger than the 100000-byte limit") as err:
        load_records(archive, max_file_bytes=100_000)
    assert "big.json" in str(err.value)


def test_oversized_member_is_rejected_when_the_declared_size_lies(tmp_path: Path) -> None:
    archive = tmp_path / "liar.zip"
    payload = b" " * 200_000 + json.dumps(RECORD).encode()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("liar.json", payload)
    # Forge the declared uncompressed size (central directory and local header) to 100 bytes.
    raw = bytearray(archive.read_bytes())
    real = len(payload).to_bytes(4, "little")
    forged = (100).to_bytes(4, "little")
    count = 0
    pos = raw.find(real)
    while pos != -1:
        raw[pos : pos + 4] = forged
        count += 1
        pos = raw.find(real, pos + 4)
    assert count >= 2
    archive.write_bytes(bytes(raw))
    with pytest.raises(AdvisoryError) as err:
        load_records(archive, max_file_bytes=100_000)
    assert "liar.json" in str(err.value)


def test_total_size_limit(tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"r{i}.json").write_text(json.dumps(dict(RECORD, id=f"T-{i}")))
    with pytest.raises(AdvisoryError, match="total limit"):
        load_records(tmp_path, max_total_bytes=600)


def test_oversized_file_in_directory(tmp_path: Path) -> None:
    (tmp_path / "big.yaml").write_text("id: X\n" + "# pad\n" * 50_000)
    with pytest.raises(AdvisoryError, match="limit") as err:
        load_records(tmp_path, max_file_bytes=10_000)
    assert "big.yaml" in str(err.value)


NUMBER_VERSION = (
    "id: X\nmodified: '1'\naffected:\n- package: {ecosystem: PyPI, name: a}\n  versions: [1.10]\n"
)
BAD_EVENT = json.dumps(
    dict(
        RECORD,
        affected=[
            {
                "package": {"ecosystem": "PyPI", "name": "a"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"broken": "1"}]}],
            }
        ],
    )
)
PYTHON_TAG = "id: !!python/object/apply:os.system ['true']\nmodified: x\n"


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("bad.yaml", "id: [unclosed\n", "malformed OSV record"),
        ("bad.json", "{not json", "malformed OSV record"),
        ("list.yaml", "- 1\n- 2\n", "must be a mapping"),
        ("noid.json", json.dumps({"modified": "x"}), "id is missing"),
        ("num.yaml", NUMBER_VERSION, "quote it"),
        ("evt.json", BAD_EVENT, "exactly one of"),
        ("tag.yaml", PYTHON_TAG, "malformed OSV record"),
    ],
)
def test_malformed_records_name_the_file(
    tmp_path: Path, name: str, content: str, needle: str
) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / name).write_text(content)
    with pytest.raises(AdvisoryError) as err:
        load_records(tmp_path)
    text = str(err.value)
    assert needle in text
    assert str(tmp_path / "sub" / name) in text
    assert "Hint:" in text


def test_malformed_zip_member_names_archive_and_member(tmp_path: Path) -> None:
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("vulns/bad.yaml", "id: [unclosed\n")
    with pytest.raises(AdvisoryError) as err:
        load_records(archive)
    assert f"{archive}!vulns/bad.yaml" in str(err.value)


def test_not_a_directory_or_zip(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(AdvisoryError, match=r"not a directory or a \.zip"):
        load_records(tmp_path / "x.txt")
    (tmp_path / "broken.zip").write_bytes(b"PK not really")
    with pytest.raises(AdvisoryError, match="not a readable zip"):
        load_records(tmp_path / "broken.zip")


def test_canonical_names() -> None:
    assert canonical_name("PyPI", "Zope.Interface__x") == "zope-interface-x"
    assert canonical_name("npm", "@Scope/Left-Pad") == "@scope/left-pad"
    assert canonical_name("Go", "GitHub.com/X") == "GitHub.com/X"
