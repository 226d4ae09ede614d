"""Files the importers must refuse cleanly: one line naming the file and the problem, exit 2, nothing written.

Each case is checked through the Python API (``import_file`` raises a DataError, ``validate_file``
returns the same problem) and, for most, through ``python -m data import`` in a subprocess: exit
code 2, exactly one stderr line that names the file, no traceback, and the row counts of a
database that already holds a network unchanged.
"""
from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio.raw
import pytest
from shapely import LineString, Point
from sqlalchemy import Engine

import data.archive
from data.archive import MAX_LAYERS
from data.errors import DataError, FileTooComplex, ValidationFailed
from data.gis_read import MAX_VERTICES
from data.importers import import_file, validate_file
from settings import ROOT

Counts = Callable[[Engine], dict[str, int]]
X0, Y0 = 385000.0, 6672000.0  # Helsinki in EPSG:3067
NET1_OFFSET = ["--crs", "EPSG:3067", "--offset", "385000,6672000"]


# ------------------------------------------------------------------ helpers

def run_cli(*args: str, db_url: str | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "data", "import", *args]
    if db_url:
        cmd += ["--database-url", db_url]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def assert_refused(proc: subprocess.CompletedProcess[str], name: str, problem: str) -> str:
    """Exit 2, one stderr line naming ``name`` and matching ``problem``, no traceback; the line."""
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ") and name in lines[0], lines[0]
    assert re.search(problem, lines[0]), lines[0]
    return lines[0]


@pytest.fixture()
def loaded(clean_engine: Engine, samples: Path, row_counts: Counts) -> dict[str, int]:
    """A database that already holds the Helsinki sample network: a refused import must not touch it."""
    import_file(clean_engine, samples / "helsinki.gpkg")
    counts = row_counts(clean_engine)
    assert counts["pipes"] == 6 and counts["buildings"] == 3
    return counts


def _net1(tmp_path: Path, wntr_networks: Path, name: str, edit: Callable[[list[str]], list[str]]) -> Path:
    lines = (wntr_networks / "Net1.inp").read_text().splitlines()
    path = tmp_path / name
    path.write_text("\n".join(edit(lines)) + "\n")
    return path


def _section(lines: list[str], name: str) -> int:
    """Index of the first data line of section ``[name]``."""
    i = next(k for k, line in enumerate(lines) if line.strip().upper() == f"[{name}]")
    i += 1
    while lines[i].strip().startswith(";") or not lines[i].strip():
        i += 1
    return i


def _without_section(lines: list[str], name: str) -> list[str]:
    start = next(k for k, line in enumerate(lines) if line.strip().upper() == f"[{name}]")
    end = next(k for k in range(start + 1, len(lines)) if lines[k].strip().startswith("["))
    return lines[:start] + lines[end:]


def _wkb_line(points: list[tuple[float, float]]) -> bytes:
    return struct.pack("<BII", 1, 2, len(points)) + b"".join(struct.pack("<dd", *p) for p in points)


def _wkb_polygon(ring: list[tuple[float, float]]) -> bytes:
    return struct.pack("<BIII", 1, 3, 1, len(ring)) + b"".join(struct.pack("<dd", *p) for p in ring)


def _write_raw(path: Path, layer: str, ids: list[str], wkb: list[bytes], gtype: str, driver: str) -> None:
    """A layer written from raw WKB (geopandas would refuse to build these geometries)."""
    pyogrio.raw.write(path, geometry=np.array(wkb, dtype=object), field_data=[np.array(ids, dtype=object)],
                      fields=["id"], driver=driver, geometry_type=gtype, crs="EPSG:3067", layer=layer)


# ------------------------------------------------------------------ 1. a 0-byte .inp

def test_empty_inp(tmp_path: Path, db_url: str, loaded: dict[str, int], clean_engine: Engine,
                   row_counts: Counts) -> None:
    path = tmp_path / "empty.inp"
    path.write_bytes(b"")
    with pytest.raises(DataError, match=r"^empty\.inp: the file is empty \(0 bytes\)$"):
        import_file(clean_engine, path, crs="EPSG:3067")
    assert validate_file(path, crs="EPSG:3067") == ["empty.inp: the file is empty (0 bytes)"]
    assert_refused(run_cli(str(path), "--crs", "EPSG:3067", db_url=db_url), "empty.inp", "the file is empty")
    assert row_counts(clean_engine) == loaded


