"""The billing rules file: a validated YAML (see ``billing/rules/default.yaml``).

It holds the region's time zone (the billing month is a calendar month there), the monthly
interruption allowances of ПП № 354 Приложение 1 per service, the reduction rate per hour of
excess, whether excess counts in whole hours, and the hot-water temperature parameters.
A region file names its parent in ``extends`` and repeats only what differs; it is deep-merged
over the parent (as the incidents rules files are). Which file is used is a setting
(``ZHKH_BILLING_RULES_FILE``); this module only reads the path it is given.
"""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from billing.errors import InvalidRules
from rules_yaml import read_rules_yaml, time_zone_name, validated

__all__ = ["BillingRules", "ElectricityAllowance", "HotWaterTemperature", "MonthlyAllowances",
           "DEFAULT_RULES_FILE", "load_billing_rules"]

DEFAULT_RULES_FILE = Path(__file__).resolve().parent / "rules" / "default.yaml"

_Hours = Field(ge=0, le=744)


class ElectricityAllowance(BaseModel):
    """Electricity: the allowance depends on the building's supply (ПП 354 Прил. 1 п. 9)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    two_sources_h: Decimal = _Hours
    one_source_h: Decimal = _Hours


class MonthlyAllowances(BaseModel):
    """Hours of interruption per month that reduce nothing (summed over the month)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    cold_water: Decimal = _Hours
    hot_water: Decimal = _Hours
    sewer: Decimal = _Hours
    heating: Decimal = _Hours
    gas: Decimal = _Hours
    electricity: ElectricityAllowance


class HotWaterTemperature(BaseModel):
    """Hot water below the norm (ПП 354 Прил. 1 п. 5)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    norm_c: Decimal = Field(gt=0, le=100)
    allowed_deviation_day_c: Decimal = Field(ge=0, le=100)
    allowed_deviation_night_c: Decimal = Field(ge=0, le=100)
    night_from_hour: int = Field(ge=0, le=23)
    night_to_hour: int = Field(ge=1, le=24)
    step_c: Decimal = Field(gt=0, le=100)
    reduction_pct_per_step_hour: Decimal = Field(ge=0, le=100)
    cold_water_below_c: Decimal = Field(ge=0, le=100)

    @model_validator(mode="after")
    def _night_in_order(self) -> HotWaterTemperature:
        if self.night_to_hour <= self.night_from_hour:
            raise ValueError(f"night_to_hour ({self.night_to_hour}) must be after night_from_hour "
                             f"({self.night_from_hour})")
        return self


class BillingRules(BaseModel):
    """A validated billing rules file (``region`` names it)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    region: str
    time_zone: str = Field(validation_alias=AliasChoices("time_zone", "timezone"))
    reduction_pct_per_hour: Decimal = Field(ge=0, le=100)
    excess_whole_hours: bool = False
    electricity_sources_default: int
    allowances_month_h: MonthlyAllowances
    hot_water_temperature: HotWaterTemperature

    @field_validator("time_zone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return time_zone_name(v)

    @field_validator("electricity_sources_default")
    @classmethod
    def _sources(cls, v: int) -> int:
        if v not in (1, 2):
            raise ValueError(f"must be 1 or 2, got {v}")
        return v

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


def _read_raw(path: Path) -> dict[str, Any]:
    return read_rules_yaml(path, what="billing rules file", error=InvalidRules)


def load_billing_rules(path: str | Path = DEFAULT_RULES_FILE) -> BillingRules:
    """Read and validate a billing rules file (following ``extends``).

    ``InvalidRules`` names the file and every problem (on one line).
    """
    path = Path(path)
    return validated(BillingRules, _read_raw(path), path, error=InvalidRules)
