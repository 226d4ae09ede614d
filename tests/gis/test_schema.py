"""The schema: tables, SRIDs, GiST indexes, foreign keys and CHECK constraints are real."""
from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from gis.db import migrate, normalize_url
from gis.errors import DatabaseUnavailable

GEOMETRY_COLUMNS = {
    ("nodes", "geom"): "POINT",
    ("pipes", "geom"): "LINESTRING",
    ("valves", "geom"): "POINT",
    ("buildings", "geom"): "POLYGON",  # PostGIS reads the type CHECK (Polygon/MultiPolygon)
    ("service_connections", "geom"): "LINESTRING",
}


def test_geometry_columns_have_srid_4326_and_gist(engine: Engine) -> None:
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT f_table_name, f_geometry_column, srid, type FROM geometry_columns"
        )).all()
        found = {(r[0], r[1]): (r[2], r[3]) for r in rows}
        for key, gtype in GEOMETRY_COLUMNS.items():
            assert found[key] == (4326, gtype), key
            idx = conn.execute(text(
                "SELECT indexdef FROM pg_indexes WHERE tablename = :t AND indexdef ILIKE '%USING gist%'"
            ), {"t": key[0]}).scalars().all()
            assert idx, f"{key[0]} has no GiST index"


@pytest.mark.parametrize(
    "table,column",
    [("networks", "resource"), ("nodes", "kind"), ("valves", "status"), ("buildings", "kind"),
     ("buildings", "address_source"), ("pipes", "kind")],
)
def test_enums_are_checked(engine: Engine, table: str, column: str) -> None:
    with engine.connect() as conn:
        defs = conn.execute(text(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = CAST(:t AS regclass) AND contype = 'c'"
        ), {"t": table}).scalars().all()
    assert any(column in d and "ANY" in d for d in defs), defs


def _network(conn) -> int:
    return conn.execute(text(
        "INSERT INTO networks (name, resource) VALUES ('t', 'cold_water') RETURNING id"
    )).scalar_one()


def test_bad_valve_status_is_refused(clean_engine: Engine) -> None:
    with pytest.raises(IntegrityError, match="valves_status_check"):
        with clean_engine.begin() as conn:
            net = _network(conn)
            n1 = conn.execute(text(
                "INSERT INTO nodes (network_id, ext_id, geom) VALUES (:n, 'a', ST_SetSRID(ST_MakePoint(24.94, 60.17), 4326)) RETURNING id"
            ), {"n": net}).scalar_one()
            n2 = conn.execute(text(
                "INSERT INTO nodes (network_id, ext_id, geom) VALUES (:n, 'b', ST_SetSRID(ST_MakePoint(24.95, 60.17), 4326)) RETURNING id"
            ), {"n": net}).scalar_one()
            p = conn.execute(text(
                "INSERT INTO pipes (network_id, ext_id, from_node, to_node, geom) VALUES (:n, 'p', :a, :b, "
                "ST_SetSRID(ST_MakeLine(ST_MakePoint(24.94, 60.17), ST_MakePoint(24.95, 60.17)), 4326)) RETURNING id"
            ), {"n": net, "a": n1, "b": n2}).scalar_one()
            conn.execute(text(
                "INSERT INTO valves (network_id, ext_id, pipe_id, node_id, status, geom) VALUES "
                "(:n, 'v', :p, :a, 'half-open', ST_SetSRID(ST_MakePoint(24.94, 60.17), 4326))"
            ), {"n": net, "p": p, "a": n1})
    with clean_engine.connect() as conn:  # the transaction left nothing behind
        assert conn.execute(text("SELECT count(*) FROM networks")).scalar_one() == 0


def test_building_geometry_must_be_polygonal(clean_engine: Engine) -> None:
    with pytest.raises(IntegrityError, match="buildings_geom_type_check"):
        with clean_engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO buildings (address, geom) VALUES ('x', ST_SetSRID(ST_MakePoint(24.9, 60.1), 4326))"
            ))


def test_pipe_needs_existing_nodes(clean_engine: Engine) -> None:
    with pytest.raises(IntegrityError, match="foreign key"):
        with clean_engine.begin() as conn:
            net = _network(conn)
            conn.execute(text(
                "INSERT INTO pipes (network_id, ext_id, from_node, to_node, geom) VALUES (:n, 'p', 998, 999, "
                "ST_SetSRID(ST_MakeLine(ST_MakePoint(24.94, 60.17), ST_MakePoint(24.95, 60.17)), 4326))"
            ), {"n": net})


def schema_fingerprint(conn) -> tuple[object, ...]:
    """The revision, every column (with type, nullability, default) and every constraint and index."""
    return (
        conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all(),
        conn.execute(text(
            "SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns "
            "WHERE table_schema = 'public' ORDER BY 1, 2")).all(),
        conn.execute(text(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2")).all(),
        conn.execute(text("SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
                          "ORDER BY 1, 2")).all(),
    )


def test_migrate_twice_is_a_no_op(clean_engine: Engine) -> None:
    """A second migration (every process migrates at start) keeps the newest revision, the schema and the rows."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from gis.db import MIGRATIONS_DIR

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with clean_engine.begin() as conn:
        net = _network(conn)
        before = schema_fingerprint(conn)
    assert before[0] == [ScriptDirectory.from_config(cfg).get_current_head()]
    assert len(before[1]) > 100 and len(before[2]) > 20 and len(before[3]) > 20   # the whole schema, not nothing
    migrate(clean_engine)
    with clean_engine.connect() as conn:
        assert schema_fingerprint(conn) == before
        assert conn.execute(text("SELECT id FROM networks")).scalars().all() == [net]


def test_plain_postgresql_url_uses_psycopg3() -> None:
    assert normalize_url("postgresql://u@h:5432/d").startswith("postgresql+psycopg://")
    assert normalize_url("postgres://u@h/d").startswith("postgresql+psycopg://")
    with pytest.raises(DatabaseUnavailable, match="PostgreSQL"):
        normalize_url("sqlite:///x.db")
