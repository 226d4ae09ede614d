"""Who sets a tariff and on what basis (issue 20): the tariffs file's ``organisation`` and ``basis``
are validated with a one-line error naming the file and the field; the lookups the residents' page
uses beside ``TariffBook.at``: the previous tariff and the next change."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from billing.errors import InvalidRules
from billing.tariffs import load_tariffs

HEAD = "region: t\nservices: [cold_water]\ntariffs:\n  cold_water:\n    normative_per_person: 4.9\n"


def write(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "tariffs.yaml"
    p.write_text(HEAD + body, encoding="utf-8")
    return p


def test_organisation_and_basis_per_price(tmp_path: Path) -> None:
    book = load_tariffs(write(tmp_path, """    prices: {2026-01-01: 10, 2026-07-01: 11, 2027-01-01: 12}
    organisation: Regional Tariff Service
    basis: {2026-07-01: {ru: "Приказ № 5", en: "Order No. 5"}}
"""))
    now = book.at("cold_water", date(2026, 8, 1))
    assert now.price_rub == Decimal(11) and now.legal_basis == {"ru": "Приказ № 5", "en": "Order No. 5"}
    assert now.organisation == {"ru": "Regional Tariff Service", "en": "Regional Tariff Service"}
    assert book.previous("cold_water", date(2026, 8, 1)).price_rub == Decimal(10)
    assert book.previous("cold_water", date(2026, 3, 1)) is None
    assert book.next_change("cold_water", date(2026, 8, 1)).valid_from == date(2027, 1, 1)
    assert book.next_change("cold_water", date(2027, 3, 1)) is None
    assert book.at("cold_water", date(2026, 3, 1)).legal_basis == {}


@pytest.mark.parametrize("body, says", [
    ("    prices: {2026-01-01: 10}\n    basis: {2026-02-01: Order}\n", "basis: 2026-02-01 is not a date of prices"),
    ("    prices: {2026-01-01: 10}\n    basis: [Order]\n", "basis: expected a mapping"),
    ("    prices: {2026-01-01: 10}\n    organisation: {de: Amt}\n", "organisation: expected a text or a mapping"),
    ("    prices: {2026-01-01: 10}\n    organisation: 5\n", "organisation: expected a text"),
    ("    prices: {2026-01-01: 10}\n    basis: {2026-01-01: ''}\n", "basis.2026-01-01: expected a text"),
])
def test_bad_organisation_or_basis_is_one_clear_line(tmp_path: Path, body: str, says: str) -> None:
    with pytest.raises(InvalidRules) as err:
        load_tariffs(write(tmp_path, body))
    assert says in str(err.value) and "tariffs.cold_water" in str(err.value) and "\n" not in str(err.value)


def test_the_shipped_file_names_organisation_and_basis_of_every_price() -> None:
    book = load_tariffs(Path(__file__).resolve().parents[2] / "billing" / "rules" / "tariffs_default.yaml")
    for t in book.tariffs:
        assert set(t.organisation) == {"ru", "en"} and set(t.legal_basis) == {"ru", "en"}, t
