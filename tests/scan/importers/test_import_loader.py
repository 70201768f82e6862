"""``load_import``: FILE or FORMAT:FILE, gzip, size limit, detection, malformed inputs."""

from __future__ import annotations

import contextlib
import gzip
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from importer_support import FIXTURES

from turbosec.core.errors import ParseError
from turbosec.scan.importers import loader, registry
from turbosec.scan.importers.loader import load_import, read_report, repo_path, split_spec
from turbosec.scan.target import Target

ALL_FIXTURES = {
    "semgrep.sarif": ("sarif", "semgrep", 3),
    "bandit.sarif": ("sarif", "bandit", 5),
    "checkov.sarif": ("sarif", "checkov", 10),
    "zizmor.sarif": ("sarif", "zizmor", 5),
    "gitleaks.sarif": ("sarif", "gitleaks", 2),
    "gitleaks.json": ("gitleaks", "gitleaks", 2),
    "gitleaks-git.json": ("gitleaks", "gitleaks", 2),
    "trivy-fs.json": ("trivy", "trivy", 7),
    "trivy-image.json": ("trivy", "trivy", 3),
    "osv-scanner.json": ("osv-scanner", "osv-scanner", 6),
}


@pytest.mark.parametrize("name", sorted(ALL_FIXTURES))
def test_format_is_detected_from_content(name: str, target: Target) -> None:
    fmt, tool, count = ALL_FIXTURES[name]
    document = orjson.loads((FIXTURES / name).read_bytes())
    matches = [n for n, cls in registry().items() if cls().detect(document)]
    assert matches == [fmt]
    imported = load_import(str(FIXTURES / name), target)
    assert (imported.tool, len(imported.findings)) == (tool, count)


def test_registry_names() -> None:
    assert sorted(registry()) == ["gitleaks", "osv-scanner", "sarif", "trivy"]


def test_format_prefix_forces_the_importer(target: Target, tmp_path: Path) -> None:
    path = FIXTURES / "trivy-fs.json"
    assert len(load_import(f"trivy:{path}", target).findings) == 7
    assert len(load_import(f"TRIVY:{path}", target).findings) == 7
    with pytest.raises(ParseError) as err:
        load_import(f"sarif:{path}", target)
    assert err.value.tool == "sarif"
    assert "SARIF no version is not supported" in str(err.value)
    with pytest.raises(ParseError) as err:
        load_import(f"osv-scanner:{path}", target)
    assert "results: expected a list, found null" in str(err.value)


def test_paths_with_colons_still_work(target: Target, tmp_path: Path) -> None:
    odd = tmp_path / "run:2024-01-02.json"  # prefix is not a format name
    shutil.copy(FIXTURES / "gitleaks.json", odd)
    assert load_import(str(odd), target).tool == "gitleaks"
    literal = tmp_path / "sarif:report.json"  # a file really named like FORMAT:FILE
    shutil.copy(FIXTURES / "trivy-fs.json", literal)
    assert load_import(str(literal), target).tool == "trivy"


def test_split_spec() -> None:
    assert split_spec("report.json") == (None, Path("report.json"))
    assert split_spec("osv-scanner:out/x.json") == ("osv-scanner", Path("out/x.json"))
    assert split_spec("C:\\reports\\x.json") == (None, Path("C:\\reports\\x.json"))
    with pytest.raises(ParseError, match="no file given after the format name"):
        split_spec("gitleaks:")
    with pytest.raises(ParseError, match="no file given"):
        split_spec("  ")


def test_gzip_is_transparent(target: Target, tmp_path: Path) -> None:
    plain = (FIXTURES / "zizmor.sarif").read_bytes()
    packed = tmp_path / "zizmor.sarif.gz"
    packed.write_bytes(gzip.compress(plain))
    imported = load_import(str(packed), target)
    assert (imported.tool, len(imported.findings)) == ("zizmor", 5)
    # several gzip members (e.g. concatenated chunks) make one document
    multi = tmp_path / "multi.json.gz"
    half = len(plain) // 2
    multi.write_bytes(gzip.compress(plain[:half]) + gzip.compress(plain[half:]))
    assert len(load_import(f"sarif:{multi}", target).findings) == 5


