"""The advisory database: real downloads from a local HTTP server, real OSV data, real zips.

The 2,661-record PyPI data set is built into a database once per module (over HTTP); tests
that must change a database work on a copy of it.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import http.client
import io
import json
import os
import shutil
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import OSV_PYPI
from turbosec.core.errors import TurbosecError
from turbosec.scan.deps import db
from turbosec.scan.deps.match import vulnerabilities
from turbosec.scan.deps.osv import Advisory, AdvisoryError, AdvisoryIndex, load_records

DATA = OSV_PYPI
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")

NPM_RECORDS: list[dict[str, Any]] = [
    {
        "id": "GHSA-test-lodash-0001",
        "modified": "2024-03-01T00:00:00Z",
        "aliases": ["CVE-2021-23337"],
        "summary": "Command injection in lodash",
        "affected": [
            {
                "package": {"ecosystem": "npm", "name": "lodash"},
                "ranges": [
                    {"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "4.17.21"}]}
                ],
            }
        ],
    },
    {
        "id": "MAL-2024-0001",
        "modified": "2024-05-02T10:00:00Z",
        "summary": "Malicious code in evil-pkg",
        "affected": [{"package": {"ecosystem": "npm", "name": "evil-pkg"}, "versions": ["1.0.0"]}],
    },
    {
        "id": "GHSA-test-scope-0002",
        "modified": "2024-06-03T00:00:00Z",
        "withdrawn": "2024-07-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "npm", "name": "@Scope/Pkg"},
                "ranges": [
                    {"type": "SEMVER", "events": [{"introduced": "1.0.0"}, {"fixed": "1.2.0"}]}
                ],
            }
        ],
    },
]


# ---------------------------------------------------------------- helpers (also used by CLI tests)


def write_zip(path: Path, members: Mapping[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def npm_zip(path: Path, records: list[dict[str, Any]] = NPM_RECORDS) -> Path:
    return write_zip(path, {f"{r['id']}.json": json.dumps(r, indent=2).encode() for r in records})


def pypi_zip(path: Path, packages: list[str] | None = None) -> Path:
    """The PyPI data set (or some packages of it) as an OSV export zip."""
    if not DATA.is_dir():
        pytest.fail(f"OSV PyPI data set missing: expected YAML advisories under {DATA}")
    path.parent.mkdir(parents=True, exist_ok=True)
    files = (
        sorted(DATA.rglob("*.yaml"))
        if packages is None
        else sorted(f for p in packages for f in (DATA / p).glob("*.yaml"))
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in files:
            zf.write(f, f.relative_to(DATA).as_posix())
    return path


class _Handler(SimpleHTTPRequestHandler):
    """Serves files, plus misbehaving answers under /truncated/, /html/, /slow/, /redirect/."""

    def do_GET(self) -> None:
        if self.path.startswith("/truncated/"):
            body = (Path(self.directory) / self.path.removeprefix("/truncated/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if self.path.startswith("/html/"):
            body = b"<!DOCTYPE html>\n<html><body><h1>Service unavailable</h1></body></html>\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.path.startswith("/slow/"):
            time.sleep(1.0)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith("/redirect/"):
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(root: Path) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 serving ``root``; yields its base address."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.MonkeyPatch.context() as mp:
            for var in PROXY_VARS:
                mp.delenv(var, raising=False)
            yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def snapshot(db_dir: Path) -> dict[str, bytes]:
    """Every file under a database directory and its content (the lock file aside)."""
    return {
        p.relative_to(db_dir).as_posix(): p.read_bytes()
        for p in sorted(db_dir.rglob("*"))
        if p.is_file() and p.name != db.LOCK_FILE
    }


def by_id(advisories: tuple[Advisory, ...]) -> list[Advisory]:
    return sorted(advisories, key=lambda a: a.id)


# ---------------------------------------------------------------- module fixtures


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("served")
    pypi_zip(root / "PyPI" / "all.zip")
    npm_zip(root / "npm" / "all.zip")
    return root


@pytest.fixture(scope="module")
def base_url(served: Path) -> Iterator[str]:
    with serve(served) as url:
        yield url


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, base_url: str) -> tuple[Path, list[str]]:
    """The whole PyPI data set and the npm records, downloaded and built once."""
    db_dir = tmp_path_factory.mktemp("built") / "osv"
    messages: list[str] = []
    db.update(
        db_dir,
        ecosystems=["PyPI", "npm"],
        url_template=base_url + "/{ecosystem}/all.zip",
        timeout=10,
        progress=messages.append,
    )
    return db_dir, messages


@pytest.fixture(scope="module")
def reference(served: Path) -> AdvisoryIndex:
    return AdvisoryIndex(load_records(served / "PyPI" / "all.zip"))


@pytest.fixture
def copy(built: tuple[Path, list[str]], tmp_path: Path) -> Path:
    """A private copy of the built database, for tests that try to change it."""
    dest = tmp_path / "osv"
    shutil.copytree(built[0], dest)
    return dest


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)


def assert_untouched(db_dir: Path, before: dict[str, bytes]) -> None:
    """The failed update changed nothing and left nothing behind; the database answers."""
    assert snapshot(db_dir) == before
    leftovers = [p.name for p in db_dir.iterdir() if p.name.startswith((".tmp", ".current-"))]
    assert leftovers == []
    source = db.open_source(db_dir)
    assert "PYSEC-2020-96" in {a.id for a in source.lookup("PyPI", "PyYAML")}


# ---------------------------------------------------------------- building and reading


def test_update_over_http_builds_the_database(
    built: tuple[Path, list[str]], served: Path, base_url: str
) -> None:
    db_dir, messages = built
    info = db.status(db_dir)
    assert info.exists
    assert info.counts == {"PyPI": 2661, "npm": 3}
    pypi = info.ecosystems[0]
    archive = (served / "PyPI" / "all.zip").read_bytes()
    assert pypi.url == f"{base_url}/PyPI/all.zip"
    assert pypi.sha256 == hashlib.sha256(archive).hexdigest()
    assert pypi.bytes == len(archive)
    assert pypi.seconds > 0
    assert info.updated_at is not None
    assert abs((datetime.now(UTC) - info.updated_at).total_seconds()) < 600
    assert info.size_bytes > 0
    generations = [p.name for p in db_dir.iterdir() if p.name.startswith("gen-")]
    assert generations == [info.generation]
    assert json.loads((db_dir / "current").read_text())["generation"] == info.generation
    assert not [p for p in db_dir.iterdir() if p.name.startswith(".tmp")]
    assert any(m.startswith("PyPI: downloading http://127.0.0.1") for m in messages)
    assert "PyPI: 2,661 records indexed" in " ".join(messages)


def test_lookup_answers_like_the_in_memory_index(
    built: tuple[Path, list[str]], reference: AdvisoryIndex
) -> None:
    source = db.open_source(built[0])
    assert isinstance(source, db.DatabaseSource)
    names = sorted({a.name for adv in reference.advisories for a in adv.affected})
    assert len(names) > 600
    for name in [*names, "PyYAML", "Jinja2", "no-such-package"]:
        assert by_id(source.lookup("PyPI", name)) == by_id(reference.lookup("PyPI", name)), name
    ids = {a.id for a in source.lookup("pypi", "PyYAML")}
    assert ids == {"PYSEC-2018-49", "PYSEC-2020-176", "PYSEC-2020-96", "PYSEC-2021-142"}
    matches = vulnerabilities(source, "PyPI", "pyyaml", "5.3")
    assert "PYSEC-2020-96" in {m.id for m in matches}
    assert vulnerabilities(source, "PyPI", "pyyaml", "6.0.1") == []


def test_npm_lookup_and_metadata(built: tuple[Path, list[str]]) -> None:
    source = db.open_source(built[0])
    assert [a.id for a in source.lookup("npm", "LODASH")] == ["GHSA-test-lodash-0001"]
    withdrawn = source.lookup("npm", "@scope/pkg")
    assert [(a.id, a.withdrawn) for a in withdrawn] == [
        ("GHSA-test-scope-0002", "2024-07-01T00:00:00Z")
    ]
    assert source.lookup("PyPI", "lodash") == ()
    assert source.ecosystems == {"PyPI": 2661, "npm": 3}
    assert len(source.version) == 16
    assert source.description.startswith(f"turbosec database {built[0]} (PyPI: 2,661 advisories")
    assert "npm: 3 advisories; updated 20" in source.description


def test_open_source_default_location(
    built: tuple[Path, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TURBOSEC_DB_DIR", str(built[0]))
    assert db.default_db_dir() == built[0]
    assert db.open_source(None).ecosystems == {"PyPI": 2661, "npm": 3}
    monkeypatch.setenv("TURBOSEC_DB_DIR", str(tmp_path / "nothing"))
    with pytest.raises(AdvisoryError) as err:
        db.open_source(None)
    assert "turbosec db update" in (err.value.hint or "")


def test_default_db_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TURBOSEC_DB_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert db.default_db_dir() == tmp_path / "cache" / "turbosec" / "osv"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # ignored, as the XDG spec says
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert db.default_db_dir() == tmp_path / "home" / ".cache" / "turbosec" / "osv"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert db.default_db_dir() == tmp_path / "home" / ".cache" / "turbosec" / "osv"


def test_open_source_on_records_directory_and_zip(tmp_path: Path) -> None:
    records = tmp_path / "records"
    for pkg in ("pyyaml", "jinja2"):
        shutil.copytree(DATA / pkg, records / pkg)
    source = db.open_source(records)
    assert isinstance(source, db.RecordsSource)
    assert source.updated_at is None
    assert {a.id for a in source.lookup("PyPI", "pyyaml")} >= {"PYSEC-2020-96"}
    count = len(list(records.rglob("*.yaml")))
    assert source.ecosystems == {"PyPI": count}
    assert source.description == f"OSV records {records} (PyPI: {count:,} advisories)"
    assert db.open_source(records).version == source.version
    first = sorted(records.rglob("*.yaml"))[0]
    first.write_text(first.read_text().replace("details:", "summary: changed\ndetails:", 1))
    assert db.open_source(records).version != source.version

    archive = pypi_zip(tmp_path / "some.zip", ["pyyaml"])
    zipped = db.open_source(archive)
    assert isinstance(zipped, db.RecordsSource)
    assert zipped.version == hashlib.sha256(archive.read_bytes()).hexdigest()[:16]
    assert len(zipped.lookup("PyPI", "PyYAML")) == 4


def test_open_source_rejects_what_is_not_advisories(tmp_path: Path) -> None:
    with pytest.raises(AdvisoryError, match="not found") as err:
        db.open_source(tmp_path / "missing")
    assert err.value.hint == db.NO_DB_HINT
    (tmp_path / "empty").mkdir()
    with pytest.raises(AdvisoryError, match="holds no OSV records"):
        db.open_source(tmp_path / "empty")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(AdvisoryError, match="not an advisory database"):
        db.open_source(tmp_path / "notes.txt")
    (tmp_path / "fake.zip").write_bytes(b"<html>not a zip</html>")
    with pytest.raises(AdvisoryError, match="zip"):
        db.open_source(tmp_path / "fake.zip")
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / db.LOCK_FILE).touch()
    with pytest.raises(AdvisoryError, match="no finished generation"):
        db.open_source(unfinished)


def test_corrupt_databases_are_reported(copy: Path) -> None:
    name = json.loads((copy / "current").read_text())["generation"]
    index = copy / name / db.INDEX_FILE
    index.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(AdvisoryError, match="unreadable") as err:
        db.open_source(copy)
    assert "turbosec db update" in (err.value.hint or "")
    (copy / "current").write_text('{"generation": "../../etc"}')
    with pytest.raises(AdvisoryError, match="no valid generation"):
        db.open_source(copy)
    (copy / "current").write_text('{"generation": "gen-20240101T000000Z-00000000"}')
    with pytest.raises(AdvisoryError, match=r"has no index\.sqlite"):
        db.open_source(copy)
    (copy / "current").write_text("{")
    with pytest.raises(AdvisoryError, match="pointer is unreadable"):
        db.status(copy)
    # The hint holds: an update rebuilds a damaged database.
    npm = npm_zip(copy.parent / "npm.zip")
    repaired = db.update(copy, ecosystems=["npm"], url_template="", archives={"npm": npm})
    assert repaired.counts == {"npm": 3}
    assert [p.name for p in copy.iterdir() if p.name.startswith("gen-")] == [repaired.generation]


# ---------------------------------------------------------------- failures keep the old data


def test_truncated_download_keeps_previous_database(copy: Path, base_url: str) -> None:
    before = snapshot(copy)
    with pytest.raises(AdvisoryError) as err:
        db.update(
            copy, ecosystems=["PyPI"], url_template=base_url + "/truncated/{ecosystem}/all.zip"
        )
    assert "download truncated: received" in err.value.message
    assert err.value.where == f"{base_url}/truncated/PyPI/all.zip"
    assert_untouched(copy, before)


def test_unsafe_member_name_is_rejected(
    copy: Path, served: Path, base_url: str, tmp_path: Path
) -> None:
    bad = served / "evil"
    write_zip(
        bad / "PyPI" / "all.zip",
        {"ok.json": json.dumps(NPM_RECORDS[0]).encode(), "../evil.json": b"{}"},
    )
    before = snapshot(copy)
    with pytest.raises(AdvisoryError, match="unsafe member name") as err:
        db.update(copy, ecosystems=["PyPI"], url_template=base_url + "/evil/{ecosystem}/all.zip")
    assert err.value.where == f"{base_url}/evil/PyPI/all.zip!../evil.json"
    assert_untouched(copy, before)
    assert not list(tmp_path.rglob("evil.json"))
    assert not (copy.parent / "evil.json").exists()

    write_zip(tmp_path / "abs.zip", {"/etc/evil.json": b"{}"})
    with pytest.raises(AdvisoryError, match="unsafe member name"):
        db.update(
            copy, ecosystems=["PyPI"], url_template="", archives={"PyPI": tmp_path / "abs.zip"}
        )
    assert_untouched(copy, before)


def test_zip_bomb_is_rejected(copy: Path, tmp_path: Path) -> None:
    before = snapshot(copy)
    # Declared size over the per-record cap (9 MB of spaces compress to a few kilobytes).
    bomb = write_zip(tmp_path / "bomb.zip", {"bomb.json": b" " * (db.MAX_RECORD_BYTES + 1)})
    assert bomb.stat().st_size < 100_000
    with pytest.raises(AdvisoryError, match="limit for one advisory"):
        db.update(copy, ecosystems=["PyPI"], url_template="", archives={"PyPI": bomb})
    assert_untouched(copy, before)

    # A forged header: declares 100 bytes, holds megabytes. The reader stops at the declared
    # size and the CRC check fails.
    forged = bytearray(bomb.read_bytes())
    local = forged.index(b"PK\x03\x04")
    central = forged.index(b"PK\x01\x02")
    forged[local + 22 : local + 26] = (100).to_bytes(4, "little")
    forged[central + 24 : central + 28] = (100).to_bytes(4, "little")
    (tmp_path / "forged.zip").write_bytes(bytes(forged))
    with pytest.raises(AdvisoryError, match="cannot read member"):
        db.update(
            copy, ecosystems=["PyPI"], url_template="", archives={"PyPI": tmp_path / "forged.zip"}
        )
    assert_untouched(copy, before)


def test_total_uncompressed_cap(copy: Path, served: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = snapshot(copy)
    monkeypatch.setattr(db, "MAX_ARCHIVE_UNCOMPRESSED_BYTES", 200_000)
    with pytest.raises(AdvisoryError, match="200000-byte total limit"):
        db.update(
            copy,
            ecosystems=["PyPI"],
            url_template="",
            archives={"PyPI": served / "PyPI" / "all.zip"},
        )
    assert_untouched(copy, before)


def test_html_instead_of_zip_is_rejected(copy: Path, base_url: str) -> None:
    before = snapshot(copy)
    with pytest.raises(AdvisoryError, match="not a zip archive") as err:
        db.update(copy, ecosystems=["PyPI"], url_template=base_url + "/html/{ecosystem}/all.zip")
    assert "<!DOCTYPE html>" in err.value.message
    assert err.value.where == f"{base_url}/html/PyPI/all.zip"
    assert_untouched(copy, before)


def test_http_404_names_the_address(copy: Path, base_url: str) -> None:
    before = snapshot(copy)
    with pytest.raises(AdvisoryError, match="HTTP 404") as err:
        db.update(copy, ecosystems=["PyPI"], url_template=base_url + "/nowhere/{ecosystem}.zip")
    assert err.value.where == f"{base_url}/nowhere/PyPI.zip"
    assert "{ecosystem}" in (err.value.hint or "")
    assert_untouched(copy, before)


def test_one_failing_ecosystem_fails_the_whole_update(
    copy: Path, served: Path, base_url: str
) -> None:
    pypi_zip(served / "partial" / "PyPI" / "all.zip", ["pyyaml"])  # no partial/npm/all.zip
    before = snapshot(copy)
    with pytest.raises(AdvisoryError, match="HTTP 404") as err:
        db.update(
            copy,
            ecosystems=["PyPI", "npm"],
            url_template=base_url + "/partial/{ecosystem}/all.zip",
        )
    assert err.value.where == f"{base_url}/partial/npm/all.zip"
    assert_untouched(copy, before)
    assert db.status(copy).counts == {"PyPI": 2661, "npm": 3}


def test_size_cap_stall_redirect_and_scheme(copy: Path, base_url: str) -> None:
    before = snapshot(copy)
    with pytest.raises(AdvisoryError, match="more than the 1,000-byte limit"):
        db.update(
            copy,
            ecosystems=["npm"],
            url_template=base_url + "/{ecosystem}/all.zip",
            max_download_bytes=1000,
        )
    with pytest.raises(AdvisoryError, match=r"download stalled: no data for 0\.2 s"):
        db.update(
            copy, ecosystems=["npm"], url_template=base_url + "/slow/{ecosystem}", timeout=0.2
        )
    with pytest.raises(AdvisoryError, match="HTTP 302") as err:
        db.update(copy, ecosystems=["npm"], url_template=base_url + "/redirect/{ecosystem}")
    assert "file:///etc/passwd" in err.value.message
    with pytest.raises(AdvisoryError, match="unsupported address scheme 'ftp'"):
        db.update(copy, ecosystems=["npm"], url_template="ftp://example.org/{ecosystem}.zip")
    assert_untouched(copy, before)


def test_redirects_never_downgrade_from_https() -> None:
    handler = db._SafeRedirects()
    request = urllib.request.Request("https://example.org/PyPI/all.zip")
    headers = http.client.HTTPMessage()
    for target in ("http://example.org/PyPI/all.zip", "file:///etc/passwd"):
        with pytest.raises(urllib.error.HTTPError, match="refused redirect"):
            handler.redirect_request(request, io.BytesIO(), 302, "Found", headers, target)
    followed = handler.redirect_request(
        request, io.BytesIO(), 302, "Found", headers, "https://mirror.example.org/all.zip"
    )
    assert followed is not None
    assert followed.full_url == "https://mirror.example.org/all.zip"


def test_lock_contention(copy: Path, served: Path) -> None:
    before = snapshot(copy)
    fd = os.open(copy / db.LOCK_FILE, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(TurbosecError, match="another update is running"):
            db.update(
                copy,
                ecosystems=["npm"],
                url_template="",
                archives={"npm": served / "npm" / "all.zip"},
            )
    finally:
        os.close(fd)
    assert_untouched(copy, before)
    # Released: the next update runs.
    db.update(
        copy, ecosystems=["npm"], url_template="", archives={"npm": served / "npm" / "all.zip"}
    )
    assert db.status(copy).counts == {"npm": 3}


# ---------------------------------------------------------------- offline import, generations


def test_offline_import_and_generations(tmp_path: Path, served: Path) -> None:
    db_dir = tmp_path / "my osv?#%20"  # characters that mean something in a URI
    archive = pypi_zip(tmp_path / "PyPI-all.zip", ["pyyaml", "jinja2"])
    downloaded = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    os.utime(archive, (downloaded.timestamp(), downloaded.timestamp()))
    first = db.update(
        db_dir,
        ecosystems=["PyPI"],
        url_template="http://127.0.0.1:9/unused/{ecosystem}",
        archives={"PyPI": archive},
    )
    assert first.updated_at == downloaded
    assert first.ecosystems[0].url == str(archive)
    assert first.ecosystems[0].sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert db.is_stale(first, 7, downloaded + timedelta(days=8))
    assert not db.is_stale(first, 7, downloaded + timedelta(days=6))
    assert first.age_days(downloaded + timedelta(days=2)) == pytest.approx(2.0)

    # Same input, same version; a new generation replaces the old one.
    second = db.update(db_dir, ecosystems=["PyPI"], url_template="", archives={"PyPI": archive})
    assert second.version == first.version
    assert second.generation != first.generation
    assert sorted(p.name for p in db_dir.iterdir() if p.name.startswith("gen-")) == [
        second.generation
    ]
    npm = served / "npm" / "all.zip"
    third = db.update(
        db_dir, ecosystems=["PyPI", "npm"], url_template="", archives={"PyPI": archive, "npm": npm}
    )
    assert third.version != first.version
    assert third.counts == {"PyPI": first.counts["PyPI"], "npm": 3}
    # A reader that opened the old generation keeps working after the switch.
    reader = db.open_source(db_dir)
    db.update(db_dir, ecosystems=["npm"], url_template="", archives={"npm": npm})
    assert [a.id for a in reader.lookup("PyPI", "pyyaml")]
    assert db.open_source(db_dir).ecosystems == {"npm": 3}


def test_archive_must_hold_its_ecosystem(tmp_path: Path, served: Path) -> None:
    with pytest.raises(AdvisoryError, match=r"holds no PyPI advisories \(ecosystems found: npm\)"):
        db.update(
            tmp_path / "osv",
            ecosystems=["PyPI"],
            url_template="",
            archives={"PyPI": served / "npm" / "all.zip"},
        )
    empty = write_zip(tmp_path / "empty.zip", {"README.txt": b"nothing here"})
    with pytest.raises(AdvisoryError, match="holds no OSV records"):
        db.update(tmp_path / "osv", ecosystems=["PyPI"], url_template="", archives={"PyPI": empty})
    assert not db.status(tmp_path / "osv").exists
    assert sorted(p.name for p in (tmp_path / "osv").iterdir()) == [db.LOCK_FILE]


def test_advisory_in_two_archives_is_returned_once(tmp_path: Path) -> None:
    shared_record = {
        "id": "GHSA-both-0001",
        "modified": "2024-01-01T00:00:00Z",
        "affected": [
            {"package": {"ecosystem": "PyPI", "name": "bothpkg"}, "versions": ["1.0"]},
            {"package": {"ecosystem": "npm", "name": "bothpkg"}, "versions": ["1.0.0"]},
        ],
    }
    pypi = write_zip(
        tmp_path / "p.zip", {"GHSA-both-0001.json": json.dumps(shared_record).encode()}
    )
    npm = npm_zip(tmp_path / "n.zip", [*NPM_RECORDS, shared_record])
    db.update(
        tmp_path / "osv",
        ecosystems=["PyPI", "npm"],
        url_template="",
        archives={"PyPI": pypi, "npm": npm},
    )
    source = db.open_source(tmp_path / "osv")
    assert [a.id for a in source.lookup("PyPI", "bothpkg")] == ["GHSA-both-0001"]
    assert [a.id for a in source.lookup("npm", "bothpkg")] == ["GHSA-both-0001"]


def test_bad_arguments(tmp_path: Path, served: Path) -> None:
    npm = served / "npm" / "all.zip"
    with pytest.raises(TurbosecError, match="not among the ecosystems"):
        db.update(tmp_path / "a", ecosystems=["PyPI"], url_template="", archives={"npm": npm})
    with pytest.raises(TurbosecError, match=r"no \{ecosystem\} placeholder"):
        db.update(tmp_path / "a", ecosystems=["PyPI", "npm"], url_template="https://x/all.zip")
    with pytest.raises(TurbosecError, match="invalid ecosystem name"):
        db.update(tmp_path / "a", ecosystems=["../PyPI"], url_template="https://x/{ecosystem}")
    other = tmp_path / "home"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(TurbosecError, match=r"holds other files \(notes\.txt\)"):
        db.update(other, ecosystems=["npm"], url_template="", archives={"npm": npm})
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]
    with pytest.raises(AdvisoryError, match="archive not found"):
        db.update(
            tmp_path / "b",
            ecosystems=["npm"],
            url_template="",
            archives={"npm": tmp_path / "x.zip"},
        )


def test_status_without_database_and_staleness(tmp_path: Path) -> None:
    info = db.status(tmp_path / "none")
    assert not info.exists
    assert info.age_days() is None
    assert db.is_stale(info, 7, datetime(2026, 1, 1, tzinfo=UTC))
    assert info.as_dict()["exists"] is False
    fresh = db.DatabaseStatus(
        path=tmp_path, exists=True, updated_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert not db.is_stale(fresh, 7, datetime(2026, 1, 8, tzinfo=UTC))
    assert db.is_stale(fresh, 7, datetime(2026, 1, 8, 0, 1, tzinfo=UTC))
