"""Ingestion rate of ``python -m meters listen``: readings/s from MQTT into meter_readings, end to end.

    .venv/bin/python benchmarks/meters.py [--readings 100000] [--meters 1000] [--baseline 20000]
                                          [--mqtt-url URL]

A scratch database (created, migrated, dropped) and a private Mosquitto on a free port (unless
``--mqtt-url``). A separate process publishes the readings with QoS 1 as fast as it can; the clock runs
from the first message received until the last reading is committed. Then the same is done with a baseline
subscriber storing one reading per INSERT and commit (auto-acknowledged, as a naive client would).
The listener alone is also measured, draining the same number of readings queued at the broker
while it was away (its capacity without the publishers on the same CPUs). Every run is checked: as many rows as distinct readings published, none doubled, no rejects.
Target: >= 5,000 readings/s on the 2-core machine.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from tests.support import drop_database  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)


PUBLISHERS = 2  # publisher processes (one paho client publishes ~4-6k QoS 1 messages/s at most)


def start_publishers(mqtt_url: str, serials: list[str], per_meter: int, t0: datetime) -> list:
    """Spawned processes, each publishing the readings of a share of the meters (QoS 1, acks awaited)."""
    from meters.publisher import publish_series

    ctx = mp.get_context("spawn")  # not fork: this process runs threads (paho, the writer)
    procs = [ctx.Process(target=publish_series, args=(mqtt_url, serials[k::PUBLISHERS], per_meter, t0))
             for k in range(PUBLISHERS)]
    for proc in procs:
        proc.start()
    return procs


def readings_count(engine) -> tuple[int, int, int]:  # noqa: ANN001
    with engine.connect() as conn:
        n, distinct = conn.execute(text("SELECT count(*), count(DISTINCT (meter_id, ts)) FROM meter_readings")).one()
        rejects = conn.execute(text("SELECT count(*) FROM meter_rejects")).scalar_one()
    return int(n), int(distinct), int(rejects)


def run_batched(db_url: str, mqtt_url: str, serials: list[str], per_meter: int) -> tuple[float, int]:
    from meters.listen import Listener, ListenerConfig

    listener = Listener(ListenerConfig(db_url=db_url, mqtt_url=mqtt_url, client_id=f"bench-{uuid.uuid4().hex[:6]}"),
                        log=lambda _l: None).start(wait_s=10)
    expected = len(serials) * per_meter
    procs = start_publishers(mqtt_url, serials, per_meter, T0)
    while listener.stats.received == 0:  # the clock starts with the first message (not the processes' start-up)
        time.sleep(0.001)
    t0 = time.perf_counter()
    while listener.stats.stored + listener.stats.duplicates < expected:
        if time.perf_counter() - t0 > 600:
            break
        time.sleep(0.005)
    elapsed = time.perf_counter() - t0
    for proc in procs:
        proc.join(60)
    listener.stop()
    return elapsed, listener.stats.stored


def run_drain(db_url: str, mqtt_url: str, serials: list[str], per_meter: int) -> tuple[float, float, int]:
    """The listener alone: the readings are queued at the broker first (its session exists, it is away),
    then it starts and drains them. Returns (publish seconds, drain seconds, stored)."""
    from meters.listen import Listener, ListenerConfig

    cfg = ListenerConfig(db_url=db_url, mqtt_url=mqtt_url, client_id=f"bench-drain-{uuid.uuid4().hex[:6]}")
    Listener(cfg, log=lambda _l: None).start(wait_s=10).stop()
    t0 = time.perf_counter()
    for proc in start_publishers(mqtt_url, serials, per_meter, T0 + timedelta(days=100)):
        proc.join(600)
    published = time.perf_counter() - t0
    expected = len(serials) * per_meter
    listener = Listener(cfg, log=lambda _l: None)
    t0 = time.perf_counter()
    listener.start(wait_s=10)
    while listener.stats.stored + listener.stats.duplicates < expected and time.perf_counter() - t0 < 600:
        time.sleep(0.005)
    elapsed = time.perf_counter() - t0
    listener.stop()
    return published, elapsed, listener.stats.stored


def run_baseline(db_url: str, mqtt_url: str, serials: list[str], per_meter: int) -> tuple[float, int]:
    """One INSERT and one commit per message (validation as the listener's, without batching)."""
    import paho.mqtt.client as mqtt

    from meters import repo
    from meters.listen import parse_mqtt_url
    from meters.validate import SUBSCRIPTION, parse

    conn = repo.connect(db_url)
    conn.autocommit = True
    ids = repo.meter_ids(conn, serials)
    stored = 0
    import threading

    subscribed = threading.Event()

    def on_message(_c, _u, m):  # noqa: ANN001
        nonlocal stored
        r = parse(m.topic, m.payload, datetime.now(UTC))
        cur = conn.execute("INSERT INTO meter_readings (meter_id, ts, total) VALUES (%s, %s, %s) "
                           "ON CONFLICT (meter_id, ts) DO NOTHING", (ids[r.serial], r.ts, r.total))
        stored += cur.rowcount

    host, port, *_ = parse_mqtt_url(mqtt_url)
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"baseline-{uuid.uuid4().hex[:6]}",
                    protocol=mqtt.MQTTv5)
    c.on_message = on_message
    c.on_subscribe = lambda *_a: subscribed.set()
    c.on_connect = lambda cl, *_a: cl.subscribe(SUBSCRIPTION, qos=1)
    c.connect(host, port)
    c.loop_start()
    subscribed.wait(10)
    expected = len(serials) * per_meter
    procs = start_publishers(mqtt_url, serials, per_meter, T0 + timedelta(days=200))
    while stored == 0:
        time.sleep(0.001)
    t0 = time.perf_counter()
    while stored < expected and time.perf_counter() - t0 < 600:
        time.sleep(0.005)
    elapsed = time.perf_counter() - t0
    for proc in procs:
        proc.join(60)
    c.disconnect()
    c.loop_stop()
    conn.close()
    return elapsed, stored


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--readings", type=int, default=100_000)
    ap.add_argument("--meters", type=int, default=1000)
    ap.add_argument("--baseline", type=int, default=20_000, help="readings in the baseline run (0: skip)")
    ap.add_argument("--mqtt-url", default=None, help="an existing broker (default: a private Mosquitto)")
    args = ap.parse_args()

    from gis.db import database_url, make_engine
    from meters.broker import Mosquitto

    url = make_url(database_url()).set(database=f"zhkh_bench_meters_{uuid.uuid4().hex[:6]}")
    db_url = url.render_as_string(hide_password=False)
    engine = make_engine(db_url)
    broker = None
    try:
        serials = [f"BENCH-{i:05d}" for i in range(args.meters)]
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO meters (serial, resource, kind, install_date) "
                              "SELECT s, 'cold_water', 'source', '2020-01-01' FROM unnest(CAST(:s AS text[])) s"),
                         {"s": serials})
        if args.mqtt_url:
            mqtt_url = args.mqtt_url
        else:
            broker = Mosquitto().start()
            mqtt_url = broker.url
        per_meter = max(1, args.readings // args.meters)
        n = per_meter * args.meters
        print(f"meters ingestion: {n} readings of {args.meters} meters, QoS 1, broker {mqtt_url}, "
              f"{os.cpu_count()} CPUs")
        elapsed, stored = run_batched(db_url, mqtt_url, serials, per_meter)
        rows, distinct, rejects = readings_count(engine)
        ok = rows == distinct == n and stored == n and rejects == 0
        rate = n / elapsed
        print(f"  batched listener   : {n} in {elapsed:.2f} s = {rate:,.0f} readings/s; rows {rows}, distinct {distinct}, "
              f"rejects {rejects} -> {'nothing lost or doubled' if ok else 'MISMATCH'}")
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE meter_readings"))
        published_s, drain_s, d_stored = run_drain(db_url, mqtt_url, serials, per_meter)
        d_rows, d_distinct, d_rejects = readings_count(engine)
        d_ok = d_rows == d_distinct == d_stored == n and d_rejects == 0
        ok = ok and d_ok
        print(f"  publishers alone   : {n} queued at the broker in {published_s:.2f} s = {n / published_s:,.0f}/s "
              f"({PUBLISHERS} processes, QoS 1)")
        print(f"  listener alone (draining that backlog): {n} in {drain_s:.2f} s = {n / drain_s:,.0f} readings/s; "
              f"rows {d_rows}, distinct {d_distinct} -> {'nothing lost or doubled' if d_ok else 'MISMATCH'}")
        if args.baseline > 0:
            with engine.begin() as conn:
                conn.execute(text("TRUNCATE meter_readings"))
            b_per_meter = max(1, args.baseline // args.meters)
            bn = b_per_meter * args.meters
            b_elapsed, b_stored = run_baseline(db_url, mqtt_url, serials, b_per_meter)
            b_rows, b_distinct, _ = readings_count(engine)
            b_rate = bn / b_elapsed
            print(f"  baseline (1 INSERT+commit per message): {bn} in {b_elapsed:.2f} s = {b_rate:,.0f} readings/s; "
                  f"rows {b_rows}, distinct {b_distinct}")
            print(f"  ratio batched / baseline: {rate / b_rate:.1f}x")
        print(f"  target >= 5,000 readings/s end to end: {'met' if rate >= 5000 else 'NOT met'} "
              f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
        return 0 if ok else 1
    finally:
        if broker is not None:
            broker.close()
        engine.dispose()
        drop_database(db_url)


if __name__ == "__main__":
    sys.exit(main())
