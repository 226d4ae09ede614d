"""Notices through a real SMTP server: an approved outage mails each subscribed building inside it once,
a second worker round sends nothing more, a server that is down gets the notice later (once), extension
and restore notices follow, an unsubscribed address gets nothing; the lead time of planned works."""
from __future__ import annotations

import re

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text

from auth.model import Actor
from notify import subscriptions
from notify.errors import InvalidSubscription
from notify.rules import load_rules, working_days_between
from notify.worker import Smtp, run_once
from ops import outages
from ops import resident as resident_ops
from tests.notify.conftest import City, SmtpServer

DISPATCHER = Actor(author="ivanova", role="dispatcher", display_name="ivanova")
PLANNER = Actor(author="petrov", role="planner", display_name="petrov")
RESIDENT = Actor(author="resident:test", role="operator", display_name="portal", kind="api")   # as the page's
RULES = load_rules()
SENDER = "ЖКХ <noreply@zhkh.test>"


def deliver(engine: Engine, server: SmtpServer, *, now: datetime | None = None):
    return run_once(engine, Smtp("127.0.0.1", server.port, timeout_s=5), RULES, sender=SENDER,
                    resident_url="http://resident.test", now=now)


def subscribe(engine: Engine, server: SmtpServer, building_id: int, email: str,
              lang: str = "ru") -> subscriptions.Subscription:
    """Subscribe as a resident does: ask, get the confirmation mail through the SMTP server, open its
    link and confirm; the mailbox is emptied afterwards."""
    req = resident_ops.subscribe(RESIDENT, bind=engine, building_id=building_id, email=email, lang=lang,
                                 now=datetime.now(timezone.utc))
    if req.state == "pending":
        assert deliver(engine, server).sent == 1
        [mail] = server.box.to(email.lower())
        token = re.search(r"/confirm/([A-Za-z0-9_-]+)", mail.get_content()).group(1)
        assert resident_ops.confirm_subscription(token, author="resident:test", bind=engine,
                                                 now=datetime.now(timezone.utc))
        with server.box.lock:
            server.box.mails.clear()
    return req


def outbox(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(
            "SELECT n.id, s.email, n.event, n.state, n.attempts, n.last_error FROM notice_outbox n "
            "JOIN subscriptions s ON s.id = n.subscription_id WHERE n.event <> 'confirm' ORDER BY n.id")).mappings()]


def approve_p2(engine: Engine, city: City):
    """A break on the second pipe: buildings 2 and 3 (on it) are cut off, building 1 is not."""
    return outages.approve(DISPATCHER, network_id=city.network_id, break_pipe_ids=[city.pipe_ids[1]],
                           reason="Прорыв на ул. Маннергейма", bind=engine)


def test_approved_outage_mails_each_subscribed_building_once(city: City, clean_engine: Engine,
                                                             smtp_server: SmtpServer) -> None:
    b1, b2, b3 = city.building_ids[:3]
    subscribe(clean_engine, smtp_server, b1, "outside@example.org")
    subscribe(clean_engine, smtp_server, b2, "anna@example.org")
    subscribe(clean_engine, smtp_server, b3, "boris@example.org", lang="en")
    outage = approve_p2(clean_engine, city)
    with clean_engine.connect() as conn:
        inside = {int(r[0]) for r in conn.execute(text("SELECT building_id FROM outage_buildings WHERE outage_id = :o"),
                                                  {"o": outage.id})}
    assert {b2, b3} <= inside and b1 not in inside

    assert deliver(clean_engine, smtp_server).sent == 2
    assert deliver(clean_engine, smtp_server).sent == 0          # a second round: nothing more
    assert len(smtp_server.box.mails) == 2
    assert smtp_server.box.to("outside@example.org") == []
    [ru] = smtp_server.box.to("anna@example.org")
    [en] = smtp_server.box.to("boris@example.org")
    body = ru.get_content()
    zone = ZoneInfo("Europe/Moscow")
    assert "Mannerheimintie 3" in body and "Прорыв на ул. Маннергейма" in body
    assert outage.planned_end.astimezone(zone).strftime("%d.%m.%Y %H:%M") in body      # expected end, region's zone
    assert "холодн" in (ru["Subject"] + body).lower()
    assert "expected" in en.get_content().lower() and "Mannerheimintie 5" in en.get_content()
    assert ru["Message-ID"] != en["Message-ID"] and ru["Message-ID"].startswith("<notice-")
    assert "/unsubscribe/" in body
    with clean_engine.connect() as conn:
        log = conn.execute(text("SELECT count(*) FILTER (WHERE ok), count(*) FROM notice_deliveries d "
                                "JOIN notice_outbox n ON n.id = d.outbox_id WHERE n.event <> 'confirm'")).one()
    assert tuple(log) == (2, 2)
    assert {r["state"] for r in outbox(clean_engine)} == {"sent"}


