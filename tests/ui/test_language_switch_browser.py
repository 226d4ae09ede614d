"""A switch of language in the middle of a page: the filters' chips and choices follow it. Streamlit keeps a
keyed widget's shown labels across reruns, so the reports page switched to English went on showing «принята» /
«бригада направлена» in its status filter, and its order had no choice marked (views.common.tkey)."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.ui.conftest import login


def test_the_reports_filters_follow_a_switch_of_language(anonymous_page, app_url: str) -> None:
    page = anonymous_page
    login(page, app_url, "dispatcher")
    page.goto(f"{app_url}/incidents", wait_until="domcontentloaded")
    status = page.get_by_test_id("stMultiSelect").first
    expect(status.get_by_text("принята", exact=True)).to_be_visible(timeout=30000)
    page.get_by_text("English").click()
    expect(page.get_by_role("heading", name="Reports")).to_be_visible(timeout=30000)
    status = page.get_by_test_id("stMultiSelect").first
    expect(status.get_by_text("accepted", exact=True)).to_be_visible(timeout=30000)
    expect(status.get_by_text("принята", exact=True)).to_have_count(0)
    expect(page.get_by_role("radio", name="newest first")).to_be_checked()
