"""Networks and buildings in PostGIS: the diff of a staged load against the rows in place, and
the merge that applies it (all SQL of the loaders lives here and in :mod:`data.staging`).

Data contract (all GeoDataFrames in EPSG:4326; the caller reprojects):

- ``nodes``: ``ext_id`` (str, unique), ``kind`` (junction | source | tank | reservoir | hydrant),
  optional ``elevation_m``; Point geometry.
- ``pipes``: ``ext_id`` (str, unique), ``from_node``/``to_node`` (node ext_ids), optional ``kind``
  (pipe | pump | control_valve), ``diameter_mm``, ``material``, ``install_year``, ``street``;
  LineString geometry. ``length_m`` is computed on the spheroid.
- ``valves``: ``ext_id``, ``pipe`` (pipe ext_id), ``node`` (node ext_id, an end of that pipe),
  optional ``status`` (open | closed | inoperable), ``kind``, ``diameter_mm``; geometry optional
  (default: a point on the pipe a few metres from the node).
- ``buildings``: ``ext_id`` (the source's id, unique in the dataset), ``address``, ``street``,
  ``housenumber``, ``name``, ``kind``, ``residents``, ``address_source`` (osm | derived |
  imported), ``levels``, ``osm_id``; Polygon/MultiPolygon.

A load is a **merge by the source's own ids**: rows are matched on ``(network_id, ext_id)``
(nodes, pipes, valves) or ``(dataset, ext_id)`` (buildings); a matched row that differs is
updated in place and keeps its database id, a new one is inserted, one the load no longer
holds is deleted. Only rows that changed are written. The load is staged in temporary tables
(:mod:`data.staging`); ``diff`` compares them with the rows in place into ``_d_<kind>`` tables
(``ext_id``, ``id``, ``op`` = added | removed | changed) that ``apply_*`` then use.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from geoalchemy2 import Geography
from sqlalchemy import (BigInteger, Column, Connection, MetaData, Table, Text, and_, bindparam, case, cast, column,
                        func, insert, literal, not_, or_, select, table, text, tuple_, update)
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT, BOOLEAN, TEXT
from sqlalchemy.schema import CreateTable, DropTable

from data.diff import SAMPLE, KindDiff, OutageImpact, Relink
from data.staging import TABLES as STAGED

Progress = Callable[[str, float], None]
# the stages an import reports through ``progress(stage, fraction)`` (pages show them in words)
STAGES = ("read", "validate", "nodes", "pipes", "valves", "buildings", "connections")
SERVICE_MAX_M = 300.0  # a building farther than this from every pipe gets no service connection


def _noop(stage: str, fraction: float) -> None:  # pragma: no cover - trivial
    return None


# Light tables of the statements whose columns or tables vary (the lock of a network; the diff and the merge,
# written once for every kind); the fixed statements stay text.
_networks = table("networks", column("id", BigInteger), column("name"), column("resource"), column("revision"),
                  column("source_file"), column("crs"))
_nodes = table("nodes", column("id", BigInteger), column("network_id", BigInteger), column("ext_id"), column("kind"),
               column("elevation_m"), column("geom"))
_pipes = table("pipes", column("id", BigInteger), column("network_id", BigInteger), column("ext_id"),
               column("from_node", BigInteger), column("to_node", BigInteger), column("kind"), column("diameter_mm"),
               column("material"), column("install_year"), column("street"), column("length_m"), column("geom"))
_valves = table("valves", column("id", BigInteger), column("network_id", BigInteger), column("ext_id"),
                column("pipe_id", BigInteger), column("node_id", BigInteger), column("status"), column("kind"),
                column("diameter_mm"), column("geom"))
_BUILDING_FIELDS = ("osm_id", "address", "street", "housenumber", "name", "kind", "levels", "residents",
                    "address_source")
_buildings = table("buildings", column("id", BigInteger), column("dataset"), column("ext_id"),
                   *(column(k) for k in _BUILDING_FIELDS), column("geom"))


# ---------------------------------------------------------------- networks

@dataclass(frozen=True)
class NetworkRow:
    id: int
    name: str
    resource: str
    revision: int
    source_file: str | None
    crs: str | None


def lock_name(conn: Connection, key: str) -> None:
    """Serialise loads of one network or dataset (two first imports of a name must not race)."""
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"zhkh.data:{key}"})


def find_network(conn: Connection, name: str, *, lock: bool = False) -> NetworkRow | None:
    """The network called ``name``; with ``lock``, its row is locked (a valve status change, whose
    trigger bumps the revision, and a new outage on it wait until this transaction ends)."""
    n = _networks.c
    stmt = select(n.id, n.name, n.resource, n.revision, n.source_file, n.crs).where(n.name == name)
    row = conn.execute(stmt.with_for_update() if lock else stmt).first()
    return None if row is None else NetworkRow(int(row.id), row.name, row.resource, int(row.revision),
                                               row.source_file, row.crs)


def create_network(conn: Connection, *, name: str, resource: str, source_file: str | None, crs: str | None) -> int:
    return int(conn.execute(text(
        "INSERT INTO networks (name, resource, source_file, crs) VALUES (:n, :r, :f, :c) RETURNING id"
    ), {"n": name, "r": resource, "f": source_file, "c": crs}).scalar_one())


def set_network_source(conn: Connection, network_id: int, *, source_file: str | None, crs: str | None) -> None:
    conn.execute(text(
        "UPDATE networks SET source_file = :f, crs = :c WHERE id = :n "
        "AND (source_file, crs) IS DISTINCT FROM (:f, :c)"), {"n": network_id, "f": source_file, "c": crs})


def bump_revision(conn: Connection, network_id: int, base: int) -> int:
    """Set the revision to ``base + 1`` (``base`` read under the row lock; the per-valve trigger's
    bumps during the merge collapse into this one); returns it."""
    conn.execute(text("UPDATE networks SET revision = :r WHERE id = :n"), {"r": base + 1, "n": network_id})
    return base + 1


def busy_outages(conn: Connection, *, network_id: int | None, dataset: str | None) -> list[int]:
    """Outages planned or active on the network, or holding buildings of the dataset."""
    return [int(v) for v in conn.execute(text("""
        SELECT o.id FROM outages o
        WHERE o.state IN ('planned', 'active')
          AND (o.network_id = :n
               OR EXISTS (SELECT 1 FROM outage_buildings ob JOIN buildings b ON b.id = ob.building_id
                          WHERE ob.outage_id = o.id AND b.dataset = :ds))
        ORDER BY o.id
    """), {"n": network_id, "ds": dataset}).scalars()]


def counts(conn: Connection, *, network_id: int | None, dataset: str | None,
           network_part: bool = True) -> dict[str, int]:
    """Rows of the network (nodes, pipes, valves, service connections) and of the dataset (buildings)."""
    out: dict[str, int] = {}
    if network_part:
        row = conn.execute(text("""
            SELECT (SELECT count(*) FROM nodes WHERE network_id = :n) AS nodes,
                   (SELECT count(*) FROM pipes WHERE network_id = :n) AS pipes,
                   (SELECT count(*) FROM valves WHERE network_id = :n) AS valves,
                   (SELECT count(*) FROM service_connections WHERE network_id = :n) AS service_connections
        """), {"n": network_id}).mappings().one()
        out.update({k: int(v) for k, v in row.items()})
    if dataset is not None:
        out["buildings"] = int(conn.execute(text("SELECT count(*) FROM buildings WHERE dataset = :d"),
                                            {"d": dataset}).scalar_one())
    return out


# ---------------------------------------------------------------- the diff

def _in_place(kind: str, scope: int | str | None) -> Any:
    """The rows in place of ``kind`` (scope = network id or dataset; None: none) as the staged ones read:
    ``id``, ``ext_id``, the compared columns (ends as the nodes' ext ids), ``geom``."""
    at = bindparam("scope", scope)  # a bound value even when None: ``= NULL`` matches nothing
    if kind == "nodes":
        n = _nodes.c
        return select(n.id, n.ext_id, n.kind, n.elevation_m, n.geom).where(n.network_id == at)
    if kind == "pipes":
        p, a, b = _pipes.alias("p"), _nodes.alias("a"), _nodes.alias("b")
        return (select(p.c.id, p.c.ext_id, a.c.ext_id.label("from_ext"), b.c.ext_id.label("to_ext"), p.c.kind,
                       p.c.diameter_mm, p.c.material, p.c.install_year, p.c.street, p.c.geom)
                .select_from(p.join(a, a.c.id == p.c.from_node).join(b, b.c.id == p.c.to_node))
                .where(p.c.network_id == at))
    if kind == "valves":
        v, p, n = _valves.alias("v"), _pipes.alias("p"), _nodes.alias("n")
        return (select(v.c.id, v.c.ext_id, p.c.ext_id.label("pipe_ext"), n.c.ext_id.label("node_ext"), v.c.status,
                       v.c.kind, v.c.diameter_mm, v.c.geom)
                .select_from(v.join(p, p.c.id == v.c.pipe_id).join(n, n.c.id == v.c.node_id))
                .where(v.c.network_id == at))
    b = _buildings.c
    return select(b.id, b.ext_id, *(b[k] for k in _BUILDING_FIELDS), b.geom).where(b.dataset == at)


# per kind: the staged table and the compared columns (besides the geometry)
_COMPARED = {
    "nodes": ("_in_nodes", ("kind", "elevation_m")),
    "pipes": ("_in_pipes", ("from_ext", "to_ext", "kind", "diameter_mm", "material", "install_year", "street")),
    "valves": ("_in_valves", ("pipe_ext", "node_ext", "status", "kind", "diameter_mm")),
    "buildings": ("_in_buildings", _BUILDING_FIELDS),
}
_META = MetaData()
#: ``_d_<kind>``: what the load adds, removes or changes (``ext_id``, ``id`` in place, ``op``).
DIFFS: dict[str, Table] = {
    kind: Table(f"_d_{kind}", _META, Column("ext_id", Text), Column("id", BigInteger), Column("op", Text),
                prefixes=["TEMPORARY"], postgresql_on_commit="DROP") for kind in _COMPARED}


def keep_field_valve_marks(conn: Connection, network_id: int) -> int:
    """A valve a crew found stuck (recorded ``inoperable`` in the database) stays inoperable when the file
    calls it ``open``: the GIS default does not overwrite what was found in the field (it is marked
    repaired in the app, audited). A file that says ``closed`` or ``inoperable`` still wins."""
    return conn.execute(text("""
        UPDATE _in_valves i SET status = 'inoperable'
        FROM valves v WHERE v.network_id = :n AND v.ext_id = i.ext_id AND v.status = 'inoperable' AND i.status = 'open'
    """), {"n": network_id}).rowcount


def diff_kind(conn: Connection, kind: str, scope: int | str | None) -> KindDiff:
    """Compare the staged ``kind`` with the rows in place (``scope``: the network id, or the dataset;
    None: nothing in place) into ``_d_<kind>``; the counts and a sample of ext ids."""
    staged, cols = _COMPARED[kind]
    d, i, e = DIFFS[kind], STAGED[staged].alias("i"), _in_place(kind, scope).subquery("e")
    conn.execute(DropTable(d, if_exists=True))
    conn.execute(CreateTable(d))
    conn.execute(insert(d).from_select(["ext_id", "id", "op"], select(
        func.coalesce(i.c.ext_id, e.c.ext_id), e.c.id,
        case((e.c.id.is_(None), "added"), (i.c.ext_id.is_(None), "removed"), else_="changed"))
        .select_from(i.join(e, e.c.ext_id == i.c.ext_id, full=True))
        .where(or_(e.c.id.is_(None), i.c.ext_id.is_(None),
                   tuple_(*(e.c[c] for c in cols)).is_distinct_from(tuple_(*(i.c[c] for c in cols))),
                   not_(e.c.geom.op("=")(i.c.geom))))))  # geometry has no <>: NOT (=), as the exact equality
    # ANALYZE has no SQLAlchemy construct: the name is one of DIFFS' (fixed), quoted by the dialect
    conn.execute(text("ANALYZE " + conn.dialect.identifier_preparer.quote(d.name)))
    by_op = dict(conn.execute(select(d.c.op, func.count()).group_by(d.c.op)).all())
    total = int(conn.execute(select(func.count()).select_from(STAGED[staged])).scalar_one())

    def sample(op: str) -> tuple[str, ...]:
        if not by_op.get(op):
            return ()
        return tuple(conn.execute(select(d.c.ext_id).where(d.c.op == op).order_by(d.c.ext_id).limit(SAMPLE))
                     .scalars())

    added, removed, changed = (int(by_op.get(op, 0)) for op in ("added", "removed", "changed"))
    return KindDiff(kind=kind, added=added, removed=removed, changed=changed, unchanged=total - added - changed,
                    added_ids=sample("added"), removed_ids=sample("removed"), changed_ids=sample("changed"))


def pipe_relinks(conn: Connection, snap_m: float) -> list[Relink]:
    """Reports on pipes the load removes, each with the nearest staged pipe within ``snap_m``
    (the network's pipes after the merge are exactly the staged ones). Needs ``_d_pipes``."""
    n = conn.execute(text("SELECT count(*) FROM incidents i JOIN _d_pipes d ON d.op = 'removed' "
                          "AND i.pipe_id = d.id")).scalar_one()
    if not n:
        return []
    conn.execute(text("CREATE INDEX ON _in_pipes USING gist (geom)"))
    rows = conn.execute(text("""
        SELECT i.id, d.id AS old_id, d.ext_id AS old_ext, t.ext_id AS new_ext, t.dist
        FROM incidents i JOIN _d_pipes d ON d.op = 'removed' AND i.pipe_id = d.id
        LEFT JOIN LATERAL (
            SELECT c.ext_id, c.dist FROM (
                SELECT ext_id, ST_Distance(geom::geography, i.geom::geography, false) AS dist
                FROM (SELECT ext_id, geom FROM _in_pipes ORDER BY geom <-> i.geom LIMIT 10) near) c
            WHERE c.dist <= :snap ORDER BY c.dist, c.ext_id LIMIT 1
        ) t ON true
        ORDER BY i.id
    """), {"snap": snap_m}).all()
    return [Relink(incident_id=int(r.id), link="pipe", old_id=int(r.old_id), old_ext_id=r.old_ext,
                   new_ext_id=r.new_ext, distance_m=None if r.dist is None else float(r.dist)) for r in rows]


def building_relinks(conn: Connection, dataset: str, snap_m: float) -> list[Relink]:
    """Reports on buildings the load removes, each with the nearest building within ``snap_m``
    after the merge (another dataset's, or a staged one). Needs ``_d_buildings``."""
    n = conn.execute(text("SELECT count(*) FROM incidents i JOIN _d_buildings d ON d.op = 'removed' "
                          "AND i.building_id = d.id")).scalar_one()
    if not n:
        return []
    conn.execute(text("CREATE INDEX ON _in_buildings USING gist (geom)"))
    rows = conn.execute(text("""
        SELECT i.id, d.id AS old_id, d.ext_id AS old_ext, t.dataset AS new_dataset, t.ext_id AS new_ext, t.dist
        FROM incidents i JOIN _d_buildings d ON d.op = 'removed' AND i.building_id = d.id
        LEFT JOIN LATERAL (
            SELECT c.dataset, c.ext_id, c.dist FROM (
                SELECT o.dataset, o.ext_id, ST_Distance(o.geom::geography, i.geom::geography, false) AS dist
                FROM (SELECT dataset, ext_id, geom FROM buildings WHERE dataset <> :ds
                      ORDER BY geom <-> i.geom LIMIT 3) o
                UNION ALL
                SELECT :ds, s.ext_id, ST_Distance(s.geom::geography, i.geom::geography, false)
                FROM (SELECT ext_id, geom FROM _in_buildings ORDER BY geom <-> i.geom LIMIT 3) s
            ) c
            WHERE c.dist <= :snap ORDER BY c.dist, c.dataset, c.ext_id LIMIT 1
        ) t ON true
        ORDER BY i.id
    """), {"snap": snap_m, "ds": dataset}).all()
    return [Relink(incident_id=int(r.id), link="building", old_id=int(r.old_id), old_ext_id=r.old_ext,
                   new_ext_id=r.new_ext, new_dataset=r.new_dataset,
                   distance_m=None if r.dist is None else float(r.dist)) for r in rows]


def outage_impacts(conn: Connection, *, network_id: int | None, dataset: str | None,
                   kinds: set[str]) -> list[OutageImpact]:
    """Outages (any state) whose pipes, valves or buildings the load removes or changes.
    ``kinds``: the ``_d_<kind>`` tables that exist."""
    found: dict[int, dict[str, list[str]]] = {}
    queries = []
    if "pipes" in kinds and network_id is not None:
        queries.append(("pipes", """
            SELECT o.id, d.ext_id FROM outages o
            CROSS JOIN LATERAL unnest(o.pipe_ids || o.unintended_pipe_ids || o.break_pipe_ids) AS x(pid)
            JOIN _d_pipes d ON d.id = x.pid AND d.op <> 'added'
            WHERE o.network_id = :n"""))
    if "valves" in kinds and network_id is not None:
        queries.append(("valves", """
            SELECT o.id, d.ext_id FROM outages o
            CROSS JOIN LATERAL unnest(o.valve_ids || o.optional_valve_ids) AS x(vid)
            JOIN _d_valves d ON d.id = x.vid AND d.op <> 'added'
            WHERE o.network_id = :n"""))
    if "buildings" in kinds and dataset is not None:
        queries.append(("buildings", """
            SELECT ob.outage_id, d.ext_id FROM outage_buildings ob
            JOIN _d_buildings d ON d.id = ob.building_id AND d.op <> 'added'"""))
    for what, sql in queries:
        for oid, ext in conn.execute(text(sql), {"n": network_id}).all():
            found.setdefault(int(oid), {}).setdefault(what, []).append(ext)
    if not found:
        return []
    states = dict(conn.execute(text("SELECT id, state FROM outages WHERE id = ANY(:ids)")
                               .bindparams(bindparam("ids", type_=ARRAY(BIGINT))), {"ids": sorted(found)}).all())
    return [OutageImpact(outage_id=oid, state=states[oid],
                         **{k: tuple(sorted(set(v))) for k, v in found[oid].items()}) for oid in sorted(found)]


# ---------------------------------------------------------------- the merge

def apply_network(conn: Connection, network_id: int, progress: Progress = _noop) -> None:
    """Apply ``_d_nodes``, ``_d_pipes``, ``_d_valves`` to the network (removed rows go last, once
    nothing points at them). Needs the staged tables and the diff."""
    p = {"n": network_id}
    conn.execute(text("DELETE FROM valves v USING _d_valves d WHERE d.op = 'removed' AND v.id = d.id"))
    conn.execute(text("""
        UPDATE nodes n SET kind = i.kind, elevation_m = i.elevation_m, geom = i.geom
        FROM _d_nodes d JOIN _in_nodes i ON i.ext_id = d.ext_id WHERE d.op = 'changed' AND n.id = d.id"""))
    conn.execute(text("""
        INSERT INTO nodes (network_id, ext_id, kind, elevation_m, geom)
        SELECT :n, i.ext_id, i.kind, i.elevation_m, i.geom
        FROM _d_nodes d JOIN _in_nodes i ON i.ext_id = d.ext_id WHERE d.op = 'added' ORDER BY i.ext_id"""), p)
    progress("nodes", 1.0)
    _apply_pipes(conn, network_id)
    progress("pipes", 1.0)
    _apply_valves(conn, network_id)
    progress("valves", 1.0)
    conn.execute(text("DELETE FROM pipes p USING _d_pipes d WHERE d.op = 'removed' AND p.id = d.id"))
    conn.execute(text("DELETE FROM nodes n USING _d_nodes d WHERE d.op = 'removed' AND n.id = d.id"))


def _apply_pipes(conn: Connection, network_id: int) -> None:
    """Changed pipes updated, added ones inserted (by ext id); their ends are the network's nodes."""
    pp, d, i = _pipes.alias("p"), DIFFS["pipes"].alias("d"), STAGED["_in_pipes"].alias("i")
    a, b = _nodes.alias("a"), _nodes.alias("b")
    ends = (and_(a.c.network_id == network_id, a.c.ext_id == i.c.from_ext),
            and_(b.c.network_id == network_id, b.c.ext_id == i.c.to_ext))
    length = func.ST_Length(cast(i.c.geom, Geography(geometry_type=None)))  # on the spheroid: ``::geography``
    same = ("kind", "diameter_mm", "material", "install_year", "street", "geom")
    conn.execute(update(pp).values(from_node=a.c.id, to_node=b.c.id, **{k: i.c[k] for k in same}, length_m=length)
                 .where(i.c.ext_id == d.c.ext_id, *ends, d.c.op == "changed", pp.c.id == d.c.id))
    conn.execute(insert(_pipes).from_select(
        ["network_id", "ext_id", "from_node", "to_node", *same[:-1], "length_m", "geom"],
        select(literal(network_id, BigInteger), i.c.ext_id, a.c.id, b.c.id, *(i.c[k] for k in same[:-1]), length,
               i.c.geom)
        .select_from(d.join(i, i.c.ext_id == d.c.ext_id).join(a, ends[0]).join(b, ends[1]))
        .where(d.c.op == "added").order_by(i.c.ext_id)))


def _apply_valves(conn: Connection, network_id: int) -> None:
    """Changed valves updated, added ones inserted (by ext id), on the network's pipes and nodes."""
    v, d, i = _valves.alias("v"), DIFFS["valves"].alias("d"), STAGED["_in_valves"].alias("i")
    pp, nn = _pipes.alias("pp"), _nodes.alias("nn")
    at = (and_(pp.c.network_id == network_id, pp.c.ext_id == i.c.pipe_ext),
          and_(nn.c.network_id == network_id, nn.c.ext_id == i.c.node_ext))
    same = ("status", "kind", "diameter_mm", "geom")
    conn.execute(update(v).values(pipe_id=pp.c.id, node_id=nn.c.id, **{k: i.c[k] for k in same})
                 .where(i.c.ext_id == d.c.ext_id, *at, d.c.op == "changed", v.c.id == d.c.id))
    conn.execute(insert(_valves).from_select(
        ["network_id", "ext_id", "pipe_id", "node_id", *same],
        select(literal(network_id, BigInteger), i.c.ext_id, pp.c.id, nn.c.id, *(i.c[k] for k in same))
        .select_from(d.join(i, i.c.ext_id == d.c.ext_id).join(pp, at[0]).join(nn, at[1]))
        .where(d.c.op == "added").order_by(i.c.ext_id)))


def apply_buildings(conn: Connection, dataset: str, progress: Progress = _noop) -> None:
    """Apply ``_d_buildings`` to the dataset."""
    bb, d, i = _buildings.alias("b"), DIFFS["buildings"].alias("d"), STAGED["_in_buildings"].alias("i")
    cols = (*_BUILDING_FIELDS, "geom")
    conn.execute(update(bb).values({k: i.c[k] for k in cols})
                 .where(i.c.ext_id == d.c.ext_id, d.c.op == "changed", bb.c.id == d.c.id))
    conn.execute(insert(_buildings).from_select(
        ["dataset", "ext_id", *cols],
        select(literal(dataset, Text), i.c.ext_id, *(i.c[k] for k in cols))
        .select_from(d.join(i, i.c.ext_id == d.c.ext_id)).where(d.c.op == "added").order_by(i.c.ext_id)))
    conn.execute(text("DELETE FROM buildings b USING _d_buildings d WHERE d.op = 'removed' AND b.id = d.id"))
    progress("buildings", 1.0)


def apply_relinks(conn: Connection, network_id: int | None, relinks: list[Relink]) -> int:
    """Point each report of ``relinks`` at its new pipe (of ``network_id``) and/or building, or at
    nothing; one update (and one version) per report. Run after the merge; returns the count."""
    by_incident: dict[int, dict[str, Relink]] = {}
    for r in relinks:
        by_incident.setdefault(r.incident_id, {})[r.link] = r
    if not by_incident:
        return 0
    ids = sorted(by_incident)
    pipe = [by_incident[i].get("pipe") for i in ids]
    bld = [by_incident[i].get("building") for i in ids]
    stmt = text("""
        UPDATE incidents i
        SET pipe_id = CASE WHEN r.pipe_set THEN p.id ELSE i.pipe_id END,
            building_id = CASE WHEN r.bld_set THEN b.id ELSE i.building_id END,
            version = i.version + 1, updated_at = now()
        FROM unnest(:ids, :pipe_set, :pipe_ext, :bld_set, :bld_ext, :bld_ds)
             AS r(incident_id, pipe_set, pipe_ext, bld_set, bld_ext, bld_ds)
        LEFT JOIN pipes p ON p.network_id = :n AND p.ext_id = r.pipe_ext
        LEFT JOIN buildings b ON b.dataset = r.bld_ds AND b.ext_id = r.bld_ext
        WHERE i.id = r.incident_id
    """).bindparams(bindparam("ids", type_=ARRAY(BIGINT)), bindparam("pipe_set", type_=ARRAY(BOOLEAN)),
                    bindparam("pipe_ext", type_=ARRAY(TEXT)), bindparam("bld_set", type_=ARRAY(BOOLEAN)),
                    bindparam("bld_ext", type_=ARRAY(TEXT)), bindparam("bld_ds", type_=ARRAY(TEXT)))
    return int(conn.execute(stmt, {
        "n": network_id, "ids": ids,
        "pipe_set": [r is not None for r in pipe], "pipe_ext": [r.new_ext_id if r else None for r in pipe],
        "bld_set": [r is not None for r in bld], "bld_ext": [r.new_ext_id if r else None for r in bld],
        "bld_ds": [r.new_dataset if r else None for r in bld],
    }).rowcount or 0)


def connect_buildings(conn: Connection, network_id: int, *, max_distance_m: float = SERVICE_MAX_M) -> tuple[int, bool]:
    """Give every building a service connection to its nearest pipe of ``network_id`` (within
    ``max_distance_m``; ties go to the lower pipe id), from the building's nearest point to the
    pipe's. Only connections that differ are written. Returns (connections of the network, changed?)."""
    p = {"n": network_id, "d": max_distance_m}
    conn.execute(text("DROP TABLE IF EXISTS _sc"))
    conn.execute(text("""
        CREATE TEMP TABLE _sc ON COMMIT DROP AS
        SELECT b.id AS building_id, p.id AS pipe_id,
               ST_MakeLine(ST_ClosestPoint(b.geom, p.geom), ST_ClosestPoint(p.geom, b.geom)) AS geom
        FROM buildings b
        CROSS JOIN LATERAL (
            SELECT c.id, c.geom FROM (
                SELECT id, geom, geom <-> b.geom AS d FROM pipes
                WHERE network_id = :n AND kind = 'pipe' ORDER BY geom <-> b.geom LIMIT 4) c
            ORDER BY c.d, c.id LIMIT 1
        ) p
        WHERE ST_DWithin(b.geom::geography, p.geom::geography, :d)
    """), p)
    gone = conn.execute(text("""
        DELETE FROM service_connections s WHERE s.network_id = :n
          AND NOT EXISTS (SELECT 1 FROM _sc c WHERE c.building_id = s.building_id)"""), p).rowcount
    moved = conn.execute(text("""
        UPDATE service_connections s SET pipe_id = c.pipe_id, geom = c.geom FROM _sc c
        WHERE s.network_id = :n AND s.building_id = c.building_id
          AND (s.pipe_id <> c.pipe_id OR NOT (s.geom = c.geom))"""), p).rowcount
    added = conn.execute(text("""
        INSERT INTO service_connections (building_id, pipe_id, network_id, geom)
        SELECT c.building_id, c.pipe_id, :n, c.geom FROM _sc c
        WHERE NOT EXISTS (SELECT 1 FROM service_connections s WHERE s.network_id = :n AND s.building_id = c.building_id)
        ORDER BY c.building_id"""), p).rowcount
    total = conn.execute(text("SELECT count(*) FROM service_connections WHERE network_id = :n"), p).scalar_one()
    return int(total), bool(gone or moved or added)
