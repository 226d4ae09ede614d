"""The Open311 GeoReport v2 API (FastAPI TestClient on the test database): every error path,
form and JSON bodies, escaping, idempotency, and surviving dropped database connections."""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from apps.http.open311 import create_app
from incidents import keys, outages, service
from incidents.sla import Rules
from settings import Settings
from tests.incidents.conftest import City

B = "/open311/v2"


@pytest.fixture()
def api(clean_engine: Engine, city: City, rules: Rules, settings: Settings) -> Iterator[tuple[TestClient, str]]:
    key = keys.create_api_key(clean_engine, "tests")
    with TestClient(create_app(clean_engine, settings=settings, rules=rules)) as client:
        yield client, key


def _post(client: TestClient, key: str, **fields: object) -> object:
    body = {"api_key": key, "service_code": "no_water", "lat": 60.17021, "long": 24.94252,
            "description": "Нет воды"}
    body.update(fields)
    return client.post(f"{B}/requests.json", data={k: v for k, v in body.items() if v is not None})


def test_services_and_definition(api: tuple[TestClient, str], rules: Rules) -> None:
    client, _ = api
    r = client.get(f"{B}/services.json")
    assert r.status_code == 200
    codes = [s["service_code"] for s in r.json()]
    assert codes == list(rules.services)
    no_water = next(s for s in r.json() if s["service_code"] == "no_water")
    assert no_water["metadata"] is True and no_water["type"] == "realtime"
    d = client.get(f"{B}/services/no_water.json").json()
    assert d["service_code"] == "no_water" and d["attributes"][0]["code"] == "whole_building"
    assert d["attributes"][0]["values"][0] == {"key": "yes", "name": "Да, во всём доме"}
    assert client.get(f"{B}/services/nope.json").status_code == 404
    bad = client.get(f"{B}/services.xml")
    assert bad.status_code == 400 and "not supported" in bad.json()[0]["description"]


def test_post_form_and_get_back(api: tuple[TestClient, str], city: City, clean_engine: Engine) -> None:
    client, key = api
    r = _post(client, key, first_name="Анна", last_name="Иванова", phone="+7 900", email="a@b.ru",
              **{"attribute[apartment]": "12"})
    assert r.status_code == 201, r.text
    [created] = r.json()
    assert set(created) == {"service_request_id", "service_notice", "account_id"} and created["account_id"] is None
    rid = created["service_request_id"]
    [got] = client.get(f"{B}/requests/{rid}.json").json()
    assert got["status"] == "open" and got["service_code"] == "no_water"
    assert got["address"] == "Mannerheimintie 3" and got["address_id"] == str(city.building_ids[1])
    assert abs(got["lat"] - 60.17021) < 1e-9 and abs(got["long"] - 24.94252) < 1e-9
    assert got["expected_datetime"] > got["requested_datetime"]
    assert got["agency_responsible"] and got["status_notes"]
    inc = service.get_incident(clean_engine, int(rid))
    assert inc.reporter_name == "Анна Иванова" and inc.attributes == {"apartment": "12"} and inc.channel == "api"


def test_post_json_with_address_string_and_address_id(api: tuple[TestClient, str], city: City) -> None:
    client, key = api
    r = client.post(f"{B}/requests.json", json={"api_key": key, "service_code": "elevator",
                                                "address_string": "Mannerheimintie 5"})
    assert r.status_code == 201, r.text
    [got] = client.get(f"{B}/requests/{r.json()[0]['service_request_id']}.json").json()
    assert got["address_id"] == str(city.building_ids[2])
    r2 = client.post(f"{B}/requests.json", json={"api_key": key, "service_code": "elevator",
                                                 "address_id": str(city.building_ids[3])})
    assert r2.status_code == 201
    r3 = client.post(f"{B}/requests.json", json={"api_key": key, "service_code": "elevator",
                                                 "address_string": "Nowhere 1"})
    assert r3.status_code == 400 and "'Nowhere 1'" in r3.json()[0]["description"]


