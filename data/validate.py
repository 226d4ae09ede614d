"""Checks of one imported layer: geometry, ids and attribute values.

``check_layer`` never raises: it returns the cleaned frame (2-D geometry, typed attributes, an
``_ok`` column marking features fit for the topology step) and a list of problems, each
``<file>, layer "<layer>", feature <id>: <problem>``. Network-wide checks (pipes not touching,
valves far from any pipe) live in :mod:`data.topology`.
"""
from __future__ import annotations

import re
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from data.gis_read import Layer
from incidents.intake import LIMITS, has_line_break, one_line, text_problems

VALVE_STATUS = {"open": "open", "opened": "open", "closed": "closed", "close": "closed",
                "inoperable": "inoperable", "broken": "inoperable", "stuck": "inoperable"}
VALVE_KINDS = ("gate", "butterfly", "ball", "other")
NODE_KINDS = ("junction", "source", "tank", "reservoir", "hydrant")
BUILDING_KINDS = ("residential", "hospital", "school", "kindergarten", "commercial", "office", "public",
                  "industrial", "religious", "other")
BUILDING_SYNONYMS = {"apartments": "residential", "house": "residential", "detached": "residential",
                     "terrace": "residential", "dormitory": "residential", "clinic": "hospital",
                     "retail": "commercial", "shop": "commercial", "church": "religious",
                     "warehouse": "industrial", "civic": "public", "yes": "other"}
GEOM_TYPES = {"pipes": ("LineString",), "valves": ("Point",), "nodes": ("Point",),
              "buildings": ("Polygon", "MultiPolygon")}


def check_layer(layer: Layer) -> tuple[gpd.GeoDataFrame, list[str], list[str]]:
    """Clean and check ``layer``; returns (frame, problems, warnings)."""
    frame = layer.frame.copy()
    problems: list[str] = []
    warns: list[str] = []
    if layer.crs_missing:
        hint = " (a Shapefile without its .prj?)" if layer.file.lower().endswith((".shp", ".zip")) else ""
        problems.append(f"{layer.where}: no CRS{hint}; pass --crs EPSG:XXXX")
    ok = pd.Series(True, index=frame.index)
    geoms = []
    read_problems = frame["_geom_problem"] if "_geom_problem" in frame else [None] * len(frame)
    for i, (geom, where, read_problem) in enumerate(zip(frame.geometry.values, frame["_where"], read_problems)):
        g, problem = (geom, read_problem) if isinstance(read_problem, str) else _check_geometry(geom, layer.kind)
        if problem:
            problems.append(f"{where}: {problem}")
            ok.iloc[i] = False
        geoms.append(g)
    frame = frame.set_geometry(gpd.GeoSeries(geoms, index=frame.index, crs=frame.crs))

    if layer.has_ids:
        seen: dict[str, str] = {}
        for i, (ext_id, where, fid) in enumerate(zip(frame["ext_id"], frame["_where"], frame["_fid"])):
            if ext_id is None or ext_id == "":
                problems.append(f"{where}: empty id")
                ok.iloc[i] = False
            elif ext_id in seen:
                problems.append(f"{where}: duplicate id {ext_id!r} (first at {seen[ext_id]})")
                ok.iloc[i] = False
            else:
                seen[ext_id] = f"fid={fid}"

    for col, fn in _CHECKS.get(layer.kind, {}).items():
        if col not in frame:
            continue
        values = []
        for i, (v, where) in enumerate(zip(frame[col], frame["_where"])):
            value, problem, warning = fn(v)
            if problem:
                problems.append(f"{where}: {problem}")
                ok.iloc[i] = False
            if warning:
                warns.append(f"{where}: {warning}")
            values.append(value)
        frame[col] = pd.Series(values, index=frame.index, dtype=object)
    frame["_ok"] = ok
    return frame, problems, warns


def _check_geometry(geom: Any, kind: str) -> tuple[Any, str | None]:
    if geom is None or geom.is_empty:
        return geom, "empty geometry"
    if shapely.has_z(geom):
        geom = shapely.force_2d(geom)
    gtype = geom.geom_type
    if kind == "pipes" and gtype == "MultiLineString":
        merged = shapely.line_merge(geom)
        if merged.geom_type != "LineString":
            return geom, f"MultiLineString of {len(geom.geoms)} parts that do not join (expected LineString)"
        geom, gtype = merged, "LineString"
    if kind in ("valves", "nodes") and gtype == "MultiPoint" and len(geom.geoms) == 1:
        geom, gtype = geom.geoms[0], "Point"
    expected = GEOM_TYPES[kind]
    if gtype not in expected:
        return geom, f"wrong geometry type {gtype} for a {kind} layer (expected {' or '.join(expected)})"
    if not geom.is_valid:
        return geom, f"invalid geometry ({shapely.is_valid_reason(geom)})"
    if kind == "pipes" and geom.length == 0:
        return geom, "invalid geometry (a pipe of zero length)"
    return geom, None


