"""Use-cases of the residents' public page: a resident's report and its "fixed?" (yes with a rating, or
"not fixed"), the account code
that opens a bill, and a subscription to an address's notices (its request, the owner's confirmation,
the unsubscribe link). Each runs in one transaction and records its audit event there.

The page has no login: its writer is ``resident_actor`` (a hash of the IP, never the IP itself) with
the rights of an Open311 client; a confirmation or an unsubscribe is done by whoever holds the mailed
link, so it is recorded under a fixed author."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import Engine

from auth.model import Actor
from incidents.model import IntakeResult
from notify import subscriptions
from notify.rules import NotifyRules
from ops import audit, webhooks
from ops.base import allow, engine
from ops.incidents import take_report
from resident import account_codes
from resident import incidents as resident_incidents

CONFIRM_AUTHOR = "resident:confirm"
UNSUBSCRIBE_AUTHOR = "resident:unsubscribe"


def resident_actor(ip: str, salt: str = "") -> Actor:
    """The author of a resident's write: ``resident:<hash of the IP>`` (no address is stored), with
    the rights of an Open311 client (take and read reports)."""
    digest = hashlib.sha256(f"{salt}|{ip}".encode()).hexdigest()[:12]
    return Actor(author=f"resident:{digest}", role="operator", display_name="portal", kind="api")


def take_incident(actor: Actor, *, building_id: int, service_code: str, description: str,
                  client_token: str | None = None, bind: Engine | None = None) -> IntakeResult:
    """A new report with channel ``portal``; a repeated ``client_token`` (a report the page queued
    offline and sent again) returns the first report, ``created=False``."""
    return take_report(actor, bind=bind, service_code=service_code, building_id=int(building_id),
                       description=description, channel="portal", client_token=client_token)


def reopen_incident(actor: Actor, incident_id: int, *, now: datetime, bind: Engine | None = None) -> None:
    """"Not fixed" on a resolved report (``resident.incidents.reopen``: once, within 30 days of the fix),
    audited as ``incident.reopen``. A resident may do it as they may report: the right to take reports."""
    allow(actor, "reports.take")
    with engine(bind).begin() as conn:
        resolved_at = resident_incidents.reopen(conn, incident_id, author=actor.author, now=now)
        audit.record(conn, actor=actor.author, action="incident.reopen", object_type="incident",
                     object_id=int(incident_id), at=now, reason=resident_incidents.REOPEN_NOTE,
                     details={"resolved_at": resolved_at})
        webhooks.queue_change(conn, int(incident_id), "work_order.status_changed", now=now)


def confirm_fixed(actor: Actor, incident_id: int, rating: object, *, now: datetime,
                  bind: Engine | None = None) -> int:
    """"Fixed? — yes" on a resolved report: closed with the resident's rating 1–5
    (``resident.incidents.confirm_fixed``), audited as ``incident.fixed`` with the rating. The same right
    as "not fixed": the right to take reports."""
    allow(actor, "reports.take")
    stars = resident_incidents.check_rating(rating)   # a bad rating is refused before anything is read
    with engine(bind).begin() as conn:
        resident_incidents.confirm_fixed(conn, incident_id, stars, author=actor.author, now=now)
        audit.record(conn, actor=actor.author, action="incident.fixed", object_type="incident",
                     object_id=int(incident_id), at=now, reason=resident_incidents.FIXED_NOTE,
                     details={"rating": stars})
        webhooks.queue_change(conn, int(incident_id), "work_order.status_changed", now=now)
    return stars


def check_account_code(actor: Actor, number: str, code: str, *, now: datetime, max_failures: int,
                       lock: timedelta, bind: Engine | None = None) -> account_codes.Outcome:
    """An account code typed on the page (``resident.account_codes.check``); the try that locks the
    number is audited as ``account.code_locked`` (the holder's notice: accounts carry no e-mail)."""
    with engine(bind).begin() as conn:
        outcome = account_codes.check(conn, number, code, now=now, max_failures=max_failures, lock=lock)
        if outcome.locked_by is not None and outcome.locked_until is not None:
            audit.record(conn, actor=actor.author, action="account.code_locked", object_type="account",
                         object_id=outcome.number, at=now, reason=f"{max_failures} wrong access codes",
                         details={"failures": outcome.locked_by, "locked_until": outcome.locked_until.isoformat()})
    return outcome


def subscribe(actor: Actor, *, building_id: int, email: str, phone: str | None = None, lang: str = "ru",
              now: datetime, rules: NotifyRules | None = None,
              bind: Engine | None = None) -> subscriptions.Subscription:
    """A request to follow an address's notices (``notify.subscriptions.subscribe``: a confirmation mail
    queued), audited as ``notice.subscribe``; an address confirmed already changes nothing and is not
    audited."""
    with engine(bind).begin() as conn:
        sub = subscriptions.subscribe(conn, building_id=building_id, email=email, phone=phone, lang=lang, now=now,
                                      rules=rules)
        if sub.state == "pending":
            audit.record(conn, actor=actor.author, action="notice.subscribe", object_type="subscription",
                         object_id=sub.id, at=now,
                         details={"building_id": sub.building_id, "lang": sub.lang, "sms": sub.phone is not None,
                                  "awaiting_confirmation": True})
    return sub


def confirm_subscription(token: str, *, now: datetime, author: str = CONFIRM_AUTHOR,
                         bind: Engine | None = None) -> dict[str, object] | None:
    """The owner's confirmation link (``notify.subscriptions.confirm``), audited as ``notice.confirm``;
    ``{"id", "address"}``, or None for an unknown, used or expired token."""
    with engine(bind).begin() as conn:
        row = subscriptions.confirm(conn, token, now=now)
        if row is not None:
            audit.record(conn, actor=author, action="notice.confirm", object_type="subscription",
                         object_id=row["id"], at=now)
    return row


def withdraw_subscription(token: str, *, now: datetime, author: str = UNSUBSCRIBE_AUTHOR,
                          bind: Engine | None = None) -> dict[str, object] | None:
    """The unsubscribe link (``notify.subscriptions.unsubscribe``), audited as ``notice.unsubscribe``;
    ``{"id", "address"}``, or None for an unknown token."""
    with engine(bind).begin() as conn:
        row = subscriptions.unsubscribe(conn, token, now=now)
        if row is not None:
            audit.record(conn, actor=author, action="notice.unsubscribe", object_type="subscription",
                         object_id=row["id"], at=now)
    return row
