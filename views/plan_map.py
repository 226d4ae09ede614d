"""A shutoff plan on screen — one component for every page that shows one: the planner's what-if, a
burst report's plan before approval, an approved outage and its extension preview.

A plan (computed or stored) becomes a :class:`PlanShape`: isolated (red) and unintentionally dry
(orange) pipes, the valves to close numbered in crew order, optional valves, the buildings cut off.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import folium
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from gis import layers as L
from ops import maps
from ops.base import utcnow
from ops.incidents import rules
from views import exports
from views.common import t
from views.formatting import label
from views.map_parts import buildings_overlay, legend_items, map_key, tile_map
from views.session import actor

ISOLATED, UNINTENDED, OPTIONAL = "#d7191c", "#ff8c00", "#9e9e9e"
BUILDING_ISOLATED, BUILDING_UNINTENDED = "#fb6a4a", "#fdae6b"
TO_CLOSE, BREAK = "#c51b7d", "#ffff00"   # the numbered valves to close; the break point
# what a grown plan adds (a stuck valve's preview): new valves to close, new buildings cut off
NEW_VALVE, BUILDING_NEW = "#5e35b1", "#9575cd"
CRITICAL = ("hospital", "school", "kindergarten")


@dataclass(frozen=True)
class PlanShape:
    isolated: list[str]
    unintended: list[str]
    valves: list[dict[str, Any]]           # crew order; each with id, ext_id, order, lon, lat, street
    optional: list[dict[str, Any]]
    buildings: list[dict[str, Any]]        # id, address, kind, residents, unintended
    geoms: dict[str, dict[str, Any]]       # pipe id -> GeoJSON geometry
    breaks: list[tuple[float, float]] = field(default_factory=list)  # (lat, lon)
    new_valves: frozenset[str] = frozenset()
    new_buildings: frozenset[int] = frozenset()   # buildings a grown plan adds (highlighted)

    @property
    def counts(self) -> dict[str, int]:
        return {"valves": len(self.valves), "optional": len(self.optional),
                "pipes": len(self.isolated) + len(self.unintended), "buildings": len(self.buildings),
                "residents": sum(int(b.get("residents") or 0) for b in self.buildings),
                "critical": sum(1 for b in self.buildings if b.get("kind") in CRITICAL)}

    def bbox(self, pad: float = 0.0015) -> tuple[float, float, float, float] | None:
        pts = [(v["lon"], v["lat"]) for v in self.valves + self.optional if v.get("lon") is not None]
        pts += [(lon, lat) for lat, lon in self.breaks]
        for g in self.geoms.values():
            coords = g["coordinates"] if g["type"] == "LineString" else [c for part in g["coordinates"] for c in part]
            pts += [(c[0], c[1]) for c in coords]
        if not pts:
            return None
        lons, lats = [p[0] for p in pts], [p[1] for p in pts]
        return (min(lons) - pad, min(lats) - pad / 2, max(lons) + pad, max(lats) + pad / 2)


def of_plan(plan: Any, geoms: dict[str, dict[str, Any]], breaks: Sequence[tuple[float, float]] = (),
            new_valves: Iterable[str] = (), new_buildings: Iterable[int] = ()) -> PlanShape:
    """A computed ``network.plan.ShutoffPlan`` (``new_*``: what it adds to a stored plan, highlighted)."""
    return PlanShape(isolated=list(plan.result.isolated_links), unintended=list(plan.result.unintended_links),
                     valves=plan.valves_to_close, optional=plan.optional_valves, buildings=plan.affected,
                     geoms=geoms, breaks=list(breaks), new_valves=frozenset(str(v) for v in new_valves),
                     new_buildings=frozenset(int(b) for b in new_buildings))


def of_outage(detail: Any, breaks: Sequence[tuple[float, float]] = ()) -> PlanShape:
    """A stored ``ops.outages.OutageDetail``."""
    o = detail.outage
    return PlanShape(isolated=[str(p) for p in o.pipe_ids], unintended=[str(p) for p in o.unintended_pipe_ids],
                     valves=detail.valves, optional=detail.optional_valves, buildings=detail.buildings,
                     geoms=detail.pipe_geojson, breaks=list(breaks))


def plan_groups(shape: PlanShape) -> list[folium.FeatureGroup]:
    """The plan's own layers: coloured pipes, optional valves (grey), valves to close (numbered), breaks."""
    pipes = folium.FeatureGroup(name=t("plan.layer.pipes"))
    for ids, color in ((shape.unintended, UNINTENDED), (shape.isolated, ISOLATED)):
        fc = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": shape.geoms[i], "properties": {}} for i in ids if i in shape.geoms]}
        if fc["features"]:
            folium.GeoJson(fc, style_function=lambda _f, c=color: {"color": c, "weight": 8, "opacity": 0.85}).add_to(pipes)
    optional = folium.FeatureGroup(name=t("plan.legend.optional"))
    for v in shape.optional:
        if v.get("lon") is not None:
            folium.CircleMarker([v["lat"], v["lon"]], radius=7, color="#333333", weight=1, fill=True, fill_color=OPTIONAL,
                                fill_opacity=0.95,
                                tooltip=L.escape_value(f"{v.get('ext_id') or v['id']} · {t('plan.legend.optional')}")
                                ).add_to(optional)
    def rows(new: bool) -> list[dict[str, Any]]:
        return [{"lon": v["lon"], "lat": v["lat"], "label": v["order"],
                 "tooltip": f"{v['order']}. {v.get('ext_id') or v['id']} · {v.get('street') or ''}"
                            + (f" · {t('plan.new_valve')}" if new else "")}
                for v in shape.valves if v.get("lon") is not None and (str(v["id"]) in shape.new_valves) == new]

    valves = L.numbered_valves_layer(rows(False), t("plan.legend.close"), color=TO_CLOSE)
    groups = [pipes, optional, valves]
    if shape.new_valves:
        groups.append(L.numbered_valves_layer(rows(True), t("plan.legend.new_valve"), color=NEW_VALVE))
    if shape.breaks:
        brk = folium.FeatureGroup(name=t("plan.legend.break"))
        for lat, lon in shape.breaks:
            folium.CircleMarker([lat, lon], radius=9, color="#000000", weight=3, fill=True, fill_color=BREAK,
                                fill_opacity=1.0, tooltip=t("plan.legend.break")).add_to(brk)
        groups.append(brk)
    return groups


