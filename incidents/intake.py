"""One model of a report's input, shared by the Open311 API, the hotline form and
``service.create_incident``: the limit of every field, one text policy, the service's attributes.

Problems are structured — ``Problem(field, code, params)`` — so that the API renders them in
English (``Problem.describe()``) and the hotline form translates them (keys
``intake.problem.<code>`` in ``locale/*/LC_MESSAGES/zhkh.po``). Validators collect every problem and
raise ``InvalidReport`` once; nothing is stripped or escaped: a value is accepted as sent or refused.

Text policy (every text field): no control characters (tab, newline and CR are allowed in the
description only), no bidirectional-override characters, no lone surrogates, no HTML markup — a
``<`` followed by a letter, ``/``, ``!`` or ``?`` (what a browser reads as a tag, an end tag, a
comment or a processing instruction) and character references (``&lt;``, ``&#60;``, ``&#x3c;``:
numeric ones, and named ones that HTML defines). A ``<`` before a digit, a space or a Cyrillic
letter, a lone ``&`` (``R&D;``) and Markdown characters are ordinary text.
"""
from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from datetime import datetime
from decimal import Decimal, InvalidOperation
from html.entities import html5
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from incidents.errors import (
    DescriptionTooLong,
    InvalidIncident,
    MissingLocation,
    UnknownCategory,
    UnknownServiceCode,
)
from incidents.sla import CATEGORIES, PRIORITIES, Rules, ServiceAttribute

CHANNELS: tuple[str, ...] = ("phone", "app", "portal", "sensor", "api")

#: Longest accepted value of each text field, in characters. Keys are the names a caller uses:
#: ``create_incident`` keywords and Open311 parameters (``Idempotency-Key`` is the HTTP header).
LIMITS: Mapping[str, int] = MappingProxyType({
    "description": 4000,
    "address": 200, "address_string": 200,
    "first_name": 200, "last_name": 200,
    "reporter_name": 401,                       # first_name + " " + last_name
    "reporter_phone": 200, "phone": 200,
    "reporter_email": 200, "email": 200,
    "media_url": 200,
    "client_token": 200, "token": 200, "Idempotency-Key": 200,
    "device_id": 200, "account_id": 200, "jurisdiction_id": 200,
})
#: Longest accepted attribute value by datatype (each key of a multivaluelist counts alone).
ATTRIBUTE_LIMITS: Mapping[str, int] = MappingProxyType({
    "string": 200, "text": 2000, "singlevaluelist": 200, "multivaluelist": 200, "datetime": 64, "number": 64,
})
MAX_ID = 2**63 - 1
MULTILINE = frozenset({"description"})

