"""The charges' compute part (``billing.charges.compute_charges``) on plain data built here: no database.

The first test is the hand-computed building of ``test_charges.py`` (same figures, same reasons); the
others take one rule each to its edge.
"""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from billing.charges import Account, ClosedCharge, ClosedMonth, MeterVolume, PeriodData, compute_charges
from billing.rules_file import DEFAULT_RULES_FILE, BillingRules, load_billing_rules
from billing.tariffs import TariffBook, load_tariffs
from tests.billing.city import msk, write_tariffs

D = Decimal
NOW = msk(2026, 11, 27, 12)
B1, B2 = 1, 2
# the small building: flats 1 (50 m², 2 people), 2 (60 m², 3 people), 3 (40 m², 1 person)
ACCOUNTS = [Account(101, 11, B1, 2, D("50"), 2), Account(102, 12, B1, 3, D("60"), 2), Account(103, 13, B1, 1, D("40"), 2)]
# October: flat 1 read 8 m³ cold, 4 m³ hot; flat 3's cold meter has no reading before October; the building 38 m³
METERS = [MeterVolume("flat", "cold_water", 11, B1, D("8.000")), MeterVolume("flat", "hot_water", 11, B1, D("4.000")),
          MeterVolume("flat", "cold_water", 13, B1, None), MeterVolume("building", "cold_water", None, B1, D("38.000"))]
A = (msk(2026, 10, 10, 10), msk(2026, 10, 10, 20), 1)
B = (msk(2026, 10, 10, 15), msk(2026, 10, 11, 1), 2)
C = (msk(2026, 9, 30, 22), msk(2026, 10, 1, 2), 3)
LATE = (msk(2026, 10, 20, 0), msk(2026, 10, 20, 10), 9)


@pytest.fixture(scope="module")
def rules() -> BillingRules:
    return load_billing_rules(DEFAULT_RULES_FILE)


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> TariffBook:
    return load_tariffs(write_tariffs(Path(tmp_path_factory.mktemp("tariffs"))))


def _by(result) -> dict[tuple[int, str], object]:
    return {(c.account_id, c.service): c for c in result.charges}


def _line(charge, kind: str):
    found = [ln for ln in charge.lines if ln.kind == kind]
    assert len(found) <= 1
    return found[0] if found else None


def test_the_small_building_by_hand(rules: BillingRules, book: TariffBook) -> None:
    data = PeriodData("2026-10", ACCOUNTS, METERS, {(B1, "cold_water"): [A, B, C], (B2, "cold_water"): [B]})
    result = compute_charges(data, book, rules, now=NOW)
    c = _by(result)
    assert len(c) == 15
    cold = [c[(a, "cold_water")] for a in (101, 102, 103)]
    assert [(x.basis, x.quantity) for x in cold] == [("meter", D("8")), ("normative", D("15")), ("normative", D("5"))]
    # 38 − 28 = 10 m³ common, by area 50/60/40 of 150 m²
    assert [_line(x, "common").quantity for x in cold] == [D("3.3333"), D("4.0000"), D("2.6667")]
    assert [_line(x, "common").amount for x in cold] == [D("166.67"), D("200.00"), D("133.34")]
    assert [x.charged for x in cold] == [D("566.67"), D("950.00"), D("383.34")]
    # A and B overlap → 15 h once, C adds 2 h in October: 17 h − 8 h = 9 h → 1.35 %
    assert [x.reduction for x in cold] == [D("7.65"), D("12.83"), D("5.18")]
    red = _line(cold[0], "reduction")
    assert sorted(red.outage_ids) == [1, 2, 3] and D(red.details["excess_h"]) == 9 and red.unit == "h"
    assert [(c[(a, "sewer")].quantity, c[(a, "sewer")].basis) for a in (101, 102, 103)] == [
        (D("12"), "meter"), (D("24"), "normative"), (D("8"), "normative")]
    assert [c[(a, "heating")].charged for a in (101, 102, 103)] == [D("2000.00"), D("2400.00"), D("1600.00")]
    assert all(_line(x, "reduction") is None for (_, s), x in c.items() if s != "cold_water")
    totals = result.totals()
    assert (D(totals["charged_rub"]), D(totals["reduction_rub"]), D(totals["total_rub"])) == (
        D("15860.01"), D("25.66"), D("15834.35"))
    assert totals["outage_ids"] == [1, 2, 3]


