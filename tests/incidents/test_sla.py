"""SLA: deadlines from the rules file and the state at a fixed ``now``; region overrides."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from incidents.errors import InvalidRules, UnknownCategory
from incidents.sla import (
    Rules,
    answer_due_at,
    due_at,
    interruption_allowance_h,
    load_rules,
    sla_state,
)
from tests.incidents.conftest import RULES_DIR

T0 = datetime(2026, 1, 15, 9, 0, tzinfo=timezone.utc)      # winter
SUMMER = datetime(2026, 7, 15, 9, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("code,hours", [
    ("burst", 4), ("no_water", 4), ("no_hot_water", 4), ("sewer", 2), ("electricity", 2),
    ("repair", 72), ("roof_leak", 24), ("no_heating", 16), ("elevator", 24),
])
def test_default_deadlines_follow_the_acts(rules: Rules, code: str, hours: float) -> None:
    assert due_at({"created_at": T0, "service_code": code}, rules) == T0 + timedelta(hours=hours)


def test_broken_glass_is_seasonal(rules: Rules) -> None:
    assert due_at({"created_at": T0, "service_code": "broken_glass"}, rules) == T0 + timedelta(days=1)
    assert due_at({"created_at": SUMMER, "service_code": "broken_glass"}, rules) == SUMMER + timedelta(days=3)


def test_category_is_used_when_the_service_code_is_unknown(rules: Rules) -> None:
    assert due_at({"created_at": T0, "service_code": "nope", "category": "sewer"}, rules) == T0 + timedelta(hours=2)
    with pytest.raises(UnknownCategory, match="'leak'"):
        due_at({"created_at": T0, "service_code": None, "category": "leak"}, rules)


def test_answer_deadline_is_five_minutes(rules: Rules) -> None:
    assert answer_due_at({"created_at": T0}, rules) == T0 + timedelta(minutes=5)


def test_moscow_overrides_glass_and_keeps_the_rest() -> None:
    moscow = load_rules(RULES_DIR / "moscow.yaml")
    assert moscow.region == "moscow"
    assert due_at({"created_at": T0, "service_code": "broken_glass"}, moscow) == T0 + timedelta(days=7)
    assert due_at({"created_at": SUMMER, "service_code": "broken_glass"}, moscow) == SUMMER + timedelta(days=10)
    assert due_at({"created_at": T0, "service_code": "sewer"}, moscow) == T0 + timedelta(hours=2)


def test_a_region_file_of_our_own_overrides_one_field(tmp_path: Path) -> None:
    f = tmp_path / "spb.yaml"
    f.write_text(f"extends: {RULES_DIR / 'default.yaml'}\nregion: spb\nservices:\n  sewer: {{resolve_h: 3}}\n",
                 encoding="utf-8")
    spb = load_rules(f)
    assert spb.services["sewer"].resolve_h == 3
    assert spb.services["sewer"].name == "Засор канализации"   # merged, not replaced


def test_invalid_rules_name_the_file_and_field(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(f"extends: {RULES_DIR / 'default.yaml'}\nregion: bad\nservices:\n  sewer: {{resolve_h: -1, category: leak}}\n",
                 encoding="utf-8")
    with pytest.raises(InvalidRules, match=r"bad.yaml: .*services.sewer.*(positive|category)"):
        load_rules(f)
    with pytest.raises(InvalidRules, match="cannot read"):
        load_rules(tmp_path / "missing.yaml")


def test_interruption_allowances(rules: Rules) -> None:
    assert interruption_allowance_h("cold_water", rules) == 4
    assert interruption_allowance_h("heating", rules) == 16
    assert interruption_allowance_h("electricity", rules) == 2
    assert interruption_allowance_h("elevator", rules) is None


def test_sla_state_at_fixed_now() -> None:
    due = T0 + timedelta(hours=4)
    assert sla_state(due, None, T0 + timedelta(hours=1), 0.75, created_at=T0) == "on_time"
    assert sla_state(due, None, T0 + timedelta(hours=3), 0.75, created_at=T0) == "at_risk"
    assert sla_state(due, None, T0 + timedelta(hours=4), 0.75, created_at=T0) == "at_risk"
    assert sla_state(due, None, T0 + timedelta(hours=4, seconds=1), 0.75, created_at=T0) == "overdue"
    assert sla_state(due, T0 + timedelta(hours=4), T0 + timedelta(days=9), 0.75, created_at=T0) == "met"
    assert sla_state(due, T0 + timedelta(hours=5), T0 + timedelta(hours=5), 0.75, created_at=T0) == "breached"
    # without created_at "at risk" means the last (1 - f) x 24 h
    assert sla_state(due, None, due - timedelta(hours=5), 0.75) == "at_risk"
    assert sla_state(due, None, due - timedelta(hours=7), 0.75) == "on_time"
    with pytest.raises(ValueError, match="at_risk_fraction"):
        sla_state(due, None, T0, 1.5)
