"""A work order as organisations' systems read it — the one representation of ``GET /orgs/v1/work-orders/{id}``
and of a webhook event — and the signed body of an event.

An event's body is JSON ``{"event_id", "type", "occurred_at", "work_order"}`` in UTF-8; its signature is
``sha256=<hex HMAC-SHA256 of those exact bytes with the organisation's secret>`` (header ``X-Zhkh-Signature``).
The bytes are made the same way on every attempt, so a retried event carries the same signature."""
from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timezone
from typing import Any

from incidents.model import QueueItem
from incidents.work_orders import WorkOrderEvent

SIGNATURE_HEADER = "X-Zhkh-Signature"
EVENT_ID_HEADER = "X-Zhkh-Event-Id"
EVENT_TYPE_HEADER = "X-Zhkh-Event-Type"

#: what an event says happened (``work_order.<kind>`` for the organisation's own actions)
TYPES: tuple[str, ...] = (
    "work_order.created",         # a report the organisation answers for: at intake, or the service named it later
    "work_order.accepted", "work_order.assigned", "work_order.visit_planned", "work_order.resolved",
    "work_order.returned",        # the organisation's own actions (desk, crew, API)
    "work_order.on_the_way", "work_order.arrived",   # a crew's phone (ops.field)
    "work_order.status_changed",  # the service moved it (dispatcher, an outage's step, the resident's "not fixed")
    "work_order.withdrawn",       # the service named another organisation: no longer yours
)


def iso(dt: datetime | None) -> str | None:
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds") if dt else None


def work_order(q: QueueItem) -> dict[str, Any]:
    """The fields of a work order (the list and the detail of ``/orgs/v1/work-orders``)."""
    i = q.incident
    return {"id": i.id, "status": i.status, "org_state": i.org_state, "service_code": i.service_code,
            "category": i.category, "priority": i.priority, "address": i.address, "lat": i.lat, "long": i.lon,
            "description": i.description, "created_at": iso(i.created_at), "due_at": iso(q.due_at),
            "sla_state": q.sla_state, "crew": i.crew_login, "visit_at": iso(i.visit_at), "answer": i.org_answer}


def event(e: WorkOrderEvent) -> dict[str, Any]:
    """One action of the organisation on its work order."""
    return {"event_id": e.event_id, "kind": e.kind, "text": e.text, "visit_at": iso(e.visit_at),
            "crew": e.crew_login, "author": e.author, "at": iso(e.at)}


def work_order_detail(q: QueueItem, events: list[WorkOrderEvent]) -> dict[str, Any]:
    """A work order with its events (``GET /orgs/v1/work-orders/{id}``, a webhook event's ``work_order``)."""
    return {**work_order(q), "events": [event(e) for e in events]}


def body(event_id: str, type_: str, occurred_at: datetime, order: dict[str, Any]) -> bytes:
    """The exact bytes posted for an event (and signed)."""
    return json.dumps({"event_id": event_id, "type": type_, "occurred_at": iso(occurred_at), "work_order": order},
                      ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def signature(secret: bytes, raw: bytes) -> str:
    """The ``X-Zhkh-Signature`` of ``raw``."""
    return "sha256=" + hmac.new(secret, raw, hashlib.sha256).hexdigest()


def verify(secret: bytes, raw: bytes, header: str) -> bool:
    """What a receiver does (docs/webhooks.md): recompute and compare in constant time."""
    return hmac.compare_digest(signature(secret, raw), header or "")
