"""Issue 22, item 1: one notice that cannot be sent never stops the others. A building address holding
CR/LF (as an importer used to store it) reaches no header — the subject is one line, no header is
added — and a notice the server cannot carry is failed with its reason while the rest are sent."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine, text

from settings import ROOT
from tests.notify.conftest import City, SmtpServer
from tests.notify.test_notices import approve_p2, deliver, outbox, subscribe

EVIL = "ул. X\r\nBcc: evil@evil.example"


def _grandfathered(engine: Engine, building_id: int, email: str) -> int:
    """A subscription made before double opt-in (the migration keeps those as confirmed)."""
    with engine.begin() as conn:
        return conn.execute(text(
            "INSERT INTO subscriptions (building_id, email, unsubscribe_token, confirmed_at) "
            "VALUES (:b, :e, :t, now()) RETURNING id"), {"b": building_id, "e": email, "t": f"tok-{email}"}).scalar_one()


def test_a_crlf_address_and_an_unsendable_recipient_never_stop_the_others(
        city: City, clean_engine: Engine, smtp_server: SmtpServer) -> None:
    b2, b3 = city.building_ids[1:3]
    with clean_engine.begin() as conn:
        conn.execute(text("UPDATE buildings SET address = :a WHERE id = :b"), {"a": EVIL, "b": b2})
    subscribe(clean_engine, smtp_server, b2, "anna@example.org")
    subscribe(clean_engine, smtp_server, b3, "boris@example.org")
    _grandfathered(clean_engine, b3, "аня@example.org")      # SMTP without SMTPUTF8 cannot carry it
    outage = approve_p2(clean_engine, city)
    # a notice composed by the old code and still queued: the raw address in its subject
    sub = _grandfathered(clean_engine, b2, "old@example.org")
    with clean_engine.begin() as conn:
        conn.execute(text("""
            INSERT INTO notice_outbox (subscription_id, outage_id, event, dedupe_key, subject, body)
            VALUES (:s, :o, 'approved', 'legacy', :subject, 'body')
        """), {"s": sub, "o": outage.id, "subject": f"Отключение: холодная вода — {EVIL}"})

    smtp_server.stop()
    smtp_server.smtputf8 = False
    smtp_server.start()
    r = deliver(clean_engine, smtp_server)
    assert (r.sent, r.failed, r.retried) == (3, 1, 0)
    assert deliver(clean_engine, smtp_server).as_dict() == {"sent": 0, "retried": 0, "failed": 0, "dropped": 0,
                                                            "withdrawn": 0}
    for email in ("anna@example.org", "old@example.org"):
        [mail] = smtp_server.box.to(email)
        assert "\r" not in mail["Subject"] and "\n" not in mail["Subject"]
        assert "ул. X Bcc: evil@evil.example" in mail["Subject"]
        assert mail["Bcc"] is None and mail.get_all("Subject") == [mail["Subject"]]
    for rcpts, _ in smtp_server.box.mails:
        assert "evil@evil.example" not in rcpts
    assert len(smtp_server.box.to("boris@example.org")) == 1
    [bad] = [row for row in outbox(clean_engine) if row["email"] == "аня@example.org"]
    assert bad["state"] == "failed" and bad["attempts"] == 1
    assert "SMTPUTF8" in bad["last_error"] or "NotSupported" in bad["last_error"]


def test_the_worker_command_runs_through_a_crlf_address_and_a_cancelled_outage(
        city: City, clean_engine: Engine, db_url: str, smtp_server: SmtpServer) -> None:
    """``python -m notify worker --once --json`` — the command the issue saw die — with a CR/LF address,
    a recipient the server cannot carry, and planned works approved and cancelled at once."""
    from ops import outages
    from tests.notify.test_notices import DISPATCHER, PLANNER

    b1, b2, b3 = city.building_ids[:3]
    with clean_engine.begin() as conn:
        conn.execute(text("UPDATE buildings SET address = :a WHERE id = :b"), {"a": EVIL, "b": b2})
    for b, email in ((b1, "dave@example.org"), (b2, "anna@example.org"), (b2, "carol@example.org"),
                     (b3, "boris@example.org")):
        subscribe(clean_engine, smtp_server, b, email)
    _grandfathered(clean_engine, b3, "аня@example.org")
    approve_p2(clean_engine, city)                         # anna, carol (CR/LF address), boris, аня
    start = datetime.now(timezone.utc) + timedelta(days=30)
    works = outages.schedule(PLANNER, network_id=city.network_id, break_pipe_ids=[city.pipe_ids[0]],
                             planned_start=start, planned_end=start + timedelta(hours=6), reason="Замена задвижки",
                             bind=clean_engine)
    outages.cancel(DISPATCHER, works.id, reason="не нужно", bind=clean_engine)
    env = {**os.environ, "DATABASE_URL": db_url, "ZHKH_SMTP_HOST": "127.0.0.1", "ZHKH_SMTP_PORT": str(smtp_server.port),
           "ZHKH_SMTP_FROM": "noreply@zhkh.test"}

    def cli(*args: str) -> dict:
        r = subprocess.run([sys.executable, "-m", "notify", *args, "--json"], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
        return json.loads(r.stdout)

    smtp_server.stop()
    smtp_server.smtputf8 = False
    smtp_server.start()
    figures = cli("worker", "--once")
    assert (figures["sent"], figures["failed"], figures["retried"]) == (3, 1, 0)
    assert cli("worker", "--once")["sent"] == 0                  # nothing left, nothing stuck
    with clean_engine.connect() as conn:
        states = dict(conn.execute(text("SELECT state, count(*) FROM notice_outbox WHERE outage_id = :o "
                                        "GROUP BY state"), {"o": works.id}).all())
    assert set(states) == {"withdrawn"} and states["withdrawn"] >= 1   # the cancelled works: nothing went
    assert all(m["X-Zhkh-Notice"].split("/")[0] != str(works.id) for _, m in smtp_server.box.mails)
    assert cli("status")["failed"] == 1
