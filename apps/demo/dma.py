"""``python -m dma demo``: district metered areas in the demo city, with ~30 days of hourly meter
readings and a leak, so that the balance page has figures and one alarm has become an incident.

Deterministic for a seed (except that the window ends at the current hour): the network is split
into zones of whole valve segments (``dma.derive.plan_zones``), the boundary valves are closed and
one valve per zone stays open with an inlet meter ``DMA-<id>-IN``; a source's outlet pipe carries
the meter of the zone it feeds. Every building gets a cold-water meter ``B-<id>-CW`` where it has
none. Readings: buildings follow a daily demand shape (``demand_factor``, written here: the
meters-ingest branch had no shared one yet) with noise; each zone loses 8-18 % of its demand as
background leakage (a constant flow, visible at night), and one zone gets a leak a few nights ago.
"""
from __future__ import annotations

import io
import math
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Connection, text

from auth.model import Actor
from dma import service, store
from dma.derive import plan_zones
from dma.errors import DmaError
from dma.rules import region_timezone, rules_from_settings
from gis.network_repo import load_network, set_valve_status
from ops import audit
from ops import dma as dma_ops
from ops.base import allow
from settings import get_settings

DAYS = 30
ZONES = 6
LITRES_PER_PERSON_DAY = 140.0
LEAK_NIGHTS_AGO = 4

# hourly demand factors (mean 1.0): night minimum, morning and evening peaks
_SHAPE = np.array([0.35, 0.28, 0.25, 0.25, 0.3, 0.55, 1.1, 1.65, 1.7, 1.35, 1.15, 1.1,
                   1.15, 1.05, 0.95, 0.95, 1.05, 1.3, 1.55, 1.6, 1.4, 1.1, 0.75, 0.5])
_SHAPE = _SHAPE / _SHAPE.mean()


def demand_factor(local_hour: float, weekday: int) -> float:
    """Relative water demand at a local hour (0-24, linear between hours) and weekday (5, 6 =
    weekend: the morning peak comes 1.5 h later and lower)."""
    h = local_hour - 1.5 if weekday >= 5 and 5 <= local_hour <= 12 else local_hour
    i = int(math.floor(h)) % 24
    f = h - math.floor(h)
    v = _SHAPE[i] * (1 - f) + _SHAPE[(i + 1) % 24] * f
    return float(v * (0.9 if weekday >= 5 and 6 <= local_hour <= 10 else 1.0))



def _network_id(conn: Connection) -> int | None:
    return conn.execute(text("SELECT id FROM networks WHERE name = :n"),
                        {"n": get_settings().demo_network_name}).scalar()


