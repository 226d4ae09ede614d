"""Open311 GeoReport v2 API of the intake (FastAPI), under ``/open311/v2/``.

Every error is an Open311 list ``[{"code": <http status>, "description": "..."}]`` in JSON —
never a plain-text page or a traceback; errors map to status codes in one place (``_status_of``),
and every 503 says when to retry (``Retry-After``). Request bodies are capped at
``api_max_body_bytes`` before anything is parsed. A report's input is checked by the shared
intake model (``incidents/intake.py``), which refuses markup and control characters, so JSON
responses carry text exactly as it was sent (``X-Content-Type-Options: nosniff``; escaping belongs
to whoever renders HTML) — except a report's description, which reads (no key) show as the public
see it: phones, e-mails and names masked, nothing when an operator hid it (``incidents.redact``).
The API key is verified on every write (one indexed lookup, no cache). A 405 names every method of
the path in ``Allow``; the OpenAPI document lists each endpoint's error answers; no answer may be
framed by another site.
"""
from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from auth.model import Actor
from gis.errors import DatabaseUnavailable
from gis.serving import NoFraming, allowed_methods, lazy_engine, thread_pool_lifespan
from i18n import translate, translate_n
from incidents import intake, service
from incidents import keys as keys_mod
from incidents.errors import (
    IncidentError,
)
from incidents.intake import InvalidReport, shown
from incidents.model import Incident
from incidents.redact import public_description
from incidents.sla import Rules, due_at
from incidents.workflow import OPEN311_STATUS, OPEN_STATUSES, STATUSES
from ops import incidents as reports
from ops.errors import status_of
from settings import Settings, get_settings

PREFIX = "/open311/v2"
JSON_CT = "application/json; charset=utf-8"
NOSNIFF = {"X-Content-Type-Options": "nosniff"}
RETRY_AFTER_S = 5          # what a 503 asks the client to wait before retrying (same token: no double)
MAX_FORM_FIELDS = 1000     # fields of a form body
MAX_LISTED_PROBLEMS = 50   # problems listed in one 400 answer (the rest are counted)
MAX_QUERY_CHARS = 64       # a start_date / end_date
_REQUEST_ID = re.compile(r"[0-9]{1,18}")

NOTICE_LANGUAGE = "ru"  # status notes and notices: the Open311 clients of this service are Russian


def _ru(key: str, /, **params: Any) -> str:
    """An API text of the catalogs (``api.*`` in ``locale/``), in the clients' language."""
    return translate(NOTICE_LANGUAGE, key, **params)


def _ru_n(key: str, n: int, /, **params: Any) -> str:
    """A plural API text in the form for ``n``."""
    return translate_n(NOTICE_LANGUAGE, key, n, **params)


class ApiError(Exception):
    """A request the API refuses before the domain sees it (status and description as answered)."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


class Open311Response(JSONResponse):
    """JSON exactly as stored (UTF-8, nothing escaped), never sniffed as HTML by a browser."""

    def __init__(self, content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> None:
        super().__init__(content, status_code=status_code, headers={**NOSNIFF, **(headers or {})})


def _errors(status: int, *descriptions: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """An Open311 error list; every 503 carries ``Retry-After``."""
    if status == 503:
        headers = {"Retry-After": str(RETRY_AFTER_S), **(headers or {})}
    return Open311Response([{"code": status, "description": d} for d in descriptions], status, headers)


def _status_of(exc: Exception) -> int:
    """The HTTP status of an error: the API's own (``ApiError``), else the application's one table
    (``ops.errors.ERRORS``, shared with the pages)."""
    if isinstance(exc, ApiError):
        return exc.status
    return status_of(exc)


def _descriptions(exc: Exception, status: int) -> list[str]:
    """What an error list says: one entry per problem of an invalid report."""
    if status == 503:
        return [f"the database is unavailable; retry in {RETRY_AFTER_S} seconds with the same token"]
    if status == 500:
        return [f"internal error ({type(exc).__name__})"]
    if isinstance(exc, InvalidReport):
        listed = [p.describe() for p in exc.problems[:MAX_LISTED_PROBLEMS]]
        if len(exc.problems) > MAX_LISTED_PROBLEMS:
            listed.append(f"… and {len(exc.problems) - MAX_LISTED_PROBLEMS} more problems")
        return listed
    return [str(exc)]


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
                                (b"x-content-type-options", b"nosniff"), (b"connection", b"close")]})
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


class Open311Error(BaseModel):
    """One entry of an Open311 error list."""

    code: int
    description: str


_ANSWER = {
    400: "invalid request: a malformed parameter or body, an unsupported format, an invalid report",
    403: "api_key missing, unknown or revoked",
    404: "no such service request or service_code",
    409: "the request conflicts with the report's current state",
    415: "unsupported Content-Type or charset",
    503: "the database is unavailable; retry after Retry-After seconds with the same token",
}


def _answers(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers of an endpoint for the OpenAPI document: each an Open311 error list."""
    return {st: {"model": list[Open311Error], "description": _ANSWER[st]} for st in statuses}


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds") if dt else None


