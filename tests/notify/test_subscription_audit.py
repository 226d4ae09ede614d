"""The subscription's three writes (``ops.resident``) leave their audit event in their own transaction:
a request (not when the address was confirmed already: nothing changes), the owner's confirmation and
the unsubscribe link — each under its author, none for an unknown token; a refused request leaves
neither a subscription nor an event."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import Engine, text

from notify.errors import InvalidSubscription
from ops import resident as resident_ops
from tests.notify.conftest import City
from tests.notify.test_notices import RESIDENT, RULES


def events(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT action, actor, object_id FROM audit_events WHERE action LIKE 'notice.%' ORDER BY id"))]


def test_each_write_is_audited_once(city: City, clean_engine: Engine) -> None:
    now = datetime.now(timezone.utc)
    b2 = city.building_ids[1]
    req = resident_ops.subscribe(RESIDENT, building_id=b2, email="anna@example.org", now=now, rules=RULES,
                                 bind=clean_engine)
    sid = str(req.id)
    assert events(clean_engine) == [("notice.subscribe", "resident:test", sid)]
    assert resident_ops.confirm_subscription("x" * 43, now=now, bind=clean_engine) is None
    assert resident_ops.confirm_subscription(req.confirm_token, now=now, bind=clean_engine) is not None
    again = resident_ops.subscribe(RESIDENT, building_id=b2, email="anna@example.org", now=now, rules=RULES,
                                   bind=clean_engine)
    assert again.state == "active"                                       # confirmed already: nothing to record
    assert resident_ops.withdraw_subscription("no-such-token", now=now, bind=clean_engine) is None
    assert resident_ops.withdraw_subscription(req.unsubscribe_token, now=now, bind=clean_engine) is not None
    assert events(clean_engine) == [("notice.subscribe", "resident:test", sid),
                                    ("notice.confirm", "resident:confirm", sid),
                                    ("notice.unsubscribe", "resident:unsubscribe", sid)]
    with clean_engine.connect() as conn:
        details = conn.execute(text("SELECT details FROM audit_events WHERE action = 'notice.subscribe'")).scalar_one()
    assert details == {"building_id": b2, "lang": "ru", "sms": False, "awaiting_confirmation": True}


def test_a_refused_request_leaves_nothing(city: City, clean_engine: Engine) -> None:
    with pytest.raises(InvalidSubscription, match="phone"):
        resident_ops.subscribe(RESIDENT, building_id=city.building_ids[1], email="anna@example.org", phone="call me",
                               now=datetime.now(timezone.utc), rules=RULES, bind=clean_engine)
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM subscriptions")).scalar_one() == 0
    assert events(clean_engine) == []
