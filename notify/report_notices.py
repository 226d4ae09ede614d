"""Notices about a resident's report, from its responsible organisation's actions: a crew visit planned
(``visit_planned``) and the report resolved by the organisation (``org_resolved``).

The residents' page has no accounts: the notices go where every notice goes, to the confirmed
subscriptions of the report's address (``notify.subscriptions``). ``enqueue`` is called by ``ops.orgs.act``
inside the transaction of the organisation's action, so a notice is written exactly when the action is: a
rolled-back action leaves none, a retried ``event_id`` (answered with the stored event, nothing done) adds
none. The row's ``dedupe_key`` names the work-order event (its row id), so even a second call for the same
event queues nothing.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Connection, column, select, table, text

from notify import messages

EVENTS: dict[str, str] = {"visit_planned": "visit_planned", "resolved": "org_resolved"}
"""work-order event kind → notice event"""

_outbox = table("notice_outbox", column("id", BigInteger), column("subscription_id", BigInteger),
                column("incident_id", BigInteger), column("event"), column("state"), column("subject"),
                column("body"))
_subscriptions = table("subscriptions", column("id", BigInteger), column("email"))


def enqueue(conn: Connection, incident_id: int, kind: str, *, event_row_id: int, now: datetime) -> int:
    """Queue the notice of work-order event ``kind`` (``visit_planned`` or ``resolved``; other kinds tell
    residents nothing) of report ``incident_id`` for every confirmed subscription of its address; the
    number queued (0 when none, or when this event was queued already)."""
    event = EVENTS.get(kind)
    if event is None:
        return 0
    report = conn.execute(text("""
        SELECT i.id, i.service_code, i.building_id, i.visit_at, o.name AS org_name
        FROM incidents i LEFT JOIN organisations o ON o.id = i.responsible_org_id WHERE i.id = :i
    """), {"i": int(incident_id)}).mappings().first()
    if report is None or report["building_id"] is None:
        return 0
    subs = conn.execute(text("""
        SELECT s.id, s.email, s.lang, s.unsubscribe_token,
               coalesce(b.address, concat_ws(' ', b.street, b.housenumber)) AS address
        FROM subscriptions s JOIN buildings b ON b.id = s.building_id
        WHERE s.building_id = :b AND s.unsubscribed_at IS NULL AND s.confirmed_at IS NOT NULL
        ORDER BY s.email, s.id
    """), {"b": report["building_id"]}).mappings().all()
    queued = 0
    for s in subs:
        subject, body = messages.compose_report(event, dict(report), address=s["address"] or f"#{report['building_id']}",
                                                unsubscribe_token=s["unsubscribe_token"], lang=s["lang"])
        queued += conn.execute(text("""
            INSERT INTO notice_outbox (subscription_id, subscription_ids, incident_id, event, dedupe_key, subject,
                                       body, next_attempt_at, created_at)
            VALUES (:s, :ids, :i, :e, :k, :subject, :body, :now, :now)
            ON CONFLICT (dedupe_key) DO NOTHING
        """), {"s": s["id"], "ids": [s["id"]], "i": int(incident_id), "e": event,
               "k": f"report:{s['email']}:{int(incident_id)}:{event}:{int(event_row_id)}", "subject": subject,
               "body": body, "now": now}).rowcount
    return queued


def notices_of(conn: Connection, incident_id: int) -> list[dict[str, Any]]:
    """The notices queued about a report (oldest first) — for the tests and the audit of a complaint."""
    n, s = _outbox.alias("n"), _subscriptions.alias("s")
    stmt = (select(n.c.id, n.c.subscription_id, s.c.email, n.c.event, n.c.state, n.c.subject, n.c.body)
            .select_from(n.join(s, s.c.id == n.c.subscription_id))
            .where(n.c.incident_id == int(incident_id)).order_by(n.c.id))
    return [dict(r) for r in conn.execute(stmt).mappings().all()]
