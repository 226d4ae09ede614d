"""What the organisation's desk (views/desk.py) draws besides its forms: the names of a work order's states
and the map of the listed work orders. A module of its own, because a page module runs its page on import."""
from __future__ import annotations

import html
from typing import Any

import folium
import streamlit as st
from streamlit_folium import st_folium

from gis import layers as L
from i18n import N_
from incidents.model import QueueItem
from views.common import t
from views.formatting import label
from views.map_parts import fit_zoom, map_key, tile_map

STATE_TEXTS: dict[str | None, str] = {
    None: N_("desk.state.waiting"),
    "accepted": N_("desk.state.accepted"),
    "assigned": N_("desk.state.assigned"),
    "visit_planned": N_("desk.state.visit_planned"),
    "resolved": N_("desk.state.resolved"),
}

def state_text(state: str | None) -> str:
    return t(STATE_TEXTS.get(state, STATE_TEXTS[None]))


def crew_name(login: str | None, crews: dict[str, str]) -> str:
    """A crew as the desk knows it: its display name (its login when it has none, or is no longer active)."""
    return crews.get(login, login) if login else ""


def orders_features(items: list[QueueItem]) -> dict[str, Any]:
    """The listed work orders as one GeoJSON collection (the page's own list: ``ops.orgs`` scoped it), each
    with its tooltip and whether it is overdue."""
    features = []
    for q in items:
        i = q.incident
        if i.lon is None or i.lat is None:
            continue
        tip = (f"№{i.id} · {label('category', i.category)} · {i.address or ''} · {state_text(i.org_state)} · "
               f"{label('sla', q.sla_state)}")
        features.append({"type": "Feature", "id": i.id,
                         "geometry": {"type": "Point", "coordinates": [round(i.lon, 6), round(i.lat, 6)]},
                         "properties": {"tip": html.escape(tip), "priority": i.priority,
                                        "overdue": q.sla_state == "overdue"}})
    return {"type": "FeatureCollection", "features": features}


def orders_map(items: list[QueueItem]) -> None:
    """Where the organisation's listed work is: circles by priority, overdue ones ringed red."""
    fc = orders_features(items)
    if not fc["features"]:
        return
    lons = [f["geometry"]["coordinates"][0] for f in fc["features"]]
    lats = [f["geometry"]["coordinates"][1] for f in fc["features"]]
    pad = 0.003
    bounds = (min(lons) - pad, min(lats) - pad, max(lons) + pad, max(lats) + pad)
    center = ((bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2)
    m = tile_map(center, min(fit_zoom(bounds, 1100, 420), 17), network_id=None, layers=("buildings",))

    def style(f: dict[str, Any]) -> dict[str, Any]:
        p = f["properties"]
        return {"radius": 9, "fill": True, "fillColor": L.PRIORITY_COLORS.get(p["priority"], "#999999"),
                "fillOpacity": 0.85, "color": "#ff3b30" if p["overdue"] else "#ffffff", "weight": 3 if p["overdue"] else 1.5}

    fg = folium.FeatureGroup(name=t("map.layer.incidents"))
    folium.GeoJson(fc, marker=folium.CircleMarker(), style_function=style,
                   tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False)).add_to(fg)
    fg.add_to(m)
    st_folium(m, key=map_key(f"desk_map_{len(fc['features'])}_{hash(str(lons + lats))}", m), height=420,
              use_container_width=True, returned_objects=[])
