"""Losing one replica of a kind (issue 17 §3), on the failover tests' small cluster:

- the operators' app: a dispatcher signed in through HAProxy (cookie stickiness ``ZHKHSRV``), ``kill -9`` of
  the replica the browser is on, the page reloaded — it reaches the other replica through HAProxy and is
  still signed in (the session lives in ``user_sessions``, not in the process);
- a meter listener of the shared subscription: ``kill -9`` of one while readings flow — the other keeps
  storing; restarted with its client id, the dead one's queued share is stored too: every published
  reading stored once (Mosquitto 2.0 keeps handing the dead member's session its share until it returns,
  docs/scaling.md)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from tests.cluster.conftest import ROOT, status_of
from tests.cluster.test_failover import wait_until

T0 = datetime(2026, 10, 1, tzinfo=UTC)


# ---- the app ---------------------------------------------------------------------------------------

def test_a_signed_in_dispatcher_survives_the_death_of_its_app_replica(small_cluster: dict) -> None:
    from playwright.sync_api import expect, sync_playwright
    from sqlalchemy import create_engine

    from auth.errors import DuplicateLogin
    from auth.model import Actor
    from ops import users
    from scripts.screenshot import CHROMIUM, CHROMIUM_ARGS
    from tests.ui.conftest import PASSWORDS, login

    engine = create_engine(small_cluster["database_url"].replace("postgresql://", "postgresql+psycopg://"))
    try:
        try:
            users.add_user(Actor.cli("cli:tests"), "dispatcher", role="dispatcher", password=PASSWORDS["dispatcher"],
                           display_name="Тест dispatcher", bind=engine)
        except DuplicateLogin:   # a second test run on the same cluster
            pass
    finally:
        engine.dispose()
    door = f"http://127.0.0.1:{small_cluster['app'][0]['port'] - 1}"   # HAProxy's app door
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            login(page, door, "dispatcher")
            signed_in = page.get_by_role("button", name="Выйти")
            expect(signed_in).to_be_visible(timeout=30000)
            sticky = {c["name"]: c["value"] for c in page.context.cookies()}["ZHKHSRV"]
            victim = status_of(small_cluster["base"])["app"][int(sticky.removeprefix("app")) - 1]
            os.kill(victim["pid"], signal.SIGKILL)
            t0 = time.monotonic()
            # the page reloaded (what the dispatcher does when Streamlit says it lost the server; a new tab
            # the same): HAProxy sends it to the other replica (the cookie's server is dead: redispatch),
            # whose new session reads zhkh_session and resumes the session from user_sessions
            page.reload(wait_until="domcontentloaded")
            page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=60000)
            expect(signed_in).to_be_visible(timeout=60000)
            expect(page.get_by_text("Тест dispatcher")).to_be_visible()
            assert page.get_by_label("Логин").count() == 0, "the login form after the replica's death"
            now_on = {c["name"]: c["value"] for c in page.context.cookies()}.get("ZHKHSRV")
            assert now_on and now_on != sticky, (sticky, now_on)
            print(f"\napp replica {sticky} killed: signed in on {now_on} after {time.monotonic() - t0:.1f} s")
        finally:
            browser.close()


# ---- the meter listeners ---------------------------------------------------------------------------

class Listener:
    """``python -m meters listen`` of the shared group, as the cluster runs it (a process: it can be killed)."""

    def __init__(self, write_url: str, mqtt_url: str, client_id: str, group: str, log: Path) -> None:
        self.argv = [sys.executable, "-m", "meters", "listen", "--client-id", client_id, "--share-group", group,
                     "--mqtt-url", mqtt_url, "--flush-ms", "50", "--report-s", "0"]
        self.env = {**os.environ, "DATABASE_URL": write_url}
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Listener:
        self.log.write_text("")
        out = self.log.open("ab")
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        wait_until(f"{self.log.stem} subscribed", lambda: "subscribed to" in self.log.read_text(errors="replace")
                   or self.proc.poll() is not None, 30)
        assert self.proc.poll() is None, self.log.read_text()
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()     # SIGKILL: a crash, nothing more acknowledged
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def test_a_killed_meter_listener_loses_and_doubles_nothing(small_cluster: dict, tmp_path: Path) -> None:
    from meters.broker import Mosquitto
    from meters.publisher import Publisher

    write_url = small_cluster["database_url"]
    serial = f"L-{uuid.uuid4().hex[:6]}"
    with psycopg.connect(write_url) as conn:
        conn.execute("INSERT INTO meters (serial, resource, kind, install_date) "
                     "VALUES (%s, 'cold_water', 'source', '2020-01-01')", (serial,))

    def stored() -> tuple[int, int]:
        with psycopg.connect(write_url, connect_timeout=2) as conn:
            return tuple(conn.execute(  # type: ignore[return-value]
                "SELECT count(*), count(DISTINCT r.ts) FROM meter_readings r JOIN meters m ON m.id = r.meter_id "
                "WHERE m.serial = %s", (serial,)).fetchone())

    group = f"g{uuid.uuid4().hex[:6]}"
    with Mosquitto() as broker:
        one = Listener(write_url, broker.url, f"zhkh-test-listener-1-{group}", group, tmp_path / "listener1.log").start()
        two = Listener(write_url, broker.url, f"zhkh-test-listener-2-{group}", group, tmp_path / "listener2.log").start()
        pub = Publisher(broker.url, client_id=f"meter-{group}").connect()
        stop, sent = threading.Event(), [0]

        def meter() -> None:   # a reading every 10 ms, QoS 1
            while not stop.is_set():
                pub.publish(serial, T0 + timedelta(minutes=sent[0]), float(sent[0]))
                sent[0] += 1
                time.sleep(0.01)

        flow = threading.Thread(target=meter, daemon=True)
        try:
            flow.start()
            wait_until("both listeners storing", lambda: stored()[0] >= 100, 30)
            one.kill()
            at_kill = stored()[0]
            wait_until("the survivor storing on", lambda: stored()[0] >= at_kill + 100, 30)
            one.start()                  # the supervisor's restart, with the same client id
            wait_until("more readings after the restart", lambda: stored()[0] >= at_kill + 300, 30)
            stop.set()
            flow.join(10)
            assert pub.flush(timeout=30)
            published = sent[0]
            wait_until("every published reading stored", lambda: stored() == (published, published), 60)
        finally:
            stop.set()
            pub.close()
            one.stop()
            two.stop()
    with psycopg.connect(write_url) as conn:
        rejects = conn.execute("SELECT count(*) FROM meter_rejects").fetchone()[0]
    assert stored() == (published, published) and rejects == 0
    print(f"\nmeter listener killed: {published} readings published, {published} stored once")
