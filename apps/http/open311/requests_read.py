"""Reading reports: ``GET requests/{id}.json`` and ``GET requests.json`` (by ids, or by time, service
and status). Public, no key: a report's description shows as the public see it — phones, e-mails and
names masked, nothing when an operator hid it (``incidents.redact``)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from apps.http.open311.answers import PREFIX, ApiError, Open311Response, answers, iso, ru
from apps.http.open311.bodies import listed
from apps.http.open311.deps import Context, context, json_format, public_reader
from auth.model import Actor
from incidents.intake import shown
from incidents.model import Incident
from incidents.redact import public_description
from incidents.sla import Rules, due_at
from incidents.workflow import OPEN311_STATUS, OPEN_STATUSES, STATUSES
from ops import incidents as reports
from ops.base import utcnow
from settings import Settings

MAX_QUERY_CHARS = 64       # a start_date / end_date
REQUEST_ID = re.compile(r"[0-9]{1,18}")

router = APIRouter(prefix=PREFIX)


def represent(inc: Incident, ends: dict[int, datetime], rules: Rules) -> dict[str, Any]:
    """One report as an Open311 service request."""
    rule = rules.services.get(inc.service_code)
    expected = ends.get(inc.outage_id) if inc.outage_id else None
    if inc.status in OPEN_STATUSES:
        expected = expected or due_at(inc, rules)
    note = ru(f"api.status_note.{inc.status}")
    if inc.duplicate_of:
        note += f": #{inc.duplicate_of}"
    if inc.outage_id:
        note = ru("api.status_note_outage", note=note, id=inc.outage_id)
    return {
        "service_request_id": str(inc.id), "status": OPEN311_STATUS[inc.status], "status_notes": note,
        "service_name": rule.name if rule else inc.service_code, "service_code": inc.service_code,
        # public, no key needed: phones, e-mails and names masked; nothing when the operator hid it
        "description": public_description(inc.description, inc.description_private),
        "agency_responsible": rules.agency_responsible, "service_notice": None,
        "requested_datetime": iso(inc.created_at), "updated_datetime": iso(inc.updated_at),
        "expected_datetime": iso(expected),
        "address": inc.address or None,
        "address_id": str(inc.building_id) if inc.building_id else None, "zipcode": None,
        "lat": inc.lat, "long": inc.lon, "media_url": inc.media_url,
    }


def _represent_all(found: reports.Requests, rules: Rules) -> JSONResponse:
    return Open311Response([represent(i, found.outage_ends, rules) for i in found.incidents])


@router.get("/requests/{request_id}.{fmt}", responses=answers(400, 404, 503), dependencies=[Depends(json_format)])
def get_request(request_id: str, ctx: Context = Depends(context),
                actor: Actor = Depends(public_reader)) -> JSONResponse:
    if not REQUEST_ID.fullmatch(request_id):
        raise ApiError(404, f"no service request {shown(request_id)}")
    return _represent_all(reports.request(actor, int(request_id), bind=ctx.db()), ctx.rules)


@router.get("/requests.{fmt}", responses=answers(400, 503), dependencies=[Depends(json_format)])
def list_requests(request: Request, ctx: Context = Depends(context),
                  actor: Actor = Depends(public_reader)) -> JSONResponse:
    filters = request_filters(dict(request.query_params), ctx.settings, ctx.rules)
    return _represent_all(reports.requests(actor, bind=ctx.db(), **filters), ctx.rules)


# ---- the query -----------------------------------------------------------------------------------

def request_filters(q: dict[str, str], s: Settings, rules: Rules) -> dict[str, Any]:
    """The filters of a ``GET requests`` query (at most ``api_max_records`` reports); 400 when one is wrong.
    ``service_request_id`` wins over every other filter."""
    filters: dict[str, Any] = {"limit": s.api_max_records}
    if q.get("service_request_id"):
        filters["ids"] = _ids(q["service_request_id"], s.api_max_records)
        return filters
    end = _parse_when("end_date", q["end_date"]) if q.get("end_date") else None
    start = _parse_when("start_date", q["start_date"]) if q.get("start_date") else None
    if start is None:
        start = _days_before(end or utcnow(), s.api_default_days)
    elif end is not None and end < start:
        raise ApiError(400, f"end_date {shown(q['end_date'])} is before start_date {shown(q.get('start_date', ''))}")
    filters.update(since=start, until=end)
    if q.get("service_code"):
        filters["service_codes"] = _service_codes(q["service_code"], rules)
    if q.get("status"):
        filters["statuses"] = _statuses(q["status"])
    return filters


def _ids(raw: str, max_records: int) -> list[int]:
    if raw.count(",") >= max_records:
        raise ApiError(400, f"service_request_id lists {raw.count(',') + 1} ids; at most {max_records} are accepted")
    wanted = [x.strip() for x in raw.split(",") if x.strip()]
    if not all(REQUEST_ID.fullmatch(x) for x in wanted):
        raise ApiError(400, f"service_request_id must be a comma-separated list of ids, got {shown(raw)}")
    return sorted({int(x) for x in wanted})


def _service_codes(raw: str, rules: Rules) -> list[str]:
    codes = list(dict.fromkeys(c.strip() for c in raw.split(",") if c.strip()))
    unknown = [c for c in codes if c not in rules.services]
    if unknown:
        raise ApiError(400, f"unknown service_code {listed(unknown)}")
    return codes


def _statuses(raw: str) -> list[str]:
    wanted = {v.strip() for v in raw.split(",") if v.strip()}
    bad = wanted - {"open", "closed"}
    if bad:
        raise ApiError(400, f"status must be open or closed, got {listed(sorted(bad))}")
    return [st for st in STATUSES if OPEN311_STATUS[st] in wanted]


def _parse_when(name: str, value: str) -> datetime:
    """An ISO 8601 date/time of a query (UTC when it names no offset); 400 otherwise."""
    try:
        if len(value) > MAX_QUERY_CHARS:
            raise ValueError(value)
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"{name} must be an ISO 8601 date/time, got {shown(value)}") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _days_before(when: datetime, days: int) -> datetime | None:
    """``when`` minus ``days``; None (no lower bound) before year 1 (``end_date=0001-01-01``)."""
    try:
        return when - timedelta(days=days)
    except OverflowError:
        return None
