"""What the two HTTP services (the Open311 API, the tile server) share: an engine made on first use,
so a server starts while the database is down (and answers 503 until it is back), and a small
thread pool for the blocking database work."""
from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio.to_thread
from pydantic import SecretStr
from sqlalchemy import Engine

from gis.db import get_engine, get_read_engine


def lazy_engine(engine: Engine | None, database_url: SecretStr | str | None) -> Callable[[], Engine]:
    """``engine`` if given, else the process's engine for ``database_url`` (default: the settings'),
    made at the first call. No lock here: ``get_engine`` prepares once and, while the database is down,
    answers every request at once with the last failure instead of queueing them behind a probe."""
    box: dict[str, Engine] = {"e": engine} if engine is not None else {}
    url = database_url.get_secret_value() if isinstance(database_url, SecretStr) else database_url

    def db() -> Engine:
        if "e" not in box:

            box["e"] = get_engine(url) if url else get_engine()
        return box["e"]

    return db


def lazy_read_engine(engine: Engine | None, read_url: SecretStr | str | None,
                     database_url: SecretStr | str | None) -> Callable[[], Engine]:
    """As :func:`lazy_engine`, for read-only look-ups: ``read_url`` (a standby) when set, else the engine
    of ``database_url`` — so one node behaves as before."""
    url = read_url.get_secret_value() if isinstance(read_url, SecretStr) else read_url
    if engine is not None or not url:
        return lazy_engine(engine, database_url)
    box: dict[str, Engine] = {}

    def db() -> Engine:
        if "e" not in box:
            box["e"] = get_read_engine(url)
        return box["e"]

    return db


def thread_pool_lifespan(threads: int) -> Callable[[Any], contextlib.AbstractAsyncContextManager[None]]:
    """A FastAPI lifespan that runs the blocking database work on ``threads`` threads: a few, since
    dozens only fight over the GIL and stretch the latency's tail."""

    @contextlib.asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        yield

    return lifespan


class NoFraming:
    """Every answer refuses to be framed by another site (clickjacking): ``X-Frame-Options: DENY``
    and ``Content-Security-Policy: frame-ancestors 'none'`` unless the answer has its own policy
    (which then names ``frame-ancestors`` itself)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def framed(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                names = {k.lower() for k, _ in headers}
                if b"x-frame-options" not in names:
                    headers.append((b"x-frame-options", b"DENY"))
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", b"frame-ancestors 'none'"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, framed)
