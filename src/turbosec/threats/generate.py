"""A realistic threat model of any size, for benchmarks and tests: ``generate_model(50, 120)``.

The system is a shop-like platform split into services: users and partners outside
(external entities on the internet), an edge (gateway, web front-ends) in a DMZ, services
in per-team namespaces nested inside an application network, datastores and queues in a
data network, all inside one cloud account.  Data assets carry every classification, some
of them personal data.  Processes get properties drawn from what services do (fetch URLs,
build SQL, parse uploads...) and controls whose evidence names pytest node ids; a few
triage entries accept, mitigate or track threats, some with wildcards and expiry dates.

Flows follow the architecture: externals call the edge over HTTPS, the edge calls
services, services call each other, write to and read from datastores, publish to and
consume from queues; the protocol and authentication depend on the pair.

Everything is drawn from :class:`random.Random` seeded with ``seed``: the same arguments
always give the same text.  Ids contain only the kind and a number (``svc-007``), so a
model with more components keeps the first ones' ids.
"""

from __future__ import annotations

import random
from typing import Any

import yaml

_EXTERNALS = ("customer", "mobile-app", "partner-api", "payment-provider", "admin-user")
_TECH = {
    "process": ("python/fastapi", "python/django", "java/spring", "go", "node/express"),
    "datastore": ("postgresql", "mysql", "redis", "s3", "elasticsearch"),
    "queue": ("rabbitmq", "kafka", "sqs"),
}
_PROCESS_PROPERTIES = (
    "authenticates_users",
    "fetches_urls",
    "parses_untrusted_files",
    "deserializes_untrusted_data",
    "executes_commands",
    "renders_html",
    "uses_sql",
    "handles_payments",
    "admin_interface",
    "multi_tenant",
    "secrets_in_config",
    "privileged",
    "stores_logs",
)
_PROCESS_CONTROLS = (
    "authentication",
    "authorization",
    "input_validation",
    "output_encoding",
    "parameterized_queries",
    "rate_limiting",
    "account_lockout",
    "audit_logging",
    "monitoring",
    "secrets_management",
    "csrf_protection",
    "session_management",
    "url_allowlist",
    "sandboxing",
    "least_privilege",
    "safe_deserialization",
    "security_headers",
    "error_handling",
    "dependency_scanning",
)
_DATASTORE_CONTROLS = ("encryption_at_rest", "backup", "authentication", "least_privilege")
_CLASSIFICATIONS = ("public", "internal", "confidential", "restricted", "secret")


def _pick(rng: random.Random, items: tuple[str, ...], low: int, high: int) -> list[str]:
    return sorted(rng.sample(items, rng.randint(low, min(high, len(items)))))


