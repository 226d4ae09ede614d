"""Viewport layers, click-to-identify, address search and extents against a real PostGIS.

A tiny hand-built town near Helsinki (lon 24.94, lat 60.17), written with plain SQL.
Metric offsets are converted with the local degree lengths below.
"""
from __future__ import annotations

import json
import math

import pytest
from sqlalchemy import Connection, Engine, text

from gis.errors import GisError
from gis.queries import (
    InvalidBBox,
    LayerPolicy,
    UnknownLayer,
    city_bounds,
    layer_in_bbox,
    metres_per_pixel,
    nearest_feature,
    search_addresses,
    service_area,
    viewport_bbox,
)

LON0, LAT0 = 24.94, 60.17
M_LAT = 110_574.0
M_LON = 111_320.0 * math.cos(math.radians(LAT0))


def at(dx_m: float, dy_m: float) -> tuple[float, float]:
    return LON0 + dx_m / M_LON, LAT0 + dy_m / M_LAT


def square_wkt(dx_m: float, dy_m: float, size_m: float) -> str:
    pts = [at(dx_m, dy_m), at(dx_m + size_m, dy_m), at(dx_m + size_m, dy_m + size_m), at(dx_m, dy_m + size_m),
           at(dx_m, dy_m)]
    return "POLYGON((" + ", ".join(f"{x} {y}" for x, y in pts) + "))"


def circle_wkt(dx_m: float, dy_m: float, r_m: float, n: int = 200) -> str:
    pts = [at(dx_m + r_m * math.cos(2 * math.pi * i / n), dy_m + r_m * math.sin(2 * math.pi * i / n))
           for i in range(n)]
    pts.append(pts[0])
    return "POLYGON((" + ", ".join(f"{x} {y}" for x, y in pts) + "))"


def add_building(conn: Connection, address: str | None, wkt: str, *, kind: str = "residential",
                 residents: int = 10, street: str | None = None, housenumber: str | None = None) -> int:
    return conn.execute(text(
        "INSERT INTO buildings (address, street, housenumber, kind, residents, geom) "
        "VALUES (:a, :s, :h, :k, :r, ST_GeomFromText(:w, 4326)) RETURNING id"
    ), {"a": address, "s": street, "h": housenumber, "k": kind, "r": residents, "w": wkt}).scalar_one()


def add_network(conn: Connection, name: str = "net") -> int:
    return conn.execute(text(
        "INSERT INTO networks (name, resource) VALUES (:n, 'cold_water') RETURNING id"), {"n": name}).scalar_one()


def add_node(conn: Connection, net: int, ext_id: str, dx: float, dy: float, kind: str = "junction") -> int:
    x, y = at(dx, dy)
    return conn.execute(text(
        "INSERT INTO nodes (network_id, ext_id, kind, geom) VALUES (:n, :e, :k, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) "
        "RETURNING id"), {"n": net, "e": ext_id, "k": kind, "x": x, "y": y}).scalar_one()


def add_pipe(conn: Connection, net: int, ext_id: str, a: int, b: int, diameter_mm: float,
             street: str = "Testikatu") -> int:
    return conn.execute(text(
        """
        INSERT INTO pipes (network_id, ext_id, from_node, to_node, diameter_mm, material, install_year, street,
                           length_m, geom)
        SELECT :n, :e, a.id, b.id, :d, 'PE', 2000, :s, ST_Length(ST_MakeLine(a.geom, b.geom)::geography),
               ST_MakeLine(a.geom, b.geom)
        FROM nodes a, nodes b WHERE a.id = :a AND b.id = :b RETURNING id
        """), {"n": net, "e": ext_id, "a": a, "b": b, "d": diameter_mm, "s": street}).scalar_one()


def add_valve(conn: Connection, net: int, ext_id: str, pipe: int, node: int, dx: float, dy: float,
              status: str = "open") -> int:
    x, y = at(dx, dy)
    return conn.execute(text(
        "INSERT INTO valves (network_id, ext_id, pipe_id, node_id, status, geom) "
        "VALUES (:n, :e, :p, :nd, :s, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) RETURNING id"
    ), {"n": net, "e": ext_id, "p": pipe, "nd": node, "s": status, "x": x, "y": y}).scalar_one()


