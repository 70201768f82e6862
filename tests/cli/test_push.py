"""``turbosec push`` and ``turbosec scan --push`` against a real hub process."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from tests.hub.reports import dumps, findings, report
from tests.hub.server import free_port, running_hub
from turbosec.cli.main import run
from turbosec.hub import service
from turbosec.hub.db import make_engine
from turbosec.hub.migrations import upgrade
from turbosec.hub.models import TokenScope

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "importers"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """A running hub with project "shop": (base URL, upload token, read token)."""
    tmp = tmp_path_factory.mktemp("hub")
    url = f"sqlite:///{tmp / 'hub.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine, expire_on_commit=False) as session:
        project = service.create_project(session, "shop")
        _, upload = service.create_project_token(
            session, project, name="ci", scope=TokenScope.UPLOAD, created_by="test"
        )
        _, read = service.create_project_token(
            session, project, name="dash", scope=TokenScope.READ, created_by="test"
        )
    engine.dispose()
    with running_hub(url, tmp) as (base, _proc):
        yield base, upload, read


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "TURBOSEC_HUB_URL",
        "TURBOSEC_HUB_PROJECT",
        "TURBOSEC_HUB_TOKEN",
        "GITHUB_ACTIONS",
    ):
        monkeypatch.delenv(name, raising=False)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(["--no-color", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_push_json_then_again(
    hub: tuple[str, str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base, upload, _ = hub
    monkeypatch.setenv("TURBOSEC_HUB_TOKEN", upload)
    file = tmp_path / "r.json"
    file.write_bytes(dumps(report(findings(range(500, 520)), branch="push-json")))
    code, out, err = _run(capsys, "push", str(file), "--hub", base, "--project", "shop")
    assert code == 0, err
    assert "20 new, 0 unchanged, 0 fixed, 0 reopened" in out
    code, out, _ = _run(
        capsys,
        "push",
        str(file),
        "--hub",
        base + "/api/v1/",
        "--project",
        "shop",
        "--build-id",
        "9",
        "--commit",
        "abc",
    )
    assert code == 0 and "0 new, 20 unchanged" in out


def test_push_gzipped_sarif_with_token_file_partial(
    hub: tuple[str, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, upload, _ = hub
    token_file = tmp_path / "token"
    token_file.write_text(upload + "\n")
    sarif = tmp_path / "bandit.sarif.gz"
    sarif.write_bytes(gzip.compress((FIXTURES / "bandit.sarif").read_bytes()))
    code, out, err = _run(
        capsys,
        "push",
        str(sarif),
        "--hub",
        base,
        "--project",
        "shop",
        "--token-file",
        str(token_file),
        "--partial",
        "--branch",
        "sarif",
    )
    assert code == 0, err
    assert "(partial scan): 5 new" in out


def test_push_refusals_exit_2_with_the_hubs_words(
    hub: tuple[str, str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base, upload, read = hub
    file = tmp_path / "r.json"
    file.write_bytes(dumps(report(findings(range(3)))))
    code, _, err = _run(capsys, "push", str(file), "--hub", base, "--project", "shop")
    assert code == 2 and "no hub token" in err and "TURBOSEC_HUB_TOKEN" in err
    code, _, err = _run(
        capsys, "push", str(file), "--hub", base, "--project", "shop", "--token", upload
    )
    assert code == 2 and "No such option" in err  # never a token in argv

    monkeypatch.setenv("TURBOSEC_HUB_TOKEN", "tsh_" + "x" * 43)
    code, _, err = _run(capsys, "push", str(file), "--hub", base, "--project", "shop")
    assert code == 2 and "HTTP 401" in err and "unknown bearer token" in err
    monkeypatch.setenv("TURBOSEC_HUB_TOKEN", read)
    code, _, err = _run(capsys, "push", str(file), "--hub", base, "--project", "shop")
    assert code == 2 and "HTTP 403" in err and "may not upload" in err
    monkeypatch.setenv("TURBOSEC_HUB_TOKEN", upload)
    broken = tmp_path / "broken.json"
    doc = report(findings(range(3)))
    doc["findings"][1]["category"] = "magic"
    broken.write_bytes(json.dumps(doc).encode())
    code, _, err = _run(capsys, "push", str(broken), "--hub", base, "--project", "shop")
    assert code == 2 and "findings[1].category" in err
    code, _, err = _run(
        capsys, "push", str(file), "--hub", f"http://127.0.0.1:{free_port()}", "--project", "shop"
    )
    assert code == 2 and "cannot reach the hub" in err
    code, _, err = _run(
        capsys, "push", str(file), "--hub", "ftp://example.com", "--project", "shop"
    )
    assert code == 2 and "not an http(s) address" in err
    code, _, err = _run(
        capsys, "push", str(tmp_path / "none.json"), "--hub", base, "--project", "shop"
    )
    assert code == 2 and "cannot read the report" in err
    monkeypatch.setenv("TURBOSEC_HUB_URL", base)
    code, _, err = _run(capsys, "push", str(file))
    assert code == 2 and "no project" in err


def _scan(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    return _run(
        capsys,
        "scan",
        str(FIXTURES / "src"),
        "--no-scanners",
        "--no-cache",
        "--import",
        f"sarif:{FIXTURES / 'semgrep.sarif'}",
        *args,
    )


def test_scan_push(
    hub: tuple[str, str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base, upload, _ = hub
    monkeypatch.setenv("TURBOSEC_HUB_TOKEN", upload)
    code, _, err = _scan(
        capsys, "--fail-on", "never", "--push", "--hub", base, "--hub-project", "shop"
    )
    assert code == 0, err
    assert "pushed to" in err and "3 new" in err
    # the gate's verdict wins; a failed upload turns only a pass into 2
    dead = f"http://127.0.0.1:{free_port()}"
    code, _, err = _scan(
        capsys, "--fail-on", "never", "--push", "--hub", dead, "--hub-project", "shop"
    )
    assert code == 2 and "cannot reach the hub" in err
    code, _, err = _scan(
        capsys, "--fail-on", "info", "--push", "--hub", dead, "--hub-project", "shop"
    )
    assert code == 1 and "cannot reach the hub" in err
    # misconfigured --push fails before scanning
    code, _, err = _scan(capsys, "--push", "--hub-project", "shop")
    assert code == 2 and "--push needs the hub's address" in err
    monkeypatch.delenv("TURBOSEC_HUB_TOKEN")
    code, _, err = _scan(capsys, "--push", "--hub", base, "--hub-project", "shop")
    assert code == 2 and "no hub token" in err
