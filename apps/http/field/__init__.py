"""The crews' phone page (FastAPI + Jinja2, an installable web app): ``python -m field serve``.

A crew member signs in with the account the office made (role ``crew``, bound to an organisation; anyone
else gets a worded refusal and no session) and sees today's work: the crew's work orders (address, a small
map, the report as a crew may see it — never the reporter's name, phone or e-mail) with "on my way",
"arrived" and "done" (an answer and photos from the phone's camera, resized on the phone, which drops
their EXIF; time and position sent as fields), and the valve sheets of the approved and active outages on
the networks the crew's organisation operates, valves in crew order with "navigate", "closed" and "will
not close". The page works offline: the service worker keeps the shell and the pages last seen, and
actions taken without a connection wait in the page's queue, each with its own id, until they are sent
(the server stores each once). Everything goes through ``ops.field``; the page only offers the actions.

Safety: the session cookie is HttpOnly (sessions live in the database, ``ops.users``); every POST carries
a CSRF token equal to a ``SameSite=Strict`` cookie; bodies must be valid UTF-8; no page may be framed; no
file comes from another origin (Leaflet is not needed: the small map is drawn on the server as SVG).
"""
from __future__ import annotations

import logging

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from apps.http import pwa
from apps.http.field import api, pages
from apps.http.field.site import STATIC_DIR, FieldSite, Refusal, lang_of, refusal_page, render
from auth.errors import PermissionDenied
from gis.serving import NoFraming, thread_pool_lifespan
from i18n import translate
from ops.errors import is_database_down
from ops.field import FieldRefused
from settings import Settings, get_settings

log = logging.getLogger("zhkh.field")
shell = APIRouter()


@shell.get("/manifest.webmanifest")
def manifest(request: Request) -> Response:
    lang = lang_of(request)
    return pwa.manifest(lang, name=translate(lang, "fieldapp.app.name"),
                        short_name=translate(lang, "fieldapp.app.short_name"), theme_color="#14532d")


@shell.get("/sw.js")
def service_worker() -> Response:
    return pwa.service_worker(STATIC_DIR)


@shell.get("/offline")
def offline(request: Request) -> Response:
    return render(request, "offline.html")


@shell.get("/health")
def health() -> Response:
    return PlainTextResponse("ok")


async def _on_refusal(request: Request, exc: Exception) -> Response:
    if isinstance(exc, Refusal | FieldRefused):
        return refusal_page(request, exc.status, exc.key, **exc.params)
    if isinstance(exc, PermissionDenied):
        return refusal_page(request, 403, "fieldapp.err.crews_only")
    if isinstance(exc, StarletteHTTPException):
        if exc.status_code == 404:
            return refusal_page(request, 404, "fieldapp.err.not_found")
        if exc.status_code == 405:
            return refusal_page(request, 405, "fieldapp.err.method")
        return refusal_page(request, exc.status_code, "fieldapp.err.generic")
    if isinstance(exc, RequestValidationError):
        return refusal_page(request, 400, "fieldapp.err.generic")
    if is_database_down(exc):
        return refusal_page(request, 503, "fieldapp.err.down")
    log.exception("field page failed")
    return refusal_page(request, 500, "fieldapp.err.generic")


def create_app(engine: Engine | None = None, settings: Settings | None = None) -> FastAPI:
    """The crews' app; without ``engine`` the settings' database, connected at the first request."""
    site = FieldSite.make(engine, settings or get_settings())
    app = FastAPI(lifespan=thread_pool_lifespan(site.settings.api_threads), docs_url=None, redoc_url=None,
                  openapi_url=None, title="zhkh-ops field")
    app.state.site = site
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(NoFraming)
    for exc_type in (Refusal, FieldRefused, PermissionDenied, StarletteHTTPException, RequestValidationError, Exception):
        app.add_exception_handler(exc_type, _on_refusal)
    for router in (shell, pages.router, api.router):
        app.include_router(router)
    return app