@pytest.fixture()
def town(clean_engine: Engine) -> dict[str, int]:
    """A main (600 mm) along y=0 from x=0 to 400 m, a small pipe (100 mm) along y=200, a valve on
    the main 3 m from its start, a hydrant, a source, buildings north of the main."""
    ids: dict[str, int] = {}
    with clean_engine.begin() as conn:
        net = ids["net"] = add_network(conn)
        ids["n1"] = add_node(conn, net, "n1", 0, 0)
        ids["n2"] = add_node(conn, net, "n2", 400, 0)
        ids["n3"] = add_node(conn, net, "n3", 0, 200)
        ids["n4"] = add_node(conn, net, "n4", 400, 200)
        ids["hydrant"] = add_node(conn, net, "h1", 200, 100, kind="hydrant")
        ids["source"] = add_node(conn, net, "s1", -50, -50, kind="source")
        ids["main"] = add_pipe(conn, net, "main", ids["n1"], ids["n2"], 600, street="Mannerheimintie")
        ids["small"] = add_pipe(conn, net, "small", ids["n3"], ids["n4"], 100, street="Pikkukatu")
        ids["valve"] = add_valve(conn, net, "v1", ids["main"], ids["n1"], 3, 0)
        ids["b_main"] = add_building(conn, "Mannerheimintie 1", square_wkt(20, 20, 30))
        ids["b_far"] = add_building(conn, "Kaukokatu 1", square_wkt(2000, 2000, 30))
    return ids


def geojson_size(result) -> int:
    return len(result.features.to_json())


# ------------------------------------------------------------------------------------------- layers


def test_layers_in_bbox(clean_engine: Engine, town: dict[str, int]) -> None:
    bbox = (*at(-10, -10), *at(100, 100))  # the main's west end, the valve, b_main — not the rest
    with clean_engine.connect() as conn:
        b = layer_in_bbox(conn, "buildings", bbox, 17)
        p = layer_in_bbox(conn, "pipes", bbox, 17)
        v = layer_in_bbox(conn, "valves", bbox, 17)
        h = layer_in_bbox(conn, "hydrants", bbox, 17)
        wide = layer_in_bbox(conn, "hydrants", (*at(-100, -100), *at(500, 300)), 17)
        s = layer_in_bbox(conn, "sources", (*at(-100, -100), *at(500, 300)), 17)
    assert list(b.features["id"]) == [town["b_main"]]
    assert list(b.features.columns) == ["id", "address", "kind", "residents", "address_source", "geometry"]
    assert list(p.features["id"]) == [town["main"]]  # crosses the bbox, ends outside it
    assert list(p.features.columns) == ["id", "ext_id", "diameter_mm", "material", "install_year", "length_m",
                                        "street", "geometry"]
    assert list(v.features["id"]) == [town["valve"]]
    assert set(v.features.columns) >= {"id", "ext_id", "status", "kind", "pipe_id", "node_id"}
    assert h.shown == 0 and not h.truncated
    assert list(wide.features["id"]) == [town["hydrant"]]
    assert list(s.features["kind"]) == ["source"]
    assert b.features.crs.to_epsg() == 4326
    assert not b.truncated and b.total == 1 and b.total_is_exact


def test_coordinates_are_rounded(clean_engine: Engine, town: dict[str, int]) -> None:
    with clean_engine.connect() as conn:
        r = layer_in_bbox(conn, "buildings", (*at(-10, -10), *at(100, 100)), 17)
    coords = json.loads(r.features.to_json())["features"][0]["geometry"]["coordinates"][0]
    assert all(len(repr(c).split(".")[1]) <= 6 for xy in coords for c in xy)


