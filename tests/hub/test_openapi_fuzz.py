"""The OpenAPI schema against the running app: no 5xx, every answer as documented.

* schemathesis generates a few random requests per operation (positive and negative
  data), on SQLite and PostgreSQL, authenticated as an admin (the matrix test covers the
  other callers);
* every integer and length-limited parameter is also sent at its documented bounds, which
  is where databases disagree (PostgreSQL's 32-bit ids, varchar lengths).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.config import SchemathesisConfig

from tests.hub.conftest import Hub
from tests.hub.reports import dumps, findings, report

schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def api_schema(hub: Hub) -> Any:
    config = SchemathesisConfig.from_dict(
        {"phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}}}
    )
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", hub.client.app, config=config)


@schema.parametrize()
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms(case: Any, hub: Hub) -> None:
    # The admin's token is added to every request, also to those schemathesis meant to
    # send without one, and the hub ignores unknown query parameters by design: the check
    # that expects such "negative" requests to be refused does not apply.
    excluded = [checks.negative_data_rejection]
    if case.operation.path.endswith(("/status", "/alerts")) or "cursor" in (case.query or {}):
        # What no schema can say: an acceptance's expiry must lie in the future, an alert's
        # last_seen cannot precede its first_seen, and a cursor is valid only as the hub
        # handed it out (4xx otherwise).
        excluded.append(checks.positive_data_acceptance)
    case.call_and_validate(headers=hub.headers("admin"), excluded_checks=excluded)


def _bounds(param: dict[str, Any]) -> list[Any]:
    """Values at and just beyond the parameter's documented limits."""
    spec = param.get("schema", {})
    options = spec.get("anyOf") or [spec]
    values: list[Any] = []
    for option in options:
        if option.get("type") == "integer":
            for key, step in (("maximum", 1), ("minimum", -1)):
                if key in option:
                    values += [option[key], option[key] + step]
            values.append(2**63)
        elif option.get("type") == "string" and "maxLength" in option and "pattern" not in option:
            values += ["a" * option["maxLength"], "a" * (option["maxLength"] + 1)]
        elif option.get("type") == "string" and "maxLength" in option:
            values.append("a" * (option["maxLength"] + 1))
    return values


def test_every_parameter_at_its_bounds(hub: Hub) -> None:
    assert hub.upload(dumps(report(findings(range(2))))).status_code == 201
    openapi = hub.client.get("/api/v1/openapi.json").json()
    defaults = {"project": "alpha", "finding_id": "1", "token_id": "1"}
    problems = []
    sent = 0
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            params = operation.get("parameters", [])
            for param in params:
                for value in _bounds(param):
                    url = path
                    for name, default in defaults.items():
                        url = url.replace(
                            "{" + name + "}", str(value) if name == param["name"] else default
                        )
                    query = {param["name"]: value} if param["in"] == "query" else {}
                    answer = hub.client.request(
                        method.upper(), url, params=query, headers=hub.headers("admin")
                    )
                    sent += 1
                    documented = set(operation["responses"])
                    if answer.status_code >= 500 or str(answer.status_code) not in documented:
                        problems.append(
                            f"{method.upper()} {url} {query}: {answer.status_code} "
                            f"{answer.text[:200]}"
                        )
    assert sent > 50
    assert not problems, "\n".join(problems)