def _local(dt: datetime | None, tz: str) -> str:
    """A time for the people who read a notice: the service area's own clock, day first (27.11.2026 23:31)."""
    from zoneinfo import ZoneInfo

    return dt.astimezone(ZoneInfo(tz)).strftime("%d.%m.%Y %H:%M") if dt else "—"


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


def _listed(values: Iterable[str], limit: int = 5) -> str:
    values = list(values)
    more = f" and {len(values) - limit} more" if len(values) > limit else ""
    return ", ".join(shown(v) for v in values[:limit]) + more


# ---- request bodies ----------------------------------------------------------------------------

def _json_int(text: str) -> int | Decimal:
    # a 4300-digit integer is over Python's int-from-text limit: keep it exact, the field check
    # then says "out of range" (or "not an id") instead of the JSON parser failing
    return int(text) if len(text) <= 30 else Decimal(text)


def _json_float(text: str) -> float | Decimal:
    value = float(text)  # 1e400 is inf: keep the text, so that the error shows what was sent
    return value if math.isfinite(value) else Decimal(text)


def _json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON (use a number or null)")


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: Counter[str] = Counter(k for k, _ in pairs)
        raise ValueError(f"duplicate key {_listed(k for k, n in seen.items() if n > 1)}")
    return out


def _charset_ok(content_type: str) -> bool:
    m = re.search(r"charset=\"?([^\";\s]+)", content_type, re.IGNORECASE)
    return m is None or m.group(1).lower() in ("utf-8", "utf8")


def _utf8(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"the {what} body is not valid UTF-8 (byte {exc.start}); lone surrogates "
                            "and other invalid sequences are refused") from None


def parse_json_body(raw: bytes) -> dict[str, Any]:
    """A JSON request body as an object: strict UTF-8 and JSON (no NaN/Infinity, no duplicate
    keys, not nested past the parser's depth); 400 otherwise."""
    text = _utf8(raw, "JSON")
    try:
        data = json.loads(text or "null", parse_int=_json_int, parse_float=_json_float, parse_constant=_json_constant,
                          object_pairs_hook=_json_object)
    except RecursionError:
        raise ApiError(400, "malformed JSON body: nested too deeply") from None
    except ValueError as exc:
        raise ApiError(400, f"malformed JSON body: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, f"the JSON body must be an object, got {type(data).__name__}")
    return data


def form_fields(pairs: Iterable[tuple[str, str]]) -> tuple[dict[str, Any], dict[str, int]]:
    """Form fields as a dict (``name[]`` fields as lists) and how often a single field repeated."""
    data: dict[str, Any] = {}
    counts: Counter[str] = Counter()
    for key, value in pairs:
        if key.endswith("[]"):
            data.setdefault(key, []).append(value)
        else:
            counts[key] += 1
            data[key] = value
    return data, {k: n for k, n in counts.items() if n > 1}


def parse_urlencoded_body(raw: bytes) -> tuple[dict[str, Any], dict[str, int]]:
    """A form-encoded body: strict UTF-8, also inside %-escapes (a lone surrogate is refused,
    never replaced), at most ``MAX_FORM_FIELDS`` fields."""
    text = _utf8(raw, "form")
    try:
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=MAX_FORM_FIELDS)
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"a form field is not valid UTF-8 after %-decoding (byte {exc.start} of the field); "
                            "lone surrogates and other invalid sequences are refused") from None
    except ValueError:
        raise ApiError(400, f"too many form fields; at most {MAX_FORM_FIELDS} are accepted") from None
    return form_fields(pairs)


