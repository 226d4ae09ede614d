"""The OpenAPI document of ``/orgs/v1/``, served beside the API: its routes, their models, the ``X-API-Key``
security scheme and the webhook an organisation receives."""
from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from apps.http.open311 import create_app
from orgs import payload
from settings import Settings


def test_the_orgs_document_lists_its_routes_models_key_and_webhook(clean_engine: Engine) -> None:
    with TestClient(create_app(clean_engine, settings=Settings(_env_file=None))) as client:
        r = client.get("/orgs/v1/openapi.json")
        whole = client.get("/open311/v2/openapi.json").json()
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    doc = r.json()
    assert doc["openapi"].startswith("3.1") and doc["info"]["title"] == "zhkh-ops organisations' API"
    assert set(doc["paths"]) == {"/orgs/v1/work-orders", "/orgs/v1/work-orders/{order_id}",
                                 "/orgs/v1/work-orders/{order_id}/events"}          # the organisations' routes only
    assert not any(p.startswith("/open311/") for p in doc["paths"])
    schemes = doc["components"]["securitySchemes"]
    assert schemes == {"OrganisationKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                                           "description": schemes["OrganisationKey"]["description"]}}
    schemas = doc["components"]["schemas"]
    listing = doc["paths"]["/orgs/v1/work-orders"]["get"]
    detail = doc["paths"]["/orgs/v1/work-orders/{order_id}"]["get"]
    post = doc["paths"]["/orgs/v1/work-orders/{order_id}/events"]["post"]
    for op in (listing, detail, post):
        assert op["security"] == [{"OrganisationKey": []}]
        assert "422" not in op["responses"]
        assert not any(p["in"] == "header" for p in op.get("parameters", []))   # the key is the scheme, not a field
    assert listing["responses"]["200"]["content"]["application/json"]["schema"]["items"]["$ref"] \
        == "#/components/schemas/WorkOrderOut"
    assert detail["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] \
        == "#/components/schemas/WorkOrderDetailOut"
    assert {"id", "status", "service_code", "address", "created_at", "due_at"} <= set(schemas["WorkOrderOut"]["properties"])
    assert "events" in schemas["WorkOrderDetailOut"]["properties"]
    body = post["requestBody"]["content"]
    assert set(body["application/json"]["schema"]["properties"]) >= {"event_id", "kind", "text", "visit_at"}
    assert body["application/json"]["schema"]["properties"]["kind"]["enum"] == \
        ["accepted", "assigned", "visit_planned", "resolved", "returned"]
    assert body["multipart/form-data"]["schema"]["properties"]["photo"]["items"]["format"] == "binary"
    assert {"201", "200", "400", "403", "404", "409"} <= set(post["responses"])
    # the webhook: its body, and the signature header
    hook = doc["webhooks"]["work-order-event"]["post"]
    assert hook["requestBody"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/WebhookEvent"
    assert {p["name"] for p in hook["parameters"]} == {payload.SIGNATURE_HEADER, payload.EVENT_ID_HEADER}
    event = schemas["WebhookEvent"]
    assert set(event["properties"]) == {"event_id", "type", "occurred_at", "work_order"}
    assert event["properties"]["type"]["enum"] == list(payload.TYPES)
    # the server's whole document still has the organisations' routes beside Open311's
    assert "/orgs/v1/work-orders" in whole["paths"] and any(p.startswith("/open311/v2/requests") for p in whole["paths"])
    assert "/orgs/v1/openapi.json" not in whole["paths"]
