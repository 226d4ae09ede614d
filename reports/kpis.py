"""The KPI formulas: the figures of the service and of each organisation for a period, from the reports'
event history and the outages' spans as plain data (loaded by :mod:`reports.kpi_queries`; nothing is
stored twice). Pure: no database, no ``settings`` (the import-linter contract "pure" says so).

Every figure is a dict ``{value, numerator, denominator, zone, formula, status}``; ``status`` is
``not_enough_data`` when fewer than ``min_count`` reports stand behind a rate (the value is then
kept but no zone is given). ``ids`` (the reports behind the figure) are for drill-down only.
The formulas, as published, are in docs/inspection.md; the ``formula`` texts here say the same.
"""
from __future__ import annotations

import math
from collections import defaultdict
from fractions import Fraction
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from billing.errors import BillingError
from billing.rule import allowance_h, union_in_period
from billing.rules_file import BillingRules
from incidents.sla import Rules, answer_due_at
from incidents.workflow import OPEN_STATUSES
from reports.errors import InvalidPeriod, UnknownOrganisation
from reports.kpi_rules import ReportRules

CLOSED_STATUSES = frozenset({"resolved", "closed"})

FORMULAS = {
    "on_time": "closed by the deadline / closed in the period (closed = first move to 'resolved'; "
               "deadline = incidents/rules resolve_h from creation)",
    "overdue_open": "reports still open at the end of the period past their deadline / reports open then",
    "median_close_h": "median of (first 'resolved' − created), hours, reports closed in the period; "
                      "numerator = reports closed within the median",
    "p90_close_h": "90th percentile (linear) of (first 'resolved' − created), hours; numerator = reports within it",
    "answer_5min": "emergency reports answered (first move out of 'new') within 5 min / emergency reports "
                   "created in the period (Правила № 416 п. 13)",
    "reopened": "reports closed in the period and reopened (resolved/closed → open) within 30 days / closed",
    "repeat_per_1000": "second reports of the same category from the same building within 30 days "
                       "× 1000 / flats (premises, else residents ÷ 2.1)",
    "outage_excess_h": "hours without the resource beyond the ПП № 354 monthly allowance (union of the "
                       "interruptions per building, resource and month, as the fee recalculation), summed over "
                       "buildings / buildings",
    # from the organisations' own actions (their desks, crews and systems: ops.orgs)
    "org_accept_h": "median of (the organisation's acceptance − created), hours, reports the organisation "
                    "accepted in the period; numerator = reports accepted within the median",
    "org_visit_on_time": "reports whose first planned crew visit fell in the period (and is past) resolved by "
                         "the organisation no later than that visit + the grace hours / those reports",
    "org_resolve_h": "median of (the organisation's resolution − created), hours, reports the organisation "
                     "resolved in the period; numerator = reports resolved within the median",
    "org_returned": "reports created in the period that the organisation handed back as not its own / reports "
                    "created in the period it was given (held now or handed back)",
    "org_rating": "sum of the residents' ratings (1–5, \"fixed? — yes\") / reports rated in the period "
                  "= the mean rating",
}
#: the figures drawn from the organisations' own actions, in the order they are shown
ORG_ACTION_FIGURES = ("org_accept_h", "org_visit_on_time", "org_resolve_h", "org_returned", "org_rating")


@dataclass
class Period:
    start: datetime
    end: datetime           # exclusive
    first_day: date
    last_day: date
    zone: str

    def label(self) -> str:
        return f"{self.first_day.isoformat()} – {self.last_day.isoformat()}"


def parse_date(value: str, what: str) -> date:
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidPeriod(f"{what} must be a date YYYY-MM-DD, got {value!r}") from None


def period(first: date | str, last: date | str, zone: str) -> Period:
    """Days ``first``…``last`` inclusive, from local midnight to local midnight after ``last``."""
    a = first if isinstance(first, date) else parse_date(first, "--from")
    b = last if isinstance(last, date) else parse_date(last, "--to")
    if b < a:
        raise InvalidPeriod(f"--to {b.isoformat()} is before --from {a.isoformat()}")
    tz = ZoneInfo(zone)
    return Period(datetime.combine(a, time(), tz), datetime.combine(b + timedelta(days=1), time(), tz), a, b, zone)


