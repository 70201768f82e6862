"""Converters from other threat-modelling tools' formats to turbosec's model YAML.

Each importer reads one foreign file and returns the text of a ``threatmodel.yaml``; the
loader then checks it like any hand-written model.  Importers: :mod:`.threagile`.
"""

from __future__ import annotations
