"""The crews' phone page in headless Chromium with a phone's screen (Playwright's "Pixel 5"), against the real
server (``python -m field serve``): a crew walks a whole work order — on my way, arrived, done with a photo
from the camera input (resized on the phone: the camera's EXIF never reaches the server) — and, offline,
marks a valve closed and resolves a work order; back online each action is stored exactly once. The
page's first load and an action's time are measured with Navigation and Resource Timing
(artifacts/field-timings.json); screenshots in artifacts/."""
from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from tests.field.conftest import PASSWORD, Field, env_for, jpeg
from tests.ui.conftest import ARTIFACTS, free_port, service

pytestmark = pytest.mark.browser
WHERE = {"latitude": 60.1702, "longitude": 24.9425}     # beside building 2 of the tiny district


@pytest.fixture()
def app_url(field: Field, db_url: str) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with service(["-m", "field", "serve", "--port", str(port)], env_for(db_url), f"field-app-{port}.log",
                 f"{url}/health", "the crews' phone page"):
        yield url


def _phone(p):
    from scripts.screenshot import CHROMIUM, CHROMIUM_ARGS

    browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    context = browser.new_context(**p.devices["Pixel 5"], geolocation=WHERE, permissions=["geolocation"])
    return browser, context


def _sign_in(page, app_url: str, lang: str) -> None:
    page.goto(f"{app_url}/login?lang={lang}")
    page.fill("#login", "crew-a")
    page.fill("#password", PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{app_url}/")


def _events(field: Field) -> list[tuple]:
    with field.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT incident_id, kind, event_id, author FROM work_order_events WHERE author = 'crew-a' ORDER BY id"))]


def test_a_whole_work_order_on_a_phone_with_a_photo(field: Field, app_url: str, tmp_path) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    shot = tmp_path / "camera.jpg"
    shot.write_bytes(jpeg((2400, 1800)))
    timings: dict[str, float] = {}
    with sync_playwright() as p:
        browser, context = _phone(p)
        page = context.new_page()
        outside: list[str] = []
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((app_url, "blob:", "data:")) else None)
        page.goto(f"{app_url}/login?lang=ru")                      # a phone that never saw the page
        nav = page.evaluate("performance.getEntriesByType('navigation')[0].toJSON()")
        timings["login_first_load_ms"] = round(nav["loadEventEnd"], 1)
        _sign_in(page, app_url, "ru")
        nav = page.evaluate("performance.getEntriesByType('navigation')[0].toJSON()")
        timings["sign_in_to_today_ms"] = round(nav["loadEventEnd"], 1)   # the POST (Argon2 check) and redirect
        page.goto(f"{app_url}/?lang=ru")
        nav = page.evaluate("performance.getEntriesByType('navigation')[0].toJSON()")
        timings["today_load_ms"] = round(nav["loadEventEnd"], 1)
        timings["today_ttfb_ms"] = round(nav["responseStart"] - nav["requestStart"], 1)
        expect(page.get_by_role("heading", level=1)).to_have_text("Сегодня — Бригада A")
        page.screenshot(path=str(ARTIFACTS / "field-today-ru.png"), full_page=True)

        page.get_by_role("link", name=f"Заявка №{field.order_a}").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Заявка №{field.order_a}")
        nav = page.evaluate("performance.getEntriesByType('navigation')[0].toJSON()")
        timings["order_page_load_event_ms"] = round(nav["loadEventEnd"], 1)
        expect(page.locator(".description")).to_contain_text("Лифт стоит между этажами")
        expect(page.locator("main")).not_to_contain_text("Сидоров")
        page.get_by_role("button", name="Выехали").click()
        expect(page.locator(".result")).to_contain_text(f"Заявка №{field.order_a}: отмечено «выехали».")
        api = page.evaluate("performance.getEntriesByType('resource').filter(e => e.name.includes('/api/'))"
                            ".map(e => e.duration)")
        timings["action_on_my_way_request_ms"] = round(api[-1], 1)
        page.get_by_role("button", name="На месте").click()
        expect(page.locator(".result")).to_contain_text("отмечено «на месте»")
        page.fill("#answer", "Лифт запущен, заменён предохранитель")
        page.set_input_files("#photo", str(shot))
        expect(page.locator(".previews img")).to_have_count(1)
        page.screenshot(path=str(ARTIFACTS / "field-order-ru.png"), full_page=True)
        page.get_by_role("button", name="Выполнено").last.click()
        expect(page.locator(".result")).to_contain_text("выполнена: ответ и фото сохранены")
        api = page.evaluate("performance.getEntriesByType('resource').filter(e => e.name.includes('/api/'))"
                            ".map(e => e.duration)")
        timings["action_done_with_photo_request_ms"] = round(api[-1], 1)
        assert outside == []

        # the same pages in English
        page.goto(f"{app_url}/?lang=en")
        expect(page.get_by_role("heading", level=1)).to_have_text("Today — Бригада A")
        page.screenshot(path=str(ARTIFACTS / "field-today-en.png"), full_page=True)
        page.goto(f"{app_url}/orders/{field.order_a}?lang=en")
        expect(page.locator("main")).to_contain_text("This report is done.")
        page.screenshot(path=str(ARTIFACTS / "field-order-en.png"), full_page=True)
        page.goto(f"{app_url}/outages/{field.outage_a}?lang=en")
        expect(page.get_by_role("heading", level=2).first).to_have_text("1. Valve V1")
        page.screenshot(path=str(ARTIFACTS / "field-outage-en.png"), full_page=True)
        browser.close()
    assert [e[1] for e in _events(field)] == ["on_the_way", "arrived", "resolved"]
    with field.engine.connect() as conn:
        photo = conn.execute(text("SELECT width, height, data, taken_at, lat, lon FROM work_order_photos")).one()
        state = conn.execute(text("SELECT status, org_answer FROM incidents WHERE id = :i"), {"i": field.order_a}).one()
    assert max(photo.width, photo.height) == 1600                     # resized on the phone
    assert b"PhoneMaker" not in bytes(photo.data) and photo.taken_at is not None
    assert (round(photo.lat, 4), round(photo.lon, 4)) == (60.1702, 24.9425)
    assert tuple(state) == ("resolved", "Лифт запущен, заменён предохранитель")
    (ARTIFACTS / "field-timings.json").write_text(json.dumps(timings, indent=1))
    print("field page timings:", timings)


