"""The crews' phone page over HTTP (in-process): sign-in for crews only, a crew sees and changes only its
organisation's work orders and outages — another organisation's answer exactly as unknown ones, by every
route — and bad input (a photo that is not one, a position outside the service area, an unknown id,
broken UTF-8, a cancelled outage) is refused in words and writes nothing."""
from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from apps.http.field import create_app
from auth.model import Actor
from ops import field as field_ops
from ops import outages as outage_ops
from tests.field.conftest import PASSWORD, Field, counts, jpeg

HERE = (60.1702, 24.9425)        # beside building 2 of the tiny district
FAR = (55.75, 37.62)             # Moscow: far outside the service area


def client(field: Field, login: str | None = None, lang: str = "en") -> TestClient:
    c = TestClient(create_app(field.engine), base_url="http://127.0.0.1")
    page = c.get(f"/login?lang={lang}")
    assert page.status_code == 200
    if login:
        csrf = c.cookies["zf_csrf"]
        r = c.post("/login", data={"login": login, "password": PASSWORD, "csrf": csrf}, follow_redirects=False)
        assert r.status_code == 303, r.text
    return c


def refusal(html: str) -> str:
    found = re.search(r'<p class="error" role="alert">(.*?)</p>', html)
    assert found, html
    return found.group(1)


def ago(hours: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(hours=hours)).isoformat()


def post(c: TestClient, url: str, body: dict | bytes, **headers: str):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return c.post(url, content=raw, headers={"Content-Type": "application/json",
                                             "X-CSRF-Token": c.cookies.get("zf_csrf", ""), **headers})


def test_only_crews_sign_in_and_pages_need_a_session(field: Field) -> None:
    c = client(field)
    assert c.get("/", follow_redirects=False).headers["location"] == "/login"
    desk = client(field)
    r = desk.post("/login", data={"login": "desk-a", "password": PASSWORD, "csrf": desk.cookies["zf_csrf"]})
    assert r.status_code == 403 and "This page is for field crews" in r.text and "zf_session" not in desk.cookies
    r = c.post("/login", data={"login": "crew-a", "password": "wrong password 1", "csrf": c.cookies["zf_csrf"]})
    assert r.status_code == 401 and "Wrong login or password." in r.text
    r = c.post("/login", data={"login": "crew-a", "password": PASSWORD, "csrf": "forged-token-000000000000"})
    assert r.status_code == 403 and "The form has expired" in r.text
    r = post(c, f"/api/orders/{field.order_a}/events", {"event_id": "x1", "kind": "arrived"})
    assert r.status_code == 401 and "signed out" in r.json()["error"]


def test_a_crew_sees_its_own_work_without_the_reporter(field: Field) -> None:
    c = client(field, "crew-a", "ru")
    home = c.get("/?lang=ru")
    assert home.status_code == 200 and f"Заявка №{field.order_a}" in home.text
    assert f"Отключение №{field.outage_a}" in home.text
    assert f"№{field.order_b}" not in home.text and f"№{field.outage_b}" not in home.text
    page = c.get(f"/orders/{field.order_a}?lang=ru").text
    assert "Лифт стоит между этажами" in page and "<svg" in page
    for secret in ("Сидоров", "123-45-67", "petr@example.ru"):
        assert secret not in page
    sheet = c.get(f"/outages/{field.outage_a}?lang=en").text
    assert "1. Valve V1" in sheet and "geo:60.170000,24.941900" in sheet


