"""The resident's page in headless Chromium, on a phone-sized screen, as `python -m resident serve` runs
it: type an address → pick the suggestion → the active outage and the allowance clock → the account
number and the code from the bill → the charges with the reduction line. Screenshots (ru, en) in
artifacts/."""
from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests.resident.conftest import Scene
from tests.ui.conftest import ARTIFACTS, free_port, service

pytestmark = pytest.mark.browser


@pytest.fixture()
def resident_url(scene: Scene, clean_engine: Engine, db_url: str) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": db_url, "ZHKH_RESIDENT_RATE_PER_MIN": "600",
           "ZHKH_RESIDENT_CODE_TRIES_PER_HOUR": "100"}
    url = f"http://127.0.0.1:{port}"
    with service(["-m", "resident", "serve", "--port", str(port)], env, f"resident-{port}.log", f"{url}/health",
                 "the resident's page"):
        yield url


def test_address_outage_clock_and_charges(scene: Scene, resident_url: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    from scripts.screenshot import CHROMIUM, CHROMIUM_ARGS

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 412, "height": 915}, device_scale_factor=1)
        outside: list[str] = []
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(resident_url) else None)
        page.goto(resident_url + "/?lang=ru")
        box = page.get_by_label("Адрес")
        box.press_sequentially("Mannerheimintie 3", delay=30)
        choice = page.get_by_role("option", name="Mannerheimintie 3")
        expect(choice).to_be_visible()
        choice.click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Mannerheimintie 3")
        outage = page.locator("article.outage.active")
        expect(outage).to_contain_text(f"Сейчас отключено: холодная вода (№{scene.active_outage})")
        expect(outage).to_contain_text("Прорыв <b>трубы</b> на Маннергейма")      # shown as text
        expect(outage).to_contain_text("Ожидаемое включение")
        clock = page.locator(".clock[data-service=cold_water]")
        expect(clock).to_contain_text(re.compile(r"В этом месяце: \d+ ч( \d+ мин)? без холодной воды из 8 ч допустимых"))
        expect(clock).to_contain_text("Сверх допустимого плата снижается автоматически")
        page.screenshot(path=str(ARTIFACTS / "resident-address-ru.png"), full_page=True)

        page.get_by_label("Номер лицевого счёта").fill(scene.account)
        page.get_by_label("Код с квитанции").fill(scene.code)
        page.get_by_role("button", name="Показать начисления").click()
        reduction = page.locator("tr.line.reduction")
        expect(reduction).to_contain_text("Снижение за перерывы")
        expect(reduction).to_contain_text(f"−0,9 %: 6 ч сверх допустимых 8 ч, отключение №{scene.reduction_outage}")
        expect(reduction).to_contain_text("−4,34")
        page.screenshot(path=str(ARTIFACTS / "resident-charges-ru.png"), full_page=True)

        # the same in English
        page.goto(f"{resident_url}/address/{scene.city.building_ids[1]}?lang=en")
        expect(page.locator(".clock[data-service=cold_water]")).to_contain_text(
            re.compile(r"This month: \d+ h( \d+ min)? without cold water of the 8 h allowed"))
        page.screenshot(path=str(ARTIFACTS / "resident-address-en.png"), full_page=True)
        page.get_by_label("Account number").fill(scene.account)
        page.get_by_label("Code from the bill").fill(scene.code)
        page.get_by_role("button", name="Show charges").click()
        expect(page.locator("tr.line.reduction")).to_contain_text(
            f"−0.9 %: 6 h beyond the 8 h allowance, outage №{scene.reduction_outage}")
        page.screenshot(path=str(ARTIFACTS / "resident-charges-en.png"), full_page=True)
        browser.close()
    assert outside == []            # no CDN, nothing from outside


def test_a_report_page_by_its_link_redacted_and_a_locked_account(scene: Scene, resident_url: str,
                                                                 clean_engine: Engine) -> None:
    """Issue 22: report through the form with a caller's name and phone → its page at /report/<token>
    shows them masked and the link to keep; the bare number opens it in this browser only; ten wrong
    codes lock the account (ru and en screenshots)."""
    from playwright.sync_api import expect, sync_playwright
    from sqlalchemy import text

    from scripts.screenshot import CHROMIUM, CHROMIUM_ARGS

    ARTIFACTS.mkdir(exist_ok=True)
    b1 = scene.city.building_ids[0]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 412, "height": 915}, device_scale_factor=1)
        page.goto(f"{resident_url}/address/{b1}?lang=ru")
        page.get_by_label("Описание").fill("Нет воды. кв. 17, Петрова Анна, перезвонить +7 912 000-11-22")
        page.locator("#report-form button[type=submit]").click()
        expect(page).to_have_url(re.compile(r"/report/[0-9a-f]{32}\?"))
        token = re.search(r"/report/([0-9a-f]{32})", page.url).group(1)
        card = page.locator("dl.facts")
        expect(card).to_contain_text("Нет воды. кв. 17, ***, перезвонить ***")
        expect(page.locator("main")).not_to_contain_text("Петрова")
        expect(page.locator("code.link")).to_have_text(re.compile(rf"^http://\S+/report/{token}$"))
        page.screenshot(path=str(ARTIFACTS / "resident-report-ru.png"), full_page=True)
        with clean_engine.connect() as conn:
            rid = conn.execute(text("SELECT id FROM incidents WHERE public_token = :t"), {"t": token}).scalar_one()
        page.goto(f"{resident_url}/report/{rid}?lang=en")                  # this browser made it: found
        expect(page).to_have_url(re.compile(rf"/report/{token}"))
        expect(page.locator("dl.facts")).to_contain_text("***")
        page.screenshot(path=str(ARTIFACTS / "resident-report-en.png"), full_page=True)
        other = browser.new_page(viewport={"width": 412, "height": 915})   # another browser: nothing
        other.goto(f"{resident_url}/report/{rid}?lang=en")
        expect(other.get_by_role("heading", level=1)).to_be_visible()
        expect(other.locator("main")).not_to_contain_text("кв. 17")
        other.close()
        # ten wrong codes: the account is locked, the right one waits
        for i in range(10):
            page.goto(f"{resident_url}/address/{b1}?lang={'ru' if i < 9 else 'en'}")
            page.get_by_label(re.compile("Номер лицевого счёта|Account number")).fill(scene.account)
            page.get_by_label(re.compile("Код с квитанции|Code from the bill")).fill(f"{i:08d}")
            page.locator("#account button[type=submit]").click()
            expect(page.get_by_role("alert")).to_be_visible()
        expect(page.get_by_role("alert")).to_contain_text("Too many wrong codes for this account. It is locked for 60 minutes.")
        page.screenshot(path=str(ARTIFACTS / "resident-locked-en.png"), full_page=True)
        page.goto(f"{resident_url}/address/{b1}?lang=ru")
        page.get_by_label("Номер лицевого счёта").fill(scene.account)
        page.get_by_label("Код с квитанции").fill(scene.code)
        page.locator("#account button[type=submit]").click()
        expect(page.get_by_role("alert")).to_contain_text("Вход по нему закрыт на 60 минут")
        page.screenshot(path=str(ARTIFACTS / "resident-locked-ru.png"), full_page=True)
        # a query that is not UTF-8: a clear page, in the page's language
        answer = page.goto(f"{resident_url}/search?q=%FF%FE&lang=en")
        assert answer is not None and answer.status == 400
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        expect(page.locator("main")).to_contain_text("The form's text is damaged (not UTF-8); nothing was saved.")
        page.screenshot(path=str(ARTIFACTS / "resident-utf8-en.png"), full_page=True)
        browser.close()