def test_inp_without_any_node(tmp_path: Path) -> None:
    path = tmp_path / "title.inp"
    path.write_text("[TITLE]\nonly a title\n[END]\n")
    with pytest.raises(DataError, match=r"title\.inp: no nodes \(\[JUNCTIONS\], \[RESERVOIRS\] or \[TANKS\]\)"):
        import_file(None, path, crs="EPSG:3067", dry_run=True)


def test_empty_gis_file(tmp_path: Path) -> None:
    path = tmp_path / "pipes.gpkg"
    path.write_bytes(b"")
    with pytest.raises(DataError, match=r"^pipes\.gpkg: the file is empty \(0 bytes\)$"):
        import_file(None, path, dry_run=True)


# ------------------------------------------------------------------ 2. nodes without [COORDINATES]

def test_inp_without_coordinates_section(tmp_path: Path, wntr_networks: Path, db_url: str,
                                         loaded: dict[str, int], clean_engine: Engine, row_counts: Counts) -> None:
    path = _net1(tmp_path, wntr_networks, "nocoords.inp", lambda ls: _without_section(ls, "COORDINATES"))
    problem = "nocoords.inp: no [COORDINATES] section: none of the 11 nodes can be placed on the map"
    with pytest.raises(ValidationFailed, match=re.escape(problem)) as caught:
        import_file(clean_engine, path, crs="EPSG:3067", offset=(X0, Y0))
    assert caught.value.problems == [problem]
    assert validate_file(path, crs="EPSG:3067", offset=(X0, Y0)) == [problem]
    assert_refused(run_cli(str(path), *NET1_OFFSET, db_url=db_url), "nocoords.inp", r"no \[COORDINATES\] section")
    assert row_counts(clean_engine) == loaded


def test_inp_with_some_nodes_missing_from_coordinates(tmp_path: Path, wntr_networks: Path) -> None:
    def drop_three(lines: list[str]) -> list[str]:
        i = _section(lines, "COORDINATES")
        return lines[:i] + lines[i + 3:]

    path = _net1(tmp_path, wntr_networks, "some.inp", drop_three)
    with pytest.raises(ValidationFailed, match=r"some\.inp: 3 of 11 nodes have no line in \[COORDINATES\] "
                                               r"\(10, 11, 12\)"):
        import_file(None, path, crs="EPSG:3067", offset=(X0, Y0), dry_run=True)


# ------------------------------------------------------------------ 3. duplicate ids

def test_inp_duplicate_link_id(tmp_path: Path, wntr_networks: Path, db_url: str,
                               loaded: dict[str, int], clean_engine: Engine, row_counts: Counts) -> None:
    def dup(lines: list[str]) -> list[str]:
        i = _section(lines, "PIPES")
        return lines[:i + 1] + [lines[i].replace("10530", "999")] + lines[i + 1:]

    path = _net1(tmp_path, wntr_networks, "duplink.inp", dup)
    problem = r"duplink\.inp, \[PIPES\] line \d+: duplicate link id '10' \(first at \[PIPES\] line \d+\)"
    with pytest.raises(ValidationFailed, match=problem):
        import_file(clean_engine, path, crs="EPSG:3067", offset=(X0, Y0))
    assert_refused(run_cli(str(path), *NET1_OFFSET, db_url=db_url), "duplink.inp", problem)
    assert row_counts(clean_engine) == loaded


def test_inp_duplicate_node_id_across_sections(tmp_path: Path, wntr_networks: Path) -> None:
    def dup(lines: list[str]) -> list[str]:
        i = _section(lines, "TANKS")  # a tank named like junction 10
        return lines[:i + 1] + ["10   850  120  100  150  50.5  0"] + lines[i + 1:]

    path = _net1(tmp_path, wntr_networks, "dupnode.inp", dup)
    problems = validate_file(path, crs="EPSG:3067", offset=(X0, Y0))
    assert len(problems) == 1
    assert re.fullmatch(r"dupnode\.inp, \[TANKS\] line \d+: duplicate node id '10' \(first at \[JUNCTIONS\] "
                        r"line \d+\)", problems[0]), problems


# ------------------------------------------------------------------ 4. unknown CRS

@pytest.mark.parametrize("crs", ["EPSG:999999", "foo"])
def test_unknown_crs_for_inp(wntr_networks: Path, db_url: str, crs: str) -> None:
    with pytest.raises(DataError, match=rf"^Net1\.inp: --crs '{crs}' is not a known CRS"):
        import_file(None, wntr_networks / "Net1.inp", crs=crs, dry_run=True)
    assert_refused(run_cli(str(wntr_networks / "Net1.inp"), "--crs", crs, db_url=db_url), "Net1.inp",
                   rf"--crs '{crs}' is not a known CRS")


