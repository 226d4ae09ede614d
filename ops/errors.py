"""Where errors become HTTP statuses and UI messages: one table for the whole application.

Each row: an exception class, the HTTP status the API answers with, and the key of the message
the pages show (``locale/*/LC_MESSAGES/zhkh.po``: ``error.<key>``, with the exception's text as ``{detail}``).
The first row whose class matches wins, so specific classes come before their bases.
"""
from __future__ import annotations

import psycopg
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from auth.errors import (
    AuthError,
    DuplicateLogin,
    LoginRefused,
    PermissionDenied,
    UnknownUser,
)
from data.errors import DataError, NetworkBusy, RefusedInProduction, StalePreview
from gis.errors import DatabaseUnavailable, GisError
from incidents.errors import (
    ConcurrentEdit,
    IncidentError,
    IncidentNotFound,
    InvalidApiKey,
    InvalidOutageTransition,
    InvalidTransition,
    OutageNotFound,
)
from incidents.work_orders import WorkOrderConflict
from network.errors import NetworkError
from orgs.errors import NoWebhook, WebhookError
from reports.errors import UnknownOrganisation


class OpsError(ValueError):
    """Base class of the application layer's own refusals."""


class OutageConflict(OpsError):
    """A shutoff overlaps (pipes or valves, at overlapping times) another planned or active outage.

    ``outage_ids`` names them; the dispatcher may merge into one of them instead."""

    def __init__(self, message: str, outage_ids: list[int]) -> None:
        super().__init__(message)
        self.outage_ids = outage_ids


class ConfirmationMismatch(OpsError):
    """A typed confirmation that does not match what was asked."""


class NotAllowedHere(OpsError):
    """An action this installation refuses (e.g. the demo city on a production server)."""


class NotFound(OpsError):
    """No such record (a note, a valve, a network)."""


ERRORS: tuple[tuple[type[BaseException], int, str], ...] = (
    (PermissionDenied, 403, "permission"),
    (LoginRefused, 401, "login"),
    (InvalidApiKey, 403, "api_key"),
    (IncidentNotFound, 404, "not_found"),
    (OutageNotFound, 404, "not_found"),
    (UnknownUser, 404, "not_found"),
    (NotFound, 404, "not_found"),
    (UnknownOrganisation, 404, "not_found"),
    (NoWebhook, 404, "not_found"),
    (WorkOrderConflict, 409, "conflict"),
    (ConcurrentEdit, 409, "concurrent"),
    (OutageConflict, 409, "outage_conflict"),
    (DuplicateLogin, 409, "conflict"),
    (InvalidTransition, 409, "transition"),
    (InvalidOutageTransition, 409, "transition"),
    (ConfirmationMismatch, 400, "confirmation"),
    (NetworkBusy, 409, "conflict"),
    (StalePreview, 409, "concurrent"),
    (RefusedInProduction, 403, "not_allowed_here"),
    (NotAllowedHere, 403, "not_allowed_here"),
    (DatabaseUnavailable, 503, "db_down"),
    (OperationalError, 503, "db_down"),
    (InterfaceError, 503, "db_down"),
    (PoolTimeout, 503, "db_down"),
    (psycopg.OperationalError, 503, "db_down"),
    (psycopg.InterfaceError, 503, "db_down"),
    (IncidentError, 400, "invalid"),
    (DataError, 400, "invalid"),
    (NetworkError, 400, "invalid"),
    (GisError, 400, "invalid"),
    (AuthError, 400, "invalid"),
    (OpsError, 400, "invalid"),
    (WebhookError, 400, "invalid"),
)

#: Every message key ``lookup`` answers with (the texts of the family ``error``, ``i18n/families.py``).
MESSAGE_KEYS: tuple[str, ...] = (*dict.fromkeys(key for _, _, key in ERRORS), "internal")


def lookup(exc: BaseException) -> tuple[int, str]:
    """(HTTP status, message key) of ``exc``; (500, "internal") for anything unexpected."""
    for cls, status, key in ERRORS:
        if isinstance(exc, cls):
            return status, key
    return 500, "internal"


def status_of(exc: BaseException) -> int:
    return lookup(exc)[0]


def is_database_down(exc: BaseException) -> bool:
    return lookup(exc)[1] == "db_down"
