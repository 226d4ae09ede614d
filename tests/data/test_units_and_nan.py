"""Issue 22: drawing units read as degrees, and a NaN coordinate, are refused on one line (exit 2)."""
from __future__ import annotations

from pathlib import Path

import pytest

from data.errors import ValidationFailed
from data.importers import import_file
from tests.data.test_bad_files import assert_refused, run_cli


def test_net1_drawing_units_as_lonlat_are_refused(wntr_networks: Path, db_url: str) -> None:
    """EPSG:4326's area of use is the whole Earth, so Net1's 10…90 passed for lon/lat (up to the pole)."""
    problem = (r"Net1\.inp: coordinates \(x 10…70, y 10…90\) span 8,896 km in EPSG:4326 \(WGS 84\), more than a "
               r"water network can \(at most 300 km\): drawing units\? is the CRS right\?")
    with pytest.raises(ValidationFailed, match=problem) as caught:
        import_file(None, wntr_networks / "Net1.inp", crs="EPSG:4326", dry_run=True)
    assert len(caught.value.problems) == 1
    assert_refused(run_cli(str(wntr_networks / "Net1.inp"), "--crs", "EPSG:4326", "--dry-run", db_url=db_url),
                   "Net1.inp", problem)
    # the same model where it belongs still imports, and a real network in its CRS too
    assert import_file(None, wntr_networks / "Net1.inp", crs="EPSG:3067", offset=(385000.0, 6672000.0),
                       dry_run=True).counts["pipes"] == 13
    assert import_file(None, wntr_networks / "ky10.inp", crs="EPSG:3089", dry_run=True).counts["nodes"] == 935


def test_a_nan_coordinate_is_refused_on_one_line(tmp_path: Path, db_url: str) -> None:
    path = tmp_path / "nan.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"id": "A"}, '
                    '"geometry": {"type": "LineString", "coordinates": [[24.94, 60.17], [NaN, 60.18]]}}]}')
    line = assert_refused(run_cli(str(path), "--kind", "pipes", "--dry-run", db_url=db_url), "nan.geojson",
                          r"feature id=A: invalid geometry \(Invalid Coordinate\[nan 60\.18\]\)")
    assert "RuntimeWarning" not in line
