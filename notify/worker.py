"""Delivering the outbox over SMTP: ``python -m notify worker [--once]``.

One notice at a time, each in its own transaction: the row is claimed with ``FOR UPDATE SKIP
LOCKED`` (two workers never take the same notice), the mail handed to the SMTP server, and the row
marked ``sent`` in that same transaction only after the server accepted it. A refusal or a server
that cannot be reached is logged (``notice_deliveries``), the attempt counted and the notice tried
again later (``delivery.backoff_s`` of the rules file), until ``delivery.max_attempts`` → ``failed``.

Exactly once? The database can promise "never queued twice" (the outbox's unique key) and "never
sent again once marked sent"; the one gap is a crash after the server accepted the mail and before
the commit: the notice is still ``pending`` and goes again. The mail's Message-ID is derived from
the outbox id alone, so the second copy is the same message (mail stores and clients drop a repeated
Message-ID) — at-least-once delivery of an idempotent message. See docs/notices.md.
"""
from __future__ import annotations

import smtplib
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from incidents.intake import one_line
from notify.errors import SmtpNotConfigured
from notify.rules import NotifyRules


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def message_id(outbox_id: int, sender: str) -> str:
    """The Message-ID of notice ``outbox_id``: the same on every attempt."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "zhkh.local"
    return f"<notice-{int(outbox_id)}@{domain}>"


def build_message(row: dict[str, Any], sender: str, resident_url: str) -> EmailMessage:
    """The mail of outbox row ``row``. Every header is one line of plain text (``one_line``): a line
    break in a subject (an address imported with one, say) can never add a header or break the mail."""
    msg = EmailMessage()
    msg["From"] = one_line(sender, 300)
    msg["To"] = one_line(row["email"], 254)
    msg["Subject"] = one_line(row["subject"], 250) or "—"
    msg["Message-ID"] = message_id(row["id"], sender)
    msg["Date"] = format_datetime(row["created_at"])
    if row.get("event") != "confirm":
        msg["List-Unsubscribe"] = one_line(f"<{resident_url.rstrip('/')}/unsubscribe/{row['unsubscribe_token']}>")
    msg["X-Zhkh-Notice"] = one_line(f"{row['outage_id'] or '-'}/{row['event']}")
    msg.set_content(row["body"], charset="utf-8")
    return msg


@dataclass
class Smtp:
    """One SMTP session, opened when the first notice of a round needs it."""

    host: str
    port: int
    user: str = ""
    password: str = ""
    starttls: bool = False
    timeout_s: float = 20.0
    _conn: smtplib.SMTP | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Any) -> Smtp:
        if not settings.smtp_host:
            raise SmtpNotConfigured("no SMTP server: set ZHKH_SMTP_HOST (and ZHKH_SMTP_PORT) to deliver notices")
        return cls(host=settings.smtp_host, port=int(settings.smtp_port), user=settings.smtp_user,
                   password=settings.smtp_password.get_secret_value(), starttls=bool(settings.smtp_starttls),
                   timeout_s=float(settings.smtp_timeout_s))

    def send(self, msg: EmailMessage) -> None:
        if self._conn is None:
            conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
            try:
                if self.starttls:
                    conn.starttls()
                if self.user:
                    conn.login(self.user, self.password)
            except Exception:
                conn.close()
                raise
            self._conn = conn
        try:
            self._conn.send_message(msg)
        except (smtplib.SMTPServerDisconnected, OSError):
            self.close()
            raise

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (smtplib.SMTPException, OSError):
                self._conn.close()
            self._conn = None


@dataclass
class Round:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0
    withdrawn: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"sent": self.sent, "retried": self.retried, "failed": self.failed, "dropped": self.dropped,
                "withdrawn": self.withdrawn}

    @property
    def busy(self) -> bool:
        return bool(self.sent or self.retried or self.failed or self.dropped or self.withdrawn)


_CLAIM = text("""
    SELECT n.id, n.outage_id, n.event, n.subject, n.body, n.attempts, n.created_at,
           s.email, s.unsubscribe_token, o.state AS outage_state,
           EXISTS (SELECT 1 FROM subscriptions a
                   WHERE a.id = ANY(coalesce(n.subscription_ids, ARRAY[n.subscription_id]))
                     AND a.unsubscribed_at IS NULL AND a.confirmed_at IS NOT NULL) AS wanted
    FROM notice_outbox n JOIN subscriptions s ON s.id = n.subscription_id
    LEFT JOIN outages o ON o.id = n.outage_id
    WHERE n.state = 'pending' AND n.next_attempt_at <= :now
    ORDER BY n.next_attempt_at, n.id
    LIMIT 1
    FOR UPDATE OF n SKIP LOCKED
