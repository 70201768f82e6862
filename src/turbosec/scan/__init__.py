"""The build gate: scanner adapters, report importers, runner and policy."""
