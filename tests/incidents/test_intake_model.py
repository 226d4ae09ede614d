"""The shared intake model (``incidents/intake.py``) on its own: the text policy, the limit of every
field, URLs, attributes against the service definition, and structured problems (all at once)."""
from __future__ import annotations

import pytest

from incidents import intake
from incidents.errors import (
    DescriptionTooLong,
    InvalidIncident,
    MissingLocation,
    UnknownCategory,
    UnknownServiceCode,
)
from incidents.intake import (
    InvalidReport,
    Problem,
    check_fields,
    check_report,
    parse_open311,
    text_problems,
)
from incidents.sla import Rules

ORDINARY = ['"ржавая" & <5°C', "**срочно** [фото](https://x.ru/1.jpg) # подъезд 2", "a < b, 3<4, <-, ->, <3",
            "R&D; AT&T & co", "Температура < нормы", "x & y;", "100% & 50 %", "email: a@b.ru"]
MARKUP = ["<b>течёт</b>", "</x>", "<!-- c -->", "<?php", '<img src=x onerror=alert(1)>', "&lt;script&gt;",
          "&#60;", "&#x3C;", "&amp;", "a<svg/onload=1>", "&nbsp;"]
CONTROL = ["a\x00b", "a\x1bb", "a\x7fb", "a\x85b", "a\u202eb", "a\x08b"]


def codes(exc: pytest.ExceptionInfo[InvalidReport]) -> list[tuple[str, str]]:
    return [(p.field, p.code) for p in exc.value.problems]


@pytest.mark.parametrize("value", ORDINARY)
def test_ordinary_text_is_accepted_as_sent(value: str, rules: Rules) -> None:
    assert text_problems("description", value, max_chars=4000) == []
    r = check_report(rules=rules, service_code="other", lat=60.17, lon=24.94, description=value, address=value,
                     reporter_name=value)
    assert r.description == value and r.address == value.strip() and r.reporter_name == value.strip()


@pytest.mark.parametrize("value", MARKUP)
def test_markup_is_refused_in_every_text_field(value: str, rules: Rules) -> None:
    for field in ("description", "address", "reporter_name", "client_token"):
        with pytest.raises(InvalidReport, match=f"^{field} contains HTML markup") as exc:
            check_report(rules=rules, service_code="other", lat=60.17, lon=24.94, **{field: value})
        [p] = exc.value.problems
        assert (p.field, p.code) == (field, "html") and p.params["position"] == value.index(value.lstrip("a")[0]) + 1


@pytest.mark.parametrize("value", CONTROL)
def test_control_characters_are_refused(value: str, rules: Rules) -> None:
    [p] = text_problems("address", value, max_chars=200)
    assert p == Problem("address", "control_char", {"char": f"U+{ord(value[1]):04X}", "position": 2})
    assert p.describe() == f"address contains the control character U+{ord(value[1]):04X} at position 2; send plain text"


def test_tab_and_newlines_only_in_the_description(rules: Rules) -> None:
    text = "строка 1\r\nстрока 2\tконец\n"
    r = check_report(rules=rules, service_code="other", lat=60.17, lon=24.94, description=text)
    assert r.description == text                     # not stripped, not changed
    with pytest.raises(InvalidReport, match=r"reporter_name contains the control character U\+000A at position 9"):
        check_report(rules=rules, service_code="other", lat=60.17, lon=24.94, reporter_name="строка 1\nстрока 2")


def test_lone_surrogate_is_refused(rules: Rules) -> None:
    with pytest.raises(InvalidReport, match=r"description contains a lone surrogate U\+D800 at position 3") as exc:
        check_report(rules=rules, service_code="other", lat=60.17, lon=24.94, description="ab\ud800")
    assert exc.value.problems[0].params == {"char": "U+D800", "position": 3}


def test_every_limit_is_inclusive(rules: Rules) -> None:
    at_limit = {"description": "д" * 4000, "address": "a" * 200, "reporter_name": "n" * 401,
                "reporter_phone": "1" * 200, "reporter_email": "e" * 195 + "@x.ru", "client_token": "t" * 200,
                "media_url": "https://x.ru/" + "p" * 187}
    assert all(len(v) == intake.LIMITS[k] for k, v in at_limit.items())
    assert check_fields(at_limit) == []
    over = {k: v + "9" for k, v in at_limit.items()}
    over["reporter_email"] = "e" + at_limit["reporter_email"]
    problems = check_fields(over)
    assert [(p.field, p.code, p.params["length"], p.params["max"]) for p in problems] == \
        [(k, "too_long", intake.LIMITS[k] + 1, intake.LIMITS[k]) for k in at_limit]
    assert problems[0].describe() == "description is 4001 characters long; at most 4000 are accepted"


