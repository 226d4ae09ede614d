"""Errors of accounts and rights. Messages name the input; a refused login never says whether the
login exists."""
from __future__ import annotations


class AuthError(ValueError):
    """Base class of account and rights errors."""


class InvalidUserInput(AuthError):
    """A login, role, name or password that does not meet the rules (the message says which).

    ``problems`` holds each one as (code, parameters) for pages that show them in their language."""

    def __init__(self, message: str, problems: list[tuple[str, dict[str, object]]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class DuplicateLogin(AuthError):
    """An account with this login exists already."""

    def __init__(self, login: str) -> None:
        super().__init__(f"login {login!r} exists already")
        self.problems = [("duplicate", {"login": login})]


class UnknownUser(AuthError):
    """No account with this login."""

    def __init__(self, login: str) -> None:
        super().__init__(f"no account with login {login!r}")
        self.problems = [("unknown", {"login": login})]


class LoginRefused(AuthError):
    """Wrong login or password, a disabled account, or a login locked after repeated failures.

    ``locked_until`` is set when the login is locked (for any login typed, existing or not)."""

    def __init__(self, message: str, *, locked_until: object | None = None) -> None:
        super().__init__(message)
        self.locked_until = locked_until


class PermissionDenied(AuthError):
    """The acting user's role does not hold the permission a use-case needs."""

    def __init__(self, permission: str, role: str | None, who: str = "") -> None:
        self.permission = permission
        self.role = role
        self.who = who
        by = f"{who} ({role})" if who else (role or "anonymous")
        super().__init__(f"{by} may not {permission}")
