"""Network model: links with end nodes, a valve layer and sources, as numpy arrays.

Ids are strings; every id is mapped once to an int index (position in ``link_ids``,
``node_ids``, ``valve_ids``) and the engine works on int arrays only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from network.errors import (
    InvalidNetwork,
    InvalidValve,
    UnknownPipe,
    UnknownValve,
    one_line,
)

__all__ = [
    "OPEN",
    "CLOSED",
    "INOPERABLE",
    "VALVE_STATUSES",
    "NetworkModel",
    "network_from_arrays",
    "network_from_frames",
    "with_valve_layer",
    "with_valve_status",
]

OPEN, CLOSED, INOPERABLE = 0, 1, 2
VALVE_STATUSES: dict[str, int] = {"open": OPEN, "closed": CLOSED, "inoperable": INOPERABLE}
STATUS_NAMES = np.array(["open", "closed", "inoperable"], dtype=object)


def _str_array(values: Iterable[Any]) -> np.ndarray:
    """Object array of str ids (no round trip through fixed-width unicode: 1 M ids stay cheap)."""
    items = values.tolist() if isinstance(values, (np.ndarray, pd.Index, pd.Series)) else list(values)
    out = np.empty(len(items), dtype=object)
    out[:] = [v if type(v) is str else str(v) for v in items]
    return out


@dataclass(frozen=True, eq=False)
class NetworkModel:
    """A water network as arrays (immutable; build with :func:`network_from_arrays`).

    Attributes
    ----------
    link_ids, node_ids, valve_ids
        Object arrays of str ids; the index of an id is its position.
    link_start, link_end
        Node index of each link's ends (int64). Every link conducts (pipes, pumps, control valves).
    is_source
        Bool per node: reservoirs, tanks, pumping-station inlets.
    valve_link, valve_node, valve_status
        Valve layer: valve ``v`` sits on link ``valve_link[v]`` next to node ``valve_node[v]``;
        status is :data:`OPEN`, :data:`CLOSED` (normally closed) or :data:`INOPERABLE`.
    link_length_m
        Optional float array of link lengths in metres.
    """

    link_ids: np.ndarray
    node_ids: np.ndarray
    link_start: np.ndarray
    link_end: np.ndarray
    is_source: np.ndarray
    valve_ids: np.ndarray
    valve_link: np.ndarray
    valve_node: np.ndarray
    valve_status: np.ndarray
    link_length_m: np.ndarray | None = None

    @property
    def n_links(self) -> int:
        return len(self.link_ids)

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def n_valves(self) -> int:
        return len(self.valve_ids)

    @cached_property
    def _link_index(self) -> pd.Index:
        return _object_index(self.link_ids)

    @cached_property
    def _node_index(self) -> pd.Index:
        return _object_index(self.node_ids)

    @cached_property
    def _valve_index(self) -> pd.Index:
        return _object_index(self.valve_ids)

    @cached_property
    def link_rank(self) -> np.ndarray:
        """Rank of each link id in sorted (string) order, to emit sorted id lists fast."""
        return _rank(self.link_ids)

    @cached_property
    def node_rank(self) -> np.ndarray:
        return _rank(self.node_ids)

    @cached_property
    def valve_rank(self) -> np.ndarray:
        return _rank(self.valve_ids)

    def link_indices(self, ids: Iterable[str]) -> np.ndarray:
        """Indices of link ids; raises :class:`UnknownPipe` naming the unknown ones."""
        ids = [str(i) for i in ids]
        idx = self._link_index.get_indexer(ids) if ids else np.array([], dtype=np.int64)
        if (idx < 0).any():
            bad = [i for i, k in zip(ids, idx) if k < 0]
            raise UnknownPipe(f"unknown pipe {one_line([repr(b) for b in bad])}: not a link of the network")
        return idx.astype(np.int64)

    def valve_indices(self, ids: Iterable[str]) -> np.ndarray:
        """Indices of valve ids; raises :class:`UnknownValve` naming the unknown ones."""
        ids = [str(i) for i in ids]
        idx = self._valve_index.get_indexer(ids) if ids else np.array([], dtype=np.int64)
        if (idx < 0).any():
            bad = [i for i, k in zip(ids, idx) if k < 0]
            raise UnknownValve(f"unknown valve {one_line([repr(b) for b in bad])}: not in the valve layer")
        return idx.astype(np.int64)

    def node_indices(self, ids: Iterable[str]) -> np.ndarray:
        ids = [str(i) for i in ids]
        idx = self._node_index.get_indexer(ids) if ids else np.array([], dtype=np.int64)
        if (idx < 0).any():
            bad = [i for i, k in zip(ids, idx) if k < 0]
            raise InvalidNetwork(f"unknown node {one_line([repr(b) for b in bad])}")
        return idx.astype(np.int64)

    def sorted_link_ids(self, idx: np.ndarray) -> list[str]:
        """Link ids of ``idx`` (unique indices) sorted as strings."""
        idx = np.asarray(idx, dtype=np.int64)
        return self.link_ids[idx[np.argsort(self.link_rank[idx], kind="stable")]].tolist()

    def sorted_node_ids(self, idx: np.ndarray) -> list[str]:
        idx = np.asarray(idx, dtype=np.int64)
        return self.node_ids[idx[np.argsort(self.node_rank[idx], kind="stable")]].tolist()

    def sorted_valve_ids(self, idx: np.ndarray) -> list[str]:
        idx = np.asarray(idx, dtype=np.int64)
        return self.valve_ids[idx[np.argsort(self.valve_rank[idx], kind="stable")]].tolist()


def _object_index(ids: np.ndarray) -> pd.Index:
    """Index over the str objects themselves (``dtype=object``): pandas would otherwise infer its
    ``str`` dtype and copy every id into a pyarrow array (about twice the memory at 1 M ids)."""
    return pd.Index(ids, dtype=object, copy=False)


_LINK_NODE_CACHES = ("_link_index", "_node_index", "link_rank", "node_rank")
_VALVE_CACHES = ("_valve_index", "valve_rank")


def _replace(model: NetworkModel, **changes: Any) -> NetworkModel:
    """``dataclasses.replace`` that keeps the cached id indexes/ranks still valid for the copy."""
    new = replace(model, **changes)
    keep = _LINK_NODE_CACHES + (() if "valve_ids" in changes else _VALVE_CACHES)
    for name in keep:
        if name in model.__dict__:
            new.__dict__[name] = model.__dict__[name]
    return new


def _rank(ids: np.ndarray) -> np.ndarray:
    order = np.argsort(ids.astype(str), kind="stable") if len(ids) else np.array([], dtype=np.int64)
    rank = np.empty(len(ids), dtype=np.int64)
    rank[order] = np.arange(len(ids))
    return rank


def network_from_arrays(
    link_ids: Sequence[str] | np.ndarray,
    start_node_ids: Sequence[str] | np.ndarray,
    end_node_ids: Sequence[str] | np.ndarray,
    *,
    source_ids: Iterable[str] = (),
    node_ids: Sequence[str] | np.ndarray | None = None,
    valve_links: Sequence[str] | np.ndarray = (),
    valve_nodes: Sequence[str] | np.ndarray = (),
    valve_ids: Sequence[str] | np.ndarray | None = None,
    valve_statuses: Sequence[str] | np.ndarray | None = None,
    length_m: Sequence[float] | np.ndarray | None = None,
    source_name: str = "network",
) -> NetworkModel:
    """Build a :class:`NetworkModel` from id arrays.

    Parameters
    ----------
    link_ids, start_node_ids, end_node_ids
        One entry per link (pipe, pump or control valve; all conduct).
    source_ids
        Nodes that supply water (reservoirs, tanks, station inlets).
    node_ids
        All nodes, including unconnected ones; default: the link ends and sources in order of appearance.
    valve_links, valve_nodes
        Valve layer as (link, node) pairs: the valve sits on the link next to the node.
    valve_ids
        Valve ids (default: ``"0"``, ``"1"``, ... by position).
    valve_statuses
        ``open`` (default), ``closed`` or ``inoperable`` per valve.
    length_m
        Optional link lengths in metres.
    source_name
        Name of the input used in error messages (e.g. the file name).

    Raises
    ------
    InvalidNetwork
        Duplicate link or node ids, link ends or sources not among ``node_ids``.
    InvalidValve
        Unknown link or node, node not an end of its link, bad status, duplicate valve id.
    """
    links = _str_array(link_ids)
    starts = _str_array(start_node_ids)
    ends = _str_array(end_node_ids)
    sources = _str_array(list(source_ids))
    if not (len(links) == len(starts) == len(ends)):
        raise InvalidNetwork(f"{source_name}: link_ids, start and end node arrays differ in length")
    problems: list[str] = []
    link_index = _object_index(links)
    if not link_index.is_unique:
        dup = link_index[link_index.duplicated()].unique().tolist()[:5]
        problems.append(f"duplicate link ids {dup}")
    if node_ids is None:
        codes, uniques = pd.factorize(np.concatenate([starts, ends, sources]))
        nodes = np.asarray(uniques, dtype=object)
        node_index = None
        n_l = len(links)
        start_idx, end_idx = codes[:n_l].astype(np.int64), codes[n_l : 2 * n_l].astype(np.int64)
        src_idx = codes[2 * n_l :].astype(np.int64)
    else:
        nodes = _str_array(node_ids)
        node_index = _object_index(nodes)
        if not node_index.is_unique:
            dup = node_index[node_index.duplicated()].unique().tolist()[:5]
            raise InvalidNetwork(f"{source_name}: duplicate node ids {dup}")
        start_idx = node_index.get_indexer(starts).astype(np.int64)
        end_idx = node_index.get_indexer(ends).astype(np.int64)
        src_idx = node_index.get_indexer(sources).astype(np.int64)
        for name, arr, ref in (("start node", start_idx, starts), ("end node", end_idx, ends)):
            bad = np.flatnonzero(arr < 0)
            if bad.size:
                problems.append(
                    f"{bad.size} links with unknown {name}, e.g. link {links[bad[0]]!r} -> {ref[bad[0]]!r}"
                )
        bad = np.flatnonzero(src_idx < 0)
        if bad.size:
            problems.append(f"unknown source nodes {sources[bad[:5]].tolist()}")
    if problems:
        raise InvalidNetwork(f"{source_name}: {one_line(problems)}")
    is_source = np.zeros(len(nodes), dtype=bool)
    is_source[src_idx] = True

    lengths = None
    if length_m is not None:
        lengths = np.asarray(length_m, dtype=np.float64)
        if lengths.shape != (len(links),):
            raise InvalidNetwork(f"{source_name}: length_m has {lengths.size} values for {len(links)} links")

    base = NetworkModel(
        link_ids=links,
        node_ids=nodes,
        link_start=start_idx,
        link_end=end_idx,
        is_source=is_source,
        valve_ids=np.array([], dtype=object),
        valve_link=np.array([], dtype=np.int64),
        valve_node=np.array([], dtype=np.int64),
        valve_status=np.array([], dtype=np.int8),
        link_length_m=lengths,
    )
    # Reuse the hash indexes built for validation (the model caches them lazily otherwise).
    base.__dict__["_link_index"] = link_index
    if node_index is not None:
        base.__dict__["_node_index"] = node_index
    return _with_valves(base, valve_links, valve_nodes, valve_ids, valve_statuses, source_name)


def _with_valves(
    base: NetworkModel,
    valve_links: Sequence[str] | np.ndarray,
    valve_nodes: Sequence[str] | np.ndarray,
    valve_ids: Sequence[str] | np.ndarray | None,
    valve_statuses: Sequence[str] | np.ndarray | None,
    source_name: str,
) -> NetworkModel:
    v_links = _str_array(valve_links)
    v_nodes = _str_array(valve_nodes)
    n_v = len(v_links)
    if len(v_nodes) != n_v:
        raise InvalidValve(f"{source_name}: valve link and node arrays differ in length")
    ids = _str_array(valve_ids) if valve_ids is not None else np.arange(n_v).astype(str).astype(object)
    if len(ids) != n_v:
        raise InvalidValve(f"{source_name}: {len(ids)} valve ids for {n_v} valves")
    problems: list[str] = []
    id_index = _object_index(ids)
    if not id_index.is_unique:
        problems.append(f"duplicate valve ids {id_index[id_index.duplicated()].unique().tolist()[:5]}")
    if valve_statuses is None:
        status = np.zeros(n_v, dtype=np.int8)
    else:
        raw = _str_array(valve_statuses)
        if len(raw) != n_v:
            raise InvalidValve(f"{source_name}: {len(raw)} valve statuses for {n_v} valves")
        # Normalise the few distinct spellings, not every valve's string (1 M temporary strs).
        raw_codes, uniques = pd.factorize(raw, use_na_sentinel=False)
        norm = pd.Series(uniques, dtype=object).str.strip().str.lower().replace("", "open")
        codes = pd.Series(norm.map(VALVE_STATUSES).to_numpy()[raw_codes])
        bad = np.flatnonzero(codes.isna().to_numpy())
        for b in bad[:5]:
            problems.append(f"valve {ids[b]!r}: bad status {raw[b]!r} (expected open|closed|inoperable)")
        if len(bad) > 5:
            problems.append(f"{len(bad) - 5} more valves with a bad status")
        status = codes.fillna(0).to_numpy().astype(np.int8)

    link_idx = base._link_index.get_indexer(v_links).astype(np.int64) if n_v else np.zeros(0, np.int64)
    node_idx = base._node_index.get_indexer(v_nodes).astype(np.int64) if n_v else np.zeros(0, np.int64)
    bad = np.flatnonzero(link_idx < 0)
    for b in bad[:5]:
        problems.append(f"valve {ids[b]!r}: unknown link {v_links[b]!r}")
    bad_n = np.flatnonzero(node_idx < 0)
    for b in bad_n[:5]:
        problems.append(f"valve {ids[b]!r}: unknown node {v_nodes[b]!r}")
    ok = (link_idx >= 0) & (node_idx >= 0)
    li = np.where(ok, link_idx, 0)
    not_end = ok & (base.link_start[li] != node_idx) & (base.link_end[li] != node_idx) if n_v else ok
    for b in np.flatnonzero(not_end)[:5]:
        problems.append(f"valve {ids[b]!r}: node {v_nodes[b]!r} is not an end of link {v_links[b]!r}")
    n_problems = len(bad) + len(bad_n) + int(not_end.sum())
    if n_problems > 15:
        problems.append(f"{n_problems} valves reference links/nodes wrongly in total")
    if problems:
        raise InvalidValve(f"{source_name}: {one_line(problems)}")
    return _replace(base, valve_ids=ids, valve_link=link_idx, valve_node=node_idx, valve_status=status)


def with_valve_layer(
    model: NetworkModel,
    valve_links: Sequence[str] | np.ndarray,
    valve_nodes: Sequence[str] | np.ndarray,
    *,
    valve_ids: Sequence[str] | np.ndarray | None = None,
    valve_statuses: Sequence[str] | np.ndarray | None = None,
    source_name: str = "valves",
) -> NetworkModel:
    """A copy of ``model`` with its valve layer replaced (validated as in :func:`network_from_arrays`)."""
    return _with_valves(model, valve_links, valve_nodes, valve_ids, valve_statuses, source_name)


def network_from_frames(
    links: pd.DataFrame,
    valves: pd.DataFrame | None = None,
    *,
    source_ids: Iterable[str] = (),
    node_ids: Sequence[str] | None = None,
    source_name: str = "network",
) -> NetworkModel:
    """Build a model from DataFrames.

    Parameters
    ----------
    links
        Columns ``id``, ``start_node``, ``end_node`` and optionally ``length_m`` (metres).
    valves
        Columns ``link``, ``node`` and optionally ``id`` (default: 0-based row number as str)
        and ``status`` (``open`` | ``closed`` | ``inoperable``; missing values mean ``open``).
    source_ids, node_ids, source_name
        As in :func:`network_from_arrays`.
    """
    missing = [c for c in ("id", "start_node", "end_node") if c not in links.columns]
    if missing:
        raise InvalidNetwork(f"{source_name}: links lack columns {missing}")
    v = valves if valves is not None else pd.DataFrame({"link": [], "node": []})
    missing = [c for c in ("link", "node") if c not in v.columns]
    if missing:
        raise InvalidValve(f"{source_name}: valves lack columns {missing}")
    return network_from_arrays(
        links["id"].to_numpy(),
        links["start_node"].to_numpy(),
        links["end_node"].to_numpy(),
        source_ids=source_ids,
        node_ids=node_ids,
        valve_links=v["link"].to_numpy(),
        valve_nodes=v["node"].to_numpy(),
        valve_ids=v["id"].to_numpy() if "id" in v.columns else None,
        valve_statuses=v["status"].fillna("open").to_numpy() if "status" in v.columns else None,
        length_m=links["length_m"].to_numpy() if "length_m" in links.columns else None,
        source_name=source_name,
    )


def with_valve_status(model: NetworkModel, statuses: Mapping[str, str]) -> NetworkModel:
    """A copy of ``model`` with some valves' status replaced, e.g. ``{"V7": "inoperable"}``."""
    if not statuses:
        return model
    idx = model.valve_indices(statuses.keys())
    status = model.valve_status.copy()
    for i, (vid, s) in zip(idx, statuses.items()):
        code = VALVE_STATUSES.get(str(s).strip().lower())
        if code is None:
            raise InvalidValve(f"valve {vid!r}: bad status {s!r} (expected open|closed|inoperable)")
        status[i] = code
    return _replace(model, valve_status=status)
