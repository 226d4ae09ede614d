"""The valve layer as a CSV file (``link,node[,id][,status]``): the engine's commands and the locator read it."""
from __future__ import annotations

import csv
from pathlib import Path

from network.errors import InputFileError
from network.model import VALVE_STATUSES, NetworkModel, with_valve_layer

__all__ = ["read_valves_csv"]


def read_valves_csv(path: str | Path, model: NetworkModel) -> NetworkModel:
    """``model`` with the valve layer read from a CSV (columns ``link,node[,id][,status]``)."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh, strict=True))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputFileError(f"{path}: cannot read valves CSV: {getattr(exc, 'strerror', None) or exc}") from exc
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise InputFileError(f"{path}: empty valves CSV (need a header with link,node)")
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in ("link", "node") if c not in header]
    if missing:
        raise InputFileError(f"{path}: valves CSV lacks columns {missing} (header: {rows[0]})")
    unknown = [h for h in header if h not in ("link", "node", "id", "status")]
    if unknown or len(set(header)) != len(header):
        raise InputFileError(f"{path}: valves CSV has unexpected or repeated columns {header}")
    col = {h: i for i, h in enumerate(header)}
    data = rows[1:]
    for lineno, r in enumerate(data, start=2):
        if len(r) != len(header):
            raise InputFileError(f"{path}:{lineno}: {len(r)} fields, expected {len(header)}")
    get = lambda name: [r[col[name]].strip() for r in data]  # noqa: E731
    ids = get("id") if "id" in col else None
    if ids is not None and any(not i for i in ids):
        raise InputFileError(f"{path}: empty valve id in row {ids.index('') + 2}")
    statuses = get("status") if "status" in col else None
    if statuses is not None:
        bad = [(n + 2, s) for n, s in enumerate(statuses) if s.lower() not in VALVE_STATUSES and s != ""]
        if bad:
            raise InputFileError(f"{path}:{bad[0][0]}: bad status {bad[0][1]!r} (expected open|closed|inoperable)")
    return with_valve_layer(model, get("link"), get("node"), valve_ids=ids, valve_statuses=statuses,
                            source_name=str(path))
