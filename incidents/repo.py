"""SQL of the incidents domain. Every function takes an open ``Connection``; the caller owns
the transaction (``incidents/service.py`` decides where it begins and ends)."""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT

from incidents.model import DuplicateCandidate, Incident, Outage, OutageLink
from incidents.workflow import OPEN_STATUSES, Event

_PT = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)"
_OPEN = "('" + "', '".join(sorted(OPEN_STATUSES)) + "')"

INCIDENT_COLUMNS = """
    i.id, i.category, i.resource, i.priority, i.status, i.channel, i.service_code,
    ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat, i.address, i.building_id, i.pipe_id, i.network_id,
    i.description, i.reporter_name, i.reporter_phone, i.reporter_email, i.media_url, i.attributes,
    i.duplicate_of, i.outage_id, i.version, i.created_at, i.updated_at, i.accepted_at,
    i.resolved_at, i.closed_at, i.client_token
"""


def _incident(row: Any) -> Incident:
    return Incident(**row._mapping)


def _pyformat(sql: str) -> str:
    """``:name`` placeholders to psycopg's ``%(name)s`` (``::type`` casts are left alone)."""
    return re.sub(r"(?<![:\w]):([A-Za-z_]\w*)", r"%(\1)s", sql.replace("%", "%%"))


def _fetch_one_raw(conn: Connection, sql: str, params: dict[str, Any]) -> dict[str, Any] | None:
    """One row as a dict, straight from the psycopg cursor of ``conn`` (same transaction).

    For the intake hot path only: SQLAlchemy's result metadata for a 28-column ``text()`` row
    costs more CPU than the query itself (≈ 0.7 ms per statement, measured with yappi)."""
    from psycopg.rows import dict_row

    with conn.connection.dbapi_connection.cursor(row_factory=dict_row) as cur:  # type: ignore[union-attr]
        cur.execute(sql, params)
        return cur.fetchone()


# ---- service area and snapping ---------------------------------------------------------------

def service_area_hull_wkb(conn: Connection) -> bytes | None:
    """Convex hull of all buildings and pipes (WKB, EPSG:4326), None when both are empty."""
    return conn.execute(text("""
        SELECT ST_AsBinary(ST_ConvexHull(ST_Collect(g))) FROM (
            SELECT ST_ConvexHull(ST_Collect(geom)) AS g FROM buildings
            UNION ALL SELECT ST_ConvexHull(ST_Collect(geom)) FROM pipes
        ) s WHERE g IS NOT NULL
    """)).scalar()


def nearest_buildings(conn: Connection, lon: float, lat: float, limit: int = 5) -> list[dict[str, Any]]:
    """Buildings nearest to the point (index KNN), with the true distance in metres."""
    rows = conn.execute(text(f"""
        SELECT id, address, ST_Distance(geom::geography, {_PT}::geography) AS distance_m
        FROM buildings ORDER BY geom <-> {_PT} LIMIT :limit
    """), {"lon": lon, "lat": lat, "limit": limit}).mappings().all()
    return sorted((dict(r) for r in rows), key=lambda r: r["distance_m"])


def nearest_pipes(conn: Connection, lon: float, lat: float, limit: int = 10) -> list[dict[str, Any]]:
    """Pipes nearest to the point with their network's resource and distance in metres."""
    rows = conn.execute(text(f"""
        SELECT p.id, p.network_id, n.resource, ST_Distance(p.geom::geography, {_PT}::geography) AS distance_m
        FROM (SELECT id, network_id, geom FROM pipes ORDER BY geom <-> {_PT} LIMIT :limit) p
        JOIN networks n ON n.id = p.network_id
    """), {"lon": lon, "lat": lat, "limit": limit}).mappings().all()
    return sorted((dict(r) for r in rows), key=lambda r: r["distance_m"])


def building_location(conn: Connection, *, building_id: int | None = None,
                      address: str | None = None) -> dict[str, Any] | None:
    """A building by id or by exact (case-insensitive) address, with a point on its surface."""
    where = "id = :v" if building_id is not None else "lower(address) = lower(:v)"
    row = conn.execute(text(f"""
        SELECT id, address, ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat
        FROM buildings WHERE {where} ORDER BY id LIMIT 1
    """), {"v": building_id if building_id is not None else address}).mappings().first()
    return dict(row) if row else None


def random_buildings(conn: Connection, limit: int) -> list[dict[str, Any]]:
    rows = conn.execute(text("""
        SELECT id, address, ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat
        FROM buildings ORDER BY random() LIMIT :n
    """), {"n": limit}).mappings().all()
    return [dict(r) for r in rows]


