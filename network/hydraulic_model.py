"""A hydraulic model (WNTR ``WaterNetworkModel``) of a network known only from a GIS: pipes with
length, diameter, material and install year, nodes with an optional elevation, the sources, and the
water the buildings draw. The app's burst locator needs it (docs/network.md, "In the app,
hydraulically"): PostGIS holds no .inp, so the model is built from what the database has and every
gap is filled with a documented default.

Pure: takes plain sequences (the PostGIS read is ``gis.network_repo.hydraulic_inputs``, the cache per
network revision ``ops.locate``). Assumptions, each a module constant:

- **Roughness**: Hazen-Williams C by material when new, minus a yearly loss with age (tuberculation
  of unlined iron and steel; plastics hardly age), never below a floor (:data:`HAZEN_WILLIAMS`,
  figures within the ranges of Walski et al., *Advanced Water Distribution Modeling and
  Management*, table 2.5, and Sharp & Walski 1988 for the ageing of iron). Unknown material:
  ``other``; unknown install year: :data:`DEFAULT_AGE_Y` years old.
- **Diameter** unknown: :data:`DEFAULT_DIAMETER_MM`; **length** unknown or below 1 m: 1 m (the
  caller passes the geometry's length when the attribute is missing).
- **Elevation** of a junction unknown: the mean of the known ones (0 when none is known: a flat
  city, heads = pressures).
- **Sources** are fixed heads for the one steady state the locator solves: a ``reservoir`` at its
  recorded elevation (the .inp import stores a reservoir's total head there); a ``source`` (a
  station inlet: its elevation is ground level) and a ``tank`` at ground + :data:`SOURCE_PRESSURE_M`
  (a city's typical station outlet pressure; a tank's level is not in the database).
- **Pumps and control valves** (``pipes.kind``): their curves and settings are not in the database,
  so they are modelled as short wide open pipes and are never burst candidates.
- **Closed valves** close their pipe; inoperable ones are open.
- Nodes that no open pipe joins to a source are left out (EPANET cannot give them a pressure), with
  the links that touch them; so are links from a node to itself.
- **Demand** of a building (:func:`building_demand_m3s`): its own building meter's mean over the
  last weeks when it has one; else residents × :data:`LITRES_PER_RESIDENT_DAY`; else flats ×
  :data:`PERSONS_PER_FLAT` × the same; else :data:`DEFAULT_BUILDING_M3_DAY` (a school, an office:
  every connected building is a customer). An average day, no peak factor. The building's demand
  goes to the end of its service pipe nearer to it (the caller sums per node).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from network.errors import InvalidNetwork
from network.model import NetworkModel, network_from_arrays

__all__ = ["HAZEN_WILLIAMS", "NodeRows", "PipeRows", "HydraulicModel", "hazen_williams_c", "building_demand_m3s",
           "build_hydraulic_model"]

# material -> (C when new, loss of C per year of age, floor); canonical material levels of
# forecast/rules/default.yaml (the caller normalises spellings).
HAZEN_WILLIAMS: dict[str, tuple[float, float, float]] = {
    "cast_iron": (130.0, 0.8, 60.0),        # unlined: tuberculation (Sharp & Walski: ~ -1/yr at first)
    "ductile_iron": (140.0, 0.3, 100.0),    # cement-mortar lined
    "steel": (140.0, 0.6, 70.0),
    "asbestos_cement": (140.0, 0.2, 110.0),
    "concrete": (130.0, 0.2, 100.0),
    "pvc": (150.0, 0.05, 140.0),
    "pe": (150.0, 0.05, 140.0),
    "other": (120.0, 0.4, 80.0),
}
DEFAULT_AGE_Y = 40.0
DEFAULT_DIAMETER_MM = 150.0
MIN_LENGTH_M = 1.0
SOURCE_PRESSURE_M = 50.0
SOURCE_KINDS = ("source", "tank", "reservoir")
LITRES_PER_RESIDENT_DAY = 200.0   # Russian norms (SP 31.13330) give 165-230 L/day for flats with running water
PERSONS_PER_FLAT = 2.5            # about the Russian average household
DEFAULT_BUILDING_M3_DAY = 0.5     # a building with no meter, residents or flats on record
LINK_AS_PIPE = {"length_m": 1.0, "diameter_mm": 1000.0, "c": 140.0}   # pumps and control valves


@dataclass(frozen=True)
class NodeRows:
    """Nodes: id, kind (junction | hydrant | source | tank | reservoir), elevation in m (None: unknown)."""

    ids: Sequence[str]
    kinds: Sequence[str]
    elevation_m: Sequence[float | None]


@dataclass(frozen=True)
class PipeRows:
    """Links: id, end nodes, kind (pipe | pump | control_valve), length and diameter (None: unknown),
    canonical material (None: unknown), install year (None: unknown), closed by a valve."""

    ids: Sequence[str]
    start: Sequence[str]
    end: Sequence[str]
    kinds: Sequence[str]
    length_m: Sequence[float | None]
    diameter_mm: Sequence[float | None]
    material: Sequence[str | None]
    install_year: Sequence[int | None]
    closed: Sequence[bool]


@dataclass
class HydraulicModel:
    """The WNTR model, the same network as a topology (screening, pipe distances), the burst
    candidates and what was assumed (counts per default used, for the docs and the benchmark)."""

    wn: Any                          # wntr.network.WaterNetworkModel
    topology: NetworkModel
    pipes: list[str]                 # burst candidates: links of kind pipe in the model
    demand_m3s: dict[str, float]     # junction -> base demand
    assumed: dict[str, int] = field(default_factory=dict)

    @property
    def nodes(self) -> set[str]:
        return set(self.topology.node_ids.tolist())

    def write_inp(self, path: str | Path) -> Path:
        """The model as an EPANET .inp (litres per second, Hazen-Williams), what ``network.locate``
        simulates."""
        import wntr  # heavy (~3 s to import): only when a model is written

        path = Path(path)
        wntr.network.write_inpfile(self.wn, str(path), units="LPS")
        return path


def hazen_williams_c(material: str | None, age_y: float | None) -> float:
    """Hazen-Williams C of a pipe of ``material`` (canonical level; unknown: ``other``) aged ``age_y``
    years (unknown: :data:`DEFAULT_AGE_Y`)."""
    new, loss, floor = HAZEN_WILLIAMS.get(material or "other", HAZEN_WILLIAMS["other"])
    age = DEFAULT_AGE_Y if age_y is None or not math.isfinite(age_y) else max(float(age_y), 0.0)
    return max(new - loss * age, floor)


def building_demand_m3s(residents: int | None, flats: int | None, metered_m3_day: float | None) -> float:
    """A building's mean demand (m³/s): metered, else from residents, else from flats, else the default."""
    if _known(metered_m3_day) and float(metered_m3_day) > 0:
        per_day = float(metered_m3_day)
    elif residents:
        per_day = residents * LITRES_PER_RESIDENT_DAY / 1000
    elif flats:
        per_day = flats * PERSONS_PER_FLAT * LITRES_PER_RESIDENT_DAY / 1000
    else:
        per_day = DEFAULT_BUILDING_M3_DAY
    return per_day / 86400


