"""API keys of the Open311 intake: issue, verify, revoke. Only a key's SHA-256 is stored."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, Engine

from incidents import intake, repo
from incidents.errors import InvalidApiKey
from incidents.service import connection_for, transaction_for, utcnow

MAX_KEY_CHARS = 200  # issued keys are 46 ASCII characters; anything longer is refused unlooked
MAX_NAME_CHARS = 200  # the api_keys.name CHECK


class VerifiedKey(NamedTuple):
    """A valid, unrevoked API key: its row id (``incidents.api_key_id``), its name, and the organisation
    whose own system holds it (None: an Open311 client)."""

    id: int
    name: str
    org_id: int | None = None


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_api_key(engine: Engine | Connection, name: str, *, org_id: int | None = None) -> str:
    """Issue a key named ``name``; only its SHA-256 is stored, so show the returned key once.
    ``org_id``: a key of that organisation's own system (``/orgs/v1/``: its work orders only)."""
    if not name or not name.strip():
        raise InvalidApiKey("an API key needs a name, got an empty string")
    problems = intake.text_problems("name", name.strip(), max_chars=MAX_NAME_CHARS)
    if problems:  # the name becomes the actor "api:<name>" of every report the key files
        raise InvalidApiKey("; ".join(p.describe() for p in problems))
    key = "zk_" + secrets.token_urlsafe(32)
    with transaction_for(engine) as conn:
        repo.insert_api_key(conn, name.strip(), hash_api_key(key), org_id)
    return key


def verify_api_key(bind: Engine | Connection, key: object) -> VerifiedKey:
    """The id and name of a valid, unrevoked key (one lookup by the unique hash, never cached:
    a revoked key is refused from the next request on); ``InvalidApiKey`` otherwise."""
    if key is None or key == "":
        raise InvalidApiKey("api_key is required")
    if not isinstance(key, str) or len(key) > MAX_KEY_CHARS or not key.isascii():
        raise InvalidApiKey("api_key is not valid")
    with connection_for(bind) as conn:
        row = repo.find_api_key(conn, hash_api_key(key))
    if row is None:
        raise InvalidApiKey("api_key is not valid")
    if row["revoked_at"] is not None:
        raise InvalidApiKey("api_key has been revoked")
    return VerifiedKey(int(row["id"]), str(row["name"]), row["org_id"])


def revoke_api_key(engine: Engine | Connection, name: str, *, now: datetime | None = None) -> int:
    """Revoke every active key named ``name``; the number revoked."""
    with transaction_for(engine) as conn:
        return repo.revoke_api_key(conn, name, now or utcnow())

