"""PostGIS access of the DMA package: topology, membership, outlines, meters and readings,
nights and alarms. Functions take an open ``Connection`` (the caller owns the transaction)."""
from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Connection, bindparam, column, select, table, text

from dma.balance import Reading


def water_networks(conn: Connection) -> list[int]:
    return [int(r[0]) for r in conn.execute(text(
        "SELECT id FROM networks WHERE resource IN ('cold_water', 'hot_water') ORDER BY id"))]


def network_exists(conn: Connection, network_id: int) -> bool:
    return conn.execute(text("SELECT 1 FROM networks WHERE id = :n"), {"n": network_id}).first() is not None


def topology(conn: Connection, network_id: int) -> dict[str, Any]:
    """Pipes as (id, from, to), the cuts (closed valves and inlet points), the inlets, the pipes with
    a service connection (str ids)."""
    pipes = [(str(r.id), str(r.from_node), str(r.to_node)) for r in conn.execute(text(
        "SELECT id, from_node, to_node FROM pipes WHERE network_id = :n ORDER BY id"), {"n": network_id})]
    closed = [(str(r.pipe_id), str(r.node_id)) for r in conn.execute(text(
        "SELECT pipe_id, node_id FROM valves WHERE network_id = :n AND status = 'closed'"), {"n": network_id})]
    inlets = [(int(r.meter_id), str(r.pipe_id), str(r.node_id)) for r in conn.execute(text("""
        SELECT i.meter_id, i.pipe_id, i.node_id FROM dma_inlets i JOIN pipes p ON p.id = i.pipe_id
        JOIN meters m ON m.id = i.meter_id
        WHERE p.network_id = :n AND m.removed_on IS NULL ORDER BY i.meter_id"""), {"n": network_id})]
    served = {str(r[0]) for r in conn.execute(text(
        "SELECT DISTINCT pipe_id FROM service_connections WHERE network_id = :n"), {"n": network_id})}
    return {"pipes": pipes, "closed": closed, "inlets": inlets, "served": served}


def dmas_of_network(conn: Connection, network_id: int, source: str) -> list[dict[str, Any]]:
    rows = conn.execute(text("""
        SELECT d.id, d.name, coalesce(array_agg(dp.pipe_id) FILTER (WHERE dp.pipe_id IS NOT NULL), '{}') AS pipes
        FROM dmas d LEFT JOIN dma_pipes dp ON dp.dma_id = d.id
        WHERE d.network_id = :n AND d.source = :s GROUP BY d.id ORDER BY d.id"""), {"n": network_id, "s": source})
    return [{"id": r.id, "name": r.name, "pipes": {str(p) for p in r.pipes}} for r in rows]


def dma_names(conn: Connection, network_id: int) -> set[str]:
    return {r[0] for r in conn.execute(text("SELECT name FROM dmas WHERE network_id = :n"), {"n": network_id})}


def insert_dma(conn: Connection, network_id: int, name: str, source: str, author: str) -> int:
    return int(conn.execute(text("""
        INSERT INTO dmas (network_id, name, source, created_by) VALUES (:n, :name, :s, :a) RETURNING id"""),
        {"n": network_id, "name": name, "s": source, "a": author}).scalar_one())


def delete_dmas(conn: Connection, ids: Sequence[int]) -> None:
    if ids:
        conn.execute(text("DELETE FROM dmas WHERE id IN :ids").bindparams(bindparam("ids", expanding=True)),
                     {"ids": list(ids)})


