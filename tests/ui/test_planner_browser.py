"""The shutoff planner in headless Chromium: pick a main, read the plan, report a stuck valve, re-plan."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from scripts.screenshot import map_frame
from tests.ui.conftest import ARTIFACTS, quiet_main, report_timing

pytestmark = pytest.mark.browser


def metric_value(page, label: str):
    """The value element of the metric labelled ``label``."""
    return page.locator("[data-testid=stMetric]").filter(has_text=label).first.locator("[data-testid=stMetricValue]")


def metric(page, label: str) -> int:
    return int(re.sub(r"\D", "", metric_value(page, label).inner_text()))


def grows(page, label: str, before: int) -> None:
    """The metric ``label`` shows a new value (Playwright waits for it), and that value is larger."""
    shown_before = re.compile(r"^\D*" + r"\D*".join(str(before)) + r"\D*$")   # "1 234" as well as "1234"
    expect(metric_value(page, label)).not_to_have_text(shown_before, timeout=30000)
    assert metric(page, label) > before


def idle(page) -> None:
    """No rerun of the page under way (Streamlit's running… widget gone): what is on screen stays."""
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=30000)


def pick_main(page, app_url: str) -> None:
    """Open the planner and pick the 400 mm main on Pohjoisesplanadi; wait for its plan."""
    page.goto(f"{app_url}/planner", wait_until="domcontentloaded")
    map_frame(page)
    page.get_by_label("Повреждённая труба").click()
    page.keyboard.type("Pohjoisesplanadi, 400")
    page.keyboard.press("Enter")
    page.get_by_text("Лист бригады: задвижки к закрытию по порядку обхода").wait_for(timeout=30000)
    # the plan on screen: its numbered valves drawn on the map (the same map: it is not reloaded)
    page.wait_for_function("() => window.__milestones.valves", timeout=30000)
    picked, drawn = page.evaluate("() => window.__milestones.enter"), page.evaluate("() => window.__milestones.valves")
    report_timing("a picked main to its plan on screen (planner)", (drawn - picked) / 1000)


def test_isolate_a_main_and_replan_around_a_stuck_valve(page, app_url: str) -> None:
    pick_main(page, app_url)
    frame = map_frame(page)
    # numbered valve markers are drawn on the map, one per valve to close
    valves = metric(page, "Закрыть")
    assert valves >= 2
    frame.wait_for_function(f"() => document.querySelectorAll('.leaflet-marker-icon').length >= {valves}", timeout=20000)
    residents = metric(page, "Жителей")
    assert residents > 0
    page.screenshot(path=str(ARTIFACTS / "planner.png"), full_page=True)
    pipes_before = metric(page, "Труб без воды")

    page.get_by_role("button", name=re.compile("Неисправна")).click()
    expect(page.get_by_text(re.compile("Неисправны по данным бригады"))).to_be_visible(timeout=30000)
    grows(page, "Труб без воды", pipes_before)  # the shutoff grew past the stuck valve
    page.screenshot(path=str(ARTIFACTS / "planner-stuck.png"), full_page=True)


def test_click_a_numbered_valve_to_report_it_stuck(page, app_url: str) -> None:
    pick_main(page, app_url)
    idle(page)  # the map on screen is the one centred on the picked pipe, no rerun replacing it
    frame = map_frame(page)
    frame.wait_for_function("() => document.querySelectorAll('.leaflet-marker-icon').length >= 2", timeout=20000)
    pipes_before = metric(page, "Труб без воды")
    # the crew's valve No. 1: fire Leaflet's click on that marker (what a tap on it does)
    fired = frame.evaluate(
        """() => { let done = false; window.map.eachLayer(l => {
             if (!done && l.getLatLng && l._icon && l._icon.innerText.trim() === '1') {
               l.fire('click', {latlng: l.getLatLng(), originalEvent: new MouseEvent('click')}); done = true; } });
           return done; }""")
    assert fired
    expect(page.get_by_text(re.compile(r"Неисправны по данным бригады: V\d+"))).to_be_visible(timeout=30000)
    grows(page, "Труб без воды", pipes_before)


def test_crew_sheet_downloads_as_a_pdf_made_on_the_click(page, app_url: str) -> None:
    from pypdf import PdfReader

    pick_main(page, app_url)
    first_valve = page.locator("[data-testid=stDataFrame]").first   # the crew sheet's table is drawn
    first_valve.wait_for(timeout=20000)
    with page.expect_download(timeout=30000) as dl:
        page.get_by_role("button", name="Лист бригады (PDF)").click()
    download = dl.value
    assert re.fullmatch(r"crew-sheet_\d{4}-\d\d-\d\d_\d{4}\.pdf", download.suggested_filename), download.suggested_filename
    path = ARTIFACTS / "planner-crew-sheet.pdf"
    download.save_as(path)
    text = "".join(p.extract_text() for p in PdfReader(path).pages)
    assert "Лист бригады" in text and "Pohjoisesplanadi" in text
    assert re.search(r"V\d+", text)


def test_a_click_on_a_main_isolates_it(page, app_url: str, demo_engine) -> None:
    ext_id, lon, lat = quiet_main(demo_engine)   # a click there means this main
    page.goto(f"{app_url}/planner", wait_until="domcontentloaded")
    frame = map_frame(page)
    frame.evaluate(f"() => window.map.setView([{lat}, {lon}], 18, {{animate: false}})")
    xy = frame.evaluate(f"() => window.map.latLngToContainerPoint([{lat}, {lon}])")
    box = page.query_selector("iframe[title*='streamlit_folium']").bounding_box()
    page.mouse.click(box["x"] + xy["x"], box["y"] + xy["y"])
    page.get_by_text(re.compile(rf"Аварии: {re.escape(ext_id)} —")).wait_for(timeout=30000)
    page.get_by_text("Лист бригады: задвижки к закрытию по порядку обхода").wait_for(timeout=30000)
    assert metric(page, "Закрыть") >= 1
