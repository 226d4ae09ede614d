"""Water balance (planners): per district metered area and day the inflow against billed consumption,
non-revenue water, the minimum night flow against its baseline, the leak alarms with their incidents,
and a map of the areas coloured by their share of non-revenue water."""
from __future__ import annotations

import json
from datetime import date

import altair as alt
import pandas as pd
import streamlit as st

from ops import dma as dma_ops
from views.common import lang, t, tkey
from views.formatting import label, md_safe
from views.session import actor, guard

PERIODS = (7, 14, 30)


def num(x: float | None, nd: int = 1) -> str:
    """A number in the page's language: ``1 234,5`` in Russian, ``1,234.5`` in English; a dash for no data."""
    if x is None or pd.isna(x):
        return "—"
    s = f"{x:,.{nd}f}"
    return s.replace(",", "\u202f").replace(".", ",") if lang() == "ru" else s


def day_text(d: date | None) -> str:
    if d is None:
        return "—"
    return d.strftime("%d.%m.%Y") if lang() == "ru" else d.strftime("%Y-%m-%d")


def y_axis(title: str) -> alt.Axis:
    """A value axis whose numbers follow the page's language (thin-space thousands, decimal comma in Russian)."""
    expr = "replace(replace(datum.label, ',', '\u202f'), '.', ',')" if lang() == "ru" else "datum.label"
    return alt.Axis(title=title, labelExpr=expr)


def _frame(ov: dma_ops.Overview) -> pd.DataFrame:
    return pd.DataFrame([{
        "dma_id": r.dma_id, "dma": r.dma, "day": pd.Timestamp(r.day), "inflow": r.inflow_m3, "billed": r.billed_m3,
        "nrw": r.nrw_m3, "nrw_pct": r.nrw_pct, "mnf": r.mnf_m3h} for r in ov.days])


def summary(ov: dma_ops.Overview, df: pd.DataFrame) -> pd.DataFrame:
    open_by_dma = {a["dma_id"]: a for a in ov.alarms if a["state"] == "open"}
    last_night = {}
    for n in ov.nights:
        last_night[n["dma_id"]] = n
    rows = []
    for d in ov.dmas:
        part = df[df.dma_id == d["id"]] if not df.empty else df
        known = part.dropna(subset=["inflow", "billed"]) if not part.empty else part
        inflow = float(known.inflow.sum()) if len(known) else None
        billed = float(known.billed.sum()) if len(known) else None
        pct = 100.0 * (inflow - billed) / inflow if inflow and billed is not None else None
        n = last_night.get(d["id"], {})
        alarm = open_by_dma.get(d["id"])
        rows.append({
            t("balance.col.dma"): d["name"], t("balance.col.buildings"): d["buildings"],
            t("balance.col.residents"): num(d["residents"], 0), t("balance.col.inlets"): d["inlets"],
            t("balance.col.inflow"): num(inflow, 0), t("balance.col.billed"): num(billed, 0),
            t("balance.col.nrw"): num(None if inflow is None or billed is None else inflow - billed, 0),
            t("balance.col.nrw_pct"): num(pct),
            t("balance.col.mnf"): num(n.get("mnf_m3h"), 2), t("balance.col.baseline"): num(n.get("baseline_m3h"), 2),
            t("balance.col.state"): t("balance.state.alarm") if alarm else t(f"balance.verdict.{n.get('verdict', 'no_data')}"),
        })
    return pd.DataFrame(rows)


