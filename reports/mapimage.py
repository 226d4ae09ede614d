"""The area's map as a PNG, drawn offline on the server (no tile server): buildings, the network,
outages, reports by priority, a scale bar and a north arrow, in a metric (UTM) projection."""
from __future__ import annotations

import io
import math
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import LineCollection, PolyCollection  # noqa: E402
from shapely import wkb  # noqa: E402
from sqlalchemy import Connection, text  # noqa: E402

PRIORITY_COLOURS = {"emergency": "#d62728", "urgent": "#ff7f0e", "routine": "#1f77b4"}
ZONE_COLOURS = {"green": "#7fc97f", "yellow": "#fdd835", "red": "#ef5350", None: "#c8c8c8"}


def utm_srid(lon: float, lat: float) -> int:
    zone = int((lon + 180) // 6) + 1
    return (32600 if lat >= 0 else 32700) + min(max(zone, 1), 60)


def _polys(geom: Any) -> list[list[tuple[float, float]]]:
    if geom.geom_type == "Polygon":
        return [list(geom.exterior.coords)]
    if hasattr(geom, "geoms"):
        return [c for g in geom.geoms for c in _polys(g)]
    return []


def _lines(geom: Any) -> list[list[tuple[float, float]]]:
    if geom.geom_type == "LineString":
        return [list(geom.coords)]
    if hasattr(geom, "geoms"):
        return [c for g in geom.geoms for c in _lines(g)]
    return []


def nice_length(max_m: float) -> float:
    exp = 10 ** math.floor(math.log10(max_m))
    for f in (5, 2, 1):
        if f * exp <= max_m:
            return f * exp
    return exp


def render(conn: Connection, *, bbox: tuple[float, float, float, float], building_ids: list[int] | None,
           network_ids: list[int] | None, report_ids: list[int], outage_ids: list[int],
           building_zones: dict[int, str | None] | None = None, labels: dict[str, str] | None = None,
           max_w_in: float = 10.0, max_h_in: float = 5.8, dpi: int = 150) -> tuple[bytes, float, float]:
    """PNG bytes of the map of ``bbox`` (W,S,E,N): the given buildings (all within the bbox when
    None), pipes of the given networks, outages, reports coloured by priority; (PNG, width, height in
    inches), the size following the area's shape within ``max_w_in`` × ``max_h_in``."""
    labels = labels or {}
    w, s, e, n = bbox
    srid = utm_srid((w + e) / 2, (s + n) / 2)
    env = "ST_MakeEnvelope(:w, :s, :e, :n, 4326)"
    prm = {"w": w, "s": s, "e": e, "n": n, "srid": srid}
    bsql = "b.geom && " + env + ("" if building_ids is None else " AND b.id = ANY(:bids)")
    brows = conn.execute(text(f"SELECT b.id, ST_AsBinary(ST_Transform(b.geom, :srid)) FROM buildings b WHERE {bsql}"),
                         {**prm, "bids": building_ids or []}).all()
    prow = conn.execute(text(f"""
        SELECT ST_AsBinary(ST_Transform(p.geom, :srid)) FROM pipes p
        WHERE p.geom && ST_Expand({env}, 0.002) AND (CAST(:all AS boolean) OR p.network_id = ANY(:nids))
    """), {**prm, "all": network_ids is None, "nids": network_ids or []}).all()
    orow = conn.execute(text("SELECT ST_AsBinary(ST_Transform(geom, :srid)) FROM outages "
                             "WHERE id = ANY(:ids) AND geom IS NOT NULL"), {"srid": srid, "ids": outage_ids}).all()
    rrow = conn.execute(text("SELECT priority, ST_X(ST_Transform(geom, :srid)), ST_Y(ST_Transform(geom, :srid)) "
                             "FROM incidents WHERE id = ANY(:ids)"), {"srid": srid, "ids": report_ids}).all()
    corners = conn.execute(text(f"SELECT ST_XMin(g), ST_YMin(g), ST_XMax(g), ST_YMax(g) FROM "
                                f"(SELECT ST_Transform({env}, :srid) AS g) x"), prm).one()

    x0, y0, x1, y1 = corners
    aspect = (x1 - x0) / max(y1 - y0, 1e-9)
    width_in, height_in = (max_w_in, max_w_in / aspect) if aspect >= max_w_in / max_h_in else (max_h_in * aspect, max_h_in)
    fig, ax = plt.subplots(figsize=(width_in, height_in), dpi=dpi)
    ax.set_facecolor("#f7f7f4")
    polys, colours = [], []
    for bid, raw in brows:
        for ring in _polys(wkb.loads(bytes(raw))):
            polys.append(ring)
            colours.append(ZONE_COLOURS.get((building_zones or {}).get(bid), "#c8c8c8") if building_zones is not None
                           else "#bdbdbd")
    if polys:
        ax.add_collection(PolyCollection(polys, facecolors=colours, edgecolors="#555555", linewidths=0.3, zorder=2))
    pipes = [ln for (raw,) in prow for ln in _lines(wkb.loads(bytes(raw)))]
    if pipes:
        ax.add_collection(LineCollection(pipes, colors="#1565c0", linewidths=0.9, zorder=3,
                                         label=labels.get("network", "network")))
    outs = [ln for (raw,) in orow for ln in _lines(wkb.loads(bytes(raw)))]
    if outs:
        ax.add_collection(LineCollection(outs, colors="#8e24aa", linewidths=3.5, alpha=0.6, zorder=4,
                                         label=labels.get("outage", "outage")))
    for prio, colour in PRIORITY_COLOURS.items():
        pts = [(x, y) for p, x, y in rrow if p == prio]
        if pts:
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=16, c=colour, edgecolors="white",
                       linewidths=0.4, zorder=5, label=f"{labels.get(prio, prio)} ({len(pts)})")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    # scale bar (bottom left) and north arrow (top right)
    length = nice_length((x1 - x0) / 4)
    bx, by = x0 + (x1 - x0) * 0.04, y0 + (y1 - y0) * 0.05
    ax.plot([bx, bx + length], [by, by], color="black", linewidth=3, zorder=6, solid_capstyle="butt")
    ax.text(bx + length / 2, by + (y1 - y0) * 0.015, f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m",
            ha="center", va="bottom", fontsize=9, zorder=6)
    ax.annotate("N", xy=(0.95, 0.95), xytext=(0.95, 0.84), xycoords="axes fraction", ha="center", va="center",
                fontsize=13, fontweight="bold", arrowprops={"facecolor": "black", "width": 4, "headwidth": 12},
                zorder=6)
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(loc="lower right", fontsize=8, framealpha=0.85)
    fig.subplots_adjust(left=0.005, right=0.995, bottom=0.005, top=0.995)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue(), width_in, height_in
