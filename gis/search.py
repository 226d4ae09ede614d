"""Address search for the map's search box: buildings by address, or street + house number.

Case-insensitive (PostgreSQL ``lower()``, which folds Cyrillic and ä/ö under a UTF-8 ctype),
LIKE wildcards in the query are taken literally. Ranking, best first: exact address, address
prefix, street + house number prefix, a word of the address starting with the query, any
substring; within a rank the shortest address (closest to the query), then alphabetical.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

MAX_QUERY_CHARS = 200


def escape_like(value: str) -> str:
    """``value`` with LIKE's wildcards and escape character taken literally (``ESCAPE '\\'``)."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_addresses(conn: Connection, query: str, limit: int = 10) -> list[dict[str, Any]]:
    """Buildings whose address (or street + house number) contains ``query``, best match first.

    Returns dicts with id, ext_id (the source's code), address, kind, lon, lat (centroid, EPSG:4326) and bbox
    (min_lon, min_lat, max_lon, max_lat). An empty or blank query returns an empty list.
    Whitespace runs in the query count as one space.
    """
    q = " ".join((query or "").split()).lower()[:MAX_QUERY_CHARS]
    if not q or limit < 1:
        return []
    esc = escape_like(q)
    rows = conn.execute(text(
        r"""
        WITH b AS (
            SELECT id, ext_id, coalesce(address, concat_ws(' ', street, housenumber)) AS label, kind, geom,
                   lower(address) AS a,
                   lower(concat_ws(' ', street, housenumber)) AS sh
            FROM buildings
            WHERE lower(address) LIKE :sub ESCAPE '\'
               OR lower(concat_ws(' ', street, housenumber)) LIKE :sub ESCAPE '\'
        )
        SELECT id, ext_id, label AS address, kind,
               ST_X(ST_Centroid(geom)) AS lon, ST_Y(ST_Centroid(geom)) AS lat,
               ST_XMin(geom) AS min_lon, ST_YMin(geom) AS min_lat, ST_XMax(geom) AS max_lon, ST_YMax(geom) AS max_lat,
               CASE WHEN a = :q OR sh = :q THEN 0
                    WHEN a LIKE :prefix ESCAPE '\' THEN 1
                    WHEN sh LIKE :prefix ESCAPE '\' THEN 2
                    WHEN a LIKE :word ESCAPE '\' OR sh LIKE :word ESCAPE '\' THEN 3
                    ELSE 4 END AS rank
        FROM b
        ORDER BY rank, length(coalesce(a, sh)), coalesce(a, sh), id
        LIMIT :limit
        """
    ), {"q": q, "sub": f"%{esc}%", "prefix": f"{esc}%", "word": f"% {esc}%", "limit": int(limit)}).mappings().all()
    return [
        {
            "id": r["id"], "ext_id": r["ext_id"], "address": r["address"], "kind": r["kind"], "lon": r["lon"],
            "lat": r["lat"],
            "bbox": (r["min_lon"], r["min_lat"], r["max_lon"], r["max_lat"]), "rank": r["rank"],
        }
        for r in rows
    ]