def random_pipes_with_buildings(conn: Connection, limit: int) -> list[dict[str, Any]]:
    """Pipes with the buildings they feed (for simulated bursts)."""
    rows = conn.execute(text("""
        SELECT p.id, ST_X(ST_LineInterpolatePoint(p.geom, 0.5)) AS lon, ST_Y(ST_LineInterpolatePoint(p.geom, 0.5)) AS lat,
               coalesce(array_agg(sc.building_id) FILTER (WHERE sc.building_id IS NOT NULL), '{}') AS building_ids
        FROM (SELECT id, geom FROM pipes ORDER BY random() LIMIT :n) p
        LEFT JOIN service_connections sc ON sc.pipe_id = p.id
        GROUP BY p.id, p.geom
    """), {"n": limit}).mappings().all()
    return [dict(r) for r in rows]


# ---- duplicates and outages at intake --------------------------------------------------------

def duplicate_candidates(conn: Connection, *, category: str, lon: float, lat: float,
                         radius_m: float, since: datetime, limit: int = 10) -> list[DuplicateCandidate]:
    """Open incidents of ``category`` within ``radius_m`` of the point created after ``since``."""
    rows = conn.execute(text(f"""
        SELECT id, status, created_at, address, ST_Distance(geom::geography, {_PT}::geography) AS distance_m
        FROM incidents
        WHERE category = :category AND status IN {_OPEN} AND created_at >= :since
          AND ST_DWithin(geom::geography, {_PT}::geography, :radius)
        ORDER BY distance_m, created_at LIMIT :limit
    """), {"lon": lon, "lat": lat, "category": category, "since": since, "radius": radius_m,
           "limit": limit}).mappings().all()
    return [DuplicateCandidate(incident_id=r["id"], status=r["status"], distance_m=float(r["distance_m"]),
                               created_at=r["created_at"], address=r["address"]) for r in rows]


def active_outage_of_building(conn: Connection, building_id: int, resource: str) -> OutageLink | None:
    """The active outage (of a network of ``resource``) that cuts ``building_id`` off, if any."""
    row = conn.execute(text("""
        SELECT o.id, o.state, o.reason, o.planned_end
        FROM outage_buildings ob JOIN outages o ON o.id = ob.outage_id
        LEFT JOIN networks n ON n.id = o.network_id
        WHERE ob.building_id = :b AND o.state = 'active' AND (n.id IS NULL OR n.resource = :resource)
        ORDER BY o.planned_end DESC LIMIT 1
    """), {"b": building_id, "resource": resource}).mappings().first()
    if not row:
        return None
    return OutageLink(outage_id=row["id"], state=row["state"], reason=row["reason"], expected_end=row["planned_end"])


# ---- incidents --------------------------------------------------------------------------------

def insert_event(conn: Connection, incident_id: int, event: Event) -> None:
    conn.execute(text("""
        INSERT INTO incident_events (incident_id, at, actor, from_status, to_status, note)
        VALUES (:incident_id, :at, :actor, :from_status, :to_status, :note)
    """), {"incident_id": incident_id, "at": event.at, "actor": event.actor,
           "from_status": event.from_status, "to_status": event.to_status, "note": event.note})


_GET_INCIDENT_RAW = f"SELECT {INCIDENT_COLUMNS} FROM incidents i WHERE i.id = %(id)s"


def get_incident(conn: Connection, incident_id: int) -> Incident | None:
    row = _fetch_one_raw(conn, _GET_INCIDENT_RAW, {"id": incident_id})
    return Incident(**row) if row else None


