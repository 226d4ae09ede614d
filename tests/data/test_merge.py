"""Re-importing into an existing network merges by the utility's ids (real PostGIS).

A small synthetic district in EPSG:3067 (metres from X0, Y0 in Helsinki)::

    J5 (100,100)
     |P4
    J1 ─P1─ J2 ─P2─ J3 ─P3─ J4          B1 (50,20)  B2 (150,20)  B3 (250,20)  B4 (120,60)
   (0,0)  (100,0) (200,0) (300,0)       V1 on P1 at J2, V2 on P3 at J3

The "next" version of the file changes P2's diameter, drops P3 (and J4, V2, B3) and adds P5
from J3 to a new J6 (300,-50) and a building B5 at (260,30).
"""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from shapely import LineString, Point, box
from sqlalchemy import Connection, Engine, text

from data.diff import ImportPreview
from data.errors import NetworkBusy, ResourceMismatch, StalePreview
from data.importers import ImportReport, import_file, preview_import
from settings import ROOT

X0, Y0 = 385000.0, 6672000.0
Counts = Callable[[Engine], dict[str, int]]

NODES = {"J1": (0, 0), "J2": (100, 0), "J3": (200, 0), "J4": (300, 0), "J5": (100, 100), "J6": (300, -50)}
PIPES = {"P1": ("J1", "J2", 150), "P2": ("J2", "J3", 150), "P3": ("J3", "J4", 150), "P4": ("J2", "J5", 100),
         "P5": ("J3", "J6", 110)}
VALVES = {"V1": (99.5, 0.0), "V2": (200.5, 0.0)}
BUILDINGS = {"B1": (50, 20), "B2": (150, 20), "B3": (250, 20), "B4": (120, 60), "B5": (260, 30)}
BASE = {"nodes": ["J1", "J2", "J3", "J4", "J5"], "pipes": ["P1", "P2", "P3", "P4"], "valves": ["V1", "V2"],
        "buildings": ["B1", "B2", "B3", "B4"]}
NEXT = {"nodes": ["J1", "J2", "J3", "J5", "J6"], "pipes": ["P1", "P2", "P4", "P5"], "valves": ["V1"],
        "buildings": ["B1", "B2", "B4", "B5"], "diameters": {"P2": 200}}


def _xy(x: float, y: float) -> tuple[float, float]:
    return X0 + x, Y0 + y


def write_district(path: Path, version: dict[str, Any]) -> Path:
    """The district's GeoPackage (layers nodes, pipes, valves, buildings) in EPSG:3067."""
    crs = "EPSG:3067"
    gpd.GeoDataFrame({"id": version["nodes"], "kind": ["junction"] * len(version["nodes"])},
                     geometry=[Point(_xy(*NODES[n])) for n in version["nodes"]], crs=crs).to_file(path, layer="nodes")
    diameters = {p: PIPES[p][2] for p in version["pipes"]} | version.get("diameters", {})
    gpd.GeoDataFrame({"id": version["pipes"], "diameter": [diameters[p] for p in version["pipes"]]},
                     geometry=[LineString([_xy(*NODES[PIPES[p][0]]), _xy(*NODES[PIPES[p][1]])])
                               for p in version["pipes"]], crs=crs).to_file(path, layer="pipes")
    gpd.GeoDataFrame({"id": version["valves"]}, geometry=[Point(_xy(*VALVES[v])) for v in version["valves"]],
                     crs=crs).to_file(path, layer="valves")
    gpd.GeoDataFrame({"id": version["buildings"], "address": [f"Testikatu {b[1:]}" for b in version["buildings"]],
                      "kind": ["residential"] * len(version["buildings"])},
                     geometry=[box(*_xy(x - 8, y - 8), *_xy(x + 8, y + 8)) for x, y in
                               (BUILDINGS[b] for b in version["buildings"])], crs=crs).to_file(path, layer="buildings")
    return path