def create_app(engine: Engine | None = None, *, settings: Settings | None = None,
               rules: Rules | None = None) -> FastAPI:
    """The Open311 app. Without ``engine`` it uses ``gis.db.get_engine()`` (lazily, so the API
    starts even while the database is down and answers 503 until it is back)."""
    s = settings or get_settings()
    the_rules = rules or service.rules_from_settings(s)
    db = lazy_engine(engine, s.database_url)
    lifespan = thread_pool_lifespan(s.api_threads)

    app = FastAPI(lifespan=lifespan, title="zhkh-ops Open311 GeoReport v2", docs_url=f"{PREFIX}/docs",
                  openapi_url=f"{PREFIX}/openapi.json", redoc_url=None, default_response_class=Open311Response)
    app.add_middleware(BodyLimit, max_bytes=s.api_max_body_bytes)
    app.add_middleware(NoFraming)  # the documentation page is HTML: never inside another site's frame

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(app, request.scope)
            return _errors(405, f"method {request.method} not allowed here; allowed: {headers['Allow']}",
                           headers=headers)
        return _errors(exc.status_code, str(exc.detail), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _errors(400, *[f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()])

    async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
        status = _status_of(exc)
        return _errors(status, *_descriptions(exc, status))

    for exc_class in (ApiError, IncidentError, DBAPIError, PoolTimeout, DatabaseUnavailable, psycopg.Error):
        app.add_exception_handler(exc_class, _domain_error)  # type: ignore[arg-type]
    # anything else: still an Open311 list (500), never Starlette's plain-text page; the server logs it
    app.add_exception_handler(Exception, _domain_error)

    def check_format(fmt: str) -> None:
        if fmt != "json":
            raise ApiError(400, f"format {shown(fmt)} not supported; use .json")

    def service_item(code: str) -> dict[str, Any]:
        r = the_rules.services[code]
        return {"service_code": code, "service_name": r.name, "description": r.description,
                "metadata": bool(r.attributes), "type": "realtime", "keywords": ",".join(r.keywords),
                "group": r.group}

    @app.get(PREFIX + "/services.{fmt}", responses=_answers(400))
    def services(fmt: str) -> JSONResponse:
        check_format(fmt)
        return Open311Response([service_item(c) for c in the_rules.services])

    @app.get(PREFIX + "/services/{code}.{fmt}", responses=_answers(400, 404))
    def service_definition(code: str, fmt: str) -> JSONResponse:
        check_format(fmt)
        if code not in the_rules.services:
            raise ApiError(404, f"unknown service_code {shown(code)}")
        attrs = [{"variable": True, "code": a.code, "datatype": a.datatype, "required": a.required,
                  "datatype_description": None, "order": i + 1, "description": a.description,
                  "values": [{"key": k, "name": v} for k, v in a.values.items()]}
                 for i, a in enumerate(the_rules.services[code].attributes)]
        return Open311Response({"service_code": code, "attributes": attrs})

    def represent(inc: Incident, ends: dict[int, datetime]) -> dict[str, Any]:
        rule = the_rules.services.get(inc.service_code)
        expected = ends.get(inc.outage_id) if inc.outage_id else None
        if inc.status in OPEN_STATUSES:
            expected = expected or due_at(inc, the_rules)
        note = _ru(f"api.status_note.{inc.status}")
        if inc.duplicate_of:
            note += f": #{inc.duplicate_of}"
        if inc.outage_id:
            note = _ru("api.status_note_outage", note=note, id=inc.outage_id)
        return {
            "service_request_id": str(inc.id), "status": OPEN311_STATUS[inc.status], "status_notes": note,
            "service_name": rule.name if rule else inc.service_code, "service_code": inc.service_code,
            # public, no key needed: phones, e-mails and names masked; nothing when the operator hid it
            "description": public_description(inc.description, inc.description_private),
            "agency_responsible": the_rules.agency_responsible, "service_notice": None,
            "requested_datetime": _iso(inc.created_at), "updated_datetime": _iso(inc.updated_at),
            "expected_datetime": _iso(expected),
            "address": inc.address or None,
            "address_id": str(inc.building_id) if inc.building_id else None, "zipcode": None,
            "lat": inc.lat, "long": inc.lon, "media_url": inc.media_url,
        }

    @app.get(PREFIX + "/requests/{request_id}.{fmt}", responses=_answers(400, 404, 503))
    def get_request(request_id: str, fmt: str) -> JSONResponse:
        check_format(fmt)
        if not _REQUEST_ID.fullmatch(request_id):
            raise ApiError(404, f"no service request {shown(request_id)}")
        engine = db()
        inc = service.get_incident(engine, int(request_id))
        ends = service.outage_ends(engine, [inc.outage_id]) if inc.outage_id else {}
        return Open311Response([represent(inc, ends)])

    @app.get(PREFIX + "/requests.{fmt}", responses=_answers(400, 503))
    def list_requests(fmt: str, request: Request) -> JSONResponse:
        check_format(fmt)
        q = request.query_params
        filters: dict[str, Any] = {"limit": s.api_max_records}
        if q.get("service_request_id"):
            raw = q["service_request_id"]
            if raw.count(",") >= s.api_max_records:
                raise ApiError(400, f"service_request_id lists {raw.count(',') + 1} ids; at most "
                                    f"{s.api_max_records} are accepted")
            wanted = [x.strip() for x in raw.split(",") if x.strip()]
            if not all(_REQUEST_ID.fullmatch(x) for x in wanted):
                raise ApiError(400, f"service_request_id must be a comma-separated list of ids, got {shown(raw)}")
            filters["ids"] = sorted({int(x) for x in wanted})
        else:
            end = _parse_when("end_date", q["end_date"]) if q.get("end_date") else None
            start = _parse_when("start_date", q["start_date"]) if q.get("start_date") else None
            if start is None:
                start = _days_before(end or service.utcnow(), s.api_default_days)
            elif end is not None and end < start:
                raise ApiError(400, f"end_date {shown(q['end_date'])} is before start_date {shown(q.get('start_date', ''))}")
            filters.update(since=start, until=end)
            if q.get("service_code"):
                codes = list(dict.fromkeys(c.strip() for c in q["service_code"].split(",") if c.strip()))
                unknown = [c for c in codes if c not in the_rules.services]
                if unknown:
                    raise ApiError(400, f"unknown service_code {_listed(unknown)}")
                filters["service_codes"] = codes
            if q.get("status"):
                wanted_status = {v.strip() for v in q["status"].split(",") if v.strip()}
                bad = wanted_status - {"open", "closed"}
                if bad:
                    raise ApiError(400, f"status must be open or closed, got {_listed(sorted(bad))}")
                filters["statuses"] = [st for st in STATUSES if OPEN311_STATUS[st] in wanted_status]
        engine = db()
        found = service.list_incidents(engine, **filters)
        ends = service.outage_ends(engine, [i.outage_id for i in found if i.outage_id])
        return Open311Response([represent(i, ends) for i in found])

    async def read_body(request: Request) -> tuple[dict[str, Any], dict[str, int]]:
        """The fields of a POST body and how often a form field repeated (JSON: never)."""
        ctype = request.headers.get("content-type", "")
        media = ctype.split(";", 1)[0].strip().lower()
        supported = media in ("application/json", "application/x-www-form-urlencoded", "multipart/form-data") \
            or media.endswith("+json")
        if not supported or not _charset_ok(ctype):
            raise ApiError(415, f"Content-Type {shown(ctype)} is not supported; send application/x-www-form-urlencoded, "
                                "multipart/form-data or application/json in UTF-8")
        raw = await request.body()
        if media == "application/x-www-form-urlencoded":
            return parse_urlencoded_body(raw)
        if media != "multipart/form-data":
            return parse_json_body(raw), {}
        try:
            form = await request.form(max_fields=MAX_FORM_FIELDS)
        except Exception as exc:  # the multipart parser raises several types
            raise ApiError(400, f"unreadable form body: {exc}") from None
        files = [k for k, v in form.multi_items() if isinstance(v, UploadFile)]
        if files:
            raise ApiError(400, f"file uploads are not accepted (field {_listed(files)}); send a media_url")
        _utf8(raw, "form")  # Starlette would decode a bad part as Latin-1 and store mojibake
        return form_fields((k, v) for k, v in form.multi_items() if isinstance(v, str))

    @app.post(PREFIX + "/requests.{fmt}", responses=_answers(400, 403, 409, 415, 503))
    async def post_request(fmt: str, request: Request) -> JSONResponse:
        check_format(fmt)
        data, repeated = await read_body(request)
        return await run_in_threadpool(_post, data, repeated, request.headers.get("idempotency-key"))

    def _post(data: dict[str, Any], repeated: dict[str, int], idem_header: str | None) -> JSONResponse:
        engine = db()
        key = keys_mod.verify_api_key(engine, data.get("api_key"))  # every write: a revoked key stops at once
        report = intake.parse_open311(data, rules=the_rules, idempotency_key=idem_header, repeated=repeated)
        result = reports.take_report(Actor.api_client(key.name), bind=engine, **report.as_kwargs(), api_key_id=key.id,
                                     rules=the_rules, settings=s)
        tz = the_rules.timezone
        notice = _ru("api.notice.accepted", expected=_local(result.expected_at, tz))
        if result.outage:
            outage = result.outage
            notice = (_ru("api.notice.outage_reason", id=outage.outage_id, reason=outage.reason,
                          expected=_local(outage.expected_end, tz)) if outage.reason else
                      _ru("api.notice.outage", id=outage.outage_id, expected=_local(outage.expected_end, tz)))
        elif result.duplicate_candidates:
            similar = [f"#{c.incident_id}" for c in result.duplicate_candidates[:3]]
            notice = _ru_n("api.notice.similar", len(similar), notice=notice, ids=", ".join(similar))
        return Open311Response([{"service_request_id": str(result.incident.id), "service_notice": notice,
                                 "account_id": None}], status_code=201 if result.created else 200)

    def openapi() -> dict[str, Any]:
        """FastAPI's document without its 422 answers: this API answers a bad parameter with 400."""
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            doc = get_openapi(title=app.title, version=app.version, routes=app.routes)
            for item in doc.get("paths", {}).values():
                for op in item.values():
                    op.get("responses", {}).pop("422", None)
            for name in ("HTTPValidationError", "ValidationError"):
                doc.get("components", {}).get("schemas", {}).pop(name, None)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
