"""turbosec: security as a turbocharger for software delivery."""

__version__ = "0.1.0"
