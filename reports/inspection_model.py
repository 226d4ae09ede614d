"""The inspector's report as plain data: what :mod:`reports.inspection_data` reads from the database and
:mod:`reports.pdf` draws (so that drawing needs no database and the query no ReportLab)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reports.kpis import Period, Report

__all__ = ["BBox", "InspectionData", "MapLayers"]

BBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class MapLayers:
    """The map's geometry in a metric (UTM) projection: WKB of buildings (with ids), pipes and outages,
    the reports' points by priority, and the corners of the area."""
    buildings: list[tuple[int, bytes]]
    pipes: list[bytes]
    outages: list[bytes]
    reports: list[tuple[str, float, float]]
    corners: tuple[float, float, float, float]


@dataclass(frozen=True)
class InspectionData:
    """Everything the PDF shows, as plain data."""
    period: Period
    now: datetime                              # in the region's time zone
    org: dict[str, Any] | None
    bbox: BBox | None
    kpis: dict[str, Any]                       # reports.kpis.figures (the area's own figures for a bbox)
    min_count: int
    reports: dict[int, Report]                 # id → report (deadlines, first resolution)
    report_rows: list[dict[str, Any]]          # the reports of the period and area
    outage_rows: list[dict[str, Any]]          # the outages of the period and area
    map: MapLayers
    building_zones: dict[int, str | None] = field(default_factory=dict)
    demo_network_name: str | None = None       # shown in the report's language