def test_meters_add_up_and_a_register_that_went_back_counts_as_none(rules: BillingRules, book: TariffBook) -> None:
    # flat 1: two cold meters (kitchen 3 + bathroom 2.5); flat 2: one of its two hot meters went back
    meters = [MeterVolume("flat", "cold_water", 11, B1, D("3")), MeterVolume("flat", "cold_water", 11, B1, 2.5),
              MeterVolume("flat", "hot_water", 12, B1, D("4")), MeterVolume("flat", "hot_water", 12, B1, D("-1"))]
    c = _by(compute_charges(PeriodData("2026-10", ACCOUNTS[:2], meters, {}), book, rules, now=NOW))
    assert (c[(101, "cold_water")].basis, c[(101, "cold_water")].quantity) == ("meter", D("5.5"))
    assert (c[(102, "hot_water")].basis, c[(102, "hot_water")].quantity) == ("normative", D("9"))  # 3 × 3 people
    # sewer is metered only when both cold and hot are
    assert c[(101, "sewer")].basis == "normative" and c[(101, "sewer")].quantity == D("5.5") + D("6")


def test_accounts_sharing_a_flat_share_its_meter_by_area(rules: BillingRules, book: TariffBook) -> None:
    shared = [Account(201, 21, B1, 1, D("30"), 2), Account(202, 21, B1, 1, D("20"), 2)]
    c = _by(compute_charges(PeriodData("2026-10", shared, [MeterVolume("flat", "cold_water", 21, B1, D("10"))], {}),
                            book, rules, now=NOW))
    assert [c[(a, "cold_water")].quantity for a in (201, 202)] == [D("6.0000"), D("4.0000")]


def test_a_building_that_used_less_than_its_flats_gets_no_common_share(rules: BillingRules, book: TariffBook) -> None:
    meters = [MeterVolume("flat", "cold_water", 11, B1, D("8")), MeterVolume("building", "cold_water", None, B1, D("20"))]
    c = _by(compute_charges(PeriodData("2026-10", ACCOUNTS, meters, {}), book, rules, now=NOW))
    assert all(_line(c[(a, "cold_water")], "common") is None for a in (101, 102, 103))  # 20 < 8 + 15 + 5


def test_an_active_outage_counts_until_now(rules: BillingRules, book: TariffBook) -> None:
    active = (msk(2026, 11, 27, 0), None, 7)
    c = _by(compute_charges(PeriodData("2026-11", ACCOUNTS[:1], [], {(B1, "cold_water"): [active]}), book, rules,
                            now=NOW))
    ch = c[(101, "cold_water")]
    assert (ch.basis, ch.charged, ch.reduction) == ("normative", D("500.00"), D("3.00"))  # 12 h − 8 h → 0.6 %
    assert _line(ch, "reduction").details["outages"][0]["end"] is None


def test_a_closed_month_is_corrected_in_the_month_computed(rules: BillingRules, book: TariffBook) -> None:
    # October was closed with 7.65 ₽ reduced on flat 1; an outage recorded late makes 27 h, 2.85 % → 16.15 due
    october = ClosedMonth("2026-10", [ClosedCharge(101, "cold_water", D("566.67"), D("7.65"), B1, 2),
                                      ClosedCharge(102, "cold_water", D("950.00"), D("12.83"), B1, 2, D("-14.25")),
                                      ClosedCharge(999, "cold_water", D("100.00"), D("0"), B1, 2)],
                          {(B1, "cold_water"): [A, B, C, LATE]})
    result = compute_charges(PeriodData("2026-11", ACCOUNTS[:2], [], {}, [october]), book, rules, now=NOW)
    c = _by(result)
    corr = _line(c[(101, "cold_water")], "correction")
    assert corr.amount == D("-8.50") and corr.details["for_period"] == "2026-10" and 9 in corr.outage_ids
    assert c[(101, "cold_water")].total == c[(101, "cold_water")].charged - D("8.50")
    # flat 2 was corrected already (−14.25 = 27.08 due − 12.83 granted): nothing more
    assert _line(c[(102, "cold_water")], "correction") is None
    # account 999 has no charge this month: counted, not lost silently
    assert result.corrections_without_charge == 1


def test_no_accounts_no_charges(rules: BillingRules, book: TariffBook) -> None:
    result = compute_charges(PeriodData("2026-10", [], METERS, {(B1, "cold_water"): [A]}), book, rules, now=NOW)
    assert result.charges == [] and result.totals()["total_rub"] == "0.00"
