"""Errors of the forecast: ``ValueError`` subclasses whose one-line messages name the input.

The CLI maps every :class:`ForecastError` to exit code 2 with its message.
"""
from __future__ import annotations

__all__ = ["ForecastError", "InputFileError", "InvalidRules"]


class ForecastError(ValueError):
    """Base class: bad input given to the forecast."""


class InputFileError(ForecastError):
    """A pipes or breaks table (or file) that cannot be read or has a bad column, value or id."""


class InvalidRules(ForecastError):
    """A forecast rules file (YAML) that cannot be read or does not validate."""
