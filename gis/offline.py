"""Leaflet served by the app itself: no CDN is needed for the map to render.

``st_folium`` makes the browser load every ``default_js``/``default_css`` URL of every element
on the map; one unreachable CDN script leaves the whole map blank. ``use_local_assets()``
points the classes we use at files under ``static/`` (served by Streamlit at ``/app/static/``)
and drops the jQuery/Bootstrap/awesome-markers assets the map does not need.
"""
from __future__ import annotations

import folium

from settings import ROOT

STATIC_URL = "/app/static"
STATIC_DIR = ROOT / "static"

LEAFLET_JS = [("leaflet", f"{STATIC_URL}/leaflet/leaflet.js")]
LEAFLET_CSS = [("leaflet_css", f"{STATIC_URL}/leaflet/leaflet.css")]
BLANK_TILE = f"{STATIC_URL}/blank.png"


def use_local_assets() -> None:
    """Make every folium class the app uses load its assets from the app (idempotent)."""
    folium.Map.default_js = list(LEAFLET_JS)
    folium.Map.default_css = list(LEAFLET_CSS)
    for cls in (folium.Marker, folium.Icon):
        if hasattr(cls, "default_js"):
            cls.default_js = []
        if hasattr(cls, "default_css"):
            cls.default_css = []


def external_asset_urls(m: folium.Map) -> list[str]:
    """Every script/stylesheet URL the map would load that the app does not serve itself."""
    urls: list[str] = []

    def walk(el: object) -> None:
        for _, url in getattr(el, "default_js", []) + getattr(el, "default_css", []):
            if not url.startswith(STATIC_URL):
                urls.append(url)
        for child in getattr(el, "_children", {}).values():
            walk(child)

    walk(m)
    return urls