def test_another_organisation_s_work_is_unknown_by_every_route(field: Field) -> None:
    c = client(field, "crew-a")
    before = counts(field.engine)
    unknown_order, unknown_outage = 999_999, 999_998
    for other, unknown in ((field.order_b, unknown_order),):
        a, b = c.get(f"/orders/{other}"), c.get(f"/orders/{unknown}")
        assert (a.status_code, b.status_code) == (404, 404)
        assert refusal(a.text).replace(f"№{other}", "№N") == refusal(b.text).replace(f"№{unknown}", "№N")
        for kind in ("on_the_way", "arrived"):
            a = post(c, f"/api/orders/{other}/events", {"event_id": f"o-{kind}", "kind": kind})
            b = post(c, f"/api/orders/{unknown}/events", {"event_id": f"u-{kind}", "kind": kind})
            assert (a.status_code, b.status_code) == (404, 404)
            assert a.json()["error"] == f"Report №{other} is not among yours."
        a = post(c, f"/api/orders/{other}/events", {"event_id": "o-res", "kind": "resolved", "text": "fixed"})
        assert a.status_code == 404
    a, b = c.get(f"/outages/{field.outage_b}"), c.get(f"/outages/{unknown_outage}")
    assert (a.status_code, b.status_code) == (404, 404)
    for kind in ("closed", "stuck"):
        a = post(c, f"/api/outages/{field.outage_b}/valves/{field.valve_b}", {"event_id": f"ob-{kind}", "kind": kind})
        b = post(c, f"/api/outages/{unknown_outage}/valves/{field.valve_b}", {"event_id": f"ub-{kind}", "kind": kind})
        assert (a.status_code, b.status_code) == (404, 404)
        assert a.json()["error"] == f"Outage №{field.outage_b} is not among yours."
    # crew B's valve on crew A's outage is not part of it
    r = post(c, f"/api/outages/{field.outage_a}/valves/{field.valve_b}", {"event_id": "mix-1", "kind": "closed"})
    assert r.status_code == 404 and "is not part of this outage" in r.json()["error"]
    assert counts(field.engine) == before
    # in the application layer too, not only in the page
    with pytest.raises(field_ops.FieldRefused):
        field_ops.order(field.crew_a, field.order_b, bind=field.engine)
    with pytest.raises(field_ops.FieldRefused):
        field_ops.mark_valve(field.crew_a, field.outage_b, field.valve_b, "closed", event_id="ops-1", bind=field.engine)
    assert [s.outage.id for s in field_ops.outage_sheets(field.crew_a, bind=field.engine)] == [field.outage_a]


def test_steps_are_stored_once_with_time_position_and_photo(field: Field) -> None:
    c = client(field, "crew-a")
    url = f"/api/orders/{field.order_a}/events"
    r = post(c, url, {"event_id": "step-1", "kind": "on_the_way", "at": ago(2),
                      "lat": HERE[0], "lon": HERE[1]})
    assert r.status_code == 201 and r.json()["stored"] is True
    again = post(c, url, {"event_id": "step-1", "kind": "on_the_way"})
    assert again.status_code == 200 and again.json()["stored"] is False
    photo = "data:image/jpeg;base64," + base64.b64encode(jpeg()).decode()
    r = post(c, url, {"event_id": "done-1", "kind": "resolved", "text": "Лифт запущен",
                      "photos": [{"data": photo, "taken_at": ago(1), "lat": HERE[0], "lon": HERE[1]}]})
    assert r.status_code == 201, r.text
    with field.engine.connect() as conn:
        ev = conn.execute(text("SELECT kind, author, lat, lon, done_at FROM work_order_events WHERE incident_id = :i "
                               "AND kind IN ('on_the_way', 'resolved') ORDER BY id"), {"i": field.order_a}).all()
        ph = conn.execute(text("SELECT data, taken_at, lat, lon FROM work_order_photos")).one()
        inc = conn.execute(text("SELECT status, org_state FROM incidents WHERE id = :i"), {"i": field.order_a}).one()
        audit = conn.execute(text("SELECT count(*) FROM audit_events WHERE action = 'work_order.on_the_way'")).scalar()
    assert [(e.kind, e.author) for e in ev] == [("on_the_way", "crew-a"), ("resolved", "crew-a")]
    assert (round(ev[0].lat, 4), round(ev[0].lon, 4)) == HERE and abs((datetime.now(timezone.utc) - ev[0].done_at).total_seconds() - 7200) < 60
    assert ph.taken_at is not None and round(ph.lat, 4) == HERE[0] and b"PhoneMaker" not in bytes(ph.data)
    assert tuple(inc) == ("resolved", "resolved") and audit == 1