Checked = tuple[Any, str | None, str | None]  # (value, problem, warning)


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and pd.isna(v)) or (isinstance(v, str) and not v.strip())


def _number(v: Any, name: str, *, low: float, high: float, integer: bool = False) -> Checked:
    if _missing(v):
        return None, None, None
    raw = v
    if isinstance(v, str):
        v = v.strip().replace(",", ".")
        m = re.fullmatch(r"(\d{4})-\d\d(-\d\d)?.*", v) if integer else None
        v = m.group(1) if m else v
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None, f"{name} {raw!r} is not a number", None
    if pd.isna(x) or not (low <= x <= high):
        return None, f"{name} {raw!r} out of range ({low:g}…{high:g})", None
    return (int(round(x)) if integer else x), None, None


def _diameter(v: Any) -> Checked:
    return _number(v, "diameter_mm", low=1e-9, high=10000)


def _year(v: Any) -> Checked:
    if hasattr(v, "year"):
        v = v.year
    return _number(v, "install_year", low=1800, high=2100, integer=True)


def _residents(v: Any) -> Checked:
    return _number(v, "residents", low=0, high=1e6, integer=True)


def _levels(v: Any) -> Checked:
    return _number(v, "levels", low=0, high=500, integer=True)


def _elevation(v: Any) -> Checked:
    return _number(v, "elevation_m", low=-1000, high=10000)


def _text_of(name: str) -> Any:
    """A text attribute under the intake's text policy (``incidents.intake``): line breaks and tabs
    become one space (a warning says so: an address is one line), other control characters,
    bidirectional overrides, lone surrogates, HTML markup and values over the field's limit are
    problems — as the Open311 intake refuses them."""

    limit = LIMITS.get(name, 200)

    def check(v: Any) -> Checked:
        if _missing(v):
            return None, None, None
        value, warning = str(v).strip(), None
        if has_line_break(value):
            value = " ".join(re.sub("[\t\n\v\f\r\x85\u2028\u2029]+", " ", value).split())
            warning = f"{name} {str(v)[:60]!r} had a line break or tab; stored as one line {one_line(value, 60)!r}"
        found = text_problems(name, value, max_chars=limit)
        if found:
            return None, found[0].describe(), None
        return value, None, warning
    return check


def _valve_status(v: Any) -> Checked:
    if _missing(v):
        return "open", None, None
    s = VALVE_STATUS.get(str(v).strip().lower())
    if s is None:
        return None, f"unknown status {str(v)!r} (expected open, closed or inoperable)", None
    return s, None, None


def _enum(choices: tuple[str, ...], synonyms: dict[str, str], default: str, what: str):
    def check(v: Any) -> Checked:
        if _missing(v):
            return default, None, None
        s = str(v).strip().lower()
        s = synonyms.get(s, s)
        if s in choices:
            return s, None, None
        return default, None, f"unknown {what} {str(v)!r}, stored as {default!r}"
    return check


def _node_kind(v: Any) -> Checked:
    if _missing(v):
        return "junction", None, None
    s = str(v).strip().lower()
    if s not in NODE_KINDS:
        return None, f"unknown node kind {str(v)!r} (expected {', '.join(NODE_KINDS)})", None
    return s, None, None


_CHECKS = {
    "pipes": {"diameter_mm": _diameter, "install_year": _year, "material": _text_of("material"),
              "street": _text_of("street")},
    "valves": {"status": _valve_status, "diameter_mm": _diameter,
               "kind": _enum(VALVE_KINDS, {"gate valve": "gate"}, "gate", "valve kind")},
    "nodes": {"kind": _node_kind, "elevation_m": _elevation},
    "buildings": {"kind": _enum(BUILDING_KINDS, BUILDING_SYNONYMS, "other", "building kind"),
                  "residents": _residents, "levels": _levels, "address": _text_of("address"),
                  "street": _text_of("street"), "housenumber": _text_of("housenumber"), "name": _text_of("name")},
}
