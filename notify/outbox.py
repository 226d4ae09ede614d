"""The outbox of notices: written in the transaction of the outage change, read by the worker.

``enqueue(conn, outage_id, event)`` is the one call the outage use-cases make (``ops.outages``):
for every active subscription of a building inside the outage it inserts a notice, composed now in
the subscriber's language (address, what is off, the reason, the expected end in the region's time
zone). The row's ``dedupe_key`` is UNIQUE — subscription, outage, event and the outage's version
(or its planned end) — and the insert is ``ON CONFLICT DO NOTHING``: the same change never queues a
second notice, whoever calls twice.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from notify import messages

EVENTS = ("approved", "extended", "restored", "planned")


def _marker(event: str, outage: dict[str, Any]) -> str:
    """What makes one notice of an event different from another of the same outage: an outage is
    approved, planned and restored once (per announced start), but extended or moved many times."""
    if event == "extended":
        return f"v{outage['version']}@{outage['planned_end'].isoformat()}"
    if event == "planned":
        return f"start@{outage['planned_start'].isoformat()}-{outage['planned_end'].isoformat()}"
    return "once"


def enqueue(conn: Connection, outage_id: int, event: str, *, now: datetime,
            building_ids: Iterable[int] | None = None) -> int:
    """Queue ``event`` of outage ``outage_id`` for every subscribed building inside it (or only those of
    ``building_ids``: the buildings an outage grew to); the number of notices queued (0 when none, or
    when this change was queued already)."""
    if event not in EVENTS:
        raise ValueError(f"unknown notice event {event!r}; expected one of {', '.join(EVENTS)}")
    outage = conn.execute(text("""
        SELECT o.id, o.kind, o.state, o.reason, o.planned_start, o.planned_end, o.actual_start, o.actual_end,
               o.version, n.resource
        FROM outages o LEFT JOIN networks n ON n.id = o.network_id WHERE o.id = :o
    """), {"o": outage_id}).mappings().first()
    if outage is None:
        return 0
    subs = conn.execute(text("""
        SELECT s.id, s.email, s.lang, s.unsubscribe_token, b.id AS building_id,
               coalesce(b.address, concat_ws(' ', b.street, b.housenumber)) AS address
        FROM outage_buildings ob
        JOIN subscriptions s ON s.building_id = ob.building_id AND s.unsubscribed_at IS NULL
        JOIN buildings b ON b.id = ob.building_id
        WHERE ob.outage_id = :o AND (CAST(:only AS bigint[]) IS NULL OR ob.building_id = ANY(CAST(:only AS bigint[])))
        ORDER BY s.id
    """), {"o": outage_id, "only": None if building_ids is None else [int(b) for b in building_ids]}).mappings().all()
    queued = 0
    marker = _marker(event, dict(outage))
    for s in subs:
        subject, body = messages.compose(event, dict(outage), address=s["address"] or f"#{s['building_id']}",
                                         lang=s["lang"], unsubscribe_token=s["unsubscribe_token"])
        queued += conn.execute(text("""
            INSERT INTO notice_outbox (subscription_id, outage_id, event, dedupe_key, subject, body, next_attempt_at,
                                       created_at)
            VALUES (:s, :o, :e, :k, :subject, :body, :now, :now)
            ON CONFLICT (dedupe_key) DO NOTHING
        """), {"s": s["id"], "o": outage_id, "e": event, "k": f"{s['id']}:{outage_id}:{event}:{marker}",
               "subject": subject, "body": body, "now": now}).rowcount
    return queued


def outbox_rows(conn: Connection, outage_id: int | None = None) -> list[dict[str, Any]]:
    """The outbox (of one outage), oldest first — for the CLI's ``status`` and the tests."""
    where = "WHERE n.outage_id = :o" if outage_id is not None else ""
    rows = conn.execute(text(f"""
        SELECT n.id, n.subscription_id, s.email, n.outage_id, n.event, n.state, n.attempts, n.next_attempt_at,
               n.last_error, n.sent_at
        FROM notice_outbox n JOIN subscriptions s ON s.id = n.subscription_id {where}
        ORDER BY n.id
    """), {"o": outage_id}).mappings().all()
    return [dict(r) for r in rows]
