"""``python -m orgs`` as the docs write it: two ``deliver`` processes at once send each event once; a ``deliver``
killed in the middle of a post loses nothing; bad input is one line on stderr, exit 2, nothing written; the
secret comes from stdin only."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta

from sqlalchemy import Engine, text

from auth.model import Actor
from ops import incidents, webhooks
from ops.base import utcnow
from settings import ROOT
from tests.webhooks.conftest import KEY, SECRET_A, Receiver, Two, webhook_settings

ADMIN = Actor(author="boss", role="admin")


def _env(db_url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": db_url, "ZHKH_WEBHOOK_KEY": KEY, "ZHKH_WEBHOOK_ALLOW_PRIVATE": "true",
            **extra}


def orgs_cli(db_url: str, *args: str, stdin: str = "", **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orgs", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, env=_env(db_url, **extra), timeout=120)


def _counts(eng: Engine) -> tuple[int, int, int]:
    with eng.connect() as conn:
        return tuple(conn.execute(text(
            "SELECT (SELECT count(*) FROM org_webhooks), (SELECT count(*) FROM webhook_events), "
            "(SELECT count(*) FROM audit_events WHERE action LIKE 'webhook.%')")).one())


def _reports(two: Two, n: int) -> None:
    for i in range(n):
        incidents.take_report(ADMIN, bind=two.engine, service_code="elevator", building_id=two.building_a,
                              description=f"лифт {i}")


def test_two_deliver_processes_at_once_send_each_event_once(two: Two, serve, db_url: str) -> None:
    rx = serve(Receiver(SECRET_A.encode(), meet=2))   # the first two posts wait for each other: both run at once
    webhooks.set_webhook(ADMIN, two.org_a, rx.url, SECRET_A, bind=two.engine, settings=webhook_settings())
    _reports(two, 8)
    procs = [subprocess.Popen([sys.executable, "-m", "orgs", "deliver", "--once", "--json"], cwd=ROOT,
                              env=_env(db_url), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert not rx._barrier.broken                     # the two met: they were sending at the same time
    ids = [e["event_id"] for e in rx.events()]
    assert len(ids) == len(set(ids)) == 8             # every event once, none twice
    assert sorted(rx.processed) == sorted(ids) and rx.bad_signatures == 0
    with two.engine.connect() as conn:
        assert conn.execute(text("SELECT state, count(*) FROM webhook_events GROUP BY state")).all() == [("delivered", 8)]
        assert conn.execute(text("SELECT count(*) FROM webhook_deliveries")).scalar_one() == 8


def test_a_deliver_killed_while_posting_loses_nothing(two: Two, serve, db_url: str) -> None:
    rx = serve(Receiver(SECRET_A.encode(), hold=True))
    webhooks.set_webhook(ADMIN, two.org_a, rx.url, SECRET_A, bind=two.engine, settings=webhook_settings())
    _reports(two, 1)
    proc = subprocess.Popen([sys.executable, "-m", "orgs", "deliver"], cwd=ROOT, env=_env(db_url),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert rx.arrived.wait(timeout=60)            # the post is under way, its row locked
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    rx.release.set()
    with two.engine.connect() as conn:   # the killed transaction was rolled back: still pending, nothing recorded
        assert conn.execute(text("SELECT state, attempts FROM webhook_events")).one() == ("pending", 0)
        assert conn.execute(text("SELECT count(*) FROM webhook_deliveries")).scalar_one() == 0
    done = webhooks.deliver_once(bind=two.engine, settings=webhook_settings(), now=utcnow() + timedelta(seconds=1))
    assert done.delivered == 1
    assert len(rx.requests) == 2 and len(rx.processed) == 1   # posted again, processed once (its event_id)


def test_the_command_line_as_documented(two: Two, serve, db_url: str) -> None:
    eng = two.engine
    rx = serve(Receiver(SECRET_A.encode()))
    ok = orgs_cli(db_url, "webhook", "set", str(two.org_a), rx.url, stdin=SECRET_A + "\n")
    assert ok.returncode == 0, ok.stderr
    assert SECRET_A not in ok.stdout and "sealed" in ok.stdout
    _reports(two, 2)
    sent = orgs_cli(db_url, "deliver", "--once")
    assert sent.returncode == 0 and "delivered 2" in sent.stdout, sent.stderr
    assert len(rx.processed) == 2
    with eng.connect() as conn:
        [author] = conn.execute(text("SELECT actor FROM audit_events WHERE action = 'webhook.set'")).scalars()
    assert author.startswith("cli:")
    gone = orgs_cli(db_url, "webhook", "delete", str(two.org_a))
    assert gone.returncode == 0 and "deleted" in gone.stdout
    listed = orgs_cli(db_url, "webhook", "list")
    assert listed.returncode == 0 and listed.stdout.startswith("no webhooks")


def test_bad_input_is_one_line_exit_2_and_writes_nothing(two: Two, db_url: str) -> None:
    before = _counts(two.engine)
    for args, stdin, words, extra in (
        (("webhook", "set", str(two.org_a), "ftp://example.org/h"), SECRET_A, "http:// or https://", {}),
        (("webhook", "set", str(two.org_a), "http://127.0.0.1/h"), SECRET_A, "loopback address",
         {"ZHKH_WEBHOOK_ALLOW_PRIVATE": "false"}),
        (("webhook", "set", str(two.org_a), "https://93.184.216.34/h"), "", "secret is empty", {}),
        (("webhook", "set", str(two.org_a), "https://93.184.216.34/h", SECRET_A), SECRET_A, "read from stdin, never",
         {}),   # the secret is never an argument (and never echoed)
        (("webhook", "set", "987654", "https://93.184.216.34/h"), SECRET_A, "no organisation with id 987654", {}),
        (("webhook", "delete", str(two.org_a)), "", "has no webhook", {}),
        (("webhook", "set", str(two.org_a), "https://93.184.216.34/h"), SECRET_A, "ZHKH_WEBHOOK_KEY",
         {"ZHKH_ENV": "production", "ZHKH_WEBHOOK_KEY": ""}),
    ):
        r = orgs_cli(db_url, *args, stdin=stdin, **extra)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("error: "), (args, r.stderr)
        assert words in r.stderr, (args, r.stderr)
        assert SECRET_A not in r.stderr and "Traceback" not in r.stderr
    assert _counts(two.engine) == before
