from __future__ import annotations

from pathlib import Path

import pytest

from turbosec.core.config import load_config
from turbosec.core.errors import ConfigError
from turbosec.core.finding import Category
from turbosec.core.severity import Severity


def test_defaults_without_files(tmp_path: Path) -> None:
    loaded = load_config(None, tmp_path)
    assert loaded.source is None
    assert loaded.config.fail_on == "critical"
    assert loaded.config.threshold_for(Category.SAST) is Severity.CRITICAL


def test_turbosec_toml_wins_over_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.turbosec]\nfail_on = "low"\n')
    (tmp_path / "turbosec.toml").write_text(
        'fail_on = "high"\n[fail_on_category]\nsecret = "medium"\niac = "never"\n'
    )
    loaded = load_config(None, tmp_path)
    assert loaded.source == str(tmp_path / "turbosec.toml")
    cfg = loaded.config
    assert cfg.threshold_for(Category.SAST) is Severity.HIGH
    assert cfg.threshold_for(Category.SECRET) is Severity.MEDIUM
    assert cfg.threshold_for(Category.IAC) is None


def test_pyproject_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.turbosec]\nexclude = ["tests/**"]\n'
        "[tool.turbosec.scanners.detect-secrets]\noptional = true\n"
    )
    cfg = load_config(None, tmp_path).config
    assert cfg.exclude == ("tests/**",)
    assert cfg.scanners.for_scanner("detect-secrets").optional is True


def test_unknown_key_names_key_and_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.turbosec.scanners.semgrep]\ntimout = 5\n")
    with pytest.raises(ConfigError) as info:
        load_config(None, tmp_path)
    text = info.value.diagnostics()
    assert "unknown key 'tool.turbosec.scanners.semgrep.timout'" in text
    assert str(tmp_path / "pyproject.toml") in text


def test_bad_value_and_bad_toml(tmp_path: Path) -> None:
    bad = tmp_path / "turbosec.toml"
    bad.write_text('fail_on = "urgent"\n')
    with pytest.raises(ConfigError, match="fail_on"):
        load_config(None, tmp_path)
    bad.write_text("fail_on = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(None, tmp_path)


def test_explicit_missing_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml", tmp_path)


def test_max_counts_must_be_non_negative(tmp_path: Path) -> None:
    (tmp_path / "turbosec.toml").write_text("[max]\nhigh = -1\n")
    with pytest.raises(ConfigError, match=r"max\.high"):
        load_config(None, tmp_path)
