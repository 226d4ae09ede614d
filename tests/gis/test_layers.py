"""Folium layers: HTML in attributes arrives as text, and no asset comes from a CDN."""
from __future__ import annotations

import geopandas as gpd
from shapely import LineString, Polygon

from gis import layers as L
from gis.offline import external_asset_urls

EVIL = '<img src=x onerror="alert(1)">'


def _buildings() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": [1], "address": [EVIL], "kind": ["residential"], "residents": [40], "address_source": ["osm"]},
        geometry=[Polygon([(24.94, 60.17), (24.941, 60.17), (24.941, 60.171)])], crs="EPSG:4326",
    )


def test_html_in_attributes_is_escaped_in_the_rendered_map() -> None:
    m = L.base_map((60.17, 24.94), 15, tiles_url=None, attribution="")
    L.buildings_layer(_buildings(), {"address": "Адрес"}, "Здания").add_to(m)
    pipes = gpd.GeoDataFrame({"id": [5], "ext_id": ["<script>alert(2)</script>"], "street": ["a&b"], "diameter_mm": [150.0],
                              "material": ["PE"], "install_year": [2001], "length_m": [10.0]},
                             geometry=[LineString([(24.94, 60.17), (24.95, 60.17)])], crs="EPSG:4326")
    L.pipes_layer(pipes, {}, "Трубы").add_to(m)
    valves = gpd.GeoDataFrame({"ext_id": ["<b>v</b>"], "status": ["open"], "kind": ["gate"]},
                              geometry=gpd.points_from_xy([24.94], [60.17]), crs="EPSG:4326")
    L.points_layer(valves, {}, "Задвижки", color_field="status", colors=L.VALVE_COLORS).add_to(m)
    html = m.get_root().render()
    assert EVIL not in html and "<script>alert(2)" not in html and "<b>v</b>" not in html
    plain = html.replace("\\u0026", "&")  # folium's JSON writes & as \u0026
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in plain
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in plain


def test_map_loads_no_asset_from_outside() -> None:
    m = L.base_map((60.17, 24.94), 15, tiles_url="https://tile.example/{z}/{x}/{y}.png", attribution="x")
    L.buildings_layer(_buildings(), {}, "b").add_to(m)
    assert external_asset_urls(m) == []
    html = m.get_root().render()
    assert "/app/static/leaflet/leaflet.js" in html
    assert "cdn.jsdelivr" not in html and "cdnjs" not in html and "code.jquery" not in html


def test_pipe_style_by_diameter_and_age() -> None:
    big, small = L.pipe_style(400, 1990, "diameter"), L.pipe_style(150, 1990, "diameter")
    assert big["weight"] > small["weight"] and big["color"] != small["color"]
    assert L.pipe_style(150, 1950, "age")["color"] != L.pipe_style(150, 2010, "age")["color"]
