"""One load into the database, in the caller's transaction: the preview and the merge.

``preview`` stages the load and computes its :class:`~data.diff.ImportDiff` without touching a
table (the caller rolls back). ``merge`` does the same under locks, refuses when the network is
busy (outages planned or active) or changed since the preview (``expected_revision``), applies
the diff (ids kept for unchanged ext ids), re-links reports whose pipe or building went,
recomputes service connections, bumps the network's revision when anything changed and
refreshes the tile overviews of what changed (``gis.overviews``: the network's merged mains and
hydrant grid, the buildings' grid).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
from sqlalchemy import Connection

from data import store
from data.diff import ImportDiff, KindDiff, OutageImpact, Relink
from data.errors import DataError, NetworkBusy, ResourceMismatch, StalePreview
from data.staging import stage_buildings, stage_network
from data.store import NetworkRow, Progress
from gis.overviews import refresh_after_merge
from settings import Settings, get_settings


def _noop(stage: str, fraction: float) -> None:
    return None


@dataclass(frozen=True)
class Load:
    """What a load brings: EPSG:4326 frames per :mod:`data.store`'s contract (None: not in the load)."""

    nodes: gpd.GeoDataFrame | None = None
    pipes: gpd.GeoDataFrame | None = None
    valves: gpd.GeoDataFrame | None = None
    buildings: gpd.GeoDataFrame | None = None

    @property
    def has_network(self) -> bool:
        return self.pipes is not None and self.nodes is not None


@dataclass(frozen=True)
class Target:
    """Where a load goes. ``network`` receives the nodes, pipes and valves; ``dataset`` the
    buildings. A load of buildings only still reconnects the network named like its dataset."""

    network: str | None
    dataset: str | None
    resource: str = "cold_water"
    source_file: str | None = None
    crs: str | None = None

    @property
    def touched_network(self) -> str | None:
        return self.network or self.dataset


@dataclass(frozen=True)
class Snap:
    """How far a report is re-linked (the intake's snap distances, settings.incident_snap_*)."""

    pipe_m: float = 300.0
    building_m: float = 50.0

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Snap:
        s = settings or get_settings()
        return cls(pipe_m=s.incident_snap_pipe_m, building_m=s.incident_snap_building_m)


@dataclass
class Staged:
    network: NetworkRow | None
    diff: ImportDiff
    counts_before: dict[str, int]
    busy: list[int]


@dataclass
class MergeResult:
    network_id: int | None
    revision: int | None
    diff: ImportDiff
    counts_before: dict[str, int]
    counts_after: dict[str, int] = field(default_factory=dict)


@dataclass
class _Place:
    """Where the load goes, as found in the database."""

    network: NetworkRow | None
    dataset: str | None          # the dataset, when the load has buildings
    busy: list[int]
    counts_before: dict[str, int]


def _locate(conn: Connection, target: Target, load: Load, *, lock: bool) -> _Place:
    net_name = target.touched_network
    if lock:  # two loads of one name wait for each other; the network row is locked too
        for key in (f"network:{net_name}" if net_name else None, f"dataset:{target.dataset}" if target.dataset else None):
            if key:
                store.lock_name(conn, key)
    net = store.find_network(conn, net_name, lock=lock) if net_name else None
    if load.has_network and net is not None and net.resource != target.resource:
        raise ResourceMismatch(f'network "{net.name}" is {net.resource}; this import says {target.resource} '
                               f"(a network keeps its resource: pass --resource {net.resource}, or import under "
                               "another --network name)")
    dataset = target.dataset if load.buildings is not None else None
    net_id = net.id if net else None
    return _Place(network=net, dataset=dataset,
                  busy=store.busy_outages(conn, network_id=net_id, dataset=dataset),
                  counts_before=store.counts(conn, network_id=net_id, dataset=dataset,
                                             network_part=load.has_network or net is not None))