def ids(conn_or_engine: Engine | Connection, table: str, scope: str = "true") -> dict[str, int]:
    sql = text(f"SELECT ext_id, id FROM {table} WHERE {scope}")
    if isinstance(conn_or_engine, Engine):
        with conn_or_engine.connect() as conn:
            return {e: int(i) for e, i in conn.execute(sql)}
    return {e: int(i) for e, i in conn_or_engine.execute(sql)}


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def add_incident(engine: Engine, x: float, y: float, *, pipe: str | None = None, building: str | None = None) -> int:
    with engine.begin() as conn:
        return int(conn.execute(text("""
            INSERT INTO incidents (category, service_code, geom, pipe_id, network_id, building_id)
            VALUES ('burst', 'water.burst', ST_Transform(ST_SetSRID(ST_MakePoint(:x, :y), 3067), 4326),
                    (SELECT id FROM pipes WHERE ext_id = :p), (SELECT network_id FROM pipes WHERE ext_id = :p),
                    (SELECT id FROM buildings WHERE ext_id = :b))
            RETURNING id"""), {"x": X0 + x, "y": Y0 + y, "p": pipe, "b": building}).scalar_one())


def add_outage(engine: Engine, state: str, pipes: list[str], buildings: list[str]) -> int:
    with engine.begin() as conn:
        oid = int(conn.execute(text("""
            INSERT INTO outages (network_id, state, pipe_ids, valve_ids, planned_end, created_by, approved_by)
            SELECT (SELECT id FROM networks WHERE name = 'district'), :s,
                   ARRAY(SELECT id FROM pipes WHERE ext_id = ANY(:p) ORDER BY id),
                   ARRAY(SELECT id FROM valves WHERE ext_id = 'V2'), now() + interval '4 hours', 'test', 'test'
            RETURNING id"""), {"s": state, "p": pipes}).scalar_one())
        conn.execute(text("INSERT INTO outage_buildings (outage_id, building_id) "
                          "SELECT :o, id FROM buildings WHERE ext_id = ANY(:b)"), {"o": oid, "b": buildings})
    return oid


def snapshot(engine: Engine) -> list[tuple]:
    """Every row an import may touch (ids included): equal snapshots mean nothing was written."""
    with engine.connect() as conn:
        out = []
        for sql in ("SELECT id, name, resource, source_file, crs, revision FROM networks ORDER BY id",
                    "SELECT id, ext_id, kind, ST_AsText(geom) FROM nodes ORDER BY id",
                    "SELECT id, ext_id, from_node, to_node, diameter_mm, ST_AsText(geom) FROM pipes ORDER BY id",
                    "SELECT id, ext_id, pipe_id, node_id, status FROM valves ORDER BY id",
                    "SELECT id, ext_id, dataset, address, ST_AsText(geom) FROM buildings ORDER BY id",
                    "SELECT building_id, pipe_id, network_id FROM service_connections ORDER BY 1, 3",
                    "SELECT id, pipe_id, building_id, network_id, version FROM incidents ORDER BY id",
                    "SELECT outage_id, building_id FROM outage_buildings ORDER BY 1, 2",
                    "SELECT count(*) FROM audit_events"):
            out += [tuple(r) for r in conn.execute(text(sql))]
    return out


@pytest.fixture()
def district(clean_engine: Engine, tmp_path: Path) -> dict[str, Path]:
    """The base version imported as network "district"; both files."""
    for version in ("base", "next"):
        (tmp_path / version).mkdir()
    base = write_district(tmp_path / "base" / "district.gpkg", BASE)
    nxt = write_district(tmp_path / "next" / "district.gpkg", NEXT)
    report = import_file(clean_engine, base)
    assert report.network == "district" and report.counts["pipes"] == 4 and report.counts["valves"] == 2
    return {"base": base, "next": nxt}


# ------------------------------------------------------------------ the merge keeps ids

