"""City map: buildings, pipes, valves, hydrants, sources and reports in the current viewport."""
from __future__ import annotations

from typing import Any

import folium
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from gis import layers as L
from i18n import has_text
from ops import maps
from settings import get_settings
from views.common import network_id, t, tn
from views.formatting import md_safe
from views.map_parts import (
    bbox_from,
    city_bounds_or_message,
    fit_zoom,
    incidents_layer,
    legend_items,
    viewport_layers,
)
from views.session import actor, guard


def identify_panel(clicked: dict[str, Any] | None, net: int | None) -> None:
    st.subheader(t("map.identify"))
    if not clicked:
        st.caption(t("map.identify_hint"))
        return
    lat, lon = float(clicked["lat"]), float(clicked["lng"])
    feat = maps.identify(actor(), lon, lat, network_id=net)
    if not feat:
        st.info(t("map.identify_none", lat=lat, lon=lon))
        return
    st.markdown(f"**{t('layer.' + feat['layer'])}** #{md_safe(feat['id'])}")
    rows = [(t(f"field.{k}"), feature_value(feat["layer"], k, v)) for k, v in feat.items()
            if k not in ("layer", "geometry", "geojson") and v is not None]
    # st.table renders Markdown in its cells: every value (an imported address…) is escaped
    st.table(pd.DataFrame(rows, columns=[t("field.field"), t("field.value")]).set_index(t("field.field")))


VOCAB = {("buildings", "kind"): "legend.kind", ("valves", "status"): "legend.valve", ("valves", "kind"): "vocab.valve",
         ("nodes", "kind"): "vocab.node", ("pipes", "kind"): "vocab.pipe", ("buildings", "address_source"): "vocab.source"}


def feature_value(layer: str, key: str, value: Any) -> str:
    """A feature's attribute as the page shows it: vocabulary in words, numbers rounded, text escaped."""
    prefix = VOCAB.get((layer, key))
    if prefix and has_text(f"{prefix}.{value}"):
        return t(f"{prefix}.{value}")
    if isinstance(value, float):
        return f"{value:,.1f}".replace(",", "\u202f") if key in ("distance_m", "length_m") else f"{value:g}"
    return md_safe(value)


def main() -> None:
    guard("map")
    s = get_settings()
    net = network_id()
    bounds = city_bounds_or_message()
    if bounds is None:
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
        hits = maps.search(actor(), query, limit=10)
        with top[1]:
            if not hits:
                st.warning(t("map.search_none", query=md_safe(query)))
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
    bbox = bbox_from(state.get("bounds")) or bounds
    if ss.get("map_jump"):
        lat, lon = ss["map_center"]
        zoom = ss["map_zoom"]
        bbox = (lon - 0.003, lat - 0.0015, lon + 0.003, lat + 0.0015)
        ss["map_jump"] = False
    groups, notes, counts = viewport_layers(bbox, zoom, net, color_by, highlight)
    reports, counts["incidents"] = incidents_layer(bbox, t("map.layer.incidents"))
    groups.append(reports)

    m = L.base_map(center, ss["map_zoom"], tiles_url=s.tiles_url or None, attribution=s.tiles_attribution,
                   tiles_name=s.tiles_name)
    m.get_root().html.add_child(L.legend(t("map.legend"), legend_items(color_by)))
    out = st_folium(
        m, key="city_map", height=720, use_container_width=True, center=center, zoom=ss["map_zoom"],
        feature_group_to_add=groups, layer_control=folium.LayerControl(collapsed=False),
        returned_objects=["bounds", "zoom", "last_clicked"],
    )
    st.caption(" · ".join([t("map.counts", buildings=tn("map.n_buildings", counts["buildings"]),
                             pipes=tn("map.n_pipes", counts["pipes"]), valves=tn("map.n_valves", counts["valves"]),
                             incidents=tn("map.n_incidents", counts["incidents"]))] + notes))
    with st.sidebar:
        identify_panel(out.get("last_clicked") if out else None, net)


main()
