"""SQL of accounts, sessions and the login throttle. The caller owns the transaction."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from auth.model import User

_USER_COLUMNS = "id, login, display_name, role, active, auth_source, created_at, created_by, last_login_at"


def _user(row: Any) -> User:
    return User(**dict(row._mapping))


def insert_user(conn: Connection, *, login: str, display_name: str, role: str, password_hash: str | None,
                auth_source: str, created_by: str, now: datetime) -> User:
    row = conn.execute(text(f"""
        INSERT INTO users (login, display_name, role, password_hash, auth_source, created_by, created_at)
        VALUES (:login, :name, :role, :hash, :source, :by, :now)
        ON CONFLICT (login) DO NOTHING
        RETURNING {_USER_COLUMNS}
    """), {"login": login, "name": display_name, "role": role, "hash": password_hash, "source": auth_source,
           "by": created_by, "now": now}).first()
    return _user(row) if row else None  # type: ignore[return-value]


def get_user(conn: Connection, login: str, *, for_update: bool = False) -> User | None:
    lock = " FOR UPDATE" if for_update else ""
    row = conn.execute(text(f"SELECT {_USER_COLUMNS} FROM users WHERE login = :l{lock}"), {"l": login}).first()
    return _user(row) if row else None


def password_hash(conn: Connection, login: str) -> str | None:
    return conn.execute(text("SELECT password_hash FROM users WHERE login = :l"), {"l": login}).scalar()


def list_users(conn: Connection) -> list[User]:
    return [_user(r) for r in conn.execute(text(f"SELECT {_USER_COLUMNS} FROM users ORDER BY login"))]


def update_user(conn: Connection, user_id: int, **values: Any) -> None:
    allowed = {"role", "active", "password_hash", "display_name", "last_login_at"}
    if not values or set(values) - allowed:
        raise ValueError(f"cannot update {sorted(set(values) - allowed)}")
    sets = ", ".join(f"{k} = :{k}" for k in values)
    conn.execute(text(f"UPDATE users SET {sets} WHERE id = :id"), {**values, "id": user_id})


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
    row = conn.execute(text(f"""
        SELECT s.id AS session_id, s.last_seen_at, s.ended_at, {', '.join('u.' + c.strip() for c in _USER_COLUMNS.split(','))}
        FROM user_sessions s JOIN users u ON u.id = s.user_id
        WHERE s.token_hash = :h
    """), {"h": token_hash}).mappings().first()
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