""")

#: Errors of the mail itself (a header that cannot be written, a recipient SMTP cannot carry): no
#: later attempt can succeed, so the notice is failed at once, with the reason.
_PERMANENT = (ValueError, TypeError, UnicodeError, LookupError, smtplib.SMTPRecipientsRefused,
              smtplib.SMTPNotSupportedError)
#: The server's answer about this one mail: the session stays usable for the next.
_ONE_MAIL = (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, smtplib.SMTPNotSupportedError)


def _log(conn: Any, row: dict[str, Any], *, ok: bool, mid: str, error: str | None, now: datetime) -> None:
    conn.execute(text("""
        INSERT INTO notice_deliveries (outbox_id, at, recipient, ok, message_id, error)
        VALUES (:o, :at, :r, :ok, :m, :e)
    """), {"o": row["id"], "at": now, "r": row["email"], "ok": ok, "m": mid, "e": error})


def _short(exc: BaseException) -> str:
    """The reason of a failed attempt as stored: one line, no NUL or control character (a server's
    answer may hold any byte), at most 500 characters."""
    try:
        described = f"{type(exc).__name__}: {exc}"
    except Exception:  # noqa: BLE001 - an exception whose text cannot be made
        described = type(exc).__name__
    return one_line(described, 500)


def _set(conn: Any, row_id: int, state: str, reason: str) -> None:
    conn.execute(text("UPDATE notice_outbox SET state = :s, last_error = :r WHERE id = :i"),
                 {"s": state, "r": reason, "i": row_id})


def run_once(engine: Engine, smtp: Smtp, rules: NotifyRules, *, sender: str, resident_url: str,
             now: datetime | None = None) -> Round:
    """Deliver the notices due at ``now`` (at most ``delivery.batch``); what happened to them.

    Each notice stands alone: a mail that cannot be built or that the server refuses is ``failed``
    with its reason (a bad header, a refused recipient at once; anything else after
    ``delivery.max_attempts``) and the round goes on with the next one. Only a server that cannot be
    reached, or a session that broke, ends the round early (the rest wait for the next one). A
    notice of a cancelled outage (other than the cancellation itself) is ``withdrawn``; one whose
    subscriptions all ended is ``dropped``."""
    result = Round()
    try:
        for _ in range(rules.delivery.batch):
            at = now or utcnow()
            with engine.begin() as conn:
                found = conn.execute(_CLAIM, {"now": at}).mappings().first()
                if found is None:
                    break
                row = dict(found)
                mid = message_id(row["id"], sender)
                if row["event"] != "confirm" and not row["wanted"]:
                    _set(conn, row["id"], "dropped", "unsubscribed")
                    result.dropped += 1
                    continue
                if row["outage_state"] == "cancelled" and row["event"] not in ("cancelled", "restored"):
                    _set(conn, row["id"], "withdrawn", "outage cancelled")
                    result.withdrawn += 1
                    continue
                try:
                    smtp.send(build_message(row, sender, resident_url))
                except Exception as exc:  # noqa: BLE001 - one notice's fault must never stop the others
                    attempts = row["attempts"] + 1
                    error = _short(exc)
                    final = attempts >= rules.delivery.max_attempts or isinstance(exc, _PERMANENT)
                    conn.execute(text("""
                        UPDATE notice_outbox SET attempts = :a, last_error = :e, state = :s,
                               next_attempt_at = :next WHERE id = :i
                    """), {"a": attempts, "e": error, "s": "failed" if final else "pending", "i": row["id"],
                           "next": at + timedelta(seconds=rules.delivery.delay_after(attempts))})
                    _log(conn, row, ok=False, mid=mid, error=error, now=at)
                    if final:
                        result.failed += 1
                    else:
                        result.retried += 1
                    if isinstance(exc, OSError) and not isinstance(exc, _ONE_MAIL):
                        break  # the server is down or the session broke: the rest wait for the next round
                    if not isinstance(exc, _ONE_MAIL):
                        smtp.close()  # not the server's answer: start the next mail on a fresh session
                    continue
                conn.execute(text("""
                    UPDATE notice_outbox SET state = 'sent', attempts = attempts + 1, sent_at = :at, last_error = NULL
                    WHERE id = :i
                """), {"at": at, "i": row["id"]})
                _log(conn, row, ok=True, mid=mid, error=None, now=at)
                result.sent += 1
    finally:
        smtp.close()
    return result


def _database_down(exc: DBAPIError) -> bool:
    return isinstance(exc, (OperationalError, InterfaceError)) or exc.connection_invalidated


def run_forever(engine: Engine, smtp: Smtp, rules: NotifyRules, *, sender: str, resident_url: str,
                log: Any = print, retry_s: float = 5.0) -> None:
    """Rounds until interrupted; sleeps ``delivery.poll_s`` when a round found nothing to do. A database
    that cannot be reached (down, or failing over to its standby: the sessions are cut) is waited out,
    every ``retry_s`` seconds, instead of ending the worker; a claimed notice's transaction was rolled
    back with the connection, so nothing is marked sent that was not."""
    down_since: float | None = None
    while True:
        try:
            r = run_once(engine, smtp, rules, sender=sender, resident_url=resident_url)
        except DBAPIError as exc:
            if not _database_down(exc):
                raise
            if down_since is None:
                down_since = time.monotonic()
                log(f"notify: database unavailable — retrying every {retry_s:g} s "
                    f"({' '.join(str(exc.orig).split())[:200]})")
            time.sleep(retry_s)
            continue
        if down_since is not None:
            log(f"notify: database back after {time.monotonic() - down_since:.1f} s")
            down_since = None
        if r.busy:
            log(f"notify: {r.as_dict()}")
        if not (r.sent or r.dropped or r.withdrawn or r.failed):
            time.sleep(rules.delivery.poll_s)