def test_truncated_gzip(target: Target, tmp_path: Path) -> None:
    packed = gzip.compress((FIXTURES / "trivy-fs.json").read_bytes())
    cut = tmp_path / "cut.json.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(ParseError, match="gzip data ends early"):
        load_import(str(cut), target)
    bad = tmp_path / "bad.json.gz"
    bad.write_bytes(b"\x1f\x8b" + b"\x00" * 40)
    with pytest.raises(ParseError, match="corrupt gzip data"):
        load_import(str(bad), target)


def test_size_limit(target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "MAX_IMPORT_BYTES", 2000)
    big = FIXTURES / "gitleaks.sarif"  # 50 kB
    with pytest.raises(ParseError) as err:
        load_import(str(big), target)
    assert "above the import limit of 2000 bytes" in str(err.value)
    assert str(big) in str(err.value)
    assert err.value.hint is not None and "split" in err.value.hint
    # a small gzip file that expands past the limit (a "zip bomb") is refused too
    bomb = tmp_path / "bomb.json.gz"
    bomb.write_bytes(gzip.compress(b"[" + b" " * 100_000 + b"]"))
    assert bomb.stat().st_size < 2000
    with pytest.raises(ParseError, match="decompressed report is larger than the import limit"):
        load_import(str(bomb), target)
    assert len(load_import(str(FIXTURES / "gitleaks.json"), target).findings) == 2


def test_byte_order_marks(target: Target, tmp_path: Path) -> None:
    text = (FIXTURES / "gitleaks.json").read_text()
    utf8 = tmp_path / "bom8.json"
    utf8.write_bytes(b"\xef\xbb\xbf" + text.encode())
    utf16 = tmp_path / "bom16.json"
    utf16.write_bytes(text.encode("utf-16"))  # what Windows PowerShell's `>` writes
    for path in (utf8, utf16):
        assert len(load_import(str(path), target).findings) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file is empty"),
        (b"  \n\t ", "file is empty"),
        (b'{"version": "2.1.0", "runs": [{"tool": {"driver": {"na', "JSON ends early"),
        (b"[{", "JSON ends early"),
        (b"RuleID,File\nx,y\n", "not valid JSON"),
        (b'{"a": 1,, "b": 2}', "not valid JSON"),
        (
            b'{"findings": []}',
            "not a report format turbosec can import (known formats: sarif, "
            "trivy, osv-scanner, gitleaks)",
        ),
        (b"42", "not a report format turbosec can import"),
        (
            b'{"version": "2.1.0", "runs": [], "SchemaVersion": 2, "Results": []}',
            "document fits more than one format (sarif, trivy)",
        ),
    ],
)
def test_malformed_files(content: bytes, message: str, target: Target, tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_bytes(content)
    with pytest.raises(ParseError) as err:
        load_import(str(path), target)
    text = str(err.value)
    assert message in text
    assert str(path) in text  # names the file
    if "format" in message:
        assert err.value.hint is not None and "FORMAT:FILE" in err.value.hint


def test_truncated_fixture(target: Target, tmp_path: Path) -> None:
    data = (FIXTURES / "osv-scanner.json").read_bytes()
    path = tmp_path / "osv.json"
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ParseError) as err:
        load_import(f"osv-scanner:{path}", target)
    assert "JSON ends early (truncated" in str(err.value)
    assert err.value.tool == "osv-scanner"


def test_missing_and_unreadable(target: Target, tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="no such file"):
        load_import(str(tmp_path / "nope.json"), target)
    with pytest.raises(ParseError, match="is a directory"):
        load_import(str(tmp_path), target)
    with pytest.raises(ParseError) as err:
        load_import(f"trivy:{tmp_path / 'nope.json'}", target)
    assert err.value.tool == "trivy"


