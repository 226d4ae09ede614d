"""KPIs from hand-built histories whose figures are known: on time, median and 90th percentile,
the 5-minute answer, reopened within 30 days (not 31), repeat complaints within 30 days (not 31)
per 1,000 flats, outage hours beyond the ПП 354 allowance, the minimum-count guard."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, text

from auth.model import Actor
from ops import inspection
from reports.errors import InvalidPeriod, UnknownOrganisation
from tests.reports.conftest import FIRST, LAST, MSK, T0, Town, add_report, closed_after

CLI = Actor.cli("cli:tests")
NOW = datetime(2026, 4, 20, 12, 0, tzinfo=MSK)


def kpis_of(engine: Engine, org: int | None = None) -> dict:
    data = inspection.kpis(CLI, FIRST, LAST, org_id=org, now=NOW, bind=engine)
    return data["organisations"][0]


def test_on_time_counts_closures_by_their_legal_deadline(town: Town, clean_engine: Engine) -> None:
    with clean_engine.begin() as conn:   # repair: 72 h (Правила 416 п. 13)
        for k in range(20):
            add_report(conn, org=town.mc, created=T0 + timedelta(hours=k), steps=closed_after(10))
        for k in range(5):
            add_report(conn, org=town.mc, created=T0 + timedelta(hours=k), steps=closed_after(80))
        add_report(conn, org=town.mc2, created=T0, steps=closed_after(10))          # another company's
        add_report(conn, org=town.mc, created=T0 - timedelta(days=60), steps=closed_after(10))  # closed in January
        overdue = add_report(conn, org=town.mc, created=T0 + timedelta(days=20), steps=[(0.05, "accepted")])
        add_report(conn, org=town.mc, created=datetime(2026, 3, 31, 20, 0, tzinfo=MSK))  # open, not yet due
    f = kpis_of(clean_engine, town.mc)["kpis"]
    assert (f["on_time"]["numerator"], f["on_time"]["denominator"]) == (20, 25)
    assert f["on_time"]["value"] == 0.8 and f["on_time"]["status"] == "ok"
    assert f["on_time"]["zone"] == "yellow"          # 0.75 ≤ 0.8 < 0.9 in reports/rules/default.yaml
    assert (f["overdue_open"]["numerator"], f["overdue_open"]["denominator"]) == (1, 2)
    assert f["overdue_open"]["ids"] == [overdue]


def test_fewer_than_twenty_closed_reports_is_not_enough_data(town: Town, clean_engine: Engine) -> None:
    with clean_engine.begin() as conn:
        for k in range(19):
            add_report(conn, org=town.mc, created=T0 + timedelta(hours=k), steps=closed_after(1))
    f = kpis_of(clean_engine, town.mc)["kpis"]
    assert f["on_time"]["status"] == "not_enough_data" and f["on_time"]["zone"] is None
    assert (f["on_time"]["numerator"], f["on_time"]["denominator"], f["on_time"]["value"]) == (19, 19, 1.0)
    assert f["median_close_h"]["status"] == "not_enough_data"
    with clean_engine.begin() as conn:   # the twentieth makes it a figure
        add_report(conn, org=town.mc, created=T0, steps=closed_after(1))
    f = kpis_of(clean_engine, town.mc)["kpis"]
    assert f["on_time"]["status"] == "ok" and f["on_time"]["zone"] == "green"


def test_median_and_90th_percentile_of_time_to_close(town: Town, clean_engine: Engine) -> None:
    with clean_engine.begin() as conn:
        for h in range(1, 26):     # 1 … 25 hours
            add_report(conn, org=town.mc, created=T0 + timedelta(days=h % 7), steps=closed_after(h),
                       category="elevator")
    f = kpis_of(clean_engine, town.mc)["kpis"]
    assert f["median_close_h"]["value"] == pytest.approx(13.0)
    assert (f["median_close_h"]["numerator"], f["median_close_h"]["denominator"]) == (13, 25)
    assert f["p90_close_h"]["value"] == pytest.approx(1 + 0.9 * 24)     # linear: 22.6 h
    assert f["p90_close_h"]["numerator"] == 22
    assert f["by_category"]["elevator"]["median_close_h"]["value"] == pytest.approx(13.0)
    assert f["on_time"]["numerator"] == 24     # elevator: 1 day (Правила 170); 25 h is late


def test_first_answer_within_five_minutes_for_emergencies(town: Town, clean_engine: Engine) -> None:
    with clean_engine.begin() as conn:
        for k in range(20):
            add_report(conn, org=town.utility, created=T0 + timedelta(hours=k), category="burst", priority="emergency",
                       steps=[(4 / 60, "accepted")])
        add_report(conn, org=town.utility, created=T0, category="burst", priority="emergency",
                   steps=[(5 / 60, "accepted")])                          # exactly 5 min: in time
        add_report(conn, org=town.utility, created=T0, category="burst", priority="emergency",
                   steps=[(5 / 60 + 1 / 3600, "accepted")])               # 5 min 1 s: late
        add_report(conn, org=town.utility, created=T0, category="burst", priority="emergency")   # never answered
        add_report(conn, org=town.utility, created=T0, category="burst", priority="emergency",
                   steps=[(2 / 60, "rejected")])                          # refused in time is an answer
        add_report(conn, org=town.utility, created=T0, category="no_water", priority="urgent",
                   steps=[(1, "accepted")])                               # not an emergency
    f = kpis_of(clean_engine, town.utility)["kpis"]["answer_5min"]
    assert (f["numerator"], f["denominator"]) == (22, 24)
    assert f["value"] == pytest.approx(22 / 24, abs=1e-4) and f["status"] == "ok" and f["zone"] == "yellow"


def test_reopened_within_thirty_days_counts_and_thirty_one_does_not(town: Town, clean_engine: Engine) -> None:
    with clean_engine.begin() as conn:
        ids = [add_report(conn, org=town.mc, created=T0 + timedelta(hours=k), steps=closed_after(5)) for k in range(18)]
        back30 = add_report(conn, org=town.mc, created=T0, steps=[*closed_after(5), (5 + 30 * 24, "in_progress"),
                                                                  (6 + 30 * 24, "resolved")])
        add_report(conn, org=town.mc, created=T0, steps=[*closed_after(5), (5 + 31 * 24, "in_progress")])
        closed_then_reopened = add_report(conn, org=town.mc, created=T0, steps=[*closed_after(5), (29, "closed"),
                                                                                (5 + 48, "in_progress")])
    assert ids
    f = kpis_of(clean_engine, town.mc)["kpis"]["reopened"]
    assert (f["numerator"], f["denominator"]) == (2, 21)
    assert f["ids"] == sorted([back30, closed_then_reopened])


def test_repeat_complaints_within_thirty_days_per_thousand_flats(town: Town, clean_engine: Engine) -> None:
    b1, b2, _b3 = town.buildings
    with clean_engine.begin() as conn:
        first = add_report(conn, org=town.mc, created=T0 - timedelta(days=10), building=b1, category="elevator")
        second = add_report(conn, org=town.mc, created=T0 + timedelta(days=20), building=b1, category="elevator")
        add_report(conn, org=town.mc, created=T0 + timedelta(days=1), building=b1, category="repair")   # other category
        add_report(conn, org=town.mc, created=T0 - timedelta(days=5), building=b2, category="sewer")
        add_report(conn, org=town.mc, created=T0 + timedelta(days=26), building=b2, category="sewer")  # 31 days later
        add_report(conn, org=town.mc, created=T0 + timedelta(days=2), building=b1, category="elevator",
                   steps=[(0.1, "duplicate")], duplicate_of=first)      # a duplicate is no repeat
        for k in range(16):   # enough reports in the period for the rate
            add_report(conn, org=town.mc, created=T0 + timedelta(hours=k), building=b2, category="other")
        conn.execute(text("UPDATE incidents SET building_id = NULL WHERE category = 'other'"))
    f = kpis_of(clean_engine, town.mc)["kpis"]["repeat_per_1000"]
    # flats: 10 from premises (the shop is no flat) + 21 residents / 2.1 = 10
    assert f["denominator"] == 20.0
    assert f["numerator"] == 1 and f["ids"] == [second]
    assert f["value"] == pytest.approx(50.0) and f["status"] == "ok" and f["zone"] == "red"


def test_outage_hours_beyond_the_allowance_per_building(town: Town, clean_engine: Engine) -> None:
    b1, b2, b3 = town.buildings

    def outage(start: datetime, hours: float, buildings: list[int]) -> None:
        with clean_engine.begin() as conn:
            oid = conn.execute(text("""
                INSERT INTO outages (network_id, state, reason, pipe_ids, unintended_pipe_ids, valve_ids,
                    optional_valve_ids, break_pipe_ids, planned_start, planned_end, actual_start, actual_end,
                    created_by, approved_by, kind)
                VALUES (:n, 'restored', 'test', '{}', '{}', '{}', '{}', '{}', :s, :e, :s, :e, 't', 't', 'emergency')
                RETURNING id"""), {"n": town.network, "s": start, "e": start + timedelta(hours=hours)}).scalar_one()
            for b in buildings:
                conn.execute(text("INSERT INTO outage_buildings (outage_id, building_id) VALUES (:o, :b)"), {"o": oid, "b": b})

    outage(T0, 6, [b1, b2])                                  # 6 h: within the 8 h a month
    outage(T0 + timedelta(days=3), 3, [b1])                  # b1: 3 more hours …
    outage(T0 + timedelta(days=3, hours=1), 3, [b1])         # … overlapping: the union is 4 h → b1 10 h in March
    outage(T0 + timedelta(days=10), 2, [b3])                 # within the allowance
    outage(datetime(2026, 2, 28, 20, 0, tzinfo=MSK), 13, [b3])   # 9 h of it in March: b3 11 h in March
    data = inspection.kpis(CLI, FIRST, LAST, now=NOW, bind=clean_engine)
    service = data["organisations"][0]["kpis"]["outage_excess_h"]
    per = {b["building_id"]: b for b in service["buildings"]}
    # ПП 354 as the fee recalculation (billing.rule): union per month − 8 h of cold water
    assert per[b1]["hours"] == pytest.approx(10.0) and per[b1]["excess_h"] == pytest.approx(2.0)
    assert b2 not in per or per[b2]["excess_h"] == 0
    assert per[b3]["hours"] == pytest.approx(11.0) and per[b3]["excess_h"] == pytest.approx(3.0)
    assert service["numerator"] == pytest.approx(5.0) and service["denominator"] == 3
    company = next(o for o in data["organisations"] if o["id"] == town.mc)
    mc = company["kpis"]["outage_excess_h"]
    assert (mc["numerator"], mc["denominator"]) == (2.0, 2) and mc["zone"] == "yellow"   # 1 h per building
    assert company["zone"] is None        # no report figure with enough data: outages alone do not rate it
    util = next(o for o in data["organisations"] if o["id"] == town.utility)["kpis"]["outage_excess_h"]
    assert util["denominator"] == 3


def test_bad_period_and_unknown_organisation(town: Town, clean_engine: Engine) -> None:
    with pytest.raises(InvalidPeriod, match="before"):
        inspection.kpis(CLI, "2026-03-31", "2026-03-01", bind=clean_engine)
    with pytest.raises(InvalidPeriod, match="YYYY-MM-DD"):
        inspection.kpis(CLI, "2026-02-30", "2026-03-01", bind=clean_engine)
    with pytest.raises(UnknownOrganisation, match="999"):
        inspection.kpis(CLI, FIRST, LAST, org_id=999, bind=clean_engine)
