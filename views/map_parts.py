"""Map building blocks shared by the pages: viewport layers, legend, zoom fitting, map state."""
from __future__ import annotations

import math
from typing import Any

from gis import layers as L
from views.common import labels, t
from views.session import actor


def incidents_layer(bbox: tuple[float, float, float, float], name: str) -> tuple[Any, int]:
    """Open reports in ``bbox`` as circles coloured by priority (tooltip: number, what, address, deadline state)."""
    import geopandas as gpd

    from ops import incidents
    from views.formatting import label

    items = incidents.queue(actor(), bbox=bbox, limit=2000)
    rows = [{"id": q.incident.id, "what": label("priority", q.incident.priority),
             "category": label("category", q.incident.category), "priority": q.incident.priority,
             "address": q.incident.address or "", "sla": label("sla", q.sla_state)} for q in items]
    gdf = gpd.GeoDataFrame(rows, geometry=gpd.points_from_xy([q.incident.lon for q in items],
                                                             [q.incident.lat for q in items]), crs="EPSG:4326")
    lab = {"id": t("field.id"), "what": t("field.priority"), "category": t("field.kind"),
           "address": t("field.address"), "sla": t("field.sla")}
    return L.points_layer(gdf, lab, name, color_field="priority", colors=L.PRIORITY_COLORS, radius=9,
                          fields=("id", "what", "category", "address", "sla")), len(rows)


def city_bounds_or_message() -> tuple[float, float, float, float] | None:
    """The city's extent for the initial view; None (with a message on the page) when there is none."""
    import streamlit as st

    from ops import maps

    bounds = maps.city_bounds(actor())
    if bounds is None:
        st.info(t("map.no_data"))
    return bounds


def bbox_from(bounds: dict[str, Any] | None) -> tuple[float, float, float, float] | None:
    try:
        sw, ne = bounds["_southWest"], bounds["_northEast"]
        return (float(sw["lng"]), float(sw["lat"]), float(ne["lng"]), float(ne["lat"]))
    except (TypeError, KeyError, ValueError):
        return None


def fit_zoom(bbox: tuple[float, float, float, float], width_px: int = 1100, height_px: int = 640) -> int:
    """The largest zoom at which ``bbox`` fits a map of the given size (web mercator)."""
    lon_span = max(bbox[2] - bbox[0], 1e-6)
    lat_mid = math.radians((bbox[1] + bbox[3]) / 2)
    lat_span = max(bbox[3] - bbox[1], 1e-6)
    z_lon = math.log2(360 * width_px / (256 * lon_span))
    z_lat = math.log2(360 * height_px * math.cos(lat_mid) / (256 * lat_span))
    return max(3, min(18, int(math.floor(min(z_lon, z_lat) + 0.2))))


def legend_items(color_by: str) -> list[tuple[str, str, str]]:
    items = [("fill", c, t(f"legend.kind.{k}")) for k, c in L.BUILDING_COLORS.items()
             if k in ("residential", "hospital", "school", "kindergarten", "commercial", "public")]
    if color_by == "age":
        items += [("line", c, t(f"legend.age.{k}")) for k, (_, c) in zip(("new", "mid", "old", "oldest"), L.AGE_CLASSES)]
    else:
        items += [("line", L.DIAMETER_CLASSES[0][1], t("legend.pipe.large")),
                  ("line", L.DIAMETER_CLASSES[2][1], t("legend.pipe.medium")),
                  ("line", L.DIAMETER_CLASSES[4][1], t("legend.pipe.small"))]
    items += [("dot", L.VALVE_COLORS[s], t(f"legend.valve.{s}")) for s in ("open", "closed", "inoperable")]
    items += [("dot", "#41b6c4", t("legend.hydrant")), ("dot", "#253494", t("legend.source"))]
    items += [("dot", L.PRIORITY_COLORS[p], t(f"legend.priority.{p}")) for p in ("emergency", "urgent", "routine")]
    return items


ALL_LAYERS = ("buildings", "pipes", "valves", "hydrants", "sources")


def viewport_layers(bbox: tuple[float, float, float, float], zoom: int, net: int | None,
                    color_by: str, highlight: dict[int, str], *, pipe_override: dict[int, str] | None = None,
                    layers: tuple[str, ...] = ALL_LAYERS) -> tuple[list[Any], list[str], dict[str, int]]:
    """Folium feature groups of ``layers`` in ``bbox`` (full detail when it fits the cap), notes, counts.

    ``highlight`` maps building id -> fill colour; ``pipe_override`` maps pipe id -> line colour.
    """
    from ops import maps
    from settings import get_settings

    lab = labels()
    groups, notes, counts = [], [], {}
    for part in maps.viewport(actor(), bbox, zoom, network_id=net, layers=layers,
                              cap=get_settings().max_features_per_layer):
        layer, res = part.name, part.result
        gdf = res.features
        counts[layer] = part.count
        name = t(f"map.layer.{layer}")
        if res.truncated:
            notes.append(t("map.truncated", layer=name, shown=len(gdf), total=res.total))
        if res.representation != "features":
            notes.append(t("map.aggregated", layer=name))
        elif res.filters.get("min_diameter_mm"):
            notes.append(t("map.filtered_diameter", layer=name, mm=int(res.filters["min_diameter_mm"])))
        elif res.filters:
            notes.append(t("map.filtered_small", layer=name))
        if res.representation == "grid":
            groups.append(L.grid_layer(gdf, lab, name))
        elif layer == "buildings":
            groups.append(L.buildings_layer(gdf, lab, name, highlight=highlight))
        elif layer == "pipes":
            groups.append(L.pipes_layer(gdf, lab, name, color_by=color_by, override=pipe_override))
        elif layer == "valves":
            groups.append(L.points_layer(gdf, lab, name, color_field="status", colors=L.VALVE_COLORS,
                                         radius=4, fields=("ext_id", "status", "kind", "pipe_id")))
        elif layer == "hydrants":
            groups.append(L.points_layer(gdf, lab, name, color_field=None, colors={},
                                         default_color="#41b6c4", radius=3.5, fields=("ext_id", "kind")))
        else:
            groups.append(L.points_layer(gdf, lab, name, color_field=None, colors={},
                                         default_color="#253494", radius=8, fields=("ext_id", "kind")))
    return groups, notes, counts