def test_network_filter(clean_engine: Engine, town: dict[str, int]) -> None:
    with clean_engine.begin() as conn:
        other = add_network(conn, "other")
        a, b = add_node(conn, other, "a", 0, 10), add_node(conn, other, "b", 400, 10)
        add_pipe(conn, other, "other-main", a, b, 600)
    bbox = (*at(-10, -10), *at(100, 100))
    with clean_engine.connect() as conn:
        both = layer_in_bbox(conn, "pipes", bbox, 17)
        mine = layer_in_bbox(conn, "pipes", bbox, 17, network_id=town["net"])
    assert both.shown == 2
    assert list(mine.features["id"]) == [town["main"]]


def test_cap_sets_truncated_and_keeps_the_largest(clean_engine: Engine) -> None:
    with clean_engine.begin() as conn:
        ids_by_size = {}
        for i in range(30):
            size = 5 + i  # 5..34 m
            ids_by_size[size] = add_building(conn, f"Talo {i}", square_wkt(i * 40, 0, size))
    bbox = (*at(-10, -10), *at(1300, 100))
    with clean_engine.connect() as conn:
        capped = layer_in_bbox(conn, "buildings", bbox, 17, limit=10)
        full = layer_in_bbox(conn, "buildings", bbox, 17, limit=30)
    assert capped.shown == 10 and capped.truncated
    assert capped.total == 30 and capped.total_is_exact
    assert "showing 10 of 30" in capped.summary()
    assert set(capped.features["id"]) == {ids_by_size[s] for s in range(25, 35)}
    assert full.shown == 30 and not full.truncated


def test_count_stops_at_the_ceiling(clean_engine: Engine) -> None:
    with clean_engine.begin() as conn:
        for i in range(25):
            add_building(conn, f"Talo {i}", square_wkt(i * 40, 0, 20))
    with clean_engine.connect() as conn:
        r = layer_in_bbox(conn, "buildings", (*at(-10, -10), *at(1100, 100)), 17, limit=1)
    assert r.truncated and r.total == 20 and not r.total_is_exact  # ceiling = limit × 20
    assert r.summary().startswith("showing 1 of 20+")


def test_low_zoom_drops_small_pipes_and_merges_mains(clean_engine: Engine, town: dict[str, int]) -> None:
    bbox = (*at(-500, -500), *at(900, 700))
    with clean_engine.connect() as conn:
        close = layer_in_bbox(conn, "pipes", bbox, 17)
        far = layer_in_bbox(conn, "pipes", bbox, 13)
    assert set(close.features["id"]) == {town["main"], town["small"]}
    assert far.representation == "merged"
    assert list(far.features["diameter_mm"]) == [600]  # the main is still there, the 100 mm pipe is not
    assert far.filters["min_diameter_mm"] >= 300
    assert geojson_size(far) < geojson_size(close)


def test_low_zoom_simplifies_building_outlines(clean_engine: Engine) -> None:
    with clean_engine.begin() as conn:
        bid = add_building(conn, "Pyöreä talo", circle_wkt(0, 0, 60, n=200))
    bbox = (*at(-500, -500), *at(500, 500))
    with clean_engine.connect() as conn:
        z17 = layer_in_bbox(conn, "buildings", bbox, 17)
        z15 = layer_in_bbox(conn, "buildings", bbox, 15)
    n17 = len(z17.features.geometry.iloc[0].exterior.coords)
    n15 = len(z15.features.geometry.iloc[0].exterior.coords)
    assert list(z15.features["id"]) == [bid]
    assert n17 == 201 and n15 < n17 / 2
    assert z15.simplify_tolerance_deg > 0
    assert geojson_size(z15) < geojson_size(z17)


def test_city_zoom_aggregates_buildings_to_a_grid(clean_engine: Engine) -> None:
    with clean_engine.begin() as conn:
        for i in range(20):
            for j in range(20):
                add_building(conn, f"Katu {i}-{j}", square_wkt(i * 30, j * 30, 20), residents=3)
    bbox = viewport_bbox(*at(300, 300), 13)
    with clean_engine.connect() as conn:
        grid = layer_in_bbox(conn, "buildings", bbox, 13)
        features = layer_in_bbox(conn, "buildings", bbox, 13, policy=LayerPolicy(), limit=1000)
    assert grid.representation == "grid"
    assert grid.features["count"].sum() == 400 and grid.features["residents"].sum() == 1200
    assert 1 <= grid.shown < 20
    assert features.shown == 400
    assert geojson_size(grid) * 10 < geojson_size(features)


