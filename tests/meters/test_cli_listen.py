"""``python -m meters listen`` as the outside world runs it: a process that stores what is published,
stops cleanly on SIGTERM (exit 0, counters as JSON), and says in one line what is wrong with bad input."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from meters.validate import topic_of
from tests.meters.conftest import client_id, count, wait_for

ROOT = Path(__file__).resolve().parents[2]


def test_listen_process_stores_and_stops_on_sigterm(meters_db, broker, publisher, db_url):
    env = {**os.environ, "DATABASE_URL": db_url}
    proc = subprocess.Popen([sys.executable, "-m", "meters", "listen", "--mqtt-url", broker.url, "--client-id",
                             client_id(), "--flush-ms", "20", "--report-s", "0", "--json"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True).start()  # type: ignore[arg-type]
    try:
        wait_for(lambda: any("subscribed" in line for line in lines), timeout=30, what="the listener subscribed")
        t0 = datetime(2026, 10, 1, tzinfo=UTC)
        for i in range(50):
            publisher.publish("M-2", t0 + timedelta(hours=i), 3.0 * i)
        publisher.publish_raw(topic_of("M-2"), b"not json")
        assert publisher.flush()
        wait_for(lambda: count(meters_db, "SELECT count(*) FROM meter_readings") == 50
                 and count(meters_db, "SELECT count(*) FROM meter_rejects") == 1, what="50 readings and 1 reject")
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    stats = json.loads(out)
    assert stats["stored"] == 50 and stats["rejected"] == 1 and stats["acked"] == 51


def test_listen_unreachable_database_is_one_line(tmp_path):
    env = {**os.environ, "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"}
    res = subprocess.run([sys.executable, "-m", "meters", "listen", "--duration", "1"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("error: ") and "Traceback" not in res.stderr
