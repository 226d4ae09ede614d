"""The static layers of a map as vector tiles (Leaflet.VectorGrid, served by the app itself) — the
browser fetches ``/tiles/{layer}/{z}/{x}/{y}.pbf`` from the tile server as the view moves, so panning
and zooming never rerun the page. Styles follow the same palettes as the legends (``gis.layers``).

VectorGrid's own click handling does not work with Leaflet 1.9, so the layers are not interactive:
a click on the map sends its point to the page, which asks the database for the nearest feature.
"""
from __future__ import annotations

import json
from typing import Any

import folium
from folium.plugins import VectorGridProtobuf

from gis import layers as L
from gis.offline import STATIC_URL

VECTORGRID_JS = [("vectorGrid", f"{STATIC_URL}/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js")]
TILE_LAYERS = ("buildings", "pipes", "valves", "hydrants", "sources")
# valves and hydrants from street level only: at city zooms tens of thousands of dots hide the
# city (and would be most of the bytes); their tiles are not even fetched below this zoom
MIN_ZOOM = {"valves": 14, "hydrants": 14}
HYDRANT_COLOR = "#f0027f"
SOURCE_COLOR = "#54278f"
GRID_COLOR = "#a6761d"
# quiet backgrounds, for maps whose subject is drawn on top (a shutoff plan, the wall screen)
MUTED = {"light": {"building": "#d3d9e2", "edge": "#9aa5b5", "pipe": "#7f9cc4"},
         "dark": {"building": "#3b4660", "edge": "#56627e", "pipe": "#4f7bb5"}}


def use_local_vectorgrid() -> None:
    """Leaflet.VectorGrid from the app's static files, never from a CDN."""
    VectorGridProtobuf.default_js = list(VECTORGRID_JS)


def _style_js(layer: str, color_by: str, muted: str | None) -> str:
    """A VectorGrid style function for ``layer`` (``muted``: "light" or "dark", a quiet background)."""
    kinds = json.dumps(L.BUILDING_COLORS)
    valves = json.dumps(L.VALVE_COLORS)
    diam = json.dumps([[lo, color, w] for lo, color, w in L.DIAMETER_CLASSES])
    age = json.dumps([[lo, color] for lo, color in L.AGE_CLASSES])
    if layer == "buildings":
        if muted:
            c = MUTED[muted]
            return (f"function(p) {{ return {{fill: true, fillColor: '{c['building']}', fillOpacity: 0.85,"
                    f" color: '{c['edge']}', weight: 0.5, opacity: 0.8}}; }}")
        # grid cells (low zooms): opacity grows with the log of the buildings in the cell (1 … 1000+)
        return (f"function(p) {{ if (p.representation === 'grid') {{"
                f" var a = 0.12 + 0.68 * Math.min(Math.log10(1 + (p.count || 0)) / 3, 1);"
                f" return {{fill: true, fillColor: '{GRID_COLOR}', fillOpacity: a, color: '{GRID_COLOR}', weight: 0.3}}; }}"
                f" var k = {kinds}; return {{fill: true, fillColor: k[p.kind] || k.other, fillOpacity: 0.75,"
                f" color: '#555555', weight: 0.5, opacity: 0.7}}; }}")
    if layer == "pipes":
        if muted:
            return (f"function(p) {{ var d = p.diameter_mm || 0; return {{color: '{MUTED[muted]['pipe']}',"
                    f" weight: d >= 300 ? 3 : 1.5, opacity: 0.8}}; }}")
        if color_by == "risk":   # stored scores on single pipes (zoom 15+); merged mains have none: grey
            risk = json.dumps([[lo, color] for lo, color in L.RISK_CLASSES])
            return (f"function(p) {{ var c = {risk}; var r = p.risk; var w = (p.diameter_mm || 0) >= 300 ? 4 : 3;"
                    f" if (r === undefined || r === null) return {{color: '{L.RISK_NONE}', weight: 1.5, opacity: 0.8}};"
                    f" for (var i = 0; i < c.length; i++) {{ if (r >= c[i][0]) return {{color: c[i][1], weight: w,"
                    f" opacity: 0.95}}; }} return {{color: c[c.length - 1][1], weight: w, opacity: 0.95}}; }}")
        if color_by == "age":
            return (f"function(p) {{ var c = {age}; var y = p.install_year || 0; for (var i = 0; i < c.length; i++)"
                    f" {{ if (y >= c[i][0]) return {{color: c[i][1], weight: 3, opacity: 0.9}}; }}"
                    f" return {{color: c[c.length - 1][1], weight: 3, opacity: 0.9}}; }}")
        return (f"function(p) {{ var c = {diam}; var d = p.diameter_mm || 0; for (var i = 0; i < c.length; i++)"
                f" {{ if (d >= c[i][0]) return {{color: c[i][1], weight: c[i][2], opacity: 0.9}}; }}"
                f" return {{color: c[c.length - 1][1], weight: 2, opacity: 0.9}}; }}")
    if layer == "valves":
        # open valves small (there is one at nearly every junction), closed and stuck ones stand out
        return (f"function(p, z) {{ if (p.representation === 'grid') return []; var v = {valves};"
                f" var open = !p.status || p.status === 'open';"
                f" var r = open ? (z >= 18 ? 4 : z >= 17 ? 3 : 2) : (z >= 17 ? 5.5 : 4.5);"
                f" return {{radius: r, fill: true, fillColor: v[p.status] || v.open, fillOpacity: 1,"
                f" color: '#222222', weight: open ? 0.5 : 1.2}}; }}")
    if layer == "hydrants":   # hydrants one by one only (a grid of them would cover the city)
        return (f"function(p, z) {{ if (p.representation === 'grid') return [];"
                f" return {{radius: z >= 17 ? 4 : 3, fill: true, fillColor: '{HYDRANT_COLOR}',"
                f" fillOpacity: 1, color: '#5c0a33', weight: 1}}; }}")
    return (f"function(p, z) {{ return {{radius: 8, fill: true, fillColor: '{SOURCE_COLOR}', fillOpacity: 1,"
            f" color: '#ffffff', weight: 2}}; }}")


