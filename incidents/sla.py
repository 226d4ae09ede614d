"""Deadlines (SLA) from a rules file — pure functions of timestamps and ``now``, never stored.

A rules file (YAML, see ``incidents/rules/default.yaml``) lists the services residents can
report (Open311 service codes) with a category, a resource, a priority and a resolution time
(``resolve_h``: hours, or ``{winter: h, summer: h}``), plus the interruption allowances of
ПП № 354. A region file names its parent in ``extends`` and repeats only what differs; it is
deep-merged over the parent.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from incidents.errors import InvalidRules, UnknownCategory, UnknownServiceCode
from rules_yaml import read_rules_yaml, time_zone_name, validated

CATEGORIES: tuple[str, ...] = (
    "burst", "no_water", "low_pressure", "no_heating", "sewer", "electricity", "elevator", "repair", "other",
)
RESOURCES: tuple[str, ...] = ("cold_water", "hot_water", "heating", "gas", "sewer", "electricity", "none")
PRIORITIES: tuple[str, ...] = ("emergency", "urgent", "routine")
SlaState = Literal["on_time", "at_risk", "overdue", "met", "breached"]


class SeasonalHours(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    winter: float = Field(gt=0)
    summer: float = Field(gt=0)


class ServiceAttribute(BaseModel):
    """An Open311 service attribute (extra question asked with a report)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    code: str
    datatype: Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"] = "string"
    required: bool = False
    description: str = ""
    values: dict[str, str] = Field(default_factory=dict)