BACKGROUND = ("buildings", "pipes", "valves", "sources")


def legend_entries(shape: PlanShape | None = None) -> list[tuple[str, str, str]]:
    """The plan's classes (with what a grown plan adds, when it does), then the background's — each
    colour with one meaning."""
    grown: list[tuple[str, str, str]] = []
    if shape is not None and shape.new_valves:
        grown.append(("dot", NEW_VALVE, t("plan.legend.new_valve")))
    if shape is not None and shape.new_buildings:
        grown.append(("fill", BUILDING_NEW, t("plan.legend.new_buildings")))
    return [*grown,
        ("line", ISOLATED, t("plan.legend.isolated")), ("line", UNINTENDED, t("plan.legend.unintended")),
        ("dot", TO_CLOSE, t("plan.legend.close")), ("dot", OPTIONAL, t("plan.legend.optional")),
        ("dot", BREAK, t("plan.legend.break")), ("fill", BUILDING_ISOLATED, t("plan.legend.buildings")),
        ("fill", BUILDING_UNINTENDED, t("plan.legend.buildings_unintended")),
        *legend_items("diameter", layers=BACKGROUND, reports=False, muted="light"),
    ]


def legend(shape: PlanShape | None = None) -> Any:
    return L.legend(t("map.legend"), legend_entries(shape))


def draw(shape: PlanShape | None, *, key: str, network_id: int | None, height: int = 520,
         center: tuple[float, float] | None = None, zoom: int = 17, home: tuple[tuple[float, float], int] | None = None,
         fit: bool = True, returned_objects: list[str] | None = None) -> dict[str, Any] | None:
    """The plan over a quiet background of tiles (buildings, pipes, valves, sources). ``fit`` frames the
    plan; otherwise the view is ``center``/``zoom`` and the map is built once at ``home``."""
    box = shape.bbox() if shape is not None and fit else None
    if box is None and center is None:
        return None
    if box is not None:
        center = ((box[1] + box[3]) / 2, (box[0] + box[2]) / 2)
    start = home or (center, zoom)
    m = tile_map(start[0], start[1], network_id=network_id, layers=BACKGROUND, muted="light")
    if box is not None:
        m.fit_bounds([[box[1], box[0]], [box[3], box[2]]])
    m.get_root().html.add_child(legend(shape))
    groups = []
    if shape is not None:
        colors = {int(b["id"]): BUILDING_NEW if int(b["id"]) in shape.new_buildings else
                  BUILDING_UNINTENDED if b.get("unintended") else BUILDING_ISOLATED for b in shape.buildings}
        groups.append(buildings_overlay(colors, t("plan.legend.buildings"), outline="#7f2704"))
        groups += plan_groups(shape)
    return st_folium(m, key=map_key(key, m), height=height, use_container_width=True, center=center, zoom=zoom,
                     feature_group_to_add=groups, layer_control=folium.LayerControl(collapsed=True),
                     returned_objects=returned_objects or [])


