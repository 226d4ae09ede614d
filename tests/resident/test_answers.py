"""The resident sees the answer (issue 18 §4): a report made on the residents' page, worked by its
organisation's desk (ops.orgs.act) — the page names the organisation, its planned visit (region's time),
its answer and photo; the photo opens only with the report's own link; "fixed? — yes" closes it with a
rating (audited, the KPI moves), "no" reopens it once and gives it back to the organisation; the
subscribers of the address get one notice per action, also when the organisation's system retries."""
from __future__ import annotations

import io
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine, text

from apps.http.resident import create_app
from auth.model import Actor
from incidents.service import rules_from_settings
from incidents.work_orders import WorkOrderConflict
from notify.messages import fmt_when
from notify.report_notices import notices_of
from ops import inspection, orgs, users
from settings import Settings
from tests.resident.conftest import Scene

ADMIN = Actor(author="boss", role="admin")
PASSWORD = "a long enough secret 42"


@dataclass(frozen=True)
class Desk:
    engine: Engine
    org: int
    desk: Actor
    client: TestClient
    csrf: str
    building: int


def _csrf(c: TestClient, path: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', c.get(path).text).group(1)


def _report(d: Desk, description: str) -> tuple[int, str]:
    """A report made on the residents' page, given to the organisation; (id, its page's token)."""
    loc = d.client.post(f"/address/{d.building}/report", data={"csrf": d.csrf, "service_code": "elevator",
                                                                "description": description},
                        follow_redirects=False).headers["location"]
    token = re.search(r"/report/([0-9a-f]{32})", loc).group(1)
    with d.engine.begin() as conn:
        rid = int(conn.execute(text("UPDATE incidents SET responsible_org_id = :o WHERE public_token = :t RETURNING id"),
                               {"o": d.org, "t": token}).scalar_one())
    return rid, token


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 160, 60)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture()
def desk(scene: Scene, clean_engine: Engine) -> Iterator[Desk]:
    eng = clean_engine
    b1 = scene.city.building_ids[0]
    with eng.begin() as conn:
        org = conn.execute(text("INSERT INTO organisations (kind, name, phone) VALUES "
                                "('management_company', 'УК «Северный дом»', '+7 812 555-01-02') RETURNING id")).scalar_one()
        conn.execute(text("""
            INSERT INTO subscriptions (building_id, email, lang, unsubscribe_token, created_at, confirmed_at)
            VALUES (:b, 'neighbour@example.org', 'en', :t, now(), now())
        """), {"b": b1, "t": secrets.token_urlsafe(24)})
    made = Actor.of(users.add_user(ADMIN, "desk-north", role="org_dispatcher", password=PASSWORD, org_id=org, bind=eng))
    c = TestClient(create_app(eng, Settings()))  # type: ignore[call-arg]
    yield Desk(eng, int(org), made, c, _csrf(c, f"/address/{b1}"), b1)


def _status(eng: Engine, rid: int) -> tuple:
    with eng.connect() as conn:
        return tuple(conn.execute(text("SELECT status, org_state, resident_rating FROM incidents WHERE id = :i"),
                                  {"i": rid}).one())


