"""Imported addresses and names follow the intake's text policy (issue 22, item 1): a line break in an
address becomes one space (a warning says so) and never reaches the database — where it would break
the Subject of every notice for that building; control characters, bidirectional overrides and HTML
markup are problems that name the feature, and nothing is written."""
from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pytest
from shapely import box
from sqlalchemy import Engine, text

from data.errors import ValidationFailed
from data.importers import import_file

X, Y = 385000, 6672000  # Helsinki in EPSG:3067


def _buildings(path: Path, addresses: list[str], names: list[str | None] | None = None) -> Path:
    frame = gpd.GeoDataFrame(
        {"id": [f"B{i}" for i in range(len(addresses))], "address": addresses,
         "name": names or [None] * len(addresses), "kind": ["residential"] * len(addresses)},
        geometry=[box(X + 30 * i, Y, X + 30 * i + 20, Y + 20) for i in range(len(addresses))], crs="EPSG:3067")
    frame.to_file(path, layer="buildings")
    return path


def test_a_line_break_in_an_address_is_stored_as_one_line(clean_engine: Engine, tmp_path: Path) -> None:
    path = _buildings(tmp_path / "houses.gpkg", ["ул. X\r\nBcc: evil", "Mannerheimintie\t5", "Kalevankatu 2"],
                      ["Дом\nкультуры", None, None])
    report = import_file(clean_engine, path)
    with clean_engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT ext_id, address FROM buildings")).all())
        name = conn.execute(text("SELECT name FROM buildings WHERE ext_id = 'B0'")).scalar_one()
    assert rows == {"B0": "ул. X Bcc: evil", "B1": "Mannerheimintie 5", "B2": "Kalevankatu 2"}
    assert name == "Дом культуры"
    assert any("B0" in w and "line break" in w for w in report.warnings), report.warnings
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM buildings WHERE address ~ '[\\r\\n\\t]' "
                                 "OR name ~ '[\\r\\n\\t]'")).scalar_one() == 0


@pytest.mark.parametrize("address, problem", [
    ("Main St 1\x1b[31m", "control character U+001B"),
    ("Main St 1\u202egnp.exe", "control character U+202E"),
    ("<img src=x onerror=alert(1)>", "HTML markup"),
    ("A" * 201, "at most 200"),
])
def test_what_the_intake_refuses_an_import_refuses(clean_engine: Engine, tmp_path: Path, address: str,
                                                   problem: str) -> None:
    path = _buildings(tmp_path / "bad.gpkg", ["Kalevankatu 2", address])
    with pytest.raises(ValidationFailed, match=re.escape(problem)) as caught:
        import_file(clean_engine, path)
    assert len(caught.value.problems) == 1 and "B1" in caught.value.problems[0]
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM buildings")).scalar_one() == 0
