"""The installable app's shell: the static files (``/static``), the web manifest, the service worker
``/sw.js`` (scope ``/``) and the offline page ``/offline`` it shows when there is no connection."""
from __future__ import annotations


from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from apps.http import pwa
from apps.http.resident.site import STATIC_DIR, lang_of, render
from i18n import translate

router = APIRouter()


def mount_static(app: FastAPI) -> None:
    """``/static``: the page's style, scripts and icons (before every route: a path of its own)."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


@router.get("/manifest.webmanifest")
def manifest(request: Request) -> Response:
    lang = lang_of(request)
    return pwa.manifest(lang, name=translate(lang, "resident.app.name"),
                        short_name=translate(lang, "resident.app.short_name"),
                        description=translate(lang, "resident.lead"), theme_color="#0b3d6e")


@router.get("/sw.js")
def service_worker() -> Response:
    return pwa.service_worker(STATIC_DIR)


@router.get("/offline", response_class=HTMLResponse)
def offline(request: Request) -> HTMLResponse:
    return render(request, "offline.html")
