"""The resident's page over HTTP (the real app on the test database): an address with its outage and
allowance clock, report lookups (unknown → friendly 404), a report through the form (channel portal,
escaped text, CSRF), "not fixed" once within 30 days, subscriptions, the account's charges with the
reduction explained (a wrong code refused without saying which part), no personal data, rate limits."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from apps.http.resident import create_app
from billing.rule import month_bounds
from billing.rules_file import load_billing_rules
from settings import Settings
from tests.resident.conftest import REASON, Scene


def client(engine: Engine, **settings: object) -> TestClient:
    return TestClient(create_app(engine, Settings(**settings)))  # type: ignore[arg-type]


def csrf(c: TestClient, path: str = "/") -> str:
    page = c.get(path)
    m = re.search(r'name="csrf" value="([^"]+)"', page.text)
    if m:
        return m.group(1)
    return c.cookies.get("zr_csrf") or ""


def expected_clock_minutes(scene: Scene) -> int:
    """The active outage's minutes this month, clipped to the month's start (Moscow, the default rules)."""
    start, _ = month_bounds(datetime.now(timezone.utc).astimezone(load_billing_rules().zone).strftime("%Y-%m"),
                            load_billing_rules().zone)
    return int((datetime.now(timezone.utc) - max(scene.started, start)).total_seconds() // 60)


def test_address_shows_the_outage_and_the_allowance_clock(scene: Scene, clean_engine: Engine) -> None:
    c = client(clean_engine)
    b2 = scene.city.building_ids[1]
    page = c.get(f"/address/{b2}")
    assert page.status_code == 200
    html = page.text
    assert "Mannerheimintie 3" in html and f"№{scene.active_outage}" in html
    assert "Прорыв &lt;b&gt;трубы&lt;/b&gt; на Маннергейма" in html and REASON not in html   # escaped
    assert "Ожидаемое включение" in html
    minutes = expected_clock_minutes(scene)
    h, m = divmod(minutes, 60)
    used = f"{h} ч {m} мин" if m else f"{h} ч"
    assert f"В этом месяце: {used} без холодной воды из 8 ч допустимых." in html
    en = c.get(f"/address/{b2}?lang=en").text
    used_en = f"{h} h {m} min" if m else f"{h} h"
    assert f"This month: {used_en} without cold water of the 8 h allowed." in en
    assert "Beyond that your bill is reduced automatically" in en
    # planned works on building 3: dates, no active outage
    b3 = c.get(f"/address/{scene.city.building_ids[2]}?lang=en").text
    assert "Planned works" in b3 and "Замена задвижки" in b3 and "Off now" not in b3
    # the language sticks (cookie) without ?lang=
    assert "This month" in c.get(f"/address/{b2}").text


def test_suggestions_and_search(scene: Scene, clean_engine: Engine) -> None:
    c = client(clean_engine)
    found = c.get("/api/addresses", params={"q": "mannerheimintie 3"}).json()
    assert found[0] == {"id": scene.city.building_ids[1], "address": "Mannerheimintie 3"}
    assert c.get("/api/addresses", params={"q": "%_"}).json() == []
    one = c.get("/search", params={"q": "Kalevankatu"}, follow_redirects=False)
    assert one.status_code == 303 and one.headers["location"] == f"/address/{scene.city.building_ids[3]}"
    many = c.get("/search", params={"q": "Mannerheimintie"})
    assert many.status_code == 200 and many.text.count("/address/") >= 3


def test_unknown_report_number_and_address_are_friendly_404s(scene: Scene, clean_engine: Engine) -> None:
    c = client(clean_engine)
    r = c.get("/report/987654")
    assert r.status_code == 404 and "Заявки №987654 нет" in r.text and "Traceback" not in r.text
    assert c.get("/report", params={"number": "12ab"}).status_code == 400
    assert c.get("/report/<script>").status_code in (400, 404)
    r = c.get("/address/999999?lang=en")
    assert r.status_code == 404 and "No such address" in r.text
    assert c.get("/no/such/page").status_code == 404


def test_a_report_through_the_form(scene: Scene, clean_engine: Engine) -> None:
    c = client(clean_engine)
    b1 = scene.city.building_ids[0]
    token = csrf(c, f"/address/{b1}")
    # without the form's token: refused, nothing stored
    assert c.post(f"/address/{b1}/report", data={"service_code": "no_water", "description": "x"}).status_code == 403
    # markup in the text: refused by the intake, shown back as text
    bad = c.post(f"/address/{b1}/report", data={"csrf": token, "service_code": "no_water",
                                                "description": "<script>alert(1)</script>"})
    assert bad.status_code == 400 and "<script>alert(1)</script>" not in bad.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in bad.text
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incidents")).scalar() == 0
    ok = c.post(f"/address/{b1}/report", data={"csrf": token, "service_code": "no_water",
                                               "description": "Нет воды с утра", "lang": "ru"}, follow_redirects=False)
    assert ok.status_code == 303
    number = report_id(clean_engine, ok.headers["location"])
    with clean_engine.connect() as conn:
        row = conn.execute(text("SELECT channel, building_id, status FROM incidents WHERE id = :i"), {"i": number}).one()
        actor = conn.execute(text("SELECT actor FROM incident_events WHERE incident_id = :i"), {"i": number}).scalar()
    assert tuple(row) == ("portal", b1, "new") and actor.startswith("resident:")
    page = c.get(ok.headers["location"])
    assert f"Заявка №{number} принята" in page.text and "Срок по нормативу" in page.text
    assert "resident:" not in page.text                      # who changed what is not shown
    assert f"№{number}" in c.get(f"/address/{b1}").text       # listed under its address


def report_id(engine: Engine, location: str) -> int:
    """The id of the report a page's address names by its random token."""
    token = re.search(r"/report/([0-9a-f]{32})", location).group(1)
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT id FROM incidents WHERE public_token = :t"), {"t": token}).scalar_one())


