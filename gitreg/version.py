"""The version of gitreg (its own module, so that any layer may name it without importing the package's API)."""

__version__ = "0.1.0"
