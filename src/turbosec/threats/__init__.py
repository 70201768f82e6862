"""Threat models as code: a model in the repository, threats derived by rules kept as data,
mitigations counted only when a linked control's security tests exist and passed."""
