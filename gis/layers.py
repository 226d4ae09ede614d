"""Folium layer builders: GeoDataFrame (EPSG:4326) -> folium layer.

Every string property is HTML-escaped before it reaches the browser: tooltips and popups
insert property values as HTML, so an address like ``<img onerror=…>`` must arrive as text.
"""
from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

import folium
import geopandas as gpd
import jinja2
import pandas as pd
import shapely

from gis.offline import BLANK_TILE, use_local_assets

BUILDING_COLORS = {
    "residential": "#e5e0d3", "hospital": "#fbb4ae", "school": "#fff2ae", "kindergarten": "#ccebc5",
    "commercial": "#fed9a6", "office": "#99d8c9", "public": "#decbe4", "religious": "#d8b5a0",
    "industrial": "#bdbdbd", "other": "#ffffff",
}
VALVE_COLORS = {"open": "#1a9850", "closed": "#111111", "inoperable": "#7f3b08"}
PRIORITY_COLORS = {"emergency": "#d7191c", "urgent": "#f16913", "routine": "#984ea3"}
DIAMETER_CLASSES = [(400, "#08306b", 6), (300, "#2171b5", 5), (250, "#4292c6", 4), (150, "#6baed6", 3), (0, "#9ecae1", 2)]
AGE_CLASSES = [(2000, "#c994c7"), (1980, "#df65b0"), (1960, "#ce1256"), (0, "#67001f")]
# expected breaks per km and year (pipe_risk.per_km_year), highest class first; pipes without a score grey
RISK_CLASSES = [(0.5, "#a50026"), (0.25, "#f46d43"), (0.1, "#ffd92f"), (0.0, "#3288bd")]
RISK_NONE = "#878787"


def escape_value(value: Any) -> Any:
    """HTML-escape strings; pass numbers through; NaN/None become None."""
    if value is None:
        return None
    if isinstance(value, float) and pd.isna(value):
        return None
    if isinstance(value, str):
        return html.escape(value, quote=True)
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, (int, float, bool)):
        return value
    return html.escape(str(value), quote=True)


def to_feature_collection(gdf: gpd.GeoDataFrame, fields: Sequence[str]) -> dict[str, Any]:
    """A GeoJSON FeatureCollection with only ``fields`` (escaped). Coordinates are rounded by the query."""

    feats = []
    if len(gdf):
        for geom, (_, row) in zip(gdf.geometry.values, gdf[list(fields)].iterrows()):
            if geom is None or geom.is_empty:
                continue
            feats.append({
                "type": "Feature",
                "geometry": json.loads(shapely.to_geojson(geom)),
                "properties": {f: escape_value(row[f]) for f in fields},
            })
    return {"type": "FeatureCollection", "features": feats}


class MetricScale(folium.MacroElement):
    """A scale bar in metres only (Leaflet's default adds miles and feet)."""

    _template = jinja2.Template(
        "{% macro script(this, kwargs) %}"
        "L.control.scale({imperial: false, metric: true}).addTo({{ this._parent.get_name() }});"
        "{% endmacro %}")


def base_map(center: tuple[float, float], zoom: int, *, tiles_url: str | None, attribution: str,
             tiles_name: str = "OpenStreetMap", height_px: int | None = None) -> folium.Map:
    """A map with local Leaflet assets, a plain background, and tiles that fail quietly."""
    use_local_assets()
    m = folium.Map(location=list(center), zoom_start=zoom, tiles=None, control_scale=False,
                   prefer_canvas=True, max_zoom=20)
    MetricScale().add_to(m)
    if tiles_url:
        folium.TileLayer(tiles=tiles_url, attr=attribution, name=tiles_name, max_zoom=20, max_native_zoom=19,
                         error_tile_url=BLANK_TILE, overlay=False, control=True).add_to(m)
    m.get_root().header.add_child(folium.Element(
        "<style>.leaflet-container{background:#e9edf1}.zhkh-legend{font:12px/1.35 sans-serif}</style>"
    ))
    return m


