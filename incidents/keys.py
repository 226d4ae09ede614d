"""API keys of the Open311 intake: issue, verify, revoke. Only a key's SHA-256 is stored."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import Connection, Engine

from incidents import repo
from incidents.errors import InvalidApiKey
from incidents.service import connection_for, utcnow


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_api_key(engine: Engine, name: str) -> str:
    """Issue a key named ``name``; only its SHA-256 is stored, so show the returned key once."""
    if not name or not name.strip():
        raise InvalidApiKey("an API key needs a name, got an empty string")
    key = "zk_" + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        repo.insert_api_key(conn, name.strip(), hash_api_key(key))
    return key


def verify_api_key(bind: Engine | Connection, key: str | None) -> int:
    """The id of a valid, unrevoked key; ``InvalidApiKey`` otherwise."""
    if not key:
        raise InvalidApiKey("api_key is required")
    with connection_for(bind) as conn:
        row = repo.find_api_key(conn, hash_api_key(key))
    if row is None:
        raise InvalidApiKey("api_key is not valid")
    if row["revoked_at"] is not None:
        raise InvalidApiKey("api_key has been revoked")
    return int(row["id"])


def revoke_api_key(engine: Engine, name: str, *, now: datetime | None = None) -> int:
    """Revoke every active key named ``name``; the number revoked."""
    with engine.begin() as conn:
        return repo.revoke_api_key(conn, name, now or utcnow())

