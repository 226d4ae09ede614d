"""Use-cases of the pipe-break forecast: the stored risk scores of a network, the renewal list from them, and
the valve-exercise list (criticality × risk), reading ``network.read``; their refresh from the break history
(``data.import``: it replaces stored figures), audited in its transaction."""
from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, text

from auth.model import Actor
from forecast import store
from forecast.model import prepare_pipes
from forecast.renewal import renewal_plan
from forecast.valves import expected_per_link
from forecast.valves import valve_exercise as rank
from gis.overviews import data_version
from ops import audit
from ops import network as net_ops
from ops.base import allow, engine

__all__ = ["scores", "renewal", "valve_exercise", "risk_version", "refresh", "refresh_on"]

_SCORES = text("""
    SELECT p.id, p.ext_id, p.street, p.material, p.diameter_mm, p.install_year,
           COALESCE(p.length_m, ST_Length(p.geom::geography)) AS length_m,
           r.expected_breaks, r.per_km_year, r.as_of, r.horizon_days,
           (SELECT count(*) FROM pipe_breaks b WHERE b.pipe_id = p.id) AS past_breaks,
           (SELECT max(b.occurred_on) FROM pipe_breaks b WHERE b.pipe_id = p.id) AS last_break
    FROM pipes p JOIN pipe_risk r ON r.pipe_id = p.id
    WHERE p.network_id = :n ORDER BY p.id
""")


def refresh_on(conn: Connection, actor: Actor, *, network_id: int | None = None, as_of: date | None = None,
               horizon_days: int = 365) -> dict[str, Any]:
    """:func:`forecast.store.refresh` in the caller's transaction (the demo loader's), audited there."""
    allow(actor, "data.import")
    out = store.refresh(conn, actor=actor.author, network_id=network_id, as_of=as_of, horizon_days=horizon_days)
    audit.record(conn, actor=actor.author, action="forecast.refresh", object_type="network",
                 object_id=network_id, details=out)
    return out


def refresh(actor: Actor, *, network_id: int | None = None, as_of: date | None = None, horizon_days: int = 365,
            bind: Engine | None = None) -> dict[str, Any]:
    """Record the breaks of new burst incidents and recompute the stored scores of ``network_id`` (or of
    every network) in one transaction; the summary."""
    with engine(bind).begin() as conn:
        return refresh_on(conn, actor, network_id=network_id, as_of=as_of, horizon_days=horizon_days)


def risk_version(*, bind: Engine | None = None) -> int:
    """The ``pipe_risk`` data version (a refresh makes new tile URLs for the risk colouring)."""
    with engine(bind).connect() as conn:
        return data_version(conn, store.RISK_VERSION)


def scores(actor: Actor, network_id: int, *, bind: Engine | None = None) -> pd.DataFrame:
    """The stored scores of the network's pipes (empty when never computed): ``pipe`` (id as a
    string), ``ext_id, street, material`` (canonical), ``diameter_mm, install_year, length_m,
    expected_breaks, per_km_year, as_of, horizon_days, past_breaks, last_break``."""
    allow(actor, "network.read")
    with engine(bind).connect() as conn:
        rows = conn.execute(_SCORES, {"n": network_id}).all()
    cols = ["pipe", "ext_id", "street", "material_raw", "diameter_mm", "install_year", "length_m", "expected_breaks",
            "per_km_year", "as_of", "horizon_days", "past_breaks", "last_break"]
    df = pd.DataFrame([tuple(r) for r in rows], columns=cols)
    df["pipe"] = df["pipe"].astype(str)
    if df.empty:
        df["material"] = pd.Series(dtype=object)
        return df
    inv = prepare_pipes(pd.DataFrame({
        "id": df["pipe"], "material": df["material_raw"].fillna(""),
        "diameter_mm": df["diameter_mm"].map(lambda v: "" if v is None or pd.isna(v) else repr(float(v))),
        "install_year": df["install_year"].map(lambda v: "" if v is None or pd.isna(v) else str(int(v))),
        "length_m": df["length_m"].map(lambda v: repr(float(v)))}, dtype=object))
    df["material"], df["diameter_mm"] = inv.material, inv.diameter_mm   # canonical, imputed (for unit costs)
    return df


def renewal(actor: Actor, network_id: int, *, first_year: int, years: int = 5, km_per_year: float | None = None,
            budget_per_year: float | None = None, bind: Engine | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The renewal plan (``forecast.renewal.renewal_plan``) of the network's stored scores, the
    chosen pipes with ``ext_id, street, material, diameter_mm, install_year, past_breaks`` added."""
    df = scores(actor, network_id, bind=bind)
    pipes, by_year = renewal_plan(df, first_year=first_year, years=years, km_per_year=km_per_year,
                                  budget_per_year=budget_per_year, rules=store.region_rules())
    extra = df.set_index("pipe")[["ext_id", "street", "material", "diameter_mm", "install_year", "past_breaks",
                                  "per_km_year"]]
    pipes = pipes.join(extra, on="pipe")
    return pipes, by_year


def valve_exercise(actor: Actor, network_id: int, *, limit: int | None = None,
                   bind: Engine | None = None) -> pd.DataFrame:
    """Valves to exercise first (``forecast.valves.valve_exercise``) with ``ext_id, street, status,
    last_exercised`` of each."""
    allow(actor, "network.read")
    crit, _ = net_ops.criticality(actor, network_id, bind=bind)
    ix = net_ops.index(network_id, bind=bind)
    with engine(bind).connect() as conn:
        expected = {str(r.pipe_id): float(r.expected_breaks) for r in conn.execute(text(
            "SELECT r.pipe_id, r.expected_breaks FROM pipe_risk r JOIN pipes p ON p.id = r.pipe_id "
            "WHERE p.network_id = :n"), {"n": network_id})}
    out = rank(ix, crit, expected_per_link(ix, expected), measure="residents")
    if limit is not None:
        out = out.head(limit)
    ids = [int(v) for v in out["valve"]]
    details: dict[str, dict[str, Any]] = {}
    if ids:
        with engine(bind).connect() as conn:
            details = {str(r.id): dict(r._mapping) for r in conn.execute(text(
                "SELECT v.id, v.ext_id, v.status, v.last_exercised, p.street FROM valves v "
                "JOIN pipes p ON p.id = v.pipe_id WHERE v.id = ANY(:ids)"), {"ids": ids})}
    for col in ("ext_id", "street", "status", "last_exercised"):
        out[col] = [details.get(str(v), {}).get(col) for v in out["valve"]]
    return out
