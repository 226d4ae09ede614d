"""Issue 22 on the residents' page and the public Open311 reads: callers' names and phones never
public (§6), account codes guessed from many addresses (§7), and the smaller holes of §10 (broken
UTF-8, an unknown address, framing, 405 without Allow, the OpenAPI document's error answers)."""
from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from apps.http.open311 import create_app as open311_app
from apps.http.resident import create_app
from settings import Settings
from tests.resident.conftest import Scene

CALLER = "кв. 17, Петрова Анна, перезвонить +7 912 000-11-22, anna.p@example.org"
SECRETS = ("Петрова", "Анна", "912", "000-11-22", "anna.p@example.org")


def client(engine: Engine, peer: str = "testclient", **settings: object) -> TestClient:
    return TestClient(create_app(engine, Settings(**settings)), client=(peer, 50000))  # type: ignore[arg-type]


def csrf(c: TestClient, path: str = "/") -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', c.get(path).text)
    return m.group(1) if m else c.cookies["zr_csrf"]


def hotline_report(engine: Engine, building_id: int, description: str = CALLER, private: bool = False) -> tuple[int, str]:
    with engine.begin() as conn:
        row = conn.execute(text("""
            INSERT INTO incidents (category, resource, service_code, geom, address, building_id, description,
                                   reporter_name, reporter_phone, channel, description_private)
            VALUES ('no_water', 'cold_water', 'no_water', ST_SetSRID(ST_MakePoint(24.9425, 60.1702), 4326),
                    'Mannerheimintie 3', :b, :d, 'Петрова Анна', '+79120001122', 'phone', :p)
            RETURNING id, public_token
        """), {"b": building_id, "d": description, "p": private}).one()
        conn.execute(text("INSERT INTO incident_events (incident_id, actor, to_status) VALUES (:i, 'orlova', 'new')"),
                     {"i": row.id})
    return int(row.id), str(row.public_token)


# ---- §6 names and phones -------------------------------------------------------------------------

def test_a_report_page_is_named_by_a_random_token_and_the_number_opens_nothing(scene: Scene,
                                                                              clean_engine: Engine) -> None:
    b2 = scene.city.building_ids[1]
    rid, token = hotline_report(clean_engine, b2)
    other_rid, other_token = hotline_report(clean_engine, b2, "Нет воды")
    assert re.fullmatch(r"[0-9a-f]{32}", token) and token != other_token
    c = client(clean_engine)
    for path in (f"/report/{rid}", f"/report/{rid}?lang=en", f"/search?q={rid}", f"/report?number={rid}"):
        r = c.get(path)
        assert r.status_code == 404, path
        assert all(s not in r.text for s in SECRETS) and "кв. 17" not in r.text
    page = c.get(f"/report/{token}?lang=ru")
    assert page.status_code == 200 and f"Заявка №{rid}" in page.text
    assert c.get(f"/report/{'0' * 32}").status_code == 404
    # the address lists the numbers, but links none of them for a stranger
    listing = c.get(f"/address/{b2}").text
    assert f"№{rid}" in listing and token not in listing and other_token not in listing


def test_the_reporter_s_own_browser_finds_its_report_by_number(scene: Scene, clean_engine: Engine) -> None:
    b1 = scene.city.building_ids[0]
    c = client(clean_engine)
    made = c.post(f"/address/{b1}/report", data={"csrf": csrf(c, f"/address/{b1}"), "service_code": "no_water",
                                                 "description": "Нет воды, звонить Ивановой 8 912 000 11 22"},
                  follow_redirects=False)
    assert made.status_code == 303
    token = re.search(r"/report/([0-9a-f]{32})\?", made.headers["location"]).group(1)
    with clean_engine.connect() as conn:
        rid = conn.execute(text("SELECT id FROM incidents WHERE public_token = :t"), {"t": token}).scalar_one()
    page = c.get(made.headers["location"])
    assert f"/report/{token}" in page.text                           # the link to keep
    assert "Ивановой" not in page.text and "912" not in page.text and "звонить ***" in page.text
    mine = c.get(f"/report/{rid}", follow_redirects=False)
    assert mine.status_code == 303 and mine.headers["location"] == f"/report/{token}"
    assert f'href="/report/{token}?lang=ru"' in c.get(f"/address/{b1}").text
    # a forged cookie naming the id with another token opens nothing
    stranger = client(clean_engine)
    stranger.cookies.set("zr_mine", f"{rid}.{'a' * 32}")
    assert stranger.get(f"/report/{rid}", follow_redirects=False).status_code == 404


