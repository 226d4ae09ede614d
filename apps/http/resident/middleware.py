"""The residents' page's two middlewares: the per-IP rate limit (a friendly 429 page, JSON under
``/api/``) and ``StrictUtf8``, which refuses a query or a form that is not valid UTF-8."""
from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from apps.http.asgi import read_body, replaying
from apps.http.resident.errors import API_HTTP_ERRORS, api_error, is_api, on_any
from apps.http.resident.site import CSP, FRAME_HEADERS, error_page, retry_after, site_of
from i18n import N_, translate
from ops.errors import is_database_down

MAX_FORM_BYTES = 64 * 1024


async def rate_limit(request: Request, call_next: Any) -> Response:
    """Every request but the static files and ``/health`` takes a token of its IP's bucket (an address
    suggestion a quarter); an empty bucket is a 429 with ``Retry-After``. The bucket is in the database,
    so a database that is down makes this the 503 page."""
    path = request.url.path
    if path.startswith("/static/") or path == "/health":
        return await call_next(request)
    site = site_of(request)
    try:   # one statement on the leader (the buckets are shared by every replica): off the event loop
        wait = await run_in_threadpool(site.general.take, site.client_ip(request),
                                       0.25 if path == "/api/addresses" else 1.0)
    except Exception as exc:
        if is_database_down(exc):   # the page's own 503 (a route would answer the same)
            return await on_any(request, exc)
        raise
    if wait <= 0:
        return await call_next(request)
    retry = max(1, int(wait + 0.999))
    if is_api(path):
        return JSONResponse({"error": "too many requests", "retry_after_s": retry}, status_code=429,
                            headers={"Retry-After": str(retry)})
    return retry_after(error_page(request, 429, "resident.err.slow_title", "resident.err.slow", seconds=retry), retry)


class StrictUtf8:
    """Refuse a form body or a query string that is not valid UTF-8 — also inside %-escapes — with a
    400 page before anything reads it (Starlette would decode it as Latin-1 or with U+FFFD, and the
    intake would store the mojibake), as the Open311 API does. Under ``/api/`` the refusal is JSON
    (``{"error": …}``), and a JSON body is left to its route, which decodes it strictly itself and
    answers its own JSON error."""

    def __init__(self, app: Any) -> None:
        self.app = app

    @staticmethod
    def _bad(raw: bytes) -> bool:
        try:
            parse_qsl(raw.decode("utf-8"), keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            return True
        except ValueError:
            return False
        return False

    async def _refuse(self, scope: Any, receive: Any, send: Any, key: str = N_("resident.err.utf8")) -> None:
        if is_api(scope.get("path", "")):
            too_big = key == "resident.err.too_big"
            resp = api_error(413 if too_big else 400, API_HTTP_ERRORS[413] if too_big else
                             "the query and the body must be valid UTF-8")
            await resp(scope, receive, send)
            return
        lang = "en" if b"lang=en" in scope.get("query_string", b"") or \
            b"zr_lang=en" in dict(scope.get("headers") or []).get(b"cookie", b"") else "ru"

        def tr(k: str) -> str:
            return escape(translate(lang, k))

        html = ('<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
                '<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>'
                '<link rel="stylesheet" href="/static/resident.css"></head><body>'
                '<header class="top"><a class="brand" href="/?lang={lang}">{brand}</a></header><main>'
                '<section class="card"><h1>{title}</h1><p class="error" role="alert">{message}</p>'
                '<p><a href="/?lang={lang}">← {back}</a></p></section></main></body></html>').format(
            lang=lang, title=tr("resident.err.form_title"), brand=tr("resident.title"), message=tr(key),
            back=tr("resident.back"))
        resp = HTMLResponse(html, status_code=400, headers={"X-Content-Type-Options": "nosniff",
                                                            "Content-Security-Policy": CSP, **FRAME_HEADERS})
        await resp(scope, receive, send)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._bad(scope.get("query_string", b"")):
            await self._refuse(scope, receive, send)
            return
        if scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        body, too_big = await read_body(receive, MAX_FORM_BYTES)
        ctype = dict(scope.get("headers") or []).get(b"content-type", b"").split(b";")[0].strip().lower()
        if too_big:
            await self._refuse(scope, receive, send, N_("resident.err.too_big"))
            return
        json_api = ctype == b"application/json" and is_api(scope.get("path", ""))
        if not json_api and ((ctype == b"application/x-www-form-urlencoded" and self._bad(body))
                             or not _utf8_ok(body)):
            await self._refuse(scope, receive, send)
            return
        await self.app(scope, replaying(body, receive), send)


def _utf8_ok(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
