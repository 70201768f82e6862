"""The threat model's domain types: what a model holds, what rules derive, what was assessed.

Everything here is a frozen dataclass so that analysis is a pure function of its inputs
(same model and rules → same threats, same ids, same reports).  Every element carries the
:class:`SourceRef` of the YAML line that declared it, so errors, reports and SARIF results
point at the model file.

The vocabularies below (component kinds, classifications, component and flow properties,
control kinds, protocols, authentication methods) are closed: the loader rejects any other
value and the rule loader rejects conditions on attributes that do not exist, so a misspelt
name is an error instead of a silent non-match.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from turbosec.core.severity import Severity


class Classification(enum.IntEnum):
    """Data classification, ordered: a rule may ask for ``>= confidential``."""

    PUBLIC = 0
    INTERNAL = 1
    CONFIDENTIAL = 2
    RESTRICTED = 3
    SECRET = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> Classification:
        try:
            return cls[str(value).strip().upper()]
        except KeyError:
            names = ", ".join(c.label for c in cls)
            raise ValueError(f"unknown classification {value!r}; expected one of {names}") from None


class ComponentKind(enum.StrEnum):
    EXTERNAL_ENTITY = "external_entity"  # a person or system outside our control
    PROCESS = "process"  # code we run: web app, API, worker, job
    DATASTORE = "datastore"  # database, bucket, cache, file share
    QUEUE = "queue"  # message broker, stream, topic


class ThreatStatus(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    MITIGATED = "mitigated"
    ACCEPTED = "accepted"
    TRANSFERRED = "transferred"
    FALSE_POSITIVE = "false_positive"


class Stride(enum.StrEnum):
    SPOOFING = "spoofing"
    TAMPERING = "tampering"
    REPUDIATION = "repudiation"
    INFORMATION_DISCLOSURE = "information_disclosure"
    DENIAL_OF_SERVICE = "denial_of_service"
    ELEVATION_OF_PRIVILEGE = "elevation_of_privilege"


# Facts about a component, all booleans (absent = false).  Mitigations are *controls*, not
# properties: a property says what the component does, a control says how it is defended.
COMPONENT_PROPERTIES: Mapping[str, str] = {
    "internet_facing": "reachable from the internet",
    "authenticates_users": "checks user credentials (a login, a token issuer)",
    "fetches_urls": "fetches URLs that requests can influence (webhooks, previews, imports)",
    "parses_untrusted_files": "parses uploaded or downloaded files (images, archives, XML)",
    "deserializes_untrusted_data": "deserializes data from outside (pickle, YAML, Java)",
    "executes_commands": "starts operating-system commands",
    "renders_html": "renders HTML pages that include user-supplied content",
    "uses_sql": "builds SQL queries",
    "handles_payments": "moves money or payment card data",
    "admin_interface": "exposes administrative functions",
    "multi_tenant": "serves several customers from shared code or storage",
    "secrets_in_config": "reads secrets from configuration files or environment variables",
    "privileged": "runs with elevated privileges (root, cluster-admin, cloud admin role)",
    "third_party": "operated by a third party",
    "stores_logs": "keeps logs or audit trails",
    "public_bucket": "(datastore) readable without authentication",
    "backups": "(datastore) backed up regularly",
}

FLOW_PROPERTIES: Mapping[str, str] = {
    "carries_credentials": "carries passwords, tokens or keys",
    "user_controlled_destination": "the destination URL or host comes from user input",
    "async": "fire-and-forget (no response to the sender)",
    "batch": "bulk transfer (exports, replication, backups)",
}

# What a control does; rules name these in ``unless_controls``.
CONTROL_KINDS: Mapping[str, str] = {
    "authentication": "callers prove who they are",
    "mfa": "a second factor for users",
    "authorization": "each action checks the caller's rights",
    "input_validation": "untrusted input is validated against an allow-list",
    "output_encoding": "output is encoded for its context (HTML, SQL parameters, shell)",
    "parameterized_queries": "queries never concatenate input",
    "encryption_in_transit": "TLS or an equivalent protects the channel",
    "encryption_at_rest": "stored data is encrypted",
    "rate_limiting": "requests per caller are limited",
    "account_lockout": "repeated failed logins lock or slow down the account",
    "audit_logging": "security-relevant actions are logged with who/what/when",
    "monitoring": "logs are watched and alert on attacks",
    "secrets_management": "secrets come from a vault or secret store, not from files",
    "csrf_protection": "state-changing requests carry an anti-forgery token",
    "session_management": "sessions expire, rotate and are revoked on logout",
    "url_allowlist": "outgoing requests only to allowed destinations (SSRF defence)",
    "sandboxing": "risky work runs isolated with least privilege",
    "least_privilege": "the component's identity holds only the rights it needs",
    "integrity_check": "data or artifacts are signed or checksummed and verified",
    "replay_protection": "messages carry nonces or timestamps that are checked",
    "backup": "data is backed up and restores are tested",
    "network_segmentation": "network policy restricts who can connect",
    "tenant_isolation": "one tenant's data is never visible to another",
    "safe_deserialization": "only safe formats or allow-listed types are deserialized",
    "waf": "a web application firewall filters requests",
    "security_headers": "CSP, HSTS, frame-ancestors and similar headers are set",
    "error_handling": "errors never reveal internals to callers",
    "dependency_scanning": "dependencies are scanned for known vulnerabilities",
}

PROTOCOLS: frozenset[str] = frozenset(
    {
        "http",
        "https",
        "grpc",
        "grpcs",
        "tcp",
        "tls",
        "ssh",
        "sftp",
        "ftp",
        "smtp",
        "smtps",
        "sql",
        "sql_tls",
        "amqp",
        "amqps",
        "mqtt",
        "mqtts",
        "kafka",
        "kafka_tls",
        "redis",
        "rediss",
        "ldap",
        "ldaps",
        "dns",
        "file",
        "in_process",
    }
)
# Protocols that encrypt the channel by themselves.
ENCRYPTED_PROTOCOLS: frozenset[str] = frozenset(
    {
        "https",
        "grpcs",
        "tls",
        "ssh",
        "sftp",
        "smtps",
        "sql_tls",
        "amqps",
        "mqtts",
        "kafka_tls",
        "rediss",
        "ldaps",
        "in_process",
    }
)
AUTHENTICATION_METHODS: frozenset[str] = frozenset(
    {
        "none",
        "password",
        "session",
        "token",
        "api_key",
        "oauth",
        "oidc",
        "saml",
        "mtls",
        "client_certificate",
        "signature",
        "iam",
    }
)


@dataclass(frozen=True, slots=True, order=True)
class SourceRef:
    """Where something was declared: a model file (as given or relative to the main model's
    directory, POSIX) and a 1-based line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class DataAsset:
    id: str
    name: str
    classification: Classification
    pii: bool
    ref: SourceRef
    description: str = ""


