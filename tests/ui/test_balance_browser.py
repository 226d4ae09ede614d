"""The water balance page in headless Chromium: a planner sees the DMAs, their balance and a night-flow
alarm that became an incident, and follows the link to that incident.

The app runs on a database of its own holding the hand-made network of tests/dma (two DMAs), so the
demo city of the other browser tests keeps its valves and its incidents."""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.ui.conftest import (
    ARTIFACTS,
    PASSWORDS,
    READY,
    ROOT,
    free_port,
    login,
    service,
)

pytestmark = pytest.mark.browser
TZ = ZoneInfo("Europe/Helsinki")
DAYS = 12


@pytest.fixture(scope="module")
def balance_app(db_url: str) -> Iterator[dict]:
    from auth.model import Actor
    from ops import dma
    from dma.rules import DmaRules
    from gis.db import make_engine
    from ops import users
    from tests.conftest import drop_database
    from tests.dma.nets import build_net, write_hourly

    url = make_url(db_url).set(database=f"{make_url(db_url).database}_dma_ui").render_as_string(hide_password=False)
    eng = make_engine(url)
    ids = build_net(eng)
    for role in ("planner", "operator"):
        users.add_user(Actor.cli("cli:tests"), role, role=role, password=PASSWORDS[role], display_name=f"Тест {role}",
                       bind=eng)
    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    first = now.astimezone(TZ).date() - timedelta(days=DAYS)
    t0 = datetime(first.year, first.month, first.day, tzinfo=TZ).astimezone(timezone.utc)
    leak_from = now.astimezone(TZ).date() - timedelta(days=3)

    def inlet_b(t: datetime) -> float:      # 2 m³/h at night, a leak of +3 m³/h for the last nights
        return (2.0 if 1 <= t.hour <= 4 else 6.0) + (3.0 if t.date() >= leak_from else 0.0)

    hours = int((now - t0).total_seconds() // 3600) // 24
    write_hourly(eng, ids["B1"], lambda t: 1.0, hours, t0=t0)
    write_hourly(eng, ids["B2"], lambda t: 4.0, hours, t0=t0)
    write_hourly(eng, ids["M2"], inlet_b, hours, t0=t0)
    write_hourly(eng, ids["M1"], lambda t: inlet_b(t) + 1.3, hours, t0=t0)
    rules = DmaRules(baseline_nights=14, min_history_nights=5)
    with eng.begin() as c:
        dma.derive_on(c, Actor.cli("cli:tests"))
        day = first + timedelta(days=1)
        while day < now.astimezone(TZ).date():
            dma.check_night_on(c, Actor.cli("cli:tests"), day, rules=rules, tz="Europe/Helsinki", now=now, lang="ru")
            day += timedelta(days=1)
        incident = c.execute(text("SELECT id FROM incidents WHERE channel = 'sensor'")).scalar_one()
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url,
           "ZHKH_SLA_RULES_FILE": str(ROOT / "incidents" / "rules" / "helsinki.yaml")}
    app = f"http://127.0.0.1:{port}"
    with service(["-m", "streamlit", "run", "app_server.py", "--server.port", str(port), "--server.headless", "true",
                  "--server.fileWatcherType", "none"], env, f"streamlit-{port}.log", f"{app}/_stcore/health",
                 "streamlit"):
        yield {"url": app, "incident": incident}
    eng.dispose()
    drop_database(url)


@pytest.fixture()
def browser_page() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    from scripts.screenshot import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser.new_page(viewport={"width": 1600, "height": 2200})
        browser.close()


def test_a_planner_sees_the_balance_and_the_alarm_that_became_an_incident(balance_app: dict, browser_page) -> None:
    page, url, incident = browser_page, balance_app["url"], balance_app["incident"]
    login(page, url, "planner")
    page.goto(f"{url}/balance", wait_until="domcontentloaded")   # the start page may still be running: a click on the nav could be lost
    expect(page.get_by_role("heading", name="Баланс воды и ночной расход")).to_be_visible(timeout=60000)
    # the alarm, with the link to its incident
    alarm = page.locator("[data-testid=stAlert]", has_text="Тревога")
    expect(alarm).to_contain_text("ночной расход выше нормы", timeout=60000)
    expect(alarm.get_by_role("link", name=f"заявка №{incident}")).to_be_visible()
    # both DMAs in the table, numbers in Russian (decimal comma), the one in alarm says so
    table = page.locator("[data-testid=stDataFrame]")
    expect(table).to_be_visible()
    cells = page.locator("[data-testid=stDataFrame]")
    expect(cells).to_contain_text("DMA 1")
    expect(cells).to_contain_text("DMA 2")
    expect(cells).to_contain_text("тревога утечки")
    # the plots: volumes, NRW, night flow (Vega) and the map of the areas (an image)
    expect(page.locator("[data-testid=stVegaLiteChart]")).to_have_count(3, timeout=60000)
    expect(page.locator("[data-testid=stImage] img, [data-testid=stPyplot] img").first).to_be_visible()
    expect(page.get_by_text("Минимальный ночной расход (02–04) и его база")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_function(READY, timeout=60000)
    page.screenshot(path=str(ARTIFACTS / "balance.png"), full_page=True)
    # the incident: on the sensor channel, opened by sensor:dma, with the night flow in its text
    with page.context.expect_page() as opened:        # Streamlit opens a markdown link in a new tab
        alarm.get_by_role("link", name=f"заявка №{incident}").click()
    tab = opened.value
    expect(tab).to_have_url(re.compile(rf"/incidents\?id={incident}"), timeout=60000)
    expect(tab.get_by_text(re.compile(r"Возможная скрытая утечка в зоне учёта DMA \d: минимальный ночной расход 5,00 м³/ч"))
           .first).to_be_visible(timeout=60000)
    tab.wait_for_function(READY, timeout=60000)
    tab.screenshot(path=str(ARTIFACTS / "balance-incident.png"), full_page=True)


def test_the_page_speaks_english_and_is_refused_to_an_operator(balance_app: dict, browser_page) -> None:
    page, url = browser_page, balance_app["url"]
    login(page, url, "planner", lang="en")
    page.goto(f"{url}/balance", wait_until="domcontentloaded")
    expect(page.get_by_role("heading", name="Water balance and night flow")).to_be_visible(timeout=60000)
    expect(page.locator("[data-testid=stAlert]", has_text="Alarm")).to_contain_text("night flow high since", timeout=60000)
    expect(page.get_by_role("heading", name="Leak alarms")).to_be_visible()
    # leave the page first: the app writes its cookies (session, language) from the page on every run,
    # so a run still in flight could put the planner's session back after the clear
    page.goto("about:blank")
    page.context.clear_cookies()
    login(page, url, "operator")
    page.goto(f"{url}/balance", wait_until="domcontentloaded")
    expect(page.get_by_text(re.compile("balance.read|Недостаточно прав|нет прав", re.I)).first).to_be_visible(timeout=60000)
