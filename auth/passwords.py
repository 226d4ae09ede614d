"""Password hashing with Argon2id (argon2-cffi, its recommended parameters)."""
from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
MAX_LENGTH = 1024


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


Problem = tuple[str, dict[str, object], str]  # (code, parameters, English text)


def password_problem(password: str) -> Problem | None:
    """Why ``password`` cannot be used, or None."""
    n = len(password)
    if n < MIN_LENGTH:
        return ("password_short", {"n": n, "min": MIN_LENGTH},
                f"the password is {n} characters long; at least {MIN_LENGTH} are needed")
    if n > MAX_LENGTH:
        return ("password_long", {"n": n, "max": MAX_LENGTH},
                f"the password is {n} characters long; at most {MAX_LENGTH} are accepted")
    if "\x00" in password:
        return "password_nul", {}, "the password contains a NUL character"
    return None


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; a missing or malformed hash never matches."""
    if not password_hash:
        _hasher().hash("timing equaliser")  # as slow as a real check: no hint that the login is unknown
        return False
    try:
        return _hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)
