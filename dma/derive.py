"""Pure derivation of district metered areas from a network's topology (no database).

A DMA is a connected part of the network once it is cut at every normally-closed valve and at
every inlet meter: a valve or a meter sits on a pipe at one of its end nodes, and cutting there
removes that one pipe–node incidence. ``areas`` returns the parts as sets of pipe ids.

``plan_zones`` is the demo's planner: it groups valve segments into ``k`` zones of comparable size
grown from the sources and from seeds spread over the map, then says which boundary valves to
close and which to leave open with an inlet meter so that every zone is fed from a source
through a chain of metered inlets.
"""
from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from network.model import NetworkModel
from network.segments import compute_segments


def areas(pipes: Iterable[tuple[str, str, str]], cuts: Iterable[tuple[str, str]]) -> list[set[str]]:
    """Connected parts of the network (pipe ids) after cutting the (pipe, node) incidences in
    ``cuts``; largest first, ties by smallest pipe id."""
    cut = set(cuts)
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    at_node: dict[str, list[str]] = defaultdict(list)
    for pid, a, b in pipes:
        parent[pid] = pid
        for n in (a, b):
            if (pid, n) not in cut:
                at_node[n].append(pid)
    for members in at_node.values():
        r = find(members[0])
        for m in members[1:]:
            s = find(m)
            if s != r:
                parent[s] = r
    groups: dict[str, set[str]] = defaultdict(set)
    for pid in parent:
        groups[find(pid)].add(pid)
    return sorted(groups.values(), key=lambda g: (-len(g), min(g)))


@dataclass(frozen=True)
class ZonePlan:
    zones: list[set[str]]                       # pipe ids of each zone
    close: list[str]                             # valve ids to close (zone boundaries)
    inlets: list[tuple[str, str, str, int]]      # (valve id, pipe id, node id, zone index): open, metered
    source_inlets: list[tuple[str, str, int]]    # (pipe id, source node id, zone index)