@dataclass(frozen=True, slots=True)
class Boundary:
    id: str
    name: str
    ref: SourceRef
    parent: str | None = None  # id of the enclosing boundary
    description: str = ""


@dataclass(frozen=True, slots=True)
class Control:
    id: str
    kind: str  # one of CONTROL_KINDS
    ref: SourceRef
    description: str = ""
    tests: tuple[str, ...] = ()  # pytest node ids: "tests/test_login.py::test_lockout"
    tickets: tuple[str, ...] = ()  # references only: a ticket never proves a mitigation


@dataclass(frozen=True, slots=True)
class Component:
    id: str
    name: str
    kind: ComponentKind
    ref: SourceRef
    boundary: str | None = None
    technology: str = ""
    description: str = ""
    properties: frozenset[str] = frozenset()  # names from COMPONENT_PROPERTIES that are true
    controls: tuple[str, ...] = ()  # Control ids
    data: tuple[str, ...] = ()  # DataAsset ids the component stores or processes


@dataclass(frozen=True, slots=True)
class Flow:
    id: str
    source: str  # Component id ("from" in YAML)
    target: str  # Component id ("to" in YAML)
    protocol: str  # one of PROTOCOLS
    ref: SourceRef
    name: str = ""
    authentication: str = "none"  # one of AUTHENTICATION_METHODS
    description: str = ""
    properties: frozenset[str] = frozenset()  # names from FLOW_PROPERTIES that are true
    controls: tuple[str, ...] = ()
    data: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TriageEntry:
    """A decision about threats whose id matches ``pattern`` (``*`` and ``?`` wildcards)."""

    pattern: str
    status: ThreatStatus
    ref: SourceRef
    mitigated_by: tuple[str, ...] = ()  # Control ids
    justification: str = ""
    ticket: str = ""
    expires: dt.date | None = None
    external_id: str = ""  # e.g. the Threagile risk id it came from


