"""``turbosec push``: upload a report to the findings hub (from CI, with a project token).

The token comes from ``$TURBOSEC_HUB_TOKEN`` or ``--token-file``, never from the command
line (where process listings and CI logs would show it).  The report is sent gzipped;
the hub answers with what changed: new, unchanged, fixed and reopened findings.
Exit codes: 0 uploaded, 2 anything else (the hub's refusal is shown as it gave it).
"""

from __future__ import annotations

import gzip
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from turbosec import __version__
from turbosec.cli.state import AppState
from turbosec.core.errors import TurbosecError, UsageError

ENV_URL = "TURBOSEC_HUB_URL"
ENV_PROJECT = "TURBOSEC_HUB_PROJECT"
ENV_TOKEN = "TURBOSEC_HUB_TOKEN"  # noqa: S105 - the variable's name
DEFAULT_TIMEOUT = 300.0
_MAX_ANSWER = 1 << 20


class PushError(TurbosecError):
    """The upload did not happen (unreachable hub, refusal, bad answer)."""


@dataclass(frozen=True, slots=True)
class PushResult:
    scan_id: int
    new: int
    unchanged: int
    fixed: int
    reopened: int
    full: bool
    warnings: tuple[str, ...]

    def summary(self) -> str:
        kind = "" if self.full else " (partial scan)"
        return (
            f"scan {self.scan_id}{kind}: {self.new} new, {self.unchanged} unchanged, "
            f"{self.fixed} fixed, {self.reopened} reopened"
        )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: the bearer token must not travel to another address."""

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


def read_token(token_file: Path | None) -> str:
    """The token from --token-file, else $TURBOSEC_HUB_TOKEN."""
    if token_file is not None:
        try:
            value = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UsageError(
                f"cannot read the token file: {exc.strerror}", where=str(token_file)
            ) from None
        if not value:
            raise UsageError("the token file is empty", where=str(token_file))
        return value
    value = os.environ.get(ENV_TOKEN, "").strip()
    if not value:
        raise UsageError(
            "no hub token",
            hint=f"set {ENV_TOKEN} (a project token with the upload scope) or pass "
            "--token-file FILE",
        )
    return value


def _endpoint(hub: str, project: str, params: dict[str, str]) -> str:
    parts = urllib.parse.urlsplit(hub.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(
            f"the hub URL {hub!r} is not an http(s) address", hint="e.g. https://hub.example.com"
        )
    path = parts.path.rstrip("/")
    if not path.endswith("/api/v1"):
        path += "/api/v1"
    path += f"/projects/{urllib.parse.quote(project, safe='')}/scans"
    query = urllib.parse.urlencode(params)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, query, ""))


def _refusal(status: int, raw: bytes) -> str:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        text = f"{body.get('error', 'error')}: {body['detail']}"
        problems = body.get("problems")
        if isinstance(problems, list) and len(problems) > 1:
            text += "".join(f"\n  - {p}" for p in problems[:10])
        return text
    return raw[:300].decode("utf-8", "replace").strip() or f"HTTP {status}"


def push_report(
    data: bytes,
    *,
    hub: str,
    project: str,
    token: str,
    branch: str | None = None,
    commit: str | None = None,
    build_id: str | None = None,
    partial: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> PushResult:
    """Upload a report (JSON or SARIF, plain or gzipped) and return the hub's counts."""
    params = {
        k: v for k, v in (("branch", branch), ("commit", commit), ("build_id", build_id)) if v
    }
    if partial:
        params["full"] = "false"
    url = _endpoint(hub, project, params)
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json",
        "User-Agent": f"turbosec/{__version__}",
    }
    if data[:2] == b"\x1f\x8b":
        body, headers["Content-Type"] = data, "application/gzip"
    else:
        body = gzip.compress(data, compresslevel=6)
        headers["Content-Type"] = "application/json"
        headers["Content-Encoding"] = "gzip"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - http(s) only, checked above
    opener = urllib.request.build_opener(_NoRedirect)
    where = f"hub {hub}"
    try:
        with opener.open(request, timeout=timeout) as response:
            raw = response.read(_MAX_ANSWER)
            status = response.status
    except urllib.error.HTTPError as exc:
        raw = exc.read(_MAX_ANSWER) if exc.fp is not None else b""
        if 300 <= exc.code < 400:
            raise PushError(
                f"the hub answered with a redirect ({exc.code}) to "
                f"{exc.headers.get('Location', '?')}",
                where=where,
                hint="give the final address in --hub / TURBOSEC_HUB_URL",
            ) from None
        hint = None
        if exc.code == 401:
            hint = f"check the token ({ENV_TOKEN} or --token-file): it may be expired or revoked"
        elif exc.code == 404:
            hint = "check --project; a project token only sees its own project"
        raise PushError(
            f"the hub refused the upload (HTTP {exc.code}) {_refusal(exc.code, raw)}",
            where=where,
            hint=hint,
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PushError(
            f"cannot reach the hub: {reason}",
            where=where,
            hint="check the URL and that the hub is running (turbosec hub serve)",
        ) from None
    try:
        answer = orjson.loads(raw)
        return PushResult(
            scan_id=int(answer["id"]),
            new=int(answer["new"]),
            unchanged=int(answer["unchanged"]),
            fixed=int(answer["fixed"]),
            reopened=int(answer["reopened"]),
            full=bool(answer["full"]),
            warnings=tuple(str(w) for w in answer.get("warnings") or ()),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise PushError(
            f"the hub's answer (HTTP {status}) is not what turbosec expects",
            where=where,
            hint="is --hub the address of a turbosec hub?",
        ) from None


HubOpt = Annotated[
    str | None,
    typer.Option("--hub", envvar=ENV_URL, help="The hub's address, e.g. https://hub.example.com"),
]
ProjectOpt = Annotated[
    str | None, typer.Option("--project", envvar=ENV_PROJECT, help="The project's slug.")
]


def push(
    ctx: typer.Context,
    report: Annotated[
        Path,
        typer.Argument(
            help="A turbosec JSON report (scan --format json) or a SARIF log; may be gzipped.",
            dir_okay=False,
        ),
    ],
    hub: HubOpt = None,
    project: ProjectOpt = None,
    branch: Annotated[
        str | None, typer.Option("--branch", help="Default: the report's branch.")
    ] = None,
    commit: Annotated[
        str | None, typer.Option("--commit", help="Default: the report's commit.")
    ] = None,
    build_id: Annotated[str | None, typer.Option("--build-id", help="The CI build.")] = None,
    partial: Annotated[
        bool,
        typer.Option("--partial", help="A partial scan: the hub adds and refreshes, never fixes."),
    ] = False,
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file", help=f"File holding the token (default: ${ENV_TOKEN}).", dir_okay=False
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for the hub.", min=1)
    ] = DEFAULT_TIMEOUT,
) -> int:
    """Upload a report to the findings hub and print what changed."""
    state: AppState = ctx.obj
    if not hub:
        raise UsageError("no hub address", hint=f"pass --hub URL or set {ENV_URL}")
    if not project:
        raise UsageError("no project", hint=f"pass --project SLUG or set {ENV_PROJECT}")
    token = read_token(token_file)
    try:
        data = report.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the report: {exc.strerror}", where=str(report)) from None
    result = push_report(
        data,
        hub=hub,
        project=project,
        token=token,
        branch=branch,
        commit=commit,
        build_id=build_id,
        partial=partial,
        timeout=timeout,
    )
    typer.echo(f"pushed {report} to {hub} project {project}: {result.summary()}")
    for warning in result.warnings:
        state.console(stderr=True).print(f"warning: {warning}", markup=False)
    return 0
