"""Taking a report: ``POST requests.json`` (form fields or a JSON object), checked by the shared intake
model (``incidents/intake.py``), which refuses markup and control characters, so JSON answers carry text
exactly as it was sent (escaping belongs to whoever renders HTML). A repeated token (``token`` or the
``Idempotency-Key`` header) answers 200 with the first report instead of 201."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from apps.http.open311.answers import PREFIX, Open311Response, answers, local, ru, ru_n
from apps.http.open311.bodies import Fields
from apps.http.open311.deps import Context, api_client, context, post_fields
from incidents import intake
from incidents.model import IntakeResult
from ops import incidents as reports
from ops.api_keys import ApiClient

router = APIRouter(prefix=PREFIX)


@router.post("/requests.{fmt}", responses=answers(400, 403, 409, 415, 503))
def post_request(request: Request, fields: Fields = Depends(post_fields), client: ApiClient = Depends(api_client),
                 ctx: Context = Depends(context)) -> JSONResponse:
    data, repeated = fields
    report = intake.parse_open311(data, rules=ctx.rules, idempotency_key=request.headers.get("idempotency-key"),
                                  repeated=repeated)
    result = reports.take_report(client.actor, bind=ctx.db(), **report.as_kwargs(), api_key_id=client.key_id,
                                 rules=ctx.rules, settings=ctx.settings)
    return Open311Response([{"service_request_id": str(result.incident.id), "service_notice": notice(result, ctx),
                             "account_id": None}], status_code=201 if result.created else 200)


def notice(result: IntakeResult, ctx: Context) -> str:
    """What the client tells the resident: when to expect an answer, the outage that explains the
    report, or the similar reports already open."""
    tz = ctx.rules.timezone
    if result.outage:
        outage = result.outage
        if outage.reason:
            return ru("api.notice.outage_reason", id=outage.outage_id, reason=outage.reason,
                      expected=local(outage.expected_end, tz))
        return ru("api.notice.outage", id=outage.outage_id, expected=local(outage.expected_end, tz))
    accepted = ru("api.notice.accepted", expected=local(result.expected_at, tz))
    if result.duplicate_candidates:
        similar = [f"#{c.incident_id}" for c in result.duplicate_candidates[:3]]
        return ru_n("api.notice.similar", len(similar), notice=accepted, ids=", ".join(similar))
    return accepted
