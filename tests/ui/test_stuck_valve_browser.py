"""Issue 21 item 4: «Задвижка не закрывается» on an active outage. Picking the valve keeps the step
open (it was a popover that the page's rerun closed, the preview lost with it); the grown plan takes
the place of the approved one on the map and in the crew sheet before approval, what it adds
highlighted (new valves numbered in purple, the new buildings marked first in the list); approving it
says so, and the multiselect's own English ("Select all") is in Russian."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import Engine, text

from scripts.screenshot import map_frame
from tests.ui.conftest import ARTIFACTS

pytestmark = pytest.mark.browser
NEW_VALVE_RGB = "rgb(94, 53, 177)"     # views/plan_map.py NEW_VALVE


def active_outage_with_a_stuck_candidate(engine: Engine) -> tuple[int, dict, list, set[int]]:
    """An active outage on a pipe where one of its valves, stuck, grows it (valves added, buildings added)."""
    from auth.model import Actor
    from ops import incidents as reports
    from ops import network as net_ops
    from ops import outages

    who = Actor(author="dispatcher", role="dispatcher")
    with engine.connect() as conn:
        net = conn.execute(text("SELECT id FROM networks ORDER BY id LIMIT 1")).scalar_one()
        pipes = conn.execute(text("""
            SELECT p.id, ST_X(ST_LineInterpolatePoint(p.geom, 0.5)), ST_Y(ST_LineInterpolatePoint(p.geom, 0.5))
            FROM pipes p JOIN service_connections sc ON sc.pipe_id = p.id WHERE p.network_id = :n
              AND NOT EXISTS (SELECT 1 FROM outages o WHERE o.state IN ('planned', 'active')
                              AND p.id::text = ANY(o.pipe_ids::text[]))
            GROUP BY p.id ORDER BY count(*) DESC, p.id DESC LIMIT 40"""), {"n": net}).all()
    for pipe, lon, lat in pipes:
        base = net_ops.plan(who, net, [str(pipe)], bind=engine)
        for v in base.valves_to_close:
            grown = net_ops.plan(who, net, [str(pipe)], extra_inoperable=[v["id"]], bind=engine)
            have = {int(b["id"]) for b in base.affected}
            added = {int(b["id"]) for b in grown.affected} - have
            new_valves = [x for x in grown.valves_to_close if x["id"] not in {y["id"] for y in base.valves_to_close}]
            if added and new_valves:
                inc = reports.take_report(who, service_code="burst", lon=lon, lat=lat, description="Прорыв у дома",
                                          bind=engine).incident
                try:
                    o = outages.approve(who, network_id=net, break_pipe_ids=[str(pipe)], incident_id=inc.id,
                                        bind=engine)
                except Exception:   # overlaps another test's outage: the next pipe
                    continue
                outages.start(who, o.id, bind=engine)
                return o.id, v, new_valves, added
    pytest.fail("no valve whose failure grows a shutoff by valves and buildings")


def test_stuck_valve_shows_the_grown_plan_before_approval(page, app_url: str, demo_engine: Engine) -> None:
    outage, valve, new_valves, added = active_outage_with_a_stuck_candidate(demo_engine)
    try:
        page.goto(f"{app_url}/outages?id={outage}", wait_until="domcontentloaded")
        step = page.get_by_text("Задвижка не закрывается")
        expect(step).to_be_visible(timeout=30000)
        frame = map_frame(page)
        frame.wait_for_function("() => document.querySelectorAll('.leaflet-marker-icon').length >= 2", timeout=30000)
        step.click()
        pick = page.get_by_label("Какие задвижки не закрылись")
        expect(pick).to_be_visible(timeout=30000)
        pick.click()
        # Streamlit's own "Select all" atop the list is in Russian
        expect(page.get_by_role("option", name="Выбрать все")).to_be_visible(timeout=10000)
        expect(page.get_by_role("option", name="Select all")).to_have_count(0)
        page.get_by_role("option", name=re.compile(rf"^{valve['order']}\. ")).first.click()
        page.keyboard.press("Escape")
        # the page reran: the step is still open, with the preview and its button
        expect(page.get_by_text(re.compile(r"Отключение вырастет: ещё"))).to_be_visible(timeout=60000)
        expect(page.get_by_role("button", name="Утвердить расширение")).to_be_visible()
        expect(page.get_by_text("На карте и в листе бригады — расширенное отключение")).to_be_visible()
        # the map draws the grown plan: its new valves numbered in their own colour, in the legend too
        frame = map_frame(page)
        frame.wait_for_function(
            f"""() => [...document.querySelectorAll('.leaflet-marker-icon div')]
                      .filter(d => d.style.background.includes('{NEW_VALVE_RGB}')).length === {len(new_valves)}""",
            timeout=60000)
        expect(page.frame_locator("iframe[title*='streamlit_folium']:visible").first
               .locator("text=Новые задвижки к закрытию >> visible=true").first).to_be_visible()
        # the crew sheet and the addresses: the new ones marked (the grid's cells are read from its data)
        sheet = page.locator("[data-testid=stDataFrame]").filter(has_text="Новая")
        expect(sheet.first).to_be_visible(timeout=30000)
        page.screenshot(path=str(ARTIFACTS / "stuck-preview.png"), full_page=True)
        page.get_by_role("button", name="Утвердить расширение").click()
        expect(page.get_by_text(re.compile(rf"Отключение №{outage} расширено: теперь"))).to_be_visible(timeout=60000)
        with demo_engine.connect() as conn:
            joined = {int(r[0]) for r in conn.execute(text(
                "SELECT building_id FROM outage_buildings WHERE outage_id = :o AND added_at IS NOT NULL"), {"o": outage})}
        assert joined == added
        # approved: the step closes, the map shows the stored (grown) plan
        expect(page.get_by_role("button", name="Утвердить расширение")).to_have_count(0)
    finally:
        from auth.model import Actor
        from ops import outages

        outages.restore(Actor(author="dispatcher", role="dispatcher"), outage, bind=demo_engine)
