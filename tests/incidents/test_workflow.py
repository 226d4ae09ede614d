"""The state machine: every allowed transition, and forbidden ones naming both states."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from incidents.errors import InvalidTransition
from incidents.workflow import (
    ALLOWED,
    OPEN311_STATUS,
    OPEN_STATUSES,
    STATUSES,
    transition,
)

NOW = datetime(2026, 1, 15, 9, 0, tzinfo=timezone.utc)
ALLOWED_PAIRS = sorted((a, b) for a, targets in ALLOWED.items() for b in targets)


@pytest.mark.parametrize("from_status,to_status", ALLOWED_PAIRS)
def test_every_allowed_transition_returns_its_event(from_status: str, to_status: str) -> None:
    event = transition(from_status, to_status, " dispatcher-1 ", "ok", NOW)
    assert (event.from_status, event.to_status, event.actor, event.note, event.at) == (
        from_status, to_status, "dispatcher-1", "ok", NOW)


def test_main_path_and_abandon_paths() -> None:
    path = ["new", "accepted", "dispatched", "in_progress", "resolved", "closed"]
    for a, b in zip(path, path[1:]):
        assert b in ALLOWED[a]
    for s in OPEN_STATUSES:
        assert {"rejected", "duplicate", "cancelled"} <= ALLOWED[s]
    for final in ("closed", "rejected", "duplicate", "cancelled"):
        assert ALLOWED[final] == frozenset()


@pytest.mark.parametrize("from_status,to_status", [
    ("new", "resolved"), ("new", "closed"), ("closed", "new"), ("resolved", "cancelled"),
    ("duplicate", "accepted"), ("new", "new"), ("new", "bogus"), ("bogus", "new"),
])
def test_forbidden_transitions_name_both_states(from_status: str, to_status: str) -> None:
    with pytest.raises(InvalidTransition, match=f"'{from_status}' to '{to_status}'"):
        transition(from_status, to_status, "d", "", NOW)


def test_transition_needs_an_actor_and_an_aware_time() -> None:
    with pytest.raises(ValueError, match="actor"):
        transition("new", "accepted", "  ", "", NOW)
    with pytest.raises(ValueError, match="naive"):
        transition("new", "accepted", "d", "", datetime(2026, 1, 1))


def test_open311_status_mapping_covers_every_status() -> None:
    assert set(OPEN311_STATUS) == set(STATUSES)
    assert {s for s, v in OPEN311_STATUS.items() if v == "open"} == set(OPEN_STATUSES)