def metrics(shape: PlanShape) -> None:
    c = shape.counts
    cols = st.columns(6)
    for col, key in zip(cols, ("valves", "optional", "pipes", "buildings", "residents", "critical")):
        col.metric(t(f"plan.metric.{key}"), f"{c[key]:,}".replace(",", "\u202f"))


def crew_frame(shape: PlanShape) -> pd.DataFrame:
    rows = []
    for v in shape.valves:
        row = {t("plan.col.order"): v["order"], t("plan.col.valve"): v.get("ext_id") or v["id"],
               t("plan.col.street"): v.get("street") or "",
               t("plan.col.lat"): round(float(v["lat"]), 6) if v.get("lat") is not None else None,
               t("plan.col.lon"): round(float(v["lon"]), 6) if v.get("lon") is not None else None}
        if shape.new_valves:
            row[t("plan.col.new")] = "✓" if str(v["id"]) in shape.new_valves else ""
        rows.append(row)
    return pd.DataFrame(rows)


def affected_frame(rows: Sequence[dict[str, Any]], new: frozenset[int] = frozenset()) -> pd.DataFrame:
    """The buildings cut off (``new``: the ones a grown plan adds, marked and listed first)."""
    if new:
        rows = sorted(rows, key=lambda b: int(b["id"]) not in new)
    return pd.DataFrame([{
        **({t("plan.col.new"): "✓" if int(b["id"]) in new else ""} if new else {}),
        t("plan.col.address"): b.get("address") or "",
        t("plan.col.kind"): label("kind", b.get("kind")),
        t("plan.col.residents"): int(b.get("residents") or 0),
        t("plan.col.unintended"): t("plan.yes") if b.get("unintended") else "",
    } for b in rows])


def tables(shape: PlanShape, *, key: str, height: int = 260, context: Any = None) -> None:
    """The crew sheet (valves in order with coordinates) and the addresses cut off, with downloads
    (``context``: a ``views.exports.SheetContext`` naming the report / outage)."""
    st.markdown(f"**{t('plan.crew')}**")
    st.dataframe(crew_frame(shape), hide_index=True, width="stretch")
    if shape.optional:
        st.caption(t("plan.optional", valves=", ".join(str(v.get("ext_id") or v["id"]) for v in shape.optional)))
    st.markdown(f"**{t('plan.affected')}**")
    st.dataframe(affected_frame(shape.buildings, shape.new_buildings), hide_index=True, width="stretch", height=height)
    downloads(shape, key=key, context=context)


def downloads(shape: PlanShape, *, key: str, context: Any = None) -> None:
    """The crew sheet (PDF to print, CSV), the addresses (CSV) and the plan with its buildings (GeoJSON)."""
    ctx = context or exports.SheetContext(made_at=_now(), timezone=_tz())
    ids = [int(b["id"]) for b in shape.buildings]
    a = actor()
    cols = st.columns(4, gap="small")
    # each file is made when its button is pressed, not on every run of the page
    cols[0].download_button(t("plan.export_pdf"), lambda: exports.crew_pdf(shape, ctx), ctx.file_name("crew-sheet", "pdf"),
                            "application/pdf", key=f"{key}_pdf", type="primary", on_click="ignore")
    cols[1].download_button(t("plan.export_crew"), lambda: exports.crew_csv(shape, ctx), ctx.file_name("crew-sheet", "csv"),
                            "text/csv", key=f"{key}_csv_valves", on_click="ignore")
    cols[2].download_button(t("plan.export_addresses"), lambda: exports.addresses_csv(shape, ctx),
                            ctx.file_name("addresses", "csv"), "text/csv", key=f"{key}_csv_addr", on_click="ignore")
    cols[3].download_button(
        t("plan.export_geojson"),
        lambda: json.dumps(exports.plan_geojson(shape, maps.buildings_by_id(a, ids) if ids else None),
                           ensure_ascii=False, default=str),
        ctx.file_name("shutoff-plan", "geojson"), "application/geo+json", key=f"{key}_geojson", on_click="ignore")


def _now() -> Any:
    return utcnow()


def _tz() -> str:
    return rules().timezone


def crew_rows(shape: PlanShape) -> list[dict[str, Any]]:
    rows = [{"order": v["order"], "valve_id": v["id"], "ext_id": v.get("ext_id"), "action": "close",
             "lat": v.get("lat"), "lon": v.get("lon"), "street": v.get("street"), "status": v.get("status")}
            for v in shape.valves]
    rows += [{"order": "", "valve_id": v["id"], "ext_id": v.get("ext_id"), "action": "optional",
              "lat": v.get("lat"), "lon": v.get("lon"), "street": v.get("street"), "status": v.get("status")}
             for v in shape.optional]
    return rows
