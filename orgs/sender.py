"""The one HTTP POST of a webhook event: to an address the URL check allowed (``orgs.urls``), checked again
now (a host name may resolve elsewhere since the webhook was set), the TLS certificate verified against the
host name, no redirect followed, the answer's body read no further than ``MAX_ANSWER_BYTES``."""
from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass

from orgs import urls
from orgs.errors import InvalidWebhook

MAX_ANSWER_BYTES = 64 * 1024
USER_AGENT = "zhkh-ops-webhooks/1"
#: what went wrong with an attempt, in the words a page can translate (``kind_of``)
ERROR_KINDS: tuple[str, ...] = ("status", "redirect", "address", "connect", "timeout", "tls", "secret", "other")


@dataclass(frozen=True)
class Answer:
    """What one attempt got: the status code (None: no answer) and the error in words (None: a 2xx)."""

    status: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.error is None


class _Http(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _Https(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def kind_of(status: int | None, error: str | None) -> str | None:
    """The kind of a failed attempt's error (None: it did not fail), from what ``post`` records."""
    if not error:
        return None
    if status is not None:
        return "redirect" if 300 <= status < 400 else "status"
    low = error.lower()
    if low.startswith("refused:"):
        return "address"
    if "timed out" in low or "timeout" in low:
        return "timeout"
    if "ssl" in low or "certificate" in low:
        return "tls"
    if low.startswith("cannot connect"):
        return "connect"
    if "webhook secret" in low:
        return "secret"
    return "other"


def _short(text: str) -> str:
    return " ".join(text.split())[:500]


def post(url: str, raw: bytes, headers: dict[str, str], *, timeout_s: float, allow_private: bool) -> Answer:
    """POST ``raw`` (JSON) to ``url``; never raises for what the network or the receiver does."""
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = urls.check(url, allow_private=allow_private)
    except InvalidWebhook as exc:
        return Answer(None, _short(f"refused: {exc}"), took())
    kind = _Https if target.scheme == "https" else _Http
    last: str = "no address to connect to"
    for address in target.addresses:
        conn = kind(target.host, target.port, address, timeout_s)
        try:
            try:
                conn.connect()
            except (OSError, ssl.SSLError) as exc:
                last = _short(f"cannot connect to {address}: {type(exc).__name__}: {exc}")
                continue   # the next address of the name, if any: nothing was sent to this one
            try:
                conn.request("POST", target.path, body=raw, headers={
                    "Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT, **headers})
                answer = conn.getresponse()
                answer.read(MAX_ANSWER_BYTES)
                status = int(answer.status)
            except (OSError, http.client.HTTPException) as exc:
                return Answer(None, _short(f"{type(exc).__name__}: {exc}"), took())
        finally:
            conn.close()
        if 200 <= status < 300:
            return Answer(status, None, took())
        reason = "a redirect is not followed; set the final URL" if 300 <= status < 400 else "not a 2xx answer"
        return Answer(status, f"HTTP {status}: {reason}", took())
    return Answer(None, last, took())