def test_a_change_enqueued_twice_is_still_one_notice(city: City, clean_engine: Engine,
                                                     smtp_server: SmtpServer) -> None:
    from notify.outbox import enqueue

    subscribe(clean_engine, smtp_server, city.building_ids[1], "anna@example.org")
    outage = approve_p2(clean_engine, city)
    with clean_engine.begin() as conn:
        assert enqueue(conn, outage.id, "approved", now=datetime.now(timezone.utc)) == 0
    assert deliver(clean_engine, smtp_server).sent == 1
    assert len(smtp_server.box.mails) == 1


def test_server_down_the_notice_waits_and_goes_once(city: City, clean_engine: Engine,
                                                    smtp_server: SmtpServer) -> None:
    subscribe(clean_engine, smtp_server, city.building_ids[1], "anna@example.org")
    approve_p2(clean_engine, city)
    smtp_server.stop()
    r = deliver(clean_engine, smtp_server)
    assert (r.sent, r.retried) == (0, 1)
    [row] = outbox(clean_engine)
    assert (row["state"], row["attempts"]) == ("pending", 1)
    smtp_server.start()
    assert deliver(clean_engine, smtp_server).sent == 0            # not due yet: it waits for its backoff
    later = datetime.now(timezone.utc) + timedelta(seconds=RULES.delivery.backoff_s[0] + 1)
    assert deliver(clean_engine, smtp_server, now=later).sent == 1
    assert deliver(clean_engine, smtp_server, now=later + timedelta(hours=1)).sent == 0
    assert len(smtp_server.box.to("anna@example.org")) == 1
    with clean_engine.connect() as conn:
        oks = [r[0] for r in conn.execute(text("SELECT d.ok FROM notice_deliveries d JOIN notice_outbox n "
                                               "ON n.id = d.outbox_id WHERE n.event <> 'confirm' ORDER BY d.id"))]
    assert oks == [False, True]


def test_extension_and_restore_notices(city: City, clean_engine: Engine, smtp_server: SmtpServer) -> None:
    subscribe(clean_engine, smtp_server, city.building_ids[1], "anna@example.org", lang="en")
    outage = approve_p2(clean_engine, city)
    outages.start(DISPATCHER, outage.id, bind=clean_engine)
    later = outage.planned_end + timedelta(hours=3)
    outages.reschedule(DISPATCHER, outage.id, planned_end=later, reason="a second leak found", bind=clean_engine)
    outages.restore(DISPATCHER, outage.id, bind=clean_engine)
    assert deliver(clean_engine, smtp_server).sent == 3
    mails = smtp_server.box.to("anna@example.org")
    assert [m["X-Zhkh-Notice"].split("/")[1] for m in mails] == ["approved", "extended", "restored"]
    ext = mails[1].get_content()
    assert f"{later.astimezone(ZoneInfo('Europe/Moscow')):%H:%M}" in ext
    assert "back" in mails[2]["Subject"].lower() or "restored" in mails[2]["Subject"].lower()


def test_unsubscribed_gets_nothing(city: City, clean_engine: Engine, smtp_server: SmtpServer) -> None:
    gone = subscribe(clean_engine, smtp_server, city.building_ids[1], "gone@example.org")
    subscribe(clean_engine, smtp_server, city.building_ids[2], "stays@example.org")
    now = datetime.now(timezone.utc)
    assert resident_ops.withdraw_subscription(gone.unsubscribe_token, author="resident:test", bind=clean_engine,
                                              now=now)
    assert resident_ops.withdraw_subscription("no-such-token", author="resident:test", bind=clean_engine,
                                              now=now) is None
    approve_p2(clean_engine, city)
    assert deliver(clean_engine, smtp_server).sent == 1
    assert smtp_server.box.to("gone@example.org") == []
    assert len(smtp_server.box.to("stays@example.org")) == 1


