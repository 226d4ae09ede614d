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

from sqlalchemy import BigInteger, Connection, column, select, table, text

from notify import messages

EVENTS = ("approved", "extended", "restored", "planned", "cancelled")
#: Events that tell of a shutoff to come or under way: who got one of these is told of a cancellation.
TOLD = ("approved", "extended", "planned")

# light tables for the one query whose filter varies (``outbox_rows``); the fixed statements stay text
_outbox = table("notice_outbox", column("id", BigInteger), column("subscription_id", BigInteger),
                column("outage_id", BigInteger), column("event"), column("state"), column("attempts"),
                column("next_attempt_at"), column("last_error"), column("sent_at"))
_subscriptions = table("subscriptions", column("id", BigInteger), column("email"))


def _marker(event: str, outage: dict[str, Any], building_ids: list[int] | None) -> str:
    """What makes one notice of an event different from another of the same outage: an outage is
    approved, planned, cancelled and restored once (per announced start), but extended or moved many
    times; an outage that grows tells the buildings it reached (once per set of them)."""
    if event == "extended":
        return f"v{outage['version']}@{outage['planned_end'].isoformat()}"
    if event == "planned":
        return f"start@{outage['planned_start'].isoformat()}-{outage['planned_end'].isoformat()}"
    if building_ids is not None:
        return "grown:" + ",".join(str(b) for b in sorted(set(building_ids)))
    return "once"


def enqueue(conn: Connection, outage_id: int, event: str, *, now: datetime,
            building_ids: Iterable[int] | None = None, emails: Iterable[str] | None = None) -> int:
    """Queue ``event`` of outage ``outage_id`` for every confirmed subscription of a building inside it
    (or only those of ``building_ids``: the buildings an outage grew to; or only the addresses of
    ``emails``); the number of notices queued (0 when none, or when this change was queued already).

    One mail per e-mail address and event: a resident who follows three buildings inside the outage
    gets one notice naming the three, with an unsubscribe link for each."""
    if event not in EVENTS:
        raise ValueError(f"unknown notice event {event!r}; expected one of {', '.join(EVENTS)}")
    outage = conn.execute(text("""
        SELECT o.id, o.kind, o.state, o.reason, o.planned_start, o.planned_end, o.actual_start, o.actual_end,
               o.version, n.resource
        FROM outages o LEFT JOIN networks n ON n.id = o.network_id WHERE o.id = :o
    """), {"o": outage_id}).mappings().first()
    if outage is None:
        return 0
    only = None if building_ids is None else sorted({int(b) for b in building_ids})
    subs = conn.execute(text("""
        SELECT s.id, s.email, s.lang, s.unsubscribe_token, b.id AS building_id,
               coalesce(b.address, concat_ws(' ', b.street, b.housenumber)) AS address
        FROM outage_buildings ob
        JOIN subscriptions s ON s.building_id = ob.building_id
                            AND s.unsubscribed_at IS NULL AND s.confirmed_at IS NOT NULL
        JOIN buildings b ON b.id = ob.building_id
        WHERE ob.outage_id = :o AND (CAST(:only AS bigint[]) IS NULL OR ob.building_id = ANY(CAST(:only AS bigint[])))
          AND (CAST(:emails AS text[]) IS NULL OR s.email = ANY(CAST(:emails AS text[])))
        ORDER BY s.email, b.id, s.id
    """), {"o": outage_id, "only": only,
           "emails": None if emails is None else sorted({str(e) for e in emails})}).mappings().all()
    by_email: dict[str, list[dict[str, Any]]] = {}
    for s in subs:
        by_email.setdefault(s["email"], []).append(dict(s))
    queued = 0
    marker = _marker(event, dict(outage), only)
    for email, group in by_email.items():
        first = group[0]
        places = [(s["address"] or f"#{s['building_id']}", s["unsubscribe_token"]) for s in group]
        subject, body = messages.compose(event, dict(outage), places=places, lang=first["lang"],
                                         building_ids=[int(s["building_id"]) for s in group])
        queued += conn.execute(text("""
            INSERT INTO notice_outbox (subscription_id, subscription_ids, outage_id, event, dedupe_key, subject, body,
                                       next_attempt_at, created_at)
            VALUES (:s, :ids, :o, :e, :k, :subject, :body, :now, :now)
            ON CONFLICT (dedupe_key) DO NOTHING
        """), {"s": first["id"], "ids": [s["id"] for s in group], "o": outage_id, "e": event,
               "k": f"mail:{email}:{outage_id}:{event}:{marker}", "subject": subject, "body": body,
               "now": now}).rowcount
    return queued


def cancel(conn: Connection, outage_id: int, *, now: datetime) -> tuple[int, int]:
    """Outage ``outage_id`` was cancelled (call in the cancelling transaction): its notices not yet
    sent are ``withdrawn``, and every address already told of it gets one ``cancelled`` notice.
    Returns (withdrawn, cancellation notices queued).

    Safe against a worker sending at the same moment: the worker holds its notice's row lock from
    the claim to the commit of ``sent``, and the UPDATE here waits for that lock and then sees the
    row as the worker left it — a notice is either withdrawn (never sent) or sent (its address is then
    among those told, read after the UPDATE)."""
    withdrawn = conn.execute(text("""
        UPDATE notice_outbox SET state = 'withdrawn', last_error = 'outage cancelled'
        WHERE outage_id = :o AND state = 'pending' AND event <> 'cancelled'
    """), {"o": outage_id}).rowcount
    told = [r[0] for r in conn.execute(text("""
        SELECT DISTINCT s.email FROM notice_outbox n JOIN subscriptions s ON s.id = n.subscription_id
        WHERE n.outage_id = :o AND n.state = 'sent' AND n.event = ANY(CAST(:told AS text[]))
    """), {"o": outage_id, "told": list(TOLD)})]
    queued = enqueue(conn, outage_id, "cancelled", now=now, emails=told) if told else 0
    return withdrawn, queued


def outbox_rows(conn: Connection, outage_id: int | None = None) -> list[dict[str, Any]]:
    """The outbox (of one outage), oldest first — for the tests."""
    n, s = _outbox.alias("n"), _subscriptions.alias("s")
    stmt = (select(n.c.id, n.c.subscription_id, s.c.email, n.c.outage_id, n.c.event, n.c.state, n.c.attempts,
                   n.c.next_attempt_at, n.c.last_error, n.c.sent_at)
            .select_from(n.join(s, s.c.id == n.c.subscription_id)).order_by(n.c.id))
    if outage_id is not None:
        stmt = stmt.where(n.c.outage_id == outage_id)
    return [dict(r) for r in conn.execute(stmt).mappings().all()]


def counts_by_state(conn: Connection) -> dict[str, int]:
    """How many notices the outbox holds in each state (``python -m notify status``)."""
    return {r[0]: int(r[1]) for r in conn.execute(text(
        "SELECT state, count(*) FROM notice_outbox GROUP BY state ORDER BY state"))}
