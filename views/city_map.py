"""City map: buildings, pipes, valves, hydrants, sources and reports in the current viewport."""
from __future__ import annotations

import json
from typing import Any

import folium
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from gis import layers as L
from i18n import has_text
from ops import maps
from views.address_search import address_search
from views.common import lang, network_id, t
from views.formatting import fmt_int, md_safe
from views.map_parts import (
    FOUND,
    buildings_overlay,
    city_bounds_or_message,
    fit_zoom,
    legend_items,
    map_key,
    reports_layer,
    tile_map,
)
from views.session import actor, guard


def identify(clicked: dict[str, Any] | None, net: int | None) -> dict[str, Any] | None:
    """The feature the last click on the map means (valve, source or hydrant, pipe, building), or None."""
    if not clicked:
        return None
    return maps.identify(actor(), float(clicked["lng"]), float(clicked["lat"]), network_id=net)


def identify_panel(clicked: dict[str, Any] | None, feat: dict[str, Any] | None) -> None:
    st.subheader(t("map.identify"))
    if not clicked:
        st.caption(t("map.identify_hint"))
        return
    if not feat:
        st.info(t("map.identify_none", lat=float(clicked["lat"]), lon=float(clicked["lng"])))
        return
    code = feat.get("ext_id") or feat.get("address") or f"#{feat['id']}"   # the utility's code, not a database id
    st.markdown(f"**{t('layer.' + feat['layer'])}** {md_safe(code)}")
    rows = [(t(f"field.{k}"), feature_value(feat["layer"], k, v)) for k, v in feat.items()
            if k not in ("layer", "geometry", "geojson", "id", "pipe_id", "node_id", "network_id") and v is not None]
    # st.table renders Markdown in its cells: every value (an imported address…) is escaped
    st.table(pd.DataFrame(rows, columns=[t("field.field"), t("field.value")]).set_index(t("field.field")))


def picked_overlay(feat: dict[str, Any]) -> folium.FeatureGroup:
    """The identified feature outlined on the map (the same colour as a building found by address)."""

    fg = folium.FeatureGroup(name=t("map.found"), show=True)
    geom = json.loads(feat["geojson"])
    if geom["type"] == "Point":
        folium.CircleMarker([geom["coordinates"][1], geom["coordinates"][0]], radius=12, color=FOUND, weight=4,
                            fill=False).add_to(fg)
    else:
        folium.GeoJson(geom, style_function=lambda _f: {"color": FOUND, "weight": 7, "opacity": 0.9,
                                                        "fillColor": FOUND, "fillOpacity": 0.35}).add_to(fg)
    return fg


VOCAB = {("buildings", "kind"): "legend.kind", ("valves", "status"): "legend.valve", ("valves", "kind"): "vocab.valve",
         ("nodes", "kind"): "vocab.node", ("pipes", "kind"): "vocab.pipe", ("buildings", "address_source"): "vocab.source",
         ("pipes", "material"): "vocab.material"}


def feature_value(layer: str, key: str, value: Any) -> str:
    """A feature's attribute as the page shows it: vocabulary in words, numbers rounded, text escaped."""
    prefix = VOCAB.get((layer, key))
    if prefix and has_text(f"{prefix}.{str(value).lower()}"):
        return t(f"{prefix}.{str(value).lower()}")
    if isinstance(value, int) and not isinstance(value, bool) and key not in ("install_year", "ext_id"):
        return fmt_int(value)
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
        # the choice lives in a plain session key: the widget's own is dropped when its label changes
        # with the language
        modes = ["diameter", "age", "risk"]
        ss.setdefault("map_color_by", "diameter")
        color_by = st.radio(t("map.color_by"), modes, index=modes.index(ss["map_color_by"]), horizontal=True,
                            format_func=lambda c: t(f"map.color_by.{c}"), key=f"color_by_{lang()}",
                            on_change=lambda: ss.update(map_color_by=ss[f"color_by_{lang()}"]))
        ss["map_color_by"] = color_by

    # the static layers come as vector tiles: panning and zooming never rerun this page
    m = tile_map(home[0], home[1], network_id=net, color_by=color_by)
    found = [("fill", FOUND, t("map.found"))]
    m.get_root().html.add_child(L.legend(t("map.legend"), legend_items(color_by) + found))
    reports, n_reports = reports_layer(t("map.layer.incidents"))
    groups = [reports]
    if highlight:
        groups.append(buildings_overlay(highlight, t("map.found"), outline="#000000", opacity=0.95))
    # the map's last click (kept by the component under its key) is identified before the map is drawn,
    # so the feature it means is outlined on the map and described in the sidebar in the same run
    key = map_key("city_map", m)
    clicked = (ss.get(key) or {}).get("last_clicked")
    feat = identify(clicked, net)
    if feat:
        groups.append(picked_overlay(feat))
    st_folium(m, key=key, height=720, use_container_width=True, center=center, zoom=zoom,
              feature_group_to_add=groups, layer_control=folium.LayerControl(collapsed=False),
              returned_objects=["last_clicked"])
    st.caption(t("map.open_reports", n=n_reports))
    with st.sidebar:
        identify_panel(clicked, feat)


main()
