"""Sigma detection and correlation rules for ``turbosec watch``.

``model`` is what the engine evaluates, ``fields`` how a rule reads an event, ``sigma``
checks pySigma's rule objects and writes their logic in a plain form that ``matcher``
compiles into predicates, ``parsing`` reads Sigma YAML with pySigma, ``cache`` keeps
compiled rule sets (plain data) so that known rules load without pySigma, and ``loader``
reads rule files (and the built-in ``pack``) into a :class:`RuleSet`::

    rules = load_rules([Path("rules/")])
    for detection in rules.candidates(event.event):
        if detection.match(event): ...
"""

from turbosec.watch.rules.loader import (
    BUILTIN_PREFIX,
    MAX_RULE_FILE,
    builtin_paths,
    load_rules,
    rule_files,
)
from turbosec.watch.rules.matcher import DEFAULT_SEVERITY
from turbosec.watch.rules.model import (
    EXTRA_PREFIX,
    FIELDS,
    Condition,
    Correlation,
    CorrelationType,
    Detection,
    FieldGetter,
    Op,
    Predicate,
    RuleLoadError,
    RuleMeta,
    RuleSet,
    event_type_key,
)

__all__ = [
    "BUILTIN_PREFIX",
    "DEFAULT_SEVERITY",
    "EXTRA_PREFIX",
    "FIELDS",
    "MAX_RULE_FILE",
    "Condition",
    "Correlation",
    "CorrelationType",
    "Detection",
    "FieldGetter",
    "Op",
    "Predicate",
    "RuleLoadError",
    "RuleMeta",
    "RuleSet",
    "builtin_paths",
    "event_type_key",
    "load_rules",
    "rule_files",
]
