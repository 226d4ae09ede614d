"""The control room's "suspected burst" parts: once three or more no-water calls cluster, the ranked
candidate pipes (ops.locate) on the map, a panel with the top candidates and their shutoff, and one
button that opens the shutoff planner on the suspected pipe. The wall screen gets a compact banner.
The panel says how the pipes were ranked: by the hydraulic model, or by topology only and why."""
from __future__ import annotations

import html
from typing import Any

import folium
import streamlit as st

from i18n import N_
from ops import locate as locate_ops
from views.common import network_id, t
from views.formatting import fmt_int
from views.session import actor

RANK_COLORS = ("#ff1f1f", "#ff8c1a", "#ffd21a", "#b8e05a", "#7cc8ff")
SEGMENT_COLOR = "#00e5ff"
PANEL_ROWS = 5
BANNERS = 2          # at most this many banners on the wall screen (the largest clusters)

CSS = """
<style>
.cr-burst { background: #5a1e00; border: 3px solid #ff8c1a; color: #fff !important; font-size: 24px; font-weight: 700;
  padding: 4px 14px; border-radius: 10px; margin-bottom: 6px; line-height: 1.25; }
.cr-burst span.top { display: block; font-size: 20px; font-weight: 400; color: #ffd9b3 !important;
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
table.cr-cand { width: 100%; border-collapse: collapse; font-size: 19px; margin: 2px 0 6px 0; }
table.cr-cand td, table.cr-cand th { padding: 3px 6px; border-bottom: 1px solid #1f2b45; text-align: left; }
table.cr-cand th { color: #9fb0cc; font-size: 15px; font-weight: 600; }
table.cr-cand td.score { text-align: right; font-family: monospace; font-weight: 700; }
</style>
"""


def found(max_age: float = 0) -> list[locate_ops.SuspectedBurst]:
    """The suspected bursts of the selected network now ([] without a network); ``max_age`` > 0:
    shared by the replica's sessions for that many seconds."""
    net = network_id()
    if net is None:
        return []
    return locate_ops.bursts(actor(), net, max_age=max_age)


def pct(score: float) -> str:
    return f"{fmt_int(score * 100)}\u00a0%"


def pipe_name(c: dict[str, Any]) -> str:
    return f"{c['ext_id']} — {c['street'] or '…'}"


def banner_html(bursts: list[locate_ops.SuspectedBurst]) -> str:
    """One line per suspected burst (the wall screen)."""
    out = []
    for b in bursts[:BANNERS]:
        top = b.top
        what = (t("burst.kiosk_top", pipe=pipe_name(top), score=pct(top["score"])) if top else (b.error or ""))
        out.append(f'<div class="cr-burst">{html.escape(t("burst.title", n=len(b.calls)))}'
                   f'<span class="top">{html.escape(what)}</span></div>')
    return CSS + "".join(out)


def layer(bursts: list[locate_ops.SuspectedBurst]) -> folium.FeatureGroup:
    """The candidates coloured by rank (the first the thickest) above the top one's shutoff segment."""
    fg = folium.FeatureGroup(name=t("burst.legend.candidates"))
    for b in bursts:
        for pid, geom in b.segment_geometries.items():
            folium.GeoJson({"type": "Feature", "geometry": geom, "properties": {}},
                           style_function=lambda _f: {"color": SEGMENT_COLOR, "weight": 12, "opacity": 0.55},
                           tooltip=html.escape(t("burst.legend.segment"))).add_to(fg)
        for rank in reversed(range(len(b.candidates))):   # the first drawn last, on top
            c = b.candidates[rank]
            if not c.get("geometry"):
                continue
            color = RANK_COLORS[min(rank, len(RANK_COLORS) - 1)]
            folium.GeoJson({"type": "Feature", "geometry": c["geometry"], "properties": {}},
                           style_function=lambda _f, color=color, w=(8 if rank == 0 else 5): {
                               "color": color, "weight": w, "opacity": 0.95},
                           tooltip=html.escape(f"{rank + 1}. {pipe_name(c)} · {pct(c['score'])}")).add_to(fg)
    return fg


def legend_entries() -> list[tuple[str, str, str]]:
    return [("line", RANK_COLORS[0], t("burst.legend.top")), ("line", RANK_COLORS[2], t("burst.legend.candidates")),
            ("line", SEGMENT_COLOR, t("burst.legend.segment"))]


def open_planner(burst: locate_ops.SuspectedBurst) -> None:
    """The planner with the suspected pipe picked (its shutoff computed there, centred on it)."""
    top = burst.top
    if top is None:
        return
    ss = st.session_state
    ss["planner_breaks"], ss["planner_stuck"] = [top["pipe"]], []
    if top.get("lat") is not None:
        ss["planner_center"], ss["planner_zoom"] = (top["lat"], top["lon"]), 16
    st.switch_page("views/planner.py")


#: the words of each reason ops.locate gives for a topology-only ranking
FALLBACK_TEXTS = {"no_model": N_("burst.fallback.no_model"),
                  "call_outside_model": N_("burst.fallback.call_outside_model"),
                  "solver_failed": N_("burst.fallback.solver_failed")}


def method_note(burst: locate_ops.SuspectedBurst) -> str:
    """How the candidates were ranked (the dispatcher weighs a topology-only ranking less)."""
    if burst.method == "hydraulic":
        return t("burst.method.hydraulic")
    if burst.fallback:
        return t("burst.method.fallback", reason=t(FALLBACK_TEXTS.get(burst.fallback, "burst.fallback.solver_failed")))
    return t("burst.method.topology")


def panel(bursts: list[locate_ops.SuspectedBurst]) -> None:
    """For each suspected burst: the top candidates, the shutoff of the first, "Plan the shutoff"."""
    st.markdown(CSS, unsafe_allow_html=True)
    for i, b in enumerate(bursts):
        with st.container(border=True, key=f"burst_panel_{i}"):
            st.markdown(f'<div class="cr-h cr-burst-title">{html.escape(t("burst.title", n=len(b.calls)))}</div>',
                        unsafe_allow_html=True)
            if b.error and not b.candidates:
                st.caption(t("burst.error", error=b.error))
                continue
            head = "".join(f"<th>{html.escape(c)}</th>" for c in (t("burst.col.rank"), t("burst.col.pipe"),
                                                                   t("burst.col.street"), t("burst.col.score")))
            rows = "".join(
                f'<tr class="cr-cand-{r + 1}"><td><span class="cr-chip" style="background:'
                f'{RANK_COLORS[min(r, len(RANK_COLORS) - 1)]}"></span>{r + 1}</td>'
                f"<td>{html.escape(str(c['ext_id']))}</td><td>{html.escape(c['street'] or '…')}</td>"
                f'<td class="score">{html.escape(pct(c["score"]))}</td></tr>'
                for r, c in enumerate(b.candidates[:PANEL_ROWS]))
            st.markdown(f'<table class="cr-cand"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>',
                        unsafe_allow_html=True)
            st.caption(method_note(b))
            if b.plan is not None:
                st.caption(t("burst.shutoff", pipe=b.top["ext_id"], valves=len(b.plan.valves_to_close),
                             buildings=fmt_int(len(b.plan.affected)),
                             residents=fmt_int(sum(x.get("residents") or 0 for x in b.plan.affected))))
            if st.button(t("burst.plan_button"), key=f"burst_plan_{i}", type="primary", icon=":material/valve:"):
                open_planner(b)
