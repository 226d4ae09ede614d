"""Control room for the wall screen: KPIs, the queue by urgency with countdowns, the live map of
reports and of the buildings cut off by active outages, and a banner for each new emergency.

Everything live sits in one ``st.fragment(run_every=…)``; the map's base (centre, zoom, legend) is
identical on every run, so st_folium keeps its component (and the zoom the viewer chose) and only
swaps the feature groups.
"""
from __future__ import annotations

import hashlib
import html
import json
import time
from datetime import datetime, timedelta
from typing import Any

import folium
import streamlit as st

from gis import layers as L
from incidents.model import ControlRoomKpis, Outage, QueueItem
from ops import incidents as reports
from ops import inspection, maps
from ops.errors import is_database_down
from views import burst_panel, ticker
from views.common import lang, network_id, t
from views.errors import show
from views.formatting import fmt_dt, fmt_int, fmt_left, label, md_safe, outage_state
from views.map_cache import cached_folium
from views.map_parts import (
    city_bounds_or_message,
    fit_zoom,
    legend_items,
    map_key,
    network_revision,
    tile_map,
)
from views.session import actor, guard, still_signed_in

REFRESH_S = 10
SAFETY_NET = 12     # periods: Streamlit's own timer, should the browser's clock (views.ticker) ever stop
QUEUE_ROWS = 7          # rows of the queue on one page of the wall screen (1920×1080): the rest turns page by page
OUTAGE_ROWS = 4
BANNER_S = 120
MAP_HEIGHT = 720        # px: with the title and the KPIs it fills the page beside the sidebar
KIOSK_MAP_HEIGHT = 900  # px: on the wall (1920×1080, no title, no sidebar) the map takes over half the screen
OUTAGE_BUILDING = "#c51b8a"
OUTAGE_PIPES = "#f768a1"

CSS = """
<style>
[data-testid="stAppViewContainer"], [data-testid="stHeader"], [data-testid="stMain"], [data-testid="stBottom"] > div {
  background: #0b1220 !important; color: #e8eef7;
}
[data-testid="stMainBlockContainer"] { padding-top: 3.2rem; max-width: 100%; }
[data-testid="stMain"] [data-testid="stCaptionContainer"], [data-testid="stMain"] .stCaption { color: #9fb0cc !important; opacity: 1; }
[data-testid="stMain"] h1, [data-testid="stMain"] h2, [data-testid="stMain"] h3,
[data-testid="stMain"] p, [data-testid="stMain"] span, [data-testid="stMain"] div { color: #e8eef7; }
[data-testid="stMain"] h1 { font-size: 2.6rem; padding: 0 0 .4rem 0; }
[data-testid="stMain"] [data-testid="stCaptionContainer"] p { color: #9fb0cc; font-size: 1.05rem; }
.cr-kpis { display: flex; gap: 14px; margin-bottom: 10px; }
.cr-kpi { flex: 1; background: #16213a; border-radius: 10px; padding: 8px 16px; border-left: 8px solid #3a7bd5; }
.cr-kpi .v { font-size: 58px; font-weight: 800; line-height: 1.05; color: #ffffff; }
.cr-kpi .l { font-size: 22px; line-height: 1.15; color: #c8d3e6 !important; }
.cr-kpi.bad { border-left-color: #ff3b30; } .cr-kpi.bad .v { color: #ff6b60 !important; }
.cr-kpi.warn { border-left-color: #ffb020; } .cr-kpi.warn .v { color: #ffc857 !important; }
.cr-kpi.water { border-left-color: #c51b8a; }
table.cr-queue { width: 100%; border-collapse: collapse; font-size: 21px; table-layout: auto; }
table.cr-queue th { text-align: left; color: #9fb0cc; font-weight: 600; font-size: 17px; padding: 4px 8px;
  border-bottom: 2px solid #2a3957; }
table.cr-queue td { padding: 4px 6px; border-bottom: 1px solid #1f2b45; color: #e8eef7; vertical-align: top; }
table.cr-queue td.what small { display: block; font-size: 16px; color: #9fb0cc !important; }
table.cr-queue td.left { font-family: monospace; font-size: 28px; font-weight: 700; text-align: right; white-space: nowrap; }
table.cr-queue tr.overdue td.left { color: #ff5b4f !important; }
table.cr-queue .cr-org { color: #ff5b4f; font-size: 0.85em; }
table.cr-queue tr.at_risk td.left { color: #ffc857 !important; }
table.cr-queue tr.on_time td.left { color: #7ee0a1 !important; }
.cr-chip { display: inline-block; width: 16px; height: 16px; border-radius: 50%; margin-right: 6px;
  vertical-align: middle; border: 2px solid #0b1220; }
.cr-updated { color: #9fb0cc; font-size: 1.05rem; margin-top: 4px; }
.cr-more { color: #9fb0cc; font-size: 20px; padding-top: 6px; }
.cr-h { font-size: 28px; font-weight: 700; margin: 4px 0 6px 0; color: #ffffff; }
table.cr-outages { width: 100%; border-collapse: collapse; font-size: 20px; margin-top: 4px; }
table.cr-outages td { padding: 5px 6px; border-bottom: 1px solid #1f2b45; color: #e8eef7; vertical-align: top; }
table.cr-outages td.end { font-family: monospace; font-size: 24px; font-weight: 700; text-align: right; white-space: nowrap; }
table.cr-outages tr.active td.end { color: #f768a1 !important; }
table.cr-outages td small { display: block; font-size: 16px; color: #9fb0cc !important; }
.kiosk [data-testid="stSidebar"], .kiosk [data-testid="stSidebarCollapsedControl"] { display: none !important; }
.cr-banner { background: #b00020; color: #fff !important; font-size: 30px; font-weight: 800; padding: 14px 20px;
  border-radius: 10px; margin-bottom: 8px; animation: cr-blink 1s step-start 0s 6; }
@keyframes cr-blink { 50% { background: #ff3b30; } }
</style>
"""


