"""Which valves to exercise first: valve criticality weighted by the break risk of the pipes each
valve closes off. Pure (numpy/pandas on a :class:`network.criticality.Criticality`).

A valve between break areas ``a`` and ``b`` is needed whenever a pipe of ``a`` or of ``b`` breaks.
If it then fails to close, the two areas are shut as one: the shutoff grows from ``own_a`` (or
``own_b``) to ``merged``. The priority is the expected number of customers (residents) cut off
*in addition* per horizon because this valve fails::

    priority = E_a · (merged − own_a) + E_b · (merged − own_b)

with ``E_x`` the expected breaks of area ``x``'s pipes in the horizon (``pipe_risk``) and the
shutoffs in the chosen measure (residents by default), as :mod:`network.criticality` computes them
(``segments.shutoff_<m>``, ``valves.shutoff_if_inoperable_<m>``). docs/forecast.md has the why.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from network.criticality import Criticality
from network.isolation import IsolationIndex

__all__ = ["expected_per_link", "valve_exercise"]


def expected_per_link(ix: IsolationIndex, expected: Mapping[str, float]) -> np.ndarray:
    """Expected breaks per link in the model's link order (0 for a link without a score)."""
    return np.array([float(expected.get(str(lid), 0.0)) for lid in ix.model.link_ids], dtype=np.float64)


def valve_exercise(ix: IsolationIndex, crit: Criticality, expected_link: np.ndarray, *,
                   measure: str = "residents") -> pd.DataFrame:
    """One row per valve of ``crit.valves`` (open valves between two break areas), highest
    ``priority`` first (ties: more customers if it fails, then the criticality order):
    ``valve, customers_if_fails`` (the worse side's growth, ``extra_<measure>``),
    ``expected_breaks`` (``E_a + E_b``), ``priority``."""
    e = np.asarray(expected_link, dtype=np.float64)
    if e.shape != (ix.model.n_links,):
        raise ValueError(f"{e.size} expected-break values for {ix.model.n_links} links")
    if f"extra_{measure}" not in crit.valves.columns:
        raise ValueError(f"measure {measure!r} is not in the criticality result")
    seg_area = crit.segments["area"].to_numpy()
    e_area = np.bincount(seg_area[ix.segments.link_segment], weights=e, minlength=int(seg_area.max(initial=-1)) + 1)
    shutoff = crit.segments[f"shutoff_{measure}"].to_numpy(dtype=float)
    v = crit.valves
    ls, ns = v["link_segment"].to_numpy(), v["node_segment"].to_numpy()
    merged = v[f"shutoff_if_inoperable_{measure}"].to_numpy(dtype=float)
    ea, eb = e_area[seg_area[ls]], e_area[seg_area[ns]]
    priority = ea * np.maximum(merged - shutoff[ls], 0.0) + eb * np.maximum(merged - shutoff[ns], 0.0)
    out = pd.DataFrame({
        "valve": v["valve"].to_numpy(),
        "customers_if_fails": v[f"extra_{measure}"].to_numpy(dtype=float),
        "expected_breaks": ea + eb,
        "priority": priority,
    })
    order = np.lexsort((np.arange(len(out)), -out["customers_if_fails"].to_numpy(), -priority))
    return out.iloc[order].reset_index(drop=True)
