"""What a reports rules file holds (validated): who answers each category, the KPIs' guard and windows,
and the green / yellow / red zones of each KPI. Pure (no ``settings``): the KPI formulas
(:mod:`reports.kpis`) take it; which file is in force is :mod:`reports.rules`."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from incidents.sla import CATEGORIES

__all__ = ["KPI_ZONES", "ReportRules", "Zone"]

KPI_ZONES = ("on_time", "median_close_h", "answer_5min", "reopened", "repeat_per_1000", "outage_excess_h")


class Zone(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    better: Literal["higher", "lower"]
    green: float
    yellow: float

    def of(self, value: float) -> str:
        if self.better == "higher":
            return "green" if value >= self.green else "yellow" if value >= self.yellow else "red"
        return "green" if value <= self.green else "yellow" if value <= self.yellow else "red"


class ReportRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    responsibility: dict[str, Literal["building", "network"]]
    min_count: int = Field(default=20, ge=1)
    reopen_window_days: float = Field(default=30, gt=0)
    repeat_window_days: float = Field(default=30, gt=0)
    answer_priority: Literal["emergency", "urgent", "routine"] = "emergency"
    residents_per_flat: float = Field(default=2.1, gt=0)
    #: a crew visit is on time when the organisation resolved the report by the planned time + this
    visit_grace_h: float = Field(default=2, ge=0)
    zones: dict[str, Zone]

    @field_validator("responsibility")
    @classmethod
    def _categories(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(CATEGORIES))
        missing = [c for c in CATEGORIES if c not in v]
        if unknown or missing:
            raise ValueError(f"categories unknown: {unknown or '-'}; missing: {missing or '-'}")
        return v

    @field_validator("zones")
    @classmethod
    def _zones(cls, v: dict[str, Zone]) -> dict[str, Zone]:
        missing = [k for k in KPI_ZONES if k not in v]
        if missing:
            raise ValueError(f"zones missing: {', '.join(missing)}")
        return v