def _tooltip(fields: Sequence[str], labels: Mapping[str, str]) -> folium.GeoJsonTooltip:
    return folium.GeoJsonTooltip(fields=list(fields), aliases=[html.escape(labels.get(f, f)) for f in fields],
                                 sticky=True, localize=True)


def buildings_layer(gdf: gpd.GeoDataFrame, labels: Mapping[str, str], name: str,
                    highlight: Mapping[int, str] | None = None) -> folium.FeatureGroup:
    """Buildings coloured by kind; ``highlight`` maps building id -> fill colour (affected, say)."""
    fields = [f for f in ("id", "address", "kind", "residents", "address_source") if f in gdf]
    fc = to_feature_collection(gdf, fields)
    hl = dict(highlight or {})

    def style(feature: dict[str, Any]) -> dict[str, Any]:
        p = feature["properties"]
        color = hl.get(p.get("id")) or BUILDING_COLORS.get(p.get("kind"), "#d9d9d9")
        return {"fillColor": color, "color": "#555555", "weight": 0.6, "fillOpacity": 0.75 if p.get("id") in hl else 0.55}

    fg = folium.FeatureGroup(name=name, show=True)
    folium.GeoJson(fc, name=name, style_function=style, tooltip=_tooltip(fields[1:], labels) if fc["features"] else None,
                   smooth_factor=1.0).add_to(fg)
    return fg


def pipe_style(diameter_mm: Any, install_year: Any, color_by: str) -> dict[str, Any]:
    d = float(diameter_mm) if isinstance(diameter_mm, (int, float)) and not pd.isna(diameter_mm) else 0.0
    color, weight = DIAMETER_CLASSES[-1][1], DIAMETER_CLASSES[-1][2]
    for floor, c, w in DIAMETER_CLASSES:
        if d >= floor:
            color, weight = c, w
            break
    if color_by == "age":
        y = int(install_year) if isinstance(install_year, (int, float)) and not pd.isna(install_year) else 0
        color = next(c for floor, c in AGE_CLASSES if y >= floor)
    return {"color": color, "weight": weight, "opacity": 0.9}


def pipes_layer(gdf: gpd.GeoDataFrame, labels: Mapping[str, str], name: str, color_by: str = "diameter",
                override: Mapping[int, str] | None = None) -> folium.FeatureGroup:
    """Pipes styled by diameter (weight, colour) or age (colour); ``override`` maps id -> colour."""
    fields = [f for f in ("id", "ext_id", "street", "diameter_mm", "material", "install_year", "length_m") if f in gdf]
    fc = to_feature_collection(gdf, fields)
    ov = dict(override or {})

    def style(feature: dict[str, Any]) -> dict[str, Any]:
        p = feature["properties"]
        s = pipe_style(p.get("diameter_mm"), p.get("install_year"), color_by)
        if p.get("id") in ov:
            s = {**s, "color": ov[p["id"]], "weight": s["weight"] + 3, "opacity": 1.0}
        return s

    fg = folium.FeatureGroup(name=name, show=True)
    folium.GeoJson(fc, name=name, style_function=style,
                   tooltip=_tooltip(fields[1:], labels) if fc["features"] else None).add_to(fg)
    return fg


def points_layer(gdf: gpd.GeoDataFrame, labels: Mapping[str, str], name: str, *, color_field: str | None,
                 colors: Mapping[str, str], default_color: str = "#3182bd", radius: float = 5,
                 fields: Sequence[str] = ("ext_id", "status", "kind"), show: bool = True) -> folium.FeatureGroup:
    """Point features as circle markers coloured by ``color_field``; tooltip shows ``fields`` (escaped)."""
    fg = folium.FeatureGroup(name=name, show=show)
    shown = [f for f in fields if f in gdf]
    for _, row in gdf.iterrows():
        geom = row.geometry
        if geom is None or geom.is_empty:
            continue
        color = colors.get(row[color_field], default_color) if color_field else default_color
        tip = "<br>".join(
            f"<b>{html.escape(labels.get(f, f))}</b>: {escape_value(row[f])}" for f in shown if row[f] is not None
        )
        folium.CircleMarker(location=[geom.y, geom.x], radius=radius, color="#222222", weight=1,
                            fill=True, fill_color=color, fill_opacity=0.95, tooltip=tip or None).add_to(fg)
    return fg


