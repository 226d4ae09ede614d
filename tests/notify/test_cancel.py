"""Issue 22, item 3: a cancelled shutoff. Notices not yet sent for it are withdrawn (with the reason);
the residents already told get one cancellation notice, in their language; a worker sending at the
moment of the cancel is waited for, never raced."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

from sqlalchemy import Engine, text

from notify.worker import Smtp, run_once
from ops import outages
from tests.notify.conftest import City, SmtpServer
from tests.notify.test_notices import DISPATCHER, RULES, SENDER, approve_p2, deliver, outbox, subscribe


def deliver_some(engine: Engine, server: SmtpServer, n: int):
    rules = RULES.model_copy(update={"delivery": RULES.delivery.model_copy(update={"batch": n})})
    return run_once(engine, Smtp("127.0.0.1", server.port, timeout_s=30), rules, sender=SENDER,
                    resident_url="http://resident.test")


def test_cancel_withdraws_what_was_not_sent_and_tells_who_was(city: City, clean_engine: Engine,
                                                              smtp_server: SmtpServer) -> None:
    b2, b3 = city.building_ids[1:3]
    subscribe(clean_engine, smtp_server, b2, "anna@example.org")
    subscribe(clean_engine, smtp_server, b3, "boris@example.org", lang="en")
    subscribe(clean_engine, smtp_server, b3, "carol@example.org")
    outage = approve_p2(clean_engine, city)
    assert deliver_some(clean_engine, smtp_server, 2).sent == 2           # anna and boris told; carol not yet
    outages.cancel(DISPATCHER, outage.id, reason="прорыв не подтвердился", bind=clean_engine)

    rows = {(r["email"], r["event"]): r for r in outbox(clean_engine)}
    carol = rows[("carol@example.org", "approved")]
    assert (carol["state"], carol["last_error"]) == ("withdrawn", "outage cancelled")
    assert {k for k in rows if k[1] == "cancelled"} == {("anna@example.org", "cancelled"),
                                                        ("boris@example.org", "cancelled")}
    r = deliver(clean_engine, smtp_server)
    assert (r.sent, r.failed) == (2, 0)
    assert deliver(clean_engine, smtp_server).sent == 0
    assert smtp_server.box.to("carol@example.org") == []
    [_, ru] = smtp_server.box.to("anna@example.org")
    [_, en] = smtp_server.box.to("boris@example.org")
    assert ru["X-Zhkh-Notice"] == f"{outage.id}/cancelled" and "отменено" in ru["Subject"].lower()
    assert "Mannerheimintie 3" in ru.get_content() and f"№{outage.id}" in ru.get_content()
    assert "cancelled" in en["Subject"].lower() and "will not be cut off" in en.get_content()
    with clean_engine.connect() as conn:
        details = conn.execute(text("SELECT details FROM audit_events WHERE action = 'outage.cancel'")).scalar_one()
    assert details == {"notices_withdrawn": 1, "cancellation_notices": 2}


def test_approve_then_cancel_at_once_sends_nothing(city: City, clean_engine: Engine, smtp_server: SmtpServer) -> None:
    for i in range(9):
        subscribe(clean_engine, smtp_server, city.building_ids[1 + i % 2], f"r{i}@example.org")
    outage = approve_p2(clean_engine, city)
    outages.cancel(DISPATCHER, outage.id, reason="ошибка", bind=clean_engine)
    r = deliver(clean_engine, smtp_server)
    assert r.sent == 0 and smtp_server.box.mails == []
    assert {row["state"] for row in outbox(clean_engine)} == {"withdrawn"} and len(outbox(clean_engine)) == 9


def test_a_notice_being_sent_during_the_cancel_is_told_the_cancellation(
        city: City, clean_engine: Engine, smtp_server: SmtpServer) -> None:
    subscribe(clean_engine, smtp_server, city.building_ids[1], "anna@example.org")
    subscribe(clean_engine, smtp_server, city.building_ids[2], "boris@example.org")
    outage = approve_p2(clean_engine, city)
    smtp_server.box.gate = threading.Event()
    smtp_server.box.entered.clear()
    worker = threading.Thread(target=lambda: deliver_some(clean_engine, smtp_server, 1))
    worker.start()
    assert smtp_server.box.entered.wait(30)                  # the worker holds anna's notice, mid-send
    errors: list[BaseException] = []

    def cancel() -> None:
        try:
            outages.cancel(DISPATCHER, outage.id, reason="ошибка", bind=clean_engine)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    canceller = threading.Thread(target=cancel)
    canceller.start()
    deadline = time.monotonic() + 30
    with clean_engine.connect() as conn:                      # wait until the cancel waits for the row lock
        while conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                "AND wait_event_type = 'Lock' AND query LIKE '%withdrawn%'")).scalar_one() == 0:
            assert time.monotonic() < deadline, "the cancel never waited for the worker's notice"
            conn.rollback()
    smtp_server.box.gate.set()
    worker.join(30)
    canceller.join(30)
    assert not errors and not worker.is_alive() and not canceller.is_alive()
    states = {(r["email"], r["event"]): r["state"] for r in outbox(clean_engine)}
    assert states == {("anna@example.org", "approved"): "sent", ("boris@example.org", "approved"): "withdrawn",
                      ("anna@example.org", "cancelled"): "pending"}
    smtp_server.box.gate = None
    assert deliver(clean_engine, smtp_server).sent == 1
    assert [m["X-Zhkh-Notice"] for m in smtp_server.box.to("anna@example.org")] == [
        f"{outage.id}/approved", f"{outage.id}/cancelled"]
    assert smtp_server.box.to("boris@example.org") == []
