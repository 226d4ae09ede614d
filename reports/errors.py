"""Errors of the inspectorate's reports (the CLI prints them in one line and exits 2)."""
from __future__ import annotations


class ReportsError(Exception):
    """Base of every error of ``reports``."""


class InvalidRules(ReportsError):
    """The reports rules file is unreadable or wrong (names the file and every problem)."""


class InvalidPeriod(ReportsError):
    """A period that is not two dates with from ≤ to."""


class UnknownOrganisation(ReportsError):
    """No organisation with that id."""


class InvalidArea(ReportsError):
    """A bbox that is not four numbers W,S,E,N."""
