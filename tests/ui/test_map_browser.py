"""The city map in headless Chromium: features drawn, nothing from a CDN, search, identify, language."""
from __future__ import annotations

import pytest

from scripts.screenshot import COUNT_JS, map_frame
from tests.ui.conftest import ARTIFACTS, quiet_main, report_timing, search_address

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


def test_map_draws_the_city_from_vector_tiles_offline(page, app_url: str, tiles_port: int) -> None:
    page.goto(f"{app_url}/map", wait_until="domcontentloaded")
    frame = map_frame(page)
    counts = wait_for_map(page, f"""() => {{ const c = ({COUNT_JS})();
        return c && (c.vector.buildings || 0) > 200 && (c.vector.pipes || 0) > 100 && c; }}""")
    shell, drawn = page.evaluate("() => window.__milestones.shell"), page.evaluate("() => window.__milestones.tiles_drawn")
    report_timing("first map draw after the page shell (demo city, /map)", (drawn - shell) / 1000)
    page.screenshot(path=str(ARTIFACTS / "map.png"))
    # buildings, pipes, valves, hydrants and sources came as vector tiles from the tile server
    layers = {u.split("/tiles/")[1].split("/")[0] for u in page.tile_requests}
    assert layers == {"buildings", "pipes", "valves", "hydrants", "sources"}, layers
    assert all(u.startswith(f"http://127.0.0.1:{tiles_port}/tiles/") for u in page.tile_requests)
    assert counts["vector"]["valves"] + counts["vector"]["hydrants"] > 50, counts
    # only the open reports travel with the page (no building or pipe as GeoJSON)
    assert counts["Polygon"] + counts["MultiPolygon"] + counts["LineString"] + counts["MultiLineString"] == 0, counts
    # every script and stylesheet came from the app itself (the basemap was unreachable on purpose)
    assert [r for r in page.outside_requests if not r.startswith("image ")] == []
    assert frame.locator(".zhkh-legend").count() == 1
    overlays = frame.locator(".leaflet-control-layers-overlays").inner_text()
    for name in ("Здания", "Трубопроводы", "Задвижки", "Гидранты", "Заявки"):
        assert name in overlays


def test_zooming_fetches_tiles_without_rerunning_the_page(page, app_url: str) -> None:
    sent: list[object] = []     # what the browser tells the app (a rerun is one of these messages)
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(payload)))
    page.goto(f"{app_url}/map", wait_until="domcontentloaded")
    wait_for_map(page, f"() => (({COUNT_JS})().vector.buildings || 0) > 200")
    before, told = len(page.tile_requests), len(sent)
    frame = map_frame(page)
    zoom = frame.evaluate("() => { window.map.setZoom(window.map.getZoom() + 2, {animate: false}); return window.map.getZoom(); }")
    wait_for_map(page, f"() => (({COUNT_JS})().vector.buildings || 0) > 20")
    zooms = {int(u.split("/tiles/")[1].split("/")[1]) for u in page.tile_requests[before:]}
    assert zoom in zooms, (zoom, zooms)          # the new zoom's tiles, fetched by the browser itself
    assert len(sent) == told, sent[told:]                                          # the page was never asked to rerun


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


def test_click_identifies_the_nearest_feature(page, app_url: str, demo_engine) -> None:
    ext_id, lon, lat = quiet_main(demo_engine)   # a click there means this main
    page.goto(f"{app_url}/map", wait_until="domcontentloaded")
    frame = map_frame(page)
    frame.evaluate(f"() => window.map.setView([{lat}, {lon}], 18, {{animate: false}})")
    xy = frame.evaluate(f"() => window.map.latLngToContainerPoint([{lat}, {lon}])")
    box = page.query_selector("iframe[title*='streamlit_folium']").bounding_box()
    page.mouse.click(box["x"] + xy["x"], box["y"] + xy["y"])
    sidebar = page.locator("section[data-testid=stSidebar]")
    sidebar.get_by_text("труба", exact=True).first.wait_for(timeout=20000)
    sidebar.get_by_text(ext_id).first.wait_for(timeout=5000)   # the pipe's own code, not a database id
    # and the pipe is outlined on the map
    map_frame(page).wait_for_function(
        "() => { let hit = false; window.map.eachLayer(l => { if (l.options && l.options.color === '#00e5ff') hit = true; });"
        " return hit; }", timeout=20000)
    page.screenshot(path=str(ARTIFACTS / "map-identify.png"))


def test_language_switch_to_english(page, app_url: str) -> None:
    page.goto(f"{app_url}/map", wait_until="domcontentloaded")
    map_frame(page)
    page.get_by_text("English").click()
    page.frame_locator("iframe[title*='searchbox']").first.get_by_text("Address search").wait_for(timeout=20000)
    assert page.get_by_text("City map").count() >= 1
