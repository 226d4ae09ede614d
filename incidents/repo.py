"""SQL of the incidents domain. Every function takes an open ``Connection``; the caller owns
the transaction (``incidents/service.py`` decides where it begins and ends)."""
from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from psycopg.rows import dict_row
from sqlalchemy import Connection, bindparam, text

from incidents.model import DuplicateCandidate, Incident, OutageLink
from incidents.workflow import OPEN_STATUSES, Event

_PT = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)"
_OPEN = "('" + "', '".join(sorted(OPEN_STATUSES)) + "')"

INCIDENT_COLUMNS = """
    i.id, i.category, i.resource, i.priority, i.status, i.channel, i.service_code,
    ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat, i.address, i.building_id, i.pipe_id, i.network_id,
    i.description, i.reporter_name, i.reporter_phone, i.reporter_email, i.media_url, i.attributes,
    i.duplicate_of, i.outage_id, i.version, i.created_at, i.updated_at, i.accepted_at,
    i.resolved_at, i.closed_at, i.client_token, i.description_private, i.public_token, i.responsible_org_id,
    i.org_state, i.org_accepted_at, i.crew_login, i.visit_at, i.org_answer, i.org_resolved_at,
    (SELECT o.planned_end FROM outages o WHERE o.id = i.outage_id AND o.state <> 'cancelled') AS outage_end
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
    org_id: int | None = None,
    limit: int = 1000,
    newest_first: bool = True,
) -> list[Incident]:
    """Incidents matching every given filter (``bbox`` = min lon, min lat, max lon, max lat;
    ``org_id``: only the reports that organisation answers for)."""
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
    if org_id is not None:
        where.append("i.responsible_org_id = :org_id")
        params["org_id"] = org_id
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


def open_incident_deadline_inputs(conn: Connection, org_id: int | None = None) -> list[dict[str, Any]]:
    rows = conn.execute(text(f"""
        SELECT i.id, i.status, i.category, i.service_code, i.created_at, i.outage_id,
               i.responsible_org_id,
               (SELECT o.planned_end FROM outages o WHERE o.id = i.outage_id AND o.state <> 'cancelled') AS outage_end
        FROM incidents i WHERE i.status IN {_OPEN}
          AND (CAST(:org AS integer) IS NULL OR i.responsible_org_id = :org)
    """), {"org": org_id}).mappings().all()
    return [dict(r) for r in rows]


# ---- API keys ---------------------------------------------------------------------------------

def insert_api_key(conn: Connection, name: str, key_hash: str, org_id: int | None = None) -> int:
    return int(conn.execute(text("INSERT INTO api_keys (name, key_hash, org_id) VALUES (:n, :h, :o) RETURNING id"),
                            {"n": name, "h": key_hash, "o": org_id}).scalar_one())


def find_api_key(conn: Connection, key_hash: str) -> dict[str, Any] | None:
    row = conn.execute(text("SELECT id, name, revoked_at, org_id FROM api_keys WHERE key_hash = :h"),
                       {"h": key_hash}).mappings().first()
    return dict(row) if row else None


def revoke_api_key(conn: Connection, name: str, at: datetime) -> int:
    return conn.execute(text("UPDATE api_keys SET revoked_at = :at WHERE name = :n AND revoked_at IS NULL"),
                        {"n": name, "at": at}).rowcount


def list_api_keys(conn: Connection) -> list[dict[str, Any]]:
    """Every key: name, created, revoked, and how many reports it filed (never the hash)."""
    rows = conn.execute(text("""
        SELECT k.id, k.name, k.created_at, k.revoked_at, k.org_id,
               (SELECT count(*) FROM incidents i WHERE i.api_key_id = k.id) AS reports
        FROM api_keys k ORDER BY k.revoked_at IS NOT NULL, k.name, k.id
    """)).mappings().all()
    return [dict(r) for r in rows]


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


# ---- notes --------------------------------------------------------------------------------------

_NOTE_COLUMNS = "id, incident_id, author, body, created_at, updated_at, version"


def insert_note(conn: Connection, incident_id: int, author: str, body: str, now: datetime) -> dict[str, Any]:
    row = conn.execute(text(f"""
        INSERT INTO incident_notes (incident_id, author, body, created_at, updated_at)
        VALUES (:i, :a, :b, :now, :now) RETURNING {_NOTE_COLUMNS}
    """), {"i": incident_id, "a": author, "b": body, "now": now}).mappings().one()
    return dict(row)


def get_note(conn: Connection, note_id: int, *, for_update: bool = False) -> dict[str, Any] | None:
    lock = " FOR UPDATE" if for_update else ""
    row = conn.execute(text(f"SELECT {_NOTE_COLUMNS} FROM incident_notes WHERE id = :id{lock}"),
                       {"id": note_id}).mappings().first()
    return dict(row) if row else None


def update_note(conn: Connection, note_id: int, body: str, now: datetime) -> dict[str, Any]:
    row = conn.execute(text(f"""
        UPDATE incident_notes SET body = :b, updated_at = :now, version = version + 1 WHERE id = :id
        RETURNING {_NOTE_COLUMNS}
    """), {"b": body, "now": now, "id": note_id}).mappings().one()
    return dict(row)


def notes_of(conn: Connection, incident_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(text(f"SELECT {_NOTE_COLUMNS} FROM incident_notes WHERE incident_id = :i ORDER BY created_at, id"),
                        {"i": incident_id}).mappings().all()
    return [dict(r) for r in rows]


def set_description_private(conn: Connection, incident_id: int, private: bool) -> bool | None:
    """Set whether the description is hidden from public views; the previous value (None: no such report)."""
    row = conn.execute(text("""
        UPDATE incidents n SET description_private = :p FROM (SELECT id, description_private FROM incidents
                                                             WHERE id = :i FOR UPDATE) o
        WHERE n.id = o.id RETURNING o.description_private
    """), {"p": bool(private), "i": int(incident_id)}).first()
    return None if row is None else bool(row[0])
