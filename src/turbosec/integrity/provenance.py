"""SLSA provenance v1: where an artifact was built, from what source, by which builder.

The predicate (``https://slsa.dev/provenance/v1``) has two parts:

* ``buildDefinition``: the ``buildType`` (ours, documented in docs/integrity.md), the
  ``externalParameters`` a user controls (the source repository and ref, the CI workflow),
  ``internalParameters`` set by the platform, and ``resolvedDependencies``, whose first
  entry is the source checkout: ``{"uri": "git+<repository>@<ref>", "digest":
  {"gitCommit": "<sha>"}}``.
* ``runDetails``: the ``builder.id`` and the run's ``metadata`` (``invocationId``,
  ``startedOn``, ``finishedOn``).

The values come from the CI platform's environment variables (GitHub Actions or GitLab CI)
or from command-line flags, flags winning.  What a deploy-time policy checks (repository,
ref, builder) is read back by :class:`ProvenanceClaims`, which accepts only our build type:
a provenance whose shape we do not know is not silently half-checked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from turbosec.core.errors import UsageError
from turbosec.integrity.errors import FormatError
from turbosec.integrity.intoto import Statement, statement_for

PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://github.com/turbosec/turbosec/blob/main/docs/integrity.md#build-type-v1"

GITHUB_HOSTED_BUILDER = "https://github.com/actions/runner/github-hosted"
GITHUB_SELF_HOSTED_BUILDER = "https://github.com/actions/runner/self-hosted"

_COMMIT = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://\S+")


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str, *, what: str) -> datetime:
    """An ISO 8601 / RFC 3339 timestamp with a time zone ('Z' allowed)."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(
            f"{what} {value!r} is not an ISO 8601 timestamp",
            hint="write it like 2025-06-01T12:00:00Z",
        ) from exc
    if moment.tzinfo is None:
        raise UsageError(
            f"{what} {value!r} has no time zone", hint="add Z (UTC) or an offset like +02:00"
        )
    return moment


@dataclass(frozen=True)
class BuildContext:
    """Everything a provenance says about one build."""

    ci: str  # "github-actions", "gitlab-ci" or "manual"
    source_repository: str
    commit: str
    ref: str | None
    builder_id: str
    invocation_id: str | None = None
    started_on: datetime | None = None
    finished_on: datetime | None = None
    workflow: Mapping[str, str] = field(default_factory=dict)
    internal: Mapping[str, str] = field(default_factory=dict)

    def source_uri(self) -> str:
        """The SLSA resource URI of the source checkout."""
        base = f"git+{self.source_repository}"
        return f"{base}@{self.ref}" if self.ref else base


def _github(env: Mapping[str, str]) -> dict[str, Any]:
    server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    repo = env.get("GITHUB_REPOSITORY")
    run_id, attempt = env.get("GITHUB_RUN_ID"), env.get("GITHUB_RUN_ATTEMPT", "1")
    runner = env.get("RUNNER_ENVIRONMENT", "")
    workflow = {
        k: v
        for k, v in {
            "ref": env.get("GITHUB_WORKFLOW_REF", ""),
            "event": env.get("GITHUB_EVENT_NAME", ""),
        }.items()
        if v
    }
    internal = {
        k: v
        for k, v in {"runnerEnvironment": runner, "runAttempt": attempt if run_id else ""}.items()
        if v
    }
    return {
        "ci": "github-actions",
        "source_repository": f"{server}/{repo}" if repo else None,
        "commit": env.get("GITHUB_SHA"),
        "ref": env.get("GITHUB_REF") or None,
        "builder_id": GITHUB_SELF_HOSTED_BUILDER
        if runner == "self-hosted"
        else GITHUB_HOSTED_BUILDER
        if runner == "github-hosted"
        else None,
        "invocation_id": f"{server}/{repo}/actions/runs/{run_id}/attempts/{attempt}"
        if repo and run_id
        else None,
        "started_on": None,
        "workflow": workflow,
        "internal": internal,
    }