class ServiceRule(BaseModel):
    """One reportable service: what it is and how fast it must be handled."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    description: str = ""
    category: str
    resource: str = "none"
    priority: str = "routine"
    response_min: float | None = Field(default=None, gt=0)
    resolve_h: float | SeasonalHours
    group: str = ""
    keywords: list[str] = Field(default_factory=list)
    attributes: list[ServiceAttribute] = Field(default_factory=list)

    @field_validator("category", "resource", "priority")
    @classmethod
    def _known(cls, v: str, info: ValidationInfo) -> str:
        allowed = {"category": CATEGORIES, "resource": RESOURCES, "priority": PRIORITIES}[info.field_name]
        if v not in allowed:
            raise ValueError(f"unknown {info.field_name} {v!r}; expected one of {', '.join(allowed)}")
        return v

    @field_validator("resolve_h", mode="before")
    @classmethod
    def _positive(cls, v: Any) -> Any:
        if isinstance(v, (int, float)) and v <= 0:
            raise ValueError(f"resolve_h must be positive, got {v}")
        return v


class Rules(BaseModel):
    """A validated rules file (``region`` names it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    region: str
    timezone: str = "Europe/Moscow"
    at_risk_fraction: float = Field(default=0.75, gt=0, lt=1)
    answer_min: float = Field(default=5, gt=0)
    winter_months: list[int] = Field(default_factory=lambda: [10, 11, 12, 1, 2, 3, 4])
    agency_responsible: str = ""
    allowances: dict[str, Any] = Field(default_factory=dict)
    services: dict[str, ServiceRule]

    @field_validator("services")
    @classmethod
    def _every_category(cls, v: dict[str, ServiceRule]) -> dict[str, ServiceRule]:
        missing = [c for c in CATEGORIES if c not in v]
        if missing:
            raise ValueError(f"every category needs a service of the same code; missing {', '.join(missing)}")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return time_zone_name(v)

    def service(self, code: str) -> ServiceRule:
        """The rule of service ``code``; ``UnknownServiceCode`` names the known ones."""
        try:
            return self.services[code]
        except KeyError:
            raise UnknownServiceCode(
                f"unknown service_code {code!r}; known: {', '.join(sorted(self.services))}"
            ) from None


def _read_raw(path: Path) -> dict[str, Any]:
    return read_rules_yaml(path, what="rules file", error=InvalidRules, replace=frozenset({"resolve_h"}))


def load_rules(path: str | Path) -> Rules:
    """Read and validate a rules file (following ``extends``); ``InvalidRules`` names every problem."""
    path = Path(path)
    return validated(Rules, _read_raw(path), path, error=InvalidRules)


def _field(incident: Any, name: str) -> Any:
    if isinstance(incident, Mapping):
        return incident.get(name)
    return getattr(incident, name, None)


def service_of(incident: Any, rules: Rules) -> ServiceRule:
    """The rule that governs ``incident``: its service code, else its category's service."""
    code = _field(incident, "service_code")
    if code and code in rules.services:
        return rules.services[code]
    category = _field(incident, "category")
    if category not in CATEGORIES:
        raise UnknownCategory(f"unknown category {category!r}; expected one of {', '.join(CATEGORIES)}")
    return rules.services[category]


def is_winter(at: datetime, rules: Rules) -> bool:
    """Whether ``at`` falls in the region's winter months (its local calendar)."""
    return at.astimezone(ZoneInfo(rules.timezone)).month in rules.winter_months


def resolve_hours(rule: ServiceRule, created_at: datetime, rules: Rules) -> float:
    """Allowed hours to resolve, taking the season of ``created_at`` into account."""
    if isinstance(rule.resolve_h, SeasonalHours):
        return rule.resolve_h.winter if is_winter(created_at, rules) else rule.resolve_h.summer
    return float(rule.resolve_h)


# Reports that an outage explains: their deadline is the outage's expected end (docs/incidents.md).
OUTAGE_EXPLAINED_CATEGORIES: tuple[str, ...] = ("no_water", "low_pressure")


def due_at(incident: Any, rules: Rules) -> datetime:
    """The resolution deadline of ``incident`` (a mapping or object with ``created_at``,
    ``service_code`` and/or ``category``). A "no water" / "low pressure" report linked to an outage
    (``outage_id`` with the outage's expected end ``outage_end``) is due when the outage is expected
    to end: the water is off for a known reason, and extending the outage moves the deadline."""
    created_at = _field(incident, "created_at")
    if not isinstance(created_at, datetime) or created_at.tzinfo is None:
        raise ValueError(f"due_at needs a time zone-aware created_at, got {created_at!r}")
    rule = service_of(incident, rules)
    outage_end = _field(incident, "outage_end")
    if (_field(incident, "outage_id") is not None and isinstance(outage_end, datetime)
            and rule.category in OUTAGE_EXPLAINED_CATEGORIES):
        return outage_end
    return created_at + timedelta(hours=resolve_hours(rule, created_at, rules))


def answer_due_at(incident: Any, rules: Rules) -> datetime:
    """When the dispatcher must have answered (accepted) the report (416 п. 13: 5 minutes)."""
    created_at = _field(incident, "created_at")
    return created_at + timedelta(minutes=rules.answer_min)


def sla_state(
    due_at: datetime,
    resolved_at: datetime | None,
    now: datetime,
    at_risk_fraction: float = 0.75,
    *,
    created_at: datetime | None = None,
) -> SlaState:
    """``met``/``breached`` once resolved; else ``overdue`` past the deadline, ``at_risk`` once
    ``at_risk_fraction`` of the allowed time (``created_at`` → ``due_at``) has passed, else
    ``on_time``. Without ``created_at`` "at risk" means the last (1 − fraction) × 24 h."""
    if not 0 < at_risk_fraction < 1:
        raise ValueError(f"at_risk_fraction must lie in (0, 1), got {at_risk_fraction}")
    if resolved_at is not None:
        return "met" if resolved_at <= due_at else "breached"
    if now > due_at:
        return "overdue"
    if created_at is not None and due_at > created_at:
        allowed = (due_at - created_at).total_seconds()
        elapsed = (now - created_at).total_seconds()
        return "at_risk" if elapsed >= at_risk_fraction * allowed else "on_time"
    remaining_h = (due_at - now).total_seconds() / 3600
    return "at_risk" if remaining_h <= (1 - at_risk_fraction) * 24 else "on_time"


def interruption_allowance_h(resource: str, rules: Rules) -> float | None:
    """Longest single interruption ПП 354 allows for ``resource`` (None when not regulated).

    Heating uses the mildest band (+12…+18 °C indoors); electricity the two-source figure.
    """
    a = rules.allowances.get(resource)
    if not isinstance(a, Mapping):
        return None
    if "once_h" in a:
        return float(a["once_h"])
    if resource == "heating" and a.get("once_by_indoor_temp_h"):
        return float(max(band["h"] for band in a["once_by_indoor_temp_h"]))
    if resource == "electricity" and "two_sources_h" in a:
        return float(a["two_sources_h"])
    if "month_h" in a:
        return float(a["month_h"])
    return None