def dma_map(ov: dma_ops.Overview, df: pd.DataFrame) -> None:
    """The areas' outlines coloured by NRW % over the period; an area in alarm drawn with a red edge."""

    import matplotlib  # heavy: loaded only when a figure is drawn
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # heavy: loaded only when a figure is drawn
    from matplotlib.collections import PatchCollection  # heavy: loaded only when a figure is drawn
    from matplotlib.patches import Polygon  # heavy: loaded only when a figure is drawn

    pct = {}
    for d in ov.dmas:
        part = df[df.dma_id == d["id"]].dropna(subset=["inflow", "billed"]) if not df.empty else df
        if len(part) and part.inflow.sum() > 0:
            pct[d["id"]] = 100.0 * (part.inflow.sum() - part.billed.sum()) / part.inflow.sum()
    alarmed = {a["dma_id"] for a in ov.alarms if a["state"] == "open"}
    cmap = matplotlib.colormaps["RdYlGn_r"]
    norm = matplotlib.colors.Normalize(vmin=0, vmax=40)
    fig, ax = plt.subplots(figsize=(6, 7))
    for d in sorted(ov.dmas, key=lambda d: d["id"] in alarmed):
        if not d["outline"]:
            continue
        g = json.loads(d["outline"])
        polys = g["coordinates"] if g["type"] == "MultiPolygon" else [g["coordinates"]]
        face = cmap(norm(pct[d["id"]])) if d["id"] in pct else (0.8, 0.8, 0.8, 1)
        patches = [Polygon(poly[0], closed=True) for poly in polys]
        ax.add_collection(PatchCollection(patches, facecolor=face, alpha=0.6,
                                          edgecolor="#d00000" if d["id"] in alarmed else "#333333",
                                          linewidth=3 if d["id"] in alarmed else 0.8))
        label = d["name"] + (f"\n{num(pct[d['id']])} %" if d["id"] in pct else "")
        if d["id"] in alarmed:
            label += "\n⚠ " + t("balance.state.alarm")
        ax.annotate(label, (d["lon"], d["lat"]), ha="center", va="center", fontsize=8,
                    bbox={"boxstyle": "round", "fc": "white", "alpha": 0.8, "lw": 0})
    ax.autoscale()
    ax.set_aspect(1 / 0.5)          # ~cos(60°): metres look square at Helsinki's latitude
    ax.set_xticks([])
    ax.set_yticks([])
    sm = matplotlib.cm.ScalarMappable(cmap=cmap, norm=norm)
    fig.colorbar(sm, ax=ax, shrink=0.6, orientation="horizontal", pad=0.03, label=t("balance.map.legend"))
    ax.set_title(t("balance.map.title"), fontsize=10)
    st.pyplot(fig, clear_figure=True)
    plt.close(fig)


def charts(ov: dma_ops.Overview, df: pd.DataFrame, dma_id: int) -> None:
    part = df[df.dma_id == dma_id]
    if part.empty:
        st.info(t("balance.no_data"))
        return
    vol = part.melt(id_vars=["day"], value_vars=["inflow", "billed"], var_name="what", value_name="m3")
    vol["what"] = vol["what"].map({"inflow": t("balance.series.inflow"), "billed": t("balance.series.billed")})
    x = alt.X("day:T", title=t("balance.axis.day"), axis=alt.Axis(format="%d.%m"))
    c1 = alt.Chart(vol).mark_line(point=True).encode(
        x=x, y=alt.Y("m3:Q", axis=y_axis(t("balance.axis.m3_day")), scale=alt.Scale(zero=False)),
        color=alt.Color("what:N", title=None, legend=alt.Legend(orient="top", labelLimit=400))).properties(
        title=t("balance.chart.volumes"), height=260)
    c2 = alt.Chart(part).mark_bar().encode(
        x=x, y=alt.Y("nrw_pct:Q", axis=y_axis(t("balance.axis.nrw_pct"))),
        color=alt.condition(alt.datum.nrw_pct > 25, alt.value("#d00000"), alt.value("#4c78a8"))).properties(
        title=t("balance.chart.nrw"), height=200)
    nights = pd.DataFrame([n for n in ov.nights if n["dma_id"] == dma_id])
    st.altair_chart(c1, use_container_width=True)
    st.altair_chart(c2, use_container_width=True)
    if nights.empty:
        st.info(t("balance.no_nights"))
        return
    nights["day"] = pd.to_datetime(nights["day"])
    nights["limit"] = nights["baseline_m3h"] * (1 + ov.rules.rise_pct / 100.0)
    nights["limit"] = nights[["limit"]].join(nights["baseline_m3h"] + ov.rules.rise_abs_m3h, rsuffix="_abs").max(axis=1)
    nights.loc[nights["baseline_m3h"].isna(), "limit"] = None
    nights["verdict_text"] = nights["verdict"].map(lambda v: t(f"balance.verdict.{v}"))
    base = alt.Chart(nights).encode(x=x)
    band = base.mark_area(opacity=0.25, color="#4c78a8").encode(
        y=alt.Y("baseline_m3h:Q", axis=y_axis(t("balance.axis.m3h"))), y2="limit:Q")
    bl = base.mark_line(strokeDash=[4, 3], color="#4c78a8").encode(y="baseline_m3h:Q")
    mnf = base.mark_line(color="#222222").encode(y="mnf_m3h:Q")
    pts = base.mark_point(filled=True, size=60).encode(
        y="mnf_m3h:Q",
        color=alt.Color("verdict_text:N", title=None, legend=alt.Legend(orient="top"),
                        scale=alt.Scale(domain=[t(f"balance.verdict.{v}") for v in ("normal", "high", "learning", "no_data")],
                                        range=["#2ca02c", "#d00000", "#999999", "#cccccc"])),
        tooltip=[alt.Tooltip("day:T", format="%d.%m.%Y"), alt.Tooltip("mnf_m3h:Q", format=".2f"),
                 alt.Tooltip("baseline_m3h:Q", format=".2f")])
    st.altair_chart((band + bl + mnf + pts).properties(title=t("balance.chart.mnf"), height=300),
                    use_container_width=True)


