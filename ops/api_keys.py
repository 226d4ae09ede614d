"""Use-cases of Open311 clients' keys (admin): issue one, revoke one. Both audited; the key itself is
shown once and never stored. And the one check of a key a client sends (``client``)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from auth.model import Actor
from incidents import keys
from incidents import repo as incident_repo
from ops import audit
from reports import orgs
from ops.base import allow, engine, utcnow


def create(actor: Actor, name: str, *, org_id: int | None = None, bind: Engine | None = None) -> str:
    """A new key for the client ``name``; its reports will be signed ``api:<name>``. With ``org_id``: a key
    of that organisation's own system, which sees and acts on that organisation's work orders only
    (``/orgs/v1/``) and takes no reports."""
    allow(actor, "users.manage")
    now = utcnow()
    with engine(bind).begin() as conn:
        if org_id is not None:
            orgs.get_organisation(conn, org_id)
        key = keys.create_api_key(conn, name, org_id=org_id)
        audit.record(conn, actor=actor.author, action="api_key.create", object_type="api_key",
                     object_id=name.strip(), at=now, details={"org_id": org_id} if org_id is not None else None)
    return key


def revoke(actor: Actor, name: str, *, bind: Engine | None = None) -> int:
    """Revoke every active key of ``name`` (refused from the next request on); how many."""
    allow(actor, "users.manage")
    now = utcnow()
    with engine(bind).begin() as conn:
        n = keys.revoke_api_key(conn, name, now=now)
        audit.record(conn, actor=actor.author, action="api_key.revoke", object_type="api_key", object_id=name,
                     at=now, details={"revoked": n})
    return n


def listing(actor: Actor, *, bind: Engine | None = None) -> list[dict]:
    """The clients' keys (name, created, revoked, reports filed)."""
    allow(actor, "users.manage")
    with engine(bind).connect() as conn:
        return incident_repo.list_api_keys(conn)


@dataclass(frozen=True)
class ApiClient:
    """An Open311 client known by its key: who it acts as, and the key's row (stored with its reports)."""

    actor: Actor
    key_id: int


def client(api_key: object, *, bind: Engine | None = None) -> ApiClient:
    """The client a key belongs to; ``InvalidApiKey`` (403) when it is missing, unknown or revoked.
    Checked on every write: one lookup by the key's unique hash, never cached, so a revoked key is
    refused from the next request on."""
    key = keys.verify_api_key(engine(bind), api_key)
    if key.org_id is not None:   # an organisation's own system: its desk's rights, its work orders only
        return ApiClient(actor=Actor.org_client(key.name, key.org_id), key_id=key.id)
    return ApiClient(actor=Actor.api_client(key.name), key_id=key.id)