def test_open311_limits_name_open311_fields(rules: Rules) -> None:
    body = {"service_code": "other", "lat": "60.17", "long": "24.94"}
    for field in ("address_string", "first_name", "last_name", "phone", "email", "media_url", "token",
                  "device_id", "account_id", "jurisdiction_id"):
        assert intake.LIMITS[field] == 200
        with pytest.raises(InvalidReport, match=f"^{field} is 201 characters long; at most 200 are accepted$"):
            parse_open311({**body, field: "1" * 201}, rules=rules)
    with pytest.raises(InvalidReport, match="^Idempotency-Key is 2049 characters long; at most 200"):
        parse_open311(body, rules=rules, idempotency_key="k" * 2049)
    r = parse_open311({**body, "first_name": "ф" * 200, "last_name": "и" * 200}, rules=rules)
    assert r.reporter_name == "ф" * 200 + " " + "и" * 200 and r.channel == "api"


@pytest.mark.parametrize("url", ["javascript:alert(1)", "file:///etc/passwd", "ftp://example.org/x.jpg",
                                 "data:image/png;base64,AAAA", "//example.org/x.jpg", "/x.jpg", "http://", "https:///x",
                                 "http://exa mple.org/x", "http://[::1/x"])
def test_media_url_must_be_absolute_http(url: str, rules: Rules) -> None:
    with pytest.raises(InvalidReport, match="^media_url must be an absolute http:// or https:// URL, got "):
        check_report(rules=rules, service_code="other", lat=60.17, lon=24.94, media_url=url)


def test_http_media_url_is_kept(rules: Rules) -> None:
    for url in ("http://example.org/a.jpg", "HTTPS://cdn.example.org/p/1.jpg?x=1&y=2"):
        assert check_report(rules=rules, service_code="other", lat=60.17, lon=24.94, media_url=url).media_url == url


def test_attributes_follow_the_service_definition(strict_rules: Rules) -> None:
    ok = check_report(rules=strict_rules, service_code="leak_check", lat=60.17, lon=24.94,
                      attributes={"floor": "3", "where": "bath", "rooms": ["a", "b"], "seen_at": "2026-01-02T10:00Z",
                                  "note": "капает\nс потолка", "flat": "12"})
    assert ok.attributes == {"floor": "3", "where": "bath", "rooms": ["a", "b"], "seen_at": "2026-01-02T10:00Z",
                             "note": "капает\nс потолка", "flat": "12"}
    with pytest.raises(InvalidReport) as exc:
        check_report(rules=strict_rules, service_code="leak_check", lat=60.17, lon=24.94,
                     attributes={"colour": "red", "rooms": ["a", "z"], "seen_at": "yesterday", "flat": "<b>12</b>",
                                 "note": 5})
    assert codes(exc) == [("attribute", "unknown_attribute"), ("attribute[rooms]", "not_allowed"),
                          ("attribute[seen_at]", "not_datetime"), ("attribute[flat]", "html"),
                          ("attribute[note]", "not_text"), ("attribute[floor]", "required"),
                          ("attribute[where]", "required")]
    assert exc.value.problems[0].describe() == \
        "service 'leak_check' has no attribute 'colour'; known: floor, seen_at, where, rooms, note, flat"
    with pytest.raises(InvalidReport) as exc:
        check_report(rules=strict_rules, service_code="leak_check", lat=60.17, lon=24.94,
                     attributes={"floor": "second", "where": "garage"})
    assert [p.describe() for p in exc.value.problems] == [
        "attribute[floor] must be a number, got 'second'",
        "attribute[where] must be one of bath, kitchen, got 'garage'"]
    with pytest.raises(InvalidReport, match=r"attribute\[floor\] must be a finite number from -1e\+15 to 1e\+15"):
        check_report(rules=strict_rules, service_code="leak_check", lat=60.17, lon=24.94,
                     attributes={"floor": "1e400", "where": "bath"})
    with pytest.raises(InvalidReport, match="^attribute must be an object of code: value pairs, got a list$"):
        check_report(rules=strict_rules, service_code="other", lat=60.17, lon=24.94, attributes=["x"])  # type: ignore[arg-type]


