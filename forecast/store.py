"""The forecast and the database: the break history (``pipe_breaks``), the stored scores
(``pipe_risk``) and their refresh (docs/forecast.md, "In the app").

* :func:`inventory` / :func:`breaks` read a network's pipes and breaks as the frames
  :func:`forecast.model.score` takes;
* :func:`sync_incident_breaks` records a break for every burst incident that names a pipe (once);
* :func:`refresh` scores every pipe of a network (or of all) and replaces its ``pipe_risk`` rows,
  bumping the ``pipe_risk`` data version (the pipe tiles' ETag and the map's tile URLs follow it).

Every write runs in the caller's transaction; the use-case (:func:`ops.risk.refresh`) records the audit event.
"""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from dma.rules import region_timezone
from forecast.errors import ForecastError
from forecast.model import score
from forecast.rules import ForecastRules, load_rules
from gis.overviews import bump_data_version
from settings import get_settings

__all__ = ["RISK_VERSION", "inventory", "breaks", "sync_incident_breaks", "refresh", "today", "networks_with_pipes", "region_rules"]

RISK_VERSION = "pipe_risk"     # data_versions row bumped by every refresh
# incidents that were not a real break on the network
_NOT_A_BREAK = ("rejected", "duplicate", "cancelled")


def _zone() -> str:
    """The region's time zone name (the service rules'), UTC without rules."""
    try:
        return str(ZoneInfo(region_timezone()))
    except Exception:  # noqa: BLE001 - no rules: UTC
        return "UTC"


def today() -> date:
    """Today in the region's time zone."""
    return datetime.now(ZoneInfo(_zone())).date()


def region_rules(path: str | Path | None = None) -> ForecastRules:
    """The forecast rules in ``path`` (``python -m forecast risk --rules``), else the region's
    (``settings.forecast_rules_file``)."""
    return load_rules(path if path is not None else get_settings().forecast_rules_file)


def networks_with_pipes(conn: Connection) -> list[int]:
    return [int(r[0]) for r in conn.execute(text(
        "SELECT DISTINCT network_id FROM pipes WHERE kind = 'pipe' ORDER BY 1")).all()]


def inventory(conn: Connection, network_id: int) -> pd.DataFrame:
    """The network's pipes (``kind = 'pipe'``) as ``id, material, diameter_mm, install_year, length_m,
    street`` (ids as strings; a missing length is the geometry's length on the ellipsoid; the street is
    a candidate covariate like any extra column of PIPES.csv)."""
    rows = conn.execute(text("""
        SELECT id, material, diameter_mm, install_year,
               COALESCE(length_m, ST_Length(geom::geography)) AS length_m, street
        FROM pipes WHERE network_id = :n AND kind = 'pipe' ORDER BY id
    """), {"n": network_id}).all()

    def num(v: Any) -> str:
        return "" if v is None else repr(float(v))

    return pd.DataFrame({
        "id": [str(r.id) for r in rows],
        "material": [r.material or "" for r in rows],
        "diameter_mm": [num(r.diameter_mm) for r in rows],
        "install_year": [str(r.install_year) if r.install_year is not None else "" for r in rows],
        "length_m": [num(r.length_m) for r in rows],
        "street": [r.street or "" for r in rows],
    }, dtype=object)


def breaks(conn: Connection, network_id: int) -> pd.DataFrame:
    """Every recorded break of the network's pipes as ``pipe, date`` (a pipe and day recorded by two
    sources — an incident and the history — count once)."""
    rows = conn.execute(text("""
        SELECT DISTINCT b.pipe_id, b.occurred_on FROM pipe_breaks b JOIN pipes p ON p.id = b.pipe_id
        WHERE p.network_id = :n AND p.kind = 'pipe' ORDER BY 2, 1
    """), {"n": network_id}).all()
    return pd.DataFrame({"pipe": [str(r.pipe_id) for r in rows], "date": [r.occurred_on.isoformat() for r in rows]},
                        dtype=object)