#: Every problem code and its English text (the API's description); ``field`` is always a parameter.
ENGLISH: Mapping[str, str] = MappingProxyType({
    "required": "{field} is required",
    "repeated": "{field} was given {count} times; send it once",
    "not_text": "{field} must be text, got {type}",
    "not_object": "{field} must be an object of code: value pairs, got {type}",
    "too_long": "{field} is {length} characters long; at most {max} are accepted",
    "control_char": "{field} contains the control character {char} at position {position}; send plain text",
    "surrogate": "{field} contains a lone surrogate {char} at position {position}; it is not valid Unicode text",
    "html": "{field} contains HTML markup {fragment} at position {position}; send plain text",
    "not_number": "{field} must be a number, got {value}",
    "out_of_range": "{field} must be a finite number from {min} to {max}, got {value}",
    "not_id": "{field} must be a building id (a whole number from 1 to {max}), got {value}",
    "incomplete_point": "both lat and long are required together, got only {given}",
    "no_location": "a location is required: lat+long, address_string or address_id",
    "unknown_service": "unknown service_code {value}; known: {known}",
    "unknown_category": "unknown category {value}; expected one of {known}",
    "category_mismatch": "category {value} does not match service_code {service_code} (category {expected})",
    "not_allowed": "{field} must be one of {allowed}, got {value}",
    "not_http_url": "{field} must be an absolute http:// or https:// URL, got {value}",
    "bad_phone": "{field} must be a phone number (digits, spaces, + - ( ) .), got {value}",
    "bad_email": "{field} must be an e-mail address (name@domain), got {value}",
    "unknown_attribute": "service {service_code} has no attribute {code}; known: {known}",
    "not_datetime": "{field} must be an ISO 8601 date/time, got {value}",
})
PROBLEM_CODES: tuple[str, ...] = tuple(ENGLISH)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a report: the field as the caller named it, a code from
    ``PROBLEM_CODES`` and the parameters of its text (values the caller sent come ``shown``)."""

    field: str
    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """The problem in English (the Open311 API's error description)."""
        return ENGLISH[self.code].format(field=self.field, **self.params)

    def __str__(self) -> str:
        return self.describe()


class InvalidReport(InvalidIncident):
    """A report with one or more invalid fields; ``problems`` lists every one of them."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("; ".join(p.describe() for p in self.problems))

    @staticmethod
    def of(problems: Iterable[Problem]) -> InvalidReport:
        """The error for ``problems``; also an instance of the older, narrower class of the first
        one (``UnknownServiceCode``, ``DescriptionTooLong``…) so that existing handlers still match."""
        problems = tuple(problems)
        first = problems[0]
        cls: type[InvalidReport] = InvalidReport
        if first.code == "unknown_service":
            cls = _UnknownService
        elif first.code == "unknown_category":
            cls = _UnknownCategory
        elif first.code == "too_long" and first.field == "description":
            cls = _DescriptionTooLong
        elif first.code in ("incomplete_point", "no_location"):
            cls = _MissingLocation
        return cls(problems)


class _UnknownService(InvalidReport, UnknownServiceCode):
    """An invalid report whose first problem is an unknown service code."""


class _UnknownCategory(InvalidReport, UnknownCategory):
    """An invalid report whose first problem is an unknown category."""


class _DescriptionTooLong(InvalidReport, DescriptionTooLong):
    """An invalid report whose first problem is a description over its limit."""


class _MissingLocation(InvalidReport, MissingLocation):
    """An invalid report whose first problem is a missing or half location."""


@dataclass(frozen=True)
class ReportInput:
    """A checked report, in ``create_incident``'s terms (single-line text is stripped; the
    description is exactly as sent)."""

    service_code: str
    lat: float | None = None
    lon: float | None = None
    address: str | None = None
    building_id: int | None = None
    description: str = ""
    channel: str = "phone"
    priority: str | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    reporter_email: str | None = None
    media_url: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    client_token: str | None = None

    def as_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``service.create_incident``."""
        return asdict(self)


# ---- the text policy ---------------------------------------------------------------------------

