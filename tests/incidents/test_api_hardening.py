"""The Open311 API against hostile and odd input (real app through TestClient, real database):
every bad request gets an Open311 error list in JSON with the right status, and nothing is stored.
TestClient re-raises any unhandled server error, so a test here fails on a would-be 500."""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from apps.http.open311 import create_app
from incidents import keys, service
from incidents.errors import InvalidApiKey
from incidents.sla import Rules
from settings import Settings
from tests.incidents.conftest import City

B = "/open311/v2"
OK = {"service_code": "no_water", "lat": 60.17021, "long": 24.94252, "description": "Нет воды"}
TEXT_FIELDS = ("description", "address_string", "first_name", "last_name", "phone", "email", "media_url", "token",
               "device_id", "account_id", "jurisdiction_id", "attribute[apartment]")


@pytest.fixture()
def api(clean_engine: Engine, city: City, strict_rules: Rules, settings: Settings) -> Iterator[tuple[TestClient, str]]:
    key = keys.create_api_key(clean_engine, "portal")
    with TestClient(create_app(clean_engine, settings=settings, rules=strict_rules)) as client:
        yield client, key


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM incidents")).scalar_one())


def post_json(client: TestClient, body: str | bytes, **headers: str) -> httpx.Response:
    raw = body.encode() if isinstance(body, str) else body
    return client.post(f"{B}/requests.json", content=raw, headers={"content-type": "application/json", **headers})


def post_form(client: TestClient, body: str | bytes) -> httpx.Response:
    raw = body.encode() if isinstance(body, str) else body
    return client.post(f"{B}/requests.json", content=raw,
                       headers={"content-type": "application/x-www-form-urlencoded"})


def json_with(key: str, field: str, json_string: str) -> str:
    """A JSON body whose ``field`` is the JSON string literal ``json_string`` (escapes kept as written)."""
    base = json.dumps({"api_key": key, **{k: v for k, v in OK.items() if k != field}})[:-1]
    if field.startswith("attribute["):
        return base + f', "attribute": {{"{field[10:-1]}": "{json_string}"}}}}'
    return base + f', "{field}": "{json_string}"}}'


def only_error(r: httpx.Response, status: int = 400) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    [err] = r.json()
    assert err["code"] == status
    return str(err["description"])


def test_nul_and_lone_surrogate_in_every_text_field(api: tuple[TestClient, str], clean_engine: Engine) -> None:
    client, key = api
    for field in TEXT_FIELDS:
        # JSON: the escapes \u0000 and a lone \ud800 are legal JSON syntax, not legal text
        d = only_error(post_json(client, json_with(key, field, "ab\\u0000c")))
        assert d == f"{field} contains the control character U+0000 at position 3; send plain text", d
        d = only_error(post_json(client, json_with(key, field, "ab\\ud800c")))
        assert d == f"{field} contains a lone surrogate U+D800 at position 3; it is not valid Unicode text", d
        # form: NUL percent-encoded; the surrogate as (invalid) UTF-8 bytes, %-encoded and raw
        form = str(httpx.QueryParams({"api_key": key, **{k: v for k, v in OK.items() if k != field}}))
        d = only_error(post_form(client, form + f"&{field}=ab%00c"))
        assert d == f"{field} contains the control character U+0000 at position 3; send plain text", d
        d = only_error(post_form(client, form + f"&{field}=ab%ED%A0%80c"))
        assert d.startswith("a form field is not valid UTF-8 after %-decoding"), d
        d = only_error(post_form(client, form.encode() + f"&{field}=ab".encode() + b"\xed\xa0\x80"))
        assert d.startswith("the form body is not valid UTF-8"), d
    d = only_error(post_json(client, json.dumps({"api_key": key, **OK}).encode()[:-1] + b', "x": "\xed\xa0\x80"}'))
    assert d.startswith("the JSON body is not valid UTF-8"), d
    assert count(clean_engine) == 0


