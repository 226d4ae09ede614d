"""Delivering organisations' webhook events to a real HTTP receiver: signed, retried with backoff until a 2xx,
logged, each event processed once by a receiver that drops a repeated ``event_id``; one organisation's events
never reach another's URL; an organisation without a webhook gets no outbox rows (issue 18 §3)."""
from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from auth.model import Actor
from incidents.work_orders import WorkOrderConflict
from ops import incidents, inspection, orgs, webhooks
from ops.base import utcnow
from tests.webhooks.conftest import SECRET_A, SECRET_B, Receiver, Two, webhook_settings

ADMIN = Actor(author="boss", role="admin")


def _report(two: Two, building: int, text_: str = "лифт стоит") -> int:
    return incidents.take_report(ADMIN, bind=two.engine, service_code="elevator", building_id=building,
                                 description=text_).incident.id


def _outbox(eng: Engine) -> list[dict]:
    with eng.connect() as conn:
        return [dict(r) for r in conn.execute(text(
            "SELECT id, event_id, org_id, incident_id, type, state, attempts, next_attempt_at, last_status, last_error "
            "FROM webhook_events ORDER BY id")).mappings()]


def test_a_receiver_that_fails_twice_gets_the_event_signed_and_processes_it_once(two: Two, serve) -> None:
    s = webhook_settings()
    rx = serve(Receiver(SECRET_A.encode(), plan=[500, 500]))
    webhooks.set_webhook(ADMIN, two.org_a, rx.url, SECRET_A, bind=two.engine, settings=s)
    incident_id = _report(two, two.building_a)
    [queued] = _outbox(two.engine)
    assert (queued["org_id"], queued["incident_id"], queued["type"], queued["state"]) == \
        (two.org_a, incident_id, "work_order.created", "pending")

    t0 = utcnow() + timedelta(seconds=1)
    first = webhooks.deliver_once(bind=two.engine, settings=s, now=t0)
    assert (first.delivered, first.retried) == (0, 1)
    [row] = _outbox(two.engine)
    assert row["attempts"] == 1 and row["last_status"] == 500 and "HTTP 500" in row["last_error"]
    assert row["next_attempt_at"] == t0 + timedelta(seconds=30)            # the first backoff
    assert webhooks.deliver_once(bind=two.engine, settings=s, now=t0 + timedelta(seconds=29)).busy is False
    assert webhooks.deliver_once(bind=two.engine, settings=s, now=t0 + timedelta(seconds=30)).retried == 1
    [row] = _outbox(two.engine)
    assert row["attempts"] == 2 and row["next_attempt_at"] == t0 + timedelta(seconds=30 + 60)   # doubled
    third = webhooks.deliver_once(bind=two.engine, settings=s, now=t0 + timedelta(seconds=90))
    assert third.delivered == 1
    [row] = _outbox(two.engine)
    assert (row["state"], row["attempts"], row["last_status"], row["last_error"]) == ("delivered", 3, 200, None)
    # nothing more goes out, however late
    assert webhooks.deliver_once(bind=two.engine, settings=s, now=t0 + timedelta(days=9)).busy is False

    assert len(rx.requests) == 3 and rx.bad_signatures == 0
    assert rx.processed == [row["event_id"]]          # three posts of one event, processed once
    raws = {r["raw"] for r in rx.requests}
    assert len(raws) == 1                             # the same bytes (and signature) on every attempt
    raw = raws.pop()
    for r in rx.requests:
        expected = "sha256=" + hmac.new(SECRET_A.encode(), raw, hashlib.sha256).hexdigest()
        assert r["headers"]["x-zhkh-signature"] == expected
        assert r["headers"]["x-zhkh-event-id"] == row["event_id"]
        assert r["headers"]["content-type"].startswith("application/json")
    body = json.loads(raw)
    assert body["event_id"] == row["event_id"] and body["type"] == "work_order.created"
    order = body["work_order"]
    assert order["id"] == incident_id and order["status"] == "new" and order["events"] == []
    assert {"id", "status", "service_code", "address", "created_at", "due_at", "org_state", "crew", "visit_at",
            "answer", "description", "sla_state"} <= set(order)
    assert order["address"] == "Mannerheimintie 1"

    log = webhooks.deliveries(ADMIN, bind=two.engine)
    assert [(d["status_code"], d["ok"]) for d in reversed(log)] == [(500, False), (500, False), (200, True)]
    assert all(d["event_id"] == row["event_id"] and d["url"] == rx.url for d in log)


