"""The break-risk layer and the renewal list in headless Chromium (the demo city with its generated
break history)."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from scripts.screenshot import map_frame
from tests.ui.conftest import ARTIFACTS

pytestmark = pytest.mark.browser


@pytest.fixture()
def with_risk(demo_engine) -> None:
    from apps.demo.forecast import demo
    from auth.model import Actor

    with demo_engine.begin() as conn:
        demo(conn, actor=Actor.cli("cli:tests"), seed=42, if_missing=True)


@pytest.mark.role("planner")
def test_a_planner_sees_the_renewal_list_and_the_valves_to_exercise(with_risk, page, app_url: str) -> None:
    page.goto(f"{app_url}/planner", wait_until="domcontentloaded")
    page.get_by_role("tab", name="Риск и реновация").click()
    expect(page.get_by_text("План реновации")).to_be_visible(timeout=60000)
    expect(page.get_by_text("Какие задвижки проверить первыми")).to_be_visible(timeout=60000)
    expect(page.get_by_text(re.compile(r"Итого: [\d,]+ км"))).to_be_visible()
    expect(page.get_by_role("button", name="Скачать план (CSV)")).to_be_visible()
    expect(page.locator("[data-testid=stDataFrame]:visible")).to_have_count(3, timeout=60000)
    page.screenshot(path=str(ARTIFACTS / "risk-renewal.png"), full_page=True)


@pytest.mark.role("planner")
def test_the_map_colours_pipes_by_risk_with_a_legend(with_risk, page, app_url: str) -> None:
    page.goto(f"{app_url}/map", wait_until="domcontentloaded")
    map_frame(page)
    page.get_by_text("по риску аварий").click()
    frame = page.frame_locator("iframe[title*='streamlit_folium']").first
    expect(frame.get_by_text("риск 0,5 и более аварий/км в год")).to_be_visible(timeout=60000)
    expect(frame.get_by_text("риск 0,1–0,25 аварий/км в год")).to_be_visible()
    # pipes drawn from the tiles in the risk classes' colours: the scores reach the map
    classes = ", ".join(f"path[stroke='{c}']" for c in ("#a50026", "#f46d43", "#ffd92f", "#3288bd"))
    expect(frame.locator(classes).first).to_be_attached(timeout=60000)
    page.screenshot(path=str(ARTIFACTS / "risk-map.png"), full_page=True)
