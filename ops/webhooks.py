"""Use-cases of organisations' webhooks: an admin sets, lists and deletes an organisation's endpoint (audited);
every change of an organisation's work order queues an event in the change's own transaction
(``queue_change``); ``deliver_once`` / ``deliver_forever`` post the due events, signed, and log every attempt.

Delivery: at least once, never twice at the same time. Each event is claimed in its own transaction with
``FOR UPDATE SKIP LOCKED`` (a second ``deliver`` takes the next one, never the same), posted while the row is
locked, and marked ``delivered`` in that transaction only after a 2xx answer. A refusal, an error or no answer
is logged (``webhook_deliveries``), counted and tried again after an exponential backoff
(``ZHKH_WEBHOOK_BACKOFF_S`` doubled per attempt, at most ``ZHKH_WEBHOOK_BACKOFF_MAX_S``), until a 2xx. A
killed ``deliver`` rolls its one open transaction back: the event is still pending and goes again (the
receiver drops a repeated ``event_id``). One organisation whose endpoint fails is skipped for the rest of the
pass, so it never holds the others up.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from auth.model import Actor
from incidents import service
from incidents import work_orders as wo
from ops import audit
from ops.base import allow, engine, utcnow
from ops.errors import is_database_down
from orgs import payload, sealing, sender, urls
from orgs import webhooks as hooks
from orgs.errors import InvalidWebhook, NoWebhook, SealError
from reports import orgs as org_repo
from settings import Environment, Settings, get_settings

MIN_SECRET_CHARS = 16
MAX_SECRET_CHARS = 512


def _key(s: Settings) -> str:
    return sealing.key_of(s.webhook_key.get_secret_value(), production=s.env == Environment.production)


def _checked_secret(secret: object) -> str:
    if not isinstance(secret, str) or not secret.strip():
        raise InvalidWebhook("the signing secret is empty: give it on stdin, e.g. `openssl rand -hex 32 | "
                             "python -m orgs webhook set ORG_ID URL`")
    secret = secret.strip()
    if len(secret) < MIN_SECRET_CHARS or len(secret) > MAX_SECRET_CHARS:
        raise InvalidWebhook(f"the signing secret must be {MIN_SECRET_CHARS}–{MAX_SECRET_CHARS} characters, "
                             f"got {len(secret)}")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in secret):
        raise InvalidWebhook("the signing secret must be one line of printable characters")
    return secret


# ---- the endpoints (admin) ------------------------------------------------------------------------------

def set_webhook(actor: Actor, org_id: int, url: str, secret: str, *, bind: Engine | None = None,
                settings: Settings | None = None) -> dict[str, Any]:
    """Register (or replace) organisation ``org_id``'s webhook: ``url`` checked (``orgs.urls``), the secret
    sealed (``orgs.sealing``); audited without the secret. Refused in words, nothing written, for a bad URL, a
    bad secret or an unknown organisation."""
    allow(actor, "users.manage")
    s = settings or get_settings()
    secret = _checked_secret(secret)
    target = urls.check(url, allow_private=s.webhook_allow_private)
    key = _key(s)
    now = utcnow()
    with engine(bind).begin() as conn:
        org_repo.get_organisation(conn, org_id)
        before = hooks.put_webhook(conn, org_id, url=target.url, secret_enc=sealing.seal(secret, key=key, org_id=org_id),
                                   secret_hint=sealing.hint(secret), author=actor.author, now=now)
        audit.record(conn, actor=actor.author, action="webhook.set", object_type="organisation", object_id=org_id,
                     at=now, details={"url": target.url, "secret_hint": sealing.hint(secret),
                                      "before": before["url"] if before else None})
        found = hooks.get_webhook(conn, org_id)
    assert found is not None
    return {k: v for k, v in found.items() if k != "secret_enc"}


def delete_webhook(actor: Actor, org_id: int, *, bind: Engine | None = None) -> int:
    """Delete organisation ``org_id``'s webhook (``NoWebhook`` when it has none); its pending events are
    dropped (how many). Audited."""
    allow(actor, "users.manage")
    now = utcnow()
    with engine(bind).begin() as conn:
        before, dropped = hooks.delete_webhook(conn, org_id, now=now)
        if before is None:
            raise NoWebhook(f"organisation {org_id} has no webhook")
        audit.record(conn, actor=actor.author, action="webhook.delete", object_type="organisation", object_id=org_id,
                     at=now, details={"url": before["url"], "dropped": dropped})
    return dropped


def webhooks(actor: Actor, *, bind: Engine | None = None) -> list[dict[str, Any]]:
    """Every organisation's webhook with its outbox's figures (never the secret)."""
    allow(actor, "users.manage")
    with engine(bind).connect() as conn:
        return hooks.list_webhooks(conn)


def events(actor: Actor, *, org_id: int | None = None, states: tuple[str, ...] | None = None, limit: int = 200,
           bind: Engine | None = None) -> list[dict[str, Any]]:
    """The outbox, newest first."""
    allow(actor, "users.manage")
    with engine(bind).connect() as conn:
        rows = hooks.events(conn, org_id=org_id, states=states, limit=limit)
    return [{**r, "error_kind": sender.kind_of(r["last_status"], r["last_error"])} for r in rows]


def deliveries(actor: Actor, *, org_id: int | None = None, event_row_id: int | None = None, limit: int = 200,
               bind: Engine | None = None) -> list[dict[str, Any]]:
    """The delivery log, newest first."""
    allow(actor, "users.manage")
    with engine(bind).connect() as conn:
        rows = hooks.deliveries(conn, org_id=org_id, event_row_id=event_row_id, limit=limit)
    return [{**r, "error_kind": sender.kind_of(r["status_code"], r["error"])} for r in rows]


def retry_now(actor: Actor, event_row_id: int, *, bind: Engine | None = None) -> dict[str, Any]:
    """Make a pending event due now (the next pass of ``deliver`` posts it). Audited."""
    allow(actor, "users.manage")
    now = utcnow()
    with engine(bind).begin() as conn:
        row = hooks.retry_now(conn, event_row_id, now=now)
        if row is None:
            raise NoWebhook(f"no pending webhook event {event_row_id}")
        audit.record(conn, actor=actor.author, action="webhook.retry", object_type="organisation",
                     object_id=row["org_id"], at=now, details={"event_id": row["event_id"], "attempts": row["attempts"]})
    return row


# ---- the outbox: one call in every transaction that changes an organisation's work order ------------------

def queue_change(conn: Connection, incident_id: int, type_: str, *, now: datetime,
                 org_id: int | None = None) -> str | None:
    """Queue event ``type_`` of report ``incident_id`` for the organisation that answers for it (or
    ``org_id``: the one it was taken from) when that organisation has a webhook — inside ``conn``'s
    transaction, the change's own, so the event exists exactly when the change does. The work order is
    recorded as it is now (after the change), with the organisation's own events only. The ``event_id``, or
    None when nobody is to be told."""
    if type_ not in payload.TYPES:
        raise ValueError(f"unknown webhook event type {type_!r}")
    if org_id is None:
        org = hooks.responsible_with_webhook(conn, incident_id)
    else:
        org = org_id if hooks.has_webhook(conn, org_id) else None
    if org is None:
        return None
    inc = service.get_incident(conn, incident_id)
    item = service.queue_item(inc, service.rules_from_settings(), now)
    own = wo.events_of(conn, incident_id, org)
    return hooks.enqueue(conn, org_id=org, incident_id=incident_id, type_=type_,
                         payload=payload.work_order_detail(item, own), now=now)


def queue_changes(conn: Connection, incident_ids: list[int], type_: str, *, now: datetime) -> int:
    """``queue_change`` for each report (an outage's step moves several at once); how many were queued."""
    return sum(queue_change(conn, i, type_, now=now) is not None for i in incident_ids)


# ---- delivery (python -m orgs deliver) -----------------------------------------------------------------

Send = Callable[..., sender.Answer]


@dataclass
class Pass:
    """What one pass over the due events did."""

    delivered: int = 0
    retried: int = 0
    dropped: int = 0
    skipped_orgs: int = 0
    failures: list[str] = field(default_factory=list)   # one line per failed attempt (the worker's log)

    def as_dict(self) -> dict[str, int]:
        return {"delivered": self.delivered, "retried": self.retried, "dropped": self.dropped,
                "skipped_orgs": self.skipped_orgs}

    @property
    def busy(self) -> bool:
        return bool(self.delivered or self.retried or self.dropped)


def deliver_once(*, bind: Engine | None = None, settings: Settings | None = None, now: datetime | None = None,
                 send: Send = sender.post, batch: int = 500) -> Pass:
    """One pass over the events due (at most ``batch``), each in its own transaction (see the module's
    docstring); what happened."""
    s = settings or get_settings()
    key = _key(s)
    eng = engine(bind)
    result = Pass()
    failing: set[int] = set()
    for _ in range(batch):
        at = now or utcnow()
        with eng.begin() as conn:
            row = hooks.claim_due(conn, at, skip_orgs=frozenset(failing))
            if row is None:
                break
            if row["url"] is None:
                hooks.mark_dropped(conn, row["id"], "the webhook was deleted")
                result.dropped += 1
                continue
            answer = _attempt(row, key, s, send)
            hooks.log_delivery(conn, row_id=row["id"], org_id=row["org_id"], url=row["url"], at=at, ok=answer.ok,
                               status=answer.status, duration_ms=answer.duration_ms, error=answer.error)
            if answer.ok:
                hooks.mark_delivered(conn, row["id"], status=answer.status or 200, now=at)
                result.delivered += 1
            else:
                wait = hooks.backoff(row["attempts"] + 1, first_s=s.webhook_backoff_s, max_s=s.webhook_backoff_max_s)
                hooks.mark_failed(conn, row["id"], status=answer.status, error=answer.error or "failed",
                                  next_at=at + wait)
                failing.add(row["org_id"])
                result.retried += 1
                result.failures.append(f"event {row['event_id']} of organisation {row['org_id']} "
                                       f"(attempt {row['attempts'] + 1}, next at {(at + wait).isoformat()}): "
                                       f"{answer.error}")
    result.skipped_orgs = len(failing)
    return result


def _attempt(row: dict[str, Any], key: str, s: Settings, send: Send) -> sender.Answer:
    try:
        secret = sealing.open_sealed(row["secret_enc"], key=key, org_id=row["org_id"])
    except SealError as exc:
        return sender.Answer(None, str(exc)[:500], 0)
    raw = payload.body(row["event_id"], row["type"], row["created_at"], row["payload"])
    headers = {payload.SIGNATURE_HEADER: payload.signature(secret, raw), payload.EVENT_ID_HEADER: row["event_id"],
               payload.EVENT_TYPE_HEADER: row["type"]}
    return send(row["url"], raw, headers, timeout_s=s.webhook_timeout_s, allow_private=s.webhook_allow_private)


def deliver_forever(*, bind: Engine | None = None, settings: Settings | None = None, log: Callable[[str], Any] = print,
                    retry_s: float = 5.0) -> None:
    """Passes until interrupted; sleeps ``ZHKH_WEBHOOK_POLL_S`` when a pass had nothing to deliver. A database
    that cannot be reached is waited out (every ``retry_s``); the claimed event's transaction was rolled back
    with the connection, so nothing is marked delivered that was not."""
    s = settings or get_settings()
    down_since: float | None = None
    while True:
        try:
            r = deliver_once(bind=bind, settings=s)
        except DBAPIError as exc:
            if not is_database_down(exc):
                raise
            if down_since is None:
                down_since = time.monotonic()
                log(f"orgs deliver: database unavailable — retrying every {retry_s:g} s")
            time.sleep(retry_s)
            continue
        if down_since is not None:
            log(f"orgs deliver: database back after {time.monotonic() - down_since:.1f} s")
            down_since = None
        if r.busy:
            log(f"orgs deliver: {r.as_dict()}")
        for line in r.failures:
            log(f"orgs deliver: failed: {line}")
        if not (r.delivered or r.dropped):
            time.sleep(s.webhook_poll_s)
