"""«Тарифы» of an address (issue 20 part 2): the page and ``GET /api/tariffs`` read the ``tariffs``
table the billing run writes, through the billing's own lookup (``TariffBook.at``): the tariff in
force today, the previous one, the next change, the organisation and the legal basis (migration
0023), the normative where flats have no meter, and a month at the address's average consumption;
numbers formatted per language (a decimal comma in Russian)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from apps.http.resident import create_app
from apps.http.resident.site import utcnow
from billing.tariffs import book_from_table, load_tariffs, sync_tariffs
from settings import Settings
from tests.resident.conftest import Scene


def client(engine: Engine) -> TestClient:
    return TestClient(create_app(engine, Settings()))  # type: ignore[arg-type]


@pytest.fixture()
def priced(scene: Scene, clean_engine: Engine) -> Scene:
    """The scene with the tariffs loaded as a billing run loads them (the default tariffs file)."""
    with clean_engine.begin() as conn:
        sync_tariffs(conn, load_tariffs())
    return scene


def today() -> date:
    from zoneinfo import ZoneInfo

    from incidents.service import rules_from_settings

    return utcnow().astimezone(ZoneInfo(rules_from_settings(Settings()).timezone)).date()


def test_the_table_keeps_organisation_and_legal_basis(priced: Scene, clean_engine: Engine) -> None:
    book = load_tariffs()
    with clean_engine.connect() as conn:
        stored = book_from_table(conn, book.services)
        raw = conn.execute(text("SELECT organisation, legal_basis FROM tariffs WHERE service = 'cold_water' "
                                "AND valid_from = '2026-10-01'")).one()
    assert stored.services == book.services
    day = today()
    for s in book.services:
        assert stored.at(s, day).price_rub == book.at(s, day).price_rub           # the billing's own figure
    assert raw.organisation["ru"].startswith("Департамент экономической политики")
    assert raw.legal_basis["en"] == "Order of 18 Sep 2026 No. 188-TR (demo)"


def test_api_tariffs_by_id_and_by_text(priced: Scene, clean_engine: Engine) -> None:
    c = client(clean_engine)
    b2 = priced.city.building_ids[1]
    book = load_tariffs()
    day = today()
    r = c.get(f"/api/tariffs?address={b2}&lang=ru")
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["address"] == {"id": b2, "address": "Mannerheimintie 3"}
    assert [s["service"] for s in data["services"]] == list(book.services)
    cold = next(s for s in data["services"] if s["service"] == "cold_water")
    now_t, prev, nxt = book.at("cold_water", day), book.previous("cold_water", day), book.next_change("cold_water", day)
    assert Decimal(str(cold["price_rub"])) == now_t.price_rub
    assert cold["valid_from"] == now_t.valid_from.isoformat()
    assert (cold["previous"] and Decimal(str(cold["previous"]["price_rub"]))) == (prev and prev.price_rub)
    assert (cold["next_change"] and cold["next_change"]["date"]) == (nxt and nxt.valid_from.isoformat())
    assert cold["organisation"] == now_t.organisation["ru"]
    assert cold["legal_basis"] == now_t.legal_basis["ru"]
    assert cold["normative"] == {"value": float(now_t.normative_per_person), "per": "person"}  # no meters here
    # the month at the address: the scene's account was billed 9.2 m³ of cold water (its only charge)
    assert cold["month"]["basis"] == "charges" and cold["month"]["quantity"] == 9.2
    assert Decimal(str(cold["month"]["cost_rub"])) == (Decimal("9.2") * now_t.price_rub).quantize(Decimal("0.01"))
    price_ru = f"{now_t.price_rub:.2f}".replace(".", ",")
    assert cold["price_text"] == f"{price_ru}\u00a0₽ за м³"
    # services without charges: the normative for the account's 2 residents (heating: its 54.3 m²)
    heat = next(s for s in data["services"] if s["service"] == "heating")
    assert heat["month"]["basis"] == "normative"
    assert heat["month"]["quantity"] == float((Decimal("54.3") * book.at("heating", day).normative_per_m2)
                                              .quantize(Decimal("0.0001")))
    total = sum(Decimal(str(s["month"]["cost_rub"])) for s in data["services"])
    assert Decimal(str(data["month_total_rub"])) == total
    # the same by the address text, in English (a decimal point)
    en = c.get("/api/tariffs", params={"address": "Mannerheimintie 3", "lang": "en"}).json()
    cold_en = next(s for s in en["services"] if s["service"] == "cold_water")
    assert cold_en["price_text"] == f"{now_t.price_rub:.2f}\u00a0₽ per m³"
    assert cold_en["legal_basis"] == now_t.legal_basis["en"] and cold_en["name"] == "Cold water"


def test_api_tariffs_unknown_and_ambiguous(priced: Scene, clean_engine: Engine) -> None:
    c = client(clean_engine)
    for q in ("999999", "Nowhere street 77", "", "\x00"):
        r = c.get("/api/tariffs", params={"address": q})
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/json")
        assert r.json()["error"]
    r = c.get("/api/tariffs", params={"address": "Mannerheimintie"})
    assert r.status_code == 400
    body = r.json()
    assert "give one of their ids" in body["error"] and len(body["matches"]) > 1
    assert all(set(m) == {"id", "address"} for m in body["matches"])


def test_tariffs_page_ru_en_and_links(priced: Scene, clean_engine: Engine) -> None:
    c = client(clean_engine)
    b2 = priced.city.building_ids[1]
    assert f'href="/address/{b2}/tariffs?lang=ru"' in c.get(f"/address/{b2}?lang=ru").text
    assert 'href="/tariffs?lang=ru"' in c.get("/?lang=ru").text
    ru = c.get(f"/address/{b2}/tariffs?lang=ru")
    assert ru.status_code == 200
    html = ru.text
    assert "Тарифы: Mannerheimintie 3" in html and "Холодное водоснабжение" in html
    assert "Кто устанавливает" in html and "Департамент экономической политики" in html
    assert "на человека в месяц" in html and "Месяц по действующим тарифам" in html
    for word in ("Cold water", "per m³", "Legal basis"):
        assert word not in html
    en = c.get(f"/address/{b2}/tariffs?lang=en").text
    assert "Tariffs: Mannerheimintie 3" in en and "Set by" in en and "Moscow Department" in en
    for word in ("Тарифы", "Холодное", "за м³", "Приказ"):
        assert word not in en
    # the search: one match goes to the page, several are listed, none says so
    r = c.get("/tariffs", params={"address": "Mannerheimintie 3", "lang": "en"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/address/{b2}/tariffs?lang=en"
    assert f"/address/{b2}/tariffs?lang=ru" in c.get("/tariffs", params={"address": "Mannerheimintie", "lang": "ru"}).text
    assert c.get("/tariffs", params={"address": "Nowhere 77"}).status_code == 404
    assert c.get("/address/999999/tariffs").status_code == 404


def test_no_tariffs_loaded_says_so(scene: Scene, clean_engine: Engine) -> None:
    c = client(clean_engine)
    html = c.get(f"/address/{scene.city.building_ids[1]}/tariffs?lang=ru").text
    assert "Тарифы ещё не загружены" in html
