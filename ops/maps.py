"""Use-cases of the map pages: the city's extent, what was clicked, address search,
and the buildings to draw for an outage. Reads only (every signed-in role may read the map)."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import geopandas as gpd
from sqlalchemy import Engine

from auth.model import Actor
from gis import queries as Q
from gis.search import search_addresses
from ops.base import allow, engine
from ops.shared import db_key, shared

BBox = tuple[float, float, float, float]


def city_bounds(actor: Actor, *, bind: Engine | None = None) -> BBox | None:
    """The extent of buildings and networks (None when the database has none)."""
    allow(actor, "map.read")
    with engine(bind).connect() as conn:
        return Q.city_bounds(conn)


def buildings_by_id(actor: Actor, ids: Iterable[int], *, bind: Engine | None = None,
                    max_age: float = 0) -> gpd.GeoDataFrame:
    """The footprints of the given buildings (id, address, residents, kind), EPSG:4326. ``max_age`` > 0:
    shared by the sessions of this replica for that many seconds (ops.shared; never change the frame)."""
    allow(actor, "map.read")
    wanted = sorted({int(i) for i in ids})
    eng = engine(bind)

    def fetch() -> gpd.GeoDataFrame:
        with eng.connect() as conn:
            return Q.buildings_by_id(conn, wanted)

    return shared(("buildings_by_id", db_key(eng), tuple(wanted)), max_age, fetch)


def identify(actor: Actor, lon: float, lat: float, *, network_id: int | None,
             bind: Engine | None = None) -> dict[str, Any] | None:
    """The feature nearest to a click (a valve, then a pipe, then a building), or None."""
    allow(actor, "map.read")
    with engine(bind).connect() as conn:
        return Q.nearest_feature(conn, lon, lat, network_id=network_id)


def search(actor: Actor, query: str, *, limit: int = 10, bind: Engine | None = None) -> list[dict[str, Any]]:
    """Buildings whose address matches ``query``, best first."""
    allow(actor, "map.read")
    with engine(bind).connect() as conn:
        return search_addresses(conn, query, limit=limit)
