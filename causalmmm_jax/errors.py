"""Errors a user can act on.

The CLI turns every :class:`UserError` into a one-paragraph message and exit code 2;
anything else is an internal error (exit code 1).
"""

from __future__ import annotations

__all__ = ["UserError", "DataError", "ConfigError", "ModelFileError"]


class UserError(Exception):
    """Base class of errors caused by input the user can fix."""


class DataError(UserError, ValueError):
    """The input panel is malformed: names the column, the rows or regions, and what to do."""


class ConfigError(UserError, ValueError):
    """A configuration key or value is invalid: names the key and the accepted values."""


class ModelFileError(UserError, OSError):
    """A saved model cannot be read: corrupted, wrong version, or missing files."""
