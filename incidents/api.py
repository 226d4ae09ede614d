"""Open311 GeoReport v2 API of the intake (FastAPI), under ``/open311/v2/``.

Errors are Open311 lists ``[{"code": <http status>, "description": "..."}]``; domain errors map
to status codes in one place (``_status_of``). Request bodies are capped at
``api_max_body_bytes`` before anything is parsed, so a 5 MB description is refused at once.
Free text in responses (description, address, notes) is HTML-escaped: the stored text is exact,
and a client that pastes it into a page cannot be made to run a script.
"""
from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gis.errors import DatabaseUnavailable
from incidents import keys as keys_mod
from incidents import service
from incidents.errors import (
    IncidentError,
    IncidentNotFound,
    InvalidApiKey,
    OutageNotFound,
    UnknownServiceCode,
)
from incidents.model import Incident
from incidents.sla import Rules, due_at
from incidents.workflow import OPEN311_STATUS, OPEN_STATUSES, STATUSES
from settings import Settings, get_settings

PREFIX = "/open311/v2"
JSON_CT = "application/json; charset=utf-8"

STATUS_NOTES = {
    "new": "Заявка зарегистрирована", "accepted": "Заявка принята диспетчером",
    "dispatched": "Бригада направлена", "in_progress": "Бригада на месте, идут работы",
    "resolved": "Работы выполнены", "closed": "Заявка закрыта", "rejected": "Заявка отклонена",
    "duplicate": "Дубликат другой заявки", "cancelled": "Заявка отменена",
}


class ApiError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _errors(status: int, *descriptions: str) -> JSONResponse:
    return JSONResponse([{"code": status, "description": d} for d in descriptions], status_code=status,
                        headers={"X-Content-Type-Options": "nosniff"})