def test_low_zoom_keeps_closed_valves(clean_engine: Engine, town: dict[str, int]) -> None:
    with clean_engine.begin() as conn:
        closed = add_valve(conn, town["net"], "v2", town["main"], town["n2"], 397, 0, status="closed")
    bbox = (*at(-500, -500), *at(900, 700))
    with clean_engine.connect() as conn:
        far = layer_in_bbox(conn, "valves", bbox, 13)
        close = layer_in_bbox(conn, "valves", bbox, 17)
    assert list(far.features["id"]) == [closed]
    assert set(close.features["id"]) == {closed, town["valve"]}


def test_bad_arguments_are_refused(clean_engine: Engine) -> None:
    with clean_engine.connect() as conn:
        with pytest.raises(UnknownLayer, match="unknown layer 'roads'"):
            layer_in_bbox(conn, "roads", (24.9, 60.1, 25.0, 60.2), 15)
        with pytest.raises(InvalidBBox, match="min must be below max"):
            layer_in_bbox(conn, "pipes", (25.0, 60.1, 24.9, 60.2), 15)
        with pytest.raises(InvalidBBox, match="lat/lon swapped"):
            layer_in_bbox(conn, "pipes", (60.1, 24.9, 60.2, 125.0), 15)
        with pytest.raises(InvalidBBox, match="4 numbers"):
            layer_in_bbox(conn, "pipes", (24.9, 60.1, 25.0), 15)
        with pytest.raises(GisError, match="limit must be at least 1"):
            layer_in_bbox(conn, "pipes", (24.9, 60.1, 25.0, 60.2), 15, limit=0)


def test_viewport_geometry() -> None:
    assert metres_per_pixel(0, 0) == pytest.approx(156_543.03, rel=1e-6)
    assert metres_per_pixel(15, 60) == pytest.approx(2.389, rel=1e-3)
    x0, y0, x1, y1 = viewport_bbox(LON0, LAT0, 15, 1200, 800)
    assert (x1 - x0) * M_LON == pytest.approx(1200 * metres_per_pixel(15, LAT0), rel=1e-3)
    assert (y1 - y0) * M_LAT == pytest.approx(800 * metres_per_pixel(15, LAT0), rel=1e-3)


# ------------------------------------------------------------------------------------ click-to-identify


def test_nearest_prefers_the_valve_on_its_pipe(clean_engine: Engine, town: dict[str, int]) -> None:
    with clean_engine.connect() as conn:
        hit = nearest_feature(conn, *at(4, 1))  # 1 m from the valve, 1 m from the main
    assert hit is not None and hit["layer"] == "valves" and hit["id"] == town["valve"]
    assert hit["status"] == "open" and hit["distance_m"] == pytest.approx(1.41, abs=0.05)


def test_nearest_pipe_building_and_nothing(clean_engine: Engine, town: dict[str, int]) -> None:
    with clean_engine.connect() as conn:
        pipe = nearest_feature(conn, *at(150, 4))  # 4 m north of the main's middle
        building = nearest_feature(conn, *at(35, 35))  # inside b_main
        nothing = nearest_feature(conn, *at(1000, 1000))
        too_far = nearest_feature(conn, *at(150, 40), max_distance_m=30)
        far_enough = nearest_feature(conn, *at(150, 40), max_distance_m=50)
        other_net = nearest_feature(conn, *at(150, 4), network_id=town["net"] + 1000)
    assert pipe is not None and pipe["layer"] == "pipes" and pipe["id"] == town["main"]
    assert pipe["distance_m"] == pytest.approx(4.0, abs=0.1) and pipe["diameter_mm"] == 600
    assert building is not None and building["layer"] == "buildings" and building["id"] == town["b_main"]
    assert building["distance_m"] == 0 and building["address"] == "Mannerheimintie 1"
    assert nothing is None
    assert too_far is None
    assert far_enough is not None and far_enough["layer"] == "pipes"
    assert other_net is None  # only the network filtered out lies within 30 m


