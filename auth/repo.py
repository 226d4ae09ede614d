"""SQL of accounts, sessions and the login throttle. The caller owns the transaction.

The statements that vary with their arguments (the columns of an account, a lock, the values set)
are SQLAlchemy Core on the light tables below; the fixed ones stay as text."""
from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Connection, column, select, table, text, update
from sqlalchemy.dialects.postgresql import insert

from auth.model import User

#: An account's columns: the fields of ``User`` (never the password hash).
_USER_FIELDS = tuple(f.name for f in fields(User))
users = table("users", column("id", BigInteger), *(column(name) for name in _USER_FIELDS if name != "id"),
              column("password_hash"))
sessions = table("user_sessions", column("id", BigInteger), column("user_id", BigInteger), column("token_hash"),
                 column("last_seen_at"), column("ended_at"))
_USER_COLUMNS = tuple(users.c[name] for name in _USER_FIELDS)
#: What an account's row may have changed (``update_user``).
UPDATABLE = frozenset({"role", "org_id", "active", "password_hash", "display_name", "last_login_at"})


def _user(row: Any) -> User:
    return User(**dict(row._mapping))


def insert_user(conn: Connection, *, login: str, display_name: str, role: str, password_hash: str | None,
                auth_source: str, created_by: str, now: datetime, org_id: int | None = None) -> User:
    row = conn.execute(
        insert(users).values(login=login, display_name=display_name, role=role, password_hash=password_hash,
                             org_id=org_id,
                             auth_source=auth_source, created_by=created_by, created_at=now)
        .on_conflict_do_nothing(index_elements=["login"]).returning(*_USER_COLUMNS)).first()
    return _user(row) if row else None  # type: ignore[return-value]


def get_user(conn: Connection, login: str, *, for_update: bool = False) -> User | None:
    stmt = select(*_USER_COLUMNS).where(users.c.login == login)
    row = conn.execute(stmt.with_for_update() if for_update else stmt).first()
    return _user(row) if row else None


def organisation_active(conn: Connection, org_id: int) -> bool:
    return bool(conn.execute(text("SELECT active FROM organisations WHERE id = :o"), {"o": org_id}).scalar())


def demo_utility(conn: Connection) -> int | None:
    """The organisation the demo's ``org_dispatcher`` and ``crew`` work for: the active utility operating the
    most networks (None before the demo organisations exist: ``python -m reports demo``)."""
    return conn.execute(text("""
        SELECT o.id FROM organisations o WHERE o.kind = 'utility' AND o.active
        ORDER BY (SELECT count(*) FROM networks n WHERE n.utility_id = o.id) DESC, o.id LIMIT 1
    """)).scalar()


def password_hash(conn: Connection, login: str) -> str | None:
    return conn.execute(text("SELECT password_hash FROM users WHERE login = :l"), {"l": login}).scalar()


def list_users(conn: Connection) -> list[User]:
    return [_user(r) for r in conn.execute(select(*_USER_COLUMNS).order_by(users.c.login))]


def update_user(conn: Connection, user_id: int, **values: Any) -> None:
    if not values or set(values) - UPDATABLE:
        raise ValueError(f"cannot update {sorted(set(values) - UPDATABLE)}")
    conn.execute(update(users).where(users.c.id == user_id).values(values))


def count_users(conn: Connection, *, role: str | None = None, active: bool | None = None) -> int:
    return int(conn.execute(text("""
        SELECT count(*) FROM users
        WHERE (CAST(:role AS text) IS NULL OR role = :role) AND (CAST(:active AS boolean) IS NULL OR active = :active)
    """), {"role": role, "active": active}).scalar_one())


# ---- login throttle ------------------------------------------------------------------------------

def throttle_for_update(conn: Connection, login: str) -> dict[str, Any]:
    """The throttle row of ``login`` (created when missing), locked for this transaction."""
    conn.execute(text("INSERT INTO login_throttle (login) VALUES (:l) ON CONFLICT (login) DO NOTHING"), {"l": login})
    row = conn.execute(text("SELECT failures, locked_until FROM login_throttle WHERE login = :l FOR UPDATE"),
                       {"l": login}).mappings().one()
    return dict(row)


def set_throttle(conn: Connection, login: str, *, failures: int, locked_until: datetime | None) -> None:
    conn.execute(text("UPDATE login_throttle SET failures = :f, locked_until = :u WHERE login = :l"),
                 {"f": failures, "u": locked_until, "l": login})


# ---- sessions ------------------------------------------------------------------------------------

def insert_session(conn: Connection, *, token_hash: str, user_id: int, now: datetime) -> None:
    conn.execute(text("""
        INSERT INTO user_sessions (token_hash, user_id, created_at, last_seen_at) VALUES (:h, :u, :now, :now)
    """), {"h": token_hash, "u": user_id, "now": now})


def session_with_user(conn: Connection, token_hash: str) -> dict[str, Any] | None:
    s = sessions.alias("s")
    u = users.alias("u")
    row = conn.execute(
        select(s.c.id.label("session_id"), s.c.last_seen_at, s.c.ended_at, *(u.c[name] for name in _USER_FIELDS))
        .select_from(s.join(u, u.c.id == s.c.user_id)).where(s.c.token_hash == token_hash)).mappings().first()
    return dict(row) if row else None


def touch_session(conn: Connection, session_id: int, now: datetime) -> None:
    conn.execute(text("UPDATE user_sessions SET last_seen_at = :now WHERE id = :id AND ended_at IS NULL"),
                 {"now": now, "id": session_id})


def end_session(conn: Connection, session_id: int, *, reason: str, now: datetime) -> None:
    conn.execute(text("""
        UPDATE user_sessions SET ended_at = :now, end_reason = :r WHERE id = :id AND ended_at IS NULL
    """), {"now": now, "r": reason, "id": session_id})


def end_user_sessions(conn: Connection, user_id: int, *, reason: str, now: datetime) -> int:
    return conn.execute(text("""
        UPDATE user_sessions SET ended_at = :now, end_reason = :r WHERE user_id = :u AND ended_at IS NULL
    """), {"now": now, "r": reason, "u": user_id}).rowcount