def plan_zones(model: NetworkModel, node_xy: Mapping[str, tuple[float, float]], k: int) -> ZonePlan:
    """Zones of whole valve segments (deterministic). Already closed valves stay closed and are
    never crossed; a zone that cannot be fed through an inlet from a zone with a source is merged
    into a neighbour; inoperable valves are never closed. A segment's position is the mean of its
    junctions, so the zoning suits networks with N−1 valves per junction (segments holding pipes only,
    between valves at both ends, all sit at the origin and make coarse zones)."""
    seg = compute_segments(model)
    n_seg = seg.n_segments
    link_ids = [str(x) for x in model.link_ids]
    node_ids = [str(x) for x in model.node_ids]
    status = [str(s) for s in model.valve_status]
    # segment graph over the valves that are not closed: valve v joins link side and node side
    adj: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for v in range(len(model.valve_ids)):
        a, b = int(seg.valve_link_segment[v]), int(seg.valve_node_segment[v])
        if a != b and status[v] != "closed":
            adj[a].append((b, v))
            adj[b].append((a, v))
    size = np.bincount(seg.link_segment, minlength=n_seg)
    # centroid of each segment (mean of its nodes' positions)
    xy = np.array([node_xy.get(n, (np.nan, np.nan)) for n in node_ids], dtype=float)
    cx = np.zeros(n_seg)
    cy = np.zeros(n_seg)
    cnt = np.zeros(n_seg)
    ok = ~np.isnan(xy[:, 0])
    np.add.at(cx, seg.node_segment[ok], xy[ok, 0])
    np.add.at(cy, seg.node_segment[ok], xy[ok, 1])
    np.add.at(cnt, seg.node_segment[ok], 1)
    cnt[cnt == 0] = 1
    cx, cy = cx / cnt, cy / cnt
    source_segs = sorted({int(seg.node_segment[i]) for i in np.flatnonzero(model.is_source)})
    seeds = list(source_segs)
    while len(seeds) < k:                       # farthest-point seeds among segments with pipes
        d = np.full(n_seg, np.inf)
        for s in seeds:
            d = np.minimum(d, np.hypot(cx - cx[s], cy - cy[s]))
        d[size == 0] = -1
        nxt = int(np.argmax(d))
        if d[nxt] <= 0:
            break
        seeds.append(nxt)
    # balanced multi-source growth: the zone with fewest pipes takes its next frontier segment
    zone_of = np.full(n_seg, -1)
    frontier: list[deque[int]] = []
    zsize = []
    for z, s in enumerate(seeds):
        zone_of[s] = z
        frontier.append(deque([s]))
        zsize.append(int(size[s]))
    while True:
        moved = False
        for z in sorted(range(len(seeds)), key=lambda i: (zsize[i], i)):
            q = frontier[z]
            while q:
                s = q[0]
                nbrs = [b for b, _v in sorted(adj[s]) if zone_of[b] < 0]
                if not nbrs:
                    q.popleft()
                    continue
                b = nbrs[0]
                zone_of[b] = z
                zsize[z] += int(size[b])
                q.append(b)
                moved = True
                break
            if moved:
                break
        if not moved:
            break
    # segments unreachable over open valves (behind closed ones, without a source): their own zone
    # only if they hold pipes; they will be merged below if they cannot be fed
    for s in range(n_seg):
        if zone_of[s] < 0:
            zone_of[s] = len(seeds)
            seeds.append(s)
    roots = {int(zone_of[s]) for s in source_segs}
    islands: set[int] = set()      # zones that touch no other over an open valve: left unfed
    # feed tree: zone B is fed from zone A through a valve whose pipe is in B and node in A
    while True:
        n_z = int(zone_of.max()) + 1
        feeds: dict[int, list[tuple[int, int]]] = defaultdict(list)   # A -> [(B, valve)]
        for v in range(len(model.valve_ids)):
            if status[v] == "closed":
                continue
            ls, ns = int(seg.valve_link_segment[v]), int(seg.valve_node_segment[v])
            za, zb = int(zone_of[ns]), int(zone_of[ls])
            if za != zb:
                feeds[za].append((zb, v))
        parent_valve: dict[int, int] = {}
        seen = set(roots)
        q = deque(sorted(roots))
        while q:
            a = q.popleft()
            for b, v in sorted(feeds[a], key=lambda t: (t[0], str(model.valve_ids[t[1]]))):
                if b not in seen:
                    seen.add(b)
                    parent_valve[b] = v
                    q.append(b)
        has_pipes = {int(zone_of[int(s)]) for s in seg.link_segment}
        orphan = [z for z in range(n_z) if z not in seen and z in has_pipes and z not in islands]
        if not orphan:
            break
        z = orphan[0]
        # merge the orphan into any zone it touches over a non-closed valve (prefer fed zones)
        touching = sorted({int(zone_of[b]) for s in np.flatnonzero(zone_of == z) for b, _v in adj[int(s)]} - {z},
                          key=lambda t: (t not in seen, t))
        if not touching:
            islands.add(z)   # an island without a source: it stays unfed (no inlet)
            continue
        zone_of[zone_of == z] = touching[0]
    # renumber zones with pipes 0..m-1
    link_zone = zone_of[seg.link_segment]
    used = sorted(set(int(x) for x in link_zone))
    renum = {z: i for i, z in enumerate(used)}
    zones: list[set[str]] = [set() for _ in used]
    for li, z in enumerate(link_zone):
        zones[renum[int(z)]].add(link_ids[li])
    inlet_valves = {v: b for b, v in parent_valve.items()}
    close, inlets = [], []
    for v in range(len(model.valve_ids)):
        ls, ns = int(seg.valve_link_segment[v]), int(seg.valve_node_segment[v])
        if status[v] == "closed" or zone_of[ls] == zone_of[ns]:
            continue
        if status[v] == "inoperable":
            continue    # it cannot be closed: the zones it joins merge when derived
        if v in inlet_valves:
            inlets.append((str(model.valve_ids[v]), link_ids[int(model.valve_link[v])],
                           node_ids[int(model.valve_node[v])], renum[int(zone_of[ls])]))
        else:
            close.append(str(model.valve_ids[v]))
    source_inlets = []
    for li in range(len(link_ids)):
        for end in (int(model.link_start[li]), int(model.link_end[li])):
            if model.is_source[end]:
                source_inlets.append((link_ids[li], node_ids[end], renum[int(link_zone[li])]))
    return ZonePlan(zones=zones, close=sorted(close, key=_num), inlets=inlets, source_inlets=source_inlets)


def _num(s: str) -> tuple[int, str]:
    return (int(s), s) if s.isdigit() else (1 << 62, s)
