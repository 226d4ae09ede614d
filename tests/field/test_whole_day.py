"""One report walked across every role of issue 18, through the apps as each of them uses it (in-process):
a resident reports a stopped lift on the residents' page → intake names the building's management company →
the company's own system accepts it and gives it to a crew through ``/orgs/v1`` → the crew, partly offline,
sends «on my way» and «done» with a photo from the phone page, each sent twice (the phone's queue replays
what it was not sure of) → the company's webhook hears every step once → the resident reads the answer and
the photo and rates it → the inspector's figures of the company's own actions move → the audit trail names
every author. Each piece has its own tests; this one checks that the data flows between them."""
from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timedelta, timezone

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from apps.http.field import create_app as field_app
from apps.http.open311 import create_app as open311_app
from apps.http.resident import create_app as resident_app
from auth.model import Actor
from incidents.sla import Rules
from ops import api_keys, inspection, users, webhooks
from ops.base import utcnow
from settings import Settings
from tests.field.conftest import jpeg
from tests.incidents.conftest import City, city, rules  # noqa: F401  (fixtures)
from tests.webhooks.conftest import Receiver, serve, webhook_settings  # noqa: F401  (fixture)

ADMIN = Actor(author="boss", role="admin")
PASSWORD = "crew-field-secret-42"
SECRET = "north-house-webhook-secret-0123"
HERE = (60.1702, 24.9405)    # beside the building


def _json(c: TestClient, url: str, body: dict) -> tuple[int, dict]:
    r = c.post(url, content=json.dumps(body).encode(), headers={"Content-Type": "application/json",
                                                                 "X-CSRF-Token": c.cookies.get("zf_csrf", "")})
    return r.status_code, r.json()