def test_unknown_crs_for_a_gis_file(samples: Path) -> None:
    with pytest.raises(DataError, match=r"^no_crs\.shp: --crs 'EPSG:999999' is not a known CRS"):
        import_file(None, samples / "no_crs.shp", crs="EPSG:999999", dry_run=True)


# ------------------------------------------------------------------ 5. coordinates outside the CRS's area of use

def test_lonlat_labelled_as_finnish_metres(tmp_path: Path, db_url: str, loaded: dict[str, int],
                                          clean_engine: Engine, row_counts: Counts) -> None:
    path = tmp_path / "mislabelled.gpkg"
    gpd.GeoDataFrame({"id": ["A", "B"]}, geometry=[LineString([(24.94, 60.17), (24.95, 60.17)]),
                                                    LineString([(24.95, 60.17), (24.95, 60.18)])],
                     crs="EPSG:3067").to_file(path, layer="pipes")
    problem = (r'mislabelled\.gpkg, layer "pipes": coordinates \(x 24\.94…24\.95, y 60\.17…60\.18 = lon 22\.5\d*…'
               r'22\.5\d*, lat 0\.000\d+…0\.000\d+\) lie outside the area of use of EPSG:3067 \(ETRS89 / '
               r'TM35FIN\(E,N\)\) \(lon 19\.08…31\.59, lat 58\.84…70\.09\)')
    with pytest.raises(ValidationFailed, match=problem) as caught:
        import_file(clean_engine, path)
    assert len(caught.value.problems) == 1
    assert_refused(run_cli(str(path), db_url=db_url), "mislabelled.gpkg", problem)
    assert row_counts(clean_engine) == loaded


def test_inp_without_its_offset_is_outside_the_crs(wntr_networks: Path, db_url: str) -> None:
    problem = (r"Net1\.inp: coordinates \(x 10…70, y 10…90 = lon 22\.5\d*…22\.5\d*, lat [0-9.e-]+…[0-9.e-]+\) lie "
               r"outside the area of use of EPSG:3067 .* \(or is --offset missing\?\)")
    with pytest.raises(ValidationFailed, match=problem):
        import_file(None, wntr_networks / "Net1.inp", crs="EPSG:3067", dry_run=True)
    assert_refused(run_cli(str(wntr_networks / "Net1.inp"), "--crs", "EPSG:3067", db_url=db_url), "Net1.inp",
                   problem)


def test_missing_prj_filled_with_the_wrong_crs(tmp_path: Path) -> None:
    path = tmp_path / "lonlat.shp"
    with pytest.warns(UserWarning, match="crs"):
        gpd.GeoDataFrame({"id": ["A"]}, geometry=[LineString([(24.94, 60.17), (24.95, 60.17)])]).to_file(path)
    assert import_file(None, path, crs="EPSG:4326", dry_run=True).counts["pipes"] == 1
    with pytest.raises(ValidationFailed, match=r'lonlat\.shp, layer "lonlat": coordinates .* outside the area of '
                                               r"use of EPSG:3067"):
        import_file(None, path, crs="EPSG:3067", dry_run=True)
    # GK25's false easting is 25 500 000 m: x = 24.94 is not on the Earth at all
    with pytest.raises(ValidationFailed, match=r'lonlat\.shp, layer "lonlat": coordinates \(x 24\.94…24\.95, '
                                               r"y 60\.17…60\.17\) cannot be placed on the Earth in EPSG:3879 "
                                               r"\(ETRS89 / GK25FIN\); is the CRS right\?"):
        import_file(None, path, crs="EPSG:3879", dry_run=True)


def test_huge_coordinate_values_in_lonlat(tmp_path: Path, db_url: str) -> None:
    path = tmp_path / "far.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": "X"},
         "geometry": {"type": "LineString", "coordinates": [[1e6, 60.17], [1e6 + 10, 60.17]]}}]}))
    problem = (r'far\.geojson, layer "far": coordinates \(x 1e\+06…1\.00001e\+06, y 60\.17…60\.17\) lie outside '
               r"the area of use of EPSG:4326 \(WGS 84\) \(lon -180…180, lat -90…90\)")
    assert re.match(problem, validate_file(path)[0])
    assert_refused(run_cli(str(path), db_url=db_url), "far.geojson", problem)


