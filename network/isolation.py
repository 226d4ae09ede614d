"""Isolation of breaks: which valves to close and what goes dry (docs/domain.md, steps 1–7).

Work happens on the *segment graph* (segments as vertices, valves as edges between the segment of
the valve's link and the segment of its node), never on pipes:

- segments joined by inoperable valves form one *break area*: a break anywhere in an area has to
  shut the whole area (step 2), so areas are precomputed once;
- areas joined by open valves, plus a super-source joined to every area holding a source, form the
  *area graph*; one iterative DFS from the super-source gives discovery times and low-links, and
  removing area ``r`` cuts off exactly the DFS subtrees of the children ``c`` of ``r`` with
  ``low[c] >= tin[r]`` (the dominator tree of an undirected graph). A single-break query is then
  O(size of the answer).
- several breaks in different areas, or extra inoperable valves, take the general path: two
  ``connected_components`` runs on the segment graph, O(segments + valves).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from network.model import CLOSED, INOPERABLE, OPEN, NetworkModel
from network.segments import Segments, compute_segments, csr_gather

__all__ = ["IsolationIndex", "IsolationResult", "isolation_index", "isolate", "isolate_each"]


@dataclass(frozen=True)
class IsolationResult:
    """Shutoff plan for one or more simultaneous breaks; every list holds sorted string ids."""

    pipes: list[str]
    valves_to_close: list[str]
    optional_valves: list[str]
    isolated_links: list[str]
    isolated_nodes: list[str]
    unintended_links: list[str]
    unintended_nodes: list[str]

    @property
    def pipe(self) -> str:
        """The (first) broken pipe."""
        return self.pipes[0]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict in the CLI's shape (``pipe`` for one break, ``pipes`` for several)."""
        d = asdict(self)
        pipes = d.pop("pipes")
        head: dict[str, Any] = {"pipe": pipes[0]} if len(pipes) == 1 else {"pipes": pipes}
        return {**head, **d}


@dataclass(frozen=True)
class _Plan:
    """Index form of an isolation result (unsorted unique int indices)."""

    valves_to_close: np.ndarray
    optional_valves: np.ndarray
    isolated_links: np.ndarray
    isolated_nodes: np.ndarray
    unintended_links: np.ndarray
    unintended_nodes: np.ndarray