def test_unsubscribing_after_queueing_drops_the_notice(city: City, clean_engine: Engine,
                                                       smtp_server: SmtpServer) -> None:
    sub = subscribe(clean_engine, smtp_server, city.building_ids[1], "late@example.org")
    approve_p2(clean_engine, city)
    resident_ops.withdraw_subscription(sub.unsubscribe_token, author="resident:test", bind=clean_engine,
                                       now=datetime.now(timezone.utc))
    r = deliver(clean_engine, smtp_server)
    assert (r.sent, r.dropped) == (0, 1) and smtp_server.box.mails == []


def test_bad_subscriptions_are_refused(city: City, clean_engine: Engine, smtp_server: SmtpServer) -> None:
    for email in ("not-an-email", "a@b", "<x>@example.org", "x@example.org\x00"):
        with pytest.raises(InvalidSubscription):
            subscribe(clean_engine, smtp_server, city.building_ids[0], email)
    with pytest.raises(InvalidSubscription, match="no building"):
        subscribe(clean_engine, smtp_server, 999999, "a@example.org")
    with pytest.raises(InvalidSubscription, match="phone"):
        resident_ops.subscribe(RESIDENT, bind=clean_engine, building_id=city.building_ids[0], email="a@example.org",
                               phone="call me", now=datetime.now(timezone.utc))
    # the same address twice is one subscription
    a = subscribe(clean_engine, smtp_server, city.building_ids[0], "A@Example.org")
    b = subscribe(clean_engine, smtp_server, city.building_ids[0], "a@example.org")
    assert a.id == b.id and a.created and not b.created


def test_planned_works_announced_and_lead_time_warned(city: City, clean_engine: Engine,
                                                      smtp_server: SmtpServer) -> None:
    subscribe(clean_engine, smtp_server, city.building_ids[1], "anna@example.org")
    start = datetime.now(timezone.utc) + timedelta(days=3)
    o = outages.schedule(PLANNER, network_id=city.network_id, break_pipe_ids=[city.pipe_ids[1]], planned_start=start,
                         planned_end=start + timedelta(hours=6), reason="Замена задвижки", bind=clean_engine)
    short = outages.notice_days_short(o.planned_start)
    assert short is not None and short[0] < 10 and short[1] == 10
    assert outages.notice_days_short(datetime.now(timezone.utc) + timedelta(days=30)) is None
    assert deliver(clean_engine, smtp_server).sent == 1
    [mail] = smtp_server.box.to("anna@example.org")
    assert "Замена задвижки" in mail.get_content() and "план" in mail["Subject"].lower()


def test_working_days_count_the_russian_calendar() -> None:
    # after Thursday 30 April 2026: 1 May (holiday), the weekend, 4–8 May (working), the weekend,
    # 11 May (the holiday of Saturday 9 May moved): five working days before Tuesday 12 May
    assert working_days_between(date(2026, 4, 30), date(2026, 5, 12), RULES) == 5
    # a plain fortnight: 10 working days between two Mondays two weeks apart, minus the start day
    assert working_days_between(date(2026, 9, 7), date(2026, 9, 21), RULES) == 9


def test_an_outage_grown_by_a_second_break_tells_only_the_buildings_it_reached(
        city: City, clean_engine: Engine, smtp_server: SmtpServer) -> None:
    b1, b2 = city.building_ids[:2]
    subscribe(clean_engine, smtp_server, b1, "first@example.org")
    subscribe(clean_engine, smtp_server, b2, "second@example.org")
    outage = approve_p2(clean_engine, city)
    grown = outages.approve(DISPATCHER, network_id=city.network_id, break_pipe_ids=[city.pipe_ids[0]],
                            merge_into=outage.id, reason="второй прорыв", bind=clean_engine)
    assert grown.id == outage.id
    with clean_engine.connect() as conn:
        inside = {int(r[0]) for r in conn.execute(text("SELECT building_id FROM outage_buildings WHERE outage_id = :o"),
                                                  {"o": outage.id})}
    assert b1 in inside
    assert deliver(clean_engine, smtp_server).sent == 2
    assert len(smtp_server.box.to("second@example.org")) == 1       # told once, at the approval
    [mail] = smtp_server.box.to("first@example.org")                 # told when the outage reached it
    assert mail["X-Zhkh-Notice"] == f"{outage.id}/approved" and "Mannerheimintie 1" in mail.get_content()


