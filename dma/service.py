"""District metered areas in the caller's transaction: derive and draw them, the daily balance, the night
check that raises and clears leak alarms, and the alarm's incident on the ``sensor`` channel.

What a change does for the audit trail comes back as :class:`AuditEvent` items appended to ``events``; the
use-cases (:mod:`ops.dma`) check the rights, own the transaction and record them (docs/dma.md)."""
from __future__ import annotations

import bisect
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text

from dma import store
from dma.balance import (
    AlarmState,
    alarm_step,
    baseline,
    day_bounds,
    min_night_flow,
    net_volume,
    night_verdict,
    nrw,
)
from dma.derive import areas
from dma.errors import DmaError, InvalidOutline, UnknownDma
from dma.rules import DmaRules, region_timezone, rules_from_settings
from i18n import N_, translate
from incidents import repo as incident_repo
from incidents import service as incidents
from incidents.sla import ServiceAttribute
from settings import get_settings

SENSOR_AUTHOR = "sensor:dma"
INCIDENT_SERVICE = "burst"        # a hidden leak on the network: the burst service, priority urgent
INCIDENT_PRIORITY = "urgent"


@dataclass(frozen=True)
class AuditEvent:
    """One event for the audit trail, recorded by the use-case in the transaction of the change."""
    actor: str
    action: str
    object_type: str
    object_id: int
    details: dict[str, Any]
    at: datetime | None = None


def _now() -> datetime:
    return datetime.now(timezone.utc)


# ---- derivation ----------------------------------------------------------------------------------

