"""Failover under load (issue 17): ``kill -9`` the PostgreSQL leader's postmaster while Open311 reports flow
through HAProxy and meter readings flow from MQTT (a private Mosquitto, the listener writing through the
write port). Writes through the write port work again within 30 s, every acknowledged report and every
published reading is stored exactly once, clients saw 503 (and retried with the same token), never a 500,
and the old leader comes back as a replica (Patroni restarts it, pg_rewind if need be)."""
from __future__ import annotations

import os
import random
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from sqlalchemy import create_engine

from tests.cluster.conftest import status_of

WRITABLE_WITHIN_S = 30.0
TAG = "failover-test"


def wait_until(what: str, ok: Callable[[], bool], timeout_s: float) -> float:
    """Poll ``ok`` until it holds; the seconds it took (fails the test after ``timeout_s``)."""
    t0 = time.monotonic()
    while not ok():
        if time.monotonic() - t0 > timeout_s:
            pytest.fail(f"{what}: not within {timeout_s:g} s")
        time.sleep(0.05)
    return time.monotonic() - t0


def writable(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=1, autocommit=True) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS failover_probe (at timestamptz DEFAULT now())")
            conn.execute("INSERT INTO failover_probe DEFAULT VALUES")
        return True
    except psycopg.Error:
        return False


class Readings(threading.Thread):
    """A meter publishing a reading every 10 ms (QoS 1) until stopped; ``published`` = how many."""

    def __init__(self, mqtt_url: str, serial: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        from meters.publisher import Publisher

        self.pub = Publisher(mqtt_url, client_id=f"failover-{uuid.uuid4().hex[:8]}").connect()
        self.serial, self.stop, self.published = serial, stop, 0

    def run(self) -> None:
        t0 = datetime(2026, 11, 1, tzinfo=UTC)
        while not self.stop.is_set():
            self.pub.publish(self.serial, t0 + timedelta(minutes=self.published), float(self.published))
            self.published += 1
            time.sleep(0.01)


class Reporter(threading.Thread):
    """A client posting reports one after another; each is retried with the same token until acknowledged."""

    def __init__(self, base_url: str, key: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.base_url, self.key, self.stop = base_url, key, stop
        self.acked: dict[str, int] = {}  # token -> service_request_id
        self.statuses: Counter[object] = Counter()
        self.rng = random.Random()

    def run(self) -> None:
        with httpx.Client(timeout=20.0) as client:
            while not self.stop.is_set():
                token = uuid.uuid4().hex
                body = {"api_key": self.key, "service_code": "no_water", "token": token,
                        "lat": 60.17 + self.rng.uniform(-0.02, 0.02), "long": 24.94 + self.rng.uniform(-0.04, 0.04),
                        "description": f"{TAG} {token}"}
                while True:
                    try:
                        r = client.post(f"{self.base_url}/open311/v2/requests.json", data=body,
                                        headers={"Idempotency-Key": token})
                    except httpx.TransportError as exc:
                        self.statuses[type(exc).__name__] += 1
                        time.sleep(0.1)
                        continue
                    self.statuses[r.status_code] += 1
                    if r.status_code in (200, 201):
                        self.acked[token] = int(r.json()[0]["service_request_id"])
                        break
                    if r.status_code != 503:
                        return  # anything else is a failure the test reports
                    time.sleep(min(float(r.headers.get("Retry-After", "1")), 0.2))


def test_leader_killed_under_open311_and_meter_load(small_cluster: dict) -> None:
    from incidents.keys import create_api_key
    from meters.broker import Mosquitto
    from meters.listen import Listener, ListenerConfig

    write_url = small_cluster["database_url"]
    engine = create_engine(write_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        key = create_api_key(engine, "failover-test")
    finally:
        engine.dispose()
    with psycopg.connect(write_url) as conn:
        conn.execute("INSERT INTO meters (serial, resource, kind, install_date) "
                     "VALUES ('F-1', 'cold_water', 'source', '2020-01-01') ON CONFLICT DO NOTHING")
    door = f"http://127.0.0.1:{small_cluster['open311'][0]['port'] - 1}"  # HAProxy's door, replica 1 at door + 1

    stop = threading.Event()
    broker = Mosquitto().start()
    listener = Listener(ListenerConfig(db_url=write_url, mqtt_url=broker.url, client_id="failover-listener",
                                       flush_ms=50), log=lambda _line: None).start(wait_s=10)
    meter = Readings(broker.url, "F-1", stop)
    clients = [Reporter(door, key, stop) for _ in range(3)]
    for c in [*clients, meter]:
        c.start()
    acked = lambda: sum(len(c.acked) for c in clients)  # noqa: E731

    def stored_readings() -> tuple[int, int] | None:
        try:
            with psycopg.connect(write_url, connect_timeout=2) as conn:
                return tuple(conn.execute(
                    "SELECT count(*), count(DISTINCT ts) FROM meter_readings r JOIN meters m ON m.id = r.meter_id "
                    "WHERE m.serial = 'F-1'").fetchone())
        except psycopg.OperationalError:
            return None
    try:
        wait_until("reports acknowledged before the kill", lambda: acked() >= 30, 60)
        leader = next(p for p in status_of(small_cluster["base"])["postgres"] if p["role"] == "leader")
        os.kill(leader["pid"], signal.SIGKILL)  # the postmaster: the node's PostgreSQL dies at once
        before = acked()
        took = wait_until("a write through the write port", lambda: writable(write_url), WRITABLE_WITHIN_S)
        wait_until("reports acknowledged after the failover", lambda: acked() >= before + 30, 60)
        stop.set()
        for c in [*clients, meter]:
            c.join(30)
        assert meter.pub.flush(timeout=30)
        published = meter.published
        wait_until("every published reading stored", lambda: stored_readings() == (published, published), 60)
    finally:
        stop.set()
        listener.stop()
        meter.pub.close()
        broker.stop()
    assert took <= WRITABLE_WITHIN_S

    statuses = sum((c.statuses for c in clients), Counter())
    assert set(statuses) <= {200, 201, 503, "ConnectError", "ReadError", "RemoteProtocolError"}, statuses
    assert 500 not in statuses
    tokens = {t: i for c in clients for t, i in c.acked.items()}
    with psycopg.connect(write_url) as conn:
        rows = conn.execute("SELECT client_token, id FROM incidents WHERE description LIKE %s",
                            (f"{TAG} %",)).fetchall()
    stored = Counter(t for t, _ in rows)
    assert len(rows) == len(tokens), "every stored report was acknowledged, every acknowledged one stored"
    assert not [t for t, n in stored.items() if n > 1], "a report stored twice"
    assert {t: i for t, i in rows if t in tokens} == tokens, "an acknowledged report is missing or changed"

    # the old leader, restarted by its Patroni, follows the new one
    def rejoined() -> bool:
        nodes = {p["name"]: p for p in status_of(small_cluster["base"])["postgres"]}
        return nodes[leader["name"]]["role"] == "replica" and nodes[leader["name"]]["pid"] is not None
    wait_until("the old leader back as a replica", rejoined, 120)
    nodes = status_of(small_cluster["base"])["postgres"]
    assert sorted(p["role"] for p in nodes) == ["leader", "replica"]
    print(f"\nfailover: writable after {took:.1f} s; acknowledged {len(tokens)}, stored {len(rows)}; "
          f"answers {dict(statuses)}; readings published {published}, stored {published}")
