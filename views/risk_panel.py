"""The planner's "Risk and renewal" tab: expected pipe breaks (stored by ``python -m forecast
refresh``), the renewal list — km and cost by year within a yearly length or budget — with a CSV,
and the valves to exercise first (criticality × the risk of the pipes each valve closes off)."""
from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st
from babel.dates import format_date
from babel.numbers import format_decimal

from csv_safe import frame_csv_bytes
from ops import risk
from views import errors
from views.common import lang, t, tkey
from views.formatting import fmt_int
from views.session import actor

MATERIALS = ("cast_iron", "ductile_iron", "steel", "asbestos_cement", "pvc", "pe", "concrete", "other")


def _num(value: float, digits: int = 2) -> str:
    return format_decimal(round(float(value), digits), format=f"#,##0.{'0' * digits}" if digits else "#,##0",
                          locale=lang())


def _day(value: date | None) -> str:
    return format_date(value, format="medium", locale=lang()) if value else t("risk.never")


def _material(level: str) -> str:
    return t(f"risk.material.{level}") if level in MATERIALS else str(level)


def renewal_csv(pipes: pd.DataFrame) -> bytes:
    """The renewal list as CSV (UTF-8 with BOM, machine column names)."""
    cols = {"year": "year", "pipe": "pipe_id", "ext_id": "ext_id", "street": "street", "material": "material",
            "diameter_mm": "diameter_mm", "install_year": "install_year", "length_m": "length_m",
            "past_breaks": "past_breaks", "expected_breaks": "expected_breaks", "per_km_year": "breaks_per_km_year",
            "unit_cost_per_m": "unit_cost_per_m", "cost": "cost", "cumulative_km": "cumulative_km",
            "cumulative_cost": "cumulative_cost"}
    out = pipes[list(cols)].rename(columns=cols).round({"length_m": 1, "expected_breaks": 6, "breaks_per_km_year": 4,
                                                        "cost": 0, "cumulative_km": 3, "cumulative_cost": 0})
    return frame_csv_bytes(out)  # street, ext_id: imported texts, guarded against formulas


def renewal_section(net: int, scores: pd.DataFrame) -> None:
    st.subheader(t("risk.renewal"))
    as_of = scores["as_of"].iloc[0]
    cols = st.columns([2, 2, 2])
    by = cols[0].radio(t("risk.by"), ["km", "budget"], format_func=lambda b: t(f"risk.by.{b}"), horizontal=True,
                       key=tkey("risk_by"))
    if by == "km":
        limit = cols[1].number_input(t("risk.km_per_year"), min_value=0.1, max_value=1000.0, value=1.0, step=0.5,
                                     key="risk_km")
    else:
        limit = cols[1].number_input(t("risk.budget_per_year"), min_value=100_000.0, max_value=1e11, value=30_000_000.0,
                                     step=5_000_000.0, format="%.0f", key="risk_budget")
    years = int(cols[2].number_input(t("risk.years"), min_value=1, max_value=30, value=5, step=1, key="risk_years"))
    try:
        pipes, by_year = risk.renewal(actor(), net, first_year=as_of.year + 1, years=years,
                                      km_per_year=float(limit) if by == "km" else None,
                                      budget_per_year=float(limit) if by == "budget" else None)
    except Exception as exc:
        errors.show(exc)
        return
    st.dataframe(pd.DataFrame({
        t("risk.col.year"): by_year["year"].astype(str),
        t("risk.col.pipes"): by_year["pipes"].map(fmt_int),
        t("risk.col.km"): by_year["km"].map(lambda v: _num(v, 2)),
        t("risk.col.cost"): by_year["cost"].map(fmt_int),
        t("risk.col.breaks_avoided"): by_year["expected_breaks"].map(lambda v: _num(v, 2)),
    }), hide_index=True, width="stretch", key="risk_years_table")
    st.caption(t("risk.renewal_total", km=_num(by_year["km"].sum(), 2), cost=fmt_int(by_year["cost"].sum()),
                 breaks=_num(by_year["expected_breaks"].sum(), 2)))
    st.dataframe(pd.DataFrame({
        t("risk.col.year"): pipes["year"].astype(str),
        t("risk.col.pipe"): pipes["ext_id"],
        t("risk.col.street"): pipes["street"].fillna(""),
        t("risk.col.material"): pipes["material"].map(_material),
        t("risk.col.diameter"): pipes["diameter_mm"].map(lambda v: fmt_int(v)),
        t("risk.col.install_year"): pipes["install_year"].map(lambda v: "" if pd.isna(v) else str(int(v))),
        t("risk.col.length"): pipes["length_m"].map(lambda v: fmt_int(v)),
        t("risk.col.past_breaks"): pipes["past_breaks"].map(fmt_int),
        t("risk.col.per_km"): pipes["per_km_year"].map(lambda v: _num(v, 2)),
        t("risk.col.cost"): pipes["cost"].map(fmt_int),
    }), hide_index=True, width="stretch", height=320, key="risk_pipes_table")
    st.download_button(t("risk.download"), renewal_csv(pipes), f"renewal-{as_of.isoformat()}.csv", mime="text/csv",
                       key="risk_csv")


def valves_section(net: int) -> None:
    st.subheader(t("risk.valves"))
    st.caption(t("risk.valves_hint"))
    try:
        v = risk.valve_exercise(actor(), net, limit=25)
    except Exception as exc:
        errors.show(exc)
        return
    st.dataframe(pd.DataFrame({
        t("risk.col.valve"): v["ext_id"],
        t("risk.col.street"): v["street"].fillna(""),
        t("risk.col.customers"): v["customers_if_fails"].map(fmt_int),
        t("risk.col.breaks_near"): v["expected_breaks"].map(lambda x: _num(x, 2)),
        t("risk.col.priority"): v["priority"].map(lambda x: _num(x, 1)),
        t("risk.col.last_exercised"): v["last_exercised"].map(_day),
    }), hide_index=True, width="stretch", key="risk_valves_table")


def risk_tab(net: int) -> None:
    scores = risk.scores(actor(), net)
    if scores.empty:
        st.info(t("risk.none"))
        return
    as_of, horizon = scores["as_of"].iloc[0], int(scores["horizon_days"].iloc[0])
    st.caption(t("risk.hint", as_of=_day(as_of), days=horizon))
    cols = st.columns(3)
    cols[0].metric(t("risk.expected_total"), _num(scores["expected_breaks"].sum(), 1))
    cols[1].metric(t("risk.km_scored"), _num(scores["length_m"].sum() / 1000.0, 1))
    cols[2].metric(t("risk.past_breaks"), fmt_int(int(scores["past_breaks"].sum())))
    renewal_section(net, scores)
    valves_section(net)
