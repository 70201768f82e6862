"""The offline dependency audit as a gate scanner, on real OSV records and real lockfiles."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DEMO_APP, OSV_PYPI
from tests.scan.adapters.support import write_tree
from turbosec.core.config import Config, parse_config
from turbosec.core.errors import ScannerError
from turbosec.core.finding import Category
from turbosec.core.severity import Severity
from turbosec.scan.adapters import registry
from turbosec.scan.adapters.deps import DepsScanner
from turbosec.scan.runner import ScanRequest, run_scan
from turbosec.scan.target import Target

DATA = OSV_PYPI
DEMO = DEMO_APP


def _config(db: Path | str, **deps: object) -> Config:
    return parse_config({"deps": {"db": str(db), **deps}}, "test")


def _scan(root: Path, config: Config) -> tuple[list, list[str]]:
    parsed = DepsScanner().scan(Target.open(root), config)
    return parsed.findings, parsed.warnings


def test_registered_as_a_default_in_process_scanner() -> None:
    cls = registry()["deps"]
    assert cls is DepsScanner
    assert cls.enabled_by_default
    assert cls.category is Category.DEPENDENCY


def test_requirements_pins_are_matched_at_their_line(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "requirements.txt": "# app\nflask==0.12.2\n\npyyaml==5.3  # config\n"
            "requests>=2.0\n-e ./local\nwerkzeug==2.3.7\n",
        },
    )
    findings, warnings = _scan(tmp_path, _config(DATA))
    by_id = {f.rule_id: f for f in findings}
    assert {"PYSEC-2018-66", "PYSEC-2019-179", "PYSEC-2023-62"} <= set(by_id)
    assert {"PYSEC-2020-96", "PYSEC-2021-142"} <= set(by_id)
    flask = by_id["PYSEC-2018-66"]
    assert flask.location is not None
    assert (flask.location.path, flask.location.start_line) == ("requirements.txt", 2)
    assert flask.location.snippet == "flask==0.12.2"
    assert flask.package is not None and flask.package.version == "0.12.2"
    assert flask.fix_hint is not None and "upgrade flask to 2.2.5" in flask.fix_hint
    yaml = by_id["PYSEC-2020-96"]
    assert yaml.location is not None and yaml.location.start_line == 4
    # aliases are kept; the PyPA record rates no severity: medium, and the message says so
    assert "CVE-2020-1747" in yaml.advisories
    assert yaml.severity is Severity.MEDIUM and "not rated" in yaml.message
    # werkzeug's advisory has a CVSS 3.1 vector (AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H): 7.5
    werkzeug = by_id["PYSEC-2023-221"]
    assert werkzeug.severity is Severity.HIGH and "not rated" not in werkzeug.message
    assert werkzeug.fix_hint is not None and "2.3.8" in werkzeug.fix_hint
    assert yaml.fix_hint is not None and "5.4" in yaml.fix_hint
    assert all(f.tool == "deps" and f.category is Category.DEPENDENCY for f in findings)
    # ranges and editable installs are named, not guessed
    assert any(
        "requirements.txt:5" in w and "requests" in w and "not pinned" in w for w in warnings
    )
    assert any("requirements.txt:6" in w and "cannot be audited" in w for w in warnings)


def test_safe_versions_give_no_finding(tmp_path: Path) -> None:
    write_tree(tmp_path, {"requirements.txt": "flask==2.2.5\npyyaml==6.0.1\n"})
    findings, _ = _scan(tmp_path, _config(DATA))
    assert findings == []


def test_includes_are_followed(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "requirements.txt": "-r deps/base.in\n",
            "deps/base.in": "jinja2==2.10\n",
        },
    )
    findings, _ = _scan(tmp_path, _config(DATA))
    assert {f.location.path for f in findings if f.location} == {"deps/base.in"}
    assert {"PYSEC-2019-217", "PYSEC-2021-66"} <= {f.rule_id for f in findings}


def test_missing_include_fails_closed(tmp_path: Path) -> None:
    write_tree(tmp_path, {"requirements.txt": "-r missing.txt\n"})
    with pytest.raises(ScannerError) as err:
        _scan(tmp_path, _config(DATA))
    assert "missing.txt" in err.value.diagnostics()


def test_malformed_lockfile_names_file_and_line(tmp_path: Path) -> None:
    write_tree(tmp_path, {"requirements.txt": "flask==2.2.5\nthis is not a requirement!\n"})
    with pytest.raises(ScannerError) as err:
        _scan(tmp_path, _config(DATA))
    assert "requirements.txt:2" in err.value.diagnostics()


def test_missing_database_fails_closed(tmp_path: Path) -> None:
    write_tree(tmp_path, {"requirements.txt": "flask==2.2.5\n"})
    with pytest.raises(ScannerError) as err:
        _scan(tmp_path, _config(tmp_path / "no-such-db"))
    assert "turbosec db update" in err.value.diagnostics()


def test_no_pinned_dependency_needs_no_database(tmp_path: Path) -> None:
    write_tree(tmp_path, {"requirements.txt": "flask>=2\n"})
    findings, warnings = _scan(tmp_path, _config(tmp_path / "no-such-db"))
    assert findings == [] and len(warnings) == 1


def test_dev_dependencies_can_be_left_out(tmp_path: Path) -> None:
    lock = {
        "_meta": {"pipfile-spec": 6, "requires": {}, "sources": []},
        "default": {},
        "develop": {"pyyaml": {"version": "==5.3"}},
    }
    write_tree(tmp_path, {"Pipfile.lock": json.dumps(lock, indent=4) + "\n"})
    findings, _ = _scan(tmp_path, _config(DATA))
    assert findings and all(f.location and f.location.path == "Pipfile.lock" for f in findings)
    findings, _ = _scan(tmp_path, _config(DATA, include_dev=False))
    assert findings == []


def test_installed_environment_is_audited(tmp_path: Path) -> None:
    """A real virtual environment with a real (old, vulnerable) distribution's metadata."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    info = site / "PyYAML-5.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: PyYAML\nVersion: 5.3\n")
    repo = tmp_path / "repo"
    write_tree(repo, {"requirements.txt": "flask>=2\n"})
    config = _config(DATA, python=[str(venv / "bin" / "python")])
    findings, _ = _scan(repo, config)
    assert {"PYSEC-2020-96", "PYSEC-2021-142"} <= {f.rule_id for f in findings}
    assert all(f.location and f.location.path.endswith("METADATA") for f in findings)


def test_gate_on_demo_app_reports_vulnerable_pins_offline(tmp_path: Path) -> None:
    """The acceptance check: the demo app's pins, with ids, severity and fixing version."""
    request = ScanRequest(root=DEMO, config=_demo_config(), only=("deps",), use_cache=False)
    outcome = run_scan(request)
    deps = [f for f in outcome.report.findings if f.tool == "deps"]
    packages = {f.package.name for f in deps if f.package}
    assert packages == {"flask", "pyyaml", "requests", "jinja2"}
    for finding in deps:
        assert finding.advisories and finding.severity >= Severity.LOW
        assert finding.fix_hint and "upgrade" in finding.fix_hint


def _demo_config() -> Config:
    from turbosec.core.config import load_config

    return load_config(None, DEMO).config
