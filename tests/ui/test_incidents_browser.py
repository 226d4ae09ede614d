"""Incident pages in headless Chromium against the real app and PostGIS: intake → control room,
and burst report → shutoff plan → approve → affected addresses → restore."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import Engine, text

from i18n import translate_n
from scripts.screenshot import map_frame
from tests.ui.conftest import ARTIFACTS, pick_option, search_address, settle_fill

pytestmark = pytest.mark.browser


def incident_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM incidents")).scalar_one())


def kpi_value(page, name: str) -> int:
    return int(page.locator(f".cr-kpi-{name} .v").first.inner_text().replace("\u202f", "").strip())


def test_intake_then_control_room(page, app_url: str, demo_engine: Engine) -> None:
    from incidents import service as S

    # --- intake: bad input is refused with a message, nothing written; a good report is stored
    page.goto(f"{app_url}/intake", wait_until="domcontentloaded")
    search_address(page, "Mannerheimintie")   # suggestions while typing; the first one is picked
    map_frame(page)  # the building's small map: the rerun after the pick is over
    before = incident_count(demo_engine)
    desc = page.get_by_label("Описание со слов заявителя")
    settle_fill(page, desc, "<script>alert(1)</script> течёт")
    page.get_by_role("button", name="Зарегистрировать заявку").click()
    page.get_by_text("содержит HTML-разметку").first.wait_for(timeout=20000)
    assert incident_count(demo_engine) == before
    settle_fill(page, desc, "Фонтан из-под асфальта у дома, вода заливает подвал")
    page.get_by_label("Имя заявителя").fill("Иванова А. П.")
    page.get_by_label("Телефон заявителя").fill("+7 900 123-45-67")
    page.get_by_role("button", name="Зарегистрировать заявку").click()
    created = page.get_by_text(re.compile(r"Заявка №\d+ зарегистрирована"))
    created.wait_for(timeout=20000)
    new_id = int(re.search(r"№(\d+)", created.inner_text()).group(1))
    page.screenshot(path=str(ARTIFACTS / "intake.png"))
    inc = S.get_incident(demo_engine, new_id)
    assert (inc.service_code, inc.priority, inc.channel, inc.reporter_phone) == ("burst", "emergency", "phone",
                                                                                  "+7 900 123-45-67")
    assert inc.address and "Mannerheimintie" in inc.address and inc.building_id is not None

    # --- control room: the report is in the queue, the KPIs are the domain's figures
    page.goto(f"{app_url}/control?refresh=3", wait_until="domcontentloaded")
    page.locator(f"tr.cr-inc-{new_id}").wait_for(timeout=30000)
    kpis = S.control_room_kpis(demo_engine)
    assert kpi_value(page, "open") == kpis.open >= 1
    assert kpi_value(page, "overdue") == kpis.overdue
    assert kpi_value(page, "outages") == kpis.active_outages
    frame = map_frame(page)
    frame.wait_for_function(
        "() => { let n = 0; window.map.eachLayer(l => { if (l.getRadius && l.getRadius() >= 7) n++; }); return n >= 1; }",
        timeout=30000)
    zoom_before = frame.evaluate("() => { window.map.setZoom(window.map.getZoom() + 1); return window.map.getZoom(); }")

    # a new emergency created elsewhere is announced by the next refresh, without reloading the map
    # (its address came from an Open311 client: Markdown in it stays text in the banner and the toast)
    other = S.create_incident(demo_engine, service_code="burst", lon=inc.lon + 0.004, lat=inc.lat + 0.002,
                              address="Mannerheimintie [5](http://evil.example) **B**",
                              description="Прорыв магистрали: **вода** [фонтан](http://x)", channel="api")
    toast = page.locator("[data-testid=stToast]", has_text=f"№{other.incident.id}")
    toast.wait_for(timeout=30000)
    assert "[5](http:\u2060//evil.example) **B**" in toast.inner_text()      # text, with a word joiner in "://"
    banner = page.locator(".cr-banner", has_text=f"№{other.incident.id}")
    banner.wait_for(timeout=30000)
    assert "[5](http://evil.example) **B**" in banner.inner_text()
    links = page.locator("a[href^='http://evil']")
    assert links.count() == 0, links.first.evaluate("e => e.parentElement.parentElement.outerHTML")
    page.locator(f"tr.cr-inc-{other.incident.id}").wait_for(timeout=10000)
    assert kpi_value(page, "open") == kpis.open + 1
    assert map_frame(page).evaluate("() => window.map.getZoom()") == zoom_before  # the map kept its zoom
    page.wait_for_timeout(800)
    page.screenshot(path=str(ARTIFACTS / "control-room.png"))
    bg = page.evaluate("() => getComputedStyle(document.querySelector('[data-testid=stMain]')).backgroundColor")
    assert bg == "rgb(11, 18, 32)", bg


def busiest_pipe(engine: Engine) -> tuple[int, float, float]:
    with engine.connect() as conn:
        row = conn.execute(text(
            """SELECT p.id, ST_X(ST_LineInterpolatePoint(p.geom, 0.5)) AS lon,
                      ST_Y(ST_LineInterpolatePoint(p.geom, 0.5)) AS lat
               FROM pipes p JOIN service_connections sc ON sc.pipe_id = p.id
               GROUP BY p.id ORDER BY count(*) DESC, p.id LIMIT 1""")).one()
    return int(row.id), float(row.lon), float(row.lat)


def test_burst_plan_approve_restore(page, app_url: str, demo_engine: Engine) -> None:
    """A burst from report to restore in the browser: plan, approve, valves closed, a "no water" call
    linked, restore — and the audit rows it wrote, each naming the dispatcher."""
    from auth.model import Actor
    from incidents import service as S
    from ops import network as net_ops

    _, lon, lat = busiest_pipe(demo_engine)
    inc = S.create_incident(demo_engine, service_code="burst", lon=lon, lat=lat,
                            description="Течь \"ржавая\" & <5°C **срочно** [тут](http://x)", channel="phone").incident
    assert inc.pipe_id is not None and inc.network_id is not None
    plan = net_ops.plan(Actor(author="t", role="dispatcher"), inc.network_id, [inc.pipe_id], bind=demo_engine)
    counts = plan.counts
    assert counts["buildings"] > 0

    page.goto(f"{app_url}/incidents?id={inc.id}", wait_until="domcontentloaded")
    page.get_by_text(f"Заявка №{inc.id}", exact=True).wait_for(timeout=30000)
    # free text is shown as text, never as markup
    page.get_by_text("Течь \"ржавая\" & <5°C **срочно** [тут](http://x)").wait_for(timeout=10000)
    page.get_by_role("button", name="Спланировать отключение").click()
    metric = page.locator("[data-testid=stMetric]", has_text="Жителей")
    metric.wait_for(timeout=30000)
    assert str(counts["residents"]) in metric.inner_text().replace("\u202f", "")
    assert str(counts["valves_to_close"]) in page.locator("[data-testid=stMetric]", has_text="Закрыть задвижек").inner_text()
    frame = map_frame(page)
    frame.wait_for_function(f"() => document.querySelectorAll('.leaflet-marker-icon').length >= {counts['valves_to_close']}",
                            timeout=30000)
    numbers = sorted(int(x) for x in frame.evaluate(
        "() => [...document.querySelectorAll('.leaflet-marker-icon')].map(e => e.innerText.trim())"))
    assert numbers == list(range(1, counts["valves_to_close"] + 1))
    red = frame.evaluate("() => { let n = 0; window.map.eachLayer(l => { if (l.options && l.options.color === '#d7191c' && l.feature) n++; }); return n; }")
    assert red >= counts["isolated_pipes"]
    page.query_selector("iframe[title*='streamlit_folium']").evaluate("e => e.scrollIntoView({block: 'end'})")
    page.wait_for_timeout(800)
    page.screenshot(path=str(ARTIFACTS / "shutoff.png"))

    page.get_by_role("button", name="Утвердить отключение — бригада на выезд").click()
    page.get_by_text(re.compile(r"Отключение №\d+ утверждено, бригада направлена")).wait_for(timeout=30000)
    with demo_engine.connect() as conn:
        outage_id, state, n_buildings = conn.execute(text(
            "SELECT o.id, o.state, (SELECT count(*) FROM outage_buildings ob WHERE ob.outage_id = o.id) "
            "FROM outages o WHERE o.incident_id = :i"), {"i": inc.id}).one()
    assert state == "planned" and n_buildings == counts["buildings"]
    assert S.get_incident(demo_engine, inc.id).status == "dispatched"
    # the approved plan stays on the report: numbered valves on the map, the crew sheet
    map_frame(page).wait_for_function(
        f"() => document.querySelectorAll('.leaflet-marker-icon').length >= {counts['valves_to_close']}", timeout=30000)
    page.get_by_text("Лист бригады: задвижки к закрытию по порядку обхода").wait_for(timeout=10000)
    page.get_by_role("button", name="Задвижки закрыты — отключение началось").click()
    page.get_by_text(re.compile(rf"Отключение №{outage_id} действует с")).wait_for(timeout=30000)
    dry = f"{translate_n('ru', 'outage.n_buildings', counts['buildings'])}, {translate_n('ru', 'outage.n_residents', counts['residents'])}"
    page.get_by_text(dry).first.wait_for(timeout=10000)  # e.g. "12 домов, 341 житель"
    assert S.get_incident(demo_engine, inc.id).status == "in_progress"

    # a "no water" call from an affected address is linked to the outage, with its expected end
    first = next(b for b in plan.affected if b.get("address"))
    page.goto(f"{app_url}/intake", wait_until="domcontentloaded")
    search_address(page, first["address"])
    map_frame(page)  # the rerun after the pick is over
    pick_option(page, "Вид обращения", "Нет холодной воды")
    settle_fill(page, page.get_by_label("Описание со слов заявителя"), "Нет воды с утра")
    page.get_by_role("button", name="Зарегистрировать заявку").click()
    page.get_by_text(f"Дом в зоне действующего отключения №{outage_id}").wait_for(timeout=20000)

    page.goto(f"{app_url}/outages?id={outage_id}", wait_until="domcontentloaded")
    page.get_by_role("button", name="Вода подана — завершить отключение").click()
    page.get_by_text(f"Отключение №{outage_id} завершено").wait_for(timeout=30000)
    with demo_engine.connect() as conn:
        assert conn.execute(text("SELECT state FROM outages WHERE id = :o"), {"o": outage_id}).scalar_one() == "restored"
        linked = conn.execute(text("SELECT id, status FROM incidents WHERE outage_id = :o ORDER BY id"),
                              {"o": outage_id}).all()
        rows = conn.execute(text("SELECT action, actor FROM audit_events WHERE object_type = 'outage' AND object_id = :o "
                                 "ORDER BY id"), {"o": str(outage_id)}).all()
    assert {status for _, status in linked} == {"resolved"} and len(linked) >= 2   # the burst and the call
    assert [tuple(r) for r in rows] == [("outage.approve", "dispatcher"), ("outage.start", "dispatcher"),
                                         ("outage.restore", "dispatcher")]