def breaches_html(breaches: dict[int, int], names: dict[int, str]) -> str:
    """The organisations whose reports are past their deadline, most first: their breach escalates here."""
    if not breaches:
        return ""
    rows = sorted(breaches.items(), key=lambda kv: (-kv[1], names.get(kv[0], "")))
    return ('<div class="cr-h">' + html.escape(t("control.org_breaches")) + "</div><div>"
            + "<br>".join(f"{html.escape(names.get(org, f'#{org}'))} — <b>{fmt_int(n)}</b>" for org, n in rows)
            + "</div>")


def kpi_html(k: ControlRoomKpis) -> str:
    cards = [
        ("open", k.open, ""), ("overdue", k.overdue, "bad" if k.overdue else ""),
        ("due_1h", k.due_within_1h, "warn" if k.due_within_1h else ""),
        ("unanswered", k.new_unanswered, "warn" if k.new_unanswered else ""),
        ("outages", k.active_outages, "water" if k.active_outages else ""),
        ("buildings", k.buildings_without_water, "water" if k.buildings_without_water else ""),
        ("residents", k.residents_without_water, "water" if k.residents_without_water else ""),
    ]
    return '<div class="cr-kpis">' + "".join(
        f'<div class="cr-kpi cr-kpi-{name} {cls}"><div class="v">{fmt_int(value)}</div>'
        f'<div class="l">{html.escape(t(f"control.kpi.{name}"))}</div></div>'
        for name, value, cls in cards) + "</div>"


def must_show(items: list[QueueItem], now: datetime) -> list[QueueItem]:
    """What the wall screen must show: every open emergency and every report due within the hour
    (overdue ones included), most urgent first — the queue's own order."""
    soon = now + timedelta(hours=1)
    return [q for q in items if q.incident.priority == "emergency" or q.due_at <= soon]


def queue_page(items: list[QueueItem], now: datetime, turn: int) -> tuple[list[QueueItem], int, int, int]:
    """The rows of this refresh: the must-show reports, a page at a time, turning at every refresh
    when they do not fit (or the most urgent others when nothing must be shown). Returns
    (rows, page, pages, others not shown)."""
    must = must_show(items, now)
    if not must:
        return items[:QUEUE_ROWS], 1, 1, max(len(items) - QUEUE_ROWS, 0)
    pages = (len(must) + QUEUE_ROWS - 1) // QUEUE_ROWS
    page = turn % pages
    return must[page * QUEUE_ROWS:(page + 1) * QUEUE_ROWS], page + 1, pages, len(items) - len(must)


