"""The area's map as a PNG, drawn offline on the server (no tile server): buildings, the network,
outages, reports by priority, a scale bar and a north arrow, in a metric (UTM) projection. Drawing only:
the geometry comes as plain data (``reports.inspection_data.map_layers`` reads it)."""
from __future__ import annotations

import io
import math
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import LineCollection, PolyCollection  # noqa: E402
from shapely import wkb  # noqa: E402

from reports.inspection_model import MapLayers  # noqa: E402

PRIORITY_COLOURS = {"emergency": "#d62728", "urgent": "#ff7f0e", "routine": "#1f77b4"}
ZONE_COLOURS = {"green": "#7fc97f", "yellow": "#fdd835", "red": "#ef5350", None: "#c8c8c8"}


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


def draw(layers: MapLayers, *, building_zones: dict[int, str | None] | None = None,
         labels: dict[str, str] | None = None, max_w_in: float = 10.0, max_h_in: float = 5.8,
         dpi: int = 150) -> tuple[bytes, float, float]:
    """PNG bytes of the map of ``layers`` (read by ``reports.inspection_data.map_layers``): buildings
    coloured by their company's zone, the network, outages, reports coloured by priority; (PNG, width,
    height in inches), the size following the area's shape within ``max_w_in`` × ``max_h_in``."""
    labels = labels or {}
    corners, brows, rrow = layers.corners, layers.buildings, layers.reports
    x0, y0, x1, y1 = corners
    aspect = (x1 - x0) / max(y1 - y0, 1e-9)
    width_in, height_in = (max_w_in, max_w_in / aspect) if aspect >= max_w_in / max_h_in else (max_h_in * aspect, max_h_in)
    fig, ax = plt.subplots(figsize=(width_in, height_in), dpi=dpi)
    ax.set_facecolor("#f7f7f4")
    polys, colours = [], []
    for bid, raw in brows:
        for ring in _polys(wkb.loads(raw)):
            polys.append(ring)
            colours.append(ZONE_COLOURS.get((building_zones or {}).get(bid), "#c8c8c8") if building_zones is not None
                           else "#bdbdbd")
    if polys:
        ax.add_collection(PolyCollection(polys, facecolors=colours, edgecolors="#555555", linewidths=0.3, zorder=2))
    pipes = [ln for raw in layers.pipes for ln in _lines(wkb.loads(raw))]
    if pipes:
        ax.add_collection(LineCollection(pipes, colors="#1565c0", linewidths=0.9, zorder=3,
                                         label=labels.get("network", "network")))
    outs = [ln for raw in layers.outages for ln in _lines(wkb.loads(raw))]
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