def test_deeply_nested_json(api: tuple[TestClient, str], clean_engine: Engine) -> None:
    client, key = api
    deep = "[" * 20_000 + "]" * 20_000
    assert only_error(post_json(client, deep)) == "malformed JSON body: nested too deeply"
    assert only_error(post_json(client, json.dumps({"api_key": key, **OK})[:-1] + f', "description": {deep}}}')) \
        == "malformed JSON body: nested too deeply"
    # deep but parseable: a nested value where text is expected is refused by type
    assert only_error(post_json(client, json_with(key, "description", "x")[:-len('"x"}')] + "[" * 500 + "]" * 500 + "}")) \
        == "description must be text, got a list"
    assert count(clean_engine) == 0


def test_huge_and_non_finite_numbers(api: tuple[TestClient, str], clean_engine: Engine) -> None:
    client, key = api
    base = json.dumps({"api_key": key, "service_code": "no_water", "long": 24.94252})[:-1]
    digits = "1" * 4300
    for lat, expected in ((digits, "lat must be a finite number from -90 to 90, got " + "1" * 40 + "…"),
                          ("1" * 4301, "lat must be a finite number from -90 to 90, got " + "1" * 40 + "…"),
                          ("-" + digits, "lat must be a finite number from -90 to 90, got -" + "1" * 39 + "…"),
                          ("1e400", "lat must be a finite number from -90 to 90, got 1E+400"),
                          ("-1e400", "lat must be a finite number from -90 to 90, got -1E+400"),
                          ("1" * 400 + ".5", "lat must be a finite number from -90 to 90, got " + "1" * 40 + "…"),
                          (f'"{digits}"', "lat must be a finite number from -90 to 90, got '" + "1" * 40 + "'…"),
                          ('"1e400"', "lat must be a finite number from -90 to 90, got '1e400'")):
        assert only_error(post_json(client, base + f', "lat": {lat}}}')) == expected, lat
    for token in ("NaN", "Infinity", "-Infinity"):
        assert only_error(post_json(client, base + f', "lat": {token}}}')) == \
            f"malformed JSON body: {token} is not valid JSON (use a number or null)"
    for value in ("1e400", "nan", "inf", "-Infinity", digits):
        d = only_error(client.post(f"{B}/requests.json", data={"api_key": key, **OK, "lat": value}))
        assert d.startswith("lat must be a "), (value, d)
    addr = json.dumps({"api_key": key, "service_code": "elevator"})[:-1]
    assert only_error(post_json(client, addr + f', "address_id": {digits}}}')).startswith(
        "address_id must be a building id (a whole number from 1 to 9223372036854775807), got 1111")
    assert only_error(client.post(f"{B}/requests.json", data={"api_key": key, "service_code": "elevator",
                                                              "address_id": digits})).startswith(
        "address_id must be a building id")
    attr = json.dumps({"api_key": key, "service_code": "no_heating", "lat": 60.17021, "long": 24.94252})[:-1]
    assert only_error(post_json(client, attr + f', "attribute": {{"indoor_temp_c": {digits}}}}}')).startswith(
        "attribute[indoor_temp_c] must be a finite number from -1e+15 to 1e+15, got 1111")
    assert count(clean_engine) == 0