def test_a_report_from_the_resident_through_the_company_and_its_crew_back_to_the_residents_rating(
        clean_engine: Engine, city: City, rules: Rules, serve) -> None:  # noqa: F811
    eng, building = clean_engine, city.building_ids[0]
    with eng.begin() as conn:
        org = conn.execute(text("INSERT INTO organisations (kind, name, phone) VALUES ('management_company', "
                                "'УК «Северный дом»', '+7 812 555-01-02') RETURNING id")).scalar_one()
        conn.execute(text("UPDATE buildings SET management_company_id = :o WHERE id = :b"), {"o": org, "b": building})
    users.add_user(ADMIN, "crew-north", role="crew", password=PASSWORD, org_id=org, display_name="Бригада 1", bind=eng)
    key = api_keys.create(ADMIN, "north-erp", org_id=org, bind=eng)
    hooks = webhook_settings()
    rx = serve(Receiver(SECRET.encode()))
    webhooks.set_webhook(ADMIN, org, rx.url, SECRET, bind=eng, settings=hooks)

    # 1. the resident reports on the residents' page (and keeps the report's link)
    resident = TestClient(resident_app(eng, Settings()))  # type: ignore[call-arg]
    csrf = re.search(r'name="csrf" value="([^"]+)"', resident.get(f"/address/{building}").text).group(1)
    made = resident.post(f"/address/{building}/report", follow_redirects=False,
                         data={"csrf": csrf, "service_code": "elevator", "description": "Лифт стоит на 5 этаже"})
    token = re.search(r"/report/([0-9a-f]{32})", made.headers["location"]).group(1)
    with eng.connect() as conn:
        rid, responsible = conn.execute(text("SELECT id, responsible_org_id FROM incidents WHERE public_token = :t"),
                                        {"t": token}).one()
    assert responsible == org                                   # intake named the building's company

    # 2. the company's own system sees it, accepts it and gives it to its crew
    with TestClient(open311_app(eng, settings=Settings(), rules=rules)) as api:
        listed = api.get("/orgs/v1/work-orders", headers={"X-API-Key": key})
        assert [w["id"] for w in listed.json()] == [rid]
        for body in ({"event_id": "erp-1", "kind": "accepted"},
                     {"event_id": "erp-2", "kind": "assigned", "crew": "crew-north"}):
            assert api.post(f"/orgs/v1/work-orders/{rid}/events", json=body,
                            headers={"X-API-Key": key}).status_code == 201

    # 3. the crew's phone: the order is there without the reporter; steps replayed after a dead spot
    phone = TestClient(field_app(eng), base_url="http://127.0.0.1")
    phone.get("/login?lang=ru")
    assert phone.post("/login", data={"login": "crew-north", "password": PASSWORD, "csrf": phone.cookies["zf_csrf"]},
                      follow_redirects=False).status_code == 303
    assert f"/orders/{rid}" in phone.get("/").text
    assert "Лифт стоит на 5 этаже" in phone.get(f"/orders/{rid}").text
    at = lambda h: (datetime.now(timezone.utc) - timedelta(hours=h)).isoformat()  # noqa: E731
    photo = "data:image/jpeg;base64," + base64.b64encode(jpeg()).decode()
    steps = [{"event_id": "ph-1", "kind": "on_the_way", "at": at(1.0), "lat": HERE[0], "lon": HERE[1]},
             {"event_id": "ph-2", "kind": "arrived", "at": at(0.8), "lat": HERE[0], "lon": HERE[1]},
             {"event_id": "ph-3", "kind": "resolved", "at": at(0.5), "text": "Заменён трос ограничителя скорости",
              "photos": [{"data": photo, "taken_at": at(0.5), "lat": HERE[0], "lon": HERE[1]}]}]
    codes = [_json(phone, f"/api/orders/{rid}/events", s)[0] for s in steps + steps]   # the queue sent all twice
    assert codes == [201, 201, 201, 200, 200, 200]

    # 4. the company's system heard each step once, signed
    while webhooks.deliver_once(bind=eng, settings=hooks, now=utcnow() + timedelta(seconds=1)).busy:
        pass
    heard = [e["type"] for e in rx.events()]
    assert heard == ["work_order.created", "work_order.accepted", "work_order.assigned", "work_order.on_the_way",
                     "work_order.arrived", "work_order.resolved"]
    assert rx.bad_signatures == 0 and len(rx.processed) == len(heard)

    # 5. the resident reads the answer and the photo, and rates it
    page = resident.get(f"/report/{token}?lang=ru").text
    assert "УК «Северный дом»" in page and "Заменён трос ограничителя скорости" in page and "Устранено?" in page
    shot = re.search(rf'src="(/report/{token}/photo/\d+)"', page).group(1)
    assert resident.get(shot).headers["content-type"] == "image/jpeg"
    assert TestClient(resident_app(eng, Settings())).get(f"/address/{building}").text.count("Заменён трос") == 0  # type: ignore[call-arg]
    assert resident.post(f"/report/{token}/fixed", data={"csrf": csrf, "rating": "5"}).status_code == 200

    # 6. the inspector's figures of the company's own actions moved
    day = datetime.now(timezone.utc).date()
    kpi = inspection.kpis(ADMIN, day - timedelta(days=1), day + timedelta(days=1), org_id=org, bind=eng)
    figs = kpi["organisations"][0]["kpis"]
    assert (figs["org_rating"]["numerator"], figs["org_rating"]["denominator"]) == (5, 1)
    assert figs["org_accept_h"]["denominator"] == 1 and figs["org_resolve_h"]["denominator"] == 1

    # 7. every step names its author; the report is closed by the resident's «yes»
    with eng.connect() as conn:
        status = conn.execute(text("SELECT status FROM incidents WHERE id = :i"), {"i": rid}).scalar()
        trail = conn.execute(text("SELECT action, actor FROM audit_events WHERE object_type = 'incident' AND "
                                  "object_id = :i ORDER BY id"), {"i": str(rid)}).all()
    assert status == "closed"
    by = {action: actor for action, actor in trail}
    assert by["work_order.accepted"] == by["work_order.assigned"] and "north-erp" in by["work_order.accepted"]
    assert by["work_order.on_the_way"] == by["work_order.resolved"] == "crew-north"
    assert by["incident.fixed"].startswith("resident:")
    assert [a for a, _ in trail].count("work_order.resolved") == 1