def test_offline_a_valve_closed_and_an_order_resolved_are_stored_once(field: Field, app_url: str, tmp_path) -> None:
    from playwright.sync_api import expect, sync_playwright

    shot = tmp_path / "camera.jpg"
    shot.write_bytes(jpeg())
    with sync_playwright() as p:
        browser, context = _phone(p)
        page = context.new_page()
        _sign_in(page, app_url, "ru")
        page.wait_for_function("navigator.serviceWorker.controller !== null || "
                               "navigator.serviceWorker.ready.then(() => true)")
        page.goto(f"{app_url}/orders/{field.order_a}")            # seen online: kept for offline
        page.wait_for_function("navigator.serviceWorker.controller !== null")
        page.goto(f"{app_url}/outages/{field.outage_a}")
        page.wait_for_function("caches.open('zf-pages-zf-1').then((c) => c.keys()).then((ks) => "
                               f"ks.some((k) => k.url.endsWith('/orders/{field.order_a}')))")

        context.set_offline(True)
        page.get_by_role("button", name="Закрыта").click()
        expect(page.locator(".result")).to_contain_text("Нет связи: действие сохранено в телефоне")
        expect(page.locator("#net")).to_contain_text("Ждут отправки: 1.")
        page.goto(f"{app_url}/orders/{field.order_a}")              # from the service worker's cache
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Заявка №{field.order_a}")
        page.fill("#answer", "Сделано без связи")
        page.set_input_files("#photo", str(shot))
        expect(page.locator(".previews img")).to_have_count(1)
        page.get_by_role("button", name="Выполнено").last.click()
        expect(page.locator("#net")).to_contain_text("Ждут отправки: 2.")
        page.screenshot(path=str(ARTIFACTS / "field-offline-ru.png"), full_page=True)
        with field.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM valve_field_reports")).scalar() == 0

        context.set_offline(False)
        expect(page.locator(".result")).to_contain_text("Отключение №%d: задвижка отмечена закрытой." % field.outage_a)
        expect(page.locator(".result")).to_contain_text("выполнена: ответ и фото сохранены")
        expect(page.locator("#net")).to_be_hidden()
        page.reload()                                                # nothing left to send twice
        expect(page.locator("main")).to_contain_text("Заявка выполнена.")
        page.get_by_role("button", name="Выйти").click()               # the kept pages leave the phone
        page.wait_for_url(f"{app_url}/login")
        assert page.evaluate("caches.has('zf-pages-zf-1')") is False
        assert page.evaluate("localStorage.getItem('zf-queue')") == "[]"
        browser.close()
    with field.engine.connect() as conn:
        valves = conn.execute(text("SELECT outage_id, valve_id, kind, author, lat FROM valve_field_reports")).all()
        photos = conn.execute(text("SELECT count(*) FROM work_order_photos")).scalar()
    assert [tuple(v)[:4] for v in valves] == [(field.outage_a, field.valve_a, "closed", "crew-a")]
    assert round(valves[0].lat, 4) == 60.1702
    assert [e[1] for e in _events(field)] == ["resolved"] and photos == 1