BAD = [
    ({"event_id": "b1", "kind": "resolved", "text": "ok", "photos": [{"data": base64.b64encode(b"GIF89a not a photo").decode()}]},
     400, "The photo was refused"),
    ({"event_id": "b2", "kind": "resolved", "text": "ok", "photos": [{"data": "%%%not base64"}]}, 400, "The photo was refused"),
    ({"event_id": "b3", "kind": "arrived", "lat": FAR[0], "lon": FAR[1]}, 400, "outside the service area"),
    ({"event_id": "b4", "kind": "arrived", "lat": "north", "lon": 24.9}, 400, "position could not be read"),
    ({"event_id": "b5", "kind": "arrived", "at": "2099-01-01T00:00:00+00:00"}, 400, "in the future"),
    ({"event_id": "b6", "kind": "resolved", "text": "  "}, 400, "Write what was done"),
    ({"event_id": "bad id with spaces", "kind": "arrived"}, 400, "no valid id"),
    ({"event_id": "b7", "kind": "returned", "text": "not ours"}, 400, "There is no such action"),
    ({"event_id": "b8", "kind": "resolved", "text": "done\x00\x07"}, 400, "characters that cannot be saved"),
    ({"event_id": "b9", "kind": "resolved", "text": ["done"]}, 400, "characters that cannot be saved"),
]


@pytest.mark.parametrize(("body", "status", "words"), BAD)
def test_bad_input_is_refused_in_words_and_writes_nothing(field: Field, body: dict, status: int, words: str) -> None:
    c = client(field, "crew-a")
    before = counts(field.engine)
    r = post(c, f"/api/orders/{field.order_a}/events", body)
    assert r.status_code == status and words in r.json()["error"], r.text
    assert counts(field.engine) == before


