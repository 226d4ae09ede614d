"""The vector-tile server against a real PostGIS: content per zoom, ETags, errors, CORS, the CLI.

A small town near Helsinki, loaded through the import's merge (``data.merge``), so the overview
refresh hook runs as it does for a real import::

    network "north":  J1 (source) ─P1─ J2 ─P2─ J3 ─P3─ J4 ─P4─ J5    Mannerheimintie, 400 mm
                                         |P5 (Pikkukatu, 100 mm)
                                         J6 (hydrant)        J5 ─P6─ J7  Runeberginkatu, 300 mm
                      V1 open on P1 at J2, V2 closed on P2 at J3, V3 open on P5 at J3
    network "south":  S1 ─Q1─ S2, 300 m south: Etelätie, 500 mm
    buildings:        B1 40×40 m (20 residents), B2 a 3×3 m shed, B3 20×20 m (5 residents)

Tiles are decoded with ``mapbox_vector_tile``; a feature near a tile's edge may lie in two
tiles, so the checks collect the features of every tile over the town.
"""
from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import geopandas as gpd
import httpx
import mapbox_vector_tile
import pytest
from pydantic import SecretStr
from fastapi.testclient import TestClient
from shapely import LineString, Point, box
from sqlalchemy import Engine, text

from apps.http.tiles import create_app, etag_matches
from data.merge import Load, Snap, Target, merge
from gis.overviews import grid_zooms, merged_zooms
from gis.queries import UnknownLayer
from gis.tiles import ATTRIBUTES, InvalidNetworkId, InvalidTileAddress, parse_tile, representation
from settings import ROOT, get_settings

LON0, LAT0 = 24.94, 60.17
M_LAT = 110_574.0
M_LON = 111_320.0 * math.cos(math.radians(LAT0))


def at(dx_m: float, dy_m: float) -> tuple[float, float]:
    return LON0 + dx_m / M_LON, LAT0 + dy_m / M_LAT


def square(dx_m: float, dy_m: float, size_m: float) -> Any:
    x0, y0 = at(dx_m, dy_m)
    x1, y1 = at(dx_m + size_m, dy_m + size_m)
    return box(x0, y0, x1, y1)


NORTH_NODES = {"J1": ((0, 0), "source"), "J2": ((100, 0), "junction"), "J3": ((200, 0), "junction"),
               "J4": ((300, 0), "junction"), "J5": ((400, 0), "junction"), "J6": ((200, 100), "hydrant"),
               "J7": ((400, 100), "junction")}
NORTH_PIPES = {"P1": ("J1", "J2", 400, "Mannerheimintie"), "P2": ("J2", "J3", 400, "Mannerheimintie"),
               "P3": ("J3", "J4", 400, "Mannerheimintie"), "P4": ("J4", "J5", 400, "Mannerheimintie"),
               "P5": ("J3", "J6", 100, "Pikkukatu"), "P6": ("J5", "J7", 300, "Runeberginkatu")}
NORTH_VALVES = {"V1": ("P1", "J2", "open"), "V2": ("P2", "J3", "closed"), "V3": ("P5", "J3", "open")}
BUILDINGS = {"B1": ((120, 20), 40, 20, "Mannerheimintie 1"), "B2": ((250, 30), 3, 0, None),
             "B3": ((320, -60), 20, 5, "Mannerheimintie 3")}
TOWN = (*at(-50, -400), *at(450, 200))  # lon/lat bbox of everything above


def network_load(nodes: dict, pipes: dict, valves: dict, *, diameters: dict[str, float] | None = None) -> Load:
    diameters = diameters or {}
    n = gpd.GeoDataFrame({"ext_id": list(nodes), "kind": [k for _, k in nodes.values()]},
                         geometry=[Point(at(*xy)) for xy, _ in nodes.values()], crs="EPSG:4326")
    p = gpd.GeoDataFrame({
        "ext_id": list(pipes), "from_node": [a for a, *_ in pipes.values()], "to_node": [b for _, b, *_ in pipes.values()],
        "diameter_mm": [float(diameters.get(k, d)) for k, (_, _, d, _) in pipes.items()],
        "street": [s for *_, s in pipes.values()], "material": "PE", "install_year": 1990,
    }, geometry=[LineString([at(*nodes[a][0]), at(*nodes[b][0])]) for a, b, *_ in pipes.values()], crs="EPSG:4326")
    v = gpd.GeoDataFrame({"ext_id": list(valves), "pipe": [p_ for p_, _, _ in valves.values()],
                          "node": [n_ for _, n_, _ in valves.values()], "status": [s for *_, s in valves.values()],
                          "kind": "gate"}, geometry=[None] * len(valves), crs="EPSG:4326")
    return Load(nodes=n, pipes=p, valves=v)


