"""City map: buildings, pipes, valves, hydrants, sources and reports in the current viewport."""
from __future__ import annotations

from typing import Any

import folium
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from gis import layers as L
from gis import queries as Q
from settings import get_settings
from views.common import engine, labels, network_id, t



def _bbox_from(bounds: dict[str, Any] | None) -> tuple[float, float, float, float] | None:
    try:
        sw, ne = bounds["_southWest"], bounds["_northEast"]
        return (float(sw["lng"]), float(sw["lat"]), float(ne["lng"]), float(ne["lat"]))
    except (TypeError, KeyError, ValueError):
        return None


def fit_zoom(bbox: tuple[float, float, float, float], width_px: int = 1100, height_px: int = 640) -> int:
    """The largest zoom at which ``bbox`` fits a map of the given size (web mercator)."""
    import math

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
    return items


def viewport_layers(bbox: tuple[float, float, float, float], zoom: int, net: int | None,
                    color_by: str, highlight: dict[int, str]) -> tuple[list[Any], list[str], dict[str, int]]:
    lab = labels()
    groups, notes, counts = [], [], {}
    with engine().connect() as conn:
        for layer in ("buildings", "pipes", "valves", "hydrants", "sources"):
            # everything in view when it fits under the cap; the zoom's policy (filters, aggregates) otherwise
            res = Q.layer_in_bbox(conn, layer, bbox, zoom, network_id=net, policy=Q.LayerPolicy())
            if res.truncated:
                res = Q.layer_in_bbox(conn, layer, bbox, zoom, network_id=net)
            gdf = res.features
            counts[layer] = res.total if res.representation == "grid" else len(gdf)
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
                groups.append(L.pipes_layer(gdf, lab, name, color_by=color_by))
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


def identify_panel(clicked: dict[str, Any] | None, net: int | None) -> None:
    st.subheader(t("map.identify"))
    if not clicked:
        st.caption(t("map.identify_hint"))
        return
    lat, lon = float(clicked["lat"]), float(clicked["lng"])
    with engine().connect() as conn:
        feat = Q.nearest_feature(conn, lon, lat, network_id=net)
    if not feat:
        st.info(t("map.identify_none", lat=lat, lon=lon))
        return
    st.markdown(f"**{t('layer.' + feat['layer'])}** #{feat['id']}")
    rows = [(t(f"field.{k}"), str(v)) for k, v in feat.items() if k not in ("layer", "geometry", "geojson") and v is not None]
    st.table(pd.DataFrame(rows, columns=[t("field.field"), t("field.value")]).set_index(t("field.field")))


def main() -> None:
    s = get_settings()
    net = network_id()
    try:
        with engine().connect() as conn:
            bounds = Q.city_bounds(conn)
    except Exception as exc:
        st.error(t("map.db_error", error=str(exc).splitlines()[0]))
        return
    if bounds is None:
        st.info(t("map.no_data"))
        return
    ss = st.session_state
    if "map_zoom" not in ss:
        ss["map_zoom"] = fit_zoom(bounds)
    center = ss.get("map_center") or ((bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2)

    top = st.columns([3, 2, 2])
    with top[0]:
        query = st.text_input(t("map.search"), placeholder=t("map.search_placeholder"), key="addr_query")
    highlight: dict[int, str] = {}
    if query.strip():
        with engine().connect() as conn:
            hits = Q.search_addresses(conn, query, limit=10)
        with top[1]:
            if not hits:
                st.warning(t("map.search_none", query=query))
            else:
                pick = st.selectbox(t("map.search_pick"), range(len(hits)), format_func=lambda i: hits[i]["address"])
                hit = hits[pick]
                highlight[hit["id"]] = "#00e5ff"
                if ss.get("map_target") != hit["id"]:
                    ss["map_target"] = hit["id"]
                    ss["map_center"] = (hit["lat"], hit["lon"])
                    ss["map_zoom"] = 18
                    ss["map_jump"] = True
                    center = ss["map_center"]
    with top[2]:
        color_by = st.radio(t("map.color_by"), ["diameter", "age"], horizontal=True,
                            format_func=lambda c: t(f"map.color_by.{c}"), key="color_by")

    # the map's own state from its last interaction (st_folium keeps it under its key)
    state = ss.get("city_map") or {}
    zoom = int(state.get("zoom") or ss["map_zoom"])
    bbox = _bbox_from(state.get("bounds")) or bounds
    if ss.get("map_jump"):
        lat, lon = ss["map_center"]
        zoom = ss["map_zoom"]
        bbox = (lon - 0.003, lat - 0.0015, lon + 0.003, lat + 0.0015)
        ss["map_jump"] = False
    groups, notes, counts = viewport_layers(bbox, zoom, net, color_by, highlight)

    m = L.base_map(center, ss["map_zoom"], tiles_url=s.tiles_url or None, attribution=s.tiles_attribution,
                   tiles_name=s.tiles_name)
    m.get_root().html.add_child(L.legend(t("map.legend"), legend_items(color_by)))
    out = st_folium(
        m, key="city_map", height=720, use_container_width=True, center=center, zoom=ss["map_zoom"],
        feature_group_to_add=groups, layer_control=folium.LayerControl(collapsed=False),
        returned_objects=["bounds", "zoom", "last_clicked"],
    )
    st.caption(" · ".join([t("map.counts", **counts)] + notes))
    with st.sidebar:
        identify_panel(out.get("last_clicked") if out else None, net)


main()