def set_members(conn: Connection, dma_id: int, pipe_ids: Iterable[str]) -> None:
    """The DMA's pipes, its buildings (those connected to one of its pipes) and its outline."""
    ids = sorted(int(p) for p in pipe_ids)
    conn.execute(text("DELETE FROM dma_pipes WHERE dma_id = :d"), {"d": dma_id})
    conn.execute(text("DELETE FROM dma_buildings WHERE dma_id = :d"), {"d": dma_id})
    conn.execute(text("INSERT INTO dma_pipes (dma_id, pipe_id) SELECT :d, unnest(CAST(:p AS bigint[]))"),
                 {"d": dma_id, "p": ids})
    conn.execute(text("""
        INSERT INTO dma_buildings (dma_id, building_id)
        SELECT DISTINCT :d, sc.building_id FROM service_connections sc JOIN dma_pipes dp ON dp.pipe_id = sc.pipe_id
        WHERE dp.dma_id = :d"""), {"d": dma_id})
    set_outline(conn, dma_id)


def set_outline(conn: Connection, dma_id: int) -> None:
    """Outline = union of 30 m buffers round the DMA's pipes and buildings, simplified."""
    conn.execute(text("""
        UPDATE dmas d SET geom = (
            SELECT ST_Multi(ST_CollectionExtract(ST_SimplifyPreserveTopology(
                       ST_Union(ST_Buffer(CAST(s.g AS geography), 30)::geometry), 0.00005), 3))
            FROM (SELECT p.geom AS g FROM dma_pipes dp JOIN pipes p ON p.id = dp.pipe_id WHERE dp.dma_id = :d
                  UNION ALL
                  SELECT b.geom FROM dma_buildings db JOIN buildings b ON b.id = db.building_id
                  WHERE db.dma_id = :d) s)
        WHERE d.id = :d"""), {"d": dma_id})


def set_flows(conn: Connection, dma_id: int, flows: Iterable[tuple[int, int]]) -> None:
    conn.execute(text("DELETE FROM dma_flows WHERE dma_id = :d"), {"d": dma_id})
    for meter_id, sign in flows:
        conn.execute(text("INSERT INTO dma_flows (dma_id, meter_id, sign) VALUES (:d, :m, :s)"),
                     {"d": dma_id, "m": meter_id, "s": sign})
        if sign > 0:
            conn.execute(text("UPDATE meters SET dma_id = :d WHERE id = :m"), {"d": dma_id, "m": meter_id})


def insert_drawn(conn: Connection, network_id: int, name: str, geojson: str, author: str) -> int:
    return int(conn.execute(text("""
        INSERT INTO dmas (network_id, name, source, geom, created_by)
        VALUES (:n, :name, 'drawn', ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_SetSRID(ST_GeomFromGeoJSON(:g), 4326)), 3)), :a)
        RETURNING id"""), {"n": network_id, "name": name, "g": geojson, "a": author}).scalar_one())


def drawn_members(conn: Connection, dma_id: int) -> None:
    """A drawn DMA holds the pipes whose midpoint lies inside its outline and the buildings
    connected to them; its flows: inlets on its pipes (+1), inlets on pipes outside that start at
    one of its pipes' ends (-1)."""
    conn.execute(text("""
        INSERT INTO dma_pipes (dma_id, pipe_id)
        SELECT d.id, p.id FROM dmas d JOIN pipes p ON p.network_id = d.network_id
        WHERE d.id = :d AND ST_Intersects(d.geom, ST_LineInterpolatePoint(p.geom, 0.5))"""), {"d": dma_id})
    conn.execute(text("""
        INSERT INTO dma_buildings (dma_id, building_id)
        SELECT DISTINCT :d, sc.building_id FROM service_connections sc JOIN dma_pipes dp ON dp.pipe_id = sc.pipe_id
        WHERE dp.dma_id = :d"""), {"d": dma_id})
    conn.execute(text("""
        INSERT INTO dma_flows (dma_id, meter_id, sign)
        SELECT :d, i.meter_id, CASE WHEN EXISTS (SELECT 1 FROM dma_pipes x WHERE x.dma_id = :d AND x.pipe_id = i.pipe_id)
                                    THEN 1 ELSE -1 END
        FROM dma_inlets i
        WHERE EXISTS (SELECT 1 FROM dma_pipes x WHERE x.dma_id = :d AND x.pipe_id = i.pipe_id)
           OR EXISTS (SELECT 1 FROM dma_pipes x JOIN pipes p ON p.id = x.pipe_id
                      WHERE x.dma_id = :d AND i.node_id IN (p.from_node, p.to_node))"""), {"d": dma_id})