def test_extreme_and_malformed_dates(api: tuple[TestClient, str]) -> None:
    client, key = api
    rid = client.post(f"{B}/requests.json", data={"api_key": key, **OK}).json()[0]["service_request_id"]
    for params, found in (({"end_date": "0001-01-01"}, []),
                          ({"end_date": "0001-01-01T00:00:00+14:00"}, []),
                          ({"end_date": "9999-12-31"}, []),                    # 90 days before it
                          ({"end_date": "9999-12-31T23:59:59-12:00"}, []),
                          ({"start_date": "0001-01-01"}, [rid]),
                          ({"start_date": "0001-01-01T00:00:00Z", "end_date": "9999-12-31T23:59:59.999999Z"}, [rid]),
                          ({"start_date": "0001-01-01", "end_date": "9999-12-31T23:59:59-12:00"}, [rid]),
                          ({"start_date": "9999-12-31"}, [])):
        r = client.get(f"{B}/requests.json", params=params)
        assert r.status_code == 200, (params, r.text)
        assert [x["service_request_id"] for x in r.json()] == found, params
    for bad in ("yesterday", "2026-13-01", "2026-02-30", "0000-01-01", "10000-01-01", "2026-01-01T25:00",
                "2026-01-01\x00", "9" * 5000, "2026-01-01T00:00:00+25:00"):
        for name in ("start_date", "end_date"):
            d = only_error(client.get(f"{B}/requests.json", params={name: bad}))
            assert d.startswith(f"{name} must be an ISO 8601 date/time, got ") and len(d) < 120, (bad, d)
    d = only_error(client.get(f"{B}/requests.json", params={"start_date": "2026-02-01", "end_date": "2026-01-01"}))
    assert d == "end_date '2026-01-01' is before start_date '2026-02-01'"


def test_overlong_token_and_idempotency_key(api: tuple[TestClient, str], clean_engine: Engine) -> None:
    client, key = api
    big = "t" * 2100
    assert only_error(client.post(f"{B}/requests.json", data={"api_key": key, **OK, "token": big})) \
        == "token is 2100 characters long; at most 200 are accepted"
    assert only_error(client.post(f"{B}/requests.json", json={"api_key": key, **OK, "token": big})) \
        == "token is 2100 characters long; at most 200 are accepted"
    assert only_error(client.post(f"{B}/requests.json", json={"api_key": key, **OK}, headers={"Idempotency-Key": big})) \
        == "Idempotency-Key is 2100 characters long; at most 200 are accepted"
    assert only_error(client.post(f"{B}/requests.json", json={"api_key": key, **OK, "token": 42})) \
        == "token must be text, got a number"
    assert count(clean_engine) == 0
    r = client.post(f"{B}/requests.json", json={"api_key": key, **OK}, headers={"Idempotency-Key": "k" * 200})
    assert r.status_code == 201 and count(clean_engine) == 1


def test_every_field_has_a_limit(api: tuple[TestClient, str], clean_engine: Engine) -> None:
    client, key = api
    at_limit = {"description": "д" * 4000, "address_string": "а" * 200, "first_name": "ф" * 200,
                "last_name": "и" * 200, "phone": "7" * 200, "email": "e" * 195 + "@x.ru",
                "media_url": "https://x.ru/" + "p" * 187, "token": "t" * 200, "device_id": "d" * 200,
                "account_id": "a" * 200, "jurisdiction_id": "j" * 200, "attribute[apartment]": "1" * 200}
    for field, value in at_limit.items():
        over = value + "9" if field != "email" else "e" + value
        d = only_error(client.post(f"{B}/requests.json", data={"api_key": key, **OK, field: over}))
        limit = 4000 if field == "description" else 200
        assert d == f"{field} is {limit + 1} characters long; at most {limit} are accepted", d
    assert count(clean_engine) == 0
    r = client.post(f"{B}/requests.json", data={"api_key": key, **OK, **at_limit})
    assert r.status_code == 201, r.text
    inc = service.get_incident(clean_engine, int(r.json()[0]["service_request_id"]))
    assert (inc.description, inc.address, inc.reporter_name, inc.reporter_phone, inc.reporter_email, inc.media_url,
            inc.client_token, inc.attributes) == (
        at_limit["description"], at_limit["address_string"], "ф" * 200 + " " + "и" * 200, at_limit["phone"],
        at_limit["email"], at_limit["media_url"], at_limit["token"], {"apartment": "1" * 200})
    # several problems: each is its own entry of the error list
    r = client.post(f"{B}/requests.json", data={"api_key": key, **OK, "first_name": "x" * 201, "phone": "call me",
                                                "email": "nobody"})
    assert r.status_code == 400 and [e["description"] for e in r.json()] == [
        "first_name is 201 characters long; at most 200 are accepted",
        "phone must be a phone number (digits, spaces, + - ( ) .), got 'call me'",
        "email must be an e-mail address (name@domain), got 'nobody'"]


