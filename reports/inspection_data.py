"""What the inspector's report shows, read from the database (the query half of the report; drawing it is
:mod:`reports.pdf`, which takes the plain ``InspectionData`` gathered here and reads nothing).

The area: an organisation (its reports; a management company's buildings, a utility's networks), a bbox
(reports and buildings inside it) or the whole service. Reports of the period = created in it.
SQL through SQLAlchemy Core: the area decides which conditions a query gets, not string fragments.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, any_, bindparam, column, exists, func, literal, select, table, text, true, union_all
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT
from sqlalchemy.sql.elements import ColumnElement

from billing.rules_file import BillingRules
from incidents.sla import Rules
from reports import kpi_queries, kpis, orgs
from reports.inspection_model import BBox, InspectionData, MapLayers
from reports.kpi_rules import ReportRules

__all__ = ["InspectionData", "MapLayers", "gather", "map_layers", "utm_srid"]

_buildings = table("buildings", column("id"), column("geom"), column("management_company_id"))
_networks = table("networks", column("id"), column("utility_id"))
_pipes = table("pipes", column("id"), column("geom"), column("network_id"))
_connections = table("service_connections", column("building_id"), column("network_id"))
_incidents = table("incidents", column("id"), column("created_at"), column("responsible_org_id"), column("geom"),
                   column("priority"))
_outages = table("outages", column("id"), column("network_id"), column("actual_start"), column("actual_end"),
                 column("geom"))
_outage_buildings = table("outage_buildings", column("outage_id"), column("building_id"))


def utm_srid(lon: float, lat: float) -> int:
    zone = int((lon + 180) // 6) + 1
    return (32600 if lat >= 0 else 32700) + min(max(zone, 1), 60)


def _any(values: list[int]) -> ColumnElement[Any]:
    """``= ANY(:array)``: one bound array, however many ids."""
    return any_(bindparam(None, list(values), type_=ARRAY(BIGINT)))


def _envelope(bbox: BBox) -> ColumnElement[Any]:
    return func.ST_MakeEnvelope(*bbox, 4326)


def _extent(conn: Connection, geoms: Any) -> tuple[float, float, float, float] | None:
    """(xmin, ymin, xmax, ymax) of ``geoms`` (a select of one geometry column), None when empty."""
    g = geoms.subquery()
    box = select(func.ST_Extent(list(g.c)[0]).label("x")).subquery()
    ext = conn.execute(select(func.ST_XMin(box.c.x), func.ST_YMin(box.c.x), func.ST_XMax(box.c.x),
                              func.ST_YMax(box.c.x))).one()
    return None if ext[0] is None else tuple(ext)  # type: ignore[return-value]


def _area(conn: Connection, org: dict[str, Any] | None, bbox: BBox | None, p: kpis.Period) -> dict[str, Any]:
    """What the report covers: bbox of the map, buildings, networks, report ids, outage ids."""
    b, n, pp, sc, i, o, ob = _buildings.c, _networks.c, _pipes.c, _connections.c, _incidents.c, _outages.c, \
        _outage_buildings.c
    geoms = None
    nids: list[int] | None = None
    bids: list[int] | None = None
    if org is not None and org["kind"] == "management_company":
        bids = list(conn.execute(select(b.id).where(b.management_company_id == org["id"])).scalars())
        geoms = select(b.geom).where(b.id == _any(bids))
    elif org is not None:
        nids = list(conn.execute(select(n.id).where(n.utility_id == org["id"])).scalars())
        geoms = select(pp.geom).where(pp.network_id == _any(nids))
        bids = list(conn.execute(select(sc.building_id).distinct().where(sc.network_id == _any(nids))).scalars())
    elif bbox is not None:
        bids = list(conn.execute(select(b.id).where(func.ST_Intersects(b.geom, _envelope(bbox)))).scalars())
    else:
        geoms = union_all(select(b.geom), select(pp.geom))
    if geoms is not None:
        ext = (_extent(conn, geoms) or _extent(conn, select(b.geom))  # an empty area: the whole city
               or (0.0, 0.0, 0.01, 0.01))
        dx, dy = max(ext[2] - ext[0], 0.002) * 0.05, max(ext[3] - ext[1], 0.001) * 0.05
        map_bbox = (ext[0] - dx, ext[1] - dy, ext[2] + dx, ext[3] + dy)
    else:
        map_bbox = bbox
    if org is not None:
        mine: ColumnElement[bool] = i.responsible_org_id == org["id"]
    elif bbox is not None:
        mine = func.ST_Intersects(i.geom, _envelope(bbox))
    else:
        mine = true()
    report_ids = list(conn.execute(select(i.id).where(i.created_at >= p.start, i.created_at < p.end, mine)
                                   .order_by(i.created_at, i.id)).scalars())
    all_ids = set(conn.execute(select(i.id).where(mine)).scalars())
    if org is not None and org["kind"] != "management_company":
        touched: ColumnElement[bool] = o.network_id == _any(nids or [])
    elif bids is not None:
        touched = exists(select(literal(1)).where(ob.outage_id == o.id, ob.building_id == _any(bids)))
    else:
        touched = true()
    outage_ids = list(conn.execute(select(o.id).where(
        o.actual_start.is_not(None), o.actual_start < p.end, func.coalesce(o.actual_end, func.now()) > p.start,
        touched).order_by(o.actual_start)).scalars())
    return {"bbox": map_bbox, "building_ids": bids, "network_ids": nids, "report_ids": report_ids,
            "all_report_ids": all_ids, "outage_ids": outage_ids}


def map_layers(conn: Connection, *, bbox: BBox, building_ids: list[int] | None, network_ids: list[int] | None,
               report_ids: list[int], outage_ids: list[int]) -> MapLayers:
    """The map's geometry of ``bbox`` (W,S,E,N): the given buildings (all within the bbox when None), pipes
    of the given networks (all when None), the outages and the reports."""
    srid = utm_srid((bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2)
    env = _envelope(bbox)
    b, pp, o, i = _buildings.c, _pipes.c, _outages.c, _incidents.c

    def metric(geom: Any) -> Any:
        return func.ST_Transform(geom, srid)

    bq = select(b.id, func.ST_AsBinary(metric(b.geom))).where(b.geom.op("&&")(env))
    if building_ids is not None:
        bq = bq.where(b.id == _any(building_ids))
    pq = select(func.ST_AsBinary(metric(pp.geom))).where(pp.geom.op("&&")(func.ST_Expand(env, 0.002)))
    if network_ids is not None:
        pq = pq.where(pp.network_id == _any(network_ids))
    corner = select(metric(env).label("g")).subquery()
    return MapLayers(
        buildings=[(int(bid), bytes(raw)) for bid, raw in conn.execute(bq)],
        pipes=[bytes(raw) for (raw,) in conn.execute(pq)],
        outages=[bytes(raw) for (raw,) in conn.execute(
            select(func.ST_AsBinary(metric(o.geom))).where(o.id == _any(outage_ids), o.geom.is_not(None)))],
        reports=[(prio, float(x), float(y)) for prio, x, y in conn.execute(
            select(i.priority, func.ST_X(metric(i.geom)), func.ST_Y(metric(i.geom))).where(i.id == _any(report_ids)))],
        corners=tuple(conn.execute(select(func.ST_XMin(corner.c.g), func.ST_YMin(corner.c.g), func.ST_XMax(corner.c.g),
                                          func.ST_YMax(corner.c.g))).one()),  # type: ignore[arg-type]
    )


_REPORT_ROWS = text("""
    SELECT i.id, i.category, i.priority, i.status, i.address, i.created_at, o.short_name
    FROM incidents i LEFT JOIN organisations o ON o.id = i.responsible_org_id
    WHERE i.id = ANY(:ids) ORDER BY i.created_at, i.id""")
_OUTAGE_ROWS = text("""
    SELECT o.id, o.kind, o.reason, o.actual_start, o.actual_end, n.name AS network, n.resource,
           (SELECT count(*) FROM outage_buildings ob WHERE ob.outage_id = o.id) AS buildings,
           (SELECT coalesce(sum(b.residents), 0) FROM outage_buildings ob JOIN buildings b ON b.id = ob.building_id
            WHERE ob.outage_id = o.id) AS residents,
           (SELECT string_agg(coalesce(b.address, '#' || b.id), '; ' ORDER BY b.address)
            FROM (SELECT b.* FROM outage_buildings ob JOIN buildings b ON b.id = ob.building_id
                  WHERE ob.outage_id = o.id ORDER BY b.address LIMIT 6) b) AS addresses
    FROM outages o LEFT JOIN networks n ON n.id = o.network_id WHERE o.id = ANY(:ids) ORDER BY o.actual_start