def tile_layer(url_base: str, layer: str, *, name: str, network_id: int | None = None, color_by: str = "diameter",
               muted: str | None = None, show: bool = True, revision: str = "") -> VectorGridProtobuf:
    """One static layer as vector tiles from ``url_base`` (the tile server the browser can reach)."""
    use_local_vectorgrid()
    query = [f"network_id={int(network_id)}"] if network_id is not None and layer != "buildings" else []
    if revision:
        query.append(f"v={revision}")  # a new revision, new URLs: the browser does not reuse old tiles
    url = f"{url_base.rstrip('/')}/tiles/{layer}/{{z}}/{{x}}/{{y}}.pbf" + ("?" + "&".join(query) if query else "")
    options = (f'{{"vectorTileLayerStyles": {{"{layer}": {_style_js(layer, color_by, muted)}}},'
               f' "interactive": false, "maxNativeZoom": 18, "maxZoom": 20, "minZoom": {MIN_ZOOM.get(layer, 0)},'
               f' "pane": "tilePane"}}')
    return VectorGridProtobuf(url, name, options, show=show)


def add_tile_layers(m: folium.Map, url_base: str, names: dict[str, str], *, network_id: int | None,
                    color_by: str = "diameter", muted: str | None = None, layers: tuple[str, ...] = TILE_LAYERS,
                    revision: str = "") -> None:
    """The static layers of a map (``names``: layer → its name in the layer control)."""
    for layer in layers:
        tile_layer(url_base, layer, name=names[layer], network_id=network_id, color_by=color_by, muted=muted,
                   revision=revision).add_to(m)


def tile_urls(m: folium.Map) -> list[str]:
    """The tile URL templates a map asks for (for tests)."""
    out: list[str] = []

    def walk(el: Any) -> None:
        if isinstance(el, VectorGridProtobuf):
            out.append(el.url)
        for child in getattr(el, "_children", {}).values():
            walk(child)

    walk(m)
    return out