def buildings_load(buildings: dict) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({
        "ext_id": list(buildings), "address": [a for *_, a in buildings.values()], "kind": "residential",
        "residents": [r for _, _, r, _ in buildings.values()], "address_source": "imported",
    }, geometry=[square(*xy, size) for xy, size, _, _ in buildings.values()], crs="EPSG:4326")


def load_north(engine: Engine, *, diameters: dict[str, float] | None = None, buildings: dict | None = None) -> None:
    net = network_load(NORTH_NODES, NORTH_PIPES, NORTH_VALVES, diameters=diameters)
    load = Load(nodes=net.nodes, pipes=net.pipes, valves=net.valves, buildings=buildings_load(buildings or BUILDINGS))
    with engine.begin() as conn:
        merge(conn, Target(network="north", dataset="north"), load, Snap())


@pytest.fixture()
def town(clean_engine: Engine) -> dict[str, int]:
    """The town, loaded by two merges; returns the network ids by name."""
    load_north(clean_engine)
    south = network_load({"S1": ((0, -300), "junction"), "S2": ((300, -300), "junction")},
                         {"Q1": ("S1", "S2", 500, "Etelätie")}, {})
    with clean_engine.begin() as conn:
        merge(conn, Target(network="south", dataset=None), south, Snap())
        return {r.name: int(r.id) for r in conn.execute(text("SELECT id, name FROM networks"))}


@pytest.fixture()
def client(clean_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(clean_engine)) as c:
        yield c


def tiles_over(bbox: tuple[float, float, float, float], z: int) -> list[tuple[int, int]]:
    def tile(lon: float, lat: float) -> tuple[int, int]:
        n = 2**z
        return (int((lon + 180) / 360 * n),
                int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n))
    (xa, ya), (xb, yb) = tile(bbox[0], bbox[3]), tile(bbox[2], bbox[1])
    return [(x, y) for x in range(xa, xb + 1) for y in range(ya, yb + 1)]


def features(client: TestClient, layer: str, z: int, query: str = "", bbox=TOWN) -> list[dict[str, Any]]:
    """Every feature of ``layer`` in the tiles of zoom ``z`` over ``bbox``."""
    out = []
    for x, y in tiles_over(bbox, z):
        r = client.get(f"/tiles/{layer}/{z}/{x}/{y}.pbf{query}")
        assert r.status_code in (200, 204), r.text
        if r.status_code == 200:
            assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
            decoded = mapbox_vector_tile.decode(r.content)
            assert set(decoded) == {layer}
            out += decoded[layer]["features"]
    return out


def props(feats: list[dict[str, Any]], key: str) -> set[Any]:
    return {f["properties"].get(key) for f in feats}


def one_tile(layer: str, z: int, dx_m: float, dy_m: float) -> str:
    lon, lat = at(dx_m, dy_m)
    (x, y), = tiles_over((lon, lat, lon, lat), z)
    return f"/tiles/{layer}/{z}/{x}/{y}.pbf"


# ------------------------------------------------------------------------------ content per zoom


