"""The demo month: a few outages of the demo city's cold water in the previous calendar month and one
active now (``python -m billing demo-month``), made through the outage use-cases (``ops.outages``), then the previous month billed and
closed — so that after ``make demo`` the residents' page has an outage card, an allowance clock and
reduction lines to show.

What is made (times in the billing rules' time zone, the month = the calendar month before now):

=========  ==========  =============================  =========================================
key        kind        when (local)                   area (a pipe's shutoff plan)
=========  ==========  =============================  =========================================
burst      emergency   8th 21:10 → 9th 09:40 (12.5 h)  area A: 4.5 h over the 8 h allowance
repair     emergency   14th 08:00 → 15:00 (7 h)        area B
valve      planned     14th 12:00 → 18:30 (6.5 h)      area B, overlapping ``repair`` by 3 h:
                                                       the union is 10.5 h, 2.5 h over
flushing   planned     21st 10:00 → 14:00 (4 h)        area C: within the allowance, no reduction
now        emergency   started 5 h 40 min before the   area A again; expected end 2 h 50 min
                       step ran, still active          after the step ran
=========  ==========  =============================  =========================================

The areas are the shutoff plans of three pipes of the first cold-water network (the pipes with the
most service connections whose plans cut off 1–20 buildings, at least one with accounts, and share
no building, pipe or valve with each other), computed by the network engine as the control room does.

**Demo-only time travel.** The use-cases stamp their own clock (``now``) as the actual start and end;
nothing in the application layer may write a past time. So each outage is approved (or scheduled),
started and restored through the use-cases — rights, plan, conflicts, notices, audit as in real life
— and then, in a transaction of its own, its times are moved to the past by one UPDATE of the
``outages`` row, its unsent notices are dropped (history is not news), and an audit event
``billing.demo`` (object ``outage``, ``details.demo_key``, the times set) says so. The use-cases' own
audit events keep the real time they were written at.

Idempotent: each outage is recognised by its ``billing.demo`` event (``demo_key``), the whole step by
the ``billing.demo`` event of object ``demo_month``; a rerun adds nothing. Deterministic for a
database and a month (the areas depend only on the network).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Connection, Engine, column, func, or_, select, table, text, union
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT

from apps.demo.billing import access_code
from auth.model import Actor
from billing.codes import verify_code
from billing.errors import BillingError
from billing.rule import month_bounds
from billing.rules_setting import current_rules
from i18n import system_note
from incidents.workflow import OPEN_STATUSES
from ops import audit
from ops import billing as ops_billing
from ops import network as net_ops
from ops import outages as ops_outages
from ops.base import engine, utcnow
from settings import get_settings

__all__ = ["DEMO_AUTHOR", "DemoOutage", "demo_outages", "guide", "load_demo_month", "previous_period"]

DEMO_AUTHOR = "cli:demo"
ACTIVE_SINCE = timedelta(hours=5, minutes=40)
ACTIVE_LEFT = timedelta(hours=2, minutes=50)
MAX_AREA_BUILDINGS = 20
CANDIDATE_PIPES = 60


@dataclass(frozen=True)
class DemoOutage:
    key: str
    kind: str                 # emergency | planned
    area: str                 # A | B | C
    start: datetime | None    # aware; None for the active one (set from now)
    end: datetime | None
    reason: str


def previous_period(now: datetime, zone: ZoneInfo) -> str:
    local = now.astimezone(zone)
    y, m = (local.year - 1, 12) if local.month == 1 else (local.year, local.month - 1)
    return f"{y:04d}-{m:02d}"


def _at(period: str, day: int, hh: int, mm: int, zone: ZoneInfo) -> datetime:
    return datetime.combine(date(int(period[:4]), int(period[5:7]), day), time(hh, mm), tzinfo=zone)


def demo_outages(period: str, zone: ZoneInfo, addresses: dict[str, str]) -> list[DemoOutage]:
    """The outages of the demo month ``period`` (see the module's table); ``addresses``: area → an
    address in it, for the reasons (written as operators write them, in Russian)."""
    def at(day: int, hh: int, mm: int = 0) -> datetime:
        return _at(period, day, hh, mm, zone)

    a, b, c = addresses["A"], addresses["B"], addresses["C"]
    return [
        DemoOutage("burst", "emergency", "A", at(8, 21, 10), at(9, 9, 40),
                   f"Прорыв трубы холодного водоснабжения у дома {a}"),
        DemoOutage("repair", "emergency", "B", at(14, 8), at(14, 15), f"Аварийный ремонт водопровода у дома {b}"),
        DemoOutage("valve", "planned", "B", at(14, 12), at(14, 18, 30),
                   f"Плановая замена задвижки на вводе, {b}"),
        DemoOutage("flushing", "planned", "C", at(21, 10), at(21, 14), f"Плановая промывка сети у дома {c}"),
        DemoOutage("now", "emergency", "A", None, None, f"Повторный прорыв трубы у дома {a}"),
    ]


# ---- the areas ---------------------------------------------------------------------------------------

_outages = table("outages", column("id", BigInteger), column("network_id", BigInteger), column("created_by"),
                 column("state"), column("actual_end"),
                 *(column(k, ARRAY(BIGINT)) for k in ("pipe_ids", "unintended_pipe_ids", "valve_ids")))
_outage_buildings = table("outage_buildings", column("outage_id", BigInteger), column("building_id", BigInteger))
_incidents = table("incidents", column("building_id", BigInteger), column("outage_id", BigInteger),
                   column("category"), column("status"))

def _network(conn: Connection) -> int:
    found = conn.execute(text("SELECT id FROM networks WHERE resource = 'cold_water' ORDER BY id LIMIT 1")).scalar()
    if found is None:
        raise BillingError("no cold-water network: load the demo city first (python -m data load-demo)")
    return int(found)


def _areas(actor: Actor, eng: Engine, network_id: int, since: datetime) -> dict[str, dict[str, Any]]:
    """Three disjoint areas A, B, C: {pipe, buildings (ids), residential (ids with accounts, most
    residents first), address}."""
    with eng.connect() as conn:
        pipes = [int(r[0]) for r in conn.execute(text("""
            SELECT p.id FROM pipes p JOIN service_connections sc ON sc.pipe_id = p.id
            WHERE p.network_id = :n GROUP BY p.id ORDER BY count(*) DESC, p.id LIMIT :k
        """), {"n": network_id, "k": CANDIDATE_PIPES})]
        with_accounts = {int(r[0]): r[1] for r in conn.execute(text("""
            SELECT b.id, coalesce(b.address, concat_ws(' ', b.street, b.housenumber))
            FROM buildings b WHERE EXISTS (SELECT 1 FROM premises p JOIN accounts a ON a.premises_id = p.id
                                           WHERE p.building_id = b.id)
        """))}
        residents = {int(r[0]): int(r[1] or 0) for r in conn.execute(text("SELECT id, residents FROM buildings"))}
        # the story stays exact on a demo database others wrote to: an area is not one that an outage
        # not made here (open, or off since the month began) touches, nor one with open water reports
        # (starting an outage links those, restoring it would resolve them)
        o, ob, i = _outages.alias("o"), _outage_buildings.alias("ob"), _incidents.alias("i")
        others = (o.c.network_id == network_id, o.c.created_by != actor.author, o.c.state != "cancelled",
                  or_(o.c.state.in_(("planned", "active")), o.c.actual_end >= since))
        busy_p = {int(r[0]) for r in conn.execute(
            select(func.unnest(o.c.pipe_ids.concat(o.c.unintended_pipe_ids))).distinct().where(*others))}
        busy_v = {int(r[0]) for r in conn.execute(select(func.unnest(o.c.valve_ids)).distinct().where(*others))}
        busy_b = {int(r[0]) for r in conn.execute(union(
            select(ob.c.building_id).where(ob.c.outage_id.in_(select(o.c.id).where(*others))),
            select(i.c.building_id).where(i.c.building_id.is_not(None), i.c.outage_id.is_(None),
                                          i.c.category.in_(("no_water", "low_pressure")),
                                          i.c.status.in_(sorted(OPEN_STATUSES)))))}
    chosen: list[dict[str, Any]] = []
    used_p, used_v, used_b = busy_p, busy_v, busy_b
    for pipe in pipes:
        plan = net_ops.plan(actor, network_id, [pipe], bind=eng)
        buildings = {int(b["id"]) for b in plan.affected}
        intended = [int(b["id"]) for b in plan.affected if not b["unintended"]]
        homes = sorted((b for b in intended if b in with_accounts), key=lambda b: (-residents.get(b, 0), b))
        pipes_ = {int(p) for p in plan.result.isolated_links} | {int(p) for p in plan.result.unintended_links}
        valves = {int(v["id"]) for v in plan.valves_to_close}
        if not homes or not 1 <= len(buildings) <= MAX_AREA_BUILDINGS or not plan.valves_to_close:
            continue
        if buildings & used_b or pipes_ & used_p or valves & used_v:
            continue
        chosen.append({"pipe": pipe, "buildings": sorted(buildings), "homes": homes,
                       "address": with_accounts[homes[0]] or f"#{homes[0]}"})
        used_b |= buildings
        used_p |= pipes_
        used_v |= valves
        if len(chosen) == 3:
            break
    if len(chosen) < 3:
        raise BillingError(f"the demo month needs three separate areas with accounts on network {network_id}; "
                           f"found {len(chosen)} (load the demo city and 'billing demo' first)")
    return dict(zip("ABC", chosen))


# ---- making the outages ------------------------------------------------------------------------------

def _done(conn: Connection) -> dict[str, int]:
    """demo_key → outage id of the demo outages already made."""
    return {r[0]: int(r[1]) for r in conn.execute(text("""
        SELECT details->>'demo_key', object_id FROM audit_events
        WHERE action = 'billing.demo' AND object_type = 'outage' AND details ? 'demo_key'
    """))}


def _finished(conn: Connection) -> dict[str, Any] | None:
    row = conn.execute(text("""
        SELECT details FROM audit_events WHERE action = 'billing.demo' AND object_type = 'demo_month'
        ORDER BY id DESC LIMIT 1
    """)).scalar()
    return dict(row) if row is not None else None


def _set_times(eng: Engine, actor: Actor, outage_id: int, key: str, *, created: datetime, planned_start: datetime,
               planned_end: datetime, actual_start: datetime, actual_end: datetime | None) -> None:
    """Demo-only: move an outage made just now by the use-cases to its demo times (see the module)."""
    with eng.begin() as conn:
        conn.execute(text("""
            UPDATE outages SET planned_start = :ps, planned_end = :pe, actual_start = :a, actual_end = :b,
                   created_at = :c, updated_at = coalesce(:b, :a)
            WHERE id = :id
        """), {"ps": planned_start, "pe": planned_end, "a": actual_start, "b": actual_end, "c": created,
               "id": outage_id})
        dropped = 0
        if actual_end is not None:  # notices of a month-old outage are not sent
            dropped = conn.execute(text("""
                UPDATE notice_outbox SET state = 'dropped', last_error = 'demo history: not sent'
                WHERE outage_id = :id AND state = 'pending'
            """), {"id": outage_id}).rowcount
        audit.record(conn, actor=actor.author, action="billing.demo", object_type="outage", object_id=outage_id,
                     reason=system_note("demo_month_backdated"),
                     details={"demo_key": key, "created_at": created, "planned_start": planned_start,
                              "planned_end": planned_end, "actual_start": actual_start, "actual_end": actual_end,
                              "notices_dropped": int(dropped)})


def _make(actor: Actor, eng: Engine, network_id: int, spec: DemoOutage, pipe: int, now: datetime) -> int:
    if spec.kind == "planned":
        # announced for "now" (the use-case refuses a past start), then moved to its demo dates
        outage = ops_outages.schedule(actor, network_id=network_id, break_pipe_ids=[pipe],
                                      planned_start=now + timedelta(minutes=1), planned_end=now + timedelta(hours=4),
                                      reason=spec.reason, bind=eng)
    else:
        outage = ops_outages.approve(actor, network_id=network_id, break_pipe_ids=[pipe], reason=spec.reason, bind=eng)
    ops_outages.start(actor, outage.id, bind=eng)
    if spec.start is None:  # the active one
        started = now - ACTIVE_SINCE
        _set_times(eng, actor, outage.id, spec.key, created=started - timedelta(minutes=25),
                   planned_start=started - timedelta(minutes=25), planned_end=now + ACTIVE_LEFT,
                   actual_start=started, actual_end=None)
        return outage.id
    ops_outages.restore(actor, outage.id, note="demo month", bind=eng)
    assert spec.end is not None
    if spec.kind == "planned":   # announced ten days ahead, on time
        created, ps, pe = spec.start - timedelta(days=10), spec.start, spec.end
    else:                        # approved 25 minutes before the valves were closed; 4 h expected
        created = ps = spec.start - timedelta(minutes=25)
        pe = ps + timedelta(hours=4)
    _set_times(eng, actor, outage.id, spec.key, created=created, planned_start=ps, planned_end=pe,
               actual_start=spec.start, actual_end=spec.end)
    return outage.id


def load_demo_month(*, actor: Actor | None = None, rules_file: str | Path | None = None,
                    tariffs_file: str | Path | None = None, bind: Engine | None = None,
                    now: datetime | None = None) -> dict[str, Any]:
    """Make the demo month (see the module) and bill the previous month (closed). Returns what was
    made: ``period``, ``outages`` (key → id), ``areas``, ``billing`` (the run's totals) and
    ``skipped`` when it was there already."""
    if get_settings().env == "production":   # made-up outages and time travel: never on a real database
        raise BillingError("demo-month: refused in production (ZHKH_ENV=production); it makes up outages")
    actor = actor or Actor.cli(DEMO_AUTHOR)
    eng = engine(bind)
    rules = current_rules(rules_file)
    with eng.connect() as conn:
        finished = _finished(conn)
        if finished is not None:
            return {**finished, "skipped": "the demo month exists already"}
        if not conn.execute(text("SELECT EXISTS (SELECT 1 FROM accounts)")).scalar():
            raise BillingError("no accounts: run 'python -m billing demo' first")
        network_id = _network(conn)
        done = _done(conn)
    now = now or utcnow()
    period = previous_period(now, rules.zone)
    areas = _areas(actor, eng, network_id, month_bounds(period, rules.zone)[0])
    specs = demo_outages(period, rules.zone, {k: v["address"] for k, v in areas.items()})
    made = dict(done)
    for spec in specs:
        if spec.key not in made:
            made[spec.key] = _make(actor, eng, network_id, spec, areas[spec.area]["pipe"], utcnow())
    with eng.connect() as conn:
        state = conn.execute(text("SELECT state FROM billing_periods WHERE period = :p"),
                             {"p": date(int(period[:4]), int(period[5:7]), 1)}).scalar()
    totals: dict[str, Any] = {"state": state}
    if state != "closed":
        try:
            totals = ops_billing.run_period(actor, period, close=True, tariffs_file=tariffs_file,
                                            rules_file=rules_file, bind=eng)
        except ops_billing.PeriodClosed as exc:   # a later month was closed on this database already
            totals = {"state": f"not billed: {exc}"}
    home = areas["A"]["homes"][0]
    with eng.begin() as conn:
        account = conn.execute(text("""
            SELECT a.number FROM accounts a JOIN premises p ON p.id = a.premises_id
            WHERE p.building_id = :b ORDER BY a.number LIMIT 1
        """), {"b": home}).scalar()
        details = {"period": period, "outages": made, "network_id": network_id,
                   "areas": {k: {"pipe": v["pipe"], "buildings": v["buildings"]} for k, v in areas.items()},
                   "guide": {"building_id": home, "address": areas["A"]["address"], "account": account},
                   "billing": {k: totals.get(k) for k in ("state", "charges", "charged_rub", "reduction_rub",
                                                          "reduced_charges", "total_rub")}}
        audit.record(conn, actor=actor.author, action="billing.demo", object_type="demo_month", object_id=period,
                     reason=system_note("demo_month"),
                     details=details)
    return details


def guide(*, seed: int, bind: Engine | None = None) -> dict[str, Any] | None:
    """What a newcomer can try on the residents' page: the demo address with the active outage, a
    demo account of that building and its access code (only when it is the demo code of ``seed``).
    None before the demo month was made."""
    with engine(bind).connect() as conn:
        finished = _finished(conn)
        if finished is None:
            return None
        g = dict(finished.get("guide") or {})
        active = conn.execute(text("SELECT state FROM outages WHERE id = :o"),
                              {"o": int(finished["outages"]["now"])}).scalar()
        stored = conn.execute(text("SELECT access_code_hash FROM accounts WHERE number = :n"),
                              {"n": g.get("account")}).scalar()
    code = access_code(seed, g["account"]) if g.get("account") else None
    g["code"] = code if code and verify_code(stored, code)[0] else None
    g["active"] = active == "active"
    g["period"] = finished["period"]
    return g
