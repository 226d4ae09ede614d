"""The HTTP front of the operators' app: what Streamlit's script runs cannot do themselves.

``app_server.py`` serves the app (``st.App``) with this module's route and middleware on the same
origin (docs/rights.md, "Sessions and the cookie"):

- The session cookie ``zhkh_session`` is set by an HTTP answer, never by a script in the page: it is
  ``HttpOnly``, ``SameSite=Strict`` and ``Secure`` (except on plain http to a host that is not the
  loopback, where a browser would refuse to store a Secure cookie). A sign-in in the page hands the
  new token over here, keyed by this browser's own ``__Host-zhkh_browser`` cookie (random, HttpOnly,
  Secure, set by the first answer the browser gets; ``zhkh_browser`` where it cannot be Secure); the page then asks ``POST /session/cookie`` (no secret in the
  request: the browser's cookie names the hand-over) and the answer sets the cookie. A token handed
  over waits at most ``HANDOVER_S`` seconds and is taken once; a request from another origin is
  refused, and another browser has another ``zhkh_browser`` so it cannot take (or plant) a session.
- Every answer carries ``X-Frame-Options: SAMEORIGIN`` and ``Content-Security-Policy:
  frame-ancestors 'self'`` (the app's own components are frames of the same origin; no other site
  may frame the app).
- Streamlit's ``/_stcore/metrics`` answers only a signed-in admin's browser (403 otherwise).
"""
from __future__ import annotations

import ipaddress
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import urlsplit

from anyio import to_thread

from ops import users

COOKIE = "zhkh_session"
BROWSER_COOKIE = "zhkh_browser"
# the same, where the cookie is Secure: a "__Host-" cookie cannot be planted by another host of the domain
HOST_BROWSER_COOKIE = "__Host-zhkh_browser"
CLAIM_PATH = "/session/cookie"
METRICS_PATH = "/_stcore/metrics"
HANDOVER_S = 120.0
FRAME_HEADERS = [(b"x-frame-options", b"SAMEORIGIN"),
                 (b"content-security-policy", b"frame-ancestors 'self'")]

_lock = threading.Lock()
# browser id -> (the session token to set, or None to clear the cookie; when the hand-over expires)
_handovers: dict[str, tuple[str | None, float]] = {}


def hand_over(browser: str | None, token: str | None) -> bool:
    """Queue the cookie this browser gets at its next ``POST /session/cookie``: ``token`` (a sign-in) or
    None (a sign-out clears it). False when the browser has no ``zhkh_browser`` cookie (the app is not
    served through ``app_server.py``): the session then lasts as long as the tab."""
    if not browser or len(browser) > 100:
        return False
    now = time.monotonic()
    with _lock:
        for key in [k for k, (_, until) in _handovers.items() if until < now]:
            del _handovers[key]
        _handovers[browser] = (token, now + HANDOVER_S)
    return True


def waiting(browser: str | None) -> bool:
    """A hand-over of this browser not taken yet (the page still has to ask for its cookie)."""
    with _lock:
        found = _handovers.get(browser or "")
        return found is not None and found[1] >= time.monotonic()


def browser_id(cookies: Any) -> str | None:
    """This browser's id from its cookies (a mapping): the ``__Host-`` one where it exists."""
    return cookies.get(HOST_BROWSER_COOKIE) or cookies.get(BROWSER_COOKIE) or None


def _take(browser: str | None) -> tuple[bool, str | None]:
    with _lock:
        found = _handovers.pop(browser or "", None)
    if found is None or found[1] < time.monotonic():
        return False, None
    return True, found[0]


# ---- cookies ---------------------------------------------------------------------------------------

def _loopback(host: str) -> bool:
    if host.startswith("["):                                            # "[::1]:8501"
        name = host[1:host.find("]")] if "]" in host else host[1:]
    else:                                                               # "127.0.0.1:8501", "localhost"
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def secure(scheme: str, host: str) -> bool:
    """Whether a cookie of this request gets ``Secure``: over https, and on the loopback (browsers take
    Secure cookies from http://localhost and http://127.0.0.1); not on plain http to another host, where
    the browser would drop it (a demo on a LAN address without TLS)."""
    return scheme in ("https", "wss") or _loopback(host)


def cookie_header(name: str, value: str | None, *, secure_flag: bool) -> bytes:
    parts = [f"{name}={value or ''}", "Path=/", "HttpOnly", "SameSite=Strict"]
    if value is None:
        parts.append("Max-Age=0")
    if secure_flag:
        parts.append("Secure")
    return "; ".join(parts).encode("latin-1")


def _cookies(scope: MutableMapping[str, Any]) -> dict[str, str]:

    jar: dict[str, str] = {}
    for key, value in scope.get("headers") or []:
        if key == b"cookie":
            try:
                parsed = SimpleCookie(value.decode("latin-1"))
            except CookieError:
                continue
            jar.update({k: m.value for k, m in parsed.items()})
    return jar


def _header(scope: MutableMapping[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers") or []:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def same_origin(scope: MutableMapping[str, Any]) -> bool:
    """The request comes from a page of this site: its ``Origin`` names this host (http or https)."""

    origin = urlsplit(_header(scope, b"origin"))
    host = _header(scope, b"host")
    return bool(host) and origin.scheme in ("http", "https") and origin.netloc == host


# ---- the ASGI middleware ---------------------------------------------------------------------------

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def _plain(send: Send, status: int, body: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    data = (body + "\n").encode("utf-8") if body else b""
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(data)).encode()),
                            (b"cache-control", b"no-store"), *FRAME_HEADERS, *(headers or [])]})
    await send({"type": "http.response.body", "body": data})


def _signed_in_admin(token: str | None) -> bool:

    try:
        user = users.resume(token) if token else None
    except Exception:  # the database is down: nobody can be checked
        return False
    return user is not None and user.role == "admin"


class Front:
    """Pure ASGI middleware (websockets pass through untouched)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        jar = _cookies(scope)
        secure_flag = secure(scope.get("scheme", "http"), _header(scope, b"host"))
        if path == CLAIM_PATH:
            await self._claim(scope, send, jar, secure_flag)
            return
        if path.rstrip("/").endswith(METRICS_PATH):   # also under a base URL path, or with a trailing slash

            if not await to_thread.run_sync(_signed_in_admin, jar.get(COOKIE)):
                await _plain(send, 403, "sign in to the app as an admin to read its metrics")
                return
        extra = list(FRAME_HEADERS)
        if not browser_id(jar):
            name = HOST_BROWSER_COOKIE if secure_flag else BROWSER_COOKIE
            extra.append((b"set-cookie", cookie_header(name, secrets.token_urlsafe(24), secure_flag=secure_flag)))

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers") or []}
                message["headers"] = [*(message.get("headers") or []),
                                      *[(k, v) for k, v in extra if k == b"set-cookie" or k not in present]]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    @staticmethod
    async def _claim(scope: Scope, send: Send, jar: dict[str, str], secure_flag: bool) -> None:
        if scope.get("method") != "POST":
            await _plain(send, 405, "POST only", [(b"allow", b"POST")])
            return
        if not same_origin(scope):
            await _plain(send, 403, "refused: the request does not come from this site")
            return
        found, token = _take(browser_id(jar))
        if not found:
            await _plain(send, 204, "")
            return
        await _plain(send, 204, "", [(b"set-cookie", cookie_header(COOKIE, token, secure_flag=secure_flag))])