def list_incidents(
    conn: Connection,
    *,
    ids: Sequence[int] | None = None,
    statuses: Iterable[str] | None = None,
    categories: Iterable[str] | None = None,
    service_codes: Iterable[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    outage_id: int | None = None,
    limit: int = 1000,
    newest_first: bool = True,
) -> list[Incident]:
    """Incidents matching every given filter (``bbox`` = min lon, min lat, max lon, max lat)."""
    where: list[str] = []
    params: dict[str, Any] = {"limit": limit}
    binds = []
    if ids is not None:
        where.append("i.id IN :ids")
        params["ids"] = list(ids)
        binds.append(bindparam("ids", expanding=True))
    for name, column, values in (("statuses", "status", statuses), ("categories", "category", categories),
                                 ("codes", "service_code", service_codes)):
        if values is not None:
            where.append(f"i.{column} IN :{name}")
            params[name] = list(values)
            binds.append(bindparam(name, expanding=True))
    if since is not None:
        where.append("i.created_at >= :since")
        params["since"] = since
    if until is not None:
        where.append("i.created_at <= :until")
        params["until"] = until
    if bbox is not None:
        where.append("i.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)")
        params.update(x0=bbox[0], y0=bbox[1], x1=bbox[2], y1=bbox[3])
    if outage_id is not None:
        where.append("i.outage_id = :outage_id")
        params["outage_id"] = outage_id
    sql = f"SELECT {INCIDENT_COLUMNS} FROM incidents i"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY i.created_at {'DESC' if newest_first else 'ASC'}, i.id LIMIT :limit"
    stmt = text(sql)
    if binds:
        stmt = stmt.bindparams(*binds)
    return [_incident(r) for r in conn.execute(stmt, params)]


def update_status(conn: Connection, incident_id: int, expected_version: int, event: Event,
                  *, duplicate_of: int | None = None) -> int | None:
    """Apply ``event`` if the row still has ``expected_version``; the new version, else None."""
    stamp = {"accepted": "accepted_at", "resolved": "resolved_at", "closed": "closed_at"}.get(event.to_status)
    sets = ["status = :to", "version = version + 1", "updated_at = :at"]
    if stamp:
        sets.append(f"{stamp} = :at")
    if event.to_status == "in_progress" and event.from_status == "resolved":
        sets.append("resolved_at = NULL")  # reopened: the earlier fix did not hold
    if duplicate_of is not None:
        sets.append("duplicate_of = :dup")
    return conn.execute(text(f"""
        UPDATE incidents SET {', '.join(sets)}
        WHERE id = :id AND version = :v AND status = :from
        RETURNING version
    """), {"to": event.to_status, "at": event.at, "id": incident_id, "v": expected_version,
           "from": event.from_status, "dup": duplicate_of}).scalar()


def incident_events(conn: Connection, incident_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(text("""
        SELECT at, actor, from_status, to_status, note FROM incident_events
        WHERE incident_id = :id ORDER BY at, id
    """), {"id": incident_id}).mappings().all()
    return [dict(r) for r in rows]


def open_incident_deadline_inputs(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(text(f"""
        SELECT id, status, category, service_code, created_at FROM incidents WHERE status IN {_OPEN}
    """)).mappings().all()
    return [dict(r) for r in rows]


# ---- outages ----------------------------------------------------------------------------------

_OUTAGE_COLUMNS = """
    o.id, o.network_id, o.state, o.reason, o.incident_id, o.pipe_ids, o.unintended_pipe_ids, o.valve_ids,
    o.optional_valve_ids, o.planned_start, o.planned_end, o.actual_start, o.actual_end, o.created_by,
    o.approved_by, o.version,
    (SELECT count(*) FROM outage_buildings ob WHERE ob.outage_id = o.id) AS buildings,
    (SELECT coalesce(sum(b.residents), 0) FROM outage_buildings ob JOIN buildings b ON b.id = ob.building_id
      WHERE ob.outage_id = o.id) AS residents,
    ST_AsGeoJSON(o.geom) AS geojson
"""


def _outage(row: Any) -> Outage:
    m = dict(row._mapping)
    for k in ("pipe_ids", "unintended_pipe_ids", "valve_ids", "optional_valve_ids"):
        m[k] = [int(x) for x in (m[k] or [])]
    m["buildings"] = int(m["buildings"])
    m["residents"] = int(m["residents"])
    return Outage(**m)


def insert_outage(conn: Connection, fields: dict[str, Any]) -> int:
    arr = ARRAY(BIGINT)
    stmt = text("""
        INSERT INTO outages (network_id, state, reason, incident_id, pipe_ids, unintended_pipe_ids, valve_ids,
            optional_valve_ids, geom, planned_start, planned_end, actual_start, created_by, approved_by,
            started_by, created_at, updated_at)
        VALUES (:network_id, :state, :reason, :incident_id, :pipe_ids, :unintended_pipe_ids, :valve_ids,
            :optional_valve_ids,
            (SELECT ST_Multi(ST_Union(geom)) FROM pipes WHERE id = ANY(:pipe_ids) OR id = ANY(:unintended_pipe_ids)),
            :planned_start, :planned_end, :actual_start, :actor, :actor, :started_by, :now, :now)
        RETURNING id
    """).bindparams(bindparam("pipe_ids", type_=arr), bindparam("unintended_pipe_ids", type_=arr),
                    bindparam("valve_ids", type_=arr), bindparam("optional_valve_ids", type_=arr))
    return int(conn.execute(stmt, fields).scalar_one())


def insert_outage_buildings(conn: Connection, outage_id: int, building_ids: Iterable[int],
                            unintended_ids: Iterable[int]) -> None:
    intended = {int(b) for b in building_ids}
    unintended = {int(b) for b in unintended_ids} - intended
    rows = [{"o": outage_id, "b": b, "u": False} for b in sorted(intended)]
    rows += [{"o": outage_id, "b": b, "u": True} for b in sorted(unintended)]
    if rows:
        conn.execute(text("""
            INSERT INTO outage_buildings (outage_id, building_id, unintended)
            SELECT :o, :b, :u WHERE EXISTS (SELECT 1 FROM buildings WHERE id = :b)
            ON CONFLICT DO NOTHING
        """), rows)


def get_outage(conn: Connection, outage_id: int, *, for_update: bool = False) -> Outage | None:
    lock = " FOR UPDATE OF o" if for_update else ""
    row = conn.execute(text(f"SELECT {_OUTAGE_COLUMNS} FROM outages o WHERE o.id = :id{lock}"),
                       {"id": outage_id}).first()
    return _outage(row) if row else None


def set_outage_state(conn: Connection, outage_id: int, *, state: str, at: datetime, actor: str,
                     start: bool = False, end: bool = False) -> None:
    sets = ["state = :state", "updated_at = :at", "version = version + 1"]
    if start:
        sets += ["actual_start = :at", "started_by = :actor"]
    if end:
        sets += ["actual_end = :at", "ended_by = :actor"]
    conn.execute(text(f"UPDATE outages SET {', '.join(sets)} WHERE id = :id"),
                 {"state": state, "at": at, "actor": actor, "id": outage_id})


def list_outages(conn: Connection, states: Iterable[str]) -> list[Outage]:
    stmt = text(f"SELECT {_OUTAGE_COLUMNS} FROM outages o WHERE o.state IN :states ORDER BY o.planned_start, o.id")
    stmt = stmt.bindparams(bindparam("states", expanding=True))
    return [_outage(r) for r in conn.execute(stmt, {"states": list(states)})]


def affected_buildings_of_active(conn: Connection, resources: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """One row per building cut off by an active outage (the latest end if several)."""
    cond = ""
    params: dict[str, Any] = {}
    stmt_binds = []
    if resources is not None:
        cond = "AND (n.id IS NULL OR n.resource IN :resources)"
        params["resources"] = list(resources)
        stmt_binds.append(bindparam("resources", expanding=True))
    stmt = text(f"""
        SELECT DISTINCT ON (b.id) b.id AS building_id, b.address, b.kind, b.residents, ob.unintended,
               o.id AS outage_id, o.planned_end, n.resource
        FROM outage_buildings ob JOIN outages o ON o.id = ob.outage_id AND o.state = 'active'
        JOIN buildings b ON b.id = ob.building_id
        LEFT JOIN networks n ON n.id = o.network_id
        WHERE true {cond}
        ORDER BY b.id, o.planned_end DESC
    """)
    if stmt_binds:
        stmt = stmt.bindparams(*stmt_binds)
    return [dict(r) for r in conn.execute(stmt, params).mappings()]


# ---- API keys ---------------------------------------------------------------------------------

def insert_api_key(conn: Connection, name: str, key_hash: str) -> int:
    return int(conn.execute(text("INSERT INTO api_keys (name, key_hash) VALUES (:n, :h) RETURNING id"),
                            {"n": name, "h": key_hash}).scalar_one())


def find_api_key(conn: Connection, key_hash: str) -> dict[str, Any] | None:
    row = conn.execute(text("SELECT id, name, revoked_at FROM api_keys WHERE key_hash = :h"),
                       {"h": key_hash}).mappings().first()
    return dict(row) if row else None


def revoke_api_key(conn: Connection, name: str, at: datetime) -> int:
    return conn.execute(text("UPDATE api_keys SET revoked_at = :at WHERE name = :n AND revoked_at IS NULL"),
                        {"n": name, "at": at}).rowcount


def network_resource(conn: Connection, network_id: int) -> str | None:
    """The resource of network ``network_id`` (None when it does not exist)."""
    return conn.execute(text("SELECT resource FROM networks WHERE id = :n"), {"n": network_id}).scalar()


def link_open_reports_to_outage(conn: Connection, outage_id: int, resource: str | None, now: datetime) -> int:
    """Link open water reports of the outage's buildings to it; how many were linked."""
    return conn.execute(text(f"""
        UPDATE incidents i SET outage_id = :o, version = version + 1, updated_at = :now
        FROM outage_buildings ob
        WHERE ob.outage_id = :o AND i.building_id = ob.building_id AND i.outage_id IS NULL
          AND i.status IN {_OPEN} AND i.category IN ('no_water', 'low_pressure')
          AND (CAST(:r AS text) IS NULL OR i.resource = :r)
    """), {"o": outage_id, "r": resource, "now": now}).rowcount


def outage_ends(conn: Connection, outage_ids: Iterable[int]) -> dict[int, datetime]:
    """Planned end of each given outage (for the expected time of linked reports)."""
    ids = sorted({int(i) for i in outage_ids})
    if not ids:
        return {}
    stmt = text("SELECT id, planned_end FROM outages WHERE id IN :ids").bindparams(bindparam("ids", expanding=True))
    return {int(r[0]): r[1] for r in conn.execute(stmt, {"ids": ids})}


# ---- intake in two round trips (the API's hot path) --------------------------------------------

_LOOKUP_SQL = f"""
-- distances on the sphere (use_spheroid=false): < 0.5 % off at 50-300 m and much cheaper
-- the point is written out (not a CTE) so that the planner can use the GiST indexes with it
WITH b AS (
    SELECT bl.id, bl.address, ST_Distance(bl.geom::geography, {_PT}::geography, false) AS d
    FROM (SELECT id, address, geom FROM buildings ORDER BY geom <-> {_PT} LIMIT 3) bl
),
bb AS (SELECT id, address, d FROM b WHERE d <= :snap_building_m ORDER BY d LIMIT 1),
p AS (
    SELECT pl.id, pl.network_id, n.resource, ST_Distance(pl.geom::geography, {_PT}::geography, false) AS d
    FROM (SELECT id, network_id, geom FROM pipes ORDER BY geom <-> {_PT} LIMIT 10) pl
    JOIN networks n ON n.id = pl.network_id
),
pp AS (SELECT id, network_id FROM p WHERE d <= :snap_pipe_m ORDER BY (resource <> :resource), d LIMIT 1),
dup AS (
    SELECT i.id, i.status, i.created_at, i.address, ST_Distance(i.geom::geography, {_PT}::geography, false) AS distance_m
    FROM incidents i
    WHERE :dup_radius_m > 0 AND i.category = :category AND i.status IN {_OPEN} AND i.created_at >= :dup_since
      AND i.geom && ST_Expand({_PT}, :dup_dlon, :dup_dlat)
      AND ST_DWithin(i.geom::geography, {_PT}::geography, :dup_radius_m, false)
    ORDER BY distance_m, i.created_at LIMIT 10
),
outage AS (
    SELECT o.id, o.state, o.reason, o.planned_end
    FROM outage_buildings ob JOIN outages o ON o.id = ob.outage_id
    LEFT JOIN networks n ON n.id = o.network_id
    WHERE :check_outage AND ob.building_id = (SELECT id FROM bb) AND o.state = 'active'
      AND (n.id IS NULL OR n.resource = :resource)
    ORDER BY o.planned_end DESC LIMIT 1
)
SELECT (SELECT id FROM bb) AS building_id, (SELECT address FROM bb) AS building_address,
       (SELECT id FROM pp) AS pipe_id, (SELECT network_id FROM pp) AS network_id,
       (SELECT array_agg(ARRAY[id::text, status, created_at::text, coalesce(address, ''), distance_m::text]
                         ORDER BY distance_m, created_at) FROM dup) AS dups,
       (SELECT id FROM outage) AS outage_id, (SELECT state FROM outage) AS outage_state,
       (SELECT reason FROM outage) AS outage_reason, (SELECT planned_end FROM outage) AS outage_end
"""
_LOOKUP_RAW = _pyformat(_LOOKUP_SQL)


def intake_lookup(conn: Connection, *, lon: float, lat: float, category: str, resource: str,
                  snap_building_m: float, snap_pipe_m: float, dup_radius_m: float, dup_since: datetime,
                  check_outage: bool, building_id: int | None = None) -> dict[str, Any]:
    """Everything intake needs to know about a point, in one round trip: the nearest building
    within ``snap_building_m`` (or the given ``building_id``), the nearest pipe within
    ``snap_pipe_m`` (a network of ``resource`` first), duplicate candidates, the active outage."""
    import math

    dlat = dup_radius_m / 111_000 * 1.1
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    row = _fetch_one_raw(conn, _LOOKUP_RAW, {
        "lon": lon, "lat": lat, "category": category, "resource": resource,
        "snap_building_m": snap_building_m if building_id is None else 1e12, "snap_pipe_m": snap_pipe_m,
        "dup_radius_m": dup_radius_m, "dup_since": dup_since, "dup_dlon": dlon, "dup_dlat": dlat,
        "check_outage": check_outage,
    })
    assert row is not None  # an aggregate query returns exactly one row
    out = dict(row)
    dups = []
    for d in row["dups"] or []:
        dups.append(DuplicateCandidate(incident_id=int(d[0]), status=d[1], created_at=datetime.fromisoformat(d[2]),
                                       address=d[3] or None, distance_m=float(d[4])))
    out["dups"] = dups
    out["outage"] = (OutageLink(outage_id=row["outage_id"], state=row["outage_state"], reason=row["outage_reason"],
                                expected_end=row["outage_end"]) if row["outage_id"] is not None else None)
    return out


_INSERT_WITH_EVENT_SQL = f"""
WITH ins AS (
    INSERT INTO incidents AS i (category, resource, priority, status, channel, service_code, geom, address,
        building_id, pipe_id, network_id, description, reporter_name, reporter_phone, reporter_email,
        media_url, attributes, outage_id, api_key_id, client_token, created_at, updated_at)
    VALUES (:category, :resource, :priority, 'new', :channel, :service_code, {_PT}, :address,
        :building_id, :pipe_id, :network_id, :description, :reporter_name, :reporter_phone, :reporter_email,
        :media_url, CAST(:attributes AS jsonb), :outage_id, :api_key_id, :client_token, :now, :now)
    ON CONFLICT ((coalesce(api_key_id, 0)), client_token) WHERE client_token IS NOT NULL DO NOTHING
    RETURNING {INCIDENT_COLUMNS}
), ev AS (
    INSERT INTO incident_events (incident_id, at, actor, from_status, to_status, note)
    SELECT id, :now, :actor, NULL, 'new', :note FROM ins
)
SELECT * FROM ins
"""
_INSERT_WITH_EVENT_RAW = _pyformat(_INSERT_WITH_EVENT_SQL)


def insert_incident_with_event(conn: Connection, fields: dict[str, Any], *, actor: str, note: str) -> tuple[Incident, bool]:
    """Insert a report and its creation event in one statement; with a used ``client_token``
    return the stored incident and False."""
    params = dict(fields, actor=actor, note=note)
    params["attributes"] = json.dumps(params.get("attributes") or {})
    row = _fetch_one_raw(conn, _INSERT_WITH_EVENT_RAW, params)
    if row is not None:
        return Incident(**row), True
    existing = conn.execute(text(f"SELECT {INCIDENT_COLUMNS} FROM incidents i WHERE i.client_token = :t "
                                 "AND coalesce(i.api_key_id, 0) = coalesce(CAST(:k AS integer), 0)"),
                            {"t": params["client_token"], "k": params.get("api_key_id")}).first()
    return _incident(existing), False


def incident_exists(conn: Connection, incident_id: int) -> bool:
    return conn.execute(text("SELECT 1 FROM incidents WHERE id = :i"), {"i": incident_id}).first() is not None


def conflicting_outages(conn: Connection, pipe_ids: Iterable[int], exclude_id: int | None = None) -> list[Outage]:
    """Planned or active outages that isolate (or dry out) any of ``pipe_ids``."""
    stmt = text(f"""
        SELECT {_OUTAGE_COLUMNS} FROM outages o
        WHERE o.state IN ('planned', 'active') AND (o.pipe_ids && :p OR o.unintended_pipe_ids && :p)
          AND o.id IS DISTINCT FROM :ex
        ORDER BY o.planned_start, o.id
    """).bindparams(bindparam("p", type_=ARRAY(BIGINT)))
    return [_outage(r) for r in conn.execute(stmt, {"p": sorted({int(x) for x in pipe_ids}), "ex": exclude_id})]


def outages_of_incident(conn: Connection, incident_id: int) -> list[Outage]:
    """Outages approved for ``incident_id`` (its cause), oldest first."""
    rows = conn.execute(text(f"SELECT {_OUTAGE_COLUMNS} FROM outages o WHERE o.incident_id = :i ORDER BY o.id"),
                        {"i": incident_id})
    return [_outage(r) for r in rows]