def numbered_valves_layer(rows: Sequence[Mapping[str, Any]], name: str, color: str = "#111111") -> folium.FeatureGroup:
    """Valves to close, labelled 1, 2, 3 … in crew order (rows: lon, lat, label, tooltip)."""
    fg = folium.FeatureGroup(name=name, show=True)
    for r in rows:
        label = html.escape(str(r["label"]))
        icon = folium.DivIcon(html=(
            f'<div style="background:{color};color:#fff;border:2px solid #fff;border-radius:50%;width:22px;'
            f'height:22px;line-height:18px;text-align:center;font:bold 12px sans-serif;box-shadow:0 0 3px #000">'
            f"{label}</div>"), icon_size=(22, 22), icon_anchor=(11, 11))
        folium.Marker([r["lat"], r["lon"]], icon=icon, tooltip=html.escape(str(r.get("tooltip", "")))).add_to(fg)
    return fg


def legend(title: str, items: Sequence[tuple[str, str, str]], *, scale: float = 1.0) -> folium.Element:
    """A fixed legend box; items are (shape: 'fill' | 'line' | 'dot' | 'note', colour, label); a note is
    a line of text (colour unused). ``scale`` makes it readable from afar (the wall screen)."""
    rows = []
    u = scale
    for shape, color, label in items:
        if shape == "line":
            sw = (f'<span style="display:inline-block;width:{18 * u:.0f}px;height:0;border-top:{4 * u:.0f}px solid {color};'
                  'vertical-align:middle"></span>')
        elif shape == "dot":
            sw = (f'<span style="display:inline-block;width:{11 * u:.0f}px;height:{11 * u:.0f}px;border-radius:50%;'
                  f'background:{color};border:1px solid #222"></span>')
        else:
            sw = (f'<span style="display:inline-block;width:{14 * u:.0f}px;height:{11 * u:.0f}px;background:{color};'
                  'border:1px solid #555"></span>')
        rows.append(f'<div style="break-inside:avoid">{sw} {html.escape(label)}</div>' if shape != "note" else
                    f'<div style="break-inside:avoid;color:#555;font-style:italic">{html.escape(label)}</div>')
    # a long legend in two columns: every class stays in view without scrolling
    columns = "column-count:2;column-gap:14px;" if len(items) > 12 else ""
    return folium.Element(
        '<div class="zhkh-legend" style="position:absolute;z-index:1000;bottom:46px;left:10px;background:rgba(255,255,255,.92);'
        f'padding:6px 9px;border-radius:6px;box-shadow:0 1px 4px rgba(0,0,0,.35);max-height:60%;overflow:auto;'
        f'font-size:{12 * scale:.0f}px;line-height:1.35">'
        f'<b>{html.escape(title)}</b><div style="{columns}">{"".join(rows)}</div></div>'
    )


def grid_layer(gdf: gpd.GeoDataFrame, labels: Mapping[str, str], name: str, color: str = "#6a51a3") -> folium.FeatureGroup:
    """Aggregated cells (low zoom): opacity grows with ``count``; tooltip shows the count."""
    fields = [f for f in ("count", "residents") if f in gdf]
    fc = to_feature_collection(gdf, fields)
    top = max([f["properties"].get("count") or 0 for f in fc["features"]] + [1])

    def style(feature: dict[str, Any]) -> dict[str, Any]:
        c = feature["properties"].get("count") or 0
        return {"fillColor": color, "color": color, "weight": 0.3, "fillOpacity": 0.15 + 0.6 * c / top}

    fg = folium.FeatureGroup(name=name, show=True)
    folium.GeoJson(fc, name=name, style_function=style,
                   tooltip=_tooltip(fields, labels) if fc["features"] else None).add_to(fg)
    return fg