def token_of(engine: Engine, rid: int) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT public_token FROM incidents WHERE id = :i"), {"i": rid}).scalar_one())


def test_no_personal_data_and_html_shown_as_text(scene: Scene, clean_engine: Engine) -> None:
    b2 = scene.city.building_ids[1]
    with clean_engine.begin() as conn:
        rid = conn.execute(text("""
            INSERT INTO incidents (category, resource, service_code, geom, address, building_id, description,
                                   reporter_name, reporter_phone, reporter_email, channel)
            VALUES ('no_water', 'cold_water', 'no_water', ST_SetSRID(ST_MakePoint(24.9425, 60.1702), 4326),
                    'Mannerheimintie 3', :b, '<img src=x onerror=alert(1)> нет воды', 'Иванова Мария',
                    '+79991234567', 'ivanova@example.org', 'phone') RETURNING id
        """), {"b": b2}).scalar_one()
        conn.execute(text("INSERT INTO incident_events (incident_id, actor, to_status, note) "
                          "VALUES (:i, 'orlova', 'new', 'перезвонить Ивановой')"), {"i": rid})
    c = client(clean_engine)
    tok = token_of(clean_engine, rid)
    for path in (f"/report/{tok}", f"/address/{b2}", f"/report/{tok}?lang=en"):
        html = c.get(path).text
        for secret in ("Иванова", "Ивановой", "79991234567", "ivanova@example.org", "orlova", "Петрова"):
            assert secret not in html, (path, secret)
    html = c.get(f"/report/{tok}").text
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt; нет воды" in html


def _resolve(engine: Engine, rid: int, when: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE incidents SET status = 'resolved', resolved_at = :w, version = version + 1 "
                          "WHERE id = :i"), {"w": when, "i": rid})


def test_not_fixed_reopens_once_within_30_days(scene: Scene, clean_engine: Engine) -> None:
    c = client(clean_engine)
    b1 = scene.city.building_ids[0]
    token = csrf(c, f"/address/{b1}")
    loc = c.post(f"/address/{b1}/report", data={"csrf": token, "service_code": "low_pressure", "description": "Слабый напор"},
                 follow_redirects=False).headers["location"]
    rid, tok = report_id(clean_engine, loc), loc.split("/report/")[1].split("?")[0]
    assert "Не устранено" not in c.get(f"/report/{tok}").text        # not resolved: no button
    refused = c.post(f"/report/{tok}/reopen", data={"csrf": token})
    assert refused.status_code == 409 and "не в статусе" in refused.text
    _resolve(clean_engine, rid, datetime.now(timezone.utc) - timedelta(days=2))
    assert "Не устранено" in c.get(f"/report/{tok}").text
    done = c.post(f"/report/{tok}/reopen", data={"csrf": token})
    assert done.status_code == 200 and "Заявка открыта снова" in done.text
    with clean_engine.connect() as conn:
        status, attrs = conn.execute(text("SELECT status, attributes FROM incidents WHERE id = :i"), {"i": rid}).one()
        last = conn.execute(text("SELECT from_status, to_status, note FROM incident_events WHERE incident_id = :i "
                                 "ORDER BY id DESC LIMIT 1"), {"i": rid}).one()
        audited = conn.execute(text("SELECT count(*) FROM audit_events WHERE action = 'incident.reopen' "
                                    "AND object_id = :i"), {"i": str(rid)}).scalar()
    assert status == "in_progress" and "reopened_at" in attrs and audited == 1
    assert tuple(last) == ("resolved", "in_progress", "reopened by resident")
    # fixed again, and again not fixed: refused, clearly
    _resolve(clean_engine, rid, datetime.now(timezone.utc))
    again = c.post(f"/report/{tok}/reopen?lang=en", data={"csrf": token, "lang": "en"})
    assert again.status_code == 409 and "reopened only once" in again.text
    # another report resolved 31 days ago: too late
    loc2 = c.post(f"/address/{b1}/report", data={"csrf": token, "service_code": "no_water"},
                  follow_redirects=False).headers["location"]
    rid2 = report_id(clean_engine, loc2)
    _resolve(clean_engine, rid2, datetime.now(timezone.utc) - timedelta(days=31))
    late = c.post(f"/report/{token_of(clean_engine, rid2)}/reopen", data={"csrf": token})
    assert late.status_code == 409 and "больше 30 дней" in late.text