def test_reimport_changes_adds_and_removes_in_place(clean_engine: Engine, district: dict[str, Path]) -> None:
    net_before = scalar(clean_engine, "SELECT id FROM networks WHERE name = 'district'")
    rev_before = scalar(clean_engine, "SELECT revision FROM networks WHERE name = 'district'")
    pipes_before, nodes_before = ids(clean_engine, "pipes"), ids(clean_engine, "nodes")
    buildings_before = ids(clean_engine, "buildings")

    report = import_file(clean_engine, district["next"])

    d = report.diff
    assert d is not None
    assert (d.kind("pipes").added_ids, d.kind("pipes").removed_ids, d.kind("pipes").changed_ids) == (
        ("P5",), ("P3",), ("P2",))
    assert (d.kind("pipes").added, d.kind("pipes").removed, d.kind("pipes").changed, d.kind("pipes").unchanged) == (
        1, 1, 1, 2)
    assert (d.kind("nodes").added_ids, d.kind("nodes").removed_ids, d.kind("nodes").changed) == (("J6",), ("J4",), 0)
    assert (d.kind("valves").removed_ids, d.kind("valves").changed) == (("V2",), 0)
    assert (d.kind("buildings").added_ids, d.kind("buildings").removed_ids) == (("B5",), ("B3",))
    assert d.summary().startswith("nodes: 1 added, 1 removed; pipes: 1 added, 1 removed, 1 changed; "
                                  "valves: 1 removed; buildings: 1 added, 1 removed")
    pipes_after = ids(clean_engine, "pipes")
    assert scalar(clean_engine, "SELECT id FROM networks WHERE name = 'district'") == net_before
    assert {k: pipes_after[k] for k in ("P1", "P2", "P4")} == {k: pipes_before[k] for k in ("P1", "P2", "P4")}
    assert "P3" not in pipes_after and pipes_after["P5"] > max(pipes_before.values())
    assert {k: v for k, v in ids(clean_engine, "nodes").items() if k != "J6"} == {
        k: v for k, v in nodes_before.items() if k != "J4"}
    assert {k: v for k, v in ids(clean_engine, "buildings").items() if k != "B5"} == {
        k: v for k, v in buildings_before.items() if k != "B3"}
    assert scalar(clean_engine, "SELECT diameter_mm FROM pipes WHERE ext_id = 'P2'") == 200
    assert scalar(clean_engine, "SELECT revision FROM networks WHERE name = 'district'") == rev_before + 1
    assert report.network_revision == rev_before + 1
    assert report.counts_before == {"nodes": 5, "pipes": 4, "valves": 2, "service_connections": 4, "buildings": 4}
    assert report.counts_after == {"nodes": 5, "pipes": 4, "valves": 1, "service_connections": 4, "buildings": 4}
    # P5's end at the new node J6, P2 still between J2 and J3
    assert scalar(clean_engine, "SELECT n.ext_id FROM pipes p JOIN nodes n ON n.id = p.to_node "
                                "WHERE p.ext_id = 'P5'") == "J6"


def test_only_changed_rows_are_written(clean_engine: Engine, district: dict[str, Path]) -> None:
    xmins = {e: x for e, x in _xmins(clean_engine)}
    import_file(clean_engine, district["next"])
    after = dict(_xmins(clean_engine))
    assert after["pipe P1"] == xmins["pipe P1"] and after["pipe P4"] == xmins["pipe P4"]
    assert after["pipe P2"] != xmins["pipe P2"]  # its diameter changed
    assert after["building B1"] == xmins["building B1"] and after["node J1"] == xmins["node J1"]


