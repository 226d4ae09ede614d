"""The residents' page side of double opt-in (issue 22, item 9): a subscribe answers "check your mail"
without saying whether the address was known, the confirmation link opens a page with a button (a GET
changes nothing), confirming works once, the limits answer 429 with a page in the reader's language."""
from __future__ import annotations

import re

from sqlalchemy import Engine, text

from tests.resident.conftest import Scene
from tests.resident.test_app import client, csrf


def _token(engine: Engine, email: str) -> str:
    with engine.connect() as conn:
        body = conn.execute(text("SELECT n.body FROM notice_outbox n JOIN subscriptions s ON s.id = n.subscription_id "
                                 "WHERE s.email = :e AND n.event = 'confirm' ORDER BY n.id DESC LIMIT 1"),
                            {"e": email}).scalar_one()
    return re.search(r"/confirm/([A-Za-z0-9_-]+)", body).group(1)


def _active(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM subscriptions WHERE confirmed_at IS NOT NULL "
                                 "AND unsubscribed_at IS NULL")).scalar_one()


def test_subscribe_then_confirm_through_the_page(scene: Scene, clean_engine: Engine) -> None:
    c = client(clean_engine)
    b2 = scene.city.building_ids[1]
    token = csrf(c, f"/address/{b2}")
    r = c.post(f"/address/{b2}/subscribe", data={"csrf": token, "email": "anna@example.org", "lang": "en"},
               follow_redirects=False)
    assert r.status_code == 303
    page = c.get(r.headers["location"])
    assert "Almost done" in page.text and "confirm the subscription" in page.text
    assert _active(clean_engine) == 0
    link = _token(clean_engine, "anna@example.org")

    en = c.get(f"/confirm/{link}?lang=en")
    assert en.status_code == 200 and "Mannerheimintie 3" in en.text and ">Confirm</button>" in en.text
    ru = c.get(f"/confirm/{link}?lang=ru")
    assert ru.status_code == 200 and "Подтвердить" in ru.text and "Confirm" not in ru.text
    assert _active(clean_engine) == 0                                   # opening the link changes nothing
    assert c.post(f"/confirm/{link}", data={"csrf": "wrong"}).status_code == 403
    done = c.post(f"/confirm/{link}", data={"csrf": csrf(c, f"/confirm/{link}")})
    assert done.status_code == 200 and "Подписка подтверждена" in done.text and "Mannerheimintie 3" in done.text
    assert _active(clean_engine) == 1
    used = c.post(f"/confirm/{link}", data={"csrf": csrf(c)})
    assert used.status_code == 404 and "уже использована" in used.text
    assert c.get("/confirm/not-a-real-token-at-all-0123456789?lang=en").status_code == 404
    # asked again for a subscribed address: the same answer, no mail, nothing changed
    again = c.post(f"/address/{b2}/subscribe", data={"csrf": csrf(c), "email": "anna@example.org", "lang": "ru"})
    assert again.status_code == 200 and "Почти готово" in again.text and _active(clean_engine) == 1


def test_too_many_confirmation_mails_is_a_429_page(scene: Scene, clean_engine: Engine) -> None:
    c = client(clean_engine)
    b2 = scene.city.building_ids[1]
    token = csrf(c, f"/address/{b2}")
    for _ in range(3):
        assert c.post(f"/address/{b2}/subscribe", data={"csrf": token, "email": "x@example.org"}).status_code == 200
    ru = c.post(f"/address/{b2}/subscribe", data={"csrf": token, "email": "x@example.org"})
    assert ru.status_code == 429 and "Предел писем с подтверждением" in ru.text and "— 3 в час" in ru.text
    en = c.post(f"/address/{b2}/subscribe", data={"csrf": token, "email": "x@example.org", "lang": "en"})
    assert en.status_code == 429 and "got 3 confirmation mails within the hour" in en.text
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM notice_outbox WHERE event = 'confirm'")).scalar_one() == 3


def test_too_many_buildings_for_one_address_is_a_429_page(scene: Scene, clean_engine: Engine) -> None:
    c = client(clean_engine)
    ids = scene.city.building_ids
    token = csrf(c, f"/address/{ids[0]}")
    with clean_engine.begin() as conn:                                  # five followed already (the default limit)
        for i in range(5):
            b = conn.execute(text("INSERT INTO buildings (address, kind, residents, geom) SELECT 'Extra ' || :i, "
                                  "'residential', 1, geom FROM buildings WHERE id = :b RETURNING id"),
                             {"i": i, "b": ids[0]}).scalar_one()
            conn.execute(text("INSERT INTO subscriptions (building_id, email, unsubscribe_token, confirmed_at) "
                              "VALUES (:b, 'busy@example.org', :t, now())"), {"b": b, "t": f"tok-busy-{i}"})
    r = c.post(f"/address/{ids[0]}/subscribe", data={"csrf": token, "email": "busy@example.org", "lang": "en"})
    assert r.status_code == 429 and "can follow at most 5 buildings" in r.text
