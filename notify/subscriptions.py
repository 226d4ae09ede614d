"""Subscriptions of residents to an address's notices (e-mail; a phone kept for an SMS gateway).

Double opt-in: ``subscribe`` stores a *request* and queues a confirmation mail to the address (a
link with a random 256-bit token, valid ``subscriptions.confirm_valid_h`` hours; only its SHA-256 is
stored); nothing is sent to the address until its owner opens the link and confirms (``confirm``).
A subscribe for an address that unsubscribed leaves it unsubscribed until its owner confirms again:
nobody else can undo an unsubscribe. Per e-mail address the rules file bounds the buildings it
follows (confirmed or awaiting confirmation) and the confirmation mails it gets in an hour.

The writes run inside the caller's transaction and leave the audit trail to it: the use-cases of
``ops.resident`` open the transaction, call these and record ``notice.subscribe`` / ``notice.confirm`` /
``notice.unsubscribe``.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, text

from notify import messages
from notify.errors import InvalidSubscription, TooManyConfirmations, TooManySubscriptions
from notify.rules import NotifyRules, SubscriptionLimits, rules_from_settings

EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9.-]{1,189}\.[A-Za-z]{2,63}$")
PHONE = re.compile(r"^\+?[0-9]{5,15}$")
TOKEN = re.compile(r"[A-Za-z0-9_-]{20,100}")
LANGS = ("ru", "en")
_LOCK_CLASS = 774413  # pg_advisory_xact_lock(class, hashtext(email)): one request per address at a time


@dataclass(frozen=True)
class Subscription:
    id: int
    building_id: int
    email: str
    phone: str | None
    lang: str
    unsubscribe_token: str
    created: bool
    #: 'pending' (a confirmation mail is on its way) or 'active' (confirmed earlier: nothing changed)
    state: str = "pending"
    #: the confirmation link's token — for the caller that mails it; never shown on a page
    confirm_token: str | None = None


def clean_phone(value: str | None) -> str | None:
    """A phone as stored: digits with an optional leading +; spaces, dashes, dots and brackets dropped."""
    if value is None or not value.strip():
        return None
    phone = re.sub(r"[\s\-().]", "", value.strip())
    if not PHONE.fullmatch(phone):
        raise InvalidSubscription(f"phone {value[:40]!r} is not a phone number (5–15 digits, optional +)")
    return phone


def check(email: str, phone: str | None, lang: str) -> tuple[str, str | None, str]:
    email = (email or "").strip()
    if "\x00" in email or not EMAIL.fullmatch(email) or len(email) > 254:
        raise InvalidSubscription(f"e-mail {email[:60]!r} is not an e-mail address")
    if lang not in LANGS:
        raise InvalidSubscription(f"language {lang!r} is not one of {', '.join(LANGS)}")
    return email.lower(), clean_phone(phone), lang


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _address(conn: Connection, building_id: int) -> str | None:
    row = conn.execute(text("SELECT coalesce(address, concat_ws(' ', street, housenumber)) FROM buildings "
                            "WHERE id = :b"), {"b": building_id}).first()
    return None if row is None else (row[0] or f"#{building_id}")


def subscribe(conn: Connection, *, building_id: int, email: str, phone: str | None = None, lang: str = "ru",
              now: datetime, rules: NotifyRules | None = None) -> Subscription:
    """Ask to subscribe ``email`` to the notices of building ``building_id`` (inside the caller's
    transaction): a confirmation mail is queued (the worker sends it) and the subscription stays
    inactive until ``confirm``. An address subscribed and confirmed already is left as it is (no
    mail; ``state == "active"``: nothing to audit).

    Raises ``InvalidSubscription`` (bad e-mail, phone, language, building), ``TooManySubscriptions``
    or ``TooManyConfirmations`` (the rules' limits per e-mail address)."""
    limits = (rules or rules_from_settings()).subscriptions
    email, phone, lang = check(email, phone, lang)
    building_id = int(building_id)
    address = _address(conn, building_id)
    if address is None:
        raise InvalidSubscription(f"no building with id {building_id}")
    conn.execute(text("SELECT pg_advisory_xact_lock(:c, hashtext(:e))"), {"c": _LOCK_CLASS, "e": email})
    row = conn.execute(text("""
        SELECT id, building_id, email, phone, lang, unsubscribe_token, confirmed_at, unsubscribed_at
        FROM subscriptions WHERE building_id = :b AND email = :e FOR UPDATE
    """), {"b": building_id, "e": email}).mappings().first()
    if row is not None and row["confirmed_at"] is not None and row["unsubscribed_at"] is None:
        return Subscription(id=row["id"], building_id=building_id, email=email, phone=row["phone"],
                            lang=row["lang"], unsubscribe_token=row["unsubscribe_token"], created=False,
                            state="active")
    _within_limits(conn, email, building_id, now, limits)
    token = secrets.token_urlsafe(32)
    params = {"b": building_id, "e": email, "p": phone, "l": lang, "h": token_hash(token),
              "until": now + timedelta(hours=limits.confirm_valid_h), "now": now}
    if row is None:
        sub = conn.execute(text("""
            INSERT INTO subscriptions (building_id, email, phone, lang, unsubscribe_token, created_at,
                                       confirm_token_hash, confirm_expires_at)
            VALUES (:b, :e, :p, :l, :t, :now, :h, :until)
            RETURNING id, unsubscribe_token
        """), {**params, "t": secrets.token_urlsafe(24)}).mappings().one()
    else:  # waiting for a confirmation, or unsubscribed: stays so until the owner confirms
        sub = conn.execute(text("""
            UPDATE subscriptions SET confirm_token_hash = :h, confirm_expires_at = :until,
                   phone = coalesce(:p, phone), lang = :l
            WHERE id = :i RETURNING id, unsubscribe_token
        """), {**params, "i": row["id"]}).mappings().one()
    _queue_confirmation(conn, sub["id"], address=address, lang=lang, token=token, token_hash=params["h"],
                        now=now, valid_h=limits.confirm_valid_h)
    return Subscription(id=sub["id"], building_id=building_id, email=email, phone=phone, lang=lang,
                        unsubscribe_token=sub["unsubscribe_token"], created=row is None, state="pending",
                        confirm_token=token)


def _within_limits(conn: Connection, email: str, building_id: int, now: datetime,
                   limits: SubscriptionLimits) -> None:
    """Refuse a request beyond the rules' limits per e-mail address: the buildings it follows (confirmed
    or awaiting confirmation) and the confirmation mails it got in the last hour."""
    following = conn.execute(text("""
        SELECT count(*) FROM subscriptions
        WHERE email = :e AND building_id <> :b
          AND ((confirmed_at IS NOT NULL AND unsubscribed_at IS NULL) OR confirm_expires_at > :now)
    """), {"e": email, "b": building_id, "now": now}).scalar_one()
    if following >= limits.max_buildings_per_email:
        raise TooManySubscriptions(f"{email} follows {following} buildings already (at most "
                                   f"{limits.max_buildings_per_email})", limits.max_buildings_per_email)
    mailed = conn.execute(text("""
        SELECT count(*) FROM notice_outbox n JOIN subscriptions s ON s.id = n.subscription_id
        WHERE s.email = :e AND n.event = 'confirm' AND n.created_at > :since
    """), {"e": email, "since": now - timedelta(hours=1)}).scalar_one()
    if mailed >= limits.confirmations_per_hour:
        raise TooManyConfirmations(f"{email} got {mailed} confirmation mails in the last hour (at most "
                                   f"{limits.confirmations_per_hour})", limits.confirmations_per_hour)


def _queue_confirmation(conn: Connection, subscription_id: int, *, address: str, lang: str, token: str,
                        token_hash: str, now: datetime, valid_h: int) -> None:
    """The confirmation mail with the link holding ``token`` into the outbox (the worker sends it)."""
    subject, body = messages.compose_confirm(address=address, lang=lang, token=token, valid_h=valid_h)
    conn.execute(text("""
        INSERT INTO notice_outbox (subscription_id, outage_id, event, dedupe_key, subject, body, next_attempt_at,
                                   created_at)
        VALUES (:s, NULL, 'confirm', :k, :subject, :body, :now, :now)
    """), {"s": subscription_id, "k": f"confirm:{subscription_id}:{token_hash[:32]}", "subject": subject,
           "body": body, "now": now})


def pending_address(engine: Engine, token: str, *, now: datetime) -> str | None:
    """The address a confirmation link ``token`` would subscribe to (None: unknown or expired)."""
    if not token or not TOKEN.fullmatch(token):
        return None
    with engine.connect() as conn:
        row = conn.execute(text("""
            SELECT s.building_id FROM subscriptions s WHERE s.confirm_token_hash = :h AND s.confirm_expires_at > :now
        """), {"h": token_hash(token), "now": now}).first()
        return None if row is None else _address(conn, int(row[0]))


def confirm(conn: Connection, token: str, *, now: datetime) -> dict[str, Any] | None:
    """The owner opened the confirmation link: the subscription holding ``token`` starts (again, with a
    new unsubscribe link, when it had been unsubscribed), inside the caller's transaction. Its id and
    its building's address, or None when the token is unknown, used or expired."""
    if not token or not TOKEN.fullmatch(token):
        return None
    row = conn.execute(text("""
        UPDATE subscriptions s SET confirmed_at = :now, unsubscribed_at = NULL,
               unsubscribe_token = CASE WHEN s.unsubscribed_at IS NULL THEN s.unsubscribe_token ELSE :t END,
               confirm_token_hash = NULL, confirm_expires_at = NULL
        WHERE s.confirm_token_hash = :h AND s.confirm_expires_at > :now
        RETURNING s.id, s.building_id
    """), {"h": token_hash(token), "now": now, "t": secrets.token_urlsafe(24)}).mappings().first()
    if row is None:
        return None
    return {"id": row["id"], "address": _address(conn, int(row["building_id"]))}


def unsubscribe(conn: Connection, token: str, *, now: datetime) -> dict[str, Any] | None:
    """Stop the notices of the subscription holding ``token`` (and any confirmation awaiting), inside the
    caller's transaction; its id and building's address, or None when the token is unknown. Pending
    notices are dropped by the worker."""
    if not token or len(token) > 100:
        return None
    row = conn.execute(text("""
        UPDATE subscriptions s SET unsubscribed_at = coalesce(s.unsubscribed_at, :now),
               confirm_token_hash = NULL, confirm_expires_at = NULL
        FROM buildings b WHERE s.unsubscribe_token = :t AND b.id = s.building_id
        RETURNING s.id, coalesce(b.address, concat_ws(' ', b.street, b.housenumber)) AS address
    """), {"t": token, "now": now}).mappings().first()
    if row is None:
        return None
    return dict(row)
