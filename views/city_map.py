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
from views.address_search import address_search
from views.common import network_id, t
from views.formatting import md_safe
from views.map_parts import (
    FOUND,
    buildings_overlay,
    city_bounds_or_message,
    fit_zoom,
    legend_items,
    reports_layer,
    tile_map,
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
    code = feat.get("ext_id") or feat.get("address") or f"#{feat['id']}"   # the utility's code, not a database id
    st.markdown(f"**{t('layer.' + feat['layer'])}** {md_safe(code)}")
    rows = [(t(f"field.{k}"), feature_value(feat["layer"], k, v)) for k, v in feat.items()
            if k not in ("layer", "geometry", "geojson", "id", "pipe_id", "node_id", "network_id") and v is not None]
    # st.table renders Markdown in its cells: every value (an imported address…) is escaped
    st.table(pd.DataFrame(rows, columns=[t("field.field"), t("field.value")]).set_index(t("field.field")))


VOCAB = {("buildings", "kind"): "legend.kind", ("valves", "status"): "legend.valve", ("valves", "kind"): "vocab.valve",
         ("nodes", "kind"): "vocab.node", ("pipes", "kind"): "vocab.pipe", ("buildings", "address_source"): "vocab.source",
         ("pipes", "material"): "vocab.material"}


def feature_value(layer: str, key: str, value: Any) -> str:
    """A feature's attribute as the page shows it: vocabulary in words, numbers rounded, text escaped."""
    prefix = VOCAB.get((layer, key))
    if prefix and has_text(f"{prefix}.{str(value).lower()}"):
        return t(f"{prefix}.{str(value).lower()}")
    if isinstance(value, float):
        return f"{value:,.1f}".replace(",", "\u202f") if key in ("distance_m", "length_m") else f"{value:g}"
    return md_safe(value)


def main() -> None:
    guard("map")
    net = network_id()
    bounds = city_bounds_or_message()
    if bounds is None:
        return
    ss = st.session_state
    home = ((bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2), fit_zoom(bounds)
    center, zoom = ss.get("map_view", home)

    top = st.columns([4, 2])
    with top[0]:
        hit = address_search(t("map.search"), key="map_search")   # suggestions while typing
    highlight: dict[int, str] = {}
    if hit:
        highlight[int(hit["id"])] = FOUND
        if ss.get("map_target") != hit["id"]:
            ss["map_target"] = hit["id"]
            ss["map_view"] = center, zoom = (hit["lat"], hit["lon"]), 18
    with top[1]:
        color_by = st.radio(t("map.color_by"), ["diameter", "age"], horizontal=True,
                            format_func=lambda c: t(f"map.color_by.{c}"), key="color_by")

    # the static layers come as vector tiles: panning and zooming never rerun this page
    m = tile_map(home[0], home[1], network_id=net, color_by=color_by)
    found = [("fill", FOUND, t("map.found"))] if highlight else []
    m.get_root().html.add_child(L.legend(t("map.legend"), legend_items(color_by) + found))
    reports, n_reports = reports_layer(t("map.layer.incidents"))
    groups = [reports]
    if highlight:
        groups.append(buildings_overlay(highlight, t("map.found"), outline="#000000", opacity=0.95))
    out = st_folium(m, key=f"city_map_{color_by}", height=720, use_container_width=True, center=center, zoom=zoom,
                    feature_group_to_add=groups, layer_control=folium.LayerControl(collapsed=False),
                    returned_objects=["last_clicked"])
    st.caption(t("map.open_reports", n=n_reports))
    with st.sidebar:
        identify_panel(out.get("last_clicked") if out else None, net)


main()