class IsolationIndex:
    """Precomputed segment and area graphs of a model; answers isolation queries.

    Build with :func:`isolation_index` (cached per model). Attributes are int numpy arrays.
    """

    def __init__(self, model: NetworkModel, segments: Segments | None = None) -> None:
        self.model = model
        self.segments = segments if segments is not None else compute_segments(model)
        seg = self.segments
        n_seg = seg.n_segments
        status = model.valve_status
        vl, vn = seg.valve_link_segment, seg.valve_node_segment

        self.segment_has_source = np.zeros(n_seg, dtype=bool)
        self.segment_has_source[seg.node_segment[model.is_source]] = True

        # Break areas: segments joined by inoperable valves.
        inop = (status == INOPERABLE) & (vl != vn)
        n_area, area = _components(n_seg, vl[inop], vn[inop])
        self.n_areas = n_area
        self.area_of_segment = area
        order = np.argsort(area, kind="stable")
        self.segments_of_area = (np.concatenate(([0], np.cumsum(np.bincount(area, minlength=n_area)))),
                                 order.astype(np.int64))
        self.valve_area_link = area[vl]
        self.valve_area_node = area[vn]

        # Open valves between different areas = edges of the area graph; per area, its valves.
        al, an = self.valve_area_link, self.valve_area_node
        edge_valves = np.flatnonzero((status == OPEN) & (al != an))
        rows = np.concatenate([al[edge_valves], an[edge_valves]])
        vals = np.concatenate([edge_valves, edge_valves])
        o = np.argsort(rows, kind="stable")
        self.area_valves = (np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=n_area)))),
                            vals[o].astype(np.int64))

        # Simple undirected area graph + super-source (vertex n_area).
        root = n_area
        src_areas = np.unique(area[self.segment_has_source])
        a = np.concatenate([al[edge_valves], src_areas])
        b = np.concatenate([an[edge_valves], np.full(src_areas.size, root)])
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        pairs = np.unique(lo * (n_area + 1) + hi)
        lo, hi = pairs // (n_area + 1), pairs % (n_area + 1)
        self.edge_lo, self.edge_hi = lo, hi
        n_vert = n_area + 1
        src = np.concatenate([lo, hi])
        dst = np.concatenate([hi, lo])
        o = np.argsort(src, kind="stable")
        indptr = np.concatenate(([0], np.cumsum(np.bincount(src, minlength=n_vert))))
        self.adj_indptr, self.adj_indices = indptr, dst[o]
        tin, tout, parent, low, order_ = _dfs(n_vert, indptr, self.adj_indices, root)
        self.root = root
        self.tin, self.tout, self.parent, self.low, self.dfs_order = tin, tout, parent, low, order_
        # Tree children of every vertex, sorted by discovery time.
        kids = np.flatnonzero(parent >= 0)
        o = np.lexsort((tin[kids], parent[kids]))
        kids = kids[o]
        self.children = (np.concatenate(([0], np.cumsum(np.bincount(parent[kids], minlength=n_vert)))), kids)

    # -- general path -------------------------------------------------------------------------
    @cached_property
    def live_before(self) -> np.ndarray:
        """Bool per segment: reaches a source with the normally-closed valves closed."""
        return _live_segments(self, self.model.valve_status, np.zeros(self.segments.n_segments, bool))

    def dead_areas(self, r: int) -> np.ndarray:
        """Areas that reached a source before and do not once area ``r`` is shut (DFS subtrees)."""
        if self.tin[r] < 0:
            return np.zeros(0, dtype=np.int64)
        ip, kids = self.children
        ch = kids[ip[r] : ip[r + 1]]
        cut = ch[self.low[ch] >= self.tin[r]]
        return _ranges(self.dfs_order, self.tin[cut], self.tout[cut])

    def plan(self, links: np.ndarray, extra_inoperable: np.ndarray | None = None) -> _Plan:
        """Isolation plan (index form) for breaks on ``links`` (link indices)."""
        links = np.unique(np.asarray(links, dtype=np.int64))
        extra = np.unique(np.asarray(extra_inoperable if extra_inoperable is not None else [], np.int64))
        if extra.size:
            extra = extra[self.model.valve_status[extra] != INOPERABLE]
        areas = np.unique(self.area_of_segment[self.segments.link_segment[links]])
        if areas.size == 1 and extra.size == 0:
            return self._plan_one_area(int(areas[0]))
        return self._plan_general(links, extra)

    def _plan_one_area(self, r: int) -> _Plan:
        seg = self.segments
        tin, tout, low = self.tin, self.tout, self.low
        r_segs = self.segments_of_area[1][self.segments_of_area[0][r] : self.segments_of_area[0][r + 1]]
        dead = self.dead_areas(r)
        dead_segs = csr_gather(self.segments_of_area[0], self.segments_of_area[1], dead)
        ip, vals = self.area_valves
        cand = vals[ip[r] : ip[r + 1]]
        cand = np.unique(cand)
        al, an = self.valve_area_link[cand], self.valve_area_node[cand]
        outer = np.where(al == r, an, al)
        alive_before = tin[outer] >= 0
        # An outer area is cut off iff it lies in the subtree of a cut child of r.
        ck_ip, kids = self.children
        ch = kids[ck_ip[r] : ck_ip[r + 1]]
        below = (tin[outer] > tin[r]) & (tin[outer] < tout[r]) & alive_before
        in_dead = np.zeros(outer.size, dtype=bool)
        if ch.size and below.any():
            k = np.searchsorted(tin[ch], tin[outer[below]], side="right") - 1
            in_dead[below] = low[ch[k]] >= tin[r]
        alive_after = alive_before & ~in_dead if tin[r] >= 0 else np.zeros(outer.size, bool)
        return _plan_of(seg, cand, alive_after, r_segs, dead_segs)

    def _plan_general(self, links: np.ndarray, extra: np.ndarray) -> _Plan:
        seg = self.segments
        status = self.model.valve_status
        if extra.size:
            status = status.copy()
            status[extra] = INOPERABLE
        vl, vn = seg.valve_link_segment, seg.valve_node_segment
        inop = (status == INOPERABLE) & (vl != vn)
        _, label = _components(seg.n_segments, vl[inop], vn[inop])
        in_r = np.isin(label, label[seg.link_segment[links]])
        before = self.live_before if extra.size == 0 or not (self.model.valve_status[extra] == CLOSED).any() \
            else _live_segments(self, status, np.zeros(seg.n_segments, bool))
        after = _live_segments(self, status, in_r)
        boundary = in_r[vl] != in_r[vn]
        cand = np.flatnonzero(boundary & (status == OPEN))
        outer = np.where(in_r[vl[cand]], vn[cand], vl[cand])
        to_close = after[outer]
        r_segs = np.flatnonzero(in_r)
        dead_segs = np.flatnonzero(before & ~after & ~in_r)
        return _plan_of(seg, cand, to_close, r_segs, dead_segs)

    def isolate(self, pipes: str | Iterable[str], *, extra_inoperable: Iterable[str] = ()) -> IsolationResult:
        """Shutoff plan for breaks on ``pipes`` isolated together; see :func:`isolate`."""
        names = [pipes] if isinstance(pipes, str) else [str(p) for p in pipes]
        if not names:
            raise ValueError("isolate: no pipes given")
        m = self.model
        p = self.plan(m.link_indices(names), m.valve_indices(extra_inoperable))
        return IsolationResult(
            pipes=names,
            valves_to_close=m.sorted_valve_ids(p.valves_to_close),
            optional_valves=m.sorted_valve_ids(p.optional_valves),
            isolated_links=m.sorted_link_ids(p.isolated_links),
            isolated_nodes=m.sorted_node_ids(p.isolated_nodes),
            unintended_links=m.sorted_link_ids(p.unintended_links),
            unintended_nodes=m.sorted_node_ids(p.unintended_nodes),
        )