def derive(conn: Connection, *, actor: str, events: list[AuditEvent],
           network_ids: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """(Re)derive the DMAs of the water networks: parts of the network cut at normally-closed valves
    and at inlet meters, keeping those with a connected building or an inlet. A part that keeps most
    of an existing derived DMA's pipes keeps its id and name; derived DMAs left without a part go."""
    nets = list(network_ids) if network_ids else store.water_networks(conn)
    out = []
    for n in nets:
        if not store.network_exists(conn, n):
            raise DmaError(f"no network with id {n}")
        topo = store.topology(conn, n)
        cuts = topo["closed"] + [(p, node) for _m, p, node in topo["inlets"]]
        parts = [a for a in areas(topo["pipes"], cuts)
                 if a & topo["served"] or any(p in a for _m, p, _n in topo["inlets"])]
        ends = {p: (a, b) for p, a, b in topo["pipes"]}
        cutset = set(cuts)
        existing = store.dmas_of_network(conn, n, "derived")
        taken: set[int] = set()
        names = store.dma_names(conn, n)
        counter = 1
        kept = []
        for part in parts:
            best = max((e for e in existing if e["id"] not in taken), default=None,
                       key=lambda e: (len(e["pipes"] & part), -e["id"]))
            if best is not None and len(best["pipes"] & part) * 2 > len(part):
                dma_id, name = best["id"], best["name"]
                taken.add(dma_id)
            else:
                while f"DMA {counter}" in names:
                    counter += 1
                name = f"DMA {counter}"
                names.add(name)
                dma_id = store.insert_dma(conn, n, name, "derived", actor)
            store.set_members(conn, dma_id, part)
            nodes = {x for p in part for x in ends[p] if (p, x) not in cutset}
            flows = [(m, 1) for m, p, _x in topo["inlets"] if p in part]
            flows += [(m, -1) for m, p, x in topo["inlets"] if p not in part and x in nodes]
            store.set_flows(conn, dma_id, flows)
            kept.append({"id": dma_id, "name": name, "network_id": n, "pipes": len(part),
                         "inlets": sum(1 for _m, s in flows if s > 0), "outlets": sum(1 for _m, s in flows if s < 0)})
        gone = [e["id"] for e in existing if e["id"] not in taken]
        store.delete_dmas(conn, gone)
        events.append(AuditEvent(actor, "dma.derive", "network", n, {"dmas": [k["id"] for k in kept], "removed": gone}))
        out.extend(kept)
    return out


def draw(conn: Connection, *, actor: str, events: list[AuditEvent], network_id: int, name: str,
         geojson: Any) -> dict[str, Any]:
    """A planner's DMA: a polygon (GeoJSON geometry, Feature or FeatureCollection of one polygon,
    lon/lat); it holds the pipes whose midpoint lies inside and the buildings connected to them."""
    if not isinstance(name, str) or not name.strip() or len(name) > 200 or any(ord(c) < 32 for c in name):
        raise DmaError("name must be 1-200 characters of plain text")
    if "<" in name:
        raise DmaError("name must be plain text, not HTML")
    geom = _polygon_of(geojson)
    if not store.network_exists(conn, network_id):
        raise DmaError(f"no network with id {network_id}")
    if name.strip() in store.dma_names(conn, network_id):
        raise DmaError(f"network {network_id} already has a DMA named {name.strip()!r}")
    dma_id = store.insert_drawn(conn, network_id, name.strip(), json.dumps(geom), actor)
    store.drawn_members(conn, dma_id)
    d = store.get_dma(conn, dma_id)
    if d is None or d["outline"] is None:
        raise InvalidOutline("the outline is not a valid polygon")
    events.append(AuditEvent(actor, "dma.draw", "dma", dma_id,
                             {"name": name.strip(), "pipes": d["pipes"], "buildings": d["buildings"]}))
    return {k: d[k] for k in ("id", "name", "network_id", "pipes", "buildings", "inlets")}


def _polygon_of(g: Any) -> dict[str, Any]:
    if isinstance(g, dict) and g.get("type") == "FeatureCollection":
        feats = g.get("features")
        if not isinstance(feats, list) or len(feats) != 1:
            raise InvalidOutline("a FeatureCollection must hold exactly one polygon feature")
        g = feats[0]
    if isinstance(g, dict) and g.get("type") == "Feature":
        g = g.get("geometry")
    if not isinstance(g, dict) or g.get("type") not in ("Polygon", "MultiPolygon"):
        raise InvalidOutline("the outline must be a GeoJSON Polygon or MultiPolygon")
    coords = g.get("coordinates")
    rings = coords if g["type"] == "Polygon" else [r for poly in (coords or []) for r in (poly or [])]
    try:
        pts = [(float(x), float(y)) for ring in rings for (x, y, *_rest) in ring]
    except (TypeError, ValueError):
        raise InvalidOutline("the outline's coordinates must be [lon, lat] number pairs") from None
    if not pts or any(not (-180 <= x <= 180 and -90 <= y <= 90) for x, y in pts):
        raise InvalidOutline("the outline's coordinates must be lon/lat degrees (EPSG:4326)")
    if any(len(r) < 4 or tuple(r[0][:2]) != tuple(r[-1][:2]) for r in rings):
        raise InvalidOutline("every ring of the outline must be closed and have at least 4 points")
    return {"type": g["type"], "coordinates": coords}


# ---- balance ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DayBalance:
    dma_id: int
    dma: str
    day: date
    inflow_m3: float | None
    billed_m3: float | None
    nrw_m3: float | None
    nrw_pct: float | None
    mnf_m3h: float | None
    building_meters: int
    building_meters_missing: int

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["day"] = self.day.isoformat()
        for k in ("inflow_m3", "billed_m3", "nrw_m3", "nrw_pct", "mnf_m3h"):
            if d[k] is not None:
                d[k] = round(d[k], 3)
        return d


def balance(conn: Connection, since: date, until: date, *, rules: DmaRules | None = None,
            tz: str | None = None, dma_ids: Sequence[int] | None = None) -> list[DayBalance]:
    """Per DMA and local day: inflow (Σ signed inlet meters), billed (Σ its buildings' meters: no
    data if any one lacks it), NRW volume and %, minimum night flow."""
    if until < since:
        raise DmaError(f"--to {until} is before --from {since}")
    if (until - since).days > 3660:
        raise DmaError("at most 10 years at once")
    rules = rules or rules_from_settings()
    tz = tz or region_timezone()
    gap = timedelta(hours=rules.max_gap_h)
    dmas = [d for d in store.list_dmas(conn) if dma_ids is None or d["id"] in dma_ids]
    fl = store.flows(conn)
    bm = store.building_meters(conn)
    start, _ = day_bounds(since, tz)
    _, end = day_bounds(until, tz)
    inlets = {m for d in dmas for m, _s in fl.get(d["id"], [])}
    rd = store.readings(conn, inlets, start - gap, end + gap)
    bounds = []
    k = since
    while k <= until:
        bounds.append(day_bounds(k, tz)[0])
        k += timedelta(days=1)
    bounds.append(end)
    rd.update(store.readings_around(conn, {m for d in dmas for m in bm.get(d["id"], [])} - inlets, bounds))
    times = {m: [t for t, _v in r] for m, r in rd.items()}

    def cut(m: int, a: datetime, b: datetime) -> list[Any]:
        # the readings that can matter for [a, b]: those inside and the nearest one either side
        i = max(bisect.bisect_left(times[m], a) - 1, 0)
        j = bisect.bisect_right(times[m], b) + 1
        return rd[m][i:j]

    out = []
    for d in dmas:
        day = since
        while day <= until:
            a, b = day_bounds(day, tz)
            signed = [(s, cut(m, a - gap, b + gap)) for m, s in fl.get(d["id"], [])]
            inflow = net_volume(signed, a, b, max_gap=gap)
            parts = [net_volume([(1, cut(m, a, b))], a, b, max_gap=gap) for m in bm.get(d["id"], [])]
            missing = sum(1 for p in parts if p is None)
            billed = None if not parts or missing else sum(p for p in parts if p is not None)
            vol, pct = nrw(inflow, billed)
            out.append(DayBalance(d["id"], d["name"], day, inflow, billed, vol, pct,
                                  min_night_flow(signed, day, tz, rules), len(parts), missing))
            day += timedelta(days=1)
    return out


# ---- the night check ------------------------------------------------------------------------------

def default_night(tz: str, rules: DmaRules, now: datetime | None = None) -> date:
    """The last night whose window is over: today once it is past ``night_end`` locally, else yesterday."""
    local = (now or _now()).astimezone(ZoneInfo(tz))
    return local.date() if local.time() >= rules.night_end else local.date() - timedelta(days=1)


def check_night(conn: Connection, day: date, *, events: list[AuditEvent], rules: DmaRules | None = None,
                tz: str | None = None, now: datetime | None = None, lang: str | None = None) -> list[dict[str, Any]]:
    """Judge ``day``'s night in every DMA: its MNF against the median of the previous nights that
    were not high; raise, persist or clear the DMA's alarm. A night already judged is not judged
    again (the command is safe to repeat)."""
    rules = rules or rules_from_settings()
    tz = tz or region_timezone()
    now = now or _now()
    gap = timedelta(hours=rules.max_gap_h)
    fl = store.flows(conn)
    results = []
    # look back up to three times the baseline: nights without data or judged high are skipped
    first = day - timedelta(days=3 * rules.baseline_nights)
    win_a, _ = day_bounds(first, tz)
    _, win_b = day_bounds(day, tz)
    for d in store.list_dmas(conn):
        signed_ids = fl.get(d["id"], [])
        rd = store.readings(conn, [m for m, _s in signed_ids], win_a - gap, win_b + gap)
        signed = [(s, rd[m]) for m, s in signed_ids]
        judged = store.nights(conn, d["id"], first, day)
        if day in judged:
            j = judged[day]
            results.append({"dma_id": d["id"], "dma": d["name"], "day": day.isoformat(), "mnf_m3h": j["mnf_m3h"],
                            "baseline_m3h": j["baseline_m3h"], "verdict": j["verdict"], "action": "already_checked"})
            continue
        history: list[float | None] = []
        k = first
        while k < day:
            high = judged.get(k, {}).get("verdict") == "high"
            history.append(None if high else min_night_flow(signed, k, tz, rules))
            k += timedelta(days=1)
        mnf = min_night_flow(signed, day, tz, rules)
        base = baseline(history, rules)
        verdict = night_verdict(mnf, base, rules)
        store.save_night(conn, d["id"], day, mnf, base, verdict)
        alarm = store.open_alarm(conn, d["id"])
        state = AlarmState(alarm["normal_nights"]) if alarm else None
        action, new_state = alarm_step(state, verdict, rules)
        incident_id = alarm["incident_id"] if alarm else None
        if action == "raise":
            incident_id = _raise(conn, d, day, mnf, base, now=now, lang=lang, events=events)   # type: ignore[arg-type]
        elif action == "persist":
            _persist(conn, alarm, d, day, mnf, base, now=now, lang=lang, events=events)         # type: ignore[arg-type]
        elif action == "recovering":
            _exec(conn, "UPDATE dma_alarms SET normal_nights = :n WHERE id = :i",
                  n=new_state.normal_nights, i=alarm["id"])  # type: ignore[union-attr,index]
        elif action == "clear":
            _clear(conn, alarm, d, day, mnf, base, now=now, lang=lang, events=events)           # type: ignore[arg-type]
        results.append({"dma_id": d["id"], "dma": d["name"], "day": day.isoformat(), "mnf_m3h": mnf,
                        "baseline_m3h": base, "verdict": verdict, "action": action, "incident_id": incident_id})
    return results


def _exec(conn: Connection, sql: str, **params: Any) -> Any:
    return conn.execute(text(sql), params)


def _fmt(x: float | None, lang: str = "en") -> str:
    if x is None:
        return "—"
    return f"{x:.2f}".replace(".", ",") if lang == "ru" else f"{x:.2f}"


def _day(d: date, lang: str) -> str:
    return d.strftime("%d.%m.%Y") if lang == "ru" else d.isoformat()


def _lang(lang: str | None) -> str:
    if lang:
        return lang
    return get_settings().language


def _raise(conn: Connection, d: dict[str, Any], day: date, mnf: float, base: float, *, now: datetime,
           lang: str | None, events: list[AuditEvent]) -> int:
    row = _exec(conn, """INSERT INTO dma_alarms (dma_id, opened_on, last_high_on, baseline_m3h, peak_mnf_m3h)
                         VALUES (:d, :day, :day, :b, :m) RETURNING id""", d=d["id"], day=day, b=base, m=mnf).first()
    alarm_id = int(row[0])
    # the sensor channel's own attribute: the incident names its DMA (``attributes.dma_id``)
    rules = incidents.rules_from_settings()
    svc = rules.services[INCIDENT_SERVICE]
    if not any(a.code == "dma_id" for a in svc.attributes):
        svc = svc.model_copy(update={"attributes": [*svc.attributes, ServiceAttribute(code="dma_id", datatype="number")]})
        rules = rules.model_copy(update={"services": {**rules.services, INCIDENT_SERVICE: svc}})
    lg = _lang(lang)
    description = translate(lg, N_("dma.incident.description"), dma=d["name"], day=_day(day, lg),
                            mnf=_fmt(mnf, lg), baseline=_fmt(base, lg))
    # located at the DMA's centre; the member building nearest to it names the address (and, given,
    # spares the service-area lookup, which needs an engine rather than this transaction)
    near = _exec(conn, """SELECT b.id FROM dma_buildings db JOIN buildings b ON b.id = db.building_id
                          WHERE db.dma_id = :d ORDER BY b.geom <-> ST_SetSRID(ST_MakePoint(:x, :y), 4326) LIMIT 1""",
                 d=d["id"], x=float(d["lon"]), y=float(d["lat"])).scalar()
    result = incidents.create_incident(
        conn, service_code=INCIDENT_SERVICE, lon=float(d["lon"]), lat=float(d["lat"]), building_id=near,
        description=description,
        channel="sensor", priority=INCIDENT_PRIORITY, attributes={"dma_id": d["id"]},
        client_token=f"dma-alarm-{alarm_id}", actor=SENSOR_AUTHOR, rules=rules, now=now)
    incident_id = int(result.incident.id)
    _exec(conn, "UPDATE dma_alarms SET incident_id = :i WHERE id = :a", i=incident_id, a=alarm_id)
    events.append(AuditEvent(SENSOR_AUTHOR, "dma.alarm_raise", "dma", d["id"],
                             {"alarm_id": alarm_id, "incident_id": incident_id, "day": day.isoformat(),
                              "mnf_m3h": mnf, "baseline_m3h": base}, at=now))
    return incident_id


def _note(conn: Connection, incident_id: int | None, body: str, now: datetime, events: list[AuditEvent]) -> None:
    if incident_id is None:
        return
    note = incident_repo.insert_note(conn, incident_id, SENSOR_AUTHOR, body, now)
    events.append(AuditEvent(SENSOR_AUTHOR, "incident.note_add", "incident", incident_id,
                             {"note_id": note["id"], "chars": len(body)}, at=now))


def _persist(conn: Connection, alarm: dict[str, Any], d: dict[str, Any], day: date, mnf: float, base: float, *,
             now: datetime, lang: str | None, events: list[AuditEvent]) -> None:
    _exec(conn, """UPDATE dma_alarms SET last_high_on = :day, normal_nights = 0,
                   peak_mnf_m3h = greatest(peak_mnf_m3h, :m) WHERE id = :i""", day=day, m=mnf, i=alarm["id"])
    lg = _lang(lang)
    _note(conn, alarm["incident_id"], translate(lg, N_("dma.incident.still_high"), dma=d["name"],
                                                day=_day(day, lg), mnf=_fmt(mnf, lg), baseline=_fmt(base, lg)), now,
          events)


def _clear(conn: Connection, alarm: dict[str, Any], d: dict[str, Any], day: date, mnf: float | None,
           base: float | None, *, now: datetime, lang: str | None, events: list[AuditEvent]) -> None:
    _exec(conn, """UPDATE dma_alarms SET state = 'cleared', cleared_on = :day, normal_nights = normal_nights + 1
                   WHERE id = :i""", day=day, i=alarm["id"])
    lg = _lang(lang)
    _note(conn, alarm["incident_id"], translate(lg, N_("dma.incident.cleared"), dma=d["name"],
                                                day=_day(day, lg), mnf=_fmt(mnf, lg), baseline=_fmt(base, lg)), now,
          events)
    events.append(AuditEvent(SENSOR_AUTHOR, "dma.alarm_clear", "dma", d["id"],
                             {"alarm_id": alarm["id"], "incident_id": alarm["incident_id"], "day": day.isoformat()},
                             at=now))


def get_or_raise(conn: Connection, dma_id: int) -> dict[str, Any]:
    d = store.get_dma(conn, dma_id)
    if d is None:
        raise UnknownDma(f"no DMA with id {dma_id}")
    return d