def test_high_zoom_features_carry_their_attributes(town: dict[str, int], client: TestClient) -> None:
    pipes = features(client, "pipes", 16)
    assert props(pipes, "ext_id") == set(NORTH_PIPES) | {"Q1"}
    p5 = next(f for f in pipes if f["properties"]["ext_id"] == "P5")
    assert p5["properties"] == {"id": p5["id"], "ext_id": "P5", "network_id": town["north"], "diameter_mm": 100.0,
                                "material": "PE", "install_year": 1990, "street": "Pikkukatu",
                                "representation": "features"}
    assert p5["geometry"]["type"] == "LineString"

    valves = features(client, "valves", 16)
    assert props(valves, "ext_id") == set(NORTH_VALVES)
    v2 = next(f for f in valves if f["properties"]["ext_id"] == "V2")
    assert set(v2["properties"]) == {*ATTRIBUTES[("valves", "features")], "representation"}
    assert (v2["properties"]["status"], v2["properties"]["kind"], v2["properties"]["network_id"]) == \
        ("closed", "gate", town["north"])

    buildings = features(client, "buildings", 16)
    assert props(buildings, "address") == {"Mannerheimintie 1", "Mannerheimintie 3", None}  # B2 has no address
    b1 = next(f for f in buildings if f["properties"].get("address") == "Mannerheimintie 1")
    assert b1["properties"] | {"id": 0} == {"id": 0, "address": "Mannerheimintie 1", "kind": "residential",
                                            "residents": 20, "address_source": "imported",
                                            "representation": "features"}
    assert b1["geometry"]["type"] == "Polygon"

    hydrants = features(client, "hydrants", 16)
    assert [f["properties"]["ext_id"] for f in hydrants] == ["J6"]
    sources = features(client, "sources", 16)
    assert [(f["properties"]["ext_id"], f["properties"]["kind"]) for f in sources] == [("J1", "source")]


def test_low_zoom_draws_merged_mains_and_grids(town: dict[str, int], client: TestClient) -> None:
    z13 = features(client, "pipes", 13)
    assert props(z13, "representation") == {"merged"}
    assert {(f["properties"]["street"], f["properties"]["diameter_mm"]) for f in z13} == \
        {("Mannerheimintie", 400.0), ("Etelätie", 500.0)}  # ≥ 400 mm only
    main = next(f for f in z13 if f["properties"]["street"] == "Mannerheimintie")
    assert main["properties"]["pipes"] == 4
    assert main["properties"]["length_m"] == pytest.approx(400, rel=0.02)
    assert "ext_id" not in main["properties"]

    z14 = features(client, "pipes", 14)
    assert props(z14, "street") == {"Mannerheimintie", "Etelätie", "Runeberginkatu"}  # ≥ 300 mm at 14
    z15 = features(client, "pipes", 15)
    assert props(z15, "representation") == {"features"}
    assert props(z15, "ext_id") == {"P1", "P2", "P3", "P4", "P6", "Q1"}  # ≥ 200 mm: no P5

    grid = features(client, "buildings", 13)
    assert props(grid, "representation") == {"grid"}
    assert all(f["geometry"]["type"] == "Polygon" for f in grid)
    assert sum(f["properties"]["count"] for f in grid) == 3
    assert sum(f["properties"]["residents"] for f in grid) == 25
    assert set(grid[0]["properties"]) == {"count", "residents", "representation"}

    z15_buildings = features(client, "buildings", 15)
    assert props(z15_buildings, "address") == {"Mannerheimintie 1", "Mannerheimintie 3"}  # the shed is < 4 px²

    hydrant_grid = features(client, "hydrants", 14)
    assert props(hydrant_grid, "representation") == {"grid"}
    assert sum(f["properties"]["count"] for f in hydrant_grid) == 1

    assert props(features(client, "valves", 13), "ext_id") == {"V2"}          # closed only
    assert props(features(client, "valves", 15), "ext_id") == {"V1", "V2"}    # + open on ≥ 300 mm
    assert props(features(client, "sources", 10), "ext_id") == {"J1"}


def test_zoom_bands_follow_the_viewport_policy() -> None:
    assert [representation("buildings", z) for z in (0, 14, 15, 22)] == ["grid", "grid", "features", "features"]
    assert [representation("pipes", z) for z in (10, 14, 15)] == ["merged", "merged", "features"]
    assert grid_zooms("buildings") == list(range(15)) and grid_zooms("hydrants") == list(range(15))
    assert merged_zooms()[-2:] == [(13, 400.0), (14, 300.0)]