def test_data_inside_the_area_passes(samples: Path, wntr_networks: Path) -> None:
    assert validate_file(samples / "mains_gk25.shp") == []
    assert validate_file(wntr_networks / "ky10.inp", crs="EPSG:3089") == []
    assert validate_file(wntr_networks / "Net1.inp", crs="EPSG:3067", offset=(X0, Y0)) == []


# ------------------------------------------------------------------ 6. geometries GEOS cannot build, or too large

@pytest.mark.parametrize("driver,suffix", [("GPKG", ".gpkg"), ("ESRI Shapefile", ".shp"), ("GeoJSON", ".geojson")])
def test_one_point_line(tmp_path: Path, driver: str, suffix: str) -> None:
    path = tmp_path / f"pipes{suffix}"
    _write_raw(path, "pipes", ["A", "B"], [_wkb_line([(X0, Y0), (X0 + 100, Y0)]), _wkb_line([(X0 + 100, Y0)])],
               "LineString", driver)
    problems = validate_file(path)
    assert problems == [f'pipes{suffix}, layer "pipes", feature id=B: unreadable geometry '
                        "(a line needs at least 2 points)"]
    with pytest.raises(ValidationFailed, match=r"feature id=B: unreadable geometry"):
        import_file(None, path, dry_run=True)


def test_one_point_line_cli(tmp_path: Path, db_url: str, loaded: dict[str, int], clean_engine: Engine,
                            row_counts: Counts) -> None:
    path = tmp_path / "onepoint.gpkg"
    _write_raw(path, "pipes", ["A", "B"], [_wkb_line([(X0, Y0), (X0 + 100, Y0)]), _wkb_line([(X0 + 100, Y0)])],
               "LineString", "GPKG")
    assert_refused(run_cli(str(path), db_url=db_url), "onepoint.gpkg",
                   r'1 problem, nothing written: onepoint\.gpkg, layer "pipes", feature id=B: unreadable geometry '
                   r"\(a line needs at least 2 points\)$")
    assert row_counts(clean_engine) == loaded


@pytest.mark.parametrize("driver,suffix", [("GPKG", ".gpkg"), ("ESRI Shapefile", ".shp")])
def test_unclosed_ring(tmp_path: Path, driver: str, suffix: str) -> None:
    path = tmp_path / f"buildings{suffix}"
    ring = [(X0, Y0), (X0 + 10, Y0), (X0 + 10, Y0 + 10), (X0, Y0 + 10)]
    _write_raw(path, "buildings", ["B1", "B2"], [_wkb_polygon(ring + [ring[0]]), _wkb_polygon(ring)], "Polygon", driver)
    assert validate_file(path) == [f'buildings{suffix}, layer "buildings", feature id=B2: unreadable geometry '
                                   "(a polygon ring is not closed (its last point differs from its first))"]


def test_too_many_vertices_in_one_feature(tmp_path: Path, db_url: str) -> None:
    n = MAX_VERTICES + 50_000  # parsed, counted, refused
    path = tmp_path / "long.gpkg"
    xs = np.linspace(X0, X0 + 1000, n)
    gpd.GeoDataFrame({"id": ["L", "S"]}, geometry=[LineString(np.column_stack([xs, np.full(n, Y0)])),
                                                   LineString([(X0 + 1000, Y0), (X0 + 1000, Y0 + 50)])],
                     crs="EPSG:3067").to_file(path, layer="pipes")
    assert validate_file(path) == [f'long.gpkg, layer "pipes", feature id=L: geometry too large ({n:,} vertices; '
                                   f"at most {MAX_VERTICES:,} per feature)"]


def test_a_million_vertices_refused_unbuilt(tmp_path: Path, db_url: str) -> None:
    path = tmp_path / "million.geojson"
    coords = np.column_stack([np.linspace(24.94, 24.95, 1_000_000), np.full(1_000_000, 60.17)]).round(7).tolist()
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": "BIG"}, "geometry": {"type": "LineString", "coordinates": coords}}]}))
    assert_refused(run_cli(str(path), db_url=db_url), "million.geojson",
                   r'feature id=BIG: geometry too large \(about 1,000,\d{3} vertices; at most 100,000 per feature\)')


# ------------------------------------------------------------------ 7. archives

