"""The database goes down under a signed-in dispatcher: every page says so in the UI language, never a
traceback, and recovers by itself once the database answers again."""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from tests.ui.conftest import ARTIFACTS, free_port, login, service
from tests.ui.proxy import Proxy

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def proxied_app(demo_engine: Engine, ui_db_url: str) -> Iterator[tuple[str, Proxy]]:
    url = make_url(ui_db_url)
    proxy = Proxy((url.host or "127.0.0.1", url.port or 5432))
    proxy.up()
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
           "ZHKH_TILES_URL": "http://127.0.0.1:9/{z}/{x}/{y}.png"}
    base = f"http://127.0.0.1:{port}"
    with service(["-m", "streamlit", "run", "app_server.py", "--server.port", str(port), "--server.headless", "true",
                  "--server.fileWatcherType", "none"], env, f"streamlit-dbdown-{port}.log", f"{base}/_stcore/health",
                 "streamlit"):
        yield base, proxy
    proxy.down()


def test_pages_say_the_database_is_down_and_recover(anonymous_page, proxied_app: tuple[str, Proxy]) -> None:
    base, proxy = proxied_app
    page = anonymous_page
    login(page, base, "dispatcher")
    page.goto(f"{base}/incidents", wait_until="domcontentloaded")
    expect(page.get_by_role("heading", name="Заявки")).to_be_visible(timeout=30000)
    proxy.down()
    for path in ("incidents", "outages", "map", "planner"):
        page.goto(f"{base}/{path}", wait_until="domcontentloaded")
        expect(page.get_by_text("База данных недоступна").first).to_be_visible(timeout=30000)
        assert page.get_by_text("Traceback").count() == 0 and page.locator("[data-testid=stException]").count() == 0
    page.screenshot(path=str(ARTIFACTS / "db-down.png"))
    proxy.up()
    # nobody touches the page: it notices the database is back and shows the page asked for
    expect(page.get_by_text("База данных недоступна")).to_have_count(0, timeout=60000)
    expect(page.get_by_role("heading", name="Отключения: какие задвижки закрыть")).to_be_visible(timeout=30000)
    # the wall screen: it says so while the database is down and goes on by itself afterwards
    page.goto(f"{base}/control?refresh=2", wait_until="domcontentloaded")
    expect(page.locator(".cr-kpi-open")).to_be_visible(timeout=30000)
    proxy.down()
    expect(page.get_by_text("База данных недоступна").first).to_be_visible(timeout=30000)
    assert page.locator("[data-testid=stException]").count() == 0
    proxy.up()
    expect(page.get_by_text("База данных недоступна")).to_have_count(0, timeout=60000)
    expect(page.locator(".cr-kpi-open")).to_be_visible(timeout=30000)
