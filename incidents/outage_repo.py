"""SQL of outages (approved shutoffs) and their buildings. The caller owns the transaction."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT

from incidents.model import Incident, Outage
from incidents.repo import INCIDENT_COLUMNS
from incidents.workflow import OPEN_STATUSES

_OPEN = "('" + "', '".join(sorted(OPEN_STATUSES)) + "')"
_ARR = ARRAY(BIGINT)
_ARRAYS = ("pipe_ids", "unintended_pipe_ids", "valve_ids", "optional_valve_ids", "break_pipe_ids")

OUTAGE_COLUMNS = """
    o.id, o.network_id, o.state, o.reason, o.incident_id, o.pipe_ids, o.unintended_pipe_ids, o.valve_ids,
    o.optional_valve_ids, o.planned_start, o.planned_end, o.actual_start, o.actual_end, o.created_by,
    o.approved_by, o.version, o.kind, o.break_pipe_ids, o.started_by, o.ended_by,
    (SELECT count(*) FROM outage_buildings ob WHERE ob.outage_id = o.id) AS buildings,
    (SELECT coalesce(sum(b.residents), 0) FROM outage_buildings ob JOIN buildings b ON b.id = ob.building_id
      WHERE ob.outage_id = o.id) AS residents,
    ST_AsGeoJSON(o.geom, 6) AS geojson
"""


def _outage(row: Any) -> Outage:
    m = dict(row._mapping)
    for k in _ARRAYS:
        m[k] = [int(x) for x in (m[k] or [])]
    m["buildings"] = int(m["buildings"])
    m["residents"] = int(m["residents"])
    return Outage(**m)


def _arrays(stmt: Any) -> Any:
    return stmt.bindparams(*(bindparam(k, type_=_ARR) for k in _ARRAYS))


def insert_outage(conn: Connection, fields: dict[str, Any]) -> int:
    """A new outage in state ``planned``; the geometry is the union of its isolated and dry pipes."""
    stmt = _arrays(text("""
        INSERT INTO outages (network_id, kind, state, reason, incident_id, break_pipe_ids, pipe_ids,
            unintended_pipe_ids, valve_ids, optional_valve_ids, geom, planned_start, planned_end,
            created_by, approved_by, created_at, updated_at)
        VALUES (:network_id, :kind, 'planned', :reason, :incident_id, :break_pipe_ids, :pipe_ids,
            :unintended_pipe_ids, :valve_ids, :optional_valve_ids,
            (SELECT ST_Multi(ST_Union(geom)) FROM pipes WHERE id = ANY(:pipe_ids) OR id = ANY(:unintended_pipe_ids)),
            :planned_start, :planned_end, :actor, :actor, :now, :now)
        RETURNING id
    """))
    return int(conn.execute(stmt, fields).scalar_one())


def update_outage_plan(conn: Connection, outage_id: int, fields: dict[str, Any], now: datetime) -> None:
    """Replace the outage's plan lists (an extension or a merge) and its geometry."""
    stmt = _arrays(text("""
        UPDATE outages SET break_pipe_ids = :break_pipe_ids, pipe_ids = :pipe_ids,
            unintended_pipe_ids = :unintended_pipe_ids, valve_ids = :valve_ids, optional_valve_ids = :optional_valve_ids,
            geom = (SELECT ST_Multi(ST_Union(geom)) FROM pipes WHERE id = ANY(:pipe_ids) OR id = ANY(:unintended_pipe_ids)),
            updated_at = :now, version = version + 1
        WHERE id = :id
    """))
    conn.execute(stmt, {**fields, "id": outage_id, "now": now})


def insert_outage_buildings(conn: Connection, outage_id: int, building_ids: Iterable[int],
                            unintended_ids: Iterable[int], *, added_at: datetime | None = None) -> list[int]:
    """Add buildings to an outage (those already in it stay as they are); the ids added."""
    intended = {int(b) for b in building_ids}
    unintended = {int(b) for b in unintended_ids} - intended
    rows = [{"o": outage_id, "b": b, "u": False, "at": added_at} for b in sorted(intended)]
    rows += [{"o": outage_id, "b": b, "u": True, "at": added_at} for b in sorted(unintended)]
    if not rows:
        return []
    before = set(outage_building_ids(conn, outage_id))
    conn.execute(text("""
        INSERT INTO outage_buildings (outage_id, building_id, unintended, added_at)
        SELECT :o, :b, :u, :at WHERE EXISTS (SELECT 1 FROM buildings WHERE id = :b)
        ON CONFLICT DO NOTHING
    """), rows)
    return sorted(set(outage_building_ids(conn, outage_id)) - before)


def outage_building_ids(conn: Connection, outage_id: int) -> list[int]:
    return [int(r[0]) for r in conn.execute(text("SELECT building_id FROM outage_buildings WHERE outage_id = :o"),
                                            {"o": outage_id})]


def get_outage(conn: Connection, outage_id: int, *, for_update: bool = False) -> Outage | None:
    if for_update:
        conn.execute(text("SELECT 1 FROM outages WHERE id = :id FOR UPDATE"), {"id": outage_id})
    row = conn.execute(text(f"SELECT {OUTAGE_COLUMNS} FROM outages o WHERE o.id = :id"), {"id": outage_id}).first()
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


def set_outage_times(conn: Connection, outage_id: int, *, planned_start: datetime, planned_end: datetime,
                     now: datetime) -> None:
    conn.execute(text("""
        UPDATE outages SET planned_start = :s, planned_end = :e, updated_at = :now, version = version + 1 WHERE id = :id
    """), {"s": planned_start, "e": planned_end, "now": now, "id": outage_id})


