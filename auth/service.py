"""Rules of accounts and sessions. Every function takes an open connection; the caller
(``ops.users``) owns the transaction and writes the audit event in it."""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from auth import repo
from auth.errors import DuplicateLogin, InvalidUserInput, UnknownUser
from auth.model import User
from auth.passwords import (
    Problem,
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from auth.permissions import ORG_ROLES, ROLES

LOGIN_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
MAX_NAME_CHARS = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def normalize_login(raw: str | None) -> str:
    """Logins are case-insensitive: stored and compared in lower case, without outer spaces."""
    return (raw or "").strip().lower()


def login_problem(login: str) -> Problem | None:
    if not LOGIN_RE.match(login):
        shown = login if len(login) <= 40 else login[:40] + "…"
        return ("login_invalid", {"login": shown},
                f"login {shown!r} is not valid: 2–64 characters, latin letters, digits and . _ @ -, "
                "starting with a letter or digit")
    return None


def role_problem(role: str) -> Problem | None:
    if role not in ROLES:
        return "role_unknown", {"role": role}, f"unknown role {role!r}; expected one of {', '.join(ROLES)}"
    return None


def org_problem(role: str, org_id: int | None) -> Problem | None:
    """An organisation's staff need their organisation; the service's own roles must not have one."""
    if role in ORG_ROLES and org_id is None:
        return "org_required", {"role": role}, f"role {role!r} needs an organisation (--org ORG_ID)"
    if role not in ORG_ROLES and org_id is not None:
        return ("org_refused", {"role": role},
                f"role {role!r} is the service's own and takes no organisation (--org is for "
                f"{' and '.join(sorted(ORG_ROLES))})")
    return None


def name_problem(name: str) -> Problem | None:
    if len(name) > MAX_NAME_CHARS:
        return ("name_long", {"n": len(name), "max": MAX_NAME_CHARS},
                f"the name is {len(name)} characters long; at most {MAX_NAME_CHARS} are accepted")
    if _CONTROL.search(name) or any(0xD800 <= ord(c) <= 0xDFFF for c in name):
        return "name_invalid", {}, "the name contains control characters or invalid characters"
    return None


def _raise_if(problems: list[Problem | None]) -> None:
    found = [p for p in problems if p]
    if found:
        raise InvalidUserInput("; ".join(p[2] for p in found), [(p[0], p[1]) for p in found])


def add_user(conn: Connection, *, login: str, role: str, password: str | None, display_name: str = "",
             created_by: str, now: datetime, auth_source: str = "local", org_id: int | None = None) -> User:
    """Create an account; ``InvalidUserInput`` lists every problem, ``DuplicateLogin`` if taken.
    ``org_id``: the organisation of an ``org_dispatcher`` or ``crew`` (required for them, refused otherwise)."""
    login = normalize_login(login)
    display_name = (display_name or "").strip()
    _raise_if([login_problem(login), role_problem(role), org_problem(role, org_id), name_problem(display_name),
               password_problem(password or "", login) if auth_source == "local" else None])
    _raise_if([organisation_problem(conn, org_id)])
    user = repo.insert_user(conn, login=login, display_name=display_name, role=role, org_id=org_id,
                            password_hash=hash_password(password) if auth_source == "local" and password else None,
                            auth_source=auth_source, created_by=created_by, now=now)
    if user is None:
        raise DuplicateLogin(login)
    return user


def get_user(conn: Connection, login: str, *, for_update: bool = False) -> User:
    found = repo.get_user(conn, normalize_login(login), for_update=for_update)
    if found is None:
        raise UnknownUser(normalize_login(login))
    return found


def _keep_an_admin(conn: Connection, user: User, *, new_role: str | None = None, active: bool | None = None) -> None:
    """Refuse a change that would leave no active admin (nobody could manage accounts any more)."""
    loses_admin = user.role == "admin" and user.active and (
        (new_role is not None and new_role != "admin") or active is False)
    if loses_admin and repo.count_users(conn, role="admin", active=True) <= 1:
        raise InvalidUserInput(f"{user.login!r} is the last active admin; make another admin first",
                               [("last_admin", {"login": user.login})])


def organisation_problem(conn: Connection, org_id: int | None) -> Problem | None:
    if org_id is not None and not repo.organisation_active(conn, org_id):
        return "org_unknown", {"org": org_id}, f"no active organisation with id {org_id} (see python -m reports orgs)"
    return None


def set_role(conn: Connection, login: str, role: str, *, now: datetime,
             org_id: int | None = None) -> tuple[User, str]:
    """Change a role (applies at the user's next action); returns the user and the old role. An
    organisation's role takes its ``org_id``; any other role leaves the organisation."""
    _raise_if([role_problem(role)])
    _raise_if([org_problem(role, org_id)])
    _raise_if([organisation_problem(conn, org_id)])
    user = get_user(conn, login, for_update=True)
    _keep_an_admin(conn, user, new_role=role)
    repo.update_user(conn, user.id, role=role, org_id=org_id)
    return get_user(conn, login), user.role


def set_active(conn: Connection, login: str, active: bool, *, now: datetime) -> User:
    """Disable (every session ends at once) or enable an account."""
    user = get_user(conn, login, for_update=True)
    _keep_an_admin(conn, user, active=active)
    repo.update_user(conn, user.id, active=active)
    if not active:
        repo.end_user_sessions(conn, user.id, reason="disabled", now=now)
    return get_user(conn, login)


def set_password(conn: Connection, login: str, password: str, *, now: datetime) -> User:
    """A new password; the account's open sessions end."""
    _raise_if([password_problem(password, normalize_login(login))])
    user = get_user(conn, login, for_update=True)
    if user.auth_source != "local":
        raise InvalidUserInput(f"{user.login!r} signs in through the identity provider and has no password here",
                               [("external", {"login": user.login})])
    repo.update_user(conn, user.id, password_hash=hash_password(password))
    repo.end_user_sessions(conn, user.id, reason="password_changed", now=now)
    return user


# ---- signing in ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LoginAttempt:
    """The outcome of a sign-in: a user and a session token, or the reason it was refused
    (``wrong`` covers an unknown login, a wrong password and a disabled account alike)."""

    user: User | None
    token: str | None
    refused: str | None = None           # None | "wrong" | "locked"
    locked_until: datetime | None = None
    detail: str = ""                     # for the audit only (never shown): unknown | password | disabled | locked


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


MAX_LOCK = timedelta(hours=24)


def throttle_key(login: str, source: str | None) -> str:
    """The throttle row of a login typed from one source (the client's address): an attacker's failures
    lock the login for that address only, never for the account's owner elsewhere."""
    where = (source or "").strip()[:60] or "-"
    return f"{where} {normalize_login(login)[:200] or '-'}"[:200]


def lock_for(failures: int, *, max_failures: int, lock: timedelta) -> timedelta | None:
    """The lock after ``failures`` wrong passwords in a row: none before ``max_failures``; then ``lock``
    at every ``max_failures``-th failure, doubled each time (5, 10, 20 … minutes), at most ``MAX_LOCK``."""
    if max_failures <= 0 or failures < max_failures or failures % max_failures:
        return None
    doublings = min(failures // max_failures - 1, 16)
    return min(lock * (2 ** doublings), MAX_LOCK)


def authenticate(conn: Connection, login: str, password: str, *, now: datetime, max_failures: int,
                 lock: timedelta, source: str | None = None) -> LoginAttempt:
    """Check a login and password under the throttle and open a session.

    Failures are counted per login as typed (lower case), whether or not an account has it, so a
    lock says nothing about which logins exist, and per ``source`` (the client's address): from that
    address, every ``max_failures``-th wrong password in a row locks the login for ``lock``, doubled
    at each further lock (the password is not even checked then); other addresses are not affected.
    A success clears the count. The caller commits in every case: the failure count must be kept.
    """
    key = normalize_login(login)[:200] or "-"
    throttle = repo.throttle_for_update(conn, throttle_key(login, source))
    if throttle["locked_until"] is not None and throttle["locked_until"] > now:
        return LoginAttempt(None, None, "locked", throttle["locked_until"], "locked")
    user = repo.get_user(conn, key) if LOGIN_RE.match(key) else None
    stored = repo.password_hash(conn, key) if user is not None else None
    ok = verify_password(stored, password or "")
    if not ok or user is None or not user.active:
        failures = int(throttle["failures"]) + 1
        locked = lock_for(failures, max_failures=max_failures, lock=lock)
        locked_until = now + locked if locked is not None else None
        repo.set_throttle(conn, throttle_key(login, source), failures=failures, locked_until=locked_until)
        detail = "unknown" if user is None else ("disabled" if not user.active else "password")
        if locked_until is not None:
            return LoginAttempt(None, None, "locked", locked_until, detail)
        return LoginAttempt(None, None, "wrong", None, detail)
    repo.set_throttle(conn, throttle_key(login, source), failures=0, locked_until=None)
    if stored and needs_rehash(stored):
        repo.update_user(conn, user.id, password_hash=hash_password(password))
    return LoginAttempt(_signed_in(conn, user, now), _new_session(conn, user.id, now))


def _signed_in(conn: Connection, user: User, now: datetime) -> User:
    repo.update_user(conn, user.id, last_login_at=now)
    return User(**{**user.__dict__, "last_login_at": now})


def _new_session(conn: Connection, user_id: int, now: datetime) -> str:
    token = secrets.token_urlsafe(32)
    repo.insert_session(conn, token_hash=token_hash(token), user_id=user_id, now=now)
    return token


def sign_in_external(conn: Connection, *, login: str, display_name: str, role: str, now: datetime,
                     created_by: str) -> tuple[User, str] | None:
    """A user the identity provider vouched for: their account (created on first sign-in with the
    role from the claim; the claim's role wins later too) and a session, or None when the account
    here is disabled."""
    login = normalize_login(login)
    # an organisation's staff are bound to their organisation here, which a claim cannot name
    _raise_if([login_problem(login), role_problem(role), org_problem(role, None), name_problem(display_name)])
    user = repo.get_user(conn, login, for_update=True)
    if user is None:
        user = add_user(conn, login=login, role=role, password=None, display_name=display_name,
                        created_by=created_by, now=now, auth_source="oidc")
    elif not user.active:
        return None
    elif user.role != role:
        repo.update_user(conn, user.id, role=role)
        user = get_user(conn, login)
    return _signed_in(conn, user, now), _new_session(conn, user.id, now)


def resume(conn: Connection, token: str | None, *, now: datetime, idle: timedelta,
           touch_every: timedelta = timedelta(seconds=60)) -> User | None:
    """The user of a session token while the session is open, the account active and the last
    action within ``idle``; otherwise the session ends (idle, disabled) and None."""
    if not token or len(token) > 200:
        return None
    found = repo.session_with_user(conn, token_hash(token))
    if found is None or found["ended_at"] is not None:
        return None
    if not found["active"]:
        repo.end_session(conn, found["session_id"], reason="disabled", now=now)
        return None
    if found["last_seen_at"] + idle < now:
        repo.end_session(conn, found["session_id"], reason="idle", now=now)
        return None
    if now - found["last_seen_at"] >= touch_every:
        repo.touch_session(conn, found["session_id"], now)
    return User(**{k: v for k, v in found.items() if k not in ("session_id", "last_seen_at", "ended_at")})


def end_session(conn: Connection, token: str | None, *, now: datetime, reason: str = "logout") -> bool:
    """End the session of ``token``; False when there was no open one."""
    if not token:
        return False
    found = repo.session_with_user(conn, token_hash(token))
    if found is None or found["ended_at"] is not None:
        return False
    repo.end_session(conn, found["session_id"], reason=reason, now=now)
    return True


def describe(user: User) -> dict[str, Any]:
    """An account as shown in lists and the audit (no hash)."""
    described = {"login": user.login, "display_name": user.display_name, "role": user.role, "active": user.active,
                 "auth_source": user.auth_source}
    if user.org_id is not None:
        described["org_id"] = user.org_id
    return described
