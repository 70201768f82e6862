"""Configuration: ``turbosec.toml`` or ``[tool.turbosec]`` in ``pyproject.toml``.

Validated with pydantic; any unknown key is an error that names the key and the file.
"""

from __future__ import annotations

import datetime
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from turbosec.core.errors import ConfigError
from turbosec.core.finding import Category
from turbosec.core.severity import Severity

CONFIG_FILE = "turbosec.toml"
_MAX_CONFIG_BYTES = 1_000_000

Threshold = Literal["critical", "high", "medium", "low", "info", "never"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class ScannerConfig(_Strict):
    """Options of one scanner."""

    enabled: bool | None = Field(
        default=None, description="true/false forces; unset means: run when applicable"
    )
    optional: bool = Field(
        default=False, description="a failure of this scanner is a warning, not exit 2"
    )
    timeout: float = Field(default=600.0, gt=0, le=86_400, description="seconds")
    executable: str | None = Field(
        default=None, description="program to run instead of PATH lookup"
    )
    args: tuple[str, ...] = Field(default=(), description="extra arguments appended to the command")
    rules: tuple[str, ...] = Field(
        default=(), description="semgrep: rule files/dirs instead of the bundled pack"
    )


class ScannersConfig(_Strict):
    bandit: ScannerConfig = ScannerConfig()
    semgrep: ScannerConfig = ScannerConfig()
    detect_secrets: ScannerConfig = Field(default=ScannerConfig(), alias="detect-secrets")
    pip_audit: ScannerConfig = Field(default=ScannerConfig(), alias="pip-audit")
    checkov: ScannerConfig = ScannerConfig()
    zizmor: ScannerConfig = ScannerConfig()
    deps: ScannerConfig = ScannerConfig()
    threats: ScannerConfig = ScannerConfig()

    def for_scanner(self, name: str) -> ScannerConfig:
        value = getattr(self, name.replace("-", "_"), None)
        return value if isinstance(value, ScannerConfig) else ScannerConfig()


DEFAULT_OSV_URL = "https://osv-vulnerabilities.storage.googleapis.com/{ecosystem}/all.zip"


class DepsConfig(_Strict):
    """The offline dependency audit: where its advisory database lives and comes from."""

    db: str | None = Field(
        default=None,
        description="advisory database: a directory or .zip of OSV records, or a database "
        "built by 'turbosec db update' (default: the user cache)",
    )
    url: str = Field(
        default=DEFAULT_OSV_URL,
        description="where 'turbosec db update' downloads each ecosystem's OSV archive; "
        "{ecosystem} is replaced by its name",
    )
    ecosystems: tuple[Literal["PyPI", "npm"], ...] = Field(
        default=("PyPI", "npm"), min_length=1, description="ecosystems 'db update' fetches"
    )
    max_age_days: float = Field(
        default=7.0, gt=0, description="the gate warns when the database is older"
    )
    include_dev: bool = Field(default=True, description="audit development dependencies too")
    python: tuple[str, ...] = Field(
        default=(),
        description="Python interpreters whose installed packages are audited too "
        "(e.g. '.venv/bin/python')",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://", "file://")):
            raise ValueError("url must be an http(s):// or file:// address")
        return value


class ThreatsConfig(_Strict):
    """The threat model the gate checks (``[tool.turbosec.threats]``)."""

    model: str = Field(
        default="threatmodel.yaml", description="the model file, relative to the repository"
    )
    rules: tuple[str, ...] = Field(
        default=(), description="extra rule files or directories, relative to the repository"
    )
    builtin_rules: bool = Field(default=True, description="use turbosec's rule library")
    junit: tuple[str, ...] = Field(
        default=(),
        description="JUnit XML reports of the test run, as glob patterns relative to the "
        "repository: they prove that mitigation tests passed",
    )
    collect: bool = Field(
        default=True,
        description="run 'pytest --collect-only' to prove that evidence tests exist",
    )


class MaxCounts(_Strict):
    """Maximum number of findings per severity before the gate fails (unset = no limit)."""

    critical: int | None = Field(default=None, ge=0)
    high: int | None = Field(default=None, ge=0)
    medium: int | None = Field(default=None, ge=0)
    low: int | None = Field(default=None, ge=0)
    info: int | None = Field(default=None, ge=0)


class CategoryThresholds(_Strict):
    sast: Threshold | None = None
    secret: Threshold | None = None
    dependency: Threshold | None = None
    iac: Threshold | None = None
    pipeline: Threshold | None = None
    threat: Threshold | None = None


class SuppressRule(_Strict):
    """One ``[[suppress]]`` entry: an accepted risk, with a reason and maybe an expiry."""

    rule: str | None = Field(default=None, description="rule id (glob patterns allowed)")
    path: str | None = Field(default=None, description="path glob, as in exclude")
    fingerprint: str | None = Field(default=None, description="one finding's fingerprint")
    tool: str | None = Field(default=None, description="only findings of this tool")
    reason: str = Field(min_length=1, description="why this is acceptable (mandatory)")
    expires: datetime.date | None = Field(default=None, description="YYYY-MM-DD; stops then")
    owner: str | None = Field(default=None, description="who accepted the risk")

    @model_validator(mode="after")
    def _has_selector(self) -> SuppressRule:
        if not (self.rule or self.path or self.fingerprint):
            raise ValueError("a suppression needs at least one of rule, path or fingerprint")
        if not self.reason.strip():
            raise ValueError("a suppression needs a non-empty reason")
        return self


class Config(_Strict):
    """The effective turbosec configuration."""

    fail_on: Threshold = Field(
        default="critical",
        description="lowest severity that fails the gate ('never' to report only)",
    )
    fail_on_category: CategoryThresholds = CategoryThresholds()
    max: MaxCounts = MaxCounts()
    exclude: tuple[str, ...] = Field(default=(), description="glob patterns of paths to skip")
    jobs: int | None = Field(default=None, ge=1, le=64, description="scanners run at once")
    scanners: ScannersConfig = ScannersConfig()
    suppress: tuple[SuppressRule, ...] = Field(default=(), description="[[suppress]] entries")
    deps: DepsConfig = DepsConfig()
    threats: ThreatsConfig = ThreatsConfig()
    tools: Literal["auto", "managed", "path"] = Field(
        default="auto",
        description="where scanner programs come from: managed environments "
        "(turbosec tools install), PATH, or auto (managed when installed, else PATH)",
    )

    @field_validator("exclude")
    @classmethod
    def _no_absolute(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            if pattern.startswith("/"):
                raise ValueError(f"exclude pattern {pattern!r} must be relative to the repository")
        return value

    def threshold_for(self, category: Category) -> Severity | None:
        """The severity from which a finding of ``category`` fails the gate (None: never)."""
        value = getattr(self.fail_on_category, category.value) or self.fail_on
        return None if value == "never" else Severity.parse(value)


class LoadedConfig(BaseModel):
    model_config = ConfigDict(frozen=True)
    config: Config
    source: str | None  # "path" or "path [tool.turbosec]" or None for defaults


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size
        if size > _MAX_CONFIG_BYTES:
            raise ConfigError(
                f"configuration file is {size} bytes, larger than {_MAX_CONFIG_BYTES}",
                where=str(path),
                hint="a turbosec configuration is a few kilobytes; check the file name",
            )
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"not valid TOML: {exc}", where=str(path), hint="fix the TOML syntax at that position"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError("not UTF-8 text", where=str(path), hint="save the file as UTF-8") from exc
    except OSError as exc:
        raise ConfigError(
            f"cannot read: {exc.strerror}", where=str(path), hint="check the path and permissions"
        ) from exc


def _format_loc(prefix: str, loc: tuple[int | str, ...]) -> str:
    parts = [prefix] if prefix else []
    parts.extend(str(p) for p in loc)
    return ".".join(parts)


def parse_config(data: dict[str, Any], source: str, table: str = "") -> Config:
    """Validate a mapping into :class:`Config`, turning pydantic errors into one readable error."""
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = _format_loc(table, tuple(err["loc"]))
            if err["type"] == "extra_forbidden":
                problems.append(f"unknown key '{key}'")
            else:
                problems.append(f"'{key}': {err['msg']}")
        raise ConfigError(
            "invalid configuration: " + "; ".join(problems),
            where=source,
            hint="see `turbosec config show` for the keys turbosec knows and docs/configuration.md",
        ) from exc


def load_config(explicit: Path | None, root: Path) -> LoadedConfig:
    """Find and load the configuration.

    Order: ``--config PATH``; ``turbosec.toml`` in ``root``; ``[tool.turbosec]`` in
    ``root/pyproject.toml``; built-in defaults.
    """
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(
                "configuration file not found",
                where=str(explicit),
                hint="pass an existing file to --config, or drop the option to use defaults",
            )
        data = _read_toml(explicit)
        if explicit.name == "pyproject.toml":
            table = data.get("tool", {}).get("turbosec", {})
            return LoadedConfig(
                config=parse_config(table, f"{explicit} [tool.turbosec]", "tool.turbosec"),
                source=f"{explicit} [tool.turbosec]",
            )
        return LoadedConfig(config=parse_config(data, str(explicit)), source=str(explicit))
    candidate = root / CONFIG_FILE
    if candidate.is_file():
        return LoadedConfig(
            config=parse_config(_read_toml(candidate), str(candidate)), source=str(candidate)
        )
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        data = _read_toml(pyproject)
        tool = data.get("tool", {})
        if isinstance(tool, dict) and "turbosec" in tool:
            table = tool["turbosec"]
            if not isinstance(table, dict):
                raise ConfigError(
                    "[tool.turbosec] must be a table",
                    where=str(pyproject),
                    hint="write the settings under a [tool.turbosec] header",
                )
            src = f"{pyproject} [tool.turbosec]"
            return LoadedConfig(config=parse_config(table, src, "tool.turbosec"), source=src)
    return LoadedConfig(config=Config(), source=None)
