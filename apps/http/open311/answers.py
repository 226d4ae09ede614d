"""What every Open311 answer shares: JSON exactly as stored, the error list and its status, the
clients' language, the documented error answers.

Every error is an Open311 list ``[{"code": <http status>, "description": "..."}]`` in JSON — never a
plain-text page or a traceback; errors map to status codes in one place (``status_of``), and every
503 says when to retry (``Retry-After``).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from i18n import translate, translate_n
from incidents.intake import InvalidReport
from ops.errors import status_of as ops_status_of

PREFIX = "/open311/v2"
JSON_CT = "application/json; charset=utf-8"
NOSNIFF = {"X-Content-Type-Options": "nosniff"}
RETRY_AFTER_S = 5          # what a 503 asks the client to wait before retrying (same token: no double)
MAX_LISTED_PROBLEMS = 50   # problems listed in one 400 answer (the rest are counted)

NOTICE_LANGUAGE = "ru"  # status notes and notices: the Open311 clients of this service are Russian


def ru(key: str, /, **params: Any) -> str:
    """An API text of the catalogs (``api.*`` in ``locale/``), in the clients' language."""
    return translate(NOTICE_LANGUAGE, key, **params)


def ru_n(key: str, n: int, /, **params: Any) -> str:
    """A plural API text in the form for ``n``."""
    return translate_n(NOTICE_LANGUAGE, key, n, **params)


class ApiError(Exception):
    """A request the API refuses before the domain sees it (status and description as answered)."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


class Open311Response(JSONResponse):
    """JSON exactly as stored (UTF-8, nothing escaped), never sniffed as HTML by a browser."""

    def __init__(self, content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> None:
        super().__init__(content, status_code=status_code, headers={**NOSNIFF, **(headers or {})})


def errors(status: int, *descriptions: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """An Open311 error list; every 503 carries ``Retry-After``."""
    if status == 503:
        headers = {"Retry-After": str(RETRY_AFTER_S), **(headers or {})}
    return Open311Response([{"code": status, "description": d} for d in descriptions], status, headers)


def status_of(exc: Exception) -> int:
    """The HTTP status of an error: the API's own (``ApiError``), else the application's one table
    (``ops.errors.ERRORS``, shared with the pages)."""
    if isinstance(exc, ApiError):
        return exc.status
    return ops_status_of(exc)


def descriptions(exc: Exception, status: int) -> list[str]:
    """What an error list says: one entry per problem of an invalid report."""
    if status == 503:
        return [f"the database is unavailable; retry in {RETRY_AFTER_S} seconds with the same token"]
    if status == 500:
        return [f"internal error ({type(exc).__name__})"]
    if isinstance(exc, InvalidReport):
        listed = [p.describe() for p in exc.problems[:MAX_LISTED_PROBLEMS]]
        if len(exc.problems) > MAX_LISTED_PROBLEMS:
            listed.append(f"… and {len(exc.problems) - MAX_LISTED_PROBLEMS} more problems")
        return listed
    return [str(exc)]


class Open311Error(BaseModel):
    """One entry of an Open311 error list."""

    code: int
    description: str


_ANSWER = {
    400: "invalid request: a malformed parameter or body, an unsupported format, an invalid report",
    403: "api_key missing, unknown or revoked",
    404: "no such service request or service_code",
    409: "the request conflicts with the report's current state",
    415: "unsupported Content-Type or charset",
    503: "the database is unavailable; retry after Retry-After seconds with the same token",
}


def answers(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers of an endpoint for the OpenAPI document: each an Open311 error list."""
    return {st: {"model": list[Open311Error], "description": _ANSWER[st]} for st in statuses}


def iso(dt: datetime | None) -> str | None:
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds") if dt else None


def local(dt: datetime | None, tz: str) -> str:
    """A time for the people who read a notice: the service area's own clock, day first (27.11.2026 23:31)."""
    return dt.astimezone(ZoneInfo(tz)).strftime("%d.%m.%Y %H:%M") if dt else "—"
