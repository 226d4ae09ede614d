"""What the two installable web apps (the residents' page, the crews' phone page) share: the language of a
request, the web manifest and the service worker's answer."""
from __future__ import annotations

import json
from pathlib import Path

from fastapi import Request
from fastapi.responses import FileResponse, Response

from i18n import LANGUAGES

ICONS = [
    {"src": "/static/icons/icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any"},
    {"src": "/static/icons/icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any"},
    {"src": "/static/icons/maskable-512.png", "sizes": "512x512", "type": "image/png", "purpose": "maskable"},
]


def request_lang(request: Request, cookie: str, default: str) -> str:
    """The page's language: ``?lang=``, else the language cookie ``cookie``, else ``default``."""
    q = request.query_params.get("lang")
    if q in LANGUAGES:
        return q  # type: ignore[return-value]
    c = request.cookies.get(cookie)
    return c if c in LANGUAGES else default


def manifest(lang: str, *, name: str, short_name: str, theme_color: str, description: str | None = None) -> Response:
    """The web manifest of an app in ``lang`` (installable, standalone, its icons under /static/icons)."""
    body: dict[str, object] = {"name": name, "short_name": short_name}
    if description is not None:
        body["description"] = description
    body.update({"lang": lang, "dir": "ltr", "id": "/", "start_url": f"/?lang={lang}&source=app", "scope": "/",
                 "display": "standalone", "background_color": "#f6f7f9", "theme_color": theme_color, "icons": ICONS})
    return Response(json.dumps(body, ensure_ascii=False), media_type="application/manifest+json",
                    headers={"Cache-Control": "no-cache"})


def service_worker(static_dir: Path) -> Response:
    """The app's service worker, never cached by the browser (a new one takes over at the next visit)."""
    return FileResponse(static_dir / "sw.js", media_type="text/javascript",
                        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"})
