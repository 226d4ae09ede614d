"""The webhooks' signing secrets at rest: sealed with ``ZHKH_WEBHOOK_KEY``, opened only by the process that
signs a delivery.

A secret must stay usable for HMAC, so it cannot be hashed like a password; it is encrypted instead with
AES-256-GCM (the ``cryptography`` package): a fresh 12-byte random nonce per secret, the version and the
organisation's id as associated data, the key derived from the configured one by HKDF-SHA256. A row copied to
another organisation, altered, or read with another key does not open (``SealError``). The database alone (a
dump, a replica, a backup) never holds a usable secret: the key lives only in the environment of the processes
that set webhooks and deliver them. Without ``ZHKH_WEBHOOK_KEY`` a fixed development key is used — no
protection, and refused when ``ZHKH_ENV=production``."""
from __future__ import annotations

import base64
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from orgs.errors import SealError

VERSION = "v1"
DEVELOPMENT_KEY = "zhkh-development-webhook-key: not a secret, set ZHKH_WEBHOOK_KEY"
MIN_KEY_CHARS = 32
NONCE_BYTES = 12
TAG_BYTES = 16


def key_of(configured: str, *, production: bool) -> str:
    """The sealing key in force: the configured one, or the development key outside production."""
    if configured:
        if len(configured) < MIN_KEY_CHARS:
            raise SealError(f"ZHKH_WEBHOOK_KEY must be at least {MIN_KEY_CHARS} characters")
        return configured
    if production:
        raise SealError("set ZHKH_WEBHOOK_KEY (32+ random characters): in production the webhooks' secrets are "
                        "never sealed with the development key")
    return DEVELOPMENT_KEY


def _aead(key: str) -> AESGCM:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"zhkh-webhook-secret").derive(key.encode("utf-8"))
    return AESGCM(derived)


def _associated(org_id: int) -> bytes:
    return f"{VERSION}|{int(org_id)}".encode("ascii")


def seal(secret: str, *, key: str, org_id: int) -> str:
    """``secret`` sealed for organisation ``org_id`` (text to store)."""
    nonce = os.urandom(NONCE_BYTES)
    blob = nonce + _aead(key).encrypt(nonce, secret.encode("utf-8"), _associated(org_id))
    return f"{VERSION}.{base64.urlsafe_b64encode(blob).decode('ascii')}"


def open_sealed(sealed: str, *, key: str, org_id: int) -> bytes:
    """The secret (bytes, as the HMAC takes it) of a sealed one; ``SealError`` when it does not open."""
    version, _, data = sealed.partition(".")
    try:
        blob = base64.urlsafe_b64decode(data.encode("ascii"))
    except (ValueError, UnicodeError):
        blob = b""
    if version != VERSION or len(blob) < NONCE_BYTES + TAG_BYTES:
        raise SealError("the stored webhook secret is unreadable; set the webhook again")
    try:
        return _aead(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], _associated(org_id))
    except InvalidTag:
        raise SealError("the stored webhook secret does not open with this ZHKH_WEBHOOK_KEY (another key, or the row "
                        "was altered); set the webhook again") from None


def hint(secret: str) -> str:
    """The first 8 hex digits of the secret's SHA-256: tells two secrets apart, reveals nothing usable."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:8]
