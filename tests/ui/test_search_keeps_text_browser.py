"""Issue 21 item 6: an address typed into the hotline's search box is not lost when the page draws the
box anew (here: the operator looks at the map and comes back; before, a rerun emptied it once)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.mark.role("operator")
def test_the_typed_address_survives_the_box_being_drawn_again(page, app_url: str) -> None:
    page.goto(f"{app_url}/intake", wait_until="domcontentloaded")
    frame = page.frame_locator("iframe[title*='searchbox']").first
    box = frame.locator("input").first
    box.click()
    box.press_sequentially("Mannerh", delay=40)
    # the search ran on the server (its suggestions are shown)
    expect(frame.locator("[class*='option']", has_text="Mannerheimintie").first).to_be_visible(timeout=30000)
    page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=30000)
    page.get_by_text("точка на карте").click()
    expect(page.locator("iframe[title*='searchbox']")).to_have_count(0, timeout=30000)
    page.get_by_text("по адресу").click()
    again = page.frame_locator("iframe[title*='searchbox']").first.locator("input").first
    expect(again).to_have_value("Mannerh", timeout=30000)
