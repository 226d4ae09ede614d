"""The residents' page as an app over HTTP (issue 20 part 3): the manifest and its icons, the service
worker at the root scope, the offline page, and a report queued offline — ``POST /api/reports`` with
a client-generated id stores it once however often it is sent, refuses a missing or wrong CSRF token,
and answers bad input with a one-line JSON error (nothing stored)."""
from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine, text

from apps.http.resident import create_app
from settings import Settings
from tests.resident.conftest import Scene


def client(engine: Engine) -> TestClient:
    return TestClient(create_app(engine, Settings(resident_rate_per_min=600)))  # type: ignore[call-arg]


def portal_reports(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(
            "SELECT id, client_token, building_id, channel, description, public_token FROM incidents "
            "WHERE channel = 'portal' "
            "ORDER BY id")).mappings()]


def test_manifest_icons_and_service_worker(scene: Scene, clean_engine: Engine) -> None:
    c = client(clean_engine)
    for lang, name in (("ru", "ЖКХ: страница жителя"), ("en", "Housing services: residents' page")):
        r = c.get(f"/manifest.webmanifest?lang={lang}")
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/manifest+json")
        m = r.json()
        assert m["name"] == name and m["lang"] == lang and m["short_name"]
        assert m["display"] == "standalone" and m["scope"] == "/" and m["start_url"].startswith("/")
        sizes = {}
        for icon in m["icons"]:
            got = c.get(icon["src"])
            assert got.status_code == 200 and got.headers["content-type"] == "image/png"
            from io import BytesIO

            img = Image.open(BytesIO(got.content))
            assert f"{img.width}x{img.height}" == icon["sizes"]
            sizes.setdefault(icon["purpose"], set()).add(icon["sizes"])
        assert {"192x192", "512x512"} <= sizes["any"] and "512x512" in sizes["maskable"]
    home = c.get("/?lang=en").text
    assert '<link rel="manifest" href="/manifest.webmanifest?lang=en">' in home
    assert '<script src="/static/app.js"></script>' in home
    sw = c.get("/sw.js")
    assert sw.status_code == 200 and "javascript" in sw.headers["content-type"]
    assert sw.headers["service-worker-allowed"] == "/" and sw.headers["cache-control"] == "no-cache"
    assert "//" not in "".join(l.split("//")[0] for l in sw.text.splitlines())  # no URL of another origin
    off = c.get("/offline?lang=ru")
    assert off.status_code == 200 and "Нет связи" in off.text and "No connection" not in off.text


def test_a_queued_report_is_stored_once(scene: Scene, clean_engine: Engine) -> None:
    c = client(clean_engine)
    b2 = scene.city.building_ids[1]
    token = c.get("/api/csrf").json()["csrf"]
    assert token and c.cookies.get("zr_csrf") == token
    cid = str(uuid.uuid4())
    body = {"client_id": cid, "building_id": b2, "service_code": "no_hot_water",
            "description": "Нет горячей воды с утра", "lang": "ru"}
    first = c.post("/api/reports", json=body, headers={"X-CSRF-Token": token})
    assert first.status_code == 201, first.text
    got = first.json()
    again = c.post("/api/reports", json=body, headers={"X-CSRF-Token": token})
    assert again.status_code == 200 and again.json() == {**got, "created": False}
    stored = portal_reports(clean_engine)
    assert [(r["id"], r["client_token"], r["building_id"]) for r in stored] == [(got["id"], f"portal:{cid}", b2)]
    # the answer links the report's page by its public token: it opens anywhere, never a 404
    page_token = stored[0]["public_token"]
    assert got["created"] is True and got["url"] == f"/report/{page_token}?lang=ru"
    fresh = TestClient(c.app)
    page = fresh.get(got["url"])
    assert page.status_code == 200 and f"№{got['id']}" in page.text
    assert fresh.get(f"/report/{got['id']}").status_code == 404            # the bare number: not elsewhere
    # ... but in the browser that sent it (as after the report form), the number leads to the page
    mine = c.get(f"/report/{got['id']}?lang=ru", follow_redirects=False)
    assert mine.status_code == 303 and mine.headers["location"] == got["url"]
    # another id is another report
    other = c.post("/api/reports", json={**body, "client_id": str(uuid.uuid4())}, headers={"X-CSRF-Token": token})
    assert other.status_code == 201 and other.json()["id"] != got["id"]
    assert len(portal_reports(clean_engine)) == 2


def test_queued_report_csrf_and_bad_input(scene: Scene, clean_engine: Engine) -> None:
    c = client(clean_engine)
    b2 = scene.city.building_ids[1]
    token = c.get("/api/csrf").json()["csrf"]
    body = {"client_id": str(uuid.uuid4()), "building_id": b2, "service_code": "no_hot_water",
            "description": "Нет горячей воды", "lang": "en"}
    assert c.post("/api/reports", json=body).status_code == 403                          # no header
    assert c.post("/api/reports", json=body, headers={"X-CSRF-Token": "x" * 32}).status_code == 403
    fresh = TestClient(c.app)                                                             # no cookie
    assert fresh.post("/api/reports", json=body, headers={"X-CSRF-Token": token}).status_code == 403
    h = {"X-CSRF-Token": token}
    for bad, status in (({**body, "client_id": "1"}, 400), ({**body, "client_id": None}, 400),
                        ({**body, "building_id": "x"}, 400), ({**body, "building_id": True}, 400),
                        ({**body, "service_code": 5}, 400), ({**body, "service_code": "nonsense"}, 400),
                        ({**body, "description": "<script>x</script>"}, 400),
                        ({**body, "building_id": 999999}, 404)):
        r = c.post("/api/reports", json=bad, headers=h)
        assert r.status_code == status, (bad, r.text)
        assert r.headers["content-type"].startswith("application/json") and r.json()["error"]
        assert "\n" not in r.json()["error"]
    r = c.post("/api/reports", content=b"\xff{", headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "the body must be a JSON object"
    r = c.post("/api/reports", json=[1, 2], headers=h)
    assert r.status_code == 400
    for bad in ({**body, "building_id": 10**30}, {**body, "lang": ["en"], "service_code": "nonsense"}, {**body, "description": 7}):
        r = c.post("/api/reports", json=bad, headers=h)
        assert r.status_code == 400 and r.json()["error"], (bad, r.text)
    # every refusal under /api/ is JSON, not a page: a form body or a query that is not UTF-8,
    # a wrong method, an unknown route, a body too big
    for r, status in ((c.post("/api/reports", content=b"a=%FF", headers={
                          **h, "Content-Type": "application/x-www-form-urlencoded"}), 400),
                      (c.post("/api/reports?x=%FF", json=body, headers=h), 400),
                      (c.get("/api/addresses?q=%FF"), 400), (c.get("/api/reports"), 405),
                      (c.get("/api/nothing-here"), 404),
                      (c.post("/api/reports", content=b"{" + b" " * 70_000 + b"}",
                              headers={**h, "Content-Type": "application/json"}), 413)):
        assert r.status_code == status and r.headers["content-type"].startswith("application/json"), r.text
        assert r.json()["error"] and "\n" not in r.json()["error"]
    bad_service = c.post("/api/reports", json={**body, "service_code": "nonsense"}, headers=h).json()
    assert bad_service["problems"] and all("intake." not in p for p in bad_service["problems"])
    assert portal_reports(clean_engine) == []