def test_network_id_filters_the_network_layers_not_the_buildings(town: dict[str, int], client: TestClient) -> None:
    north, south = town["north"], town["south"]
    assert props(features(client, "pipes", 16, f"?network_id={south}"), "ext_id") == {"Q1"}
    assert props(features(client, "pipes", 13, f"?network_id={north}"), "street") == {"Mannerheimintie"}
    assert props(features(client, "pipes", 13, f"?network_id={south}"), "network_id") == {south}
    assert features(client, "valves", 16, f"?network_id={south}") == []
    assert features(client, "sources", 16, f"?network_id={south}") == []
    assert sum(f["properties"]["count"] for f in features(client, "hydrants", 12, f"?network_id={south}")) == 0
    assert sum(f["properties"]["count"] for f in features(client, "hydrants", 12, f"?network_id={north}")) == 1
    assert len(features(client, "buildings", 16, f"?network_id={south}")) == \
        len(features(client, "buildings", 16))


def test_empty_tile_is_204_with_an_etag(town: dict[str, int], client: TestClient) -> None:
    r = client.get("/tiles/pipes/16/0/0.pbf")
    assert r.status_code == 204
    assert r.content == b""
    assert r.headers["etag"].startswith('"')
    assert r.headers["cache-control"] == "public, max-age=60"


def test_the_cap_keeps_the_widest_and_says_so(town: dict[str, int], clean_engine: Engine) -> None:
    s = get_settings().model_copy(update={"tiles_max_features": 1})
    with TestClient(create_app(clean_engine, settings=s)) as c:
        r = c.get(one_tile("pipes", 15, 200, 0) + f"?network_id={town['north']}")
        assert r.headers["x-tile-truncated"] == "true"
        feats = mapbox_vector_tile.decode(r.content)["pipes"]["features"]
        assert [f["properties"]["diameter_mm"] for f in feats] == [400.0]
        r = c.get(one_tile("pipes", 15, 150, -300) + f"?network_id={town['south']}")
        assert r.headers["x-tile-truncated"] == "false"


# ------------------------------------------------------------------------------------ ETags


