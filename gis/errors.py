"""Errors of the GIS layer: each names the input and what was wrong."""
from __future__ import annotations


class GisError(ValueError):
    """Base class of the GIS layer's input errors."""


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached or prepared; the message says what to do."""


class OutsideServiceArea(GisError):
    """A point lies outside the area the service covers."""


class InvalidGeometry(GisError):
    """A geometry is empty, invalid or of the wrong type."""


class CrsMismatch(GisError):
    """A layer has no CRS, or one that cannot be transformed."""
