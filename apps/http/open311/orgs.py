"""The API of organisations' own systems, under ``/orgs/v1/``: an organisation's work orders (the reports it
answers for) and its actions on them, with a key of that organisation (``python -m incidents api-key create
--name N --org ORG_ID``) in the header ``X-API-Key``.

- ``GET /orgs/v1/work-orders?status=open`` — the organisation's work orders (``status``: ``open`` (the
  default), ``closed``, ``all`` or report statuses separated by commas);
- ``GET /orgs/v1/work-orders/{id}`` — one, with its events;
- ``POST /orgs/v1/work-orders/{id}/events`` — JSON ``{"event_id", "kind", "text", "visit_at", "crew"}``:
  201 when stored, 200 with the stored event when the ``event_id`` was used before (nothing changes); the same
  fields as multipart/form-data with files ``photo`` (JPEG, PNG, WebP; re-encoded) for ``resolved``.

Another organisation's work order answers 404, exactly as an unknown number, and nothing changes. Errors
are the same JSON lists as Open311's (``[{"code", "description"}]``).

``GET /orgs/v1/openapi.json`` — the OpenAPI document of this API alone: its routes, models, the ``X-API-Key``
security scheme and the webhook an organisation receives (``python -m orgs webhook set``, docs/webhooks.md)."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

import apps.http.open311.openapi as openapi
from apps.http.open311.answers import ApiError, Open311Response, answers
from apps.http.open311.deps import Context, context
from auth.model import Actor
from incidents import work_orders as wo
from incidents.model import QueueItem
from incidents.workflow import FINAL_STATUSES, OPEN_STATUSES, STATUSES
from ops import api_keys
from ops import orgs as org_ops
from orgs import payload

ORGS_PREFIX = "/orgs/v1"
MAX_ID_DIGITS = 18
#: an event's body: its fields and up to MAX_PHOTOS photos of MAX_PHOTO_BYTES each (multipart)
MAX_EVENT_BYTES = wo.MAX_PHOTOS * wo.MAX_PHOTO_BYTES + 64 * 1024

router = APIRouter(prefix=ORGS_PREFIX, tags=["organisations"])
#: the webhook an organisation receives: described in the document (OpenAPI 3.1 ``webhooks``), never routed here
webhooks = APIRouter(tags=["webhooks"])
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="OrganisationKey",
                              description="a key of the organisation's own system: "
                                          "python -m incidents api-key create --name N --org ORG_ID")


class WorkOrderOut(BaseModel):
    id: int
    status: str
    org_state: str | None
    service_code: str
    category: str
    priority: str
    address: str | None
    lat: float
    long: float
    description: str
    created_at: str
    due_at: str
    sla_state: str
    crew: str | None
    visit_at: str | None
    answer: str | None


class EventOut(BaseModel):
    event_id: str
    kind: str
    text: str
    visit_at: str | None
    crew: str | None
    author: str
    at: str


class WorkOrderDetailOut(WorkOrderOut):
    """A work order with the organisation's events on it."""

    events: list[EventOut]


class WebhookEvent(BaseModel):
    """What ``python -m orgs deliver`` posts to an organisation's webhook: signed in ``X-Zhkh-Signature:
    sha256=<hex HMAC-SHA256 of the raw body with the organisation's secret>``, its ``event_id`` also in
    ``X-Zhkh-Event-Id``; retried with backoff until a 2xx answer, so the same ``event_id`` may come twice."""

    event_id: str = Field(description="unique per event; the same on every retry: process each one once")
    type: Literal[payload.TYPES]  # type: ignore[valid-type]
    occurred_at: str = Field(description="when the change was made (UTC, ISO 8601)")
    work_order: WorkOrderDetailOut = Field(description="the work order right after the change")


class EventIn(BaseModel):
    """An action of the organisation on its work order (``event_id``: the client's own unique id)."""

    event_id: str
    kind: Literal["accepted", "assigned", "visit_planned", "resolved", "returned"]
    text: str = ""
    visit_at: datetime | None = None
    crew: str | None = None


def organisation(x_api_key: str | None = Security(api_key_header), ctx: Context = Depends(context)) -> Actor:
    """The organisation whose key the request carries (403: missing, unknown, revoked, or not an
    organisation's key)."""
    client = api_keys.client(x_api_key, bind=ctx.db())
    if client.actor.org_id is None:
        raise ApiError(403, "this key is not an organisation's (python -m incidents api-key create --org ORG_ID)")
    return client.actor


def _statuses(status: str) -> tuple[str, ...]:
    if status == "open":
        return tuple(sorted(OPEN_STATUSES))
    if status == "closed":
        return tuple(sorted(FINAL_STATUSES | {"resolved"}))
    if status == "all":
        return STATUSES
    wanted = tuple(s.strip() for s in status.split(",") if s.strip())
    unknown = [s for s in wanted if s not in STATUSES]
    if not wanted or unknown or len(status) > 200:
        raise ApiError(400, "status must be open, closed, all or statuses separated by commas: " + ", ".join(STATUSES))
    return wanted


