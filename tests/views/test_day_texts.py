"""Issue 21 items 5 and 6, without a browser: what code writes is shown in the page's language (the
audit trail's objects, the reasons the system writes, the demo network's name), and the reports list
puts the newest report first."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import i18n
from i18n import has_text, translate


def test_every_audited_object_type_has_a_name_in_both_languages() -> None:
    """The trail's «Объект» column: every object_type the code records has a word, never the raw key
    (`audit.object.billing_period`, `audit.object.demo_month` were shown as keys)."""
    import ast
    from pathlib import Path

    from ops.audit_log import OBJECT_TYPES

    root = Path(__file__).resolve().parents[2]
    written: set[str] = set()
    for path in root.glob("*/**/*.py"):
        if ".venv" in path.parts or "tests" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.keyword) and node.arg == "object_type" and isinstance(node.value, ast.Constant):
                written.add(node.value.value)
    assert {"billing_period", "demo_month", "billing_demo", "subscription"} <= written
    assert written <= set(OBJECT_TYPES), sorted(written - set(OBJECT_TYPES))
    for kind in written:
        assert has_text(f"audit.object.{kind}", "ru") and has_text(f"audit.object.{kind}", "en"), kind


def test_object_label_is_a_word() -> None:
    from views.audit_details import object_label

    assert object_label("billing_period", "2026-12") == "расчётный период 2026-12"
    assert object_label("demo_month", "2026-11") == "демо-месяц 2026-11"


@pytest.mark.parametrize("note, ru, en", [
    ("history.system.valve_stuck_in_outage #11", "не закрылась при отключении №11", "found stuck during outage #11"),
    ("found stuck during outage #11", "не закрылась при отключении №11", "found stuck during outage #11"),
    ("history.system.demo_month", "демо-месяц: отключения прошлого месяца и одно сейчас, месяц начислен", None),
    ("demo month: outages of the previous month and one now, the month billed",
     "демо-месяц: отключения прошлого месяца и одно сейчас, месяц начислен", None),
    ("demo month: the outage's times set to the past (demo data only)",
     "демо-месяц: время отключения перенесено в прошлое (только демо-данные)", None),
    ("шпиндель сорван", "шпиндель сорван", "шпиндель сорван"),       # a person's note: as written
])
def test_notes_the_code_writes_are_shown_in_the_page_language(note: str, ru: str, en: str | None) -> None:
    import streamlit as st

    from views.formatting import history_note

    st.session_state["lang"] = "ru"
    assert history_note(note) == ru
    if en is not None:
        st.session_state["lang"] = "en"
        try:
            assert history_note(note) == en
        finally:
            st.session_state["lang"] = "ru"


def test_a_system_note_is_stored_as_a_key() -> None:
    assert i18n.system_note("valve_stuck_in_outage", 11) == "history.system.valve_stuck_in_outage #11"
    assert i18n.read_system_note("history.system.valve_stuck_in_outage #11") == (
        "history.system.valve_stuck_in_outage", {"id": "11"})
    assert i18n.read_system_note("found stuck during outage #11") is None
    assert i18n.read_system_note("history.system.demo_month") == ("history.system.demo_month", {"id": ""})


def test_the_demo_network_has_a_name_in_each_language() -> None:
    import streamlit as st

    from settings import get_settings
    from views.formatting import network_name

    st.session_state["lang"] = "ru"
    assert network_name(get_settings().demo_network_name) == "Хельсинки (демо), холодная вода"
    assert network_name("Водоканал, зона 3") == "Водоканал, зона 3"
    assert translate("en", "demo.network_name") == get_settings().demo_network_name


def test_the_reports_list_is_newest_first_by_default() -> None:
    from incidents.model import QueueItem
    from views.incidents import order_items

    class Inc:
        def __init__(self, i: int, created: datetime) -> None:
            self.id, self.created_at = i, created

    now = datetime(2026, 12, 6, 18, 0, tzinfo=timezone.utc)
    items = [QueueItem.__new__(QueueItem) for _ in range(3)]
    for q, (i, ago) in zip(items, [(1, 30), (3, 1), (2, 600)]):
        object.__setattr__(q, "incident", Inc(i, now - timedelta(minutes=ago)))
    assert [q.incident.id for q in order_items(items, "newest")] == [3, 1, 2]
    assert [q.incident.id for q in order_items(items, "due")] == [1, 3, 2]     # the queue's own order, kept
