"""The city map in headless Chromium: features drawn, nothing from a CDN, search, identify, language."""
from __future__ import annotations

import pytest

from scripts.screenshot import COUNT_JS, map_frame
from tests.ui.conftest import ARTIFACTS, search_address

pytestmark = pytest.mark.browser


def wait_for_map(page, js: str, timeout_s: float = 30.0):
    """Poll ``js`` in the map frame until truthy; the frame may be re-created by a rerun."""
    import time

    deadline = time.time() + timeout_s
    last = None
    while time.time() < deadline:
        try:
            value = map_frame(page, timeout_ms=10000).evaluate(js)
            if value:
                return value
        except Exception as exc:  # detached while Streamlit re-mounts the component
            last = exc
        page.wait_for_timeout(500)
    raise AssertionError(f"map never satisfied {js!r}: {last}")


def test_map_draws_buildings_and_pipes_offline(page, app_url: str) -> None:
    page.goto(f"{app_url}/map", wait_until="domcontentloaded")
    frame = map_frame(page)
    frame.wait_for_function(
        "() => { let n = 0; window.map.eachLayer(l => { if (l.feature) n++; }); return n > 300; }", timeout=30000)
    counts = frame.evaluate(COUNT_JS)
    page.screenshot(path=str(ARTIFACTS / "map.png"))
    assert counts["Polygon"] + counts["MultiPolygon"] > 200, counts   # buildings
    assert counts["LineString"] + counts["MultiLineString"] > 100, counts  # pipes
    assert counts["markers"] > 50, counts  # valves, hydrants, sources
    # every script and stylesheet came from the app itself (tiles were unreachable on purpose)
    assert [r for r in page.outside_requests if not r.startswith("image ")] == []
    assert frame.locator(".zhkh-legend").count() == 1
    overlays = frame.locator(".leaflet-control-layers-overlays").inner_text()
    for name in ("Здания", "Трубопроводы", "Задвижки", "Гидранты", "Заявки"):
        assert name in overlays


def test_address_search_suggests_while_typing_and_zooms_to_the_building(page, app_url: str) -> None:
    page.goto(f"{app_url}/map", wait_until="domcontentloaded")
    map_frame(page)
    picked = search_address(page, "Mannerheim")   # no Enter: suggestions come while typing
    assert picked.startswith("Mannerheimintie")
    center = wait_for_map(page, "() => window.map.getZoom() >= 17 && window.map.getCenter()")
    page.screenshot(path=str(ARTIFACTS / "map-search.png"))
    assert 60.15 < center["lat"] < 60.19 and 24.92 < center["lng"] < 24.96


def test_unknown_address_says_so(page, app_url: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{app_url}/map", wait_until="domcontentloaded")
    map_frame(page)
    frame = page.frame_locator("iframe[title*='searchbox']").first
    frame.locator("input").first.click()
    frame.locator("input").first.press_sequentially("<script>Nowhere</script>", delay=30)
    expect(frame.get_by_text("Адрес не найден: «<script>Nowhere</script>»")).to_be_visible(timeout=20000)
    expect(frame.get_by_text("No options")).to_have_count(0)


def test_click_identifies_the_nearest_feature(page, app_url: str) -> None:
    page.goto(f"{app_url}/map", wait_until="domcontentloaded")
    frame = map_frame(page)
    # click on the middle of a long straight stretch of a main, far from any valve or hydrant
    xy = frame.evaluate(
        """() => { let best = null; window.map.eachLayer(l => {
             if (l.feature && l.feature.geometry.type === 'LineString' && l.feature.properties.diameter_mm >= 250) {
               const c = l.feature.geometry.coordinates;
               for (let i = 0; i + 1 < c.length; i++) {
                 const a = window.map.latLngToContainerPoint([c[i][1], c[i][0]]);
                 const b = window.map.latLngToContainerPoint([c[i + 1][1], c[i + 1][0]]);
                 const len = Math.hypot(a.x - b.x, a.y - b.y);
                 const mid = {x: (a.x + b.x) / 2, y: (a.y + b.y) / 2, len: len};
                 const size = window.map.getSize();
                 if (mid.x > 250 && mid.y > 40 && mid.x < size.x - 250 && mid.y < size.y - 40 && (!best || len > best.len)) best = mid;
               } } });
           return best; }""")
    assert xy and xy["len"] > 30, xy
    iframe = page.query_selector("iframe[title*='streamlit_folium']")
    box = iframe.bounding_box()
    page.mouse.click(box["x"] + xy["x"], box["y"] + xy["y"])
    page.locator("section[data-testid=stSidebar]").get_by_text("труба", exact=True).first.wait_for(timeout=20000)
    page.screenshot(path=str(ARTIFACTS / "map-identify.png"))


def test_language_switch_to_english(page, app_url: str) -> None:
    page.goto(f"{app_url}/map", wait_until="domcontentloaded")
    map_frame(page)
    page.get_by_text("English").click()
    page.frame_locator("iframe[title*='searchbox']").first.get_by_text("Address search").wait_for(timeout=20000)
    assert page.get_by_text("City map").count() >= 1
