"""A crew's marks on an outage's valve sheet (``valve_field_reports``): ``closed`` or ``stuck`` ("will not
close"), each with a client-chosen ``event_id`` unique per organisation (stored once), when and where; and
the small map of a place the phone page draws (the buildings and pipes around a point).

SQL and rules only; the caller (``ops.field``) checks the actor's rights and scope, owns the transaction
and writes the audit event in it."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

VALVE_KINDS: tuple[str, ...] = ("closed", "stuck")
MAX_NOTE_CHARS = 1000


@dataclass(frozen=True)
class ValveMark:
    id: int
    event_id: str
    org_id: int
    outage_id: int
    valve_id: int
    kind: str
    note: str
    done_at: datetime
    lat: float | None
    lon: float | None
    author: str
    at: datetime
    state: str
    decided_by: str | None = None
    decided_at: datetime | None = None


_COLUMNS = ("id, event_id, org_id, outage_id, valve_id, kind, note, done_at, lat, lon, author, at, state, "
            "decided_by, decided_at")


def mark_by_id(conn: Connection, org_id: int, event_id: str) -> ValveMark | None:
    row = conn.execute(text(f"SELECT {_COLUMNS} FROM valve_field_reports WHERE org_id = :o AND event_id = :e"),
                       {"o": org_id, "e": event_id}).mappings().first()
    return ValveMark(**row) if row else None


def insert_mark(conn: Connection, *, event_id: str, org_id: int, outage_id: int, valve_id: int, kind: str,
                note: str, done_at: datetime, lat: float | None, lon: float | None, author: str,
                at: datetime) -> ValveMark | None:
    """The stored mark, or None when ``event_id`` was taken meanwhile (a concurrent retry)."""
    row = conn.execute(text(f"""
        INSERT INTO valve_field_reports (event_id, org_id, outage_id, valve_id, kind, note, done_at, lat, lon,
                                         author, at, state)
        VALUES (:e, :o, :out, :v, :k, :n, :d, :lat, :lon, :a, :at, :s)
        ON CONFLICT (org_id, event_id) DO NOTHING RETURNING {_COLUMNS}
    """), {"e": event_id, "o": org_id, "out": outage_id, "v": valve_id, "k": kind, "n": note, "d": done_at,
           "lat": lat, "lon": lon, "a": author, "at": at,
           "s": "pending" if kind == "stuck" else "recorded"}).mappings().first()
    return ValveMark(**row) if row else None


def marks_of(conn: Connection, outage_id: int) -> list[ValveMark]:
    rows = conn.execute(text(f"SELECT {_COLUMNS} FROM valve_field_reports WHERE outage_id = :o ORDER BY at, id"),
                        {"o": outage_id}).mappings().all()
    return [ValveMark(**r) for r in rows]


def pending_stuck(conn: Connection, outage_id: int, *, for_update: bool = False) -> list[ValveMark]:
    rows = conn.execute(text(f"SELECT {_COLUMNS} FROM valve_field_reports WHERE outage_id = :o AND kind = 'stuck' "
                             f"AND state = 'pending' ORDER BY at, id{' FOR UPDATE' if for_update else ''}"),
                        {"o": outage_id}).mappings().all()
    return [ValveMark(**r) for r in rows]


def decide(conn: Connection, mark_ids: list[int], *, by: str, at: datetime) -> None:
    conn.execute(text("UPDATE valve_field_reports SET state = 'approved', decided_by = :b, decided_at = :at "
                      "WHERE id = ANY(:ids) AND state = 'pending'"), {"ids": mark_ids, "b": by, "at": at})


def utility_of_network(conn: Connection, network_id: int | None) -> int | None:
    """The organisation operating a network (``networks.utility_id``)."""
    if network_id is None:
        return None
    return conn.execute(text("SELECT utility_id FROM networks WHERE id = :n"), {"n": network_id}).scalar()


def open_outages_of_utility(conn: Connection, org_id: int) -> list[int]:
    """The planned (approved) and active outages on the networks ``org_id`` operates, oldest first."""
    return [int(r[0]) for r in conn.execute(text("""
        SELECT o.id FROM outages o JOIN networks n ON n.id = o.network_id
        WHERE n.utility_id = :u AND o.state IN ('planned', 'active') ORDER BY o.planned_start, o.id
    """), {"u": org_id})]


# ---- the small map ---------------------------------------------------------------------------------

def _project(lon: float, lat: float, lon0: float, lat0: float) -> tuple[float, float]:
    """Metres east and north of (lon0, lat0) (an equirectangular view: enough for a few hundred metres)."""
    return ((lon - lon0) * 111_320.0 * math.cos(math.radians(lat0)), (lat - lat0) * 110_540.0)


def surroundings(conn: Connection, points: list[tuple[float, float]], *, margin_m: float = 120.0,
                 size: int = 320) -> dict[str, Any]:
    """An SVG-ready picture around ``points`` (lon, lat): the buildings' outlines and the pipes within
    ``margin_m`` of them, in a ``size`` × ``size`` box (north up); the points' own positions in the box."""
    if not points:
        return {"size": size, "buildings": [], "pipes": [], "points": []}
    lon0 = sum(p[0] for p in points) / len(points)
    lat0 = sum(p[1] for p in points) / len(points)
    xy = [_project(lon, lat, lon0, lat0) for lon, lat in points]
    half = max(margin_m, max(max(abs(x), abs(y)) for x, y in xy) + margin_m / 2)
    scale = size / (2 * half)

    def to_box(lon: float, lat: float) -> tuple[float, float]:
        x, y = _project(lon, lat, lon0, lat0)
        return round(size / 2 + x * scale, 1), round(size / 2 - y * scale, 1)

    dlat = half / 110_540.0
    dlon = half / (111_320.0 * math.cos(math.radians(lat0)))
    env = {"x0": lon0 - dlon, "y0": lat0 - dlat, "x1": lon0 + dlon, "y1": lat0 + dlat}
    rows = conn.execute(text("""
        SELECT ST_AsGeoJSON(ST_Boundary(ST_Force2D(geom)), 6)::json AS g FROM buildings
        WHERE geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326) LIMIT 400
    """), env).all()
    buildings = []
    for (g,) in rows:
        for line in _lines(g):
            buildings.append(" ".join(f"{x},{y}" for x, y in (to_box(lon, lat) for lon, lat in line)))
    pipes = []
    for (g,) in conn.execute(text("""
        SELECT ST_AsGeoJSON(ST_Force2D(geom), 6)::json FROM pipes
        WHERE geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326) LIMIT 600
    """), env).all():
        for line in _lines(g):
            pipes.append(" ".join(f"{x},{y}" for x, y in (to_box(lon, lat) for lon, lat in line)))
    return {"size": size, "buildings": buildings, "pipes": pipes,
            "points": [to_box(lon, lat) for lon, lat in points]}


def _lines(g: dict[str, Any] | None) -> list[list[list[float]]]:
    if not g:
        return []
    kind, coords = g.get("type"), g.get("coordinates") or []
    if kind == "LineString":
        return [coords]
    if kind == "MultiLineString":
        return list(coords)
    if kind == "GeometryCollection":
        return [line for part in g.get("geometries") or [] for line in _lines(part)]
    return []
