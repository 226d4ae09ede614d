"""From GIS layers to a network: nodes from pipe ends, T-junctions, valves placed on pipes.

Pure functions on GeoDataFrames in one **metric** CRS (distances in metres). Rules:

- Pipe ends closer than ``snap_m`` share one node (at the first end met, or at a node of the
  optional node layer within ``snap_m``); pipe ends are moved onto their node.
- A pipe end that touches no other end but lies within ``snap_m`` of another pipe's middle is
  a T-junction: that pipe is split there.
- A valve is placed on its nearest pipe. Within ``valve_end_m`` of a pipe end (or of a split
  point) it is the valve (pipe, that node). Otherwise it splits the pipe at its projection: the
  pieces are named ``<pipe id>.a``, ``.b``, … in pipe direction, the new node ``N<k>``, and the valve
  sits on the piece *before* the new node (``P1.a``), next to that node.
- Problems: a valve farther than ``valve_max_m`` from any pipe; a pipe none of whose nodes is
  shared with another pipe (in a network of more than one pipe).
"""
from __future__ import annotations

import string
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely
from shapely import LineString, Point
from shapely.ops import substring

PIPE_ATTRS = ("diameter_mm", "material", "install_year", "street")
VALVE_ATTRS = ("status", "kind", "diameter_mm")


@dataclass
class NetworkLayers:
    """The store's nodes / pipes / valves frames (metric CRS), with what the build found."""

    nodes: gpd.GeoDataFrame
    pipes: gpd.GeoDataFrame
    valves: gpd.GeoDataFrame
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _node_ids(taken: set[str]) -> Iterator[str]:
    k = 0
    while True:
        k += 1
        if f"N{k}" not in taken:
            yield f"N{k}"


def _suffix(j: int) -> str:
    return string.ascii_lowercase[j] if j < 26 else f"z{j}"