def test_token_is_scoped_to_the_api_key(api: tuple[TestClient, str], clean_engine: Engine, rules: Rules,
                                        settings: Settings) -> None:
    client, key_a = api
    key_b = keys.create_api_key(clean_engine, "other-portal")

    def post(key: str, **headers: str) -> tuple[int, str]:
        body: dict[str, Any] = {"api_key": key, **OK}
        if not headers:
            body["token"] = "order-1"
        r = client.post(f"{B}/requests.json", json=body, headers=headers)
        return r.status_code, r.json()[0]["service_request_id"]

    a1, b1, a2, b2 = post(key_a), post(key_b), post(key_a), post(key_b)
    assert (a1[0], b1[0], a2[0], b2[0]) == (201, 201, 200, 200)
    assert a1[1] == a2[1] and b1[1] == b2[1] and a1[1] != b1[1]       # never the other client's report
    ha, hb = post(key_a, **{"Idempotency-Key": "order-1"}), post(key_b, **{"Idempotency-Key": "order-1"})
    assert ha == (200, a1[1]) and hb == (200, b1[1])                  # header and field share the scope
    with clean_engine.connect() as conn:
        rows = conn.execute(text("SELECT i.id, k.name, e.actor FROM incidents i JOIN api_keys k ON k.id = i.api_key_id "
                                 "JOIN incident_events e ON e.incident_id = i.id ORDER BY i.id")).all()
    assert [(str(i), n, a) for i, n, a in rows] == [(a1[1], "portal", "api:portal"),
                                                    (b1[1], "other-portal", "api:other-portal")]
    # a report of the hotline with the same token is a third, separate scope
    phone = service.create_incident(clean_engine, service_code="no_water", lat=60.17021, lon=24.94252,
                                    client_token="order-1", rules=rules, settings=settings)
    assert phone.created and str(phone.incident.id) not in (a1[1], b1[1])


@pytest.mark.parametrize("url", ["javascript:alert(1)", "file:///etc/passwd", "ftp://example.org/x.jpg",
                                 "data:text/html,<b>", "//example.org/x.jpg", "x.jpg", "http://", "https://a b/"])
def test_media_url_must_be_http(url: str, api: tuple[TestClient, str], clean_engine: Engine) -> None:
    client, key = api
    d = only_error(client.post(f"{B}/requests.json", data={"api_key": key, **OK, "media_url": url}))
    assert d.startswith("media_url ") and ("http:// or https://" in d or "HTML markup" in d), d
    assert count(clean_engine) == 0


