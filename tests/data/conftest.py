"""Fixtures of the importer tests: the sample files and row counts of the real PostGIS database."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from settings import ROOT

SAMPLES = ROOT / "data" / "samples"
TABLES = ("networks", "nodes", "pipes", "valves", "buildings", "service_connections")


@pytest.fixture(scope="session")
def samples() -> Path:
    """The committed sample files (read-only: tests copy before changing anything)."""
    return SAMPLES


@pytest.fixture(scope="session")
def wntr_networks() -> Path:
    """WNTR's bundled EPANET models (Net1, Net3, ky10, …)."""
    import wntr

    return Path(wntr.__file__).parent / "library" / "networks"


@pytest.fixture()
def row_counts() -> Callable[[Engine], dict[str, int]]:
    """Row counts of every data table."""
    def count(engine: Engine) -> dict[str, int]:
        with engine.connect() as conn:
            return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}
    return count