def build_network(
    pipes: gpd.GeoDataFrame,
    valves: gpd.GeoDataFrame | None = None,
    nodes: gpd.GeoDataFrame | None = None,
    *,
    snap_m: float = 0.5,
    valve_end_m: float = 1.0,
    valve_max_m: float = 5.0,
) -> NetworkLayers:
    """Build the network from ``pipes`` (``ext_id``, ``_where``, optional PIPE_ATTRS; LineString),
    ``valves`` (``ext_id``, ``_where``, optional VALVE_ATTRS; Point) and ``nodes`` (``ext_id``,
    ``kind``, optional ``elevation_m``; Point), all in the same metric CRS. Inputs are not modified."""
    crs = pipes.crs
    lines = np.array(list(pipes.geometry), dtype=object)
    n = len(lines)
    pipe_ids = [str(v) for v in pipes["ext_id"]]
    # end 2c is pipe c's start, 2c + 1 its end: earlier pipes' ends come first
    ends = np.column_stack([shapely.get_point(lines, 0), shapely.get_point(lines, -1)]).ravel() if n else np.array([])
    end_node: list[str | None] = [None] * (2 * n)
    node_xy: dict[str, tuple[float, float]] = {}
    node_attrs: dict[str, tuple[str, float | None]] = {}
    layer_nodes: set[str] = set()
    problems: list[str] = []
    notes: list[str] = []

    if nodes is not None and len(nodes):
        pts = np.array(list(nodes.geometry), dtype=object)
        elev = nodes["elevation_m"] if "elevation_m" in nodes else [None] * len(nodes)
        kinds = nodes["kind"] if "kind" in nodes else ["junction"] * len(nodes)
        for nid, p, k, e in zip(nodes["ext_id"], pts, kinds, elev):
            node_xy[str(nid)] = (p.x, p.y)
            node_attrs[str(nid)] = (k or "junction", e)
            layer_nodes.add(str(nid))
        if n:
            ids = list(node_xy)
            i_end, i_node = shapely.STRtree(pts).query(ends, predicate="dwithin", distance=snap_m)
            best: dict[int, tuple[float, str]] = {}
            for ie, ino in zip(i_end, i_node):
                d = ends[ie].distance(pts[ino])
                if ie not in best or d < best[ie][0]:
                    best[int(ie)] = (d, ids[ino])
            for ie, (_, nid) in best.items():
                end_node[ie] = nid
    new_id = _node_ids(set(node_xy))

    # cluster the remaining ends (union-find over pairs closer than snap_m)
    free = [k for k in range(2 * n) if end_node[k] is None]
    parent = {k: k for k in free}

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    if free:
        fa, fb = shapely.STRtree(ends[free]).query(ends[free], predicate="dwithin", distance=snap_m)
        for a, b in zip(fa, fb):
            ra, rb = root(free[a]), root(free[b])
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    cluster_node: dict[int, str] = {}
    for k in free:  # ascending: a cluster's node sits at its first end
        r = root(k)
        if r not in cluster_node:
            nid = next(new_id)
            cluster_node[r] = nid
            node_xy[nid] = (ends[r].x, ends[r].y)
            node_attrs[nid] = ("junction", None)
        end_node[k] = cluster_node[r]

    # T-junctions: a lone end on another pipe's middle splits that pipe
    splits: dict[int, list[tuple[float, str]]] = defaultdict(list)
    tree = shapely.STRtree(lines) if n else None
    degree: dict[str, int] = defaultdict(int)
    for nid in end_node:
        degree[nid] += 1  # type: ignore[index]

    def existing_split(c: int, d: float, tol: float) -> tuple[float, str] | None:
        near = [s for s in splits[c] if abs(s[0] - d) <= tol]
        return min(near, key=lambda s: abs(s[0] - d)) if near else None

    for k in range(2 * n):
        if degree[end_node[k]] != 1:  # type: ignore[index]
            continue
        own = k // 2
        cand = [int(c) for c in tree.query(ends[k], predicate="dwithin", distance=snap_m) if c != own]  # type: ignore[union-attr]
        if not cand:
            continue
        c = min(cand, key=lambda c: lines[c].distance(ends[k]))
        d, length = lines[c].project(ends[k]), lines[c].length
        if d <= snap_m or length - d <= snap_m:
            end_node[k] = end_node[2 * c] if d <= snap_m else end_node[2 * c + 1]
        elif (s := existing_split(c, d, snap_m)) is not None:
            end_node[k] = s[1]
        else:
            nid = end_node[k]
            assert nid is not None
            if nid not in layer_nodes:
                p = lines[c].interpolate(d)
                node_xy[nid] = (p.x, p.y)
            splits[c].append((d, nid))
            notes.append(f"pipe {pipe_ids[c]} split at the end of pipe {pipe_ids[own]} (T-junction)")

    # valves: (pipe index, where) with where = "from" | "to" | (node id, "before" | "after")
    placed: list[tuple[int, object] | None] = []
    vrows = valves if valves is not None else gpd.GeoDataFrame({"ext_id": [], "_where": []}, geometry=[], crs=crs)
    for pt, where, vid in zip(vrows.geometry, vrows["_where"], vrows["ext_id"]):
        if n == 0:
            problems.append(f"{where}: no pipe to put the valve on (import the pipes with the valves)")
            placed.append(None)
            continue
        idx, dist = tree.query_nearest(pt, return_distance=True)  # type: ignore[union-attr]
        c, dist_m = int(idx[0]), float(dist[0])
        if dist_m > valve_max_m:
            problems.append(f"{where}: valve is {dist_m:.1f} m from the nearest pipe {pipe_ids[c]} "
                            f"(more than {valve_max_m:g} m)")
            placed.append(None)
            continue
        d, length = lines[c].project(pt), lines[c].length
        if (s := existing_split(c, d, valve_end_m)) is not None:
            placed.append((c, (s[1], "before" if d <= s[0] else "after")))
        elif d <= valve_end_m:
            placed.append((c, "from"))
        elif length - d <= valve_end_m:
            placed.append((c, "to"))
        else:
            nid = next(new_id)
            p = lines[c].interpolate(d)
            node_xy[nid] = (p.x, p.y)
            node_attrs[nid] = ("junction", None)
            splits[c].append((d, nid))
            placed.append((c, (nid, "before")))
            notes.append(f"pipe {pipe_ids[c]} split at valve {vid} (new node {nid})")

    # cut the pipes
    taken_ids = set(pipe_ids)
    piece_ids: list[list[str]] = []
    node_seqs: list[list[str]] = []
    prow: dict[str, list[object]] = defaultdict(list)
    for c in range(n):
        sp = sorted(splits.get(c, []))
        cuts = [0.0] + [d for d, _ in sp] + [lines[c].length]
        seq = [end_node[2 * c]] + [nid for _, nid in sp] + [end_node[2 * c + 1]]
        ids = [pipe_ids[c]] if not sp else [f"{pipe_ids[c]}.{_suffix(j)}" for j in range(len(sp) + 1)]
        for pid in ids[1:] if len(ids) > 1 else []:
            if pid in taken_ids:
                problems.append(f"{pipes['_where'].iloc[c]}: splitting gives id {pid!r}, already used by another pipe")
        for j, pid in enumerate(ids):
            geom = lines[c] if not sp else substring(lines[c], cuts[j], cuts[j + 1])
            xy = shapely.get_coordinates(geom).copy()
            xy[0], xy[-1] = node_xy[seq[j]], node_xy[seq[j + 1]]  # type: ignore[index]
            prow["ext_id"].append(pid)
            prow["from_node"].append(seq[j])
            prow["to_node"].append(seq[j + 1])
            prow["geometry"].append(LineString(xy))
            for a in PIPE_ATTRS:
                prow[a].append(pipes[a].iloc[c] if a in pipes else None)
        piece_ids.append(ids)
        node_seqs.append(seq)  # type: ignore[arg-type]

    # pipes that touch nothing
    pipes_at: dict[str, set[int]] = defaultdict(set)
    for c, seq in enumerate(node_seqs):
        for nid in seq:
            pipes_at[nid].add(c)
    if n > 1:
        for c, seq in enumerate(node_seqs):
            if all(pipes_at[nid] == {c} for nid in seq):
                dists = shapely.distance(lines[c], lines)
                dists[c] = np.inf
                o = int(np.argmin(dists))
                problems.append(f"{pipes['_where'].iloc[c]}: pipe does not touch the network "
                                f"(nearest other pipe {pipe_ids[o]} is {dists[o]:.1f} m away)")

    vrec: dict[str, list[object]] = defaultdict(list)
    for (i, pl), pt in zip(enumerate(placed), vrows.geometry):
        if pl is None:
            continue
        c, at = pl
        if at == "from":
            pid, nid = piece_ids[c][0], node_seqs[c][0]
        elif at == "to":
            pid, nid = piece_ids[c][-1], node_seqs[c][-1]
        else:
            nid, side = at  # type: ignore[misc]
            m = node_seqs[c].index(nid)
            pid = piece_ids[c][m - 1 if side == "before" else m]
        vrec["ext_id"].append(vrows["ext_id"].iloc[i])
        vrec["pipe"].append(pid)
        vrec["node"].append(nid)
        vrec["geometry"].append(pt)
        for a in VALVE_ATTRS:
            vrec[a].append(vrows[a].iloc[i] if a in vrows else None)

    used = {v for seq in node_seqs for v in seq} | layer_nodes
    nrec: dict[str, list[object]] = defaultdict(list)
    for nid, (x, y) in node_xy.items():
        if nid in used:
            nrec["ext_id"].append(nid)
            nrec["kind"].append(node_attrs[nid][0])
            nrec["elevation_m"].append(node_attrs[nid][1])
            nrec["geometry"].append(Point(x, y))
    return NetworkLayers(
        nodes=_frame(nrec, ("ext_id", "kind", "elevation_m"), crs),
        pipes=_frame(prow, ("ext_id", "from_node", "to_node") + PIPE_ATTRS, crs),
        valves=_frame(vrec, ("ext_id", "pipe", "node") + VALVE_ATTRS, crs),
        problems=problems, notes=notes,
    )


def _frame(rec: dict[str, list[object]], cols: tuple[str, ...], crs: object) -> gpd.GeoDataFrame:
    data = {c: rec.get(c, []) for c in cols}
    return gpd.GeoDataFrame(data, geometry=list(rec.get("geometry", [])), crs=crs)