def queue_html(items: list[QueueItem], now: datetime, turn: int = 0, org_names: dict[int, str] | None = None) -> str:
    """The queue's rows of this refresh; an overdue report names the organisation that holds it
    (``org_names``: id → short name): its breach escalates here."""
    if not items:
        return f'<p class="cr-more">{html.escape(t("control.queue_empty"))}</p>'
    rows_shown, page, pages, others = queue_page(items, now, turn)
    head = "".join(f"<th>{html.escape(t(f'control.col.{c}'))}</th>"
                   for c in ("id", "what", "address", "status", "left"))
    rows = []
    for q in rows_shown:
        i = q.incident
        color = L.PRIORITY_COLORS.get(i.priority, "#999999")
        rows.append(
            f'<tr class="cr-row cr-inc-{i.id} {html.escape(q.sla_state)}">'
            f"<td>{i.id}</td>"
            f'<td class="what"><span class="cr-chip" style="background:{color}" '
            f'title="{html.escape(label("priority", i.priority))}"></span>{html.escape(label("category", i.category))}</td>'
            f"<td>{html.escape(i.address or t('control.no_address'))}</td>"
            f"<td>{html.escape(label('status', i.status))}{_holder(q, org_names)}</td>"
            f'<td class="left">{html.escape(fmt_left(q.minutes_left))}</td></tr>')
    foot = []
    if pages > 1:
        foot.append(t("control.page", page=page, pages=pages))
    if others > 0:
        foot.append(t("control.more", n=others))
    more = f'<div class="cr-more cr-foot">{html.escape(" · ".join(foot))}</div>' if foot else ""
    return f'<table class="cr-queue"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>{more}'


def _holder(q: QueueItem, org_names: dict[int, str] | None) -> str:
    """The organisation that holds an overdue report (nothing for a report on time or held by nobody)."""
    org = q.incident.responsible_org_id
    if q.sla_state != "overdue" or org is None or org_names is None:
        return ""
    return f'<br><span class="cr-org">{html.escape(org_names.get(org, f"#{org}"))}</span>'


def outages_html(active: list[Outage], planned: list[Outage], now: datetime) -> str:
    """Active and planned outages with their expected ends (the active ones first)."""
    found = [*active, *sorted(planned, key=lambda o: o.planned_start)]
    if not found:
        return f'<p class="cr-more">{html.escape(t("control.outages_none"))}</p>'
    rows = []
    for o in found[:OUTAGE_ROWS]:
        left = (o.planned_end - now).total_seconds() / 60
        end = fmt_left(left) if o.state == "active" else fmt_dt(o.planned_start)
        what = t("control.outage_active") if o.state == "active" else outage_state(o)
        rows.append(
            f'<tr class="cr-out cr-out-{o.id} {html.escape(o.state)}"><td>№{o.id}</td>'
            f"<td>{html.escape(o.reason or '—')}<small>{html.escape(what)} · "
            f"{html.escape(t('control.outage_people', buildings=o.buildings, residents=fmt_int(o.residents)))}</small></td>"
            f'<td class="end">{html.escape(end)}<small>{html.escape(t("control.outage_until", end=fmt_dt(o.planned_end)))}</small></td></tr>')
    more = (f'<div class="cr-more">{html.escape(t("control.more", n=len(found) - OUTAGE_ROWS))}</div>'
            if len(found) > OUTAGE_ROWS else "")
    return f'<table class="cr-outages"><tbody>{"".join(rows)}</tbody></table>{more}'


def announce(items: list[QueueItem]) -> None:
    """Toast + banner for emergencies created since the previous refresh of this session."""
    ss = st.session_state
    newest = max((q.incident.id for q in items), default=0)
    last = ss.get("cr_last_id")
    banners: list[tuple[float, str]] = [b for b in ss.get("cr_banners", []) if time.time() - b[0] < BANNER_S]
    if last is not None:
        for q in sorted(items, key=lambda q: q.incident.id):
            i = q.incident
            if i.id > last and i.priority == "emergency":
                msg = t("control.new_emergency", id=i.id, what=label("category", i.category),
                        address=i.address or t("control.no_address"))
                banners.append((time.time(), msg))
                st.toast(md_safe(msg), icon=":material/warning:", duration="long")  # report text never renders as Markdown
    ss["cr_last_id"] = max(newest, last or 0)
    ss["cr_banners"] = banners
    for _, msg in reversed(banners):
        st.markdown(f'<div class="cr-banner">{html.escape(msg)}</div>', unsafe_allow_html=True)


def age_hours(i: Any, now: datetime) -> int:
    """A report's age in whole hours, 0–24 (its size and opacity on the map change once an hour)."""
    return int(min(max((now - i.created_at).total_seconds() / 3600, 0.0), 24.0))


