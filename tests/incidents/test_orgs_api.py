"""The API of organisations' own systems (``/orgs/v1/``, served by the Open311 app): a key of an organisation
sees and changes only that organisation's work orders; a repeated ``event_id`` is stored once."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from apps.http.open311 import create_app
from auth.model import Actor
from incidents.sla import Rules
from ops import api_keys, incidents
from settings import Settings
from tests.incidents.conftest import City

ADMIN = Actor(author="boss", role="admin")
O = "/orgs/v1"


@dataclass(frozen=True)
class OrgApi:
    client: TestClient
    engine: Engine
    key_a: str
    key_b: str
    open311_key: str
    a_id: int
    b_id: int


@pytest.fixture()
def orgs_api(clean_engine: Engine, city: City, rules: Rules, settings: Settings) -> Iterator[OrgApi]:
    eng = clean_engine
    with eng.begin() as conn:
        a, b = (conn.execute(text("INSERT INTO organisations (kind, name) VALUES ('utility', :n) RETURNING id"),
                             {"n": n}).scalar_one() for n in ("Альфа", "Бета"))
    made = []
    for n, org in enumerate((a, b)):
        inc = incidents.take_report(ADMIN, bind=eng, service_code="elevator", building_id=city.building_ids[n],
                                    description=f"report {n}").incident
        with eng.begin() as conn:
            conn.execute(text("UPDATE incidents SET responsible_org_id = :o WHERE id = :i"), {"o": org, "i": inc.id})
        made.append(inc.id)
    keys = [api_keys.create(ADMIN, f"system-{n}", org_id=org, bind=eng) for n, org in ((1, a), (2, b))]
    plain = api_keys.create(ADMIN, "portal", bind=eng)
    with TestClient(create_app(eng, settings=settings, rules=rules)) as client:
        yield OrgApi(client, eng, keys[0], keys[1], plain, made[0], made[1])


def _state(eng: Engine, incident_id: int) -> tuple:
    with eng.connect() as conn:
        return tuple(conn.execute(text("SELECT status, version, org_state, responsible_org_id, "
                                       "(SELECT count(*) FROM work_order_events) FROM incidents WHERE id = :i"),
                                  {"i": incident_id}).one())


def test_an_organisation_lists_and_reads_its_own_work_orders_only(orgs_api: OrgApi) -> None:
    c, h = orgs_api.client, {"X-API-Key": orgs_api.key_a}
    r = c.get(f"{O}/work-orders", headers=h)
    assert r.status_code == 200, r.text
    [order] = r.json()
    assert order["id"] == orgs_api.a_id
    assert {"id", "status", "service_code", "address", "created_at", "due_at", "org_state", "crew", "visit_at",
            "answer"} <= set(order)
    assert order["status"] == "new" and order["address"] == "Mannerheimintie 1"
    assert c.get(f"{O}/work-orders?status=closed", headers=h).json() == []
    assert [o["id"] for o in c.get(f"{O}/work-orders?status=new,accepted", headers=h).json()] == [orgs_api.a_id]
    assert c.get(f"{O}/work-orders?status=bogus", headers=h).status_code == 400
    one = c.get(f"{O}/work-orders/{orgs_api.a_id}", headers=h)
    assert one.status_code == 200 and one.json()["events"] == []
    # another organisation's work order: exactly as an unknown one
    other = c.get(f"{O}/work-orders/{orgs_api.b_id}", headers=h)
    unknown = c.get(f"{O}/work-orders/987654", headers=h)
    assert other.status_code == unknown.status_code == 404
    assert other.json()[0]["description"].replace(str(orgs_api.b_id), "N") == \
        unknown.json()[0]["description"].replace("987654", "N")


def test_keys_are_checked(orgs_api: OrgApi) -> None:
    c = orgs_api.client
    assert c.get(f"{O}/work-orders").status_code == 403
    assert c.get(f"{O}/work-orders", headers={"X-API-Key": "zk_nonsense"}).status_code == 403
    plain = c.get(f"{O}/work-orders", headers={"X-API-Key": orgs_api.open311_key})
    assert plain.status_code == 403 and "not an organisation" in plain.json()[0]["description"]
    # an organisation's key takes no Open311 reports
    post = c.post("/open311/v2/requests.json", data={"api_key": orgs_api.key_a, "service_code": "elevator",
                                                      "address_string": "Mannerheimintie 1", "description": "x"})
    assert post.status_code == 403


def test_events_are_stored_once_and_never_reach_another_organisation(orgs_api: OrgApi) -> None:
    c, eng, h = orgs_api.client, orgs_api.engine, {"X-API-Key": orgs_api.key_a}
    before_b = _state(eng, orgs_api.b_id)
    refused = c.post(f"{O}/work-orders/{orgs_api.b_id}/events", headers=h,
                     json={"event_id": "sys-1", "kind": "resolved", "text": "done"})
    assert refused.status_code == 404
    assert _state(eng, orgs_api.b_id) == before_b
    url = f"{O}/work-orders/{orgs_api.a_id}/events"
    first = c.post(url, headers=h, json={"event_id": "sys-accept-1", "kind": "accepted"})
    assert first.status_code == 201, first.text
    assert first.json()["author"] == "api:system-1"
    again = c.post(url, headers=h, json={"event_id": "sys-accept-1", "kind": "accepted"})
    assert again.status_code == 200 and again.json() == first.json()
    visit = c.post(url, headers=h, json={"event_id": "sys-visit-1", "kind": "visit_planned",
                                         "visit_at": "2030-01-02T10:00:00+02:00"})
    assert visit.status_code == 201 and visit.json()["visit_at"] == "2030-01-02T08:00:00+00:00"
    done = c.post(url, headers=h, json={"event_id": "sys-done-1", "kind": "resolved", "text": "Лифт работает"})
    assert done.status_code == 201
    order = c.get(f"{O}/work-orders/{orgs_api.a_id}", headers=h).json()
    assert (order["status"], order["org_state"], order["answer"]) == ("resolved", "resolved", "Лифт работает")
    assert [e["kind"] for e in order["events"]] == ["accepted", "visit_planned", "resolved"]
    with eng.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM work_order_events")).scalar_one() == 3
    # bad bodies: nothing stored
    for body, status in (({"event_id": "e1", "kind": "launched"}, 400), ({"kind": "accepted"}, 400),
                         ({"event_id": "sys-accept-1", "kind": "returned", "text": "x"}, 409)):
        assert c.post(url, headers=h, json=body).status_code == status, body
    assert c.post(url, headers={**h, "Content-Type": "text/plain"}, content=b"{}").status_code == 415
    assert c.post(url, headers={**h, "Content-Type": "application/json"}, content=b"{not json").status_code == 400
    with eng.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM work_order_events")).scalar_one() == 3


def test_the_openapi_document_describes_the_organisations_api(orgs_api: OrgApi) -> None:
    doc = orgs_api.client.get("/open311/v2/openapi.json").json()
    assert {"/orgs/v1/work-orders", "/orgs/v1/work-orders/{order_id}", "/orgs/v1/work-orders/{order_id}/events"} \
        <= set(doc["paths"])
    post = doc["paths"]["/orgs/v1/work-orders/{order_id}/events"]["post"]
    assert {"201", "200", "404", "409"} <= set(post["responses"])


def _jpeg() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"
    Image.new("RGB", (640, 480), (20, 120, 200)).save(buf, format="JPEG", exif=exif)
    return buf.getvalue()


def test_a_resolution_carries_photos_as_multipart_re_encoded(orgs_api: OrgApi) -> None:
    c, eng, h = orgs_api.client, orgs_api.engine, {"X-API-Key": orgs_api.key_a}
    url = f"{O}/work-orders/{orgs_api.a_id}/events"
    photo = _jpeg()
    bad = c.post(url, headers=h, data={"event_id": "sys-photo-0", "kind": "resolved", "text": "Готово"},
                 files=[("photo", ("x.gif", b"GIF89a\x01\x00\x01\x00", "image/gif"))])
    assert bad.status_code == 400 and "JPEG, PNG, WebP or HEIC" in bad.json()[0]["description"]
    ok = c.post(url, headers=h, data={"event_id": "sys-photo-1", "kind": "resolved", "text": "Готово"},
                files=[("photo", ("a.jpg", photo, "image/jpeg")), ("photo", ("b.jpg", photo, "image/jpeg"))])
    assert ok.status_code == 201, ok.text
    with eng.connect() as conn:
        rows = conn.execute(text("SELECT content_type, width, data FROM work_order_photos ORDER BY id")).all()
        events = conn.execute(text("SELECT count(*) FROM work_order_events")).scalar_one()
    assert [(r[0], r[1]) for r in rows] == [("image/jpeg", 640)] * 2 and events == 1
    assert all(b"SecretCam" not in bytes(r[2]) for r in rows) and b"SecretCam" in photo
    # photos with any other action are refused, and a body over the route's cap is refused before it is read
    other = c.post(f"{O}/work-orders/{orgs_api.a_id}/events", headers=h, data={"event_id": "p2", "kind": "accepted"},
                   files=[("photo", ("a.jpg", photo, "image/jpeg"))])
    assert other.status_code in (400, 409)
    huge = c.post(url, headers={**h, "Content-Type": "application/json", "Content-Length": str(10**9)}, content=b"{}")
    assert huge.status_code == 400 and "too large" in huge.json()[0]["description"]
