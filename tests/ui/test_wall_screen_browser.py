"""The control room on a 1920×1080 wall screen, kiosk mode: no sidebar, the map over half the screen,
nothing below the fold, large KPIs; every open emergency is shown, a page at a time; active and
planned outages are listed with their expected ends."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import Engine, text

from tests.ui.conftest import ARTIFACTS, login

pytestmark = pytest.mark.browser


def test_the_wall_screen_at_1920x1080(anonymous_page, app_url: str, demo_engine: Engine) -> None:
    from auth.model import Actor
    from incidents import service as S
    from ops import outages
    from ops.base import utcnow

    page = anonymous_page
    page.set_viewport_size({"width": 1920, "height": 1080})
    dispatcher = Actor(author="dispatcher", role="dispatcher")
    with demo_engine.connect() as conn:
        net = conn.execute(text("SELECT id FROM networks ORDER BY id LIMIT 1")).scalar_one()
        pipes = conn.execute(text(
            """SELECT p.id, ST_X(ST_LineInterpolatePoint(p.geom, .5)), ST_Y(ST_LineInterpolatePoint(p.geom, .5))
               FROM pipes p JOIN service_connections sc ON sc.pipe_id = p.id WHERE p.network_id = :n
               GROUP BY p.id ORDER BY count(*) DESC, p.id OFFSET 30 LIMIT 14"""), {"n": net}).all()
    emergencies = [S.create_incident(demo_engine, service_code="burst", lon=lon, lat=lat, description="Прорыв",
                                     channel="sensor").incident.id for _, lon, lat in pipes[:12]]
    active = outages.approve(dispatcher, network_id=net, break_pipe_ids=[pipes[12][0]], bind=demo_engine)
    active = outages.start(dispatcher, active.id, bind=demo_engine)
    start = utcnow() + timedelta(days=4)
    works = outages.schedule(Actor(author="planner", role="planner"), network_id=net, break_pipe_ids=[pipes[13][0]],
                             planned_start=start, planned_end=start + timedelta(hours=5), reason="Плановая замена",
                             bind=demo_engine)
    try:
        login(page, app_url, "dispatcher")
        page.goto(f"{app_url}/control?kiosk=1&refresh=3", wait_until="domcontentloaded")
        expect(page.locator(".cr-kpi-open")).to_be_visible(timeout=30000)
        expect(page.locator("[data-testid=stSidebar]")).not_to_be_visible()
        frame = page.locator("iframe[title*='streamlit_folium']")
        expect(frame).to_be_visible(timeout=30000)
        box = frame.bounding_box()
        assert box is not None and box["width"] * box["height"] >= 0.5 * 1920 * 1080, box   # the map: half the screen
        assert page.evaluate("() => document.documentElement.scrollHeight") <= 1080 + 2     # nothing below the fold
        size = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('.cr-kpi .l')).fontSize)")
        assert size >= 20, size
        # every emergency is shown, a page at a time
        seen: set[int] = set()
        pages = page.locator(".cr-foot", has_text=re.compile(r"страница \d+ из \d+"))
        expect(pages).to_be_visible(timeout=30000)
        total = int(re.search(r"из (\d+)", pages.inner_text()).group(1))
        for k in range(1, total + 1):
            expect(page.locator(".cr-foot", has_text=f"страница {k} из {total}")).to_be_visible(timeout=30000)
            seen |= {int(x) for x in re.findall(r"cr-inc-(\d+)", page.locator("table.cr-queue").inner_html())}
        assert set(emergencies) <= seen
        # the outages with their expected ends
        expect(page.locator(f".cr-out-{active.id}")).to_contain_text("действует")
        expect(page.locator(f".cr-out-{works.id}")).to_contain_text("запланировано")
        expect(page.locator(f".cr-out-{works.id}")).to_contain_text("Плановая замена")
        page.screenshot(path=str(ARTIFACTS / "wall-screen.png"))
    finally:
        outages.restore(dispatcher, active.id, bind=demo_engine)
        outages.cancel(dispatcher, works.id, reason="test over", bind=demo_engine)


def test_a_slow_refresh_runs_to_its_end_and_the_line_turns_amber(anonymous_page, app_url: str,
                                                                 demo_engine: Engine) -> None:
    """A refresh that takes longer than the period is not cut off by the next tick: no request is sent
    while it runs, the «Обновлено» line turns amber after two periods without an update, and the
    refresh, once it can finish, updates the screen."""
    page = anonymous_page
    page.set_viewport_size({"width": 1920, "height": 1080})
    login(page, app_url, "dispatcher")
    sent: list[object] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda f: sent.append(f)))
    page.goto(f"{app_url}/control?kiosk=1&refresh=2", wait_until="domcontentloaded")
    line = page.locator(".cr-updated")
    expect(line).to_contain_text("Обновлено", timeout=30000)
    expect(line).not_to_have_css("color", "rgb(255, 176, 32)")
    shown = line.inner_text()
    expect(line).not_to_have_text(shown, timeout=30000)     # it refreshes on its own
    with demo_engine.connect() as conn:
        # the reports' table locked: the next refresh waits for it far longer than two periods
        conn.execute(text("LOCK TABLE incidents IN ACCESS EXCLUSIVE MODE"))
        mark = len(sent)
        shown = line.inner_text()
        expect(page.locator("body.cr-stale-on")).to_have_count(1, timeout=30000)
        expect(line).to_have_css("color", "rgb(255, 176, 32)")
        assert line.inner_text() == shown
        # one request started the refresh that waits; none was sent after it to cut it off
        assert len(sent) - mark <= 1, len(sent) - mark
        page.screenshot(path=str(ARTIFACTS / "wall-screen-stale.png"))
        conn.rollback()                                      # the lock released: that refresh finishes
    expect(line).not_to_have_text(shown, timeout=30000)
    expect(page.locator("body.cr-stale-on")).to_have_count(0, timeout=10000)
    expect(line).not_to_have_css("color", "rgb(255, 176, 32)")
