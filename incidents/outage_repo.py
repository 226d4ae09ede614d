"""SQL of outages (approved shutoffs) and their buildings. The caller owns the transaction.

The statements that vary with their arguments (filters, locks, the columns set) are SQLAlchemy Core on
the light tables below; the fixed ones stay as text."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import BigInteger, Connection, bindparam, column, func, or_, select, table, text, update
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT, distinct_on

from incidents import repo as incident_repo
from incidents.model import Incident, Outage
from incidents.workflow import OPEN_STATUSES

_ARR = ARRAY(BIGINT)
_ARRAYS = ("pipe_ids", "unintended_pipe_ids", "valve_ids", "optional_valve_ids", "break_pipe_ids")

outages = table(
    "outages", column("id", BigInteger), column("network_id", BigInteger), column("state"), column("reason"),
    column("incident_id", BigInteger),
    *(column(k, _ARR) for k in _ARRAYS), column("planned_start"), column("planned_end"), column("actual_start"),
    column("actual_end"), column("created_by"), column("approved_by"), column("version"), column("kind"),
    column("started_by"), column("ended_by"), column("updated_at"), column("geom", Geometry("MULTILINESTRING", 4326)),
)
outage_buildings_t = table("outage_buildings", column("outage_id", BigInteger), column("building_id", BigInteger),
                           column("unintended"), column("added_at"))
buildings = table("buildings", column("id", BigInteger), column("address"), column("kind"), column("residents"))
networks = table("networks", column("id", BigInteger), column("resource"))
incidents = table("incidents", column("id", BigInteger), column("outage_id", BigInteger),
                  column("building_id", BigInteger), column("status"), column("category"), column("resource"),
                  column("version"), column("updated_at"))

_o, _ob, _b = outages.alias("o"), outage_buildings_t.alias("ob"), buildings.alias("b")
_FIELDS = ("id", "network_id", "state", "reason", "incident_id", "pipe_ids", "unintended_pipe_ids", "valve_ids",
           "optional_valve_ids", "planned_start", "planned_end", "actual_start", "actual_end", "created_by",
           "approved_by", "version", "kind", "break_pipe_ids", "started_by", "ended_by")
#: An outage as ``Outage`` reads it: its row, its buildings and residents, its geometry as GeoJSON.
OUTAGE_COLUMNS = (
    *(_o.c[k] for k in _FIELDS),
    select(func.count()).select_from(_ob).where(_ob.c.outage_id == _o.c.id).scalar_subquery().label("buildings"),
    select(func.coalesce(func.sum(_b.c.residents), 0)).select_from(_ob.join(_b, _b.c.id == _ob.c.building_id))
    .where(_ob.c.outage_id == _o.c.id).scalar_subquery().label("residents"),
    func.ST_AsGeoJSON(_o.c.geom, 6).label("geojson"),
)


def _select_outages(*where: Any) -> Any:
    return select(*OUTAGE_COLUMNS).select_from(_o).where(*where)


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
        conn.execute(select(outages.c.id).where(outages.c.id == outage_id).with_for_update())
    row = conn.execute(_select_outages(_o.c.id == outage_id)).first()
    return _outage(row) if row else None


def set_outage_state(conn: Connection, outage_id: int, *, state: str, at: datetime, actor: str,
                     start: bool = False, end: bool = False) -> None:
    values: dict[str, Any] = {"state": state, "updated_at": at, "version": outages.c.version + 1}
    if start:
        values.update(actual_start=at, started_by=actor)
    if end:
        values.update(actual_end=at, ended_by=actor)
    conn.execute(update(outages).where(outages.c.id == outage_id).values(values))


def set_outage_times(conn: Connection, outage_id: int, *, planned_start: datetime, planned_end: datetime,
                     now: datetime) -> None:
    conn.execute(text("""
        UPDATE outages SET planned_start = :s, planned_end = :e, updated_at = :now, version = version + 1 WHERE id = :id
    """), {"s": planned_start, "e": planned_end, "now": now, "id": outage_id})


def list_outages(conn: Connection, states: Iterable[str], *, network_id: int | None = None,
                 since: datetime | None = None, limit: int = 500) -> list[Outage]:
    """Outages in ``states`` (optionally of one network, or touched since ``since``), by planned start."""
    stmt = _select_outages(_o.c.state.in_(list(states)))
    if network_id is not None:
        stmt = stmt.where(_o.c.network_id == network_id)
    if since is not None:
        stmt = stmt.where(_o.c.updated_at >= since)
    return [_outage(r) for r in conn.execute(stmt.order_by(_o.c.planned_start, _o.c.id).limit(limit))]


def overlapping_outages(conn: Connection, network_id: int | None, pipe_ids: Sequence[int], valve_ids: Sequence[int],
                        *, exclude_id: int | None = None) -> list[Outage]:
    """Planned or active outages (of the network) that isolate or dry any of ``pipe_ids`` or close any
    of ``valve_ids`` (times are compared by the caller)."""
    pipes, valves = sorted({int(x) for x in pipe_ids}), sorted({int(x) for x in valve_ids})
    stmt = _select_outages(
        _o.c.state.in_(("planned", "active")), _o.c.id.is_distinct_from(exclude_id),
        or_(_o.c.pipe_ids.overlap(pipes), _o.c.unintended_pipe_ids.overlap(pipes), _o.c.valve_ids.overlap(valves)))
    if network_id is not None:
        stmt = stmt.where(_o.c.network_id == network_id)
    return [_outage(r) for r in conn.execute(stmt.order_by(_o.c.planned_start, _o.c.id))]


def outages_of_incident(conn: Connection, incident_id: int) -> list[Outage]:
    """Outages caused by ``incident_id`` or that it is linked to, oldest first."""
    linked = select(incidents.c.outage_id).where(incidents.c.id == incident_id).scalar_subquery()
    rows = conn.execute(_select_outages(or_(_o.c.incident_id == incident_id, _o.c.id == linked)).order_by(_o.c.id))
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
    n = networks.alias("n")
    stmt = (select(_b.c.id.label("building_id"), _b.c.address, _b.c.kind, _b.c.residents, _ob.c.unintended,
                   _o.c.id.label("outage_id"), _o.c.planned_end, n.c.resource)
            .select_from(_ob.join(_o, (_o.c.id == _ob.c.outage_id) & (_o.c.state == "active"))
                         .join(_b, _b.c.id == _ob.c.building_id).outerjoin(n, n.c.id == _o.c.network_id))
            .ext(distinct_on(_b.c.id)).order_by(_b.c.id, _o.c.planned_end.desc()))
    if resources is not None:
        stmt = stmt.where(or_(n.c.id.is_(None), n.c.resource.in_(list(resources))))
    return [dict(r) for r in conn.execute(stmt).mappings()]


def network_resource(conn: Connection, network_id: int) -> str | None:
    """The resource of network ``network_id`` (None when it does not exist)."""
    return conn.execute(text("SELECT resource FROM networks WHERE id = :n"), {"n": network_id}).scalar()


def link_open_reports_to_outage(conn: Connection, outage_id: int, resource: str | None, now: datetime) -> list[int]:
    """Link open water reports of the outage's buildings to it; the ids linked."""
    i, ob = incidents, outage_buildings_t
    stmt = (update(i).values(outage_id=outage_id, version=i.c.version + 1, updated_at=now)
            .where(ob.c.outage_id == outage_id, i.c.building_id == ob.c.building_id, i.c.outage_id.is_(None),
                   i.c.status.in_(sorted(OPEN_STATUSES)), i.c.category.in_(("no_water", "low_pressure")))
            .returning(i.c.id))
    if resource is not None:
        stmt = stmt.where(i.c.resource == resource)
    return [int(r[0]) for r in conn.execute(stmt)]


