"""A grown outage (a stuck valve, then "extend") through every consumer of "how long was this house
without water": the bill's ПП 354 reduction of a house that joined late (to the kopeck, by hand), the
residents' page ("off since" the join, the allowance clock), the KPIs — all through
``incidents.interruptions``. And the "no water" reports it explains: linked and accepted when the
valves close (or when the outage grows to their house, or at intake), due at the outage's expected
end (moved when it is extended), shown with the outage on the residents' and the operators' page,
resolved with the outage in one step by the person who restored it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from auth.model import Actor
from billing.rules_file import DEFAULT_RULES_FILE
from incidents import interruptions as cutoffs
from incidents import service
from incidents.sla import sla_state
from notify.messages import fmt_when
from ops import billing as ops_billing
from ops import incidents as reports
from ops import outages
from tests.billing.city import msk, write_tariffs
from tests.ops.conftest import Demo
from tests.ops.test_outage_lifecycle import burst, stuck_candidate

CLI = Actor.cli("cli:tests")


def history(eng: Engine, incident_id: int) -> list[tuple[str | None, str, str, str]]:
    return [(e["from_status"], e["to_status"], e["actor"], e["note"])
            for e in service.incident_history(eng, incident_id)]


def no_water(actor: Actor, eng: Engine, building_id: int, description: str = "Нет холодной воды") -> int:
    return reports.take_report(actor, service_code="no_water", building_id=building_id, description=description,
                               bind=eng).incident.id


@pytest.fixture()
def grown(demo: Demo, actors: dict[str, Actor]):
    """An emergency outage approved and started, then grown around a stuck valve; "no water" reports
    from an original house (before the valves closed) and from a house that joined late (before it
    joined)."""
    eng, net = demo.engine, demo.network_id
    disp = actors["dispatcher"]
    pipe, valve, lon, lat = stuck_candidate(demo, disp)
    cause = burst(actors["operator"], eng, lon, lat)
    outage = outages.approve(disp, network_id=net, break_pipe_ids=[pipe], incident_id=cause, bind=eng)
    first = outages.get(disp, outage.id, bind=eng)
    early_house = next(b["id"] for b in first.buildings if not b["unintended"])
    early_report = no_water(actors["operator"], eng, early_house)
    preview = outages.preview_extension(disp, outage.id, [valve], bind=eng)
    late_house = preview.buildings_added[0]
    late_report = no_water(actors["operator"], eng, late_house, "Воды нет с вечера")
    started = outages.start(disp, outage.id, bind=eng)
    grown_ = outages.extend(disp, outage.id, [valve], reason="шпиндель сорван", seen_plan=preview.plan.fingerprint,
                            bind=eng)
    yield {"eng": eng, "outage": grown_, "started": started, "cause": cause, "early_house": early_house,
           "late_house": late_house, "early_report": early_report, "late_report": late_report,
           "added": preview.buildings_added}
    with eng.begin() as conn:  # the accounts this test added (the demo city has none of its own)
        conn.execute(text("DELETE FROM charge_lines"))
        conn.execute(text("DELETE FROM charges"))
        conn.execute(text("DELETE FROM billing_periods"))
        conn.execute(text("DELETE FROM accounts"))
        conn.execute(text("DELETE FROM premises"))


def pin_times(eng: Engine, outage_id: int, late: list[int], *, start: datetime, joined: datetime,
              end: datetime | None) -> None:
    """The outage as it happened on another day (the flow above ran in a few seconds)."""
    with eng.begin() as conn:
        conn.execute(text("UPDATE outages SET planned_start = :s, actual_start = :s, actual_end = :e, "
                          "planned_end = greatest(planned_end, :s + interval '4 hours') WHERE id = :o"),
                     {"s": start, "e": end, "o": outage_id})
        conn.execute(text("UPDATE outage_buildings SET added_at = :j WHERE outage_id = :o AND building_id = ANY(:b)"),
                     {"j": joined, "o": outage_id, "b": late})


def test_a_house_that_joined_late_is_reduced_from_when_it_joined(grown, actors: dict[str, Actor],
                                                                tmp_path: Path) -> None:
    eng, o = grown["eng"], grown["outage"]
    outages.restore(actors["dispatcher"], o.id, bind=eng)
    # 10 Oct 2026 08:00 the valves closed; at 13:00 a valve was found stuck and the outage grew to the
    # late house; 11 Oct 02:30 the water was back (Moscow time, the default billing rules)
    start, joined, end = msk(2026, 10, 10, 8, 0), msk(2026, 10, 10, 13, 0), msk(2026, 10, 11, 2, 30)
    pin_times(eng, o.id, grown["added"], start=start, joined=joined, end=end)
    with eng.begin() as conn:
        accounts = {}
        for name, house in (("early", grown["early_house"]), ("late", grown["late_house"])):
            pid = conn.execute(text("INSERT INTO premises (building_id, number, area_m2) VALUES (:b, '1', 50) "
                                    "RETURNING id"), {"b": house}).scalar_one()
            accounts[name] = conn.execute(text(
                "INSERT INTO accounts (number, premises_id, holder_name, residents, area_m2, opened_on) "
                "VALUES (:n, :p, 'Тест', 2, 50, '2020-01-01') RETURNING id"),
                {"n": f"9900000{len(accounts)}", "p": pid}).scalar_one()

    # the one answer: the late house from 13:00, the early one from 08:00
    with eng.connect() as conn:
        found = {i.building_id: i for i in cutoffs.interruptions(conn, msk(2026, 10, 1), msk(2026, 11, 1),
                                                                 outage_ids=[o.id])}
    assert (found[grown["late_house"]].start, found[grown["late_house"]].end) == (joined, end)
    assert found[grown["late_house"]].joined_late and not found[grown["early_house"]].joined_late
    assert (found[grown["early_house"]].start, found[grown["early_house"]].end) == (start, end)

    ops_billing.run_period(CLI, "2026-10", tariffs_file=write_tariffs(tmp_path), rules_file=DEFAULT_RULES_FILE,
                           bind=eng, now=msk(2026, 11, 27, 12))
    with eng.connect() as conn:
        rows = {r["account_id"]: r for r in conn.execute(text(
            "SELECT c.account_id, c.charged_rub, c.reduction_rub, l.quantity, l.details FROM charges c "
            "JOIN charge_lines l ON l.charge_id = c.id AND l.kind = 'reduction' "
            "WHERE c.service = 'cold_water' AND c.period = '2026-10-01'")).mappings()}
    # by hand: 2 residents × 5 m³ × 50 ₽ = 500 ₽ of cold water.
    # late house: 13:00 → 02:30 = 13.5 h, 5.5 h beyond the 8 h → 0.15 % × 5.5 = 0.825 % → 4.125 ₽ → 4.13 ₽
    # (counted from the outage's start it would be 18.5 h → 10.5 h → 1.575 % → 7.88 ₽)
    late = rows[accounts["late"]]
    assert late["charged_rub"] == Decimal("500.00")
    assert late["reduction_rub"] == Decimal("4.13")
    assert Decimal(late["details"]["interruption_h"]) == Decimal("13.5") and late["quantity"] == Decimal("5.5")
    (named,) = late["details"]["outages"]   # what the residents' charges page says it was off: from the join
    assert (named["id"], datetime.fromisoformat(named["start"]), datetime.fromisoformat(named["end"])) == (o.id, joined, end)
    # early house: 18.5 h, 10.5 h beyond → 1.575 % → 7.875 ₽ → 7.88 ₽
    assert rows[accounts["early"]]["reduction_rub"] == Decimal("7.88")

    # the KPIs count the same hours
    from reports.kpi_queries import load_outage_spans
    from reports.kpis import period

    with eng.connect() as conn:
        spans = {s["building_id"]: s for s in load_outage_spans(conn, period("2026-10-01", "2026-10-31",
                                                                             "Europe/Moscow"), msk(2026, 11, 27))
                 if s["outage_id"] == o.id}
    assert (spans[grown["late_house"]]["s"], spans[grown["late_house"]]["e"]) == (joined, end)


def test_the_residents_page_says_off_since_the_house_joined(grown, actors: dict[str, Actor]) -> None:
    from apps.http.resident import create_app
    from settings import Settings

    eng, o = grown["eng"], grown["outage"]
    now = datetime.now(timezone.utc)
    start, joined = now - timedelta(hours=12), now - timedelta(hours=7, minutes=3)
    pin_times(eng, o.id, grown["added"], start=start, joined=joined, end=None)
    with TestClient(create_app(eng, Settings())) as c:  # type: ignore[call-arg]
        page = c.get(f"/address/{grown['late_house']}?lang=ru").text
        early_page = c.get(f"/address/{grown['early_house']}?lang=ru").text
    zone = service.rules_from_settings().timezone
    from zoneinfo import ZoneInfo

    assert f"Отключено с {fmt_when(joined, 'ru', ZoneInfo(zone))}" in page
    assert f"Отключено с {fmt_when(start, 'ru', ZoneInfo(zone))}" not in page
    assert f"Отключено с {fmt_when(start, 'ru', ZoneInfo(zone))}" in early_page
    # the allowance clock counts from the join too (clipped to this month in the billing rules' zone)
    from resident import clock

    rules = clock.billing_rules()
    month_start = datetime(now.astimezone(rules.zone).year, now.astimezone(rules.zone).month, 1, tzinfo=rules.zone)
    with eng.connect() as conn:
        late_clock = next(c for c in clock.clocks(conn, grown["late_house"], now) if c.service == "cold_water")
    expected = int((now - max(joined, month_start)).total_seconds() // 60)
    assert late_clock.minutes == expected and late_clock.running


def test_reports_an_outage_explains_follow_it(grown, actors: dict[str, Actor]) -> None:
    eng, o, disp = grown["eng"], grown["outage"], actors["dispatcher"]
    # linked and answered when the valves closed (early house) / when the outage grew to the house (late)
    assert history(eng, grown["early_report"])[1:] == [
        ("new", "accepted", "ivanova", f"outage #{o.id} valves closed")]
    assert history(eng, grown["late_report"])[1:] == [("new", "accepted", "ivanova", f"outage #{o.id} extended")]
    # a report filed while it runs: linked and answered at intake
    during = no_water(actors["operator"], eng, grown["late_house"], "Так и нет воды")
    assert history(eng, during) == [(None, "new", "orlova", f"outage #{o.id}"),
                                    ("new", "accepted", "system", f"outage #{o.id}")]

    # due when the outage is expected to end — not 4 h after the report — and moved when it is extended
    rules = service.rules_from_settings()
    for rid in (grown["early_report"], grown["late_report"], during):
        detail = reports.report(disp, rid, bind=eng)
        assert detail.incident.outage_id == o.id and detail.incident.status == "accepted"
        assert detail.item.due_at == o.planned_end
        assert detail.outage is not None and detail.outage.id == o.id and detail.outage.state == "active"
    later = o.planned_end + timedelta(hours=5)
    outages.reschedule(disp, o.id, planned_end=later, reason="бригада не успевает", bind=eng)
    inc = reports.report(disp, grown["late_report"], bind=eng).incident
    assert service.queue_item(inc, rules, inc.created_at).due_at == later
    # 6 h after the report the water is still off for a known reason: on time, not overdue
    six_h = inc.created_at + timedelta(hours=6)
    assert six_h < later and service.queue_item(inc, rules, six_h).sla_state in ("on_time", "at_risk")
    assert sla_state(service.queue_item(inc, rules, six_h).due_at, None, six_h) != "overdue"

    # Open311: open, expected when the outage ends; the residents' page shows the outage and its end
    from apps.http.open311 import create_app as api_app

    with TestClient(api_app(eng)) as api:
        got = api.get(f"/open311/v2/requests/{grown['late_report']}.json").json()[0]
    assert got["status"] == "open"
    assert abs(datetime.fromisoformat(got["expected_datetime"]) - later) < timedelta(seconds=1)
    from zoneinfo import ZoneInfo

    from apps.http.resident import create_app
    from settings import Settings

    zone = ZoneInfo(rules.timezone)
    now = datetime.now(timezone.utc)
    joined = now - timedelta(hours=1, minutes=17)
    pin_times(eng, o.id, grown["added"], start=now - timedelta(hours=3), joined=joined, end=None)
    with eng.connect() as conn:  # the residents' side addresses a report by its random token, not its number
        token = conn.execute(text("SELECT public_token FROM incidents WHERE id = :i"),
                             {"i": grown["late_report"]}).scalar_one()
    with TestClient(create_app(eng, Settings())) as c:  # type: ignore[call-arg]
        page = c.get(f"/report/{token}?lang=ru").text
        page_en = c.get(f"/report/{token}?lang=en").text
    assert f"№{o.id} (холодная вода): отключено с {fmt_when(joined, 'ru', zone)}, бригада работает" in page
    assert f"Ожидаемое включение: {fmt_when(later, 'ru', zone)}" in page
    assert f"ожидаемое окончание отключения №{o.id}" in page and "просрочена" not in page
    assert f"the expected end of outage №{o.id}" in page_en and "Отключение" not in page_en

    # water back: each report resolved in one step, by the person who restored it
    restorer = actors["admin"]
    outages.restore(restorer, o.id, bind=eng)
    for rid in (grown["early_report"], grown["late_report"], during):
        steps = history(eng, rid)
        assert steps[-1] == ("accepted", "resolved", "admin1", f"outage #{o.id} restored")
        assert [s[1] for s in steps] == ["new", "accepted", "resolved"]
    with TestClient(api_app(eng)) as api:
        assert api.get(f"/open311/v2/requests/{during}.json").json()[0]["status"] == "closed"
    # the break itself went the whole way, each step at its moment
    assert [s[1] for s in history(eng, grown["cause"])] == ["new", "accepted", "dispatched", "in_progress", "resolved"]
