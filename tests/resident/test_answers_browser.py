"""The organisation's answer on the report's page in headless Chromium, phone-sized, as `python -m resident
serve` runs it: the organisation, its answer and its photo (loaded), "fixed? — yes" with a rating; ru and
en screenshots in artifacts/ (resident-answer-*.png)."""
from __future__ import annotations

import io
import os
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from sqlalchemy import Engine, text

from auth.model import Actor
from incidents.service import rules_from_settings
from notify.messages import fmt_when
from ops import orgs, users
from ops.resident import resident_actor, take_incident
from tests.resident.conftest import Scene
from tests.ui.conftest import ARTIFACTS, free_port, service

pytestmark = pytest.mark.browser
ADMIN = Actor(author="boss", role="admin")


@pytest.fixture()
def resident_url(scene: Scene, clean_engine: Engine, db_url: str) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": db_url, "ZHKH_RESIDENT_RATE_PER_MIN": "600"}
    url = f"http://127.0.0.1:{port}"
    with service(["-m", "resident", "serve", "--port", str(port)], env, f"resident-answer-{port}.log",
                 f"{url}/health", "the resident's page"):
        yield url


def _photo() -> bytes:
    img = Image.new("RGB", (640, 480), (225, 232, 238))
    for x in range(160, 480):                      # a dark band: something to see on the screenshot
        for y in range(200, 280):
            img.putpixel((x, y), (40, 90, 140))
    out = io.BytesIO()
    img.save(out, format="JPEG")
    return out.getvalue()


def test_the_answer_and_its_photo_then_fixed_with_a_rating(scene: Scene, resident_url: str,
                                                           clean_engine: Engine) -> None:
    from playwright.sync_api import expect, sync_playwright

    from scripts.screenshot import CHROMIUM, CHROMIUM_ARGS

    eng = clean_engine
    with eng.begin() as conn:
        org = conn.execute(text("INSERT INTO organisations (kind, name, phone) VALUES ('management_company', "
                                "'УК «Северный дом»', '+7 812 555-01-02') RETURNING id")).scalar_one()
    desk = Actor.of(users.add_user(ADMIN, "desk-north", role="org_dispatcher", password="a long enough secret 42",
                                   org_id=org, bind=eng))
    inc = take_incident(resident_actor("127.0.0.1"), building_id=scene.city.building_ids[0], service_code="elevator",
                        description="Лифт стоит на 5 этаже", bind=eng).incident
    with eng.begin() as conn:
        conn.execute(text("UPDATE incidents SET responsible_org_id = :o WHERE id = :i"), {"o": org, "i": inc.id})
    visit = (datetime.now(timezone.utc) + timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    orgs.act(desk, inc.id, "visit_planned", event_id="v-1", bind=eng, visit_at=visit)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 412, "height": 915}, device_scale_factor=1)
        page.goto(f"{resident_url}/report/{inc.public_token}?lang=ru")
        expect(page.locator("#answer dd.visit")).to_have_text(fmt_when(visit, "ru", ZoneInfo(rules_from_settings().timezone)))
        expect(page.locator("#fixed")).to_have_count(0)
        page.screenshot(path=str(ARTIFACTS / "resident-visit-ru.png"), full_page=True)
        orgs.act(desk, inc.id, "resolved", event_id="d-1", text="Заменён трос ограничителя скорости, лифт работает.",
                 photos=[_photo()], bind=eng)
        page.goto(f"{resident_url}/report/{inc.public_token}?lang=en")
        answer = page.locator("#answer")
        expect(answer).to_contain_text("Who answers for this report")
        expect(answer).to_contain_text("УК «Северный дом»")
        expect(answer).to_contain_text("Заменён трос ограничителя скорости")
        photo = answer.get_by_role("img", name="Photo 1 of the organisation's answer")
        expect(photo).to_be_visible()
        page.wait_for_function("document.querySelector('#answer img').complete")
        assert page.evaluate("document.querySelector('#answer img').naturalWidth") == 640
        expect(page.locator("#fixed")).to_contain_text("Fixed?")
        page.screenshot(path=str(ARTIFACTS / "resident-answer-en.png"), full_page=True)
        page.goto(f"{resident_url}/report/{inc.public_token}?lang=ru")
        expect(page.locator("#answer")).to_contain_text("Кто отвечает за заявку")
        page.screenshot(path=str(ARTIFACTS / "resident-answer-ru.png"), full_page=True)
        page.get_by_label("4").check()
        page.get_by_role("button", name="Да, устранено").click()
        expect(page.get_by_role("status")).to_have_text("Спасибо! Заявка закрыта с вашей оценкой.")
        expect(page.locator("#answer .rated")).to_have_text("Ваша оценка: 4 из 5.")
        expect(page.locator("#fixed")).to_have_count(0)
        page.screenshot(path=str(ARTIFACTS / "resident-answer-rated-ru.png"), full_page=True)
        browser.close()
    with eng.connect() as conn:
        assert conn.execute(text("SELECT status, resident_rating FROM incidents WHERE id = :i"),
                            {"i": inc.id}).one() == ("closed", 4)
