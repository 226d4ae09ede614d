"""How the residents' page refuses: an error page in the page's language, or — under ``/api/`` — one
line of JSON ``{"error": …}`` (the app's script reads it, never an HTML page). A 405 names every method
the path takes in ``Allow``; a database that is down is a 503 (JSON: with ``Retry-After``)."""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from apps.http.resident.site import Page, error_page
from apps.http.routes import allowed_methods
from ops.errors import is_database_down

API_HTTP_ERRORS = {404: "not found", 405: "method not allowed", 413: "the body is too big"}

log = logging.getLogger("zhkh.resident")


def is_api(path: str) -> bool:
    return path.startswith("/api/")


def api_error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """An ``/api/`` route's refusal: JSON ``{"error": <one line>}`` (never an HTML page — the app's
    script reads it)."""
    return JSONResponse({"error": message}, status_code=status,
                        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store", **(headers or {})})


def with_allow(request: Request, resp: Response) -> Response:
    """A 405's ``Allow``: the methods of every route with the request's path (Starlette would name only
    the first route's)."""
    resp.headers["Allow"] = allowed_methods(request.app, request.scope)
    return resp


async def on_page(request: Request, exc: Page) -> Response:
    if is_api(request.url.path):
        return api_error(exc.status, "not found" if exc.status == 404 else "refused")
    return error_page(request, exc.status, exc.title, exc.message, **exc.params)


async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
    status = exc.status_code
    if is_api(request.url.path):   # an /api/ route answers JSON, whatever went wrong
        resp: Response = api_error(status, API_HTTP_ERRORS.get(status, "refused"))
    elif status == 404:
        resp = error_page(request, 404, "resident.err.not_found_title", "resident.err.not_found")
    elif status == 405:
        resp = error_page(request, 405, "resident.err.form_title", "resident.err.method")
    else:
        resp = error_page(request, status, "resident.err.form_title", "resident.err.generic")
    return with_allow(request, resp) if status == 405 else resp


async def on_any(request: Request, exc: Exception) -> Response:
    api = is_api(request.url.path)
    if is_database_down(exc):
        if api:
            return api_error(503, "the service is unavailable: try again later", {"Retry-After": "30"})
        return error_page(request, 503, "resident.err.down_title", "resident.err.down")
    log.exception("resident page failed")
    if api:
        return api_error(500, "internal error")
    return error_page(request, 500, "resident.err.down_title", "resident.err.generic")


async def on_invalid(request: Request, exc: Exception) -> Response:
    if is_api(request.url.path):
        return api_error(400, "bad request parameters")
    return error_page(request, 400, "resident.err.form_title", "resident.err.form")


def install(app: FastAPI) -> None:
    """The page's exception handlers on ``app``."""
    app.add_exception_handler(Page, on_page)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, on_http)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, on_any)
    app.add_exception_handler(RequestValidationError, on_invalid)