def _gitlab(env: Mapping[str, str]) -> dict[str, Any]:
    server = env.get("CI_SERVER_URL", "").rstrip("/")
    project = env.get("CI_PROJECT_PATH")
    repo = env.get("CI_PROJECT_URL") or (f"{server}/{project}" if server and project else None)
    if env.get("CI_COMMIT_TAG"):
        ref: str | None = f"refs/tags/{env['CI_COMMIT_TAG']}"
    elif env.get("CI_MERGE_REQUEST_IID"):
        ref = f"refs/merge-requests/{env['CI_MERGE_REQUEST_IID']}/head"
    elif env.get("CI_COMMIT_BRANCH") or env.get("CI_COMMIT_REF_NAME"):
        ref = f"refs/heads/{env.get('CI_COMMIT_BRANCH') or env['CI_COMMIT_REF_NAME']}"
    else:
        ref = None
    runner = env.get("CI_RUNNER_ID")
    job = env.get("CI_JOB_ID")
    workflow = {
        k: v
        for k, v in {
            "pipelineId": env.get("CI_PIPELINE_ID", ""),
            "pipelineSource": env.get("CI_PIPELINE_SOURCE", ""),
            "configPath": env.get("CI_CONFIG_PATH", ""),
            "job": env.get("CI_JOB_NAME", ""),
        }.items()
        if v
    }
    started = env.get("CI_JOB_STARTED_AT")
    return {
        "ci": "gitlab-ci",
        "source_repository": repo,
        "commit": env.get("CI_COMMIT_SHA"),
        "ref": ref,
        "builder_id": f"{server}/{project}/-/runners/{runner}"
        if server and project and runner
        else None,
        "invocation_id": env.get("CI_JOB_URL")
        or (f"{server}/{project}/-/jobs/{job}" if server and project and job else None),
        "started_on": parse_time(started, what="CI_JOB_STARTED_AT") if started else None,
        "workflow": workflow,
        "internal": {"runnerId": runner} if runner else {},
    }


def detect_context(
    environ: Mapping[str, str],
    *,
    source_repository: str | None = None,
    commit: str | None = None,
    ref: str | None = None,
    builder_id: str | None = None,
    invocation_id: str | None = None,
    started_on: datetime | None = None,
    now: datetime | None = None,
) -> BuildContext:
    """The build context from the CI environment, each explicit argument taking precedence.

    Raises UsageError naming every value that is neither in the environment nor given.
    """
    if environ.get("GITHUB_ACTIONS") == "true":
        found = _github(environ)
    elif environ.get("GITLAB_CI") == "true":
        found = _gitlab(environ)
    else:
        found = {"ci": "manual", "workflow": {}, "internal": {}}
    values: dict[str, Any] = {
        "source_repository": source_repository or found.get("source_repository"),
        "commit": commit or found.get("commit"),
        "ref": ref or found.get("ref"),
        "builder_id": builder_id or found.get("builder_id"),
        "invocation_id": invocation_id or found.get("invocation_id"),
        "started_on": started_on or found.get("started_on"),
    }
    flags = {
        "source_repository": "--source-uri",
        "commit": "--commit",
        "builder_id": "--builder-id",
    }
    missing = [flag for name, flag in flags.items() if not values[name]]
    if missing:
        raise UsageError(
            f"the provenance needs {', '.join(missing)}: not found in the CI environment "
            f"(detected: {found['ci']})",
            hint="run inside GitHub Actions or GitLab CI, or pass the flags, e.g. "
            "--source-uri https://github.com/acme/app --commit <40-hex sha> "
            "--ref refs/heads/main --builder-id https://ci.example.com/runner",
        )
    _validate(values)
    return BuildContext(
        ci=str(found["ci"]),
        source_repository=str(values["source_repository"]).rstrip("/"),
        commit=str(values["commit"]).lower(),
        ref=values["ref"],
        builder_id=str(values["builder_id"]),
        invocation_id=values["invocation_id"],
        started_on=values["started_on"],
        finished_on=now or datetime.now(UTC),
        workflow=dict(found["workflow"]),
        internal=dict(found["internal"]),
    )


def _validate(values: Mapping[str, Any]) -> None:
    if not _URI.fullmatch(str(values["source_repository"])):
        raise UsageError(
            f"source repository {values['source_repository']!r} is not a URI",
            hint="write the repository's address, e.g. https://github.com/acme/app",
        )
    if not _COMMIT.fullmatch(str(values["commit"]).lower()):
        raise UsageError(
            f"commit {values['commit']!r} is not a full git commit id",
            hint="give the 40 (or 64) hex digits of 'git rev-parse HEAD'",
        )
    ref = values["ref"]
    if ref is not None and (not ref.startswith("refs/") or any(c.isspace() for c in ref)):
        raise UsageError(
            f"ref {ref!r} is not a full git ref name",
            hint="write refs/heads/<branch> or refs/tags/<tag>",
        )
    if not _URI.fullmatch(str(values["builder_id"])):
        raise UsageError(
            f"builder id {values['builder_id']!r} is not a URI",
            hint="a builder id names the build platform, e.g. https://ci.example.com/runner",
        )


