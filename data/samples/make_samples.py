"""Recreate the sample files of ``data/samples/`` (deterministically: same bytes every run).

    .venv/bin/python data/samples/make_samples.py [OUT_DIR]

Good files (a small network near Helsinki, 385 000 / 6 672 000 in ETRS-TM35FIN ≈ 24.9275 E, 60.1687 N):

- ``helsinki.gpkg`` (EPSG:3067): layers ``pipes`` (P1…P5), ``valves`` (V1…V4; V2 sits in the middle of
  P2 and splits it), ``buildings`` (B1…B3, one with a bad kind "yes" → other).
- ``pipes.geojson`` (EPSG:4326): three pipes G1…G3 north of the GeoPackage's network.
- ``mains_gk25.shp`` (EPSG:3879, GK25FIN): three pipes S1…S3, a layer recognised by its name.
- ``net1_valves.csv``: shutoff valves for WNTR's Net1.inp (``link,node,id,status``).

Bad files (each with one kind of problem): ``bad_geometry.gpkg`` (building B2 is a bow-tie),
``no_crs.shp`` (no .prj), ``disconnected.gpkg`` (pipe P9 touches nothing), ``valve_far.gpkg``
(valve V9 20 m from any pipe), ``duplicate_ids.gpkg`` (two pipes P2), ``bad_status.gpkg`` (a valve
with status "half-open").
"""
from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import geopandas as gpd
import pyogrio
from shapely import LineString, Point, Polygon

HERE = Path(__file__).resolve().parent
X0, Y0 = 385000.0, 6672000.0  # EPSG:3067


def _xy(dx: float, dy: float) -> tuple[float, float]:
    return X0 + dx, Y0 + dy


def _line(*pts: tuple[float, float]) -> LineString:
    return LineString([_xy(*p) for p in pts])


def _box(dx: float, dy: float, w: float, h: float) -> Polygon:
    return Polygon([_xy(dx, dy), _xy(dx + w, dy), _xy(dx + w, dy + h), _xy(dx, dy + h)])


def pipes_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": ["P1", "P2", "P3", "P4", "P5"],
         "dn": [200, 150, 150, 110, 110],
         "material": ["cast iron", "PE", "PE", "PVC", "steel"],
         "year": [1962, 1988, 1995, 2004, 1975]},
        geometry=[_line((0, 0), (100, 0)), _line((100, 0), (200, 0)), _line((100, 0), (100, 100)),
                  _line((100, 100), (150, 105), (200, 100)), _line((200, 0), (200, 100))],
        crs="EPSG:3067",
    )


def valves_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": ["V1", "V2", "V3", "V4"], "status": ["open", "open", "Closed", "inoperable"],
         "type": ["gate", "butterfly", "gate", "gate"]},
        geometry=[Point(_xy(0.8, 0.3)), Point(_xy(150, 0.5)), Point(_xy(100, 99.5)), Point(_xy(200.2, 99.4))],
        crs="EPSG:3067",
    )


def buildings_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": ["B1", "B2", "B3"],
         "address": ["Mannerheimintie 1", "Mannerheimintie 3", "Kalevankatu 2"],
         "street": ["Mannerheimintie", "Mannerheimintie", "Kalevankatu"],
         "housenumber": ["1", "3", "2"], "type": ["apartments", "school", "yes"],
         "residents": [120, 0, 15]},
        geometry=[_box(20, 10, 30, 20), _box(120, 20, 40, 30), _box(30, 60, 20, 20)],
        crs="EPSG:3067",
    )


def _gpkg(path: Path, layers: dict[str, gpd.GeoDataFrame]) -> None:
    path.unlink(missing_ok=True)
    for name, frame in layers.items():
        frame.to_file(path, layer=name, driver="GPKG", SPATIAL_INDEX="NO", METADATA_TABLES="NO")
    with sqlite3.connect(path) as con:  # small pages: a 3-layer GeoPackage in ~30 KB instead of ~100
        con.execute("PRAGMA page_size=1024")
        con.execute("VACUUM")
    con.close()