def incidents_features(items: list[QueueItem], now: datetime) -> dict[str, Any]:
    """Open reports as one GeoJSON collection: per report its place, its tooltip and its style's name
    (priority, overdue, age in hours) — what the map shows, nothing that changes every minute."""
    features = []
    for q in sorted(items, key=lambda q: (q.incident.created_at, q.incident.id)):  # newest drawn on top
        i = q.incident
        overdue = q.sla_state == "overdue"
        tip = f"#{i.id} · {label('category', i.category)} · {i.address or ''} · {label('sla', q.sla_state)}"
        features.append({"type": "Feature", "id": i.id,
                         "geometry": {"type": "Point", "coordinates": [round(i.lon, 6), round(i.lat, 6)]},
                         "properties": {"tip": html.escape(tip),
                                        "s": f"{i.priority}|{int(overdue)}|{age_hours(i, now)}"}})
    return {"type": "FeatureCollection", "features": features}


def report_style(code: str) -> dict[str, Any]:
    """The circle of a report: priority colour; newer ones larger and more opaque; overdue ringed red."""
    priority, overdue, age = code.split("|")
    fresh = 1.0 - int(age) / 24.0
    return {"radius": round(7 + 9 * fresh, 1), "color": "#ff3b30" if overdue == "1" else "#ffffff",
            "weight": 3 if overdue == "1" else 1.5, "fill": True,
            "fillColor": L.PRIORITY_COLORS.get(priority, "#999999"), "fillOpacity": round(0.45 + 0.5 * fresh, 2)}


def incidents_layer(fc: dict[str, Any]) -> folium.FeatureGroup:
    """Open reports: one GeoJSON layer (one tooltip template, the styles by name), not a marker and
    a tooltip per report."""
    fg = folium.FeatureGroup(name=t("map.layer.incidents"))
    if fc["features"]:
        folium.GeoJson(fc, marker=folium.CircleMarker(), style_function=lambda f: report_style(f["properties"]["s"]),
                       tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False)).add_to(fg)
    return fg


def dry_buildings(dry_building_ids: list[int], every: int) -> dict[str, Any] | None:
    """The footprints of the buildings left without water (shared by the sessions for one period)."""
    gdf = maps.buildings_by_id(actor(), dry_building_ids, max_age=every) if dry_building_ids else None
    if gdf is None or not len(gdf):
        return None
    return L.to_feature_collection(gdf, ["id", "address", "residents"])


def outages_layer(outages: list[Outage], dry: dict[str, Any] | None) -> folium.FeatureGroup:
    """Active outages: the pipes shut off and the buildings left without water."""
    fg = folium.FeatureGroup(name=t("control.legend.outage"))
    for o in outages:
        if o.geojson:
            folium.GeoJson(json.loads(o.geojson),
                           style_function=lambda _f: {"color": OUTAGE_PIPES, "weight": 6, "opacity": 0.9}).add_to(fg)
    if dry is not None:
        folium.GeoJson(dry, style_function=lambda _f: {"fillColor": OUTAGE_BUILDING, "color": "#ffffff",
                                                       "weight": 2, "fillOpacity": 0.75},
                       tooltip=folium.GeoJsonTooltip(fields=["address", "residents"],
                                                     aliases=[html.escape(t("field.address")),
                                                              html.escape(t("field.residents"))])).add_to(fg)
    return fg


BACKGROUND = ("buildings", "pipes")


def legend_entries() -> list[tuple[str, str, str]]:
    """Every class of the wall screen's map: reports by priority, the dry area, the muted city."""
    return [*[("dot", c, label("priority", p)) for p, c in L.PRIORITY_COLORS.items()],
            ("fill", OUTAGE_BUILDING, t("control.legend.outage")), ("line", OUTAGE_PIPES, t("control.legend.outage_pipes")),
            *burst_panel.legend_entries(),
            *legend_items("diameter", layers=BACKGROUND, reports=False, muted="dark")]


