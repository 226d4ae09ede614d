"""Errors of the incidents domain. Each names the input and what was received.

The API maps them to Open311 error lists in one place (``ops.errors.ERRORS``, read by ``apps/http/open311``).
"""
from __future__ import annotations


class IncidentError(ValueError):
    """Base class of the incidents domain's input errors."""


class InvalidTransition(IncidentError):
    """A status change the workflow does not allow."""

    def __init__(self, from_status: str, to_status: str) -> None:
        self.from_status = from_status
        self.to_status = to_status
        super().__init__(f"cannot move an incident from {from_status!r} to {to_status!r}")


class ConcurrentEdit(IncidentError):
    """Somebody changed the record since it was read (stale ``version``)."""


class IncidentNotFound(IncidentError):
    """No incident with this id."""


class OutageNotFound(IncidentError):
    """No outage with this id."""


class InvalidOutageTransition(IncidentError):
    """An outage state change that is not allowed (e.g. restoring a planned outage)."""


class UnknownCategory(IncidentError):
    """A category outside the vocabulary."""


class UnknownServiceCode(IncidentError):
    """A service code that the rules file does not define."""


class InvalidIncident(IncidentError):
    """One or more fields of a report are invalid; the message lists all of them."""


class DescriptionTooLong(InvalidIncident):
    """A description over the limit (4000 characters)."""


class MissingLocation(InvalidIncident):
    """None of lat+long, address_string or address_id was given."""


class UnknownAddress(InvalidIncident):
    """An address string or address id that matches no building."""


class OutsideServiceArea(InvalidIncident):
    """A point outside the area the service covers."""


class InvalidRules(IncidentError):
    """A rules file that cannot be read or fails validation; names the file and the field."""


class InvalidApiKey(IncidentError):
    """A missing, unknown or revoked API key."""


class InvalidOutage(IncidentError):
    """An outage plan that cannot be approved (no pipes, unknown network, end before start...)."""
