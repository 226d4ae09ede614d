"""The residents' page as an installed app in headless Chromium (issue 20 part 3), against the real
server (`python -m resident serve`): the manifest is valid and its icons load, the service worker
registers and controls the page, offline the last address's page (with the report form) and the
offline page are served from the cache, a report written offline is queued and stored exactly once
when the connection returns; and «Тарифы» on a phone screen. Screenshots in artifacts/."""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from billing.tariffs import load_tariffs, sync_tariffs
from tests.resident.conftest import Scene
from tests.ui.conftest import ARTIFACTS, free_port, service

pytestmark = pytest.mark.browser
PHONE = {"viewport": {"width": 412, "height": 915}, "device_scale_factor": 1, "is_mobile": True, "has_touch": True}


@pytest.fixture()
def app_url(scene: Scene, clean_engine: Engine, db_url: str) -> Iterator[str]:
    with clean_engine.begin() as conn:
        sync_tariffs(conn, load_tariffs())
    port = free_port()
    env = {**os.environ, "DATABASE_URL": db_url, "ZHKH_RESIDENT_RATE_PER_MIN": "600"}
    url = f"http://127.0.0.1:{port}"
    with service(["-m", "resident", "serve", "--port", str(port)], env, f"resident-app-{port}.log", f"{url}/health",
                 "the resident's page"):
        yield url


def portal_reports(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(
            "SELECT id, client_token, building_id, service_code, description FROM incidents "
            "WHERE channel = 'portal' ORDER BY id")).mappings()]


def test_installable_offline_and_a_queued_report_sent_once(scene: Scene, app_url: str, clean_engine: Engine) -> None:
    from playwright.sync_api import expect, sync_playwright

    from scripts.screenshot import CHROMIUM, CHROMIUM_ARGS

    ARTIFACTS.mkdir(exist_ok=True)
    b1, b2 = scene.city.building_ids[:2]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(**PHONE)
        page = context.new_page()
        outside: list[str] = []
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(app_url) else None)

        # the manifest, as the browser reads it from the page
        page.goto(f"{app_url}/?lang=ru")
        href = page.locator('link[rel="manifest"]').get_attribute("href")
        manifest = page.evaluate("async (h) => (await fetch(h)).json()", href)
        assert manifest["name"] == "ЖКХ: страница жителя" and manifest["display"] == "standalone"
        assert manifest["start_url"].startswith("/") and manifest["scope"] == "/"
        for icon in manifest["icons"]:
            size = page.evaluate("""async (src) => { const r = await fetch(src); const b = await createImageBitmap(
                await r.blob()); return r.ok ? b.width + 'x' + b.height : 'HTTP ' + r.status; }""", icon["src"])
            assert size == icon["sizes"]

        # the service worker: registered at the root scope, activated, controlling the page
        scope = page.evaluate("navigator.serviceWorker.ready.then((r) => r.scope)")
        assert scope == f"{app_url}/"
        page.goto(f"{app_url}/address/{b1}?lang=ru")                    # another address first
        page.goto(f"{app_url}/address/{b2}?lang=ru")                    # the last one viewed
        expect(page.get_by_role("heading", level=1)).to_have_text("Mannerheimintie 3")
        page.wait_for_function("navigator.serviceWorker.controller !== null")
        page.wait_for_function("""caches.open('zr-pages-zr-1').then((c) => c.keys()).then((ks) =>
            ks.some((k) => k.url.endsWith('/address/%d')))""" % b2)
        page.screenshot(path=str(ARTIFACTS / "resident-app-address-ru.png"), full_page=True)

        # offline: the last address's page with its report form, from the cache
        context.set_offline(True)
        page.goto(f"{app_url}/address/{b2}?lang=ru")
        expect(page.get_by_role("heading", level=1)).to_have_text("Mannerheimintie 3")
        expect(page.locator("#report-form")).to_be_visible()
        # an address not kept (only the last one is) and an unknown page: the offline page
        page.goto(f"{app_url}/address/{b1}?lang=ru")
        expect(page.get_by_role("heading", level=1)).to_have_text("Нет связи")
        last = page.locator("#last-address a")
        expect(last).to_have_text("Mannerheimintie 3")
        page.screenshot(path=str(ARTIFACTS / "resident-app-offline-ru.png"), full_page=True)
        last.click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Mannerheimintie 3")

        # a report written offline: kept on the device, nothing reaches the server
        page.get_by_label("Что случилось").select_option("no_hot_water")
        page.get_by_label("Описание").fill("Нет горячей воды с утра (написано без связи)")
        page.get_by_role("button", name="Отправить заявку").click()
        note = page.locator("#queue-note")
        expect(note).to_contain_text("сообщение сохранено на этом устройстве")
        expect(note).to_contain_text("Ждут отправки (без связи): 1")
        page.screenshot(path=str(ARTIFACTS / "resident-app-queued-ru.png"), full_page=True)
        queued = page.evaluate("JSON.parse(localStorage.getItem('zr_queue'))")
        assert len(queued) == 1 and portal_reports(clean_engine) == []

        # the connection returns: sent once, with its own id
        context.set_offline(False)
        sent = note.get_by_role("link", name="заявка №")
        expect(sent).to_be_visible(timeout=30_000)          # at once on "online", else the retry
        expect(note).not_to_contain_text("Ждут отправки")
        stored = portal_reports(clean_engine)
        assert [(r["client_token"], r["building_id"], r["service_code"]) for r in stored] == [
            (f"portal:{queued[0]['client_id']}", b2, "no_hot_water")]
        assert sent.get_attribute("href") == f"/report/{stored[0]['id']}?lang=ru"
        assert page.evaluate("JSON.parse(localStorage.getItem('zr_queue'))") == []
        # the same item sent again (a second tab had it too): nothing new
        again = page.evaluate("""async (item) => { const t = (await (await fetch('/api/csrf')).json()).csrf;
            const r = await fetch('/api/reports', {method: 'POST', headers: {'Content-Type': 'application/json',
            'X-CSRF-Token': t}, body: JSON.stringify(item)}); return [r.status, (await r.json()).created]; }""",
                              queued[0])
        assert again == [200, False]
        page.reload()
        expect(page.get_by_role("heading", level=1)).to_have_text("Mannerheimintie 3")
        assert len(portal_reports(clean_engine)) == 1
        page.goto(f"{app_url}/report/{stored[0]['id']}?lang=ru")
        expect(page.get_by_role("heading", level=1)).to_contain_text(f"№{stored[0]['id']}")
        browser.close()
    assert outside == []            # no CDN, nothing from outside