def predicate(ctx: BuildContext) -> dict[str, Any]:
    """The SLSA provenance v1 predicate for ``ctx``."""
    source: dict[str, str] = {"repository": ctx.source_repository}
    if ctx.ref:
        source["ref"] = ctx.ref
    external: dict[str, Any] = {"ci": ctx.ci, "source": source}
    if ctx.workflow:
        external["workflow"] = dict(ctx.workflow)
    definition: dict[str, Any] = {
        "buildType": BUILD_TYPE,
        "externalParameters": external,
        "resolvedDependencies": [
            {"uri": ctx.source_uri(), "digest": {"gitCommit": ctx.commit}},
        ],
    }
    if ctx.internal:
        definition["internalParameters"] = dict(ctx.internal)
    metadata: dict[str, str] = {}
    if ctx.invocation_id:
        metadata["invocationId"] = ctx.invocation_id
    if ctx.started_on:
        metadata["startedOn"] = rfc3339(ctx.started_on)
    if ctx.finished_on:
        metadata["finishedOn"] = rfc3339(ctx.finished_on)
    run: dict[str, Any] = {"builder": {"id": ctx.builder_id}}
    if metadata:
        run["metadata"] = metadata
    return {"buildDefinition": definition, "runDetails": run}


def provenance_statement(artifacts: Sequence[tuple[str, str]], ctx: BuildContext) -> Statement:
    """An in-toto statement carrying the provenance of ``(name, sha256_hex)`` artifacts."""
    return statement_for(artifacts, PREDICATE_TYPE, predicate(ctx))


@dataclass(frozen=True)
class ProvenanceClaims:
    """What a verification policy checks in a provenance predicate."""

    build_type: str
    source_repository: str
    ref: str | None
    commit: str
    builder_id: str
    invocation_id: str | None

    @classmethod
    def from_predicate(cls, data: Mapping[str, Any], *, source: str) -> ProvenanceClaims:
        definition = _obj(data, "buildDefinition", source)
        run = _obj(data, "runDetails", source)
        build_type = definition.get("buildType")
        if build_type != BUILD_TYPE:
            raise FormatError(
                f"provenance buildType {build_type!r} is not one turbosec can check",
                where=source,
                hint=f"turbosec verifies provenance of buildType {BUILD_TYPE}",
            )
        external = _obj(definition, "externalParameters", source, "buildDefinition.")
        src = _obj(external, "source", source, "externalParameters.")
        repository = src.get("repository")
        ref = src.get("ref")
        if not isinstance(repository, str) or not repository:
            raise FormatError(
                "provenance has no externalParameters.source.repository", where=source
            )
        if ref is not None and not isinstance(ref, str):
            raise FormatError("provenance externalParameters.source.ref is not text", where=source)
        deps = definition.get("resolvedDependencies")
        expected_uri = f"git+{repository}@{ref}" if ref else f"git+{repository}"
        commit = None
        if isinstance(deps, list):
            for dep in deps:
                if isinstance(dep, dict) and dep.get("uri") == expected_uri:
                    digest = dep.get("digest")
                    if isinstance(digest, dict) and isinstance(digest.get("gitCommit"), str):
                        commit = digest["gitCommit"]
                        break
        if commit is None:
            raise FormatError(
                f"provenance resolvedDependencies has no {expected_uri!r} with a gitCommit digest",
                where=source,
            )
        builder = _obj(run, "builder", source, "runDetails.")
        builder_id = builder.get("id")
        if not isinstance(builder_id, str) or not builder_id:
            raise FormatError("provenance has no runDetails.builder.id", where=source)
        metadata = run.get("metadata")
        invocation = metadata.get("invocationId") if isinstance(metadata, dict) else None
        return cls(
            build_type=build_type,
            source_repository=repository,
            ref=ref,
            commit=commit,
            builder_id=builder_id,
            invocation_id=invocation if isinstance(invocation, str) else None,
        )


def _obj(data: Mapping[str, Any], key: str, source: str, prefix: str = "") -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise FormatError(f"provenance has no {prefix}{key} object", where=source)
    return value