""")


def gather(conn: Connection, p: kpis.Period, sla: Rules, rules: ReportRules, *, org_id: int | None = None,
           bbox: BBox | None = None, now: datetime, brules: BillingRules | None = None,
           demo_network_name: str | None = None) -> InspectionData:
    """The report's data for the period ``p`` and an organisation, a bbox or everything (``now`` in the
    region's time zone; ``brules``: the billing rules, the ones in force when None)."""
    brules = brules or kpi_queries.billing_rules()
    org = orgs.get_organisation(conn, org_id) if org_id is not None else None
    area = _area(conn, org, bbox, p)
    data = kpi_queries.compute(conn, p, sla, rules, org_id=org_id, now=now)
    reports = {r.id: r for r in kpi_queries.load_reports(conn, p, sla, rules.repeat_window_days)}
    if org is None and bbox is not None:
        # the area's own figures: its reports, its buildings
        buildings = kpi_queries.load_buildings(conn, rules)
        excess = kpis.outage_excess(kpi_queries.load_outage_spans(conn, p, now), p, sla, brules)
        rs = [r for r in reports.values() if r.id in area["all_report_ids"]]
        figs = kpis.org_figures(rs, buildings, excess, area["building_ids"] or [], p, sla, rules,
                                everyone=list(reports.values()))
        data["organisations"] = [{"id": None, "kind": "area", "name": "area", "zone": kpis.overall_zone(figs),
                                  "kpis": figs}]
    zones = {o["id"]: o["zone"] for o in data["organisations"] if o["id"] is not None}
    b = _buildings.c
    building_zones = {bid: zones.get(mc) for bid, mc in conn.execute(select(b.id, b.management_company_id))}
    return InspectionData(
        period=p, now=now, org=org, bbox=bbox, kpis=data, min_count=rules.min_count, reports=reports,
        report_rows=[dict(r) for r in conn.execute(_REPORT_ROWS, {"ids": area["report_ids"]}).mappings()],
        outage_rows=[dict(r) for r in conn.execute(_OUTAGE_ROWS, {"ids": area["outage_ids"]}).mappings()],
        map=map_layers(conn, bbox=area["bbox"], building_ids=area["building_ids"], network_ids=area["network_ids"],
                       report_ids=area["report_ids"], outage_ids=area["outage_ids"]),
        building_zones=building_zones, demo_network_name=demo_network_name)