def test_every_change_of_a_work_order_is_queued_for_its_organisation_only(two: Two, serve) -> None:
    s = webhook_settings()
    eng = two.engine
    rx_a = serve(Receiver(SECRET_A.encode()))
    rx_b = serve(Receiver(SECRET_B.encode()))
    webhooks.set_webhook(ADMIN, two.org_a, rx_a.url, SECRET_A, bind=eng, settings=s)
    b_before = _report(two, two.building_b)            # B has no webhook yet: nothing queued for it
    assert _outbox(eng) == []
    webhooks.set_webhook(ADMIN, two.org_b, rx_b.url, SECRET_B, bind=eng, settings=s)

    a1 = _report(two, two.building_a)                                             # created
    desk_a = Actor.org_client("system-a", two.org_a)
    orgs.act(desk_a, a1, "accepted", event_id="acc-1", bind=eng)                   # accepted
    orgs.act(desk_a, a1, "accepted", event_id="acc-1", bind=eng)                   # a retry: stored once, no event
    with pytest.raises(WorkOrderConflict):
        orgs.act(desk_a, a1, "accepted", event_id="acc-2", bind=eng)               # refused: writes nothing
    inc = incidents.report(ADMIN, a1, bind=eng).incident
    incidents.transition(ADMIN, a1, "dispatched", expected_version=inc.version, bind=eng)   # the service's change
    orgs.act(desk_a, a1, "returned", event_id="ret-1", text="не наш дом", bind=eng)  # returned
    inspection.set_responsible_org(ADMIN, a1, two.org_b, "УК Бета", bind=eng)       # B's now
    b1 = _report(two, two.building_b)

    assert [(r["org_id"], r["incident_id"], r["type"]) for r in _outbox(eng)] == [
        (two.org_a, a1, "work_order.created"),
        (two.org_a, a1, "work_order.accepted"),
        (two.org_a, a1, "work_order.status_changed"),
        (two.org_a, a1, "work_order.returned"),
        (two.org_b, a1, "work_order.created"),
        (two.org_b, b1, "work_order.created"),
    ]
    assert not any(r["incident_id"] == b_before for r in _outbox(eng))

    while webhooks.deliver_once(bind=eng, settings=s, now=utcnow() + timedelta(seconds=1)).busy:
        pass
    got_a, got_b = rx_a.events(), rx_b.events()
    assert [e["type"] for e in got_a] == ["work_order.created", "work_order.accepted", "work_order.status_changed",
                                          "work_order.returned"]
    assert [(e["type"], e["work_order"]["id"]) for e in got_b] == [("work_order.created", a1),
                                                                   ("work_order.created", b1)]
    assert rx_a.bad_signatures == rx_b.bad_signatures == 0        # each signed with its own organisation's secret
    # the work order as it was right after each change; A's own events only, never B's
    accepted = got_a[1]["work_order"]
    assert accepted["status"] == "accepted" and accepted["org_state"] == "accepted"
    assert [e["event_id"] for e in accepted["events"]] == ["acc-1"]
    returned = got_a[3]["work_order"]
    assert returned["org_state"] is None and [e["kind"] for e in returned["events"]] == ["accepted", "returned"]
    assert got_b[0]["work_order"]["events"] == []
    assert {e["event_id"] for e in got_a}.isdisjoint({e["event_id"] for e in got_b})


def test_a_deleted_webhook_drops_its_pending_events_and_an_organisation_failing_blocks_no_other(two: Two,
                                                                                                serve) -> None:
    s = webhook_settings()
    eng = two.engine
    down = serve(Receiver(SECRET_A.encode(), plan=[503] * 10))
    up = serve(Receiver(SECRET_B.encode()))
    webhooks.set_webhook(ADMIN, two.org_a, down.url, SECRET_A, bind=eng, settings=s)
    webhooks.set_webhook(ADMIN, two.org_b, up.url, SECRET_B, bind=eng, settings=s)
    for _ in range(3):
        _report(two, two.building_a)
    _report(two, two.building_b)
    done = webhooks.deliver_once(bind=eng, settings=s, now=utcnow() + timedelta(seconds=1))
    # A's endpoint failed once: its other events wait for the next pass; B's went
    assert (done.delivered, done.retried, done.skipped_orgs) == (1, 1, 1)
    assert len(down.requests) == 1 and len(up.requests) == 1
    assert webhooks.delete_webhook(ADMIN, two.org_a, bind=eng) == 3
    assert {r["state"] for r in _outbox(eng) if r["org_id"] == two.org_a} == {"dropped"}
    assert _report(two, two.building_a) and not any(r["state"] == "pending" for r in _outbox(eng))


def test_the_residents_fixed_and_rating_reach_the_organisation(two: Two, serve) -> None:
    """The resident's "fixed? — yes" closes the report: the organisation's system hears of it (and of the rating)."""
    from ops import resident

    s = webhook_settings()
    eng = two.engine
    rx_a = serve(Receiver(SECRET_A.encode()))
    webhooks.set_webhook(ADMIN, two.org_a, rx_a.url, SECRET_A, bind=eng, settings=s)
    a1 = _report(two, two.building_a)
    orgs.act(Actor.org_client("system-a", two.org_a), a1, "resolved", event_id="res-1", text="заменили трос",
             bind=eng)
    resident.confirm_fixed(resident.resident_actor("198.51.100.7", "salt"), a1, 5, now=utcnow(), bind=eng)
    assert [r["type"] for r in _outbox(eng)] == ["work_order.created", "work_order.resolved",
                                                 "work_order.status_changed"]
    while webhooks.deliver_once(bind=eng, settings=s, now=utcnow() + timedelta(seconds=1)).busy:
        pass
    closed = rx_a.events()[-1]["work_order"]
    assert closed["status"] == "closed"