def live_map(room: reports.ControlRoom, bounds: tuple[float, float, float, float], bursts: list | None = None,
             every: int = REFRESH_S) -> None:
    """The live map: drawn once per state on this replica (views.map_cache); a refresh with no new or
    changed report, outage or burst renders nothing and sends nothing for the map."""
    center = ((bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2)
    height = KIOSK_MAP_HEIGHT if kiosk() else MAP_HEIGHT
    zoom = fit_zoom(bounds, 1200, height)
    net = network_id()
    revision = network_revision(net)
    reports_fc = incidents_features(room.queue, room.now)
    dry = dry_buildings(room.dry_building_ids, every)
    bursts = bursts or []
    # a suspected burst: the map centres on it (the base map stays the same; st_folium pans when the centre changes)
    view = (bursts[0].center, zoom) if bursts else (center, zoom)
    state = hashlib.sha256(json.dumps(
        [lang(), net, revision, height, bounds, view, reports_fc, [(o.id, o.geojson) for o in room.active], dry,
         repr(bursts)], sort_keys=True, default=str).encode()).hexdigest()

    def render() -> dict[str, Any]:
        # the city itself comes as vector tiles (muted, dark): only the live reports and outages travel with the page
        m = tile_map(center, zoom, network_id=net, layers=BACKGROUND, muted="dark")
        m.get_root().header.add_child(folium.Element("<style>.leaflet-container{background:#1b2333 !important}</style>"))
        m.get_root().html.add_child(L.legend(t("control.map_legend"), legend_entries(), scale=1.6))
        # the dry area is drawn last: it stays visible above the report markers
        return {"fig": m, "key": map_key("control_map", m), "height": height, "use_container_width": True,
                "center": view[0], "zoom": view[1],
                "feature_group_to_add": [incidents_layer(reports_fc), outages_layer(room.active, dry),
                                         burst_panel.layer(bursts)],
                "returned_objects": []}

    cached_folium(("control_map", state), render)


def kiosk() -> bool:
    """``/control?kiosk=1``: full screen for a wall, no sidebar, no toolbar."""
    return st.query_params.get("kiosk", "") in ("1", "true", "yes")


def refresh_seconds() -> int:
    raw = st.query_params.get("refresh", "")
    return min(max(int(raw), 2), 300) if raw.isdigit() else REFRESH_S


def refresh(every: int, bounds: tuple[float, float, float, float]) -> None:
    """One refresh of the live part: the figures (shared by the replica's sessions for one period),
    the banners, the map, the queue, the outages and when it was updated."""
    try:
        still_signed_in()
        room = reports.control_room(actor(), max_age=every)
    except Exception as exc:  # the wall screen keeps refreshing and says what is wrong meanwhile
        if is_database_down(exc):
            st.error(t("error.db_down"), icon=":material/cloud_off:")
        else:
            show(exc)
        return
    announce(room.queue)
    try:
        bursts = burst_panel.found(max_age=every)
    except Exception as exc:  # the locator never takes the wall screen down
        show(exc)
        bursts = []
    st.markdown(kpi_html(room.kpis), unsafe_allow_html=True)
    left, right = st.columns([5, 3] if kiosk() else [11, 9])
    with left:
        live_map(room, bounds, bursts, every)
    with right:
        if bursts and kiosk():   # the wall: a compact banner beside the map (the map keeps its size)
            st.markdown(burst_panel.banner_html(bursts), unsafe_allow_html=True)
        elif bursts:
            burst_panel.panel(bursts)
        turn = st.session_state["cr_turn"] = st.session_state.get("cr_turn", -1) + 1
        holders = any(q.sla_state == "overdue" and q.incident.responsible_org_id is not None for q in room.queue)
        names = {o["id"]: o["short_name"] or o["name"] for o in inspection.organisations(actor())} \
            if holders or room.org_breaches else {}
        st.markdown(f'<div class="cr-h">{html.escape(t("control.queue"))}</div>'
                    + queue_html(room.queue, room.now, turn, names), unsafe_allow_html=True)
        st.markdown(f'<div class="cr-h">{html.escape(t("control.outages"))}</div>'
                    + outages_html(room.active, room.planned, room.now), unsafe_allow_html=True)
        if room.org_breaches:
            st.markdown(breaches_html(room.org_breaches, names), unsafe_allow_html=True)
        # when the figures were computed; amber in the browser once no refresh came for two periods
        st.markdown(f'<div class="cr-updated">{html.escape(t("control.updated", time=fmt_dt(room.now, seconds=True), seconds=every))}</div>',
                    unsafe_allow_html=True)


def main() -> None:
    guard("control")
    st.markdown(CSS + ticker.STALE_CSS, unsafe_allow_html=True)
    if kiosk():
        st.markdown("<style>[data-testid=stSidebar], [data-testid=stSidebarCollapsedControl], "
                    "[data-testid=stHeader], [data-testid=stToolbar] {display: none !important;} "
                    "[data-testid=stMainBlockContainer] {padding: 1rem 1.2rem 0 1.2rem !important;}</style>",
                    unsafe_allow_html=True)
    bounds = city_bounds_or_message()
    if bounds is None:
        return
    every = refresh_seconds()

    # the browser's clock (views.ticker) asks for the next refresh a period after the last one was
    # drawn; Streamlit's own timer stays only as a safety net, far slower
    @st.fragment(run_every=timedelta(seconds=every * SAFETY_NET))
    def live() -> None:
        refresh(every, bounds)
        ticker.tick(every, key="cr_clock")

    if not kiosk():
        st.title(t("control.title"))
    live()


if __name__ == "__main__":
    main()
