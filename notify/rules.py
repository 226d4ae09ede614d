"""The notices' rules file: the lead time of planned works in working days, the calendar that counts
them, and the worker's retry schedule. ``ZHKH_NOTIFY_RULES_FILE`` picks a region's file; a file may
name its parent in ``extends`` and repeat only what differs (as ``incidents/sla.py``)."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from notify.errors import InvalidRules
from rules_yaml import cached_by_mtime, read_rules_yaml
from settings import get_settings

DEFAULT_RULES_FILE = Path(__file__).resolve().parent / "rules" / "default.yaml"


class Delivery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    max_attempts: int = Field(default=8, ge=1, le=100)
    backoff_s: list[float] = Field(default_factory=lambda: [30.0, 120.0, 600.0])
    batch: int = Field(default=50, ge=1, le=10000)
    poll_s: float = Field(default=5.0, gt=0)

    def delay_after(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt (the last figure repeats)."""
        if not self.backoff_s:
            return 60.0
        return float(self.backoff_s[min(max(attempts, 1), len(self.backoff_s)) - 1])


class SubscriptionLimits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    max_buildings_per_email: int = Field(default=5, ge=1, le=1000)
    confirmations_per_hour: int = Field(default=3, ge=1, le=100)
    confirm_valid_h: int = Field(default=72, ge=1, le=24 * 30)


class NotifyRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    lead_working_days: int = Field(default=10, ge=0, le=100)
    holidays: list[date] = Field(default_factory=list)
    workdays: list[date] = Field(default_factory=list)
    delivery: Delivery = Field(default_factory=Delivery)
    subscriptions: SubscriptionLimits = Field(default_factory=SubscriptionLimits)

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays


def _read(path: Path) -> dict[str, Any]:
    return read_rules_yaml(path, what="notices rules file", error=InvalidRules)


def load_rules(path: str | Path = DEFAULT_RULES_FILE) -> NotifyRules:
    p = Path(path).resolve()
    try:
        return NotifyRules.model_validate(_read(p))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise InvalidRules(f"{p}: {where}: {first['msg']}") from None


_cached = cached_by_mtime(load_rules)


def rules_from_settings() -> NotifyRules:
    return _cached(Path(get_settings().notify_rules_file))


def working_days_between(announced: date, start: date, rules: NotifyRules) -> int:
    """Full working days of notice: working days after the day of the announcement and before the
    day the works start (neither end counts)."""
    n, day = 0, announced + timedelta(days=1)
    while day < start:
        n += rules.is_working_day(day)
        day += timedelta(days=1)
    return n


def lead_time_short(planned_start: datetime, now: datetime, rules: NotifyRules, zone: ZoneInfo) -> int | None:
    """The working days of notice planned works starting at ``planned_start`` get when announced at
    ``now`` (dates in the region's ``zone``) if fewer than the rules ask; None when enough."""
    days = working_days_between(now.astimezone(zone).date(), planned_start.astimezone(zone).date(), rules)
    return days if days < rules.lead_working_days else None