def list_outages(conn: Connection, states: Iterable[str], *, network_id: int | None = None,
                 since: datetime | None = None, limit: int = 500) -> list[Outage]:
    """Outages in ``states`` (optionally of one network, or touched since ``since``), by planned start."""
    stmt = text(f"""
        SELECT {OUTAGE_COLUMNS} FROM outages o
        WHERE o.state IN :states AND (CAST(:net AS integer) IS NULL OR o.network_id = :net)
          AND (CAST(:since AS timestamptz) IS NULL OR o.updated_at >= :since)
        ORDER BY o.planned_start, o.id LIMIT :limit
    """).bindparams(bindparam("states", expanding=True))
    return [_outage(r) for r in conn.execute(stmt, {"states": list(states), "net": network_id, "since": since,
                                                    "limit": limit})]


def overlapping_outages(conn: Connection, network_id: int | None, pipe_ids: Sequence[int], valve_ids: Sequence[int],
                        *, exclude_id: int | None = None) -> list[Outage]:
    """Planned or active outages (of the network) that isolate or dry any of ``pipe_ids`` or close any
    of ``valve_ids`` (times are compared by the caller)."""
    stmt = text(f"""
        SELECT {OUTAGE_COLUMNS} FROM outages o
        WHERE o.state IN ('planned', 'active') AND o.id IS DISTINCT FROM :ex
          AND (CAST(:net AS integer) IS NULL OR o.network_id = :net)
          AND (o.pipe_ids && :p OR o.unintended_pipe_ids && :p OR o.valve_ids && :v)
        ORDER BY o.planned_start, o.id
    """).bindparams(bindparam("p", type_=_ARR), bindparam("v", type_=_ARR))
    return [_outage(r) for r in conn.execute(stmt, {"p": sorted({int(x) for x in pipe_ids}),
                                                    "v": sorted({int(x) for x in valve_ids}),
                                                    "ex": exclude_id, "net": network_id})]


def outages_of_incident(conn: Connection, incident_id: int) -> list[Outage]:
    """Outages caused by ``incident_id`` or that it is linked to, oldest first."""
    rows = conn.execute(text(f"""
        SELECT {OUTAGE_COLUMNS} FROM outages o
        WHERE o.incident_id = :i OR o.id = (SELECT outage_id FROM incidents WHERE id = :i)
        ORDER BY o.id
    """), {"i": incident_id})
    return [_outage(r) for r in rows]


def outage_buildings(conn: Connection, outage_id: int) -> list[dict[str, Any]]:
    """The buildings of an outage: id, address, kind, residents, unintended, added_at, lon/lat."""
    rows = conn.execute(text("""
        SELECT b.id, b.address, b.kind, b.residents, ob.unintended, ob.added_at,
               ST_X(ST_PointOnSurface(b.geom)) AS lon, ST_Y(ST_PointOnSurface(b.geom)) AS lat
        FROM outage_buildings ob JOIN buildings b ON b.id = ob.building_id
        WHERE ob.outage_id = :o
    """), {"o": outage_id}).mappings().all()
    return [dict(r) for r in rows]


def affected_buildings_of_active(conn: Connection, resources: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """One row per building cut off by an active outage (the latest end if several)."""
    params: dict[str, Any] = {}
    cond = ""
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


def network_resource(conn: Connection, network_id: int) -> str | None:
    """The resource of network ``network_id`` (None when it does not exist)."""
    return conn.execute(text("SELECT resource FROM networks WHERE id = :n"), {"n": network_id}).scalar()


def link_open_reports_to_outage(conn: Connection, outage_id: int, resource: str | None, now: datetime) -> list[int]:
    """Link open water reports of the outage's buildings to it; the ids linked."""
    return [int(r[0]) for r in conn.execute(text(f"""
        UPDATE incidents i SET outage_id = :o, version = version + 1, updated_at = :now
        FROM outage_buildings ob
        WHERE ob.outage_id = :o AND i.building_id = ob.building_id AND i.outage_id IS NULL
          AND i.status IN {_OPEN} AND i.category IN ('no_water', 'low_pressure')
          AND (CAST(:r AS text) IS NULL OR i.resource = :r)
        RETURNING i.id
    """), {"o": outage_id, "r": resource, "now": now})]


def set_incident_outage(conn: Connection, incident_id: int, outage_id: int, now: datetime) -> None:
    conn.execute(text("""
        UPDATE incidents SET outage_id = :o, version = version + 1, updated_at = :now
        WHERE id = :i AND outage_id IS DISTINCT FROM :o
    """), {"o": outage_id, "i": incident_id, "now": now})


def incidents_of_outage(conn: Connection, outage_id: int) -> list[Incident]:
    """Incidents linked to the outage: its cause(s) and the reports it explains, oldest first."""
    rows = conn.execute(text(f"""
        SELECT {INCIDENT_COLUMNS} FROM incidents i
        WHERE i.outage_id = :o OR i.id = (SELECT incident_id FROM outages WHERE id = :o)
        ORDER BY i.created_at, i.id
    """), {"o": outage_id})
    return [Incident(**r._mapping) for r in rows]


def outage_ends(conn: Connection, outage_ids: Iterable[int]) -> dict[int, datetime]:
    """Planned end of each given outage (for the expected time of linked reports)."""
    ids = sorted({int(i) for i in outage_ids})
    if not ids:
        return {}
    stmt = text("SELECT id, planned_end FROM outages WHERE id IN :ids").bindparams(bindparam("ids", expanding=True))
    return {int(r[0]): r[1] for r in conn.execute(stmt, {"ids": ids})}


def incident_exists(conn: Connection, incident_id: int) -> bool:
    return conn.execute(text("SELECT 1 FROM incidents WHERE id = :i"), {"i": incident_id}).first() is not None