_CONTROL_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROL_MULTILINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_HTML = re.compile(r"<[A-Za-z/!?]|&#[0-9]|&#[xX][0-9A-Fa-f]|&([A-Za-z][A-Za-z0-9]{0,31});")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_ID = re.compile(r"[0-9]{1,19}")
_PHONE = re.compile(r"[0-9+()\-. ]+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_CODE = re.compile(r"[A-Za-z0-9_.-]{1,50}")


def shown(value: Any, limit: int = 40) -> str:
    """A received value for a message: quoted with escapes (control characters and surrogates
    visible), at most ``limit`` characters of it."""
    if isinstance(value, str):
        return repr(value[:limit]) + ("…" if len(value) > limit else "")
    if isinstance(value, bool) or value is None:
        return str(value).lower() if value is not None else "null"
    if isinstance(value, int) and value.bit_length() > 128:
        return "an integer of more than 38 digits"
    text = str(value)
    return text[:limit] + ("…" if len(text) > limit else "")


def _type(value: Any) -> str:
    return {dict: "an object", list: "a list", bool: "a boolean", int: "a number", float: "a number",
            Decimal: "a number"}.get(type(value), type(value).__name__)


def text_problems(name: str, value: str, *, max_chars: int, multiline: bool = False) -> list[Problem]:
    """Problems of one text value under the text policy and its limit (at most one per kind)."""
    out: list[Problem] = []
    if len(value) > max_chars:
        out.append(Problem(name, "too_long", {"length": len(value), "max": max_chars}))
    m = (_CONTROL_MULTILINE if multiline else _CONTROL_LINE).search(value)
    if m:
        out.append(Problem(name, "control_char", {"char": f"U+{ord(m.group()):04X}", "position": m.start() + 1}))
    m = _SURROGATE.search(value)
    if m:
        out.append(Problem(name, "surrogate", {"char": f"U+{ord(m.group()):04X}", "position": m.start() + 1}))
    m = next((m for m in _HTML.finditer(value) if m.group(1) is None or m.group(1) + ";" in html5), None)
    if m:
        tail = value[m.start():m.start() + 20]
        end = tail.find(">")
        out.append(Problem(name, "html", {"fragment": shown(tail[:end + 1] if end >= 0 else tail),
                                          "position": m.start() + 1}))
    return out


_LINE_BREAKS = re.compile("[\t\n\v\f\r\x85\u2028\u2029]+")
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def has_line_break(value: str) -> bool:
    """Whether ``value`` holds a line break or a tab (what a single-line field may not)."""
    return _LINE_BREAKS.search(value) is not None


def one_line(value: Any, max_chars: int | None = None) -> str:
    """``value`` as one line of plain text — for a mail header, a subject, an imported address:
    line breaks and tabs become one space, other control and bidirectional-override characters and
    lone surrogates are dropped, runs of spaces collapse, the ends are stripped, and at most
    ``max_chars`` characters are kept (the last one an ellipsis when cut)."""
    text = _UNPRINTABLE.sub("", _LINE_BREAKS.sub(" ", "" if value is None else str(value)))
    text = " ".join(text.split())
    if max_chars is not None and len(text) > max_chars:
        text = text[:max(max_chars - 1, 0)].rstrip() + "…"
    return text


def _text(problems: list[Problem], name: str, value: Any, *, max_chars: int, multiline: bool = False,
          strip: bool = True) -> str | None:
    """``value`` as checked text (None when absent or blank); problems go to ``problems``."""
    if value is None:
        return None
    if not isinstance(value, str):
        problems.append(Problem(name, "not_text", {"type": _type(value)}))
        return None
    found = text_problems(name, value, max_chars=max_chars, multiline=multiline)
    problems.extend(found)
    if found:
        return None
    if not strip:
        return value
    return value.strip() or None


def _number(problems: list[Problem], name: str, value: Any, lo: float, hi: float) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        problems.append(Problem(name, "not_number", {"value": shown(value)}))
        return None
    if isinstance(value, str) and not _NUMBER.fullmatch(value.strip()):
        problems.append(Problem(name, "not_number", {"value": shown(value)}))
        return None
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (OverflowError, ValueError, InvalidOperation):
        number = math.inf
    if not (math.isfinite(number) and lo <= number <= hi):
        problems.append(Problem(name, "out_of_range", {"min": f"{lo:g}", "max": f"{hi:g}", "value": shown(value)}))
        return None
    return number


def _id(problems: list[Problem], name: str, value: Any) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _ID.fullmatch(value.strip()):
        number = int(value.strip())
    if number is None or not 1 <= number <= MAX_ID:
        problems.append(Problem(name, "not_id", {"max": MAX_ID, "value": shown(value)}))
        return None
    return number


def _url(problems: list[Problem], name: str, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        parts, host = None, None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not host or " " in value:
        problems.append(Problem(name, "not_http_url", {"value": shown(value)}))
        return None
    return value


def _phone(problems: list[Problem], name: str, value: str | None) -> str | None:
    if value is not None and not (_PHONE.fullmatch(value) and sum(c.isdigit() for c in value) >= 3):
        problems.append(Problem(name, "bad_phone", {"value": shown(value)}))
        return None
    return value


def _email(problems: list[Problem], name: str, value: str | None) -> str | None:
    if value is not None and not _EMAIL.fullmatch(value):
        problems.append(Problem(name, "bad_email", {"value": shown(value)}))
        return None
    return value


_FORMATS = {"reporter_phone": _phone, "reporter_email": _email, "media_url": _url}


def check_fields(values: Mapping[str, Any], *, required: Collection[str] = (),
                 names: Mapping[str, str] | None = None) -> list[Problem]:
    """Problems of the given text fields only (``create_incident`` names: description, address,
    reporter_name, reporter_phone, reporter_email, media_url, client_token) — what a form can
    check before it has a service and a location. ``required`` fields must not be blank;
    ``names`` renames fields in the problems (the API's Open311 names)."""
    problems: list[Problem] = []
    _check_texts(problems, values, required, names or {})
    return problems


def _check_texts(problems: list[Problem], values: Mapping[str, Any], required: Collection[str],
                 names: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = names.get(key, key)
        before = len(problems)
        checked = _text(problems, name, value, max_chars=LIMITS[key], multiline=key in MULTILINE,
                        strip=key not in MULTILINE)
        if key in _FORMATS:
            checked = _FORMATS[key](problems, name, checked)
        if key in required and len(problems) == before and not (checked or "").strip():
            problems.append(Problem(name, "required"))
        out[key] = checked
    return out


# ---- attributes --------------------------------------------------------------------------------

def _attribute(problems: list[Problem], spec: ServiceAttribute, value: Any) -> Any:
    name = f"attribute[{spec.code}]"
    limit = ATTRIBUTE_LIMITS[spec.datatype]
    if spec.datatype == "number":
        if isinstance(value, str) and _text(problems, name, value, max_chars=limit) is None:
            return None
        if _number(problems, name, value, -1e15, 1e15) is None:
            return None
        return float(value) if isinstance(value, Decimal) else value
    if spec.datatype == "multivaluelist":
        items = value if isinstance(value, list) else [value]
        keys = [_text(problems, name, v, max_chars=limit) for v in items]
        bad = [k for k in keys if k is not None and k not in spec.values]
        if bad:
            problems.append(Problem(name, "not_allowed", {"allowed": ", ".join(spec.values), "value": shown(bad[0])}))
            return None
        return [k for k in keys if k is not None] or None
    checked = _text(problems, name, value, max_chars=limit, multiline=spec.datatype == "text")
    if checked is None:
        return None
    if spec.datatype == "singlevaluelist" and checked not in spec.values:
        problems.append(Problem(name, "not_allowed", {"allowed": ", ".join(spec.values), "value": shown(checked)}))
        return None
    if spec.datatype == "datetime":
        try:
            datetime.fromisoformat(checked.replace("Z", "+00:00"))
        except ValueError:
            problems.append(Problem(name, "not_datetime", {"value": shown(checked)}))
            return None
    return checked


def attribute_field(code: Any) -> str:
    """The field name of attribute ``code`` in problems: ``attribute[code]`` (``attribute`` when
    the code itself is not a plain name)."""
    return f"attribute[{code}]" if isinstance(code, str) and _CODE.fullmatch(code) else "attribute"


def check_attributes(service_code: str, attributes: Any, rules: Rules, *,
                     name: str = "attribute") -> tuple[dict[str, Any], list[Problem]]:
    """The attributes of a report checked against the service's definition (unknown codes,
    values outside a list's keys, wrong datatypes, required ones missing): (values, problems)."""
    problems: list[Problem] = []
    if attributes is None:
        attributes = {}
    if not isinstance(attributes, Mapping):
        return {}, [Problem(name, "not_object", {"type": _type(attributes)})]
    specs = {a.code: a for a in rules.services[service_code].attributes}
    known = ", ".join(specs) or "none"
    out: dict[str, Any] = {}
    for code, value in attributes.items():
        spec = specs.get(code) if isinstance(code, str) else None
        if spec is None:
            problems.append(Problem(name, "unknown_attribute", {"service_code": shown(service_code),
                                                                "code": shown(code), "known": known}))
            continue
        checked = _attribute(problems, spec, value)
        if checked is not None:
            out[code] = checked
    for spec in specs.values():
        if spec.required and spec.code not in out and not any(p.field == f"attribute[{spec.code}]" for p in problems):
            problems.append(Problem(f"attribute[{spec.code}]", "required"))
    return out, problems


# ---- the whole report --------------------------------------------------------------------------

_SERVICE_NAMES: Mapping[str, str] = MappingProxyType({})
OPEN311_NAMES: Mapping[str, str] = MappingProxyType({
    "lon": "long", "address": "address_string", "building_id": "address_id", "reporter_phone": "phone",
    "reporter_email": "email", "client_token": "token", "reporter_name": "first_name/last_name",
})


def _check(raw: dict[str, Any], rules: Rules, names: Mapping[str, str], problems: list[Problem], *,
           category: Any = None, require_description: bool = False) -> ReportInput:
    """Every check of a report on ``raw`` (``create_incident`` keys); raises once."""
    def n(key: str) -> str:
        return names.get(key, key)

    service_code = raw.get("service_code")
    service_code = service_code.strip() if isinstance(service_code, str) else service_code
    code: str | None = None
    if service_code not in (None, ""):
        if not isinstance(service_code, str) or service_code not in rules.services:
            problems.append(Problem("service_code", "unknown_service", {
                "value": shown(service_code), "known": ", ".join(sorted(rules.services))}))
        else:
            code = service_code
            expected = rules.services[code].category
            if category not in (None, "") and category != expected:
                problems.append(Problem("category", "category_mismatch", {
                    "value": shown(category), "service_code": shown(code), "expected": shown(expected)}))
    elif category not in (None, ""):
        if not isinstance(category, str) or category not in CATEGORIES:
            problems.append(Problem("category", "unknown_category", {"value": shown(category),
                                                                     "known": ", ".join(CATEGORIES)}))
        else:
            code = category
    else:
        problems.append(Problem("service_code", "required"))

    texts = _check_texts(problems, {k: raw.get(k) for k in ("description",)},
                         ("description",) if require_description else (), names)
    description = texts["description"] or ""
    channel, priority = raw.get("channel", "phone"), raw.get("priority")
    if channel not in CHANNELS:
        problems.append(Problem(n("channel"), "not_allowed", {"allowed": ", ".join(CHANNELS), "value": shown(channel)}))
    if priority not in (None, "") and priority not in PRIORITIES:
        problems.append(Problem(n("priority"), "not_allowed", {"allowed": ", ".join(PRIORITIES), "value": shown(priority)}))

    given_lat = raw.get("lat") not in (None, "")
    given_lon = raw.get("lon") not in (None, "")
    lat = _number(problems, n("lat"), raw.get("lat"), -90, 90)
    lon = _number(problems, n("lon"), raw.get("lon"), -180, 180)
    if given_lat != given_lon:
        problems.append(Problem(n("lon") if given_lat else n("lat"), "incomplete_point",
                                {"given": n("lat") if given_lat else n("lon")}))
    building_id = _id(problems, n("building_id"), raw.get("building_id"))
    before = len(problems)
    address = _check_texts(problems, {"address": raw.get("address")}, (), names)["address"]
    if lat is None and lon is None and building_id is None and address is None and len(problems) == before \
            and not (given_lat or given_lon or raw.get("building_id") not in (None, "")):
        problems.append(Problem("location", "no_location"))
    contact = _check_texts(problems, {k: raw.get(k) for k in ("reporter_name", "reporter_phone", "reporter_email",
                                                              "media_url", "client_token")}, (), names)

    attributes: dict[str, Any] = {}
    if code is not None:
        attributes, attribute_problems = check_attributes(code, raw.get("attributes"), rules)
        problems.extend(attribute_problems)
    if problems or code is None:
        raise InvalidReport.of(problems or [Problem("service_code", "required")])
    return ReportInput(service_code=code, lat=lat, lon=lon, address=address, building_id=building_id,
                       description=description, channel=channel, priority=priority or None,
                       reporter_name=contact["reporter_name"], reporter_phone=contact["reporter_phone"],
                       reporter_email=contact["reporter_email"], media_url=contact["media_url"],
                       attributes=attributes, client_token=contact["client_token"])


#: The fields of a report, in ``create_incident``'s terms: the one list, ``ReportInput``'s.
REPORT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ReportInput))
#: What an omitted field is before the checks (``ReportInput``'s default; None where it has none).
_UNCHECKED: Mapping[str, Any] = MappingProxyType({
    f.name: f.default if f.default is not MISSING else None for f in fields(ReportInput)})


def unchecked(given: Mapping[str, Any]) -> dict[str, Any]:
    """Every field of a report as given (omitted ones at their defaults); ``TypeError`` for a name that
    is not a field, as a misspelt keyword argument would be."""
    unknown = sorted(set(given) - set(REPORT_FIELDS))
    if unknown:
        raise TypeError(f"not a field of a report: {', '.join(unknown)}")
    return {name: given.get(name, _UNCHECKED[name]) for name in REPORT_FIELDS}


def check_report(*, rules: Rules, category: str | None = None, require_description: bool = False,
                 **report: Any) -> ReportInput:
    """A report given in ``create_incident``'s terms (the fields of ``ReportInput``), checked:
    ``InvalidReport`` lists every problem.

    The service code (or a category, which names its service), a location (lat+lon, a building
    id or an address), every text field under the text policy and its limit in ``LIMITS``, the
    channel and priority, a phone, an e-mail and an http(s) ``media_url``, and the attributes
    against the service's definition in ``rules``."""
    return _check(unchecked(report), rules, _SERVICE_NAMES, [], category=category,
                  require_description=require_description)


OPEN311_TEXT = ("first_name", "last_name", "device_id", "account_id", "jurisdiction_id")
#: The POST requests fields this model reads (besides ``attribute[code]``); others are ignored.
OPEN311_FIELDS = frozenset({"api_key", "service_code", "lat", "long", "address_string", "address_id", "description",
                            "phone", "email", "media_url", "token", "attribute", *OPEN311_TEXT})


def parse_open311(data: Mapping[str, Any], *, rules: Rules, idempotency_key: str | None = None,
                  repeated: Mapping[str, int] | None = None) -> ReportInput:
    """A POST requests body (form fields or a JSON object, api_key already checked) as a report.

    Open311 names: service_code, lat, long, address_string, address_id, description, first_name,
    last_name, phone, email, media_url, token (or the ``Idempotency-Key`` header), device_id,
    account_id, jurisdiction_id (checked, not stored), ``attribute[code]`` fields
    (``attribute[code][]`` for a multivaluelist) and/or an ``attribute`` object. Other names are
    ignored. ``repeated`` counts the fields a form body carried more than once (refused)."""
    problems = [Problem(attribute_field(k[len("attribute["):-1]) if k.startswith("attribute[") else k, "repeated",
                        {"count": c})
                for k, c in sorted((repeated or {}).items())
                if k in OPEN311_FIELDS or (k.startswith("attribute[") and k.endswith("]") and not k.endswith("[]"))]
    extra = {k: _text(problems, k, data.get(k), max_chars=LIMITS[k]) for k in OPEN311_TEXT}
    first, last = extra["first_name"], extra["last_name"]
    token = _text(problems, "token", data.get("token"), max_chars=LIMITS["token"])
    header = _text(problems, "Idempotency-Key", idempotency_key, max_chars=LIMITS["Idempotency-Key"])
    attributes: dict[Any, Any] = {}
    nested = data.get("attribute")
    if nested is not None:
        if isinstance(nested, Mapping):
            attributes.update(nested)
        else:
            problems.append(Problem("attribute", "not_object", {"type": _type(nested)}))
    for key, value in data.items():
        if isinstance(key, str) and key.startswith("attribute[") and key.endswith("]"):
            code = key[len("attribute["):-1]
            code = code[:-2] if code.endswith("][") else code
            if code in attributes:
                problems.append(Problem(attribute_field(code), "repeated", {"count": 2}))
            attributes[code] = value
    raw = unchecked({
        "service_code": data.get("service_code"), "lat": data.get("lat"), "lon": data.get("long"),
        "address": data.get("address_string"), "building_id": data.get("address_id"),
        "description": data.get("description"), "channel": "api",
        "reporter_name": " ".join(p for p in (first, last) if p) or None,
        "reporter_phone": data.get("phone"), "reporter_email": data.get("email"), "media_url": data.get("media_url"),
        "attributes": attributes, "client_token": token or header})
    return _check(raw, rules, OPEN311_NAMES, problems)
