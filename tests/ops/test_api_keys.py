"""Open311 clients' keys through the application layer: admin only, audited, revoked at once."""
from __future__ import annotations

import pytest
from sqlalchemy import Engine

from auth.errors import PermissionDenied
from auth.model import Actor
from incidents import keys
from incidents.errors import InvalidApiKey
from ops import api_keys, audit_log

ADMIN = Actor(author="boss", role="admin")


def test_keys_are_issued_listed_and_revoked_by_an_admin_only(clean_engine: Engine) -> None:
    for role in ("operator", "dispatcher", "planner", "inspector"):
        with pytest.raises(PermissionDenied, match="users.manage"):
            api_keys.create(Actor(author="x", role=role), "portal", bind=clean_engine)
    key = api_keys.create(ADMIN, "city-portal", bind=clean_engine)
    assert keys.verify_api_key(clean_engine, key).name == "city-portal"
    [row] = api_keys.listing(ADMIN, bind=clean_engine)
    assert (row["name"], row["revoked_at"], row["reports"]) == ("city-portal", None, 0) and "key_hash" not in row
    assert api_keys.revoke(ADMIN, "city-portal", bind=clean_engine) == 1
    with pytest.raises(InvalidApiKey, match="revoked"):
        keys.verify_api_key(clean_engine, key)
    trail = audit_log.events(ADMIN, audit_log.AuditFilter(object_type="api_key"), bind=clean_engine)
    assert [(e["action"], e["actor"], e["object_id"]) for e in reversed(trail)] == [
        ("api_key.create", "boss", "city-portal"), ("api_key.revoke", "boss", "city-portal")]
    assert key not in str(trail)
    with pytest.raises(InvalidApiKey):
        api_keys.create(ADMIN, "<b>x</b>", bind=clean_engine)
