"""The webhooks' signing secrets at rest: sealed with ``ZHKH_WEBHOOK_KEY``, opened only by the process that
signs a delivery.

A secret must stay usable for HMAC, so it cannot be hashed like a password; it is encrypted instead, with
the standard library alone: a keystream of HMAC-SHA256(enc_key, nonce ‖ block counter) XORed with the
secret (a PRF in counter mode, a fresh 16-byte random nonce per secret), then an HMAC-SHA256 tag over the
version, the organisation's id, the nonce and the ciphertext (encrypt-then-MAC). ``enc_key`` and
``mac_key`` are derived from the configured key by HMAC with distinct labels. A row copied to another
organisation, altered, or read with another key does not open (``SealError``). The database alone (a dump,
a replica, a backup) never holds a usable secret: the key lives only in the environment of the processes that
set webhooks and deliver them. Without ``ZHKH_WEBHOOK_KEY`` a fixed development key is used — no protection,
and refused when ``ZHKH_ENV=production``."""
from __future__ import annotations

import base64
import hashlib
import hmac
import os

from orgs.errors import SealError

VERSION = "v1"
DEVELOPMENT_KEY = "zhkh-development-webhook-key: not a secret, set ZHKH_WEBHOOK_KEY"
MIN_KEY_CHARS = 32
NONCE_BYTES = 16
TAG_BYTES = 32


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


def _keys(key: str) -> tuple[bytes, bytes]:
    root = hashlib.sha256(b"zhkh-webhook-secret:" + key.encode("utf-8")).digest()
    return hmac.new(root, b"encrypt", hashlib.sha256).digest(), hmac.new(root, b"authenticate", hashlib.sha256).digest()


def _stream(enc_key: bytes, nonce: bytes, n: int) -> bytes:
    out = bytearray()
    block = 0
    while len(out) < n:
        out += hmac.new(enc_key, nonce + block.to_bytes(8, "big"), hashlib.sha256).digest()
        block += 1
    return bytes(out[:n])


def _tag(mac_key: bytes, org_id: int, nonce: bytes, ciphertext: bytes) -> bytes:
    return hmac.new(mac_key, f"{VERSION}|{int(org_id)}|".encode() + nonce + ciphertext, hashlib.sha256).digest()


def seal(secret: str, *, key: str, org_id: int) -> str:
    """``secret`` sealed for organisation ``org_id`` (text to store)."""
    enc_key, mac_key = _keys(key)
    plain = secret.encode("utf-8")
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = bytes(a ^ b for a, b in zip(plain, _stream(enc_key, nonce, len(plain))))
    blob = nonce + ciphertext + _tag(mac_key, org_id, nonce, ciphertext)
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
    nonce, ciphertext, tag = blob[:NONCE_BYTES], blob[NONCE_BYTES:-TAG_BYTES], blob[-TAG_BYTES:]
    enc_key, mac_key = _keys(key)
    if not hmac.compare_digest(tag, _tag(mac_key, org_id, nonce, ciphertext)):
        raise SealError("the stored webhook secret does not open with this ZHKH_WEBHOOK_KEY (another key, or the row "
                        "was altered); set the webhook again")
    return bytes(a ^ b for a, b in zip(ciphertext, _stream(enc_key, nonce, len(ciphertext))))


def hint(secret: str) -> str:
    """The first 8 hex digits of the secret's SHA-256: tells two secrets apart, reveals nothing usable."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:8]
