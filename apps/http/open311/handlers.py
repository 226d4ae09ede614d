"""Every error as an Open311 list, in one place: Starlette's own (404 of an unknown path, 405 naming
every method of the path in ``Allow``), a bad parameter (400, never FastAPI's 422), the API's and the
domain's refusals, the database down (503 with ``Retry-After``), and anything else (500, logged by the
server) — never a plain-text page or a traceback."""
from __future__ import annotations

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from apps.http.open311.answers import ApiError, descriptions, errors, status_of
from gis.errors import DatabaseUnavailable
from apps.http.routes import allowed_methods
from auth.errors import AuthError
from incidents.errors import IncidentError
from reports.errors import ReportsError


async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = allowed_methods(request.app, request.scope)
        return errors(405, f"method {request.method} not allowed here; allowed: {headers['Allow']}", headers=headers)
    return errors(exc.status_code, str(exc.detail), headers=headers)


async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    return errors(400, *[f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()])


async def domain_error(_: Request, exc: Exception) -> JSONResponse:
    status = status_of(exc)
    return errors(status, *descriptions(exc, status))


def install(app: FastAPI) -> None:
    """The error handlers of ``app``."""
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    # AuthError: a key whose client may not do that (an organisation's key takes no reports: 403)
    for exc_class in (ApiError, IncidentError, AuthError, ReportsError, DBAPIError, PoolTimeout, DatabaseUnavailable,
                      psycopg.Error):
        app.add_exception_handler(exc_class, domain_error)
    # anything else: still an Open311 list (500), never Starlette's plain-text page; the server logs it
    app.add_exception_handler(Exception, domain_error)