def list_dmas(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(text("""
        SELECT d.id, d.network_id, d.name, d.source,
               (SELECT count(*) FROM dma_pipes x WHERE x.dma_id = d.id) AS pipes,
               (SELECT count(*) FROM dma_buildings x WHERE x.dma_id = d.id) AS buildings,
               (SELECT coalesce(sum(b.residents), 0) FROM dma_buildings x JOIN buildings b ON b.id = x.building_id
                WHERE x.dma_id = d.id) AS residents,
               (SELECT count(*) FROM dma_flows f WHERE f.dma_id = d.id AND f.sign > 0) AS inlets,
               ST_AsGeoJSON(d.geom, 6) AS outline,
               ST_X(ST_PointOnSurface(d.geom)) AS lon, ST_Y(ST_PointOnSurface(d.geom)) AS lat
        FROM dmas d ORDER BY d.id"""))
    return [dict(r._mapping) for r in rows]


def get_dma(conn: Connection, dma_id: int) -> dict[str, Any] | None:
    return next((d for d in list_dmas(conn) if d["id"] == dma_id), None)


def flows(conn: Connection) -> dict[int, list[tuple[int, int]]]:
    """DMA id -> [(meter id, sign)]."""
    out: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for r in conn.execute(text("SELECT dma_id, meter_id, sign FROM dma_flows ORDER BY dma_id, meter_id")):
        out[int(r.dma_id)].append((int(r.meter_id), int(r.sign)))
    return out


def building_meters(conn: Connection) -> dict[int, list[int]]:
    """DMA id -> the cold-water building meters of its buildings (in service)."""
    out: dict[int, list[int]] = defaultdict(list)
    for r in conn.execute(text("""
        SELECT db.dma_id, m.id FROM dma_buildings db JOIN meters m ON m.building_id = db.building_id
        WHERE m.kind = 'building' AND m.resource = 'cold_water' AND m.removed_on IS NULL
        ORDER BY db.dma_id, m.id""")):
        out[int(r.dma_id)].append(int(r.id))
    return out


def readings(conn: Connection, meter_ids: Iterable[int], start: datetime, end: datetime) -> dict[int, list[Reading]]:
    ids = sorted(set(meter_ids))
    out: dict[int, list[Reading]] = {m: [] for m in ids}
    if not ids:
        return out
    rows = conn.execute(text("""
        SELECT meter_id, ts, total FROM meter_readings
        WHERE meter_id = ANY(CAST(:ids AS bigint[])) AND ts BETWEEN :a AND :b ORDER BY meter_id, ts"""),
        {"ids": ids, "a": start, "b": end})
    for r in rows:
        out[int(r.meter_id)].append((r.ts, float(r.total)))
    return out


def nights(conn: Connection, dma_id: int, since: date, until: date) -> dict[date, dict[str, Any]]:
    rows = conn.execute(text("""
        SELECT day, mnf_m3h, baseline_m3h, verdict FROM dma_nights
        WHERE dma_id = :d AND day BETWEEN :a AND :b ORDER BY day"""), {"d": dma_id, "a": since, "b": until})
    return {r.day: dict(r._mapping) for r in rows}


def all_nights(conn: Connection, since: date, until: date) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(text("""
        SELECT dma_id, day, mnf_m3h, baseline_m3h, verdict FROM dma_nights
        WHERE day BETWEEN :a AND :b ORDER BY dma_id, day"""), {"a": since, "b": until})]


def save_night(conn: Connection, dma_id: int, day: date, mnf: float | None, base: float | None, verdict: str) -> None:
    conn.execute(text("""
        INSERT INTO dma_nights (dma_id, day, mnf_m3h, baseline_m3h, verdict) VALUES (:d, :day, :m, :b, :v)
        ON CONFLICT (dma_id, day) DO UPDATE SET mnf_m3h = EXCLUDED.mnf_m3h, baseline_m3h = EXCLUDED.baseline_m3h,
            verdict = EXCLUDED.verdict, checked_at = now()"""), {"d": dma_id, "day": day, "m": mnf, "b": base, "v": verdict})