def test_read_report_limit_argument(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(b"[]" + b" " * 10)
    assert read_report(path, limit=12).strip() == b"[]"
    with pytest.raises(ParseError, match="above the import limit of 11 bytes"):
        read_report(path, limit=11)


def test_repo_path(target: Target) -> None:
    assert repo_path(target, "./py/app.py") == "py/app.py"
    assert repo_path(target, "/ci/build/shop/web/package-lock.json") == "web/package-lock.json"
    assert repo_path(target, "C:\\build\\shop\\web\\package-lock.json") == "web/package-lock.json"
    assert repo_path(target, "/somewhere/else/nothing.txt") == "/somewhere/else/nothing.txt"
    assert repo_path(target, str(target.root / "py" / "app.py")) == "py/app.py"


# -- robustness: any damage to a real report is a ParseError, never a traceback -------------

_REPLACEMENTS = [None, True, -1, 0, 3.5, "", "x", [], {}, [None], {"x": None}, "9.9", 1e300]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node[:3]):
            out.extend(_paths(value, (*prefix, index)))
    return out


def _replace(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(node, dict):
        return {k: (_replace(v, rest, value) if k == head else v) for k, v in node.items()}
    return [(_replace(v, rest, value) if i == head else v) for i, v in enumerate(node)]


def _fuzz_cases() -> list[tuple[str, str, list[tuple[Any, ...]]]]:
    cases = []
    for name in (
        "semgrep.sarif",
        "bandit.sarif",
        "checkov.sarif",
        "zizmor.sarif",
        "gitleaks.sarif",
        "trivy-fs.json",
        "trivy-image.json",
        "gitleaks-git.json",
        "osv-scanner.json",
    ):
        fmt = ALL_FIXTURES[name][0]
        cases.append((name, fmt, _paths(orjson.loads((FIXTURES / name).read_bytes()))))
    return cases


@pytest.mark.parametrize(("name", "fmt", "paths"), _fuzz_cases(), ids=lambda v: str(v)[:20])
def test_damaged_reports_fail_cleanly(
    name: str, fmt: str, paths: list[tuple[Any, ...]], target: Target
) -> None:
    document = orjson.loads((FIXTURES / name).read_bytes())
    importer = registry()[fmt]()

    @settings(
        max_examples=300,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        st.lists(
            st.tuples(st.sampled_from(paths), st.sampled_from(_REPLACEMENTS)),
            min_size=1,
            max_size=3,
        )
    )
    def check(edits: list[tuple[tuple[Any, ...], Any]]) -> None:
        damaged = document
        for path, value in edits:
            try:
                damaged = _replace(damaged, path, value)
            except (KeyError, IndexError, TypeError):
                continue  # an earlier edit removed the path
        try:
            imported = importer.parse(damaged, name, target)
        except ParseError as err:
            message = str(err)
        else:
            message = name
            for finding in imported.findings:
                finding.to_dict()
        assert name in message  # a failure names the file

    check()


def test_load_import_never_raises_anything_but_parse_error(target: Target, tmp_path: Path) -> None:
    samples: list[Callable[[], bytes]] = [
        lambda: b"\x00\x01\x02",
        lambda: b"\xff\xfe\x00",
        lambda: b"\xef\xbb\xbf",
        lambda: "[\u00e9".encode(),
        lambda: b'{"SchemaVersion": 2, "Results": [{"Vulnerabilities": [{}]}]}',
        lambda: b'[{"RuleID": 1, "File": 2, "Secret": 3}]',
        lambda: b'{"results": [{"packages": [{"package": {}}]}]}',
        lambda: b'{"version": "2.1.0", "runs": [{"tool": {}}]}',
    ]
    for index, make in enumerate(samples):
        path = tmp_path / f"s{index}.json"
        path.write_bytes(make())
        with contextlib.suppress(ParseError):
            load_import(str(path), target)
