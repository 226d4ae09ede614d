"""Account access codes (printed on the bill; the residents' page asks for them with the account
number): stored as Argon2id hashes, like passwords, never as a fast unsalted digest.

Older rows hold the SHA-256 (hex) of the code; they stay valid and are converted to Argon2id on
the next successful entry (``verify_code`` says so): a SHA-256 cannot be turned into anything else.
An 8-digit code has only 10⁸ values, so the hash is slow and memory-hard on purpose (8 MiB, one
pass; measured 35.7 ms a hash on a 2-core machine at load average 22 — a few ms idle — so 10⁸
guesses cost days of CPU per account instead of a second of SHA-256), and the residents' page locks
an account number after repeated wrong codes — the real defence against guessing online. The
parameters are lighter than the passwords' (argon2-cffi defaults: 64 MiB, 3 passes, ~17
times slower by these measurements) because the demo hashes ~17,000 codes at load time, on every core;
raise them here and every stored hash is upgraded on its next right code (``verify_code``).
"""
from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TIME_COST, MEMORY_KIB, PARALLELISM = 1, 8192, 1


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher(time_cost=TIME_COST, memory_cost=MEMORY_KIB, parallelism=PARALLELISM)


def normalise(code: str) -> str:
    return code.strip()


def hash_code(code: str) -> str:
    """The Argon2id hash of a code as printed (salted; what ``accounts.access_code_hash`` stores)."""
    return _hasher().hash(normalise(code))


@lru_cache(maxsize=1)
def _demo_hasher() -> PasswordHasher:
    return PasswordHasher(time_cost=1, memory_cost=256, parallelism=1)


def hash_demo_code(code: str) -> str:
    """A light Argon2id hash (256 KiB, one pass: ~0.2 ms) for the demo's codes only. They follow from the
    demo's seed and the account number (``apps.demo.billing.access_code``) and are printed by ``billing
    demo-code``, so a slow hash would protect nothing while it made the demo's load hash ~17,000 codes
    for a minute of both cores. ``verify_code`` upgrades such a hash to the full parameters on its next
    right code, as it does any hash made with other parameters."""
    return _demo_hasher().hash(normalise(code))


def legacy_sha256(code: str) -> str:
    """What older rows hold: the unsalted SHA-256 (hex) of the code."""
    return hashlib.sha256(normalise(code).encode("utf-8", "replace")).hexdigest()


def is_legacy(stored: str | None) -> bool:
    return bool(stored) and not str(stored).startswith("$argon2")


def verify_code(stored: str | None, code: str) -> tuple[bool, bool]:
    """(the code matches ``stored``, the stored value should be replaced by ``hash_code(code)``).
    A missing hash costs as much as a real check and never matches; an empty code never matches."""
    if not stored or not normalise(code) or "\x00" in code:
        _hasher().hash("timing equaliser")
        return False, False
    if is_legacy(stored):
        _hasher().hash("timing equaliser")  # as slow as an Argon2 check: no hint of the row's kind
        ok = hmac.compare_digest(legacy_sha256(code).encode(), str(stored).encode())
        return ok, ok
    try:
        ok = _hasher().verify(stored, normalise(code))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, False
    return ok, ok and _hasher().check_needs_rehash(stored)
