"""``python -m forecast demo``: a break history for the demo city and its risk scores.

The past is generated with the break process of :mod:`forecast.synth` (Weibull ageing per material,
a gamma frailty per pipe, breaks exciting later breaks, harsh years) on the demo network's real
pipes — material, diameter, install year and length as the ``pipes`` table has them; an attribute
the table lacks is filled deterministically (diameter 150 mm, the network's median install year, a
material by install era) for the simulation only, the table is not changed. Breaks are kept for
the ``YEARS`` years up to yesterday (source ``history``); burst incidents with a pipe add theirs
(source ``incident``); then :func:`ops.risk.refresh_on` scores every pipe as of today.

Deterministic for a seed and a day. Rerun without ``--if-missing``: the generated past of the
network is replaced by the same one (the unique (pipe, day, source) keeps it single).
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from auth.model import Actor
from forecast import store
from forecast.errors import ForecastError
from forecast.rules import default_rules, normalise_material
from forecast.synth import Truth, simulate_breaks
from ops import audit, risk
from ops.base import allow
from settings import get_settings

YEARS = 20
# the demo network is small (~20 km): a break rate a little above the synthetic city's, within the
# 0.1-0.4 breaks per km and year of published European surveys, so the history has a few a year
DEMO_TRUTH = Truth(base_per_km_year=0.25)
_SIM_MATERIALS = {"cast_iron", "steel", "asbestos_cement", "ductile_iron", "pvc", "pe"}


def demo_network_id(conn: Connection) -> int | None:
    return conn.execute(text("SELECT id FROM networks WHERE name = :n"),
                        {"n": get_settings().demo_network_name}).scalar()


def simulation_pipes(pipes: pd.DataFrame) -> pd.DataFrame:
    """The inventory as :func:`forecast.synth.simulate_breaks` needs it: canonical materials of the
    simulated kinds, no missing numbers (filled deterministically, see the module docstring)."""
    years = pd.to_numeric(pipes["install_year"], errors="coerce")
    median = float(years.median()) if years.notna().any() else 1970.0
    years = years.fillna(round(median)).astype(int)
    diam = pd.to_numeric(pipes["diameter_mm"], errors="coerce")
    diam = diam.where(diam > 0).fillna(150.0)
    length = pd.to_numeric(pipes["length_m"], errors="coerce").fillna(0.0).clip(lower=0.0)
    canon = normalise_material([str(m) for m in pipes["material"]], default_rules())
    by_era = np.where(years < 1960, "cast_iron", np.where(years < 1990, "ductile_iron", "pe"))
    material = [m if m in _SIM_MATERIALS else str(e) for m, e in zip(canon, by_era)]
    return pd.DataFrame({"id": pipes["id"].astype(str).to_numpy(), "material": material,
                         "diameter_mm": diam.to_numpy(dtype=float), "install_year": years.to_numpy(),
                         "length_m": length.to_numpy(dtype=float)})


def generated_history(pipes: pd.DataFrame, *, seed: int, until: date) -> pd.DataFrame:
    """Breaks ``pipe, date`` of the ``YEARS`` years before ``until`` (exclusive)."""
    sim = simulation_pipes(pipes)
    if sim.empty:
        return pd.DataFrame({"pipe": pd.Series(dtype=str), "date": pd.Series(dtype=str)})
    out = simulate_breaks(sim, record_from=until.year - YEARS, until=until.year + 1,
                          burn_in_from=until.year - YEARS - 10, seed=seed, truth=DEMO_TRUTH)
    first = date(until.year - YEARS, until.month, min(until.day, 28)).isoformat()
    keep = (out["date"] >= first) & (out["date"] < until.isoformat())
    return out[keep].reset_index(drop=True)


def demo(conn: Connection, *, actor: Actor, seed: int = 42, if_missing: bool = False,
         as_of: date | None = None) -> dict[str, Any]:
    """The generated history and the scores in ``conn``'s transaction (``demo.reload``), audited there."""
    allow(actor, "demo.reload")
    net = demo_network_id(conn)
    if net is None:
        raise ForecastError("the demo city is not loaded; run: python -m data load-demo")
    has = conn.execute(text("""
        SELECT count(*) FROM pipe_breaks b JOIN pipes p ON p.id = b.pipe_id
        WHERE p.network_id = :n AND b.source = 'history'"""), {"n": net}).scalar_one()
    if if_missing and has:
        return {"skipped": True, "network_id": net, "history_breaks": int(has)}
    as_of = as_of or store.today()
    pipes = store.inventory(conn, net)
    past = generated_history(pipes, seed=seed, until=as_of)
    conn.execute(text("""
        DELETE FROM pipe_breaks b USING pipes p
        WHERE p.id = b.pipe_id AND p.network_id = :n AND b.source = 'history'"""), {"n": net})
    written = 0
    if len(past):
        written = conn.execute(text("""
            INSERT INTO pipe_breaks (pipe_id, occurred_on, source, created_by)
            SELECT u.p, u.d, 'history', :actor FROM unnest(CAST(:p AS bigint[]), CAST(:d AS date[])) AS u(p, d)
            ON CONFLICT (pipe_id, occurred_on, source) DO NOTHING
        """), {"actor": actor.author, "p": [int(x) for x in past["pipe"]],
               "d": [date.fromisoformat(x) for x in past["date"]]}).rowcount
    scored = risk.refresh_on(conn, actor, network_id=net, as_of=as_of)
    out = {"network_id": net, "seed": seed, "history_breaks": int(written or 0),
           "history_from": (as_of - timedelta(days=round(YEARS * 365.25))).isoformat(),
           "breaks_from_incidents": scored["breaks_from_incidents"], "as_of": scored["as_of"],
           "risk": scored["networks"]}
    audit.record(conn, actor=actor.author, action="forecast.demo", object_type="network", object_id=net,
                 details={"seed": seed, "history_breaks": out["history_breaks"]})
    return out