@dataclass
class Report:
    id: int
    category: str
    service_code: str
    priority: str
    status: str
    building_id: int | None
    org_id: int | None
    created_at: datetime
    address: str | None
    duplicate_of: int | None
    events: list[tuple[datetime, str | None, str]] = field(default_factory=list)
    due: datetime | None = None
    #: the responsible organisation's own actions (``ops.orgs``) and the resident's rating
    org_accepted_at: datetime | None = None
    org_resolved_at: datetime | None = None
    first_visit_at: datetime | None = None     # the first crew visit the organisation planned
    rating: int | None = None
    rated_at: datetime | None = None

    def first_answer(self) -> datetime | None:
        return next((at for at, f, _t in self.events if f == "new"), None)

    def first_resolution(self) -> datetime | None:
        return next((at for at, _f, t in self.events if t == "resolved"), None)

    def status_at(self, moment: datetime) -> str:
        st = "new"
        for at, _f, t in self.events:
            if at < moment:
                st = t
        return st

    def reopened_within(self, since: datetime, days: float) -> datetime | None:
        for at, f, t in self.events:
            if at > since and f in CLOSED_STATUSES and t in OPEN_STATUSES and at - since <= timedelta(days=days):
                return at
        return None


# ---- figures -------------------------------------------------------------------------------------

def _figure(key: str, num: float | None, den: float | None, value: float | None, guard_n: int | None,
            rules: ReportRules, *, ids: list[int] | None = None, zone_key: str | None = None) -> dict[str, Any]:
    enough = guard_n is None or guard_n >= rules.min_count
    zkey = zone_key if zone_key is not None else key
    zone = None
    if value is not None and enough and zkey in rules.zones:
        zone = rules.zones[zkey].of(value)
    return {"value": None if value is None else round(value, 4), "numerator": num, "denominator": den,
            "zone": zone, "status": "ok" if enough and value is not None else
            ("not_enough_data" if not enough else "no_data"),
            "formula": FORMULAS.get(key, ""), "ids": sorted(ids or [])}


