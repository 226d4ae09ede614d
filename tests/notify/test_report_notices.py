"""Notices of a report's organisation (issue 18 §4) through the real worker and an SMTP server: a planned
crew visit and the organisation's resolution reach the subscriber of the address once each, in their
language with the visit in the region's time zone, also when the organisation's system retries."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text

from auth.model import Actor
from incidents.service import rules_from_settings
from notify.messages import fmt_when
from ops import incidents, orgs, users
from tests.notify.conftest import City, SmtpServer
from tests.notify.test_notices import deliver, subscribe

ADMIN = Actor(author="boss", role="admin")


def test_visit_and_resolution_mailed_once_each(city: City, clean_engine: Engine, smtp_server: SmtpServer) -> None:
    eng, b1 = clean_engine, city.building_ids[0]
    subscribe(eng, smtp_server, b1, "anna@example.org", lang="en")
    with eng.begin() as conn:
        org = conn.execute(text("INSERT INTO organisations (kind, name) VALUES ('management_company', 'UK North') "
                                "RETURNING id")).scalar_one()
    desk = Actor.of(users.add_user(ADMIN, "desk-n", role="org_dispatcher", password="a long enough secret 42",
                                   org_id=org, bind=eng))
    rid = incidents.take_report(ADMIN, bind=eng, service_code="elevator", building_id=b1,
                                description="кв. 5, лифт").incident.id
    with eng.begin() as conn:
        conn.execute(text("UPDATE incidents SET responsible_org_id = :o WHERE id = :i"), {"o": org, "i": rid})
    visit = (datetime.now(timezone.utc) + timedelta(days=1)).replace(minute=30, second=0, microsecond=0)
    for _ in range(2):
        orgs.act(desk, rid, "visit_planned", event_id="erp-1", visit_at=visit, bind=eng)
    assert deliver(eng, smtp_server).sent == 1
    for _ in range(2):
        orgs.act(desk, rid, "resolved", event_id="erp-2", text="Готово", bind=eng)
    assert deliver(eng, smtp_server).sent == 1
    assert deliver(eng, smtp_server).sent == 0
    first, second = smtp_server.box.to("anna@example.org")
    assert first["Subject"] == f"Report №{rid}: a crew visit at {fmt_when(visit, 'en', ZoneInfo(rules_from_settings().timezone))}"
    assert first["X-Zhkh-Notice"] == "-/visit_planned" and "UK North" in first.get_content()
    assert second["Subject"].startswith(f"Report №{rid} at ") and second["Subject"].endswith("is resolved")
    assert "кв. 5" not in second.get_content() and "Готово" not in second.get_content()
    assert second["List-Unsubscribe"]