def _stage_and_diff(conn: Connection, place: _Place, load: Load, snap: Snap, progress: Progress) -> ImportDiff:
    net_id = place.network.id if place.network else None
    kinds: list[KindDiff] = []
    relinks: list[Relink] = []
    if load.has_network:
        progress("nodes", 0.0)
        stage_network(conn, load.nodes, load.pipes, load.valves)  # type: ignore[arg-type]
        if net_id is not None:
            store.keep_field_valve_marks(conn, net_id)
        kinds += [store.diff_kind(conn, k, net_id) for k in ("nodes", "pipes", "valves")]
        relinks += store.pipe_relinks(conn, snap.pipe_m)
    if load.buildings is not None and place.dataset is not None:
        progress("buildings", 0.0)
        stage_buildings(conn, load.buildings)
        kinds.append(store.diff_kind(conn, "buildings", place.dataset))
        relinks += store.building_relinks(conn, place.dataset, snap.building_m)
    impacts: list[OutageImpact] = store.outage_impacts(conn, network_id=net_id, dataset=place.dataset,
                                                       kinds={k.kind for k in kinds})
    relinks.sort(key=lambda r: (r.incident_id, r.link))
    return ImportDiff(tuple(kinds), tuple(relinks), tuple(impacts))


def preview(conn: Connection, target: Target, load: Load, snap: Snap) -> Staged:
    """The diff of ``load`` against the database; writes only temporary tables (roll back after)
    and takes no lock. Raises ResourceMismatch; outages that would refuse the merge are in ``busy``."""
    place = _locate(conn, target, load, lock=False)
    return Staged(network=place.network, diff=_stage_and_diff(conn, place, load, snap, _noop),
                  counts_before=place.counts_before, busy=place.busy)


def merge(conn: Connection, target: Target, load: Load, snap: Snap, *, expected_revision: int | None = None,
          progress: Progress = _noop) -> MergeResult:
    """Merge ``load`` into ``target`` inside ``conn``'s transaction (see the module docstring).

    Raises NetworkBusy (outages planned or active on the network or on the dataset's buildings),
    StalePreview (the network's revision is no longer ``expected_revision``) or ResourceMismatch;
    nothing is written then.
    """
    place = _locate(conn, target, load, lock=True)
    net = place.network
    if place.busy:  # refused before the load is even staged
        what = f'network "{net.name}"' if net is not None else f'building dataset "{target.dataset}"'
        raise NetworkBusy(what, place.busy)
    if expected_revision is not None and (net is None or net.revision != expected_revision):
        raise StalePreview(target.touched_network or "?", expected_revision, None if net is None else net.revision)
    st = Staged(network=net, diff=_stage_and_diff(conn, place, load, snap, progress),
                counts_before=place.counts_before, busy=[])
    net_id = net.id if net else None
    if load.has_network:
        if net_id is None:
            if target.network is None:
                raise DataError("a load with a network needs the network's name")
            net_id = store.create_network(conn, name=target.network, resource=target.resource,
                                          source_file=target.source_file, crs=target.crs)
        else:
            store.set_network_source(conn, net_id, source_file=target.source_file, crs=target.crs)
        store.apply_network(conn, net_id, progress)
    if load.buildings is not None and target.dataset is not None:
        store.apply_buildings(conn, target.dataset, progress)
    store.apply_relinks(conn, net_id, list(st.diff.relinks))
    revision = net.revision if net else (0 if net_id is not None else None)
    if net_id is not None:
        progress("connections", 0.0)
        _, connections_changed = store.connect_buildings(conn, net_id)
        network_changed = any(not st.diff.kind(k).empty for k in ("nodes", "pipes", "valves"))
        if net is not None and (network_changed or connections_changed):
            revision = store.bump_revision(conn, net_id, net.revision)
        progress("connections", 1.0)
    # the map's vector-tile overviews (merged mains, grids) follow the data, in this transaction
    refresh_after_merge(conn, network_id=net_id,
                        network_changed=load.has_network and any(not st.diff.kind(k).empty
                                                                 for k in ("nodes", "pipes", "valves")),
                        buildings_changed=not st.diff.kind("buildings").empty)
    after = store.counts(conn, network_id=net_id, dataset=target.dataset if load.buildings is not None else None,
                         network_part=net_id is not None)
    return MergeResult(network_id=net_id, revision=revision, diff=st.diff, counts_before=st.counts_before,
                       counts_after=after)
