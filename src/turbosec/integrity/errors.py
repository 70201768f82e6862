"""Errors of the integrity capability, each able to explain itself.

They extend :class:`turbosec.core.errors.TurbosecError`, so the CLI prints their
:meth:`~turbosec.core.errors.TurbosecError.diagnostics` as one paragraph and exits with 2.
A *failed verification* is not an error: it is a :class:`turbosec.integrity.verify.Report`
whose checks say what failed (exit 1).  The errors here are for inputs that cannot be used
at all: a key that does not load, a policy that does not validate, a file that is not an
envelope or a bundle.
"""

from __future__ import annotations

from turbosec.core.errors import ConfigError, TurbosecError


class IntegrityError(TurbosecError):
    """Base class of the integrity errors."""


class KeyLoadError(IntegrityError):
    """A key file or variable is missing, corrupt, of an unsupported type, or locked."""


class PassphraseError(KeyLoadError):
    """The passphrase is missing, empty where one is required, or wrong."""


class FormatError(IntegrityError):
    """A DSSE envelope, in-toto statement, provenance or Sigstore bundle is malformed."""


class PolicyError(ConfigError, IntegrityError):
    """The verification policy is malformed, names an unknown key, or cannot be satisfied."""


class SigningError(IntegrityError):
    """An artifact cannot be signed or attested (unreadable, too large, output refused)."""
