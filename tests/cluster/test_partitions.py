"""Monthly partitions of ``meter_readings`` and ``audit_events`` (migration 0024): a row without its month
lands in the default partition, creating the month moves it there, retention drops whole old months, the
command does both and says what it did; a reading by meter and time range reads one partition."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from sqlalchemy import Engine, text

from tests.cluster.conftest import ROOT


def _partition_of(conn, table: str, where: str) -> str:
    return conn.execute(text(f"SELECT tableoid::regclass::text FROM {table} WHERE {where}")).scalar_one()


def test_months_default_and_retention(clean_engine: Engine) -> None:
    with clean_engine.begin() as conn:
        kinds = dict(conn.execute(text("SELECT relname, relkind FROM pg_class WHERE relname IN "
                                       "('meter_readings', 'audit_events')")).all())
        assert kinds == {"meter_readings": "p", "audit_events": "p"}
        conn.execute(text("INSERT INTO meters (serial, resource, kind, install_date) "
                          "VALUES ('P-1', 'cold_water', 'source', '2000-01-01')"))
        conn.execute(text("INSERT INTO meter_readings (meter_id, ts, total) SELECT id, t, 1 FROM meters, "
                          "(VALUES (TIMESTAMPTZ '2001-03-05 10:00+00'), (now())) v(t)"))
        assert _partition_of(conn, "meter_readings", "ts < '2002-01-01'") == "meter_readings_default"
        assert _partition_of(conn, "meter_readings", "ts > '2002-01-01'").startswith("meter_readings_20")
        made = conn.execute(text("SELECT zhkh_ensure_month_partitions('meter_readings', 'ts', '2001-02-01', "
                                 "'2001-04-01')")).scalar_one()
        assert made == 2
        assert _partition_of(conn, "meter_readings", "ts < '2002-01-01'") == "meter_readings_200103"
        assert conn.execute(text("SELECT zhkh_drop_month_partitions('meter_readings', '2001-04-01')")).scalar_one() == 2
        assert conn.execute(text("SELECT count(*) FROM meter_readings")).scalar_one() == 1
        plan = "\n".join(r[0] for r in conn.execute(text(
            "EXPLAIN SELECT * FROM meter_readings WHERE meter_id = 1 AND ts >= date_trunc('month', now()) "
            "AND ts < date_trunc('month', now()) + interval '1 day'")))
        assert plan.count("Index Scan using meter_readings_") == 1, plan  # one partition (pruned at run time), by its index
        conn.execute(text("INSERT INTO audit_events (actor, action) VALUES ('t', 'test.partition')"))
        assert _partition_of(conn, "audit_events", "action = 'test.partition'").startswith("audit_events_20")


def test_the_partitions_command(clean_engine: Engine, db_url: str) -> None:
    done = subprocess.run([sys.executable, "-m", "scripts.cluster", "partitions", "--database-url", db_url],
                          cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "ZHKH_PARTITIONS_AHEAD_MONTHS": "14"})
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert set(out) == {"meter_readings", "audit_events"}
    assert out["meter_readings"]["created"] >= 10 and out["meter_readings"]["dropped"] == 0