@dataclass(frozen=True, slots=True)
class ThreatModel:
    """A loaded, validated model: every reference resolves, every id is unique."""

    name: str
    owner: str
    path: str  # the main model file as given
    files: tuple[str, ...]  # main file then includes, in load order
    data: Mapping[str, DataAsset]
    boundaries: Mapping[str, Boundary]
    components: Mapping[str, Component]
    flows: Mapping[str, Flow]
    controls: Mapping[str, Control]
    triage: tuple[TriageEntry, ...] = ()
    description: str = ""
    external_ids: Mapping[str, str] = field(default_factory=dict)  # our id -> imported id


@dataclass(frozen=True, slots=True)
class Threat:
    """One threat a rule derived for one element.  ``id`` is stable: it is built only from the
    rule id and the ids of the element(s) involved, never from positions or counters."""

    id: str
    rule_id: str
    title: str
    element_kind: str  # "component" or "flow"
    element_id: str
    component_id: str  # grouping key for reports: the component itself, or a flow's target
    stride: tuple[Stride, ...]
    severity: Severity
    explanation: str  # why it fired, in words naming the element and the facts used
    ref: SourceRef  # the element's declaration
    cwe: tuple[int, ...] = ()
    capec: tuple[int, ...] = ()
    description: str = ""  # the rule's description
    mitigation: str = ""  # the rule's advice
    # Control ids on the element whose kind is in the rule's unless_controls: the threat is
    # mitigated by them provided their evidence exists and passed.
    candidate_controls: tuple[str, ...] = ()
    references: tuple[str, ...] = ()


class TestOutcome(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"  # failed or error in the JUnit report
    SKIPPED = "skipped"
    NOT_RUN = "not_run"  # exists, but no JUnit report given mentions it
    MISSING = "missing"  # the node id does not exist (collect-only did not find it)
    UNKNOWN = "unknown"  # existence not checked and no JUnit result


@dataclass(frozen=True, slots=True)
class TestEvidence:
    node_id: str
    outcome: TestOutcome
    detail: str = ""  # failure message first line, or why it is missing


@dataclass(frozen=True, slots=True)
class ControlEvidence:
    control_id: str
    tests: tuple[TestEvidence, ...]

    @property
    def proven(self) -> bool:
        """True when the control has at least one test and every test passed."""
        return bool(self.tests) and all(t.outcome is TestOutcome.PASSED for t in self.tests)


@dataclass(frozen=True, slots=True)
class EvidenceReport:
    """What the evidence step learnt about every control of a model."""

    controls: Mapping[str, ControlEvidence]
    collected: bool  # pytest --collect-only ran
    junit_files: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AssessedThreat:
    threat: Threat
    status: ThreatStatus  # the effective status after evidence and expiry
    declared_status: ThreatStatus | None  # what triage said, None when no entry matched
    reason: str  # why the status is what it is (names control and test when evidence fails)
    triage: TriageEntry | None = None
    controls: tuple[ControlEvidence, ...] = ()  # the controls relied on for mitigation

    @property
    def is_open(self) -> bool:
        return self.status in (ThreatStatus.OPEN, ThreatStatus.IN_PROGRESS)


@dataclass(frozen=True, slots=True)
class Analysis:
    model: ThreatModel
    threats: tuple[AssessedThreat, ...]  # sorted by threat id
    rules_count: int
    evidence: EvidenceReport | None = None
    stale_triage: tuple[TriageEntry, ...] = ()  # entries that match no threat
    warnings: tuple[str, ...] = ()