def generate_model(components: int = 50, flows: int = 120, *, seed: int = 1) -> str:
    """YAML text of a valid model with ``components`` components and ``flows`` flows."""
    if components < 4:
        raise ValueError("a generated model needs at least 4 components")
    if flows < 1:
        raise ValueError("a generated model needs at least one flow")
    rng = random.Random(seed)  # noqa: S311 (test data, not secrets)

    # --- how many of each kind
    n_ext = max(1, components // 10)
    n_store = max(1, components // 4)
    n_queue = max(1, components // 10)
    n_proc = components - n_ext - n_store - n_queue
    if n_proc < 1:
        n_ext, n_store, n_queue, n_proc = 1, 1, 1, components - 3
    n_teams = max(1, n_proc // 6)

    # --- boundaries (nested)
    boundaries: list[dict[str, Any]] = [
        {"id": "internet", "name": "Internet"},
        {"id": "cloud", "name": "Cloud account"},
        {"id": "dmz", "name": "DMZ", "parent": "cloud"},
        {"id": "app-net", "name": "Application network", "parent": "cloud"},
        {"id": "data-net", "name": "Data network", "parent": "cloud"},
    ]
    for t in range(n_teams):
        boundaries.append(
            {"id": f"ns-team-{t + 1:02}", "name": f"Team {t + 1} namespace", "parent": "app-net"}
        )

    # --- data
    n_data = max(3, components // 3)
    data: list[dict[str, Any]] = []
    for i in range(n_data):
        cls = _CLASSIFICATIONS[i % len(_CLASSIFICATIONS)] if i < 5 else rng.choice(_CLASSIFICATIONS)
        item: dict[str, Any] = {
            "id": f"data-{i + 1:03}",
            "name": f"Data set {i + 1}",
            "classification": cls,
        }
        if cls in ("confidential", "restricted") and rng.random() < 0.6:
            item["pii"] = True
        data.append(item)
    data_ids = [d["id"] for d in data]

    comps: list[dict[str, Any]] = []
    controls: list[dict[str, Any]] = []

    def add_control(owner: str, kind: str) -> str:
        cid = f"ctl-{owner}-{kind.replace('_', '-')}"
        module = owner.replace("-", "_")
        control: dict[str, Any] = {
            "id": cid,
            "kind": kind,
            "description": f"{kind.replace('_', ' ')} of {owner}",
        }
        roll = rng.random()
        if roll < 0.8:
            control["evidence"] = {"tests": [f"tests/{module}/test_security.py::test_{kind}"]}
        elif roll < 0.9:
            control["evidence"] = {"tickets": [f"SEC-{rng.randint(100, 999)}"]}
        controls.append(control)
        return cid

    externals = []
    for i in range(n_ext):
        base = _EXTERNALS[i % len(_EXTERNALS)]
        cid = f"{base}-{i + 1:02}"
        comp: dict[str, Any] = {
            "id": cid,
            "name": base.replace("-", " ").capitalize(),
            "kind": "external_entity",
            "boundary": "internet",
        }
        if base in ("payment-provider", "partner-api"):
            comp["properties"] = ["third_party"]
        comps.append(comp)
        externals.append(cid)

    edge: list[str] = []
    services: list[str] = []
    for i in range(n_proc):
        cid = f"svc-{i + 1:03}"
        is_edge = i < max(1, n_proc // 8)
        boundary = "dmz" if is_edge else f"ns-team-{(i % n_teams) + 1:02}"
        props = _pick(rng, _PROCESS_PROPERTIES, 0, 4)
        if is_edge:
            props = sorted(set(props) | {"internet_facing"})
        comp = {
            "id": cid,
            "name": f"Service {i + 1}",
            "kind": "process",
            "boundary": boundary,
            "technology": rng.choice(_TECH["process"]),
        }
        if props:
            comp["properties"] = props
        ctl = [add_control(cid, kind) for kind in _pick(rng, _PROCESS_CONTROLS, 1, 5)]
        comp["controls"] = ctl
        comp["data"] = sorted(rng.sample(data_ids, rng.randint(0, min(3, len(data_ids)))))
        if not comp["data"]:
            del comp["data"]
        comps.append(comp)
        (edge if is_edge else services).append(cid)
    if not services:
        services = list(edge)

    stores: list[str] = []
    for i in range(n_store):
        cid = f"db-{i + 1:03}"
        comp = {
            "id": cid,
            "name": f"Datastore {i + 1}",
            "kind": "datastore",
            "boundary": "data-net",
            "technology": rng.choice(_TECH["datastore"]),
            "data": sorted(rng.sample(data_ids, rng.randint(1, min(4, len(data_ids))))),
        }
        props = ["backups"] if rng.random() < 0.5 else []
        if comp["technology"] == "s3" and rng.random() < 0.3:
            props.append("public_bucket")
        if props:
            comp["properties"] = sorted(props)
        ctl = [add_control(cid, kind) for kind in _pick(rng, _DATASTORE_CONTROLS, 0, 3)]
        if ctl:
            comp["controls"] = ctl
        comps.append(comp)
        stores.append(cid)

    queues: list[str] = []
    for i in range(n_queue):
        cid = f"mq-{i + 1:03}"
        comps.append(
            {
                "id": cid,
                "name": f"Queue {i + 1}",
                "kind": "queue",
                "boundary": "data-net",
                "technology": rng.choice(_TECH["queue"]),
            }
        )
        queues.append(cid)

    # --- flows
    kinds = {c["id"]: c["kind"] for c in comps}
    out_flows: list[dict[str, Any]] = []
    used: set[str] = set()

    def flow_between(src: str, dst: str) -> dict[str, Any]:
        sk, dk = kinds[src], kinds[dst]
        if sk == "external_entity":
            protocol = rng.choice(("https", "https", "https", "http"))
            auth = rng.choice(("session", "oidc", "api_key", "none"))
        elif dk == "datastore":
            protocol = rng.choice(("sql", "sql_tls", "sql_tls", "rediss", "https"))
            auth = rng.choice(("password", "iam", "mtls", "none"))
        elif dk == "queue" or sk == "queue":
            protocol = rng.choice(("amqp", "amqps", "kafka", "kafka_tls"))
            auth = rng.choice(("password", "mtls", "none"))
        else:
            protocol = rng.choice(("https", "grpcs", "grpc", "http"))
            auth = rng.choice(("token", "mtls", "none", "oauth"))
        base = f"{src}-to-{dst}"
        fid, n = base, 2
        while fid in used:
            fid, n = f"{base}-{n}", n + 1
        used.add(fid)
        flow: dict[str, Any] = {"id": fid, "from": src, "to": dst, "protocol": protocol}
        if auth != "none":
            flow["authentication"] = auth
        if data_ids and rng.random() < 0.7:
            flow["data"] = sorted(rng.sample(data_ids, rng.randint(1, min(2, len(data_ids)))))
        props = []
        if auth in ("password", "session") and rng.random() < 0.5:
            props.append("carries_credentials")
        if "queue" in (sk, dk):
            props.append("async")
        if dk == "datastore" and rng.random() < 0.15:
            props.append("batch")
        if props:
            flow["properties"] = sorted(props)
        if rng.random() < 0.15:
            flow["controls"] = [
                add_control(fid, rng.choice(("encryption_in_transit", "replay_protection")))
            ]
        return flow

    processes = edge + services
    patterns: list[tuple[list[str], list[str]]] = [
        (externals, edge or services),
        (edge or services, services),
        (services, services),
        (services, stores),
        (services, queues),
        (queues, services),
    ]
    weights = (3, 3, 4, 5, 2, 2)
    # Every component gets at least one flow first, then the rest at random.
    for cid in [c["id"] for c in comps]:
        if len(out_flows) >= flows:
            break
        if kinds[cid] == "external_entity":
            out_flows.append(flow_between(cid, rng.choice(edge or services)))
        elif kinds[cid] in ("datastore", "queue"):
            out_flows.append(flow_between(rng.choice(processes), cid))
        else:
            others = [p for p in services if p != cid] or stores
            out_flows.append(flow_between(cid, rng.choice(others)))
    while len(out_flows) < flows:
        sources, targets = rng.choices(patterns, weights=weights)[0]
        src, dst = rng.choice(sources), rng.choice(targets)
        if src == dst:
            continue
        out_flows.append(flow_between(src, dst))

    # --- triage: a few decisions, with wildcards and expiry dates
    triage: list[dict[str, Any]] = []
    proc_controls = {c["id"]: c.get("controls", []) for c in comps if c["kind"] == "process"}
    for i, cid in enumerate(sorted(proc_controls)[: max(1, n_proc // 5)]):
        ctl = proc_controls[cid]
        if i % 3 == 0 and ctl:
            triage.append(
                {
                    "threat": f"TM-PROC-*@{cid}",
                    "status": "mitigated",
                    "mitigated_by": [ctl[0]],
                    "ticket": f"SEC-{100 + i}",
                }
            )
        elif i % 3 == 1:
            triage.append(
                {
                    "threat": f"TM-PROC-012@{cid}",
                    "status": "accepted",
                    "justification": "the platform pipeline scans this service's dependencies",
                    "expires": f"2027-0{1 + i % 9}-15",
                }
            )
        else:
            triage.append(
                {
                    "threat": f"TM-AUTH-001@{cid}",
                    "status": "in_progress",
                    "ticket": f"SEC-{200 + i}",
                }
            )
    if stores:
        triage.append(
            {
                "threat": f"TM-DS-*@{stores[0]}",
                "status": "false_positive",
                "justification": "holds only generated test data",
            }
        )

    model: dict[str, Any] = {
        "version": 1,
        "system": {
            "name": f"Generated platform ({components} components, {flows} flows)",
            "owner": "platform-team",
            "description": f"Generated by turbosec.threats.generate with seed {seed}.",
        },
        "data": data,
        "boundaries": boundaries,
        "components": comps,
        "flows": out_flows,
        "controls": sorted(controls, key=lambda c: c["id"]),
        "triage": triage,
    }
    return yaml.safe_dump(
        model, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )
