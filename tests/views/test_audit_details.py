"""The audit page tells each event's details in words: never a dict, a list or an ISO timestamp."""
from __future__ import annotations

import re

import pytest


def test_details_in_words() -> None:
    from views.audit_details import details_text

    text = details_text("outage.reschedule", {"from": {"start": "2026-12-01T08:00:00+00:00", "end": None},
                                              "to": {"start": "2026-12-02T08:00:00+00:00",
                                                     "end": "2026-12-02T14:30:00+00:00"}})
    assert re.fullmatch(r"срок \d\d\.12 \d\d:00 – … → \d\d\.12 \d\d:00 – \d\d\.12 \d\d:30", text), text
    assert details_text("api_key.revoke", {"revoked": 2}) == "отозвано 2 ключа"
    assert details_text("api_key.revoke", {"revoked": 1}) == "отозван 1 ключ"
    assert details_text("outage.cancel", {}) == ""


@pytest.mark.parametrize("action, details", [
    ("outage.approve", {"break_pipe_ids": ["1"], "valves": [3, 4], "planned_end": "2026-12-01T08:00:00+00:00"}),
    ("auth.logout", {"whatever": {"nested": True}}),
    ("outage.reschedule", {"from": "broken"}),
])
def test_unlisted_details_point_to_the_csv(action: str, details: dict) -> None:
    from views.audit_details import details_text

    text = details_text(action, details)
    assert not re.search(r"[{}\[\]]|\d{4}-\d\d-\d\dT|True|None", text), text