def test_planned_works_moved_are_announced_again(city: City, clean_engine: Engine, smtp_server: SmtpServer) -> None:
    subscribe(clean_engine, smtp_server, city.building_ids[1], "anna@example.org")
    start = datetime.now(timezone.utc) + timedelta(days=30)
    o = outages.schedule(PLANNER, network_id=city.network_id, break_pipe_ids=[city.pipe_ids[1]], planned_start=start,
                         planned_end=start + timedelta(hours=6), reason="Замена задвижки", bind=clean_engine)
    outages.reschedule(PLANNER, o.id, planned_end=start + timedelta(hours=9), reason="дольше", bind=clean_engine)
    assert deliver(clean_engine, smtp_server).sent == 2
    last = smtp_server.box.to("anna@example.org")[-1].get_content()
    assert (start + timedelta(hours=9)).astimezone(ZoneInfo("Europe/Moscow")).strftime("%d.%m.%Y %H:%M") in last


def test_two_workers_at_once_never_send_a_notice_twice(city: City, clean_engine: Engine,
                                                       smtp_server: SmtpServer) -> None:
    import threading

    for i in range(12):
        subscribe(clean_engine, smtp_server, city.building_ids[1 + i % 2], f"r{i}@example.org")
    approve_p2(clean_engine, city)
    results = []
    threads = [threading.Thread(target=lambda: results.append(deliver(clean_engine, smtp_server))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sum(r.sent for r in results) == 12
    ids = [m["Message-ID"] for _, m in smtp_server.box.mails]
    assert len(ids) == 12 and len(set(ids)) == 12
    with clean_engine.connect() as conn:
        outbox_ids = {f"<notice-{r[0]}@zhkh.test>" for r in conn.execute(text(
            "SELECT id FROM notice_outbox WHERE event <> 'confirm'"))}
    assert set(ids) == outbox_ids            # the Message-ID is the outbox row's: a resend would repeat it


def test_the_worker_waits_out_a_database_outage(city: City, clean_engine: Engine, smtp_server: SmtpServer,
                                                db_url: str) -> None:
    """The database going away (a failover: the write port's sessions are cut) does not stop the worker:
    it says so, waits and sends the notice once the database is back (the cluster's two workers died here)."""
    import threading
    import time

    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from notify.worker import run_forever
    from tests.ui.proxy import Proxy

    subscribe(clean_engine, smtp_server, city.building_ids[1], "anna@example.org")
    approve_p2(clean_engine, city)
    proxy = Proxy(("127.0.0.1", make_url(db_url).port or 5432))
    via = create_engine(make_url(db_url).set(host="127.0.0.1", port=proxy.port), pool_pre_ping=True)
    lines: list[str] = []
    worker = threading.Thread(target=run_forever, daemon=True, args=(via, Smtp("127.0.0.1", smtp_server.port,
                              timeout_s=5), RULES), kwargs={"sender": SENDER, "resident_url": "http://r.test",
                              "log": lines.append, "retry_s": 0.2})
    try:
        worker.start()
        deadline = time.monotonic() + 20
        while not any("database unavailable" in line for line in lines):
            assert worker.is_alive(), "the worker died with the database"
            assert time.monotonic() < deadline, lines
            time.sleep(0.05)
        proxy.up()
        while not smtp_server.box.to("anna@example.org"):
            assert worker.is_alive(), "the worker died with the database"
            assert time.monotonic() < deadline + 20, lines
            time.sleep(0.05)
    finally:
        proxy.down()
        via.dispose()
    assert len(smtp_server.box.to("anna@example.org")) == 1