def set_incident_outage(conn: Connection, incident_id: int, outage_id: int, now: datetime) -> None:
    conn.execute(text("""
        UPDATE incidents SET outage_id = :o, version = version + 1, updated_at = :now
        WHERE id = :i AND outage_id IS DISTINCT FROM :o
    """), {"o": outage_id, "i": incident_id, "now": now})


def incidents_of_outage(conn: Connection, outage_id: int) -> list[Incident]:
    """Incidents linked to the outage: its cause(s) and the reports it explains, oldest first."""
    cause = select(outages.c.incident_id).where(outages.c.id == outage_id).scalar_subquery()
    ids = list(conn.execute(select(incidents.c.id).where(or_(incidents.c.outage_id == outage_id,
                                                             incidents.c.id == cause))).scalars())
    return incident_repo.list_incidents(conn, ids=ids, limit=len(ids), newest_first=False) if ids else []


def outage_ends(conn: Connection, outage_ids: Iterable[int]) -> dict[int, datetime]:
    """Planned end of each given outage (for the expected time of linked reports)."""
    ids = sorted({int(i) for i in outage_ids})
    if not ids:
        return {}
    stmt = text("SELECT id, planned_end FROM outages WHERE id IN :ids").bindparams(bindparam("ids", expanding=True))
    return {int(r[0]): r[1] for r in conn.execute(stmt, {"ids": ids})}


def incident_exists(conn: Connection, incident_id: int) -> bool:
    return conn.execute(text("SELECT 1 FROM incidents WHERE id = :i"), {"i": incident_id}).first() is not None
