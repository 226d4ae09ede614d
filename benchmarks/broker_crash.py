"""Readings across a broker crash: ``kill -9`` of Mosquitto while ``python -m meters simulate`` publishes.

    .venv/bin/python benchmarks/broker_crash.py [--rate 500] [--duration 40] [--kill-at 12] [--down 10]
                                                [--meters 1000]

A scratch database (created, migrated, dropped) with ``--meters`` source meters, a private Mosquitto on a
free port with its own persistence directory (never the shared broker), ``python -m meters listen`` and
``python -m meters simulate --rate R --duration D --faults 0`` as processes. ``--kill-at`` seconds after the
simulator started the broker gets SIGKILL (no chance to write its persistence file), ``--down`` seconds
later it is started again on the same port and directory. When the simulator has finished and the
listener has stored what it will, it is stopped and the rows are counted:
published (the simulator's count) / stored (distinct readings) / lost / doubled (rows per (meter, ts) > 1
cannot exist: the unique key; ``duplicates`` is what the listener received again and did not store).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from tests.support import drop_database  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=500)
    ap.add_argument("--duration", type=float, default=40)
    ap.add_argument("--kill-at", type=float, default=12)
    ap.add_argument("--down", type=float, default=10)
    ap.add_argument("--meters", type=int, default=1000)
    args = ap.parse_args()

    from gis.db import database_url, make_engine
    from meters.broker import Mosquitto

    url = make_url(database_url()).set(database=f"zhkh_bench_crash_{uuid.uuid4().hex[:6]}")
    db_url = url.render_as_string(hide_password=False)
    engine = make_engine(db_url)
    broker = Mosquitto()
    listener = sim = None
    env = {**os.environ, "DATABASE_URL": db_url}
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO meters (serial, resource, kind, install_date) "
                              "SELECT s, 'cold_water', 'source', '2020-01-01' FROM unnest(CAST(:s AS text[])) s"),
                         {"s": [f"CRASH-{i:05d}" for i in range(args.meters)]})
        broker.start()
        py = sys.executable
        listener = subprocess.Popen([py, "-m", "meters", "listen", "--mqtt-url", broker.url, "--client-id",
                                     f"crash-listener-{uuid.uuid4().hex[:6]}", "--report-s", "0", "--json"],
                                    cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        time.sleep(3)  # connected and subscribed (its session exists before the first reading)
        t0 = time.monotonic()
        sim = subprocess.Popen([py, "-m", "meters", "simulate", "--mqtt-url", broker.url, "--rate", str(args.rate),
                                "--duration", str(args.duration), "--faults", "0", "--seed", "7", "--json"],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(max(0.0, t0 + args.kill_at - time.monotonic()))
        assert broker.proc is not None
        broker.proc.send_signal(signal.SIGKILL)
        broker.proc.wait()
        killed_at = time.monotonic() - t0
        time.sleep(args.down)
        broker.start()
        restarted_at = time.monotonic() - t0
        out, err = sim.communicate(timeout=args.duration + 300)
        if sim.returncode != 0:
            print(f"simulate failed: {err.strip()}")
            return 1
        published = int(json.loads(out)["published"])

        def stored() -> int:
            with engine.connect() as conn:
                return int(conn.execute(text("SELECT count(*) FROM meter_readings")).scalar_one())

        last, still = -1, 0.0
        while still < 8.0:  # the listener drains what the broker holds; settled when nothing changes for 8 s
            n = stored()
            still = still + 0.5 if n == last else 0.0
            last = n
            time.sleep(0.5)
        listener.send_signal(signal.SIGTERM)
        lout, _ = listener.communicate(timeout=60)
        lstats = json.loads(lout) if lout.strip() else {}
        with engine.connect() as conn:
            rows, distinct = conn.execute(text(
                "SELECT count(*), count(DISTINCT (meter_id, ts)) FROM meter_readings")).one()
            rejects = int(conn.execute(text("SELECT count(*) FROM meter_rejects")).scalar_one())
        print(f"broker crash: rate {args.rate:g}/s for {args.duration:g} s, {args.meters} meters; broker killed "
              f"(SIGKILL) at {killed_at:.1f} s, restarted at {restarted_at:.1f} s")
        print(f"  published {published}, stored {distinct} (rows {rows}), lost {published - distinct}, "
              f"rejects {rejects}; listener received {lstats.get('received')}, duplicates "
              f"{lstats.get('duplicates')} (received again, not stored twice)")
        return 0 if published == distinct == rows and rejects == 0 else 1
    finally:
        for p in (sim, listener):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        broker.close()
        engine.dispose()
        drop_database(db_url)


if __name__ == "__main__":
    sys.exit(main())
