"""in-toto statements and SLSA provenance from GitHub Actions, GitLab CI or flags."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.integrity.conftest import COMMIT, REPO
from turbosec.core.errors import UsageError
from turbosec.integrity.errors import FormatError
from turbosec.integrity.intoto import STATEMENT_TYPE, Statement
from turbosec.integrity.provenance import (
    BUILD_TYPE,
    GITHUB_HOSTED_BUILDER,
    PREDICATE_TYPE,
    ProvenanceClaims,
    detect_context,
    provenance_statement,
)

NOW = datetime(2025, 6, 1, 12, 0, 30, tzinfo=UTC)
SHA = "5d" * 32

GITHUB_ENV = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": "acme/app",
    "GITHUB_SHA": COMMIT,
    "GITHUB_REF": "refs/tags/v1.2.0",
    "GITHUB_RUN_ID": "9876",
    "GITHUB_RUN_ATTEMPT": "2",
    "GITHUB_WORKFLOW_REF": "acme/app/.github/workflows/release.yml@refs/tags/v1.2.0",
    "GITHUB_EVENT_NAME": "push",
    "RUNNER_ENVIRONMENT": "github-hosted",
}

GITLAB_ENV = {
    "GITLAB_CI": "true",
    "CI_SERVER_URL": "https://gitlab.example.com",
    "CI_PROJECT_PATH": "group/app",
    "CI_PROJECT_URL": "https://gitlab.example.com/group/app",
    "CI_COMMIT_SHA": COMMIT,
    "CI_COMMIT_REF_NAME": "main",
    "CI_COMMIT_BRANCH": "main",
    "CI_PIPELINE_ID": "555",
    "CI_JOB_ID": "777",
    "CI_JOB_URL": "https://gitlab.example.com/group/app/-/jobs/777",
    "CI_RUNNER_ID": "12",
    "CI_JOB_STARTED_AT": "2025-06-01T11:58:00Z",
}


def test_github_actions_statement_has_the_slsa_v1_shape() -> None:
    ctx = detect_context(GITHUB_ENV, now=NOW)
    statement = provenance_statement([("app.whl", SHA)], ctx)
    doc = json.loads(statement.to_json())
    assert doc["_type"] == STATEMENT_TYPE == "https://in-toto.io/Statement/v1"
    assert doc["subject"] == [{"name": "app.whl", "digest": {"sha256": SHA}}]
    assert doc["predicateType"] == PREDICATE_TYPE == "https://slsa.dev/provenance/v1"
    definition = doc["predicate"]["buildDefinition"]
    assert definition["buildType"] == BUILD_TYPE
    assert definition["externalParameters"]["source"] == {
        "repository": REPO,
        "ref": "refs/tags/v1.2.0",
    }
    assert definition["externalParameters"]["workflow"]["ref"].endswith(
        "release.yml@refs/tags/v1.2.0"
    )
    assert definition["internalParameters"] == {
        "runnerEnvironment": "github-hosted",
        "runAttempt": "2",
    }
    assert definition["resolvedDependencies"] == [
        {"uri": f"git+{REPO}@refs/tags/v1.2.0", "digest": {"gitCommit": COMMIT}}
    ]
    run = doc["predicate"]["runDetails"]
    assert run["builder"] == {"id": GITHUB_HOSTED_BUILDER}
    assert run["metadata"] == {
        "invocationId": f"{REPO}/actions/runs/9876/attempts/2",
        "finishedOn": "2025-06-01T12:00:30Z",
    }
    claims = ProvenanceClaims.from_predicate(doc["predicate"], source="mem")
    assert (claims.source_repository, claims.ref, claims.commit, claims.builder_id) == (
        REPO,
        "refs/tags/v1.2.0",
        COMMIT,
        GITHUB_HOSTED_BUILDER,
    )


def test_self_hosted_runner_is_another_builder() -> None:
    ctx = detect_context({**GITHUB_ENV, "RUNNER_ENVIRONMENT": "self-hosted"}, now=NOW)
    assert ctx.builder_id == "https://github.com/actions/runner/self-hosted"


def test_gitlab_ci_context() -> None:
    ctx = detect_context(GITLAB_ENV, now=NOW)
    assert ctx.ci == "gitlab-ci"
    assert ctx.source_repository == "https://gitlab.example.com/group/app"
    assert ctx.ref == "refs/heads/main"
    assert ctx.builder_id == "https://gitlab.example.com/group/app/-/runners/12"
    assert ctx.invocation_id == "https://gitlab.example.com/group/app/-/jobs/777"
    assert ctx.started_on == datetime(2025, 6, 1, 11, 58, tzinfo=UTC)
    run = provenance_statement([("a", SHA)], ctx).predicate["runDetails"]
    assert run["metadata"]["startedOn"] == "2025-06-01T11:58:00Z"
    tagged = detect_context({**GITLAB_ENV, "CI_COMMIT_TAG": "v2.0", "CI_COMMIT_BRANCH": ""})
    assert tagged.ref == "refs/tags/v2.0"
    mr = detect_context({**GITLAB_ENV, "CI_COMMIT_BRANCH": "", "CI_MERGE_REQUEST_IID": "42"})
    assert mr.ref == "refs/merge-requests/42/head"


def test_flags_override_and_fill_in() -> None:
    ctx = detect_context(
        GITHUB_ENV, ref="refs/heads/main", builder_id="https://ci.example.com/b", now=NOW
    )
    assert ctx.ref == "refs/heads/main" and ctx.builder_id == "https://ci.example.com/b"
    manual = detect_context(
        {},
        source_repository="https://git.example.com/x/y/",
        commit=COMMIT.upper(),
        builder_id="https://ci.example.com/b",
    )
    assert manual.ci == "manual"
    assert manual.source_repository == "https://git.example.com/x/y"
    assert manual.commit == COMMIT and manual.ref is None
    assert manual.source_uri() == "git+https://git.example.com/x/y"


def test_missing_values_are_named_with_their_flags() -> None:
    with pytest.raises(UsageError) as info:
        detect_context({"GITHUB_ACTIONS": "true"})
    text = info.value.diagnostics()
    assert "--source-uri" in text and "--commit" in text and "--builder-id" in text
    assert "github-actions" in text


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"commit": "abc123"}, "full git commit id"),
        ({"ref": "main"}, "refs/heads/<branch>"),
        ({"source_repository": "acme/app"}, "not a URI"),
        ({"builder_id": "my laptop"}, "not a URI"),
    ],
)
def test_bad_values_are_refused(override: dict[str, str], message: str) -> None:
    values = {
        "source_repository": REPO,
        "commit": COMMIT,
        "builder_id": "https://ci.example.com/b",
        **override,
    }
    with pytest.raises(UsageError, match=message):
        detect_context({}, **values)  # type: ignore[arg-type]


def test_statement_parsing_is_strict() -> None:
    good = provenance_statement([("a", SHA)], detect_context(GITHUB_ENV)).to_dict()
    assert Statement.from_dict(good, source="mem").names_digest(SHA)
    cases = [
        ({**good, "_type": "https://in-toto.io/Statement/v0.1"}, "_type"),
        ({**good, "subject": []}, "no subject"),
        ({**good, "subject": [{"name": "a", "digest": {}}]}, "no digest"),
        ({**good, "subject": [{"name": "a", "digest": {"sha256": "XYZ"}}]}, "64 lowercase hex"),
        ({**good, "predicate": []}, "predicate must be an object"),
        ({**good, "extra": 1}, "unknown field"),
        ({k: v for k, v in good.items() if k != "predicateType"}, "predicateType"),
    ]
    for document, message in cases:
        with pytest.raises(FormatError, match=message):
            Statement.from_dict(document, source="mem")


def test_claims_refuse_unknown_build_types_and_inconsistent_sources() -> None:
    predicate = provenance_statement([("a", SHA)], detect_context(GITHUB_ENV)).to_dict()[
        "predicate"
    ]
    other = json.loads(json.dumps(predicate))
    other["buildDefinition"]["buildType"] = "https://example.com/other"
    with pytest.raises(FormatError, match="not one turbosec can check"):
        ProvenanceClaims.from_predicate(other, source="mem")
    moved = json.loads(json.dumps(predicate))
    moved["buildDefinition"]["externalParameters"]["source"]["ref"] = "refs/heads/main"
    with pytest.raises(FormatError, match="resolvedDependencies has no"):
        ProvenanceClaims.from_predicate(moved, source="mem")
    builderless = json.loads(json.dumps(predicate))
    del builderless["runDetails"]["builder"]
    with pytest.raises(FormatError, match=r"runDetails\.builder"):
        ProvenanceClaims.from_predicate(builderless, source="mem")


def test_in_toto_attestation_framework_accepts_our_provenance_statement() -> None:
    """The framework's own messages parse the statement and the SLSA v1 predicate strictly
    (an unknown or misspelt field is an error there) and its validator accepts them."""
    json_format = pytest.importorskip("google.protobuf.json_format")
    statement_pb2 = pytest.importorskip("in_toto_attestation.v1.statement_pb2")
    ita = pytest.importorskip("in_toto_attestation.v1.statement")
    provenance_pb2 = pytest.importorskip(
        "in_toto_attestation.predicates.provenance.v1.provenance_pb2"
    )
    statement = provenance_statement([("app.whl", "ab" * 32)], detect_context(GITHUB_ENV, now=NOW))
    raw = statement.to_json().decode()
    parsed = json_format.Parse(raw, statement_pb2.Statement())
    ita.Statement.copy_from_pb(parsed).validate()
    json_format.Parse(json.dumps(statement.to_dict()["predicate"]), provenance_pb2.Provenance())