def test_attributes_are_checked_against_the_service_definition(api: tuple[TestClient, str],
                                                                clean_engine: Engine) -> None:
    client, key = api
    form = {"api_key": key, **OK}
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"attribute[colour]": "red"}, ["service 'no_water' has no attribute 'colour'; known: whole_building, apartment"]),
        ({"attribute[whole_building]": "maybe"}, ["attribute[whole_building] must be one of yes, no, got 'maybe'"]),
        ({"attribute[whole_building]": "yes", "attribute[apartment]": "<b>5</b>"},
         ["attribute[apartment] contains HTML markup '<b>' at position 1; send plain text"]),
        ({"service_code": "leak_check"}, ["attribute[floor] is required", "attribute[where] is required"]),
        ({"service_code": "leak_check", "attribute[floor]": "second", "attribute[where]": "garage",
          "attribute[seen_at]": "yesterday", "attribute[rooms][]": ["a", "z"]},
         ["attribute[floor] must be a number, got 'second'", "attribute[seen_at] must be an ISO 8601 date/time, got 'yesterday'",
          "attribute[where] must be one of bath, kitchen, got 'garage'", "attribute[rooms] must be one of a, b, got 'z'"]),
    ]
    for extra, expected in cases:
        r = client.post(f"{B}/requests.json", data={**form, **extra})
        assert r.status_code == 400 and sorted(e["description"] for e in r.json()) == sorted(expected), (extra, r.text)
    body = {"api_key": key, **OK}
    for attribute, expected_one in (([1, 2], "attribute must be an object of code: value pairs, got a list"),
                                    ({"apartment": 12}, "attribute[apartment] must be text, got a number"),
                                    ({"whole_building": ["yes"]}, "attribute[whole_building] must be text, got a list"),
                                    ({"\u0000": "x"}, "service 'no_water' has no attribute '\\x00'; known: "
                                                      "whole_building, apartment")):
        assert only_error(client.post(f"{B}/requests.json", json={**body, "attribute": attribute})) == expected_one
    assert count(clean_engine) == 0
    ok = client.post(f"{B}/requests.json", json={**body, "service_code": "leak_check",
                                                 "attribute": {"floor": 3, "where": "bath", "rooms": ["a", "b"]}})
    assert ok.status_code == 201, ok.text
    form_ok = client.post(f"{B}/requests.json", data={**form, "service_code": "leak_check", "attribute[floor]": "-1",
                                                      "attribute[where]": "kitchen", "attribute[rooms][]": ["b"]})
    assert form_ok.status_code == 201, form_ok.text
    got = [service.get_incident(clean_engine, int(r.json()[0]["service_request_id"])).attributes for r in (ok, form_ok)]
    assert got == [{"floor": 3, "where": "bath", "rooms": ["a", "b"]}, {"floor": "-1", "where": "kitchen", "rooms": ["b"]}]


def test_bodies_of_the_wrong_shape_or_type(api: tuple[TestClient, str], clean_engine: Engine) -> None:
    client, key = api
    for ctype in ("text/plain", "application/xml", "", "application/json; charset=latin-1", "image/png"):
        r = client.post(f"{B}/requests.json", content=json.dumps({"api_key": key, **OK}).encode(),
                        headers={"content-type": ctype} if ctype else {})
        d = only_error(r, 415)
        assert d.startswith(f"Content-Type {ctype!r} is not supported"), d
    for body, expected in ((b"[1, 2]", "the JSON body must be an object, got list"),
                           (b'"text"', "the JSON body must be an object, got str"),
                           (b"", "the JSON body must be an object, got NoneType"),
                           (b'{"api_key": "a", "api_key": "b"}', "malformed JSON body: duplicate key 'api_key'"),
                           (b"\xef\xbb\xbf{}", "malformed JSON body: Unexpected UTF-8 BOM (decode using utf-8-sig): "
                                                 "line 1 column 1 (char 0)")):
        assert only_error(post_json(client, body)) == expected
    assert only_error(client.post(f"{B}/requests.json", content=f"api_key={key}&service_code=sewer&lat=60.1702&long=24.9405"
                                  "&description=a&description=b", headers={"content-type": "application/x-www-form-urlencoded"})) \
        == "description was given 2 times; send it once"
    assert only_error(post_form(client, "&".join(f"f{i}=1" for i in range(1001)))) \
        == "too many form fields; at most 1000 are accepted"
    assert only_error(client.post(f"{B}/requests.xml", data={"api_key": key, **OK})) \
        == "format 'xml' not supported; use .json"
    # multipart: text fields work, files do not
    multi = {k: (None, str(v)) for k, v in {"api_key": key, **OK}.items()}
    assert only_error(client.post(f"{B}/requests.json", files={**multi, "media": ("a.jpg", b"\xff\xd8", "image/jpeg")})) \
        == "file uploads are not accepted (field 'media'); send a media_url"
    assert only_error(client.post(f"{B}/requests.json", files={**multi, "description": (None, "a\x00")})) \
        == "description contains the control character U+0000 at position 2; send plain text"
    assert count(clean_engine) == 0
    r = client.post(f"{B}/requests.json", files=multi)
    assert r.status_code == 201, r.text


