"""Valve segments: connected components of the node–link incidence graph after cutting
every valve's (link, node) incidence — the same partition as WNTR's ``valve_segments``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from network.model import NetworkModel

__all__ = ["Segments", "compute_segments", "csr_gather"]


@dataclass(frozen=True, eq=False)
class Segments:
    """Segment label of every link and node (ints ``0 .. n_segments-1``).

    ``valve_link_segment[v]`` / ``valve_node_segment[v]`` are the segments on the two sides of
    valve ``v`` (its link's and its node's); they can be equal when the valve does not separate
    anything (the link reaches the node round a loop without passing a valve).
    """

    link_segment: np.ndarray
    node_segment: np.ndarray
    n_segments: int
    valve_link_segment: np.ndarray
    valve_node_segment: np.ndarray

    @cached_property
    def links_of_segment(self) -> tuple[np.ndarray, np.ndarray]:
        """CSR (indptr, link indices) of the links in each segment."""
        return _members(self.link_segment, self.n_segments)

    @cached_property
    def nodes_of_segment(self) -> tuple[np.ndarray, np.ndarray]:
        """CSR (indptr, node indices) of the nodes in each segment."""
        return _members(self.node_segment, self.n_segments)


def _members(labels: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(labels, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(labels, minlength=n), out=indptr[1:])
    return indptr, order.astype(np.int64)


def csr_gather(indptr: np.ndarray, indices: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Concatenate ``indices[indptr[r]:indptr[r+1]]`` for every ``r`` in ``rows``, vectorised."""
    rows = np.asarray(rows, dtype=np.int64)
    starts = indptr[rows]
    lens = indptr[rows + 1] - starts
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, dtype=indices.dtype)
    offsets = np.repeat(starts - np.concatenate(([0], np.cumsum(lens)[:-1])), lens)
    return indices[offsets + np.arange(total)]


def compute_segments(model: NetworkModel) -> Segments:
    """Segments of ``model`` (valve statuses do not matter: every valve is a segment boundary).

    Vertices of the incidence graph are links ``0..L-1`` and nodes ``L..L+N-1``; each link has
    two incidences (start, end) and a valve on (link, node) removes the incidence at that end.
    """
    n_l, n_n = model.n_links, model.n_nodes
    cut_start = np.zeros(n_l, dtype=bool)
    cut_end = np.zeros(n_l, dtype=bool)
    vl, vn = model.valve_link, model.valve_node
    cut_start[vl[model.link_start[vl] == vn]] = True
    cut_end[vl[model.link_end[vl] == vn]] = True
    links = np.arange(n_l, dtype=np.int64)
    keep_s, keep_e = ~cut_start, ~cut_end
    rows = np.concatenate([links[keep_s], links[keep_e]])
    cols = np.concatenate([model.link_start[keep_s], model.link_end[keep_e]]) + n_l
    n_v = n_l + n_n
    graph = sp.csr_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=(n_v, n_v))
    n_seg, labels = connected_components(graph, directed=False)
    labels = labels.astype(np.int64)
    link_seg, node_seg = labels[:n_l], labels[n_l:]
    return Segments(
        link_segment=link_seg,
        node_segment=node_seg,
        n_segments=int(n_seg),
        valve_link_segment=link_seg[vl],
        valve_node_segment=node_seg[vn],
    )