def _xmins(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [(f"{k} {e}", str(x)) for k, e, x in conn.execute(text(
            "SELECT 'pipe', ext_id, xmin FROM pipes UNION ALL SELECT 'node', ext_id, xmin FROM nodes "
            "UNION ALL SELECT 'building', ext_id, xmin FROM buildings"))]


def test_identical_reimport_changes_nothing(clean_engine: Engine, district: dict[str, Path]) -> None:
    before = snapshot(clean_engine)
    report = import_file(clean_engine, district["base"])
    assert report.diff is not None and report.diff.empty and report.diff.summary() == "no changes"
    assert report.summary() == ('district.gpkg: nothing changed in network "district" (5 nodes, 4 pipes, 2 valves, '
                                "4 buildings, 4 service_connections already there)")
    assert snapshot(clean_engine) == before


def test_identical_inp_reimport_changes_nothing(clean_engine: Engine, wntr_networks: Path,
                                                samples: Path) -> None:
    kw: dict[str, Any] = {"crs": "EPSG:3067", "offset": (X0, Y0), "valves": samples / "net1_valves.csv"}
    import_file(clean_engine, wntr_networks / "Net1.inp", **kw)
    before = snapshot(clean_engine)
    assert import_file(clean_engine, wntr_networks / "Net1.inp", **kw).diff.empty  # type: ignore[union-attr]
    assert snapshot(clean_engine) == before


# ------------------------------------------------------------------ reports keep or follow their links

def test_reports_keep_their_links_or_are_relinked(clean_engine: Engine, district: dict[str, Path]) -> None:
    on_p1 = add_incident(clean_engine, 40, 3, pipe="P1", building="B1")
    on_p3 = add_incident(clean_engine, 260, 5, pipe="P3", building="B3")
    far = add_incident(clean_engine, 260, 500, pipe="P3")
    p1, b1 = ids(clean_engine, "pipes")["P1"], ids(clean_engine, "buildings")["B1"]

    preview = preview_import(clean_engine, district["next"])
    relinks = {(r.incident_id, r.link): r for r in preview.diff.relinks}
    assert set(relinks) == {(on_p3, "pipe"), (on_p3, "building"), (far, "pipe")}
    assert (relinks[(on_p3, "pipe")].old_ext_id, relinks[(on_p3, "pipe")].new_ext_id) == ("P3", "P5")
    assert relinks[(on_p3, "pipe")].distance_m == pytest.approx(31.3, abs=0.5)
    assert (relinks[(on_p3, "building")].new_ext_id, relinks[(on_p3, "building")].new_dataset) == ("B5", "district")
    assert relinks[(far, "pipe")].new_ext_id is None  # nothing within settings.incident_snap_pipe_m (300 m)

    import_file(clean_engine, district["next"], expected_revision=preview.network_revision)

    after = {r[0]: r[1:] for r in _incidents(clean_engine)}
    pipes, buildings = ids(clean_engine, "pipes"), ids(clean_engine, "buildings")
    assert after[on_p1] == (p1, b1, 1)  # untouched: same ids, same version
    assert after[on_p3] == (pipes["P5"], buildings["B5"], 2)
    assert after[far] == (None, None, 2)
    assert scalar(clean_engine, "SELECT network_id FROM incidents WHERE id = :i", i=far) is not None


def _incidents(engine: Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT id, pipe_id, building_id, version FROM incidents"))]


def test_outage_buildings_survive_for_buildings_that_stay(clean_engine: Engine, district: dict[str, Path]) -> None:
    oid = add_outage(clean_engine, "restored", ["P2", "P3"], ["B1", "B3"])
    b1 = ids(clean_engine, "buildings")["B1"]
    report = import_file(clean_engine, district["next"])
    impacts = {o.outage_id: o for o in report.diff.outages}  # type: ignore[union-attr]
    assert set(impacts) == {oid}
    assert (impacts[oid].state, impacts[oid].pipes, impacts[oid].valves, impacts[oid].buildings) == (
        "restored", ("P2", "P3"), ("V2",), ("B3",))
    with clean_engine.connect() as conn:
        kept = conn.execute(text("SELECT building_id FROM outage_buildings WHERE outage_id = :o"), {"o": oid}).all()
    assert kept == [(b1,)]


# ------------------------------------------------------------------ refusals: nothing written

@pytest.mark.parametrize("state", ["planned", "active"])
def test_outage_planned_or_active_blocks_the_import(clean_engine: Engine, district: dict[str, Path],
                                                    state: str) -> None:
    oid = add_outage(clean_engine, state, ["P1"], [])
    before = snapshot(clean_engine)
    with pytest.raises(NetworkBusy, match=rf'^network "district" has outage planned or active \({oid}\); restore '
                                          r"or cancel it before importing$"):
        import_file(clean_engine, district["next"])
    assert snapshot(clean_engine) == before
    preview = preview_import(clean_engine, district["next"])
    assert preview.busy_outages == (oid,)
    assert preview.summary().endswith(f"; refused: outages planned or active ({oid})")


def test_finished_outages_do_not_block(clean_engine: Engine, district: dict[str, Path]) -> None:
    add_outage(clean_engine, "restored", ["P1"], [])
    add_outage(clean_engine, "cancelled", ["P1"], [])
    assert import_file(clean_engine, district["next"]).counts["pipes"] == 4


def test_outage_on_the_dataset_blocks_a_buildings_import(clean_engine: Engine, district: dict[str, Path],
                                                         tmp_path: Path) -> None:
    oid = add_outage(clean_engine, "active", [], ["B2"])
    path = tmp_path / "district.geojson"
    gpd.read_file(district["next"], layer="buildings").to_file(path)
    with pytest.raises(NetworkBusy, match=rf'^network "district" has outage planned or active \({oid}\)'):
        import_file(clean_engine, path, kind="buildings")


def test_stale_preview_is_refused(clean_engine: Engine, district: dict[str, Path]) -> None:
    preview = preview_import(clean_engine, district["next"])
    with clean_engine.begin() as conn:  # an operator marks a valve stuck: the revision moves on
        conn.execute(text("UPDATE valves SET status = 'inoperable' WHERE ext_id = 'V1'"))
    before = snapshot(clean_engine)
    assert preview.network_revision is not None
    with pytest.raises(StalePreview, match=rf'^network "district" changed since the preview \(revision '
                                           rf"{preview.network_revision}, now {preview.network_revision + 1}\); "
                                           r"preview the import again$"):
        import_file(clean_engine, district["next"], expected_revision=preview.network_revision)
    assert snapshot(clean_engine) == before
    fresh = preview_import(clean_engine, district["next"])
    assert fresh.diff.kind("valves").changed_ids == ()  # the file's default "open" does not undo a field record
    import_file(clean_engine, district["next"], expected_revision=fresh.network_revision)
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM valves WHERE ext_id = 'V1'")).scalar_one() == "inoperable"


def test_resource_cannot_change(clean_engine: Engine, district: dict[str, Path]) -> None:
    before = snapshot(clean_engine)
    with pytest.raises(ResourceMismatch, match=r'^network "district" is cold_water; this import says hot_water '
                                               r"\(a network keeps its resource: pass --resource cold_water"):
        import_file(clean_engine, district["next"], resource="hot_water")
    assert snapshot(clean_engine) == before


# ------------------------------------------------------------------ preview, audit

def test_preview_writes_nothing(clean_engine: Engine, district: dict[str, Path]) -> None:
    before = snapshot(clean_engine)
    preview = preview_import(clean_engine, district["next"])
    assert isinstance(preview, ImportPreview)
    assert snapshot(clean_engine) == before
    assert (preview.network, preview.dataset, preview.network_exists) == ("district", "district", True)
    assert preview.network_id == scalar(clean_engine, "SELECT id FROM networks WHERE name = 'district'")
    assert len(preview.checksum) == 64 and preview.counts == {"nodes": 5, "pipes": 4, "valves": 1, "buildings": 4}
    assert preview.summary().startswith('district.gpkg → network "district" (revision 0): nodes: 1 added, 1 removed')
    tables = preview.tables()
    assert [r["kind"] for r in tables["changes"]] == ["nodes", "pipes", "valves", "buildings"]
    assert tables["changes"][1]["changed (sample)"] == "P2" and tables["reports"] == [] == tables["outages"]
    # a new network: everything added
    new = preview_import(clean_engine, district["next"], network="elsewhere")
    assert (new.network_exists, new.network_revision, new.diff.kind("pipes").added) == (False, None, 4)


def test_audit_runs_in_the_transaction(clean_engine: Engine, district: dict[str, Path]) -> None:
    seen: list[tuple[int, ImportReport]] = []

    def audit(conn: Connection, report: ImportReport) -> None:
        seen.append((conn.execute(text("SELECT count(*) FROM pipes WHERE ext_id = 'P5'")).scalar_one(), report))

    report = import_file(clean_engine, district["next"], audit=audit)
    assert len(seen) == 1 and seen[0][0] == 1 and seen[0][1] is report
    assert report.counts_after["pipes"] == 4 and len(report.checksum) == 64


def test_a_failing_audit_writes_nothing(clean_engine: Engine, district: dict[str, Path]) -> None:
    def audit(conn: Connection, report: ImportReport) -> None:
        raise RuntimeError("audit table full")

    before = snapshot(clean_engine)
    with pytest.raises(RuntimeError, match="audit table full"):
        import_file(clean_engine, district["next"], audit=audit)
    assert snapshot(clean_engine) == before


# ------------------------------------------------------------------ the command line

def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "data", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


def test_cli_asks_before_changing_an_existing_network(clean_engine: Engine, district: dict[str, Path],
                                                      db_url: str) -> None:
    before = snapshot(clean_engine)
    proc = run("import", str(district["next"]), "--database-url", db_url)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [
        'error: district.gpkg: network "district" exists; pass --yes to apply this change (nodes: 1 added, '
        "1 removed; pipes: 1 added, 1 removed, 1 changed; valves: 1 removed; buildings: 1 added, 1 removed)"]
    assert 'district.gpkg → network "district" (revision 0): nodes: 1 added' in proc.stdout
    assert "  pipes: +1 -1 ~1 (=2)  added: P5; removed: P3; changed: P2" in proc.stdout
    assert snapshot(clean_engine) == before

    proc = run("import", str(district["next"]), "--database-url", db_url, "--dry-run")
    assert proc.returncode == 0 and "  pipes: +1 -1 ~1 (=2)" in proc.stdout
    assert "district.gpkg: would import 5 nodes, 4 pipes, 1 valves, 4 buildings" in proc.stdout
    assert snapshot(clean_engine) == before

    proc = run("import", str(district["next"]), "--database-url", db_url, "--yes")
    assert proc.returncode == 0, proc.stderr
    assert "district.gpkg: imported 5 nodes, 4 pipes, 1 valves, 4 buildings, 4 service_connections into network " \
           '"district" — nodes: 1 added' in proc.stdout
    with clean_engine.connect() as conn:
        row = conn.execute(text("SELECT actor, action, object_type, object_id, details FROM audit_events")).one()
    assert row.actor.startswith("cli:") and (row.action, row.object_type) == ("data.import", "network")
    assert row.object_id == str(scalar(clean_engine, "SELECT id FROM networks WHERE name = 'district'"))
    assert row.details["file"] == "district.gpkg" and len(row.details["checksum"]) == 64
    assert row.details["counts_before"]["pipes"] == 4 and row.details["counts_after"]["valves"] == 1
    assert row.details["diff"].startswith("nodes: 1 added, 1 removed; pipes: 1 added")

    proc = run("import", str(district["next"]), "--database-url", db_url)  # identical: a no-op success
    assert proc.returncode == 0 and proc.stderr == ""
    assert 'nothing changed in network "district"' in proc.stdout


def test_cli_refuses_a_busy_network(clean_engine: Engine, district: dict[str, Path], db_url: str) -> None:
    oid = add_outage(clean_engine, "active", ["P1"], [])
    before = snapshot(clean_engine)
    proc = run("import", str(district["next"]), "--database-url", db_url, "--yes")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [f'error: district.gpkg: network "district" has outage planned or active '
                                        f"({oid}); restore or cancel it before importing"]
    assert snapshot(clean_engine) == before


def test_buildings_only_import(clean_engine: Engine, district: dict[str, Path], tmp_path: Path, db_url: str) -> None:
    path = tmp_path / "district.geojson"  # the next version's buildings only, into the same-named dataset
    gpd.read_file(district["next"], layer="buildings").to_file(path)
    rev = scalar(clean_engine, "SELECT revision FROM networks WHERE name = 'district'")

    preview = preview_import(clean_engine, path, kind="buildings")
    assert (preview.network, preview.dataset, preview.network_part_exists, preview.target_exists) == (
        "district", "district", False, True)
    assert [k.kind for k in preview.diff.kinds] == ["buildings"]

    before = snapshot(clean_engine)
    proc = run("import", str(path), "--kind", "buildings", "--database-url", db_url)
    assert proc.returncode == 2 and proc.stderr.splitlines() == [
        'error: district.geojson: building dataset "district" exists; pass --yes to apply this change '
        "(buildings: 1 added, 1 removed)"]
    assert snapshot(clean_engine) == before

    report = import_file(clean_engine, path, kind="buildings", expected_revision=preview.network_revision)
    assert (report.network, report.dataset, report.network_id) == (None, "district", None)
    assert report.counts_after == {"nodes": 5, "pipes": 4, "valves": 2, "service_connections": 4, "buildings": 4}
    assert scalar(clean_engine, "SELECT count(*) FROM service_connections sc JOIN buildings b ON b.id = sc.building_id "
                                "WHERE b.ext_id = 'B5'") == 1  # the new building is served by the network
    assert scalar(clean_engine, "SELECT revision FROM networks WHERE name = 'district'") == rev + 1

    # a new dataset, no network of its name: nothing to confirm, nothing connected
    annex = tmp_path / "annex.geojson"
    gpd.read_file(district["next"], layer="buildings").iloc[:1].to_file(annex)
    proc = run("import", str(annex), "--kind", "buildings", "--database-url", db_url)
    assert proc.returncode == 0, proc.stderr
    assert 'annex.geojson: imported 1 buildings into building dataset "annex" — buildings: 1 added' in proc.stdout