def open_alarm(conn: Connection, dma_id: int) -> dict[str, Any] | None:
    r = conn.execute(text("SELECT * FROM dma_alarms WHERE dma_id = :d AND state = 'open' FOR UPDATE"),
                     {"d": dma_id}).first()
    return dict(r._mapping) if r else None


_ALARM_FIELDS = ("id", "dma_id", "state", "opened_on", "last_high_on", "cleared_on", "normal_nights", "baseline_m3h",
                 "peak_mnf_m3h", "incident_id", "created_at")
_alarms = table("dma_alarms", *(column(k) for k in _ALARM_FIELDS))
_dmas = table("dmas", column("id"), column("name"))
_incidents = table("incidents", column("id", BigInteger), column("status"))


def alarms(conn: Connection, *, open_only: bool = False) -> list[dict[str, Any]]:
    """The alarms (only the open ones), newest first, with their DMA's name and their incident's status."""
    a, d, i = _alarms.alias("a"), _dmas.alias("d"), _incidents.alias("i")
    stmt = (select(*(a.c[k] for k in _ALARM_FIELDS), d.c.name.label("dma_name"), i.c.status.label("incident_status"))
            .select_from(a.join(d, d.c.id == a.c.dma_id).outerjoin(i, i.c.id == a.c.incident_id))
            .order_by(a.c.opened_on.desc(), a.c.id.desc()))
    if open_only:
        stmt = stmt.where(a.c.state == "open")
    return [dict(r._mapping) for r in conn.execute(stmt)]


def outline_geojson(conn: Connection, dma_id: int) -> dict[str, Any] | None:
    g = conn.execute(text("SELECT ST_AsGeoJSON(geom, 6) FROM dmas WHERE id = :d"), {"d": dma_id}).scalar()
    return json.loads(g) if g else None


def readings_around(conn: Connection, meter_ids: Iterable[int], instants: Sequence[datetime]) -> dict[int, list[Reading]]:
    """For each meter only the readings bracketing each instant (the last at or before it, the first at
    or after it): all that a difference of interpolated totals needs, at a fraction of the rows."""
    ids = sorted(set(meter_ids))
    out: dict[int, list[Reading]] = {m: [] for m in ids}
    if not ids or not instants:
        return out
    rows = conn.execute(text("""
        SELECT DISTINCT m.id AS meter_id, x.ts, x.total
        FROM unnest(CAST(:ids AS bigint[])) AS m(id) CROSS JOIN unnest(CAST(:at AS timestamptz[])) AS i(t)
        CROSS JOIN LATERAL (
            (SELECT r.ts, r.total FROM meter_readings r WHERE r.meter_id = m.id AND r.ts <= i.t ORDER BY r.ts DESC LIMIT 1)
            UNION ALL
            (SELECT r.ts, r.total FROM meter_readings r WHERE r.meter_id = m.id AND r.ts >= i.t ORDER BY r.ts LIMIT 1)
        ) x
        ORDER BY 1, 2"""), {"ids": ids, "at": list(instants)})
    for r in rows:
        out[int(r.meter_id)].append((r.ts, float(r.total)))
    return out


def alarm_outlines(conn: Connection) -> list[dict[str, Any]]:
    """The outlines (GeoJSON) of the DMAs in alarm, with the alarm's incident."""
    rows = conn.execute(text("""
        SELECT d.id, d.name, a.incident_id, a.opened_on, ST_AsGeoJSON(d.geom, 6) AS outline
        FROM dma_alarms a JOIN dmas d ON d.id = a.dma_id
        WHERE a.state = 'open' AND d.geom IS NOT NULL ORDER BY d.id"""))
    return [dict(r._mapping) for r in rows]