def test_public_views_mask_the_caller_and_hide_a_private_description(scene: Scene, clean_engine: Engine) -> None:
    from auth.model import Actor
    from ops import incidents as ops_incidents

    b2 = scene.city.building_ids[1]
    rid, token = hotline_report(clean_engine, b2)
    c = client(clean_engine)
    api = TestClient(open311_app(clean_engine, settings=Settings()))
    html = c.get(f"/report/{token}").text
    one = api.get(f"/open311/v2/requests/{rid}.json").json()[0]
    listed = next(r for r in api.get("/open311/v2/requests.json").json() if r["service_request_id"] == str(rid))
    for shown in (html, one["description"], listed["description"]):
        for secret in SECRETS:
            assert secret not in shown, secret
    assert one["description"] == "кв. 17, ***, перезвонить ***, ***" == listed["description"]
    assert "кв. 17, ***, перезвонить ***, ***" in html
    # the operator hides it: nothing public, the operators' view unchanged
    dispatcher = Actor(author="orlova", role="dispatcher", display_name="Orlova", kind="user")
    assert ops_incidents.set_description_private(dispatcher, rid, True, bind=clean_engine) is True
    assert api.get(f"/open311/v2/requests/{rid}.json").json()[0]["description"] == ""
    hidden = c.get(f"/report/{token}?lang=en").text
    assert "The operator has hidden the description." in hidden and "кв. 17" not in hidden
    assert ops_incidents.report(dispatcher, rid, bind=clean_engine).incident.description == CALLER
    with clean_engine.connect() as conn:
        audited = conn.execute(text("SELECT actor, details FROM audit_events WHERE action = "
                                    "'incident.description_private' AND object_id = :i"), {"i": str(rid)}).one()
    assert tuple(audited) == ("orlova", {"private": True})
    viewer = Actor(author="petrov", role="planner", display_name="Petrov", kind="user")
    from auth.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        ops_incidents.set_description_private(viewer, rid, False, bind=clean_engine)


# ---- §7 account codes ----------------------------------------------------------------------------

def test_ten_wrong_codes_from_ten_addresses_lock_the_account(scene: Scene, clean_engine: Engine) -> None:
    # behind a trusted proxy, every try from another client address (per-IP limits never bite)
    c = client(clean_engine, peer="10.0.0.2", trusted_proxies="10.0.0.0/24", resident_code_tries_per_hour=100)
    token = csrf(c)

    def attempt(code: str, ip: str, number: str = scene.account) -> object:
        return c.post("/account", data={"csrf": token, "number": number, "code": code},
                      headers={"X-Forwarded-For": ip})

    assert [attempt(f"{i:08d}", f"198.51.100.{i}").status_code for i in range(9)] == [403] * 9
    tenth = attempt("00000099", "198.51.100.99")
    assert tenth.status_code == 429 and int(tenth.headers["Retry-After"]) > 3000
    assert "Слишком много неверных кодов" in tenth.text
    right = attempt(scene.code, "203.0.113.7")
    assert right.status_code == 429 and "477" not in right.text        # the right code waits too
    with clean_engine.connect() as conn:
        events = conn.execute(text("SELECT object_type, object_id, actor FROM audit_events "
                                   "WHERE action = 'account.code_locked'")).all()
    assert len(events) == 1 and events[0][:2] == ("account", scene.account) and events[0][2].startswith("resident:")
    # an unknown number locks the same way: the lock says nothing about the account existing
    for i in range(10):
        last = attempt("12345678", f"192.0.2.{i}", number="555555555")
    assert last.status_code == 429 and last.text.replace("555555555", "") == tenth.text.replace(scene.account, "")
    # the lock ends: the right code shows the charges and the failures are forgotten
    with clean_engine.begin() as conn:
        conn.execute(text("UPDATE account_code_tries SET locked_until = now() - interval '1 second'"))
    ok = attempt(scene.code, "203.0.113.8")
    assert ok.status_code == 200 and "477,83" in ok.text
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM account_code_tries WHERE number = :n"),
                            {"n": scene.account}).scalar() == 0


