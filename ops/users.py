"""Use-cases of people: sign in and out, sessions, and account administration (admin only)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from auth import repo
from auth import service as accounts
from auth.errors import LoginRefused
from auth.model import Actor, User
from ops import audit
from ops.base import allow, engine, utcnow
from settings import Settings, get_settings


def sign_in(login: str, password: str, *, source: str | None = None, settings: Settings | None = None,
            bind: Engine | None = None) -> tuple[User, str]:
    """The user and a new session token; ``LoginRefused`` otherwise (after the failure is counted
    and audited). The message never says whether the login exists. ``source`` is the client's
    address: failures lock the login for that address only (``auth.service.authenticate``)."""
    s = settings or get_settings()
    now = utcnow()
    with engine(bind).begin() as conn:
        attempt = accounts.authenticate(conn, login, password, now=now, max_failures=s.login_max_failures,
                                        lock=timedelta(minutes=s.login_lock_min), source=source)
        typed = accounts.normalize_login(login)[:200]
        if attempt.user is None:
            audit.record(conn, actor="anonymous", action="auth.login_failed", object_type="user",
                         object_id=typed or "-", at=now,
                         details={"reason": attempt.detail, "locked_until": attempt.locked_until,
                                  "source": source or "-"})
        else:
            audit.record(conn, actor=attempt.user.login, action="auth.login", object_type="user",
                         object_id=attempt.user.login, at=now, details={"role": attempt.user.role})
    if attempt.user is None or attempt.token is None:
        if attempt.refused == "locked":
            raise LoginRefused(f"too many failed attempts: this login is locked until {attempt.locked_until}",
                               locked_until=attempt.locked_until)
        raise LoginRefused("wrong login or password")
    return attempt.user, attempt.token


def sign_in_external(*, login: str, display_name: str, role: str, provider: str,
                     bind: Engine | None = None) -> tuple[User, str]:
    """A user vouched for by the identity provider (``st.login``): their account and a session."""
    now = utcnow()
    with engine(bind).begin() as conn:
        found = accounts.sign_in_external(conn, login=login, display_name=display_name, role=role, now=now,
                                          created_by=f"oidc:{provider}")
        if found is None:
            audit.record(conn, actor="anonymous", action="auth.login_failed", object_type="user",
                         object_id=accounts.normalize_login(login), at=now,
                         details={"reason": "disabled", "provider": provider})
        else:
            audit.record(conn, actor=found[0].login, action="auth.login", object_type="user",
                         object_id=found[0].login, at=now, details={"role": role, "provider": provider})
    if found is None:
        raise LoginRefused("this account is disabled")
    return found


def resume(token: str | None, *, settings: Settings | None = None, bind: Engine | None = None) -> User | None:
    """The signed-in user of a session token, or None (ended, idle too long, account disabled)."""
    if not token:
        return None
    s = settings or get_settings()
    with engine(bind).begin() as conn:
        return accounts.resume(conn, token, now=utcnow(), idle=timedelta(minutes=s.session_idle_min))


def sign_out(token: str | None, user: User | None, *, bind: Engine | None = None) -> None:
    now = utcnow()
    with engine(bind).begin() as conn:
        if accounts.end_session(conn, token, now=now) and user is not None:
            audit.record(conn, actor=user.login, action="auth.logout", object_type="user", object_id=user.login, at=now)


# ---- administration ---------------------------------------------------------------------------------

def demo_organisation(actor: Actor, *, bind: Engine | None = None) -> int | None:
    """The organisation of the demo's ``org_dispatcher`` and ``crew`` accounts (the demo utility), or None."""
    allow(actor, "users.manage")
    with engine(bind).connect() as conn:
        return repo.demo_utility(conn)


def list_users(actor: Actor, *, bind: Engine | None = None) -> list[User]:
    allow(actor, "users.manage")

    with engine(bind).connect() as conn:
        return repo.list_users(conn)


def add_user(actor: Actor, login: str, *, role: str, password: str, display_name: str = "",
             org_id: int | None = None, bind: Engine | None = None) -> User:
    """A new account; ``org_id`` binds an ``org_dispatcher`` or ``crew`` to their organisation."""
    allow(actor, "users.manage")
    now = utcnow()
    with engine(bind).begin() as conn:
        user = accounts.add_user(conn, login=login, role=role, password=password, display_name=display_name,
                                 created_by=actor.author, now=now, org_id=org_id)
        audit.record(conn, actor=actor.author, action="user.add", object_type="user", object_id=user.login, at=now,
                     details=accounts.describe(user))
    return user


def set_role(actor: Actor, login: str, role: str, *, reason: str = "", org_id: int | None = None,
              bind: Engine | None = None) -> User:
    allow(actor, "users.manage")
    now = utcnow()
    with engine(bind).begin() as conn:
        user, old = accounts.set_role(conn, login, role, now=now, org_id=org_id)
        details: dict[str, object] = {"from": old, "to": role}
        if org_id is not None:
            details["org_id"] = org_id
        audit.record(conn, actor=actor.author, action="user.set_role", object_type="user", object_id=user.login,
                     at=now, reason=reason, details=details)
    return user


def set_active(actor: Actor, login: str, active: bool, *, reason: str = "", bind: Engine | None = None) -> User:
    allow(actor, "users.manage")
    now = utcnow()
    with engine(bind).begin() as conn:
        user = accounts.set_active(conn, login, active, now=now)
        audit.record(conn, actor=actor.author, action="user.enable" if active else "user.disable",
                     object_type="user", object_id=user.login, at=now, reason=reason)
    return user


def set_password(actor: Actor, login: str, password: str, *, bind: Engine | None = None) -> User:
    allow(actor, "users.manage")
    now = utcnow()
    with engine(bind).begin() as conn:
        user = accounts.set_password(conn, login, password, now=now)
        audit.record(conn, actor=actor.author, action="user.passwd", object_type="user", object_id=user.login, at=now)
    return user