def test_etag_is_stable_and_304_on_if_none_match(town: dict[str, int], client: TestClient) -> None:
    url = one_tile("valves", 16, 200, 0)
    a, b = client.get(url), client.get(url)
    assert a.status_code == b.status_code == 200
    assert a.headers["etag"] == b.headers["etag"]
    assert a.headers["cache-control"] == "public, max-age=60"
    again = client.get(url, headers={"If-None-Match": a.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == a.headers["etag"]
    assert client.get(url, headers={"If-None-Match": 'W/' + a.headers["etag"]}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200


def test_etag_changes_with_a_valve_status_change(town: dict[str, int], clean_engine: Engine,
                                                  client: TestClient) -> None:
    url = one_tile("valves", 16, 100, 0)
    bld = one_tile("buildings", 16, 130, 30)
    before, bld_before = client.get(url).headers["etag"], client.get(bld).headers["etag"]
    with clean_engine.begin() as conn:
        conn.execute(text("UPDATE valves SET status = 'closed' WHERE ext_id = 'V1'"))
    r = client.get(url, headers={"If-None-Match": before})
    assert r.status_code == 200
    assert r.headers["etag"] != before
    v1 = [f for f in mapbox_vector_tile.decode(r.content)["valves"]["features"] if f["properties"]["ext_id"] == "V1"]
    assert v1[0]["properties"]["status"] == "closed"
    assert client.get(bld).headers["etag"] == bld_before  # buildings do not depend on the network


def test_an_import_changes_etags_and_refreshes_the_overviews(town: dict[str, int], clean_engine: Engine,
                                                             client: TestClient) -> None:
    z13_url = one_tile("pipes", 13, 200, 0)
    grid_url = one_tile("buildings", 13, 200, 0)
    etag_pipes, etag_grid = client.get(z13_url).headers["etag"], client.get(grid_url).headers["etag"]
    assert "Runeberginkatu" not in props(features(client, "pipes", 13), "street")

    # the utility's next file: Runeberginkatu is now a 400 mm main, and a new building appears
    load_north(clean_engine, diameters={"P6": 400},
               buildings={**BUILDINGS, "B4": ((50, 50), 10, 7, "Mannerheimintie 5")})

    assert client.get(z13_url).headers["etag"] != etag_pipes
    assert client.get(grid_url).headers["etag"] != etag_grid
    assert "Runeberginkatu" in props(features(client, "pipes", 13), "street")
    grid = features(client, "buildings", 13)
    assert (sum(f["properties"]["count"] for f in grid), sum(f["properties"]["residents"] for f in grid)) == (4, 32)


def test_a_merge_that_changes_nothing_keeps_the_network_etags(town: dict[str, int], clean_engine: Engine,
                                                               client: TestClient) -> None:
    url = one_tile("pipes", 13, 200, 0) + f"?network_id={town['north']}"
    before = client.get(url).headers["etag"]
    load_north(clean_engine)
    assert client.get(url).headers["etag"] == before


def test_refresh_overviews_cli_catches_up_with_a_hand_edit(town: dict[str, int], clean_engine: Engine,
                                                           db_url: str, client: TestClient) -> None:
    url = one_tile("pipes", 13, 200, 0)
    before = client.get(url).headers["etag"]
    with clean_engine.begin() as conn:  # a hand edit: no import, no refresh
        conn.execute(text("UPDATE pipes SET diameter_mm = 450 WHERE ext_id = 'P6'"))
    assert "Runeberginkatu" not in props(features(client, "pipes", 13), "street")

    env = {**os.environ, "DATABASE_URL": db_url}
    done = subprocess.run([sys.executable, "-m", "gis", "refresh-overviews", "--network-id", str(town["north"])],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert f"network {town['north']}" in done.stdout

    assert client.get(url).headers["etag"] != before
    assert ("Runeberginkatu", 450.0) in {(f["properties"]["street"], f["properties"]["diameter_mm"])
                                         for f in features(client, "pipes", 13)}
    bad = subprocess.run([sys.executable, "-m", "gis", "refresh-overviews", "--network-id", "999999"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "error: no network with id 999999"


# ------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize("path, status, message", [
    ("/tiles/roads/10/1/1.pbf", 404,
     "unknown layer 'roads'; expected one of buildings, pipes, valves, hydrants, sources"),
    ("/tiles/pipes/23/0/0.pbf", 400, "z must be 0..22, got 23"),
    ("/tiles/pipes/3/8/0.pbf", 400, "x must be 0..7 at zoom 3, got 8"),
    ("/tiles/pipes/3/0/8.pbf", 400, "y must be 0..7 at zoom 3, got 8"),
    ("/tiles/pipes/3/-1/0.pbf", 400, "x must be an integer 0..7 at zoom 3, got '-1'"),
    ("/tiles/pipes/a/0/0.pbf", 400, "z must be an integer 0..22, got 'a'"),
    ("/tiles/pipes/3/1.5/0.pbf", 400, "x must be an integer 0..7 at zoom 3, got '1.5'"),
    ("/tiles/pipes/3/0/x.pbf", 400, "y must be an integer 0..7 at zoom 3, got 'x'"),
    ("/tiles/pipes/3/0/0.pbf?network_id=abc", 400, "network_id must be a positive integer, got 'abc'"),
    ("/tiles/pipes/3/0/0.pbf?network_id=0", 400, "network_id must be a positive integer, got '0'"),
    ("/tiles/pipes/3/0/0.pbf?network_id=1&network_id=2", 400, "network_id must be given once, got 2 values"),
    ("/tiles/pipes/3/0/0.pbf?network_id=999999", 404, "no network with id 999999"),
    ("/tiles/pipes/3/0/0.png", 404, "no such path '/tiles/pipes/3/0/0.png'; tiles are at /tiles/{layer}/{z}/{x}/{y}.pbf"),
    ("/tiles/pipes/3/0.pbf", 404, "no such path '/tiles/pipes/3/0.pbf'; tiles are at /tiles/{layer}/{z}/{x}/{y}.pbf"),
])
def test_bad_input_gets_one_line_of_json(clean_engine: Engine, client: TestClient, path: str, status: int,
                                         message: str) -> None:
    r = client.get(path)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert "\n" not in r.text
    assert r.json() == {"error": message}


def test_post_is_refused_as_json(client: TestClient) -> None:
    r = client.post("/tiles/pipes/3/0/0.pbf")
    assert r.status_code == 405
    assert r.json() == {"error": "method POST not allowed; tiles are read with GET"}


def test_parse_tile_names_the_input() -> None:
    with pytest.raises(UnknownLayer, match="unknown layer 'x'"):
        parse_tile("x", "1", "0", "0")
    with pytest.raises(InvalidTileAddress, match=r"y must be 0\.\.1023 at zoom 10, got 1024"):
        parse_tile("pipes", "10", "0", "1024")
    with pytest.raises(InvalidTileAddress, match="z must be an integer"):
        parse_tile("pipes", "１", "0", "0")  # a full-width digit is no ASCII integer
    with pytest.raises(InvalidNetworkId, match="got '2147483648'"):
        parse_tile("pipes", "1", "0", "0", "2147483648")
    assert parse_tile("pipes", "22", "4194303", "0", "7").network_id == 7


def test_database_down_is_503_with_retry_after() -> None:
    s = get_settings().model_copy(update={"database_url": SecretStr("postgresql://postgres@127.0.0.1:1/zhkh_nowhere")})
    with TestClient(create_app(settings=s)) as c:
        r = c.get("/tiles/pipes/10/583/296.pbf")
    assert r.status_code == 503
    assert r.headers["retry-after"] == "5"
    assert r.json() == {"error": "the database is unavailable; retry in 5 seconds"}


def test_etag_matching() -> None:
    assert etag_matches('"a", "b"', '"b"')
    assert etag_matches("*", '"b"')
    assert not etag_matches('"ab"', '"b"')
    assert not etag_matches(None, '"b"')


# -------------------------------------------------------------------------------------- CORS


def test_cors_allows_any_origin_by_default(town: dict[str, int], client: TestClient) -> None:
    url = one_tile("pipes", 16, 200, 0)
    r = client.get(url, headers={"Origin": "http://127.0.0.1:8501"})
    assert r.headers["access-control-allow-origin"] == "*"
    assert "ETag" in r.headers["access-control-expose-headers"]
    pre = client.options(url, headers={"Origin": "http://127.0.0.1:8501", "Access-Control-Request-Method": "GET",
                                       "Access-Control-Request-Headers": "if-none-match"})
    assert pre.status_code == 200
    assert "GET" in pre.headers["access-control-allow-methods"]
    err = client.get("/tiles/nope/1/0/0.pbf", headers={"Origin": "http://127.0.0.1:8501"})
    assert err.headers["access-control-allow-origin"] == "*"  # the page can read the error too


def test_cors_origins_can_be_configured(clean_engine: Engine) -> None:
    s = get_settings().model_copy(update={"tiles_cors_origins": "http://ops.example, http://127.0.0.1:8501"})
    with TestClient(create_app(clean_engine, settings=s)) as c:
        ok = c.get("/tiles/pipes/16/0/0.pbf", headers={"Origin": "http://ops.example"})
        other = c.get("/tiles/pipes/16/0/0.pbf", headers={"Origin": "http://evil.example"})
    assert ok.headers["access-control-allow-origin"] == "http://ops.example"
    assert "access-control-allow-origin" not in other.headers


# ------------------------------------------------------------------------------ the CLI contract


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_tiles_cli_serves_a_tile(town: dict[str, int], db_url: str) -> None:
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": db_url}
    proc = subprocess.Popen([sys.executable, "-m", "gis", "serve-tiles", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"serve-tiles did not come up: {proc.communicate(timeout=5)[0] if proc.poll() is not None else 'timeout'}")
            time.sleep(0.2)
        r = httpx.get(base + one_tile("pipes", 16, 150, 0), timeout=10)
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
        assert "P2" in {f["properties"]["ext_id"] for f in mapbox_vector_tile.decode(r.content)["pipes"]["features"]}
        bad = httpx.get(base + "/tiles/pipes/99/0/0.pbf", timeout=10)
        assert (bad.status_code, json.loads(bad.text)) == (400, {"error": "z must be 0..22, got 99"})
    finally:
        proc.terminate()
        proc.wait(timeout=20)
