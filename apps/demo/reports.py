"""Demo organisations over the demo city, and (optionally) a history of reports to inspect.

``python -m reports demo [--seed N] [--if-missing] [--history-days N]``, deterministic for a seed:

- 5 management companies (управляющие компании), each over one district of the city: the buildings
  are grouped into 5 spatial clusters (k-means on their centroids, seeded), whole streets kept
  together (a street goes to the cluster most of its buildings fall in);
- one utility (водоканал) that runs every water network; two contractors;
- every report without a responsible organisation gets one (the intake rule);
- with ``--history-days N``: N days of past reports through the ordinary intake and workflow
  (each company works at its own pace, so the zones differ), and a few emergency outages on the
  water network (planned with the network engine, started and restored in the past).
"""
from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
from sqlalchemy import Engine, text

from incidents import outages as domain
from incidents import service
from incidents.sla import resolve_hours
from ops import network as net_ops
from ops.outages import outage_plan
from reports import orgs
from reports.kpi_rules import ReportRules

COMPANIES = [
    ("ООО «УК Центральная»", "УК Центральная", "7701234560", "+7 (495) 120-11-01"),
    ("ООО «Жилсервис-Север»", "Жилсервис-Север", "7702345671", "+7 (495) 120-22-02"),
    ("АО «Управдом Южный»", "Управдом Южный", "7703456782", "+7 (495) 120-33-03"),
    ("ООО «УК Комфорт»", "УК Комфорт", "7704567893", "+7 (495) 120-44-04"),
    ("ООО «ЖЭК Приморский»", "ЖЭК Приморский", "7705678904", "+7 (495) 120-55-05"),
]
UTILITY = ("МУП «Городской водоканал»", "Водоканал", "7706789015", "+7 (495) 130-00-00")
CONTRACTORS = [
    ("ООО «СтройТехРемонт»", "СтройТехРемонт", "7707890126", "+7 (495) 140-10-10"),
    ("ООО «ЛифтСервис»", "ЛифтСервис", "7708901237", "+7 (495) 140-20-20"),
]
# hours of work relative to the deadline (fraction of resolve_h, spread) and answer minutes (mean)
PACE = [(0.35, 0.3, 2.0), (0.55, 0.5, 3.5), (0.95, 0.7, 6.0), (0.45, 0.4, 2.5), (0.75, 0.6, 4.0)]
UTILITY_PACE = (0.5, 0.4, 3.0)
SERVICE_WEIGHTS = {"no_water": 10, "no_hot_water": 8, "low_pressure": 5, "no_heating": 12, "sewer": 9,
                   "electricity": 6, "elevator": 10, "repair": 12, "roof_leak": 4, "broken_glass": 3,
                   "other": 6, "burst": 6}


def demo_present(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(text("SELECT count(*) FROM organisations WHERE name = :n"),
                                 {"n": COMPANIES[0][0]}).scalar())