def test_the_resident_sees_the_visit_the_answer_and_the_photo_rates_it_and_the_kpi_moves(desk: Desk) -> None:
    eng, c = desk.engine, desk.client
    rid, tok = _report(desk, "Лифт стоит между этажами")
    page = c.get(f"/report/{tok}?lang=ru").text
    assert "УК «Северный дом»" in page and "+7 812 555-01-02" in page and "Устранено?" not in page
    # the desk accepts and plans a visit: its time in the region's zone, in both languages
    orgs.act(desk.desk, rid, "accepted", event_id="acc-1", bind=eng)
    visit = (datetime.now(timezone.utc) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    orgs.act(desk.desk, rid, "visit_planned", event_id="visit-1", visit_at=visit, bind=eng)
    zone = ZoneInfo(rules_from_settings().timezone)
    ru, en = c.get(f"/report/{tok}?lang=ru").text, c.get(f"/report/{tok}?lang=en").text
    assert "Выезд бригады" in ru and fmt_when(visit, "ru", zone) in ru
    assert "Crew visit" in en and fmt_when(visit, "en", zone) in en and "Выезд" not in en
    # resolved with an answer and a photo
    orgs.act(desk.desk, rid, "resolved", event_id="done-1", text="Заменён трос, лифт работает", photos=[_png()],
             bind=eng)
    page = c.get(f"/report/{tok}?lang=ru").text
    assert "Заменён трос, лифт работает" in page and "Устранено?" in page
    photo_url = re.search(rf'src="(/report/{tok}/photo/\d+)"', page).group(1)
    shot = c.get(photo_url)
    assert shot.status_code == 200 and shot.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(shot.content)).size == (64, 48)
    # a stranger: another report's link, a bare number, a made-up token — the same 404, never the photo
    _other, other_tok = _report(desk, "Другая заявка")
    stranger = TestClient(create_app(eng, Settings()))  # type: ignore[call-arg]
    photo_id = photo_url.rsplit("/", 1)[1]
    for url in (f"/report/{other_tok}/photo/{photo_id}", f"/report/{rid}/photo/{photo_id}",
                f"/report/{'0' * 32}/photo/{photo_id}", f"/report/{tok}/photo/{int(photo_id) + 1}"):
        refused = stranger.get(url)
        assert refused.status_code == 404 and refused.headers["content-type"].startswith("text/html"), url
    # the address page (public) shows no answer and no photo
    assert "Заменён трос" not in stranger.get(f"/address/{desk.building}").text
    # "fixed — yes" without a rating, or with a bad one: refused in words, nothing written
    for bad in ("", "6", "0", "five"):
        answer = c.post(f"/report/{tok}/fixed", data={"csrf": desk.csrf, "rating": bad, "lang": "en"})
        assert answer.status_code == 400 and "Choose a rating from 1 to 5." in answer.text
    assert _status(eng, rid) == ("resolved", "resolved", None)
    kpi = inspection.kpis(ADMIN, datetime.now(timezone.utc).date() - timedelta(days=1),
                          datetime.now(timezone.utc).date() + timedelta(days=1), org_id=desk.org, bind=eng)
    assert kpi["organisations"][0]["kpis"]["org_rating"]["denominator"] == 0
    done = c.post(f"/report/{tok}/fixed", data={"csrf": desk.csrf, "rating": "4"})
    assert done.status_code == 200 and "Заявка закрыта с вашей оценкой" in done.text and "Ваша оценка: 4 из 5." in done.text
    assert _status(eng, rid) == ("closed", "resolved", 4)
    with eng.connect() as conn:
        author, details = conn.execute(text("SELECT actor, details FROM audit_events WHERE action = 'incident.fixed' "
                                            "AND object_id = :i"), {"i": str(rid)}).one()
    assert author.startswith("resident:") and details == {"rating": 4}
    kpi = inspection.kpis(ADMIN, datetime.now(timezone.utc).date() - timedelta(days=1),
                          datetime.now(timezone.utc).date() + timedelta(days=1), org_id=desk.org, bind=eng)
    figs = kpi["organisations"][0]["kpis"]
    assert (figs["org_rating"]["value"], figs["org_rating"]["numerator"], figs["org_rating"]["denominator"]) == (4.0, 4, 1)
    assert figs["org_resolve_h"]["denominator"] == 1 and figs["org_accept_h"]["denominator"] == 1
    # closed: asked no more, and a second "yes" is refused
    assert "Устранено?" not in c.get(f"/report/{tok}").text
    again = c.post(f"/report/{tok}/fixed", data={"csrf": desk.csrf, "rating": "5"})
    assert again.status_code == 409 and _status(eng, rid) == ("closed", "resolved", 4)


def test_not_fixed_reopens_once_and_gives_the_report_back_to_the_organisation(desk: Desk) -> None:
    eng, c = desk.engine, desk.client
    rid, tok = _report(desk, "Не работает лифт")
    orgs.act(desk.desk, rid, "resolved", event_id="r-1", text="Починили", bind=eng)
    no = c.post(f"/report/{tok}/reopen", data={"csrf": desk.csrf})
    assert no.status_code == 200 and "Заявка открыта снова" in no.text
    assert _status(eng, rid) == ("in_progress", "accepted", None)
    assert "Починили" not in no.text           # the old answer is not shown as the answer any more
    # the organisation works on it again and resolves it a second time; "not fixed" is not offered again
    orgs.act(desk.desk, rid, "resolved", event_id="r-2", text="Заменили блок управления", bind=eng)
    page = c.get(f"/report/{tok}").text
    assert "Заменили блок управления" in page and "Устранено?" in page and "Не устранено" not in page
    again = c.post(f"/report/{tok}/reopen?lang=en", data={"csrf": desk.csrf, "lang": "en"})
    assert again.status_code == 409 and "reopened only once" in again.text
    assert _status(eng, rid) == ("resolved", "resolved", None)


def test_one_notice_per_action_even_when_the_event_is_retried(desk: Desk) -> None:
    eng = desk.engine
    rid, _tok = _report(desk, "Лифт")
    visit = datetime.now(timezone.utc) + timedelta(hours=5)
    for _ in range(3):                    # an organisation's system retrying blindly
        orgs.act(desk.desk, rid, "visit_planned", event_id="sys-visit-7", visit_at=visit, bind=eng)
    for _ in range(2):
        orgs.act(desk.desk, rid, "resolved", event_id="sys-done-7", text="Готово", bind=eng)
    with eng.connect() as conn:
        found = notices_of(conn, rid)
    assert [(n["email"], n["event"]) for n in found] == [("neighbour@example.org", "visit_planned"),
                                                         ("neighbour@example.org", "org_resolved")]
    visit_mail, done_mail = found
    assert f"Report №{rid}" in visit_mail["subject"] and "УК «Северный дом»" in visit_mail["body"]
    assert "Готово" not in done_mail["body"] and "Лифт" not in done_mail["body"]   # no answer, no description
    assert "/unsubscribe/" in done_mail["body"]
    # a refused action (a visit on a report the organisation resolved already) writes no notice
    with pytest.raises(WorkOrderConflict):
        orgs.act(desk.desk, rid, "visit_planned", event_id="sys-visit-8", visit_at=visit, bind=eng)
    with eng.connect() as conn:
        assert len(notices_of(conn, rid)) == 2