POST_ERRORS: list[tuple[dict[str, object], int, str]] = [
    ({"api_key": None}, 403, "api_key is required"),
    ({"api_key": "zk_wrong"}, 403, "not valid"),
    ({"service_code": None}, 400, "service_code is required"),
    ({"service_code": "leak"}, 400, "unknown service_code 'leak'"),
    ({"lat": None, "long": None}, 400, "a location is required"),
    ({"long": None}, 400, "both lat and long"),
    ({"lat": "north"}, 400, "lat must be a number"),
    ({"lat": 60.5, "long": 24.94}, 400, "lat=60.5, long=24.94 is outside the service area"),
    ({"description": "x" * 4001}, 400, "4001 characters"),
    ({"address_id": "12a", "lat": None, "long": None}, 400, "address_id must be a building id"),
]


def test_post_errors_are_open311_lists(api: tuple[TestClient, str], clean_engine: Engine) -> None:
    # one test for all cases: each database test pays for emptying the database first
    client, key = api
    for fields, status, needle in POST_ERRORS:
        r = _post(client, key, **fields)
        assert r.status_code == status, (fields, r.text)
        [err] = r.json()
        assert err["code"] == status and needle in err["description"], (fields, err)
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incidents")).scalar() == 0


def test_revoked_key_stops_at_once_and_reports_carry_the_key(api: tuple[TestClient, str], clean_engine: Engine) -> None:
    client, key = api
    first = _post(client, key)
    assert first.status_code == 201, first.text
    rid = int(first.json()[0]["service_request_id"])
    [event] = service.incident_history(clean_engine, rid)
    assert event["actor"] == "api:tests" and event["to_status"] == "new"
    with clean_engine.connect() as conn:
        stored_key = conn.execute(text("SELECT api_key_id FROM incidents WHERE id = :i"), {"i": rid}).scalar()
    assert stored_key == keys.verify_api_key(clean_engine, key).id
    assert keys.revoke_api_key(clean_engine, "tests") == 1
    r = _post(client, key, description="после отзыва")        # the very next request, same app, no waiting
    assert r.status_code == 403 and r.json() == [{"code": 403, "description": "api_key has been revoked"}]
    for bad in ("zk_" + "x" * 300, "ключ", ""):
        r = _post(client, key, api_key=bad)
        assert r.status_code == 403 and r.json()[0]["description"] in ("api_key is not valid", "api_key is required")
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incidents")).scalar() == 1


