"""Adapters from EPANET .inp files: links = pipes + pumps + valves, sources = reservoirs + tanks.

Two readers give the same model (tested on every network shipped with WNTR):

- :func:`read_inp` goes through WNTR's full parser (the reference; ~4 s just to import wntr);
- :func:`read_inp_topology` reads only the sections the graph engine needs
  ([JUNCTIONS], [RESERVOIRS], [TANKS], [PIPES], [PUMPS], [VALVES], [OPTIONS] units),
  which keeps the CLI quick.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from network.errors import InputFileError, NetworkError
from network.model import NetworkModel, network_from_arrays

__all__ = ["network_from_wntr", "read_inp", "read_inp_topology"]

_US_FLOW_UNITS = {"CFS", "GPM", "MGD", "IMGD", "AFD"}
_FT_TO_M = 0.3048


def network_from_wntr(
    wn: Any,
    *,
    valve_links: Any = (),
    valve_nodes: Any = (),
    valve_ids: Any = None,
    valve_statuses: Any = None,
    source_name: str = "network",
) -> NetworkModel:
    """Model of a ``wntr.network.WaterNetworkModel`` plus an optional valve layer.

    Pipe lengths are taken in metres (WNTR works in SI); pumps and valves get length 0.
    """
    names = list(wn.link_name_list)
    links = [wn.get_link(n) for n in names]
    lengths = np.array([float(getattr(link, "length", 0.0)) if n in wn.pipe_name_list else 0.0
                        for n, link in zip(names, links)])
    return network_from_arrays(
        names,
        [link.start_node_name for link in links],
        [link.end_node_name for link in links],
        node_ids=list(wn.node_name_list),
        source_ids=list(wn.reservoir_name_list) + list(wn.tank_name_list),
        valve_links=valve_links,
        valve_nodes=valve_nodes,
        valve_ids=valve_ids,
        valve_statuses=valve_statuses,
        length_m=lengths,
        source_name=source_name,
    )


def read_inp(path: str | Path) -> NetworkModel:
    """Read an EPANET .inp file with WNTR (no valves; add them with ``network_from_wntr``).

    Raises
    ------
    InputFileError
        The file is missing, unreadable or not a valid .inp file.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import wntr  # heavy: loaded only when an EPANET model is read or solved

        try:
            wn = wntr.network.WaterNetworkModel(str(path))
        except Exception as exc:  # wntr raises many kinds; all mean "bad file"
            raise InputFileError(f"{path}: cannot read as EPANET .inp: {_short(exc)}") from exc
    return network_from_wntr(wn, source_name=str(path))


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


def read_inp_topology(path: str | Path) -> NetworkModel:
    """Read only the topology of an EPANET .inp file (fast, no WNTR).

    Raises
    ------
    InputFileError
        The file is missing or unreadable, or a section line lacks fields.
    """
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    sections: dict[str, list[tuple[int, list[str]]]] = {}
    current: list[tuple[int, list[str]]] | None = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            name = line.strip("[] \t").upper()
            current = sections.setdefault(name, [])
            continue
        if current is not None:
            current.append((lineno, line.split()))
    if not any(s in sections for s in ("JUNCTIONS", "PIPES", "RESERVOIRS", "TANKS")):
        raise InputFileError(f"{path}: not an EPANET .inp file (no [JUNCTIONS]/[PIPES] sections)")

    us_units = False
    for _, tokens in sections.get("OPTIONS", []):
        if tokens[0].upper() == "UNITS" and len(tokens) > 1:
            us_units = tokens[1].upper() in _US_FLOW_UNITS

    node_ids: list[str] = []
    source_ids: list[str] = []
    for section in ("JUNCTIONS", "RESERVOIRS", "TANKS"):
        for _, tokens in sections.get(section, []):
            node_ids.append(tokens[0])
            if section != "JUNCTIONS":
                source_ids.append(tokens[0])
    link_ids: list[str] = []
    starts: list[str] = []
    ends: list[str] = []
    lengths: list[float] = []
    for section in ("PIPES", "PUMPS", "VALVES"):
        for lineno, tokens in sections.get(section, []):
            if len(tokens) < 3 or (section == "PIPES" and len(tokens) < 4):
                raise InputFileError(f"{path}:{lineno}: [{section}] line has too few fields")
            link_ids.append(tokens[0])
            starts.append(tokens[1])
            ends.append(tokens[2])
            length = 0.0
            if section == "PIPES":
                try:
                    length = float(tokens[3])
                except ValueError as exc:
                    raise InputFileError(f"{path}:{lineno}: bad pipe length {tokens[3]!r}") from exc
            lengths.append(length * _FT_TO_M if us_units else length)
    try:
        return network_from_arrays(
            link_ids, starts, ends, node_ids=node_ids, source_ids=source_ids,
            length_m=np.array(lengths, dtype=np.float64), source_name=str(path),
        )
    except NetworkError as exc:
        raise InputFileError(str(exc)) from exc