def test_codes_are_argon2_and_an_old_sha256_row_is_converted_on_entry(scene: Scene, clean_engine: Engine) -> None:
    from billing.codes import verify_code

    with clean_engine.connect() as conn:
        before = conn.execute(text("SELECT access_code_hash FROM accounts WHERE number = :n"),
                              {"n": scene.account}).scalar()
    assert before == hashlib.sha256(scene.code.encode()).hexdigest()       # the fixture's old kind of row
    c = client(clean_engine)
    token = csrf(c)
    assert c.post("/account", data={"csrf": token, "number": scene.account, "code": "wrong"}).status_code == 403
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT access_code_hash FROM accounts WHERE number = :n"),
                            {"n": scene.account}).scalar() == before          # a wrong code converts nothing
    assert c.post("/account", data={"csrf": token, "number": scene.account, "code": scene.code}).status_code == 200
    with clean_engine.connect() as conn:
        after = conn.execute(text("SELECT access_code_hash FROM accounts WHERE number = :n"),
                             {"n": scene.account}).scalar()
    assert after.startswith("$argon2id$") and verify_code(after, scene.code) == (True, False)
    assert verify_code(after, "K7-4418") == (False, False)
    assert c.post("/account", data={"csrf": token, "number": scene.account, "code": scene.code}).status_code == 200


def test_the_client_address_comes_only_from_trusted_proxies() -> None:
    from resident.ratelimit import client_address, trusted_networks

    none = trusted_networks("")
    proxies = trusted_networks("10.0.0.5, 192.168.1.0/24")
    assert client_address("203.0.113.9", ["1.2.3.4"], none) == "203.0.113.9"          # default: nobody trusted
    assert client_address("203.0.113.9", ["1.2.3.4"], proxies) == "203.0.113.9"      # not from a proxy
    assert client_address("10.0.0.5", ["1.2.3.4, 198.51.100.7"], proxies) == "198.51.100.7"  # right-most
    assert client_address("10.0.0.5", ["1.2.3.4, 198.51.100.7, 192.168.1.3"], proxies) == "198.51.100.7"
    assert client_address("10.0.0.5", ["1.2.3.4", "198.51.100.7"], proxies) == "198.51.100.7"  # two headers
    assert client_address("10.0.0.5", [], proxies) == "10.0.0.5"
    with pytest.raises(ValueError, match="not an address"):
        trusted_networks("10.0.0.5, proxy.local")