def _shp(path: Path, frame: gpd.GeoDataFrame, *, keep_prj: bool = True) -> None:
    for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
        path.with_suffix(ext).unlink(missing_ok=True)
    frame.to_file(path, driver="ESRI Shapefile")
    if not keep_prj:
        path.with_suffix(".prj").unlink()
    with path.with_suffix(".dbf").open("r+b") as fh:  # the dBASE header holds the write date: pin it
        fh.seek(1)
        fh.write(bytes([124, 1, 1]))


def make_samples(out: Path = HERE) -> list[Path]:
    """Write every sample into ``out``; returns the paths written (Shapefiles by their .shp)."""
    out.mkdir(parents=True, exist_ok=True)
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2024-01-01T00:00:00Z"})
    pipes, valves, buildings = pipes_frame(), valves_frame(), buildings_frame()
    written = []

    p = out / "helsinki.gpkg"
    _gpkg(p, {"pipes": pipes, "valves": valves, "buildings": buildings})
    written.append(p)

    p = out / "pipes.geojson"
    p.unlink(missing_ok=True)
    gj = gpd.GeoDataFrame(
        {"ext_id": ["G1", "G2", "G3"], "diameter": [160.0, 110.0, 110.0], "material": ["PE", "PE", "PVC"]},
        geometry=[_line((0, 300), (100, 300)), _line((100, 300), (100, 380)), _line((100, 300), (190, 300))],
        crs="EPSG:3067",
    ).to_crs("EPSG:4326")
    gj.to_file(p, driver="GeoJSON", COORDINATE_PRECISION=8)
    written.append(p)

    p = out / "mains_gk25.shp"
    shp = gpd.GeoDataFrame(
        {"id": ["S1", "S2", "S3"], "dn": [300, 200, 200], "year": [1958, 1971, 1971]},
        geometry=[_line((0, 500), (120, 500)), _line((120, 500), (120, 600)), _line((120, 500), (240, 500))],
        crs="EPSG:3067",
    ).to_crs("EPSG:3879")
    _shp(p, shp)
    written.append(p)

    p = out / "net1_valves.csv"
    p.write_text("link,node,id,status\n10,10,V1,open\n11,11,V2,closed\n12,12,V3,inoperable\n", encoding="utf-8")
    written.append(p)

    # bad files
    bow = buildings.copy()
    bow.loc[1, "geometry"] = Polygon([_xy(120, 20), _xy(160, 50), _xy(160, 20), _xy(120, 50)])
    p = out / "bad_geometry.gpkg"
    _gpkg(p, {"buildings": bow})
    written.append(p)

    p = out / "no_crs.shp"
    _shp(p, pipes[["id", "geometry"]], keep_prj=False)
    written.append(p)

    far = gpd.GeoDataFrame({"id": ["P9"], "dn": [100], "material": ["PE"], "year": [2000]},
                           geometry=[_line((0, 250), (80, 250))], crs="EPSG:3067")
    p = out / "disconnected.gpkg"
    _gpkg(p, {"pipes": gpd.GeoDataFrame(gpd.pd.concat([pipes, far], ignore_index=True), crs="EPSG:3067")})
    written.append(p)

    far_valve = gpd.GeoDataFrame({"id": ["V9"], "status": ["open"], "type": ["gate"]},
                                 geometry=[Point(_xy(50, 20))], crs="EPSG:3067")
    p = out / "valve_far.gpkg"
    _gpkg(p, {"pipes": pipes, "valves": gpd.GeoDataFrame(gpd.pd.concat([valves, far_valve], ignore_index=True),
                                                         crs="EPSG:3067")})
    written.append(p)

    dup = pipes.copy()
    dup.loc[3, "id"] = "P2"
    p = out / "duplicate_ids.gpkg"
    _gpkg(p, {"pipes": dup})
    written.append(p)

    bad_status = valves.copy()
    bad_status.loc[2, "status"] = "half-open"
    p = out / "bad_status.gpkg"
    _gpkg(p, {"pipes": pipes, "valves": bad_status})
    written.append(p)
    return written


if __name__ == "__main__":
    for path in make_samples(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE):
        print(path)
