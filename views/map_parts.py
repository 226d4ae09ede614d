"""Map building blocks shared by the pages: a base map whose static layers are vector tiles (fetched by
the browser from the tile server as the view moves: panning and zooming never rerun the page), the
small dynamic overlays drawn on top as GeoJSON, legends that list every class drawn, zoom fitting."""
from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import folium
import geopandas as gpd
import streamlit as st
from babel.numbers import format_decimal

from gis import layers as L
from gis.tile_layers import (
    GRID_COLOR,
    HYDRANT_COLOR,
    MIN_ZOOM,
    MUTED,
    SOURCE_COLOR,
    TILE_LAYERS,
    add_tile_layers,
)
from ops import dma as dma_ops
from ops import incidents, maps
from ops import network as net_ops
from ops.risk import risk_version
from settings import get_settings
from views.common import lang, t
from views.formatting import label
from views.session import actor

BBox = tuple[float, float, float, float]
ALL_LAYERS = (*TILE_LAYERS, "incidents")   # every layer a map can name in its layer control
FOUND = "#00e5ff"                          # the building an address search found


def city_bounds_or_message() -> BBox | None:
    """The city's extent for the initial view; None (with a message on the page) when there is none."""


    bounds = maps.city_bounds(actor())
    if bounds is None:
        st.info(t("map.no_data"))
    return bounds


def fit_zoom(bbox: BBox, width_px: int = 1100, height_px: int = 640) -> int:
    """The largest zoom at which ``bbox`` fits a map of the given size (web mercator)."""
    lon_span = max(bbox[2] - bbox[0], 1e-6)
    lat_mid = math.radians((bbox[1] + bbox[3]) / 2)
    lat_span = max(bbox[3] - bbox[1], 1e-6)
    z_lon = math.log2(360 * width_px / (256 * lon_span))
    z_lat = math.log2(360 * height_px * math.cos(lat_mid) / (256 * lat_span))
    return max(3, min(18, int(math.floor(min(z_lon, z_lat) + 0.2))))


def tiles_base() -> str:
    """The tile server as the browser reaches it: ``ZHKH_TILES_SERVER_URL``, else the host the browser
    used for this page, on ``ZHKH_TILES_PORT``."""
    s = get_settings()
    if s.tiles_server_url:
        return s.tiles_server_url.rstrip("/")


    try:
        page = urlsplit(st.context.url or "")
    except Exception:  # no browser (a test runs the page bare)
        page = urlsplit("")
    return f"{page.scheme or 'http'}://{page.hostname or '127.0.0.1'}:{s.tiles_port}"


def network_revision(net: int | None) -> str:
    """The network's version (a new one makes new tile URLs, so nobody sees an old valve status — nor the
    tiles of a network loaded before the database was)."""
    if net is None:
        return ""

    return str(next((n["version"] for n in net_ops.networks(actor()) if n["id"] == net), ""))


def tile_map(center: tuple[float, float], zoom: int, *, network_id: int | None,
             layers: tuple[str, ...] = TILE_LAYERS, color_by: str = "diameter", muted: str | None = None) -> folium.Map:
    """A base map with the static layers as vector tiles (no features travel with the page)."""
    s = get_settings()
    m = L.base_map(center, zoom, tiles_url=s.tiles_url or None, attribution=s.tiles_attribution, tiles_name=s.tiles_name)
    revision = network_revision(network_id)
    if color_by == "risk" and revision:   # a refresh of the scores makes new tile URLs too

        revision = f"{revision}r{risk_version()}"
    add_tile_layers(m, tiles_base(), {layer: t(f"map.layer.{layer}") for layer in layers}, network_id=network_id,
                    color_by=color_by, muted=muted, layers=layers, revision=revision)
    # what makes this map's page differ: st_folium builds a map once per key, so the key must change
    # with it (a new language, colouring, network or revision draws a new map, not the old one)
    m._zhkh_variant = f"{lang()}_{network_id}_{revision}_{color_by}_{muted or ''}"  # type: ignore[attr-defined]
    return m


def map_key(base: str, m: folium.Map) -> str:
    """The st_folium key of ``m``: ``base`` and everything its base map depends on."""
    return f"{base}_{getattr(m, '_zhkh_variant', lang())}"


def reports_layer(name: str) -> tuple[folium.FeatureGroup, int]:
    """Open reports as circles coloured by priority (tooltip: number, what, address, deadline state)."""


    items = incidents.queue(actor(), limit=2000)
    rows = [{"id": q.incident.id, "what": label("priority", q.incident.priority),
             "category": label("category", q.incident.category), "priority": q.incident.priority,
             "address": q.incident.address or "", "sla": label("sla", q.sla_state)} for q in items]
    gdf = gpd.GeoDataFrame(rows, geometry=gpd.points_from_xy([q.incident.lon for q in items],
                                                             [q.incident.lat for q in items]), crs="EPSG:4326")
    lab = {"id": t("field.id"), "what": t("field.priority"), "category": t("field.kind"),
           "address": t("field.address"), "sla": t("field.sla")}
    fg = L.points_layer(gdf, lab, name, color_field="priority", colors=L.PRIORITY_COLORS, radius=9,
                        fields=("id", "what", "category", "address", "sla"))
    dma_alarm_outlines(fg)
    return fg, len(rows)


