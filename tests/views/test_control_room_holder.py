"""The control room's queue names the organisation that holds an overdue report (its breach escalates
there); a report on time, or held by nobody, names none."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from incidents.model import Incident, QueueItem

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)


def item(iid: int, state: str, org: int | None) -> QueueItem:
    inc = Incident(id=iid, category="elevator", resource="none", priority="urgent", status="accepted", channel="phone",
                   service_code="elevator", lon=24.9, lat=60.2, address=f"Тестовая {iid}", building_id=None,
                   pipe_id=None, network_id=None, description="", reporter_name=None, reporter_phone=None,
                   reporter_email=None, media_url=None, attributes={}, duplicate_of=None, outage_id=None, version=1,
                   created_at=NOW - timedelta(days=2), updated_at=NOW, accepted_at=None, resolved_at=None,
                   closed_at=None, responsible_org_id=org)
    return QueueItem(inc, NOW - timedelta(hours=1) if state == "overdue" else NOW + timedelta(hours=1), state,
                     -60 if state == "overdue" else 60)


def test_an_overdue_report_names_its_organisation() -> None:
    from views.control_room import queue_html

    shown = queue_html([item(1, "overdue", 7), item(2, "at_risk", 7), item(3, "overdue", None)], NOW, 0,
                       {7: "УК <Альфа>"})
    rows = shown.split("<tr ")[1:]
    assert 'cr-org">УК &lt;Альфа&gt;</span>' in rows[0]
    assert "cr-org" not in rows[1] and "cr-org" not in rows[2]
    assert "cr-org" not in queue_html([item(1, "overdue", 7)], NOW, 0)        # no names given: as before