# --------------------------------------------------------------------------------------------- search


@pytest.fixture()
def addresses(clean_engine: Engine) -> dict[str, int]:
    names = ["Mäkikatu 1", "Mäkikatu 10", "Pikku Mäkikatu 3", "Ylämäkikatu 2", "Улица Ленина 5",
             "проспект Ленина 12", "100% Talo 1", "A_B katu 2", "AxB katu 3", "Öljytie 4"]
    ids = {}
    with clean_engine.begin() as conn:
        for i, n in enumerate(names):
            ids[n] = add_building(conn, n, square_wkt(i * 50, 0, 20))
        ids["no address"] = add_building(conn, None, square_wkt(0, 500, 20), street="Rantakatu", housenumber="7")
    return ids


def _search(engine: Engine, q: str, limit: int = 10) -> list[str]:
    with engine.connect() as conn:
        return [r["address"] for r in search_addresses(conn, q, limit)]


def test_search_prefix_first_then_similarity(clean_engine: Engine, addresses: dict[str, int]) -> None:
    assert _search(clean_engine, "mäkikatu 1") == ["Mäkikatu 1", "Mäkikatu 10"]
    assert _search(clean_engine, "MÄKIKATU") == ["Mäkikatu 1", "Mäkikatu 10", "Pikku Mäkikatu 3", "Ylämäkikatu 2"]
    assert _search(clean_engine, "mäki", limit=2) == ["Mäkikatu 1", "Mäkikatu 10"]


def test_search_cyrillic_case_insensitive(clean_engine: Engine, addresses: dict[str, int]) -> None:
    assert _search(clean_engine, "ЛЕНИНА") == ["Улица Ленина 5", "проспект Ленина 12"]
    assert _search(clean_engine, "улица") == ["Улица Ленина 5"]
    assert _search(clean_engine, "öljy") == ["Öljytie 4"]


def test_search_wildcards_are_literal(clean_engine: Engine, addresses: dict[str, int]) -> None:
    assert _search(clean_engine, "%") == ["100% Talo 1"]
    assert _search(clean_engine, "100%") == ["100% Talo 1"]
    assert _search(clean_engine, "a_b") == ["A_B katu 2"]


def test_search_empty_and_street_housenumber(clean_engine: Engine, addresses: dict[str, int]) -> None:
    assert _search(clean_engine, "") == []
    assert _search(clean_engine, "   ") == []
    with clean_engine.connect() as conn:
        hits = search_addresses(conn, "rantakatu 7")
    assert [h["id"] for h in hits] == [addresses["no address"]]
    hit = hits[0]
    assert hit["address"] == "Rantakatu 7"
    x0, y0, x1, y1 = hit["bbox"]
    assert x0 < hit["lon"] < x1 and y0 < hit["lat"] < y1


# -------------------------------------------------------------------------------------------- extents


def test_extents(clean_engine: Engine) -> None:
    with clean_engine.connect() as conn:
        assert service_area(conn) is None
        assert city_bounds(conn) is None
    with clean_engine.begin() as conn:
        net = add_network(conn)
        a, b = add_node(conn, net, "a", -1000, 0), add_node(conn, net, "b", 0, 0)
        add_pipe(conn, net, "p", a, b, 100)
    with clean_engine.connect() as conn:
        only_net = city_bounds(conn)
    with clean_engine.begin() as conn:
        add_building(conn, "Talo 1", square_wkt(0, 0, 20))
        add_building(conn, "Talo 2", square_wkt(500, 300, 20))
    with clean_engine.connect() as conn:
        area = service_area(conn)
        view = city_bounds(conn)
    assert only_net == pytest.approx((*at(-1000, 0), *at(0, 0)))
    assert area == pytest.approx((*at(-1000, 0), *at(520, 320)))
    assert view == pytest.approx((*at(0, 0), *at(520, 320)))