def dma_alarm_outlines(fg: folium.FeatureGroup) -> None:
    """The outline of every DMA in a night-flow alarm, round its incident (a red dashed edge, no fill, so
    that the reports inside stay clickable)."""

    for a in dma_ops.alarm_outlines(actor()):
        tip = html.escape(t("map.dma_alarm", dma=a["name"], id=a["incident_id"] or "—"))
        folium.GeoJson(json.loads(a["outline"]), tooltip=tip,
                       style_function=lambda f: {"color": "#d00000", "weight": 3, "dashArray": "8 5",
                                                 "fill": False}).add_to(fg)


def buildings_overlay(colors: Mapping[int, str], name: str, *, outline: str = "#333333",
                      opacity: float = 0.85) -> folium.FeatureGroup:
    """Given buildings drawn over the tiles (a searched building, the ones a shutoff cuts off)."""

    fg = folium.FeatureGroup(name=name, show=True)
    gdf = maps.buildings_by_id(actor(), list(colors)) if colors else None
    if gdf is None or not len(gdf):
        return fg
    gdf = gdf.assign(kind_label=[label("kind", k) for k in gdf["kind"]])
    fc = L.to_feature_collection(gdf, ["id", "address", "kind_label", "residents"])
    folium.GeoJson(fc, style_function=lambda f: {"fillColor": colors.get(f["properties"]["id"], "#00e5ff"),
                                                 "color": outline, "weight": 1.2, "fillOpacity": opacity},
                   tooltip=folium.GeoJsonTooltip(fields=["address", "kind_label", "residents"],
                                                 aliases=[html.escape(t("field.address")), html.escape(t("field.kind")),
                                                          html.escape(t("field.residents"))], localize=True)).add_to(fg)
    return fg


def legend_items(color_by: str, *, layers: tuple[str, ...] = TILE_LAYERS, reports: bool = True,
                 muted: str | None = None) -> list[tuple[str, str, str]]:
    """Every class the map draws, in the page's language: buildings by kind (and the grid of low
    zooms), pipes by diameter or by install year, valves by status, hydrants, sources, reports."""

    items: list[tuple[str, str, str]] = []
    if "buildings" in layers:
        if muted:
            items.append(("fill", MUTED[muted]["building"], t("legend.building")))
        else:
            items += [("fill", c, t(f"legend.kind.{k}")) for k, c in L.BUILDING_COLORS.items()]
            items.append(("fill", GRID_COLOR, t("legend.grid")))
    if "pipes" in layers:
        if muted:
            items.append(("line", MUTED[muted]["pipe"], t("legend.pipe.any")))
        elif color_by == "risk":

            bounds = [format_decimal(lo, format="0.0#", locale=lang()) for lo, _ in L.RISK_CLASSES]
            for i, (value, color) in enumerate(L.RISK_CLASSES):
                lo = bounds[i]
                text = (t("legend.risk.from", v=lo) if i == 0 else t("legend.risk.below", v=bounds[i - 1]) if value == 0
                        else t("legend.risk.range", lo=lo, hi=bounds[i - 1]))
                items.append(("line", color, text))
            items.append(("line", L.RISK_NONE, t("legend.risk.none")))
        elif color_by == "age":
            items += [("line", c, t(f"legend.age.{k}")) for k, (_, c) in zip(("new", "mid", "old", "oldest"),
                                                                             L.AGE_CLASSES)]
        else:
            bounds = [lo for lo, _, _ in L.DIAMETER_CLASSES]
            for i, (lo, color, _) in enumerate(L.DIAMETER_CLASSES):
                if i == 0:
                    text = t("legend.pipe.from", mm=lo)
                elif lo == 0:
                    text = t("legend.pipe.below", mm=bounds[i - 1])
                else:
                    text = t("legend.pipe.range", lo=lo, hi=bounds[i - 1] - 1)
                items.append(("line", color, text))
    if "valves" in layers:
        items += [("dot", L.VALVE_COLORS[s], t(f"legend.valve.{s}")) for s in ("open", "closed", "inoperable")]
    if "hydrants" in layers:
        items.append(("dot", HYDRANT_COLOR, t("legend.hydrant")))
    if "sources" in layers:
        items.append(("dot", SOURCE_COLOR, t("legend.source")))
    if reports:
        items += [("dot", L.PRIORITY_COLORS[p], t(f"legend.priority.{p}")) for p in ("emergency", "urgent", "routine")]
    later = sorted({MIN_ZOOM[x] for x in layers if x in MIN_ZOOM})
    if later:   # what appears only closer in says so
        items.append(("note", "", t("legend.zoom_note", z=later[0])))
    return items


def clicked_point(out: Mapping[str, Any] | None) -> tuple[float, float] | None:
    """(lon, lat) of the map's last click, or None."""
    c = (out or {}).get("last_clicked")
    try:
        return (float(c["lng"]), float(c["lat"])) if c else None
    except (TypeError, KeyError, ValueError):
        return None