def test_tariffs_on_a_phone(scene: Scene, app_url: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    from scripts.screenshot import CHROMIUM, CHROMIUM_ARGS

    b2 = scene.city.building_ids[1]
    book = load_tariffs()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(**PHONE).new_page()
        page.goto(f"{app_url}/?lang=ru")
        page.get_by_role("link", name="Тарифы по адресу").click()
        page.get_by_label("Адрес").fill("Mannerheimintie 3")
        page.get_by_role("button", name="Показать тарифы").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Тарифы: Mannerheimintie 3")
        cold = page.locator('.tariff[data-service="cold_water"]')
        expect(cold.get_by_role("heading")).to_have_text("Холодное водоснабжение")
        expect(cold.locator(".price")).to_contain_text("₽ за м³")
        expect(cold.locator(".organisation")).to_contain_text("Департамент экономической политики")
        expect(page.locator("#month-total .total")).to_contain_text("₽")
        assert page.locator(".tariff").count() == len(book.services)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")   # no sideways scroll
        page.screenshot(path=str(ARTIFACTS / "resident-tariffs-ru.png"), full_page=True)
        page.goto(f"{app_url}/address/{b2}/tariffs?lang=en")
        expect(page.get_by_role("heading", level=1)).to_have_text("Tariffs: Mannerheimintie 3")
        expect(page.locator('.tariff[data-service="cold_water"] .price')).to_contain_text("₽ per m³")
        page.screenshot(path=str(ARTIFACTS / "resident-tariffs-en.png"), full_page=True)
        browser.close()
