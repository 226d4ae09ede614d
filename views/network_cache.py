"""The network graph, built once per (network, revision) and shared by every session and rerun."""
from __future__ import annotations

import time
from typing import Any

import streamlit as st

from views.common import engine


@st.cache_resource(show_spinner=False, max_entries=8)
def _index(network_id: int, revision: int) -> Any:
    from network.isolation import isolation_index
    from network.repo import load_network

    with engine().connect() as conn:
        model = load_network(conn, network_id)
    return isolation_index(model)


def network_index(network_id: int) -> Any:
    """The isolation index of the network as the database has it now (valve statuses included)."""
    from network.repo import network_revision

    rev = network_revision(engine(), network_id)
    return _index(network_id, rev or 0)


@st.cache_resource(show_spinner=False, max_entries=4)
def _criticality(network_id: int, revision: int) -> tuple[Any, float]:
    from network.criticality import criticality
    from network.repo import customers_per_link

    index = _index(network_id, revision)
    started = time.perf_counter()
    with engine().connect() as conn:
        weights = customers_per_link(conn, index.model, network_id)
    result = criticality(index, weights=weights, rank_by="residents")
    return result, time.perf_counter() - started


def network_criticality(network_id: int) -> tuple[Any, float]:
    from network.repo import network_revision

    return _criticality(network_id, network_revision(engine(), network_id) or 0)
