"""The crew's actions, as JSON under ``/api/`` (the page's script sends them at once, or later from its
offline queue): a step on a work order, a mark on a valve. Each carries the client's ``event_id`` (a
repeated one answers with what was stored); the ``X-CSRF-Token`` header must equal the CSRF cookie. The
body must be valid UTF-8 JSON; every refusal is ``{"error": <words in the page's language>, "key": …}``."""
from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from apps.http.asgi import read_body
from apps.http.field.site import Refusal, crew_actor, csrf_matches, secure, site_of, texts
from ops import field as field_ops

router = APIRouter()
DONE = {"on_the_way": "fieldapp.done.on_the_way", "arrived": "fieldapp.done.arrived",
        "resolved": "fieldapp.done.resolved", "closed": "fieldapp.done.valve_closed",
        "stuck": "fieldapp.done.valve_stuck"}
MAX_BODY = 16 * 1024 * 1024   # up to five photos resized on the phone, base64


async def _body(request: Request) -> dict[str, Any]:
    if not csrf_matches(request, request.headers.get("x-csrf-token", "")):
        raise Refusal(403, "fieldapp.err.csrf")
    raw, too_big = await read_body(request.receive, MAX_BODY)
    if too_big:
        raise Refusal(413, "fieldapp.err.too_big")
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise Refusal(400, "fieldapp.err.utf8") from None
    except ValueError:
        raise Refusal(400, "fieldapp.err.json") from None
    if not isinstance(body, dict):
        raise Refusal(400, "fieldapp.err.json")
    return body


def _id(value: str, key: str) -> int:
    if not value.isdigit() or len(value) > 12:
        raise Refusal(404, key, id=value[:20])
    return int(value)


def _photos(raw: object) -> list[field_ops.PhotoIn]:
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        raise Refusal(400, "fieldapp.err.photo", mb=8)
    out = []
    for p in raw:
        if not isinstance(p, dict) or not isinstance(p.get("data"), str) or len(p["data"]) > field_ops.MAX_PHOTO_B64:
            raise Refusal(400, "fieldapp.err.photo", mb=8)
        data = p["data"].split(",", 1)[1] if p["data"].startswith("data:") else p["data"]
        try:
            blob = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise Refusal(400, "fieldapp.err.photo", mb=8) from None
        pos = (p.get("lat"), p.get("lon")) if p.get("lat") not in (None, "") or p.get("lon") not in (None, "") else None
        out.append(field_ops.PhotoIn(blob, p.get("taken_at") or None, pos))  # type: ignore[arg-type]
    return out


def _answer(request: Request, key: str, created: bool, **params: Any) -> Response:
    tx = texts(request)
    return secure(JSONResponse({"ok": True, "stored": created, "message": tx.t(key, **params)},
                               status_code=201 if created else 200, headers={"Cache-Control": "no-store"}))


@router.post("/api/orders/{incident_id}/events")
async def order_event(request: Request, incident_id: str) -> Response:
    actor = crew_actor(request)
    body = await _body(request)
    oid = _id(incident_id, "fieldapp.err.unknown_order")
    kind = body.get("kind")
    out = field_ops.order_step(actor, oid, kind if isinstance(kind, str) else "", event_id=body.get("event_id"),
                               text=body.get("text", ""), done_at=body.get("at"), lat=body.get("lat"),
                               lon=body.get("lon"), photos=_photos(body.get("photos")), bind=site_of(request).db())
    return _answer(request, DONE[out.event.kind], out.created, id=oid)


@router.post("/api/outages/{outage_id}/valves/{valve_id}")
async def valve_mark(request: Request, outage_id: str, valve_id: str) -> Response:
    actor = crew_actor(request)
    body = await _body(request)
    oid = _id(outage_id, "fieldapp.err.unknown_outage")
    vid = _id(valve_id, "fieldapp.err.unknown_valve")
    kind = body.get("kind")
    out = field_ops.mark_valve(actor, oid, vid, kind if isinstance(kind, str) else "", event_id=body.get("event_id"),
                               done_at=body.get("at"), lat=body.get("lat"), lon=body.get("lon"),
                               note=body.get("note", ""), bind=site_of(request).db())
    return _answer(request, DONE[out.mark.kind], out.created, id=oid)
