"""The inspectorate's page: organisations ranked by their KPIs (published formulas, zones), their figures
from their own actions (accept, visit, resolve, hand back, residents' ratings), the organisations whose
reports are past their deadline now, a map of
buildings coloured by their management company's zone, the reports behind any figure, and the
signed PDF report."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st
from babel.numbers import format_decimal
from streamlit_folium import st_folium

from gis import layers as L
from ops import inspection, maps
from ops.incidents import rules
from reports.kpis import ranking
from settings import get_settings
from views import errors
from views.common import lang, t, tkey
from views.formatting import fmt_dt, label, st_lang
from views.map_parts import buildings_overlay, fit_zoom
from views.session import actor, current_user, guard

ZONE_COLOURS = {"green": "#43a047", "yellow": "#fdd835", "red": "#e53935", None: "#9e9e9e"}
PERCENT = {"on_time", "answer_5min", "reopened", "org_visit_on_time", "org_returned"}
#: the figures from the organisations' own actions (reports.kpis.ORG_ACTION_FIGURES)
ORG_KEYS = ["org_accept_h", "org_visit_on_time", "org_resolve_h", "org_returned", "org_rating"]


def kpi_names() -> dict[str, str]:
    return {"on_time": t("inspection.kpi.on_time"), "overdue_open": t("inspection.kpi.overdue_open"),
            "median_close_h": t("inspection.kpi.median_close_h"), "p90_close_h": t("inspection.kpi.p90_close_h"),
            "answer_5min": t("inspection.kpi.answer_5min"), "reopened": t("inspection.kpi.reopened"),
            "repeat_per_1000": t("inspection.kpi.repeat_per_1000"),
            "outage_excess_h": t("inspection.kpi.outage_excess_h"),
            "org_accept_h": t("inspection.kpi.org_accept_h"), "org_visit_on_time": t("inspection.kpi.org_visit_on_time"),
            "org_resolve_h": t("inspection.kpi.org_resolve_h"), "org_returned": t("inspection.kpi.org_returned"),
            "org_rating": t("inspection.kpi.org_rating")}


def org_formulas() -> dict[str, str]:
    return {"org_accept_h": t("inspection.formula.org_accept_h"),
            "org_visit_on_time": t("inspection.formula.org_visit_on_time"),
            "org_resolve_h": t("inspection.formula.org_resolve_h"), "org_returned": t("inspection.formula.org_returned"),
            "org_rating": t("inspection.formula.org_rating")}


def org_actions(ranked: list[dict[str, Any]], service: dict[str, Any], min_count: int) -> None:
    """Each organisation's figures from its own actions, with their formulas and the guard."""
    names = kpi_names()
    st.subheader(t("inspection.org_actions"))
    rows = [{t("inspection.col.org"): o["name"], **{names[k]: cell(k, o["kpis"][k]) for k in ORG_KEYS}}
            for o in ranked]
    rows.append({t("inspection.col.org"): t("inspection.whole_service"),
                 **{names[k]: cell(k, service["kpis"][k]) for k in ORG_KEYS}})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="insp_org_actions")
    st.caption(t("inspection.guard", n=min_count))
    with st.expander(t("inspection.formulas")):
        for k, formula in org_formulas().items():
            st.markdown(f"**{names[k]}** — {formula}")


def breaches() -> None:
    """The organisations whose reports are past their deadline while they hold them (the escalation)."""
    found = inspection.org_breaches(actor())
    st.subheader(t("inspection.breaches"))
    if not found:
        st.caption(t("inspection.breaches_none"))
        return
    st.dataframe(pd.DataFrame([{t("inspection.col.org"): b["name"], t("inspection.col.overdue"): len(b["ids"]),
                                t("inspection.col.number"): ", ".join(f"№{i}" for i in b["ids"][:30])
                                + (" …" if len(b["ids"]) > 30 else "")} for b in found]),
                 hide_index=True, width="stretch", key="insp_breaches")


def zone_name(zone: str | None) -> str:
    return {"green": t("inspection.zone.green"), "yellow": t("inspection.zone.yellow"),
            "red": t("inspection.zone.red")}.get(zone or "", "—")


def cell(key: str, fig: dict[str, Any]) -> str:
    if fig["value"] is None:
        return "—"
    loc = st_lang()
    num = lambda v: format_decimal(v, "#,##0.#", locale=loc)  # noqa: E731
    v = f"{format_decimal(fig['value'] * 100, '#,##0.0', locale=loc)} %" if key in PERCENT else (
        num(fig["numerator"]) if key == "overdue_open" else format_decimal(fig["value"], "#,##0.00", locale=loc))
    mark = "" if fig["status"] == "ok" else f" · {t('inspection.not_enough')}"
    return f"{v} ({num(fig['numerator'])}/{num(fig['denominator'])}){mark}"


