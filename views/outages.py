"""Outages: every planned and active outage with its expected end, and those ended this week; pick one
to see its plan (map, crew sheet, addresses) and take the next step."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from ops import outages
from views.common import network_id, pick_record, t, tkey, tn
from views.formatting import fmt_dt, outage_state
from views.outage_panel import panel
from views.session import actor, guard


def table(found: list) -> pd.DataFrame:
    return pd.DataFrame([{
        t("outage.col.id"): o.id, t("outage.col.kind"): t(f"outage.kind.{o.kind}"),
        t("outage.col.state"): outage_state(o), t("outage.col.reason"): o.reason or "",
        t("outage.col.start"): fmt_dt(o.actual_start or o.planned_start),
        t("outage.col.end"): fmt_dt(o.actual_end if o.state in ("restored", "cancelled") else o.planned_end),
        t("outage.col.buildings"): o.buildings, t("outage.col.residents"): o.residents,
    } for o in found])


def main() -> None:
    guard("outages")
    st.title(t("outage.title"))
    states = st.multiselect(t("outage.filter.state"), ["planned", "active", "restored", "cancelled"],
                            default=["planned", "active"], format_func=lambda s: t(f"outage.state.{s}"),
                            placeholder=t("common.choose"), key=tkey("outages_states"))
    all_nets = st.toggle(t("outage.filter.all_networks"), value=True, key="outages_all_nets")
    found = outages.listing(actor(), network_id=None if all_nets else network_id())
    found = [o for o in found if o.state in (states or ["planned", "active", "restored", "cancelled"])]
    order = {"active": 0, "planned": 1, "restored": 2, "cancelled": 3}
    found.sort(key=lambda o: (order[o.state], o.planned_end, o.id))
    st.caption(tn("outage.count", len(found)))
    if not found:
        st.info(t("outage.none"))
    else:
        st.dataframe(table(found), hide_index=True, width="stretch")
    pick = pick_record(t("outage.open"), [o.id for o in found], key=tkey("outage_pick"),
                       format_func=lambda i: next((f"№{o.id} · {outage_state(o)} · {o.reason}"
                                                   for o in found if o.id == i), f"№{i}"))
    if pick is None:
        return
    st.divider()
    panel(outages.get(actor(), pick), key="outages")


main()