def sync_incident_breaks(conn: Connection, *, actor: str, network_id: int | None = None) -> int:
    """A break (source ``incident``, on the incident's day in the region's time zone) for every burst
    incident with a pipe that is not rejected, a duplicate or cancelled and has none yet; how many."""
    zone = _zone()
    n = conn.execute(text("""
        INSERT INTO pipe_breaks (pipe_id, occurred_on, source, incident_id, created_by)
        SELECT i.pipe_id, (i.created_at AT TIME ZONE :tz)::date, 'incident', i.id, :actor
        FROM incidents i JOIN pipes p ON p.id = i.pipe_id
        WHERE i.category = 'burst' AND i.status <> ALL(CAST(:skip AS text[]))
          AND (CAST(:n AS integer) IS NULL OR p.network_id = :n)
          AND NOT EXISTS (SELECT 1 FROM pipe_breaks b WHERE b.incident_id = i.id)
        ON CONFLICT (pipe_id, occurred_on, source) DO NOTHING
    """), {"tz": zone, "actor": actor, "skip": list(_NOT_A_BREAK), "n": network_id}).rowcount
    return int(n or 0)


def refresh(conn: Connection, *, actor: str, network_id: int | None = None, as_of: date | None = None,
            horizon_days: int = 365, rules: ForecastRules | None = None) -> dict[str, Any]:
    """Record breaks of new burst incidents, then score every pipe of ``network_id`` (or of every
    network) as of ``as_of`` (default: today) and replace the network's ``pipe_risk`` rows."""
    if not (isinstance(horizon_days, int) and 0 < horizon_days <= 36525):
        raise ForecastError(f"horizon {horizon_days!r} days must be an integer from 1 to 36525")
    as_of = as_of or today()
    rules = rules or region_rules()
    nets = networks_with_pipes(conn) if network_id is None else [int(network_id)]
    if network_id is not None and not conn.execute(text("SELECT 1 FROM networks WHERE id = :n"),
                                                   {"n": network_id}).first():
        raise ForecastError(f"no network with id {network_id}")
    from_incidents = sync_incident_breaks(conn, actor=actor, network_id=network_id)
    out: dict[str, Any] = {"as_of": as_of.isoformat(), "horizon_days": horizon_days,
                           "breaks_from_incidents": from_incidents, "networks": []}
    for net in nets:
        pipes = inventory(conn, net)
        br = breaks(conn, net)
        info: dict[str, Any] = {}
        scored = score(pipes, br, as_of, horizon_days, rules=rules, info=info) if len(pipes) else None
        conn.execute(text("DELETE FROM pipe_risk WHERE pipe_id IN (SELECT id FROM pipes WHERE network_id = :n)"),
                     {"n": net})
        total = 0.0
        if scored is not None and len(scored):
            years = horizon_days / 365.25
            per_km_year = scored["risk_per_km"].to_numpy(dtype=float) / years
            expected = scored["expected_breaks"].to_numpy(dtype=float)
            conn.execute(text("""
                INSERT INTO pipe_risk (pipe_id, as_of, horizon_days, expected_breaks, per_km_year)
                SELECT u.pipe_id, :as_of, :h, u.e, u.k
                FROM unnest(CAST(:ids AS bigint[]), CAST(:e AS float8[]), CAST(:k AS float8[])) AS u(pipe_id, e, k)
            """), {"as_of": as_of, "h": horizon_days, "ids": [int(p) for p in scored["pipe"]],
                   "e": np.round(expected, 6).tolist(), "k": np.round(per_km_year, 6).tolist()})
            total = float(expected.sum())
        out["networks"].append({"network_id": net, "pipes": int(len(pipes)), "breaks": int(len(br)),
                                "model": info.get("kind"), "candidate": info.get("candidate") or None,
                                "expected_total": round(total, 3)})
    bump_data_version(conn, RISK_VERSION)
    return out
