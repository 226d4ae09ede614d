"""Subscriptions of residents to an address's notices (e-mail; a phone kept for an SMS gateway)."""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, text

from notify.errors import InvalidSubscription

EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9.-]{1,189}\.[A-Za-z]{2,63}$")
PHONE = re.compile(r"^\+?[0-9]{5,15}$")
LANGS = ("ru", "en")


@dataclass(frozen=True)
class Subscription:
    id: int
    building_id: int
    email: str
    phone: str | None
    lang: str
    unsubscribe_token: str
    created: bool


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


def subscribe(engine: Engine, *, building_id: int, email: str, phone: str | None = None, lang: str = "ru",
              actor: str, now: datetime) -> Subscription:
    """Subscribe ``email`` to the notices of building ``building_id`` (again after unsubscribing: the
    same row comes back to life with a new token); audited under ``actor``."""
    from ops import audit

    email, phone, lang = check(email, phone, lang)
    with engine.begin() as conn:
        if conn.execute(text("SELECT 1 FROM buildings WHERE id = :b"), {"b": int(building_id)}).first() is None:
            raise InvalidSubscription(f"no building with id {building_id}")
        row = conn.execute(text("""
            INSERT INTO subscriptions (building_id, email, phone, lang, unsubscribe_token, created_at)
            VALUES (:b, :e, :p, :l, :t, :now)
            ON CONFLICT (building_id, email) DO UPDATE SET
                phone = coalesce(EXCLUDED.phone, subscriptions.phone), lang = EXCLUDED.lang,
                unsubscribe_token = CASE WHEN subscriptions.unsubscribed_at IS NULL THEN subscriptions.unsubscribe_token
                                         ELSE EXCLUDED.unsubscribe_token END,
                unsubscribed_at = NULL
            RETURNING id, building_id, email, phone, lang, unsubscribe_token, (xmax = 0) AS created
        """), {"b": int(building_id), "e": email, "p": phone, "l": lang, "t": secrets.token_urlsafe(24),
               "now": now}).mappings().one()
        audit.record(conn, actor=actor, action="notice.subscribe", object_type="subscription", object_id=row["id"],
                     at=now, details={"building_id": int(building_id), "lang": lang, "sms": phone is not None})
    return Subscription(**dict(row))


def unsubscribe(engine: Engine, token: str, *, actor: str, now: datetime) -> dict[str, Any] | None:
    """Stop the notices of the subscription holding ``token``; its building's address, or None when
    the token is unknown. Pending notices are dropped by the worker."""
    from ops import audit

    if not token or len(token) > 100:
        return None
    with engine.begin() as conn:
        row = conn.execute(text("""
            UPDATE subscriptions s SET unsubscribed_at = coalesce(s.unsubscribed_at, :now)
            FROM buildings b WHERE s.unsubscribe_token = :t AND b.id = s.building_id
            RETURNING s.id, coalesce(b.address, concat_ws(' ', b.street, b.housenumber)) AS address
        """), {"t": token, "now": now}).mappings().first()
        if row is None:
            return None
        audit.record(conn, actor=actor, action="notice.unsubscribe", object_type="subscription", object_id=row["id"],
                     at=now)
    return dict(row)
