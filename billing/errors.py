"""Errors of the billing domain: small ``ValueError`` subclasses whose messages name the input.

The CLI maps every :class:`BillingError` to exit code 2 with its one-line message.
"""
from __future__ import annotations

__all__ = ["BillingError", "InputFileError", "InvalidItem", "InvalidPeriod", "InvalidRules",
           "InvalidInterval", "UnknownService"]


class BillingError(ValueError):
    """Base class: bad input given to the billing rules."""


class InvalidRules(BillingError):
    """A rules file that cannot be read or fails validation; names the file and the field."""


class InputFileError(BillingError):
    """An input file that cannot be read or is not the expected JSON."""


class InvalidItem(BillingError):
    """One item of a recalculation input is invalid; the message names the item (id or index)."""


class InvalidPeriod(BillingError):
    """A billing period that is not ``YYYY-MM``."""


class InvalidInterval(BillingError):
    """An interval without a time zone, or ending before it starts."""


class UnknownService(BillingError):
    """A service (resource) name the recalculation does not know."""
