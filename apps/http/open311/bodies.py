"""Request bodies: capped at ``api_max_body_bytes`` before anything is parsed (``BodyLimit``), then read
strictly — UTF-8 (also inside %-escapes), JSON without NaN or duplicate keys, at most
``MAX_FORM_FIELDS`` form fields, no file uploads. Anything else is a 400 (or 415 for a media type or
charset the API does not read), never a guess."""
from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.types import ASGIApp, Receive, Scope, Send

from apps.http import asgi
from apps.http.open311.answers import JSON_CT, ApiError
from incidents.intake import shown

MAX_FORM_FIELDS = 1000     # fields of a form body

Fields = tuple[dict[str, Any], dict[str, int]]   # a body's fields, and how often a single form field repeated


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` before the app reads them (400, Open311 list)."""

    def __init__(self, app: ASGIApp, max_bytes: int, larger: tuple[tuple[str, int], ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger   # (path prefix, cap): routes that take photos

    def _cap(self, scope: Scope) -> int:
        path = str(scope.get("path") or "")
        return next((cap for prefix, cap in self.larger if path.startswith(prefix)), self.max_bytes)

    async def _refuse(self, send: Send, size: str, cap: int) -> None:
        body = json.dumps([{"code": 400, "description": f"request body too large ({size}); at most "
                            f"{cap} bytes are accepted (description ≤ 4000 characters)"}]).encode()
        await send({"type": "http.response.start", "status": 400,
                    "headers": [(b"content-type", JSON_CT.encode()), (b"content-length", str(len(body)).encode()),
                                (b"x-content-type-options", b"nosniff"), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self._cap(scope)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            await self._declared(scope, receive, send, length, cap)
        elif scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
        else:
            await self._chunked(scope, receive, send, cap)

    async def _declared(self, scope: Scope, receive: Receive, send: Send, length: bytes, cap: int) -> None:
        """A body of a declared length: refused at once when it says more than the cap."""
        try:
            n = int(length)
        except ValueError:
            await self._refuse(send, "unreadable Content-Length", cap)
            return
        if n > cap:
            await self._refuse(send, f"{n} bytes", cap)
            return
        await self.app(scope, receive, send)

    async def _chunked(self, scope: Scope, receive: Receive, send: Send, cap: int) -> None:
        """A chunked body: read here, at most ``cap`` bytes, then replayed to the app."""
        body, too_big = await asgi.read_body(receive, cap)
        if too_big:
            await self._refuse(send, f"more than {cap} bytes", cap)
            return
        await self.app(scope, asgi.replaying(body, receive), send)


def listed(values: Iterable[str], limit: int = 5) -> str:
    """At most ``limit`` values as shown to the client, and how many more."""
    values = list(values)
    more = f" and {len(values) - limit} more" if len(values) > limit else ""
    return ", ".join(shown(v) for v in values[:limit]) + more


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
        raise ValueError(f"duplicate key {listed(k for k, n in seen.items() if n > 1)}")
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


def form_fields(pairs: Iterable[tuple[str, str]]) -> Fields:
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


def parse_urlencoded_body(raw: bytes) -> Fields:
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


async def _multipart(request: Request, raw: bytes) -> Fields:
    try:
        form = await request.form(max_fields=MAX_FORM_FIELDS)
    except Exception as exc:  # the multipart parser raises several types
        raise ApiError(400, f"unreadable form body: {exc}") from None
    files = [k for k, v in form.multi_items() if isinstance(v, UploadFile)]
    if files:
        raise ApiError(400, f"file uploads are not accepted (field {listed(files)}); send a media_url")
    _utf8(raw, "form")  # Starlette would decode a bad part as Latin-1 and store mojibake
    return form_fields((k, v) for k, v in form.multi_items() if isinstance(v, str))


async def read_body(request: Request) -> Fields:
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
    return await _multipart(request, raw)
