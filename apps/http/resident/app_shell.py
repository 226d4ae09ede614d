"""The installable app's shell: the static files (``/static``), the web manifest, the service worker
``/sw.js`` (scope ``/``) and the offline page ``/offline`` it shows when there is no connection."""
from __future__ import annotations

import json

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from apps.http.resident.site import STATIC_DIR, lang_of, render
from i18n import translate

router = APIRouter()


def mount_static(app: FastAPI) -> None:
    """``/static``: the page's style, scripts and icons (before every route: a path of its own)."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


@router.get("/manifest.webmanifest")
def manifest(request: Request) -> Response:
    lang = lang_of(request)
    body = {
        "name": translate(lang, "resident.app.name"), "short_name": translate(lang, "resident.app.short_name"),
        "description": translate(lang, "resident.lead"), "lang": lang, "dir": "ltr",
        "id": "/", "start_url": f"/?lang={lang}&source=app", "scope": "/", "display": "standalone",
        "background_color": "#f6f7f9", "theme_color": "#0b3d6e",
        "icons": [
            {"src": "/static/icons/icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any"},
            {"src": "/static/icons/icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any"},
            {"src": "/static/icons/maskable-512.png", "sizes": "512x512", "type": "image/png", "purpose": "maskable"},
        ],
    }
    return Response(json.dumps(body, ensure_ascii=False), media_type="application/manifest+json",
                    headers={"Cache-Control": "no-cache"})


@router.get("/sw.js")
def service_worker() -> Response:
    return FileResponse(STATIC_DIR / "sw.js", media_type="text/javascript",
                        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"})


@router.get("/offline", response_class=HTMLResponse)
def offline(request: Request) -> HTMLResponse:
    return render(request, "offline.html")