def test_broken_utf8_forged_csrf_unknown_ids_and_a_far_valve_write_nothing(field: Field) -> None:
    c = client(field, "crew-a", "ru")
    before = counts(field.engine)
    url = f"/api/orders/{field.order_a}/events"
    r = post(c, url, b'{"event_id": "u1", "kind": "resolved", "text": "\xff\xfe done"}')
    assert r.status_code == 400 and "не в UTF-8" in r.json()["error"]
    r = post(c, url, {"event_id": "u2", "kind": "arrived"}, **{"X-CSRF-Token": "forged-token-000000000000"})
    assert r.status_code == 403 and "Форма устарела" in r.json()["error"]
    r = post(c, "/api/orders/12abc/events", {"event_id": "u3", "kind": "arrived"})
    assert r.status_code == 404 and "нет среди ваших" in r.json()["error"]
    r = c.post("/login", content=b"login=\xff&password=x&csrf=" + c.cookies["zf_csrf"].encode(),
               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400 and "не в UTF-8" in r.text
    r = post(c, f"/api/outages/{field.outage_a}/valves/{field.valve_a}",
             {"event_id": "v-far", "kind": "closed", "lat": FAR[0], "lon": FAR[1]})
    assert r.status_code == 400 and "вне зоны обслуживания" in r.json()["error"]
    assert c.get("/no/such/page").status_code == 404
    assert counts(field.engine) == before


def test_a_valve_closed_once_and_a_cancelled_outage_refused_in_words(field: Field) -> None:
    c = client(field, "crew-a")
    url = f"/api/outages/{field.outage_a}/valves/{field.valve_a}"
    body = {"event_id": "v-1", "kind": "closed", "at": ago(0.5), "lat": 60.17, "lon": 24.9419}
    assert post(c, url, body).status_code == 201
    assert post(c, url, body).json()["stored"] is False
    r = post(c, url, {**body, "kind": "stuck"})
    assert r.status_code == 409 and "used for another action" in r.json()["error"]
    outage_ops.cancel(Actor(author="ivanova", role="dispatcher"), field.outage_a, reason="ошибка", bind=field.engine)
    before = counts(field.engine)
    r = post(c, url, {"event_id": "v-2", "kind": "stuck"})
    assert r.status_code == 409
    assert r.json()["error"] == (f"Outage №{field.outage_a} is no longer on (cancelled, or the water is back): "
                                 "the mark was not saved. Ask the dispatcher.")
    assert post(c, url, body).json()["stored"] is False          # the retry of what was stored still answers
    assert counts(field.engine) == before
    with field.engine.connect() as conn:
        rows = conn.execute(text("SELECT kind, author, state FROM valve_field_reports")).all()
        audit = conn.execute(text("SELECT actor FROM audit_events WHERE action = 'outage.valve_closed'")).all()
    assert [tuple(r) for r in rows] == [("closed", "crew-a", "recorded")] and [a[0] for a in audit] == ["crew-a"]


def test_the_manifest_and_service_worker_are_served(field: Field) -> None:
    c = client(field)
    m = c.get("/manifest.webmanifest?lang=en").json()
    assert m["name"] == "Utilities: field crew" and m["display"] == "standalone" and m["scope"] == "/"
    sw = c.get("/sw.js")
    assert sw.status_code == 200 and "caches" in sw.text
    assert c.get("/static/field.js").status_code == 200


def test_demo_users_include_the_demo_utility_s_desk_and_crew(field: Field, db_url: str) -> None:
    import subprocess
    import sys

    from ops import users
    from settings import ROOT
    from tests.field.conftest import env_for

    with field.engine.begin() as conn:   # the demo utility: the one operating the most networks
        conn.execute(text("UPDATE networks SET utility_id = :o"), {"o": field.org_b})
    done = subprocess.run([sys.executable, "-m", "auth", "demo-users"], capture_output=True, text=True,
                          env=env_for(db_url), cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = {ln.split()[0]: ln for ln in done.stdout.splitlines()[1:]}
    assert set(lines) == {"operator", "dispatcher", "planner", "inspector", "admin", "org_dispatcher", "crew"}
    assert lines["crew"].endswith(f"(crew, organisation {field.org_b})") and "python -m field serve" in done.stderr
    crew, _ = users.sign_in("crew", lines["crew"].split()[1], bind=field.engine)
    assert (crew.role, crew.org_id) == ("crew", field.org_b)


@pytest.mark.parametrize(("args", "words"), [(["serve", "--port", "99999"], "--port must be 1..65535"),
                                             (["bogus"], "invalid choice")])
def test_the_command_refuses_in_one_line(args: list[str], words: str) -> None:
    import subprocess
    import sys

    from settings import ROOT

    done = subprocess.run([sys.executable, "-m", "field", *args], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and words in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_heic_photo_the_phone_could_not_draw_is_decoded_and_stored_as_jpeg(field: Field) -> None:
    """An iPhone's HEIC that the phone's browser cannot draw is sent as it is (field.js); the server decodes it
    (pillow-heif) and stores a JPEG without its metadata."""
    import io

    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    shot = io.BytesIO()
    Image.new("RGB", (800, 600), (90, 140, 200)).save(shot, format="HEIF")
    c = client(field, "crew-a")
    r = post(c, f"/api/orders/{field.order_a}/events", {
        "event_id": "heic-1", "kind": "resolved", "text": "Лифт запущен",
        "photos": [{"data": "data:image/heic;base64," + base64.b64encode(shot.getvalue()).decode()}]})
    assert r.status_code == 201, r.text
    with field.engine.connect() as conn:
        kind, width, data = conn.execute(text("SELECT content_type, width, data FROM work_order_photos")).one()
    assert (kind, width) == ("image/jpeg", 800) and Image.open(io.BytesIO(bytes(data))).format == "JPEG"


def test_today_is_today_and_a_visit_planned_for_a_later_day_is_listed_apart(field: Field) -> None:
    """«Сегодня» lists what the crew does today (no visit planned, a visit today or one already past); an
    order whose visit the desk planned for a later day waits under «Позже»."""
    from zoneinfo import ZoneInfo

    from ops import orgs
    from ops.incidents import rules

    desk = Actor(author="desk-a", role="org_dispatcher", org_id=field.org_a)
    tomorrow = (datetime.now(ZoneInfo(rules().timezone)) + timedelta(days=1)).replace(hour=10, minute=0, second=0,
                                                                                         microsecond=0)
    c = client(field, "crew-a", lang="ru")
    home = c.get("/?lang=ru").text
    assert f"/orders/{field.order_a}" in home and "Позже" not in home
    orgs.act(desk, field.order_a, "visit_planned", event_id="later-1", visit_at=tomorrow, bind=field.engine)
    home = c.get("/?lang=ru").text
    assert "Позже" in home and home.index("Позже") < home.index(f"/orders/{field.order_a}")
    assert "Later" in c.get("/?lang=en").text