def test_every_problem_is_collected_and_raised_once(rules: Rules) -> None:
    with pytest.raises(InvalidReport) as exc:
        check_report(rules=rules, service_code="no_water", lat=95.0, description="x" * 4001 + "<b>",
                     channel="fax", priority="asap", reporter_phone="call me", reporter_email="nobody",
                     media_url="ftp://x/y", attributes={"whole_building": "maybe"})
    assert codes(exc) == [("description", "too_long"), ("description", "html"), ("channel", "not_allowed"),
                          ("priority", "not_allowed"), ("lat", "out_of_range"), ("lon", "incomplete_point"),
                          ("reporter_phone", "bad_phone"), ("reporter_email", "bad_email"),
                          ("media_url", "not_http_url"), ("attribute[whole_building]", "not_allowed")]
    assert str(exc.value) == "; ".join(p.describe() for p in exc.value.problems)
    assert isinstance(exc.value, DescriptionTooLong)  # the older class of the first problem still matches


def test_older_error_classes_still_match(rules: Rules) -> None:
    with pytest.raises(UnknownServiceCode, match="unknown service_code 'leak'; known: broken_glass"):
        check_report(rules=rules, service_code="leak", lat=60.17, lon=24.94)
    with pytest.raises(UnknownCategory, match="unknown category 'fire'"):
        check_report(rules=rules, category="fire", lat=60.17, lon=24.94)
    with pytest.raises(MissingLocation, match="^a location is required: lat\\+long, address_string or address_id$"):
        check_report(rules=rules, service_code="other")
    with pytest.raises(InvalidIncident, match="category 'sewer' does not match service_code 'no_water'"):
        check_report(rules=rules, service_code="no_water", category="sewer", lat=60.17, lon=24.94)


@pytest.mark.parametrize(("fields", "problem"), [
    ({"lat": "north"}, "lat must be a number, got 'north'"),
    ({"lat": "1_0"}, "lat must be a number, got '1_0'"),
    ({"lat": "٦٠"}, "lat must be a number, got '٦٠'"),                       # Arabic-Indic digits
    ({"lat": True}, "lat must be a number, got true"),
    ({"lat": [60]}, "lat must be a number, got [60]"),
    ({"lat": "1e400"}, "lat must be a finite number from -90 to 90, got '1e400'"),
    ({"lat": "nan"}, "lat must be a number, got 'nan'"),
    ({"lat": "1" * 4300}, "lat must be a finite number from -90 to 90, got '" + "1" * 40 + "'…"),
    ({"long": 10**5000}, "long must be a finite number from -180 to 180, got an integer of more than 38 digits"),
    ({"lat": None, "long": None, "address_id": "²"}, "address_id must be a building id (a whole number from 1 to "
                                                   "9223372036854775807), got '²'"),
    ({"lat": None, "long": None, "address_id": "9" * 19}, "address_id must be a building id"),
    ({"lat": None, "long": None, "address_id": 0}, "address_id must be a building id"),
    ({"service_code": ["no_water"]}, "unknown service_code ['no_water']"),
    ({"description": {"a": 1}}, "description must be text, got an object"),
])
def test_open311_values_of_the_wrong_kind(fields: dict[str, object], problem: str, rules: Rules) -> None:
    body = {"service_code": "other", "lat": "60.17", "long": "24.94", **fields}
    with pytest.raises(InvalidReport) as exc:
        parse_open311({k: v for k, v in body.items() if v is not None}, rules=rules)
    assert exc.value.problems[0].describe().startswith(problem), exc.value.problems


def test_repeated_form_fields_are_refused_but_unknown_ones_ignored(rules: Rules) -> None:
    body = {"service_code": "no_water", "lat": "60.17", "long": "24.94", "whatever": "\x00"}
    with pytest.raises(InvalidReport, match="^description was given 2 times; send it once$"):
        parse_open311(body, rules=rules, repeated={"description": 2, "whatever": 3})
    r = parse_open311({**body, "attribute[whole_building]": "yes", "attribute": {"apartment": "7"}}, rules=rules)
    assert r.attributes == {"whole_building": "yes", "apartment": "7"}


def test_every_problem_code_has_english_text() -> None:
    assert set(intake.PROBLEM_CODES) == set(intake.ENGLISH)
    assert len(intake.PROBLEM_CODES) == len(set(intake.PROBLEM_CODES))