def test_get_never_fails_on_odd_query_strings(api: tuple[TestClient, str]) -> None:
    client, key = api
    rid = client.post(f"{B}/requests.json", data={"api_key": key, **OK}).json()[0]["service_request_id"]
    for ids, expected in ((",".join(["1"] * 1001), "service_request_id lists 1001 ids; at most 1000 are accepted"),
                          ("1," * 5000, "service_request_id lists 5001 ids; at most 1000 are accepted"),
                          ("1,x", "service_request_id must be a comma-separated list of ids, got '1,x'"),
                          ("1_000", "service_request_id must be a comma-separated list of ids, got '1_000'"),
                          ("²", "service_request_id must be a comma-separated list of ids, got '²'"),
                          ("-1", "service_request_id must be a comma-separated list of ids, got '-1'"),
                          ("9" * 19, "service_request_id must be a comma-separated list of ids, got '" + "9" * 19 + "'"),
                          ("\x00", "service_request_id must be a comma-separated list of ids, got '\\x00'")):
        assert only_error(client.get(f"{B}/requests.json", params={"service_request_id": ids})) == expected
    got = client.get(f"{B}/requests.json", params={"service_request_id": ",".join([rid] * 1000)})
    assert [r["service_request_id"] for r in got.json()] == [rid]
    assert client.get(f"{B}/requests.json", params={"service_request_id": ",,,"}).json() == []
    for params in ({"service_code": "x" * 10_000}, {"service_code": "\x00"}, {"service_code": ",".join(["leak"] * 5000)},
                   {"status": "o" * 10_000}, {"status": "open,\ufffd"}):
        d = only_error(client.get(f"{B}/requests.json", params=params))
        assert len(d) < 400, d
    assert client.get(f"{B}/requests.json", params={"service_code": ",".join(["no_water"] * 5000)}).status_code == 200
    assert client.get(f"{B}/requests.json", params={"whatever": "\x00" * 1000, "limit": "-1"}).status_code == 200
    for path in ("requests/².json", "requests/" + "9" * 19 + ".json", "requests/-1.json", "requests/1%00.json",
                 "requests/" + "1" * 5000 + ".json"):
        assert only_error(client.get(f"{B}/{path}"), 404).startswith("no service request ")
    d = only_error(client.get(f"{B}/requests/1." + "x" * 5000), 400)
    assert d.startswith("format 'xxxx") and len(d) < 120


def test_a_database_without_the_schema_answers_500_as_an_open311_list(db_url: str, rules: Rules,
                                                                      settings: Settings) -> None:
    # a real fault, no mocks: the maintenance database has no incidents table
    bare = create_engine(db_url.rsplit("/", 1)[0] + "/postgres", pool_pre_ping=True)
    try:
        with TestClient(create_app(bare, settings=settings, rules=rules), raise_server_exceptions=False) as client:
            r = client.get(f"{B}/requests/1.json")
    finally:
        bare.dispose()
    assert r.status_code == 500 and r.headers["content-type"].startswith("application/json")
    assert r.json() == [{"code": 500, "description": "internal error (UndefinedTable)"}]


def test_key_names_follow_the_text_policy(clean_engine: Engine) -> None:
    # the name becomes the actor "api:<name>" of every report the key files
    with pytest.raises(InvalidApiKey, match="^name contains the control character U\\+001B at position 3"):
        keys.create_api_key(clean_engine, "ab\x1b[31m")
    with pytest.raises(InvalidApiKey, match="^name contains HTML markup '<b>' at position 1"):
        keys.create_api_key(clean_engine, "<b>portal</b>")
    with pytest.raises(InvalidApiKey, match="^name is 201 characters long; at most 200 are accepted"):
        keys.create_api_key(clean_engine, "n" * 201)
    assert keys.verify_api_key(clean_engine, keys.create_api_key(clean_engine, " Портал & Co ")).name == "Портал & Co"
