"""The reports rules file (``reports/rules/default.yaml``; a region file names its parent in
``extends``; ``ZHKH_REPORTS_RULES_FILE`` selects one)."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from incidents.sla import CATEGORIES
from reports.errors import InvalidRules
from rules_yaml import cached_by_mtime, read_rules_yaml, validated
from settings import get_settings

DEFAULT_FILE = Path(__file__).parent / "rules" / "default.yaml"
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


def load(path: str | Path) -> ReportRules:
    path = Path(path)
    raw = read_rules_yaml(path, what="reports rules file", error=InvalidRules)
    return validated(ReportRules, raw, path, error=InvalidRules)


_cached = cached_by_mtime(load, maxsize=4, missing=lambda p: InvalidRules(f"cannot read reports rules file {p}"))


def current() -> ReportRules:
    """The rules in force (the setting ``reports_rules_file``, ``ZHKH_REPORTS_RULES_FILE`` in the environment or
    ``.env``), re-read when changed."""
    return _cached(Path(get_settings().reports_rules_file))
