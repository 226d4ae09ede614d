"""Open a page of the running app in headless Chromium, wait for the map, save a screenshot.

    python scripts/screenshot.py [URL] [OUT.png] [--wait-text TEXT]

Prints what the Leaflet map holds (features by geometry type) and every request that left
the machine, so a blank map or a CDN dependency shows up at once.
"""
from __future__ import annotations

import json
import sys
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"]

COUNT_JS = """
() => {
  const out = {Polygon: 0, MultiPolygon: 0, LineString: 0, MultiLineString: 0, Point: 0, markers: 0, tiles: 0, vector: {}};
  if (!window.map) return null;
  window.map.eachLayer(l => {
    const m = l._url && l._url.match(/\\/tiles\\/(\\w+)\\//);
    if (m) out.vector[m[1]] = (out.vector[m[1]] || 0) + (l._container ? l._container.querySelectorAll('path').length : 0);
    else if (l.feature && l.feature.geometry) out[l.feature.geometry.type] = (out[l.feature.geometry.type] || 0) + 1;
    else if (l.getLatLng && !l.feature) out.markers += 1;
  });
  out.tiles = document.querySelectorAll('img.leaflet-tile').length;
  return out;
}
"""
"""What a Leaflet map holds: GeoJSON features by geometry type, markers, basemap images, and the
shapes drawn from vector tiles per layer (``vector``: {"buildings": n, …})."""


def map_frame(page: Any, timeout_ms: int = 60000) -> Any:
    """The first visible st_folium iframe once its Leaflet map exists and has loaded its view (a map in a
    hidden tab, or one a page rerun is replacing, is not the one on screen)."""
    selector = "iframe[title*='streamlit_folium']:visible"
    page.wait_for_selector(selector, timeout=timeout_ms)
    frame = page.frame_locator(selector).first
    frame.locator(".leaflet-container").wait_for(timeout=timeout_ms)
    handle = page.query_selector(selector).content_frame()
    handle.wait_for_function("() => window.map && window.map._loaded", timeout=timeout_ms)
    return handle


def capture(url: str, out: str, *, width: int = 1600, height: int = 1000, wait_text: str | None = None,
            settle_ms: int = 2500) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.on("request", lambda r: outside.append(f"{r.resource_type} {r.url}")
                if not r.url.startswith(("http://127.0.0.1", "http://localhost", "data:", "blob:", "about:")) else None)
        page.goto(url, wait_until="domcontentloaded")
        counts = None
        if wait_text:
            page.get_by_text(wait_text).first.wait_for(timeout=60000)
        try:
            frame = map_frame(page)
            page.wait_for_timeout(settle_ms)
            counts = frame.evaluate(COUNT_JS)
        except Exception as exc:  # still take the screenshot: it shows what went wrong
            counts = {"error": str(exc).splitlines()[0]}
        page.screenshot(path=out, full_page=False)
        browser.close()
    return {"features": counts, "outside_requests": outside}


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    wait = sys.argv[sys.argv.index("--wait-text") + 1] if "--wait-text" in sys.argv else None
    if wait in args:
        args.remove(wait)
    url = args[0] if args else "http://127.0.0.1:8501/"
    out = args[1] if len(args) > 1 else "artifacts/screenshot.png"
    from pathlib import Path

    Path(out).parent.mkdir(parents=True, exist_ok=True)
    print(json.dumps(capture(url, out, wait_text=wait), indent=1))
