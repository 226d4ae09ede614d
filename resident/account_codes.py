"""Account codes on the residents' page: checked against the Argon2id hash (``billing.codes``),
an old SHA-256 row converted on the first right code, and wrong codes counted per account number
from any address (``account_code_tries``): ``max_failures`` of them within ``lock`` lock the number
for ``lock`` — the right code is refused too — and the use-case (``ops.resident.check_account_code``)
writes ``account.code_locked`` in the audit trail (the account holder's notice: accounts carry no
e-mail, so the operators see it there).

The count is kept per number as typed, known or not, so a lock says nothing about whether the
account exists."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, DateTime, Integer, and_, case, column, or_, table, text
from sqlalchemy.dialects.postgresql import insert

from billing.codes import hash_code, verify_code
from resident import queries


_tries = table("account_code_tries", column("number"), column("failures", Integer),
               column("first_failure", DateTime(timezone=True)), column("last_failure", DateTime(timezone=True)),
               column("locked_until", DateTime(timezone=True)))


@dataclass(frozen=True)
class Outcome:
    account: dict[str, Any] | None     # the account when the code was right
    locked_until: datetime | None      # set when the number is (now) locked
    number: str = ""                   # the number as counted (at most 40 characters)
    #: the wrong codes that locked the number with this very try (then the caller audits the lock; once per lock)
    locked_by: int | None = None


def locked_until(conn: Connection, number: str, now: datetime) -> datetime | None:
    until = conn.execute(text("SELECT locked_until FROM account_code_tries WHERE number = :n"),
                         {"n": number[:40]}).scalar()
    return until if until is not None and until > now else None


def check(conn: Connection, number: str, code: str, *, now: datetime, max_failures: int,
          lock: timedelta) -> Outcome:
    """Check ``code`` for account ``number`` inside the caller's transaction: the account when right
    (the failures forgotten), else a failure counted; when the number is locked, nothing is checked
    at all."""
    number = number[:40]
    if not number:  # not an account number at all: refused, as slowly, and not counted
        verify_code(None, code)
        return Outcome(None, None)
    until = locked_until(conn, number, now)
    if until is not None:
        return Outcome(None, until, number)
    acc = queries.account_by_number(conn, number)
    ok, upgrade = verify_code((acc or {}).get("access_code_hash"), code)
    if ok and acc is not None:
        conn.execute(text("DELETE FROM account_code_tries WHERE number = :n"), {"n": number})
        if upgrade:  # an old SHA-256 row (or old parameters): the Argon2id hash of the right code
            conn.execute(text("UPDATE accounts SET access_code_hash = :h WHERE id = :i AND access_code_hash = :old"),
                         {"h": hash_code(code), "i": acc["id"], "old": acc["access_code_hash"]})
        return Outcome(acc, None, number)
    return _failed(conn, number, now=now, max_failures=max_failures, lock=lock)


def _failed(conn: Connection, number: str, *, now: datetime, max_failures: int, lock: timedelta) -> Outcome:
    """Count one wrong code; the end of the lock when the number is locked, and whether this failure
    locked it."""
    t, until = _tries.c, now + lock
    # the row in place counts no more: its lock is over, or its first failure is older than ``lock``
    fresh = or_(and_(t.locked_until.is_not(None), t.locked_until <= now), t.first_failure < now - lock)
    failures = case((fresh, 1), else_=t.failures + 1)
    stmt = insert(_tries).values(number=number, failures=1, first_failure=now, last_failure=now,
                                 locked_until=until if 1 >= int(max_failures) else None)
    stmt = stmt.on_conflict_do_update(index_elements=[t.number], set_={
        "failures": failures,
        "first_failure": case((fresh, now), else_=t.first_failure),
        "last_failure": now,
        "locked_until": case((failures >= int(max_failures), until)),
    })
    row = conn.execute(stmt.returning(t.failures, t.locked_until)).one()
    if row.locked_until is None:
        return Outcome(None, None, number)
    # the failure that locked it: once per lock
    return Outcome(None, row.locked_until, number, int(row.failures) if row.failures == max_failures else None)
