"""Criticality of the whole network in one run.

- For every segment: what shutting it for a break costs — the isolated break area plus the
  unintended (cut-off) part — counted in links, nodes, metres and any per-link weights the caller
  supplies (buildings, residents, ...).
- For every open valve: how much larger the shutoff becomes if that valve turns out inoperable
  (its two sides merge into one break area), which ranks valves for exercising.

Both come from the DFS of the area graph built by :class:`~network.isolation.IsolationIndex`
(low-links = dominator tree of an undirected graph), so the run is O(areas + valves) plus sorting;
see docs/network.md for the derivation of the two-area (merged) case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from network.errors import InvalidNetwork
from network.isolation import IsolationIndex, isolation_index
from network.model import OPEN, STATUS_NAMES, NetworkModel
from network.segments import csr_gather

__all__ = ["Criticality", "criticality"]

_INF = np.iinfo(np.int64).max


@dataclass(frozen=True)
class Criticality:
    """Result of :func:`criticality`.

    ``segments``: one row per segment (index ``segment``) with ``area`` (break area id),
    ``valves_to_operate`` (open boundary valves of the area) and, per measure ``m``,
    ``isolated_m``, ``unintended_m`` and ``shutoff_m = isolated_m + unintended_m``.

    ``valves``: one row per open valve between two different break areas, sorted by
    ``extra_<rank_by>`` descending: ``valve``, ``link_segment``, ``node_segment`` and, per measure,
    ``shutoff_if_inoperable_m`` (the merged shutoff) and ``extra_m`` (its growth over the smaller
    of the two sides' own shutoffs, i.e. the worst case for a break on either side).
    """

    segments: pd.DataFrame
    valves: pd.DataFrame
    measures: tuple[str, ...]


def _per_link_measures(model: NetworkModel, weights: Mapping[str, np.ndarray] | None) -> dict[str, np.ndarray]:
    measures: dict[str, np.ndarray] = {"links": np.ones(model.n_links)}
    if model.link_length_m is not None:
        measures["length_m"] = np.asarray(model.link_length_m, dtype=np.float64)
    for name, arr in (weights or {}).items():
        w = np.asarray(arr, dtype=np.float64)
        if w.shape != (model.n_links,):
            raise InvalidNetwork(f"weight {name!r}: {w.size} values for {model.n_links} links")
        if name in ("nodes",) or name in measures:
            raise InvalidNetwork(f"weight {name!r}: name clashes with a built-in measure")
        measures[name] = w
    return measures


def criticality(
    network: NetworkModel | IsolationIndex,
    *,
    weights: Mapping[str, np.ndarray] | None = None,
    rank_by: str = "links",
) -> Criticality:
    """Segment and valve criticality of the whole network.

    Parameters
    ----------
    network
        Model or prebuilt :class:`IsolationIndex`.
    weights
        Extra per-link measures, e.g. ``{"residents": residents_per_link}`` (arrays aligned with
        ``model.link_ids``). Built-in measures: ``links``, ``nodes`` and ``length_m`` (if the model
        has lengths).
    rank_by
        Measure that orders the valve table.
    """
    ix = network if isinstance(network, IsolationIndex) else isolation_index(network)
    model, seg = ix.model, ix.segments
    per_link = _per_link_measures(model, weights)
    if rank_by not in per_link and rank_by != "nodes":
        raise InvalidNetwork(f"rank_by {rank_by!r}: not one of {['nodes', *per_link]}")
    n_area, root = ix.n_areas, ix.root
    n_vert = n_area + 1
    seg_measures: dict[str, np.ndarray] = {
        name: np.bincount(seg.link_segment, weights=w, minlength=seg.n_segments) for name, w in per_link.items()
    }
    seg_measures["nodes"] = np.bincount(seg.node_segment, minlength=seg.n_segments).astype(np.float64)
    names = tuple(seg_measures)
    # Matrix of measures per DFS vertex (areas + root with zeros): shape (n_vert, k).
    wv = np.zeros((n_vert, len(names)))
    for j, name in enumerate(names):
        wv[:n_area, j] = np.bincount(ix.area_of_segment, weights=seg_measures[name], minlength=n_area)

    tin, tout, low, parent, order = ix.tin, ix.tout, ix.low, ix.parent, ix.dfs_order
    visited = tin >= 0
    pref = np.zeros((order.size + 1, len(names)))
    np.cumsum(wv[order], axis=0, out=pref[1:])
    subw = np.zeros((n_vert, len(names)))
    subw[visited] = pref[tout[visited]] - pref[tin[visited]]

    kids = np.flatnonzero(parent >= 0)
    pk = parent[kids]
    cut = low[kids] >= tin[pk]
    dead = np.zeros((n_vert, len(names)))
    np.add.at(dead, pk[cut], subw[kids[cut]])
    dead[root] = 0.0

    own_cost = wv + dead  # shutoff of a break in each area
    seg_frame = _segment_frame(ix, names, wv, dead)
    valve_frame = _valve_frame(ix, names, wv, subw, dead, own_cost, rank_by)
    return Criticality(segments=seg_frame, valves=valve_frame, measures=names)


def _segment_frame(ix: IsolationIndex, names: tuple[str, ...], wv: np.ndarray, dead: np.ndarray) -> pd.DataFrame:
    area = ix.area_of_segment
    ip = ix.area_valves[0]
    cols: dict[str, np.ndarray] = {"area": area, "valves_to_operate": (ip[1:] - ip[:-1])[area]}
    for j, name in enumerate(names):
        cols[f"isolated_{name}"] = wv[area, j]
        cols[f"unintended_{name}"] = dead[area, j]
        cols[f"shutoff_{name}"] = wv[area, j] + dead[area, j]
    frame = pd.DataFrame(cols)
    frame.index.name = "segment"
    return frame


def _sparse_table(values: np.ndarray) -> list[np.ndarray]:
    table = [values]
    k = 1
    while 2 * k <= values.size:
        prev = table[-1]
        table.append(np.minimum(prev[:-k], prev[k:]))
        k *= 2
    return table


def _range_min(table: list[np.ndarray], lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Min of ``values[lo:hi]`` per pair (``_INF`` for empty ranges), vectorised."""
    out = np.full(lo.size, _INF, dtype=np.int64)
    ok = hi > lo
    if not ok.any():
        return out
    length = hi[ok] - lo[ok]
    level = np.floor(np.log2(length)).astype(np.int64)
    res = np.empty(length.size, dtype=np.int64)
    for k in np.unique(level):
        sel = level == k
        t = table[k]
        res[sel] = np.minimum(t[lo[ok][sel]], t[hi[ok][sel] - (1 << k)])
    out[ok] = res
    return out


def _back_edge_data(ix: IsolationIndex) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per vertex: smallest back-edge target ``minback`` (own edges), ``low2`` (second-smallest
    distinct target over the subtree), and back edges as (source dfs position, target tin) sorted."""
    n_vert = ix.n_areas + 1
    tin, parent = ix.tin, ix.parent
    src = np.repeat(np.arange(n_vert), np.diff(ix.adj_indptr))
    dst = ix.adj_indices
    back = (tin[src] >= 0) & (tin[dst] < tin[src]) & (parent[src] != dst)
    s, t = src[back], tin[dst[back]]
    o = np.lexsort((t, s))
    s, t = s[o], t[o]
    first = np.ones(s.size, dtype=bool)
    first[1:] = s[1:] != s[:-1]
    min1 = np.full(n_vert, _INF, dtype=np.int64)
    min1[s[first]] = t[first]
    second = np.zeros(s.size, dtype=bool)
    second[1:] = (s[1:] == s[:-1]) & first[:-1]
    min2 = np.full(n_vert, _INF, dtype=np.int64)
    min2[s[second]] = t[second]
    # Bottom-up merge of the two smallest distinct targets (children before parents).
    m1, m2 = min1.tolist(), min2.tolist()
    par = parent.tolist()
    for v in reversed(ix.dfs_order.tolist()):
        p = par[v]
        if p < 0:
            continue
        a1, a2, b1, b2 = m1[p], m2[p], m1[v], m2[v]
        if b1 < a1:
            a1, a2, b1, b2 = b1, b2, a1, a2
        # now a1 <= b1: the smallest is a1, the second-smallest distinct follows
        second = (a2 if a2 < b2 else b2) if b1 == a1 else (a2 if a2 < b1 else b1)
        m1[p], m2[p] = a1, second
    pos = tin[s]
    o = np.argsort(pos, kind="stable")
    return min1, np.array(m2, dtype=np.int64), pos[o], t[o]


def _valve_frame(
    ix: IsolationIndex,
    names: tuple[str, ...],
    wv: np.ndarray,
    subw: np.ndarray,
    dead: np.ndarray,
    own_cost: np.ndarray,
    rank_by: str,
) -> pd.DataFrame:
    model, seg = ix.model, ix.segments
    tin, tout, low, parent = ix.tin, ix.tout, ix.low, ix.parent
    al, an = ix.valve_area_link, ix.valve_area_node
    valves = np.flatnonzero((model.valve_status == OPEN) & (al != an))
    x, y = al[valves], an[valves]
    swap = tin[y] < tin[x]
    a = np.where(swap, y, x)  # ancestor side (or either, if both dry)
    b = np.where(swap, x, y)
    k = len(names)
    merged_dead = np.zeros((valves.size, k))
    live = tin[a] >= 0

    ck_ip, ckids = ix.children
    child_parent = parent[ckids]
    # Tree edges: b is a's child.
    tree = live & (parent[b] == a)
    tb, ta = b[tree], a[tree]
    d_ix = np.repeat(np.arange(tb.size), ck_ip[tb + 1] - ck_ip[tb])
    d = csr_gather(ck_ip, ckids, tb)
    dead_d = low[d] >= tin[ta[d_ix]]
    acc = np.zeros((tb.size, k))
    np.add.at(acc, d_ix[dead_d], subw[d[dead_d]])
    b_was_cut = (low[tb] >= tin[ta])[:, None]
    merged_dead[tree] = dead[ta] - np.where(b_was_cut, subw[tb], 0.0) + acc

    back = live & ~tree
    if back.any():
        min1, low2, e_pos, e_tin = _back_edge_data(ix)
        table = _sparse_table(min1[ix.dfs_order])
        del min1
        ba, bb = a[back], b[back]
        key_n = np.int64(ix.n_areas + 2)
        keys = child_parent * key_n + tin[ckids]
        cb = ckids[np.searchsorted(keys, ba * key_n + tin[bb], side="right") - 1]
        part_a = dead[ba] - np.where((low[cb] >= tin[ba])[:, None], subw[cb], 0.0)
        q_w = subw[cb] - subw[bb]
        q_min = np.minimum(_range_min(table, tin[cb], tin[bb]), _range_min(table, tout[bb], tout[cb]))
        q_escape = q_min < tin[ba]
        del table, q_min
        d_ix = np.repeat(np.arange(ba.size), ck_ip[bb + 1] - ck_ip[bb])
        d = csr_gather(ck_ip, ckids, bb)
        ta_d, tb_d = tin[ba[d_ix]], tin[bb[d_ix]]
        direct = low[d] < ta_d
        nearest_above_a = np.where(low[d] > ta_d, low[d], low2[d])
        attach = ~direct & (nearest_above_a < tb_d)
        # Rare case: a child that escapes above a directly may also carry Q out.
        for i in np.flatnonzero(direct & ~q_escape[d_ix]):
            j = d_ix[i]
            if q_escape[j]:
                continue
            lo_, hi_ = np.searchsorted(e_pos, [tin[d[i]], tout[d[i]]])
            tt = e_tin[lo_:hi_]
            if ((tt > ta_d[i]) & (tt < tb_d[i])).any():
                q_escape[j] = True
        dead_child = ~direct & ~(attach & q_escape[d_ix])
        acc = np.zeros((ba.size, k))
        np.add.at(acc, d_ix[dead_child], subw[d[dead_child]])
        merged_dead[back] = part_a + np.where(q_escape[:, None], 0.0, q_w) + acc

    merged = wv[a] + wv[b] + merged_dead
    del merged_dead
    extra = merged - np.minimum(own_cost[a], own_cost[b])
    del a, b, x, y, swap
    # Sort (extra_<rank_by> desc, valve id asc) on arrays, then build the frame once in that order
    # (no DataFrame.sort_values: it factorises the id strings and copies every column).
    j_rank = names.index(rank_by)
    order = np.lexsort((model.valve_rank[valves], -extra[:, j_rank]))
    valves = valves[order]
    cols: dict[str, object] = {
        "valve": model.valve_ids[valves],
        "link": model.link_ids[model.valve_link[valves]],
        "node": model.node_ids[model.valve_node[valves]],
        "status": STATUS_NAMES[model.valve_status[valves]],
        "link_segment": seg.valve_link_segment[valves],
        "node_segment": seg.valve_node_segment[valves],
    }
    for j, name in enumerate(names):
        cols[f"shutoff_if_inoperable_{name}"] = merged[order, j]
        cols[f"extra_{name}"] = extra[order, j]
    del merged, extra, order
    return pd.DataFrame(cols)