def test_subscription_form(scene: Scene, clean_engine: Engine) -> None:
    c = client(clean_engine)
    b2 = scene.city.building_ids[1]
    token = csrf(c, f"/address/{b2}")
    bad = c.post(f"/address/{b2}/subscribe", data={"csrf": token, "email": "not an email"})
    assert bad.status_code == 400 and "не похоже" in bad.text
    ok = c.post(f"/address/{b2}/subscribe", data={"csrf": token, "email": "anna@example.org", "phone": "+7 999 123-45-67",
                                                  "lang": "en"})
    assert ok.status_code == 200 and "confirm the subscription" in ok.text      # double opt-in: a link is mailed
    with clean_engine.connect() as conn:
        row = conn.execute(text("SELECT building_id, email, phone, lang, unsubscribe_token FROM subscriptions")).one()
    assert tuple(row)[:4] == (b2, "anna@example.org", "+79991234567", "en")
    page = c.get(f"/unsubscribe/{row[4]}")
    assert page.status_code == 200
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT unsubscribed_at FROM subscriptions")).scalar() is None   # a GET changes nothing
    gone = c.post(f"/unsubscribe/{row[4]}", data={"csrf": csrf(c, f"/unsubscribe/{row[4]}")})
    assert gone.status_code == 200 and "Mannerheimintie 3" in gone.text


def test_account_charges_with_the_reduction_explained(scene: Scene, clean_engine: Engine) -> None:
    c = client(clean_engine)
    token = csrf(c)
    wrong_code = c.post("/account", data={"csrf": token, "number": scene.account, "code": "000000"})
    unknown = c.post("/account", data={"csrf": token, "number": "999999999", "code": scene.code})
    garbage = c.post("/account", data={"csrf": token, "number": "<b>", "code": ""})
    for r in (wrong_code, unknown, garbage):
        assert r.status_code == 403 and "Номер счёта или код не подходят" in r.text
        assert "477" not in r.text
    assert wrong_code.text == unknown.text          # the refusal does not say which part was wrong
    ok = c.post("/account", data={"csrf": token, "number": scene.account, "code": scene.code})
    assert ok.status_code == 200
    html = ok.text
    assert "Снижение за перерывы" in html and "−4,34" in html and "477,83" in html
    assert f"−0,9 %: 6 ч сверх допустимых 8 ч, отключение №{scene.reduction_outage}" in html
    assert "Петрова" not in html                     # not even the holder's own name
    assert f'href="/address/{scene.city.building_ids[1]}?lang=en"' in html   # the language switch of a form's answer
    en = c.post("/account", data={"csrf": token, "number": scene.account, "code": scene.code, "lang": "en"}).text
    assert f"−0.9 %: 6 h beyond the 8 h allowance, outage №{scene.reduction_outage}" in en


def test_rate_limits_answer_429_with_a_friendly_page(scene: Scene, clean_engine: Engine) -> None:
    c = client(clean_engine, resident_rate_per_min=5)
    codes = [c.get("/").status_code for _ in range(7)]
    assert codes[:5] == [200] * 5 and codes[-1] == 429
    r = c.get("/?lang=en")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1 and "Too many requests" in r.text
    assert c.get("/health").status_code == 200          # the health check is not limited

    strict = client(clean_engine, resident_code_tries_per_hour=2)
    token = csrf(strict)
    tries = [strict.post("/account", data={"csrf": token, "number": scene.account, "code": "x"}).status_code
             for _ in range(3)]
    assert tries == [403, 403, 429]
    # even the right code waits now
    assert strict.post("/account", data={"csrf": token, "number": scene.account, "code": scene.code}).status_code == 429


@pytest.mark.parametrize("path, status", [("/", 200), ("/search", 200), ("/address/{b1}", 200),
                                          ("/address/999999999", 404), ("/report/999999999", 404)])
def test_pages_never_trace_back_with_nul_bytes(scene: Scene, clean_engine: Engine, path: str, status: int) -> None:
    """NUL bytes in the query: the page as without them (in the default language), or the plain not-found page."""
    c = client(clean_engine)
    r = c.get(path.format(b1=scene.city.building_ids[0]), params={"q": "a\x00b", "lang": "\x00"})
    assert r.status_code == status and "Traceback" not in r.text and "\x00" not in r.text
    assert '<html lang="ru"' in r.text


def test_durations_and_money_in_the_page_language() -> None:
    from zoneinfo import ZoneInfo

    from resident.texts import Texts

    ru, en = Texts("ru", ZoneInfo("Europe/Moscow")), Texts("en", ZoneInfo("Europe/Moscow"))
    assert [ru.duration(m) for m in (0, 40, 340, 480)] == ["0 мин", "40 мин", "5 ч 40 мин", "8 ч"]
    assert [en.duration(m) for m in (0, 340, 480)] == ["0 min", "5 h 40 min", "8 h"]
    assert ru.money("-1234.5") == "−1\u202f234,50\u00a0₽" and en.money("1234.5") == "1,234.50\u00a0₽"
    assert ru.number("0.900000") == "0,9" and en.number("6.0000") == "6"