def test_a_spoofed_forwarded_for_changes_no_limit(scene: Scene, clean_engine: Engine) -> None:
    c = client(clean_engine, peer="203.0.113.9", resident_code_tries_per_hour=2)   # no trusted proxy
    token = csrf(c)
    tries = [c.post("/account", data={"csrf": token, "number": scene.account, "code": "x"},
                    headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code for i in range(3)]
    assert tries == [403, 403, 429]


# ---- §10 the smaller ones ------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    b"description=%FF%FE%C3%28&service_code=no_water",     # %-escaped bytes that are not UTF-8
    "description=".encode() + b"\xff\xfe\xc3(" + b"&service_code=no_water",   # raw bytes
    b"description=%ED%A0%80&service_code=no_water",          # a lone surrogate
])
def test_broken_utf8_is_refused_and_nothing_is_stored(scene: Scene, clean_engine: Engine, body: bytes) -> None:
    b1 = scene.city.building_ids[0]
    c = client(clean_engine)
    token = csrf(c, f"/address/{b1}")
    r = c.post(f"/address/{b1}/report", content=body + f"&csrf={token}".encode(),
               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400 and "UTF-8" in r.text and "Traceback" not in r.text
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incidents")).scalar() == 0
    en = c.get("/search?q=%FF&lang=en")
    assert en.status_code == 400 and "not UTF-8" in en.text


def test_a_report_for_an_unknown_address_is_a_404(scene: Scene, clean_engine: Engine) -> None:
    c = client(clean_engine)
    r = c.post("/address/999999999/report", data={"csrf": csrf(c), "service_code": "no_water", "description": "x"})
    assert r.status_code == 404 and "Такой адрес не найден" in r.text


def test_no_page_can_be_framed(scene: Scene, clean_engine: Engine) -> None:
    c = client(clean_engine)
    answers = [c.get("/"), c.get(f"/address/{scene.city.building_ids[1]}"), c.get("/no/such/page"),
               c.get("/search?q=1", follow_redirects=False), c.get("/static/resident.css"), c.get("/health"),
               c.get("/api/addresses?q=ma")]
    for r in answers:
        assert r.headers["X-Frame-Options"] == "DENY", r.url
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"], r.url
    docs = TestClient(open311_app(clean_engine, settings=Settings())).get("/open311/v2/docs")
    assert docs.headers["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in docs.headers["Content-Security-Policy"]


def test_a_405_names_the_allowed_methods(scene: Scene, clean_engine: Engine) -> None:
    c = client(clean_engine)
    r = c.delete("/account")
    assert r.status_code == 405 and r.headers["Allow"] == "POST"
    assert c.put("/").headers["Allow"] == "GET, HEAD"
    api = TestClient(open311_app(clean_engine, settings=Settings()))
    r = api.delete("/open311/v2/requests.json")
    assert r.status_code == 405 and r.headers["Allow"] == "GET, HEAD, POST"
    assert r.json() == [{"code": 405, "description": "method DELETE not allowed here; allowed: GET, HEAD, POST"}]


def test_the_openapi_document_lists_the_error_answers(clean_engine: Engine) -> None:
    doc = TestClient(open311_app(clean_engine, settings=Settings())).get("/open311/v2/openapi.json").json()
    paths = doc["paths"]
    one = paths["/open311/v2/requests/{request_id}.{fmt}"]["get"]["responses"]
    assert {"200", "400", "404", "503"} <= set(one) and "422" not in one
    assert one["404"]["content"]["application/json"]["schema"]["items"]["$ref"] == "#/components/schemas/Open311Error"
    assert {"400", "404"} <= set(paths["/open311/v2/services/{code}.{fmt}"]["get"]["responses"])
    assert {"400", "403", "415"} <= set(paths["/open311/v2/requests.{fmt}"]["post"]["responses"])
    assert all("422" not in op["responses"] for item in paths.values() for op in item.values())


def test_locked_until_is_stored_in_the_future(scene: Scene, clean_engine: Engine) -> None:
    """The lock lasts ZHKH_RESIDENT_CODE_LOCK_MIN from the failure that set it."""
    from ops.resident import check_account_code, resident_actor

    now = datetime.now(timezone.utc)
    for _ in range(3):
        out = check_account_code(resident_actor("192.0.2.1"), "777000111", "1", now=now, max_failures=3,
                                 lock=timedelta(minutes=15), bind=clean_engine)
    assert out.account is None and out.locked_until == now + timedelta(minutes=15)
