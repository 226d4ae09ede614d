"""Three "no water" calls from houses on one shutoff segment: the dispatcher's control room shows the
suspected burst (ranked pipes on the map, the top one's shutoff) and one click opens the planner on
it; the wall screen shows a compact banner."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import Engine, text

from scripts.screenshot import map_frame
from tests.ui.conftest import ARTIFACTS, login

pytestmark = pytest.mark.browser
SHOTS = ARTIFACTS


def three_neighbours_on_one_segment(engine: Engine) -> tuple[int, list[int]]:
    """A network, and three buildings close together that one pipe's shutoff cuts off."""
    from auth.model import Actor
    from ops import network as net_ops

    a = Actor(author="tests", role="dispatcher")
    with engine.connect() as conn:
        net = conn.execute(text("SELECT id FROM networks ORDER BY id LIMIT 1")).scalar_one()
        pipes = [str(r[0]) for r in conn.execute(text(
            "SELECT pipe_id FROM service_connections WHERE network_id = :n GROUP BY 1 HAVING count(*) >= 2 ORDER BY 1"),
            {"n": net})]
    for p in pipes:
        affected = [b["id"] for b in net_ops.plan(a, net, [p], bind=engine).affected]
        if len(affected) >= 3:
            break
    with engine.connect() as conn:
        near = [int(r[0]) for r in conn.execute(text(
            "SELECT b.id FROM buildings b, buildings f WHERE f.id = :first AND b.id = ANY(:ids) "
            "ORDER BY ST_Distance(b.geom::geography, f.geom::geography), b.id LIMIT 3"),
            {"first": affected[0], "ids": affected})]
    return int(net), near


def set_aside_open_reports(engine: Engine) -> list[tuple[int, str]]:
    """Reports left open by earlier tests in this session's database (the intake test's bursts, the wall
    screen's twelve emergencies, …), closed for the time of this test; their ids and statuses.

    This test's calls must be alone: an open "burst" call within the locator's radius counts as "no
    water" and joins their cluster (ops/locate.py), and while any emergency or report due within the
    hour is open the queue shows only those (views/control_room.must_show), not a call due in 4 h."""
    from incidents.workflow import OPEN_STATUSES

    with engine.begin() as conn:
        return [(int(r[0]), str(r[1])) for r in conn.execute(text(
            "WITH o AS (SELECT id, status FROM incidents WHERE status = ANY(:open) FOR UPDATE) "
            "UPDATE incidents i SET status = 'closed' FROM o WHERE i.id = o.id RETURNING o.id, o.status"),
            {"open": sorted(OPEN_STATUSES)})]


def put_back(conn, aside: list[tuple[int, str]]) -> None:
    """The reports set aside, open again as they were."""
    for id_, status in aside:
        conn.execute(text("UPDATE incidents SET status = :s WHERE id = :i"), {"s": status, "i": id_})


def test_three_calls_show_the_suspected_burst_and_its_shutoff(anonymous_page, app_url: str,
                                                              demo_engine: Engine) -> None:
    from incidents import service as S

    page = anonymous_page
    page.set_viewport_size({"width": 1600, "height": 1000})
    net, houses = three_neighbours_on_one_segment(demo_engine)
    ids = []
    aside = set_aside_open_reports(demo_engine)
    try:
        login(page, app_url, "dispatcher", lang="en")
        page.goto(f"{app_url}/control?refresh=3", wait_until="domcontentloaded")
        expect(page.locator(".cr-kpi-open")).to_be_visible(timeout=30000)
        # two calls are not a cluster yet
        for b in houses[:2]:
            ids.append(S.create_incident(demo_engine, service_code="no_water", building_id=b,
                                         description="Нет воды").incident.id)
        expect(page.locator("table.cr-queue")).to_contain_text(f"{ids[1]}", timeout=30000)
        expect(page.locator(".cr-burst-title")).to_have_count(0)
        ids.append(S.create_incident(demo_engine, service_code="no_water", building_id=houses[2],
                                     description="Нет воды").incident.id)
        title = page.locator(".cr-burst-title")
        expect(title).to_have_text("Suspected burst: 3 calls", timeout=30000)
        first = page.locator("table.cr-cand tr.cr-cand-1")
        expect(first).to_be_visible()
        expect(first.locator("td.score")).to_have_text(re.compile(r"^\d+\s%$"))
        top_pipe = first.locator("td").nth(1).inner_text().strip()
        expect(page.get_by_text(re.compile(r"Shutoff of .*valve\(s\) to close"))).to_be_visible()
        # the candidates are drawn on the map (the top one the thickest, red)
        frame = map_frame(page)
        # (the map draws on a canvas: ask Leaflet for its layers)
        frame.wait_for_function("""() => { let n = 0; window.map.eachLayer(l => {
            if (l.options && l.options.color === '#ff1f1f' && l.options.weight === 8) n++; }); return n >= 1; }""",
                                timeout=30000)
        page.screenshot(path=str(SHOTS / "burst-control-room.png"))
        # one click: the planner with the suspected pipe picked and its shutoff computed
        page.get_by_role("button", name="Plan the shutoff").click()
        expect(page).to_have_url(re.compile(r"/planner"), timeout=30000)
        expect(page.get_by_text(re.compile(rf"Breaks: {re.escape(top_pipe)} — "))).to_be_visible(timeout=30000)
        expect(page.get_by_text("Crew sheet: valves to close in visiting order")).to_be_visible(timeout=30000)
        map_frame(page).wait_for_function("() => { let n = 0; window.map.eachLayer(() => n++); return n > 3; }",
                                          timeout=30000)
        expect(page.locator("[data-testid=stDataFrame]").first).to_be_visible(timeout=30000)
        page.screenshot(path=str(SHOTS / "burst-planner.png"))
        # the wall screen: a compact banner, no buttons
        page.set_viewport_size({"width": 1920, "height": 1080})
        page.goto(f"{app_url}/control?kiosk=1&refresh=3", wait_until="domcontentloaded")
        banner = page.locator(".cr-burst")
        expect(banner).to_contain_text("Suspected burst: 3 calls", timeout=30000)
        expect(banner).to_contain_text(top_pipe)
        expect(page.get_by_role("button", name="Plan the shutoff")).to_have_count(0)
        expect(page.locator(".cr-kpi-open")).to_be_visible()
        map_frame(page)
        assert page.evaluate("() => document.documentElement.scrollHeight") <= 1080 + 2     # nothing below the fold
        page.screenshot(path=str(SHOTS / "burst-wall-screen.png"))
    finally:
        with demo_engine.begin() as conn:
            conn.execute(text("DELETE FROM incidents WHERE id = ANY(:ids)"), {"ids": ids})
            put_back(conn, aside)