def alarm_list(ov: dma_ops.Overview) -> None:
    st.subheader(t("balance.alarms"))
    if not ov.alarms:
        st.info(t("balance.no_alarms"))
        return
    for a in ov.alarms:
        state = t(f"balance.alarm.{a['state']}")
        link = (f"[{t('balance.alarm.incident', id=a['incident_id'])}](/incidents?id={a['incident_id']}) "
                f"({label('status', a['incident_status'])})" if a["incident_id"] else "—")
        text = t("balance.alarm.line", dma=md_safe(a["dma_name"]), opened=day_text(a["opened_on"]),
                 last=day_text(a["last_high_on"]), baseline=num(a["baseline_m3h"], 2), peak=num(a["peak_mnf_m3h"], 2))
        box = st.error if a["state"] == "open" else st.success
        box(f"**{state}** · {text} · {link}", icon=":material/warning:" if a["state"] == "open" else ":material/check:")


def main() -> None:
    guard("balance")
    st.title(t("balance.title"))
    st.caption(t("balance.hint"))
    days = st.radio(t("balance.period"), PERIODS, index=len(PERIODS) - 1, horizontal=True,
                    format_func=lambda d: t("balance.days", n=d), key=tkey("balance_days"))
    ov = dma_ops.overview(actor(), days=int(days))
    if not ov.dmas:
        st.info(t("balance.no_dmas"))
        return
    st.caption(t("balance.range", since=day_text(ov.since), until=day_text(ov.until)))
    df = _frame(ov)
    alarm_list(ov)
    st.subheader(t("balance.areas"))
    st.dataframe(summary(ov, df), hide_index=True, width="stretch")
    left, right = st.columns([3, 2])
    with right:
        dma_map(ov, df)
    with left:
        names = {d["id"]: d["name"] for d in ov.dmas}
        ids = list(names)
        alarmed = [a["dma_id"] for a in ov.alarms if a["state"] == "open"]
        pick = st.selectbox(t("balance.pick"), ids, index=ids.index(alarmed[0]) if alarmed and alarmed[0] in ids else 0,
                            format_func=lambda i: names.get(i, str(i)), key="balance_pick")
        charts(ov, df, pick)
    st.caption(t("balance.rules", pct=num(ov.rules.rise_pct, 0), abs=num(ov.rules.rise_abs_m3h, 1),
                 n=ov.rules.baseline_nights, m=ov.rules.clear_after_nights,
                 start=ov.rules.night_start.strftime("%H:%M"), end=ov.rules.night_end.strftime("%H:%M")))




main()