def _tiny_shapefile(tmp_path: Path) -> dict[str, bytes]:
    src = tmp_path / "tiny.shp"
    gpd.GeoDataFrame({"id": ["A"]}, geometry=[LineString([(X0, Y0), (X0 + 10, Y0)])], crs="EPSG:3067").to_file(src)
    return {ext: src.with_suffix(ext).read_bytes() for ext in (".shp", ".shx", ".dbf", ".prj")}


def test_zip_of_two_thousand_shapefiles_is_refused_before_gdal(tmp_path: Path, db_url: str, loaded: dict[str, int],
                                                               clean_engine: Engine, row_counts: Counts) -> None:
    parts = _tiny_shapefile(tmp_path)
    path = tmp_path / "layers.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(2000):
            for ext, blob in parts.items():
                zf.writestr(f"pipes_{i}{ext}", blob)
    message = rf"layers\.zip: the archive holds 2000 GIS files \(layers\); at most {MAX_LAYERS} are imported at once"
    with pytest.raises(FileTooComplex, match=message):
        import_file(clean_engine, path)
    assert validate_file(path)[0].startswith("layers.zip: the archive holds 2000 GIS files")
    assert_refused(run_cli(str(path), db_url=db_url), "layers.zip", message)
    assert row_counts(clean_engine) == loaded


def test_zip_under_the_layer_cap_is_read(tmp_path: Path) -> None:
    parts = _tiny_shapefile(tmp_path)
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for i, x in enumerate((0, 10)):
            for ext, blob in parts.items():
                zf.writestr(f"mains_{i}{ext}", blob)
    with pytest.raises(ValidationFailed, match=r"duplicate id 'A' \(in another pipes layer\)"):
        import_file(None, path, dry_run=True)


def test_zip_bomb_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("pipes.geojson", b"\0" * (20 * 1024 ** 2))
    with pytest.raises(FileTooComplex, match=r"bomb\.zip: member 'pipes\.geojson' unpacks \d+ times its packed "
                                             r"size \(a zip bomb\?\); refused"):
        import_file(None, path, dry_run=True)


def test_zip_that_unpacks_to_too_much(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("pipes.geojson", np.random.default_rng(1).bytes(3 * 1024 ** 2))
    monkeypatch.setattr(data.archive, "MAX_UNPACKED_BYTES", 2 * 1024 ** 2)
    with pytest.raises(FileTooComplex, match=r"big\.zip: the archive unpacks to 3 MB \(at most 2 MB\); refused"):
        import_file(None, path, dry_run=True)


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "upload.zip"
    path.write_bytes(b"PK not really")
    with pytest.raises(DataError, match=r"^upload\.zip: not a readable zip archive"):
        import_file(None, path, dry_run=True)


# ------------------------------------------------------------------ many problems: one line, or all with --all-problems

def _many_problems(tmp_path: Path) -> Path:
    path = tmp_path / "many.gpkg"
    gpd.GeoDataFrame({"id": [f"P{i}" for i in range(7)]},
                     geometry=[Point(X0 + i, Y0) for i in range(7)], crs="EPSG:3067").to_file(path, layer="pipes")
    return path


def test_many_problems_are_one_cli_line(tmp_path: Path, db_url: str) -> None:
    path = _many_problems(tmp_path)
    line = assert_refused(run_cli(str(path), db_url=db_url), "many.gpkg",
                          r"^error: many\.gpkg: 7 problems, nothing written: many\.gpkg, layer \"pipes\", feature "
                          r"id=P0: wrong geometry type Point .*; .*; .*feature id=P2: .* … and 4 more "
                          r"\(--all-problems lists them\)$")
    assert line.count("wrong geometry type") == 3


def test_all_problems_flag_lists_every_one(tmp_path: Path, db_url: str) -> None:
    path = _many_problems(tmp_path)
    proc = run_cli(str(path), "--all-problems", db_url=db_url)
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert lines[0].startswith("error: many.gpkg: 7 problems, nothing written:")
    assert lines[0].endswith("… and 4 more")  # no hint to use the flag that was used
    assert lines[1:] == [f'many.gpkg, layer "pipes", feature id=P{i}: wrong geometry type Point for a pipes layer '
                         "(expected LineString)" for i in range(7)]


def test_validation_failed_keeps_its_problems(tmp_path: Path) -> None:
    path = _many_problems(tmp_path)
    with pytest.raises(ValidationFailed, match=r"7 problem\(s\), nothing was written") as caught:
        import_file(None, path, dry_run=True)
    assert len(caught.value.problems) == 7
    assert caught.value.one_line("many.gpkg", shown=1).endswith("… and 6 more (--all-problems lists them)")
