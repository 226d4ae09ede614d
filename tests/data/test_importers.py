"""Importers against a real PostGIS: sample files in, rows out; bad files name the problem and write nothing."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pytest
from pyproj import Transformer
from shapely import LineString, Point
from sqlalchemy import Engine, text

import data.store
from apps.cli.data import main
from data.errors import DataError, ValidationFailed
from data.importers import ImportReport, import_file, validate_file
from data.topology import build_network
from settings import ROOT

Counts = Callable[[Engine], dict[str, int]]
EMPTY = {"networks": 0, "nodes": 0, "pipes": 0, "valves": 0, "buildings": 0, "service_connections": 0}
# P1's first vertex, (385000, 6672000) in EPSG:3067, as lon/lat
P1_START = (24.927457713312172, 60.16866599984987)


def _one(engine: Engine, sql: str, **params: object) -> object:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).one()


def _all(engine: Engine, sql: str, **params: object) -> list:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


# ------------------------------------------------------------------ good files

def test_geopackage_lands_in_helsinki_with_all_layers(clean_engine: Engine, samples: Path, row_counts: Counts) -> None:
    report = import_file(clean_engine, samples / "helsinki.gpkg")
    assert isinstance(report, ImportReport) and report.network == "helsinki"
    assert row_counts(clean_engine) == {"networks": 1, "nodes": 6, "pipes": 6, "valves": 4, "buildings": 3,
                                        "service_connections": 3}
    assert report.counts == {"nodes": 6, "pipes": 6, "valves": 4, "buildings": 3, "service_connections": 3}
    lon, lat = _one(clean_engine, "SELECT ST_X(ST_StartPoint(geom)), ST_Y(ST_StartPoint(geom)) FROM pipes "
                                  "WHERE ext_id = 'P1'")
    assert lon == pytest.approx(P1_START[0], abs=1e-6) and lat == pytest.approx(P1_START[1], abs=1e-6)
    diameter, material, year, length = _one(
        clean_engine, "SELECT diameter_mm, material, install_year, length_m FROM pipes WHERE ext_id = 'P1'")
    assert (diameter, material, year) == (200, "cast iron", 1962)
    assert length == pytest.approx(100, abs=0.5)
    assert _one(clean_engine, "SELECT crs, source_file FROM networks") == ("EPSG:3067", "helsinki.gpkg")
    kinds = dict(_all(clean_engine, "SELECT address, kind FROM buildings WHERE address_source = 'imported'"))
    assert kinds == {"Mannerheimintie 1": "residential", "Mannerheimintie 3": "school", "Kalevankatu 2": "other"}
    statuses = dict(_all(clean_engine, "SELECT ext_id, status FROM valves"))
    assert statuses == {"V1": "open", "V2": "open", "V3": "closed", "V4": "inoperable"}


def test_valve_in_the_middle_splits_the_pipe(clean_engine: Engine, samples: Path) -> None:
    source_pipes = len(gpd.read_file(samples / "helsinki.gpkg", layer="pipes"))
    report = import_file(clean_engine, samples / "helsinki.gpkg")
    ids = {r[0] for r in _all(clean_engine, "SELECT ext_id FROM pipes")}
    assert len(ids) == source_pipes + 1
    assert "P2" not in ids and {"P2.a", "P2.b"} <= ids
    pipe, node, a_to, b_from = _one(clean_engine, """
        SELECT p.ext_id, n.ext_id, (SELECT to_node FROM pipes WHERE ext_id = 'P2.a') = v.node_id,
               (SELECT from_node FROM pipes WHERE ext_id = 'P2.b') = v.node_id
        FROM valves v JOIN pipes p ON p.id = v.pipe_id JOIN nodes n ON n.id = v.node_id WHERE v.ext_id = 'V2'""")
    assert (pipe, a_to, b_from) == ("P2.a", True, True)
    assert any("split at valve V2" in n for n in report.notes)
    # the halves meet at the valve's projection, 50 m along, and keep their attributes
    lengths = dict(_all(clean_engine, "SELECT ext_id, round(length_m) FROM pipes WHERE ext_id LIKE 'P2.%'"))
    assert lengths == {"P2.a": 50, "P2.b": 50}
    assert _all(clean_engine, "SELECT DISTINCT diameter_mm, material FROM pipes WHERE ext_id LIKE 'P2.%'") == [(150, "PE")]
    # every valve's node is an end of its pipe
    bad = _all(clean_engine, "SELECT v.ext_id FROM valves v JOIN pipes p ON p.id = v.pipe_id "
                             "WHERE v.node_id NOT IN (p.from_node, p.to_node)")
    assert bad == []
    ends = dict(_all(clean_engine, """
        SELECT v.ext_id, CASE WHEN v.node_id = p.from_node THEN 'from' ELSE 'to' END
        FROM valves v JOIN pipes p ON p.id = v.pipe_id WHERE v.ext_id IN ('V1', 'V3', 'V4')"""))
    assert ends == {"V1": "from", "V3": "to", "V4": "to"}


def test_geojson_in_lon_lat(clean_engine: Engine, samples: Path, row_counts: Counts) -> None:
    report = import_file(clean_engine, samples / "pipes.geojson", network="gj")
    assert row_counts(clean_engine)["pipes"] == 3 and report.counts["nodes"] == 4
    src = gpd.read_file(samples / "pipes.geojson").set_index("ext_id")
    x0, y0 = src.loc["G1"].geometry.coords[0]
    lon, lat, diameter = _one(clean_engine, "SELECT ST_X(ST_StartPoint(geom)), ST_Y(ST_StartPoint(geom)), diameter_mm "
                                            "FROM pipes WHERE ext_id = 'G1'")
    assert (lon, lat) == (pytest.approx(x0, abs=1e-6), pytest.approx(y0, abs=1e-6))
    assert diameter == 160
    # G2 and G3 start at G1's end: one junction of degree 3
    deg = _one(clean_engine, "SELECT max(c) FROM (SELECT count(*) c FROM (SELECT from_node n FROM pipes "
                             "UNION ALL SELECT to_node FROM pipes) e GROUP BY n) d")
    assert deg == (3,)


def test_shapefile_in_another_crs(clean_engine: Engine, samples: Path) -> None:
    report = import_file(clean_engine, samples / "mains_gk25.shp")  # kind from the layer name ("mains")
    assert report.counts["pipes"] == 3
    expected = Transformer.from_crs("EPSG:3067", "EPSG:4326", always_xy=True).transform(385000, 6672500)
    lon, lat, dn, year = _one(clean_engine, "SELECT ST_X(ST_StartPoint(geom)), ST_Y(ST_StartPoint(geom)), "
                                            "diameter_mm, install_year FROM pipes WHERE ext_id = 'S1'")
    assert lon == pytest.approx(expected[0], abs=1e-6) and lat == pytest.approx(expected[1], abs=1e-6)
    assert (dn, year) == (300, 1958)
    assert _one(clean_engine, "SELECT crs FROM networks") == ("EPSG:3879",)


def test_missing_crs_can_be_given(clean_engine: Engine, samples: Path) -> None:
    import_file(clean_engine, samples / "no_crs.shp", crs="EPSG:3067")
    lon, lat = _one(clean_engine, "SELECT ST_X(ST_StartPoint(geom)), ST_Y(ST_StartPoint(geom)) FROM pipes "
                                  "WHERE ext_id = 'P1'")
    assert (lon, lat) == (pytest.approx(P1_START[0], abs=1e-6), pytest.approx(P1_START[1], abs=1e-6))


def test_reimport_updates_in_place_and_never_duplicates(clean_engine: Engine, samples: Path, row_counts: Counts) -> None:
    import_file(clean_engine, samples / "helsinki.gpkg", network="same")
    first = row_counts(clean_engine)
    ids = "SELECT 'n' || ext_id, id FROM nodes UNION ALL SELECT 'p' || ext_id, id FROM pipes " \
          "UNION ALL SELECT 'v' || ext_id, id FROM valves UNION ALL SELECT 'b' || ext_id, id FROM buildings"
    first_ids = dict(_all(clean_engine, ids))
    report = import_file(clean_engine, samples / "helsinki.gpkg", network="same")
    assert row_counts(clean_engine) == first
    assert first["networks"] == 1 and first["pipes"] == 6
    assert dict(_all(clean_engine, ids)) == first_ids and len(first_ids) == 19
    assert report.diff is not None and report.diff.empty
    # the buildings carry the file's own ids
    assert sorted(_all(clean_engine, "SELECT ext_id, dataset FROM buildings")) == [
        ("B1", "same"), ("B2", "same"), ("B3", "same")]


def test_dry_run_counts_and_writes_nothing(clean_engine: Engine, samples: Path, row_counts: Counts) -> None:
    report = import_file(None, samples / "helsinki.gpkg", dry_run=True)
    assert report.dry_run and report.counts == {"nodes": 6, "pipes": 6, "valves": 4, "buildings": 3}
    assert "would import" in report.summary()
    assert row_counts(clean_engine) == EMPTY


def test_progress_reaches_every_stage(clean_engine: Engine, samples: Path) -> None:
    seen: dict[str, float] = {}
    import_file(clean_engine, samples / "helsinki.gpkg", progress=lambda s, f: seen.__setitem__(s, f))
    assert seen == {"read": 1.0, "validate": 1.0, "nodes": 1.0, "pipes": 1.0, "valves": 1.0,
                    "buildings": 1.0, "connections": 1.0}


# ------------------------------------------------------------------ bad files: named problems, nothing written

@pytest.mark.parametrize("name,problem", [
    ("bad_geometry.gpkg", r'bad_geometry\.gpkg, layer "buildings", feature id=B2: invalid geometry \(Self-intersection'),
    ("no_crs.shp", r'no_crs\.shp, layer "no_crs": no CRS .*--crs'),
    ("disconnected.gpkg", r'disconnected\.gpkg, layer "pipes", feature id=P9: pipe does not touch the network'),
    ("valve_far.gpkg", r'valve_far\.gpkg, layer "valves", feature id=V9: valve is 20\.0 m from the nearest pipe'),
    ("duplicate_ids.gpkg", r"duplicate_ids\.gpkg, layer \"pipes\", feature id=P2 \(fid=4\): duplicate id 'P2'"),
    ("bad_status.gpkg", r"bad_status\.gpkg, layer \"valves\", feature id=V3: unknown status 'half-open'"),
])
def test_bad_file_names_the_problem_and_writes_nothing(
    clean_engine: Engine, samples: Path, row_counts: Counts, name: str, problem: str
) -> None:
    with pytest.raises(ValidationFailed, match=problem) as caught:
        import_file(clean_engine, samples / name)
    assert len(caught.value.problems) == 1, caught.value.problems
    assert "nothing was written" in str(caught.value)
    assert row_counts(clean_engine) == EMPTY
    assert validate_file(samples / name) == caught.value.problems


def test_all_problems_are_collected(tmp_path: Path) -> None:
    x, y = 385000, 6672000  # Helsinki in EPSG:3067
    pipes = gpd.GeoDataFrame(
        {"id": ["A", "A", "C", "D"], "dn": [100, "wide", 100, 100]},
        geometry=[LineString([(x, y), (x + 10, y)]), LineString([(x + 10, y), (x + 20, y)]), Point(x + 5, y + 5),
                  None],
        crs="EPSG:3067",
    )
    path = tmp_path / "many.gpkg"
    pipes.to_file(path, layer="pipes")
    problems = validate_file(path)
    assert problems == [
        'many.gpkg, layer "pipes", feature id=C: wrong geometry type Point for a pipes layer (expected LineString)',
        'many.gpkg, layer "pipes", feature id=D: empty geometry',
        "many.gpkg, layer \"pipes\", feature id=A (fid=2): duplicate id 'A' (first at fid=1)",
        "many.gpkg, layer \"pipes\", feature id=A (fid=2): diameter_mm 'wide' is not a number",
    ]


def test_failure_half_way_rolls_everything_back(
    clean_engine: Engine, samples: Path, row_counts: Counts, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = data.store.apply_buildings

    def write_then_fail(conn, dataset, progress):  # the network is already written in the transaction
        real(conn, dataset, progress)
        assert conn.execute(text("SELECT count(*) FROM pipes")).scalar_one() == 6
        assert conn.execute(text("SELECT count(*) FROM buildings")).scalar_one() == 3
        raise RuntimeError("disk full")

    monkeypatch.setattr(data.store, "apply_buildings", write_then_fail)
    with pytest.raises(RuntimeError, match="disk full"):
        import_file(clean_engine, samples / "helsinki.gpkg")
    assert row_counts(clean_engine) == EMPTY


@pytest.mark.parametrize("name,content", [
    ("random.gpkg", bytes(range(256)) * 8),
    ("truncated.geojson", b'{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Po'),
])
def test_malformed_file_is_a_data_error(
    clean_engine: Engine, tmp_path: Path, row_counts: Counts, name: str, content: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=rf"{name}: cannot read the file"):
        import_file(clean_engine, path)
    assert validate_file(path)[0].startswith(f"{name}: cannot read the file")
    assert row_counts(clean_engine) == EMPTY


def test_cli_malformed_file_exits_2_without_traceback(tmp_path: Path, db_url: str, engine: Engine) -> None:
    path = tmp_path / "random.gpkg"
    path.write_bytes(os.urandom(4096))
    proc = subprocess.run(
        [sys.executable, "-m", "data", "import", str(path), "--database-url", db_url],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: random.gpkg: cannot read the file")


def test_cli_imports_and_reports(clean_engine: Engine, db_url: str, samples: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["import", str(samples / "helsinki.gpkg"), "--network", "cli net", "--resource", "hot_water",
               "--database-url", db_url])
    out = capsys.readouterr().out
    assert rc == 0
    assert 'helsinki.gpkg: imported 6 nodes, 6 pipes, 4 valves, 3 buildings, 3 service_connections into ' \
           'network "cli net"' in out
    assert _one(clean_engine, "SELECT name, resource FROM networks") == ("cli net", "hot_water")
    rc = main(["import", str(samples / "valve_far.gpkg"), "--dry-run"])
    assert rc == 2 and "feature id=V9" in capsys.readouterr().err


def test_layers_are_chosen_by_mapping(tmp_path: Path, samples: Path) -> None:
    path = tmp_path / "utility.gpkg"
    shutil.copy(samples / "helsinki.gpkg", tmp_path / "src.gpkg")
    gpd.read_file(tmp_path / "src.gpkg", layer="pipes").to_file(path, layer="vesijohdot")
    gpd.read_file(tmp_path / "src.gpkg", layer="valves").to_file(path, layer="sulut")
    with pytest.raises(DataError, match=r'layer "vesijohdot" .* skipped: kind unknown'):
        import_file(None, path, dry_run=True)
    report = import_file(None, path, layer=["vesijohdot=pipes", "sulut=valves"], dry_run=True)
    assert report.counts == {"nodes": 6, "pipes": 6, "valves": 4}
    with pytest.raises(DataError, match=r'no layer "putket" \(layers: vesijohdot, sulut\)'):
        import_file(None, path, layer="putket", dry_run=True)
    # --kind is the fallback for layers whose names say nothing; named layers keep their kind
    assert import_file(None, samples / "helsinki.gpkg", kind="pipes", dry_run=True).counts["buildings"] == 3
    assert import_file(None, samples / "helsinki.gpkg", layer="pipes", dry_run=True).counts == {
        "nodes": 5, "pipes": 5, "valves": 0}


def test_zipped_shapefile(tmp_path: Path, samples: Path) -> None:
    import zipfile

    path = tmp_path / "upload.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for ext in (".shp", ".shx", ".dbf", ".prj"):
            zf.write(samples / f"mains_gk25{ext}", f"mains_gk25{ext}")
    report = import_file(None, path, dry_run=True)
    assert report.network == "upload" and report.counts == {"nodes": 4, "pipes": 3, "valves": 0}


# ------------------------------------------------------------------ EPANET .inp

def test_ky10_lands_in_kentucky(clean_engine: Engine, wntr_networks: Path, row_counts: Counts) -> None:
    report = import_file(clean_engine, wntr_networks / "ky10.inp", crs="EPSG:3089")
    counts = row_counts(clean_engine)
    assert counts["nodes"] == 935 and counts["pipes"] == 1061 and counts["valves"] == 0
    assert report.counts["pipes"] == 1061
    xmin, ymin, xmax, ymax = _one(clean_engine, "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
                                                "FROM (SELECT ST_Extent(geom) e FROM nodes) x")
    assert -89 < xmin < xmax < -82 and 36 < ymin < ymax < 39
    kinds = dict(_all(clean_engine, "SELECT kind, count(*) FROM nodes GROUP BY kind"))
    assert kinds == {"junction": 920, "reservoir": 2, "tank": 13}
    links = dict(_all(clean_engine, "SELECT kind, count(*) FROM pipes GROUP BY kind"))
    assert links == {"pipe": 1043, "pump": 13, "control_valve": 5}
    assert _one(clean_engine, "SELECT diameter_mm FROM pipes WHERE ext_id = 'P-1'")[0] == pytest.approx(203.2)
    # link vertices are kept
    assert _one(clean_engine, "SELECT count(*) FROM pipes WHERE ST_NPoints(geom) > 2")[0] > 500


def test_inp_needs_crs(wntr_networks: Path) -> None:
    with pytest.raises(DataError, match=r"ky10\.inp: EPANET coordinates carry no CRS; pass --crs"):
        import_file(None, wntr_networks / "ky10.inp", dry_run=True)


def test_inp_with_valves_csv_and_offset(clean_engine: Engine, wntr_networks: Path, samples: Path) -> None:
    import_file(clean_engine, wntr_networks / "Net1.inp", crs="EPSG:3067", offset=(385000, 6672000),
                valves=samples / "net1_valves.csv")
    rows = _all(clean_engine, """
        SELECT v.ext_id, p.ext_id, n.ext_id, v.status FROM valves v JOIN pipes p ON p.id = v.pipe_id
        JOIN nodes n ON n.id = v.node_id ORDER BY v.ext_id""")
    assert rows == [("V1", "10", "10", "open"), ("V2", "11", "11", "closed"), ("V3", "12", "12", "inoperable")]
    lon, lat = _one(clean_engine, "SELECT ST_X(ST_Centroid(ST_Collect(geom))), ST_Y(ST_Centroid(ST_Collect(geom))) "
                                  "FROM nodes")
    assert 24.9 < lon < 25.0 and 60.1 < lat < 60.2  # Net1 moved to Helsinki


def test_inp_bad_valve_row_is_named(tmp_path: Path, wntr_networks: Path) -> None:
    csv = tmp_path / "v.csv"
    csv.write_text("link,node,id\n10,10,ok\n10,12,wrong\nNOPE,10,\n", encoding="utf-8")
    problems = validate_file(wntr_networks / "Net1.inp", crs="EPSG:3067", offset=(385000, 6672000), valves=csv)
    assert problems == [
        "v.csv, row 3, valve wrong: node '12' is not an end of link '10' (10 – 11)",
        "v.csv, row 4, valve 2: unknown link 'NOPE'",
    ]


def test_malformed_inp(tmp_path: Path) -> None:
    path = tmp_path / "broken.inp"
    path.write_text("[JUNCTIONS]\nJ1 abc\n[PIPES]\nP1 J1 J9 100 12 100\n[COORDINATES]\nJ1 385000 6672000\n",
                    encoding="utf-8")
    with pytest.raises(DataError, match=r"broken\.inp: not a readable EPANET \.inp file"):
        import_file(None, path, crs="EPSG:3067", dry_run=True)


# ------------------------------------------------------------------ topology (pure)

def _frame(ids: list[str], geoms: list) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"ext_id": ids, "_where": [f"feature id={i}" for i in ids]}, geometry=geoms,
                            crs="EPSG:3067")


def test_t_junction_and_snapping() -> None:
    pipes = _frame(["A", "B", "C"], [
        LineString([(0, 0), (100, 0)]),
        LineString([(40, 0.3), (40, 50)]),      # starts 0.3 m off A's middle: a T-junction
        LineString([(100.4, 0), (150, 0)]),     # starts 0.4 m from A's end: snapped
    ])
    net = build_network(pipes)
    assert net.problems == []
    got = {r.ext_id: (r.from_node, r.to_node, round(r.geometry.length, 1)) for r in net.pipes.itertuples()}
    t = got["A.a"][1]
    assert got["A.a"][2] == 40 and got["A.b"][0] == t and got["B"][0] == t
    assert got["A.b"][1] == got["C"][0]
    assert len(net.nodes) == 5  # A start, T, A end = C start, B end, C end
    assert net.pipes.geometry.iloc[-1].coords[0] == (100.0, 0.0)  # C's start moved onto the node


def test_valves_at_ends_in_middle_and_near_a_split() -> None:
    pipes = _frame(["A"], [LineString([(0, 0), (100, 0)])])
    valves = _frame(["end", "mid", "near"], [Point(0.5, 0.2), Point(60, 1), Point(60.8, 0)])
    net = build_network(pipes, valves)
    assert net.problems == []
    placed = {r.ext_id: (r.pipe, r.node) for r in net.valves.itertuples()}
    nodes = {r.ext_id: r.geometry for r in net.nodes.itertuples()}
    assert placed["end"][0] == "A.a" and nodes[placed["end"][1]].coords[0] == (0.0, 0.0)
    assert placed["mid"][0] == "A.a" and nodes[placed["mid"][1]].coords[0] == (60.0, 0.0)
    assert placed["near"] == ("A.b", placed["mid"][1])  # same split node, on the other half
    assert sorted(net.pipes["ext_id"]) == ["A.a", "A.b"]


def test_lone_pipe_network_is_not_disconnected() -> None:
    assert build_network(_frame(["A"], [LineString([(0, 0), (10, 0)])])).problems == []


def test_layer_without_crs_is_the_only_problem(tmp_path: Path, samples: Path) -> None:
    path = tmp_path / "nocrs.gpkg"
    pipes = gpd.read_file(samples / "helsinki.gpkg", layer="pipes").set_crs(None, allow_override=True)
    with pytest.warns(UserWarning, match="crs"):
        pipes.to_file(path, layer="pipes")
    gpd.read_file(samples / "helsinki.gpkg", layer="valves").to_file(path, layer="valves")
    assert validate_file(path) == ['nocrs.gpkg, layer "pipes": no CRS; pass --crs EPSG:XXXX']
    assert import_file(None, path, crs="EPSG:3067", dry_run=True).counts["valves"] == 4
