"""The demo's history includes the organisations' own side (issue 18 §5): without it the inspector's
figures of their actions stay empty in the demo — a page of dashes nobody can judge."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sqlalchemy import Engine, text

from apps.demo.reports import create_history
from auth.model import Actor
from ops import inspection
from tests.reports.conftest import Town

INSPECTOR = Actor(author="inspector", role="inspector")


def test_the_demo_history_has_the_organisations_actions_and_the_kpis_show_them(town: Town, clean_engine: Engine) -> None:
    now = datetime(2026, 12, 6, 12, tzinfo=timezone.utc)
    made = create_history(clean_engine, days=30, per_day=14, now=now)
    assert made["reports"] > 300 and made["org_events"] > 300
    with clean_engine.connect() as conn:
        kinds = dict(conn.execute(text("SELECT kind, count(*) FROM work_order_events GROUP BY kind")).all())
        rated = conn.execute(text("SELECT count(*) FROM incidents WHERE resident_rating IS NOT NULL AND status = 'closed'")).scalar()
        wrong = conn.execute(text(
            "SELECT count(*) FROM incidents i JOIN work_order_events w ON w.incident_id = i.id "
            "WHERE w.org_id IS DISTINCT FROM i.responsible_org_id OR w.at < i.created_at OR w.at > :now"), {"now": now}).scalar()
    assert {"accepted", "visit_planned", "resolved", "returned"} <= set(kinds)
    assert rated > 20 and wrong == 0
    data = inspection.kpis(INSPECTOR, date(2026, 11, 6), date(2026, 12, 6), bind=clean_engine)
    service = next(e for e in data["organisations"] if e["kind"] == "service")
    for key in ("org_accept_h", "org_visit_on_time", "org_resolve_h", "org_returned", "org_rating"):
        assert service["kpis"][key]["status"] == "ok", (key, service["kpis"][key])
    assert 1 <= service["kpis"]["org_rating"]["value"] <= 5
    assert 0 < service["kpis"]["org_visit_on_time"]["value"] < 1     # some visits kept, some missed
    assert service["kpis"]["org_visit_on_time"]["value"] > 0.5        # most organisations keep their visits
