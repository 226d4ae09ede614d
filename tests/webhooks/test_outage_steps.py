"""The service's own steps reach the organisation too: an outage approved, its valves closed and the water back
move the burst report (and the "no water" calls it explains) — each move is a ``work_order.status_changed``
for the utility that answers for them, queued in the step's transaction."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, text

from auth.model import Actor
from ops import incidents, outages, webhooks
from ops.base import utcnow
from tests.incidents.conftest import City
from tests.webhooks.conftest import SECRET_A, Receiver, webhook_settings

ADMIN = Actor(author="boss", role="admin")
DISPATCHER = Actor(author="ivanova", role="dispatcher")


def test_an_outages_steps_are_status_changes_for_the_utility(clean_engine: Engine, city: City, serve) -> None:
    eng = clean_engine
    with eng.begin() as conn:
        utility = conn.execute(text("INSERT INTO organisations (kind, name) VALUES ('utility', 'Водоканал') "
                                    "RETURNING id")).scalar_one()
        conn.execute(text("UPDATE networks SET utility_id = :u WHERE id = :n"), {"u": utility, "n": city.network_id})
    rx = serve(Receiver(SECRET_A.encode()))
    s = webhook_settings()
    webhooks.set_webhook(ADMIN, utility, rx.url, SECRET_A, bind=eng, settings=s)
    burst = incidents.take_report(ADMIN, bind=eng, service_code="burst", lon=24.941, lat=60.1700,
                                  description="Прорыв").incident
    assert burst.pipe_id == city.pipe_ids[0]
    outage = outages.approve(DISPATCHER, network_id=city.network_id, break_pipe_ids=[city.pipe_ids[0]],
                             incident_id=burst.id, bind=eng)
    outages.start(DISPATCHER, outage.id, bind=eng)
    outages.restore(DISPATCHER, outage.id, bind=eng)
    with eng.connect() as conn:
        queued = conn.execute(text("SELECT org_id, incident_id, type, payload->>'status' FROM webhook_events "
                                   "ORDER BY id")).all()
    assert queued == [(utility, burst.id, "work_order.created", "new"),
                      (utility, burst.id, "work_order.status_changed", "dispatched"),
                      (utility, burst.id, "work_order.status_changed", "in_progress"),
                      (utility, burst.id, "work_order.status_changed", "resolved")]
    assert webhooks.deliver_once(bind=eng, settings=s, now=utcnow() + timedelta(seconds=1)).delivered == 4
    assert [e["work_order"]["status"] for e in rx.events()] == ["new", "dispatched", "in_progress", "resolved"]
