"""Counts with nouns: Russian takes one of three forms (1, 21 · 2–4, 22 · 0, 5–20, 25, 111), English two."""
from __future__ import annotations

import pytest

from i18n import translate_n

RU_REPORTS = {
    1: "Найдена 1 заявка", 2: "Найдено 2 заявки", 5: "Найдено 5 заявок", 11: "Найдено 11 заявок",
    21: "Найдена 21 заявка", 22: "Найдено 22 заявки", 25: "Найдено 25 заявок", 111: "Найдено 111 заявок",
    0: "Найдено 0 заявок", 12: "Найдено 12 заявок", 14: "Найдено 14 заявок", 104: "Найдено 104 заявки",
}


@pytest.mark.parametrize("n, text", RU_REPORTS.items())
def test_russian_three_forms(n: int, text: str) -> None:
    assert translate_n("ru", "incident.count", n) == text


@pytest.mark.parametrize("n, form", [(1, "символ"), (2, "символа"), (5, "символов"), (11, "символов"),
                                     (21, "символ"), (22, "символа"), (25, "символов"), (111, "символов"),
                                     (4001, "символ"), (4002, "символа"), (4005, "символов")])
def test_too_long_counts_characters(n: int, form: str) -> None:
    text = translate_n("ru", "intake.problem.too_long", n, field="Описание", length=n, max=4000)
    assert text == f"Поле «Описание» слишком длинное: {n} {form}, допустимо не более 4000."


@pytest.mark.parametrize("n, text", [(1, "1 report found"), (2, "2 reports found"), (0, "0 reports found"),
                                     (21, "21 reports found")])
def test_english_one_and_other(n: int, text: str) -> None:
    assert translate_n("en", "incident.count", n) == text


def test_the_count_shown_may_be_formatted() -> None:
    assert translate_n("ru", "audit.d.buildings", 1234, n="1\u202f234") == "1\u202f234 дома"
    assert translate_n("ru", "outage.n_residents", 341) == "341 житель"
    assert translate_n("en", "outage.more_valves", 1) == "1 more valve"


def test_several_counts_in_one_text() -> None:
    from i18n import translate

    text = translate("ru", "outage.stuck_preview", valves=translate_n("ru", "outage.more_valves", 1),
                     buildings=translate_n("ru", "outage.more_buildings", 2),
                     residents=translate_n("ru", "outage.more_residents", 15))
    assert text == "Отключение вырастет: ещё 1 задвижка, 2 дома, 15 жителей."
    text = translate("en", "outage.extended", id=7, buildings=translate_n("en", "outage.n_buildings", 1),
                     residents=translate_n("en", "outage.n_residents", 21))
    assert text == "Outage #7 extended: now 1 building, 21 residents"


def test_an_unknown_language_falls_back_to_russian() -> None:
    assert translate_n("xx", "outage.count", 3) == "3 отключения"