def _known(x: float | None) -> bool:
    return x is not None and math.isfinite(float(x))


def build_hydraulic_model(nodes: NodeRows, pipes: PipeRows, demand_m3s: Mapping[str, float], *, year: int,
                          source_pressure_m: float = SOURCE_PRESSURE_M, name: str = "network") -> HydraulicModel:
    """The WNTR model of the network (see the module's docstring for every assumption).

    ``demand_m3s``: base demand per node id (nodes left out of the model lose theirs); ``year``: the
    current year, for the pipes' ages. Raises :class:`InvalidNetwork` when no source feeds any node.
    """
    import wntr  # heavy (~3 s to import): only when a model is built

    node_ids = [str(n) for n in nodes.ids]
    kind = dict(zip(node_ids, nodes.kinds))
    elev = {n: (float(e) if _known(e) else None) for n, e in zip(node_ids, nodes.elevation_m)}
    known = [e for n, e in elev.items() if e is not None and kind[n] not in SOURCE_KINDS]
    ground = float(np.mean(known)) if known else 0.0
    assumed = {"elevation": sum(1 for n in node_ids if elev[n] is None and kind[n] not in SOURCE_KINDS)}

    # which links and nodes EPANET can give a pressure: joined to a source by open links
    pos = {n: i for i, n in enumerate(node_ids)}
    ids = [str(p) for p in pipes.ids]
    a = [pos.get(str(s), -1) for s in pipes.start]
    b = [pos.get(str(e), -1) for e in pipes.end]
    usable = [i >= 0 and j >= 0 and i != j for i, j in zip(a, b)]
    op = [k for k, u in enumerate(usable) if u and not pipes.closed[k]]
    n = len(node_ids)
    g = sp.coo_matrix((np.ones(len(op)), ([a[k] for k in op], [b[k] for k in op])), shape=(n, n))
    _, comp = connected_components(g, directed=False)
    fed = {int(comp[pos[s]]) for s in node_ids if kind[s] in SOURCE_KINDS}
    keep = {s for s in node_ids if int(comp[pos[s]]) in fed}
    linked = {node_ids[a[k]] for k in range(len(ids)) if usable[k]} | {node_ids[b[k]] for k in range(len(ids)) if usable[k]}
    keep &= linked   # a source with no pipe feeds nothing (and EPANET refuses an unlinked node)
    if not any(kind[s] in SOURCE_KINDS for s in keep) or len(keep) < 2:
        raise InvalidNetwork(f"{name}: no source (node of kind source, tank or reservoir) feeds the network")
    assumed["unfed_nodes"] = n - len(keep)

    wn = wntr.network.WaterNetworkModel()
    wn.name = name
    wn.options.hydraulic.headloss = "H-W"
    wn.options.time.duration = 0
    demands: dict[str, float] = {}
    assumed["source_head"] = 0
    for s in node_ids:
        if s not in keep:
            continue
        if kind[s] in SOURCE_KINDS:
            if kind[s] == "reservoir" and elev[s] is not None:
                head = elev[s]
            else:
                head = (elev[s] if elev[s] is not None else ground) + source_pressure_m
                assumed["source_head"] += 1
            wn.add_reservoir(s, base_head=float(head))
        else:
            q = max(float(demand_m3s.get(s, 0.0) or 0.0), 0.0)
            if q > 0:
                demands[s] = q
            wn.add_junction(s, base_demand=q, elevation=float(elev[s] if elev[s] is not None else ground))

    links: list[tuple[str, str, str]] = []
    candidates: list[str] = []
    assumed.update(length=0, diameter=0, material=0, install_year=0, links_as_pipes=0)
    for k, pid in enumerate(ids):
        if not usable[k]:
            continue
        s, e = node_ids[a[k]], node_ids[b[k]]
        if s not in keep or e not in keep:
            continue
        status = "CLOSED" if pipes.closed[k] else "OPEN"
        if pipes.kinds[k] != "pipe":
            assumed["links_as_pipes"] += 1
            wn.add_pipe(pid, s, e, length=LINK_AS_PIPE["length_m"], diameter=LINK_AS_PIPE["diameter_mm"] / 1000,
                        roughness=LINK_AS_PIPE["c"], initial_status=status)
        else:
            length, diam = pipes.length_m[k], pipes.diameter_mm[k]
            mat, yr = pipes.material[k], pipes.install_year[k]
            assumed["length"] += not (_known(length) and float(length) >= MIN_LENGTH_M)
            assumed["diameter"] += not (_known(diam) and float(diam) > 0)
            assumed["material"] += mat not in HAZEN_WILLIAMS
            assumed["install_year"] += not _known(yr)
            length = max(float(length), MIN_LENGTH_M) if _known(length) else MIN_LENGTH_M
            diam = float(diam) if _known(diam) and float(diam) > 0 else DEFAULT_DIAMETER_MM
            c = hazen_williams_c(mat if mat in HAZEN_WILLIAMS else "other", year - int(yr) if _known(yr) else None)
            wn.add_pipe(pid, s, e, length=length, diameter=diam / 1000, roughness=c, initial_status=status)
            candidates.append(pid)
        links.append((pid, s, e))
    lengths = [float(wn.get_link(pid).length) for pid, _, _ in links]
    topo = network_from_arrays([p for p, _, _ in links], [s for _, s, _ in links], [e for _, _, e in links],
                               node_ids=[s for s in node_ids if s in keep],
                               source_ids=[s for s in node_ids if s in keep and kind[s] in SOURCE_KINDS],
                               length_m=np.array(lengths, dtype=np.float64), source_name=name)
    return HydraulicModel(wn=wn, topology=topo, pipes=candidates, demand_m3s=demands, assumed=assumed)