def _quantile(values: list[float], q: float) -> float:
    s = sorted(values)
    pos = (len(s) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def _durations(rs: list[Report], rules: ReportRules, key: str, q: float) -> dict[str, Any]:
    hours = {r.id: (r.first_resolution() - r.created_at).total_seconds() / 3600 for r in rs}  # type: ignore[operator]
    if not hours:
        return _figure(key, 0, 0, None, 0, rules, zone_key=key if key == "median_close_h" else "")
    v = _quantile(list(hours.values()), q)
    within = [i for i, h in hours.items() if h <= v + 1e-9]
    return _figure(key, len(within), len(hours), v, len(hours), rules, ids=within,
                   zone_key=key if key == "median_close_h" else "")


def _median_hours(key: str, hours: dict[int, float], rules: ReportRules) -> dict[str, Any]:
    """The median of ``hours`` (report id → hours) as a figure: numerator = reports within it."""
    if not hours:
        return _figure(key, 0, 0, None, 0, rules)
    v = _quantile(list(hours.values()), 0.5)
    within = [i for i, h in hours.items() if h <= v + 1e-9]
    return _figure(key, len(within), len(hours), v, len(hours), rules, ids=within)


def org_action_figures(reports: list[Report], returned: dict[int, datetime], p: Period, rules: ReportRules,
                       now: datetime | None = None) -> dict[str, Any]:
    """The figures of the organisations' own actions on ``reports`` (one organisation's, or all):
    ``returned`` — the reports it handed back as not its own at least once (id → created).
    The formulas: ``FORMULAS`` (docs/inspection.md)."""
    moment = min(p.end, now) if now is not None else p.end

    def within(at: datetime | None) -> bool:
        return at is not None and p.start <= at < p.end

    accepted = {r.id: (r.org_accepted_at - r.created_at).total_seconds() / 3600  # type: ignore[operator]
                for r in reports if within(r.org_accepted_at)}
    resolved = {r.id: (r.org_resolved_at - r.created_at).total_seconds() / 3600  # type: ignore[operator]
                for r in reports if within(r.org_resolved_at)}
    grace = timedelta(hours=rules.visit_grace_h)
    visits = [r for r in reports if r.first_visit_at is not None and p.start <= r.first_visit_at < moment]
    kept = [r.id for r in visits if r.org_resolved_at is not None and r.org_resolved_at <= r.first_visit_at + grace]  # type: ignore[operator]
    given = {r.id for r in reports if r.org_id is not None and p.start <= r.created_at < p.end} | {
        i for i, c in returned.items()
        if p.start <= c < p.end}
    back = sorted(i for i, c in returned.items() if p.start <= c < p.end)
    rated = [r for r in reports if r.rating is not None and within(r.rated_at)]
    total = sum(int(r.rating) for r in rated)  # type: ignore[arg-type]
    return {
        "org_accept_h": _median_hours("org_accept_h", accepted, rules),
        "org_visit_on_time": _figure("org_visit_on_time", len(kept), len(visits),
                                     len(kept) / len(visits) if visits else None, len(visits), rules, ids=kept),
        "org_resolve_h": _median_hours("org_resolve_h", resolved, rules),
        "org_returned": _figure("org_returned", len(back), len(given), len(back) / len(given) if given else None,
                                len(given), rules, ids=back),
        "org_rating": _figure("org_rating", total, len(rated), total / len(rated) if rated else None, len(rated),
                              rules, ids=[r.id for r in rated]),
    }


def outage_excess(spans: list[dict[str, Any]], p: Period, sla: Rules, brules: BillingRules) -> dict[int, dict[str, Any]]:
    """Per building: hours without a resource and hours beyond the ПП 354 allowance.

    The rule of the fee recalculation (``billing.rule``): per building, resource and calendar month
    (the billing rules' time zone), the interruptions' union clipped to the month and to the period;
    excess = union − the monthly allowance (whole hours when the rules say so). Resources the
    billing rules do not regulate are left out. ``sla`` is kept for the callers' symmetry; ``brules``: the
    billing rules in force (``reports.kpi_queries.billing_rules``)."""
    by: dict[tuple[int, str], list[tuple[datetime, datetime, int]]] = defaultdict(list)
    for s in spans:
        if s["resource"]:
            by[(s["building_id"], s["resource"])].append((s["s"], s["e"], s["outage_id"]))
    tz = brules.zone
    out: dict[int, dict[str, Any]] = {}
    for (b, res), ivs in by.items():
        try:
            allowance = allowance_h(res, brules)
        except BillingError:
            continue
        total = excess = Fraction(0)
        sources: set[int] = set()
        d = date(p.start.astimezone(tz).year, p.start.astimezone(tz).month, 1)
        while datetime.combine(d, time(), tz) < p.end:
            nxt = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
            m0, m1 = datetime.combine(d, time(), tz), datetime.combine(nxt, time(), tz)
            u = union_in_period(ivs, max(m0, p.start), min(m1, p.end))
            month_ex = max(Fraction(0), u.hours - allowance)
            if brules.excess_whole_hours:
                month_ex = Fraction(math.floor(month_ex))
            total += u.hours
            excess += month_ex
            sources |= set(u.sources)
            d = nxt
        rec = out.setdefault(b, {"hours": 0.0, "excess_h": 0.0, "outage_ids": set(), "resources": set()})
        rec["hours"] += float(total)
        rec["excess_h"] += float(excess)
        rec["resources"].add(res)
        rec["outage_ids"] |= sources
    return out


def org_figures(reports: list[Report], buildings: dict[int, Any], excess: dict[int, dict[str, Any]],
                building_ids: list[int], p: Period, sla: Rules, rules: ReportRules,
                everyone: list[Report] | None = None, *, returned: dict[int, datetime] | None = None,
                now: datetime | None = None) -> dict[str, Any]:
    """The figures of ``reports`` (one organisation's, or all) and its buildings; ``everyone``: all
    reports (an earlier report of the same building and category makes a repeat whoever answered it);
    ``returned``: the reports handed back as not its own (id → created; ``org_action_figures``)."""
    closed = [r for r in reports if (fr := r.first_resolution()) is not None and p.start <= fr < p.end]
    on_time = [r.id for r in closed if r.first_resolution() <= r.due]  # type: ignore[operator]
    created = [r for r in reports if p.start <= r.created_at < p.end]
    open_end = [r for r in reports if r.status_at(p.end) in OPEN_STATUSES]
    overdue = [r.id for r in open_end if r.due is not None and r.due < p.end]
    emerg = [r for r in created if r.priority == rules.answer_priority]
    answered = [r.id for r in emerg if (a := r.first_answer()) is not None and a <= answer_due_at(r.__dict__, sla)]
    reopened = [r.id for r in closed if r.reopened_within(r.first_resolution(), rules.reopen_window_days)]  # type: ignore[arg-type]
    window = timedelta(days=rules.repeat_window_days)
    def countable(r: Report) -> bool:
        return r.status != "duplicate" and r.duplicate_of is None and r.building_id is not None

    counted = [r for r in reports if countable(r)]
    by_key: dict[tuple[int, str], list[datetime]] = defaultdict(list)
    for r in (everyone if everyone is not None else reports):
        if not countable(r):
            continue
        by_key[(r.building_id, r.category)].append(r.created_at)  # type: ignore[index]
    repeats = [r.id for r in counted if p.start <= r.created_at < p.end and any(
        timedelta(0) < r.created_at - t <= window for t in by_key[(r.building_id, r.category)])]  # type: ignore[index]
    flats = sum(buildings[b]["flats"] for b in building_ids if b in buildings)
    ex = [excess[b] for b in building_ids if b in excess]
    excess_h = sum(e["excess_h"] for e in ex)
    cats: dict[str, list[Report]] = defaultdict(list)
    for r in closed:
        cats[r.category].append(r)
    figs: dict[str, Any] = {
        "on_time": _figure("on_time", len(on_time), len(closed), len(on_time) / len(closed) if closed else None,
                           len(closed), rules, ids=on_time),
        "overdue_open": _figure("overdue_open", len(overdue), len(open_end), float(len(overdue)), None, rules,
                                ids=overdue, zone_key=""),
        "median_close_h": _durations(closed, rules, "median_close_h", 0.5),
        "p90_close_h": _durations(closed, rules, "p90_close_h", 0.9),
        "answer_5min": _figure("answer_5min", len(answered), len(emerg), len(answered) / len(emerg) if emerg else None,
                               len(emerg), rules, ids=answered),
        "reopened": _figure("reopened", len(reopened), len(closed), len(reopened) / len(closed) if closed else None,
                            len(closed), rules, ids=reopened),
        "repeat_per_1000": _figure("repeat_per_1000", len(repeats), round(flats, 1),
                                   len(repeats) * 1000 / flats if flats else None, len(created), rules, ids=repeats),
        "outage_excess_h": _figure("outage_excess_h", round(excess_h, 2), len(building_ids),
                                   excess_h / len(building_ids) if building_ids else None, None, rules),
        "by_category": {c: {"median_close_h": _durations(rs, rules, "median_close_h", 0.5),
                            "p90_close_h": _durations(rs, rules, "p90_close_h", 0.9)}
                        for c, rs in sorted(cats.items())},
    }
    figs["outage_excess_h"]["buildings"] = sorted(
        ({"building_id": b, "address": buildings.get(b, {}).get("address"), "hours": round(excess[b]["hours"], 2),
          "excess_h": round(excess[b]["excess_h"], 2), "outage_ids": sorted(excess[b]["outage_ids"])}
         for b in building_ids if b in excess), key=lambda x: (-x["excess_h"], -x["hours"], x["address"] or ""))
    figs.update(org_action_figures(reports, returned or {}, p, rules, now))
    figs["counts"] = {"created": len(created), "closed": len(closed), "open_at_end": len(open_end),
                      "buildings": len(building_ids), "flats": round(flats, 1)}
    return figs


ZONE_ORDER = {"green": 0, "yellow": 1, "red": 2}


REPORT_FIGURES = ("on_time", "median_close_h", "answer_5min", "reopened", "repeat_per_1000")


def overall_zone(figs: dict[str, Any]) -> str | None:
    """The worst zone among the figures with enough data; not rated (None) while no figure drawn
    from reports has enough data (outage hours alone do not rate an organisation)."""
    if not any(figs[k]["zone"] in ZONE_ORDER for k in REPORT_FIGURES):
        return None
    zones = [f["zone"] for k, f in figs.items() if isinstance(f, dict) and f.get("zone") in ZONE_ORDER]
    return max(zones, key=ZONE_ORDER.__getitem__) if zones else None


def figures(orgs: list[dict[str, Any]], reports: list[Report], buildings: dict[int, dict[str, Any]],
            excess: dict[int, dict[str, Any]], p: Period, sla: Rules, rules: ReportRules, *, now: datetime,
            include_service: bool = True, returns: list[tuple[int, int, datetime]] = ()) -> dict[str, Any]:
    """The KPIs of ``orgs`` (every active organisation, or the one asked for), plus the whole service when
    ``include_service``: ``buildings`` each with its management company (``mc``), utilities and flats;
    ``returns``: (organisation, report, report created) of every "not ours" hand-back."""
    entries = []
    if include_service:
        back = {i: c for _o, i, c in returns}
        figs = org_figures(reports, buildings, excess, list(buildings), p, sla, rules, returned=back, now=now)
        entries.append({"id": None, "kind": "service", "name": "whole service", "inn": None,
                        "zone": overall_zone(figs), "kpis": figs})
    for o in orgs:
        if o["kind"] == "management_company":
            bids = [b for b, v in buildings.items() if v["mc"] == o["id"]]
        else:
            bids = [b for b, v in buildings.items() if o["id"] in v["utilities"]]
        rs = [r for r in reports if r.org_id == o["id"]]
        back = {i: c for org, i, c in returns if org == o["id"]}
        figs = org_figures(rs, buildings, excess, bids, p, sla, rules, everyone=reports, returned=back, now=now)
        entries.append({"id": o["id"], "kind": o["kind"], "name": o["name"], "inn": o.get("inn"),
                        "zone": overall_zone(figs), "kpis": figs})
    return {"from": p.first_day.isoformat(), "to": p.last_day.isoformat(), "time_zone": p.zone,
            "generated_at": now.isoformat(timespec="seconds"), "min_count": rules.min_count,
            "organisations": entries}


def strip_ids(data: Any) -> Any:
    """The result without the drill-down id lists (for JSON output)."""
    if isinstance(data, dict):
        return {k: strip_ids(v) for k, v in data.items() if k != "ids"}
    if isinstance(data, list):
        return [strip_ids(v) for v in data]
    return data


__all__ = ["figures", "org_action_figures", "org_figures", "outage_excess", "ORG_ACTION_FIGURES", "overall_zone", "period", "Period", "ranking", "Report",
           "strip_ids", "FORMULAS", "UnknownOrganisation", "InvalidPeriod"]


def ranking(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The organisations of a ``compute`` result that have anything to judge (reports, buildings),
    best zone first (no zone last), then the larger share closed on time, then the name."""
    rank = {"green": 0, "yellow": 1, "red": 2, None: 3}
    orgs = [o for o in data["organisations"] if o["id"] is not None and (
        o["kpis"]["counts"]["created"] or o["kpis"]["counts"]["closed"] or o["kpis"]["counts"]["buildings"])]
    return sorted(orgs, key=lambda o: (rank[o["zone"]], -(o["kpis"]["on_time"]["value"] or 0), o["name"]))
