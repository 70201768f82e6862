"""Threat rules kept as data: YAML rule files, compiled conditions, and the engine that derives
:class:`~turbosec.threats.model.Threat` objects from a model.

* :func:`load_rules` reads the built-in library (``pack/*.yml``) and teams' own rule files;
* :func:`derive_threats` applies a :class:`RuleSet` to a model.

A rule's ``unless_controls`` never hides a threat: when the element (for a flow: the flow or
its target component) has a control of a listed kind, the threat is still derived and the
control ids are recorded in ``Threat.candidate_controls``; the assessment counts the threat as
mitigated only once those controls' tests exist and passed.  That is also why the built-in
rules test ``flow.protocol_encrypted`` (the protocol alone) rather than ``flow.encrypted``: a
declared ``encryption_in_transit`` control on a clear-text protocol must be proven by its
tests, not merely declared.

Besides the attributes of the shared contract, components have ``name`` and
``inbound_authentication`` (the authentication methods of the flows into them), and flows have
``name``, ``protocol_encrypted`` and ``has_secrets_data``.
"""

from __future__ import annotations

from turbosec.threats.rules.attributes import COMPONENT_ATTRIBUTES, FLOW_ATTRIBUTES
from turbosec.threats.rules.engine import derive_threats
from turbosec.threats.rules.loader import (
    Rule,
    RuleSet,
    builtin_rule_files,
    load_rules,
    load_rules_text,
)

__all__ = [
    "COMPONENT_ATTRIBUTES",
    "FLOW_ATTRIBUTES",
    "Rule",
    "RuleSet",
    "builtin_rule_files",
    "derive_threats",
    "load_rules",
    "load_rules_text",
]