def test_malformed_json_and_huge_body_are_refused_fast(api: tuple[TestClient, str], clean_engine: Engine) -> None:
    client, key = api
    r = client.post(f"{B}/requests.json", content=b'{"api_key": "x", ', headers={"content-type": "application/json"})
    assert r.status_code == 400 and "malformed JSON" in r.json()[0]["description"]
    r = client.post(f"{B}/requests.json", content=b'[1, 2]', headers={"content-type": "application/json"})
    assert r.status_code == 400 and "object" in r.json()[0]["description"]
    huge = json.dumps({"api_key": key, "service_code": "other", "lat": 60.17, "long": 24.94,
                       "description": "x" * 5_000_000}).encode()
    # refused by the body-size limit before any parsing ("too large", not a JSON or length error)
    r = client.post(f"{B}/requests.json", content=huge, headers={"content-type": "application/json"})
    assert r.status_code == 400 and "too large" in r.json()[0]["description"]
    def chunks() -> Iterator[bytes]:
        for i in range(0, len(huge), 65536):
            yield huge[i:i + 65536]
    r = client.post(f"{B}/requests.json", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 400 and "too large" in r.json()[0]["description"]
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incidents")).scalar() == 0


def test_json_carries_text_exactly_as_sent_and_markup_is_refused(api: tuple[TestClient, str],
                                                                 clean_engine: Engine) -> None:
    client, key = api
    plain = '"ржавая" & <5°C — **срочно**, [фото](https://x.ru/1.jpg) # кв. 5\nвторая строка\tи таб'
    label = "Mannerheimintie 3 & двор <5 м"
    r = client.post(f"{B}/requests.json", json={"api_key": key, "service_code": "no_water", "lat": 60.17021,
                                                "long": 24.94252, "description": plain, "address_string": label,
                                                "first_name": "Анна & Co", "media_url": "https://x.ru/a.jpg?x=1&y=2"})
    assert r.status_code == 201, r.text
    rid = r.json()[0]["service_request_id"]
    one = client.get(f"{B}/requests/{rid}.json")
    listed = client.get(f"{B}/requests.json")
    for resp in (one, listed):
        [got] = resp.json()
        assert got["description"] == plain and got["address"] == label
        assert got["media_url"] == "https://x.ru/a.jpg?x=1&y=2"
        # byte-identical: the UTF-8 of the text as JSON writes it, nothing HTML-escaped
        assert json.dumps(plain, ensure_ascii=False).encode() in resp.content
        assert b"&amp;" not in resp.content and b"&lt;" not in resp.content and b"&quot;" not in resp.content
        assert resp.headers["content-type"].startswith("application/json")
        assert resp.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-content-type-options"] == "nosniff"
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT description FROM incidents WHERE id = :i"), {"i": int(rid)}).scalar() == plain
    for evil, where in (('<script>alert(1)</script>', "'<script>' at position 1"),
                        ('x <img src=x onerror=alert(2)>', "'<img src=x onerror=a' at position 3"),
                        ("&lt;b&gt;", "'&lt;b&gt;' at position 1"), ("&#60;b>", "'&#60;b>' at position 1"),
                        ("<!-- x -->", "'<!-- x -->' at position 1"), ("</p>", "'</p>' at position 1")):
        r = _post(client, key, description=evil)
        assert r.status_code == 400 and r.json() == [{"code": 400, "description":
                                                      f"description contains HTML markup {where}; send plain text"}]
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incidents")).scalar() == 1


def test_token_makes_post_idempotent(api: tuple[TestClient, str], clean_engine: Engine) -> None:
    client, key = api
    a = _post(client, key, token="client-42")
    b = _post(client, key, token="client-42")
    c = client.post(f"{B}/requests.json", json={"api_key": key, "service_code": "sewer", "lat": 60.1702,
                                                "long": 24.9405}, headers={"Idempotency-Key": "hdr-1"})
    d = client.post(f"{B}/requests.json", json={"api_key": key, "service_code": "sewer", "lat": 60.1702,
                                                "long": 24.9405}, headers={"Idempotency-Key": "hdr-1"})
    assert (a.status_code, b.status_code, c.status_code, d.status_code) == (201, 200, 201, 200)
    assert a.json()[0]["service_request_id"] == b.json()[0]["service_request_id"]
    assert c.json()[0]["service_request_id"] == d.json()[0]["service_request_id"]
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incidents")).scalar() == 2


def test_get_requests_filters(api: tuple[TestClient, str], clean_engine: Engine) -> None:
    client, key = api
    ids = [_post(client, key, service_code=c).json()[0]["service_request_id"] for c in ("no_water", "sewer", "sewer")]
    inc = service.get_incident(clean_engine, int(ids[2]))
    v = service.transition_incident(clean_engine, inc.id, "rejected", actor="d", expected_version=inc.version)
    assert v.status == "rejected"
    assert [r["service_request_id"] for r in client.get(f"{B}/requests.json").json()] == ids[::-1]
    got = client.get(f"{B}/requests.json", params={"service_request_id": f"{ids[0]},{ids[2]}"}).json()
    assert sorted(r["service_request_id"] for r in got) == sorted([ids[0], ids[2]])
    assert [r["service_request_id"] for r in client.get(f"{B}/requests.json", params={"service_code": "sewer"}).json()] \
        == [ids[2], ids[1]]
    closed = client.get(f"{B}/requests.json", params={"status": "closed"}).json()
    assert [r["service_request_id"] for r in closed] == [ids[2]] and closed[0]["expected_datetime"] is None
    assert len(client.get(f"{B}/requests.json", params={"status": "open"}).json()) == 2
    assert client.get(f"{B}/requests.json", params={"start_date": "2000-01-01T00:00:00Z",
                                                    "end_date": "2000-02-01T00:00:00Z"}).json() == []
    for params, needle in (({"start_date": "yesterday"}, "ISO 8601"), ({"status": "pending"}, "open or closed"),
                           ({"service_request_id": "1,x"}, "comma-separated"), ({"service_code": "leak"}, "'leak'"),
                           ({"start_date": "2026-02-01", "end_date": "2026-01-01"}, "before start_date")):
        r = client.get(f"{B}/requests.json", params=params)
        assert r.status_code == 400 and needle in r.json()[0]["description"], params
    for path in (f"{B}/requests/999999.json", f"{B}/requests/abc.json", f"{B}/nothing.json"):
        r = client.get(path)
        assert r.status_code == 404 and r.json()[0]["code"] == 404


def test_notices_and_status_notes_in_russian(api: tuple[TestClient, str], rules: Rules) -> None:
    """The API's notices come from the catalogs (api.* in locale/), in Russian, with times on the service
    area's clock (not UTC ISO); similar reports in the right plural form."""
    from zoneinfo import ZoneInfo

    client, key = api
    first = _post(client, key).json()[0]
    [got] = client.get(f"{B}/requests/{first['service_request_id']}.json").json()
    local = datetime.fromisoformat(got["expected_datetime"]).astimezone(ZoneInfo(rules.timezone))
    assert first["service_notice"] == f"Заявка принята. Ожидаемый срок: {local:%d.%m.%Y %H:%M} по местному времени"
    assert got["status_notes"] == "Заявка зарегистрирована"
    second = _post(client, key, description="Опять нет воды").json()[0]
    assert second["service_notice"].endswith(f"; похожая заявка уже есть: #{first['service_request_id']}")
    third = _post(client, key, description="И у соседей нет воды").json()[0]
    assert re.search(r"; похожие заявки уже есть: #\d+, #\d+$", third["service_notice"]), third["service_notice"]


def test_known_outage_is_in_the_service_notice(api: tuple[TestClient, str], city: City, clean_engine: Engine) -> None:
    client, key = api
    plan = outages.OutagePlan(break_pipe_ids=[city.pipe_ids[1]], pipe_ids=[city.pipe_ids[1]], unintended_pipe_ids=[],
                              valve_ids=[city.valve_id], optional_valve_ids=[], building_ids=[city.building_ids[1]],
                              unintended_building_ids=[])
    now = datetime.now(timezone.utc)
    with clean_engine.begin() as conn:
        o = outages.insert(conn, network_id=city.network_id, kind="emergency", plan=plan, reason="ремонт", actor="chief",
                           planned_start=now, planned_end=None, now=now, rules=service.rules_from_settings())
        outages.start(conn, o.id, actor="crew", now=now)
    r = _post(client, key)
    assert r.status_code == 201
    assert f"отключение #{o.id}" in r.json()[0]["service_notice"]
    [got] = client.get(f"{B}/requests/{r.json()[0]['service_request_id']}.json").json()
    assert f"#{o.id}" in got["status_notes"]
    assert got["expected_datetime"] == o.planned_end.astimezone(timezone.utc).isoformat(timespec="seconds")


def test_survives_terminated_connections_and_answers_503_when_down(api: tuple[TestClient, str], clean_engine: Engine,
                                                                   rules: Rules, settings: Settings) -> None:
    client, key = api
    assert _post(client, key).status_code == 201
    db = clean_engine.url.database
    admin = create_engine(clean_engine.url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        killed = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                   "WHERE datname = :d AND pid <> pg_backend_pid()"), {"d": db}).scalar()
    admin.dispose()
    assert killed >= 1
    r = _post(client, key)                       # pool_pre_ping replaces the dead connections
    assert r.status_code == 201, r.text
    assert client.get(f"{B}/requests/{r.json()[0]['service_request_id']}.json").status_code == 200
    down = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/nowhere", pool_pre_ping=True,
                         connect_args={"connect_timeout": 1})
    with TestClient(create_app(down, settings=settings, rules=rules)) as dead:
        assert dead.get(f"{B}/services.json").status_code == 200      # no database needed
        for r in (dead.get(f"{B}/requests/1.json"), dead.get(f"{B}/requests.json"),
                  dead.get(f"{B}/requests.json", params={"service_request_id": "1,2"}), _post(dead, key),
                  dead.post(f"{B}/requests.json", json={"api_key": key, "service_code": "sewer", "lat": 60.1702,
                                                        "long": 24.9405}, headers={"Idempotency-Key": "k-1"})):
            assert r.status_code == 503 and r.headers["retry-after"] == "5", r.text
            assert r.json() == [{"code": 503, "description": "the database is unavailable; retry in 5 seconds "
                                                             "with the same token"}]
    down.dispose()
