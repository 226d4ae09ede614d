"""What the HTTP apps' middleware share at the ASGI level: reading a request body up to a cap, and handing the
body read to the app as if it had not been read."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Receive = Callable[[], Awaitable[dict[str, Any]]]


async def read_body(receive: Receive, max_bytes: int) -> tuple[bytes, bool]:
    """The request's body, read until its end or until more than ``max_bytes`` came (then ``(what came, True)``:
    the caller refuses it without reading the rest)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        chunks.append(chunk)
        if size > max_bytes:
            return b"".join(chunks), True
        if not message.get("more_body", False):
            break
    return b"".join(chunks), False


def replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` whole first, then whatever the connection says (a disconnect)."""
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