def demo(conn: Connection, *, actor: Actor, seed: int = 42, if_missing: bool = False,
         now: datetime | None = None) -> dict[str, Any]:
    """The demo's areas, meters, readings and judged nights in ``conn``'s transaction (``demo.reload``)."""
    allow(actor, "demo.reload")
    net = _network_id(conn)
    if net is None:
        raise DmaError("the demo city is not loaded; run: python -m data load-demo")
    has = conn.execute(text("SELECT count(*) FROM dmas WHERE network_id = :n"), {"n": net}).scalar_one()
    if if_missing and has:
        return {"skipped": True, "network_id": net, "dmas": has}
    rng = np.random.default_rng(seed)
    tz = region_timezone()
    rules = rules_from_settings()
    now = (now or datetime.now(timezone.utc)).replace(minute=0, second=0, microsecond=0)
    z = ZoneInfo(tz)
    first_day = now.astimezone(z).date() - timedelta(days=DAYS)
    start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=z).astimezone(timezone.utc)

    # 1. zones, boundary valves, inlet meters
    existing_inlets = conn.execute(text("""
        SELECT count(*) FROM dma_inlets i JOIN pipes p ON p.id = i.pipe_id WHERE p.network_id = :n"""),
        {"n": net}).scalar_one()
    if not existing_inlets:
        model = load_network(conn, net)
        xy = {str(r.id): (r.x, r.y) for r in conn.execute(text("""
            SELECT id, ST_X(ST_Transform(geom, 3067)) AS x, ST_Y(ST_Transform(geom, 3067)) AS y
            FROM nodes WHERE network_id = :n"""), {"n": net})}
        plan = plan_zones(model, xy, ZONES)
        for v in plan.close:
            set_valve_status(conn, int(v), "closed")
        points = [(p, n) for _v, p, n, _z in plan.inlets] + [(p, n) for p, n, _z in plan.source_inlets]
        for i, (p, n) in enumerate(points):
            mid = conn.execute(text("""
                INSERT INTO meters (serial, resource, kind, install_date) VALUES (:s, 'cold_water', 'dma_inlet', :d)
                ON CONFLICT (serial) DO UPDATE SET removed_on = NULL RETURNING id"""),
                {"s": f"DMA-NEW-{p}-{n}", "d": first_day}).scalar_one()
            conn.execute(text("INSERT INTO dma_inlets (meter_id, pipe_id, node_id) VALUES (:m, :p, :n)"),
                         {"m": mid, "p": int(p), "n": int(n)})
            del i
    dmas = dma_ops.derive_on(conn, actor, [net])
    # inlet meters named after the DMA they feed
    for d in dmas:
        ins = [r[0] for r in conn.execute(text(
            "SELECT meter_id FROM dma_flows WHERE dma_id = :d AND sign > 0 ORDER BY meter_id"), {"d": d["id"]})]
        for k, mid in enumerate(ins):
            serial = f"DMA-{d['id']}-IN" + ("" if k == 0 else str(k + 1))
            conn.execute(text("UPDATE meters SET serial = :s WHERE id = :m AND serial <> :s"), {"s": serial, "m": mid})

    # 2. building meters where missing
    conn.execute(text("""
        INSERT INTO meters (serial, resource, kind, building_id, install_date)
        SELECT 'B-' || b.id || '-CW', 'cold_water', 'building', b.id, :d FROM buildings b
        WHERE NOT EXISTS (SELECT 1 FROM meters m WHERE m.building_id = b.id AND m.kind = 'building'
                          AND m.resource = 'cold_water' AND m.removed_on IS NULL)
        ON CONFLICT (serial) DO NOTHING"""), {"d": first_day})

    # 3. hourly demand of every building in a DMA
    hours = [start + timedelta(hours=h) for h in range(int((now - start).total_seconds() // 3600) + 1)]
    local = [t.astimezone(z) for t in hours]
    shape = np.array([demand_factor(t.hour + t.minute / 60, t.weekday()) for t in local])
    members = conn.execute(text("""
        SELECT db.dma_id, b.id AS building_id, b.residents, b.kind, m.id AS meter_id,
               EXISTS (SELECT 1 FROM meter_readings r WHERE r.meter_id = m.id AND r.ts >= :a) AS has_readings
        FROM dma_buildings db JOIN buildings b ON b.id = db.building_id
        JOIN dmas d ON d.id = db.dma_id AND d.network_id = :n AND d.source = 'derived'
        JOIN meters m ON m.building_id = b.id AND m.kind = 'building' AND m.resource = 'cold_water' AND m.removed_on IS NULL
        ORDER BY db.dma_id, b.id, m.id"""), {"n": net, "a": start}).all()
    own = defaultdict(lambda: np.zeros(len(hours)))       # DMA -> m³ per hour (billed demand)
    before = {m: float(t) for m, t in conn.execute(text("""
        SELECT DISTINCT ON (meter_id) meter_id, total FROM meter_readings
        WHERE meter_id = ANY(CAST(:m AS bigint[])) AND ts < :a ORDER BY meter_id, ts DESC"""),
        {"m": sorted({r.meter_id for r in members}), "a": start})}
    replaced: list[int] = []
    buf = io.StringIO()
    written_buildings = 0
    seen_building: set[int] = set()
    for r in members:
        if r.building_id in seen_building:
            continue
        seen_building.add(r.building_id)
        people = max(int(r.residents or 0), 8 if r.kind != "residential" else 2)
        per_hour = people * LITRES_PER_PERSON_DAY / 1000.0 / 24.0
        noise = rng.lognormal(0.0, 0.15, len(hours))
        q = per_hour * shape * noise                       # m³ in the hour ending at hours[i]
        q[0] = 0.0
        start_total = float(rng.uniform(100, 5000))
        if r.has_readings or r.meter_id in before:
            # someone else's readings (the billing demo's, once a month): the hourly series continues
            # from the last one before the window and replaces theirs inside it (a register never goes back)
            start_total = max(start_total, before.get(r.meter_id, 0.0))
            replaced.append(r.meter_id)
        own[r.dma_id] += q
        total = np.cumsum(q) + start_total
        for t, v in zip(hours, total):
            buf.write(f"{r.meter_id}\t{t.isoformat()}\t{v:.4f}\n")
        written_buildings += 1

    # 4. losses per DMA, a leak in one of them; inlet flows along the feed tree
    flows = store.flows(conn)
    ids = [d["id"] for d in dmas]
    loss_share = {d: float(rng.uniform(0.08, 0.18)) for d in ids}
    net_in = {}
    leak_dma = sorted(ids, key=lambda d: (-float(own[d].sum()), d))[min(1, len(ids) - 1)] if ids else None
    leak_start = datetime.combine(now.astimezone(z).date() - timedelta(days=LEAK_NIGHTS_AGO - 1),
                                  datetime.min.time(), tzinfo=z).astimezone(timezone.utc) - timedelta(hours=1)
    for d in ids:
        base_loss = own[d].mean() * loss_share[d] / (1 - loss_share[d])
        q = own[d] + base_loss
        q[0] = 0.0
        if d == leak_dma:
            night = own[d].reshape(-1)[[i for i, t in enumerate(local) if 2 <= t.hour < 4]].mean() + base_loss
            leak = max(1.0, night * 1.2)
            q = q + np.array([leak if t > leak_start else 0.0 for t in hours])
        net_in[d] = q
    # meter flow = what the DMA it feeds takes in, plus what that DMA passes on (children first)
    feeds = {m: d for d, fl in flows.items() if d in net_in for m, s in fl if s > 0}
    passes = {d: [m for m, s in flows.get(d, []) if s < 0] for d in ids}
    memo: dict[int, np.ndarray] = {}

    def meter_flow(m: int, depth: int = 0) -> np.ndarray:
        if m in memo:
            return memo[m]
        d = feeds[m]
        n_in = sum(1 for _m, s in flows[d] if s > 0)
        q = net_in[d].copy()
        if depth < 50:
            for out in passes[d]:
                if out in feeds:
                    q = q + meter_flow(out, depth + 1)
        memo[m] = q / n_in
        return memo[m]

    inlet_ids = sorted(feeds)
    conn.execute(text("DELETE FROM meter_readings WHERE meter_id = ANY(CAST(:m AS bigint[])) AND ts >= :a"),
                 {"m": replaced, "a": start})
    conn.execute(text("DELETE FROM meter_readings WHERE meter_id = ANY(CAST(:m AS bigint[])) AND ts >= :a"),
                 {"m": inlet_ids, "a": start})
    for m in inlet_ids:
        total = np.cumsum(meter_flow(m)) + float(rng.uniform(10_000, 90_000))
        for t, v in zip(hours, total):
            buf.write(f"{m}\t{t.isoformat()}\t{v:.4f}\n")
    raw = conn.connection.driver_connection
    with raw.cursor().copy("COPY meter_readings (meter_id, ts, total) FROM STDIN") as cp:  # type: ignore[union-attr]
        cp.write(buf.getvalue())
    conn.execute(text("ANALYZE meter_readings"))  # a bulk write, read below: statistics (autovacuum may be off)

    # 5. judge every night of the window in order (the first ones only learn the baseline)
    conn.execute(text("DELETE FROM dma_nights WHERE dma_id = ANY(CAST(:d AS int[]))"), {"d": ids})
    # a rerun replaces the demo's alarms, and the sensor incidents they had opened
    conn.execute(text("""DELETE FROM incidents WHERE channel = 'sensor' AND id IN (
                             SELECT incident_id FROM dma_alarms WHERE dma_id = ANY(CAST(:d AS int[])))"""), {"d": ids})
    conn.execute(text("DELETE FROM dma_alarms WHERE dma_id = ANY(CAST(:d AS int[]))"), {"d": ids})
    day = first_day + timedelta(days=1)
    last = service.default_night(tz, rules, now)
    actions: dict[str, int] = defaultdict(int)
    while day <= last:
        for r in dma_ops.check_night_on(conn, actor, day, rules=rules, tz=tz, now=now):
            actions[r["action"]] += 1
        day += timedelta(days=1)
    audit.record(conn, actor=actor.author, action="dma.demo", object_type="network", object_id=net,
                 details={"dmas": ids, "leak_dma": leak_dma, "seed": seed})
    return {"network_id": net, "dmas": len(ids), "inlet_meters": len(inlet_ids), "building_meters_fed": written_buildings,
            "hours": len(hours), "leak_dma": leak_dma, "nights": dict(actions)}
