"""The dispatcher's shutoff plan: an isolation result dressed with what a crew and a call centre need.

Pure composition: the isolation comes from :mod:`network.isolation`; valve coordinates, pipe
midpoints and affected buildings come through the functions passed in (``gis.network_repo`` in the
app, joined by ``ops.network``), so this module never touches the database itself.
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from network.isolation import IsolationIndex, IsolationResult, isolate
from network.model import NetworkModel

Lookup = Callable[[Iterable[str]], dict[str, dict[str, Any]]]
Affected = Callable[[Iterable[str]], list[dict[str, Any]]]


@dataclass(frozen=True)
class ShutoffPlan:
    """A plan for one or more simultaneous breaks.

    ``valves_to_close`` are numbered in crew order (``order`` 1, 2, …: a nearest-neighbour round
    from the break); each valve dict carries ``id``, ``ext_id``, ``lon``, ``lat``, ``street``.
    ``affected`` lists buildings (critical customers first) with ``unintended`` = served from a
    pipe that goes dry only because the shutoff cuts it off.
    """

    result: IsolationResult
    valves_to_close: list[dict[str, Any]]
    optional_valves: list[dict[str, Any]]
    affected: list[dict[str, Any]]
    extra_inoperable: list[str] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        """Changes whenever what a crew would do changes (valves, pipes, buildings): a plan approved
        must be the plan that was seen."""

        parts = [",".join(str(v["id"]) for v in self.valves_to_close),
                 ",".join(sorted(str(v["id"]) for v in self.optional_valves)),
                 ",".join(sorted(map(str, self.result.isolated_links))),
                 ",".join(sorted(map(str, self.result.unintended_links))),
                 ",".join(sorted(str(b["id"]) for b in self.affected))]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]

    @property
    def counts(self) -> dict[str, int]:
        return {
            "valves_to_close": len(self.valves_to_close),
            "optional_valves": len(self.optional_valves),
            "isolated_pipes": len(self.result.isolated_links),
            "unintended_pipes": len(self.result.unintended_links),
            "buildings": len(self.affected),
            "residents": sum(int(b.get("residents") or 0) for b in self.affected),
            "critical": sum(1 for b in self.affected if b.get("kind") in ("hospital", "school", "kindergarten")),
        }


def distance_m(a: dict[str, Any], b: dict[str, Any]) -> float:
    """Metres between two ``{"lon", "lat"}`` points (equirectangular: exact enough within a city)."""
    lat = math.radians((a["lat"] + b["lat"]) / 2)
    dx = (a["lon"] - b["lon"]) * 111_320.0 * math.cos(lat)
    dy = (a["lat"] - b["lat"]) * 110_574.0
    return math.hypot(dx, dy)


def crew_order(valves: Sequence[dict[str, Any]], start: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Valves in the order a crew would visit them: nearest first from ``start``, then nearest next."""
    left = [v for v in valves if v.get("lon") is not None]
    here = start or (left[0] if left else None)
    ordered: list[dict[str, Any]] = []
    while left and here is not None:
        nxt = min(left, key=lambda v: (distance_m(here, v), str(v["id"])))
        left.remove(nxt)
        ordered.append(nxt)
        here = nxt
    ordered += [v for v in valves if v.get("lon") is None]
    return [{**v, "order": i + 1} for i, v in enumerate(ordered)]


def plan_shutoff(
    index: IsolationIndex | NetworkModel,
    pipes: str | Iterable[str],
    *,
    valve_lookup: Lookup,
    pipe_lookup: Lookup,
    affected_lookup: Affected,
    extra_inoperable: Iterable[str] = (),
) -> ShutoffPlan:
    """Isolate ``pipes`` and attach valve coordinates (crew order), and the affected buildings."""

    extra = sorted({str(v) for v in extra_inoperable})
    result = isolate(index, pipes, extra_inoperable=extra)
    details = valve_lookup(list(result.valves_to_close) + list(result.optional_valves))
    mids = pipe_lookup(result.pipes)
    start = None
    if mids:
        pts = [m for m in mids.values() if m.get("lon") is not None]
        if pts:
            start = {"lon": sum(p["lon"] for p in pts) / len(pts), "lat": sum(p["lat"] for p in pts) / len(pts)}
    to_close = crew_order([{**details.get(v, {}), "id": v} for v in result.valves_to_close], start)
    optional = [{**details.get(v, {}), "id": v} for v in result.optional_valves]
    isolated = affected_lookup(result.isolated_links)
    seen = {b["id"] for b in isolated}
    unintended = [b for b in affected_lookup(result.unintended_links) if b["id"] not in seen]
    affected = [{**b, "unintended": False} for b in isolated] + [{**b, "unintended": True} for b in unintended]
    rank = {"hospital": 0, "school": 1, "kindergarten": 2}
    affected.sort(key=lambda b: (rank.get(b.get("kind"), 3), -(b.get("residents") or 0), b["id"]))
    return ShutoffPlan(result=result, valves_to_close=to_close, optional_valves=optional, affected=affected,
                       extra_inoperable=extra)
