"""Password hashing with Argon2id (argon2-cffi, its recommended parameters), and the rules a new
password meets: 10 to 1024 characters, not one of the common passwords of ``common-passwords.txt.gz``,
not (nearly) the login."""
from __future__ import annotations

import gzip
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
MAX_LENGTH = 1024
# 19,646 common passwords, lower case (Django 5.2's django/contrib/auth/common-passwords.txt.gz, BSD-3-Clause,
# itself from Royce Williams' list of passwords cracked in breaches); compared without letter case
COMMON_FILE = Path(__file__).with_name("common-passwords.txt.gz")
# as Django's UserAttributeSimilarityValidator: at this similarity to the login a password is refused
LOGIN_SIMILARITY = 0.7


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_FILE, "rt", encoding="utf-8") as f:
        return frozenset(line.strip() for line in f if line.strip())


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


Problem = tuple[str, dict[str, object], str]  # (code, parameters, English text)


def password_problem(password: str, login: str = "") -> Problem | None:
    """Why ``password`` cannot be used (by the account ``login``), or None."""
    n = len(password)
    if n < MIN_LENGTH:
        return ("password_short", {"n": n, "min": MIN_LENGTH},
                f"the password is {n} characters long; at least {MIN_LENGTH} are needed")
    if n > MAX_LENGTH:
        return ("password_long", {"n": n, "max": MAX_LENGTH},
                f"the password is {n} characters long; at most {MAX_LENGTH} are accepted")
    if "\x00" in password:
        return "password_nul", {}, "the password contains a NUL character"
    folded = password.casefold()
    if folded in common_passwords():
        return ("password_common", {},
                "the password is one of the most common passwords (tried first by anyone guessing); choose another")
    name = login.strip().casefold()
    if name and (name in folded or SequenceMatcher(a=folded, b=name).ratio() >= LOGIN_SIMILARITY):
        return "password_like_login", {}, "the password is too similar to the login; choose another"
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