def _status_of(exc: Exception) -> int:
    """Where domain errors become HTTP statuses (the single mapping of the API)."""
    if isinstance(exc, InvalidApiKey):
        return 403
    if isinstance(exc, (IncidentNotFound, OutageNotFound)):
        return 404
    if isinstance(exc, (OperationalError, InterfaceError, PoolTimeout, DatabaseUnavailable)):
        return 503
    if isinstance(exc, IncidentError):
        return 400
    return 500


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` before the app reads them (400, Open311 list)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send: Send, size: str) -> None:
        body = json.dumps([{"code": 400, "description": f"request body too large ({size}); at most "
                            f"{self.max_bytes} bytes are accepted (description ≤ 4000 characters)"}]).encode()
        await send({"type": "http.response.start", "status": 400,
                    "headers": [(b"content-type", JSON_CT.encode()), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                n = int(length)
            except ValueError:
                await self._refuse(send, "unreadable Content-Length")
                return
            if n > self.max_bytes:
                await self._refuse(send, f"{n} bytes")
                return
            await self.app(scope, receive, send)
            return
        if scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        # chunked body: read it here, at most max_bytes, then replay it
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send, f"more than {self.max_bytes} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds") if dt else None


def _parse_when(name: str, value: str) -> datetime:
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"{name} must be an ISO 8601 date/time, got {value!r}") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _float(name: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"{name} must be a number, got {value!r}") from None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        raise ApiError(400, f"expected a text value, got {type(value).__name__}")
    v = str(value).strip()
    return v or None


class _KeyCache:
    """Verified API keys for a few seconds (a revoked key stops working within the TTL)."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._hits: dict[str, tuple[float, int]] = {}

    def verify(self, engine: Engine, key: str | None) -> int:
        if not key:
            raise InvalidApiKey("api_key is required")
        now = time.monotonic()
        with self._lock:
            hit = self._hits.get(key)
        if hit and hit[0] > now:
            return hit[1]
        key_id = keys_mod.verify_api_key(engine, key)
        with self._lock:
            self._hits[key] = (now + self.ttl_s, key_id)
        return key_id


def create_app(engine: Engine | None = None, *, settings: Settings | None = None,
               rules: Rules | None = None) -> FastAPI:
    """The Open311 app. Without ``engine`` it uses ``gis.db.get_engine()`` (lazily, so the API
    starts even while the database is down and answers 503 until it is back)."""
    s = settings or get_settings()
    the_rules = rules or service.rules_from_settings(s)
    keys = _KeyCache(s.api_key_cache_s)
    engine_box: dict[str, Engine] = {}
    engine_lock = threading.Lock()
    if engine is not None:
        engine_box["e"] = engine

    def db() -> Engine:
        with engine_lock:
            if "e" not in engine_box:
                from gis.db import get_engine
                engine_box["e"] = get_engine(s.database_url) if s.database_url else get_engine()
            return engine_box["e"]

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # a few threads for the blocking DB work: dozens only fight over the GIL and stretch the tail
        anyio.to_thread.current_default_thread_limiter().total_tokens = s.api_threads
        yield

    app = FastAPI(lifespan=lifespan, title="zhkh-ops Open311 GeoReport v2", docs_url=f"{PREFIX}/docs", openapi_url=f"{PREFIX}/openapi.json",
                  redoc_url=None)
    app.add_middleware(BodyLimit, max_bytes=s.api_max_body_bytes)

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _errors(exc.status, exc.description)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _errors(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _errors(400, *[f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()])

    async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
        status = _status_of(exc)
        if status == 503:
            return _errors(503, "the database is unavailable; retry in a few seconds")
        if status == 500:
            return _errors(500, f"internal error ({type(exc).__name__})")
        return _errors(status, str(exc))

    for exc_class in (IncidentError, DBAPIError, PoolTimeout, DatabaseUnavailable):
        app.add_exception_handler(exc_class, _domain_error)  # type: ignore[arg-type]

    def check_format(fmt: str) -> None:
        if fmt != "json":
            raise ApiError(400, f"format {fmt!r} not supported; use .json")

    def service_item(code: str) -> dict[str, Any]:
        r = the_rules.services[code]
        return {"service_code": code, "service_name": r.name, "description": r.description,
                "metadata": bool(r.attributes), "type": "realtime", "keywords": ",".join(r.keywords),
                "group": r.group}

    @app.get(PREFIX + "/services.{fmt}")
    def services(fmt: str) -> JSONResponse:
        check_format(fmt)
        return JSONResponse([service_item(c) for c in the_rules.services])

    @app.get(PREFIX + "/services/{code}.{fmt}")
    def service_definition(code: str, fmt: str) -> JSONResponse:
        check_format(fmt)
        if code not in the_rules.services:
            raise ApiError(404, f"unknown service_code {code!r}")
        attrs = [{"variable": True, "code": a.code, "datatype": a.datatype, "required": a.required,
                  "datatype_description": None, "order": i + 1, "description": a.description,
                  "values": [{"key": k, "name": v} for k, v in a.values.items()]}
                 for i, a in enumerate(the_rules.services[code].attributes)]
        return JSONResponse({"service_code": code, "attributes": attrs})

    def represent(inc: Incident, ends: dict[int, datetime]) -> dict[str, Any]:
        rule = the_rules.services.get(inc.service_code)
        expected = ends.get(inc.outage_id) if inc.outage_id else None
        if inc.status in OPEN_STATUSES:
            expected = expected or due_at(inc, the_rules)
        note = STATUS_NOTES[inc.status]
        if inc.duplicate_of:
            note += f": #{inc.duplicate_of}"
        if inc.outage_id:
            note += f"; связана с отключением #{inc.outage_id}"
        return {
            "service_request_id": str(inc.id), "status": OPEN311_STATUS[inc.status],
            "status_notes": service.display_text(note),
            "service_name": rule.name if rule else inc.service_code, "service_code": inc.service_code,
            "description": service.display_text(inc.description),
            "agency_responsible": the_rules.agency_responsible, "service_notice": None,
            "requested_datetime": _iso(inc.created_at), "updated_datetime": _iso(inc.updated_at),
            "expected_datetime": _iso(expected),
            "address": service.display_text(inc.address) if inc.address else None,
            "address_id": str(inc.building_id) if inc.building_id else None, "zipcode": None,
            "lat": inc.lat, "long": inc.lon, "media_url": inc.media_url,
        }

    @app.get(PREFIX + "/requests/{request_id}.{fmt}")
    def get_request(request_id: str, fmt: str) -> JSONResponse:
        check_format(fmt)
        if not request_id.isdigit() or len(request_id) > 18:
            raise ApiError(404, f"no service request {request_id!r}")
        engine = db()
        inc = service.get_incident(engine, int(request_id))
        ends = service.outage_ends(engine, [inc.outage_id]) if inc.outage_id else {}
        return JSONResponse([represent(inc, ends)])

    @app.get(PREFIX + "/requests.{fmt}")
    def list_requests(fmt: str, request: Request) -> JSONResponse:
        check_format(fmt)
        q = request.query_params
        filters: dict[str, Any] = {"limit": s.api_max_records}
        if q.get("service_request_id"):
            try:
                filters["ids"] = [int(x) for x in q["service_request_id"].split(",") if x.strip()]
            except ValueError:
                raise ApiError(400, f"service_request_id must be a comma-separated list of ids, "
                                    f"got {q['service_request_id']!r}") from None
        else:
            end = _parse_when("end_date", q["end_date"]) if q.get("end_date") else None
            start = _parse_when("start_date", q["start_date"]) if q.get("start_date") else None
            if start is None:
                start = (end or service.utcnow()) - timedelta(days=s.api_default_days)
            if end is not None and end < start:
                raise ApiError(400, f"end_date {q['end_date']} is before start_date")
            filters.update(since=start, until=end)
            if q.get("service_code"):
                codes = [c.strip() for c in q["service_code"].split(",") if c.strip()]
                unknown = [c for c in codes if c not in the_rules.services]
                if unknown:
                    raise ApiError(400, f"unknown service_code {', '.join(map(repr, unknown))}")
                filters["service_codes"] = codes
            if q.get("status"):
                wanted = {v.strip() for v in q["status"].split(",") if v.strip()}
                bad = wanted - {"open", "closed"}
                if bad:
                    raise ApiError(400, f"status must be open or closed, got {', '.join(sorted(bad))}")
                filters["statuses"] = [st for st in STATUSES if OPEN311_STATUS[st] in wanted]
        engine = db()
        found = service.list_incidents(engine, **filters)
        ends = service.outage_ends(engine, [i.outage_id for i in found if i.outage_id])
        return JSONResponse([represent(i, ends) for i in found])

    async def read_body(request: Request) -> dict[str, Any]:
        ctype = request.headers.get("content-type", "").lower()
        if "json" in ctype:
            raw = await request.body()
            try:
                data = json.loads(raw or b"null")
            except (ValueError, UnicodeDecodeError) as exc:
                raise ApiError(400, f"malformed JSON body: {exc}") from None
            if not isinstance(data, dict):
                raise ApiError(400, f"the JSON body must be an object, got {type(data).__name__}")
            return data
        try:
            form = await request.form()
        except Exception as exc:  # the multipart parser raises several types
            raise ApiError(400, f"unreadable form body: {exc}") from None
        return {k: v for k, v in form.items() if isinstance(v, str)}

    @app.post(PREFIX + "/requests.{fmt}")
    async def post_request(fmt: str, request: Request) -> JSONResponse:
        check_format(fmt)
        data = await read_body(request)
        return await run_in_threadpool(_post, data, request.headers.get("idempotency-key"))

    def _post(data: dict[str, Any], idem_header: str | None) -> JSONResponse:
        engine = db()
        keys.verify(engine, _text(data.get("api_key")))
        problems: list[str] = []
        code = _text(data.get("service_code"))
        if not code:
            problems.append("service_code is required")
        elif code not in the_rules.services:
            raise UnknownServiceCode(f"unknown service_code {code!r}; see services.json")
        lat, lon = data.get("lat"), data.get("long")
        address = _text(data.get("address_string"))
        address_id = _text(data.get("address_id"))
        loc: dict[str, Any] = {}
        if lat not in (None, "") or lon not in (None, ""):
            if lat in (None, "") or lon in (None, ""):
                problems.append("both lat and long are required together")
            else:
                loc = {"lat": _float("lat", lat), "lon": _float("long", lon)}
        elif address_id:
            if not address_id.isdigit():
                problems.append(f"address_id must be a building id, got {address_id!r}")
            else:
                loc = {"building_id": int(address_id)}
        elif address:
            loc = {"address": address}
        else:
            problems.append("a location is required: lat+long, address_string or address_id")
        description = data.get("description") or ""
        if not isinstance(description, str):
            problems.append("description must be text")
        elif len(description) > service.MAX_DESCRIPTION_CHARS:
            problems.append(f"description is {len(description)} characters long; at most "
                            f"{service.MAX_DESCRIPTION_CHARS} are accepted")
        if problems:
            raise ApiError(400, "; ".join(problems))
        if loc.get("address") is None and address and "lat" in loc:
            loc["address"] = address
        name = " ".join(p for p in (_text(data.get("first_name")), _text(data.get("last_name"))) if p) or None
        attributes = {k[len("attribute["):-1]: v for k, v in data.items()
                      if isinstance(k, str) and k.startswith("attribute[") and k.endswith("]")}
        if isinstance(data.get("attribute"), dict):
            attributes.update(data["attribute"])
        token = _text(data.get("token")) or _text(idem_header)
        result = service.create_incident(
            engine, service_code=code, description=description, channel="api",
            reporter_name=name, reporter_phone=_text(data.get("phone")), reporter_email=_text(data.get("email")),
            media_url=_text(data.get("media_url")), attributes=attributes, client_token=token,
            rules=the_rules, settings=s, actor="open311", **loc,
        )
        notice = f"Заявка принята. Ожидаемый срок: {_iso(result.expected_at)}"
        if result.outage:
            notice = (f"По вашему адресу идёт отключение #{result.outage.outage_id}"
                      f"{' (' + result.outage.reason + ')' if result.outage.reason else ''}; "
                      f"ожидаемое восстановление: {_iso(result.outage.expected_end)}")
        elif result.duplicate_candidates:
            notice += "; похожая заявка уже есть: #" + ", #".join(str(c.incident_id) for c in result.duplicate_candidates[:3])
        return JSONResponse([{"service_request_id": str(result.incident.id),
                              "service_notice": service.display_text(notice), "account_id": None}],
                            status_code=201 if result.created else 200)

    return app

