"""A hand-made network for the DMA tests (and the balance page's browser test)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text

UTC = timezone.utc


def _sql(conn, sql: str, **p):
    return conn.execute(text(sql), p)


def build_net(clean_engine: Engine) -> dict:
    """S —p1— n1 —p2— n2 —p3— n3 —p4— n4, and p5: n1 — n3.
    p3 has a normally-closed valve at n2; inlet meter M1 on p1 at S, M2 on p5 at n1.
    So A = {p1, p2} (fed by M1, passes M2 on), B = {p3, p4, p5} (fed by M2). Buildings b1 on p2, b2 on p4."""
    ids: dict = {}
    with clean_engine.begin() as c:
        ids["net"] = _sql(c, "INSERT INTO networks (name, resource) VALUES ('t', 'cold_water') RETURNING id").scalar()
        xy = {"S": (24.930, 60.170), "n1": (24.935, 60.170), "n2": (24.940, 60.170), "n3": (24.940, 60.173),
              "n4": (24.945, 60.173)}
        for k, (x, y) in xy.items():
            ids[k] = _sql(c, """INSERT INTO nodes (network_id, ext_id, kind, geom)
                                VALUES (:n, :e, :k, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) RETURNING id""",
                          n=ids["net"], e=k, k="source" if k == "S" else "junction", x=x, y=y).scalar()
        for p, a, b in (("p1", "S", "n1"), ("p2", "n1", "n2"), ("p3", "n2", "n3"), ("p4", "n3", "n4"), ("p5", "n1", "n3")):
            ids[p] = _sql(c, """INSERT INTO pipes (network_id, ext_id, from_node, to_node, geom)
                                SELECT :n, :e, a.id, b.id, ST_MakeLine(a.geom, b.geom) FROM nodes a, nodes b
                                WHERE a.id = :a AND b.id = :b RETURNING id""",
                          n=ids["net"], e=p, a=ids[a], b=ids[b]).scalar()
        _sql(c, """INSERT INTO valves (network_id, ext_id, pipe_id, node_id, status, geom)
                   SELECT :n, 'V3', :p, :node, 'closed', geom FROM nodes WHERE id = :node""",
             n=ids["net"], p=ids["p3"], node=ids["n2"])
        for b, pipe, (x, y) in (("b1", "p2", (24.9375, 60.1702)), ("b2", "p4", (24.9425, 60.1732))):
            ids[b] = _sql(c, """INSERT INTO buildings (address, residents, geom)
                                VALUES (:a, 50, ST_Buffer(ST_SetSRID(ST_MakePoint(:x, :y), 4326), 0.0001)) RETURNING id""",
                          a=f"Testikatu {b}", x=x, y=y).scalar()
            _sql(c, """INSERT INTO service_connections (building_id, pipe_id, network_id, geom)
                       SELECT :b, :p, :n, ST_MakeLine(ST_Centroid(bb.geom), ST_LineInterpolatePoint(pp.geom, 0.5))
                       FROM buildings bb, pipes pp WHERE bb.id = :b AND pp.id = :p""", b=ids[b], p=ids[pipe], n=ids["net"])
        for m, kind, bld in (("M1", "dma_inlet", None), ("M2", "dma_inlet", None), ("B1", "building", "b1"),
                             ("B2", "building", "b2")):
            ids[m] = _sql(c, """INSERT INTO meters (serial, resource, kind, building_id, install_date)
                                VALUES (:s, 'cold_water', :k, :b, '2026-01-01') RETURNING id""",
                          s=m, k=kind, b=ids.get(bld)).scalar()
        _sql(c, "INSERT INTO dma_inlets (meter_id, pipe_id, node_id) VALUES (:m, :p, :n)", m=ids["M1"], p=ids["p1"], n=ids["S"])
        _sql(c, "INSERT INTO dma_inlets (meter_id, pipe_id, node_id) VALUES (:m, :p, :n)", m=ids["M2"], p=ids["p5"], n=ids["n1"])
    return ids


def write_hourly(engine: Engine, meter: int, rate_m3h, days: int, start_total: float = 1000.0, skip=(),
                 t0: datetime | None = None) -> None:
    """Hourly cumulative readings from ``t0`` (default: local midnight of 1 March 2026 in Helsinki) for
    ``days`` days; ``rate_m3h(local datetime)`` is the flow during the hour that ends at the reading."""
    z = ZoneInfo("Europe/Helsinki")
    t0 = t0 or datetime(2026, 3, 1, tzinfo=z).astimezone(UTC)
    total = start_total
    rows = []
    for h in range(days * 24 + 1):
        t = t0 + timedelta(hours=h)
        if h:
            total += rate_m3h(t.astimezone(z))
        if t not in skip:
            rows.append({"m": meter, "t": t, "v": total})
    with engine.begin() as c:
        c.execute(text("INSERT INTO meter_readings (meter_id, ts, total) VALUES (:m, :t, :v)"), rows)
