"""The admin's page of the organisations' webhooks in the browser, ru and en: a failing endpoint with its next
try and the delivery log's status code."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import Engine

from tests.ui.conftest import ARTIFACTS, login
from tests.webhooks.conftest import failing_delivery, serve  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser


def test_the_admin_sees_each_webhook_and_its_failing_delivery(anonymous_page, app_url: str, demo_engine: Engine,
                                                              serve) -> None:  # noqa: F811
    with failing_delivery(demo_engine, serve, 502, "Лифт стоит (браузер)"):
        page = anonymous_page
        for lang, title, waiting in (("ru", "Вебхуки организаций", "Журнал отправок"),
                                     ("en", "Organisations' webhooks", "Delivery log")):
            login(page, app_url, "admin", lang=lang) if lang == "ru" else None
            page.goto(f"{app_url}/webhooks?lang={lang}", wait_until="domcontentloaded")
            expect(page.get_by_role("heading", name=title)).to_be_visible(timeout=30000)
            expect(page.get_by_role("heading", name=waiting)).to_be_visible(timeout=30000)
            expect(page.locator("[data-testid=stDataFrame]")).to_have_count(3)
            page.screenshot(path=str(ARTIFACTS / f"webhooks-{lang}.png"), full_page=True)
