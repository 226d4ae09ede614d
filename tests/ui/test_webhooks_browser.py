"""The admin's page of the organisations' webhooks in the browser, ru and en: a failing endpoint with its next
try and the delivery log's status code."""
from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import Engine, text

from auth.model import Actor
from ops import incidents, inspection, webhooks
from ops.base import utcnow
from tests.ui.conftest import ARTIFACTS, login
from tests.webhooks.conftest import SECRET_A, Receiver, serve, webhook_settings  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser

ADMIN = Actor.cli("cli:tests")


def test_the_admin_sees_each_webhook_and_its_failing_delivery(anonymous_page, app_url: str, demo_engine: Engine,
                                                              serve) -> None:  # noqa: F811
    eng = demo_engine
    with eng.connect() as conn:
        org = conn.execute(text("SELECT id FROM organisations WHERE name = 'Тест УК'")).scalar_one()
        building = conn.execute(text("SELECT id FROM buildings ORDER BY id LIMIT 1")).scalar_one()
    rx = serve(Receiver(SECRET_A.encode(), plan=[502]))
    s = webhook_settings()
    webhooks.set_webhook(ADMIN, org, rx.url, SECRET_A, bind=eng, settings=s)
    try:
        inc = incidents.take_report(ADMIN, bind=eng, service_code="elevator", building_id=building,
                                    description="Лифт стоит (браузер)").incident
        inspection.set_responsible_org(ADMIN, inc.id, None, bind=eng)
        inspection.set_responsible_org(ADMIN, inc.id, org, bind=eng)
        with eng.begin() as conn:
            conn.execute(text("UPDATE webhook_events SET next_attempt_at = now() + interval '1 day' "
                              "WHERE state = 'pending' AND incident_id <> :i"), {"i": inc.id})
        assert webhooks.deliver_once(bind=eng, settings=s, now=utcnow() + timedelta(seconds=1)).retried == 1
        page = anonymous_page
        for lang, title, waiting in (("ru", "Вебхуки организаций", "Журнал отправок"),
                                     ("en", "Organisations' webhooks", "Delivery log")):
            login(page, app_url, "admin", lang=lang) if lang == "ru" else None
            page.goto(f"{app_url}/webhooks?lang={lang}", wait_until="domcontentloaded")
            expect(page.get_by_role("heading", name=title)).to_be_visible(timeout=30000)
            expect(page.get_by_role("heading", name=waiting)).to_be_visible(timeout=30000)
            expect(page.locator("[data-testid=stDataFrame]")).to_have_count(3)
            page.screenshot(path=str(ARTIFACTS / f"webhooks-{lang}.png"), full_page=True)
    finally:
        webhooks.delete_webhook(ADMIN, org, bind=eng)