def _plan_of(seg: Segments, cand: np.ndarray, keep: np.ndarray, r_segs: np.ndarray,
             dead_segs: np.ndarray) -> _Plan:
    """A plan from the boundary candidates (``keep``: must close), the region's and the dry segments."""
    return _Plan(
        valves_to_close=cand[keep],
        optional_valves=cand[~keep],
        isolated_links=csr_gather(*seg.links_of_segment, r_segs),
        isolated_nodes=csr_gather(*seg.nodes_of_segment, r_segs),
        unintended_links=csr_gather(*seg.links_of_segment, dead_segs),
        unintended_nodes=csr_gather(*seg.nodes_of_segment, dead_segs),
    )


def _ranges(values: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Concatenate ``values[a:b]`` for the (start, stop) pairs."""
    lens = (stops - starts).astype(np.int64)
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.concatenate(([0], np.cumsum(lens)[:-1])), lens)
    return values[offsets + np.arange(total)]


def _components(n: int, a: np.ndarray, b: np.ndarray) -> tuple[int, np.ndarray]:
    g = sp.csr_matrix((np.ones(a.size, dtype=np.int8), (a, b)), shape=(n, n))
    k, labels = connected_components(g, directed=False)
    return int(k), labels.astype(np.int64)


def _live_segments(index: IsolationIndex, status: np.ndarray, removed: np.ndarray) -> np.ndarray:
    """Segments connected to a source through non-closed valves, with ``removed`` segments shut."""
    seg = index.segments
    n = seg.n_segments
    vl, vn = seg.valve_link_segment, seg.valve_node_segment
    keep = (status != CLOSED) & ~removed[vl] & ~removed[vn]
    srcs = np.flatnonzero(index.segment_has_source & ~removed)
    a = np.concatenate([vl[keep], srcs])
    b = np.concatenate([vn[keep], np.full(srcs.size, n)])
    _, labels = _components(n + 1, a, b)
    return labels[:n] == labels[n]


def _dfs(n: int, indptr: np.ndarray, indices: np.ndarray, root: int) -> tuple[np.ndarray, ...]:
    """Iterative DFS from ``root`` on a simple undirected graph (CSR).

    Returns discovery time ``tin`` (-1 if unreached), ``tout`` (first time after the subtree),
    tree ``parent`` (-1 for root/unreached), ``low`` (lowest ``tin`` reachable from the subtree by
    one back edge) and the DFS ``order`` (vertex of each discovery time).
    """
    ip = indptr.tolist()
    nb = indices.tolist()
    tin = [-1] * n
    tout = [0] * n
    parent = [-1] * n
    low = [0] * n
    nxt = ip[:-1]
    order = [root]
    tin[root] = 0
    t = 1
    stack = [root]
    while stack:
        v = stack[-1]
        i = nxt[v]
        if i < ip[v + 1]:
            nxt[v] = i + 1
            w = nb[i]
            tw = tin[w]
            if tw < 0:
                tin[w] = low[w] = t
                t += 1
                parent[w] = v
                order.append(w)
                stack.append(w)
            elif tw < low[v] and w != parent[v]:
                low[v] = tw
        else:
            stack.pop()
            tout[v] = t
            p = parent[v]
            if p >= 0 and low[v] < low[p]:
                low[p] = low[v]
    return (np.array(tin, dtype=np.int64), np.array(tout, dtype=np.int64), np.array(parent, dtype=np.int64),
            np.array(low, dtype=np.int64), np.array(order, dtype=np.int64))


_CACHE: weakref.WeakKeyDictionary[NetworkModel, IsolationIndex] = weakref.WeakKeyDictionary()


def isolation_index(model: NetworkModel) -> IsolationIndex:
    """The :class:`IsolationIndex` of ``model``, built once and cached while the model lives."""
    index = _CACHE.get(model)
    if index is None:
        index = _CACHE[model] = IsolationIndex(model)
    return index


def isolate(
    network: NetworkModel | IsolationIndex,
    pipes: str | Iterable[str],
    *,
    extra_inoperable: Iterable[str] = (),
) -> IsolationResult:
    """Shutoff plan for breaks on ``pipes`` (one id or several isolated together).

    Parameters
    ----------
    network
        A model (its index is built once and cached) or a prebuilt :class:`IsolationIndex`.
    pipes
        Broken link id(s); several breaks are isolated together (union of their regions).
    extra_inoperable
        Valve ids to treat as inoperable for this plan, e.g. a valve found stuck on site.

    Raises
    ------
    UnknownPipe, UnknownValve
        An id not in the network / valve layer.
    """
    index = network if isinstance(network, IsolationIndex) else isolation_index(network)
    return index.isolate(pipes, extra_inoperable=extra_inoperable)


def isolate_each(
    network: NetworkModel | IsolationIndex, pipes: Iterable[str], *, extra_inoperable: Iterable[str] = ()
) -> list[IsolationResult]:
    """One plan per pipe, each break on its own (the CLI's ``isolate``)."""
    index = network if isinstance(network, IsolationIndex) else isolation_index(network)
    extra = list(extra_inoperable)
    names = [str(p) for p in pipes]
    index.model.link_indices(names)  # raise on any unknown pipe before doing work
    return [index.isolate(p, extra_inoperable=extra) for p in names]
