"""The hub's settings: one immutable object handed to :func:`turbosec.hub.api.app.create_app`.

Nothing here is process-global: several hub processes (uvicorn workers, or hubs on
several machines) sharing one PostgreSQL database each build their own settings from the
same command line or environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from turbosec.core.errors import UsageError
from turbosec.hub.db import database_url

MB = 1024 * 1024

DEFAULT_SLA_DAYS: Mapping[str, int | None] = MappingProxyType(
    {"critical": 7, "high": 30, "medium": 90, "low": 180, "info": None}
)

# Environment variables read by :meth:`HubSettings.from_env` (``hub serve`` passes its
# options to its worker processes through them).
ENV_DB = "TURBOSEC_HUB_DB"
ENV_MAX_UPLOAD_MB = "TURBOSEC_HUB_MAX_UPLOAD_MB"
ENV_MAX_FINDINGS = "TURBOSEC_HUB_MAX_FINDINGS"
ENV_TOKEN_HOURS = "TURBOSEC_HUB_USER_TOKEN_HOURS"  # noqa: S105 - a variable name


@dataclass(frozen=True, slots=True)
class HubSettings:
    """Everything a hub process needs to know; build with :meth:`from_env` or directly."""

    database_url: str
    # Limits on one upload: compressed body, decompressed document, findings in it.
    max_upload_bytes: int = 100 * MB
    max_decompressed_bytes: int = 100 * MB
    max_findings: int = 200_000
    # Uploads one process reads and ingests at the same time (the others wait).
    max_concurrent_uploads: int = 2
    # SLA days per severity when a project has no override (None: no SLA).
    sla_days: Mapping[str, int | None] = field(default_factory=lambda: DEFAULT_SLA_DAYS)
    # Lifetime of the user tokens handed out by POST /api/v1/auth/login.
    user_token_hours: float = 12.0
    # Login throttling: after this many consecutive failures the account is locked for
    # lock_minutes, doubling with each further lock (at most max_lock_minutes).
    max_failed_logins: int = 5
    lock_minutes: float = 15.0
    max_lock_minutes: float = 24 * 60.0
    # argon2id cost (RFC 9106 "second recommended" profile: t=3, 64 MiB, p=4).
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 64 * 1024
    argon2_parallelism: int = 4
    min_password_length: int = 12

    def __post_init__(self) -> None:
        for name in (
            "max_upload_bytes",
            "max_decompressed_bytes",
            "max_findings",
            "max_concurrent_uploads",
        ):
            if getattr(self, name) < 1:
                raise UsageError(f"hub setting {name} must be positive")

    def with_changes(self, **changes: object) -> HubSettings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HubSettings:
        """Settings from ``TURBOSEC_HUB_*`` variables (database default: ./turbosec-hub.db)."""
        env = os.environ if environ is None else environ
        settings = cls(database_url=database_url(env.get(ENV_DB)))
        changes: dict[str, object] = {}
        if env.get(ENV_MAX_UPLOAD_MB):
            size = int(_number(env, ENV_MAX_UPLOAD_MB) * MB)
            changes["max_upload_bytes"] = size
            changes["max_decompressed_bytes"] = size
        if env.get(ENV_MAX_FINDINGS):
            changes["max_findings"] = int(_number(env, ENV_MAX_FINDINGS))
        if env.get(ENV_TOKEN_HOURS):
            changes["user_token_hours"] = _number(env, ENV_TOKEN_HOURS)
        return settings.with_changes(**changes) if changes else settings


def _number(env: Mapping[str, str], name: str) -> float:
    try:
        value = float(env[name])
    except ValueError:
        raise UsageError(f"{name}={env[name]!r} is not a number") from None
    if value <= 0:
        raise UsageError(f"{name} must be positive, not {env[name]!r}")
    return value
