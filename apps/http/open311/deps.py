"""The FastAPI dependencies of the Open311 routes: the app's context (settings, SLA rules, the
engine made on first use), the ``.json`` format, a POST's fields, and the API key → the client's
``Actor`` (verified on every write: one indexed lookup, no cache, so a revoked key stops at once).

FastAPI resolves them in the order the routes name them, which keeps the order of the refusals:
the format (400), then the body (415/400), then the key (403), then the report (400)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Depends, Request
from sqlalchemy import Engine

from apps.http.open311.answers import ApiError
from apps.http.open311.bodies import Fields, read_body
from auth.model import Actor
from incidents.intake import shown
from incidents.sla import Rules
from ops import api_keys
from settings import Settings


@dataclass(frozen=True)
class Context:
    """What the routes of one app share (``app.state.open311``)."""

    settings: Settings
    rules: Rules
    db: Callable[[], Engine]   # the engine, made at the first call (the API starts while the database is down)


def context(request: Request) -> Context:
    return request.app.state.open311


async def json_format(fmt: str) -> None:
    """Every path ends in ``.json``: the only format this API writes."""
    if fmt != "json":
        raise ApiError(400, f"format {shown(fmt)} not supported; use .json")


async def post_fields(request: Request, _: None = Depends(json_format)) -> Fields:
    """The fields of a POST body and how often a form field repeated (``bodies.read_body``)."""
    return await read_body(request)


def api_client(fields: Fields = Depends(post_fields), ctx: Context = Depends(context)) -> api_keys.ApiClient:
    """The client whose ``api_key`` the body carries (403 when missing, unknown or revoked)."""
    return api_keys.client(fields[0].get("api_key"), bind=ctx.db())


def public_reader() -> Actor:
    """Who reads without a key: GeoReport's reads are public (descriptions masked)."""
    return Actor.open311_public()
