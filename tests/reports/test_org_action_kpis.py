"""The KPIs from the organisations' own actions on a small hand-computed case (pure: reports.kpis takes
plain data): accept time, crew visits on time, resolve time, "not ours" hand-backs and the residents'
ratings, each with its published formula and the minimum-count guard."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from incidents.service import rules_from_settings
from reports import kpis
from reports import rules as report_rules
from tests.reports.conftest import FIRST, LAST, MSK, T0

ORG, OTHER = 1, 2
NOW = T0 + timedelta(days=20)


def report(rid: int, *, org: int | None = ORG, accepted_h: float | None = None, visit_h: float | None = None,
           resolved_h: float | None = None, rating: int | None = None) -> kpis.Report:
    return kpis.Report(id=rid, category="repair", service_code="repair", priority="routine", status="accepted",
                       building_id=None, org_id=org, created_at=T0, address=None, duplicate_of=None,
                       org_accepted_at=None if accepted_h is None else T0 + timedelta(hours=accepted_h),
                       first_visit_at=None if visit_h is None else T0 + timedelta(hours=visit_h),
                       org_resolved_at=None if resolved_h is None else T0 + timedelta(hours=resolved_h),
                       rating=rating, rated_at=None if rating is None else T0 + timedelta(days=1))


def the_case() -> list[kpis.Report]:
    return [
        report(1, accepted_h=1, visit_h=5, resolved_h=4, rating=5),      # resolved before the visit: on time
        report(2, accepted_h=3, visit_h=10, resolved_h=13, rating=2),    # 3 h after the visit (grace 2 h): late
        report(3, accepted_h=8),                                         # accepted, nothing more yet
        report(4, visit_h=25 * 24),         # the visit is still to come on NOW (the 27th of March): not judged
        report(6, org=OTHER, accepted_h=100, visit_h=1, resolved_h=2, rating=1),   # another organisation's
    ]


def test_each_figure_by_hand() -> None:
    p = kpis.period(FIRST, LAST, "Europe/Moscow")
    rules = report_rules.current()
    mine = [r for r in the_case() if r.org_id == ORG]
    f = kpis.org_action_figures(mine, {5: T0}, p, rules, now=NOW)   # report 5: handed back as not ours
    # accept: 1, 3, 8 h → median 3 h; two within it
    assert (f["org_accept_h"]["value"], f["org_accept_h"]["numerator"], f["org_accept_h"]["denominator"]) == (3.0, 2, 3)
    # visits judged: reports 1 and 2 (report 4's is after NOW) → 1 of 2 kept
    assert (f["org_visit_on_time"]["numerator"], f["org_visit_on_time"]["denominator"]) == (1, 2)
    assert f["org_visit_on_time"]["value"] == 0.5 and f["org_visit_on_time"]["ids"] == [1]
    # resolve: 4 and 13 h → median 8.5 h; one within it
    assert (f["org_resolve_h"]["value"], f["org_resolve_h"]["numerator"], f["org_resolve_h"]["denominator"]) == (8.5, 1, 2)
    # hand-backs: report 5 of the five it was given (1–4 held, 5 handed back)
    assert (f["org_returned"]["value"], f["org_returned"]["numerator"], f["org_returned"]["denominator"]) == (0.2, 1, 5)
    # ratings 5 and 2: mean 3.5 of 2
    assert (f["org_rating"]["value"], f["org_rating"]["numerator"], f["org_rating"]["denominator"]) == (3.5, 7, 2)
    # under 20 reports behind each: the value is kept, no zone (the guard)
    assert {k: (v["status"], v["zone"]) for k, v in f.items()} == {
        k: ("not_enough_data", None) for k in kpis.ORG_ACTION_FIGURES}
    # the published formulas
    assert "visit" in f["org_visit_on_time"]["formula"] and "grace" in f["org_visit_on_time"]["formula"]
    assert f["org_returned"]["formula"].startswith("reports created in the period that the organisation handed back")


def test_the_guard_lifts_at_the_minimum_and_zones_follow() -> None:
    p = kpis.period(FIRST, LAST, "Europe/Moscow")
    rules = report_rules.current().model_copy(update={"min_count": 2})
    f = kpis.org_action_figures([r for r in the_case() if r.org_id == ORG], {5: T0}, p, rules, now=NOW)
    assert f["org_rating"]["status"] == "ok" and f["org_rating"]["zone"] == "red"            # 3.5 < 3.8
    assert f["org_visit_on_time"]["status"] == "ok" and f["org_visit_on_time"]["zone"] == "red"
    assert f["org_accept_h"]["zone"] == "green"                                               # 3 h ≤ 4 h


def test_per_organisation_and_the_whole_service() -> None:
    p = kpis.period(FIRST, LAST, "Europe/Moscow")
    rules = report_rules.current()
    orgs = [{"id": ORG, "kind": "contractor", "name": "A"}, {"id": OTHER, "kind": "contractor", "name": "B"}]
    data = kpis.figures(orgs, the_case(), {}, {}, p, rules_from_settings(), rules, now=NOW,
                        returns=[(ORG, 5, T0), (OTHER, 7, T0)])
    service, a, b = data["organisations"]
    assert a["kpis"]["org_rating"]["numerator"] == 7 and b["kpis"]["org_rating"]["numerator"] == 1
    assert (b["kpis"]["org_returned"]["numerator"], b["kpis"]["org_returned"]["denominator"]) == (1, 2)
    assert (service["kpis"]["org_returned"]["numerator"], service["kpis"]["org_returned"]["denominator"]) == (2, 7)
    assert service["kpis"]["org_rating"]["value"] == pytest.approx(8 / 3, abs=1e-4)
    assert (service["kpis"]["org_accept_h"]["denominator"], service["kpis"]["org_accept_h"]["value"]) == (4, 5.5)


def test_a_visit_before_the_period_or_a_rating_after_it_does_not_count() -> None:
    p = kpis.period(FIRST, LAST, "Europe/Moscow")
    early = report(9, visit_h=-24 * 5, resolved_h=1, rating=4)
    early.rated_at = datetime(2026, 4, 1, 0, 0, tzinfo=MSK)          # the first moment after the period
    f = kpis.org_action_figures([early], {}, p, report_rules.current(), now=NOW)
    assert f["org_visit_on_time"]["denominator"] == 0 and f["org_visit_on_time"]["status"] == "not_enough_data"
    assert f["org_rating"]["denominator"] == 0
