"""Errors of the GIS layer: each names the input and what was wrong."""
from __future__ import annotations


class GisError(ValueError):
    """Base class of the GIS layer's input errors."""


# why a database cannot be used (``DatabaseUnavailable.problem``; the pages' ``error.db.<problem>`` texts)
DB_PROBLEMS = (
    "malformed",       # DATABASE_URL cannot be parsed
    "not_postgresql",  # it names another database, or the server there does not speak PostgreSQL
    "unreachable",     # the host does not resolve or does not answer
    "refused",         # the host answers, but nothing listens on the port
    "login",           # PostgreSQL answers and refuses the user, password or database
    "no_postgis",      # PostgreSQL without the PostGIS extension
    "no_local",        # DATABASE_URL unset and no local server (python -m gis.local_pg makes one)
    "other",
)


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached or prepared; the message says what to do.

    ``problem`` (one of ``DB_PROBLEMS``) says which kind of failure it is, ``where`` the server
    (``host:port``, no password)."""

    def __init__(self, message: str, problem: str = "other", where: str = "") -> None:
        super().__init__(message)
        self.problem = problem if problem in DB_PROBLEMS else "other"
        self.where = where


class OutsideServiceArea(GisError):
    """A point lies outside the area the service covers."""


class InvalidGeometry(GisError):
    """A geometry is empty, invalid or of the wrong type."""


class CrsMismatch(GisError):
    """A layer has no CRS, or one that cannot be transformed."""