def _id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > MAX_ID_DIGITS:
        raise ApiError(404, f"no work order {raw[:40]!r}")
    return int(raw)


def represent(q: QueueItem) -> dict[str, Any]:
    return payload.work_order(q)


def represent_event(e: wo.WorkOrderEvent) -> dict[str, Any]:
    return payload.event(e)


async def event_body(request: Request) -> tuple[Any, list[bytes]]:
    """The event's fields and photos, read here in the event loop (the route runs in the thread pool):
    JSON, or multipart/form-data with the same fields and the files ``photo`` (JPEG, PNG, WebP)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        try:
            form = await request.form(max_files=wo.MAX_PHOTOS + 1, max_fields=20)
        except Exception as exc:  # the multipart parser raises several types
            raise ApiError(400, f"unreadable form body: {' '.join(str(exc).split())[:200]}") from None
        fields: dict[str, Any] = {}
        photos: list[bytes] = []
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name != "photo":
                    raise ApiError(400, f"files go in the field photo, not {name[:40]!r}")
                photos.append(await value.read())
            elif name in fields:
                raise ApiError(400, f"the field {name[:40]!r} is repeated")
            else:
                fields[name] = value
        return {k: v for k, v in fields.items() if v != "" or k == "text"}, photos
    if kind != "application/json":
        raise ApiError(415, "send the event as application/json, or multipart/form-data with photos")
    raw = await request.body()
    try:
        return json.loads(raw.decode("utf-8")), []
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "the body is not JSON in UTF-8") from exc


@router.get("/work-orders", response_model=list[WorkOrderOut], responses=answers(400, 403, 503))
def list_work_orders(status: str = "open", actor: Actor = Depends(organisation),
                     ctx: Context = Depends(context)) -> JSONResponse:
    """The organisation's work orders, most urgent first."""
    items = org_ops.work_orders(actor, statuses=_statuses(status), bind=ctx.db())
    return Open311Response([represent(q) for q in items])


@router.get("/work-orders/{order_id}", response_model=WorkOrderDetailOut, responses=answers(403, 404, 503))
def get_work_order(order_id: str, actor: Actor = Depends(organisation), ctx: Context = Depends(context)) -> JSONResponse:
    """One work order with its events (another organisation's: 404)."""
    order = org_ops.work_order(actor, _id(order_id), bind=ctx.db())
    return Open311Response(payload.work_order_detail(order.item, order.events))


def _multipart_schema() -> dict[str, Any]:
    schema = EventIn.model_json_schema()
    schema["properties"]["photo"] = {"type": "array", "items": {"type": "string", "format": "binary"},
                                     "description": f"resolved only: up to {wo.MAX_PHOTOS} JPEG, PNG, WebP or HEIC photos (HEIC stored as JPEG)"}
    return schema


@router.post("/work-orders/{order_id}/events", status_code=201, response_model=EventOut,
             responses={200: {"model": EventOut, "description": "the event_id was used before: the stored event"},
                        **answers(400, 403, 404, 409, 415, 503)},
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": EventIn.model_json_schema()},
                 "multipart/form-data": {"schema": _multipart_schema()}}}})
def post_event(order_id: str, actor: Actor = Depends(organisation),
               body: tuple[Any, list[bytes]] = Depends(event_body), ctx: Context = Depends(context)) -> JSONResponse:
    """An action on the work order (JSON; or multipart/form-data with the files ``photo`` for ``resolved``);
    a repeated ``event_id`` is stored once (200 with the stored event)."""
    number = _id(order_id)
    fields, photos = body
    try:
        event = EventIn.model_validate(fields)
    except ValueError as exc:
        raise ApiError(400, f"invalid event: {' '.join(str(exc).split())[:500]}") from exc
    outcome = org_ops.act(actor, number, event.kind, event_id=event.event_id, text=event.text,
                          visit_at=event.visit_at, crew=event.crew, photos=photos, bind=ctx.db())
    return Open311Response(represent_event(outcome.event), 201 if outcome.created else 200)


@webhooks.post("work-order-event", response_class=JSONResponse, status_code=200,
               summary="A new or changed work order of your organisation (posted to your webhook)",
               responses={200: {"description": "any 2xx: received (nothing else is read from the answer)"},
                          500: {"description": "anything but a 2xx (or no answer): retried with backoff"}})
def work_order_event(body: WebhookEvent,
                     signature: str = Header(alias=payload.SIGNATURE_HEADER,
                                             description="sha256=<hex HMAC-SHA256 of the raw body>"),
                     event_id: str = Header(alias=payload.EVENT_ID_HEADER)) -> None:
    """Verify the signature over the raw bytes before parsing them, answer 2xx quickly, and process each
    ``event_id`` once (a retry repeats it)."""


@router.get("/openapi.json", include_in_schema=False)
def openapi_document() -> JSONResponse:
    """The OpenAPI document of ``/orgs/v1/`` alone (its routes, models, key and webhook)."""
    return JSONResponse(openapi.orgs_document(router.routes, webhooks.routes))