def main() -> None:
    guard("inspection")
    st.title(t("inspection.title"))
    st.caption(t("inspection.intro"))
    tz = ZoneInfo(rules().timezone)
    today = datetime.now(tz).date()
    first_default = (today.replace(day=1) - timedelta(days=1)).replace(day=1) if today.day < 8 else today.replace(day=1)
    c = st.columns([1, 1, 2])
    first = c[0].date_input(t("inspection.from"), value=first_default, format="DD.MM.YYYY", key="insp_from")
    last = c[1].date_input(t("inspection.to"), value=today, format="DD.MM.YYYY", key="insp_to")
    if not isinstance(first, date) or not isinstance(last, date) or last < first:
        st.warning(t("inspection.bad_period"))
        return
    try:
        data = inspection.kpis(actor(), first, last)
    except Exception as exc:
        errors.show(exc)
        return
    names = kpi_names()
    ranked = ranking(data)
    service = data["organisations"][0]
    st.subheader(t("inspection.ranking"))
    keys = ["on_time", "median_close_h", "p90_close_h", "answer_5min", "reopened", "repeat_per_1000",
            "overdue_open", "outage_excess_h"]
    rows = [{t("inspection.col.rank"): str(i), t("inspection.col.org"): o["name"],
             t("inspection.col.zone"): zone_name(o["zone"]), **{names[k]: cell(k, o["kpis"][k]) for k in keys}}
            for i, o in enumerate(ranked, start=1)]
    rows.append({t("inspection.col.rank"): "", t("inspection.col.org"): t("inspection.whole_service"),
                 t("inspection.col.zone"): zone_name(service["zone"]), **{names[k]: cell(k, service["kpis"][k]) for k in keys}})
    counts = {z: sum(1 for o in ranked if o["zone"] == z) for z in ("green", "yellow", "red", None)}
    st.markdown(t("inspection.zone_counts", green=counts["green"], yellow=counts["yellow"], red=counts["red"],
                  none=counts[None]))
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="insp_ranking")
    st.caption(t("inspection.guard", n=data["min_count"]))
    with st.expander(t("inspection.formulas")):
        formulas = {"on_time": t("inspection.formula.on_time"), "overdue_open": t("inspection.formula.overdue_open"),
                    "median_close_h": t("inspection.formula.median_close_h"),
                    "p90_close_h": t("inspection.formula.p90_close_h"),
                    "answer_5min": t("inspection.formula.answer_5min"), "reopened": t("inspection.formula.reopened"),
                    "repeat_per_1000": t("inspection.formula.repeat_per_1000"),
                    "outage_excess_h": t("inspection.formula.outage_excess_h")}
        for k in keys:
            st.markdown(f"**{names[k]}** — {formulas[k]}")
    org_actions(ranked, service, data["min_count"])
    breaches()

    st.subheader(t("inspection.map_title"))
    zones = {o["id"]: o["zone"] for o in data["organisations"] if o["id"] is not None}
    companies = inspection.building_companies(actor())
    colours = {b: ZONE_COLOURS[zones.get(mc) if mc else None] for b, mc in companies.items()}

    bounds = maps.city_bounds(actor())
    if bounds:
        s = get_settings()
        center = ((bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2)
        m = L.base_map(center, fit_zoom(bounds, 1000, 460), tiles_url=s.tiles_url or None,
                       attribution=s.tiles_attribution, tiles_name=s.tiles_name)
        buildings_overlay(colours, t("inspection.map_layer"), opacity=0.75).add_to(m)
        # the zones' colours named in a legend on the map (never as colour codes)
        m.get_root().html.add_child(L.legend(t("inspection.map_layer"), [
            *(("fill", ZONE_COLOURS[z], zone_name(z)) for z in ("green", "yellow", "red")),
            ("fill", ZONE_COLOURS[None], t("inspection.no_company"))]))
        st_folium(m, key=f"insp_map_{lang()}_{first}_{last}", height=460, use_container_width=True,
                  returned_objects=[])

    st.subheader(t("inspection.drill"))
    choices = [None, *[o["id"] for o in ranked]]
    by_id = {o["id"]: o for o in data["organisations"]}
    d = st.columns(2)
    org_id = d[0].selectbox(t("inspection.col.org"), choices, key=tkey("insp_drill_org"),
                            format_func=lambda i: by_id[i]["name"] if i is not None else t("inspection.whole_service"))
    drill_keys = ["on_time", "overdue_open", "median_close_h", "p90_close_h", "answer_5min", "reopened",
                  "repeat_per_1000", *ORG_KEYS]
    key = d[1].selectbox(t("inspection.figure"), drill_keys, key=tkey("insp_drill_kpi"), format_func=lambda k: names[k])
    fig = by_id[org_id]["kpis"][key]
    st.markdown(f"**{names[key]}: {cell(key, fig)}** — {t('inspection.drill_note')}")
    found = inspection.reports_by_ids(actor(), fig["ids"])
    st.dataframe(pd.DataFrame([{
        t("inspection.col.number"): f"/incidents?id={i.id}", t("inspection.col.category"): label("category", i.category),
        t("inspection.col.address"): i.address or "", t("inspection.col.created"): fmt_dt(i.created_at),
        t("inspection.col.status"): label("status", i.status)} for i in found]),
        hide_index=True, width="stretch", key="insp_drill_table",
        column_config={t("inspection.col.number"): st.column_config.LinkColumn(display_text=r"/incidents\?id=(\d+)")})

    st.subheader(t("inspection.pdf_title"))
    p = st.columns([2, 1, 1])
    target = p[0].selectbox(t("inspection.pdf_org"), choices, key=tkey("insp_pdf_org"),
                            format_func=lambda i: by_id[i]["name"] if i is not None else t("inspection.whole_service"))
    pdf_lang = p[1].selectbox(t("inspection.pdf_lang"), ["ru", "en"], index=0 if lang() == "ru" else 1,
                              key="insp_pdf_lang")
    user = current_user()
    who = actor()                     # the callable runs outside the page's run: take the actor now
    author = (user.display_name or user.login) if user else who.author

    def make_pdf() -> bytes:
        return inspection.inspection_pdf(who, first, last, org_id=target, lang=pdf_lang, author=author)

    p[2].download_button(t("inspection.pdf_button"), data=make_pdf, mime="application/pdf",
                         file_name=f"inspection-{first:%Y%m%d}-{last:%Y%m%d}{'-org' + str(target) if target else ''}.pdf",
                         key="insp_pdf", on_click="ignore")


main()
