"""The allowance clock: how long this month a building has been without each service, against the
monthly allowance of ПП № 354 — computed by the billing rule itself (``billing.rule``: the union of
the interruption intervals clipped to the calendar month of the region's time zone), so the page and
the bill never disagree."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from pathlib import Path

from sqlalchemy import Connection

from billing.rule import allowance_h, canonical_service, month_bounds, outage_union
from billing.rules_file import BillingRules, load_billing_rules
from resident import queries
from rules_yaml import cached_by_mtime
from settings import get_settings


@dataclass(frozen=True)
class Clock:
    service: str
    period: str                 # YYYY-MM
    minutes: int                # without the service this month (whole minutes, rounded down)
    allowance_minutes: int
    outage_ids: tuple[int, ...]
    running: bool               # an outage of this service is active now

    @property
    def over(self) -> bool:
        return self.minutes > self.allowance_minutes

    @property
    def excess_minutes(self) -> int:
        return max(0, self.minutes - self.allowance_minutes)

    @property
    def share(self) -> float:
        """Of the allowance used, 0…1 (capped) — the bar's width."""
        return min(1.0, self.minutes / self.allowance_minutes) if self.allowance_minutes else 1.0


_rules = cached_by_mtime(load_billing_rules, maxsize=4)


def billing_rules() -> BillingRules:
    return _rules(Path(get_settings().billing_rules_file))


def period_of(now: datetime, rules: BillingRules) -> str:
    local = now.astimezone(rules.zone)
    return f"{local.year:04d}-{local.month:02d}"


def clocks(conn: Connection, building_id: int, now: datetime, rules: BillingRules | None = None) -> list[Clock]:
    """One clock per service the building gets (its networks) or lost this month, this month so far."""
    rules = rules or billing_rules()
    period = period_of(now, rules)
    start, end = month_bounds(period, rules.zone)
    found = queries.interruptions(conn, building_id, start, end)
    services = list(dict.fromkeys(queries.building_services(conn, building_id) + sorted(found)))
    out = []
    for service in services:
        try:
            service = canonical_service(service)
            allowed = allowance_h(service, rules)
        except Exception:  # a service the rules do not regulate: no clock
            continue
        intervals = found.get(service, [])
        union = outage_union(intervals, period, rules, now=now)
        minutes = int(union.hours * 60)
        out.append(Clock(service=service, period=period, minutes=minutes,
                         allowance_minutes=int(Fraction(allowed) * 60),
                         outage_ids=tuple(int(s) for s in union.sources),
                         running=any(b is None and a <= now for a, b, _ in intervals)))
    return out