def _kmeans(xy: np.ndarray, k: int, rng: random.Random, iters: int = 30) -> np.ndarray:
    order = sorted(range(len(xy)), key=lambda i: (xy[i, 0], xy[i, 1]))
    centres = xy[[order[int((j + 0.5) * len(order) / k)] for j in range(k)]].copy()
    centres += np.array([[rng.uniform(-1e-5, 1e-5), 0] for _ in range(k)])
    labels = np.zeros(len(xy), dtype=int)
    for _ in range(iters):
        labels = ((xy[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
        for j in range(k):
            if (labels == j).any():
                centres[j] = xy[labels == j].mean(axis=0)
    return labels


def create_organisations(engine: Engine, rules: ReportRules, *, seed: int = 42) -> dict[str, Any]:
    """The demo organisations and who manages what (idempotent: rows are matched by name)."""
    rng = random.Random(seed)
    with engine.begin() as conn:
        def upsert(kind: str, name: str, short: str, inn: str, phone: str, address: str) -> int:
            return conn.execute(text("""
                INSERT INTO organisations (kind, name, short_name, inn, phone, email, address)
                VALUES (:k, :n, :s, :i, :p, :e, :a)
                ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, short_name = EXCLUDED.short_name,
                    inn = EXCLUDED.inn, phone = EXCLUDED.phone RETURNING id
            """), {"k": kind, "n": name, "s": short, "i": inn, "p": phone,
                   "e": f"info@{inn}.example.ru", "a": address}).scalar_one()

        mc_ids = [upsert("management_company", n, s, i, p, f"ул. Ленина, д. {j + 3}")
                  for j, (n, s, i, p) in enumerate(COMPANIES)]
        utility = upsert("utility", *UTILITY, "ул. Водопроводная, д. 1")
        contractors = [upsert("contractor", *c, "пр. Строителей, д. 7") for c in CONTRACTORS]
        rows = conn.execute(text("SELECT id, coalesce(street, '') AS street, ST_X(ST_Centroid(geom)) AS x, "
                                 "ST_Y(ST_Centroid(geom)) AS y FROM buildings ORDER BY id")).all()
        if rows:
            xy = np.array([[r.x * np.cos(np.radians(r.y)), r.y] for r in rows])
            labels = _kmeans(xy, len(mc_ids), rng)
            street_votes: dict[str, Counter[int]] = defaultdict(Counter)
            for r, lab in zip(rows, labels, strict=True):
                if r.street:
                    street_votes[r.street][int(lab)] += 1
            assign = [mc_ids[street_votes[r.street].most_common(1)[0][0] if r.street else int(lab)]
                      for r, lab in zip(rows, labels, strict=True)]
            conn.execute(text("UPDATE buildings SET management_company_id = :m WHERE id = :b"),
                         [{"m": m, "b": r.id} for r, m in zip(rows, assign, strict=True)])
        conn.execute(text("UPDATE networks SET utility_id = :u WHERE resource IN ('cold_water', 'hot_water', 'sewer')"),
                     {"u": utility})
        backfilled = orgs.backfill(conn, rules)
        per_mc = dict(conn.execute(text("SELECT management_company_id, count(*) FROM buildings "
                                        "WHERE management_company_id IS NOT NULL GROUP BY 1")).all())
    return {"management_companies": mc_ids, "utility": utility, "contractors": contractors,
            "buildings_per_company": {str(k): v for k, v in sorted(per_mc.items())}, "reports_assigned": backfilled}


def _advance(engine: Engine, inc: Any, to: str, at: datetime, note: str = "") -> Any:
    return service.transition_incident(engine, inc.id, to, actor="demo:dispatcher", expected_version=inc.version,
                                       note=note, now=at)


def create_history(engine: Engine, *, days: int, seed: int = 42, per_day: int = 14,
                   now: datetime | None = None) -> dict[str, int]:
    """``days`` of past reports through intake and workflow, and a few past outages."""
    rng = random.Random(seed + 1)
    now = now or datetime.now(timezone.utc)
    sla = service.rules_from_settings()
    with engine.connect() as conn:
        buildings = conn.execute(text("SELECT id, management_company_id FROM buildings "
                                      "WHERE management_company_id IS NOT NULL ORDER BY id")).all()
        mc_order = [r[0] for r in conn.execute(text(
            "SELECT id FROM organisations WHERE kind = 'management_company' ORDER BY id"))]
    if not buildings:
        return {"reports": 0, "outages": 0}
    pace = {m: PACE[i % len(PACE)] for i, m in enumerate(mc_order)}
    codes, weights = list(SERVICE_WEIGHTS), list(SERVICE_WEIGHTS.values())
    made = 0
    acted: list[dict[str, Any]] = []     # what the organisations did on each report (written at the end)
    start = now - timedelta(days=days)
    for day in range(days):
        for _ in range(rng.randint(per_day - 4, per_day + 4)):
            created = start + timedelta(days=day, minutes=rng.uniform(0, 24 * 60))
            if created > now - timedelta(minutes=30):
                continue
            code = rng.choices(codes, weights)[0]
            b = rng.choice(buildings)
            res = service.create_incident(engine, service_code=code, building_id=b.id, channel="phone",
                                          description="", actor="demo:hotline", rules=sla, now=created)
            inc = res.incident
            made += 1
            rule = sla.services[code]
            frac, spread, answer_mean = UTILITY_PACE if rule.category in ("burst", "no_water", "low_pressure") \
                else pace.get(b.management_company_id, UTILITY_PACE)
            resolve_h = resolve_hours(rule, created, sla)
            t = created + timedelta(minutes=rng.expovariate(1 / answer_mean))
            if t >= now:
                continue
            if rng.random() < 0.03:
                _advance(engine, inc, "rejected", t, "не подтвердилось")
                continue
            inc = _advance(engine, inc, "accepted", t)
            org_act = {"id": inc.id, "org": inc.responsible_org_id, "accepted": t, "emergency":
                       rule.category in ("burst", "no_water", "low_pressure"), "frac": frac}
            t_res = created + timedelta(hours=resolve_h * max(0.05, rng.gauss(frac, spread * frac + 0.1)))
            steps = [("dispatched", t + (t_res - t) * 0.2), ("in_progress", t + (t_res - t) * 0.4),
                     ("resolved", t_res)]
            for to, at in steps:
                if at >= now:
                    break
                inc = _advance(engine, inc, to, at)
            if inc.status != "resolved":
                acted.append(org_act)
                continue
            org_act["resolved"] = t_res
            acted.append(org_act)
            if rng.random() < 0.06 * (1 + frac):
                again = t_res + timedelta(days=rng.uniform(0.5, 25))
                if again < now:
                    inc = _advance(engine, inc, "in_progress", again, "reopened by resident")
                    fixed = again + timedelta(hours=resolve_h * rng.uniform(0.2, 1.0))
                    if fixed < now:
                        inc = _advance(engine, inc, "resolved", fixed)
            if inc.status == "resolved" and t_res + timedelta(days=1) < now:
                _advance(engine, inc, "closed", max(t_res, inc.updated_at) + timedelta(days=1))
                org_act["closed"] = True
    org_events = _org_actions(engine, rng, acted, now)
    outages = _past_outages(engine, rng, start, now, sla)
    return {"reports": made, "org_events": org_events, "outages": outages}


ANSWERS = ("Неисправность устранена, оборудование проверено.", "Работы выполнены, течь устранена.",
           "Заменена запорная арматура, давление в норме.", "Проведена чистка и регулировка, замечаний нет.")


def _org_actions(engine: Engine, rng: random.Random, acted: list[dict[str, Any]], now: datetime) -> int:
    """The organisations' own side of the history (as their desks would have recorded it, ``ops.orgs``):
    most reports accepted by the organisation when the service accepted them, a visit planned for a
    third of the non-emergency ones (kept or late, by the organisation's pace), the answer when resolved,
    a few handed back as «не наше» first, and a rating on two of five closed reports — so the inspector's
    figures of the organisations' own actions have something to show in the demo."""
    events: list[dict[str, Any]] = []
    orders: list[dict[str, Any]] = []
    for a in acted:
        if a["org"] is None or rng.random() < 0.1:     # one in ten: the organisation never used its desk
            continue
        org, at, n = a["org"], a["accepted"], len(events)
        author = f"demo:org{org}"

        def event(kind: str, when: datetime, body: str = "", visit: datetime | None = None) -> None:
            events.append({"e": f"demo-{a['id']}-{len(events) - n}", "i": a["id"], "o": org, "k": kind, "t": body,
                           "v": visit, "a": author, "at": when})

        if rng.random() < 0.03:
            event("returned", at, "Не наша зона ответственности — передано обратно диспетчеру")
            at += timedelta(minutes=rng.uniform(10, 90))
        event("accepted", at)
        order: dict[str, Any] = {"id": a["id"], "state": "accepted", "acc": at, "visit": None, "answer": None,
                                 "res": None, "rating": None, "rated": None}
        resolved = a.get("resolved")
        if not a["emergency"] and rng.random() < 0.35 and resolved is not None:
            late = rng.random() < 0.2 * (1 + a["frac"])   # a slower organisation misses its visit more often
            before = timedelta(hours=rng.uniform(3, 12) if late else rng.uniform(0.3, 1.5))
            visit = max(at + timedelta(minutes=30), resolved - before)
            event("visit_planned", at + timedelta(minutes=5), visit=visit)
            order.update(state="visit_planned", visit=visit)
        if resolved is not None:
            answer = rng.choice(ANSWERS)
            event("resolved", resolved, answer)
            order.update(state="resolved", answer=answer, res=resolved)
            if a.get("closed") and rng.random() < 0.4:
                order.update(rating=max(1, min(5, round(rng.gauss(4.6 - 1.2 * a["frac"], 0.8)))),
                             rated=resolved + timedelta(hours=rng.uniform(1, 20)))
        orders.append(order)
    with engine.begin() as conn:
        if events:
            conn.execute(text("""
                INSERT INTO work_order_events (event_id, incident_id, org_id, kind, text, visit_at, author, at)
                VALUES (:e, :i, :o, :k, :t, :v, :a, :at) ON CONFLICT (org_id, event_id) DO NOTHING"""), events)
        if orders:
            conn.execute(text("""
                UPDATE incidents SET org_state = :state, org_accepted_at = :acc, visit_at = :visit,
                       org_answer = :answer, org_resolved_at = :res, resident_rating = :rating,
                       resident_rated_at = :rated
                WHERE id = :id"""), orders)
    return len(events)


def _past_outages(engine: Engine, rng: random.Random, start: datetime, now: datetime, sla: Any) -> int:
    with engine.connect() as conn:
        net = conn.execute(text("SELECT id FROM networks WHERE resource = 'cold_water' ORDER BY id LIMIT 1")).scalar()
        if net is None:
            return 0
        pipes = [r[0] for r in conn.execute(text("SELECT id FROM pipes WHERE network_id = :n ORDER BY id"), {"n": net})]
    idx = net_ops.index(net, bind=engine)
    made = 0
    span = (now - start).total_seconds()
    for k in range(max(1, int(span / 86400 / 8))):
        begin = start + timedelta(seconds=span * (k + rng.random() * 0.8) / max(1, int(span / 86400 / 8)))
        hours = rng.choice([2.5, 3.5, 5.0, 7.5, 11.0])
        end = begin + timedelta(hours=hours)
        if end >= now:
            continue
        pipe = rng.choice(pipes)
        with engine.begin() as conn:
            plan = net_ops.plan_on(conn, idx, net, [pipe])
            oplan = outage_plan(plan, [pipe])
            o = domain.insert(conn, network_id=net, kind="emergency", plan=oplan, reason=f"Прорыв трубы {pipe}",
                              actor="demo:dispatcher", planned_start=begin, planned_end=None, now=begin, rules=sla)
            domain.start(conn, o.id, actor="demo:dispatcher", now=begin + timedelta(minutes=40))
            domain.restore(conn, o.id, actor="demo:dispatcher", now=end)
        made += 1
    return made
