"""The SQL of the meters package (psycopg 3, no ORM: the listener writes thousands of rows a second).

A batch is written in ONE transaction: the neighbours of its readings are read, :func:`meters.validate.decide`
splits it, the readings are inserted with ``ON CONFLICT (meter_id, ts) DO NOTHING`` and the rejects
appended; an advisory lock makes read-decide-insert atomic against another listener on the same
database.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from meters.validate import Neighbours

__all__ = ["conninfo", "connect", "meter_ids", "neighbours", "insert_readings", "insert_rejects",
           "lock_batch", "list_meters", "latest_readings"]

BATCH_LOCK = 0x6D657472  # pg_advisory_xact_lock key of the listener's batches ("metr")


def conninfo(url: str) -> str:
    """A libpq URL from an SQLAlchemy one (``postgresql+psycopg://`` -> ``postgresql://``)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def connect(url: str, *, timeout_s: float = 5.0) -> psycopg.Connection[Any]:
    conn = psycopg.connect(conninfo(url), connect_timeout=max(1, int(timeout_s)), autocommit=False,
                           application_name="zhkh-meters")
    return conn


def meter_ids(conn: psycopg.Connection[Any], serials: Sequence[str]) -> dict[str, int]:
    """Serial -> meter id for the serials that exist (removed meters included: their history stays)."""
    if not serials:
        return {}
    rows = conn.execute("SELECT serial, id FROM meters WHERE serial = ANY(%s)", (list(serials),)).fetchall()
    return {s: int(i) for s, i in rows}


def lock_batch(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (BATCH_LOCK,))


_NEIGHBOURS = """
SELECT c.k,
       (SELECT r.total FROM meter_readings r WHERE r.meter_id = c.m AND r.ts = c.t),
       p.ts, p.total, n.ts, n.total
FROM unnest(%s::int[], %s::bigint[], %s::timestamptz[]) AS c(k, m, t)
LEFT JOIN LATERAL (SELECT r.ts, r.total FROM meter_readings r WHERE r.meter_id = c.m AND r.ts < c.t
                   ORDER BY r.ts DESC LIMIT 1) p ON true
LEFT JOIN LATERAL (SELECT r.ts, r.total FROM meter_readings r WHERE r.meter_id = c.m AND r.ts > c.t
                   ORDER BY r.ts LIMIT 1) n ON true
"""


_LATEST = """
SELECT c.m, l.ts, l.total
FROM unnest(%s::bigint[]) AS c(m)
JOIN LATERAL (SELECT r.ts, r.total FROM meter_readings r WHERE r.meter_id = c.m ORDER BY r.ts DESC LIMIT 1) l ON true
"""


def neighbours(conn: psycopg.Connection[Any], keys: Sequence[int], meter_ids_: Sequence[int],
               times: Sequence[datetime]) -> dict[int, Neighbours]:
    """For each candidate ``(key, meter, ts)``: the stored total at ts, the one before and the one after.

    The usual reading is newer than everything stored for its meter: one probe per meter (its latest
    reading) answers for all those; only the others (late or repeated) are looked up one by one.
    """
    if not keys:
        return {}
    latest = {int(m): (ts, total) for m, ts, total in conn.execute(_LATEST, (sorted(set(meter_ids_)),))}
    out: dict[int, Neighbours] = {}
    late_k: list[int] = []
    late_m: list[int] = []
    late_t: list[datetime] = []
    for k, m, t in zip(keys, meter_ids_, times):
        last = latest.get(m)
        if last is None:
            continue
        if t > last[0]:
            out[k] = Neighbours(None, last[0], last[1], None, None)
        else:
            late_k.append(k)
            late_m.append(m)
            late_t.append(t)
    if late_k:
        for k, same, pts, ptot, nts, ntot in conn.execute(_NEIGHBOURS, (late_k, late_m, late_t)):
            out[k] = Neighbours(same, pts, ptot, nts, ntot)
    return out


def insert_readings(conn: psycopg.Connection[Any], rows: Sequence[tuple[int, datetime, float, datetime]]) -> int:
    """Insert ``(meter_id, ts, total, received_at)`` rows; an existing (meter, ts) is left alone."""
    if not rows:
        return 0
    m, t, v, r = (list(c) for c in zip(*rows))
    cur = conn.execute(
        "INSERT INTO meter_readings (meter_id, ts, total, received_at) "
        "SELECT * FROM unnest(%s::bigint[], %s::timestamptz[], %s::float8[], %s::timestamptz[]) "
        "ON CONFLICT (meter_id, ts) DO NOTHING", (m, t, v, r))
    return cur.rowcount


def insert_rejects(conn: psycopg.Connection[Any], rows: Sequence[tuple[str, str, str, datetime]]) -> None:
    """Append ``(topic, payload, reason, received_at)`` rows to meter_rejects."""
    if not rows:
        return
    a, b, c, d = (list(x) for x in zip(*rows))
    conn.execute("INSERT INTO meter_rejects (topic, payload, reason, received_at) "
                 "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[])", (a, b, c, d))


def list_meters(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """The meters in service, with what the simulator needs to shape their flow."""
    rows = conn.execute("""
        SELECT m.id, m.serial, m.kind, m.resource, m.building_id, m.premises_id, m.dma_id,
               coalesce(b.residents, 0) AS residents,
               (SELECT count(*) FROM premises p WHERE p.building_id = m.building_id) AS flats
        FROM meters m LEFT JOIN buildings b ON b.id = m.building_id
        WHERE m.removed_on IS NULL
        ORDER BY m.id""").fetchall()
    cols = ("id", "serial", "kind", "resource", "building_id", "premises_id", "dma_id", "residents", "flats")
    return [dict(zip(cols, r)) for r in rows]


def latest_readings(conn: psycopg.Connection[Any]) -> dict[int, tuple[datetime, float]]:
    """Meter id -> (ts, total) of its latest stored reading."""
    rows = conn.execute("""
        SELECT m.id, r.ts, r.total FROM meters m
        JOIN LATERAL (SELECT ts, total FROM meter_readings r WHERE r.meter_id = m.id
                      ORDER BY ts DESC LIMIT 1) r ON true""").fetchall()
    return {int(i): (ts, float(t)) for i, ts, t in rows}
