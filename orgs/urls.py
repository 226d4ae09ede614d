"""What a webhook URL may be: ``http`` or ``https``, a host name (or address) and nothing else that could
surprise — no credentials, no fragment — and never an address inside the service's own network: every
address the host name resolves to must be a public one (no loopback, link-local, private, shared, multicast
or reserved address), unless ``ZHKH_WEBHOOK_ALLOW_PRIVATE=true``. The check runs when the webhook is set and
again before every delivery (a name may resolve elsewhere later), and the delivery connects to an address
that passed it."""
from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from orgs.errors import InvalidWebhook

MAX_URL_CHARS = 2000
Resolver = Callable[[str, int], list[str]]


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (``addresses``, each allowed) and what to ask for."""

    url: str
    scheme: str
    host: str
    port: int
    path: str            # with its query
    addresses: tuple[str, ...]


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (``InvalidWebhook`` when it does not)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise InvalidWebhook(f"the host {host!r} does not resolve ({exc})") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def blocked(address: str) -> str | None:
    """Why ``address`` is not a public one (None: it is)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind in ("loopback", "link_local", "private", "multicast", "unspecified", "reserved"):
        if getattr(ip, f"is_{kind}"):
            return kind.replace("_", "-")
    if not ip.is_global:
        return "not global"
    return None


def parse(url: object) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of an http(s) URL; ``InvalidWebhook`` in words otherwise."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidWebhook("the webhook URL is empty")
    url = url.strip()
    if len(url) > MAX_URL_CHARS or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise InvalidWebhook(f"the webhook URL must be one line without spaces, at most {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidWebhook(f"the webhook URL cannot be read: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidWebhook(f"a webhook URL must start with http:// or https://, not {scheme or 'nothing'}://")
    if parts.username is not None or parts.password is not None:
        raise InvalidWebhook("a webhook URL may hold no user name or password (the signature authenticates us)")
    if parts.fragment:
        raise InvalidWebhook("a webhook URL may hold no #fragment")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise InvalidWebhook("the webhook URL names no host")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, host, port or (443 if scheme == "https" else 80), path


def check(url: object, *, allow_private: bool, resolver: Resolver = resolve) -> Target:
    """``url`` checked (see the module's docstring); ``InvalidWebhook`` naming what is wrong."""
    scheme, host, port, path = parse(url)
    try:
        literal: str | None = str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        literal = None
    addresses = [literal] if literal else resolver(host, port)
    if not addresses:
        raise InvalidWebhook(f"the host {host!r} does not resolve")
    if not allow_private:
        for address in addresses:
            why = blocked(address)
            if why is not None:
                named = host if literal else f"{host} ({address})"
                raise InvalidWebhook(f"a webhook may not point at a {why} address: {named}; only public "
                                     "addresses (ZHKH_WEBHOOK_ALLOW_PRIVATE=true allows others)")
    return Target(str(url).strip(), scheme, host, port, path, tuple(addresses))
